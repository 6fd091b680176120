"""Table reconstruction from boxes (pure)."""
import pytest
from app.knowledge import load_knowledge
from app.layout import analyse, header_kind
from app.parsing import Token, choose_indicator, parse_row
from app.report_header import extract_header, report_type


def T(text, x, y, w=None):
    w = w or 16 * len(text)
    return Token(text, 0.99, (x, y, x + w, y + 28))


def test_header_words():
    assert header_kind("检验项目") == "name" and header_kind("结果") == "value"
    assert header_kind("参考范围") == "range" and header_kind("单位") == "unit" and header_kind("提示") == "flag"
    assert header_kind("白细胞") is None


def test_two_tables_side_by_side_are_split_and_hinted():
    toks = [T("项目", 40, 100), T("结果", 300, 100), T("参考范围", 420, 100), T("单位", 600, 100),
            T("项目", 760, 100), T("结果", 1020, 100), T("参考范围", 1140, 100), T("单位", 1320, 100),
            T("白细胞计数", 40, 150), T("11.2↑", 300, 150), T("3.5-9.5", 420, 150), T("10^9/L", 600, 150),
            T("血小板计数", 760, 152), T("210", 1020, 152), T("125-350", 1140, 152), T("10^9/L", 1320, 152)]
    lay = analyse(toks, 1500)
    assert len(lay.tables) == 2
    assert len(lay.rows) == 2
    kb = load_knowledge()
    codes = [choose_indicator(kb, it, set())[0].code for row in lay.rows for it in parse_row(kb, row)]
    assert codes == ["WBC", "PLT"]
    assert [t.column for t in lay.rows[0]] == ["name", "value", "range", "unit"]


def test_header_fields_whitelist():
    toks = [T("江北市第一人民医院 血常规检验报告单", 200, 20), T("姓名: 张三", 40, 70), T("性别: 女", 300, 70),
            T("年龄: 45岁", 500, 70), T("标本类型: 全血", 700, 70), T("采样时间: 2024-03-01 08:30", 40, 110),
            T("病历号: 12345678", 500, 110)]
    h = extract_header(toks)
    assert h["hospital"] == "江北市第一人民医院" and h["sex"] == "female" and h["age"] == 45
    assert h["sample_type"] == "whole_blood" and h["collected_at"] == "2024-03-01T08:30:00"
    assert "张三" not in str(h) and "12345678" not in str(h)
    assert report_type([t.text for t in toks], []) == "blood_routine"
    assert report_type([], ["liver", "kidney", "lipids"]) == "biochemistry"


def test_title_never_carries_a_name():
    h = extract_header([T("姓名:张三 江北医院血常规检验报告单", 40, 20)])
    assert h["report_title"] == "血常规检验报告单" and "张三" not in str(h)
    h = extract_header([T("姓名张三血常规检验报告单", 40, 20)])
    assert h["report_title"] == "血常规检验报告单"


def Q(text, x, y, w=None, slope=0.0, h=28):
    """A token as the OCR returns it on a slanted line: quad corners tl, tr, br, bl."""
    import numpy as np

    w = w or 16 * len(text)
    q = np.float32([[x, y], [x + w, y + slope * w], [x + w, y + h + slope * w], [x, y + h]])
    return text, 0.99, q


def test_rows_follow_a_slanted_baseline_across_two_blocks():
    """Left block slanted by 6 % (a curled photo), right block level: a fixed y tolerance mixes neighbouring rows
    of the left block with the right one; following each baseline does not."""
    from app.layout import straighten

    kb = load_knowledge()
    lines = []
    names_l = ["白细胞计数", "红细胞计数", "血红蛋白"]
    vals_l = ["11.2", "4.30", "118"]
    names_r = ["血小板计数", "淋巴细胞%", "单核细胞%"]
    vals_r = ["187", "52.0", "7.5"]
    for i in range(3):
        y = 100 + 34 * i
        # left block: the row drifts down by 0.06 px per px
        lines += [Q(f"{i + 1} {names_l[i]}", 20, y, 160, 0.06), Q(vals_l[i], 300, y + 0.06 * 280, 60, 0.06),
                  Q("3.5-9.5", 420, y + 0.06 * 400, 100, 0.06)]
        lines += [Q(f"{i + 4}", 700, y + 30, 20), Q(names_r[i], 730, y + 30, 140), Q(vals_r[i], 960, y + 30, 60),
                  Q("100-300", 1080, y + 30, 100)]
    got = _values_by_code(kb, straighten(lines), 1300)
    assert got == {"WBC": "11.2", "RBC": "4.30", "HGB": "118", "PLT": "187", "LYMPH%": "52.0", "MONO%": "7.5"}


def _values_by_code(kb, toks, width):
    """Layout then parsing of ``toks``: each row's indicator code → its result as read."""
    got = {}
    for row in analyse(toks, width).rows:
        for it in parse_row(kb, row):
            got[choose_indicator(kb, it, set())[0].code] = it.value.text
    return got


def test_spaced_header_words_and_row_number_column_split_blocks():
    toks = [T("No", 10, 100), T("项 目", 60, 100, 120), T("结 果", 300, 100, 60), T("参考值", 420, 100),
            T("单位", 600, 100),
            T("No", 700, 100), T("项 目", 750, 100, 120), T("结 果", 990, 100, 60), T("参考值", 1110, 100),
            T("单位", 1290, 100),
            T("1", 14, 150), T("白细胞计数", 60, 150), T("11.2", 300, 150), T("↑ 3.5-9.5", 400, 150),
            T("10^9/L", 600, 150),
            T("13", 704, 150), T("血小板计数", 750, 150), T("210", 990, 150), T("125-350", 1110, 150),
            T("10^9/L", 1290, 150)]
    lay = analyse(toks, 1400)
    assert len(lay.tables) == 2
    kb = load_knowledge()
    items = [it for row in lay.rows for it in parse_row(kb, row)]
    assert [choose_indicator(kb, it, set())[0].code for it in items] == ["WBC", "PLT"]
    wbc, plt = items
    assert wbc.value.text == "11.2" and wbc.flag_code == "H" and wbc.range.text == "3.5-9.5"
    assert plt.value.text == "210" and plt.flag_code is None  # the row number 13 is not read as anything


