"""The package loads the real knowledge/, once, with one version, and refuses broken data."""
import re

import pytest
import yaml

from zhenxi_knowledge import Knowledge, KnowledgeError, get_knowledge


def test_loads_everything(kb):
    assert len(kb.indicators) >= 150
    assert len(kb.conditions) >= 200
    assert len(kb.departments) >= 20
    assert set(kb.findings) == {"Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule",
                                "Pneumonia", "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis",
                                "Pleural_Thickening", "Hernia"}
    assert all(f.name and f.name_en and f.plain and f.plain_en for f in kb.findings.values())
    assert kb.interpretations and kb.symptoms and kb.red_flags and kb.patterns and kb.context is not None


def test_version_is_semver_plus_content_hash(kb):
    assert re.fullmatch(r"\d+\.\d+\.\d+\+[0-9a-f]{12}", kb.version)


def test_loaded_once_per_process(kb):
    assert get_knowledge() is kb


def test_same_files_same_version_anywhere(kb, kb_copy):
    # the copy drops README.md files, which are not read, so the content hash must not change
    assert Knowledge(kb_copy).version == kb.version


def test_any_edit_changes_the_version(kb, kb_copy):
    path = kb_copy / "findings" / "findings.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("肺不张", "肺膨胀不全", 1), encoding="utf-8")
    other = Knowledge(kb_copy)
    assert other.version != kb.version and other.semver == kb.semver


def _edit(path, fn):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_unknown_key_in_an_indicator_is_refused(kb_copy):
    _edit(kb_copy / "indicators" / "blood_routine.yaml", lambda d: d["indicators"]["WBC"].update(refs={"low": 1}))
    with pytest.raises(KnowledgeError, match="WBC"):
        Knowledge(kb_copy)


def test_unknown_top_level_key_is_refused(kb_copy):
    _edit(kb_copy / "findings" / "findings.yaml", lambda d: d.update(finding=[]))
    with pytest.raises(KnowledgeError, match="unknown top-level keys"):
        Knowledge(kb_copy)


@pytest.mark.parametrize("where,edit,message", [
    ("diseases/cardio_respiratory.yaml", lambda d: d["diseases"][0].update(department="cardiologyy"),
     "unknown department cardiologyy"),
    ("diseases/cardio_respiratory.yaml", lambda d: d["diseases"][0].update(findings=["Pneumonitis"]),
     "unknown X-ray finding Pneumonitis"),
    ("diseases/cardio_respiratory.yaml", lambda d: d["diseases"][0].update(indicators=["WBCX:high"]),
     "unknown indicator WBCX"),
    ("patterns/patterns.yaml", lambda d: d["patterns"][0].update(when="low(HGB) and taking(unicorn)"),
     "unknown medication class unicorn"),
    ("patterns/patterns.yaml", lambda d: d["patterns"][0].update(when="low(HGB) and ("), "pattern"),
    ("indicators/blood_routine.yaml", lambda d: d["indicators"]["WBC"].update(units={"10^9/L": 1, "furlong": 2}),
     "unit furlong not in units.yaml"),
    ("indicators/blood_routine.yaml", lambda d: d["indicators"]["WBC"].update(ref={"low": 9, "high": 3}),
     "WBC: ref low > high"),
])
def test_broken_cross_reference_is_refused(kb_copy, where, edit, message):
    _edit(kb_copy / where, edit)
    with pytest.raises(KnowledgeError, match=re.escape(message)):
        Knowledge(kb_copy)


def test_duplicate_indicator_code_is_refused(kb_copy):
    _edit(kb_copy / "indicators" / "liver.yaml",
          lambda d: d["indicators"].update(WBC={"name": "x", "name_en": "x", "unit": None}))
    with pytest.raises(KnowledgeError, match="duplicate id 'WBC'"):
        Knowledge(kb_copy)


def test_root_override_and_missing_root(tmp_path):
    with pytest.raises(KnowledgeError, match="index.yaml"):
        Knowledge(tmp_path)


def test_every_indicator_has_an_interpretation(kb):
    assert kb.missing_interpretations() == []


def test_templates_render_and_declare_their_fields(kb, kb_copy):
    assert kb.text("triage.advice.soon", "zh", department="消化科") == "建议近几天到消化科就诊。"
    assert "gastro" in kb.text("triage.advice.soon", "en", department="gastro")
    with pytest.raises(KnowledgeError, match="missing"):
        kb.require_templates("no.such.template")
    _edit(kb_copy / "templates" / "advice.yaml",
          lambda d: d["templates"]["triage.advice.soon"].update(en="See {dept} soon."))
    with pytest.raises(KnowledgeError, match=r"triage.advice.soon \(en\): uses \['dept'\]"):
        Knowledge(kb_copy)


def test_routing_and_report_types_are_checked(kb, kb_copy):
    assert kb.routing.departments.fallback in kb.departments
    assert kb.report_types["biochemistry"].panels
    _edit(kb_copy / "departments" / "routing.yaml",
          lambda d: d["routing"]["departments"].update(fallback="general_medicinee"))
    with pytest.raises(KnowledgeError, match="routing: unknown department general_medicinee"):
        Knowledge(kb_copy)


def test_the_report_services_templates_and_trends_are_read_and_checked_here(kb, kb_copy):
    assert kb.report_templates.order and kb.report_trends.default
    before = Knowledge(kb_copy).version
    finding = next(iter(kb.report_templates.xray.findings))
    _edit(kb_copy / "report" / "templates.yaml",
          lambda d: d["xray"]["findings"][finding].update(department="cardiologyy"))
    with pytest.raises(KnowledgeError, match=f"report templates: finding {finding}: unknown department cardiologyy"):
        Knowledge(kb_copy)
    _edit(kb_copy / "report" / "templates.yaml",
          lambda d: d["xray"]["findings"][finding].update(department=kb.report_templates.xray.findings[finding].department))
    assert Knowledge(kb_copy).version != before   # the report files are part of the content hash
    _edit(kb_copy / "report" / "trends.yaml", lambda d: d["indicators"].update(NOPE={"relative": 0.3}))
    with pytest.raises(KnowledgeError, match="report trends: unknown indicator NOPE"):
        Knowledge(kb_copy)


def test_departments_treating_their_own_cancers_are_checked(kb, kb_copy):
    assert "hematology" in kb.routing.own_cancer_treatment
    _edit(kb_copy / "departments" / "routing.yaml",
          lambda d: d["routing"].update(own_cancer_treatment=["hematologyy"]))
    with pytest.raises(KnowledgeError, match=r"routing: unknown department hematologyy \(own_cancer_treatment\)"):
        Knowledge(kb_copy)
