"""FHIR R4 rendering of a parsed lab report: a ``collection`` Bundle of Observations. No Patient and no subject:
the service never holds personal data; the caller links the Observations to its own Patient."""
from __future__ import annotations

import uuid
from typing import Any

from .knowledge import load_knowledge

INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
LOCAL_CODES = "urn:zhenxi:indicator"
SHEET_ZONE = "+08:00"  # the sheets' clocks: mainland China, Hong Kong and Taiwan are all UTC+8
# shared flag → FHIR v3 ObservationInterpretation (code, display)
_INTERPRETATION = {"H": ("H", "High"), "L": ("L", "Low"), "N": ("N", "Normal"), "HH": ("HH", "Critical high"),
                   "LL": ("LL", "Critical low"), "POS": ("POS", "Positive"), "NEG": ("NEG", "Negative"),
                   "ABN": ("A", "Abnormal")}


def _ucum(unit: str) -> str | None:
    """UCUM code of a canonical unit (knowledge/indicators/units.yaml `ucum`)."""
    return load_knowledge().kb.units.ucum.get(unit)


def _quantity(value: float | None, unit: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    q: dict[str, Any] = {"value": value}
    if unit:
        q["unit"] = unit
        code = _ucum(unit)
        if code is not None:
            q["system"] = UCUM
            q["code"] = code
    return q


def observation(ind: dict[str, Any], effective: str | None) -> dict[str, Any]:
    coding = []
    if ind.get("loinc"):
        coding.append({"system": LOINC, "code": ind["loinc"], "display": ind["name_en"]})
    if ind.get("code"):
        coding.append({"system": LOCAL_CODES, "code": ind["code"], "display": ind["name"]})
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "preliminary" if ind.get("needs_review") else "final",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM,
                                  "code": "vital-signs" if ind.get("panel") == "vitals" else "laboratory"}]}],
        "code": {"coding": coding, "text": ind["name"]},
    }
    if effective:
        # a date alone stays a date; a time of day needs its zone in FHIR: a sheet prints China's local time
        obs["effectiveDateTime"] = effective + SHEET_ZONE if "T" in effective else effective
    q = _quantity(ind.get("value"), ind.get("unit"))
    if q is not None:
        cmp = ind.get("comparator")
        if cmp:
            q["comparator"] = cmp
        obs["valueQuantity"] = q
    else:
        obs["valueString"] = ind.get("value_text")
    ref = ind.get("reference") or {}
    rr: dict[str, Any] = {}
    for end in ("low", "high"):
        qq = _quantity(ref.get(end), ind.get("unit"))
        if qq is not None:
            rr[end] = qq
    if ref.get("text"):
        rr["text"] = ref["text"]
    if rr:
        obs["referenceRange"] = [rr]
    # the sheet's flag first; a value beyond a critical limit adds HH/LL beside it (never in its place)
    flags = [f for f in (ind.get("flag"), ind.get("flag_critical")) if f]
    if flags:
        obs["interpretation"] = [
            {"coding": [{"system": INTERPRETATION_SYSTEM, "code": code, "display": display}]}
            for code, display in dict.fromkeys(_INTERPRETATION.get(f, (f, f)) for f in flags)]
    return obs


def to_bundle(report: dict[str, Any]) -> dict[str, Any]:
    header = report.get("header") or {}
    effective = header.get("collected_at") or header.get("tested_at") or header.get("reported_at")
    entries = [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": observation(ind, effective)}
               for ind in report.get("indicators", [])]
    return {"resourceType": "Bundle", "type": "collection",
            "meta": {"tag": [{"system": "urn:zhenxi:report-type", "code": report.get("report_type", "unknown")}]},
            "entry": entries}
