from app.fhir import to_bundle


def _ind(**kw):
    base = {"code": "GLU", "name": "葡萄糖", "name_en": "Glucose", "loinc": "14749-6", "panel": "glucose",
            "value": 7.2, "value_text": "7.2", "unit": "mmol/L", "comparator": None,
            "reference": {"low": 3.9, "high": 6.1, "text": "3.9-6.1"}, "flag": "H", "needs_review": False}
    return base | kw


def test_bundle_of_observations():
    b = to_bundle({"report_type": "glucose", "header": {"collected_at": "2024-03-01T08:30:00"},
                   "indicators": [_ind(), _ind(code="U-PRO", loinc="20454-5", value=None, value_text="阴性",
                                               unit=None, flag="N", reference={"low": None, "high": None,
                                                                               "text": "阴性"})]})
    assert b["resourceType"] == "Bundle" and b["type"] == "collection" and len(b["entry"]) == 2
    glu = b["entry"][0]["resource"]
    assert glu["valueQuantity"] == {"value": 7.2, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                                    "code": "mmol/L"}
    assert glu["code"]["coding"][0] == {"system": "http://loinc.org", "code": "14749-6", "display": "Glucose"}
    assert glu["interpretation"][0]["coding"][0]["code"] == "H"
    assert glu["referenceRange"][0]["low"]["value"] == 3.9
    assert glu["effectiveDateTime"] == "2024-03-01T08:30:00+08:00"
    assert "subject" not in glu
    pro = b["entry"][1]["resource"]
    assert pro["valueString"] == "阴性" and pro["referenceRange"][0] == {"text": "阴性"}


def test_a_critical_value_adds_its_interpretation_beside_the_sheets():
    b = to_bundle({"report_type": "glucose", "header": {},
                   "indicators": [_ind(value=30.1, flag="H", flag_critical="HH"), _ind(flag="H", flag_critical=None)]})
    crit, plain = (e["resource"]["interpretation"] for e in b["entry"])
    assert [i["coding"][0]["code"] for i in crit] == ["H", "HH"]
    assert [i["coding"][0]["code"] for i in plain] == ["H"]


def test_a_date_alone_stays_a_date_and_a_bad_one_is_dropped():
    from app.report_header import _date

    b = to_bundle({"report_type": "glucose", "header": {"collected_at": "2024-03-01"}, "indicators": [_ind()]})
    assert b["entry"][0]["resource"]["effectiveDateTime"] == "2024-03-01"
    assert _date("采样时间: 2024-01-02 08:00") == "2024-01-02T08:00:00"
    assert _date("2024-02-31 08:00") is None and _date("2024-01-02 25:99") is None
    assert _date("2024/2/29") == "2024-02-29" and _date("2023/2/29") is None
