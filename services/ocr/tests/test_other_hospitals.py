"""Formats the blind sheet generators (bench/blind_sheets_*.py, written without this code) turned up: other
hospitals' header words, result columns, marks and footers. Pure: boxes in, rows out."""
import pytest

from app.knowledge import load_knowledge
from app.layout import analyse, header_kind
from app.parsing import Token, _upright_stroke, parse_row_all, split_flag
from app.service import _ROLE_WORDS, HEADER_VOCABULARY, _misread_qualitative, _personal_row, _sign_word_doubt

from zhenxi_knowledge import parse_range


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


def T(text, x, y, w=None, col=None):
    w = w or 16 * len(text)
    return Token(text, 0.99, (x, y, x + w, y + 28), col)


def row(kb, *cells):
    """One body row: (text, x, column hint) each."""
    return parse_row_all(kb, [T(t, x, 100, col=c) for t, x, c in cells])


def test_every_word_a_garbled_header_cell_is_read_against_names_a_column():
    kinds = {w: header_kind(w) for w in HEADER_VOCABULARY}
    assert None not in kinds.values(), kinds
    # the words LIS printouts use beside the old ones ('检测项目', '测定值', '异常提示', '生物参考区间')
    assert {kinds["检测项目"], kinds["测定值"], kinds["异常提示"], kinds["生物参考区间"]} == \
        {"name", "value", "flag", "range"}


def test_latin_letters_before_a_bilingual_header_word_do_not_widen_it():
    """'项目 Itemi' (a garbled 'Item') then '结果 Result': the result column is the 结果 cell, not the garbled
    letters too; a name under 项目 is not read as a result."""
    toks = [T("代码 Code", 186, 60, 141), T("项目 Itemi", 438, 60, 131), T("结果 Result", 799, 60, 156),
            T("参考范围 Reference", 1237, 60, 250), T("单位 Unit", 1593, 60, 126),
            T("Clarity", 195, 110, 90), T("透明度", 445, 110), T("清澈", 804, 110)]
    lay = analyse(toks, 1900)
    cols = {k: (a, b) for t in lay.tables for k, a, b in t.columns}
    assert cols["value"][0] >= 790
    hints = {t.text: t.column for r in lay.rows for t in r}
    assert hints["透明度"] == "name" and hints["清澈"] == "value"


def test_a_result_right_aligned_under_a_centred_header_is_a_result():
    """A wide result column whose header word is centred: the results end just before the unit column and their
    centres fall past the midpoint between the two header words."""
    toks = [T("检测项目", 118, 60), T("测定值", 668, 60), T("计量单位", 1020, 60), T("参考值范围", 1439, 60),
            T("颜色", 116, 110), T("褐色", 942, 110),
            T("红细胞", 118, 150), T("2-4", 900, 150), T("/HP", 1022, 150), T("未见", 1481, 150)]
    lay = analyse(toks, 1854)
    hints = {t.text: t.column for r in lay.rows for t in r}
    assert hints["褐色"] == "value" and hints["2-4"] == "value" and hints["/HP"] == "unit"


def test_a_result_glued_to_its_range_is_not_one_range():
    # the space after the result's decimals is no space inside a bound
    assert parse_range("7.5  20--50") is None and parse_range("9.4 3--10") is None
    assert (parse_range("3.5 - 9.5").low, parse_range("3. 5-9.5").low) == (3.5, 3.5)


def test_the_result_and_range_of_one_cell_are_split(kb):
    it, = row(kb, ("LYMPH%", 134, "code"), ("淋巴细胞%", 250, "name"), ("7.5  20--50", 467, "value"))
    assert it.value.text == "7.5" and (it.parsed_range.low, it.parsed_range.high) == (20, 50)
    it, = row(kb, ("潜血", 91, "name"), ("阴性(-)阴性(-)", 516, "value"))
    assert it.value.text == "阴性(-)" and it.parsed_range.qualitative == "negative"


def test_a_dash_printed_as_a_point_between_two_decimals():
    r = parse_range("4.0.10.0")
    assert (r.low, r.high) == (4.0, 10.0)
    assert (parse_range("50.0. 70.0").low, parse_range("50.0. 70.0").high) == (50.0, 70.0)
    assert parse_range("12.5.3.0") is None and parse_range("5.0.5.0") is None  # (not a range: low above high)
    assert parse_range("500.5.1") is None


