"""ocr's view of the shared knowledge package: name matching, units and default ranges as the parser uses them.
(The package's own tests check the files themselves.)"""
import pytest

from app.knowledge import load_knowledge, norm_unit


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


def test_has_version_and_enough_indicators(kb):
    assert kb.version and kb.version.count(".") == 2
    assert len(kb.indicators) >= 150


def test_required_codes_present(kb):
    required = ["WBC", "NEUT#", "NEUT%", "LYMPH#", "LYMPH%", "MONO#", "MONO%", "EO#", "EO%", "BASO#", "BASO%", "RBC",
                "HGB", "HCT", "MCV", "MCH", "MCHC", "RDW-CV", "PLT", "PCT", "PDW", "MPV", "GLU", "HbA1c", "TC", "TG",
                "HDL-C", "LDL-C", "ALT", "AST", "TBIL", "CREA", "UREA", "UA", "K", "Na", "TSH"]
    assert [c for c in required if c not in kb.indicators] == []


def test_every_unit_is_known_and_ranges_are_ordered(kb):
    for code, ind in kb.indicators.items():
        assert ind.name and ind.name_en, code
        if ind.unit is not None:
            assert ind.unit in ind.units, code
        for u, factor in ind.units.items():
            assert kb.canonical_units(u), (code, u)
            assert factor > 0, code
        for r in (ind.ref, ind.ref_male, ind.ref_female, ind.critical):
            if r and r.low is not None and r.high is not None:
                assert r.low <= r.high, code


def test_version_is_the_shared_one(kb):
    from zhenxi_knowledge import get_knowledge

    assert kb.version == get_knowledge().version and "+" in kb.version


@pytest.mark.parametrize("printed,code", [
    ("白细胞计数(WBC)", "WBC"), ("*中性粒细胞绝对值", "NEUT#"), ("12白细胞", "WBC"), ("γ-谷氨酰转移酶", "GGT"),
    ("谷丙转氨酶", "ALT"), ("HbAlc", "HbA1c"), ("PLT血小板", "PLT"), ("嗜酸性粒细胞百", "EO%"), ("甘油三酷", "TG"),
])
def test_name_matching_tolerates_print_and_ocr_variants(kb, printed, code):
    assert kb.match_name(printed)[0].indicator.code == code


@pytest.mark.parametrize("printed,code", [
    ("白细胞数目", "WBC"), ("红细胞数目", "RBC"), ("血小板数目", "PLT"), ("红细胞比积", "HCT"), ("血小板比积", "PCT"),
    ("平均RBC血红蛋白浓度", "MCHC"), ("嗜中性粒细胞绝对值", "NEUT#"), ("快速C-反应蛋白", "CRP"), ("前列腺特异抗原", "tPSA"),
    ("游离前列腺抗原", "fPSA"), ("腺苷酸脱氨酶", "ADA"),
])
def test_printed_synonyms_are_exact(kb, printed, code):
    """Names sheets print for a test (haematology analysers' '…数目' counts, 比积 for 比容, 嗜中性 for 中性): aliases,
    matched exactly, not a fuzzy guess that a turned or re-photographed copy loses."""
    best = kb.match_name(printed)[0]
    assert (best.indicator.code, best.score) == (code, 1.0)


def test_truncated_ambiguous_name_offers_both(kb):
    codes = {m.indicator.code for m in kb.match_name("嗜酸性粒细胞")}
    assert {"EO%", "EO#"} <= codes


def test_unit_spellings_and_conversion(kb):
    assert norm_unit("x10⁹/L") == "10^9/L"
    assert kb.resolve_unit("×10^9/L", kb.indicators["WBC"]) == ("10^9/L", 1.0)
    assert kb.resolve_unit("G/L", kb.indicators["WBC"]) == ("10^9/L", 1.0)
    assert kb.resolve_unit("g/L", kb.indicators["HGB"]) == ("g/L", 1.0)
    assert kb.resolve_unit("mg/dl", kb.indicators["GLU"]) == ("mg/dL", pytest.approx(0.0555))
    assert kb.resolve_unit("umol/L", kb.indicators["CREA"]) == ("μmol/L", 1.0)
    assert kb.resolve_unit("mmHg", kb.indicators["GLU"]) is None