def test_row_number_glued_to_the_name_is_dropped():
    kb = load_knowledge()
    items = parse_row(kb, [T("20平均红细胞血红蛋白浓度329", 10, 10, 300), T("320-360", 400, 10), T("g/L", 560, 10)])
    assert len(items) == 1 and items[0].value.text == "329" and items[0].range.text == "320-360"
    assert choose_indicator(kb, items[0], set())[0].code == "MCHC"


def test_group_label_column_before_the_names_is_not_part_of_them():
    """An autoantibody sheet: a group label written down several rows in its own column before the names
    ('抗心磷脂 / 抗体检测 / (ACA)'), the header word 项目 centred over both. The labels are marked 'group' and the
    rows keep the test names alone; a long name is placed by its first characters, not its centre."""
    toks = [T("项目", 40, 100), T("结果", 360, 100), T("参考值", 670, 100), T("提示", 800, 100),
            T("抗心磷脂", 10, 150, 136), T("抗心磷脂抗体IgA", 148, 150, 268), T("1.43", 560, 150), T("<12", 700, 150),
            T("抗体检测", 10, 190, 136), T("抗心磷脂抗体IgM", 148, 190, 268), T("13.00", 560, 190),
            T("<12", 700, 190), T("+", 835, 190),
            T("(ACA)", 30, 230, 100), T("抗心磷脂抗体IgG", 148, 230, 268), T("2.03", 560, 230), T("<12", 700, 230),
            T("ELISA法", 10, 270, 136)]
    lay = analyse(toks, 900)
    kb = load_knowledge()
    items = [it for row in lay.rows for it in parse_row(kb, row)]
    names = [" ".join(c.text for c, _ in it.names + [(e, None) for e in it.extras]) for it in items]
    assert names == ["抗心磷脂抗体IgA", "抗心磷脂抗体IgM", "抗心磷脂抗体IgG"]
    assert [it.value.text for it in items] == ["1.43", "13.00", "2.03"]
    assert items[1].flag_code == "POS"
    assert {t.text for row in lay.rows for t in row if t.column == "group"} >= {"抗心磷脂", "抗体检测", "(ACA)"}


def test_names_in_two_pieces_are_not_a_group_column():
    """Two text cells per row without a common left edge for the second: nothing is marked 'group'."""
    toks = [T("项目", 40, 100), T("结果", 360, 100), T("参考范围", 470, 100),
            T("白细胞", 40, 150), T("计数", 100, 150), T("6.5", 360, 150), T("3.5-9.5", 470, 150),
            T("中性粒细胞", 40, 190), T("百分比", 130, 190), T("60.1", 360, 190), T("40-75", 470, 190),
            T("血小板", 40, 230), T("计数", 160, 230), T("210", 360, 230), T("125-350", 470, 230)]
    lay = analyse(toks, 700)
    assert not any(t.column == "group" for row in lay.rows for t in row)


def test_misread_name_header_and_missing_name_column_borrowed_from_the_sibling_block():
    """'检验项目' read as '应验项目' is still the name header; a block whose name header was lost entirely gets the
    name column its sibling block has, so unknown names (电导率) there still come back as rows."""
    assert header_kind("应验项目") == "name" and header_kind("松验项目") == "name" and header_kind("口口结果") is None
    kb = load_knowledge()
    for left_header in ("应验项目", "口口"):
        toks = [T(left_header, 40, 100), T("结果", 300, 100), T("参考范围", 420, 100), T("单位", 600, 100),
                T("检验项目", 760, 100), T("结果", 1020, 100), T("参考范围", 1140, 100), T("单位", 1320, 100),
                T("电导率", 40, 150), T("27.8", 300, 150), T("3.0~39.0", 420, 150), T("mS/cm", 600, 150),
                T("红细胞", 760, 150), T("0", 1020, 150), T("0~20", 1140, 150), T("/ul", 1320, 150)]
        lay = analyse(toks, 1500)
        assert [t.column for t in lay.rows[0]] == ["name", "value", "range", "unit"]
        items = [it for row in lay.rows for it in parse_row(kb, row)]
        assert [c.text for it in items for c, _ in it.names] == ["电导率", "红细胞"]


def test_names_under_a_narrow_row_number_header_are_names():
    """Glued header words ('编号项' + '目') put the 序号 column over the names: text after the row number is
    still the name, so an unknown name (小圆细胞) comes back as a row."""
    kb = load_knowledge()
    toks = [T("编号", 40, 100), T("项目", 140, 100), T("结果", 300, 100), T("参考区间", 420, 100),
            T("23 小圆细胞", 40, 150, 200), T("0.60", 300, 150), T("0~4.00", 420, 150),
            T("24病理管型", 40, 190, 200), T("0.27", 300, 190), T("0~0.50", 420, 190)]
    lay = analyse(toks, 800)
    items = [it for row in lay.rows for it in parse_row(kb, row)]
    assert [(c.text, it.value.text, it.row_no) for it in items for c, _ in it.names[:1]] == [
        ("小圆细胞", "0.60", 23), ("病理管型", "0.27", 24)]


def test_header_word_with_an_alternative_and_method_prefixed_names():
    """'参考区间/值' is the range header, so the range column stays in its block; '镜检:柱状上皮细胞' (unknown to the
    knowledge base) comes back as a row, while key-value header text never does."""
    assert header_kind("参考区间/值") == "range" and header_kind("/HP") is None
    kb = load_knowledge()
    toks = [T("检验项目", 40, 100), T("结果", 300, 100), T("单位", 380, 100), T("参考区间/值", 440, 100),
            T("检验项目", 660, 100), T("结果", 900, 100), T("单位", 980, 100), T("参考区间/值", 1040, 100),
            T("比重(SG)", 40, 150), T("1.022", 300, 150), T("1.003-1.030", 440, 150),
            T("镜检:柱状上皮细胞", 660, 150), T("未检出", 900, 150), T("/HP", 980, 150),
            T("送检医生:某某", 40, 190), T("阴性", 300, 190)]
    lay = analyse(toks, 1300)
    assert len(lay.tables) == 2 and [t.column for t in lay.rows[0]] == ["name", "value", "range"]
    items = [it for row in lay.rows for it in parse_row(kb, row)]
    assert [c.text for it in items for c, _ in it.names] == ["比重(SG)", "镜检:柱状上皮细胞"]


