"""Synthetic Chinese lab reports with ground truth, for evaluation and tests.

    cd services/ocr && python -m synth.generate --set eval          # the fixed 200-report evaluation set
    cd services/ocr && python -m synth.generate --set dev -n 40     # development set (different seed)

Everything is drawn from a seeded ``random.Random``: the same seed gives the same reports, byte for byte on one
machine (fonts may differ across machines, so images are regenerated on demand into the git-ignored
``synth/out/<set>/``; the ground truth JSON is committed and does not depend on fonts).

Layouts imitate common Chinese hospital sheets (one table; two tables side by side; H/L letter column; name and
code in one cell; tight columns where OCR glues names to values; a blood-pressure/glucose-meter printout).
Distortions imitate phone photos: perspective on a desk, rotation by 90/180/270°, small skew, blur, shadows,
heavy JPEG."""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
SEEDS = {"eval": 20250611, "dev": 7, "test": 99}
EVAL_SIZE = 200
LAYOUTS = ["classic", "two_column", "hl_letters", "name_code", "tight", "meter"]
DISTORTIONS = ["clean", "perspective", "rotate", "skew", "blur", "shadow", "jpeg", "phone"]

FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
]

HOSPITALS = ["江北市第一人民医院", "南山区中心医院", "临江县人民医院", "华东大学附属第二医院", "青禾市中医医院",
             "东城区妇幼保健院", "西湖社区卫生服务中心", "北辰医学检验实验室", "滨海市第三人民医院", "长宁体检中心"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"

PANELS: dict[str, tuple[str, list[str]]] = {
    "blood_routine": ("血常规", ["WBC", "NEUT%", "LYMPH%", "MONO%", "EO%", "BASO%", "NEUT#", "LYMPH#", "MONO#",
                               "EO#", "BASO#", "RBC", "HGB", "HCT", "MCV", "MCH", "MCHC", "RDW-CV", "RDW-SD",
                               "PLT", "MPV", "PDW", "PCT", "P-LCR"]),
    "liver": ("肝功能", ["ALT", "AST", "AST/ALT", "ALP", "GGT", "TP", "ALB", "GLB", "A/G", "TBIL", "DBIL", "IBIL",
                       "TBA", "CHE", "PA"]),
    "kidney": ("肾功能", ["UREA", "CREA", "UA", "CysC", "B2MG", "eGFR"]),
    "lipids": ("血脂", ["TC", "TG", "HDL-C", "LDL-C", "ApoA1", "ApoB", "Lp(a)"]),
    "electrolytes": ("电解质", ["K", "Na", "Cl", "Ca", "P", "Mg", "CO2"]),
    "glucose": ("血糖", ["GLU", "HbA1c", "INS", "C-P"]),
    "thyroid": ("甲状腺功能", ["TSH", "FT3", "FT4", "T3", "T4", "TPOAb", "TgAb"]),
    "coagulation": ("凝血功能", ["PT", "PTA", "INR", "APTT", "TT", "FIB", "D-D", "FDP"]),
    "urinalysis": ("尿常规", ["U-PRO", "U-GLU", "U-KET", "U-BLD", "U-LEU", "U-NIT", "U-BIL", "U-URO", "U-pH",
                            "U-SG", "U-RBC", "U-WBC", "U-EC"]),
    "biochemistry": ("生化全套", ["ALT", "AST", "GGT", "ALP", "TBIL", "DBIL", "TP", "ALB", "GLU", "UREA", "CREA",
                              "UA", "TC", "TG", "HDL-C", "LDL-C", "K", "Na", "Cl", "Ca"]),
}
MGDL_OK = {"GLU", "TC", "TG", "HDL-C", "LDL-C", "CREA", "UA"}


def _load_kb() -> dict[str, dict]:
    """Indicators as plain dicts, read through the shared knowledge package."""
    from zhenxi_knowledge import get_knowledge

    return {code: ind.model_dump(mode="json", exclude_unset=True) for code, ind in get_knowledge().indicators.items()}


KB = _load_kb()


def available_fonts() -> list[str]:
    """CJK fonts present on this machine. Without any, the generator falls back to PIL's default font and
    ASCII-only text (names become their codes), so it still runs — but results are not comparable."""
    return [f for f in FONT_CANDIDATES if Path(f).exists()]


def font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        try:
            return ImageFont.load_default(size=size)
        except TypeError:  # old Pillow
            return ImageFont.load_default()
    return ImageFont.truetype(path, size)


# ---- values ----------------------------------------------------------------------------------------------------

def _ref(d: dict, sex: str) -> tuple[float | None, float | None]:
    r = d.get(f"ref_{sex}") or d.get("ref") or d.get("ref_male") or {}
    return r.get("low"), r.get("high")


def _fmt(x: float, decimals: int) -> str:
    return f"{x:.{max(decimals, 0)}f}"


def _draw_value(rng: random.Random, d: dict, lo: float | None, hi: float | None, dec: int) -> float:
    if lo is None and hi is None:
        return round(rng.uniform(1, 100), dec)
    if lo is None:
        lo = 0.0 if hi > 0 else hi - 1
    if hi is None:
        hi = lo * 2.5 if lo > 0 else lo + 10
    span = hi - lo if hi > lo else max(abs(hi), 1)
    u = rng.random()
    if u < 0.72:
        v = rng.uniform(lo + 0.05 * span, hi - 0.05 * span)
    elif u < 0.86:
        v = rng.uniform(hi + 0.03 * span, hi + 0.8 * span)
    elif u < 0.97:
        v = rng.uniform(max(lo - 0.5 * span, lo * 0.3), lo - 0.03 * span) if lo > 0 else rng.uniform(lo, hi)
    else:
        crit = d.get("critical") or {}
        v = crit.get("high", hi * 1.6) * rng.uniform(1.0, 1.3) if rng.random() < 0.5 or "low" not in crit else \
            crit["low"] * rng.uniform(0.6, 0.95)
    v = max(v, 0.0) if lo >= 0 else v
    return round(v, dec)


def _range_text(rng: random.Random, lo: float | None, hi: float | None, dec: int, style: str) -> str:
    if lo is None and hi is None:
        return ""
    if lo is None or (lo == 0 and rng.random() < 0.3 and style != "tilde"):
        return ("<" if rng.random() < 0.7 else "≤") + _fmt(hi, dec) if lo is None else f"0-{_fmt(hi, dec)}"
    if hi is None:
        return (">" if rng.random() < 0.4 else "≥") + _fmt(lo, dec)
    sep = {"dash": "-", "tilde": "~", "ddash": "--"}[style]
    return f"{_fmt(lo, dec)}{sep}{_fmt(hi, dec)}"


@dataclass
class Row:
    code: str
    name: str
    abbr: str
    value_text: str
    arrow: str  # '', '↑', '↓', 'H', 'L'
    unit_text: str
    range_text: str
    gt: dict


def _qual_row(rng: random.Random, code: str, d: dict, arrows: str) -> Row:
    scale = d.get("scale") or ["-", "+"]
    if rng.random() < 0.75:
        val = rng.choice(["阴性", "-", "阴性(-)"])
        flag = "NEG"
    else:
        val = rng.choice(scale[1:] + ["阳性"]) if len(scale) > 1 else "阳性"
        flag = "POS"
    rng_text = "阴性" if rng.random() < 0.8 else "-"
    if code == "U-URO" and flag == "NEG":
        val = rng.choice(["阴性", "正常"])
    arrow = ""
    gt = {"code": code, "value": None, "value_text": val, "unit": None,
          "reference": {"low": None, "high": None, "text": rng_text}, "flag": flag}
    return Row(code, d["name"], code.replace("U-", ""), val, arrow, "", rng_text, gt)


def make_rows(rng: random.Random, panel: str, sex: str, arrows: str, range_style: str, units: str,
              codes: list[str] | None = None) -> list[Row]:
    """The rows of one sheet: ``codes`` (default: the panel's tests in ``PANELS``), values drawn around the
    printed range, the arrow as ``arrows`` prints it ('arrows' ↑↓, 'letters' H/L, 'none')."""
    codes = list(PANELS[panel][1]) if codes is None else list(codes)
    if panel not in ("urinalysis",) and len(codes) > 12 and rng.random() < 0.4:
        codes = codes[: rng.randint(12, len(codes))]
    rows = []
    for code in codes:
        d = KB[code]
        if d.get("kind") == "qualitative":
            rows.append(_qual_row(rng, code, d, arrows))
            continue
        dec = int(d.get("decimals", 2))
        lo, hi = _ref(d, sex)
        # labs print their own ranges: mostly the national default, sometimes slightly different
        if lo is not None and hi is not None and rng.random() < 0.25:
            lo, hi = round(lo * rng.uniform(0.9, 1.0), dec), round(hi * rng.uniform(1.0, 1.08), dec)
        value = _draw_value(rng, d, lo, hi, dec)
        unit = d.get("unit")
        factor = 1.0
        if units == "mgdl" and code in MGDL_OK:
            factor = d["units"]["mg/dL"]
            unit_print = "mg/dL"
        else:
            unit_print = _unit_spelling(rng, unit)
        if factor != 1.0:
            pdec = 0 if code != "CREA" else 1
            v_print = round(value / factor, pdec)
            lo_p = None if lo is None else round(lo / factor, pdec)
            hi_p = None if hi is None else round(hi / factor, pdec)
            value, lo, hi = v_print * factor, (None if lo_p is None else lo_p * factor), \
                (None if hi_p is None else hi_p * factor)
            v_text = _fmt(v_print, pdec)
            r_text = _range_text(rng, lo_p, hi_p, pdec, range_style)
        else:
            v_text = _fmt(value, dec)
            r_text = _range_text(rng, lo, hi, dec, range_style)
        # what was printed decides the ground-truth range (e.g. '0-40' or '<40')
        pr_low, pr_high = _printed_bounds(r_text, factor)
        computed = _flag(value, pr_low, pr_high, d.get("critical") or {})
        arrow = ""
        if arrows != "none" and computed in ("H", "HH", "L", "LL"):
            up = computed.startswith("H")
            arrow = {"arrows": "↑" if up else "↓", "letters": "H" if up else "L"}[arrows]
        flag = ("H" if arrow in ("↑", "H") else "L") if arrow else computed
        gt = {"code": code, "value": round(value, dec + 2), "value_text": v_text, "unit": unit,
              "reference": {"low": None if pr_low is None else round(pr_low, dec + 2),
                            "high": None if pr_high is None else round(pr_high, dec + 2), "text": r_text},
              "flag": flag}
        abbr = code if not code.startswith("U-") else code[2:]
        rows.append(Row(code, d["name"], abbr, v_text, arrow, unit_print or "", r_text, gt))
    return rows


def _printed_bounds(text: str, factor: float) -> tuple[float | None, float | None]:
    """The printed range read back with the product's one range parser, times the unit factor."""
    from zhenxi_knowledge import parse_range

    r = parse_range(text) if text else None
    if r is None:
        return None, None
    return (None if r.low is None else r.low * factor, None if r.high is None else r.high * factor)


def _flag(v: float, lo: float | None, hi: float | None, crit: dict) -> str | None:
    """The truth flag, computed as the product computes it (zhenxi_knowledge.flag_number)."""
    from zhenxi_knowledge import Range, flag_number

    return flag_number(v, lo, hi, Range(crit.get("low"), crit.get("high")))


def _unit_spelling(rng: random.Random, unit: str | None) -> str | None:
    if unit is None:
        return None
    variants = {"10^9/L": ["10^9/L", "×10^9/L", "10*9/L", "x10^9/L"], "10^12/L": ["10^12/L", "×10^12/L", "10*12/L"],
                "μmol/L": ["μmol/L", "umol/L"], "mIU/L": ["mIU/L", "μIU/mL", "uIU/mL"], "U/L": ["U/L", "IU/L"],
                "mL/min/1.73m²": ["mL/min/1.73m²", "ml/min/1.73m2"]}
    return rng.choice(variants.get(unit, [unit]))


# ---- rendering -------------------------------------------------------------------------------------------------

@dataclass
class Style:
    font_path: str | None
    size: int
    width: int
    height: int


def _text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], s: str, f, fill=(20, 20, 20)) -> float:
    draw.text(xy, s, font=f, fill=fill)
    return draw.textlength(s, font=f)