def test_default_range_by_sex(kb):
    hgb = kb.indicators["HGB"]
    assert hgb.default_range("male").low == 130
    assert hgb.default_range("female").high == 150
    union = hgb.default_range(None)
    assert (union.low, union.high) == (115, 175)


def test_count_names_printed_as_shumu_are_exact():
    """'单核细胞数目' is how many analysers print the absolute counts: an alias, not a fuzzy guess."""
    from app.knowledge import load_knowledge

    kb = load_knowledge()
    for printed, code in (("中性粒细胞数目", "NEUT#"), ("淋巴细胞数目", "LYMPH#"), ("单核细胞数目", "MONO#"),
                          ("嗜酸性粒细胞数目", "EO#"), ("嗜碱性粒细胞数目", "BASO#")):
        best = kb.match_name(printed)[0]
        assert (best.indicator.code, best.how) == (code, "exact")


@pytest.mark.parametrize("printed,code", [
    ("载脂蛋白BApoB", "ApoB"), ("A/G白球比", "A/G"), ("白蛋白/球蛋白A/G", "A/G"), ("谷草/谷丙AST/ALT", "AST/ALT"),
    ("游离PSA/总PSA(FPSA/TPSA)", "f/tPSA"), ("β2-MGβ2-微球蛋白", "B2MG"), ("超敏C反应蛋白hs-CRP", "hs-CRP"),
    ("Lp(a)脂蛋白(a)", "Lp(a)"),
])
def test_name_printed_twice_is_read_by_both_halves(kb, printed, code):
    """A name printed in Chinese and as an abbreviation, glued or bracketed: both halves name the test. A ratio's
    name is not cut at its '/' into the two tests it divides (谷草/谷丙 is AST/ALT, not AST)."""
    best = kb.match_name(printed)[0]
    assert (best.indicator.code, best.how) == (code, "part")


@pytest.mark.parametrize("printed,code", [("镜检管型", "U-CAST"), ("镜检结晶", "U-XTAL"), ("镜检:虫卵", "ST-OVA")])
def test_microscopy_method_word_before_the_name(kb, printed, code):
    assert kb.match_name(printed)[0].indicator.code == code


@pytest.mark.parametrize("printed,code", [
    # printed names from domain knowledge of Chinese sheets (bench/data/ocr_printed_names.jsonl, bench/ocr_names.py)
    ("TB", "TBIL"), ("DB", "DBIL"), ("IB", "IBIL"), ("γGT", "GGT"), ("血清前白蛋白", "PA"),
    ("红细胞体积分布宽度SD", "RDW-SD"), ("游离PSA/总PSA比值", "f/tPSA"), ("游离/总PSA比值", "f/tPSA"),
    ("浑浊度", "U-CLA"), ("GRAN%", "NEUT%"), ("GRAN#", "NEUT#"), ("OBT", "ST-OB"), ("粪便潜血试验", "ST-OB"),
    ("粪便硬度", "ST-CHAR"), ("天冬/丙氨", "AST/ALT"), ("酸碱值", "U-pH"), ("红细胞平均Hb含量", "MCH"), ("红细胞平均Hb浓度", "MCHC"),
])
def test_more_printed_synonyms_are_exact(kb, printed, code):
    best = kb.match_name(printed)[0]
    assert (best.indicator.code, best.score) == (code, 1.0)


