"""Pure cell and row parsing (no model)."""
import pytest

from app.knowledge import load_knowledge
from app.parsing import (
    Token,
    choose_indicator,
    interpret,
    parse_flag,
    parse_range,
    parse_row,
    parse_row_all,
    parse_value,
    same_direction,
    split_flag,
)


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


@pytest.mark.parametrize("text,low,high", [
    ("3.5-9.5", 3.5, 9.5), ("3.5~9.5", 3.5, 9.5), ("3.50--9.50", 3.5, 9.5), ("(3.5-9.5)", 3.5, 9.5),
    ("<5.2", None, 5.2), ("≤5.2", None, 5.2), ("≥1.0", 1.0, None), (">=1.0", 1.0, None), ("0-0.06", 0, 0.06),
    ("-3~+3", -3, 3), ("125—350", 125, 350), ("3.5 - 9.5", 3.5, 9.5),
])
def test_parse_range_forms(text, low, high):
    r = parse_range(text)
    assert (r.low, r.high) == (low, high)


def test_parse_range_qualitative_and_garbage():
    assert parse_range("阴性").qualitative == "negative"
    assert parse_range("白细胞") is None
    assert parse_range("9.5-3.5") is None


@pytest.mark.parametrize("text,number,cmp,qual", [
    ("6.52", 6.52, None, None), ("<0.50", 0.5, "<", None), ("O.52", 0.52, None, None), ("6,52", 6.52, None, None),
    ("阴性", None, None, "negative"), ("2+", None, None, "2+"), ("±", None, None, "trace"),
    ("阴性(-)", None, None, "negative"), ("阳性", None, None, "positive"),
    # a point lost after a leading zero (faint or dotted print): no result is printed as '04'
    ("04", 0.4, None, None), ("005", 0.05, None, None), ("<05", 0.5, "<", None), ("0", 0.0, None, None),
])
def test_parse_value(text, number, cmp, qual):
    v = parse_value(text)
    assert (v.number, v.comparator, v.qualitative) == (number, cmp, qual)


def test_non_values():
    assert parse_value("白细胞") is None
    assert parse_value("") is None


@pytest.mark.parametrize("text,rest,flag", [
    ("112↓", "112", "L"), ("15.2 ↑", "15.2", "H"), ("↑15.2", "15.2", "H"), ("30.1↑↑", "30.1", "HH"),
    ("7.9 H", "7.9", "H"), ("2.1L", "2.1", "L"), ("6.52", "6.52", None), ("11.7 1", "11.7", None),
    ("500.5.1", "500.5", None),  # '500.5↑' on a recompressed photo: the arrow's foot read as a second point
])
def test_split_flag(text, rest, flag):
    assert split_flag(text) == (rest, flag)


def test_flag_cells_and_interpretation():
    assert parse_flag("↑") == "H" and parse_flag("L") == "L" and parse_flag("偏低") == "L"
    assert parse_flag("mmol/L") is None
    from app.knowledge import Range

    assert interpret(10.0, 3.5, 9.5) == "H"
    assert interpret(3.0, 3.5, 9.5) == "L"
    assert interpret(3.5, 3.5, 9.5) == "N"
    assert interpret(1.5, 3.5, 9.5, Range(2.0, 30.0)) == "LL"
    assert interpret(5.0, None, None) is None
    assert same_direction("H", "HH") and not same_direction("H", "L") and not same_direction("H", "N")


def _toks(*cells, y=100):
    out, x = [], 10
    for c in cells:
        w = 18 * len(c)
        out.append(Token(c, 0.99, (x, y, x + w, y + 30)))
        x += w + 40
    return out


def test_row_with_separate_columns(kb):
    items = parse_row(kb, _toks("1", "白细胞计数", "WBC", "11.2", "↑", "10^9/L", "3.5-9.5"))
    assert len(items) == 1
    it = items[0]
    assert it.value.text == "11.2" and it.flag_code == "H" and it.unit.text == "10^9/L"
    assert (it.parsed_range.low, it.parsed_range.high) == (3.5, 9.5)
    assert choose_indicator(kb, it, set())[0].code == "WBC"


def test_name_running_into_value(kb):
    items = parse_row(kb, _toks("嗜酸性粒细胞百分4.40", "0.4-8.0", "%"))
    assert len(items) == 1
    assert items[0].value.text == "4.40"
    assert choose_indicator(kb, items[0], set())[0].code == "EO%"


def test_two_tables_in_one_row(kb):
    items = parse_row(kb, _toks("血红蛋白", "112↓", "130-175", "g/L", "血小板计数", "210", "125-350", "10^9/L"))
    codes = [choose_indicator(kb, it, set())[0].code for it in items]
    assert codes == ["HGB", "PLT"]
    assert items[0].flag_code == "L"


def test_whole_row_in_one_box(kb):
    items = parse_row(kb, _toks("收缩压 SYS 145 mmHg"))
    assert len(items) == 1 and items[0].value.text == "145"
    assert choose_indicator(kb, items[0], set())[0].code == "SBP"


def test_a_name_printed_with_a_space_inside_stays_one_name(kb):
    """'抗U1 RNP' read as one line: split at its space, '抗U1' is no row name on its own (one character) and was
    dropped while 'RNP' came back as the row's whole name. The fragment is joined to the unknown word after it; a
    known name after a fragment ('尿 PH' apart) and a whole-row line are split as before."""
    row = _toks("抗U1 RNP", "66(+)", "<25")
    for tok, col in zip(row, ("name", "value", "range")):
        tok.column = col
    items = parse_row(kb, row)
    assert len(items) == 1 and [c.text for c, _ in items[0].names] == ["抗U1 RNP"]
    assert items[0].value.text == "66(+)"
    items = parse_row(kb, _toks("血 钾 4.1 mmol/L"))
    assert items[-1].value.text == "4.1" and choose_indicator(kb, items[-1], set())[0].code == "K"


def test_a_code_suffix_read_as_a_digit_is_no_negative_result(kb):
    """'HCT-M 红细胞压积' with the suffix letter read as a digit ('HCT-4'): a minus and one digit glued to a code's
    letters is part of the code, not the row's result (-4) beside a second row for the Chinese name."""
    for code in ("HCT-4", "HCT-M"):
        items = parse_row(kb, _toks(f"{code} 红细胞压积", "40.9", "36-50", "%"))
        assert len(items) == 1 and items[0].value.text == "40.9"
        assert choose_indicator(kb, items[0], set())[0].code == "HCT"
    # a result printed apart from its name is still read with its sign
    items = parse_row(kb, _toks("碱剩余", "-4", "-3~+3", "mmol/L"))
    assert items[0].value.text == "-4"
    # a test whose range runs below zero (base excess) keeps a negative result glued to its code
    for glued in ("BE-3", "ABE-4"):
        items = parse_row(kb, _toks(glued, "mmol/L", "-3~+3"))
        assert len(items) == 1 and items[0].value.text == glued[-2:]
        assert choose_indicator(kb, items[0], set())[0].code == "BE"