def test_a_sign_word_with_its_grade_is_a_range():
    assert parse_range("阴性(-)").qualitative == "negative" and parse_range("阳性(+)").qualitative == "positive"


def test_a_star_or_a_letter_beside_a_grade_or_a_word_is_its_mark():
    assert split_flag("+++*") == ("+++", "ABN") and split_flag("微浑*") == ("微浑", "ABN")
    assert split_flag("阳性(+)H") == ("阳性(+)", "H")
    assert split_flag("86.4*") == ("86.4", "ABN") and split_flag("*") == ("*", None)
    assert split_flag("阴性") == ("阴性", None)


def test_a_fragment_of_a_sign_word_on_a_sign_row_is_not_a_result(kb):
    """Faint or dot-matrix print: '性' alone, '阴肿性生' where 阴性 was printed. On a row the sheet marks as a sign
    test (its range 阴性) such a cell is read again against the sign words, and is never returned as it is."""
    it, = row(kb, ("亚硝酸盐", 355, "name"), ("性", 824, "value"), ("阴性", 1127, "range"))
    assert _misread_qualitative(it) and _sign_word_doubt(it) == ""
    it, = row(kb, ("白细胞酯酶", 350, "name"), ("阴肿性生", 824, "value"), ("阴性", 1123, "range"))
    assert _misread_qualitative(it)
    # a word ending in 性 that parses stays (无反应性), and on a row with a numeric range nothing changes
    it, = row(kb, ("梅毒螺旋体抗体", 100, "name"), ("无反应性", 400, "value"), ("阴性", 600, "range"))
    assert not _misread_qualitative(it)
    it, = row(kb, ("白细胞", 100, "name"), ("5.2", 400, "value"), ("3.5-9.5", 600, "range"))
    assert not _misread_qualitative(it)


def test_an_upright_stroke_read_as_a_dash_is_no_minus(kb):
    """A thin ↑ in a box taller than wide: the recogniser turned the box and read '一'. That is no '-' call of the
    sheet; the printed range decides (on real dev photos every such '一' stood beside a result outside its range)."""
    tall = Token("一", 0.9, (461, 95, 472, 120), "flag")
    flat = Token("-", 0.9, (566, 100, 592, 128), "flag")
    assert _upright_stroke(tall) and not _upright_stroke(flat)
    it, = parse_row_all(kb, [T("白细胞", 171, 100, col="name"), T("11.29", 362, 100, col="value"), tall,
                             T("4.0-10.0", 503, 100, col="range")])
    assert it.flag_code is None and (it.parsed_range.low, it.parsed_range.high) == (4.0, 10.0)


def test_a_footer_in_traditional_script_is_a_person_not_a_test(kb):
    it, = row(kb, ("檢驗者 Tested by:林美玲", 100, "name"), ("審核者", 600, "value"))
    assert _personal_row(it)
    # the English role words of a bilingual footer
    assert _ROLE_WORDS.search("Verified by:王美玲") and _ROLE_WORDS.search("Reported By 陈") \
        and not _ROLE_WORDS.search("Bacteria")


def test_a_speck_after_a_sign_word_is_no_part_of_it():
    from app.parsing import parse_value

    assert parse_value("阴性(-).").qualitative == "negative" and parse_value("阳性。").qualitative == "positive"
    assert parse_value("性.") is None


def test_a_garbled_sign_word_with_its_mark_is_not_returned(kb):
    # '弱阳性(+-)↑' read as '禁阳性(←)↑' on a urine protein row: not a result, and not 阳性 either
    it, = row(kb, ("尿蛋白", 100, "name"), ("禁阳性(←)↑", 400, "value"))
    assert _misread_qualitative(it)


def test_a_sign_word_with_its_second_character_garbled_is_not_returned(kb):
    it, = row(kb, ("潜血", 100, "name"), ("阳庄", 400, "value"))
    assert _misread_qualitative(it)
    it, = row(kb, ("潜血", 100, "name"), ("阳性", 400, "value"))
    assert not _misread_qualitative(it)