@pytest.mark.parametrize("printed,code", [
    ("中间细胞百分比", "MID%"), ("中间细胞数目", "MID#"), ("中值细胞百分比", "MID%"), ("MID#", "MID#"),
    ("MXD%", "MID%"), ("有核红细胞百分比", "NRBC%"), ("NRBC%", "NRBC%"),
])
def test_three_part_mid_cells_are_not_read_as_neutrophils(kb, printed, code):
    """A three-part analyser's mid-sized cells (MID/MXD) and the nucleated red cells per 100 white cells are tests
    of their own: before they were known, 中间细胞百分比 fuzzily became NEUT% and 有核红细胞百分比 MONO%."""
    best = kb.match_name(printed)[0]
    assert (best.indicator.code, best.score) == (code, 1.0)


def test_a_name_in_traditional_characters_matches_as_simplified(kb):
    """The recogniser returns a traditional form now and then ('顏色'), and a sheet may be printed in traditional
    characters: a name not matched as read is matched in its simplified spelling."""
    for printed, code in (("顏色", "U-COL"), ("紅細胞", "RBC"), ("白細胞計數", "WBC"), ("隱血", "U-BLD")):
        ms = kb.match_name(printed)
        assert ms and ms[0].indicator.code == code and ms[0].how == "exact", printed
    assert kb.match_name("颜色")[0].indicator.code == "U-COL"


def _codes(kb, printed):
    return {m.indicator.code for m in kb.match_name(printed)}


@pytest.mark.parametrize("printed,not_code", [
    ("抗核抗体", "HBcAb"),  # 抗核 against 核心: the known name's characters shifted, not misread
    ("结核抗体", "HBcAb"),
    ("尿β2微球蛋白", "B2MG"), ("骨碱性磷酸酶", "ALP"), ("胎儿血红蛋白", "HGB"),
    ("促甲状腺激素释放激素", "TSH"), ("甲状腺素结合球蛋白", "Tg"), ("乙肝表面抗原确认试验", "HBsAg"),  # a qualifier added
    ("载脂蛋白E", "ApoA1"), ("载脂蛋白E", "ApoB"), ("餐后1小时血糖", "GLU-2h"), ("PvCO2", "PaCO2"),  # letter/digit
    ("活化凝血时间", "APTT"),  # four characters of the known name dropped
    ("红细胞位相", "RBC"), ("白细胞团", "U-WBC"), ("β球蛋白", "GLB"), ("γ球蛋白", "GLB"), ("CD4+T淋巴细胞绝对值", "LYMPH#"),
    ("静脉血氧饱和度", "SaO2"),  # one specimen for another
    ("尿蛋白定量", "U-PRO"), ("24小时尿蛋白定量", "U-PRO"),  # a quantitative test against a qualitative one
    ("大红细胞", "ST-RBC"), ("大红细胞", "U-RBC"), ("小红细胞", "ST-RBC"),  # the leading specimen replaced by a word
    ("甲肝抗体", "HCV-Ab"), ("丁肝抗体", "HCV-Ab"), ("酸性磷酸酶", "ALP"),  # a hepatitis type, an opposite
    ("低密度脂蛋白胆固酵", "HDL-C"),
    ("大红细胞比率", "NRBC%"), ("大红细胞比率", "RET%"), ("游离甲状腺素指数", "FT4"),  # two characters read as one
])
def test_fuzzy_match_does_not_turn_another_test_into_a_known_one(kb, printed, not_code):
    """A fuzzy match stands for an OCR misreading: a character substituted in place or dropped. A printed name that
    adds characters (a qualifier), shifts them, reads two as one, or changes a digit or letter is another test."""
    assert not_code not in _codes(kb, printed)


