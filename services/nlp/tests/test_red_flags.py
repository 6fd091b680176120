"""Red-flag generalisation: colloquial forms, symptom + danger-sign compositions, quoted readings, negation,
history and general questions. Phrasings come from bench/data/nlp_emergency_dev.jsonl (never the test set)."""
import json
from pathlib import Path

import pytest

DEV_SET = Path(__file__).resolve().parents[3] / "bench" / "data" / "nlp_emergency_dev.jsonl"


def flags(result):
    return [f["id"] for f in result["red_flags"]]


@pytest.mark.parametrize("text,flag", [
    # colloquial stroke signs (FAST) and their compositions
    ("早上起来发现爷爷一边脸耷拉下来，一直流口水", "rf_stroke"),
    ("我老公突然听不懂别人说话，还答非所问", "rf_stroke"),
    ("突然一只眼睛看不见了，什么都看不到", "rf_stroke"),
    ("突然看东西重影，走路不稳往一边倒，头晕得站不起来", "rf_stroke"),
    # chest pain: typo (汉 for 汗), radiation, unrelieved by nitroglycerin
    ("胸痛出汉，左肩膀也疼", "rf_cardiac_chest_pain"),
    ("我妈有冠心病，含了硝酸甘油还是胸痛不缓解", "rf_cardiac_chest_pain"),
    ("突然胸口剧痛像撕裂一样，往后背窜，血压很高", "rf_aortic"),
    # breathing: signs rather than the word 呼吸困难
    ("孩子呼吸很急，肋骨下面往里凹，鼻翼一扇一扇的", "rf_dyspnea"),
    ("哮喘发作，喷了好几次药都不管用，话都说不完整", "rf_dyspnea"),
    # bleeding: amount + a sign of blood loss
    ("来月经量特别大，一小时就湿透一片卫生巾，头晕心慌", "rf_major_bleeding"),
    ("拉的大便像柏油一样黑，站起来眼前发黑差点晕倒", "rf_major_bleeding"),
    # head injury with a warning sign, seizure with a typo, unconsciousness phrased with a negation word
    ("头被东西砸了，耳朵里流出血水", "rf_trauma"),
    ("我妈突然全身抽蓄，牙关紧咬", "rf_seizure"),
    ("我爷爷没有意识了，怎么拍都不醒", "rf_unconscious"),
    # indirect suicidal intent and self-harm
    ("活着太累了，想一了百了", "rf_suicide"),
    ("觉得自己是个累赘，大家没有我会更好，药都准备好了", "rf_suicide"),
    ("用刀割了手腕，现在还在流血", "rf_suicide"),
    # poisoning / overdose without any lexicon symptom
    ("一下子吃了二十片扑热息痛", "rf_poisoning"),
    ("孩子喝了一口洁厕灵，嘴巴痛一直哭", "rf_poisoning"),
    ("吃了山上采的野蘑菇，上吐下泻，现在人有点糊涂", "rf_poisoning"),
    # burns by extent and airway involvement
    ("开水烫伤了大半个后背，起了大水泡", "rf_trauma"),
    ("厨房着火，脸和手都被烧伤了，声音也哑了", "rf_trauma"),
    # children, pregnancy
    ("宝宝发烧，身上出现紫红色的小点点，压了不褪色", "rf_child_danger"),
    ("怀孕了，肚子疼得直不起腰，还有出血，脸色苍白", "rf_acute_abdomen"),
    ("羊水破了，看到有脐带掉出来了", "rf_obstetric"),
    # quoted readings: blood pressure, heart rate, blood sugar
    ("孕34周，血压170/110，头痛眼花", "rf_hypertensive"),
    ("血压200/120，头痛得厉害，看东西模糊", "rf_hypertensive"),
    ("心率才30多，人晕晕乎乎的要倒", "rf_arrhythmia"),
    ("血糖2.1，人有点糊涂叫不太醒", "rf_dka"),
    ("输液的时候突然头晕心慌，血压掉到80/50，浑身起疹子", "rf_anaphylaxis"),
    # sepsis, surgical abdomen, electric shock
    ("化疗后第十天发烧39度，寒战", "rf_shock"),
    ("呕吐不止，肚子胀得像鼓，好几天不排气不排便，疼得厉害", "rf_acute_abdomen"),
    ("被电打了一下，手上有烧伤，心跳不规律", "rf_trauma"),
])
def test_colloquial_emergencies_fire_the_right_flag(nlp, text, flag):
    r = nlp.analyze_symptoms(text)
    assert flag in flags(r), (text, flags(r), [s["id"] for s in r["symptoms"]])
    assert r["urgency"] == "emergency"
    assert r["departments"][0]["id"] == "emergency"
    assert "120" in r["advice"]
    assert r["understood"] is True