def test_row_number_with_a_misread_digit_is_not_part_of_the_name():
    kb = load_knowledge()
    for printed in ("1C尿亚硝酸盐", "1ε尿胆原"):
        items = parse_row(kb, [T(printed, 40, 100), T("阴性", 300, 100)])
        assert [c.text for c, _ in items[0].names] == [printed[2:]]


def test_alarm_column_glued_to_the_result_header_still_splits_the_blocks():
    """'报警结果' is the alarm (flag) and result headers glued: the left block keeps its result column and the two
    blocks are split; a block whose result header is lost is still split at the repeated name header."""
    assert header_kind("报警") == "flag"
    kb = load_knowledge()
    for left_value in ("报警结果", "口口口口"):
        toks = [T("检验项目", 40, 100), T(left_value, 260, 100), T("单位", 420, 100), T("参考值", 500, 100),
                T("检验项目", 660, 100), T("报警", 900, 100), T("结果", 960, 100), T("单位", 1050, 100),
                T("参考值", 1130, 100),
                T("白细胞数目", 40, 150), T("7.99", 300, 150), T("10^9/L", 420, 150), T("4.00-10.00", 500, 150),
                T("平均红细胞体积", 660, 150), T("89.6", 960, 150), T("fL", 1050, 150), T("80.0-100.0", 1130, 150)]
        lay = analyse(toks, 1300)
        assert len(lay.tables) == 2
        items = [it for row in lay.rows for it in parse_row(kb, row)]
        assert [(c.text, it.value.text) for it in items for c, _ in it.names[:1]] == [
            ("白细胞数目", "7.99"), ("平均红细胞体积", "89.6")]


def test_a_report_header_field_level_with_the_column_header_does_not_hide_it():
    """A tilted photo puts the line above (样本名：…, 接收…) level with the column header's right end: the header row
    then holds more field text than header words, and must still be taken for the header, or every row below
    loses its columns."""
    toks = [T("检验项目", 40, 100), T("结果", 400, 100), T("样本名：黄某某", 600, 96), T("接收时间", 800, 94),
            T("颜色", 60, 150), T("黄色", 400, 150), T("霉菌", 60, 200), T("1+ ↑", 400, 200)]
    lay = analyse(toks, 1000)
    assert any(t.columns for t in lay.tables)
    assert [[t.column for t in row] for row in lay.rows] == [["name", "value"], ["name", "value"]]


def test_a_name_read_with_its_row_number_and_result_is_placed_by_its_first_characters():
    """The detector may read '20 平均红细胞Hb浓度 329' as one box from the 序号 column to the 结果 column. Its
    centre falls under 结果, but it is a numbered name with its result glued on: placed by its first characters,
    it is split into row number, name and result."""
    toks = [T("序号", 20, 100), T("项目", 120, 100), T("结果", 420, 100), T("参考范围", 560, 100), T("单位", 760, 100),
            T("19", 20, 150), T("平均红细胞Hb含量", 120, 150), T("27.4", 420, 150), T("27.8-33.8", 560, 150),
            T("pg", 760, 150),
            T("20平均红细胞Hb浓度329", 20, 200, w=600), T("320-355", 650, 200), T("g/L", 780, 200)]
    lay = analyse(toks, 900)
    kb = load_knowledge()
    items = [it for row in lay.rows for it in parse_row(kb, row)]
    got = [(it.names[0][0].text, it.value.text, it.range.text) for it in items]
    assert got == [("平均红细胞Hb含量", "27.4", "27.8-33.8"), ("平均红细胞Hb浓度", "329", "320-355")]


def test_a_header_line_broken_in_two_by_a_slanted_photo_is_one_header():
    """Seen at an angle, the left block's 序号/项目/结果 sit a line lower than the rest of the header line (its
    参考范围/单位 and the right block's words): two adjacent header rows, side by side, are one header, so the
    right block keeps its own columns."""
    toks = [T("序号", 20, 130), T("项目", 120, 130), T("结果", 300, 130),
            T("参考范围", 420, 100), T("单位", 560, 100),
            T("序号", 700, 96), T("项目", 780, 96), T("结果", 980, 96), T("参考范围", 1100, 96), T("单位", 1240, 96),
            T("1", 20, 180), T("白细胞计数", 120, 180), T("6.3", 300, 180), T("3.5-9.5", 420, 178),
            T("10^9/L", 560, 178), T("13", 700, 176), T("血小板计数", 780, 176), T("210", 980, 176),
            T("125-350", 1100, 176), T("10^9/L", 1240, 176)]
    lay = analyse(toks, 1400)
    assert len(lay.tables) == 2
    assert [[t.column for t in row] for row in lay.rows] == [["seq", "name", "value", "range", "unit"]] * 2


def test_rows_bowed_near_a_booklet_gutter_keep_their_results():
    """A page bound at its left edge: within 500 px of the gutter each row bends (steeply at the gutter, flat
    beyond), rows above the middle one way and below it the other. Extrapolating a name's steep slope across to
    its result lands a row off; following the page's slope field as it flattens keeps every result on its row."""
    from app.layout import straighten

    kb = load_knowledge()
    names = ["白细胞计数", "红细胞计数", "血红蛋白", "血小板计数", "淋巴细胞计数", "单核细胞计数", "中性粒细胞计数",
             "嗜酸性粒细胞计数"]
    vals = ["11.2", "4.30", "118", "187", "1.85", "0.47", "7.76", "0.06"]
    units = ["10^9/L", "10^12/L", "g/L", "10^9/L", "10^9/L", "10^9/L", "10^9/L", "10^9/L"]
    ranges = ["3.5-9.5", "4.3-5.8", "130-175", "125-350", "1.1-3.2", "0.1-0.6", "1.8-6.3", "0.02-0.52"]
    b = 500.0

    def bow(x, a):  # the row's vertical displacement at x: a at the gutter (x = 0), none from x = b on
        return a * max(0.0, 1 - x / b) ** 2

    lines = []
    for i in range(8):
        y = 100 + 34 * i
        a = 40 * (i - 3.5) / 3.5  # rows above the middle bend up, below it down (up to 40 px, 1.2 rows)

        def q(text, x, w):
            return Q(text, x, y + bow(x, a), w, (bow(x + w, a) - bow(x, a)) / w)

        lines += [q(f"{i + 1}", 30, 14), q(names[i], 60, 16 * len(names[i])), q(vals[i], 330, 60),
                  q(ranges[i], 470, 110), q(units[i], 640, 100)]
    got = _values_by_code(kb, straighten(lines), 900)
    assert got == {"WBC": "11.2", "RBC": "4.30", "HGB": "118", "PLT": "187", "LYMPH#": "1.85", "MONO#": "0.47",
                   "NEUT#": "7.76", "EO#": "0.06"}


