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
             ("白细胞", "stool", "0-2", "/HP", "未见", "N"), ("白细胞", "stool", "未见", "/HP", "0-2", "N"),
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


ROUND_TWO: list[dict] = []  # filled by round_two_rows()

# round two, 生化: name, abbreviation, unit as meant, low, high, decimals
CHEM = [
    ("丙氨酸氨基转移酶", "ALT", "U/L", 9, 50, 0), ("天门冬氨酸氨基转移酶", "AST", "U/L", 15, 40, 0),
    ("γ-谷氨酰转移酶", "GGT", "U/L", 10, 60, 0), ("直接胆红素", "DBIL", "umol/L", 0.0, 6.8, 1),
    ("间接胆红素", "IBIL", "umol/L", 1.7, 13.7, 1), ("球蛋白", "GLB", "g/L", 20.0, 40.0, 1),
    ("白球比", "A/G", "", 1.2, 2.4, 2), ("总胆汁酸", "TBA", "umol/L", 0.0, 10.0, 1),
    ("前白蛋白", "PA", "mg/L", 200, 400, 0), ("胆碱酯酶", "CHE", "U/L", 5000, 12000, 0),
    ("尿素氮", "BUN", "mmol/L", 2.86, 8.20, 2), ("胱抑素C", "Cys-C", "mg/L", 0.59, 1.03, 2),
    ("二氧化碳", "CO2", "mmol/L", 22.0, 29.0, 1), ("氯", "Cl", "mmol/L", 99.0, 110.0, 1),
    ("钙", "Ca", "mmol/L", 2.11, 2.52, 2), ("磷", "P", "mmol/L", 0.85, 1.51, 2),
    ("镁", "Mg", "mmol/L", 0.75, 1.02, 2), ("甘油三酯", "TG", "mmol/L", 0.56, 1.70, 2),
    ("载脂蛋白A1", "ApoA1", "g/L", 1.20, 1.60, 2), ("载脂蛋白B", "ApoB", "g/L", 0.60, 1.10, 2),
    ("脂蛋白(a)", "Lp(a)", "mg/L", 0, 300, 0), ("糖化血红蛋白", "HbA1c", "%", 4.0, 6.0, 1),
    ("肌酸激酶同工酶", "CK-MB", "U/L", 0, 24, 0), ("α-羟丁酸脱氢酶", "HBDH", "U/L", 72, 182, 0),
    ("同型半胱氨酸", "HCY", "umol/L", 0.0, 15.0, 1), ("β2-微球蛋白", "β2-MG", "mg/L", 1.00, 3.00, 2),
    ("肌红蛋白", "MYO", "ng/mL", 0.0, 70.0, 1), ("葡萄糖", "GLU", "mmol/L", 3.90, 6.10, 2),
]
# OCR misreadings of a unit: l as 1 or I, μ as u, case lost
UNIT_OCR = {"umol/L": ["umo1/L", "μmol/L", "umol/l", "µmo1/L", "umol/1"], "mmol/L": ["mmo1/L", "mmol/l", "mmo1/1"],
            "U/L": ["U/1", "U/l", "u/L"], "g/L": ["g/1", "g/l"], "mg/L": ["mg/1", "mg/l"],
            "ng/mL": ["ng/ml", "ng/m1"], "U/mL": ["U/ml", "U/m1"], "%": ["％"]}
# tumour markers: name, abbreviation, unit, high bound (low 0), decimals
TUMOR = [
    ("甲胎蛋白", "AFP", "ng/mL", 7.0, 2), ("癌胚抗原", "CEA", "ng/mL", 5.0, 2),
    ("糖类抗原125", "CA125", "U/mL", 35.0, 2), ("糖类抗原19-9", "CA19-9", "U/mL", 37.0, 2),
    ("糖类抗原15-3", "CA15-3", "U/mL", 25.0, 2), ("糖类抗原72-4", "CA72-4", "U/mL", 6.9, 2),
    ("细胞角蛋白19片段", "CYFRA21-1", "ng/mL", 3.3, 2), ("神经元特异性烯醇化酶", "NSE", "ng/mL", 16.3, 2),
    ("鳞状上皮细胞癌抗原", "SCC", "ng/mL", 1.5, 2), ("总前列腺特异性抗原", "TPSA", "ng/mL", 4.0, 3),
    ("游离前列腺特异性抗原", "FPSA", "ng/mL", 0.93, 3),
]
# infection / immunology: name, abbreviation, unit, cut-off (a result at or above it is reactive), decimals
IMMUNE = [
    ("乙肝表面抗原", "HBsAg", "IU/mL", 0.05, 2), ("乙肝表面抗体", "HBsAb", "mIU/mL", 10.0, 2),
    ("乙肝e抗原", "HBeAg", "S/CO", 1.0, 2), ("丙肝抗体", "HCV-Ab", "S/CO", 1.0, 2),
    ("梅毒螺旋体抗体", "TP-Ab", "S/CO", 1.0, 2), ("人免疫缺陷病毒抗体", "HIV-Ab", "COI", 1.0, 3),
    ("甲肝抗体IgM", "HAV-IgM", "S/CO", 1.0, 2), ("降钙素原", "PCT", "ng/mL", 0.5, 2),
]
# coagulation: name, abbreviation, unit, low, high, decimals
COAG = [
    ("凝血酶原时间", "PT", "秒", 11.0, 14.5, 1), ("国际标准化比值", "INR", "", 0.80, 1.20, 2),
    ("活化部分凝血活酶时间", "APTT", "秒", 28.0, 43.5, 1), ("凝血酶时间", "TT", "秒", 14.0, 21.0, 1),
    ("纤维蛋白原", "FIB", "g/L", 2.00, 4.00, 2), ("D-二聚体", "D-D", "mg/L", 0.00, 0.55, 2),
    ("纤维蛋白(原)降解产物", "FDP", "mg/L", 0.0, 5.0, 1), ("凝血酶原活动度", "PTA", "%", 80.0, 120.0, 1),
]
# cells seen that the knowledge base counts as normal for the stool white-cell count even against a printed 未见
# (stool.yaml: 偶见, 0-1, 0-2): N, a decision taken after round two (these rows had been written POS)
STOOL_NORMAL_SEEN = {("stool", "白细胞", "0-2"), ("stool", "白细胞", "偶见")}
POS_FLAGS = ["H", "ABN", "POS"]  # a finding above a 未见 / count range: high, abnormal or positive all read it
NEG_OK = ["N", "NEG"]  # a negative finding in range