@pytest.mark.parametrize("text", [
    # negated red flags
    "没有呼吸困难，只是有点咳嗽流鼻涕",
    "我没有想自杀，就是最近心情不太好",
    "嘴不歪，说话也清楚，就是头有点晕",
    "孩子发烧38度，精神很好，脖子不硬，能吃能玩",
    "大便是黄色的，没有黑便也没有带血，就是有点稀",
    # past events (history cue, experiential 过, follow-up care)
    "上个月晕倒过一次，查了心电图正常，要不要再查别的",
    "去年得过心梗，放了支架，现在复查要挂什么科",
    "几年前抑郁的时候有过轻生的念头，现在好了，还要继续吃药吗",
    "小时候有过高热惊厥，成年了会遗传给孩子吗",
    # general questions about a condition
    "一氧化碳中毒是怎么回事，冬天怎么预防",
    "过敏性休克一般是什么原因引起的",
    "心肌梗死有哪些早期症状？",
    # mild look-alikes and idioms
    "刷牙的时候牙龈出一点血",
    "被开水烫了一下手指，红了一小块，起了个小水泡",
    "累死了，这几天加班头疼",
    "工作压力大，有时候觉得好累不想上班",
    "孩子磕到额头起了个包，一直在玩，没吐",
    "我妈血糖3.8，有点饿有点心慌，吃了块糖就好了",
])
def test_look_alikes_are_not_emergencies(nlp, text):
    r = nlp.analyze_symptoms(text)
    assert r["urgency"] != "emergency", (text, flags(r))
    assert flags(r) == []


def test_negation_word_inside_a_term_does_not_swallow_the_next_term(nlp):
    # 没有呼吸困难 is "no difficulty breathing", not the term 没有呼吸 ("not breathing")
    r = nlp.analyze_symptoms("没有呼吸困难，只是有点咳嗽流鼻涕")
    assert "not_breathing" not in [s["id"] for s in r["symptoms"]]
    assert "dyspnea" in [s["id"] for s in r["negated_symptoms"]]


def test_an_absence_term_is_not_cancelled_by_an_earlier_negation(nlp):
    # 不拉屎不放屁: the second 不 is part of the symptom (no wind), the first does not deny it
    r = nlp.analyze_symptoms("小孩肚子胀，呕吐绿色的东西，不拉屎不放屁")
    assert "obstipation" in [s["id"] for s in r["symptoms"]]
    assert r["urgency"] == "emergency"


def test_experiential_guo_marks_history_but_a_present_cue_wins(nlp):
    past = nlp.lexicon.analyze("上个月晕倒过一次")
    assert all(m.historical for m in past.mentions if m.symptom == "syncope")
    now = nlp.analyze_symptoms("刚才晕倒过一次，现在还迷迷糊糊")
    assert now["urgency"] == "emergency"


def test_long_standing_sign_is_not_acute_unless_it_changed(nlp):
    assert nlp.analyze_symptoms("嘴角有点歪，笑起来不对称，好几年了")["red_flags"] == []
    assert "rf_stroke" in flags(nlp.analyze_symptoms("嘴角有点歪好几年了，今天突然说话不清楚"))