def _wrapped_table(centred: bool) -> list:
    """A narrow name column: '总前列腺特异性抗原' printed as '总前列腺特异性抗' over '原' (text 28 px high, lines
    30 px apart, table rows 60 px apart); the other cells centred between the two lines or level with the first."""
    y1, y2 = 200, 230
    yc = (y1 + y2) / 2 if centred else y1
    return [T("No", 20, 100), T("项目", 80, 100), T("结果", 300, 100), T("单位", 420, 100), T("参考范围", 560, 100),
            T("1", 20, 140), T("甲胎蛋白", 80, 140), T("3.35", 300, 140), T("ng/mL", 420, 140), T("<7.00", 560, 140),
            T("2", 20, yc), T("总前列腺特异性抗", 80, y1, 200), T("原", 81, y2), T("3.655", 300, yc),
            T("ng/mL", 420, yc), T("<4.000", 560, yc),
            T("3", 20, 270), T("癌胚抗原", 80, 270), T("2.21", 300, 270), T("ng/mL", 420, 270), T("<5.00", 560, 270)]


def test_a_name_wrapped_onto_two_lines_of_its_cell_is_one_name():
    """Report software wraps a long name in a narrow column onto a second line of its cell; each line comes back
    as a row. The piece holding nothing but name text is joined to the row whose name it continues, whether the
    result stands level with the first line or centred between the two, when together they read as one name."""
    from app.layout import join_wrapped_names
    from app.service import wrapped_name_reads_whole

    kb = load_knowledge()
    for centred in (True, False):
        lay = analyse(_wrapped_table(centred), 800)
        rows = join_wrapped_names(lay.rows, lambda *n: wrapped_name_reads_whole(kb, *n))
        items = [it for row in rows for it in parse_row(kb, row)]
        assert [choose_indicator(kb, it, set())[0].code for it in items] == ["AFP", "tPSA", "CEA"], centred
        assert items[1].value.text == "3.655" and items[1].row_no == 2
        assert len(rows) == 3


def test_a_name_only_row_is_not_joined_a_table_row_away_or_off_the_name_edge():
    """A row whose result was not read (a name alone) a table row away from the next, or text not starting at the
    name's left edge, is no continuation: nothing is joined."""
    from app.layout import join_wrapped_names

    always = lambda *n: True  # noqa: E731 (only the geometry decides here)
    far = [[T("总前列腺特异性抗", 80, 200, 200)], [T("原", 80, 262), T("3.655", 300, 262)]]
    assert len(join_wrapped_names([list(r) for r in far], always)) == 2
    off = [[T("总前列腺特异性抗", 80, 200, 200)], [T("原", 140, 230), T("3.655", 300, 230)]]
    assert len(join_wrapped_names([list(r) for r in off], always)) == 2
    near = [[T("总前列腺特异性抗", 80, 200, 200)], [T("原", 80, 230), T("3.655", 300, 230)]]
    assert [t.text for t in join_wrapped_names(near, always)[0]] == ["总前列腺特异性抗原", "3.655"]


def test_wrapped_name_pieces_are_joined_only_into_one_known_name():
    """The joined text must name a test exactly, better than the row's own half; a piece that names another test
    on its own (尿素 over 肌酐) is that test's row, its result unread."""
    from app.service import wrapped_name_reads_whole

    kb = load_knowledge()
    assert wrapped_name_reads_whole(kb, "总前列腺特异性抗原")
    assert wrapped_name_reads_whole(kb, "丙氨酸氨基转移酶")  # the piece: a misreading of ALT
    assert wrapped_name_reads_whole(kb, "平均红细胞血红蛋白浓度")  # MCH → MCHC
    assert not wrapped_name_reads_whole(kb, "尿素肌酐")
    assert not wrapped_name_reads_whole(kb, "总前列腺特异性杭原")  # not a name exactly
    assert not wrapped_name_reads_whole(kb, "白蛋白总蛋白")


def test_a_wrapped_name_placed_under_the_row_number_header_is_joined_too():
    """On a curled page the header words may drift one column: names land under 序号 (where parsing reads Chinese
    text as the name). The wrapped name's two lines are still one name."""
    from app.layout import join_wrapped_names

    def S(text, x, y, col):
        t = T(text, x, y)
        t.column = col
        return t

    rows = [[S("高密度脂蛋白胆", 34, 808, "seq")],
            [S("20", -14, 825, "seq"), S("固醇", 32, 830, "seq"), S("1.28", 145, 819, "name")]]
    out = join_wrapped_names(rows, lambda joined, *_: joined == "高密度脂蛋白胆固醇")
    assert [[t.text for t in r] for r in out] == [["20", "高密度脂蛋白胆固醇", "1.28"]]


def _dense_wrapped(first: str, second: str, numbered: bool, centred: bool) -> list[Token]:
    """A dense block (row pitch 40 px, 1.4 text heights) whose third name is wrapped onto two lines 30 px apart."""
    rows = [("1", "甲胎蛋白", "3.35", 140), ("2", "癌胚抗原", "2.21", 180)]
    out = [T("序号", 20, 100), T("项目", 80, 100), T("结果", 300, 100), T("单位", 420, 100), T("参考范围", 560, 100)]
    for no, name, value, y in rows + [("4", "铁蛋白", "120", 290), ("5", "糖类抗原125", "8.1", 330)]:
        out += [T(no, 20, y), T(name, 80, y), T(value, 300, y), T("ng/mL", 420, y), T("<9", 560, y)]
    yc = 235 if centred else 220
    out += [T(first, 80, 220), T(second, 80, 250), T("1.28", 300, yc), T("mmol/L", 420, yc), T(">1.04", 560, yc)]
    if numbered:
        out.append(T("3", 20, yc))
    return [t for t in out if numbered or t.text not in ("序号", "1", "2", "4", "5")]