def render(rng: random.Random, layout: str, panel: str, rows: list[Row], header: dict, fonts: list[str]) -> Image.Image:
    fpath = rng.choice(fonts) if fonts else None
    ascii_only = fpath is None
    if layout == "meter":
        return _render_meter(rng, rows, header, fpath)
    landscape = layout == "two_column" or (layout in ("classic", "hl_letters") and rng.random() < 0.3)
    W, H = (1600, 1130) if landscape else (1240, 1754)
    if layout == "two_column":
        n_half = math.ceil(len(rows) / 2)
        row_h = int(min(52, (H - 420) / max(n_half, 1)))
    else:
        row_h = int(min(52, (H - 420) / max(len(rows), 1)))
    size = max(18, min(26, int(row_h * 0.58)))
    F = font(fpath, size)
    FB = font(fpath, size + 10)
    FS = font(fpath, size - 2)
    paper = tuple(int(c) for c in rng.choice([(255, 255, 255), (250, 249, 244), (246, 247, 250)]))
    im = Image.new("RGB", (W, H), paper)
    dr = ImageDraw.Draw(im)
    margin = 60
    y = 50
    title = header["hospital"] + " " + (header["title"] if not ascii_only else "")
    tw = dr.textlength(title if not ascii_only else "LAB REPORT", font=FB)
    _text(dr, ((W - tw) / 2, y), title if not ascii_only else "LAB REPORT", FB)
    y += size + 30
    fields = [f"姓名: {header['name']}", f"性别: {header['sex_zh']}", f"年龄: {header['age']}岁",
              f"科室: {header['dept']}", f"标本类型: {header['sample']}", f"病历号: {header['mrn']}",
              f"采样时间: {header['collected']}", f"报告时间: {header['reported']}"]
    cols = 4 if landscape else 3
    cw = (W - 2 * margin) / cols
    for i, fld in enumerate(fields):
        if ascii_only:
            continue
        _text(dr, (margin + (i % cols) * cw, y + (i // cols) * (size + 14)), fld, FS)
    y += (math.ceil(len(fields) / cols)) * (size + 14) + 16
    dr.line([(margin, y), (W - margin, y)], fill=(40, 40, 40), width=2)
    y += 10
    if layout == "two_column":
        half = math.ceil(len(rows) / 2)
        x_mid = W // 2
        y_end = _table(dr, rng, layout, rows[:half], margin, x_mid - 20, y, row_h, F, ascii_only)
        _table(dr, rng, layout, rows[half:], x_mid + 10, W - margin, y, row_h, F, ascii_only, start_no=half + 1)
        dr.line([(x_mid - 5, y), (x_mid - 5, y_end)], fill=(150, 150, 150), width=1) if rng.random() < 0.5 else None
    else:
        y_end = _table(dr, rng, layout, rows, margin, W - margin, y, row_h, F, ascii_only)
    y_end += 10
    dr.line([(margin, y_end), (W - margin, y_end)], fill=(40, 40, 40), width=2)
    if not ascii_only:
        _text(dr, (margin, y_end + 14), "检验者: 某某   审核者: 某某   *本报告仅对所检标本负责", FS)
    # paper is cut to its content (A5 slips are common), keeping a plausible aspect ratio
    return im.crop((0, 0, W, min(H, max(int(y_end + 90), int(0.5 * W)))))


def _table(dr, rng, layout, rows, x0, x1, y, row_h, F, ascii_only, start_no=1) -> float:
    W = x1 - x0
    if layout == "classic":
        cols = [("序号", 0.06), ("检验项目", 0.30), ("缩写", 0.12), ("结果", 0.13), ("提示", 0.06), ("单位", 0.13),
                ("参考范围", 0.20)]
    elif layout == "hl_letters":
        cols = [("检验项目", 0.34), ("结果", 0.14), ("标志", 0.08), ("参考区间", 0.22), ("单位", 0.22)]
    elif layout == "name_code":
        cols = [("项目名称", 0.42), ("结果", 0.16), ("单位", 0.16), ("参考值", 0.26)]
    elif layout == "tight":
        cols = [("项目", 0.30), ("结果", 0.15), ("参考范围", 0.30), ("单位", 0.25)]
    else:  # two_column
        cols = [("项目", 0.40), ("结果", 0.18), ("参考范围", 0.24), ("单位", 0.18)]
    xs = []
    acc = x0
    for _, w in cols:
        xs.append(acc)
        acc += w * W
    for (hname, _), cx in zip(cols, xs):
        _text(dr, (cx, y + 6), hname if not ascii_only else {"结果": "Result"}.get(hname, "Item"), F)
    y += row_h
    dr.line([(x0, y - 4), (x1, y - 4)], fill=(90, 90, 90), width=1)
    grid = layout == "hl_letters" and rng.random() < 0.5
    for i, r in enumerate(rows):
        name = r.name if not ascii_only else r.abbr
        cells = {"序号": str(start_no + i), "缩写": r.abbr, "单位": r.unit_text, "提示": r.arrow, "标志": r.arrow}
        if layout == "name_code":
            cells["项目名称"] = f"{name}({r.abbr})" if not r.code.startswith("U-") else name
            cells["结果"] = r.value_text + (" " + r.arrow if r.arrow else "")
            cells["参考值"] = r.range_text
        elif layout in ("two_column", "tight"):
            key = "项目"
            nm = name
            if layout == "tight" and len(nm) > 7 and rng.random() < 0.3:
                nm = nm[:-1]  # truncated names as printed by narrow columns
            cells[key] = nm
            cells["结果"] = r.value_text + (r.arrow if r.arrow else "")
            cells["参考范围"] = r.range_text
        else:
            cells["检验项目"] = name
            cells["结果"] = r.value_text
            cells["参考范围"] = r.range_text
            cells["参考区间"] = r.range_text
        for ci, ((hname, _), cx) in enumerate(zip(cols, xs)):
            txt = cells.get(hname, "")
            if not txt:
                continue
            if layout == "tight" and hname == "结果":
                # value starts right where the (long) name ends: OCR glues them into one box
                name_w = dr.textlength(cells["项目"], font=F)
                cx = max(cx, x0 + name_w + F.size * 0.35)
            _text(dr, (cx, y + (row_h - F.size) / 2), txt, F)
        y += row_h
        if grid:
            dr.line([(x0, y - 2), (x1, y - 2)], fill=(200, 200, 200), width=1)
    return y


def _render_meter(rng: random.Random, rows: list[Row], header: dict, fpath: str | None) -> Image.Image:
    W, H = 700, 360 + 60 * len(rows)
    im = Image.new("RGB", (W, H), (240, 240, 236))
    dr = ImageDraw.Draw(im)
    F = font(fpath, 30)
    FB = font(fpath, 38)
    _text(dr, (40, 30), "电子血压计 测量记录" if rows[0].code in ("SBP", "DBP", "PULSE") else "血糖仪 测量记录", FB)
    _text(dr, (40, 90), f"测量时间: {header['collected']}", font(fpath, 24))
    y = 160
    for r in rows:
        x = 40
        x += _text(dr, (x, y), r.name, F) + 30
        x += _text(dr, (x, y), r.abbr, F) + 30
        x += _text(dr, (x, y), r.value_text, FB) + 20
        _text(dr, (x, y + 6), r.unit_text, F)
        y += 62
    return im


def meter_rows(rng: random.Random) -> tuple[str, list[Row]]:
    if rng.random() < 0.6:
        sbp = rng.randint(100, 175)
        dbp = rng.randint(60, 105)
        pul = rng.randint(55, 105)
        out = []
        for code, v, abbr in (("SBP", sbp, "SYS"), ("DBP", dbp, "DIA"), ("PULSE", pul, "PUL")):
            d = KB[code]
            lo, hi = _ref(d, "male")
            flag = _flag(v, lo, hi, d.get("critical") or {})
            gt = {"code": code, "value": float(v), "value_text": str(v), "unit": d["unit"],
                  "reference": {"low": lo, "high": hi, "text": None}, "flag": flag}
            out.append(Row(code, d["name"], abbr, str(v), "", "mmHg" if code != "PULSE" else "次/分", "", gt))
        return "vitals", out
    d = KB["GLU-cap"]
    v = round(rng.uniform(3.5, 14.0), 1)
    lo, hi = _ref(d, "male")
    gt = {"code": "GLU-cap", "value": v, "value_text": f"{v:.1f}", "unit": "mmol/L",
          "reference": {"low": lo, "high": hi, "text": None}, "flag": _flag(v, lo, hi, d.get("critical") or {})}
    return "glucose", [Row("GLU-cap", d["name"], "GLU", f"{v:.1f}", "", "mmol/L", "", gt)]


# ---- photographic distortions ----------------------------------------------------------------------------------

def _background(rng: random.Random, w: int, h: int) -> np.ndarray:
    base = np.array([rng.randint(40, 140), rng.randint(40, 130), rng.randint(30, 120)], np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    grad = (xx / w * rng.uniform(-30, 30) + yy / h * rng.uniform(-30, 30))[..., None]
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 6, (h, w, 1)).astype(np.float32)
    bg = np.clip(base + grad + noise, 0, 255)
    return bg.astype(np.uint8)


def _on_desk(rng: random.Random, page: np.ndarray, out_w: int, out_h: int, strength: float) -> np.ndarray:
    h, w = page.shape[:2]
    s = min(out_w / w, out_h / h) * rng.uniform(0.80, 0.92)
    pw, ph = w * s, h * s
    cx, cy = out_w / 2 + rng.uniform(-0.04, 0.04) * out_w, out_h / 2 + rng.uniform(-0.04, 0.04) * out_h
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[cx - pw / 2, cy - ph / 2], [cx + pw / 2, cy - ph / 2], [cx + pw / 2, cy + ph / 2],
                      [cx - pw / 2, cy + ph / 2]])
    jitter = strength * min(pw, ph)
    dst += np.float32([[rng.uniform(-jitter, jitter), rng.uniform(-jitter, jitter)] for _ in range(4)])
    m = cv2.getPerspectiveTransform(src, dst)
    bg = _background(rng, out_w, out_h)
    warped = cv2.warpPerspective(page, m, (out_w, out_h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (out_w, out_h), flags=cv2.INTER_NEAREST)
    out = np.where(mask[..., None] > 0, warped, bg)
    return out


def _shadow(rng: random.Random, img: np.ndarray, depth: float) -> np.ndarray:
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    d = (xx - w / 2) * math.cos(ang) + (yy - h / 2) * math.sin(ang)
    edge = rng.uniform(-0.2, 0.3) * max(w, h)
    soft = max(w, h) * rng.uniform(0.05, 0.2)
    shade = 1 - depth / (1 + np.exp(-(d - edge) / soft))
    light = 1 + 0.08 * np.sin(xx / w * math.pi)
    return np.clip(img.astype(np.float32) * (shade * light)[..., None], 0, 255).astype(np.uint8)


def _jpeg(img: np.ndarray, q: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _rotate_small(img: np.ndarray, deg: float) -> np.ndarray:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def _fit(img: np.ndarray, long_side: int = 1280) -> np.ndarray:
    h, w = img.shape[:2]
    s = long_side / max(h, w)
    return cv2.resize(img, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else img


def distort(rng: random.Random, page: Image.Image, kind: str) -> np.ndarray:
    img = cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2BGR)
    portrait = img.shape[0] > img.shape[1]
    out_w, out_h = (960, 1280) if portrait else (1280, 960)
    if kind == "clean":
        out = _fit(img, 1600)
    elif kind == "perspective":
        out = _on_desk(rng, img, out_w, out_h, 0.08)
    elif kind == "rotate":
        out = _on_desk(rng, img, out_w, out_h, 0.03)
        out = cv2.rotate(out, rng.choice([cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE]))
    elif kind == "skew":
        out = _rotate_small(_fit(img, 1400), rng.choice([-1, 1]) * rng.uniform(2, 7))
    elif kind == "blur":
        out = _on_desk(rng, img, out_w, out_h, 0.02)
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.8, 1.2))
    elif kind == "shadow":
        out = _shadow(rng, _on_desk(rng, img, out_w, out_h, 0.03), rng.uniform(0.35, 0.6))
    elif kind == "jpeg":
        out = _jpeg(cv2.resize(_fit(img, 1400), None, fx=0.85, fy=0.85, interpolation=cv2.INTER_AREA),
                    rng.randint(35, 55))
    else:  # phone: everything mild at once
        out = _on_desk(rng, img, out_w, out_h, 0.06)
        out = _shadow(rng, out, rng.uniform(0.2, 0.4))
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 0.9))
        if rng.random() < 0.3:
            out = cv2.rotate(out, rng.choice([cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE]))
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, rng.uniform(1, 4), out.shape)
    out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return _jpeg(out, rng.randint(80, 92))


