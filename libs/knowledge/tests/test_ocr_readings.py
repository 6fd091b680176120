"""What the OCR service needs from the package: unit spellings as a recogniser mangles them (data in units.yaml),
flag marks as a sheet prints them, qualitative grades, strict printed bounds and mark/result agreement."""
import pytest
import yaml

from zhenxi_knowledge import (Knowledge, KnowledgeError, flag_number, parse_flag, parse_range, qualitative_grade,
                              same_direction)


@pytest.mark.parametrize("printed,canonical", [
    ("g/1", "g/L"), ("mmol/1", "mmol/L"), ("μmol/l", "μmol/L"), ("f1", "fL"), ("fI", "fL"),
    ("10'9/L", "10^9/L"), ("10°9/L", "10^9/L"), ("×10'12/L", "10^12/L"), ("mmo1/L", "mmol/L"), ("μmo1/L", "μmol/L"),
    ("umo1/L", "μmol/L"), ("mmo1/1", "mmol/L"), ("nmoI/L", "nmol/L"), ("cells/ul", "/μL"), ("Cell/uL", "/μL"),
    ("/u1", "/μL"), ("个/u1", "/μL"), ("p/uL", "/μL"), ("p/HP", "/HP"),
])
def test_ocr_mangled_units_resolve(kb, printed, canonical):
    assert kb.units.is_unit(printed, misread=True)
    assert canonical in kb.units.canonical_units(kb.units.fix_misread(printed))


@pytest.mark.parametrize("printed", ["uMol/L", "UMOL/L", "umoL/L", "Umol/L"])
def test_micromoles_in_any_case(kb, printed):
    """The micro prefix as a sheet's font or the recogniser cases it; U/L (units) stays U/L."""
    assert kb.units.canonical_units(printed) == ["μmol/L"]
    assert "μmol/L" not in kb.units.canonical_units("U/L")


def test_misreadings_are_only_tried_when_asked(kb):
    assert not kb.units.is_unit("g/1")
    assert kb.units.resolve("g/1", kb.indicators["HGB"]) is None
    assert kb.units.resolve("g/1", kb.indicators["HGB"], misread=True) == ("g/L", 1.0)
    # a unit that reads as it stands is left alone; text that is no unit stays no unit
    assert kb.units.fix_misread("mmol/L") == "mmol/L"
    assert not kb.units.is_unit("白细胞", misread=True)
    assert kb.units.resolve("f1", kb.indicators["GLU"], misread=True) is None  # fL is not a glucose unit


def test_a_broken_misreading_pattern_is_refused(kb_copy):
    path = kb_copy / "indicators" / "units.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["misreadings"].append({"find": "([unclosed", "replace": "x", "note": "broken"})
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeError, match="misreadings"):
        Knowledge(kb_copy)


def test_sheet_marks():
    assert parse_flag("↑", markers_only=True) == "H" and parse_flag("↓↓", markers_only=True) == "LL"
    assert parse_flag("*", markers_only=True) == "ABN" and parse_flag("阳性", markers_only=True) == "POS"
    # a lone letter A on a sheet is a label, and result words are not marks
    assert parse_flag("A", markers_only=True) is None
    assert parse_flag("-", markers_only=True) is None and parse_flag("阴性", markers_only=True) is None


@pytest.mark.parametrize("text,grade", [
    ("未见", "negative"), ("未找到", "negative"), ("阴性(-)", "negative"), ("+-", "trace"), ("±", "trace"),
    ("2+", "2+"), ("+++", "3+"), ("阳性", "positive"), ("无", "negative"),
    ("未查见", "negative"), ("未发现", "negative"), ("未检到", "negative"),
    ("阳性(+)", "1+"), ("(+)", "1+"), ("阳性(++)", "2+"), ("阳性（3+）", "3+"),
])
def test_qualitative_grades(text, grade):
    assert qualitative_grade(text) == grade


@pytest.mark.parametrize("text", ["未见", "未查见", "未找到"])
def test_a_none_seen_range_is_negative(text):
    r = parse_range(text)
    assert r is not None and r.qualitative == "negative" and (r.low, r.high) == (None, None)


def test_strict_printed_bounds():
    r = parse_range("<8")
    assert r is not None and not r.high_inclusive
    assert flag_number(8, r.low, r.high, high_inclusive=r.high_inclusive) == "H"
    assert flag_number(8, r.low, r.high) == "N"  # '<=8' / '0-8' keep 8 in range
    assert flag_number(7.9, r.low, r.high, high_inclusive=False) == "N"
    g = parse_range(">60")
    assert flag_number(60, g.low, g.high, low_inclusive=g.low_inclusive) == "L"


def test_marks_on_positive_results_agree():
    assert same_direction("H", "POS") and same_direction("ABN", "POS") and same_direction("NEG", "N")
    assert not same_direction("POS", "NEG") and not same_direction("H", "L") and not same_direction("L", "POS")


@pytest.mark.parametrize("text,grade", [("弱阳性(+)", "1+"), ("弱阳性(±)", "trace"), ("弱阳性(+-)", "trace"),
                                        ("阳性(+)", "1+"), ("阳性(3+)", "3+"), ("阳性(++++)", "4+"), ("阳性", None),
                                        ("(+)", None)])
def test_one_reading_of_a_bracketed_grade(text, grade):
    """A sign word with its grade in brackets: the bracketed sign is the grade ('弱阳性(+)' is 1+ as '(+)' is)."""
    from zhenxi_knowledge import bracketed_grade
    assert bracketed_grade(text) == grade
    if grade is not None:
        assert qualitative_grade(text) == grade


@pytest.mark.parametrize("word", ["未检到", "未检见", "未查见", "未发现", "未查到", "未找见", "未找到", "未见",
                                  "notfound", "noneseen", "notdetected"])
def test_none_seen_words_are_one_list(word):
    """Every none-seen word is a negative result and a negative range alike (未检到 / 未检见 were results only)."""
    from zhenxi_knowledge import NONE_SEEN_WORDS
    assert word in NONE_SEEN_WORDS and qualitative_grade(word) == "negative"
    r = parse_range(word)
    assert r is not None and r.qualitative == "negative"


@pytest.mark.parametrize("printed", ["UL", "Ug/L", "UI/L"])
def test_a_capital_u_is_micro_only_before_mol(printed):
    """'UMOL/L' is μmol/L; a capital U before anything else is the enzyme unit ('UL' is U/L with its slash lost)."""
    from zhenxi_knowledge import norm_unit
    assert not norm_unit(printed).startswith("μ")


@pytest.mark.parametrize("text", ["Not found", "None seen", "Not detected", "Non-reactive"])
def test_english_none_seen_is_negative(text):
    """Hong Kong and Taiwan sheets print microscopy's none-seen in English: negative, never a positive word."""
    assert qualitative_grade(text) == "negative"
    assert parse_range(text).qualitative == "negative"


@pytest.mark.parametrize("text", ["阴性或弱阳性", "阴性或±", "正常或弱阳性"])
def test_negative_or_trace_is_a_negative_range(text):
    """Urobilinogen's reference: negative, a trace allowed."""
    r = parse_range(text)
    assert r is not None and r.qualitative == "negative" and r.low is None and r.high is None


def test_nil_is_no_negative_word():
    """'Nil' is also the control tube of an interferon-gamma release assay (QuantiFERON: Nil, TB1, Mitogen)."""
    assert parse_range("Nil") is None
