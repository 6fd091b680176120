"""Table reconstruction from boxes (pure)."""
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
    assert h["sample_type"] == "whole_blood" and h["collected_at"] == "2024-03-01T08:30"
    assert "张三" not in str(h) and "12345678" not in str(h)
    assert report_type([t.text for t in toks], []) == "blood_routine"
    assert report_type([], ["liver", "kidney", "lipids"]) == "biochemistry"


def test_title_never_carries_a_name():
    h = extract_header([T("姓名:张三 江北医院血常规检验报告单", 40, 20)])
    assert h["report_title"] == "血常规检验报告单" and "张三" not in str(h)
    h = extract_header([T("姓名张三血常规检验报告单", 40, 20)])
    assert h["report_title"] == "血常规检验报告单"