@pytest.mark.parametrize("numbered", [True, False])
@pytest.mark.parametrize("centred", [True, False])
@pytest.mark.parametrize("first,second,code", [("高密度脂蛋白", "胆固醇", "HDL-C"), ("非高密度脂蛋白", "胆固醇", "nonHDL-C"),
                                               ("平均红细胞", "血红蛋白浓度", "MCHC"), ("甲种胎儿", "球蛋白", "AFP"),
                                               ("糖化血清", "白蛋白", "GA")])
def test_a_wrapped_name_whose_second_line_is_a_test_name_is_joined(numbered, centred, first, second, code):
    """'高密度脂蛋白' over '胆固醇' (胆固醇 = TC), '甲种胎儿' over '球蛋白': the second line, itself a test's name, is a
    continuation line by the layout (no row number or result of its own, closer than the block's row pitch), not a
    row whose result was not read beside a first half read as a prefix guess."""
    from app.layout import join_wrapped_names
    from app.service import wrapped_name_reads_whole

    kb = load_knowledge()
    lay = analyse(_dense_wrapped(first, second, numbered, centred), 800)
    rows = join_wrapped_names(lay.rows, lambda *n: wrapped_name_reads_whole(kb, *n))
    assert len(rows) == 5
    items = [it for row in rows for it in parse_row(kb, row)]
    assert [it.names[0][0].text for it in items][2] == first + second
    assert choose_indicator(kb, items[2], set())[0].code == code
    assert items[2].value.text == "1.28" and items[2].row_no == (3 if numbered else None)


def test_rows_each_with_its_row_number_or_a_row_pitch_apart_are_not_joined():
    """尿素 over 肌酐, 总蛋白 over 白蛋白: a name-only row with its own row number beside a numbered row, or a full
    row pitch (1.4 text heights on a dense sheet) from it, is a row of its own, whatever the names read as."""
    from app.layout import join_wrapped_names

    always = lambda *n: True  # noqa: E731 (only the layout decides here)
    rows = [[T("1", 20, 140), T("总蛋白", 80, 140), T("70", 300, 140)], [T("2", 20, 180), T("白蛋白", 80, 180)],
            [T("3", 20, 220), T("球蛋白", 80, 220), T("30", 300, 220)], [T("4", 20, 260), T("尿素", 80, 260)],
            [T("5", 20, 300), T("肌酐", 80, 300), T("87.5", 300, 300)]]
    assert len(join_wrapped_names(rows, always)) == 5
    plain = [[t for t in r if t.box[0] > 40] for r in rows]
    assert len(join_wrapped_names(plain, always)) == 5


def test_a_row_number_is_told_from_an_integer_result_by_where_it_stands():
    """'7 丙氨酸氨基转移' over '酶 25 U/L 9-50': the 7 left of the name is the row number (kept by the joined row),
    the 25 right of it the result (the piece '丙氨酸氨基转移' names the same test as the joined name). A row of a
    name and an integer result is a row, not a name-only piece."""
    from app.layout import join_wrapped_names, row_numbers
    from app.service import wrapped_name_reads_whole

    kb = load_knowledge()
    rows = [[T("6", 20, 140), T("总蛋白", 80, 140), T("70", 300, 140), T("g/L", 420, 140), T("65-85", 560, 140)],
            [T("7", 20, 180), T("丙氨酸氨基转移", 80, 180)],
            [T("酶", 80, 208), T("25", 300, 194), T("U/L", 420, 194), T("9-50", 560, 194)],
            [T("8", 20, 240), T("白蛋白", 80, 240), T("40", 300, 240), T("g/L", 420, 240), T("40-55", 560, 240)]]
    assert [t.text for t in row_numbers(rows[2])] == [] and [t.text for t in row_numbers(rows[1])] == ["7"]
    out = join_wrapped_names(rows, lambda *n: wrapped_name_reads_whole(kb, *n))
    assert [[t.text for t in r] for r in out][1] == ["7", "丙氨酸氨基转移酶", "25", "U/L", "9-50"]
    item = parse_row(kb, out[1])[0]
    assert item.row_no == 7 and item.value.text == "25" and choose_indicator(kb, item, set())[0].code == "ALT"
    pair = [[T("肌酐", 80, 200), T("87", 300, 200)], [T("尿素", 80, 230), T("5.2", 300, 230)]]
    assert len(join_wrapped_names(pair, lambda *n: True)) == 2


def test_join_wrapped_names_leaves_the_rows_given_as_they_were():
    from app.layout import join_wrapped_names

    near = [[T("总前列腺特异性抗", 80, 200, 200)], [T("原", 80, 230), T("3.655", 300, 230)]]
    before = [[t.text for t in r] for r in near]
    join_wrapped_names(near, lambda *n: True)
    assert [[t.text for t in r] for r in near] == before


@pytest.mark.parametrize("text,kind", [
    ("测定项目", "name"), ("检验名称", "name"), ("Test Item", "name"), ("檢驗項目", "name"), ("项目(Item)", "name"),
    ("结果 Result", "value"), ("检查结果", "value"), ("本次结果", "value"), ("实测值", "value"),
    ("结果提示", "flag"), ("提示(↑↓)", "flag"), ("H/L", "flag"), ("标识", "flag"),
    ("正常参考值", "range"), ("参考值(成人)", "range"), ("Ref. Range", "range"), ("參考範圍", "range"), ("参考", "range"),
    ("单位(Unit)", "unit"), ("單位", "unit"), ("序", "seq"), ("序號", "seq"),
    ("上次结果", "other"), ("历史结果", "other"), ("检测方法", "other"), ("危急值范围", "other"), ("临界值", "other"),
    ("S/CO", "other"), ("备注", "other"),
    ("项目名称 Item Name", "name"), ("EH参考值", None),  # (letters of a speck or a rule glued to a word: no header)
    ("参考范制单位No", None),  # (a garbled header word joined to the next ones is no 'No' column)
])
def test_header_words_as_other_hospitals_print_them(text, kind):
    # bench/ocr_headers.py scores the whole list; a cell naming no indicator column is "other", never a result or range
    assert header_kind(text) == kind


