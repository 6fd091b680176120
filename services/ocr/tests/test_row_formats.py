"""Printed row formats of sheets from hospitals not seen yet (issue #9, round two of bench/ocr_rows.py): serology
indices with their reading, strip grades with their concentration, microscopy findings against 未见, units printed
in other cases or glued to the result, ranges split after their dash or printed per age group."""
import pytest

from app.knowledge import load_knowledge
from app.parsing import (Token, age_split_range, choose_indicator, count_or_titre_flag, parse_range, parse_row,
                         parse_value)
from app.service import LabReportParser, _nameless_result_row


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


def _row(*cells):
    """(text, column) cells of one printed row, left to right, as the layout hands them over."""
    out, x = [], 10
    for text, col in cells:
        w = 18 * len(text)
        out.append(Token(text, 0.99, (x, 100, x + w, 130), col))
        x += w + 40
    return out


def _record(kb, cells, panels=frozenset(), sex=None, age=None):
    parser = LabReportParser(engine=object(), knowledge=kb)  # record assembly only, no OCR
    items = parse_row(kb, _row(*cells))
    assert len(items) == 1
    it = items[0]
    choice = choose_indicator(kb, it, set(), set(panels))
    if choice:
        return it, parser._indicator_record(choice[0], choice[1], choice[2], it, sex, 0, [], age)
    return it, parser._uncoded_record(it, 0, sex, age)


@pytest.mark.parametrize("text,grade", [("+1", "1+"), ("+2", "2+"), ("+4", "4+")])
def test_a_grade_printed_sign_first_is_a_grade(text, grade):
    pv = parse_value(text)
    assert pv.number is None and pv.qualitative == grade


def test_a_signed_digit_against_a_numeric_range_is_a_number(kb):
    """'+2' against '-3~+3' (a base excess) is the number 2, not the strip grade 2+."""
    it, rec = _record(kb, [("剩余碱", "name"), ("+2", "value"), ("mmol/L", "unit"), ("-3~+3", "range")])
    assert it.parsed_value.number == 2.0 and it.parsed_value.qualitative is None and rec["flag"] == "N"


def test_a_signed_digit_against_a_negative_range_is_a_grade(kb):
    it, rec = _record(kb, [("尿蛋白", "name"), ("+2", "value"), ("阴性", "range")], {"urinalysis"})
    assert it.parsed_value.qualitative == "2+" and rec["flag"] == "POS"


def test_a_signed_decimal_stays_a_number():
    pv = parse_value("+2.5")
    assert pv.number == 2.5 and pv.qualitative is None


@pytest.mark.parametrize("text,number,cmp,qual", [
    ("3.0(+3)", 3.0, None, "3+"), ("0.3(1+)", 0.3, None, "1+"), ("15(+-)", 15.0, None, "trace"),
    ("阴性(0.24)", 0.24, None, "negative"), ("阳性（12.87）", 12.87, None, "positive"),
    ("0.24 阴性", 0.24, None, "negative"), ("<0.05阴性", 0.05, "<", "negative"),
])
def test_a_number_with_its_reading_in_one_cell(text, number, cmp, qual):
    pv = parse_value(text)
    assert (pv.number, pv.comparator, pv.qualitative) == (number, cmp, qual)


def test_a_serology_index_and_its_word_keep_the_printed_range(kb):
    """'0.24 阴性' in the result cell: the word had been cut off and taken as the range, so the '<1.00' printed
    in the range column was lost and the row had no flag."""
    it, rec = _record(kb, [("丙肝抗体", "name"), ("0.24 阴性", "value"), ("<1.00", "range"), ("S/CO", "unit")])
    assert it.parsed_value.number == 0.24 and it.parsed_range.high == 1.0
    assert rec["flag"] == "NEG"


@pytest.mark.parametrize("word", ["未查见", "未发现", "未检到"])
def test_none_found_words_are_negative(kb, word):
    it, rec = _record(kb, [("寄生虫卵", "name"), (word, "value"), ("未查见", "range")], {"stool"})
    assert it.parsed_value.qualitative == "negative" and rec["flag"] == "NEG" and rec["value_text"] == word


def test_a_few_seen_is_a_positive_finding():
    assert parse_value("少许").qualitative == "positive"  # as 少量 is


@pytest.mark.parametrize("value,rng,flag", [
    ("0-2", "未见", "POS"), ("0-2/HP", "未见", "POS"), ("0-0", "未见", "NEG"), ("偶见", "未见", "POS"),
    ("满视野", "阴性", "POS"), ("偶见", "0-5", "N"), ("黄色", "未见", None),
])
def test_cells_seen_against_a_range_that_expects_none(value, rng, flag):
    pr = parse_range(rng)
    low, high = pr.for_sex(None)
    assert count_or_titre_flag(value, pr, low, high) == flag