def test_the_hours_of_a_timed_test_are_no_result_with_a_mark(kb):
    """'2h', '24h' printed as a word of the name (a 2-hour glucose, a 24-hour urine protein) are no result with a
    lower-case 'h' mark: the result is the number in the result column. '98.6h' (a decimal) still is."""
    items = parse_row(kb, _toks("C肽", "2h", "3.2", "ng/mL", "1.1-4.4"))
    assert len(items) == 1 and items[0].value.text == "3.2" and items[0].flag_code is None
    items = parse_row(kb, _toks("尿微量白蛋白", "24h", "25.1", "mg/L", "<30"))
    assert len(items) == 1 and items[0].value.text == "25.1"
    assert split_flag("98.6h") == ("98.6", "H") and split_flag("24h") == ("24h", None)


def test_a_count_per_microlitre_unit_is_no_name(kb):
    """'Leu/μl' (leukocytes per μL) starts with a name the knowledge base knows (LEU): it is a unit, not a row. A line
    that runs from the unit column of one block into the next block's numbered name ('Leu/ul 22 类酵母菌') gives no
    row 'Leu/ul' with the row number 22 for its result."""
    items = parse_row_all(kb, _toks("Leu/ul 22 类酵母菌", "0", "0~1.00"))
    assert [(it.row_no, it.value.text if it.value else None) for it in items] == [(22, "0")]
    items = parse_row(kb, _toks("白细胞", "15", "0~24", "Leu/μl"))
    assert len(items) == 1 and items[0].unit.text == "Leu/μl"


def test_a_misread_unit_with_a_digit_is_no_name_and_result(kb):
    """'mg/1' (mg/l with its l read as 1) starts with a name the knowledge base knows (Mg): it is the row's unit,
    not a row 'mg/' with the result 1."""
    items = parse_row_all(kb, _toks("β2微球蛋白", "3.00", "1.00~3.00", "mg/1"))
    assert len(items) == 1 and items[0].value.text == "3.00" and items[0].unit.text == "mg/1"


def test_a_stray_dash_beside_the_range_separator(kb):
    """'5.00~-38.00': a dash read beside the separator is no minus sign on the upper bound; a range that runs
    downwards that way is no range, and a real negative bound ('-3~-1') is read as before."""
    assert (parse_range("5.00~-38.00").low, parse_range("5.00~-38.00").high) == (5.0, 38.0)
    assert (parse_range("0.5-~5").low, parse_range("0.5-~5").high) == (0.5, 5.0)
    assert parse_range("5~-1") is None
    assert (parse_range("-3~-1").low, parse_range("-3~-1").high) == (-3.0, -1.0)
    items = parse_row(kb, _toks("比重", "1.020", "1.005~-1.030"))
    assert (items[0].parsed_range.low, items[0].parsed_range.high) == (1.005, 1.03)
    row = _toks("电导率", "30.20", "5.00~-38.00 mS/cm")
    for tok, col in zip(row, ("name", "value", "range")):
        tok.column = col
    items = parse_row(kb, row)
    assert (items[0].parsed_range.low, items[0].parsed_range.high) == (5.0, 38.0)


def test_truncated_name_is_resolved_by_unit(kb):
    pct = parse_row(kb, _toks("嗜酸性粒细胞", "4.4", "%", "0.4-8.0"))[0]
    abs_ = parse_row(kb, _toks("嗜酸性粒细胞", "0.21", "10^9/L", "0.02-0.52"))[0]
    assert choose_indicator(kb, pct, set())[0].code == "EO%"
    assert choose_indicator(kb, abs_, set())[0].code == "EO#"


def test_header_lines_do_not_become_indicators(kb):
    assert parse_row(kb, _toks("性别:", "男", "年龄:", "45岁")) == []
    assert parse_row(kb, _toks("采样时间:", "2024-03-01", "08:30")) == []
    assert parse_row(kb, _toks("本报告仅对所检标本负责")) == []


def test_form_fields_without_a_colon_are_not_rows(kb):
    """The form's own fields printed under the table without a colon ('送检  检验完成', '采样 08:30', '签收 张三'), put
    among the rows by a tilted photo, are no tests; a test's unknown name with a word result still comes back."""
    def row(*cells):
        toks = _toks(*cells)
        for tok, col in zip(toks, ("name", "value", "range")):
            tok.column = col
        return parse_row(kb, toks)

    assert row("送检", "检验完成", "报告打印") == []
    assert row("签收", "阴性") == [] and row("申请单", "阴性") == []
    assert [c.text for c, _ in row("电导率分级", "3级")[0].names] == ["电导率分级"]


def test_a_range_cut_after_the_point_of_its_upper_bound(kb):
    """'10.9--15.': the photo's edge cut the upper bound's decimals (15.4). Its whole part is kept as the bound,
    so the row keeps a printed range to flag against; the bound must still lie above the lower one, and a point
    after a lone number or a one-sided range is not read this way."""
    pr = parse_range("10.9--15.")
    assert (pr.low, pr.high, pr.text) == (10.9, 15.0, "10.9--15.")
    assert (parse_range("0.5~5.").low, parse_range("0.5~5.").high) == (0.5, 5.0)
    assert parse_range("20-10.") is None and parse_range("15.") is None
    items = parse_row(kb, _toks("红细胞分布宽度-CV", "11.9", "10.9--15."))
    assert (items[0].parsed_range.low, items[0].parsed_range.high) == (10.9, 15.0)


def test_sex_specific_printed_range(kb):
    r = parse_range("男:130-175 女:115-150")
    assert r.for_sex("male") == (130, 175) and r.for_sex("female") == (115, 150)
    assert r.for_sex(None) == (115, 175)
    items = parse_row(kb, _toks("血红蛋白", "120", "g/L", "男:130-175 女:115-150"))
    assert items[0].parsed_range.for_sex("female") == (115, 150)


def test_code_cell_is_not_split_into_name_and_value(kb):
    items = parse_row(kb, _toks("总三碘甲状腺原氨酸", "T3", "1.87", "nmol/L", "1.3-3.1"))
    assert items[0].value.text == "1.87"
    assert choose_indicator(kb, items[0], set())[0].code == "T3"


def test_range_cell_is_not_taken_as_the_result_when_the_next_block_begins(kb):
    """The result of 尿胆红素 was not read; its printed range 阴性 must not become the result just because the block
    beside starts with an unknown name and a descriptive result."""
    from app.parsing import parse_row_all

    def t(text, x, col):
        return Token(text, 0.99, (x, 100, x + 16 * len(text), 128), col)

    row = [t("尿胆红素", 40, "name"), t("阴性", 420, "range"), t("电导率分级", 700, "name"), t("4级", 950, "value")]
    items = parse_row_all(kb, row)
    assert items[0].value is None and items[0].range is not None and items[0].range.text == "阴性"
    assert items[1].value is not None and items[1].value.text == "4级"