def test_age_is_not_mistaken_for_a_long_duration(nlp):
    r = nlp.analyze_symptoms("发烧38度，宝宝才两个月")
    assert "rf_child_danger" in flags(r)


@pytest.mark.parametrize("text,sid", [
    ("血压掉到80/50", "hypotension"),
    ("心跳突然变得很快，200多下", "abnormal_heart_rate"),
    ("血糖2.1", "hypoglycemia_signs"),
    ("血压210/130", "hypertensive_crisis"),
])
def test_quoted_readings_become_symptoms(nlp, text, sid):
    assert sid in [m.symptom for m in nlp.lexicon.analyze(text).mentions]


@pytest.mark.parametrize("text", ["心率75，血压120/80", "血糖5.6，血压135/85"])
def test_normal_readings_add_nothing(nlp, text):
    found = {m.symptom for m in nlp.lexicon.analyze(text).mentions}
    assert not found & {"hypotension", "abnormal_heart_rate", "hypoglycemia_signs", "hypertensive_crisis"}


def test_a_general_question_still_escalates_when_it_describes_a_current_event(nlp):
    assert nlp.analyze_symptoms("一氧化碳中毒是怎么回事")["red_flags"] == []
    assert "rf_poisoning" in flags(nlp.analyze_symptoms("我爸一氧化碳中毒了，现在叫不醒"))
    # symptoms of one's own are never a "general question"
    assert nlp.analyze_symptoms("胸痛出冷汗是怎么回事")["urgency"] == "emergency"


def test_emergency_dev_set_recall_and_precision(nlp):
    """The whole red-flag dev set: every emergency is caught and no look-alike is flagged."""
    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 150
    missed = [r["text"] for r in rows if r["urgency"] == "emergency"
              and nlp.analyze_symptoms(r["text"])["urgency"] != "emergency"]
    assert missed == []
    # The rules on their own raise no false alarm here; the semantic safety net may add some (tested elsewhere).
    rule_alarms = [r["text"] for r in rows if r["urgency"] != "emergency"
                   and nlp.triage._red_flags(nlp.lexicon.analyze(r["text"]))]
    assert rule_alarms == []


@pytest.mark.parametrize("text", [
    "咳嗽咳得很厉害，痰里带血丝",        # 厉害 grades the cough, not the blood streaks
    "月经量很多，有点头晕",              # the term's own 很多 does not grade it; dizziness is mild
    "睾丸疼得厉害",                      # urgent: no sudden onset, no strong word
    "月经推迟一周，小腹疼得厉害",        # composite needs a strong word here (urgent, not emergency)
    "血压180/110，有点头痛",            # hypertensive urgency with a mild headache
    "孩子吐了几次，精神很差",            # 精神很差 is fatigue, not reduced consciousness
    "胸口疼，肩膀也酸痛，落枕了",
    "胸口疼两个小时了，按着更疼",        # reproduced by pressing: chest-wall pain
    "化疗后低烧37.6",                    # below 38 °C
])
def test_severity_look_alikes_are_not_emergencies(nlp, text):
    # The severity rules do not fire; only the semantic safety net may still err on the side of caution.
    assert nlp.triage._red_flags(nlp.lexicon.analyze(text)) == []
    assert set(flags(r := nlp.analyze_symptoms(text))) <= {"rf_possible_emergency"}, (text, flags(r))


@pytest.mark.parametrize("text,flag", [
    ("睾丸突然疼得很厉害", "rf_acute_abdomen"),        # sudden testicular pain: possible torsion
    ("睾丸疼得打滚", "rf_acute_abdomen"),              # strong word on a single symptom
    ("咳血，一口一口的鲜血往外咳", "rf_major_bleeding"),  # strong word in the next clause looks back
    ("化疗后发烧38.5", "rf_shock"),
    ("血压190/115，头痛", "rf_hypertensive"),
    ("头晕得厉害，走路不稳，看东西模糊", "rf_stroke"),   # BE-FAST: balance + eyes
])
def test_strong_or_composite_signs_still_fire(nlp, text, flag):
    assert flag in flags(nlp.analyze_symptoms(text))