def test_a_sediment_count_against_none_seen_is_flagged(kb):
    """'红细胞 0-2 /HP 未见': the row came back with no flag (未见 was no range)."""
    _, rec = _record(kb, [("粪便红细胞", "name"), ("0-2", "value"), ("/HP", "unit"), ("未见", "range")], {"stool"})
    assert rec["code"] == "ST-RBC" and rec["value_text"] == "0-2" and rec["flag"] == "POS"


@pytest.mark.parametrize("unit", ["uMol/L", "UMOL/L", "umoL/L"])
def test_micromoles_in_another_case_are_a_unit(kb, unit):
    it, rec = _record(kb, [("肌酐", "name"), ("132", "value"), (unit, "unit"), ("57-111", "range")])
    assert it.unit is not None and it.unit.text == unit and rec["unit"] == "μmol/L" and rec["flag"] == "H"


def test_a_percent_on_both_bounds_is_the_unit(kb):
    it, rec = _record(kb, [("中性粒细胞百分比", "name"), ("81.2", "value"), ("40%-75%", "range")])
    assert it.unit is not None and it.unit.text == "%" and (rec["reference"]["low"], rec["reference"]["high"]) == (40, 75)


def test_a_two_word_unit_stays_one(kb):
    """'mg/L FEU' (D-dimer as fibrinogen equivalents) had come back as 'mg/L', its second word dropped."""
    it, _ = _record(kb, [("D-二聚体", "name"), ("0.89", "value"), ("mg/L FEU", "unit"), ("0-0.55", "range")])
    assert it.unit.text == "mg/L FEU"


@pytest.mark.parametrize("cell,value,unit", [("125.3个/μL", "125.3", "个/μL"), ("12.5秒", "12.5", "秒"),
                                             ("偶见/HP", "偶见", "/HP"), ("满视野/HP", "满视野", "/HP")])
def test_a_result_glued_to_its_unit(kb, cell, value, unit):
    it, _ = _record(kb, [("红细胞", "name"), (cell, "value"), ("0-25", "range")], {"urinalysis"})
    assert it.value.text == value and it.unit is not None and it.unit.text == unit


def test_a_range_glued_to_seconds(kb):
    it, _ = _record(kb, [("凝血酶时间", "name"), ("11.4", "value"), ("14.0～21.0秒", "range")], {"coagulation"})
    assert (it.parsed_range.low, it.parsed_range.high) == (14.0, 21.0) and it.unit.text == "秒"


@pytest.mark.parametrize("lower", ["15-", "15 -", "15一"])
def test_a_range_split_after_its_dash(kb, lower):
    it, rec = _record(kb, [("天门冬氨酸氨基转移酶", "name"), ("4", "value"), (lower, "range"), ("40", "range"),
                           ("U/L", "unit")])
    assert (it.parsed_range.low, it.parsed_range.high) == (15, 40) and rec["flag"] == "L"


@pytest.mark.parametrize("text", ["成人:3.50-9.50 儿童:5.00-12.00", "儿童：5.0-12.0；成人：3.5-9.5",
                                  "成人3.5-9.5 新生儿15.0-20.0"])
def test_an_age_split_range_is_read_for_an_adult(text):
    r = parse_range(text)
    assert (r.low, r.high) == (3.5, 9.5) and r.text == text


def test_an_age_split_range_with_a_range_per_sex():
    r = parse_range("成人男:130-175 成人女:115-150 儿童:110-160")
    assert r.for_sex("male") == (130, 175) and r.for_sex("female") == (115, 150)


def test_an_age_split_range_gives_a_child_the_child_range(kb):
    cells = [("白细胞计数", "name"), ("10.2", "value"), ("10^9/L", "unit"), ("成人:3.5-9.5 儿童:5.0-12.0", "range")]
    _, adult = _record(kb, cells, age=40)
    _, child = _record(kb, cells, age=6)
    assert adult["flag"] == "H" and (adult["reference"]["low"], adult["reference"]["high"]) == (3.5, 9.5)
    assert child["flag"] == "N" and (child["reference"]["low"], child["reference"]["high"]) == (5.0, 12.0)
    assert age_split_range("3.5-9.5") is None and age_split_range("成人:3.5-9.5", age=6) is None


# ---- review of round two --------------------------------------------------------------------------------------

