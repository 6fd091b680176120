"""The knowledge nlp serves is complete for its use (loading, validation and the version are the package's,
tested in libs/knowledge)."""
import pytest


def test_every_indicator_code_has_an_interpretation(kb):
    assert len(kb.indicators) >= 150
    assert kb.missing_interpretations() == []
    for code, it in kb.interpretations.items():
        assert it.high or it.low or it.positive, code
        assert it.measures and it.measures_en


def test_indicators_with_critical_values_have_urgent_guidance(kb):
    with_critical = [c for c, ind in kb.indicators.items() if ind.critical]
    assert with_critical
    for code in with_critical:
        crit = kb.interpretations[code].critical
        assert crit is None or crit.urgency in ("urgent", "emergency"), code


def test_disease_base_is_large_and_complete(kb):
    assert len(kb.diseases) >= 200
    for d in kb.diseases.values():
        for field in ("description", "self_care", "see_doctor", "treatment"):
            assert getattr(d, field) and getattr(d, field + "_en"), (d.id, field)


def test_every_xray_finding_maps_to_diseases(kb):
    assert len(kb.findings) == 14
    for label in kb.findings:
        assert any(label in d.findings for d in kb.diseases.values()), label


def test_department_taxonomy_and_synonyms(kb):
    names = {d.name for d in kb.departments.values()}
    for required in ("心血管科", "消化科", "肝病科", "神经科", "内分泌科", "呼吸科", "肾内科", "感染科", "血液科",
                     "风湿免疫科", "普通内科", "普外科", "儿科", "妇科", "皮肤科", "耳鼻喉科", "眼科", "急诊科"):
        assert required in names
    assert "消化内科" in kb.departments["gastroenterology"].synonyms


@pytest.mark.parametrize("colloquial,standard", [("头疼", "headache"), ("拉肚子", "diarrhea"), ("心慌", "palpitations")])
def test_colloquial_symptoms_are_synonyms(kb, colloquial, standard):
    assert colloquial in kb.symptoms[standard].terms
