"""The finished report as self-contained HTML (inline CSS, images as data URIs, SVG charts), as a PDF rendered
from that HTML with a CJK font, and as a FHIR R4 Bundle."""
from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import anyio
from jinja2 import Environment, FileSystemLoader, select_autoescape

_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)

LABELS = {
    "zh": {"title": "诊析 · 检查结果分析报告", "date": "报告日期", "report_id": "编号", "knowledge": "知识库版本",
           "summary": "结论摘要", "critical": "危急值", "lab": "检验指标", "indicator": "项目", "value": "结果",
           "unit": "单位", "range": "参考范围", "flag": "标记", "patterns": "综合解读", "trends": "历次变化",
           "history": "历次结果", "chart": "趋势", "change": "变化", "dir_rise": "升高", "dir_fall": "下降",
           "dir_flat": "持平", "xray": "胸片", "image": "图像", "positive": "阳性发现", "none": "无", "ctr": "心胸比",
           "nodules": "疑似结节", "finding": "征象", "probability": "概率", "overlay": "肺/心轮廓与结节框", "heatmap": "热力图：",
           "symptoms": "症状分析", "red_flags": "危险信号", "found": "识别到的症状", "conditions": "可能相关",
           "departments": "建议就诊科室（点击预约）", "tips": "健康提示", "unavailable": "暂时无法分析"},
    "en": {"title": "Zhenxi · Analysis report", "date": "Report date", "report_id": "ID", "knowledge": "Knowledge",
           "summary": "Summary", "critical": "Critical values", "lab": "Lab results", "indicator": "Test",
           "value": "Result", "unit": "Unit", "range": "Reference", "flag": "Flag", "patterns": "Patterns",
           "trends": "Trends", "history": "Earlier results", "chart": "Trend", "change": "Change",
           "dir_rise": "rising", "dir_fall": "falling", "dir_flat": "flat", "xray": "Chest X-ray", "image": "Image",
           "positive": "Positive findings", "none": "none", "ctr": "Cardiothoracic ratio", "nodules": "Possible nodules",
           "finding": "Finding", "probability": "Probability", "overlay": "Lung/heart outlines and nodule boxes", "heatmap": "Heatmap: ",
           "symptoms": "Symptoms", "red_flags": "Warning signs", "found": "Recognised symptoms",
           "conditions": "Possibly related", "departments": "Suggested departments (book)", "tips": "Tips",
           "unavailable": "Not available right now"},
}


