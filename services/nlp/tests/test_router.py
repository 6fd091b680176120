"""The learned department router (app/router.py) and the hints read beside it, run for real: the committed weights,
the USE embedding, the knowledge base. Questions here are written for the tests, in the way patients write."""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from app.router import MODEL_PATH, LearnedRouter, RouterModelError, file_sha256

TRAINING = Path(__file__).resolve().parents[1] / "training"
sys.path.insert(0, str(TRAINING))
import real_questions  # noqa: E402

ROUTING_DECISIONS = {"rules", "model", "rules+model", "red_flags", "default"}


def top(r):
    return [d["id"] for d in r["departments"]]


# ---- the model file ----
def test_the_committed_model_matches_its_record():
    meta = json.loads(MODEL_PATH.with_suffix(".json").read_text())
    assert file_sha256(MODEL_PATH) == meta["sha256"]
    data = np.load(MODEL_PATH)
    assert list(data["classes"]) == meta["classes"] and "emergency" not in meta["classes"]
    assert data["weights"].shape == (512 + len(data["idf"]), len(meta["classes"]))
    # the blind written sets and the real test split were never read by the training
    assert not {"nlp_questions_test3.jsonl", "nlp_questions_test4.jsonl"} & set(meta["train"]["written_files"])
    assert "real_split test part" in meta["never_read"]


def test_a_damaged_model_is_refused_and_the_service_falls_back_to_the_rules(tmp_path, kb, nlp):
    bad = tmp_path / "router.npz"
    shutil.copy(MODEL_PATH, bad)
    shutil.copy(MODEL_PATH.with_suffix(".json"), tmp_path / "router.json")
    with open(bad, "r+b") as fh:
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(RouterModelError, match="checksum"):
        LearnedRouter(nlp.triage.router.encoder, bad)
    from app.service import NlpService

    svc = NlpService(kb, dense=True, router_model=bad)
    assert svc.triage.router is None
    r = svc.analyze_symptoms("乙肝大三阳，DNA很高，要吃抗病毒药吗")
    assert top(r)[0] == "hepatology" and r["routing"]["model"] == []


def test_probabilities_are_a_distribution_over_the_departments(nlp):
    p = nlp.triage.router.probabilities("最近老是胃胀，吃一点就饱，打嗝")
    assert abs(sum(p.values()) - 1.0) < 1e-5 and all(v >= 0 for v in p.values())
    assert set(p) <= set(nlp.kb.departments)


# ---- the model on its own inputs ----
@pytest.mark.parametrize("text,dept", [
    ("乙肝小三阳好几年了，DNA一直阴性，需要吃恩替卡韦吗", "hepatology"),
    ("空腹血糖老是七点多，医生说要注意，平时吃饭该怎么控制", "endocrinology"),
    ("经常偏头痛，一疼就是半边脑袋，晚上也睡不好", "neurology"),
    ("胃镜做出来说是浅表性胃炎伴糜烂，吃什么药比较好", "gastroenterology"),
])
def test_the_model_alone_ranks_real_style_questions(nlp, text, dept):
    p = nlp.triage.router.probabilities(text)
    assert max(p, key=p.get) == dept


# ---- the combination ----
def test_red_flags_stay_first_whatever_the_model_says(nlp):
    r = nlp.analyze_symptoms("乙肝多年，今天突然吐了一大口血，人发晕")
    assert r["urgency"] == "emergency" and top(r)[0] == "emergency"
    assert r["routing"]["decided_by"] == "red_flags"


def test_the_response_says_which_evidence_decided(nlp):
    r = nlp.analyze_symptoms("大三阳十年了，最近转氨酶又高了，抗病毒药要换吗")
    routing = r["routing"]
    assert routing["decided_by"] in ROUTING_DECISIONS
    assert routing["model"] and routing["model"][0]["id"] == "hepatology"
    assert routing["model_version"] == nlp.triage.router.meta["sha256"][:12]
    assert top(r)[0] == "hepatology"


def test_a_colloquial_question_without_lexicon_words_is_routed_by_the_model(nlp):
    r = nlp.analyze_symptoms("小三阳的人能不能结婚要孩子，会不会传给下一代")
    assert r["understood"] and top(r)[0] in {"hepatology", "infectious"}