@pytest.mark.parametrize("cells", [
    [("剩余碱", "name"), ("+2", "value"), ("mmol/L", "unit")],
    [("剩余碱", "name"), ("+2", "value"), ("mmol/L", "unit"), ("±3", "range")],
    [("剩余碱", "name"), ("+2", "value"), ("mmol/L", "unit"), ("(-3)-(+3)", "range")],
    [("剩余碱", "name"), ("+2", "value")],
])
def test_a_signed_digit_of_a_quantitative_test_is_a_number(kb, cells):
    """'+2' beside a unit, against '±3' or '(-3)-(+3)', or for a test the knowledge base knows as quantitative (a
    base excess): the number 2, N; it had been the strip grade 2+, POS, whenever no numeric range was read."""
    it, rec = _record(kb, cells)
    assert rec["code"] == "BE" and rec["value"] == 2.0 and rec["qualitative"] is None and rec["flag"] == "N"


def test_a_signed_digit_of_a_qualitative_test_with_a_unit_column_is_a_grade(kb):
    it, rec = _record(kb, [("尿蛋白", "name"), ("+2", "value"), ("g/L", "unit"), ("阴性", "range")], {"urinalysis"})
    assert rec["qualitative"] == "2+" and rec["flag"] == "POS"


def test_a_signed_digit_of_a_quantitative_test_against_negative_is_a_grade(kb):
    """'白细胞 +1 阴性' on a urine strip (coded U-WBC, a count): the grade 1+, POS, as the range says."""
    it, rec = _record(kb, [("白细胞", "name"), ("+1", "value"), ("阴性", "range")], {"urinalysis"})
    assert rec["qualitative"] == "1+" and rec["flag"] == "POS"


def test_a_signed_digit_with_a_unit_of_an_unknown_test_is_a_number(kb):
    it, rec = _record(kb, [("某某碱剩余", "name"), ("+2", "value"), ("mmol/L", "unit")])
    assert it.parsed_value.number == 2.0 and it.parsed_value.qualitative is None


@pytest.mark.parametrize("rng", ["±3", "(-3)-(+3)"])
def test_a_range_either_side_of_zero(rng):
    r = parse_range(rng)
    assert (r.low, r.high) == (-3, 3)


def test_a_nameless_row_keeps_a_signed_digit(kb):
    row = [Token("+2", 0.99, (200, 100, 230, 130), "value"), Token("mmol/L", 0.99, (300, 100, 380, 130), "unit")]
    it = _nameless_result_row(kb, row)
    assert it is not None and it.parsed_value.number == 2.0


def test_a_number_that_contradicts_its_word_has_the_word_for_reference(kb):
    """'1250.00 阴性' for HBsAg (cut-off 0.05 IU/mL): 阴性 is the printed reference merged into the result cell, not
    the reading (it had come back NEG); the result is 1250."""
    it, rec = _record(kb, [("乙肝表面抗原", "name"), ("1250.00 阴性", "value"), ("IU/mL", "unit")])
    assert rec["value"] == 1250.0 and rec["qualitative"] is None and rec["flag"] != "NEG"
    assert it.range is not None and it.range.text == "阴性"


def test_a_number_that_contradicts_its_word_against_the_printed_range(kb):
    it, rec = _record(kb, [("某某抗体", "name"), ("12.5 阴性", "value"), ("0-1.0", "range")])
    assert it.parsed_value.number == 12.5 and it.parsed_value.qualitative is None and rec["flag"] == "H"


def test_a_positive_word_with_its_index_is_the_sheets_reading(kb):
    """'0.80 阳性' printed for HCV-Ab under another manufacturer's cut-off (1.0 S/CO): a reference is printed 阴性,
    hardly ever 阳性, so the word is the sheet's reading and the row stays positive."""
    it, rec = _record(kb, [("丙肝抗体", "name"), ("0.80 阳性", "value"), ("<1.00", "range"), ("S/CO", "unit")])
    assert it.parsed_value.qualitative == "positive" and rec["flag"] == "POS"


def test_a_number_and_its_word_under_the_range_header(kb):
    """'0.24 阴性' under the range column: the result and the printed reference, as the column says (the row had
    been dropped)."""
    it, rec = _record(kb, [("丙肝抗体", "name"), ("0.24 阴性", "range"), ("S/CO", "unit")])
    assert it.parsed_value.number == 0.24 and it.range.text == "阴性"


@pytest.mark.parametrize("age,lo,hi,flag", [(40, 45, 125, "H"), (6, 42, 390, "N")])
def test_age_labels_after_their_ranges(kb, age, lo, hi, flag):
    cells = [("碱性磷酸酶", "name"), ("300", "value"), ("U/L", "unit"), ("45-125(成人) 42-390(儿童)", "range")]
    _, rec = _record(kb, cells, age=age)
    assert (rec["reference"]["low"], rec["reference"]["high"], rec["flag"]) == (lo, hi, flag)