def test_range_printed_with_spaces_comes_back_whole(kb):
    """'0.8 - 2.0' read as '0.8' + '-2.0', '120 一 160' as three boxes, '100 350' with the dash lost: one range
    each, after the result; an arrow before the unit read as 't' / '1' does not hide the unit."""
    def t(text, x, col):
        return Token(text, 0.99, (x, 100, x + 14 * len(text), 128), col)

    def one(*cells):
        items = parse_row(kb, [t(*c) for c in cells])
        assert len(items) == 1
        return items[0]

    it = one(("网织红细胞百分比", 40, "name"), ("1.59", 300, "value"), ("%", 380, "unit"), ("0.8", 470, "range"),
             ("-2.0", 520, "range"))
    assert it.range.text == "0.8-2.0" and (it.parsed_range.low, it.parsed_range.high) == (0.8, 2.0)
    it = one(("血红蛋白", 40, "name"), ("155", 300, "value"), ("g/L", 380, "unit"), ("120", 470, "range"),
             ("一", 520, "range"), ("160", 545, "range"))
    assert (it.parsed_range.low, it.parsed_range.high) == (120, 160)
    it = one(("白细胞", 40, "name"), ("47.24", 300, "value"), ("t×10^9/L", 370, "unit"), ("3.50", 480, "range"),
             ("9.50", 550, "range"))
    assert (it.parsed_range.low, it.parsed_range.high) == (3.5, 9.5) and it.unit.text == "×10^9/L"
    it = one(("单核细胞百分比", 40, "name"), ("2.0", 300, "value"), ("1%", 380, "unit"), ("3.0", 470, "range"),
             ("-8.0", 520, "range"))
    assert it.unit.text == "%" and (it.parsed_range.low, it.parsed_range.high) == (3.0, 8.0)
    # a result that the header put under 参考范围 is not glued to the range after it
    it = one(("白细胞", 40, "name"), ("2.90", 300, "range"), ("0~9.00", 420, "range"))
    assert it.value.text == "2.90" and it.range.text == "0~9.00"
    # an analyser's strip, no column header read: the unit and its spaced range in one box ('umol/L 57 - 97'),
    # once taken as unit 'umol/L' and range '-' (no flag decided)
    it = one(("CREA  87.3", 60, None), ("umol/L 57 - 97", 340, None))
    assert it.value.text == "87.3" and it.unit.text == "umol/L"
    assert (it.parsed_range.low, it.parsed_range.high) == (57, 97)
    # ... but with no header two bare numbers after a result may be earlier results, never a range (a review:
    # '5.6 6.1 7.0' had made 6.1-7.0 the printed range and flagged 5.6 low)
    it = one(("白细胞计数", 40, None), ("5.6", 200, None), ("6.1", 260, None), ("7.0", 320, None),
             ("10^9/L", 380, None))
    assert it.value.text == "5.6" and it.range is None


def test_percentage_suffix_turns_a_misread_count_into_its_percentage(kb):
    """'温区细胞比率 Lymh' (淋巴细胞比率 Lym% misread): the code reads as the count, the printed 比率 and the range
    scale say percentage."""
    def t(text, x, col):
        return Token(text, 0.99, (x, 100, x + 14 * len(text), 128), col)

    it = parse_row(kb, [t("温区细胞比率", 40, "name"), t("Lymh", 190, "code"), t("28.3", 300, "value"),
                        t("20-50", 420, "range")])[0]
    assert choose_indicator(kb, it, set())[0].code == "LYMPH%"
    it = parse_row(kb, [t("淋巴细胞", 40, "name"), t("Lym#", 190, "code"), t("1.66", 300, "value"),
                        t("1.1-3.2", 420, "range")])[0]
    assert choose_indicator(kb, it, set())[0].code == "LYMPH#"


def test_glued_cells_under_the_name_header(kb):
    """A result glued to a long name the knowledge base spells otherwise ('平均红细胞Hb含量27.4'), a qualitative result
    glued to a cut name ('肺炎支原体IgM(胶阴性'), a range glued to its unit ('320.0-355.0g/L') and a range printed
    with % on both bounds ('50.0%--70.0%')."""
    from app.parsing import parse_row_all

    def t(text, x, col):
        return Token(text, 0.99, (x, 100, x + 14 * len(text), 128), col)

    def one(*cells):
        items = parse_row_all(kb, [t(*c) for c in cells])
        assert len(items) == 1
        return items[0]

    it = one(("平均红细胞Hb含量27.4", 40, "name"), ("27.8-33.8", 420, "range"), ("pg", 560, "unit"))
    assert it.value.text == "27.4" and it.range.text == "27.8-33.8"
    it = one(("肺炎支原体IgM(胶阴性", 40, "name"), ("阴性", 420, "range"))
    assert it.names[0][0].text == "肺炎支原体IgM(胶" and it.parsed_value.qualitative == "negative"
    it = one(("平均红细胞Hb浓度329", 40, "name"), ("320.0-355.0g/L", 420, "unit"))
    assert it.value.text == "329" and it.range.text == "320.0-355.0" and it.unit.text == "g/L"
    it = one(("中性粒细胞%", 40, "name"), ("70.1", 300, "value"), ("50.0%--70.0%", 420, "range"))
    assert (it.parsed_range.low, it.parsed_range.high) == (50.0, 70.0)
    assert one(("尿蛋白", 40, "name"), ("阴性", 300, "value")).names[0][0].text == "尿蛋白"
    it = one(("红细胞[RBC]", 40, "name"), ("3.67", 300, "value"), ("1012/L3.50-5.50", 420, "range"))
    assert it.range.text == "3.50-5.50" and it.unit.text == "1012/L"
    it = one(("单核细胞计数", 40, "name"), ("0.95", 300, "value"), ("0.12--1.00×10°/L", 420, "range"))
    assert (it.parsed_range.low, it.parsed_range.high) == (0.12, 1.0) and it.unit.text == "×10°/L"
    it = one(("单核细胞比率", 40, "name"), ("9.10", 300, "value"), ("13-8", 420, "range"))  # '↑ 3-8'
    assert (it.parsed_range.low, it.parsed_range.high) == (3, 8)
    # one text line running from the left block's range and unit into the right block's name and result
    items = parse_row_all(kb, [t("淋巴细胞计数", 40, "name"), t("2.10", 300, "value"),
                               t("0.80--4.00×10°/L血小板平均体积9.7", 420, "range"), t("6.5--12.0fl", 900, "range")])
    assert [(it.names[0][0].text, it.value.text, it.range.text) for it in items] == [
        ("淋巴细胞计数", "2.10", "0.80--4.00"), ("血小板平均体积", "9.7", "6.5--12.0")]


def test_a_lone_plus_minus_after_the_range_is_the_rows_mark(kb):
    """Autoantibody sheets print a +/- mark after the range; a glued header ('参考值提示') can put that column under
    the range. The mark still belongs to the row; a +/- before the range is the result."""
    from app.parsing import parse_row_all

    def t(text, x, col):
        return Token(text, 0.99, (x, 100, x + 14 * len(text), 128), col)

    it = parse_row_all(kb, [t("滴度1", 40, "name"), t("1:1280", 300, "range"), t("阴性", 500, "range"),
                            t("+", 700, "range")])[0]
    assert it.value.text == "1:1280" and it.flag_code == "POS"
    it = parse_row_all(kb, [t("尿蛋白", 40, "name"), t("+", 300, "value"), t("阴性", 500, "range")])[0]
    assert it.value.text == "+" and it.flag is None


