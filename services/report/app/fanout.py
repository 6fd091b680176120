"""The fan-out: the sections of one report run concurrently, each against its own service(s).

Each section returns its result or raises ``SectionUnavailable``; nothing here touches the database, so the
same code runs in the service (``worker.py``) and in the command line (``cli.py``)."""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from zhenxi_common.identity import Identity
from zhenxi_knowledge import CRITICAL_FLAGS, same_direction

from .downstream import Downstream, InputRefused, SectionUnavailable

FLAG_FROM_STATUS = {"critical_high": "HH", "critical_low": "LL", "high": "H", "low": "L", "normal": "N",
                    "positive": "POS"}
NEGATIVE_WORDS = ("negative", "阴性", "-")


@dataclass
class FileInput:
    position: int
    data: bytes
    filename: str
    content_type: str | None


@dataclass
class ReportInputs:
    lab: list[FileInput] = field(default_factory=list)
    xray: list[FileInput] = field(default_factory=list)
    symptoms: str | None = None
    sex: str | None = None
    age: float | None = None
    medications: list[str] = field(default_factory=list)
    lang: str = "zh"
    # When the request named no medications: where they come from instead (the reminders service), awaited
    # only when the lab section needs them, so the look-up overlaps OCR. Returns the names and their source.
    medications_lookup: Callable[[], Awaitable[tuple[list[str], str]]] | None = None

    def kinds(self) -> list[str]:
        return [k for k, present in (("lab", self.lab), ("xray", self.xray), ("symptoms", self.symptoms)) if present]


@dataclass
class SectionOutcome:
    kind: str
    status: str                      # done | unavailable
    result: dict[str, Any] | None
    reason: dict[str, Any] | None
    seconds: float


FLAGS = ("L", "N", "H", "LL", "HH", "POS", "NEG", "ABN")


def _flag(ind: dict[str, Any], status: str | None, nlp_flag: str | None = None) -> str | None:
    """One flag vocabulary everywhere: L N H LL HH POS NEG ABN. nlp's own flag first (it already speaks this
    vocabulary), then its older ``status`` word, then OCR's: the sheet's flag, raised to OCR's critical flag
    (HH/LL, its own field since the sheet's H/L is never overwritten there) when both point the same way."""
    if nlp_flag in FLAGS:
        return nlp_flag
    if status in FLAG_FROM_STATUS:
        return FLAG_FROM_STATUS[status]
    qual = (ind.get("qualitative") or "").lower()
    if qual:
        return "NEG" if qual in NEGATIVE_WORDS else "POS"
    printed = ind.get("flag")
    if printed == "A":
        return "ABN"
    crit = ind.get("flag_critical")
    if crit in CRITICAL_FLAGS and same_direction(printed, crit):
        return crit
    return printed


async def run_lab(ds: Downstream, who: Identity, inputs: ReportInputs) -> dict[str, Any]:
    """OCR every photo concurrently, then one interpretation of all indicators together (patterns span photos)."""
    parsed: list[dict[str, Any] | None] = [None] * len(inputs.lab)
    failures: list[SectionUnavailable] = []

    async def one(i: int, f: FileInput) -> None:
        try:
            parsed[i] = {"position": f.position, "report": await ds.parse_lab(who, f.data, f.filename, f.content_type)}
        except InputRefused as exc:
            parsed[i] = {"position": f.position, "error": exc.to_dict()}
        except SectionUnavailable as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        for i, f in enumerate(inputs.lab):
            tg.start_soon(one, i, f)
    if failures:
        raise failures[0]
    photos = [p for p in parsed if p is not None]
    indicators: list[dict[str, Any]] = []
    for p in photos:
        for ind in (p.get("report") or {}).get("indicators", []):
            indicators.append({**ind, "photo": p["position"]})
    interpretation = None
    med_source = "request" if inputs.medications else "none"
    if indicators and inputs.medications_lookup is not None and not inputs.medications:
        inputs.medications, med_source = await inputs.medications_lookup()
    if indicators:
        payload = {"indicators": [_nlp_indicator(i) for i in indicators][:300], "lang": inputs.lang,
                   "medications": inputs.medications[:50]}
        if inputs.sex:
            payload["sex"] = inputs.sex
        if inputs.age is not None:
            payload["age"] = inputs.age
        try:
            interpretation = await ds.interpret(who, payload)
        except InputRefused as exc:
            interpretation = {"error": exc.to_dict()}
    rows = _indicator_rows(indicators, interpretation)
    headers = [{"position": p["position"], "report_type": p["report"].get("report_type"),
                "collected_at": p["report"].get("header", {}).get("collected_at"),
                "reported_at": p["report"].get("header", {}).get("reported_at"),
                "warnings": p["report"].get("warnings", []),
                "knowledge_version": p["report"].get("knowledge_version")}
               if "report" in p else {"position": p["position"], "error": p["error"]} for p in photos]
    # Where the medications the interpretation saw came from (request | reminders | unavailable | none), and how
    # many; the names themselves stay in the encrypted inputs.
    return {"photos": headers, "indicators": rows, "interpretation": _slim_interpretation(interpretation),
            "medications": {"source": med_source, "count": len(inputs.medications)}}