def test_a_child_no_printed_age_group_holds_gets_no_printed_range(kb):
    """'成人:3.5-9.5 新生儿:15.0-20.0' for a patient of 0 years (not surely a newborn): no printed range fits; the
    adult range had been used to flag. As with no range printed: not flagged, adult_range_for_child."""
    cells = [("白细胞计数", "name"), ("10.2", "value"), ("10^9/L", "unit"), ("成人:3.5-9.5 新生儿:15.0-20.0", "range")]
    _, rec = _record(kb, cells, age=0)
    assert rec["flag"] is None and rec["reference"]["source"] == "adult_default"
    assert "adult_range_for_child" in rec["review_reasons"]


@pytest.mark.parametrize("text,age,rng", [
    ("成人:3.5-9.5 婴儿:6.0-17.5 儿童:5.0-12.0", 0, (6.0, 17.5)),
    ("成人:3.5-9.5 婴儿:6.0-17.5 儿童:5.0-12.0", 4, (5.0, 12.0)),
    ("成人:3.5-9.5 幼儿:5.5-15.5", 2, (5.5, 15.5)),
    ("成人:3.5-9.5 青少年:4.5-13.0", 15, (4.5, 13.0)),
    ("成人:0-40 儿童:0-50 U/L", 5, (0, 50)),
    ("成人:0-40 儿童:0-50U/L", 5, (0, 50)),
])
def test_age_groups(text, age, rng):
    r = age_split_range(text, age)
    assert (r.low, r.high) == rng


@pytest.mark.parametrize("name,value,flag", [("粪便白细胞", "偶见", "N"), ("粪便白细胞", "0-2", "N"),
                                             ("粪便白细胞", "0-2/HP", "N"), ("粪便上皮细胞", "偶见", "N"),
                                             ("粪便红细胞", "0-2", "POS"), ("粪便白细胞", "3-5", "POS")])
def test_cells_seen_that_the_test_counts_as_normal(kb, name, value, flag):
    """Against 未见 cells seen are POS, unless the knowledge base lists the result among the test's normal ones
    (粪便白细胞 偶见 / 0-2, 粪便上皮细胞 偶见): then N."""
    _, rec = _record(kb, [(name, "name"), (value, "value"), ("未见", "range")], {"stool"})
    assert rec["flag"] == flag


def test_a_printed_mark_wins_over_a_normal_finding(kb):
    _, rec = _record(kb, [("粪便白细胞", "name"), ("偶见", "value"), ("↑", "flag"), ("未见", "range")], {"stool"})
    assert rec["flag"] == "H"


@pytest.mark.parametrize("text,grade", [("弱阳性(+)", "1+"), ("弱阳性(±)", "trace"), ("阳性(++)", "2+"),
                                        ("阳性(3+)", "3+")])
def test_a_bracketed_grade_reads_as_the_package_reads_it(text, grade):
    from zhenxi_knowledge import qualitative_grade
    assert parse_value(text).qualitative == grade == qualitative_grade(text)


@pytest.mark.parametrize("text,number,qual", [("3.0(十3)", 3.0, "3+"), ("十1", None, "1+"), ("阳性(十)", None, "1+"),
                                              ("0.3(1十)", 0.3, "1+"), ("十十", None, "2+")])
def test_a_plus_read_as_ten(text, number, qual):
    pv = parse_value(text)
    assert (pv.number, pv.qualitative) == (number, qual) and pv.text == text


def test_ten_in_a_name_stays(kb):
    it, _ = _record(kb, [("十二指肠液", "name"), ("3.2", "value"), ("0-5", "range")])
    assert it.names[0][0].text == "十二指肠液" and parse_value("十二指肠") is None


def test_a_percent_unit_taken_from_the_range_has_no_box_of_its_own(kb):
    it, _ = _record(kb, [("中性粒细胞百分比", "name"), ("81.2", "value"), ("40%-75%", "range")])
    assert it.unit.box[0] == it.unit.box[2] == it.range.box[2]


def test_a_star_before_the_result_marks_it_abnormal(kb):
    it, rec = _record(kb, [("糖类抗原19-9", "name"), ("*86.4", "value"), ("0-37", "range"), ("U/mL", "unit")])
    assert it.parsed_value.number == 86.4 and rec["flag"] == "H"


@pytest.mark.parametrize("text,low,high", [("新生儿:170-200", 170.0, 200.0), ("6-<13岁:27-66", 27.0, 66.0),
                                           ("绝经期:25.8-134.8", 25.8, 134.8), ("绝经前<70 绝经后<140", None, None),
                                           ("阳性:>0.05", None, None), ("危急值:<2.5", None, None),
                                           ("灰区:0.9-1.1", None, None), ("白细胞:3.5-9.5", None, None)])