def test_a_column_headed_by_no_part_of_the_row_is_left_out_of_it():
    # 项目 | 结果 | 上次结果 | 单位 | 参考范围 | 检测方法: the previous result and the method are no cells of the row
    toks = [T("项目", 40, 100), T("结果", 300, 100), T("上次结果", 420, 100), T("单位", 560, 100),
            T("参考范围", 700, 100), T("检测方法", 900, 100),
            T("白细胞计数", 40, 150), T("11.2", 300, 150), T("9.8", 430, 150), T("10^9/L", 560, 150),
            T("3.5-9.5", 700, 150), T("流式细胞术", 900, 150)]
    lay = analyse(toks, 1100)
    assert len(lay.tables) == 1 and len(lay.rows) == 1
    assert [t.text for t in lay.rows[0]] == ["白细胞计数", "11.2", "10^9/L", "3.5-9.5"]
    kb = load_knowledge()
    (item,) = parse_row(kb, lay.rows[0])
    assert item.value.text == "11.2" and item.range.text == "3.5-9.5"


@pytest.mark.parametrize("text,years", [
    ("45岁", 45.0), ("2岁5月", 2.417), ("8月", 0.667), ("8个月", 0.667), ("15天", 0.041), ("2岁半", 2.5),
    ("半岁", 0.5), ("45Y", 45.0), ("6 months", 0.5), ("72", 72.0), ("31周岁", 31.0), ("2周", 0.038),
    ("", None), ("不详", None),
])
def test_an_age_is_read_with_its_unit(text, years):
    from app.report_header import parse_age
    assert parse_age(text) == years


@pytest.mark.parametrize("lines,sex,age,age_years", [
    (["姓名:张三  性别:男  年龄:20天  科室:新生儿科"], "male", 0, 0.055),  # a newborn of 20 days is no adult of 20
    (["性别/年龄：女/8月  床号：12"], "female", 0, 0.667),
    (["Name: ***   Sex: F   Age: 45Y"], "female", 45, 45.0),
    (["张三  男  45岁"], "male", 45, 45.0),
    (["性别：男 年龄：45岁 临床诊断：女性型乳房发育"], "male", 45, 45.0),
    (["科室：妇科  床号：5"], None, None, None),
    (["参考区间：男 120-160 g/L  女 110-150 g/L"], None, None, None),  # a range per sex names no patient
    (["栏名：不其  性制：身  午线：5岁"], None, None, None),  # a garbled key's value (年龄：69岁) is no bare age
    (["年龄:", "12床"], None, None, None), (["性别:", "M2-PK"], None, None, None),  # no value wrapped there
    (["年龄: 62  M"], None, 62, 62.0),  # a letter two spaces on is the next box's, not months
])
def test_the_patients_sex_and_age_are_read_from_the_header(lines, sex, age, age_years):
    h = extract_header([T(x, 40, 30 + 40 * n) for n, x in enumerate(lines)])
    assert (h["sex"], h["age"], h["age_years"]) == (sex, age, age_years)


def test_a_table_row_is_no_patients_line_when_the_page_had_no_header_area():
    toks = [T("血红蛋白  125  g/L  男  45岁", 40, 30)]
    assert extract_header(toks)["sex"] == "male"  # above the table: a patient's line
    h = extract_header(toks, header_area=False)  # the whole page of a sheet whose table was not found
    assert (h["sex"], h["age"]) == (None, None)


@pytest.mark.parametrize("cells", [["结果", "备注"], ["检验者:", "张三", "结果"], ["参考", "Method"]])
def test_a_result_word_beside_words_of_no_indicator_column_is_no_header(cells):
    toks = [T(c, 40 + 200 * i, 100) for i, c in enumerate(cells)]
    assert not any(t.columns for t in analyse(toks, 900).tables)


def test_a_row_with_no_result_under_the_result_header_keeps_its_other_cells():
    # 结果 garbled: the results stand nearer 上次结果 than 项目; they stay, unhinted, for the content to decide
    toks = [T("项目", 40, 100), T("结杲", 300, 100), T("上次结果", 420, 100), T("单位", 560, 100),
            T("参考范围", 700, 100), T("白细胞计数", 40, 150), T("11.2", 420, 150), T("10^9/L", 560, 150),
            T("3.5-9.5", 700, 150)]
    lay = analyse(toks, 900)
    assert [t.text for t in lay.rows[0]] == ["白细胞计数", "11.2", "10^9/L", "3.5-9.5"]


@pytest.mark.parametrize("lines,kind", [
    (["XX市传染病医院", "血常规检验报告单"], "blood_routine"),                  # the institution's name is not the title
    (["XX医院", "粪便常规检验报告单", "临床诊断：甲状腺结节"], "stool"),          # nor the diagnosis
    (["XX医院", "尿 常 规", "科别：感染科"], "urinalysis"),                       # letter-spaced; the ward is a field
    (["XX医院", "肝肾功能检验报告单"], "biochemistry"),                           # two panels: the composite
    (["XX医院", "肝功能、肾功能、电解质"], "biochemistry"),
    (["XX医院", "血常规+尿常规"], "blood_routine"),                               # two reports: the first named
    (["XX医院", "血常视检验报告单"], "blood_routine"),                             # one character misread
    (["XX医院", "肾功能"], "kidney"), (["XX医院", "肝功能"], "liver"),              # (not each other misread)
    (["XX医院", "脑脊液常规+生化"], "unknown"),                                    # another specimen
    (["XX医院", "检验报告", "检验项目：粪便隐血(FOB)   委托单位：XX传染病医院"], "stool"),
    (["高雄市立醫院", "血液常規檢查報告"], "blood_routine"),                       # traditional characters
    (["XX医院", "前列腺特异性抗原(PSA)测定", "诊断：高血压病"], "tumor_markers"),
])
def test_report_kind_from_the_title_alone(lines, kind):
    assert report_type(lines, []) == kind


def test_stool_routine_abbreviated_and_misread_and_hong_kongs_urine_routine():
    assert report_type(["XX儿童医院检验报告单", "检验目的：便常殊（纯检·谱血）"], []) == "stool"  # (dev S10)
    assert report_type(["XX醫院", "小便常規檢查 Urine Routine"], []) == "urinalysis"  # not 便常规