@pytest.mark.parametrize("printed,code", [
    ("促甲状腺激索", "TSH"), ("血清同型半胱氨酸", "HCY"), ("血清尿酸", "UA"), ("C-反应蛋白测定", "CRP"),
    ("红细胞压积测定", "HCT"), ("RDW-C", "RDW-CV"), ("粒细胞百分比", "NEUT%"), ("尿蛋白质", "U-PRO"),
    ("白细胞镜检", "U-WBC"), ("红细胞平均比b浓度", "MCHC"), ("红细胞平均比浓度", "MCHC"), ("0%嗜碱性粒液胞百分比", "BASO%"),
    ("B0S%吸酸性粒组胞百分比", "EO%"), ("PLT在小板", "PLT"), ("单核细电绝对间", "MONO#"), ("RBC分布宽度-CV值", "RDW-CV"), ("RBC分布宽度-SD值", "RDW-SD"),
])
def test_fuzzy_match_still_reads_misreadings_and_neutral_words(kb, printed, code):
    """What a fuzzy match is for: a substituted character (索 for 素), a specimen word before the name, a method
    word after it, a cut last letter, a dropped word, 尿 before a urine test's name, a letter read as a character
    (比 for h, or for Hb: two narrow letters in one character's width), an abbreviation standing for its Chinese
    word (RBC for 红细胞) with 值 after the name, a neighbour cell's number glued before the name, a code glued before
    a misread name, a code beside the name's misread other name, a name aligned as the whole name a cut misreading
    of the knowledge base stands for (单核细胞绝对 for 单核细胞绝对值), 值 kept where only the known name prints it."""
    assert kb.match_name(printed)[0].indicator.code == code


@pytest.mark.parametrize("printed,not_code", [
    ("乙肝核心抗体IgM", "HBcAb"), ("T淋巴细胞绝对值", "LYMPH#"), ("T淋巴细胞绝对值", "BT"), ("M蛋白", "U-PRO"),
    ("S100蛋白", "U-PRO"), ("白蛋白(电泳)", "ALB"), ("APTT纠正试验", "APTT"), ("睾酮/雌二醇比值", "TESTO"),
    ("PaO2/FiO2", "PaO2"), ("24h尿蛋白", "U-PRO"), ("真菌(1-3)-β-D葡聚糖", "U-YLC"), ("轮状病毒/腺病毒联检", "ST-ROTA"),
])
def test_part_of_a_name_does_not_name_a_qualified_test(kb, printed, not_code):
    """A name one part of which is a known test's name is that test only when the rest is its other name, a
    specimen or method word: an antibody class, a cell letter, a qualifier word or a ratio's other term make it
    another test."""
    assert not_code not in _codes(kb, printed)


@pytest.mark.parametrize("printed,code", [
    ("肌酸激酶同工酶(CK-MB)", "CK-MB"), ("中性粒细胞百分率NEUT%", "NEUT%"), ("血清总胆汁酸TBA", "TBA"),
    ("a-羟丁酸脱氢酶", "HBDH"), ("钾(K)", "K"), ("白细胞计数(WBO)", "WBC"), ("OB隐血", "ST-OB"), ("葡萄糖(速率法)", "GLU"),
    ("白细胞(UF-1000i)", "WBC"), ("隐血或红细胞(BLD)", "U-BLD"), ("嗜酸性粒细胞%[E0%]", "EO%"), ("HCT-4红细胞压积", "HCT"),
    ("血小板平均压积[PCT]", "PCT"),
])
def test_part_of_a_name_still_names_the_test(kb, printed, code):
    """The rest is the same test's other name (also garbled, or one of two joined by 或), an analyser's model, a
    method word, a Greek letter read in Latin."""
    assert code in _codes(kb, printed)


@pytest.mark.parametrize("printed", ["白细胞介素", "糖类抗原", "维生素B"])
def test_family_word_of_numbered_tests_is_no_test(kb, printed):
    """Cut right before a test's number, a name is the family's word (白细胞介素-2 is not IL-6)."""
    assert kb.match_name(printed) == [] and kb.numbered_family(printed)


@pytest.mark.parametrize("printed,code", [
    ("二氧化碳总量", "CO2"), ("脂蛋白小a", "Lp(a)"), ("扁平上皮细胞", "U-EC"), ("类酵母菌", "U-YLC"), ("维生素B9", "FOL"),
    ("γ-谷氨酰基转移酶", "GGT"), ("人附睾蛋白", "HE4"),
])
def test_printed_synonyms_added_for_the_stricter_fuzzy_match(kb, printed, code):
    best = kb.match_name(printed)[0]
    assert (best.indicator.code, best.score) == (code, 1.0)