def test_one_range_under_its_groups_label_is_the_printed_range(text, low, high):
    pr = parse_range(text)
    assert (pr.low, pr.high) == (low, high) if low is not None else pr is None


def test_a_sign_word_under_the_mark_header_is_the_sheets_call(kb):
    it, rec = _record(kb, [("抗HCV", "name"), ("5.62", "value"), ("阳性", "flag"), ("<1.0", "range"), ("S/CO", "unit")])
    assert it.parsed_value.number == 5.62 and rec["flag"] == "POS" and rec["reference"]["high"] == 1.0


def test_one_groups_range_for_a_patient_outside_the_group_is_no_range(kb):
    # '成人:3.5-9.5' (its 儿童 line read apart) for a 5-year-old: not the adult range, as for a row printing none
    it, rec = _record(kb, [("白细胞计数", "name"), ("11.0", "value"), ("成人:3.5-9.5", "range"), ("10^9/L", "unit")],
                      age=5.0)
    assert rec["reference"]["source"] == "adult_default" and rec["flag"] is None


def test_the_other_sexs_range_alone_is_no_range(kb):
    # '男:130-175' (its 女 line read apart) for a woman: her default range, not the men's
    it, rec = _record(kb, [("血红蛋白", "name"), ("125", "value"), ("男:130-175", "range"), ("g/L", "unit")],
                      sex="female")
    assert rec["reference"]["source"] == "default" and rec["flag"] == "N"


def test_a_range_per_sex_for_a_patient_of_unknown_sex_is_their_union(kb):
    it, rec = _record(kb, [("血红蛋白", "name"), ("125", "value"), ("男:130-175 女:115-150", "range"), ("g/L", "unit")])
    assert (rec["reference"]["source"], rec["reference"]["low"], rec["reference"]["high"]) == ("printed", 115, 175)


@pytest.mark.parametrize("value,mark,rng,number", [
    ("1,256", "↑", "0-125", 1256.0),    # the mark says high: only 1256 is
    ("2,350", None, "1000-5000", 2350.0),  # no mark, and 2.350 would be low: 2350 is in range
    ("1,025", None, "1.003-1.030", 1.025),  # a decimal point read as a comma: in range as a decimal
    ("1,256", None, "0-2000", 1.256),   # both readings agree with the sheet: the decimal reading stays
    ("1,256", "↑", "阴性", 1.256),      # no numeric range to decide with
])
def test_a_comma_groups_thousands_only_where_the_sheet_agrees(kb, value, mark, rng, number):
    cells = [("N端脑钠肽前体", "name"), (value, "value")] + ([(mark, "flag")] if mark else []) + [(rng, "range")]
    it, _ = _record(kb, cells)
    assert it.parsed_value.number == number


def test_a_range_in_e_notation(kb):
    it, rec = _record(kb, [("HBV-DNA", "name"), ("<1.00E+02", "value"), ("<1.00E+02", "range"), ("IU/mL", "unit")])
    assert (it.parsed_range.low, it.parsed_range.high) == (None, 100.0) and it.parsed_value.comparator == "<"
    assert parse_range("5.0E+02-1.0E+08") is not None and parse_range("5.0E+02-1.0E+08").high == 1e8


def test_a_result_in_two_units_is_read_in_the_first(kb):
    it, rec = _record(kb, [("糖化血红蛋白", "name"), ("7.8%(62mmol/mol)", "value"), ("↑", "flag"),
                           ("4.0-6.0", "range")])
    assert it.parsed_value.number == 7.8 and it.unit.text == "%" and rec["flag"] == "H"


def test_a_sign_word_then_its_index(kb):
    it, _ = _record(kb, [("EBV-VCA-IgM", "name"), ("阴性 0.23", "value"), ("<1.0", "range"), ("COI", "unit")])
    assert (it.parsed_value.number, it.parsed_value.qualitative) == (0.23, "negative")
    it, _ = _record(kb, [("抗HCV", "name"), ("阴性 <1.0", "value")])
    assert it.parsed_value.qualitative == "negative" and it.parsed_range.high == 1.0  # the word and its reference


@pytest.mark.parametrize("unit", ["10^6/mL", "ug/g", "μg/g"])
def test_semen_and_faecal_units(kb, unit):
    assert kb.is_unit(unit)


def test_an_abo_group_is_a_result(kb):
    it, rec = _record(kb, [("ABO血型", "name"), ("AB型", "value")])
    assert it.parsed_value is not None and rec["value_text"] == "AB型"


