"""The semantic emergency detector: a real model (USE embeddings + char n-grams, weights in models/), run for real."""
import json

import numpy as np
import pytest

from app.emergency import MODEL_PATH, char_grams


def test_the_committed_model_matches_its_record():
    data = np.load(MODEL_PATH)
    meta = json.loads(MODEL_PATH.with_suffix(".json").read_text())
    assert abs(float(data["threshold"]) - meta["threshold"]) < 1e-6
    assert data["weights"].shape == (512 + int(data["hash_dim"]),)
    assert not {"nlp_questions_test3.jsonl", "nlp_questions_test4.jsonl"} & set(meta["train_files"])  # blind sets


def test_char_grams_are_stable_and_normalised():
    a, b = char_grams(["胸口疼 Chest"]), char_grams(["胸口疼 chest"])
    assert np.allclose(a, b) and abs(np.linalg.norm(a) - 1.0) < 1e-5


def test_it_scores_emergencies_high_and_routine_questions_low(nlp):
    det = nlp.triage.semantic
    assert det is not None
    assert det.probability("我爸突然倒在地上，怎么喊都没反应") >= det.threshold
    assert det.probability("想问下洗牙一般多少钱，要预约吗") < det.threshold


# Emergencies worded away from the red-flag phrases, and ordinary questions. The model is tested on these inputs
# directly (its own probability and decision), whatever the rules have learned since.
MODEL_EMERGENCIES = ["孩子把妈妈的降压药吃了好几颗", "我爸突然倒在地上，怎么喊都没反应", "老人家说话说着说着嘴就歪了，手也抬不起来"]
MODEL_ROUTINE = ["想问下洗牙一般多少钱，要预约吗", "最近有点便秘，多吃香蕉有用吗", "体检血脂有点高，平时饮食要注意什么"]


@pytest.mark.parametrize("text", MODEL_EMERGENCIES)
def test_the_model_alone_scores_an_emergency_above_its_threshold(nlp, text):
    det = nlp.triage.semantic
    assert det.probability(text) >= det.threshold
    assert det.fires(text)[0] is True


@pytest.mark.parametrize("text", MODEL_ROUTINE)
def test_the_model_alone_scores_a_routine_question_below_its_threshold(nlp, text):
    det = nlp.triage.semantic
    assert det.probability(text) < det.threshold
    assert det.fires(text)[0] is False and det.fires(text, strict=True)[0] is False
    # nor does the triage's semantic path raise a flag on it
    assert nlp.triage._semantic_red_flag(nlp.lexicon.analyze(text)) == []


def test_it_raises_an_emergency_the_rules_do_not_know(nlp):
    text = "孩子把妈妈的降压药吃了好几颗"
    r = nlp.analyze_symptoms(text)
    assert r["urgency"] == "emergency" and "120" in r["advice"]


def test_a_general_question_is_not_flagged(nlp):
    assert nlp.analyze_symptoms("心肌梗死一般有哪些前兆")["urgency"] != "emergency"


def test_without_the_model_the_rules_still_work(kb):
    from app.service import NlpService

    svc = NlpService(kb, dense=False, emergency_model=None)
    assert svc.triage.semantic is None
    assert svc.analyze_symptoms("胸口剧痛，满头大汗")["urgency"] == "emergency"


def test_an_episode_the_writer_says_is_over_is_not_flagged(nlp):
    r = nlp.analyze_symptoms("Had a bad panic attack yesterday, heart pounding, couldn't catch my breath. All good now.")
    assert r["urgency"] != "emergency"
