"""FHIR R4 rendering of a parsed lab report: a ``collection`` Bundle of Observations. No Patient and no subject:
the service never holds personal data; the caller links the Observations to its own Patient."""
from __future__ import annotations

import uuid
from typing import Any

INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
LOCAL_CODES = "urn:zhenxi:indicator"
_INTERPRETATION_DISPLAY = {"H": "High", "L": "Low", "N": "Normal", "HH": "Critical high", "LL": "Critical low",
                           "A": "Abnormal", "POS": "Positive", "NEG": "Negative"}
# project flag vocabulary → FHIR v3 ObservationInterpretation code
_FHIR_CODE = {"ABN": "A"}
# canonical unit (knowledge/indicators/units.yaml) → UCUM code
UCUM_CODES = {
    "10^9/L": "10*9/L", "10^12/L": "10*12/L", "g/L": "g/L", "g/dL": "g/dL", "mg/L": "mg/L", "mg/dL": "mg/dL",
    "%": "%", "fL": "fL", "pg": "pg", "L/L": "L/L", "mmol/L": "mmol/L", "μmol/L": "umol/L", "nmol/L": "nmol/L",
    "pmol/L": "pmol/L", "U/L": "U/L", "U/mL": "U/mL", "IU/mL": "[IU]/mL", "IU/L": "[IU]/L", "mIU/L": "m[IU]/L",
    "mIU/mL": "m[IU]/mL", "μU/mL": "u[IU]/mL", "ng/mL": "ng/mL", "ng/L": "ng/L", "pg/mL": "pg/mL", "μg/L": "ug/L",
    "μg/mL": "ug/mL", "μg/dL": "ug/dL", "ng/dL": "ng/dL", "mg/L FEU": "mg/L{FEU}", "s": "s", "mm/h": "mm/h",
    "/μL": "/uL", "/HP": "/[HPF]", "/LP": "/[LPF]", "mmHg": "mm[Hg]", "kPa": "kPa", "bpm": "/min",
    "mL/min/1.73m²": "mL/min/{1.73_m2}", "ratio": "{ratio}", "COI": "{index}", "mg/g": "mg/g",
    "mg/mmol": "mg/mmol", "mOsm/kg": "mosm/kg", "°C": "Cel", "μkat/L": "ukat/L", "mmol/mol": "mmol/mol",
}


def _quantity(value: float | None, unit: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    q: dict[str, Any] = {"value": value}
    if unit:
        q["unit"] = unit
        if unit in UCUM_CODES:
            q["system"] = UCUM
            q["code"] = UCUM_CODES[unit]
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
        obs["effectiveDateTime"] = effective
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
    if ind.get("flag"):
        code = _FHIR_CODE.get(ind["flag"], ind["flag"])
        obs["interpretation"] = [{"coding": [{"system": INTERPRETATION_SYSTEM, "code": code,
                                              "display": _INTERPRETATION_DISPLAY.get(code, code)}]}]
    return obs


def to_bundle(report: dict[str, Any]) -> dict[str, Any]:
    header = report.get("header") or {}
    effective = header.get("collected_at") or header.get("tested_at") or header.get("reported_at")
    entries = [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": observation(ind, effective)}
               for ind in report.get("indicators", [])]
    return {"resourceType": "Bundle", "type": "collection",
            "meta": {"tag": [{"system": "urn:zhenxi:report-type", "code": report.get("report_type", "unknown")}]},
            "entry": entries}