# ---- reports ---------------------------------------------------------------------------------------------------

def make_report(rng: random.Random, idx: int, fonts: list[str], layout: str | None = None,
                distortion: str | None = None, panel: str | None = None) -> tuple[np.ndarray, dict]:
    layout = layout or LAYOUTS[idx % len(LAYOUTS)]
    distortion = distortion or DISTORTIONS[(idx // len(LAYOUTS)) % len(DISTORTIONS)]
    sex = rng.choice(["male", "female"])
    header = {
        "hospital": rng.choice(HOSPITALS),
        "name": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2))),
        "sex_zh": "男" if sex == "male" else "女",
        "age": rng.randint(18, 85),
        "dept": rng.choice(["内科门诊", "内分泌科", "体检中心", "心内科", "急诊科", "肾内科"]),
        "mrn": str(rng.randint(10**7, 10**8 - 1)),
        "collected": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(7, 11):02d}:{rng.randint(0, 59):02d}",
        "reported": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(12, 18):02d}:{rng.randint(0, 59):02d}",
    }
    if layout == "meter":
        panel_key, rows = meter_rows(rng)
        header["title"] = ""
    else:
        if panel is None:
            panel = "blood_routine" if layout == "two_column" and rng.random() < 0.6 else rng.choice(list(PANELS))
        arrows = {"classic": "arrows", "hl_letters": "letters", "two_column": "arrows", "name_code": "arrows",
                  "tight": rng.choice(["arrows", "none"])}[layout]
        range_style = rng.choice(["dash", "dash", "tilde", "ddash"])
        units = "mgdl" if panel in ("lipids", "glucose") and rng.random() < 0.25 else "si"
        rows = make_rows(rng, panel, sex, arrows, range_style, units)
        panel_key = panel
        header["title"] = PANELS[panel][0] + "检验报告单"
    header["sample"] = {"urinalysis": "尿液", "blood_routine": "全血", "coagulation": "血浆"}.get(panel_key, "血清")
    page = render(rng, layout, panel_key, rows, header, fonts)
    img = distort(rng, page, distortion)
    gt = {"id": f"{idx:04d}", "layout": layout, "distortion": distortion, "panel": panel_key, "sex": sex,
          "age": header["age"], "hospital": header["hospital"],
          "indicators": [r.gt for r in rows]}
    return img, gt


