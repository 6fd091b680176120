"""The report body, composed from the sections' structured results by the templates in ``knowledge/report``.

Pure: no I/O. Every summary sentence names its template (``report_template:<id>``) and the knowledge entries that
filled it; numbers and flags come from the structured results only. Abnormal items come first, by urgency."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zhenxi_knowledge import max_urgency

from .imaging import BOXED
from .knowledge import ReportKnowledge

ABNORMAL_FLAGS = ("HH", "LL", "H", "L", "POS", "ABN")
SECTION_KINDS = ("lab", "xray", "symptoms")


@dataclass
class HistoryPoint:
    taken_at: datetime
    value: float
    unit: str | None
    report_id: str


@dataclass
class Composed:
    body: dict[str, Any]
    critical: list[dict[str, Any]] = field(default_factory=list)
    red_flags: list[str] = field(default_factory=list)
    abnormal: list[dict[str, str]] = field(default_factory=list)
    positive_findings: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)  # knowledge condition ids nlp suggested (for tips)
    urgency: str = "routine"
    indicator_values: list[dict[str, Any]] = field(default_factory=list)


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


class _Summary:
    def __init__(self, kb: ReportKnowledge, lang: str) -> None:
        self.kb = kb
        self.lang = lang
        self.items: list[dict[str, Any]] = []

    def add(self, template: str, sources: list[str] | None = None, **values: Any) -> None:
        text = self.kb.templates.templates[template].get(self.lang).format(
            **{k: ("" if v is None else v) for k, v in values.items()})
        self.items.append({"template": template, "text": " ".join(text.split()),
                           "sources": [f"report_template:{template}", *(s for s in sources or [] if s)],
                           "rank": self.kb.rank(template)})

    def ordered(self) -> list[dict[str, Any]]:
        return sorted(self.items, key=lambda s: s["rank"])   # stable: order of addition within a rank


def _range(ref: dict[str, Any]) -> str:
    if ref.get("text"):
        return str(ref["text"])
    lo, hi = ref.get("low"), ref.get("high")
    if lo is not None and hi is not None:
        return f"{_num(lo)}–{_num(hi)}"
    if hi is not None:
        return f"<{_num(hi)}"
    if lo is not None:
        return f">{_num(lo)}"
    return "—"


def _shown(row: dict[str, Any]) -> str:
    return str(row.get("value_text") or _num(row.get("value")))


def compose(*, report_id: str, lang: str, created_at: datetime, report_date: datetime,
            sections: dict[str, dict[str, Any]], history: dict[str, list[HistoryPoint]], kb: ReportKnowledge,
            booking_search_url: str) -> Composed:
    """``sections``: kind -> {status, result, reason} for the kinds this report has."""
    words = kb.templates.words
    s = _Summary(kb, lang)
    out = Composed(body={})
    urgencies: list[str] = []
    departments: dict[str, set[str]] = {}

    def dept(dep_id: str, source: str) -> None:
        departments.setdefault(dep_id, set()).add(source)

    # ---------------------------------------------------------------- lab
    lab = sections.get("lab")
    lab_body: dict[str, Any] | None = None
    trends: list[dict[str, Any]] = []
    if lab is not None:
        lab_body = {"status": lab["status"], "reason": lab.get("reason")}
        res = lab.get("result") or {}
        if lab["status"] == "done":
            rows = res.get("indicators", [])
            interp = res.get("interpretation") or {}
            lab_body.update(photos=res.get("photos", []), indicators=rows, patterns=interp.get("patterns", []),
                            unknown_indicators=interp.get("unknown_indicators", []),
                            interpretation_error=interp.get("error"),
                            medications=res.get("medications") or {"source": "none", "count": 0},
                            medication_classes=interp.get("medication_classes") or [])
            for photo in res.get("photos", []):
                if "error" in photo:  # a photo the OCR refused: said in the summary, with what to do about it
                    err = photo["error"]
                    s.add("lab_photo_refused", [], position=photo["position"] + 1,
                          message=err.get("message", ""), hint=err.get("hint", ""))
            if interp.get("urgency"):
                urgencies.append(interp["urgency"])
            for d in interp.get("departments", []):
                dept(d["id"], (d.get("source") or {}).get("id") or f"department:{d['id']}")
            out.tags += [t for t in interp.get("tags", []) if t not in out.tags]
            for row in rows:
                flag = row.get("flag")
                src = (row.get("source") or {}).get("id")
                name = row.get("name") if lang == "zh" else row.get("name_en") or row.get("name")
                if flag in ABNORMAL_FLAGS:
                    out.abnormal.append({"code": row["code"], "flag": flag})
                if row.get("critical") or flag in ("HH", "LL"):
                    out.critical.append({"code": row["code"], "flag": flag or "ABN", "name": name,
                                         "value": _shown(row), "unit": row.get("unit")})
                    s.add("critical_value", [src], name=name, value=_shown(row), unit=row.get("unit") or "",
                          flag=flag)
                elif flag == "H":
                    s.add("indicator_high", [src], name=name, value=_shown(row), unit=row.get("unit") or "",
                          range=_range(row.get("reference") or {}), meaning=row.get("meaning") or "")
                elif flag == "L":
                    s.add("indicator_low", [src], name=name, value=_shown(row), unit=row.get("unit") or "",
                          range=_range(row.get("reference") or {}), meaning=row.get("meaning") or "")
                elif flag == "POS":
                    s.add("indicator_positive", [src], name=name, value=_shown(row), meaning=row.get("meaning") or "")
            for p in interp.get("patterns", []):
                s.add("pattern", [(p.get("source") or {}).get("id") or f"pattern:{p['id']}"], name=p["name"],
                      explanation=p.get("explanation", ""))
                urgencies.append(p.get("urgency"))
            trends = _trends(rows, history, report_date, kb, lang, s)
            numeric = [r for r in rows if isinstance(r.get("value"), (int, float))]
            out.indicator_values = [{"code": r["code"], "value": float(r["value"]), "unit": r.get("unit"),
                                     "flag": r.get("flag")} for r in numeric]
            if rows and not any(r.get("flag") in ABNORMAL_FLAGS for r in rows) and not out.critical:
                s.add("all_normal", [], count=len(rows))
        else:
            _unavailable(s, words, "lab", lab.get("reason"), lang)
    if out.critical:
        urgencies.append("emergency")

    # ---------------------------------------------------------------- xray
    xr = sections.get("xray")
    xray_body: dict[str, Any] | None = None
    if xr is not None:
        xray_body = {"status": xr["status"], "reason": xr.get("reason"), "images": []}
        if xr["status"] == "done":
            limits = kb.templates.xray
            for img in (xr.get("result") or {}).get("images", []):
                if "error" in img:
                    s.add("xray_refused", [], position=img["position"] + 1, message=img["error"].get("message", ""))
                    xray_body["images"].append(img)
                    continue
                positives = [f for f in img.get("findings", []) if f.get("positive")]
                for f in positives:
                    meta = limits.findings.get(f["label"])
                    s.add("xray_finding", [f"finding:{f['label']}"],
                          finding=kb.finding_name(f["label"], lang),
                          probability=round(100 * float(f["probability"])))
                    if f["label"] not in out.positive_findings:
                        out.positive_findings.append(f["label"])
                    urgencies.append(meta.urgency if meta else limits.positive_urgency)
                    if meta:
                        dept(meta.department, f"finding:{f['label']}")
                ctr = (img.get("measurements") or {}).get("cardiothoracic_ratio")
                ctr_value = ctr.get("value") if isinstance(ctr, dict) else ctr
                if isinstance(ctr_value, (int, float)) and ctr_value > limits.ctr_enlarged_above:
                    s.add("xray_ctr_enlarged", ["report_template:xray_limits"], ctr=f"{ctr_value:.2f}",
                          limit=_num(limits.ctr_enlarged_above))
                nodules = [d for d in img.get("detections", []) if d.get("label") in BOXED]
                if nodules:
                    s.add("xray_nodules", [], count=len(nodules))
                if not positives and not nodules:
                    s.add("xray_clear", [])
                xray_body["images"].append({
                    "position": img["position"], "analysis_id": img.get("analysis_id"),
                    "model_version": img.get("model_version"), "image": img.get("image"), "gate": img.get("gate"),
                    "findings": [{**f, "name": kb.finding_name(f.get("label", ""), lang)}
                                 for f in img.get("findings", [])],
                    "positive_findings": [f["label"] for f in positives],
                    "detections": img.get("detections", []), "nodules": nodules,
                    "cardiothoracic_ratio": ctr_value, "measurements": img.get("measurements", {}),
                    "overlays": img.get("overlays", [])})
            if out.positive_findings:
                urgencies.append(limits.positive_urgency)
        else:
            _unavailable(s, words, "xray", xr.get("reason"), lang)

    # ---------------------------------------------------------------- symptoms
    sy = sections.get("symptoms")
    symptoms_body: dict[str, Any] | None = None
    if sy is not None:
        symptoms_body = {"status": sy["status"], "reason": sy.get("reason")}
        if sy["status"] == "done":
            r = sy.get("result") or {}
            symptoms_body.update(r)
            for rf in r.get("red_flags") or []:
                out.red_flags.append(rf["id"])
                s.add("red_flag", [(rf.get("source") or {}).get("id") or f"red_flag:{rf['id']}"], name=rf["name"],
                      advice=rf.get("advice", ""))
            if r.get("urgency"):
                urgencies.append(r["urgency"])
            out.conditions += [c["id"] for c in r.get("conditions") or []
                               if c.get("id") and c["id"] not in out.conditions]
            deps = r.get("departments") or []
            for d in deps:
                dept(d["id"], (d.get("source") or {}).get("id") or f"department:{d['id']}")
            if r.get("error") or r.get("understood") is False:
                s.add("symptoms_not_understood", [])
            elif deps:
                s.add("symptoms_advice", [(d.get("source") or {}).get("id") for d in deps[:3]],
                      urgency=words.urgency[r.get("urgency") or "routine"].get(lang),
                      departments="、".join(d["name"] for d in deps[:3]) if lang == "zh"
                      else ", ".join(d["name"] for d in deps[:3]))
        else:
            _unavailable(s, words, "symptoms", sy.get("reason"), lang)

    # ---------------------------------------------------------------- whole report
    out.urgency = max_urgency(*urgencies)
    urgent = bool(out.critical or out.red_flags)
    out.departments = sorted(departments, key=lambda d: (d != "emergency", d))
    if urgent and "emergency" not in out.departments:
        out.departments.insert(0, "emergency")
        departments["emergency"] = {"report_template:urgent_banner"}
    banner = None
    if urgent:
        t = kb.templates.templates["urgent_banner"]
        banner = {"text": t.get(lang), "sources": ["report_template:urgent_banner"]}
    disclaimer = kb.templates.templates["disclaimer"]
    out.body = {
        "id": report_id, "lang": lang, "created_at": created_at.isoformat(), "report_date": report_date.isoformat(),
        "urgent": urgent, "urgent_banner": banner, "urgency": out.urgency,
        "summary": [{k: v for k, v in item.items() if k != "rank"} for item in s.ordered()],
        "sections": {k: v for k, v in (("lab", lab_body), ("xray", xray_body), ("symptoms", symptoms_body))
                     if v is not None},
        "critical": out.critical,
        "trends": trends,
        "departments": [{"id": d, "name": kb.departments[d].get(lang) if d in kb.departments else d,
                         "booking_url": booking_search_url.format(department=d), "sources": sorted(departments[d])}
                        for d in out.departments],
        "tips": {"tags": out.tags},
        "disclaimer": {"text": disclaimer.get(lang), "sources": ["report_template:disclaimer"]},
        "knowledge_version": kb.version,
    }
    return out


def _unavailable(s: _Summary, words: Any, kind: str, reason: dict[str, Any] | None, lang: str) -> None:
    code = (reason or {}).get("code", "upstream_error")
    text = words.reasons.get(code) or words.reasons["upstream_error"]
    s.add("section_unavailable", [], section=words.sections[kind].get(lang), reason=text.get(lang))


def _trends(rows: list[dict[str, Any]], history: dict[str, list[HistoryPoint]], report_date: datetime,
            kb: ReportKnowledge, lang: str, s: _Summary) -> list[dict[str, Any]]:
    """Per indicator: earlier values, the direction since the last one, and whether the change crosses the
    indicator's threshold (``knowledge/report/trends.yaml``), whatever the reference range says."""
    out = []
    seen = set()
    for row in rows:
        code, value = row["code"], row.get("value")
        if code in seen or not isinstance(value, (int, float)) or not history.get(code):
            continue
        seen.add(code)
        points = [p for p in history[code] if p.unit == row.get("unit")][-5:]
        if not points:
            continue
        prev = points[-1]
        change = float(value) - prev.value
        direction = "rise" if change > 0 else "fall" if change < 0 else "flat"
        tid, th = kb.trends.for_code(code)
        if th.relative is not None:
            size = abs(change) / abs(prev.value) if prev.value else float("inf") if change else 0.0
            crossed = size >= th.relative
            change_text = f"{size * 100:.0f}%" if prev.value else _num(abs(change))
        else:
            crossed = abs(change) >= (th.absolute or 0)
            change_text = f"{abs(change):g} {row.get('unit') or ''}".strip()
        meaningful = crossed and direction != "flat" and th.direction in (direction, "both")
        name = row.get("name") if lang == "zh" else row.get("name_en") or row.get("name")
        if meaningful:
            note = ""
            s.add("trend_change", [tid], name=name, date=prev.taken_at.date().isoformat(),
                  direction=kb.templates.words.direction[direction].get(lang), change=change_text,
                  previous=_num(prev.value), value=_num(value), unit=row.get("unit") or "", note=note)
        out.append({"code": code, "name": name, "unit": row.get("unit"),
                    "points": [{"date": p.taken_at.date().isoformat(), "value": p.value, "report_id": p.report_id}
                               for p in points] + [{"date": report_date.date().isoformat(), "value": float(value),
                                                    "report_id": None}],
                    "direction": direction, "change": change, "meaningful": meaningful,
                    "threshold": {"id": tid, **th.model_dump(exclude_none=True)}})
    return out
