import pytest

from app.errors import EmptyTextError, TextTooLongError


def ids(items):
    return [i["id"] for i in items]


def test_jieba_user_dictionary_keeps_symptom_words_whole(nlp):
    words = [w for w, _, _ in nlp.lexicon.tokens("我拉肚子还心慌")]
    assert "拉肚子" in words and "心慌" in words


def test_colloquial_forms_map_to_standard_symptoms(nlp):
    r = nlp.analyze_symptoms("头疼，拉肚子，还有点心慌")
    assert {"headache", "diarrhea", "palpitations"} <= set(ids(r["symptoms"]))


@pytest.mark.parametrize("text,present,negated", [
    ("无发热，咳嗽三天", "cough", "fever"),
    ("不咳嗽，就是嗓子疼", "sore_throat", "cough"),
    ("没有胸痛也不喘，就是头晕", "dizziness", "chest_pain"),
    ("I have a headache but no fever", "headache", "fever"),
])
def test_negation(nlp, text, present, negated):
    r = nlp.analyze_symptoms(text)
    assert present in ids(r["symptoms"])
    assert negated in ids(r["negated_symptoms"])
    assert negated not in ids(r["symptoms"])


def test_pseudo_negation_is_not_negation(nlp):
    r = nlp.analyze_symptoms("不知道为什么一直头痛，吃药也不管用")
    assert "headache" in ids(r["symptoms"])


def test_duration_and_severity(nlp):
    r = nlp.analyze_symptoms("肚子疼得厉害，已经三天了")
    assert r["duration"]["days"] == 3
    assert r["severity"] == "severe"
    r = nlp.analyze_symptoms("有点咳嗽两个星期")
    assert r["duration"]["days"] == 14
    assert r["severity"] == "mild"


@pytest.mark.parametrize("text,flag", [
    ("胸口疼，出了一身冷汗", "rf_cardiac_chest_pain"),
    ("我爸突然嘴歪了，说话不清楚", "rf_stroke"),
    ("呼吸困难，喘不上气", "rf_dyspnea"),
    ("吐了好多血", "rf_major_bleeding"),
    ("不想活了，想结束自己", "rf_suicide"),
    ("chest pain and sweating, can't breathe", "rf_cardiac_chest_pain"),
])
def test_red_flags_are_emergencies_with_120(nlp, text, flag):
    r = nlp.analyze_symptoms(text)
    assert r["urgency"] == "emergency"
    assert flag in ids(r["red_flags"])
    assert r["departments"][0]["id"] == "emergency"
    assert "120" in r["advice"]


@pytest.mark.parametrize("text", ["没有胸痛，也不喘，就是有点咳嗽", "以前有过一次抽搐，现在想问要不要复查"])
def test_negated_or_past_red_flags_do_not_fire(nlp, text):
    r = nlp.analyze_symptoms(text)
    assert r["urgency"] != "emergency"
    assert r["red_flags"] == []


