"""Red flags told as part of a condition the writer already knows (issue #16, second pass): an old seizure of a
known epileptic, a diagnosis already made, a question about which hospital treats epilepsy. Those are lifted; a
seizure happening now, a dangerous one (status, fever, pregnancy) or another flag beside it keeps 120 first.
The word lists are knowledge (knowledge/symptoms/context.yaml `routing.known_condition_*`, `ongoing_event`).
Questions here are written for the tests."""
import pytest


def flags(result):
    return [f["id"] for f in result["red_flags"]]


@pytest.mark.parametrize("text", [
    "我有癫痫病史十几年了，每次发作都会口吐白沫四肢抽搐，一直吃丙戊酸钠，想问哪家医院治癫痫比较好",
    "我表哥上个月吃饭时突然倒地抽搐，送到医院医生说是癫痫，癫痫病人饮食上要注意什么",
    "我女儿从小就有羊癫疯，发作时会晕倒抽搐，这个病能根治吗",
    "我爸患癫痫多年，发作时会突然倒地抽搐，平时吃卡马西平，能换成别的药吗",
])
def test_a_known_condition_told_as_history_is_not_a_120_event(nlp, text):
    r = nlp.analyze_symptoms(text)
    assert flags(r) == [], r["red_flags"]
    assert r["urgency"] != "emergency"
    assert r["red_flags_lifted"] and {f["reason"] for f in r["red_flags_lifted"]} == {"known_condition"}
    assert {f["id"] for f in r["red_flags_lifted"]} <= {"rf_seizure", "rf_unconscious"}
    assert r["departments"][0]["id"] == "neurology"
    assert "emergency" not in [d["id"] for d in r["departments"]]


@pytest.mark.parametrize("text,flag", [
    # happening now (the flag may be the faint, the seizure or the semantic net's: any keeps 120 first) / status epilepticus, even with a known diagnosis
    ("我老公有癫痫病史，这次发作十多分钟了还在抽，怎么叫都叫不醒", None),
    ("孩子确诊癫痫两年了，今天抽完一次还没醒又接着抽", None),
    ("我妈有癫痫，刚才突然倒地抽搐，口吐白沫", "rf_seizure"),
    # a danger beside the old condition: fever in a child, a pregnancy
    ("宝宝有癫痫病史，今天发高烧39度又抽搐了", "rf_seizure"),
    ("怀孕七个月，以前有癫痫，突然全身抽搐", "rf_seizure"),
    # no known condition at all: a first seizure stays an emergency
    ("我爸吃饭时突然全身抽搐，口吐白沫，叫不醒", "rf_seizure"),
])
def test_a_seizure_happening_now_or_dangerous_keeps_its_red_flag(nlp, text, flag):
    r = nlp.analyze_symptoms(text)
    assert (flag in flags(r)) if flag else flags(r), (text, flags(r))
    assert r["urgency"] == "emergency"
    assert r["departments"][0]["id"] == "emergency"
    assert not r.get("red_flags_lifted")


def test_another_red_flag_beside_the_known_condition_is_never_lifted(nlp):
    # epilepsy explains a seizure, not a one-sided weakness: the stroke flag keeps the whole warning
    r = nlp.analyze_symptoms("我有癫痫病史，每次发作会抽搐，这次醒来后右边胳膊抬不起来，说话也不清楚")
    assert "rf_stroke" in flags(r)
    assert r["urgency"] == "emergency" and r["departments"][0]["id"] == "emergency"
    assert not r.get("red_flags_lifted")


def test_the_lists_are_read_from_knowledge(nlp, kb):
    routing = kb.context.routing
    assert "癫痫" in routing["known_condition_terms"]
    assert set(routing["known_condition_flags"]) <= {rf.id for rf in kb.red_flags}
    assert nlp.triage.known_flags == set(routing["known_condition_flags"])
    assert "还在抽" in nlp.triage.ongoing_words


def test_the_semantic_net_still_watches_a_lifted_text(nlp, monkeypatch):
    # lifting the rule hands the text to the semantic net on its strict threshold, it does not switch it off
    calls = []
    real = nlp.triage.semantic.fires

    def spy(text, strict=False):
        calls.append(strict)
        return real(text, strict=strict)

    monkeypatch.setattr(nlp.triage.semantic, "fires", spy)
    nlp.analyze_symptoms("我有癫痫病史十几年了，每次发作都会抽搐，想问哪家医院治癫痫比较好")
    assert calls == [True]


# ---- 喝药: how many real patients write "take medicine" ----
@pytest.mark.parametrize("text", ["乙肝小三阳需要喝药吗，转氨酶有点高", "我爸有高血压，每天都要喝药，能吃安眠药吗",
                                  "血压150/90要不要喝药"])
def test_taking_medicine_written_as_he_yao_is_not_a_suicide_threat(nlp, text):
    r = nlp.analyze_symptoms(text)
    assert "rf_suicide" not in flags(r) and r["urgency"] != "emergency"


@pytest.mark.parametrize("text", ["她吵完架说要喝药，已经把农药拿出来了", "我不想活了，想喝药"])
def test_a_threat_to_drink_poison_still_fires(nlp, text):
    r = nlp.analyze_symptoms(text)
    assert "rf_suicide" in flags(r) and r["departments"][0]["id"] == "emergency"