@pytest.mark.parametrize("lines,kind", [
    # a field's value in a box of its own after its key: not the title, nor before the ordered test
    (["XX医院", "检验报告单", "临床诊断：", "高血压", "检验项目：", "血常规"], "blood_routine"),
    (["XX医院", "检验报告单", "临床诊断：", "肺部感染", "检验项目：", "尿常规"], "urinalysis"),
    (["XX市传染病院", "血常规检验报告单"], "blood_routine"),
    # one misread character: never the first (it tells the kinds apart), never a tie, only in a title box
    (["XX医院", "类常规检验报告单"], "unknown"), (["XX医院", "肚功能检验报告单"], "unknown"),
    (["XX医院", "胰岛功能测定"], "unknown"), (["XX医院", "尿隐血试验报告"], "unknown"),
    (["XX医院", "甲状旁腺激素测定"], "unknown"), (["XX医院", "急诊常规检验报告单"], "unknown"),
    (["XX医院", "血常规检验报告单", "温馨提示：勿随地吐痰"], "blood_routine"),  # a note's 痰 is no specimen
    (["XX医院门诊血常规检验报告单"], "blood_routine"), (["凝血酶原时间测定"], "coagulation"),
    (["迪安诊断 血常规检验报告"], "blood_routine"), (["Complete Blood Count Page 1"], "blood_routine"),
    (["检验项目：  血常规"], "blood_routine"), (["血常规检验报告单   送检目的：复查"], "blood_routine"),
    (["血常规检验报告单 XX医院检验科"], "blood_routine"), (["血常规检验报告单（XX医院）"], "blood_routine"),
    (["CBC检验报告"], "blood_routine"), (["BNP测定"], "cardiac"), (["血清CA125测定"], "tumor_markers"),
    (["FOB检测"], "stool"),
    (["XX医院", "肾功能检验报告单", "注：空腹血糖"], "kidney"),  # a note does not widen the title
])
def test_report_kind_where_the_first_version_read_another(lines, kind):
    assert report_type(lines, []) == kind


def test_a_title_on_another_specimen_leaves_the_kind_to_the_rows():
    assert report_type(["XX医院", "脑脊液常规+生化"], ["biochemistry", "biochemistry"]) == "biochemistry"
    assert report_type(["XX医院", "脑脊液常规+生化"], []) == "unknown"


@pytest.mark.parametrize("lines,sex,age", [
    (["患者：张三(男,45岁)"], "male", 45.0), (["患者：王某（女，62岁）"], "female", 62.0),
    (["年龄：l岁 性别：女"], "female", 1.0), (["性别：男 年龄：1岁1O个月"], "male", 1.833),
])
def test_a_bracketed_sex_and_age_and_letters_read_for_digits_in_an_age(lines, sex, age):
    from app.report_header import sex_and_age

    assert sex_and_age(lines) == (sex, age)


@pytest.mark.parametrize("lines,panels,kind", [
    (["XX医院", "血常规检验报告单", "检验项目：", "临床诊断：高血压"], [], "blood_routine"),  # not the ordered test
    (["XX医院", "血常规检验报告单", "送检目的：", "科室：感染科"], [], "blood_routine"),
    (["XX医院", "条码号：", "血常规检验报告单"], [], "blood_routine"),  # a bare key does not hide the title
    (["XX医院", "检验报告单：", "血常规"], [], "blood_routine"),
    (["XX医院", "检验报告单", "临床诊断 高血压"], ["liver"], "liver"),  # a field without its colon
    (["XX医院", "检验报告单", "感染科门诊"], ["liver"], "liver"),
    (["XX医院", "检验报告单", "备注 复查血糖"], ["liver"], "liver"),
    (["XX医院", "脑脊液检验报告单", "检验项目：常规+生化"], [], "unknown"),
    (["XX医院", "血常规检验报告单", "本报告仅对所检标本负责（痰标本除外）"], [], "blood_routine"),  # a footer
    (["XX医院", "肝功能、血脂、", "肾功能检验报告单"], [], "biochemistry"),  # a title over two boxes
    (["XX医院", "全血细胞分忻（五分类）"], [], "blood_routine"),  # a long word misread in a subtitle
])
def test_report_kind_after_the_third_reading(lines, panels, kind):
    assert report_type(lines, panels) == kind


@pytest.mark.parametrize("lines,sex,age", [
    (["性别：女  年龄：30岁  注：PSA参考(男,50岁以上)"], "female", 30.0),  # a reference is not the patient
    (["联系人：李四(女,70岁)"], None, None), (["年龄：o岁"], None, None),
])
def test_what_the_bracketed_pair_and_the_digit_slips_do_not_read(lines, sex, age):
    from app.report_header import sex_and_age

    assert sex_and_age(lines) == (sex, age)


def test_every_name_wrapped_with_its_result_centred_is_joined():
    # a serology sheet whose narrow name column wraps every name, the result centred on the cell: the lines of the
    # name cells stand a line apart, as a dense sheet's rows do; the result centred between two lines joins them
    from app.layout import join_wrapped_names
    from app.service import wrapped_name_reads_whole

    kb = load_knowledge()
    toks = [T("检验项目", 80, 100), T("结果", 300, 100), T("单位", 420, 100), T("参考范围", 560, 100)]
    y = 160
    for lines, value, unit, rng in ((("乙型肝炎病", "毒表面抗原"), "0.02", "IU/mL", "<0.05"),
                                    (("乙型肝炎病", "毒表面抗体"), "6.21", "mIU/mL", "<10.0"),
                                    (("梅毒螺旋体", "特异性抗体"), "0.63", "S/CO", "<1.00")):
        for k, line in enumerate(lines):
            toks.append(T(line, 80, y + 30 * k))
        mid = y + 15 * (len(lines) - 1)
        toks += [T(value, 300, mid), T(unit, 420, mid), T(rng, 560, mid)]
        y += 30 * len(lines) + 12
    lay = analyse(toks, 800)
    rows = join_wrapped_names(lay.rows, lambda *n: wrapped_name_reads_whole(kb, *n))
    items = [it for row in rows for it in parse_row(kb, row)]
    assert [choose_indicator(kb, it, set())[0].code for it in items] == ["HBsAg", "HBsAb", "TP-Ab"]
    assert [it.value.text for it in items] == ["0.02", "6.21", "0.63"]