@pytest.mark.parametrize("text,number", [("2.35×10^3", 2350.0), ("<1.0×10^2", 100.0), ("5.6x10^5", 5.6e5)])
def test_a_power_of_ten_after_the_number(text, number):
    assert parse_value(text).number == pytest.approx(number)


def test_a_power_of_ten_in_a_range_only_with_every_bound():
    assert parse_range("<1.0×10^2").high == pytest.approx(100.0)
    assert parse_range("5.0×10^2-1.0×10^8").high == pytest.approx(1e8)
    assert parse_range("100-300×10^3") is None  # a range and its unit's power, not 100-300000
    assert parse_value("6.52×10^9") is None  # a cell count's unit power, its '/L' in a box of its own


def test_a_sign_word_between_the_result_and_its_numeric_range_is_the_reading(kb):
    it, rec = _record(kb, [("乙肝表面抗原", "name"), ("HBsAg", "code"), ("0.01", "value"), ("阴性", None),
                           ("0-0.05", "range"), ("IU/mL", "unit")])
    assert (it.parsed_range.low, it.parsed_range.high) == (0.0, 0.05) and it.flag_code == "NEG"
    assert rec["flag"] in ("N", "NEG")


@pytest.mark.parametrize("text,grade", [("阳性(1:8)", "positive"), ("阴性(1:1)", "negative"), ("阳牲", "positive"),
                                        ("阴姓", "negative")])
def test_sign_words_with_a_titre_or_a_misread_character(text, grade):
    assert parse_value(text).qualitative == grade


@pytest.mark.parametrize("unit", ["AU/mL", "mAU/mL", "mS/cm", "×10^6/L", "Ery/μL", "Leu/uL"])
def test_more_units_as_printed(kb, unit):
    assert kb.is_unit(unit)


def test_d_dimer_in_micrograms_per_litre_feu(kb):
    it, rec = _record(kb, [("D二聚体", "name"), ("1250", "value"), ("<500", "range"), ("μg/L FEU", "unit")])
    assert it.unit.text == "μg/L FEU" and rec["flag"] == "H" and rec["value"] == pytest.approx(1.25)


def test_a_sign_word_over_the_range_or_against_the_number_is_not_the_reading(kb):
    # the reference printed on two lines in the range column ('阴性' above '0-0.05', the boxes one over the other):
    # not the result's reading, even where it would agree
    toks = _row(("乙肝表面抗原", "name"), ("0.01", "value"), ("阴性", "range"), ("0-0.05", "range"), ("IU/mL", "unit"))
    toks[3].box = (toks[2].box[0], *toks[3].box[1:])
    assert parse_row(kb, toks)[0].flag_code is None
    # in a column of its own, 阴性 beside a number above the range reads nothing of this number
    it, _ = _record(kb, [("乙肝表面抗原", "name"), ("250.6", "value"), ("阴性", None), ("0-0.05", "range"),
                         ("IU/mL", "unit")])
    assert it.flag_code is None


@pytest.mark.parametrize("cells,number,unit", [
    ([("血小板计数", "name"), ("85×10^3", "value"), ("/μL", "unit"), ("125-350", "range")], 85.0, "10^3/μL"),
    ([("白细胞计数", "name"), ("6.5×10^3", "value"), ("3.5-9.5", "range")], 6.5, None),
    ([("白细胞计数", "name"), ("6.5×10^3/μL", "value"), ("3.5-9.5", "range")], 6.5, "10^3/μL"),
    ([("乙型肝炎病毒DNA", "name"), ("2.35×10^3", "value"), ("<1.0×10^2", "range"), ("IU/mL", "unit")], 2350.0,
     "IU/mL"),
])
def test_a_power_of_ten_with_a_per_volume_unit_is_the_units(kb, cells, number, unit):
    it, _ = _record(kb, cells)
    assert it.parsed_value.number == number and (it.unit.text if it.unit else None) == unit


@pytest.mark.parametrize("value,mark,rng", [("1,025↑", None, "1.015-1.025"), ("1,025", "↑", "1.003-1.030"),
                                            ("1,150", "H", "0.8-1.2"), ("0,256", "↑", "0-125")])
def test_a_comma_stays_a_decimal_point_where_thousands_are_implausible(kb, value, mark, rng):
    cells = [("尿比重", "name"), (value, "value")] + ([(mark, "flag")] if mark else []) + [(rng, "range")]
    it, _ = _record(kb, cells)
    assert it.parsed_value.number < 2