@pytest.mark.parametrize("printed,code", [
    ("Hemoglobin", "HGB"), ("Prothrombin Time", "PT"), ("Alanine aminotransferase", "ALT"),  # English sheets
    ("葡萄糖(GOD-POD法)", "GLU"), ("尿素(脲酶-GLDH法)", "UREA"), ("球蛋白(计算值)", "GLB"),  # a method in brackets
    ("肌酐(尿)", "U-CREA"),  # the specimen after the name: the urine test, not the blood one
    ("A群轮状病毒抗原测定", "ST-ROTA"), ("尿酸测定", "UA"),  # a method word after the name, unbracketed
])
def test_names_as_other_hospitals_print_them(kb, printed, code):
    assert kb.match_name(printed)[0].indicator.code == code


@pytest.mark.parametrize("printed,code", [
    ("糖类抗原l25", "CA125"),            # the digit 1 read as the letter l
    ("睾酮(T)", "TESTO"),                # a one-letter abbreviation in brackets
    ("脂蛋白a[LP(a)]", "Lp(a)"),          # the code in square brackets
    ("尿沉渣红细胞计数", "U-RBC"),        # 尿沉渣: the urine's, not the blood count
    ("尿沉渣管型", "U-CAST"),
    ("平均紅血球血紅素濃度", "MCHC"),     # traditional characters and Taiwan terms
    ("N末端B型钠尿肽前体(NT-proBNP)", "NT-proBNP"),
])
def test_more_printed_names(kb, printed, code):
    ms = kb.match_name(printed)
    assert ms and ms[0].indicator.code == code


def test_a_bracketed_letter_is_the_tests_only_as_its_codes_initial(kb):
    assert kb._rest_is_neutral("睾酮(t)", "睾酮", "TESTO")
    assert not kb._rest_is_neutral("白细胞(m)", "白细胞", "WBC")  # a qualifier letter, not WBC's abbreviation


@pytest.mark.parametrize("printed,code", [("尿蛋白/肌酐比值", "UPCR"), ("尿微量白蛋白/肌酐比值", "UACR"),
                                          ("葡萄糖(餐后2h)", "GLU-2h"), ("葡萄糖", "GLU")])
def test_protein_and_albumin_ratios_and_the_post_meal_glucose_are_told_apart(kb, printed, code):
    assert kb.match_name(printed)[0].indicator.code == code


def test_no_two_tests_share_the_chinese_part_of_a_name_beyond_the_family_words(kb):
    # a garbled name is scored against each code's names in Chinese characters only (service._code_names_han): an
    # alias whose Chinese part is another test's name ('葡萄糖(2h)' for GLU-2h is 葡萄糖, GLU's) makes the two tie,
    # and the garbled row loses its code. Shared parts are family words only (糖类抗原, 总, 游离 ...)
    from collections import defaultdict

    from app.service import _code_names_han

    owners = defaultdict(set)
    for ind in kb.indicators.values():
        for n in _code_names_han(ind):
            if n:
                owners[n].add(ind.code)
    shared = {n for n, codes in owners.items() if len(codes) > 1}
    family = {"中性粒细胞", "单核细胞", "嗜碱性粒细胞", "嗜酸性粒细胞", "淋巴细胞", "尿", "总", "抗", "抗体", "比值", "游离",
              "秒", "糖类抗原", "糖链抗原", "癌抗原", "红细胞体积分布宽度", "红细胞分布宽度", "维生素", "肌酸激酶", "肌钙蛋白",
              "超敏肌钙蛋白", "血糖", "载脂蛋白", "酸碱度"}
    assert shared <= family, shared - family


def test_the_albumin_ratios_usual_name_is_not_the_protein_ratio(kb):
    assert kb.match_name("尿白蛋白/肌酐比值")[0].indicator.code == "UACR"
    assert kb.match_name("总β-hCG")[0].indicator.code == "β-hCG"
