"""The seed tips: enough of them, covering what the issue lists, every link resolving in the knowledge base."""
from collections import Counter

import pytest

from app.content import ContentError, load_catalogue, unresolved_links
from app.knowledge import load_vocabulary
from app.rendering import render_markdown

VOCAB = load_vocabulary()
CATALOGUE = load_catalogue()
TIPS = CATALOGUE.tips

CHRONIC = {"hypertension", "type2_diabetes", "dyslipidemia", "gout", "fatty_liver", "iron_deficiency_anemia",
           "chronic_kidney_disease"}
# The medication groups the issue names, as knowledge/drugs class ids (any one id of a group counts).
MEDICATION_GROUPS = {
    "antihypertensives": {"acei", "arb", "ccb", "beta_blocker", "thiazide", "loop_diuretic"},
    "metformin": {"biguanide"},
    "insulin": {"insulin_basal", "insulin_prandial", "insulin_premixed"},
    "statins": {"statin"},
    "warfarin": {"vka"},
    "antibiotics": {"penicillin", "cephalosporin", "macrolide", "fluoroquinolone", "antibiotic_other"},
    "PPIs": {"ppi"},
}
COMMON_ABNORMAL = {"LDL-C", "TG", "HDL-C", "TC", "GLU", "HbA1c", "UA", "ALT", "GGT", "CREA", "eGFR", "HGB", "FER",
                   "PLT", "WBC", "CRP", "TSH", "K", "Na", "INR", "U-PRO", "TBIL", "VB12", "25OHD", "HCY", "ALB"}


def test_at_least_120_tips_in_both_languages_and_every_category():
    assert len(TIPS) >= 120
    langs = Counter(t.lang for t in TIPS)
    assert langs["zh-CN"] >= 100 and langs["en"] >= 10
    assert set(Counter(t.category for t in TIPS)) == {"prevention", "medication", "diet", "exercise"}


def test_every_tip_carries_references_that_exist():
    for tip in TIPS:
        assert tip.references, tip.slug
        assert all(r in CATALOGUE.references for r in tip.references), tip.slug


def test_coverage_of_the_issue_list():
    linked = {kind: set() for kind in ("indicators", "findings", "conditions", "drug_classes")}
    for tip in TIPS:
        for kind in linked:
            linked[kind] |= set(getattr(tip, kind))
    assert COMMON_ABNORMAL <= linked["indicators"]
    assert CHRONIC <= linked["conditions"]
    for group, ids in MEDICATION_GROUPS.items():
        assert ids & linked["drug_classes"], group
    assert len(linked["findings"]) == 14   # one or more tips for each ChestX-ray14 finding


def test_indicator_and_condition_links_resolve_in_knowledge():
    assert VOCAB.indicators and VOCAB.conditions
    bad = {t.slug: v for t in TIPS
           if (v := {k: ids for k, ids in unresolved_links(t, VOCAB).items() if k in ("indicator", "condition")})}
    assert bad == {}


@pytest.mark.parametrize("kind,table", [("finding", "findings"), ("drug_class", "drug_classes")])
def test_finding_and_drug_class_links_resolve_in_knowledge(kind, table):
    if not getattr(VOCAB, table):
        pytest.skip(f"this knowledge base has no {table} yet (they arrive with libs/knowledge); "
                    "links are checked as soon as it does")
    bad = {t.slug: v[kind] for t in TIPS if kind in (v := unresolved_links(t, VOCAB))}
    assert bad == {}


def test_every_body_renders_to_html():
    for tip in TIPS:
        html = render_markdown(tip.body)
        assert html.startswith("<") and "<script" not in html, tip.slug


def test_bad_seed_files_are_refused(tmp_path):
    from app.content import SEED_DIR

    (tmp_path / "references.yaml").write_text((SEED_DIR / "references.yaml").read_text(encoding="utf-8"),
                                              encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    base = ("tips:\n  - {slug: x-one, lang: zh-CN, category: %s, title: 标题标题, summary: 摘要摘要,"
            " body: 这是一条足够长的正文内容。, references: [%s]}\n")
    bad.write_text(base % ("diet", "no-such-ref"), encoding="utf-8")
    with pytest.raises(ContentError, match="unknown references"):
        load_catalogue(tmp_path)
    bad.write_text(base % ("cooking", "cn-diet-2022"), encoding="utf-8")
    with pytest.raises(ContentError, match="unknown category"):
        load_catalogue(tmp_path)
    bad.write_text(base % ("diet", "cn-diet-2022") + base.replace("tips:\n", "") % ("diet", "cn-diet-2022"),
                   encoding="utf-8")
    with pytest.raises(ContentError, match="duplicate slug"):
        load_catalogue(tmp_path)