@pytest.mark.parametrize("text", [
    "削水果划到手指，压了十几分钟血还在往外冒",
    "我妈突然说头痛，说长这么大从来没这么疼过，还吐了",
    "我爷爷右边胳膊和腿突然使不上劲，站都站不稳",
    "热油泼到手臂上，起了好多水泡，皮都掉了",
    "My father's left side of his body suddenly went weak",
])
def test_paraphrased_red_flags_fire(nlp, text):
    assert nlp.analyze_symptoms(text)["urgency"] == "emergency"


@pytest.mark.parametrize("text", [
    "老公睡觉打呼噜，睡着了会憋气一下",
    "最近晚上躺下就憋气，得垫高枕头",
])
def test_sleep_and_lying_flat_breathlessness_are_not_red_flags(nlp, text):
    r = nlp.analyze_symptoms(text)
    assert r["urgency"] != "emergency"


@pytest.mark.parametrize("text", [
    "牙疼的时候半边脸像电击一样，一阵一阵的",          # a simile, not an electric shock
    "手一碰洗洁精就起皮裂口子",                        # contact eczema, not poisoning
    "说明书上写这个药可能引起自杀念头，我没有这种想法",  # a leaflet, not intent
    "晚上躺平就憋得慌，要垫三个枕头才睡得着",          # orthopnoea: urgent, not 120
])
def test_look_alikes_are_not_emergencies(nlp, text):
    assert nlp.analyze_symptoms(text)["urgency"] != "emergency"


def test_a_large_bleed_from_below_with_near_fainting_is_an_emergency(nlp):
    r = nlp.analyze_symptoms("大便拉出好多暗红色的血，一站起来就眼前发黑")
    assert r["urgency"] == "emergency"


def rule_flags(nlp, text):
    """Red flags from the rules alone (the semantic net switched off for this call)."""
    semantic, nlp.triage.semantic = nlp.triage.semantic, None
    try:
        return [f["id"] for f in nlp.analyze_symptoms(text)["red_flags"]]
    finally:
        nlp.triage.semantic = semantic


@pytest.mark.parametrize("text,flag", [
    ("刚输完青霉素没几分钟 浑身发痒 喘不上气 头晕", "rf_dyspnea"),            # spaces as commas: 没 does not negate
    ("发高烧 脖子硬得低不下头", "rf_meningitis"),
    ("宝宝才一个半月 体温38.4", "rf_meningitis"),
    ("my 5 week old has a temperature of 38.5", "rf_meningitis"),
    ("两岁孩子拉了一天 一天没尿 哭的时候没眼泪", "rf_shock"),
    ("左眼突然胀痛得厉害 看灯有彩虹圈", "rf_acute_glaucoma"),
    ("心口疼了快四十分钟了还没缓过来", "rf_cardiac_chest_pain"),
    ("怀孕35周 头疼得厉害 血压170", "rf_hypertensive"),
    ("took 40 tablets of paracetamol an hour ago", "rf_poisoning"),
    ("被黄蜂蜇了三下 脸肿了 有点喘不上气", "rf_anaphylaxis"),
])
def test_more_red_flags_fire_from_the_rules(nlp, text, flag):
    assert flag in rule_flags(nlp, text)


@pytest.mark.parametrize("text", [
    "天天加班加到吐血，有什么提神的办法",                  # a figure of speech
    "笑死我了，朋友说他尴尬到窒息",
    "冬天烧煤取暖，怎么预防一氧化碳中毒",                  # prevention question
    "我在写小说，想知道人被电击后会怎样",                  # fiction
    "刚才心慌了一阵，喘了几口大气，现在缓过来了",          # an episode that is over
    "my father had a stroke 3 years ago, should I get checked too",
])
def test_figures_of_speech_prevention_and_past_episodes_are_not_rule_emergencies(nlp, text):
    assert rule_flags(nlp, text) == []