def test_whole_result_words_on_a_sign_row_are_returned(kb):
    """Results ending in 性 or holding 生 that are whole words, not fragments: 强阳性, 可疑阳性, 反应性, 无细菌生长."""
    for word in ("强阳性", "极弱阳性(±)", "可疑阳性", "反应性", "非反应性", "无细菌生长", "无寄生虫"):
        it, = row(kb, ("尿妊娠试验", 100, "name"), (word, 400, "value"), ("阴性", 600, "range"))
        assert not _misread_qualitative(it), word


def test_a_mark_or_a_unit_left_of_a_centred_header_is_no_result():
    """The right-aligned-result rule takes cells that read as results only: a '+' under a centred 提示 and a unit
    under a centred 单位 keep their columns."""
    toks = [T("项目", 40, 60), T("结果", 300, 60), T("提示", 474, 60), T("参考值", 600, 60), T("单位", 800, 60),
            T("抗U1RNP", 40, 110), T("66", 300, 110), T("+", 430, 110, 14), T("<25", 600, 110), T("10^9/L", 740, 110)]
    lay = analyse(toks, 1000)
    hints = {t.text: t.column for r in lay.rows for t in r}
    assert hints["+"] == "flag" and hints["66"] == "value"


def test_a_narrow_hyphen_shared_out_of_a_longer_cell_is_still_a_minus(kb):
    it, = parse_row_all(kb, [T("抗Jo-1", 40, 100, col="name"), T("0.5", 300, 100, col="value"),
                             T("<25", 420, 100, col="range"), Token("-", 0.9, (578, 100, 590, 128), "flag")])
    assert it.flag_code == "NEG"


def test_plus_minus_read_as_the_character_shi_is_a_trace():
    from app.parsing import parse_value

    assert parse_value("士").qualitative == parse_value("±").qualitative == "trace"
    assert parse_value("士兵") is None


def test_a_word_result_with_a_star_is_the_word_marked_abnormal(kb):
    it, = row(kb, ("透明度", 270, "name"), ("微浑*", 509, "value"), ("清亮", 634, "range"))
    assert it.value.text == "微浑" and it.flag_code == "ABN"
    it, = row(kb, ("颜色", 270, "name"), ("黄色", 509, "value"))
    assert it.value.text == "黄色" and it.flag_code is None
    # an arrow glued to the word is its mark too ('稀便↑')
    it, = row(kb, ("性状", 270, "name"), ("稀便↑", 509, "value"), ("软便", 634, "range"))
    assert (it.value.text, it.flag_code, it.flag.text) == ("稀便", "H", "↑")


def test_a_footer_role_with_a_colon_and_a_name_is_a_person(kb):
    """'检验：曹丽艳 | 审核者： | 刘萍' read as a row: two people's names, never returned."""
    from app.parsing import Cell, RowItem, parse_value

    it = RowItem(names=[(Cell("检验：曹丽艳", 0.99, (111, 1809, 260, 1837)), [])],
                 value=Cell("刘萍", 0.99, (781, 1809, 835, 1837)), parsed_value=parse_value("刘萍"))
    assert _personal_row(it)
    # the role word in the result cell alone ('复核 | 审核：刘萍')
    it = RowItem(names=[(Cell("复核", 0.99, (111, 1809, 160, 1837)), [])],
                 value=Cell("审核：刘萍", 0.99, (699, 1809, 835, 1837)), parsed_value=parse_value("审核：刘萍"))
    assert _personal_row(it)
    assert _ROLE_WORDS.search("审核：王") and not _ROLE_WORDS.search("检验项目")


# ---- qualitative sheets from other hospitals (bench/blind_sheets_d.py, written without the code) --------------------

def test_a_sign_bracket_read_as_yi_is_a_minus():
    """'(一)' and '阴性(一)': the minus in brackets read as the character 一; a lone '(一)' is no range (a thin
    arrow is read that way too)."""
    from app.parsing import parse_range, parse_value, result_glyphs

    assert parse_value("(一)").qualitative == parse_value("阴性(一)").qualitative == "negative"
    assert result_glyphs("（一）") == "(-)"
    assert parse_range("阴性(一)").qualitative == "negative"
    assert parse_range("(一)") is None and parse_range("一") is None