@pytest.mark.parametrize("printed", ["尿沉渣白细胞数", "尿沉渣红细胞数目"])
def test_a_sediment_name_is_never_the_blood_count(kb, printed):
    assert all(m.indicator.code not in ("WBC", "RBC") for m in kb.match_name(printed))


# ---- from a review of how a row's value, range, unit and mark become its flag ------------------------------------

def test_a_range_at_another_scale_with_no_unit_read_keeps_the_knowledge_bases_limits_out(kb):
    # glucose 95 against '70-110': a mg/dL sheet whose unit cell was not read. The sheet's range decides (normal);
    # the value is not given the knowledge base's mmol/L, and its critical limits (mmol/L) raise no alarm
    warnings: list = []
    parser = LabReportParser(engine=object(), knowledge=kb)
    it = parse_row(kb, _row(("葡萄糖", "name"), ("95", "value"), ("70-110", "range")))[0]
    ind, conf, how = choose_indicator(kb, it, set(), set())
    rec = parser._indicator_record(ind, conf, how, it, None, 0, warnings, None)
    assert rec["flag"] == "N" and not rec["critical"] and rec["unit"] is None
    assert "unit_not_read_range_at_other_scale" in rec["review_reasons"]
    assert not [w for w in warnings if w["code"] == "critical_value"]
    # at the knowledge base's scale the unit is still assumed, and a critical value still found
    it, rec = _record(kb, [("葡萄糖", "name"), ("35.0", "value"), ("3.9-6.1", "range")])
    assert rec["unit"] == "mmol/L" and rec["critical"] and rec["flag"] == "H"


def test_no_critical_alarm_against_the_sheets_own_normal_or_for_a_child_without_a_range(kb):
    # haematocrit 62 % of a newborn: within the sheet's own range it is normal, whatever the adults' limits say;
    # with no range printed the adults' limits do not flag a child either
    it, rec = _record(kb, [("红细胞压积", "name"), ("62", "value"), ("%", "unit"), ("42-65", "range")], sex="male",
                      age=0.01)
    assert rec["flag"] == "N" and not rec["critical"]
    it, rec = _record(kb, [("红细胞压积", "name"), ("62", "value"), ("%", "unit")], sex="male", age=0.01)
    assert rec["flag"] is None and not rec["critical"] and rec["reference"]["source"] == "adult_default"
    # an adult's, with no range printed: still found (the limit gives the direction)
    it, rec = _record(kb, [("红细胞压积", "name"), ("62", "value"), ("%", "unit")], sex="male", age=40)
    assert rec["critical"] and rec["flag"] in ("H", "HH")


def test_a_critical_value_with_neither_unit_nor_range_read_needs_review(kb):
    # haemoglobin 13.5 with nothing beside it: g/dL (normal) or g/L (lethal)? the alarm stands, for a person to check
    it, rec = _record(kb, [("血红蛋白", "name"), ("13.5", "value")], sex="male", age=40)
    assert rec["critical"] and rec["needs_review"] and "critical_without_unit" in rec["review_reasons"]


@pytest.mark.parametrize("printed", ["Male: 130-175 Female: 115-150", "M:130-175 F:115-150"])
def test_a_range_per_sex_printed_in_english_is_the_patients(kb, printed):
    it, rec = _record(kb, [("HGB", "name"), ("120", "value"), ("g/L", "unit"), (printed, "range")], sex="female")
    assert rec["reference"]["source"] == "printed" and rec["reference"]["low"] == 115 and rec["flag"] == "N"
    it, rec = _record(kb, [("HGB", "name"), ("120", "value"), ("g/L", "unit"), (printed, "range")], sex="male")
    assert rec["reference"]["low"] == 130 and rec["flag"] == "L"


def test_an_unknown_tests_range_per_sex_or_age_is_the_patients(kb):
    cells = [("巨噬细胞移动抑制因子", "name"), ("160", "value"), ("g/L", "unit"), ("男:130-175 女:115-150", "range")]
    it, rec = _record(kb, cells, sex="female")
    assert rec["code"] is None and rec["flag"] == "H" and rec["reference"]["high"] == 150
    cells[1] = ("120", "value")
    assert _record(kb, cells, sex="male")[1]["flag"] == "L"
    cells = [("巨噬细胞移动抑制因子", "name"), ("60", "value"), ("mg/L", "unit"), ("成人:25-50 儿童:30-70", "range")]
    assert _record(kb, cells, age=5)[1]["flag"] == "N" and _record(kb, cells, age=40)[1]["flag"] == "H"


@pytest.mark.parametrize("printed", ["阴性(<0.9)", "0-0.9(阴性)", "阴性（<0.9）", "<0.9 (阴性)"])
def test_a_sign_word_with_its_cutoff_is_the_printed_range(printed):
    pr = parse_range(printed)
    assert pr is not None and pr.high == 0.9 and pr.text == printed


