import pytest

from app.errors import NoIndicatorsError, UnknownIndicatorsError


def by_code(result):
    return {r["code"]: r for r in result["indicators"]}


def test_flags_from_knowledge_ranges_and_explanations_with_sources(nlp):
    r = nlp.interpret([{"code": "HGB", "value": 92, "unit": "g/L"}, {"code": "WBC", "value": 6.1}], sex="male")
    rows = by_code(r)
    assert rows["HGB"]["flag"] == "L" and rows["WBC"]["flag"] == "N"
    exp = rows["HGB"]["explanation"]
    assert exp["meaning"] and exp["advice"]
    assert exp["source"] == {"id": "interpretation:HGB#low", "knowledge_version": nlp.version}
    assert rows["WBC"]["explanation"] is None


def test_sex_specific_range(nlp):
    # 45 U/L is above the female ALT range (7-40) but inside the male one (9-50).
    assert by_code(nlp.interpret([{"code": "ALT", "value": 45}], sex="female"))["ALT"]["flag"] == "H"
    assert by_code(nlp.interpret([{"code": "ALT", "value": 45}], sex="male"))["ALT"]["flag"] == "N"


def test_printed_reference_and_flag_win(nlp):
    rows = by_code(nlp.interpret([{"code": "GLU", "value": 6.5, "reference": "3.9-7.0"},
                                  {"code": "TSH", "value": 3.0, "flag": "↑"}]))
    assert rows["GLU"]["flag"] == "N" and rows["GLU"]["reference"]["source"] == "report"
    assert rows["TSH"]["flag"] == "H"


def test_unit_conversion_and_names(nlp):
    rows = by_code(nlp.interpret([{"name": "白细胞", "value": 12000, "unit": "/uL"}]))
    assert rows["WBC"]["canonical_value"] == pytest.approx(12.0)
    assert rows["WBC"]["flag"] == "H"


def test_critical_value_means_same_day_care(nlp):
    r = nlp.interpret([{"code": "K", "value": 6.9, "unit": "mmol/L"}])
    assert by_code(r)["K"]["flag"] == "HH"
    assert r["urgency"] in ("urgent", "emergency")
    assert "critical_value" in r["tags"]


def test_patterns_fire_across_indicators(nlp):
    r = nlp.interpret([{"code": "HGB", "value": 95}, {"code": "MCV", "value": 70}, {"code": "GLU", "value": 8.1},
                       {"code": "HbA1c", "value": 7.6}, {"code": "AST", "value": 120}, {"code": "ALT", "value": 45},
                       {"code": "GGT", "value": 210}], sex="male")
    fired = {p["id"] for p in r["patterns"]}
    assert {"microcytic_anemia", "diabetes_risk", "alcohol_liver_pattern"} <= fired
    for p in r["patterns"]:
        assert p["source"]["id"] == f"pattern:{p['id']}"
    assert {"hematology", "endocrinology", "hepatology"} & {d["id"] for d in r["departments"]}
    assert "anemia" in r["tags"] and "diabetes_risk" in r["tags"]


def test_bacterial_vs_viral_pattern(nlp):
    bact = nlp.interpret([{"code": "WBC", "value": 15.2}, {"code": "NEUT%", "value": 88}, {"code": "LYMPH%", "value": 8}])
    viral = nlp.interpret([{"code": "WBC", "value": 4.0}, {"code": "NEUT%", "value": 35}, {"code": "LYMPH%", "value": 58}])
    assert "bacterial_infection_pattern" in {p["id"] for p in bact["patterns"]}
    assert "viral_infection_pattern" in {p["id"] for p in viral["patterns"]}


def test_medications_change_the_reading(nlp):
    r = nlp.interpret([{"code": "ALT", "value": 90}], medications=["阿托伐他汀钙片 20mg"])
    assert r["medication_classes"] == ["statin"]
    assert "statin_liver_check" in {p["id"] for p in r["patterns"]}