def test_a_result_glued_to_its_unit_without_a_space(kb):
    """'22.0%' in the result column (大血小板比率 on a dev sheet): the first split of 'value then unit' was
    '2' + '2.0%', no unit, so the row came back with no result at all."""
    toks = [Token("25 大血小板比率", 0.94, (631, 537, 781, 567), "name"), Token("22.0%", 0.9, (800, 537, 850, 567), "value"),
            Token("11.0- 45.0", 0.9, (900, 537, 990, 567), "unit")]
    (it,) = parse_row(kb, toks)
    assert (it.value.text, it.unit.text, it.range.text) == ("22.0", "%", "11.0- 45.0")
    (it,) = parse_row(kb, [Token("血红蛋白", 0.9, (40, 0, 120, 20), "name"), Token("120g/L", 0.9, (300, 0, 360, 20), "value")])
    assert (it.value.text, it.unit.text) == ("120", "g/L")


def test_a_range_glued_to_a_count_unit_written_with_ge(kb):
    """'0~7.00个/ul': a range glued to a unit that starts with 个 (个/ul, 个/HP) is a range and a unit, so the result
    before it is judged against 0-7."""
    toks = [Token("粘液丝", 0.9, (700, 450, 760, 470), "name"), Token("29.46", 0.9, (944, 450, 990, 470), "value"),
            Token("0~7.00个/ul", 0.9, (1105, 450, 1200, 470), "range")]
    (it,) = parse_row(kb, toks)
    assert (it.value.text, it.range.text, it.unit.text) == ("29.46", "0~7.00", "个/ul")
    assert (it.parsed_range.low, it.parsed_range.high) == (0.0, 7.0)


@pytest.mark.parametrize("text,number,grade", [("500 +++", 500.0, "3+"), ("+++ 200", 200.0, "3+"),
                                               ("25 ±", 25.0, "trace"), ("2+ 1.0", 1.0, "2+"),
                                               ("28 mmol/L 2+", 28.0, "2+"), ("2+ 200 Ery/μL", 200.0, "2+"),
                                               ("1.0 g/L (1+)", 1.0, "1+"), ("1+(0.3g/L)", 0.3, "1+"),
                                               ("±(0.15)", 0.15, "trace"), ("4+(≥55mmol/L)", 55.0, "4+")])
def test_a_number_with_its_grade_is_read_as_both(text, number, grade):
    from app.parsing import parse_value

    pv = parse_value(text)
    assert (pv.number, pv.qualitative) == (number, grade)


@pytest.mark.parametrize("text", ["500 +++", "500 ＋＋＋", "５００　＋＋＋", "＋＋＋ 200", "28 mmol/L 2+", "2+ 200 Ery/μL"])
def test_a_number_with_its_grade_is_kept_whole_in_any_width(text):
    """explode splits a line at spaces; a number with its grade is one result. It matched the raw text while
    parse_value reads NFKC, so a full-width '＋＋＋' (or ideographic space) split the result from its grade."""
    from app.parsing import explode

    assert [t.text for t in explode(kb, Token(text, 0.9, (0, 0, 100, 20), "value"))] == [text]


def test_a_number_and_a_dash_is_not_a_grade():
    from app.parsing import parse_value

    assert parse_value("5 -") is None or parse_value("5 -").qualitative is None


@pytest.mark.parametrize("printed", ["3", "3.", "3、"])
def test_a_row_number_under_its_column_in_any_printed_form(kb, printed):
    """The 序号 column's '3、' is row 3, as '3' and '3.' are: layout.row_numbers and the parser share one pattern
    (the parser had taken only '3' and '3.', so a sheet numbered with 、 came back without row numbers)."""
    row = [Token(printed, 0.95, (20, 100, 50, 128), column="seq"),
           Token("白细胞计数", 0.95, (80, 100, 260, 128), column="name"),
           Token("6.2", 0.95, (300, 100, 360, 128), column="value"),
           Token("3.5-9.5", 0.95, (400, 100, 500, 128), column="range")]
    items = parse_row(kb, row)
    assert len(items) == 1 and items[0].row_no == 3


def test_a_whole_row_placed_under_the_row_number_column_has_one_row_number(kb):
    """'17 平均红细胞血红蛋白浓度 314' read as one box and placed under 序号 by its first characters: split at its
    spaces, only the first number is the row number; the last one is the result, not a second row number."""
    row = [Token("17 平均红细胞血红蛋白浓度 314", 0.95, (20, 100, 600, 128), column="seq"),
           Token("316--354", 0.95, (650, 100, 750, 128), column="range"),
           Token("g/L", 0.95, (780, 100, 830, 128), column="unit")]
    items = parse_row(kb, row)
    assert [(it.names[0][0].text, it.value.text, it.range.text) for it in items] == \
        [("平均红细胞血红蛋白浓度", "314", "316--354")]
    assert choose_indicator(kb, items[0], set())[0].code == "MCHC"


def test_one_character_unknown_name_is_a_row_only_with_the_rows_structure(kb):
    """'钢' (钠 misread) under the name column before a result, a range and a unit is a row (uncoded); a stray
    character without a result in the result column, or with a bare number and nothing else, is not."""
    from app.parsing import parse_row_all

    def t(text, x, col):
        return Token(text, 0.99, (x, 100, x + 14 * len(text), 128), col)

    it = parse_row_all(kb, [t("钢", 40, "name"), t("146.3", 300, "value"), t("137.0-147.0", 440, "range"),
                            t("mmol/L", 600, "unit")])
    assert [(it[0].names[0][0].text, it[0].value.text, it[0].unit.text) for _ in it] == [("钢", "146.3", "mmol/L")]
    assert parse_row_all(kb, [t("院", 40, "name"), t("12", 300, "value")]) == []
    assert parse_row_all(kb, [t("院", 40, "name"), t("137.0-147.0", 440, "range"), t("mmol/L", 600, "unit")]) == []
    # a sign word under the result header is a result: '血 | 阴性' (gross blood on a stool sheet); a '-' there is not
    it = parse_row_all(kb, [t("血", 40, "name"), t("阴性", 300, "value")])
    assert [(x.names[0][0].text, x.parsed_value.qualitative) for x in it] == [("血", "negative")]
    assert parse_row_all(kb, [t("院", 40, "name"), t("-", 300, "value")]) == []
    assert parse_row_all(kb, [t("院", 40, "name"), t("阴性", 440, "range")]) == []


# ---- glyphs a small or recompressed photo (chat app, web page) garbles -----------------------------------------

@pytest.mark.parametrize("text,low,high", [("1<8", None, 8.0), ("t<8", None, 8.0), ("1≤0.5", None, 0.5)])
def test_an_arrow_read_as_one_before_a_one_sided_range(text, low, high):
    """'↑<8' with the arrow's head lost, read as '1<8': still the range <8 (a range never starts with a digit
    before its comparator)."""
    r = parse_range(text)
    assert (r.low, r.high) == (low, high)