def _nlp_indicator(ind: dict[str, Any]) -> dict[str, Any]:
    ref = ind.get("reference") or {}
    out: dict[str, Any] = {"code": ind["code"],
                           "value": ind["value"] if ind.get("value") is not None else ind.get("value_text") or "",
                           "unit": ind.get("unit")}
    if ref.get("low") is not None or ref.get("high") is not None:
        out["reference"] = {"low": ref.get("low"), "high": ref.get("high")}
    if ind.get("flag_printed"):  # the sheet's own mark decides the flag (issue 9); nlp names a disagreement
        out["flag"] = ind["flag_printed"]
    return out


def _slim_interpretation(interp: dict[str, Any] | None) -> dict[str, Any] | None:
    if interp is None or "error" in interp:
        return interp
    keep = ("knowledge_version", "urgency", "patterns", "departments", "tags", "medication_classes",
            "unknown_indicators", "summary")
    return {k: interp.get(k) for k in keep}


def _indicator_rows(indicators: list[dict[str, Any]], interp: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The indicator table: printed values and ranges from OCR, status and explanation from NLP."""
    by_code: dict[str, dict[str, Any]] = {}
    if interp and "indicators" in interp:
        for item in interp["indicators"]:
            by_code.setdefault(item["code"], item)
    rows = []
    for ind in indicators:
        nlp = by_code.get(ind["code"], {})
        expl = nlp.get("explanation") or {}
        ref = ind.get("reference") or {}
        rows.append({
            "code": ind["code"], "name": ind.get("name"), "name_en": ind.get("name_en"), "loinc": ind.get("loinc"),
            "panel": ind.get("panel"), "value": ind.get("value"), "value_text": ind.get("value_text"),
            "comparator": ind.get("comparator"), "unit": ind.get("unit"),
            "reference": {"low": ref.get("low"), "high": ref.get("high"), "text": ref.get("text"),
                          "source": ref.get("source")},
            "flag": _flag(ind, nlp.get("status"), nlp.get("flag")), "critical": bool(ind.get("critical"))
            or nlp.get("status") in ("critical_high", "critical_low") or nlp.get("flag") in ("HH", "LL"),
            "flag_printed": ind.get("flag_printed"), "flag_disagreement": nlp.get("flag_disagreement"),
            "status": nlp.get("status"), "needs_review": bool(ind.get("needs_review")), "photo": ind.get("photo"),
            "meaning": expl.get("text") or expl.get("meaning"), "advice": expl.get("advice"),
            "source": expl.get("source"),
        })
    return rows


async def run_xray(ds: Downstream, who: Identity, inputs: ReportInputs) -> dict[str, Any]:
    images: list[dict[str, Any] | None] = [None] * len(inputs.xray)
    failures: list[SectionUnavailable] = []

    async def one(i: int, f: FileInput) -> None:
        try:
            a = await ds.analyze_xray(who, f.data, f.filename, f.content_type)
        except InputRefused as exc:
            images[i] = {"position": f.position, "error": exc.to_dict()}
            return
        except SectionUnavailable as exc:
            failures.append(exc)
            return
        images[i] = {"position": f.position, "analysis_id": a.get("analysis_id"),
                     "model_version": a.get("model_version"), "image": a.get("image"), "gate": a.get("gate"),
                     "abnormal": a.get("abnormal"), "findings": a.get("findings", []),
                     "detections": a.get("detections", []), "measurements": a.get("measurements", {}),
                     "heatmaps": a.get("heatmaps", []), "masks": a.get("masks", {})}

    async with anyio.create_task_group() as tg:
        for i, f in enumerate(inputs.xray):
            tg.start_soon(one, i, f)
    if failures:
        raise failures[0]
    return {"images": [x for x in images if x is not None]}


async def run_symptoms(ds: Downstream, who: Identity, inputs: ReportInputs) -> dict[str, Any]:
    try:
        out = await ds.analyze_symptoms(who, inputs.symptoms or "", inputs.lang)
    except InputRefused as exc:
        return {"error": exc.to_dict()}
    keep = ("knowledge_version", "understood", "reason", "symptoms", "negated_symptoms", "duration", "severity",
            "conditions", "departments", "urgency", "red_flags", "advice")
    return {k: out.get(k) for k in keep}


RUNNERS: dict[str, Callable[[Downstream, Identity, ReportInputs], Awaitable[dict[str, Any]]]] = {
    "lab": run_lab, "xray": run_xray, "symptoms": run_symptoms}


async def fan_out(ds: Downstream, who: Identity, inputs: ReportInputs, kinds: list[str],
                  on_start: Callable[[list[str]], Awaitable[None]] | None = None,
                  on_done: Callable[[SectionOutcome], Awaitable[None]] | None = None) -> dict[str, SectionOutcome]:
    """Run ``kinds`` concurrently. A section that fails becomes ``unavailable``; the others are unaffected."""
    out: dict[str, SectionOutcome] = {}
    if on_start is not None and kinds:
        await on_start(kinds)

    async def one(kind: str) -> None:
        t0 = time.perf_counter()
        try:
            result = await RUNNERS[kind](ds, who, inputs)
            outcome = SectionOutcome(kind, "done", result, None, time.perf_counter() - t0)
        except SectionUnavailable as exc:
            outcome = SectionOutcome(kind, "unavailable", None, exc.to_dict(), time.perf_counter() - t0)
        out[kind] = outcome
        if on_done is not None:
            await on_done(outcome)

    async with anyio.create_task_group() as tg:
        for kind in kinds:
            tg.start_soon(one, kind)
    return out
