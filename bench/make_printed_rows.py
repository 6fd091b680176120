"""Writes bench/data/ocr_printed_rows.jsonl: table rows of Chinese lab reports as OCR returns them (the cells of
one printed row, with the column each cell sits under) and what a reader takes from them (value, flag, range,
unit). Written from domain knowledge of how hospital LIS systems print results, marks, ranges and units, before the
service's parser was read; not taken from any transcribed sheet. The tests, their usual ranges and units are the
common ones of 血常规 / 生化 / PSA / 尿常规 / 粪常规 / 免疫 sheets.

    .venv/bin/python bench/make_printed_rows.py      # rewrites the file (deterministic)

Row: {"cat": category, "form": variant, "panel", "cells": [[text, column], ...], "sex": "男"|"女"|null,
      "want": {"value": number | grade | word, "cmp": ">"|"<" (censored result), "flag": H|L|N|POS|NEG, a list of those a reader accepts, or null (not decidable),
               "low": number|null, "high": number|null, "unit": printed unit as meant}}
A column is one of no (row number), name, code (English abbreviation column), value, flag (mark column), range,
unit, or null where no header names it. "added": "after-first-run" marks rows written after the bench first ran.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "ocr_printed_rows.jsonl"
AFTER_FIRST_RUN: list[dict] = []  # filled by after_first_run()

# name, abbreviation, unit as meant, low, high, decimals, panel
NUMERIC = [
    ("白细胞计数", "WBC", "10^9/L", 3.5, 9.5, 2, "blood"),
    ("血小板计数", "PLT", "10^9/L", 125, 350, 0, "blood"),
    ("中性粒细胞百分比", "NEUT%", "%", 40.0, 75.0, 1, "blood"),
    ("淋巴细胞百分比", "LYMPH%", "%", 20.0, 50.0, 1, "blood"),
    ("平均红细胞体积", "MCV", "fL", 82.0, 100.0, 1, "blood"),
    ("平均红细胞血红蛋白量", "MCH", "pg", 27.0, 34.0, 1, "blood"),
    ("平均红细胞血红蛋白浓度", "MCHC", "g/L", 316, 354, 0, "blood"),
    ("红细胞分布宽度-CV", "RDW-CV", "%", 11.5, 14.5, 1, "blood"),
    ("谷丙转氨酶", "ALT", "U/L", 9, 50, 0, "biochem"),
    ("谷草转氨酶", "AST", "U/L", 15, 40, 0, "biochem"),
    ("总胆红素", "TBIL", "umol/L", 3.4, 20.5, 1, "biochem"),
    ("肌酐", "CREA", "umol/L", 57, 111, 0, "biochem"),
    ("尿酸", "UA", "umol/L", 208, 428, 0, "biochem"),
    ("尿素", "UREA", "mmol/L", 3.1, 8.0, 2, "biochem"),
    ("葡萄糖", "GLU", "mmol/L", 3.9, 6.1, 2, "biochem"),
    ("钾", "K", "mmol/L", 3.5, 5.3, 2, "biochem"),
    ("钠", "Na", "mmol/L", 137, 147, 1, "biochem"),
    ("白蛋白", "ALB", "g/L", 40.0, 55.0, 1, "biochem"),
    ("总蛋白", "TP", "g/L", 65.0, 85.0, 1, "biochem"),
    ("碱性磷酸酶", "ALP", "U/L", 45, 125, 0, "biochem"),
    ("乳酸脱氢酶", "LDH", "U/L", 120, 250, 0, "biochem"),
    ("肌酸激酶", "CK", "U/L", 50, 310, 0, "biochem"),
    ("总前列腺特异性抗原", "TPSA", "ng/mL", 0.0, 4.0, 3, "psa"),
    ("尿比重", "SG", "", 1.003, 1.030, 3, "urine"),
]
# one-sided: name, abbreviation, unit, comparator, bound, decimals, panel
ONE_SIDED = [
    ("总胆固醇", "TC", "mmol/L", "<", 5.2, 2, "biochem"),
    ("甘油三酯", "TG", "mmol/L", "<", 1.7, 2, "biochem"),
    ("低密度脂蛋白胆固醇", "LDL-C", "mmol/L", "<", 3.4, 2, "biochem"),
    ("高密度脂蛋白胆固醇", "HDL-C", "mmol/L", ">", 1.04, 2, "biochem"),
    ("超敏C反应蛋白", "hs-CRP", "mg/L", "<", 3.0, 2, "blood"),
    ("抗链球菌溶血素O", "ASO", "IU/mL", "<", 200, 1, "immuno"),
    ("类风湿因子", "RF", "IU/mL", "<", 20, 1, "immuno"),
    ("谷氨酰转肽酶", "GGT", "U/L", "<", 60, 0, "biochem"),
    ("游离前列腺特异性抗原", "FPSA", "ng/mL", "<", 0.93, 3, "psa"),
]
# sex-specific: name, abbreviation, unit, (male low, high), (female low, high), decimals, panel
SEXED = [
    ("红细胞计数", "RBC", "10^12/L", (4.3, 5.8), (3.8, 5.1), 2, "blood"),
    ("血红蛋白", "HGB", "g/L", (130, 175), (115, 150), 0, "blood"),
    ("红细胞压积", "HCT", "%", (40.0, 50.0), (35.0, 45.0), 1, "blood"),
    ("肌酐", "CREA", "umol/L", (57, 111), (41, 81), 0, "biochem"),
    ("尿酸", "UA", "umol/L", (208, 428), (155, 357), 0, "biochem"),
    ("谷丙转氨酶", "ALT", "U/L", (9, 50), (7, 40), 0, "biochem"),
]
# qualitative (urine dipstick, immunology): name, abbreviation, panel
QUAL = [
    ("尿蛋白", "PRO", "urine"), ("尿葡萄糖", "GLU", "urine"), ("酮体", "KET", "urine"),
    ("隐血", "BLD", "urine"), ("白细胞酯酶", "LEU", "urine"), ("亚硝酸盐", "NIT", "urine"),
    ("胆红素", "BIL", "urine"), ("乙肝表面抗原", "HBsAg", "immuno"), ("粪便隐血", "OB", "stool"),
]


def fmt(x: float, d: int) -> str:
    return f"{x:.{d}f}"


def cell(text: str, col: str | None) -> list:
    return [text, col]


ROWS: list[dict] = []


def add(cat: str, form: str, panel: str, cells: list, want: dict, sex: str | None = None) -> None:
    ROWS.append({"cat": cat, "form": form, "panel": panel, "cells": cells, "sex": sex, "want": want})


def pick_value(rng: random.Random, lo: float, hi: float, d: int, where: str) -> float:
    span = hi - lo
    if where == "H":
        v = hi + span * rng.uniform(0.1, 0.8)
    elif where == "L":
        v = max(lo - span * rng.uniform(0.1, 0.6), lo * 0.3 if lo > 0 else 0.0)
        if v >= lo:
            v = lo * 0.7
    else:
        v = lo + span * rng.uniform(0.2, 0.8)
    return round(v, d)


def numeric_rows(rng: random.Random) -> None:
    # ---- marks: where and how a high/low mark is printed
    marks_hi = [("↑", "arrow"), ("H", "H"), ("h", "h"), ("偏高", "偏高"), ("▲", "triangle"), ("*", "star"),
                ("(H)", "paren-H"), ("[H]", "bracket-H"), ("↑↑", "double-arrow"), ("高", "高")]
    marks_lo = [("↓", "arrow"), ("L", "L"), ("l", "l"), ("偏低", "偏低"), ("▼", "triangle"), ("(L)", "paren-L"),
                ("[L]", "bracket-L"), ("↓↓", "double-arrow"), ("低", "低")]
    for i, (name, abbr, unit, lo, hi, d, panel) in enumerate(NUMERIC):
        if panel == "urine":
            continue
        d_lo, d_hi = fmt(lo, d if d else 0), fmt(hi, d if d else 0)
        rngs = f"{d_lo}-{d_hi}"
        for side, marks in (("H", marks_hi), ("L", marks_lo)):
            for j, (m, mname) in enumerate(marks):
                if (i + j) % 4 or (side == "L" and lo <= 0):  # a quarter of tests x marks
                    continue
                v = pick_value(rng, lo, hi, d, side)
                vs = fmt(v, d)
                flag = side
                if mname == "star":
                    # '*' marks abnormal; the direction comes from the range
                    flag = "H" if v > hi else "L"
                want = {"value": v, "flag": flag, "low": lo, "high": hi, "unit": unit}
                variants = [
                    ("mark-column", [cell(name, "name"), cell(vs, "value"), cell(m, "flag"), cell(rngs, "range"),
                                     cell(unit, "unit")]),
                    ("glued-after", [cell(name, "name"), cell(vs + m, "value"), cell(unit, "unit"),
                                     cell(rngs, "range")]),
                    ("space-after", [cell(name, "name"), cell(f"{vs} {m}", "value"), cell(rngs, "range"),
                                     cell(unit, "unit")]),
                ]
                if mname in ("arrow", "H", "L", "h", "l", "triangle", "偏高", "偏低"):
                    variants.append(("glued-before", [cell(name, "name"), cell(m + vs, "value"),
                                                      cell(rngs, "range"), cell(unit, "unit")]))
                    variants.append(("mark-column-before", [cell(name, "name"), cell(m, "flag"), cell(vs, "value"),
                                                            cell(unit, "unit"), cell(rngs, "range")]))
                for form, cells in variants:
                    if unit == "":
                        cells = [c for c in cells if c[0]]
                    add("mark", f"{mname}/{form}", panel, cells, dict(want))
    # unmarked rows: in range (N) and out of range without a mark (flag from the range)
    for i, (name, abbr, unit, lo, hi, d, panel) in enumerate(NUMERIC):
        for where in ("N", "H", "L")[: 2 if lo <= 0 else 3]:
            v = pick_value(rng, lo, hi, d, where)
            vs = fmt(v, d)
            rs = f"{fmt(lo, d)}-{fmt(hi, d)}"
            cells = [cell(str(i + 1), "no"), cell(name, "name"), cell(abbr, "code"), cell(vs, "value"),
                     cell(rs, "range"), cell(unit, "unit")]
            add("mark", f"unmarked-{where}/code-column", panel, [c for c in cells if c[0]],
                {"value": v, "flag": where, "low": lo, "high": hi, "unit": unit or None})


def result_rows(rng: random.Random) -> None:
    # censored results
    for name, abbr, unit, cmp_, bound, d, panel in ONE_SIDED:
        rs = f"{cmp_}{fmt(bound, d)}"
        lo, hi = (None, bound) if cmp_ == "<" else (bound, None)
        # a result below the limit of detection
        small = round(bound * 0.1, d) or 10 ** -d
        add("result", "less-than", panel,
            [cell(name, "name"), cell(f"<{fmt(small, d)}", "value"), cell(unit, "unit"), cell(rs, "range")],
            {"value": small, "cmp": "<", "flag": "N" if cmp_ == "<" else "L", "low": lo, "high": hi, "unit": unit})
        big = round(bound * 10, 0)
        add("result", "greater-than", panel,
            [cell(name, "name"), cell(f">{big:.0f}", "value"), cell(unit, "unit"), cell(rs, "range")],
            {"value": big, "cmp": ">", "flag": "H" if cmp_ == "<" else "N", "low": lo, "high": hi, "unit": unit})
        add("result", "greater-than-marked", panel,
            [cell(name, "name"), cell(f">{big:.0f}", "value"), cell("↑", "flag"), cell(rs, "range"),
             cell(unit, "unit")],
            {"value": big, "cmp": ">", "flag": "H", "low": lo, "high": hi, "unit": unit})
    for name, abbr, unit, lo, hi, d, panel in NUMERIC[:8] + NUMERIC[8:16]:
        rs = f"{fmt(lo, d)}-{fmt(hi, d)}"
        # scientific notation as some analysers print
        v = pick_value(rng, lo, hi, d, "H")
        if v >= 100:
            mant = v / 10 ** 2
            add("result", "e-notation", panel,
                [cell(name, "name"), cell(f"{mant:.2f}E+2", "value"), cell(rs, "range"), cell(unit, "unit")],
                {"value": round(mant, 2) * 100, "flag": "H", "low": lo, "high": hi, "unit": unit})
        # comma decimal (European-configured analysers, OCR of a dot)
        v = pick_value(rng, lo, hi, max(d, 1), "N")
        if d >= 1:
            vs = fmt(v, d).replace(".", ",")
            add("result", "comma-decimal", panel,
                [cell(name, "name"), cell(vs, "value"), cell(rs, "range"), cell(unit, "unit")],
                {"value": round(v, d), "flag": "N", "low": lo, "high": hi, "unit": unit})
            # a space inside a number (OCR splits at the dot or inside digits)
            a, b = fmt(v, d).split(".")
            add("result", "space-in-number", panel,
                [cell(name, "name"), cell(f"{a}. {b}", "value"), cell(rs, "range"), cell(unit, "unit")],
                {"value": round(v, d), "flag": "N", "low": lo, "high": hi, "unit": unit})
            add("result", "space-before-dot", panel,
                [cell(name, "name"), cell(f"{a} .{b}", "value"), cell(rs, "range"), cell(unit, "unit")],
                {"value": round(v, d), "flag": "N", "low": lo, "high": hi, "unit": unit})
        # a full-width dot or digits (a Chinese input method): ４．５
        v = pick_value(rng, lo, hi, d, "L")
        vs = fmt(v, d)
        fw = vs.translate(str.maketrans("0123456789.", "０１２３４５６７８９．"))
        add("result", "full-width", panel,
            [cell(name, "name"), cell(fw, "value"), cell(rs, "range"), cell(unit, "unit")],
            {"value": v, "flag": "L", "low": lo, "high": hi, "unit": unit})
    # qualitative grades
    grades = [("-", "-", "NEG"), ("阴性", "-", "NEG"), ("阴性(-)", "-", "NEG"), ("阴性（-）", "-", "NEG"),
              ("(-)", "-", "NEG"), ("Neg", "-", "NEG"), ("NEG", "-", "NEG"),
              ("+-", "±", "POS"), ("±", "±", "POS"), ("弱阳性", "±", "POS"), ("弱阳性(±)", "±", "POS"),
              ("+", "1+", "POS"), ("1+", "1+", "POS"), ("++", "2+", "POS"), ("2+", "2+", "POS"),
              ("+++", "3+", "POS"), ("3+", "3+", "POS"), ("4+", "4+", "POS"), ("++++", "4+", "POS"),
              ("阳性", "+", "POS"), ("阳性(+)", "+", "POS"), ("阳性（+）", "+", "POS"), ("(+)", "+", "POS"),
              ("POS", "+", "POS"), ("(++)", "2+", "POS"), ("阳性(++)", "2+", "POS")]
    for i, (name, abbr, panel) in enumerate(QUAL):
        for j, (printed, grade, flag) in enumerate(grades):
            if (i + j) % 2:
                continue
            rs = rng.choice(["阴性", "阴性(-)", "-", "阴性（-）", "(-)", "Neg"])
            add("result", f"grade:{printed}", panel,
                [cell(name, "name"), cell(abbr, "code"), cell(printed, "value"), cell(rs, "range")],
                {"value": grade, "flag": flag, "low": None, "high": None, "unit": None})
    # a positive grade with an arrow or a mark in the mark column
    for name, abbr, panel in QUAL[:6]:
        add("result", "grade-with-mark", panel,
            [cell(name, "name"), cell("2+", "value"), cell("↑", "flag"), cell("阴性", "range")],
            {"value": "2+", "flag": "POS", "low": None, "high": None, "unit": None})
        add("result", "grade-glued-mark", panel,
            [cell(name, "name"), cell("阳性(+)↑", "value"), cell("阴性", "range")],
            {"value": "+", "flag": "POS", "low": None, "high": None, "unit": None})
    # titres
    for name, panel, printed, rs, flag in [
        ("抗核抗体", "immuno", "1:100", "<1:100", "POS"), ("抗核抗体", "immuno", "1:320", "<1:100", "POS"),
        ("抗核抗体", "immuno", "1:80", "<1:100", "NEG"), ("抗核抗体", "immuno", "1:1000", "阴性", "POS"),
        ("肺炎支原体抗体", "immuno", "1:160", "<1:40", "POS"), ("肺炎支原体抗体", "immuno", "1:20", "<1:40", "NEG"),
        ("抗双链DNA抗体", "immuno", "1:10", "<1:10", "POS"), ("冷凝集试验", "immuno", "1:16", "<1:32", "NEG"),
    ]:
        # (after the first run: a '<1:100' range expects its bound in dilutions, high 100; first written as none)
        hi = float(rs.split(":")[1]) if ":" in rs else None
        add("result", "titre", panel, [cell(name, "name"), cell(printed, "value"), cell(rs, "range")],
            {"value": printed, "flag": flag, "low": None, "high": hi, "unit": None})
    # microscopy counts and words (urine sediment, stool)
    micro = [("红细胞(镜检)", "urine", "0-2", "/HP", "0-3", "N"), ("白细胞(镜检)", "urine", "3-5", "/HP", "0-5", "N"),
             ("白细胞(镜检)", "urine", "10-15", "/HP", "0-5", ["H", "ABN", "POS"]),
             ("红细胞(镜检)", "urine", "满视野", "/HP", "0-3", ["H", "ABN", "POS"]),
             ("上皮细胞", "urine", "少许", "/HP", None, None), ("管型", "urine", "未见", "/LP", "0-1", "N"),
             ("结晶", "urine", "未见", None, "未见", "N"), ("红细胞", "stool", "未见", "/HP", "未见", "N"),
             ("白细胞", "stool", "0-2", "/HP", "未见", ["H", "ABN", "POS"]), ("白细胞", "stool", "未见", "/HP", "0-2", "N"),
             ("脂肪球", "stool", "少许", None, "未见", ["H", "ABN", "POS"]), ("寄生虫卵", "stool", "未见", None, "未见", "N"),
             ("真菌", "stool", "未见", None, "未见", "N"), ("吞噬细胞", "stool", "未查见", None, "未见", "N")]
    for name, panel, printed, unit, rs, flag in micro:
        # corrected after the first run: a printed count range ('0-3') is the row's range (first written as none),
        # and a negative word (未见) may come back NEG, the vocabulary's flag for it
        lo_hi = [float(x) for x in rs.split("-")] if rs and rs[0].isdigit() else [None, None]
        if flag == "N" and printed in ("未见", "未查见"):
            flag = ["N", "NEG"]
        cells = [cell(name, "name"), cell(printed, "value")]
        if rs:
            cells.append(cell(rs, "range"))
        if unit:
            cells.append(cell(unit, "unit"))
        add("result", "microscopy", panel, cells,
            {"value": printed, "flag": flag, "low": lo_hi[0], "high": lo_hi[1], "unit": unit})
        if unit and printed[0].isdigit():
            add("result", "microscopy-unit-glued", panel,
                [cell(name, "name"), cell(printed + unit, "value")] + ([cell(rs, "range")] if rs else []),
                {"value": printed, "flag": flag, "low": lo_hi[0], "high": lo_hi[1], "unit": unit})


def range_rows(rng: random.Random) -> None:
    forms = [
        ("hyphen", "{lo}-{hi}"), ("double-hyphen", "{lo}--{hi}"), ("fullwidth-tilde", "{lo}～{hi}"),
        ("tilde", "{lo}~{hi}"), ("em-dash-spaced", "{lo} — {hi}"), ("en-dash", "{lo}–{hi}"),
        ("paren", "({lo}-{hi})"), ("fullwidth-paren", "（{lo}-{hi}）"), ("bracket-comma", "[{lo},{hi}]"),
        ("bracket-hyphen", "[{lo}-{hi}]"), ("spaced-hyphen", "{lo} - {hi}"), ("chinese-dash", "{lo}一{hi}"),
        ("to", "{lo}至{hi}"), ("fullwidth-hyphen", "{lo}－{hi}"), ("glued-unit", "{lo}-{hi}{unit}"),
        ("glued-unit-tilde", "{lo}~{hi} {unit}"),
    ]
    for i, (name, abbr, unit, lo, hi, d, panel) in enumerate(NUMERIC):
        for j, (fname, f) in enumerate(forms):
            if (i + j) % 3:
                continue
            where = "NHL"[(i + j) % 3] if lo > 0 else "NH"[(i + j) % 2]
            v = pick_value(rng, lo, hi, d, where)
            rs = f.format(lo=fmt(lo, d), hi=fmt(hi, d), unit=unit)
            cells = [cell(name, "name"), cell(fmt(v, d), "value")]
            if "unit" in fname:
                cells.append(cell(rs, "range"))
            else:
                cells += [cell(rs, "range"), cell(unit, "unit")] if i % 2 else [cell(unit, "unit"), cell(rs, "range")]
            add("range", fname, panel, [c for c in cells if c[0]],
                {"value": v, "flag": where, "low": lo, "high": hi, "unit": unit or None})
    one = [("less", "<{b}"), ("le", "≤{b}"), ("le-ascii", "<={b}"), ("less-fullwidth", "＜{b}"),
           ("le-fullwidth", "≦{b}"), ("zero-to", "0-{b}"), ("zero-to-tilde", "0~{b}")]
    for i, (name, abbr, unit, cmp_, b, d, panel) in enumerate(ONE_SIDED):
        bs = fmt(b, d)
        if cmp_ == "<":
            for j, (fname, f) in enumerate(one):
                where = "NH"[(i + j) % 2]
                v = round(b * (0.5 if where == "N" else 1.6), d)
                lo = 0.0 if fname.startswith("zero") else None
                add("range", f"one-sided-{fname}", panel,
                    [cell(name, "name"), cell(fmt(v, d), "value"), cell(f.format(b=bs), "range"), cell(unit, "unit")],
                    {"value": v, "flag": where, "low": lo, "high": b, "unit": unit})
        else:
            for fname, f in [("greater", ">{b}"), ("ge", "≥{b}"), ("ge-ascii", ">={b}"), ("greater-fullwidth", "＞{b}")]:
                for where in "NL":
                    v = round(b * (1.4 if where == "N" else 0.6), d)
                    add("range", f"one-sided-{fname}", panel,
                        [cell(name, "name"), cell(fmt(v, d), "value"), cell(f.format(b=bs), "range"),
                         cell(unit, "unit")],
                        {"value": v, "flag": where, "low": b, "high": None, "unit": unit})
    # a range with 'x10^9/L'-scaled bounds or a percent on each bound
    for name, abbr, unit, lo, hi, d, panel in NUMERIC:
        if unit == "%":
            v = pick_value(rng, lo, hi, d, "H")
            add("range", "percent-both", panel,
                [cell(name, "name"), cell(fmt(v, d), "value"), cell(f"{fmt(lo, d)}%-{fmt(hi, d)}%", "range")],
                {"value": v, "flag": "H", "low": lo, "high": hi, "unit": "%"})
    # qualitative ranges: 阴性 / 阴性(-) / - with a numeric-looking result column
    for name, abbr, panel in QUAL:
        for rs in ["阴性", "阴性(-)", "阴性（-）", "-", "(-)", "Negative", "阴性 (-)"]:
            add("range", f"qualitative:{rs}", panel,
                [cell(name, "name"), cell("阴性", "value"), cell(rs, "range")],
                {"value": "-", "flag": "NEG", "low": None, "high": None, "unit": None})
    # sex-specific
    sexf = [("colon", "男:{ml}-{mh} 女:{fl}-{fh}"), ("fullwidth-colon", "男：{ml}-{mh} 女：{fl}-{fh}"),
            ("no-colon", "男{ml}-{mh} 女{fl}-{fh}"), ("tilde", "男:{ml}~{mh};女:{fl}~{fh}"),
            ("female-first", "女:{fl}-{fh} 男:{ml}-{mh}"), ("split-cells", None)]
    for i, (name, abbr, unit, (ml, mh), (fl_, fh), d, panel) in enumerate(SEXED):
        for j, (fname, f) in enumerate(sexf):
            for sex in ("男", "女"):
                lo, hi = (ml, mh) if sex == "男" else (fl_, fh)
                where = "NHL"[(i + j + (sex == "女")) % 3]
                v = pick_value(rng, lo, hi, d, where)
                kw = dict(ml=fmt(ml, d), mh=fmt(mh, d), fl=fmt(fl_, d), fh=fmt(fh, d))
                if f is None:
                    rcells = [cell("男:{ml}-{mh}".format(**kw), "range"), cell("女:{fl}-{fh}".format(**kw), "range")]
                else:
                    rcells = [cell(f.format(**kw), "range")]
                add("sex", fname, panel, [cell(name, "name"), cell(fmt(v, d), "value")] + rcells + [cell(unit, "unit")],
                    {"value": v, "flag": where, "low": lo, "high": hi, "unit": unit}, sex=sex)


def unit_rows(rng: random.Random) -> None:
    mangled = {
        "10^9/L": ["10^9/L", "10~9/L", "10*9/L", "x10E9/L", "×10^9/L", "x10^9/L", "10E9/L", "10'9/L", "×10⁹/L",
                   "10°9/L", "*10^9/L", "10^9/l", "G/L"],
        "10^12/L": ["10^12/L", "10~12/L", "10*12/L", "x10E12/L", "×10^12/L", "10E12/L", "T/L"],
        "g/L": ["g/L", "g/1", "g/l", "G/L", "g/I"],
        "fL": ["fL", "fl", "f1", "FL"],
        "umol/L": ["umol/L", "μmol/L", "µmol/L", "umo1/L", "umol/l", "μmo1/L", "uMol/L", "umol/1"],
        "mmol/L": ["mmol/L", "mmo1/L", "mmol/l", "mmol/1", "mMol/L", "mmo1/1"],
        "U/L": ["U/L", "U/l", "u/L", "IU/L", "U/1"],
        "ng/mL": ["ng/mL", "ng/ml", "ng/m1"],
        "pg": ["pg", "Pg"],
        "%": ["%", "％"],
        "mg/L": ["mg/L", "mg/l", "mg/1"],
        "IU/mL": ["IU/mL", "IU/ml", "IU/m1", "lU/mL"],
    }
    tests = NUMERIC + [(n, a, u, (0.0 if c == "<" else b), (b if c == "<" else b * 2), d, p)
                       for n, a, u, c, b, d, p in ONE_SIDED]
    for i, (name, abbr, unit, lo, hi, d, panel) in enumerate(tests):
        if unit not in mangled:
            continue
        for j, printed in enumerate(mangled[unit]):
            if (i + j) % 2 and unit not in ("10^9/L", "10^12/L"):
                continue
            where = "NHL"[(i + j) % 3] if lo > 0 else "NH"[(i + j) % 2]
            v = pick_value(rng, lo, hi, d, where)
            rs = f"{fmt(lo, d)}-{fmt(hi, d)}"
            order = (i + j) % 3
            if order == 0:
                cells = [cell(name, "name"), cell(fmt(v, d), "value"), cell(printed, "unit"), cell(rs, "range")]
            elif order == 1:
                cells = [cell(name, "name"), cell(fmt(v, d), "value"), cell(rs, "range"), cell(printed, "unit")]
            else:  # value and unit in one box
                cells = [cell(name, "name"), cell(f"{fmt(v, d)} {printed}", "value"), cell(rs, "range")]
            add("unit", f"{unit}:{printed}", panel, cells, {"value": v, "flag": where, "low": lo, "high": hi,
                                                          "unit": unit})
    for name, abbr, unit, lo, hi, d, panel in SEXED[:3]:
        pass


def glued_rows(rng: random.Random) -> None:
    """Cells glued together or split oddly, as the detector boxes them."""
    for i, (name, abbr, unit, lo, hi, d, panel) in enumerate(NUMERIC):
        if not unit:
            continue
        where = "NHL"[i % 3]
        v = pick_value(rng, lo, hi, d, where)
        vs, rs = fmt(v, d), f"{fmt(lo, d)}-{fmt(hi, d)}"
        mark = {"H": "↑", "L": "↓", "N": ""}[where]
        want = {"value": v, "flag": where, "low": lo, "high": hi, "unit": unit}
        forms = {
            "name+value": [cell(name + vs + mark, "name"), cell(rs, "range"), cell(unit, "unit")],
            "whole-row": [cell(f"{name} {vs}{mark} {rs} {unit}", "name")],
            "whole-row-code": [cell(f"{i + 1} {name} {abbr} {vs} {mark} {unit} {rs}".replace("  ", " "), "no")],
            "number-glued-name": [cell(f"{i + 1}{name}", "name"), cell(vs + mark, "value"), cell(rs, "range"),
                                  cell(unit, "unit")],
            "value+unit": [cell(name, "name"), cell(f"{vs}{mark}{unit}", "value"), cell(rs, "range")],
            "unit+range": [cell(name, "name"), cell(vs + mark, "value"), cell(f"{unit} {rs}", "unit")],
            "range+unit-glued": [cell(name, "name"), cell(vs + mark, "value"), cell(f"{rs}{unit}", "range")],
            "unit-then-range-glued": [cell(name, "name"), cell(vs + mark, "value"), cell(f"{unit}{rs}", "unit")],
            "range-split": [cell(name, "name"), cell(vs + mark, "value"), cell(fmt(lo, d), "range"),
                            cell(f"-{fmt(hi, d)}", "range"), cell(unit, "unit")],
            "range-dash-lost": [cell(name, "name"), cell(vs + mark, "value"), cell(fmt(lo, d), "range"),
                                cell(fmt(hi, d), "range"), cell(unit, "unit")],
            "value+range": [cell(name, "name"), cell(f"{vs}{mark} {rs}", "value"), cell(unit, "unit")],
            "code+value": [cell(name, "name"), cell(f"{abbr} {vs}{mark}", "code"), cell(rs, "range"),
                           cell(unit, "unit")],
            "no-columns": [cell(name, None), cell(vs + mark, None), cell(rs, None), cell(unit, None)],
            "name(code)": [cell(f"{name}({abbr})", "name"), cell(vs + mark, "value"), cell(rs, "range"),
                           cell(unit, "unit")],
        }
        for form, cells in forms.items():
            add("glued", form, panel, cells, dict(want))


def mark_column_signs() -> None:
    """Sheets whose mark column speaks + / - (positive / negative) beside a word result."""
    for name, abbr, panel in QUAL:
        add("mark", "sign-column:+", panel,
            [cell(name, "name"), cell("阳性", "value"), cell("+", "flag"), cell("阴性", "range")],
            {"value": "+", "flag": "POS", "low": None, "high": None, "unit": None})
        add("mark", "sign-column:-", panel,
            [cell(name, "name"), cell("阴性", "value"), cell("-", "flag"), cell("阴性", "range")],
            {"value": "-", "flag": "NEG", "low": None, "high": None, "unit": None})


def ambiguous(r: dict) -> str | None:
    """Why a row is ambiguous even to a person reading it (judged after the first run), else None."""
    form = r["form"]
    if form.startswith("l/glued") or form.startswith("l/space"):
        return "a lower-case l glued to a number reads as the digit 1 as well as a low mark"
    if form == "IU/mL:lU/mL":
        return "'lU/mL' is IU/mL with its I read as l, or an arrow read as l before U/mL"
    return None


def after_first_run() -> None:
    """Rows written after the bench first ran (same domain knowledge, forms not in the first set): a decimal
    point with a space after it inside a range, a bracket the detector lost, a comparator in the result in
    full-width or with '=', an arrow and a letter together, a detection-limit result equal to its one-sided range."""
    def row(cat, form, panel, cells, want, sex=None):
        AFTER_FIRST_RUN.append({"cat": cat, "form": form, "panel": panel, "cells": cells, "sex": sex, "want": want})

    for name, abbr, unit, lo, hi, d, panel in NUMERIC[:12]:
        if d == 0:
            continue
        los, his = fmt(lo, d), fmt(hi, d)
        v = round((lo + hi) / 2, d)
        w = {"value": v, "flag": "N", "low": lo, "high": hi, "unit": unit}
        row("range", "space-after-point", panel, [cell(name, "name"), cell(fmt(v, d), "value"),
            cell(f"{los.replace('.', '. ')}-{his.replace('.', '. ')}", "range"), cell(unit, "unit")], dict(w))
        row("range", "open-bracket-lost", panel, [cell(name, "name"), cell(fmt(v, d), "value"),
            cell(f"{los}-{his})", "range"), cell(unit, "unit")], dict(w))
        row("range", "close-bracket-lost", panel, [cell(name, "name"), cell(fmt(v, d), "value"),
            cell(f"({los}-{his}", "range"), cell(unit, "unit")], dict(w))
        vh = round(hi * 1.3, d)
        row("mark", "arrow+letter", panel, [cell(name, "name"), cell(fmt(vh, d), "value"), cell("H↑", "flag"),
            cell(f"{los}-{his}", "range"), cell(unit, "unit")],
            {"value": vh, "flag": "H", "low": lo, "high": hi, "unit": unit})
        row("mark", "arrow-glued-space-letter", panel, [cell(name, "name"), cell(f"{fmt(vh, d)}↑ H", "value"),
            cell(f"{los}-{his}", "range"), cell(unit, "unit")],
            {"value": vh, "flag": "H", "low": lo, "high": hi, "unit": unit})
    for name, abbr, unit, cmp_, b, d, panel in ONE_SIDED:
        bs = fmt(b, d)
        if cmp_ == "<":
            row("result", "limit-equal", panel, [cell(name, "name"), cell(f"<{bs}", "value"), cell(f"<{bs}", "range"),
                cell(unit, "unit")], {"value": b, "cmp": "<", "flag": "N", "low": None, "high": b, "unit": unit})
            big = round(b * 10, 0)
            row("result", "greater-fullwidth", panel, [cell(name, "name"), cell(f"＞{big:.0f}", "value"),
                cell(f"<{bs}", "range"), cell(unit, "unit")],
                {"value": big, "cmp": ">", "flag": "H", "low": None, "high": b, "unit": unit})
            row("result", "ge-in-result", panel, [cell(name, "name"), cell(f">={big:.0f}", "value"),
                cell(f"0-{bs}", "range"), cell(unit, "unit")],
                {"value": big, "cmp": ">=", "flag": "H", "low": 0.0, "high": b, "unit": unit})


def main() -> None:
    rng = random.Random(20261206)
    after_first_run()
    numeric_rows(rng)
    result_rows(rng)
    range_rows(rng)
    unit_rows(rng)
    glued_rows(rng)
    mark_column_signs()
    about = {"_about": (
        "Table rows of Chinese lab reports as OCR returns them: the cells of one printed row (text, column under "
        "the header: no/name/code/value/flag/range/unit, null with no header) and what a reader takes from it "
        "(value or grade, cmp for a censored result, flag H/L/N or POS/NEG, range low/high, unit as meant). "
        "Written by bench/make_printed_rows.py from domain knowledge of hospital LIS printouts (marks, results, "
        "ranges, units, cells glued or split by the detector) before the service's parser was read; not taken "
        "from any transcribed sheet. A flag is what the sheet says: its printed mark (a '*' takes its direction "
        "from the range), else the value against the printed range (for the patient's sex), else NEG/POS. Rows "
        "with \"added\": \"after-first-run\" were written after the bench first ran and the first fixes were made "
        "(spaced decimal points and lost brackets in ranges, arrow + letter marks, comparators in results). Corrected after "
        "the first run: microscopy rows printing a count range ('0-3') expect it as their range (first written as "
        "none), a titre range ('<1:100') expects its bound in dilutions (first written as none), and a negative word "
        "(未见, 未查见) may come back NEG as well as N. Rows marked \"ambiguous\" (with the "
        "reason) were judged, after the first run, to be ambiguous even to a person; the bench counts them apart (a titre "
        "against 阴性, first judged so, was taken back: a reported titre is a positive finding, as a dev sheet prints it). "
        "Used by bench/ocr_rows.py.")}
    lines = [json.dumps(about, ensure_ascii=False)]
    for r in ROWS:
        why = ambiguous(r)
        if why:
            r["ambiguous"] = why
    lines += [json.dumps(r, ensure_ascii=False) for r in ROWS]
    lines += [json.dumps({**r, "added": "after-first-run"}, ensure_ascii=False) for r in AFTER_FIRST_RUN]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    from collections import Counter
    print(len(ROWS) + len(AFTER_FIRST_RUN), Counter(r["cat"] for r in ROWS + AFTER_FIRST_RUN))


if __name__ == "__main__":
    main()