def flag_of(v: float, lo: float | None, hi: float | None) -> str:
    if hi is not None and v > hi:
        return "H"
    if lo is not None and v < lo:
        return "L"
    return "N"


def round_two_rows() -> None:
    """Round two (issue #9, sheets from hospitals not seen): 生化, tumour markers and PSA, infection serology,
    coagulation, urine dipstick and sediment, stool, and the formats left alone in the first round (a count or
    少许 against a 未见 range, 未查见, uMol/L, a % on both bounds, age-split ranges, bracketed grades). Written from
    domain knowledge of LIS printouts before the parser was read again; OCR manglings included (l as 1, μ as u,
    ~ as - or 一, a mark glued to the value, a range split over two cells)."""
    rng = random.Random(20261207)

    def row(cat, form, panel, cells, want, sex=None, age=None):
        ROUND_TWO.append({"cat": cat, "form": form, "panel": panel, "cells": [c for c in cells if c[0]],
                          "sex": sex, "want": want, **({"age": age} if age is not None else {})})

    # ---------------- 生化 ----------------
    range_forms = ["{lo}-{hi}", "{lo}--{hi}", "{lo}～{hi}", "{lo}一{hi}", "{lo} - {hi}", "{lo}~{hi}", "{lo}－{hi}"]
    for i, (name, abbr, unit, lo, hi, d) in enumerate(CHEM):
        los, his = fmt(lo, d), fmt(hi, d)
        rs = f"{los}-{his}"
        wheres = "NHL" if lo > 0 else "NH"
        for k in range(6):
            where = wheres[(i + k) % len(wheres)]
            v = pick_value(rng, lo, hi, d, where)
            vs = fmt(v, d)
            mark = {"H": "↑", "L": "↓", "N": ""}[where]
            w = {"value": v, "flag": where, "low": lo, "high": hi, "unit": unit or None}
            if k == 0:  # 序号 项目 代号 结果 提示 单位 参考范围
                row("chem", "lis-standard", "biochem", [cell(str(i + 1), "no"), cell(name, "name"), cell(abbr, "code"),
                    cell(vs, "value"), cell(mark, "flag"), cell(unit, "unit"), cell(rs, "range")], w)
            elif k == 1:  # the code printed before the name, the mark glued after the value
                row("chem", "code-first", "biochem", [cell(str(i + 1), "no"), cell(abbr, "code"), cell(name, "name"),
                    cell(vs + mark, "value"), cell(unit, "unit"), cell(rs, "range")], w)
            elif k == 2:  # a range dash printed or read in another form
                f = range_forms[i % len(range_forms)]
                row("chem", "range-dash:" + f.replace("{lo}", "").replace("{hi}", ""), "biochem",
                    [cell(name, "name"), cell(vs, "value"), cell(mark, "flag"), cell(f.format(lo=los, hi=his), "range"),
                     cell(unit, "unit")], w)
            elif k == 3:  # the unit misread
                printed = UNIT_OCR.get(unit, [unit])[i % len(UNIT_OCR.get(unit, [unit]))]
                row("chem", f"unit-ocr:{printed}", "biochem", [cell(name, "name"), cell(vs, "value"),
                    cell(mark, "flag"), cell(printed, "unit"), cell(rs, "range")], w)
            elif k == 4:  # the range split over two cells
                split = [[cell(los, "range"), cell(f"-{his}", "range")], [cell(f"{los}-", "range"), cell(his, "range")],
                         [cell(los, "range"), cell(f"～{his}", "range")]][i % 3]
                row("chem", "range-split", "biochem", [cell(name, "name"), cell(vs + mark, "value")] + split +
                    [cell(unit, "unit")], w)
            else:  # the value on the range's bound is in range
                vb = hi if i % 2 else lo
                row("chem", "on-bound", "biochem", [cell(name, "name"), cell(abbr, "code"), cell(fmt(vb, d), "value"),
                    cell(rs, "range"), cell(unit, "unit")], {**w, "value": vb, "flag": "N"})
    # one-sided ranges printed on chemistry sheets
    for name, abbr, unit, cmp_, b, d in [("总胆固醇", "TC", "mmol/L", "<", 5.18, 2),
                                         ("低密度脂蛋白胆固醇", "LDL-C", "mmol/L", "<", 3.37, 2),
                                         ("高密度脂蛋白胆固醇", "HDL-C", "mmol/L", ">", 1.04, 2),
                                         ("肌钙蛋白I", "cTnI", "ng/mL", "<", 0.04, 3),
                                         ("估算肾小球滤过率", "eGFR", "mL/min/1.73m2", ">", 90, 1)]:
        for k, where in enumerate("NH" if cmp_ == "<" else "NL"):
            v = round(b * (0.6 if where == "N" and cmp_ == "<" else 1.5 if where in "NH" else 0.7), d)
            lo, hi = (None, b) if cmp_ == "<" else (b, None)
            sign = ["<", "≤", "＜"][k % 3] if cmp_ == "<" else [">", "≥", "＞"][k % 3]
            row("chem", "one-sided", "biochem", [cell(name, "name"), cell(abbr, "code"), cell(fmt(v, d), "value"),
                cell({"H": "↑", "L": "↓", "N": ""}[where], "flag"), cell(unit, "unit"), cell(f"{sign}{fmt(b, d)}", "range")],
                {"value": v, "flag": where, "low": lo, "high": hi, "unit": unit})
    # ---------------- tumour markers / PSA ----------------
    for i, (name, abbr, unit, hi, d) in enumerate(TUMOR):
        his = fmt(hi, d)
        rs = [f"0-{his}", f"<{his}", f"0.00-{his}", f"0～{his}"][i % 4]
        lo = None if rs.startswith("<") else 0.0
        v = round(hi * 0.3, d)
        row("tumor", "normal", "psa", [cell(name, "name"), cell(abbr, "code"), cell(fmt(v, d), "value"),
            cell(unit, "unit"), cell(rs, "range")], {"value": v, "flag": "N", "low": lo, "high": hi, "unit": unit})
        vh = round(hi * 3.7, d)
        row("tumor", "high-glued-arrow", "psa", [cell(name, "name"), cell(fmt(vh, d) + "↑", "value"),
            cell(rs, "range"), cell(unit, "unit")], {"value": vh, "flag": "H", "low": lo, "high": hi, "unit": unit})
        dl = ["0.003", "0.500", "0.60", "1.00", "0.010"][i % 5]
        row("tumor", "below-detection", "psa", [cell(name, "name"), cell(f"<{dl}", "value"), cell(unit, "unit"),
            cell(rs, "range")], {"value": float(dl), "cmp": "<", "flag": "N", "low": lo, "high": hi, "unit": unit})
        big = ["1000.00", "1210.00", "5000.00", ">1000"][i % 4].lstrip(">")
        row("tumor", "above-linearity", "psa", [cell(name, "name"), cell(f">{big}", "value"), cell("H", "flag"),
            cell(unit, "unit"), cell(rs, "range")], {"value": float(big), "cmp": ">", "flag": "H", "low": lo,
                                                     "high": hi, "unit": unit})
        row("tumor", "value+unit", "psa", [cell(name, "name"), cell(f"{fmt(v, d)} {unit}", "value"), cell(rs, "range")],
            {"value": v, "flag": "N", "low": lo, "high": hi, "unit": unit})
        printed = UNIT_OCR[unit][i % 2]
        row("tumor", f"unit-ocr:{printed}", "psa", [cell(f"{name}({abbr})", "name"), cell(fmt(vh, d), "value"),
            cell("↑", "flag"), cell(printed, "unit"), cell(rs, "range")],
            {"value": vh, "flag": "H", "low": lo, "high": hi, "unit": unit})
    # the free / total PSA ratio: a lower bound (a low ratio is the finding), as a fraction or a percent
    for k, (name, vs, rs, unit, flag) in enumerate([
            ("游离PSA/总PSA", "0.18", ">0.25", "", "L"), ("fPSA/tPSA", "0.32", ">0.25", "", "N"),
            ("FPSA/TPSA", "0.12", ">0.25", "", "L"), ("f/tPSA", "0.26", ">0.25", "", "N"),
            ("游离/总PSA比值", "18.5", ">25", "%", "L"), ("F/T比值", "0.09", "≥0.16", "", "L"),
            ("FPSA/TPSA比值", "0.21↓", ">0.25", "", "L"), ("fPSA/tPSA", "35.6", ">25.0", "%", "N")]):
        hi_lo = float(rs.lstrip(">≥"))
        row("tumor", "f/t-ratio", "psa", [cell(name, "name"), cell(vs, "value"), cell(rs, "range"), cell(unit, "unit")],
            {"value": float(vs.rstrip("↓")), "flag": flag, "low": hi_lo, "high": None, "unit": unit or None})
    # ---------------- infection serology ----------------
    for i, (name, abbr, unit, cut, d) in enumerate(IMMUNE):
        cs = fmt(cut, d)
        neg = round(cut * 0.24, d) or 10 ** -d
        pos = round(cut * 12.5 + 0.37, d)
        ns, ps = fmt(neg, d), fmt(pos, d)
        wn = {"value": neg, "flag": NEG_OK, "low": None, "high": cut, "unit": unit}
        wp = {"value": pos, "flag": ["H", "POS"], "low": None, "high": cut, "unit": unit}
        row("immune", "numeric-negative", "infect", [cell(name, "name"), cell(abbr, "code"), cell(ns, "value"),
            cell(unit, "unit"), cell(f"<{cs}", "range")], wn)
        row("immune", "numeric-positive-mark", "infect", [cell(name, "name"), cell(ps, "value"), cell("↑", "flag"),
            cell(unit, "unit"), cell(f"<{cs}", "range")], wp)
        row("immune", "word(number)", "infect", [cell(name, "name"), cell(f"阴性({ns})", "value"), cell("阴性", "range"),
            cell(unit, "unit")], {**wn, "low": None, "high": None})
        row("immune", "number word", "infect", [cell(name, "name"), cell(f"{ns} 阴性", "value"),
            cell(f"<{cs}", "range"), cell(unit, "unit")], wn)
        row("immune", "positive word(number)", "infect", [cell(name, "name"), cell(f"阳性({ps})", "value"),
            cell("阴性", "range"), cell(unit, "unit")], {**wp, "low": None, "high": None})
        row("immune", "number|word-column", "infect", [cell(name, "name"), cell(ns, "value"), cell("阴性(-)", "flag"),
            cell(f"<{cs}", "range"), cell(unit, "unit")], wn)
        dl = f"<{fmt(cut * 0.2, d)}"  # a detection limit below the cut-off
        row("immune", "below-detection", "infect", [cell(name, "name"), cell(dl, "value"), cell(unit, "unit"),
            cell(f"<{cs}", "range")], {"value": float(dl[1:]), "cmp": "<", "flag": NEG_OK, "low": None, "high": cut,
                                       "unit": unit})
        row("immune", "value+unit-glued", "infect", [cell(name, "name"), cell(f"{ns}{unit}", "value"),
            cell(f"<{cs}", "range")], wn)
        row("immune", "range-0-cut", "infect", [cell(name, "name"), cell(ps, "value"), cell(f"0-{cs}", "range"),
            cell(unit, "unit")], {**wp, "low": 0.0})
    # ---------------- coagulation ----------------
    sec_forms = ["秒", "s", "S", "sec", "Sec", "秒"]
    for i, (name, abbr, unit, lo, hi, d) in enumerate(COAG):
        los, his = fmt(lo, d), fmt(hi, d)
        rs = f"{los}-{his}"
        for k in range(6):
            where = ("NHL" if lo > 0 else "NH")[(i + k) % (3 if lo > 0 else 2)]
            v = pick_value(rng, lo, hi, d, where)
            vs = fmt(v, d)
            mark = {"H": "↑", "L": "↓", "N": ""}[where]
            w = {"value": v, "flag": where, "low": lo, "high": hi, "unit": unit or None}
            u = sec_forms[(i + k) % len(sec_forms)] if unit == "秒" else unit
            if unit == "秒":  # 秒, s, S, sec all mean seconds
                w["unit"] = "秒" if u == "秒" else "s"
            if k == 0:
                row("coag", "lis-standard", "coag", [cell(str(i + 1), "no"), cell(name, "name"), cell(abbr, "code"),
                    cell(vs, "value"), cell(mark, "flag"), cell(u, "unit"), cell(rs, "range")], w)
            elif k == 1:
                row("coag", "value+unit", "coag", [cell(f"{name}({abbr})", "name"), cell(f"{vs}{mark}{u}", "value"),
                    cell(rs, "range")], w)
            elif k == 2:
                row("coag", "range+unit", "coag", [cell(name, "name"), cell(vs + mark, "value"),
                    cell(f"{los}～{his}{u}", "range")], w)
            elif k == 3:
                row("coag", "code-first", "coag", [cell(abbr, "code"), cell(name, "name"), cell(vs, "value"),
                    cell(mark, "flag"), cell(rs.replace("-", "--"), "range"), cell(u, "unit")], w)
            elif k == 4:
                row("coag", "range-split", "coag", [cell(name, "name"), cell(vs, "value"), cell(mark, "flag"),
                    cell(los, "range"), cell("-" + his, "range"), cell(u, "unit")], w)
            else:
                row("coag", "mark-before", "coag", [cell(name, "name"), cell(mark + vs if mark else vs, "value"),
                    cell(u, "unit"), cell(rs.replace("-", "一"), "range")], w)
    for k, (vs, cmp_, flag) in enumerate([("<0.10", "<", "N"), ("0.89↑", None, "H"), ("<0.22", "<", "N")]):
        u = ["mg/L FEU", "ug/mL FEU", "mg/L"][k]
        row("coag", "d-dimer", "coag", [cell("D-二聚体", "name"), cell(vs, "value"), cell(u, "unit"),
            cell("0-0.55", "range")], {"value": float(vs.strip("<↑")), **({"cmp": cmp_} if cmp_ else {}), "flag": flag,
                                       "low": 0.0, "high": 0.55, "unit": u})
    # ---------------- urine dipstick ----------------
    dip = [("尿蛋白", "PRO"), ("尿糖", "GLU"), ("酮体", "KET"), ("隐血", "BLD"), ("白细胞酯酶", "LEU"),
           ("亚硝酸盐", "NIT"), ("胆红素", "BIL"), ("维生素C", "VC"), ("潜血", "ERY"), ("蛋白质", "PRO")]
    grades = [("+-", "±", "POS"), ("1+", "1+", "POS"), ("微量", "±", "POS"), ("弱阳性", "±", "POS"),
              ("阴性", "-", "NEG"), ("2+", "2+", "POS"), ("-", "-", "NEG"), ("3+", "3+", "POS"), ("±", "±", "POS"),
              ("+", "1+", "POS"), ("++", "2+", "POS"), ("Neg", "-", "NEG"), ("+1", "1+", "POS"), ("+2", "2+", "POS"),
              ("阴性(-)", "-", "NEG"), ("(-)", "-", "NEG")]
    ranges = ["阴性", "-", "阴性(-)", "Neg", "阴性（-）", "(-)"]
    for i, (name, abbr) in enumerate(dip):
        for j in range(4):
            printed, grade, flag = grades[(i * 3 + j * 5) % len(grades)]
            rs = ranges[(i + j) % len(ranges)]
            cells = [[cell(name, "name"), cell(abbr, "code"), cell(printed, "value"), cell(rs, "range")],
                     [cell(abbr, "code"), cell(name, "name"), cell(printed, "value"), cell(rs, "range")],
                     [cell(str(i + 1), "no"), cell(f"{name}({abbr})", "name"), cell(printed, "value"),
                      cell("↑" if flag == "POS" else "", "flag"), cell(rs, "range")],
                     [cell(name, "name"), cell(printed, "value"), cell(rs, "range")]][j]
            row("urine", "dipstick", "urine", cells, {"value": grade, "flag": flag, "low": None, "high": None,
                                                      "unit": None})
    # a concentration with its grade: 3.0(+3), 0.3(1+), 15(+-)
    for name, printed, grade, unit in [("尿蛋白", "3.0(+3)", "3+", "g/L"), ("尿蛋白", "0.3(1+)", "1+", "g/L"),
                                       ("葡萄糖", "28(3+)", "3+", "mmol/L"), ("酮体", "1.5(+1)", "1+", "mmol/L"),
                                       ("白细胞", "70(+2)", "2+", "Leu/uL"), ("隐血", "25(+1)", "1+", "Ery/uL"),
                                       ("尿蛋白", "0.15(+-)", "±", "g/L")]:
        row("urine", "concentration(grade)", "urine", [cell(name, "name"), cell(printed, "value"), cell("阴性", "range")],
            {"value": grade, "flag": "POS", "low": None, "high": None, "unit": None})
    # words and numbers on the dipstick
    for name, vs, rs, unit, want in [
            ("颜色", "黄色", "", "", {"value": "黄色", "flag": None}), ("颜色", "淡黄色", "淡黄色", "", {"value": "淡黄色", "flag": None}),
            ("透明度", "清", "清", "", {"value": "清", "flag": None}), ("透明度", "微浑", "清亮", "", {"value": "微浑", "flag": None}),
            ("尿胆原", "正常", "正常", "", {"value": "正常", "flag": ["N", "NEG", None]}),
            ("尿胆原", "Normal", "Normal", "", {"value": "Normal", "flag": ["N", "NEG", None]}),
            ("酸碱度", "6.0", "4.5-8.0", "", {"value": 6.0, "flag": "N", "low": 4.5, "high": 8.0}),
            ("pH", "8.5", "5.0-8.0", "", {"value": 8.5, "flag": "H", "low": 5.0, "high": 8.0}),
            ("比重", "1.015", "1.003-1.030", "", {"value": 1.015, "flag": "N", "low": 1.003, "high": 1.030}),
            ("尿比重", "1.035↑", "1.005-1.030", "", {"value": 1.035, "flag": "H", "low": 1.005, "high": 1.030}),
            ("比重", "1.002", "1.003～1.030", "", {"value": 1.002, "flag": "L", "low": 1.003, "high": 1.030})]:
        want = {**want, "unit": None}
        if "low" not in want and want["flag"] is not None:
            want.update(low=None, high=None)
        row("urine", "dipstick-word-number", "urine", [cell(name, "name"), cell(vs, "value"), cell(rs, "range")], want)
    # ---------------- urine sediment ----------------
    per_ul = ["/ul", "/uL", "/μl", "/μL", "个/ul", "个/μL", "p/uL", "/u1", "个/uL"]
    for i, (name, abbr, hi, v) in enumerate([("红细胞", "RBC", 17.0, 8.6), ("白细胞", "WBC", 28.0, 43.2),
                                            ("上皮细胞", "EC", 28.0, 5.1), ("管型", "CAST", 1.0, 0.0),
                                            ("细菌", "BACT", 7000.0, 125.3), ("红细胞", "RBC", 25.0, 180.5),
                                            ("白细胞", "WBC", 25.0, 12.0), ("类酵母菌", "YLC", 25.0, 0.0),
                                            ("结晶", "X'TAL", 10.0, 2.3)]):
        u = per_ul[i % len(per_ul)]
        meant = "/μL" if u[-1] in "lL1" else u
        d = 1
        flag = flag_of(v, 0.0, hi)
        rs = [f"0-{fmt(hi, 0)}", f"0.0-{fmt(hi, 1)}", f"0～{fmt(hi, 0)}"][i % 3]
        w = {"value": v, "flag": flag, "low": 0.0, "high": hi, "unit": "/μL"}
        row("urine", f"sediment-count:{u}", "urine", [cell(name, "name"), cell(abbr, "code"), cell(fmt(v, d), "value"),
            cell("↑" if flag == "H" else "", "flag"), cell(u, "unit"), cell(rs, "range")], w)
        row("urine", "sediment-count-glued", "urine", [cell(f"{name}({abbr})", "name"), cell(f"{fmt(v, d)}{u}", "value"),
            cell(rs, "range")], w)
    hp = [("红细胞", "0-2", "/HP", "0-3", "N"), ("白细胞", "1-3", "/HPF", "0-5", "N"), ("白细胞", "8-10", "个/HP", "0-5", POS_FLAGS),
          ("红细胞", "2", "p/HP", "0-3", "N"), ("红细胞", "6", "p/HP", "0-3", "H"), ("透明管型", "0-1", "/LP", "0-1", "N"),
          ("上皮细胞", "偶见", "/HP", "0-5", "N"), ("红细胞", "偶见", "/HP", "偶见", "N"), ("白细胞", "3-5", "个/HP", "0-5", "N"),
          ("红细胞", "满视野", "/HP", "0-3", POS_FLAGS), ("管型", "未见", "/LP", "未见", NEG_OK),
          ("白细胞", "0-1", "/HP", "0-5", "N"), ("红细胞", "5-8", "/HP", "0-3", POS_FLAGS)]
    for i, (name, vs, unit, rs, flag) in enumerate(hp):
        lo_hi = [float(x) for x in rs.split("-")] if rs[0].isdigit() else [None, None]
        w = {"value": float(vs) if vs.isdigit() else vs, "flag": flag, "low": lo_hi[0], "high": lo_hi[1], "unit": unit}
        if i % 2:
            cells = [cell(f"{name}(镜检)", "name"), cell(vs + unit, "value"), cell(rs + unit if lo_hi[0] is not None else rs, "range")]
            form = "hp-glued"
        else:
            cells = [cell(name, "name"), cell(vs, "value"), cell(unit, "unit"), cell(rs, "range")]
            form = "hp-column"
        row("urine", form, "urine", cells, w)
    # ---------------- stool ----------------
    for name, vs, rs, want in [
            ("颜色", "黄色", "黄色", {"value": "黄色", "flag": ["N", None]}),
            ("颜色", "黄褐色", "", {"value": "黄褐色", "flag": None}), ("颜色", "棕黄色", "黄色", {"value": "棕黄色", "flag": None}),
            ("颜色", "褐色", "黄褐色", {"value": "褐色", "flag": None}),
            ("性状", "软", "软", {"value": "软", "flag": ["N", None]}), ("性状", "糊状", "", {"value": "糊状", "flag": None}),
            ("性状", "成形", "成形", {"value": "成形", "flag": ["N", None]}),
            ("性状", "软便", "成形软便", {"value": "软便", "flag": None}), ("性状", "稀", "软", {"value": "稀", "flag": None}),
            ("隐血", "阴性", "阴性", {"value": "-", "flag": "NEG"}), ("隐血试验", "弱阳性", "阴性", {"value": "±", "flag": "POS"}),
            ("粪隐血", "阴性(-)", "阴性(-)", {"value": "-", "flag": "NEG"}), ("隐血(OB)", "阳性(+)", "阴性", {"value": "+", "flag": "POS"}),
            ("潜血", "+-", "阴性", {"value": "±", "flag": "POS"}), ("转铁蛋白", "阴性", "阴性", {"value": "-", "flag": "NEG"}),
            ("转铁蛋白", "弱阳性", "阴性", {"value": "±", "flag": "POS"}),
            ("红细胞", "未见", "未见", {"value": "未见", "flag": NEG_OK}),
            ("红细胞", "0-1/HP", "未见", {"value": "0-1", "flag": POS_FLAGS, "unit": "/HP"}),
            ("白细胞", "0-2/HP", "0-5/HP", {"value": "0-2", "flag": "N", "low": 0.0, "high": 5.0, "unit": "/HP"}),
            ("白细胞", "未见", "未见/HP", {"value": "未见", "flag": NEG_OK, "unit": "/HP"}),
            ("寄生虫卵", "未查见", "未查见", {"value": "未查见", "flag": NEG_OK}),
            ("寄生虫卵", "未找到", "未找到", {"value": "未找到", "flag": NEG_OK}),
            ("虫卵", "未发现", "未见", {"value": "未发现", "flag": NEG_OK}),
            ("寄生虫及虫卵", "未找到", "", {"value": "未找到", "flag": NEG_OK}),
            ("脂肪球", "未见", "未见", {"value": "未见", "flag": NEG_OK}), ("霉菌", "未查见", "未查见", {"value": "未查见", "flag": NEG_OK}),
            ("真菌", "未找到", "未见", {"value": "未找到", "flag": NEG_OK}),
            ("吞噬细胞", "未见", "未见", {"value": "未见", "flag": NEG_OK}),
            ("阿米巴", "未查见", "未查见", {"value": "未查见", "flag": NEG_OK}),
            ("粘液", "少量", "未见", {"value": "少量", "flag": POS_FLAGS}),
            ("食物残渣", "少许", "", {"value": "少许", "flag": None})]:
        want = {"low": None, "high": None, "unit": None, **want}
        cells = [cell(name, "name"), cell(vs, "value"), cell(rs, "range")]
        row("stool", "stool", "stool", cells, want)
    # ---------------- formats left alone in round one ----------------
    for name, panel, vs, unit, rs in [("白细胞", "urine", "0-2", "/HP", "未见"), ("红细胞", "urine", "1-3", "/HP", "未见"),
                                      ("白细胞", "stool", "0-2", "/HP", "未见"), ("红细胞", "stool", "2-4", "", "未见"),
                                      ("上皮细胞", "urine", "少许", "", "未见"), ("粘液丝", "urine", "少许", "", "未见"),
                                      ("脂肪球", "stool", "少许", "", "未见"), ("白细胞", "stool", "偶见", "/HP", "未见"),
                                      ("细菌", "urine", "少许", "", "未见"), ("红细胞", "urine", "0-2/HP", "", "未见")]:
        v = vs.replace("/HP", "")
        flag = "N" if (panel, name, v) in STOOL_NORMAL_SEEN else POS_FLAGS
        row("left", "count-vs-未见", panel, [cell(name, "name"), cell(vs, "value"), cell(unit, "unit"), cell(rs, "range")],
            {"value": v, "flag": flag, "low": None, "high": None, "unit": unit or ("/HP" if "/HP" in vs else None)})
    for name, panel, rs in [("吞噬细胞", "stool", "未见"), ("寄生虫卵", "stool", "未见"), ("红细胞", "stool", "未见"),
                            ("结晶", "urine", "未见"), ("管型", "urine", "未见"), ("真菌", "urine", "未查见")]:
        row("left", "未查见", panel, [cell(name, "name"), cell("未查见", "value"), cell(rs, "range")],
            {"value": "未查见", "flag": NEG_OK, "low": None, "high": None, "unit": None})
    for name, abbr, lo, hi, d, v in [("肌酐", "CREA", 57, 111, 0, 132), ("尿酸", "UA", 208, 428, 0, 356),
                                     ("总胆红素", "TBIL", 3.4, 20.5, 1, 12.3), ("直接胆红素", "DBIL", 0.0, 6.8, 1, 8.1),
                                     ("同型半胱氨酸", "HCY", 0.0, 15.0, 1, 9.6)]:
        for printed in ("uMol/L", "UMOL/L", "umoL/L"):
            if printed != "uMol/L" and name not in ("肌酐", "尿酸"):
                continue
            row("left", f"unit:{printed}", "biochem", [cell(name, "name"), cell(abbr, "code"), cell(fmt(v, d), "value"),
                cell(printed, "unit"), cell(f"{fmt(lo, d)}-{fmt(hi, d)}", "range")],
                {"value": v, "flag": flag_of(v, lo, hi), "low": lo, "high": hi, "unit": "umol/L"})
    for name, panel, lo, hi, d, v, f in [("中性粒细胞百分比", "blood", 40, 75, 0, 81.2, "{lo}%-{hi}%"),
                                         ("淋巴细胞百分比", "blood", 20.0, 50.0, 1, 18.3, "{lo}%--{hi}%"),
                                         ("单核细胞百分比", "blood", 3.0, 10.0, 1, 6.1, "{lo}%～{hi}%"),
                                         ("红细胞分布宽度", "blood", 11.5, 14.5, 1, 15.2, "{lo}%-{hi}%"),
                                         ("红细胞压积", "blood", 40, 50, 0, 43.5, "{lo}% - {hi}%"),
                                         ("嗜酸性粒细胞百分比", "blood", 0.4, 8.0, 1, 0.2, "{lo}%-{hi}%"),
                                         ("糖化血红蛋白", "biochem", 4.0, 6.0, 1, 6.8, "{lo}%~{hi}%"),
                                         ("凝血酶原活动度", "coag", 80, 120, 0, 95.0, "{lo}%-{hi}%")]:
        rs = f.format(lo=fmt(lo, d), hi=fmt(hi, d))
        for k in range(2):
            cells = [cell(name, "name"), cell(fmt(v, 1), "value"), cell(rs, "range")]
            if k:
                cells.insert(2, cell("↑" if v > hi else "↓" if v < lo else "", "flag"))
            row("left", "percent-both-bounds", panel, cells,
                {"value": v, "flag": flag_of(v, lo, hi), "low": lo, "high": hi, "unit": "%"})
    # age-split ranges in one cell: the patient is an adult (no age on the row: the adult range is the one read)
    for name, panel, unit, v, d, adult, child, f in [
            ("白细胞计数", "blood", "10^9/L", 10.2, 2, (3.5, 9.5), (5.0, 12.0), "成人:{a} 儿童:{c}"),
            ("碱性磷酸酶", "biochem", "U/L", 131, 0, (45, 125), (42, 390), "成人 {a}；儿童 {c}"),
            ("肌酐", "biochem", "umol/L", 88, 0, (57, 111), (27, 62), "儿童:{c} 成人:{a}"),
            ("磷", "biochem", "mmol/L", 1.32, 2, (0.85, 1.51), (1.45, 2.10), "成人：{a}\u3000儿童：{c}"),
            ("中性粒细胞百分比", "blood", "%", 38.2, 1, (40.0, 75.0), (30.0, 70.0), "成人{a} 儿童{c}"),
            ("血小板计数", "blood", "10^9/L", 210, 0, (125, 350), (100, 400), "成人:{a};儿童:{c}"),
            ("淋巴细胞百分比", "blood", "%", 52.1, 1, (20.0, 50.0), (40.0, 60.0), "儿童:{c};成人:{a}"),
            ("血红蛋白", "blood", "g/L", 108, 0, (115, 150), (110, 160), "成人:{a} 新生儿:{c}")]:
        a = f"{fmt(adult[0], d)}-{fmt(adult[1], d)}"
        c = f"{fmt(child[0], d)}-{fmt(child[1], d)}"
        row("left", "age-split", panel, [cell(name, "name"), cell(fmt(v, d), "value"), cell(unit, "unit"),
            cell(f.format(a=a, c=c), "range")],
            {"value": v, "flag": flag_of(v, *adult), "low": adult[0], "high": adult[1], "unit": unit})
    # bracketed grades: one reading for a grade whatever brackets or word go with it (see ocr_rows GRADE_EXACT)
    for name, abbr, panel in [("尿蛋白", "PRO", "urine"), ("隐血", "BLD", "urine"), ("乙肝表面抗原", "HBsAg", "infect"),
                              ("粪便隐血", "OB", "stool")]:
        for printed, grade in [("(+)", "+"), ("阳性(+)", "+"), ("+", "+"), ("(++)", "2+"),
                               ("阳性(++)", "2+"), ("(+-)", "±"), ("(±)", "±"), ("弱阳性(+-)", "±")]:
            row("left", f"bracketed-grade:{printed}", panel, [cell(name, "name"), cell(printed, "value"),
                cell("阴性(-)", "range")], {"value": grade, "flag": "POS", "low": None, "high": None, "unit": None,
                                            "same_as": f"{panel}:{name}:{grade}"})
    # review of round two (inputs a reviewer found misread; "age" is the patient's age in whole years)
    # a base excess printed with its sign: the number, whatever range or none is printed
    for vs, v, unit, rs, f in [("+2", 2.0, "mmol/L", "", "N"), ("+2", 2.0, "mmol/L", "±3", "N"),
                               ("+2", 2.0, "mmol/L", "(-3)-(+3)", "N"), ("+4", 4.0, "mmol/L", "-3~+3", "H"),
                               ("-4", -4.0, "mmol/L", "±3", "L"), ("+1", 1.0, "", "±3", "N")]:
        want = {"value": v, "flag": f, "low": -3.0 if rs else None, "high": 3.0 if rs else None, "unit": unit or None}
        row("left", "signed-number", "immuno", [cell("剩余碱", "name"), cell(vs, "value"), cell(unit, "unit"),
            cell(rs, "range")], want)
    # a number and a sign word in one cell where the word is the printed reference: the result under the range
    # header, or a number the word contradicts (HBsAg 1250 IU/mL is no 阴性 reading)
    row("left", "number-word-reference", "infect", [cell("乙肝表面抗原", "name"), cell("1250.00 阴性", "value"),
        cell("IU/mL", "unit")], {"value": 1250.0, "low": None, "high": None, "unit": "IU/mL"})
    row("left", "number-word-reference", "infect", [cell("丙肝抗体", "name"), cell("0.24 阴性", "range"),
        cell("S/CO", "unit")], {"value": 0.24, "low": None, "high": None, "unit": "S/CO"})
    row("left", "number-word-reference", "infect", [cell("乙肝e抗原", "name"), cell("25.6 阴性", "value"),
        cell("S/CO", "unit"), cell("0-1.0", "range")], {"value": 25.6, "flag": "H", "low": 0.0, "high": 1.0,
                                                         "unit": "S/CO"})
    # age groups: labels after their ranges, groups besides 儿童, a unit after the last range
    for name, panel, unit, v, rs, age, f in [
            ("碱性磷酸酶", "biochem", "U/L", 300, "45-125(成人) 42-390(儿童)", 40, "H"),
            ("碱性磷酸酶", "biochem", "U/L", 300, "45-125(成人) 42-390(儿童)", 6, "N"),
            ("碱性磷酸酶", "biochem", "U/L", 131, "45-125(成人) 42-390(儿童)", None, "H"),
            ("谷丙转氨酶", "biochem", "", 45, "成人:0-40 儿童:0-50 U/L", 5, "N"),
            ("谷丙转氨酶", "biochem", "", 45, "成人:0-40 儿童:0-50 U/L", 30, "H"),
            ("白细胞计数", "blood", "10^9/L", 16.0, "成人:3.5-9.5 婴儿:6.0-17.5 儿童:5.0-12.0", 0, "N"),
            ("白细胞计数", "blood", "10^9/L", 13.0, "成人:3.5-9.5 婴儿:6.0-17.5 儿童:5.0-12.0", 4, "H"),
            ("白细胞计数", "blood", "10^9/L", 13.0, "成人:3.5-9.5 青少年:4.5-13.0", 15, "N")]:
        want = {"value": v, "flag": f}
        if age is None:
            want.update({"low": 45, "high": 125, "unit": unit})
        row("left", "age-group", panel, [cell(name, "name"), cell(str(v), "value"), cell(unit, "unit"),
            cell(rs, "range")], want, age=age)
    # cells seen against 未见 that the test counts as normal (knowledge base): N; others POS
    for name, vs, f in [("粪便白细胞", "偶见", "N"), ("粪便白细胞", "0-2/HP", "N"), ("粪便白细胞", "0-1", "N"),
                        ("粪便上皮细胞", "偶见", "N"), ("粪便红细胞", "0-2", POS_FLAGS), ("粪便白细胞", "5-8/HP", POS_FLAGS)]:
        row("left", "seen-normal-vs-未见", "stool", [cell(name, "name"), cell(vs, "value"), cell("未见", "range")],
            {"value": vs.replace("/HP", ""), "flag": f, "low": None, "high": None})
    # 弱阳性 with its grade, and the plus read as 十 where a sign stands
    for name, panel, vs, grade in [("尿蛋白", "urine", "弱阳性(+)", "1+"), ("隐血", "urine", "弱阳性(±)", "±"),
                                   ("尿蛋白", "urine", "十1", "1+"), ("隐血", "urine", "阳性(十)", "1+"),
                                   ("酮体", "urine", "十2", "2+"), ("尿胆原", "urine", "(十)", "1+")]:
        row("left", "grade-glyphs", panel, [cell(name, "name"), cell(vs, "value"), cell("阴性", "range")],
            {"value": grade, "flag": "POS", "low": None, "high": None, "unit": None})
    row("left", "grade-glyphs", "urine", [cell("葡萄糖", "name"), cell("3.0(十3)", "value"), cell("mmol/L", "unit"),
        cell("阴性", "range")], {"value": 3.0, "flag": "POS", "low": None, "high": None, "unit": "mmol/L"})