def make_marked_report(rng: random.Random, fonts: list[str], codes: tuple[str, ...] = ("WBC", "NEUT%", "LYMPH%",
                                                                                       "RBC", "HGB"),
                       n_marks: int = 3) -> tuple[np.ndarray, dict[str, str]]:
    """A clean upright blood count whose sheet marks ↑ / ↓ (in turn) beside up to ``n_marks`` of ``codes`` that
    lie inside their printed range: the printed mark and the range disagree, as when a range is printed or read
    wrong. Returns the image and {code: the printed flag (H/L)}; the truth of the other rows is unchanged."""
    rows = make_rows(rng, "blood_routine", "male", "arrows", "dash", "si")[:12]
    marked: dict[str, str] = {}
    for i, r in enumerate(rows):
        if r.gt["flag"] == "N" and r.code in codes and len(marked) < n_marks:
            arrow = "↑" if len(marked) % 2 == 0 else "↓"
            rows[i] = Row(r.code, r.name, r.abbr, r.value_text, arrow, r.unit_text, r.range_text,
                          {**r.gt, "flag": "H" if arrow == "↑" else "L"})
            marked[r.code] = rows[i].gt["flag"]
    header = {"hospital": HOSPITALS[0], "title": PANELS["blood_routine"][0] + "检验报告单", "name": "王伟",
              "sex_zh": "男", "age": 40, "dept": "内科门诊", "mrn": "12345678", "collected": "2024-03-01 08:00",
              "reported": "2024-03-01 12:00", "sample": "全血"}
    page = render(rng, "classic", "blood_routine", rows, header, fonts)
    return distort(rng, page, "clean"), marked