def test_not_read_as_end_before_a_none_seen_word():
    """末 ('end') for 未 ('not'), a stroke's length apart: '末检出' is 未检出; 末梢血 (capillary blood) stays."""
    from app.parsing import parse_range, parse_value, result_glyphs

    assert parse_value("末检出").qualitative == parse_value("末见").qualitative == "negative"
    assert result_glyphs("末发现") == "未发现" and result_glyphs("术检出") == "未检出"
    assert result_glyphs("末梢血") == "末梢血"
    assert parse_range("末检出").qualitative == "negative"
    assert parse_value("末梢血") is None


def test_word_ranges_in_traditional_script():
    from app.parsing import parse_range

    assert parse_range("陰性").qualitative == parse_range("未發現").qualitative == "negative"


def test_english_results_of_hong_kong_and_taiwan_sheets(kb):
    """'Not found' is a negative result; English words for colour, clarity and amount stay whole under 结果."""
    it, = row(kb, ("圓柱體 Cast", 94, "name"), ("Not found", 617, "value"), ("0-2", 919, "range"),
              ("/LPF", 1188, "unit"))
    assert it.value.text == "Not found" and it.parsed_value.qualitative == "negative"
    it, = row(kb, ("濁度 Turbidity", 94, "name"), ("Slightly turbid", 591, "value"))
    assert it.value.text == "Slightly turbid"
    it, = row(kb, ("顏色 Color", 94, "name"), ("Yellow", 636, "value"))
    assert it.value.text == "Yellow"


def test_a_star_after_a_bracketed_sign_is_the_mark(kb):
    """'(+)*' under 结果 with 阴性 under 参考区间: a positive result marked, never the range taken as the result."""
    it, = row(kb, ("新型冠状病毒(2019-nCoV)抗原", 171, "name"), ("(+)*", 1011, "value"), ("阴性", 1226, "range"))
    assert it.value.text == "(+)" and it.parsed_value.qualitative == "1+" and it.flag_code == "ABN"
    assert it.range.text == "阴性"


def test_negative_or_trace_is_one_range(kb):
    """Urobilinogen's '阴性或弱阳性' is one negative range, not a result '阴性或弱' and a range '阳性'."""
    it, = row(kb, ("UBG 尿胆原", 240, "name"), ("-", 700, "value"), ("阴性或弱阳性", 1022, "range"))
    assert it.value.text == "-" and it.range.text == "阴性或弱阳性"
    assert it.parsed_range.qualitative == "negative"


def test_garbled_words_are_read_against_both_scripts():
    """A sign word printed 陰性 (Taiwan) counts as 阴性 in either script; a none-seen word garbled past parsing
    ('未验现' for 未發現) is read again against the none-seen words on any row, named or not."""
    from app.parsing import Cell, ParsedValue, RowItem, parse_value
    from app.service import _sign_pick, _word_doubt, _word_pick, none_seen_readings

    assert _sign_pick({"陰性": -1.0, "阴性": -4.0, "阳性": -5.0, "陽性": -5.5, "弱阳性": -7.0}) == "阴性"
    assert _sign_pick({"陽性": -1.0, "阴性": -4.0}) is None  # 阳性 is never taken from the likelihood
    assert _word_pick({"未發現": -1.0, "未发现": -1.2, "未见": -4.0}) in ("未發現", "未发现")
    assert parse_value("未验现") is None
    it = RowItem(names=[(Cell("阿米巴 Amoeba", 0.99, (100, 0, 300, 30)), [])],
                 value=Cell("未验现", 0.92, (600, 0, 700, 30)), parsed_value=ParsedValue(None, "未验现"))
    assert _word_doubt(it) == list(none_seen_readings())
    it.value = Cell("未见", 0.92, (600, 0, 700, 30))
    it.parsed_value = parse_value("未见")
    assert _word_doubt(it) == []


def test_a_descriptive_result_is_judged_by_the_words_the_knowledge_base_knows(kb):
    """颜色 红色 with its printed '黄色' not read as a range (and its '*' in a column the detector lost): a known
    finding is abnormal, a known normal word normal, any other word not judged."""
    from app.service import _described_flag

    col = kb.indicators["ST-COL"]
    assert _described_flag(col, "红色") == "ABN" and _described_flag(col, "黄色") == "N"
    assert _described_flag(col, "黃褐色") == "N"  # traditional script
    assert _described_flag(col, "条纹状") is None