def main() -> None:
    rng = random.Random(20261206)
    after_first_run()
    numeric_rows(rng)
    result_rows(rng)
    range_rows(rng)
    unit_rows(rng)
    glued_rows(rng)
    mark_column_signs()
    round_two_rows()
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
        "Rows with \"added\": \"round-two\" (categories chem, tumor, immune, coag, urine, stool, left) were written in a "
        "second round, before the parser was read again: 生化, tumour markers and PSA, infection serology, coagulation, "
        "urine dipstick and sediment, stool, and the formats the first round left alone (a count or 少许 against 未见, "
        "未查见, uMol/L, % on both bounds, age-split ranges, bracketed grades: rows with \"same_as\" in their want are "
        "one grade printed in other brackets or words and must all read alike). Corrected after its first run: a "
        "detection-limit result ('<2.00') is written below its cut-off (first written above some), a 未见/HP range "
        "expects the unit /HP it prints, and 阳性 alone left the '+' group (the word is 'positive', the sign 1+). "
        "The last round-two rows (forms signed-number, number-word-reference, age-group, seen-normal-vs-未见, "
        "grade-glyphs) were added after a review of round two; a row may carry \"age\", the patient's age in whole "
        "years. Used by bench/ocr_rows.py.")}
    lines = [json.dumps(about, ensure_ascii=False)]
    for r in ROWS:
        why = ambiguous(r)
        if why:
            r["ambiguous"] = why
    lines += [json.dumps(r, ensure_ascii=False) for r in ROWS]
    lines += [json.dumps({**r, "added": "after-first-run"}, ensure_ascii=False) for r in AFTER_FIRST_RUN]
    lines += [json.dumps({**r, "added": "round-two"}, ensure_ascii=False) for r in ROUND_TWO]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    from collections import Counter
    print(len(ROWS) + len(AFTER_FIRST_RUN) + len(ROUND_TWO), Counter(r["cat"] for r in ROWS + AFTER_FIRST_RUN + ROUND_TWO))


if __name__ == "__main__":
    main()