@pytest.mark.parametrize("text,number,qual,shown", [
    ("1(−)", 1.0, "negative", "1(-)"), ("3(–)", 3.0, "negative", "3(-)"), ("18(一)", 18.0, "negative", "18(-)"),
    ("66(十)", 66.0, "1+", "66(+)"), ("I+", None, "1+", "1+"), ("l+", None, "1+", "1+"), ("|+", None, "1+", "1+"),
    # dot-matrix print: the '(-)' after a sign word read as exclamation marks; a positive's grade is lost with it
    ("阴性！)", None, "negative", "阴性(-)"), ("阴性!!", None, "negative", "阴性(-)"), ("阳性！)", None, "positive", "阳性"),
    ("陰性!", None, "negative", "陰性(-)"), ("弱阳性！)", None, "trace", "弱阳性"),
])
def test_result_signs_as_a_blurred_photo_returns_them(text, number, qual, shown):
    """The minus inside '1(-)' comes back as '−' (U+2212), '–' or '一', the thin '1' of '1+' as 'I', 'l' or '|': the
    result is still read (it was dropped, and the row lost), and given back as printed."""
    from app.parsing import result_glyphs

    v = parse_value(text)
    assert (v.number, v.qualitative) == (number, qual)
    assert result_glyphs(text) == shown


def test_an_arrow_read_as_t_before_a_glued_range_and_unit_is_not_a_row(kb):
    """'粘液丝 29.46 t 0-7.00 个/ul': the ↑ read as 't' ('T' is an alias of 体温) began a row of its own, which
    dropped the range glued to the unit; the row keeps its range."""
    row = [Token("粘液丝", 0.99, (100, 100, 160, 120), "name"), Token("29.46", 0.99, (300, 100, 350, 120), "value"),
           Token("t", 0.87, (360, 100, 368, 120), "value"), Token("0-7.00 个/ul", 0.95, (440, 100, 560, 120), "unit")]
    items = parse_row(kb, row)
    assert len(items) == 1
    assert (items[0].value.text, items[0].range.text, items[0].unit.text) == ("29.46", "0-7.00", "个/ul")


def test_an_arrow_read_as_t_under_the_flag_header_is_not_a_row_before_a_previous_result(kb):
    """'血小板计数 362 ↑ 293 ×10^9/L 125-350' on a sheet with a 上次结果 (previous result) column after 提示: the ↑
    read as 't' under 提示 began a row 't 293' of its own. Under the flag header it is the mark whose head was
    lost; the previous result stays out of the row, the range flags it."""
    row = [Token("血小板计数", 0.99, (34, 605, 130, 629), "name"), Token("362", 0.99, (286, 604, 320, 630), "value"),
           Token("t", 0.7, (414, 609, 420, 621), "flag"), Token("293", 0.99, (457, 605, 490, 628), "flag"),
           Token("x10^9/L", 0.99, (575, 605, 650, 629), "unit"), Token("125-350", 0.99, (695, 606, 770, 627), "range")]
    items = parse_row_all(kb, row)
    assert len(items) == 1
    assert (items[0].value.text, items[0].unit.text, items[0].range.text) == ("362", "x10^9/L", "125-350")


@pytest.mark.parametrize("arrow", ["t", "T"])
@pytest.mark.parametrize("last_col", [None, "flag"])
def test_an_arrow_read_as_t_under_the_flag_header_after_the_range_is_not_a_row(kb, arrow, last_col):
    """'血小板计数 362 x10^9/L 125-350 ↑ 293': 提示 after the unit and range, a 上次结果 column last. The ↑ read as
    't' (or 'T') under 提示 is the row's lost mark, not a row 't 293' (nor 体温 293) of its own."""
    row = [Token("血小板计数", 0.99, (34, 605, 130, 629), "name"), Token("362", 0.99, (286, 604, 320, 630), "value"),
           Token("x10^9/L", 0.99, (375, 605, 450, 629), "unit"), Token("125-350", 0.99, (495, 606, 570, 627), "range"),
           Token(arrow, 0.7, (634, 609, 640, 621), "flag"), Token("293", 0.99, (707, 605, 740, 628), last_col)]
    items = parse_row_all(kb, row)
    assert len(items) == 1
    assert (items[0].value.text, items[0].unit.text, items[0].range.text) == ("362", "x10^9/L", "125-350")


def test_a_t_outside_the_flag_header_after_a_full_row_is_still_read(kb):
    """'T' outside the 提示 column after a row with its unit and range is 体温's name in the block beside, not a
    lost arrow."""
    row = [Token("血小板计数", 0.99, (34, 605, 130, 629), "name"), Token("362", 0.99, (286, 604, 320, 630), "value"),
           Token("x10^9/L", 0.99, (375, 605, 450, 629), "unit"), Token("125-350", 0.99, (495, 606, 570, 627), "range"),
           Token("T", 0.9, (634, 609, 644, 621), "name"), Token("36.5", 0.99, (707, 605, 740, 628), "value")]
    items = parse_row_all(kb, row)
    assert len(items) == 2


def test_a_mark_before_the_result_read_as_one_is_not_the_result(kb):
    """'中性粒细胞百分比 L 47.8 50.0-70.0' (a flag column before the result) as a web copy: the 'L' came back as '1',
    which took the result's place and 47.8 was dropped. The number after it is the result; the range flags it."""
    row = [Token("中性粒细胞百分比", 0.9, (40, 0, 200, 20), "name"), Token("1", 0.66, (300, 0, 310, 20), "value"),
           Token("47.8", 0.9, (330, 0, 370, 20), "value"), Token("50.0-70.0", 0.99, (440, 0, 530, 20), "range")]
    (it,) = parse_row(kb, row)
    assert (it.value.text, it.range.text, it.flag) == ("47.8", "50.0-70.0", None)
    # a result '1' with its range after it stays the result
    (it,) = parse_row(kb, [Token("尿酮体", 0.9, (40, 0, 110, 20), "name"), Token("1", 0.9, (300, 0, 310, 20), "value"),
                           Token("0-5", 0.99, (440, 0, 480, 20), "range")])
    assert it.value.text == "1"


def test_name_starting_like_a_lost_arrow_is_kept(kb):
    """'TC' (total cholesterol) is a known name, not an arrow read as 'T' before the unit '°C'."""
    items = parse_row(kb, _toks("TC", "4.60", "mmol/L", "<5.2"))
    assert len(items) == 1 and items[0].value.text == "4.60"
    assert choose_indicator(kb, items[0], set())[0].code == "TC"


def _sheet_row(kb, panel, *cells):
    from app.service import _prefer_stool, _prefer_urine

    it = parse_row(kb, _toks(*cells))[0]
    (_prefer_stool if panel == "stool" else _prefer_urine)(kb, it)
    choice = choose_indicator(kb, it, set(), {"stool" if panel == "stool" else "urinalysis"})
    return choice[0].code if choice else None