def test_a_result_with_a_comparator_beyond_the_bound_it_sits_on(kb):
    assert _record(kb, [("ALT", "name"), (">1000", "value"), ("U/L", "unit"), ("0-1000", "range")])[1]["flag"] == "H"
    assert _record(kb, [("ALT", "name"), ("<5", "value"), ("U/L", "unit"), ("5-40", "range")])[1]["flag"] == "L"
    assert _record(kb, [("ALT", "name"), (">40", "value"), ("U/L", "unit"), ("0-40", "range")])[1]["flag"] == "H"
    # a detection limit on the bound of a one-sided range is not beyond it
    assert _record(kb, [("ALT", "name"), ("<5", "value"), ("U/L", "unit"), ("<5", "range")])[1]["flag"] == "N"


def test_a_comma_that_may_be_a_thousands_separator_needs_review(kb):
    # '1,256' against '0-40', no mark: 1.256 (normal) or 1256 (31 times the limit)? kept as printed, for review
    it, rec = _record(kb, [("ALT", "name"), ("1,256", "value"), ("U/L", "unit"), ("0-40", "range")])
    assert rec["needs_review"] and "comma_read_as_point" in rec["review_reasons"]
    # the mark decides where the sheet prints one
    it, rec = _record(kb, [("ALT", "name"), ("1,256", "value"), ("↑", "flag"), ("U/L", "unit"), ("0-40", "range")])
    assert rec["value"] == 1256 and "comma_read_as_point" not in rec["review_reasons"]


def test_a_trace_of_urobilinogen_is_normal_where_no_range_is_printed(kb):
    # the knowledge base's normal results for urobilinogen include '±'; a printed '阴性' still makes it positive
    assert _record(kb, [("尿胆原", "name"), ("±", "value")], {"urinalysis"})[1]["flag"] == "N"
    assert _record(kb, [("尿胆原", "name"), ("+-", "value")], {"urinalysis"})[1]["flag"] == "N"
    assert _record(kb, [("尿胆原", "name"), ("±", "value"), ("阴性", "range")], {"urinalysis"})[1]["flag"] == "POS"
    assert _record(kb, [("尿蛋白", "name"), ("±", "value")], {"urinalysis"})[1]["flag"] == "POS"


def test_a_result_reported_elsewhere_says_so(kb):
    # '外周血分析 另报', '白细胞 见附页': the row is on the sheet, its result in another report: it comes back as
    # printed, with no flag and the note result_reported_elsewhere
    for cells in ([("外周血分析", "name"), ("另报", "value")], [("白细胞", "name"), ("见附页", "value")]):
        it, rec = _record(kb, cells)
        assert rec["flag"] is None and rec["value"] is None and "result_reported_elsewhere" in rec["review_reasons"]
    it, rec = _record(kb, [("外周血分析", "name"), ("未见异常", "value")])
    assert "result_reported_elsewhere" not in rec["review_reasons"]


def test_a_code_cell_holds_no_result(kb):
    # 'AT-II1' under 英文名称 (AT-III, its last I read as 1) beside its name and result: one row, result 88
    toks = [Token("AT-II1", 0.9, (10, 100, 80, 130), "code"), Token("抗凝血酶III", 0.9, (120, 100, 260, 130), "name"),
            Token("88", 0.99, (300, 100, 330, 130), "value"), Token("%", 0.99, (380, 100, 395, 130), "unit"),
            Token("80-120", 0.99, (430, 100, 520, 130), "range")]
    items = parse_row(kb, toks)
    assert [it.value.text for it in items] == ["88"]


def test_a_word_the_knowledge_base_calls_normal_and_the_sheets_mark(kb):
    # 淀粉颗粒 少量 with neither range nor mark printed: the knowledge base's normal results decide (N); a printed
    # '阳' in the mark column is the sheet's call (POS), kept with a warning that it disagrees
    it, rec = _record(kb, [("淀粉颗粒", "name"), ("少量", "value")], {"stool"})
    assert rec["flag"] == "N"
    warnings: list = []
    parser = LabReportParser(engine=object(), knowledge=kb)
    it = parse_row(kb, _row(("脂肪滴", "name"), ("少许", "value"), ("阳", "flag")))[0]
    ind, conf, how = choose_indicator(kb, it, set(), {"stool"})
    rec = parser._indicator_record(ind, conf, how, it, None, 0, warnings, None)
    assert rec["flag"] == "POS" and "flag_disagrees_with_range" in rec["review_reasons"]