def test_qualitative_results(nlp):
    rows = by_code(nlp.interpret([{"code": "U-PRO", "value": "2+"}, {"code": "U-GLU", "value": "阴性"},
                                  {"code": "HBsAg", "value": "阳性"}]))
    assert rows["U-PRO"]["flag"] == "POS" and rows["U-GLU"]["flag"] == "NEG"
    assert rows["HBsAg"]["explanation"]["source"]["id"] == "interpretation:HBsAg#positive"


def test_english_output(nlp):
    r = nlp.interpret([{"code": "HGB", "value": 90}], lang="en")
    assert r["language"] == "en" and "anaemia" in by_code(r)["HGB"]["explanation"]["meaning"].lower()


def test_unknown_codes_are_reported_or_rejected(nlp):
    r = nlp.interpret([{"code": "HGB", "value": 140}, {"code": "XYZ123", "value": 1}])
    assert r["unknown_indicators"] == [{"code": "XYZ123", "name": None, "reason": "unknown_indicator"}]
    with pytest.raises(UnknownIndicatorsError):
        nlp.interpret([{"code": "XYZ123", "value": 1}])
    with pytest.raises(NoIndicatorsError):
        nlp.interpret([])


def test_non_numeric_value_is_explained_not_crashing(nlp):
    row = by_code(nlp.interpret([{"code": "HGB", "value": "abc"}]))["HGB"]
    assert row["flag"] is None and row["reason"] == "value_not_numeric"


def test_deterministic(nlp):
    req = [{"code": "TG", "value": 6.2}, {"code": "HDL-C", "value": 0.8}, {"code": "LDL-C", "value": 4.2}]
    assert nlp.interpret(req, sex="male", age=50) == nlp.interpret(req, sex="male", age=50)


def test_a_printed_flag_decides_and_a_disagreeing_range_is_named(nlp):
    """Issue 9: the sheet's mark is the truth. A ↑ printed beside a value inside the printed range keeps H, and
    the row names what the range alone gives; a mark the range agrees with adds nothing."""
    rows = by_code(nlp.interpret([
        {"code": "HGB", "value": 150, "unit": "g/L", "reference": {"low": 130, "high": 175}, "flag": "H"},
        {"code": "WBC", "value": 12.0, "unit": "10^9/L", "reference": {"low": 3.5, "high": 9.5}, "flag": "↑"},
        {"code": "PLT", "value": 90, "unit": "10^9/L", "reference": {"low": 125, "high": 350}, "flag": "N"},
        {"code": "RBC", "value": 4.0, "unit": "10^12/L", "flag": "L"},
        {"code": "MCV", "value": 60, "unit": "fL"}], sex="male"))
    assert rows["HGB"]["flag"] == "H"
    assert rows["HGB"]["flag_disagreement"] == {"printed": "H", "from_range": "N", "range_source": "report"}
    assert rows["HGB"]["explanation"] is not None          # explained as the high result the sheet marks
    assert rows["WBC"]["flag"] == "H" and "flag_disagreement" not in rows["WBC"]
    assert rows["PLT"]["flag"] == "N"
    assert rows["PLT"]["flag_disagreement"] == {"printed": "N", "from_range": "L", "range_source": "report"}
    # no printed range: the knowledge default is what disagrees (male RBC 4.3-5.8)
    assert rows["RBC"]["flag"] == "L" and "flag_disagreement" not in rows["RBC"]
    assert "flag_disagreement" not in rows["MCV"]                # nothing printed, nothing to disagree with


def test_a_critical_value_still_fires_over_a_printed_flag_and_names_the_mark(nlp):
    """#10's HH/LL beyond the critical limits still fires whatever was printed; a mark pointing the other way
    is named, one pointing the same way is not."""
    rows = by_code(nlp.interpret([{"code": "K", "value": 6.9, "unit": "mmol/L", "flag": "↑"},
                                  {"code": "GLU", "value": 1.9, "unit": "mmol/L", "flag": "H"}]))
    assert rows["K"]["flag"] == "HH" and "flag_disagreement" not in rows["K"]
    assert rows["GLU"]["flag"] == "LL"
    assert rows["GLU"]["flag_disagreement"]["printed"] == "H"
    assert rows["GLU"]["flag_disagreement"]["from_range"] == "LL"