def test_stool_sheet_microscopy_names_with_method_word(kb):
    assert _sheet_row(kb, "stool", "镜检白细胞", "3", "/HP") == "ST-WBC"
    assert _sheet_row(kb, "stool", "镜检红细胞", "未见", "/HP") == "ST-RBC"


def test_stool_sheet_sign_word_is_no_result_of_a_blood_test(kb):
    """'转铁蛋白 阴性' on a stool sheet is the faecal transferrin test, not serum transferrin (g/L)."""
    assert _sheet_row(kb, "stool", "转铁蛋白", "阴性", "阴性") == "ST-TF"
    assert _sheet_row(kb, "stool", "隐血", "阴性", "阴性") == "ST-OB"


def test_stool_sheet_items_beyond_the_routine(kb):
    """Items of stool analysers and paediatric sheets have codes of their own (knowledge 1.4.0)."""
    assert _sheet_row(kb, "stool", "阿米巴", "未见", "未见") == "ST-PROTO"
    assert _sheet_row(kb, "stool", "蠕虫卵", "未检出", "未见") == "ST-OVA"
    assert _sheet_row(kb, "stool", "淀粉颗粒", "少量", "未见") == "ST-STARCH"
    assert _sheet_row(kb, "stool", "幽门螺旋杆菌抗原", "阴性", "阴性") == "ST-HPSA"
    assert _sheet_row(kb, "stool", "钙卫蛋白", "36.5", "<50") == "ST-CALP"
    # lactoferrin (white cells: inflammation) is not transferrin (blood), one character apart
    assert _sheet_row(kb, "stool", "粪便乳铁蛋白", "阴性", "阴性") == "ST-LF"


def test_urine_sheet_bare_glu_with_sign_word_is_urine_glucose(kb):
    assert _sheet_row(kb, "urine", "GLU", "阴性", "阴性") == "U-GLU"


def test_arrow_read_as_f_before_unit_after_a_result_is_no_name(kb):
    """'fpg' after the result is an arrow read as 'f' before the unit pg (not FPG, fasting glucose): one row."""
    items = parse_row(kb, _toks("平均红细胞血红蛋白含量", "32.4", "fpg", "27.0-32.0"))
    assert len(items) == 1 and items[0].unit.text == "pg"
    assert choose_indicator(kb, items[0], set())[0].code == "MCH"


def test_unit_with_the_l_of_mol_read_as_one(kb):
    """'mmo1/L', 'μmo1/L' (the l of mol read as 1, a common misreading): the row's unit, resolved for its code."""
    for cells, code, unit in ((("钾", "4.10", "mmo1/L", "3.5-5.3"), "K", "mmol/L"),
                              (("肌酐", "75", "μmo1/L", "57-111"), "CREA", "μmol/L")):
        it = parse_row(kb, _toks(*cells))[0]
        ind = choose_indicator(kb, it, set())[0]
        assert ind.code == code and it.unit is not None
        assert kb.resolve_unit(it.unit.text, ind, misread=True) == (unit, 1.0)


def test_a_row_number_glued_to_a_name_printed_with_two_spaces_stays_the_row_number(kb):
    """'3 FPSA/TPSA  比值 | 0.21 | 0.26-0.90': explode keeps 'FPSA/TPSA 比值' together (a name the knowledge base
    spells), but looked for it in the line with one space, so the group was not found and its box began before the
    row number's; the '3' then read as the result and the printed 0.21 was lost."""
    from app.parsing import explode

    parts = explode(kb, Token("3 FPSA/TPSA  比值", 0.9, (0, 0, 160, 20), "name"))
    assert [p.text for p in parts] == ["3", "FPSA/TPSA 比值"]
    assert parts[0].box[2] <= parts[1].box[0]
    items = parse_row(kb, [Token("3 FPSA/TPSA  比值", 0.9, (0, 0, 160, 20), "name"),
                           Token("0.21", 0.9, (200, 0, 240, 20), "value"),
                           Token("0.26-0.90", 0.9, (280, 0, 360, 20), "range")])
    assert [(it.row_no, it.value.text, it.range.text) for it in items] == [(3, "0.21", "0.26-0.90")]


# ---- printed row formats found missing by bench/ocr_rows.py (format coverage, domain-knowledge rows) -------------

@pytest.mark.parametrize("text,low,high", [
    ("3.5一5.5", 3.5, 5.5), ("125 一 350", 125, 350),  # the dash read as the CJK character 一 inside one cell
    ("≦5.20", None, 5.2), ("≧1.04", 1.04, None),  # Big5-font less/greater-or-equal signs (NFKC keeps them)
    ("[3.5,5.5]", 3.5, 5.5), ("[125，350]", 125, 350), ("(0.0,20.0)", 0.0, 20.0),  # interval notation
])
def test_printed_range_forms_the_package_parser_does_not_read(text, low, high):
    r = parse_range(text)
    assert r is not None and (r.low, r.high) == (low, high)


def test_an_interval_keeps_which_bounds_it_includes():
    """'[3.5,5.5]' includes both bounds; a round bracket leaves its bound out: 5 against '(0,5)' is high. '≦1:40'
    (the Big5 sign) is a titre range like '≤1:40'."""
    r = parse_range("[3.5,5.5]")
    assert (r.low_inclusive, r.high_inclusive) == (True, True)
    r = parse_range("(0,5)")
    assert (r.low, r.high, r.low_inclusive, r.high_inclusive) == (0, 5, False, False)
    assert interpret(5.0, r.low, r.high, low_inclusive=r.low_inclusive, high_inclusive=r.high_inclusive) == "H"
    assert (parse_range("≦1:40").low, parse_range("≦1:40").high) == (None, 40)


def test_a_dash_read_as_one_inside_a_sex_specific_range():
    r = parse_range("男:130一175 女:115一150")
    assert r.for_sex("male") == (130, 175) and r.for_sex("female") == (115, 150)


@pytest.mark.parametrize("text,rest,flag", [
    ("79.9(H)", "79.9", "H"), ("298[L]", "298", "L"), ("7.58（H）", "7.58", "H"), ("33.0【L】", "33.0", "L"),
    ("75偏低", "75", "L"), ("35.5偏高", "35.5", "H"), ("61.5高", "61.5", "H"), ("3 低", "3", "L"),
    ("98.6h", "98.6", "H"),
    ("H66.3", "66.3", "H"), ("L6.0", "6.0", "L"), ("偏低75", "75", "L"), ("偏高 35.5", "35.5", "H"),
])
def test_marks_glued_to_the_result_in_brackets_words_or_before_it(text, rest, flag):
    assert split_flag(text) == (rest, flag)


def test_a_lower_case_l_after_a_result_is_not_read_as_a_mark():
    """'27.8l': a trailing l is as likely the digit 1 (the recogniser confuses them) as a low mark: left alone."""
    assert split_flag("27.8l")[1] is None


