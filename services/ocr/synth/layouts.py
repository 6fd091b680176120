"""Synthetic sheets in the table layouts other hospitals' LIS systems print (issue 9: sheets from hospitals we
have never seen), as a set of its own so that the eval and realistic sets stay byte-identical.

``realistic.py`` draws one column order (No | 项目 | 结果 | arrow | 参考范围 | 单位). Here every sheet draws its
own table from what Chinese lab systems print:

- column orders (``VARIANTS``): the code after the name or before it, the unit before or after the range, a
  提示 column (↑↓, H/L or 偏高/偏低) or the mark glued to the result, a 检测方法 column, a 上次结果 (previous
  result) column, English or bilingual (Chinese over English) headers, letter-spaced header words, no header row,
  two blocks of different widths with the right block's header repeated or not, two blocks with different columns
  (urine: graded results left, counts with units right), a qualitative (urine / stool) sheet, a narrow name column
  whose long names wrap onto a second line of their cell;
- header words drawn from each column's usual spellings (检验项目/项目名称/中文名称/项目, 结果/检验结果/测定值/
  结果值, 参考范围/参考区间/参考值/生物参考区间, 提示/标志/状态 ...);
- rules: none, only horizontal, or a full grid; row numbers or none; notes, a signature footer and sometimes a red
  stamp under the table;
- report types: blood count, biochemistry (long enzyme names, U/L, μmol/L), tumour markers (results below or
  above the assay's range printed as ``<0.60`` / ``>1000.00``), urine (阴性, ±, 1+ and counts), stool.

Print and capture reuse realistic.py and generate.py (laser or thermal print; flat, phone on a desk, curl).

    cd services/ocr && python -m synth.layouts -n 56 --out synth/out/layouts

Sheet *i* is drawn from ``random.Random(f"{seed}-{i}")``; its variant is ``VARIANTS[i % len(VARIANTS)]``, its capture
``CAPTURES[(i // len(VARIANTS)) % 3]``, its print alternating laser / thermal.
Ground truth follows the sheet (realistic.sheet_flag: the printed mark, else value vs the printed range; NEG/POS
for qualitative results)."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from .generate import HOSPITALS, KB, Row, font, make_rows
from .realistic import _curl, _print_effect, build_sheets, page_with_header, photograph, set_cli, sheet_flag

SEED = 20261206
VARIANTS = ["code_after_name", "code_first", "flag_words", "method", "english", "two_block_uneven",
            "qualitative", "unit_before_range", "bilingual_header", "no_header", "mixed_blocks", "spaced_header", "previous_result", "wrapped_names"]
CAPTURES = ["flat", "phone", "curl"]
PRINTS = ["laser", "thermal"]

HEADER_WORDS = {
    "seq": ["序号", "No", "NO.", "编号"],
    "name": ["检验项目", "项目名称", "中文名称", "项目"],
    "code": ["代号", "英文缩写", "缩写", "代码"],
    "value": ["结果", "检验结果", "测定值", "结果值"],
    "flag": ["提示", "标志", "状态"],
    "unit": ["单位"],
    "range": ["参考范围", "参考区间", "参考值", "生物参考区间"],
    "method": ["检测方法", "方法"],
    "previous": ["上次结果", "历史结果", "前次结果"],
}
ENGLISH_WORDS = {"seq": "No", "name": "Item", "code": "Code", "value": "Result", "flag": "Flag", "unit": "Unit",
                 "range": "Reference range", "method": "Method", "previous": "Last result"}

# (column kinds, relative widths) per variant; a mark glued to the result when there is no flag column
COLUMNS = {
    "code_after_name": [("name", 0.32), ("code", 0.13), ("value", 0.15), ("unit", 0.16), ("range", 0.24)],
    "code_first": [("code", 0.13), ("name", 0.32), ("value", 0.14), ("flag", 0.07), ("unit", 0.14),
                   ("range", 0.20)],
    "flag_words": [("seq", 0.06), ("name", 0.32), ("value", 0.14), ("flag", 0.09), ("range", 0.22),
                   ("unit", 0.17)],
    "method": [("name", 0.30), ("value", 0.14), ("unit", 0.14), ("range", 0.20), ("method", 0.22)],
    "english": [("seq", 0.06), ("name", 0.32), ("value", 0.14), ("flag", 0.07), ("unit", 0.16),
                ("range", 0.25)],
    "two_block_uneven": [("name", 0.38), ("value", 0.17), ("range", 0.27), ("unit", 0.18)],
    "qualitative": [("seq", 0.07), ("name", 0.33), ("value", 0.18), ("flag", 0.08), ("range", 0.18),
                    ("unit", 0.16)],
    "unit_before_range": [("seq", 0.06), ("name", 0.30), ("code", 0.12), ("value", 0.15), ("unit", 0.15),
                          ("range", 0.22)],
    "bilingual_header": [("name", 0.30), ("code", 0.12), ("value", 0.14), ("flag", 0.07), ("range", 0.21),
                         ("unit", 0.16)],
    "no_header": [("name", 0.36), ("value", 0.18), ("unit", 0.18), ("range", 0.28)],
    # urine: dry chemistry on the left (graded, no unit), the sediment counts on the right with their units
    "mixed_blocks": [("name", 0.42), ("value", 0.26), ("range", 0.32)],
    "spaced_header": [("seq", 0.07), ("name", 0.33), ("value", 0.15), ("flag", 0.07), ("range", 0.22),
                      ("unit", 0.16)],
    # the patient's previous result printed beside this one (a second number in every row)
    "previous_result": [("name", 0.30), ("value", 0.14), ("flag", 0.06), ("previous", 0.14), ("unit", 0.14),
                        ("range", 0.22)],
    # a narrow name column: long names wrap onto a second line inside their cell
    "wrapped_names": [("seq", 0.06), ("name", 0.15), ("value", 0.16), ("flag", 0.07), ("unit", 0.18),
                      ("range", 0.38)],
}
RIGHT_COLUMNS = {"mixed_blocks": [("name", 0.34), ("value", 0.18), ("unit", 0.20), ("range", 0.28)]}

PANEL_CODES = {
    "blood_routine": ("血细胞分析", ["WBC", "NEUT%", "LYMPH%", "MONO%", "EO%", "BASO%", "NEUT#", "LYMPH#", "RBC",
                                 "HGB", "HCT", "MCV", "MCH", "MCHC", "RDW-CV", "PLT", "MPV", "PDW", "PCT"]),
    "biochemistry": ("生化检验", ["ALT", "AST", "GGT", "ALP", "CHE", "TBA", "PA", "TBIL", "DBIL", "IBIL", "TP", "ALB",
                              "UREA", "CREA", "UA", "CysC", "GLU", "TC", "TG", "HDL-C", "LDL-C"]),
    "tumor_markers": ("肿瘤标志物", ["AFP", "CEA", "CA125", "CA19-9", "CA15-3", "CA72-4", "tPSA", "fPSA", "NSE",
                                "CYFRA21-1", "SCC", "ProGRP", "HE4"]),
    "urinalysis": ("尿液分析", ["U-PRO", "U-GLU", "U-KET", "U-BLD", "U-LEU", "U-NIT", "U-BIL", "U-URO", "U-pH",
                            "U-SG", "U-RBC", "U-WBC", "U-EC"]),
    "stool": ("粪便常规", ["ST-OB", "ST-ROTA", "ST-MUC", "ST-RBC", "ST-WBC", "ST-FAT", "ST-OVA"]),
}
METHODS = {"blood_routine": ["电阻抗法", "流式细胞术", "比色法"], "biochemistry": ["速率法", "酶法", "比色法", "IFCC法"],
           "tumor_markers": ["化学发光法", "电化学发光"], "urinalysis": ["干化学法", "流式法"], "stool": ["显微镜法", "胶体金法"]}
NOTES = ["备注: 本报告仅对所检标本负责, 如有疑问请于三日内联系检验科。", "注: ↑ 偏高 ↓ 偏低, 结果请结合临床。",
         "*危急值已电话通知临床。", "说明: 参考区间适用于成人。"]


@dataclass
class Style:
    variant: str
    columns: list[tuple[str, float]]
    words: dict[str, str]  # column kind -> header text
    mark: str  # how a high/low result is marked: 'arrow' ↑↓, 'letter' H/L, 'word' 偏高/偏低
    rules: str  # 'none', 'horizontal', 'grid'
    blocks: int
    block_share: float  # the left block's share of the width (two blocks)
    repeat_header: bool  # the right block prints its own header row
    notes: bool
    stamp: bool
    header: str = "plain"  # 'plain', 'none' (no header row), 'bilingual' (English words under the Chinese ones),
    # 'spaced' (characters spread across the column: '项    目', '结    果')
    right_columns: list[tuple[str, float]] | None = None  # the right block's own columns (else the left's)
    top_aligned: bool = False  # in a two-line row the other cells stand on the first line (else centred)


def draw_style(rng: random.Random, variant: str) -> Style:
    cols = list(COLUMNS[variant])
    if variant in ("flag_words", "qualitative", "english") and rng.random() < 0.3:
        cols = [c for c in cols if c[0] != "seq"]  # no row numbers
    if variant == "english":
        words = dict(ENGLISH_WORDS)
    else:
        words = {k: rng.choice(v) for k, v in HEADER_WORDS.items()}
    mark = {"flag_words": rng.choice(["word", "letter"]), "english": "letter"}.get(
        variant, rng.choice(["arrow", "arrow", "letter"]))
    rules = rng.choice(["none", "horizontal", "grid"])
    blocks = 2 if variant in ("two_block_uneven", "mixed_blocks") else 1
    header = {"no_header": "none", "bilingual_header": "bilingual", "spaced_header": "spaced"}.get(variant, "plain")
    return Style(variant, cols, words, mark, rules, blocks, rng.uniform(0.45, 0.60) if variant == "mixed_blocks"
                 else rng.uniform(0.52, 0.60), repeat_header=rng.random() < 0.6 or variant != "two_block_uneven",
                 notes=rng.random() < 0.6, stamp=rng.random() < 0.35, header=header,
                 right_columns=RIGHT_COLUMNS.get(variant), top_aligned=rng.random() < 0.5)


def _panel_for(rng: random.Random, variant: str) -> str:
    if variant == "qualitative":
        return rng.choice(["urinalysis", "urinalysis", "stool"])
    if variant == "mixed_blocks":
        return "urinalysis"
    return rng.choice(["blood_routine", "biochemistry", "biochemistry", "tumor_markers"])


def _stool_rows(rng: random.Random, codes: list[str]) -> list[Row]:
    """Stool: 隐血/轮状病毒/粘液 graded (阴性, ±, 1+ ...), the microscopy findings mostly 未见 (none seen)."""
    rows = []
    for code in codes:
        d = KB[code]
        if d.get("kind") == "qualitative":
            scale = d.get("scale") or ["-", "+"]
            pos = rng.random() < 0.25
            val = rng.choice(scale[1:]) if pos else rng.choice(["阴性", "阴性(-)", "-"])
            ref = "阴性"
        else:
            pos, val, ref = False, "未见", "未见"
        gt = {"code": code, "value": None, "value_text": val, "unit": None,
              "reference": {"low": None, "high": None, "text": ref}, "flag": "POS" if pos else "NEG"}
        rows.append(Row(code, d["name"], "", val, "", "", ref, gt))
    return rows


def _beyond_assay(rng: random.Random, rows: list[Row]) -> list[Row]:
    """Tumour markers: a result below the assay's lower limit is printed '<0.60', one above its upper limit
    '>1000.00' (and marked high). The number printed is the value; the flag follows the printed range."""
    out = []
    for r in rows:
        hi = r.gt["reference"]["high"]
        u = rng.random()
        if r.gt["value"] is None or hi is None or r.gt["reference"]["low"] not in (None, 0):
            out.append(r)
            continue
        dec = max(len(r.value_text.split(".")[1]) if "." in r.value_text else 0, 1)
        if u < 0.15:
            lod = round(hi * rng.choice([0.02, 0.05, 0.1]), dec)
            if lod <= 0:
                out.append(r)
                continue
            text = f"<{lod:.{dec}f}"
            gt = r.gt | {"value": lod, "value_text": text, "flag": "N"}
            out.append(Row(r.code, r.name, r.abbr, text, "", r.unit_text, r.range_text, gt))
        elif u < 0.22:
            top = rng.choice([1000, 1200, 500]) if hi > 10 else rng.choice([100, 200])
            text = f">{top:.{dec}f}"
            gt = r.gt | {"value": float(top), "value_text": text, "flag": "H"}
            out.append(Row(r.code, r.name, r.abbr, text, "↑", r.unit_text, r.range_text, gt))
        else:
            out.append(r)
    return out


def make_sheet_rows(rng: random.Random, panel: str, sex: str) -> list[Row]:
    codes = list(PANEL_CODES[panel][1])
    if panel == "stool":
        return _stool_rows(rng, codes)
    rows = make_rows(rng, panel, sex, "arrows", rng.choice(["dash", "tilde", "ddash"]), "si", codes=codes)
    if panel == "tumor_markers":
        rows = _beyond_assay(rng, rows)
    return rows


def _mark_text(arrow: str, mark: str) -> str:
    if not arrow:
        return ""
    up = arrow in ("↑", "H")
    return {"arrow": "↑" if up else "↓", "letter": "H" if up else "L", "word": "偏高" if up else "偏低"}[mark]


def _cells(r: Row, i: int, columns: list[tuple[str, float]], mark_style: str, method: str) -> dict[str, str]:
    mark = _mark_text(r.arrow, mark_style)
    has_flag_col = any(k == "flag" for k, _ in columns)
    value = r.value_text if has_flag_col or not mark else r.value_text + (" " if mark_style == "letter" else "") + mark
    return {"seq": str(i), "name": r.name, "code": r.abbr, "value": value, "flag": mark if has_flag_col else "",
            "unit": r.unit_text, "range": r.range_text, "method": method, "previous": _previous(r)}


def _previous(r: Row) -> str:
    """The previous result as the LIS prints it beside this one: a number of the same precision, drawn from the
    value text (so the same sheet always prints the same), or the same grade for a graded result."""
    pv = r.gt["value"]
    if pv is None or not r.value_text[:1].isdigit():
        return r.value_text if pv is None else ""
    dec = len(r.value_text.split(".")[1]) if "." in r.value_text else 0
    k = random.Random(r.code + r.value_text).uniform(0.75, 1.3)
    return f"{pv * k:.{dec}f}"


def _wrap(dr, f, text: str, room: float) -> list[str]:
    """A name broken into lines that fit the cell, as report software wraps a long name in a narrow column."""
    lines, cur = [], ""
    for ch in text:
        if cur and dr.textlength(cur + ch, font=f) > room:
            lines.append(cur)
            cur = ""
        cur += ch
    return lines + [cur] if cur else lines


def _fit_text(dr: ImageDraw.ImageDraw, fpath: str | None, txt: str, size: int, room: float):
    """A cell never prints over its neighbour: too long a text is printed condensed (smaller type)."""
    f = font(fpath, size)
    w = dr.textlength(txt, font=f)
    if w <= room:
        return f, size
    s = max(10, int(size * room / w))
    return font(fpath, s), s


def _header_row(dr, style: Style, columns, xs, edges, y: float, row_h: int, size: int, fpath: str | None) -> float:
    """The column header as the style prints it; returns the y below it."""
    ink = (25, 25, 25)
    for (k, _), cx, nx in zip(columns, xs, edges[1:]):
        word = style.words[k]
        if style.header == "spaced" and len(word) == 2 and all("\u4e00" <= c <= "\u9fff" for c in word):
            # two characters spread over the column: '项    目' (the second ends where the column's text could)
            f = font(fpath, size)
            span = min(0.8 * (nx - cx), 4 * size)
            dr.text((cx, y + (row_h - size) / 2), word[0], font=f, fill=ink)
            dr.text((cx + span - size, y + (row_h - size) / 2), word[1], font=f, fill=ink)
            continue
        f, s = _fit_text(dr, fpath, word, size, nx - cx - 4)
        dr.text((cx, y + (row_h - s) / 2), word, font=f, fill=ink)
        if style.header == "bilingual":
            fe, se = _fit_text(dr, fpath, ENGLISH_WORDS[k], int(size * 0.75), nx - cx - 4)
            dr.text((cx, y + row_h - 2), ENGLISH_WORDS[k], font=fe, fill=ink)
    return y + (row_h * 1.75 if style.header == "bilingual" else row_h)


def _block(dr, rng, rows: list[Row], style: Style, columns, x0: float, x1: float, y: float, row_h: int, size: int,
           fpath: str | None, start_no: int, header: bool, panel: str) -> float:
    ink, rule = (25, 25, 25), (120, 120, 120)
    bw = x1 - x0
    xs, acc = [], x0 + 6
    for _, w in columns:
        xs.append(acc)
        acc += w * (bw - 12)
    edges = xs + [x1 - 6]
    top = y
    if header and style.header != "none":
        y = _header_row(dr, style, columns, xs, edges, y, row_h, size, fpath)
        dr.line([(x0, y - 3), (x1, y - 3)], fill=rule, width=1)
    method = rng.choice(METHODS[panel])
    for i, r in enumerate(rows):
        cells = _cells(r, start_no + i, columns, style.mark,
                       method if rng.random() < 0.7 else rng.choice(METHODS[panel]))
        lines = [cells["name"]]
        if style.variant == "wrapped_names":
            ni = next(j for j, (k, _) in enumerate(columns) if k == "name")
            lines = _wrap(dr, font(fpath, size), cells["name"], edges[ni + 1] - xs[ni] - 4)
        line_h = size + 6
        rh = max(row_h, len(lines) * line_h + (row_h - size))
        for (k, _), cx, nx in zip(columns, xs, edges[1:]):
            txt = cells[k]
            if not txt:
                continue
            if k == "name" and len(lines) > 1:
                for j, ln in enumerate(lines):
                    dr.text((cx, y + (row_h - size) / 2 + j * line_h), ln, font=font(fpath, size), fill=ink)
                continue
            f, s = _fit_text(dr, fpath, txt, size, nx - cx - 4)
            dy = (row_h - s) / 2 if style.top_aligned else (rh - s) / 2
            dr.text((cx, y + dy), txt, font=f, fill=ink)
        y += rh
        if style.rules in ("horizontal", "grid"):
            dr.line([(x0, y - 2), (x1, y - 2)], fill=(170, 170, 170), width=1)
    if style.rules == "grid":
        for cx in [x0] + [c - 4 for c in xs[1:]] + [x1]:
            dr.line([(cx, top), (cx, y - 2)], fill=(150, 150, 150), width=1)
    return y


def _stamp(im: Image.Image, rng: random.Random, fpath: str | None, cx: float, cy: float, r: int) -> None:
    """A red round seal (检验专用章) pressed over the footer, translucent as ink on paper."""
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    red = (200, 40, 40, int(rng.uniform(110, 170)))
    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=red, width=4)
    f = font(fpath, int(r * 0.34))
    txt = "检验专用章"
    d.text((cx - d.textlength(txt, font=f) / 2, cy - r * 0.2), txt, font=f, fill=red)
    d.text((cx - r * 0.17, cy - r * 0.75), "★", font=font(fpath, int(r * 0.34)), fill=red)
    im.paste(Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB"))


def render(rng: random.Random, rows: list[Row], style: Style, header: dict, fpath: str | None,
           panel: str) -> Image.Image:
    W = 1240 if style.blocks == 1 else 1760
    row_h = rng.randint(34, 44)
    size = int(row_h * 0.60)
    FB, FS = font(fpath, size + 12), font(fpath, size - 2)
    per = math.ceil(len(rows) / style.blocks)
    H = 300 + 2 * row_h * (len(rows) + 3) + 200  # (room for two-line rows; cut to the content below)
    im, dr, y0 = page_with_header(rng, W, H, header, FB, FS, size, ("标本类型", "条码号"))
    ink = (25, 25, 25)
    dr.line([(40, y0), (W - 40, y0)], fill=(60, 60, 60), width=2)
    y_end = y0
    if style.blocks == 1:
        y_end = _block(dr, rng, rows, style, style.columns, 40, W - 40, y0 + 6, row_h, size, fpath, 1, True, panel)
    else:
        xm = 40 + style.block_share * (W - 80)
        if style.right_columns:  # graded results on the left, the counts (with units) on the right
            left_rows = [r for r in rows if r.gt["value"] is None]
            right_rows = [r for r in rows if r.gt["value"] is not None]
        else:
            left_rows, right_rows = rows[:per], rows[per:]
        left = _block(dr, rng, left_rows, style, style.columns, 40, xm - 8, y0 + 6, row_h, size, fpath, 1, True,
                      panel)
        # without its own header the right block's rows start level with the left block's first row
        head_h = row_h * (1.75 if style.header == "bilingual" else 1)
        y_right = y0 + 6 + (0 if style.repeat_header else head_h)
        right = _block(dr, rng, right_rows, style, style.right_columns or style.columns, xm + 8, W - 40, y_right,
                       row_h, size, fpath, len(left_rows) + 1, style.repeat_header, panel)
        y_end = max(left, right)
        if style.rules != "none":
            dr.line([(xm, y0), (xm, y_end)], fill=(120, 120, 120), width=1)
    dr.line([(40, y_end + 4), (W - 40, y_end + 4)], fill=(60, 60, 60), width=2)
    y = y_end + 16
    if style.notes:
        dr.text((50, y), rng.choice(NOTES), font=FS, fill=ink)
        y += size + 10
    foot = f"检验者: 某某   审核者: 某某   报告时间: 2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    dr.text((50, y), foot, font=FS, fill=ink)
    y += size + 14
    if style.stamp:
        r = int(row_h * 1.6)
        _stamp(im, rng, fpath, W - 40 - r * 1.6 - rng.uniform(0, 200), y - r * 0.6, r)
    return im.crop((0, 0, W, int(y + 40)))


def make_sheet(rng: random.Random, idx: int, fonts: list[str]) -> tuple[np.ndarray, dict]:
    variant = VARIANTS[idx % len(VARIANTS)]
    capture = CAPTURES[(idx // len(VARIANTS)) % len(CAPTURES)]
    prt = PRINTS[(idx + idx // len(VARIANTS)) % len(PRINTS)]  # alternating, so every capture sees both prints
    style = draw_style(rng, variant)
    panel = _panel_for(rng, variant)
    sex = rng.choice(["male", "female"])
    rows = make_sheet_rows(rng, panel, sex)
    header = {"hospital": rng.choice(HOSPITALS), "title": PANEL_CODES[panel][0] + "报告单", "name": "某某",
              "sex_zh": "男" if sex == "male" else "女", "age": rng.randint(18, 80),
              "dept": rng.choice(["门诊", "体检中心", "消化内科"]), "mrn": str(rng.randint(10**9, 10**10 - 1)),
              "sample": {"urinalysis": "尿液", "stool": "粪便", "blood_routine": "全血"}.get(panel, "血清")}
    fpath = rng.choice(fonts) if fonts else None
    page = render(rng, rows, style, header, fpath, panel)
    img = cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2BGR)
    img = _print_effect(rng, img, prt)
    if capture == "curl":
        img = _curl(rng, img)
    portrait = img.shape[0] > img.shape[1]
    out_w, out_h = (960, 1280) if portrait else (1280, 960)
    img = photograph(rng, img, out_w, out_h, capture in ("phone", "curl"), 0.4, 60)
    gts = [r.gt | {"flag": sheet_flag(r.gt)} for r in rows]
    return img, {"id": f"L{idx:04d}", "layout": variant, "distortion": f"{capture}/{prt}", "panel": panel,
                 "sex": sex, "age": header["age"], "header": style.header,
                 "indicators": gts}


def build_set(n: int, out_dir: Path, seed: int = SEED) -> list[dict]:
    return build_sheets(make_sheet, n, out_dir, seed)


def main(argv: list[str] | None = None) -> int:
    return set_cli(argv, __doc__, build_set, 56, Path(__file__).resolve().parent / "out" / "layouts", SEED)


if __name__ == "__main__":
    raise SystemExit(main())