def test_a_range_printed_as_two_bound_columns_is_one_range():
    # 参考下限 | 参考上限: each row's two cells are its range ('70' '130' → 70-130), not two more numbers
    kb = load_knowledge()
    toks = [T("检验项目", 80, 100), T("结果", 300, 100), T("参考下限", 420, 100), T("参考上限", 540, 100),
            T("单位", 660, 100),
            T("凝血酶原活动度", 80, 160), T("125", 300, 160), T("70", 420, 160), T("130", 540, 160), T("%", 660, 160),
            T("凝血酶原时间", 80, 200), T("13.1", 300, 200), T("9.4", 420, 200), T("12.5", 540, 200), T("s", 660, 200)]
    lay = analyse(toks, 800)
    items = [it for row in lay.rows for it in parse_row(kb, row)]
    assert [(it.value.text, it.range.text) for it in items] == [("125", "70-130"), ("13.1", "9.4-12.5")]
    assert header_kind("下限") == "range_low" and header_kind("参考值上限") == "range_high"


def test_a_code_in_brackets_on_the_second_line_of_a_name_is_joined():
    # '丙氨酸氨基转移酶' over '(ALT)', the result centred on the two lines: one row, named by both lines
    from app.layout import join_wrapped_names
    from app.service import wrapped_name_reads_whole

    kb = load_knowledge()
    rows = [[T("丙氨酸氨基转移酶", 80, 100), T("20", 300, 115), T("9-50", 420, 115)], [T("(ALT)", 80, 130)],
            [T("白蛋白", 80, 190), T("41.9", 300, 190), T("40-55", 420, 190)]]
    out = join_wrapped_names(rows, lambda *n: wrapped_name_reads_whole(kb, *n))
    assert [t.text for t in out[0]] == ["丙氨酸氨基转移酶(ALT)", "20", "9-50"] and len(out) == 2
    # a bracketed code naming another test is no second line of this name
    assert not wrapped_name_reads_whole(kb, "丙氨酸氨基转移酶(AST)", "(AST)", "丙氨酸氨基转移酶")


def test_a_result_centred_between_two_name_lines_joins_them_whatever_they_name():
    # '稳定型糖化' over '血红蛋白' with the result centred on the cell: one row (稳定型糖化血红蛋白, unknown to the
    # knowledge base), never 血红蛋白 with a glycated fraction's 5.7 %. A result level with its own line does not
    # join a name-only line above it (its row's result unread)
    from app.layout import join_wrapped_names

    never = lambda *n: False  # noqa: E731 (the names decide nothing here)
    centred = [[T("稳定型糖化", 80, 100)], [T("血红蛋白", 80, 126), T("5.7", 300, 113), T("4.0-6.0", 420, 113)]]
    out = join_wrapped_names(centred, never)
    assert len(out) == 1 and out[0][0].text == "稳定型糖化血红蛋白"
    level = [[T("稳定型糖化", 80, 100)], [T("血红蛋白", 80, 126), T("5.7", 300, 126), T("4.0-6.0", 420, 126)]]
    assert len(join_wrapped_names(level, never)) == 2
    # three lines of one cell, the result centred on the middle one: the third line is not joined by the centring
    # of the first two
    three = [[T("不稳定型糖化血红", 80, 100)], [T("蛋白", 80, 126), T("2.3", 300, 113)], [T("稳定型糖化", 80, 160)],
             [T("血红蛋白", 80, 186), T("5.7", 300, 173)]]
    out = join_wrapped_names(three, never)
    assert [r[0].text for r in out] == ["不稳定型糖化血红蛋白", "稳定型糖化血红蛋白"]


def test_a_name_and_result_read_as_one_is_no_second_line():
    # '血小板体积分布-W11.6' under a row whose result stands between them: a row of its own, read as one token
    from app.layout import join_wrapped_names

    never = lambda *n: False  # noqa: E731
    rows = [[T("平均血小板体积", 80, 100), T("10.4", 300, 113)], [T("血小板体积分布-W11.6", 80, 126)]]
    assert len(join_wrapped_names(rows, never)) == 2


def test_results_at_the_left_of_a_wide_result_column_are_results():
    """A pre-printed urine form filled in by a dot-matrix printer: 项目 over a narrow name column, 结果 centred over
    a wide one whose results are printed at its left edge, nearer 项目's word than 结果's. They were taken for
    second name cells, and the sheet came back with no rows at all."""
    toks = [T("项目", 150, 100), T("结果", 540, 100), T("参考值", 870, 100)]
    rows = [("白细胞 LEU", "阴性", "阴性"), ("亚硝酸盐 NIT", "阴性", "阴性"), ("酸碱度 PH", "7.5", "4.5~8.0"),
            ("比重 SG", "1.015", "1.003~1.030"), ("葡萄糖 GLU", "2+", "阴性")]
    for i, (name, result, rng) in enumerate(rows):
        y = 160 + 56 * i  # the results printed 13 px (0.6 of a line) above their names: out of register
        toks += [Token(name, 0.99, (50, y + 13, 50 + 16 * len(name), y + 33)),
                 Token(result, 0.99, (320, y, 320 + 16 * len(result), y + 20)),
                 Token(rng, 0.99, (815, y + 10, 815 + 12 * len(rng), y + 30))]
    lay = analyse(toks, 1000)
    kb = load_knowledge()
    items = [it for row in lay.rows for it in parse_row(kb, row)]
    assert [it.value.text if it.value else None for it in items] == ["阴性", "阴性", "7.5", "1.015", "2+"]
    assert [choose_indicator(kb, it, set())[0].code for it in items][1:4] == ["U-NIT", "U-pH", "U-SG"]


def test_a_group_label_beside_names_is_not_taken_for_results():
    """Two text cells under the name header where the first is a group label: the second is a name, not a result."""
    toks = [T("项目", 40, 100), T("结果", 420, 100), T("参考范围", 560, 100)]
    for i, name in enumerate(["抗核抗体", "抗dsDNA抗体", "抗Sm抗体"]):
        y = 160 + 40 * i
        toks += [T("自身抗体谱", 40, y), T(name, 200, y), T("阴性", 420, y), T("阴性", 560, y)]
    lay = analyse(toks, 800)
    assert all(not any(t.column == "value" and t.text != "阴性" for t in row) for row in lay.rows)