@pytest.mark.parametrize("cells,value,flag,code", [
    (("血小板计数", "514偏高", "10^9/L", "125-350"), "514", "H", "PLT"),  # not row 514 of a test named 偏高
    (("谷草转氨酶", "7偏低", "15-40", "U/L"), "7", "L", "AST"),
    (("中性粒细胞百分比", "98.6H", "%", "40.0-75.0"), "98.6", "H", "NEUT%"),  # not GH ('6H' after '98.')
    (("白蛋白", "偏低37.0", "40.0-55.0", "g/L"), "37.0", "L", "ALB"),
    (("肌酐", "H120", "57-111", "umol/L"), "120", "H", "CREA"),
    (("葡萄糖", "7.58(H)", "mmol/L", "3.90-6.10"), "7.58", "H", "GLU"),
])
def test_a_row_whose_result_carries_its_mark_in_another_form(kb, cells, value, flag, code):
    items = parse_row(kb, _toks(*cells))
    assert len(items) == 1
    assert items[0].value.text == value and items[0].flag_code == flag
    assert choose_indicator(kb, items[0], set())[0].code == code


@pytest.mark.parametrize("text,grade", [
    ("(++)", "2+"), ("(+++)", "3+"), ("弱阳性(±)", "trace"), ("弱阳性", "trace"), ("阳性(++)", "2+"),
    ("阳性（3+）", "3+"), ("阳性(+)", "1+"), ("(+)", "1+"), ("+", "1+"), ("阳性", "positive"),
])
def test_grades_in_brackets(text, grade):
    """A printed plus sign is a grade, one plus 1+, whatever word or brackets go with it ('阳性(+)' as '(+)' and
    '+'); the word alone ('阳性') is "positive" (it had read '阳性(+)' as positive but '(+)' as 1+)."""
    pv = parse_value(text)
    assert pv is not None and pv.number is None and pv.qualitative == grade


def test_a_unit_with_its_l_read_as_one_is_not_a_name_and_a_value(kb):
    """'mg/1' (mg/L) was split into the name 'mg/' (Mg, magnesium) and the result 1: a second row took the range."""
    items = parse_row(kb, _toks("超敏C反应蛋白", "2.13", "mg/1", "0.00-3.00"))
    assert len(items) == 1
    it = items[0]
    assert it.unit.text == "mg/1" and (it.parsed_range.low, it.parsed_range.high) == (0.0, 3.0)


@pytest.mark.parametrize("unit,canonical", [("ng/m1", "ng/mL"), ("IU/m1", "IU/mL")])
def test_a_final_ml_with_its_l_read_as_one(kb, unit, canonical):
    assert kb.is_unit(unit, misread=True) and canonical in kb.canonical_units(kb.kb.units.fix_misread(unit))


def test_a_full_width_percent_glued_to_the_result(kb):
    it = parse_row(kb, _toks("红细胞分布宽度-CV", "10.6 ％", "11.5-14.5"))[0]
    assert it.value.text == "10.6" and it.unit is not None and it.unit.text == "%"


def test_a_percent_glued_before_the_range(kb):
    it = parse_row(kb, _toks("中性粒细胞百分比", "35.6", "%40.0-75.0"))[0]
    assert it.unit.text == "%" and (it.parsed_range.low, it.parsed_range.high) == (40.0, 75.0)


@pytest.mark.parametrize("cells,code,value", [
    (("钾4.89", "3.50-5.30", "mmol/L"), "K", "4.89"), (("钠154.2↑", "137.0-147.0", "mmol/L"), "Na", "154.2"),
])
def test_a_one_character_name_glued_to_its_result(kb, cells, code, value):
    items = parse_row(kb, _toks(*cells))
    assert len(items) == 1 and items[0].value.text == value
    assert choose_indicator(kb, items[0], set())[0].code == code


def test_a_sex_specific_range_boxed_as_two_cells(kb):
    items = parse_row(kb, _toks("血红蛋白", "155", "男:130-175", "女:115-150", "g/L"))
    assert len(items) == 1
    pr = items[0].parsed_range
    assert pr is not None and pr.for_sex("male") == (130, 175) and pr.for_sex("female") == (115, 150)
    assert items[0].unit.text == "g/L"


@pytest.mark.parametrize("cells,value,low,high,unit", [
    (("白细胞计数", "6.4510^9/L", "3.50-9.50"), "6.45", 3.5, 9.5, "10^9/L"),
    (("血小板计数", "287", "125-35010^9/L"), "287", 125, 350, "10^9/L"),
    (("白细胞计数", "6.45", "3.50-9.50109/L"), "6.45", 3.5, 9.5, "109/L"),
])
def test_a_count_unit_glued_without_a_space(kb, cells, value, low, high, unit):
    """The unit's own leading '10' glued to the last digit of the result or range: cut before the 10^n unit."""
    it = parse_row(kb, _toks(*cells))[0]
    assert it.value.text == value and it.unit is not None and it.unit.text == unit
    assert (it.parsed_range.low, it.parsed_range.high) == (low, high)


@pytest.mark.parametrize("text,low,high,flag", [
    ("0-2", 0, 3, "N"), ("3-5/HP", 0, 5, "N"), ("10-15", 0, 5, "H"), ("5-8 /HP", 0, 5, "H"), ("0-1", 2, 10, "L"),
    ("0-2", None, None, None), ("少许", 0, 5, None), ("8-3", 0, 5, None), ("满视野", 0, 3, "H"), ("满视野", None, None, None),
])
def test_a_count_per_field_against_its_printed_range(text, low, high, flag):
    from app.parsing import count_against_range

    assert count_against_range(text, low, high) == flag


def test_a_sediment_count_row_is_flagged_by_its_printed_range(kb):
    """'白细胞(镜检) 10-15 0-5 /HP': the row came back with no flag at all; the sheet's range says high."""
    from app.service import LabReportParser

    parser = LabReportParser(engine=object(), knowledge=kb)  # record assembly only, no OCR
    for cells, flag in ((("白细胞(镜检)", "10-15", "0-5", "/HP"), "H"), (("红细胞(镜检)", "0-2", "0-3", "/HP"), "N")):
        toks = _toks(*cells)
        for t, col in zip(toks, ("name", "value", "range", "unit")):
            t.column = col
        it = parse_row(kb, toks)[0]
        choice = choose_indicator(kb, it, set(), {"urinalysis"})
        rec = parser._indicator_record(choice[0], choice[1], choice[2], it, None, 0, []) if choice else \
            parser._uncoded_record(it, 0)
        assert rec["value_text"] == cells[1] and rec["flag"] == flag


@pytest.mark.parametrize("value,rng,flag", [
    ("1:320", "<1:100", "POS"), ("1:100", "<1:100", "POS"), ("1:80", "<1:100", "NEG"), ("1:40", "≤1:40", "NEG"),
    ("1:1280", "阴性", "POS"), ("1:320", None, None), ("320", "<1:100", None),
])
def test_a_titre_against_its_printed_range(value, rng, flag):
    from app.parsing import titre_against_range

    assert titre_against_range(value, parse_range(rng) if rng else None) == flag


def test_a_titre_range_reads_one_sided_in_dilutions():
    r = parse_range("<1:100")
    assert (r.low, r.high, r.high_inclusive) == (None, 100, False)