def test_a_code_column_before_the_name_column_is_one_row(kb):
    """'WBC | 白细胞(镜检) | - | 阴性' with a 代号 column before 项目名称: the code and the name are one row, however far
    apart, even where the code reads as the blood count's WBC (two rows each took a '-' from the page before)."""
    items = parse_row_all(kb, [Token("04", 0.99, (161, 451, 204, 485), "seq"),
                               Token("WBC", 0.99, (232, 449, 288, 487), "code"),
                               Token("白细胞(镜检)", 0.99, (492, 449, 659, 489), "name"),
                               Token("阴性", 0.99, (1439, 447, 1510, 491), "range")])
    assert len(items) == 1 and [c.text for c, _ in items[0].names] == ["WBC", "白细胞(镜检)"]
    items = parse_row_all(kb, [Token("PC", 0.99, (234, 528, 270, 560), "code"),
                               Token("脓细胞", 0.99, (490, 526, 600, 560), "name"),
                               Token("0--5", 0.99, (1441, 528, 1510, 560), "range")])
    assert len(items) == 1 and items[0].range.text == "0--5"
    # without the code header, two names that far apart and of two tests are still two rows
    items = parse_row_all(kb, [Token("WBC", 0.99, (232, 449, 288, 487), None),
                               Token("白细胞(镜检)", 0.99, (492, 449, 659, 489), "name")])
    assert len(items) == 2


def test_a_count_per_field_with_its_dash_read_as_a_point(kb):
    """'0.1' for 0-1 where only a count can stand (the range expects none, or the test reports words and counts);
    a urine analyser's decimal per field against a numeric range stays a number."""
    from app.service import point_read_as_dash

    it, = row(kb, ("脓细胞", 100, "name"), ("0.1", 500, "value"), ("未检出", 800, "range"))
    assert point_read_as_dash(it) and it.value.text == "0-1" and it.parsed_value.number is None
    it, = row(kb, ("粪便白细胞", 100, "name"), ("1.3", 500, "value"))
    assert point_read_as_dash(it) and it.value.text == "1-3"
    it, = row(kb, ("红细胞", 100, "name"), ("4.62", 500, "value"), ("0-5", 800, "range"), ("/HP", 1000, "unit"))
    assert not point_read_as_dash(it) and it.value.text == "4.62"
    it, = row(kb, ("脓细胞", 100, "name"), ("2.0", 500, "value"), ("未检出", 800, "range"))
    assert not point_read_as_dash(it)  # '2.0' is no span (its first digit is not smaller)
    # a serology index, a strip's concentration or an occult-blood reading against 阴性 stays a number: a range
    # that expects none does not make a decimal a count (it made negatives positive)
    for cells in ((("人类免疫缺陷病毒抗体", 100, "name"), ("0.2", 500, "value"), ("阴性", 800, "range"),
                   ("COI", 1000, "unit")),
                  (("尿蛋白", 100, "name"), ("0.1", 500, "value"), ("阴性", 800, "range"), ("g/L", 1000, "unit")),
                  (("梅毒螺旋体抗体", 100, "name"), ("0.1", 500, "value"), ("阴性", 800, "range")),
                  (("粪便隐血", 100, "name"), ("0.1", 500, "value"), ("阴性", 800, "range")),
                  (("某某抗体", 100, "name"), ("0.3", 500, "value"), ("阴性", 800, "range"))):
        it, = row(kb, *cells)
        assert not point_read_as_dash(it) and it.parsed_value.number is not None


def test_signs_a_line_glued_stay_apart_and_a_star_marks_only_a_positive_bracket(kb):
    """'+ -' (a result and its range read as one line) is still two cells; '(-)*' is no abnormal mark."""
    it, = row(kb, ("尿蛋白", 100, "name"), ("+ -", 500, "value"))
    assert it.value.text == "+" and it.parsed_value.qualitative == "1+" and it.range.text == "-"
    assert split_flag("(-)*") == ("(-)*", None) and split_flag("阴性(-)*") != ("阴性(-)", "ABN")
    assert split_flag("(++)*") == ("(++)", "ABN")