def build_set(name: str, n: int, out_dir: Path, seed: int | None = None) -> list[dict]:
    seed = SEEDS[name] if seed is None else seed
    fonts = available_fonts()
    if not fonts:
        print("warning: no CJK font found (apt-get install fonts-wqy-zenhei); falling back to ASCII-only pages",
              file=sys.stderr)
    out_dir.mkdir(parents=True, exist_ok=True)
    truths = []
    for i in range(n):
        rng = random.Random(f"{seed}-{i}")
        img, gt = make_report(rng, i, fonts)
        cv2.imwrite(str(out_dir / f"{gt['id']}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        gt["file"] = f"{gt['id']}.jpg"
        truths.append(gt)
    return truths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=list(SEEDS), default="eval")
    ap.add_argument("-n", type=int, default=None, help=f"number of reports (eval: {EVAL_SIZE})")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--write-truth", action="store_true", help="(re)write the committed ground truth JSON")
    args = ap.parse_args(argv)
    n = args.n or (EVAL_SIZE if args.set == "eval" else 40)
    out = args.out or HERE / "out" / args.set
    truths = build_set(args.set, n, out)
    (out / "ground_truth.json").write_text(json.dumps(truths, ensure_ascii=False), encoding="utf-8")
    if args.write_truth and args.set == "eval":
        (HERE / "eval_ground_truth.json").write_text(
            json.dumps({"seed": SEEDS["eval"], "size": n, "reports": truths}, ensure_ascii=False, indent=None),
            encoding="utf-8")
    print(f"wrote {n} reports to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