def sparkline(values: list[float], meaningful: bool, width: int = 120, height: int = 28) -> str:
    """A small SVG line chart of the values in time order; the last point is marked."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    n = len(values)
    pts = [(4 + (width - 8) * (i / (n - 1) if n > 1 else 0.5), height - 4 - (height - 8) * (v - lo) / span)
           for i, v in enumerate(values)]
    colour = "#c0392b" if meaningful else "#2c7be5"
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    x, y = pts[-1]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img"><polyline fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{path}"/><circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/></svg>')


def html(body: dict[str, Any], images: dict[str, bytes], font_face: str | None = None) -> str:
    charts = {t["code"]: sparkline([p["value"] for p in t["points"]], t["meaningful"]) for t in body.get("trends", [])}
    b64 = {k: base64.b64encode(v).decode("ascii") for k, v in images.items()}
    return _ENV.get_template("report.html.j2").render(r=body, t=LABELS.get(body.get("lang"), LABELS["zh"]),
                                                      charts=charts, images=b64, font_face=font_face)


def pdf(body: dict[str, Any], images: dict[str, bytes], font: Path) -> bytes:
    from weasyprint import HTML

    return HTML(string=html(body, images, font_face=font.resolve().as_uri())).write_pdf()


async def pdf_async(body: dict[str, Any], images: dict[str, bytes], font: Path) -> bytes:
    return await anyio.to_thread.run_sync(pdf, body, images, font)


# ---------------------------------------------------------------------------------------------------------- FHIR
LOINC = "http://loinc.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
FHIR_FLAG = {"H": "H", "L": "L", "HH": "HH", "LL": "LL", "N": "N", "POS": "POS", "NEG": "NEG", "ABN": "A"}
_NS = uuid.UUID("5b0c6f0e-7a51-4c38-9a55-2d7c0e2b8f11")


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def fhir(body: dict[str, Any], owner: str) -> dict[str, Any]:
    """A ``collection`` Bundle: one DiagnosticReport, an Observation per indicator (LOINC where known) and per
    positive X-ray finding, and an ImagingStudy per X-ray. No Patient resource: the caller links its own."""
    rid = body["id"]
    entries: list[dict[str, Any]] = []
    results, studies = [], []
    effective = body["report_date"]
    lab = body["sections"].get("lab") or {}
    for n, ind in enumerate(lab.get("indicators", []) if lab.get("status") == "done" else []):
        oid = _uid(rid, "obs", str(n), ind["code"])
        coding = [{"system": "urn:zhenxi:indicator", "code": ind["code"], "display": ind.get("name_en") or ind["code"]}]
        if ind.get("loinc"):
            coding.insert(0, {"system": LOINC, "code": ind["loinc"], "display": ind.get("name_en") or ind["code"]})
        obs: dict[str, Any] = {
            "resourceType": "Observation", "id": oid, "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "laboratory"}]}],
            "code": {"coding": coding, "text": ind.get("name") or ind["code"]}, "effectiveDateTime": effective}
        if isinstance(ind.get("value"), (int, float)):
            obs["valueQuantity"] = {"value": ind["value"], **({"unit": ind["unit"]} if ind.get("unit") else {})}
        else:
            obs["valueString"] = str(ind.get("value_text") or ind.get("value") or "")
        ref = ind.get("reference") or {}
        rr: dict[str, Any] = {}
        for side in ("low", "high"):
            if isinstance(ref.get(side), (int, float)):
                rr[side] = {"value": ref[side], **({"unit": ind["unit"]} if ind.get("unit") else {})}
        if ref.get("text"):
            rr["text"] = str(ref["text"])
        if rr:
            obs["referenceRange"] = [rr]
        if ind.get("flag") in FHIR_FLAG:
            obs["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": FHIR_FLAG[ind["flag"]]}]}]
        entries.append(obs)
        results.append({"reference": f"urn:uuid:{oid}"})
    xr = body["sections"].get("xray") or {}
    for img in xr.get("images", []) if xr.get("status") == "done" else []:
        if img.get("error"):
            continue
        sid = _uid(rid, "study", str(img["position"]))
        entries.append({"resourceType": "ImagingStudy", "id": sid, "status": "available",
                        "subject": {"display": "the report's owner"}, "started": effective,
                        "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "DX"}],
                        "numberOfSeries": 1, "numberOfInstances": 1,
                        "description": "Chest X-ray, frontal"})
        studies.append({"reference": f"urn:uuid:{sid}"})
        for f in img.get("findings", []):
            if not f.get("positive"):
                continue
            oid = _uid(rid, "finding", str(img["position"]), f["label"])
            entries.append({
                "resourceType": "Observation", "id": oid, "status": "preliminary",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                          "code": "imaging"}]}],
                "code": {"coding": [{"system": "urn:zhenxi:xray-finding", "code": f["label"]}], "text": f["label"]},
                "effectiveDateTime": effective, "valueQuantity": {"value": round(float(f["probability"]), 4),
                                                                  "unit": "probability"},
                "interpretation": [{"coding": [{"system": INTERPRETATION, "code": "POS"}]}],
                "derivedFrom": [{"reference": f"urn:uuid:{sid}"}]})
            results.append({"reference": f"urn:uuid:{oid}"})
    unavailable = any(s.get("status") != "done" for s in body["sections"].values())
    report = {"resourceType": "DiagnosticReport", "id": _uid(rid, "report"),
              "identifier": [{"system": "urn:zhenxi:report", "value": rid}],
              "status": "partial" if unavailable else "final",
              "code": {"coding": [{"system": "urn:zhenxi:report", "code": "analysis"}],
                       "text": "Zhenxi analysis report"},
              "effectiveDateTime": effective, "issued": body.get("created_at"),
              "result": results, "imagingStudy": studies,
              "conclusion": "\n".join([*(s["text"] for s in body.get("summary", [])), body["disclaimer"]["text"]])}
    if not results:
        report.pop("result")
    if not studies:
        report.pop("imagingStudy")
    bundle = {"resourceType": "Bundle", "id": _uid(rid, "bundle"), "type": "collection", "timestamp": body.get("created_at"),
              "entry": [{"fullUrl": f"urn:uuid:{e['id']}", "resource": e} for e in [report, *entries]]}
    return bundle
