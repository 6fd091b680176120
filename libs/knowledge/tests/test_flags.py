"""One flag vocabulary, computed in one place; the one unit converter and range parser."""
import pytest

from zhenxi_knowledge import FLAGS, parse_flag, parse_range


def test_vocabulary():
    assert FLAGS == ("L", "N", "H", "LL", "HH", "POS", "NEG", "ABN")


@pytest.mark.parametrize("code,value,unit,sex,printed,expected", [
    ("WBC", 6.0, None, None, None, "N"),
    ("WBC", 12.0, "10^9/L", None, None, "H"),
    ("WBC", 3.0, None, None, None, "L"),
    ("WBC", 35, None, None, None, "HH"),          # beyond the 危急值 limit
    ("K", "2.4", "mmol/L", None, None, "LL"),
    ("WBC", 12000, "/μL", None, None, "H"),        # converted to 10^9/L first
    ("WBC", "12.0↑", None, None, None, "H"),       # arrow glued to the value
    ("GLU", 200, "mg/dL", None, None, "H"),        # 11.1 mmol/L
    ("HGB", 125, "g/L", "male", None, "L"),        # male range 130-175
    ("HGB", 125, "g/L", "female", None, "N"),
    ("HGB", 125, "g/L", None, None, "N"),          # sex unknown: the union, nobody flagged wrongly
    ("WBC", 9.0, None, None, "3.5-8.0", "H"),      # the printed range wins
    ("WBC", 9.0, None, None, {"low": 3.5, "high": 10}, "N"),
    ("HGB", 140, "g/L", "female", "男:130-175 女:115-135", "H"),
])
def test_quantitative_flags(kb, code, value, unit, sex, printed, expected):
    assert kb.flag(code, value, unit=unit, sex=sex, printed_range=printed) == expected


def test_qualitative_and_text_flags(kb):
    qual = next(c for c, i in kb.indicators.items() if i.kind == "qualitative")
    assert kb.flag(qual, "阴性") == "NEG"
    assert kb.flag(qual, "阳性") == "POS"
    assert kb.flag(qual, "2+") == "POS"
    text = next((c for c, i in kb.indicators.items() if i.kind == "text" and i.normal), None)
    if text:
        assert kb.flag(text, kb.indicators[text].normal[0]) == "N"
        assert kb.flag(text, "墨绿色浑浊") == "ABN"


def test_unconvertible_unit_gives_no_flag_and_says_why(kb):
    a = kb.assess("WBC", 6.0, unit="mmHg")
    assert a.flag is None and a.reason == "unit_not_convertible"
    assert kb.assess("WBC", "很多").reason == "value_not_numeric"


def test_assessment_carries_reference_and_canonical_value(kb):
    a = kb.assess("GLU", 126, "mg/dL")
    assert a.canonical_value == pytest.approx(126 * kb.indicators["GLU"].units["mg/dL"])
    assert a.reference["source"] == "default" and a.reference["unit"] == "mmol/L"
    assert kb.assess("WBC", 40).critical is True


@pytest.mark.parametrize("text,expected", [("↑", "H"), ("↓↓", "LL"), ("偏高", "H"), ("L", "L"), ("阳性", "POS"),
                                           ("*", "ABN"), ("HH", "HH"), ("-", "NEG"), ("?", None), ("", None)])
def test_printed_flags(text, expected):
    assert parse_flag(text) == expected


@pytest.mark.parametrize("text,low,high", [("3.5-9.5", 3.5, 9.5), ("3.5~9.5", 3.5, 9.5), ("(3.5--9.5)", 3.5, 9.5),
                                           ("<5.2", None, 5.2), ("≥1.0", 1.0, None), ("-3~+3", -3, 3),
                                           ("3.5 到 9.5", 3.5, 9.5)])
def test_range_parser(text, low, high):
    r = parse_range(text)
    assert (r.low, r.high) == (low, high)


def test_range_parser_refuses_non_ranges():
    assert parse_range("9.5-3.5") is None and parse_range("白细胞") is None
    assert parse_range("阴性").qualitative == "negative"


@pytest.mark.parametrize("printed,canonical", [("×10⁹/L", "10^9/L"), ("x10^9/L", "10^9/L"), ("umol/L", "μmol/L"),
                                               ("mmol/l", "mmol/L"), ("Ｕ／Ｌ", "U/L")])
def test_unit_normaliser(kb, printed, canonical):
    assert canonical in kb.units.canonical_units(printed)


def test_resolve_indicator_by_code_or_name(kb):
    assert kb.resolve_indicator("wbc") == "WBC"
    assert kb.resolve_indicator(None, "白细胞计数") == "WBC"
    assert kb.resolve_indicator(None, "谷丙转氨酶") == "ALT"
    assert kb.resolve_indicator("nonsense", "也不是") is None


def test_ucum_codes_for_canonical_units(kb):
    assert kb.units.ucum["10^9/L"] == "10*9/L" and kb.units.ucum["μmol/L"] == "umol/L"
    assert set(kb.units.ucum) <= set(kb.units.canonical)


@pytest.mark.parametrize("text,low,high,by_sex", [
    ("女:41-73", 41.0, 73.0, {"female": (41.0, 73.0)}),  # one sex printed: the patient's own
    ("(男)4.3-5.8 (女)3.8-5.1", 3.8, 5.8, {"male": (4.3, 5.8), "female": (3.8, 5.1)}),
    ("男性 8.4-28.7 女性 0.29-1.67", 0.29, 28.7, {"male": (8.4, 28.7), "female": (0.29, 1.67)}),
    ("大于1.04", 1.04, None, None), ("小于等于40", None, 40.0, None), ("〈3.0", None, 3.0, None),
    ("125·0-350·0", 125.0, 350.0, None),
])
def test_ranges_as_other_hospitals_print_them(text, low, high, by_sex):
    r = parse_range(text)
    assert (r.low, r.high, r.by_sex) == (low, high, by_sex)


def test_one_sex_and_more_text_is_no_range():
    assert parse_range("女:41-73 U/L") is None and parse_range("男") is None