def test_text_without_medical_content_is_still_not_understood(nlp):
    r = nlp.analyze_symptoms("今天天气不错")
    assert r["understood"] is False


# ---- relatives: route by the relative's age and sex ----
def test_a_child_relative_routes_to_paediatrics_even_when_the_writer_gives_their_own_age(nlp):
    r = nlp.analyze_symptoms("我今年32岁，我儿子3岁，这两天发烧咳嗽")
    assert top(r)[0] == "pediatrics"
    assert r["routing"]["subject"] == {"relation": "son", "sex": "M", "age": 3.0, "adult": False}


def test_an_adult_son_is_not_a_child(nlp):
    r = nlp.analyze_symptoms("我儿子今年25岁，最近总是胃痛反酸")
    assert "pediatrics" not in top(r) and top(r)[0] == "gastroenterology"
    assert r["routing"]["subject"]["adult"] is True


def test_a_male_relative_is_not_sent_to_gynaecology(nlp):
    r = nlp.analyze_symptoms("我老公最近下腹坠胀，小便有点疼")
    assert not {"gynecology", "obstetrics"} & set(top(r))
    r = nlp.analyze_symptoms("我老婆最近下腹坠胀，白带有异味")
    assert "gynecology" in top(r)


# ---- a general enquiry about a drug or disease ----
@pytest.mark.parametrize("text,dept", [("二甲双胍有什么副作用", "endocrinology"),
                                       ("阿托伐他汀要吃多久，能停吗", "cardiology")])
def test_a_drug_enquiry_without_symptoms_routes_to_the_owning_department(nlp, text, dept):
    r = nlp.analyze_symptoms(text)
    assert r["understood"] and top(r)[0] == dept


def test_a_drug_is_mapped_to_departments_from_the_knowledge_base(nlp):
    drugs, votes = nlp.triage.hints.drugs("二甲双胍有什么副作用")
    assert drugs == ["二甲双胍"] and max(votes, key=votes.get) == "endocrinology"


# ---- pasted lab values ----
def test_pasted_lab_values_become_indicator_codes_with_flag(nlp):
    r = nlp.analyze_symptoms("体检单上谷丙转氨酶141，谷草转氨酶150，平时也不喝酒，这是怎么回事")
    found = {i["code"]: i for i in r["mentioned"]["indicators"]}
    assert found["ALT"]["value"] == 141 and found["ALT"]["flag"] == "H"
    assert found["AST"]["value"] == 150
    assert top(r)[0] == "hepatology"
    assert {"code": "ALT", "value": 141.0, "flag": "H"} in r["routing"]["lab_values"]


def test_a_typo_and_a_chinese_decimal_point_in_a_pasted_value(nlp):
    labs = nlp.triage.hints.lab_values("化验甘油三脂4。47，参考值0。38-1。61")
    assert [(v.code, v.value) for v in labs][:1] == [("TG", 4.47)] and labs[0].flag == "H"


# ---- the split of the real questions ----
def test_the_committed_split_holds_hashes_only():
    data = json.loads(real_questions.SPLIT_PATH.read_text())
    assert data["n"] == len(data["rows"]) == 5601
    assert all(set(r) == {"h", "split"} and len(r["h"]) == 20 and int(r["h"], 16) >= 0 for r in data["rows"])
    assert {r["split"] for r in data["rows"]} == {"train", "dev", "test"}


def test_the_committed_split_is_the_seeded_hash_rule():
    reason = real_questions.missing_reason()
    if reason:
        pytest.skip(reason)
    qs = real_questions.read_questions()
    rule = real_questions.assign(qs)
    committed = {q.hash[:20]: q.split for q in real_questions.load()}
    assert all(committed[h[:20]] == s for h, s in rule.items())
    test = [q for q in real_questions.load("test")]
    assert {q.department for q in test} >= {"hepatology", "respiratory", "general_medicine"}


def test_the_service_code_imports_neither_scikit_learn_nor_torch():
    app = Path(__file__).resolve().parents[1] / "app"
    for path in app.glob("*.py"):
        src = path.read_text(encoding="utf-8")
        assert "import sklearn" not in src and "from sklearn" not in src, path.name
        assert "import torch" not in src and "from torch" not in src, path.name