def test_top_three_departments_with_scores(nlp):
    r = nlp.analyze_symptoms("尿频尿急尿痛，尿的时候火辣辣的")
    assert r["departments"][0]["id"] == "urology"
    assert 1 <= len(r["departments"]) <= 3
    scores = [d["score"] for d in r["departments"]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.01


def test_children_and_pregnancy_are_routed(nlp):
    assert nlp.analyze_symptoms("我家宝宝两岁，这两天一直拉稀")["departments"][0]["id"] == "pediatrics"
    assert nlp.analyze_symptoms("怀孕五个月了，最近尿痛")["departments"][0]["id"] == "obstetrics"


def test_candidate_conditions_link_to_knowledge(nlp):
    r = nlp.analyze_symptoms("右下腹疼，一开始在肚脐周围，有点发烧，恶心")
    assert "appendicitis" in ids(r["conditions"])
    for c in r["conditions"]:
        assert c["source"]["id"] == f"disease:{c['id']}"
        assert c["source"]["knowledge_version"] == nlp.version


def test_deterministic(nlp):
    text = "头痛发烧三天，浑身酸痛"
    assert nlp.analyze_symptoms(text) == nlp.analyze_symptoms(text)


def test_empty_text_is_rejected(nlp):
    with pytest.raises(EmptyTextError):
        nlp.analyze_symptoms("   ")


def test_huge_text_is_rejected(nlp):
    with pytest.raises(TextTooLongError) as exc:
        nlp.analyze_symptoms("头痛" * 50_000)
    assert exc.value.status == 413 and exc.value.details["length"] == 100_000


@pytest.mark.parametrize("text,reason", [("😀😀😭🙏", "no_words"), ("今天天气不错", "no_medical_content"),
                                         ("'; DROP TABLE nlp.messages; --", "no_medical_content")])
def test_unreadable_text_is_a_graceful_cannot_understand(nlp, text, reason):
    r = nlp.analyze_symptoms(text)
    assert r["understood"] is False and r["reason"] == reason
    assert r["urgency"] == "routine" and r["departments"]


def test_html_is_stripped_and_mixed_scripts_work(nlp):
    r = nlp.analyze_symptoms("<script>alert('x')</script><b>头疼</b> and fever 两天")
    assert {"headache", "fever"} <= set(ids(r["symptoms"]))
    assert all("script" not in s["text"] for s in r["symptoms"])


@pytest.mark.parametrize("text,dept", [
    ("复查核磁说垂体瘤长大了一点，要不要开刀", "neurosurgery"),
    ("宫颈筛查HPV16阳性，要做阴道镜吗", "gynecology"),
    ("想去洗牙，牙结石太多了", "stomatology"),
    ("近视度数好像又加深了，想重新验光", "ophthalmology"),
    ("体检PSA偏高，需要做前列腺穿刺吗", "urology"),
    ("孕12周了，第一次产检要查哪些", "obstetrics"),
])
def test_department_cues_route_questions_without_symptoms(nlp, text, dept):
    r = nlp.analyze_symptoms(text)
    assert r["understood"] and r["departments"][0]["id"] == dept


def test_short_latin_names_need_whole_words_in_capitals(nlp):
    r = nlp.analyze_symptoms("I always feel tired as soon as I get up")
    assert "erectile_dysfunction" not in ids(r["mentioned"]["diseases"])
    assert "ankylosing_spondylitis" not in ids(r["mentioned"]["diseases"])
    r = nlp.analyze_symptoms("胸部CT说有个小结节")
    assert "CT" not in [i["code"] for i in r["mentioned"]["indicators"]]


@pytest.mark.parametrize("text,symptom", [
    ("我奶奶记性一年比一年差", "memory_loss"),
    ("拿筷子的时候手会抖", "tremor"),
    ("早上起床腰背发僵，动一动就好", "morning_stiffness"),
    ("月经一直不太规律", "menstrual_irregular"),
    ("My periods have been irregular since spring", "menstrual_irregular"),
])
def test_split_phrasings_are_recognised(nlp, text, symptom):
    assert symptom in ids(nlp.analyze_symptoms(text)["symptoms"])


def test_ruled_out_pregnancy_does_not_route_to_obstetrics(nlp):
    r = nlp.analyze_symptoms("例假晚了半个月，验孕棒一道杠，没怀孕")
    assert "pregnant" not in r["populations"]
    assert r["departments"][0]["id"] == "gynecology"
    assert "pregnant" in nlp.analyze_symptoms("怀孕20周，腿有点抽筋")["populations"]


def test_the_mother_after_birth_is_not_a_child(nlp):
    r = nlp.analyze_symptoms("生完孩子两个月，天天想哭，觉得自己什么都做不好")
    assert "child" not in r["populations"] and "postpartum" in r["populations"]
    assert r["departments"][0]["id"] == "psychiatry"


def test_a_small_childs_rash_goes_to_paediatrics(nlp):
    assert nlp.analyze_symptoms("8个月宝宝身上起了很多红疹子")["departments"][0]["id"] == "pediatrics"


def test_cancer_treatment_questions_go_to_oncology(nlp):
    assert nlp.analyze_symptoms("胃癌手术后第二个月，化疗要做几次")["departments"][0]["id"] == "oncology"


@pytest.fixture(scope="module")
def rules(kb):
    """The rules alone (no learned router), so that these tests test the knowledge and not the model."""
    from app.service import NlpService

    return NlpService(kb, dense=False, router_model=None)


@pytest.mark.parametrize("text", ["淋巴瘤第三次化疗后白细胞很低，还能按时打吗", "急性白血病要化疗几个疗程"])
def test_a_blood_cancer_under_chemotherapy_stays_with_haematology(rules, nlp, text):
    for svc in (rules, nlp):
        assert svc.analyze_symptoms(text)["departments"][0]["id"] == "hematology"
    # an organ cancer under the same treatment still goes to oncology
    assert rules.analyze_symptoms("肺癌术后化疗要做几次")["departments"][0]["id"] == "oncology"


def test_a_common_complaint_alone_offers_general_medicine_beside_the_specialist(rules):
    ids = [d["id"] for d in rules.analyze_symptoms("这几天老是胃痛，吃饭也不香，怎么办")["departments"]]
    assert ids[0] == "gastroenterology" and "general_medicine" in ids
    # something specific named: the specialists only
    ids = [d["id"] for d in rules.analyze_symptoms("胃痛，胃镜说是糜烂性胃炎，吃什么药")["departments"]]
    assert "general_medicine" not in ids
    # a child's complaint stays with paediatrics
    ids = [d["id"] for d in rules.analyze_symptoms("孩子5岁，这几天老是胃痛")["departments"]]
    assert ids[0] == "pediatrics" and "general_medicine" not in ids


def test_viral_hepatitis_unnamed_is_infectious_a_named_type_hepatology(rules, nlp):
    for svc in (rules, nlp):
        assert svc.analyze_symptoms("病毒性肝炎会通过吃饭传染给家里人吗")["departments"][0]["id"] == "infectious"
        assert svc.analyze_symptoms("乙肝小三阳需要吃抗病毒药吗")["departments"][0]["id"] == "hepatology"


def test_surgical_intent_moves_to_the_surgical_department(nlp):
    r = nlp.analyze_symptoms("肺部磨玻璃结节两年长大了，医生说可以手术切除")
    assert r["departments"][0]["id"] == "thoracic_surgery"