def test_helicobacter_antibody_is_not_the_stool_antigen(kb):
    """Serum H. pylori IgG stays positive after eradication: it has its own code, never the stool antigen's."""
    assert kb.match_name("幽门螺杆菌抗体")[0].indicator.code == "HP-Ab"
    assert kb.match_name("粪便幽门螺杆菌抗原")[0].indicator.code == "ST-HPSA"


def test_english_signs_of_a_positive_and_a_negative_result():
    """An English sheet's positives are read as well as its negatives (a 'Detected' row used to vanish)."""
    from app.parsing import parse_value

    for word in ("Detected", "Reactive", "Present", "Found", "Positive"):
        assert parse_value(word).qualitative == "positive", word
    for word in ("Not detected", "Non-reactive", "Absent", "Not found", "Negative"):
        assert parse_value(word).qualitative == "negative", word


def test_english_amounts_against_a_range_that_expects_none():
    """'Few' or 'Many' cells where the sheet expects none ('Not found', 阴性) are a finding; 'Occasional' is 偶见,
    within a count range."""
    from app.parsing import parse_range, seen_against_none_range

    none = parse_range("Not found")
    assert seen_against_none_range("Few", none, None) == "POS"
    assert seen_against_none_range("Numerous", parse_range("阴性"), None) == "POS"
    assert seen_against_none_range("Occasional", parse_range("0-5"), 5.0) == "N"
    assert seen_against_none_range("Occasional", none, None) == "POS"
    assert seen_against_none_range("Yellow", none, None) is None


def test_english_signs_with_their_bracketed_grade():
    """'Positive(+)', 'Negative (-)', 'Weakly positive(+)': a Taiwan stool sheet's occult blood printed with its
    sign in brackets. The row used to vanish (a positive occult blood lost); now the grade is read as in Chinese."""
    from app.parsing import parse_value

    assert parse_value("Positive(+)").qualitative == "1+"
    assert parse_value("Positive (++)").qualitative == "2+"
    assert parse_value("Negative(-)").qualitative == "negative"
    assert parse_value("Positive(3)") is None and parse_value("Possible(+)") is None


def test_english_colours_and_consistencies_stay_whole(kb):
    """'Yellowish brown' came back as 'brown', and 'Mushy' as no result at all."""
    it, = row(kb, ("顏色 Color", 94, "name"), ("Yellowish brown", 636, "value"))
    assert it.value.text == "Yellowish brown"
    it, = row(kb, ("性狀 Consistency", 94, "name"), ("Mushy", 636, "value"))
    assert it.value.text == "Mushy"
    it, = row(kb, ("顏色 Color", 94, "name"), ("Light yellowish brown", 636, "value"))
    assert it.value.text == "Light yellowish brown"


def test_taiwan_words_for_cells_on_a_stool_or_urine_sheet_are_its_findings(kb):
    """紅血球, 白血球 and 膿球 (Taiwan's 红细胞, 白细胞, 脓细胞) on a stool or a urine sheet are its microscopy findings,
    not the blood count's red and white cells."""
    from app.service import prefer_sheet_names

    for sheet, name, code in (("stool", "紅血球 RBC", "ST-RBC"), ("stool", "白血球 WBC", "ST-WBC"),
                              ("stool", "膿球 Pus cell", "ST-PUS"), ("urine", "紅血球 RBC", "U-RBC"),
                              ("urine", "白血球", "U-WBC")):
        it, = row(kb, (name, 94, "name"), ("2-5/HPF", 636, "value"), ("0-2/HPF", 900, "range"))
        prefer_sheet_names(kb, it, sheet)
        assert it.names[0][1][0].indicator.code == code, (sheet, name)
    # the rest of the name is kept: 白球比 (the A/G ratio) is no cell, 紅血球壓積 (haematocrit) no stool finding
    for sheet, name, code in (("urine", "白球比", "A/G"), ("stool", "白球比", "A/G"), ("stool", "紅血球壓積", None),
                              ("urine", "紅血球沉降率", None)):
        it, = row(kb, (name, 94, "name"), ("1.5", 636, "value"), ("1.2-2.4", 900, "range"))
        prefer_sheet_names(kb, it, sheet)
        assert (it.names[0][1][0].indicator.code if it.names[0][1] else None) == code, (sheet, name)