def test_a_titre_row_is_flagged_by_its_printed_range(kb):
    """'滴度 1:1280 阴性' with its '+' mark lost on the photo: the row came back with no flag; a titre reported
    against 阴性 is positive."""
    from app.service import LabReportParser

    parser = LabReportParser(engine=object(), knowledge=kb)
    toks = _toks("抗体滴度", "1:1280", "阴性")
    for t, col in zip(toks, ("name", "value", "range")):
        t.column = col
    it = parse_row(kb, toks)[0]
    choice = choose_indicator(kb, it, set())
    rec = parser._indicator_record(choice[0], choice[1], choice[2], it, None, 0, []) if choice else \
        parser._uncoded_record(it, 0)
    assert rec["value_text"] == "1:1280" and rec["flag"] == "POS"


def _cols(name, value, unit, rng):
    """A table row's cells under their headers (名称 | 结果 | 单位 | 参考范围), as the layout hands them over."""
    out, x = [], 10.0
    for text, col in ((name, "name"), (value, "value"), (unit, "unit"), (rng, "range")):
        out.append(Token(text, 0.99, (x, 100.0, x + 16.0 * len(text), 128.0), col))
        x += 16.0 * len(text) + 60.0
    return out


@pytest.mark.parametrize("name,value,unit,rng", [
    ("白细胞介素-2", "3", "pg/mL", "<7.5"), ("糖类抗原50", "8.5", "U/mL", "<25"), ("维生素B1", "60", "nmol/L", "50-150"),
    ("IL-10", "3", "pg/mL", "<9.1"),
])
def test_number_of_a_numbered_test_stays_in_its_name(kb, name, value, unit, rng):
    """'白细胞介素-2' is interleukin 2, not 白细胞介素 with the result -2: the row's result is its own cell, and the
    name is no known test (IL-6 is another interleukin)."""
    it = parse_row_all(kb, _cols(name, value, unit, rng))[0]
    assert it.value.text == value and choose_indicator(kb, it, set()) is None


@pytest.mark.parametrize("name,value,unit,rng", [
    ("IgA", "2.2", "g/L", "1.0-4.2"),  # iGa is a misreading of iCa: the unit says immunoglobulin A
    ("凝血酶时司", "60", "mmol/L", "3.5-5.5"),
])
def test_fuzzy_or_misread_name_must_fit_a_real_unit(kb, name, value, unit, rng):
    it = parse_row_all(kb, _cols(name, value, unit, rng))[0]
    assert choose_indicator(kb, it, set()) is None


def test_fuzzy_name_with_its_unit_still_resolves(kb):
    it = parse_row(kb, _toks("凝血酶时司", "16", "s", "14-21"))[0]
    assert choose_indicator(kb, it, set())[0].code == "TT"


def test_name_printed_twice_keeps_its_digit(kb):
    it = parse_row(kb, _toks("载脂蛋白A1ApoA1", "1.2", "g/L", "1.0-1.6"))[0]
    assert it.value.text == "1.2" and choose_indicator(kb, it, set())[0].code == "ApoA1"


def test_a_lone_letter_unit_does_not_veto_a_fuzzy_name(kb):
    """'%' read as 's' is a real unit (seconds) but says nothing about the row: the misread name still resolves."""
    it = parse_row_all(kb, _cols("吸酸性粒组胞百分比", "1.4", "s", "0.5-5"))[0]
    assert choose_indicator(kb, it, set())[0].code == "EO%"


@pytest.mark.parametrize("text,qual", [("(未见", "negative"), ("阴性)", "negative"), ("(未见)", "negative"),
                                       ("（阳性", "positive")])
def test_a_word_result_with_a_stray_bracket_is_still_read(text, qual):
    """The recogniser takes a cell's edge or a rule beside a word for a bracket ('(未见'); the word is the result. A
    number is not read out of brackets this way, nor a name."""
    from app.parsing import parse_value

    pv = parse_value(text)
    assert pv is not None and pv.number is None and pv.qualitative == qual
    assert parse_value("(5.2") is None and parse_value("(白细胞)") is None


@pytest.mark.parametrize("text,rest", [("1+*", "1+"), ("±*", "±"), ("1+本", "1+"), ("++米", "++"), ("(+)木", "(+)")])
def test_a_star_after_a_grade_is_the_abnormal_mark_also_when_read_as_a_character(text, rest):
    """A star printed after a grade says abnormal; a small one is often read as the character it looks like (本, 米,
    木). Such a character alone, or after a word, is left as it was read."""
    from app.parsing import split_flag

    assert split_flag(text) == (rest, "ABN")
    assert split_flag("本") == ("本", None) and split_flag("阳性木") == ("阳性木", None)


def test_a_lone_plus_after_a_unit_makes_no_strip_pad(kb):
    """'5.2 mmol/L +': a lone '+' after a quantitative result and its unit is as likely an arrow or a rule read as
    one; the cell is no strip pad (whose grade is spelt out: '28 mmol/L 2+')."""
    from app.parsing import parse_value

    assert parse_value("5.2 mmol/L +") is None and parse_value("+ 70 umol/L") is None
    (it,) = parse_row(kb, _toks("白细胞", "5.2 mmol/L +", "3.5-9.5"))
    assert it.parsed_value.number == 5.2 and it.parsed_value.qualitative is None


def test_a_huge_exponent_is_no_value_and_no_crash():
    # '1e400', '1E99999999': an exponent no result prints; once it overflowed a float (a 500) or took minutes
    for raw in ("1e400", "1.0E+0400", "1E99999999"):
        pv = parse_value(raw)
        assert pv is None or pv.number is None
    assert parse_value("1.2E+03").number == 1200.0 and parse_value("3.5e-2").number == 0.035


def test_identifier_digits_are_not_results():
    from app.parsing import _row_name_ok, identifier_digits

    assert identifier_digits("110101199001011234") and identifier_digits("11010119900101123X")
    assert identifier_digits("13800138000") and not identifier_digits("1380.5") and not identifier_digits("12345")
    assert not _row_name_ok("身份证号") and not _row_name_ok("手机号码13800138000") and not _row_name_ok("病案号")
    assert _row_name_ok("柱状上皮细胞")
    # the legend of the marks under a table ('注：↑偏高 ↓偏低 ↑↑/↓↓危急值') is no row
    assert not _row_name_ok("↓偏低") and not _row_name_ok("↑↑/↓↓危急值")


def test_a_range_read_running_downwards_had_its_lower_bounds_point_lost():
    """'17--13.7' (1.7--13.7 with the point lost on a small photo) was read as an arrow and '7--13.7', and a normal
    3.3 flagged L. Both bounds are printed to the same decimals, so the point goes back where that puts it; a
    range that cannot be read so is still no range, and '13-8' is still an arrow before '3-8'."""
    from app.parsing import parse_range

    pr = parse_range("17--13.7")
    assert (pr.low, pr.high) == (1.7, 13.7) and pr.text == "17--13.7"
    assert (parse_range("00--6.8").low, parse_range("00--6.8").high) == (0.0, 6.8)
    assert parse_range("120--16") is None
    assert (parse_range("13-8").low, parse_range("13-8").high) == (3.0, 8.0)
