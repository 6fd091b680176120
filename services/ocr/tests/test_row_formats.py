"""Printed row formats of sheets from hospitals not seen yet (issue #9, round two of bench/ocr_rows.py): serology
indices with their reading, strip grades with their concentration, microscopy findings against 未见, units printed
in other cases or glued to the result, ranges split after their dash or printed per age group."""
import pytest

from app.knowledge import load_knowledge
from app.parsing import (Token, age_split_range, choose_indicator, count_or_titre_flag, parse_range, parse_row,
                         parse_value)
from app.service import LabReportParser


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
    return it, parser._uncoded_record(it, 0)


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
    """'白细胞 0-2 /HP 未见': the row came back with no flag (未见 was no range)."""
    _, rec = _record(kb, [("白细胞", "name"), ("0-2", "value"), ("/HP", "unit"), ("未见", "range")], {"stool"})
    assert rec["value_text"] == "0-2" and rec["flag"] == "POS"


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
    assert age_split_range("3.5-9.5") is None and age_split_range("成人:3.5-9.5", child=True) is None
