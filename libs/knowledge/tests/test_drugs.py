"""Drugs, drug classes and missed-dose rules: data checked on load, the rule evaluated by the package."""
import pytest
import yaml

from zhenxi_knowledge import Knowledge, KnowledgeError

REQUIRED_GROUPS = {"antihypertensive", "antidiabetic", "lipid_lowering", "anticoagulant", "antiplatelet",
                   "antibiotic", "thyroid", "acid_suppressant", "respiratory", "analgesic"}


def test_about_150_drugs_covering_the_required_classes(kb):
    assert 140 <= len(kb.drugs) <= 220
    groups = {c.group for c in kb.drug_classes.values()}
    assert REQUIRED_GROUPS <= groups
    for must in ("metformin", "insulin_glargine", "warfarin", "atorvastatin", "levothyroxine", "omeprazole",
                 "salbutamol", "amlodipine", "clopidogrel", "amoxicillin", "ibuprofen"):
        assert must in kb.drugs, must


def test_every_drug_is_complete_and_every_class_cites_sources(kb):
    for d in kb.drugs.values():
        assert d.name and d.name_en and d.class_id in kb.drug_classes
        assert d.interval_hours or d.as_needed, d.id
    for c in kb.drug_classes.values():
        assert c.sources and all(s.title for s in c.sources), c.id
    used = {d.class_id for d in kb.drugs.values()}
    assert used == set(kb.drug_classes), "every class has drugs and every drug a class"


@pytest.mark.parametrize("text,drug", [("拜新同", "nifedipine_gits"), ("阿托伐他汀钙片 20mg", "atorvastatin"),
                                       ("Lipitor", "atorvastatin"), ("metformin 500mg bid", "metformin"),
                                       ("二甲双胍缓释片", "metformin_xr"), ("优甲乐 50μg", "levothyroxine"),
                                       ("信必可都保", "budesonide_formoterol"), ("LANTUS", "insulin_glargine"),
                                       ("维生素C", None), ("", None)])
def test_find_drug(kb, text, drug):
    found = kb.find_drug(text)
    assert (found.id if found else None) == drug


def test_find_drugs_in_a_sentence(kb):
    ids = [d.id for d in kb.find_drugs("每天吃华法林、二甲双胍，还有立普妥")]
    assert sorted(ids) == ["atorvastatin", "metformin", "warfarin"]


def test_medication_classes_for_patterns(kb):
    assert kb.medication_classes(["立普妥", "华法林钠片"]) == ["anticoagulant", "statin"]
    assert kb.medication_classes(["缬沙坦"]) == ["acei_arb"]


@pytest.mark.parametrize("cls,since,interval,rule,action", [
    ("statin", 3, 24, "half_interval.take_now", "take_now"),
    ("statin", 13, 24, "half_interval.skip", "skip"),
    ("vka", 10, 24, "same_day.take_now", "take_now"),
    ("vka", 20, 24, "same_day.skip", "skip"),
    ("biguanide", 1, 12, "no_catch_up.skip", "skip"),
    ("doac_twice_daily", 5, 12, "twice_daily_6h.take_now", "take_now"),
    ("doac_twice_daily", 7, 12, "twice_daily_6h.skip", "skip"),
    ("doac_daily", 11, 24, "once_daily_12h.take_now", "take_now"),
    ("doac_daily", 13, 24, "once_daily_12h.skip", "skip"),
    ("glp1_weekly", 100, 168, "weekly_5_days.take_now", "take_now"),
    ("glp1_weekly", 130, 168, "weekly_5_days.skip", "skip"),
    ("insulin_basal", 18, 24, "basal_insulin.ask_doctor", "ask_doctor"),
    ("sulfonylurea", 0.5, 24, "with_meal.take_now", "take_now"),
    ("penicillin", 5, 8, "antibiotic.take_now", "take_now"),
    ("penicillin", 7, 8, "antibiotic.skip", "skip"),
    ("inhaled_reliever", 3, None, "when_needed.as_needed", "as_needed"),
    ("bisphosphonate_weekly", 10, 168, "next_morning_weekly.take_now", "take_now_shift_schedule"),
])
def test_missed_dose_rules(kb, cls, since, interval, rule, action):
    advice = kb.missed_dose_advice(cls, since, interval)
    assert (advice.rule_id, advice.action) == (rule, action)
    assert advice.never_double and advice.advice and advice.advice_en


def test_missed_dose_without_interval_falls_to_the_last_rule(kb):
    assert kb.missed_dose_advice("statin", 3).rule_id == "half_interval.skip"


def test_missed_dose_bad_input(kb):
    with pytest.raises(KeyError):
        kb.missed_dose_advice("unicorns", 1, 24)
    with pytest.raises(ValueError):
        kb.missed_dose_advice("statin", -1, 24)


def _edit(path, fn):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.mark.parametrize("edit,message", [
    (lambda d: d["rule_sets"]["half_interval"][0].update(when="fraction <"), "rule take_now"),
    (lambda d: d["rule_sets"]["half_interval"][0].update(when="value(GLU) > 3"), "rule take_now"),
    (lambda d: d["rule_sets"]["half_interval"].pop(), "the last missed-dose rule must be `always`"),
    (lambda d: d["classes"][0].update(missed_dose="sometimes"), "unknown rule set sometimes"),
    (lambda d: d["classes"][0].update(sources=[]), "no sources"),
    (lambda d: d["classes"][0].update(pattern_class="nothing"), "unknown pattern class nothing"),
    (lambda d: d["rule_sets"]["half_interval"][0].update(action="take_two"), "action"),
])
def test_broken_drug_classes_are_refused(kb_copy, edit, message):
    _edit(kb_copy / "drugs" / "classes.yaml", edit)
    with pytest.raises(KnowledgeError, match=message):
        Knowledge(kb_copy)


def test_drug_with_unknown_class_is_refused(kb_copy):
    _edit(kb_copy / "drugs" / "drugs.yaml", lambda d: d["drugs"][0].update(class_id="calcium_blockers"))
    with pytest.raises(KnowledgeError, match="unknown class calcium_blockers"):
        Knowledge(kb_copy)
