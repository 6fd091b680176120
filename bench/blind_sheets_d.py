#!/usr/bin/env python3
"""Blind synthetic lab-sheet generator, set D (mostly qualitative sheets).

Generates photos/scans of invented Chinese hospital lab-report sheets
(粪常规, 尿常规, 肿瘤标志物, 乙肝五项, 自身抗体, 呼吸道抗原, 感染/炎症指标,
a few 血常规) together with hand-checked-style transcripts.

Written without looking at any parser code: the sheets follow what real
printed sheets look like, not what a parser expects.

Usage:
    python bench/blind_sheets_d.py --out DIR [--seed 7] [-n 30]

Output:
    DIR/images/<SHEET>__<capture>.jpg
    DIR/images.csv
    DIR/transcripts/<SHEET>.json
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import re
import time
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

SOURCE = "synthetic-d"

# --------------------------------------------------------------------------
# fonts
# --------------------------------------------------------------------------
FONT_FILES = {
    # key: (path, index for simplified, index for traditional)
    "noto_sans": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2, 3),
    "noto_sans_b": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2, 3),
    "noto_serif": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2, 3),
    "noto_serif_b": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 2, 3),
    "zenhei": ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, 0),
    "zenhei_mono": ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 1, 1),
    "microhei": ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0, 0),
    "uming": ("/usr/share/fonts/truetype/arphic/uming.ttc", 0, 2),
    "dejavu": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0, 0),
}
BOLD_OF = {"noto_sans": "noto_sans_b", "noto_serif": "noto_serif_b"}
_font_cache: dict = {}
_cover_cache: dict = {}


def get_font(key: str, size: int, trad: bool = False) -> ImageFont.FreeTypeFont:
    if key not in FONT_FILES or not os.path.exists(FONT_FILES[key][0]):
        key = "noto_sans"
    path, i_sc, i_tc = FONT_FILES[key]
    idx = i_tc if trad else i_sc
    ck = (key, int(size), idx)
    if ck not in _font_cache:
        _font_cache[ck] = ImageFont.truetype(path, int(size), index=idx)
    return _font_cache[ck]


def _covers(font: ImageFont.FreeTypeFont, ch: str) -> bool:
    ck = (font.path, font.index if hasattr(font, "index") else 0, ch)
    if ck not in _cover_cache:
        if ch.isspace() or ord(ch) < 128:
            _cover_cache[ck] = True
        else:
            miss = font.getmask("\U0010FFFD")
            m = font.getmask(ch)
            _cover_cache[ck] = not (m.size == miss.size and bytes(m) == bytes(miss))
    return _cover_cache[ck]


def font_for(text: str, font: ImageFont.FreeTypeFont, trad: bool = False):
    """Return font, or Noto Sans of the same size if a glyph is missing."""
    if all(_covers(font, c) for c in text):
        return font
    return get_font("noto_sans", font.size, trad)


def text_w(text: str, font, trad: bool = False) -> float:
    if not text:
        return 0.0
    return font_for(text, font, trad).getlength(text)


# --------------------------------------------------------------------------
# data model
# --------------------------------------------------------------------------
@dataclass
class Item:
    name: str
    code: str = ""
    value: str = ""
    flag: str = ""
    rng: str = ""
    unit: str = ""
    method: str = ""
    judge: str = ""          # separate qualitative judgement column (乙肝五项)
    uncertain: list = field(default_factory=list)
    ab: str = ""             # generator-side truth: '', 'H', 'L', 'pos'
    bold: bool = False


@dataclass
class Sheet:
    sid: str
    report_type: str
    hospital: str
    title: str
    trad: bool = False
    header: list = field(default_factory=list)       # [(label, value)]
    blocks: list = field(default_factory=list)       # [{'caption':..,'items':[Item]}]
    columns: list = field(default_factory=list)      # [(key, label)]
    footer: list = field(default_factory=list)       # [(label, value)]
    foot_notes: list = field(default_factory=list)   # free text lines
    style: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    paper: str = "A4"                                 # A4 / A5L / strip
    printer: str = "laser"                            # laser/inkjet/dotmatrix/thermal

    def all_items(self):
        for b, blk in enumerate(self.blocks, 1):
            for r, it in enumerate(blk["items"], 1):
                yield b, r, it


# --------------------------------------------------------------------------
# page: ink / preprinted form / stamp layers
# --------------------------------------------------------------------------
PAPER_SIZES = {"A4": (1654, 2339), "A5L": (2100, 1480), "B5": (1440, 2040)}


class Page:
    def __init__(self, w: int, h: int, trad: bool = False):
        self.w, self.h, self.trad = w, h, trad
        self.ink = Image.new("L", (w, h), 0)
        self.form = Image.new("L", (w, h), 0)
        self.stamp = Image.new("L", (w, h), 0)
        self.d_ink = ImageDraw.Draw(self.ink)
        self.d_form = ImageDraw.Draw(self.form)
        self.d_stamp = ImageDraw.Draw(self.stamp)
        self.boxes: list = []   # (block,row,field,(x0,y0,x1,y1))

    def layer(self, name: str):
        return {"ink": self.d_ink, "form": self.d_form, "stamp": self.d_stamp}[name]

    def text(self, x, y, s, font, anchor="lm", layer="ink", fill=255):
        if not s:
            return (x, y, x, y)
        f = font_for(s, font, self.trad)
        d = self.layer(layer)
        d.text((x, y), s, font=f, fill=fill, anchor=anchor)
        return d.textbbox((x, y), s, font=f, anchor=anchor)

    def hline(self, x0, x1, y, width=2, layer="ink", dash=0, fill=255):
        d = self.layer(layer)
        if dash:
            x = x0
            while x < x1:
                d.line([(x, y), (min(x + dash, x1), y)], fill=fill, width=width)
                x += dash * 2
        else:
            d.line([(x0, y), (x1, y)], fill=fill, width=width)

    def vline(self, x, y0, y1, width=2, layer="ink", fill=255):
        self.layer(layer).line([(x, y0), (x, y1)], fill=fill, width=width)

    def rect(self, box, width=2, layer="ink", fill=None, outline=255):
        self.layer(layer).rectangle(box, outline=outline, width=width, fill=fill)


def paper_texture(h, w, nrng, base=(246, 244, 238)):
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    low = cv2.resize(nrng.normal(0, 1, (max(2, h // 300), max(2, w // 300))).astype(np.float32),
                     (w, h), interpolation=cv2.INTER_CUBIC)
    grain = nrng.normal(0, 1, (h, w)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.8)
    img += (low * 1.5 + grain * 2.0)[..., None]
    # a few paper fibres
    for _ in range(int(nrng.integers(5, 25))):
        x, y = int(nrng.integers(0, w)), int(nrng.integers(0, h))
        ang = nrng.uniform(0, math.pi)
        ln = nrng.integers(6, 30)
        x2, y2 = int(x + ln * math.cos(ang)), int(y + ln * math.sin(ang))
        cv2.line(img, (x, y), (x2, y2), tuple(float(c) - 18 for c in base), 1, cv2.LINE_AA)
    return img


def apply_ink_style(mask: np.ndarray, printer: str, nrng) -> np.ndarray:
    """mask float 0..1 -> alpha float 0..1 after printing-technology effects."""
    if printer == "dotmatrix":
        step = 3
        h, w = mask.shape
        small = cv2.resize(mask, (w // step, h // step), interpolation=cv2.INTER_AREA)
        on = (small > 0.28).astype(np.float32)
        dot = np.array([[0.35, 0.9, 0.35], [0.9, 1.0, 0.9], [0.35, 0.9, 0.35]], np.float32)
        big = np.kron(on, dot)
        out = np.zeros_like(mask)
        out[: big.shape[0], : big.shape[1]] = big
        out = cv2.GaussianBlur(out, (0, 0), 0.6)
        # ribbon wear: horizontal bands of varying strength
        band = cv2.resize(nrng.uniform(0.55, 0.95, (max(2, h // 90), 1)).astype(np.float32),
                          (w, h), interpolation=cv2.INTER_LINEAR)
        return np.clip(out * band * 1.1, 0, 1)
    if printer == "inkjet":
        out = cv2.GaussianBlur(mask, (0, 0), 0.9)
        out = np.clip(out * 1.35, 0, 1)
        h, w = mask.shape
        band = 1.0 - 0.12 * (np.sin(np.arange(h) / nrng.uniform(6, 14))[:, None] > 0.85)
        spk = (nrng.random((h, w)) < 0.0006).astype(np.float32)
        spk = cv2.GaussianBlur(spk, (0, 0), 0.7) * 3
        near = cv2.dilate(mask, np.ones((7, 7), np.uint8))
        return np.clip(out * band + spk * near, 0, 1) * 0.92
    if printer == "thermal":
        h, w = mask.shape
        out = cv2.GaussianBlur(mask, (0, 0), 0.5)
        fade = cv2.resize(nrng.uniform(0.55, 0.85, (max(2, h // 200), 2)).astype(np.float32),
                          (w, h), interpolation=cv2.INTER_CUBIC)
        out = out * fade
        # one or two weak heating elements -> faint vertical streaks
        for _ in range(int(nrng.integers(0, 3))):
            x = int(nrng.integers(0, w))
            out[:, x:x + 1] *= 0.45
        return np.clip(out, 0, 1)
    # laser
    out = cv2.GaussianBlur(mask, (0, 0), 0.45)
    h, w = mask.shape
    spk = (nrng.random((h, w)) < 0.00001).astype(np.float32)
    spk = cv2.dilate(spk, np.ones((2, 2), np.uint8)) * 0.6
    return np.clip(out + spk, 0, 1)


def compose_page(page: Page, sheet: Sheet, nrng) -> np.ndarray:
    st = sheet.style
    base = st.get("paper_color", (246, 244, 238))
    img = paper_texture(page.h, page.w, nrng, base)
    form = np.asarray(page.form, np.float32) / 255.0
    if form.any():
        fc = np.array(st.get("form_color", (40, 80, 170)), np.float32)
        a = cv2.GaussianBlur(form, (0, 0), 0.6)[..., None] * 0.85
        img = img * (1 - a) + fc * a
    ink = apply_ink_style(np.asarray(page.ink, np.float32) / 255.0, sheet.printer, nrng)
    ic = np.array(st.get("ink_color", (22, 22, 26)), np.float32)
    a = ink[..., None] * st.get("ink_strength", 0.95)
    img = img * (1 - a) + ic * a
    stamp = np.asarray(page.stamp, np.float32) / 255.0
    if stamp.any():
        stamp = cv2.GaussianBlur(stamp, (0, 0), 1.0)
        wear = cv2.resize(nrng.uniform(0.3, 1.0, (40, 40)).astype(np.float32),
                          (page.w, page.h), interpolation=cv2.INTER_CUBIC)
        a = np.clip(stamp * wear, 0, 1)[..., None] * 0.7
        sc = np.array((200, 40, 45), np.float32)
        img = img * (1 - a) + (img * sc / 255.0) * a
    return np.clip(img, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------
CSV_HEADER = ["file", "sheet", "report_type", "hospital", "rows_approx", "photo", "source_repo"]


def transcript_json(sheet: Sheet, files: list, printed_items: list) -> dict:
    not_leg = sum(1 for it in printed_items if "name_printed" in it["uncertain"])
    return {
        "sheet": sheet.sid,
        "files": files,
        "report_type": sheet.report_type,
        "transcriber": SOURCE,
        "rows_not_legible": not_leg,
        "notes": "; ".join(sheet.notes),
        "items": printed_items,
    }


def save_jpg(path: str, rgb: np.ndarray, quality: int):
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    cv2.imwrite(path, bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])


# --------------------------------------------------------------------------
# sheet rendering (layout engine)
# --------------------------------------------------------------------------
COL_WEIGHT = {"name": 3, "namecode": 3, "codename": 3, "range": 2.2, "value": 2, "valflag": 2,
              "unit": 1.2, "method": 1.2, "judge": 1.2, "flag": 0.5, "no": 0.3, "code": 1.2}


def cell_text(sheet: Sheet, it: Item, key: str, row: int) -> str:
    st = sheet.style
    if key == "no":
        return f"{row:02d}" if st.get("no_fmt") == "02" else str(row)
    if key == "name":
        return it.name
    if key == "code":
        return it.code
    if key == "namecode":
        return f"{it.name}{st.get('nc_sep', ' ')}{it.code}" if it.code else it.name
    if key == "codename":
        return f"{it.code}{st.get('nc_sep', ' ')}{it.name}" if it.code else it.name
    if key == "value":
        return it.value
    if key == "valflag":
        if not it.flag:
            return it.value
        return it.value + st.get("stick", "") + it.flag
    if key == "flag":
        return it.flag
    if key == "unit":
        return it.unit
    if key == "range":
        return it.rng
    if key == "method":
        return it.method
    if key == "judge":
        return it.judge
    return ""


def col_layout(sheet, cols, items, font, avail, pad):
    widths = []
    for key, label in cols:
        w = text_w(label, font, sheet.trad)
        for r, it in enumerate(items, 1):
            w = max(w, text_w(cell_text(sheet, it, key, r), font, sheet.trad))
        if key == "flag":
            w = max(w, font.size * 1.0)
        widths.append(w + 2 * pad)
    need = sum(widths)
    if need > avail:
        return None
    extra = avail - need
    tot = sum(COL_WEIGHT.get(k, 1) for k, _ in cols)
    return [w + extra * COL_WEIGHT.get(k, 1) / tot for w, (k, _) in zip(widths, cols)]


def draw_table(page: Page, sheet: Sheet, bidx: int, cols, items, x0, y0, width, fs, row_h,
               caption=""):
    st = sheet.style
    fkey = st.get("font", "noto_sans")
    font = get_font(fkey, fs, sheet.trad)
    hfont = get_font(BOLD_OF.get(fkey, fkey), fs, sheet.trad) if st.get("bold_head") else font
    pad = max(4, fs // 3)
    widths = col_layout(sheet, cols, items, font, width, pad)
    assert widths is not None
    xs = [x0]
    for w in widths:
        xs.append(xs[-1] + w)
    rules = st.get("rules", "hrules")
    y = y0
    if caption:
        page.text(x0 + pad, y + row_h * 0.5, caption, hfont)
        y += row_h
    top = y
    lw = st.get("line_w", 2)
    if rules in ("hrules", "grid", "frame", "dotted", "dashes"):
        page.hline(x0, x0 + width, y, lw + (1 if rules != "grid" else 0))
    align = st.get("val_align", "l")
    for (key, label), xa, xb in zip(cols, xs[:-1], xs[1:]):
        if key in ("no", "flag") or st.get("head_center"):
            page.text((xa + xb) / 2, y + row_h / 2, label, hfont, anchor="mm")
        else:
            page.text(xa + pad, y + row_h / 2, label, hfont)
    y += row_h
    if rules != "none":
        page.hline(x0, x0 + width, y, lw)
    bfont = get_font(BOLD_OF.get(fkey, fkey), fs, sheet.trad)
    for r, it in enumerate(items, 1):
        cy = y + row_h / 2
        for (key, label), xa, xb in zip(cols, xs[:-1], xs[1:]):
            s = cell_text(sheet, it, key, r)
            f = bfont if (it.bold and key in ("value", "valflag", "flag")) else font
            if key in ("no", "flag"):
                bb = page.text((xa + xb) / 2, cy, s, f, anchor="mm")
            elif key in ("value", "valflag") and align == "c":
                bb = page.text((xa + xb) / 2, cy, s, f, anchor="mm")
            elif key in ("value", "valflag") and align == "r":
                bb = page.text(xb - pad * 2, cy, s, f, anchor="rm")
            else:
                bb = page.text(xa + pad, cy, s, f)
            if key in ("value", "valflag"):
                page.boxes.append((it, bb, (xa, y, xb, y + row_h)))
        y += row_h
        if rules == "grid":
            page.hline(x0, x0 + width, y, 1)
        elif rules == "dotted" and r < len(items):
            page.hline(x0, x0 + width, y, 1, dash=3)
    if rules in ("hrules", "frame", "dotted", "grid", "dashes"):
        page.hline(x0, x0 + width, y, lw)
    if rules in ("grid", "frame"):
        page.vline(x0, top, y, lw)
        page.vline(x0 + width, top, y, lw)
    if rules == "grid":
        for xv in xs[1:-1]:
            page.vline(xv, top, y, 1)
    return y


def draw_barcode(page: Page, x, y, w, h, rng: random.Random, digits: str, font):
    xx = x
    while xx < x + w:
        bw = rng.choice([2, 2, 3, 4, 6])
        if rng.random() < 0.55:
            page.d_ink.rectangle([xx, y, xx + bw - 1, y + h], fill=255)
        xx += bw
    page.text(x + w / 2, y + h + font.size * 0.7, digits, font, anchor="mm")


def draw_stamp(page: Page, cx, cy, r, text_ring: str, text_mid: str, trad: bool):
    d = page.d_stamp
    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=255, width=max(4, r // 14))
    # star
    pts = []
    for k in range(10):
        rr = r * (0.22 if k % 2 == 0 else 0.09)
        a = -math.pi / 2 + k * math.pi / 5
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    d.polygon(pts, fill=255)
    f = get_font("noto_sans_b", int(r * 0.26), trad)
    n = len(text_ring)
    span = math.radians(240)
    for i, ch in enumerate(text_ring):
        a = -math.pi / 2 - span / 2 + span * (i + 0.5) / n
        tile = Image.new("L", (f.size * 2, f.size * 2), 0)
        ImageDraw.Draw(tile).text((f.size, f.size), ch, font=font_for(ch, f, trad), fill=255,
                                  anchor="mm")
        tile = tile.rotate(-math.degrees(a) - 90, resample=Image.BICUBIC)
        px = cx + r * 0.72 * math.cos(a) - f.size
        py = cy + r * 0.72 * math.sin(a) - f.size
        page.stamp.paste(255, (int(px), int(py)), tile)
    f2 = get_font("noto_sans_b", int(r * 0.2), trad)
    d.text((cx, cy + r * 0.48), text_mid, font=font_for(text_mid, f2, trad), fill=255, anchor="mm")


def flow_fields(page, fields, x0, y0, width, ncol, lh, font, colon):
    """Lay 'label：value' fields on a grid; a long field takes several grid cells."""
    cw = width / ncol
    col, line = 0, 0
    for lab, val in fields:
        s = f"{lab}{colon}{val}"
        span = min(ncol, max(1, math.ceil((text_w(s, font, page.trad) + font.size) / cw)))
        if col + span > ncol:
            line, col = line + 1, 0
        page.text(x0 + col * cw, y0 + line * lh + lh / 2, s, font)
        col += span
    return line + 1 if fields else 0


def render_sheet(sheet: Sheet, rng: random.Random, nrng) -> tuple:
    st = sheet.style
    fkey = st.get("font", "noto_sans")
    strip = sheet.paper == "strip"
    if strip:
        W = rng.randint(640, 720)
        H = 4000
    else:
        W, H = PAPER_SIZES[sheet.paper]
    page = Page(W, H, sheet.trad)
    mx = int(W * (0.035 if strip else rng.uniform(0.055, 0.085)))
    y = int(H * 0.03) if not strip else 40
    tw = W - 2 * mx
    fs = st.get("fs", 28)
    title_layer = "form" if st.get("preprinted") else "ink"
    # ---- title
    tsize = st.get("title_fs", int(fs * 1.7))
    tkey = BOLD_OF.get(fkey, "noto_sans_b") if not strip else fkey
    while text_w(sheet.hospital, get_font(tkey, tsize, sheet.trad), sheet.trad) > tw * 0.9 and tsize > 16:
        tsize -= 2
    tfont = get_font(tkey, tsize, sheet.trad)
    if st.get("logo") and not strip:
        lr = int(tfont.size * 0.9)
        lx = mx + lr + 10
        page.d_form.ellipse([lx - lr, y, lx + lr, y + 2 * lr], outline=255, width=4)
        page.text(lx, y + lr, "+", get_font("noto_sans_b", lr), anchor="mm", layer="form")
    page.text(W / 2, y + tfont.size * 0.7, sheet.hospital, tfont, anchor="mm", layer=title_layer)
    y += int(tfont.size * 1.5)
    sfont = get_font(BOLD_OF.get(fkey, fkey) if not strip else fkey,
                     st.get("sub_fs", int(fs * 1.3)), sheet.trad)
    page.text(W / 2, y + sfont.size * 0.6, sheet.title, sfont, anchor="mm", layer=title_layer)
    small = get_font(fkey, max(16, int(fs * 0.8)), sheet.trad)
    if st.get("barcode") and not strip:
        draw_barcode(page, W - mx - 330, int(H * 0.02), 320, 60, rng,
                     "".join(rng.choice("0123456789") for _ in range(12)), small)
    if st.get("page_no") and not strip:
        page.text(W - mx, y + sfont.size * 0.6, st["page_no"], small, anchor="rm")
    y += int(sfont.size * 1.6)
    # ---- header fields
    font = get_font(fkey, fs, sheet.trad)
    ncol = 1 if strip else st.get("head_cols", 4)
    hrow = int(fs * st.get("head_lh", 1.55))
    colon = st.get("colon", "：")
    if st.get("head_rule_top"):
        page.hline(mx, W - mx, y - 6, st.get("line_w", 2) + 1, layer=title_layer)
    nl = flow_fields(page, sheet.header, mx, y, tw, ncol, hrow, font if not strip else small, colon)
    y += nl * hrow + int(fs * 0.3)
    # ---- table(s)
    blocks = sheet.blocks
    side = len(blocks) > 1 and st.get("blocks_side", True) and not strip
    gap = int(W * 0.03)
    foot_h = int(fs * 1.6) * (1 + (len(sheet.footer) + 2) // 3 + len(sheet.foot_notes)) + 40
    avail_h = H - y - foot_h - int(H * 0.03)
    for tfs in range(fs, 13, -1):
        row_h = int(tfs * st.get("row_f", 1.6))
        tf = get_font(fkey, tfs, sheet.trad)
        pad = max(4, tfs // 3)
        ok = True
        if side:
            bw = (tw - gap * (len(blocks) - 1)) / len(blocks)
            for blk in blocks:
                if col_layout(sheet, blk.get("columns", sheet.columns), blk["items"], tf, bw, pad) is None:
                    ok = False
            nrows = max(len(b["items"]) + 1 + (1 if b.get("caption") else 0) for b in blocks)
        else:
            for blk in blocks:
                if col_layout(sheet, blk.get("columns", sheet.columns), blk["items"], tf, tw, pad) is None:
                    ok = False
            nrows = sum(len(b["items"]) + 1 + (1 if b.get("caption") else 0) for b in blocks)
            nrows += len(blocks) - 1
        if ok and (strip or nrows * row_h <= avail_h):
            break
    y0 = y
    if side:
        bw = (tw - gap * (len(blocks) - 1)) / len(blocks)
        yend = y0
        for bi, blk in enumerate(blocks):
            xb = mx + bi * (bw + gap)
            yy = draw_table(page, sheet, bi + 1, blk.get("columns", sheet.columns), blk["items"],
                            xb, y0, bw, tfs, row_h, blk.get("caption", ""))
            yend = max(yend, yy)
            if st.get("block_sep") and bi < len(blocks) - 1:
                page.vline(xb + bw + gap / 2, y0, yy, 1)
        y = yend
    else:
        for bi, blk in enumerate(blocks):
            y = draw_table(page, sheet, bi + 1, blk.get("columns", sheet.columns), blk["items"],
                           mx, y, tw, tfs, row_h, blk.get("caption", ""))
            y += row_h // 2
    # ---- analyser picture row (粪便分析仪 reports print microscope frames)
    if st.get("img_row") and not strip:
        n = st["img_row"]
        bw2 = int(tw / 5.5)
        bh2 = int(bw2 * 0.7)
        y += int(fs * 0.5)
        page.text(mx, y + fs * 0.6, s2t("镜检图片") if sheet.trad else "镜检图片", font)
        y += int(fs * 1.4)
        for k in range(n):
            x = mx + k * (bw2 + 20)
            page.d_ink.rectangle([x, y, x + bw2, y + bh2], fill=90)
            for _ in range(rng.randint(6, 18)):
                cx, cy, rr = rng.randint(x + 10, x + bw2 - 10), rng.randint(y + 10, y + bh2 - 10), rng.randint(5, 16)
                page.d_ink.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], fill=rng.choice([20, 170, 200]))
            page.text(x + bw2 / 2, y + bh2 + fs * 0.6, f"图{k + 1}", small, anchor="mm")
        y += bh2 + int(fs * 1.3)
    # ---- footer
    y_table_end = y
    y += int(fs * 0.6)
    if not strip and st.get("foot_at_bottom", True):
        y = max(y, H - foot_h - int(H * 0.02))
    for line in sheet.foot_notes:
        page.text(mx, y + fs * 0.6, line, small)
        y += int(fs * 1.3)
    if st.get("foot_rule", True):
        page.hline(mx, W - mx, y, st.get("line_w", 2))
    y += int(fs * 0.4)
    nl = flow_fields(page, sheet.footer, mx, y, tw, 1 if strip else 3, int(fs * 1.5),
                     font if not strip else small, colon)
    y += nl * int(fs * 1.5) + fs // 2
    if st.get("stamp") and not strip:
        r = int(min(W, H) * 0.09)
        cy = max(y_table_end + r + 10, y - r * 1.1)
        if cy + r < H - 10:
            draw_stamp(page, W - mx - r * 1.6, cy, r, st["stamp_ring"], st["stamp_mid"], sheet.trad)
    if strip:
        H2 = int(y + 60)
        for name in ("ink", "form", "stamp"):
            setattr(page, name, getattr(page, name).crop((0, 0, W, H2)))
        page.h = H2
        page.d_ink, page.d_form = ImageDraw.Draw(page.ink), ImageDraw.Draw(page.form)
        page.d_stamp = ImageDraw.Draw(page.stamp)
    return page


# --------------------------------------------------------------------------
# invented people, places, times
# --------------------------------------------------------------------------
SURN = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红梅玉志海燕晓东思远子涵雨萱浩然欣怡俊梓轩嘉一诺宇辰佳琪文博天佑若曦梦瑶立新春生秋菊德福"
SURN_T = "王李張劉陳楊趙黃周吳徐孫胡朱高林何郭馬羅梁宋鄭謝韓唐馮董蔡許曾彭呂蘇盧蔣"
GIVEN_T = "偉芳娜秀英敏靜麗強磊軍洋勇艷傑娟濤明超蘭霞平剛華建國紅梅玉志海燕曉東思遠子涵雨萱浩然欣怡俊嘉"
CITIES = ["江州", "临川", "青阳", "南屏", "云港", "安平", "梧城", "泸溪", "丰宁", "白河", "清源",
          "东陵", "松阳", "滨海", "河间", "宁远", "汉川", "黎阳", "北川", "金沙", "兰溪", "石门"]
DISTRICTS = ["城关", "东湖", "西塘", "南苑", "北关", "新华", "江滨", "建设路"]
BRANDS = ["康瑞", "博润", "华检", "安诺", "仁和", "慈康", "美年康", "瑞祥", "众安", "德信"]
NUMS = "一二三四五六七八"


def person(rng, trad=False):
    s, g = (SURN_T, GIVEN_T) if trad else (SURN, GIVEN)
    return rng.choice(s) + "".join(rng.choice(g) for _ in range(rng.choice([1, 2, 2])))


def hospital_sc(rng, kind="general"):
    c = rng.choice(CITIES)
    if kind == "peds":
        return rng.choice([f"{c}市儿童医院", f"{c}市妇幼保健院", f"{c}市妇女儿童医疗中心"])
    if kind == "exam":
        return rng.choice([f"{rng.choice(BRANDS)}健康体检中心", f"{c}市第{rng.choice(NUMS)}人民医院健康管理中心",
                           f"{rng.choice(BRANDS)}体检({c}分院)"])
    if kind == "lab":
        return rng.choice([f"{rng.choice(BRANDS)}医学检验实验室", f"{c}{rng.choice(BRANDS)}临床检验所"])
    return rng.choice([
        f"{c}市第{rng.choice(NUMS)}人民医院", f"{c}市中医医院", f"{c}县人民医院", f"{c}市人民医院",
        f"{c}{rng.choice(DISTRICTS)}社区卫生服务中心", f"{c}医学院附属医院", f"{c}市中西医结合医院",
        f"{c}市第{rng.choice(NUMS)}医院", f"{c}县中医院", f"{c}{rng.choice(BRANDS)}门诊部",
        f"{c}市{rng.choice(DISTRICTS)}区人民医院", f"{c}市传染病医院"])


def hospital_tc(rng):
    return rng.choice([
        f"{rng.choice(['臺中', '高雄', '新竹', '嘉義', '桃園', '臺南'])}{rng.choice(['慈安', '仁愛', '博仁', '安康'])}醫院",
        f"{rng.choice(['大同', '中正', '信義', '永和'])}聯合診所",
        f"{rng.choice(['九龍', '港島', '沙田', '荃灣'])}{rng.choice(['仁和', '康健', '寶安'])}醫務中心",
        f"{rng.choice(['九龍', '港島'])}{rng.choice(['康健', '德信'])}醫學化驗所"])


def times(rng):
    y, m, d = rng.choice([2022, 2023, 2024, 2025]), rng.randint(1, 12), rng.randint(1, 28)
    h, mi = rng.randint(7, 11), rng.randint(0, 59)
    t0 = h * 60 + mi
    t1 = t0 + rng.randint(5, 60)
    t2 = t1 + rng.randint(20, 240)
    fmt = rng.choice(["{y}-{m:02d}-{d:02d} {hh:02d}:{mm:02d}", "{y}/{m:02d}/{d:02d} {hh:02d}:{mm:02d}",
                      "{y}-{m:02d}-{d:02d} {hh:02d}:{mm:02d}:{ss:02d}"])
    out = []
    for t in (t0, t1, t2):
        out.append(fmt.format(y=y, m=m, d=d, hh=t // 60, mm=t % 60, ss=rng.randint(0, 59)))
    return out


def header_fields(rng, specimen, trad=False, peds=False, exam=False):
    name = person(rng, trad)
    sex = rng.choice(["男", "女"])
    if peds:
        age = rng.choice([f"{rng.randint(1, 9)}岁{rng.randint(1, 11)}月", f"{rng.randint(2, 11)}月",
                          f"{rng.randint(1, 12)}岁", f"{rng.randint(1, 6)}岁"])
    else:
        a = rng.randint(18, 86)
        age = rng.choice([f"{a}岁", f"{a}岁", str(a), f"{a} 岁"])
    t = times(rng)
    dept = rng.choice(["儿科门诊", "小儿消化科", "儿科急诊"] if peds else
                      ["消化内科", "肾内科", "泌尿外科", "普外科", "门诊内科", "急诊科", "感染科",
                       "风湿免疫科", "肿瘤科", "体检科", "妇科", "老年病科", "全科医学科"])
    diag = rng.choice(["腹泻", "急性胃肠炎", "腹痛待查", "发热", "尿路感染", "体检", "血尿待查",
                       "前列腺增生", "乙肝病毒携带", "关节痛", "上呼吸道感染", "贫血待查", "肺部阴影",
                       "消化道出血?", "慢性肾炎", "糖尿病", "高血压病", "系统性红斑狼疮?"])
    doc = person(rng, trad)
    sno = str(rng.randint(1, 480))
    pid = rng.choice([str(rng.randint(100000, 9999999)), f"MZ{rng.randint(1000000, 9999999)}",
                      f"{rng.randint(2022, 2025)}{rng.randint(100000, 999999)}"])
    f = [("姓名", name), ("性别", sex), ("年龄", age)]
    if exam:
        f += [("体检号", pid), ("单位", rng.choice(["个人", f"{rng.choice(CITIES)}市供电公司",
                                                  f"{rng.choice(BRANDS)}科技有限公司", "教育局"])),
              ("套餐", rng.choice(["入职体检", "A套餐(男)", "B套餐(女)", "年度体检"]))]
    else:
        f += [(rng.choice(["科别", "科室", "申请科室"]), dept),
              (rng.choice(["病历号", "门诊号", "ID号", "住院号"]), pid)]
        if rng.random() < 0.5:
            f.append(("床号", rng.choice(["", "", str(rng.randint(1, 60)), f"+{rng.randint(1, 9)}"])))
    f += [(rng.choice(["标本种类", "样本类型", "标本"]), specimen),
          (rng.choice(["样本号", "标本号", "条码号"]), sno)]
    if not exam:
        f.append((rng.choice(["送检医生", "申请医生", "开单医生"]), doc))
        if rng.random() < 0.75:
            f.append(("临床诊断", diag))
    f.append((rng.choice(["采样时间", "采集时间"]), t[0]))
    if rng.random() < 0.7:
        f.append(("接收时间", t[1]))
    foot = [(rng.choice(["检验者", "检验人", "检验"]), person(rng, trad)),
            (rng.choice(["审核者", "审核人", "审核"]), person(rng, trad)),
            (rng.choice(["报告时间", "报告日期"]), t[2])]
    return f, foot


# --------------------------------------------------------------------------
# numbers, ranges, flags
# --------------------------------------------------------------------------
_NUM = r"[-+]?\d+(?:\.\d+)?"


def parse_range(r: str):
    r = r.replace(" ", "")
    m = re.fullmatch(rf"({_NUM})(?:-{{1,2}}|~|～|—)({_NUM})", r)
    if m:
        return float(m.group(1)), float(m.group(2))
    m = re.fullmatch(rf"(<|≤|<=|＜)({_NUM})", r)
    if m:
        return None, float(m.group(2))
    m = re.fullmatch(rf"(>|≥|>=|＞)({_NUM})", r)
    if m:
        return float(m.group(2)), None
    return None


def judge_num(value: str, rng_text: str) -> str:
    try:
        v = float(value)
    except ValueError:
        return ""
    pr = parse_range(rng_text)
    if not pr:
        return ""
    lo, hi = pr
    if hi is not None and v > hi:
        return "H"
    if lo is not None and v < lo:
        return "L"
    return ""


def fmt_num(v: float, dec: int) -> str:
    return f"{v:.{dec}f}"


def num_item(rng, name, code, unit, rtext, lo, hi, dec=2, p_ab=0.15, ab_hi=None, unit_print=True,
             method=""):
    """Numeric item whose 'normal' span is lo..hi; abnormal draws go above (or below)."""
    r = rng.random()
    if r < p_ab:
        top = ab_hi if ab_hi else hi * rng.uniform(1.2, 4.0)
        v = rng.uniform(hi * 1.08 if hi > 0 else 0.5, max(top, hi * 1.1 + 0.1))
    elif r < p_ab * 1.25 and lo > 0:
        v = rng.uniform(lo * 0.4, lo * 0.95)
    else:
        v = rng.uniform(lo, hi)
    val = fmt_num(v, dec)
    it = Item(name, code, val, "", rtext, unit if unit_print else "", method)
    it.ab = judge_num(val, rtext)
    return it


def flag_policy(rng):
    hl = rng.choice([("↑", "↓"), ("↑", "↓"), ("H", "L"), ("↑", "↓"), ("▲", "▼"), ("H", "L")])
    return {
        "hi": hl[0], "lo": hl[1],
        "p": rng.choice([1.0, 1.0, 1.0, 1.0, 0.0, 0.85, 1.0, 1.0]),  # a few sheets print no marks
        "pos": rng.choice(["", "*", "↑", "阳", "", "*", "↑"]),
        "p_pos": rng.choice([1.0, 0.7]),
        "bold": rng.random() < 0.3,
    }


def apply_flags(rng, items, pol):
    for it in items:
        if it.flag:
            continue
        if it.ab in ("H", "L") and rng.random() < pol["p"]:
            it.flag = pol["hi"] if it.ab == "H" else pol["lo"]
        elif it.ab == "pos" and pol["pos"] and rng.random() < pol["p_pos"]:
            it.flag = pol["pos"]
            if pol["pos"] == "阳" and pol.get("stuck"):
                it.flag = "*"          # '阳' is only printed in its own 提示 column
        if it.flag and pol["bold"]:
            it.bold = True


QUAL_SETS = {  # neg, pos, weak, trace
    "cn": ("阴性", "阳性", "弱阳性", "弱阳性"),
    "cnp": ("阴性(-)", "阳性(+)", "弱阳性(±)", "弱阳性(±)"),
    "sym": ("(-)", "(+)", "(±)", "(±)"),
    "bare": ("-", "+", "±", "+-"),
    "en": ("Negative", "Positive", "Weakly positive", "Trace"),
}


def qual(rng, qs, p_pos=0.1, p_weak=0.05):
    neg, pos, weak, _ = QUAL_SETS[qs]
    r = rng.random()
    if r < p_pos:
        return pos, "pos"
    if r < p_pos + p_weak:
        return weak, "pos"
    return neg, ""


def wchoice(rng, pairs):
    tot = sum(w for _, w in pairs)
    x = rng.uniform(0, tot)
    for v, w in pairs:
        x -= w
        if x <= 0:
            return v
    return pairs[-1][0]


S2T = dict(zip(
    "项结单参范围区间检验号称别龄样种类时诊断医审报历门规粪颜状软红细虫见隐潜阳阴浊亚盐体胆维镜黄电导脓粘淀颗寄碱圆浑计数试内儿发热泻肠问对负责仅页标采论证录岁肾妇压贫湿关节风肿泌学乙肝炎携带专张强顺疑",
    "項結單參範圍區間檢驗號稱別齡樣種類時診斷醫審報歷門規糞顏狀軟紅細蟲見隱潛陽陰濁亞鹽體膽維鏡黃電導膿黏澱顆寄鹼圓渾計數試內兒發熱瀉腸問對負責僅頁標採論證錄歲腎婦壓貧濕關節風腫泌學乙肝炎攜帶專張強順疑"))


def s2t(s: str) -> str:
    return "".join(S2T.get(c, c) for c in s)


FOOT_NOTES = ["*本结果仅对此标本负责，如有疑问请于三日内联系检验科。", "本报告仅对所检测标本负责",
              "注：结果仅供临床参考", "本结果仅对此标本负责", "如对结果有疑问，请在收到报告后7日内提出"]


def base_style(rng, printer, paper):
    fonts = {"laser": ["noto_sans", "noto_serif", "microhei", "zenhei", "uming", "noto_sans"],
             "inkjet": ["noto_sans", "zenhei", "uming", "noto_serif"],
             "dotmatrix": ["zenhei_mono", "zenhei", "uming", "noto_sans"],
             "thermal": ["zenhei", "microhei", "noto_sans"]}[printer]
    st = {
        "font": rng.choice(fonts),
        "fs": rng.randint(22, 25) if paper == "strip" else rng.randint(27, 33),
        "foot_at_bottom": rng.random() < 0.5,
        "rules": "dashes" if paper == "strip" else rng.choice(
            ["hrules", "hrules", "hrules", "grid", "frame", "dotted", "none"]),
        "head_cols": rng.choice([3, 4, 4]) if paper != "A5L" else rng.choice([4, 5]),
        "val_align": rng.choice(["l", "l", "c"]),
        "stick": rng.choice(["", "", " "]),
        "bold_head": rng.random() < 0.4,
        "head_center": rng.random() < 0.3,
        "colon": rng.choice(["：", "：", ":"]),
        "no_fmt": rng.choice(["1", "1", "02"]),
        "row_f": rng.uniform(1.45, 1.9),
        "line_w": rng.choice([1, 2, 2, 3]),
        "barcode": rng.random() < 0.45 and paper != "strip",
        "logo": rng.random() < 0.35,
        "stamp": rng.random() < 0.3 and paper != "strip",
        "head_rule_top": rng.random() < 0.5,
        "block_sep": rng.random() < 0.5,
        "paper_color": rng.choice([(247, 246, 240), (244, 243, 236), (250, 249, 245), (240, 238, 228)]),
        "ink_color": (22, 22, 26),
    }
    if printer == "dotmatrix":
        st["ink_color"] = rng.choice([(30, 30, 60), (35, 30, 45), (25, 25, 25)])
        st["ink_strength"] = rng.uniform(0.75, 0.9)
        st["preprinted"] = rng.random() < 0.7
        st["form_color"] = rng.choice([(40, 80, 170), (190, 50, 60), (40, 120, 80)])
        if rng.random() < 0.4:
            st["paper_color"] = rng.choice([(246, 232, 232), (238, 242, 248), (248, 244, 226)])
    elif printer == "thermal":
        st["ink_color"] = (45, 45, 55)
        st["ink_strength"] = rng.uniform(0.75, 0.9)
        st["paper_color"] = (242, 242, 240)
    elif printer == "inkjet":
        st["ink_color"] = rng.choice([(20, 20, 30), (30, 30, 40)])
    return st


def s_item(name, code, value, ab="", rng_text="", unit="", method=""):
    it = Item(name, code, value, "", rng_text, unit, method)
    it.ab = ab
    return it


# ---- fecal ---------------------------------------------------------------
def hp_value(rng, mode, none_word, p_ab, rmax):
    r = rng.random()
    if r < p_ab:
        opts = ["5-8", "8-10", "10-15", "满视野", "+", "++", "少许"]
        if rmax < 3:
            opts.append("3-5")
        v, ab = rng.choice(opts), "pos"
    elif r < 0.4:
        v, ab = rng.choice(["0-1", "0-2", "1-2", "偶见"]), ""
    else:
        v, ab = none_word, ""
    if mode == "inline" and re.fullmatch(r"\d+-\d+", v):
        v += "/HP"
    return v, ab


def hp_item(rng, ctx, name, code, p_ab):
    mode, nw = ctx["hp_mode"], ctx["none"]
    if mode == "inline":
        rt = rng.choice([nw, "0-2/HP", "0-5/HP", "未见"])
    elif mode == "col":
        rt = rng.choice(["0-2", "0-5", "0--5", nw])
    else:
        rt = rng.choice([nw, "0-2", "0--5", "阴性"])
    m = re.search(r"(\d+)(?:/HP)?$", rt)
    v, ab = hp_value(rng, mode, nw, p_ab, int(m.group(1)) if m else 0)
    return s_item(name, code, v, ab, rt, "/HP" if mode == "col" else "")


def fecal_items(rng, ctx, extras=()):
    p = ctx["p_ab"]
    qs = ctx["qs"]
    nw = ctx["none"]
    items = []
    col = wchoice(rng, [("黄色", 5), ("黄褐色", 3), ("棕黄色", 2), ("褐色", 2), ("黑色", 0.4),
                        ("草绿色", 0.7), ("灰白色", 0.3), ("红色", 0.3)])
    items.append(s_item(rng.choice(["颜色", "颜色", "粪便颜色"]), rng.choice(["COL", "Color"]), col,
                        "pos" if col in ("黑色", "灰白色", "红色") else "",
                        rng.choice(["黄色", "黄褐色", "棕黄色", "", "黄色"])))
    shp = wchoice(rng, [("软便", 5), ("成形", 3), ("糊状", 2), ("稀便", 1.5), ("水样便", 0.6),
                        ("黏液便", 0.4), ("硬便", 0.6), ("成形软便", 0.6)])
    items.append(s_item(rng.choice(["性状", "性状", "形状", "硬度", "外观"]),
                        rng.choice(["Shape", "Consistency"]), shp,
                        "pos" if shp in ("稀便", "水样便", "黏液便") else "",
                        rng.choice(["软便", "成形", "成形软便", "", "软便"])))
    mv, mab = (rng.choice(["少许", "+", "少量"]), "pos") if rng.random() < p else (
        rng.choice([nw, QUAL_SETS[qs][0]]), "")
    items.append(s_item(rng.choice(["粘液", "黏液"]), "Mucus", mv, mab,
                        rng.choice([nw, QUAL_SETS[qs][0], ""])))
    items.append(hp_item(rng, ctx, rng.choice(["白细胞", "白细胞", "白细胞(镜检)"]), "WBC", p))
    items.append(hp_item(rng, ctx, rng.choice(["红细胞", "红细胞", "红细胞(镜检)"]), "RBC", p * 0.7))
    if rng.random() < 0.6:
        items.append(hp_item(rng, ctx, "脓细胞", "PC", p * 0.5))
    items.append(s_item("吞噬细胞", "MAC", nw if rng.random() > p * 0.3 else "偶见",
                        "", rng.choice([nw, "", "阴性"])))
    if rng.random() < 0.4:
        items.append(s_item("上皮细胞", "EC", nw, "", rng.choice([nw, ""])))
    fv = rng.choice([nw, nw, nw, "少许", "+"])
    items.append(s_item(rng.choice(["脂肪球", "脂肪滴", "脂肪小滴"]), "Fat", fv,
                        "pos" if fv in ("少许", "+") else "", rng.choice([nw, ""])))
    if rng.random() < 0.5:
        sv = rng.choice([nw, nw, "少量"])
        items.append(s_item("淀粉颗粒", "Starch", sv, "", rng.choice([nw, ""])))
    items.append(s_item(rng.choice(["虫卵", "寄生虫卵", "寄生虫及虫卵", "蠕虫卵"]), "Ova",
                        rng.choice(["未见", "未找到", "未检出", nw]), "",
                        rng.choice(["未见", "未找到", "阴性", "未检出"])))
    if rng.random() < 0.5:
        items.append(s_item(rng.choice(["原虫", "阿米巴"]), "Protozoa", rng.choice(["未见", nw]), "",
                            rng.choice(["未见", "阴性"])))
    fg = rng.choice([nw, nw, nw, "少量", "+"])
    items.append(s_item(rng.choice(["真菌", "霉菌", "酵母菌"]), rng.choice(["Fungus", "Yeast"]), fg,
                        "pos" if fg != nw else "", rng.choice([nw, "阴性", ""])))
    if "ob" in extras or rng.random() < 0.8:
        v, ab = qual(rng, qs, p * 0.8, p * 0.4)
        items.append(s_item(rng.choice(["隐血", "潜血", "隐血试验(OB)", "便潜血(免疫法)",
                                        "便潜血(化学法)", "粪便隐血试验", "隐血试验"]),
                            rng.choice(["OB", "FOB"]), v, ab,
                            rng.choice([QUAL_SETS[qs][0], "阴性", QUAL_SETS[qs][0]])))
    if "tf" in extras:
        v, ab = qual(rng, qs, p * 0.5, p * 0.3)
        items.append(s_item(rng.choice(["转铁蛋白", "转铁蛋白(TF)", "粪转铁蛋白"]), "TF", v, ab,
                            QUAL_SETS[qs][0]))
    if "peds" in extras:
        for nm, cd in (("轮状病毒抗原", "RV"), ("腺病毒抗原", "AdV")):
            if rng.random() < 0.85:
                v, ab = qual(rng, qs, 0.15 if cd == "RV" else 0.06, 0.02)
                items.append(s_item(nm, cd, v, ab, QUAL_SETS[qs][0]))
    if "hp" in extras:
        v, ab = qual(rng, qs, 0.2, 0.02)
        items.append(s_item(rng.choice(["幽门螺杆菌抗原", "幽门螺旋杆菌抗原"]), "HpSA", v, ab,
                            QUAL_SETS[qs][0]))
    if "calpro" in extras:
        rt = rng.choice(["<50", "0-50", "0-50.0", "≤50"])
        items.append(num_item(rng, rng.choice(["钙卫蛋白", "粪钙卫蛋白"]), "FC", "μg/g", rt, 5, 48,
                              dec=rng.choice([1, 2]), p_ab=0.25, ab_hi=600))
    if rng.random() < 0.25:
        items.append(s_item("食物残渣", "", rng.choice(["少量", "可见", nw]), "", ""))
    return items


def fecal_ctx(rng):
    return {"p_ab": rng.choice([0.02, 0.06, 0.12, 0.25]),
            "qs": rng.choice(["cn", "cn", "cnp", "sym", "bare"]),
            "none": rng.choice(["未见", "未见", "未找到", "未检出", "阴性", "-"]),
            "hp_mode": rng.choice(["inline", "col", "none"])}


# ---- urine ---------------------------------------------------------------
URINE_CONC = {  # code: (unit, [positive concentrations], grades)
    "LEU": ("Leu/μL", ["25", "75", "500"], ["1+", "2+", "3+"]),
    "PRO": ("g/L", ["0.15", "0.3", "1.0", "3.0"], ["±", "1+", "2+", "3+"]),
    "GLU": ("mmol/L", ["5.5", "14", "28", "55"], ["±", "1+", "2+", "3+"]),
    "KET": ("mmol/L", ["0.5", "1.5", "4.0", "8.0"], ["±", "1+", "2+", "3+"]),
    "BIL": ("μmol/L", ["8.6", "17", "50"], ["1+", "2+", "3+"]),
    "BLD": ("Ery/μL", ["10", "25", "80", "200"], ["±", "1+", "2+", "3+"]),
    "VC": ("mmol/L", ["0.6", "1.4", "2.8"], ["±", "1+", "2+"]),
}
ALT_GRADE = {"±": "+-", "1+": "+", "2+": "++", "3+": "+++"}


def urine_grade_item(rng, ctx, name, code, p_pos):
    unit, concs, grades = URINE_CONC[code]
    gs = ctx["grade"]
    neg = ctx["neg"]
    rt = ctx["neg_range"]
    if gs in ("conc", "semi") and ctx.get("uL"):
        unit = unit.replace("μL", "uL")
    if rng.random() < p_pos:
        k = rng.randrange(len(concs))
        g = grades[min(k, len(grades) - 1)]
        if gs == "plus":
            v = g if not (code == "PRO" and g == "±" and rng.random() < 0.5) else "微量"
            return s_item(name, code, v, "pos", rt, "")
        if gs == "plusalt":
            return s_item(name, code, ALT_GRADE[g], "pos", rt, "")
        if gs == "conc":
            return s_item(name, code, concs[k], "pos", rt, unit)
        # semi: concentration, unit and grade all in the result cell
        v = f"{concs[k]} {unit}" + (f" {g}" if ctx["semi_grade"] and code != "LEU" else "")
        return s_item(name, code, v, "pos", rt, "")
    return s_item(name, code, neg, "", rt, unit if gs == "conc" else "")


def urine_dry(rng, ctx):
    p = ctx["p_ab"]
    it = []
    c = wchoice(rng, [("淡黄色", 5), ("黄色", 4), ("深黄色", 1), ("无色", 0.6), ("浅黄色", 1)])
    it.append(s_item(rng.choice(["颜色", "颜色", "尿颜色"]), "COL", c, "",
                     rng.choice(["淡黄色", "黄色", "浅黄色", "", "淡黄色至黄色"])))
    cl = wchoice(rng, [("清亮", 4), ("透明", 3), ("微浑", 1), ("浑浊", 0.4)])
    it.append(s_item(rng.choice(["透明度", "浊度", "清晰度"]), rng.choice(["CLA", "TUR"]), cl,
                     "pos" if cl in ("浑浊",) else "", rng.choice(["清亮", "透明", "清晰", ""])))
    order = ctx["order"]
    for code in order:
        if code == "SG":
            rt = rng.choice(["1.003-1.030", "1.005-1.030", "1.010-1.025", "1.003--1.030"])
            it.append(num_item(rng, rng.choice(["比重", "尿比重"]), "SG", "", rt, 1.008, 1.027,
                               dec=3, p_ab=p * 0.3, ab_hi=1.034))
        elif code == "pH":
            rt = rng.choice(["4.5-8.0", "5.0-8.0", "5.5-7.5", "4.6-8.0"])
            v = rng.choice(["5.0", "5.5", "6.0", "6.0", "6.5", "7.0", "7.5"])
            i2 = s_item(rng.choice(["酸碱度", "pH值", "酸碱度(pH)", "pH"]), "pH", v, "", rt)
            if ctx["grade"] == "conc" or ctx["grade"] == "semi":
                i2.code = "pH"
            it.append(i2)
        elif code == "NIT":
            posw = {"阴性": "阳性", "-": "+", "阴性(-)": "阳性(+)", "neg": "pos", "Neg": "Pos"}[ctx["neg"]]
            v, ab = (posw, "pos") if rng.random() < p * 0.5 else (ctx["neg"], "")
            it.append(s_item(rng.choice(["亚硝酸盐", "亚硝酸盐"]), "NIT", v, ab, ctx["neg_range"]))
        elif code == "URO":
            if ctx["grade"] in ("conc", "semi"):
                unit = "μmol/L" if ctx["grade"] == "conc" else ""
                v = rng.choice(["3.2", "3.2", "16"]) if rng.random() > p * 0.3 else "33"
                if ctx["grade"] == "semi":
                    v = "norm" if v == "3.2" else f"{v} μmol/L"
                rt = rng.choice(["<16", "3.2-16", "norm", "正常"])
                it.append(s_item(rng.choice(["尿胆原", "尿胆原"]), rng.choice(["URO", "UBG"]), v,
                                 "pos" if v.startswith("33") else "", rt, unit))
            else:
                nm = ctx["uro_norm"]
                v, ab = (rng.choice(["1+", "2+"]) if ctx["grade"] == "plus" else "+", "pos") \
                    if rng.random() < p * 0.3 else (nm, "")
                it.append(s_item("尿胆原", rng.choice(["URO", "UBG"]), v, ab,
                                 rng.choice([nm, "正常", "阴性或弱阳性", nm])))
        elif code == "MALB":
            rt = rng.choice(["<10", "0-30", "≤30"])
            v = rng.choice(["<10", "10", "<10"]) if rng.random() > p else rng.choice(["30", "80", "150"])
            it.append(s_item(rng.choice(["微量白蛋白", "尿微量白蛋白"]), "MALB", v,
                             judge_num(v, rt) and "pos", rt, "mg/L"))
        else:
            names = {"LEU": ["白细胞", "白细胞酯酶", "尿白细胞"], "PRO": ["尿蛋白", "蛋白质", "蛋白"],
                     "GLU": ["葡萄糖", "尿糖", "葡萄糖"], "KET": ["酮体", "酮体"],
                     "BIL": ["胆红素", "尿胆红素"], "BLD": ["隐血", "潜血", "尿隐血", "红细胞(隐血)"],
                     "VC": ["维生素C", "抗坏血酸"]}[code]
            cd = {"BLD": rng.choice(["BLD", "ERY"]), "VC": rng.choice(["VC", "ASC", "VitC"])}.get(code, code)
            i2 = urine_grade_item(rng, ctx, rng.choice(names), code, p)
            i2.code = cd
            it.append(i2)
    return it


SED_SPECS = [  # names, code, unit, [(range, lo, hi)], dec, ab_hi
    (["红细胞", "红细胞计数"], "RBC", "/μL", [("0-25", 0, 17), ("0-17", 0, 12), ("0.0-25.0", 0, 18)], 1, 400),
    (["白细胞", "白细胞计数"], "WBC", "/μL", [("0-28", 0, 20), ("0-25", 0, 18), ("0.0-39.0", 0, 25)], 1, 600),
    (["上皮细胞", "鳞状上皮细胞"], "EC", "/μL", [("0-28", 0, 18), ("0-7", 0, 5)], 1, 80),
    (["管型", "管型总数"], "CAST", "/μL", [("0-1", 0, 0.8), ("0-2.4", 0, 1.5)], 2, 6),
    (["细菌", "细菌计数"], "BACT", "/μL", [("0-7000", 0, 4000), ("0-385", 0, 200), ("0-130.7", 0, 90)], 1, 30000),
    (["结晶", "结晶检查"], "XTAL", "/μL", [("0-10", 0, 6), ("0-28", 0, 12)], 1, 60),
    (["小圆上皮细胞"], "SRC", "/μL", [("0-3", 0, 2), ("0-6", 0, 4)], 1, 20),
    (["病理管型"], "P.CAST", "/μL", [("0-0.5", 0, 0.3), ("0-1", 0, 0.5)], 2, 4),
    (["酵母样菌"], "YLC", "/μL", [("0-1", 0, 0.6), ("0-5", 0, 3)], 1, 60),
    (["电导率"], "Cond", "mS/cm", [("5-38", 6, 30), ("3.0-39.0", 6, 30)], 1, 45),
]


def urine_sed(rng, ctx):
    p = ctx["p_ab"]
    out = []
    uL = ctx.get("uL")
    for names, code, unit, rs, dec, abhi in SED_SPECS:
        if code in ("SRC", "P.CAST", "YLC", "Cond") and rng.random() < 0.4:
            continue
        rt, lo, hi = rng.choice(rs)
        u = unit.replace("μL", "uL") if uL else unit
        out.append(num_item(rng, rng.choice(names), code, u, rt, lo, hi, dec=dec, p_ab=p * 0.8,
                            ab_hi=abhi))
    if rng.random() < 0.5:
        out.insert(4, s_item("透明管型", "HYA", rng.choice(["0", "0-1", "未见"]), "",
                             rng.choice(["0-2", "0-1", "偶见"]), "/LP"))
    if rng.random() < 0.4:
        out.append(s_item("黏液丝", "MUCUS", rng.choice(["未见", "少量", "+", "-"]), "", ""))
    return out


def urine_micro(rng, ctx):
    """镜检 rows (manual microscopy, per high-power field)."""
    p = ctx["p_ab"]
    out = []
    for nm, code, rt in ((rng.choice(["红细胞(镜检)", "镜检红细胞", "红细胞"]), "RBC", rng.choice(["0-3/HP", "0-2/HP", "偶见"])),
                         (rng.choice(["白细胞(镜检)", "镜检白细胞", "白细胞"]), "WBC", rng.choice(["0-5/HP", "0-5/HP", "0--5/HP"]))):
        r = rng.random()
        if r < p:
            v, ab = rng.choice(["5-8/HP", "10-15/HP", "满视野", "20-30/HP"]), "pos"
        else:
            v, ab = rng.choice(["0-2/HP", "1-3/HP", "未见", "0-1/HP", "偶见"]), ""
        out.append(s_item(nm, code, v, ab, rt))
    out.append(s_item(rng.choice(["管型", "管型(镜检)"]), "CAST", rng.choice(["未见", "未见", "透明管型0-1/LP"]),
                      "", rng.choice(["未见", "0-偶见/LP", ""])))
    xv = rng.choice(["未见", "未见", "草酸钙结晶少许", "尿酸结晶+"])
    out.append(s_item("结晶", "XTAL", xv, "", rng.choice(["未见", ""])))
    out.append(s_item("上皮细胞", "EC", rng.choice(["未见", "少许", "+", "0-2/HP"]), "", rng.choice(["少许", "", "未见"])))
    if rng.random() < 0.5:
        out.append(s_item("细菌", "BACT", rng.choice(["未见", "少许", "+"]), "", rng.choice(["未见", ""])))
    return out


def urine_ctx(rng):
    g = rng.choice(["plus", "plus", "plusalt", "conc", "semi", "plus"])
    if g in ("conc", "semi"):
        neg = rng.choice(["neg", "阴性", "-", "Neg"])
    else:
        neg = rng.choice(["阴性", "阴性", "-", "阴性(-)", "neg"])
    order = rng.choice([
        ["SG", "pH", "LEU", "NIT", "PRO", "GLU", "KET", "URO", "BIL", "BLD", "VC"],
        ["LEU", "NIT", "URO", "PRO", "pH", "BLD", "SG", "KET", "BIL", "GLU", "VC"],
        ["pH", "SG", "PRO", "GLU", "KET", "BIL", "URO", "BLD", "NIT", "LEU"],
        ["GLU", "BIL", "KET", "SG", "BLD", "pH", "PRO", "URO", "NIT", "LEU", "VC", "MALB"]])
    return {"grade": g, "neg": neg, "neg_range": rng.choice([neg, neg, "阴性", "-"]) if neg != "neg" else rng.choice(["neg", "阴性"]),
            "uro_norm": rng.choice(["正常", "normal", "Norm", "阴性", "-"] if neg != "阴性(-)" else ["正常"]),
            "order": order, "p_ab": rng.choice([0.03, 0.08, 0.15, 0.3]), "uL": rng.random() < 0.4,
            "semi_grade": rng.random() < 0.6}


# ---- tumour markers ------------------------------------------------------
TUMOUR = {  # code: (names, unit, [(range, lo, hi)], ab_hi)
    "CEA": (["癌胚抗原"], "ng/mL", [("0-5", 0.5, 4.5), ("<5.0", 0.5, 4.5), ("0.00-5.00", 0.5, 4.5), ("0-3.4", 0.4, 3.0)], 60),
    "AFP": (["甲胎蛋白"], "ng/mL", [("0-7", 1, 6.5), ("<20", 1, 12), ("0.00-8.78", 1, 7.5), ("≤7.0", 1, 6.5)], 400),
    "CA125": (["糖类抗原125", "糖类抗原CA125", "癌抗原125"], "U/mL", [("0-35", 3, 30), ("≤35", 3, 30), ("<35.0", 3, 30)], 300),
    "CA19-9": (["糖类抗原19-9", "糖类抗原CA19-9"], "U/mL", [("0-37", 2, 30), ("<27", 2, 24), ("0-39", 2, 30)], 500),
    "CA15-3": (["糖类抗原15-3", "癌抗原15-3"], "U/mL", [("0-25", 3, 22), ("<31.3", 3, 25), ("0-28", 3, 24)], 120),
    "CA72-4": (["糖类抗原72-4"], "U/mL", [("0-6.9", 0.5, 6), ("<6.9", 0.5, 6)], 60),
    "NSE": (["神经元特异性烯醇化酶"], "ng/mL", [("0-16.3", 5, 15), ("<16.3", 5, 15)], 60),
    "CYFRA21-1": (["细胞角蛋白19片段"], "ng/mL", [("0-3.3", 0.8, 3), ("<3.3", 0.8, 3)], 20),
    "SCC": (["鳞状细胞癌相关抗原"], "ng/mL", [("0-1.5", 0.3, 1.3), ("≤1.5", 0.3, 1.3)], 10),
    "FER": (["铁蛋白"], "ng/mL", [("30-400", 60, 350), ("21.8-274.7", 40, 250)], 1200),
    "ProGRP": (["胃泌素释放肽前体"], "pg/mL", [("<65.7", 15, 55), ("0-65.7", 15, 55)], 400),
}
METHODS = ["化学发光法", "电化学发光法", "化学发光法", "CLIA", "ECLIA", "磁微粒化学发光法"]


def tumour_items(rng, codes, p_ab, method_on):
    meth = rng.choice(METHODS)
    out = []
    for c in codes:
        names, unit, rs, abhi = TUMOUR[c]
        rt, lo, hi = rng.choice(rs)
        code = c if rng.random() < 0.8 else c.replace("-", "")
        out.append(num_item(rng, rng.choice(names), code, unit, rt, lo, hi,
                            dec=rng.choice([2, 2, 1, 3]) if c not in ("FER", "ProGRP") else 1,
                            p_ab=p_ab, ab_hi=abhi, method=meth if method_on else ""))
    return out


def psa_items(rng, p_ab, method_on):
    meth = rng.choice(METHODS)
    dec = rng.choice([2, 3])
    t_rt = rng.choice(["0-4", "<4.0", "0.00-4.00", "0-4.00", "≤4.0"])
    t = rng.uniform(0.3, 3.6) if rng.random() > p_ab else rng.uniform(4.2, 25)
    f = t * (rng.uniform(0.12, 0.35))
    f_rt = rng.choice(["0-0.93", "<1.0", "0.00-0.93", "0-1"])
    r_rt = rng.choice([">0.25", ">0.16", "≥0.25", "0.25-1.00"])
    tv, fv = fmt_num(t, dec), fmt_num(f, dec)
    rv = fmt_num(float(fv) / float(tv), 2)
    tn = rng.choice(["总前列腺特异性抗原", "前列腺特异性抗原(总)", "总PSA", "总前列腺特异抗原"])
    fn = rng.choice(["游离前列腺特异性抗原", "游离PSA", "游离前列腺特异抗原"])
    rn = rng.choice(["fPSA/tPSA", "游离PSA/总PSA", "F/T比值", "fPSA/tPSA比值"])
    it = [Item(tn, rng.choice(["TPSA", "tPSA", "T-PSA"]), tv, "", t_rt, "ng/mL", meth if method_on else ""),
          Item(fn, rng.choice(["fPSA", "FPSA", "F-PSA"]), fv, "", f_rt, "ng/mL", meth if method_on else ""),
          Item(rn, rng.choice(["F/T", "", "f/t"]), rv, "", r_rt, "", "计算值" if method_on else "")]
    for x in it:
        x.ab = judge_num(x.value, x.rng)
    return it


# ---- serology ------------------------------------------------------------
def hbv_items(rng, mode, extra_pre=False):
    """mode 'num': numeric + separate 定性 column; 'qual': qualitative only."""
    prof = wchoice(rng, [("vacc", 5), ("neg", 3), ("small3", 1.5), ("big3", 0.6), ("past", 1.5)])
    pos = {"vacc": {"HBsAb"}, "neg": set(), "small3": {"HBsAg", "HBeAb", "HBcAb"},
           "big3": {"HBsAg", "HBeAg", "HBcAb"}, "past": {"HBsAb", "HBcAb", "HBeAb"}}[prof]
    jn, jp = rng.choice([("阴性", "阳性"), ("阴性(-)", "阳性(+)"), ("阴性", "阳性")])
    sag_unit = rng.choice(["IU/mL", "S/CO", "COI"])
    specs = [  # key, names, code, unit, range, neg value, pos value
        ("HBsAg", ["乙肝表面抗原", "乙型肝炎表面抗原"], rng.choice(["HBsAg", "HBsAg"]), sag_unit,
         "<0.05" if sag_unit == "IU/mL" else "<1.00", lambda: rng.uniform(0.0, 0.04) if sag_unit == "IU/mL" else rng.uniform(0.2, 0.8),
         lambda: rng.uniform(200, 6000)),
        ("HBsAb", ["乙肝表面抗体", "乙型肝炎表面抗体"], rng.choice(["抗-HBs", "HBsAb", "Anti-HBs"]),
         rng.choice(["mIU/mL", "IU/L"]), rng.choice(["<10", "0-10", "<10.00"]),
         lambda: rng.uniform(0.5, 8), lambda: rng.uniform(12, 900)),
        ("HBeAg", ["乙肝e抗原", "乙型肝炎e抗原"], rng.choice(["HBeAg", "HBeAg"]), rng.choice(["S/CO", "COI", "PEIU/mL"]),
         "<1.0", lambda: rng.uniform(0.2, 0.6), lambda: rng.uniform(3, 1500)),
        ("HBeAb", ["乙肝e抗体", "乙型肝炎e抗体"], rng.choice(["抗-HBe", "HBeAb", "Anti-HBe"]), rng.choice(["S/CO", "COI"]),
         rng.choice([">1.0", ">1.00"]), lambda: rng.uniform(1.2, 2.2), lambda: rng.uniform(0.005, 0.6)),
        ("HBcAb", ["乙肝核心抗体", "乙型肝炎核心抗体"], rng.choice(["抗-HBc", "HBcAb", "Anti-HBc"]), rng.choice(["S/CO", "COI"]),
         "<1.0", lambda: rng.uniform(0.1, 0.6), lambda: rng.uniform(5, 12)),
    ]
    if extra_pre:
        specs += [("HCV", ["丙肝抗体", "丙型肝炎病毒抗体"], rng.choice(["抗-HCV", "HCV-Ab"]), "S/CO", "<1.0",
                   lambda: rng.uniform(0.05, 0.4), lambda: rng.uniform(2, 15)),
                  ("TP", ["梅毒螺旋体抗体", "梅毒特异性抗体"], rng.choice(["TP-Ab", "抗-TP"]), "S/CO", "<1.0",
                   lambda: rng.uniform(0.05, 0.3), lambda: rng.uniform(3, 20)),
                  ("HIV", ["HIV抗原抗体", "人类免疫缺陷病毒抗体"], rng.choice(["HIV Ag/Ab", "HIV"]), "S/CO", "<1.0",
                   lambda: rng.uniform(0.05, 0.3), lambda: rng.uniform(3, 20))]
    out = []
    ni = rng.randrange(2)
    for key, names, code, unit, rt, fneg, fpos in specs:
        isp = key in pos
        if mode == "qual":
            v = jp if isp else jn
            out.append(s_item(names[ni], code, v, "pos" if isp else "", rng.choice([jn, "阴性"])))
        else:
            v = (fpos if isp else fneg)()
            dec = 2 if v < 100 else 1
            it = s_item(names[ni], code, fmt_num(v, dec), "pos" if isp else "", rt, unit)
            it.judge = jp if isp else jn
            out.append(it)
    return out, prof


def resp_items(rng, qs):
    meth = rng.choice(["胶体金法", "免疫层析法", "荧光免疫层析法", "胶体金法"])
    cand = [("甲型流感病毒抗原", rng.choice(["FluA", "Flu A", "IFA-Ag"])),
            ("乙型流感病毒抗原", rng.choice(["FluB", "Flu B", "IFB-Ag"])),
            ("新型冠状病毒抗原", rng.choice(["SARS-CoV-2 Ag", "2019-nCoV Ag"])),
            ("呼吸道合胞病毒抗原", "RSV-Ag"), ("腺病毒抗原", "ADV-Ag"),
            ("肺炎支原体抗体IgM", "MP-IgM")]
    n = rng.randint(2, 6)
    posk = rng.randrange(n) if rng.random() < 0.4 else -1
    out = []
    for i, (nm, cd) in enumerate(cand[:n]):
        if nm.startswith("新型") and rng.random() < 0.5:
            nm = rng.choice(["新冠病毒抗原", "新型冠状病毒(2019-nCoV)抗原"])
        v, ab = (QUAL_SETS[qs][1], "pos") if i == posk else (QUAL_SETS[qs][0], "")
        out.append(s_item(nm, cd, v, ab, rng.choice([QUAL_SETS[qs][0], "阴性"]), "", meth))
    return out


AUTO_AB = [("抗核抗体", "ANA"), ("抗双链DNA抗体", "抗ds-DNA"), ("抗nRNP/Sm抗体", "nRNP/Sm"), ("抗Sm抗体", "Sm"),
           ("抗SSA抗体", "SSA"), ("抗Ro-52抗体", "Ro-52"), ("抗SSB抗体", "SSB"), ("抗Scl-70抗体", "Scl-70"),
           ("抗PM-Scl抗体", "PM-Scl"), ("抗Jo-1抗体", "Jo-1"), ("抗着丝点B蛋白抗体", "CENP B"),
           ("抗增殖细胞核抗原抗体", "PCNA"), ("抗核小体抗体", "AnuA"), ("抗组蛋白抗体", "AHA"),
           ("抗核糖体P蛋白抗体", "ARPA"), ("抗线粒体M2抗体", "AMA-M2")]


def auto_items(rng):
    style = rng.choice(["cnp", "cnp", "cn", "grade"])
    neg = {"cnp": "阴性(-)", "cn": "阴性", "grade": "-"}[style]
    posv = {"cnp": ["阳性(+)", "弱阳性(±)", "阳性(++)", "阳性(+++)"], "cn": ["阳性", "弱阳性"],
            "grade": ["+", "±", "++", "+++"]}[style]
    meth = rng.choice(["免疫印迹法", "线性免疫印迹法", "间接免疫荧光法"])
    rt = rng.choice([neg, "阴性", neg])
    ill = rng.random() < 0.45
    out = []
    ana_pos = ill or rng.random() < 0.2
    out.append(s_item("抗核抗体", "ANA",
                      rng.choice(posv) if ana_pos else neg, "pos" if ana_pos else "", rt, "", "间接免疫荧光法"))
    if rng.random() < 0.8:
        out.append(s_item(rng.choice(["抗核抗体滴度", "ANA滴度"]), "", rng.choice(["1:100", "1:320", "1:1000"]) if ana_pos else "<1:100",
                          "pos" if ana_pos else "", rng.choice(["<1:100", "<1:80"]), "", "间接免疫荧光法"))
        out.append(s_item(rng.choice(["核型", "荧光模型", "ANA核型"]), "",
                          rng.choice(["颗粒型", "均质型", "核仁型", "着丝点型", "胞浆颗粒型"]) if ana_pos else "-",
                          "", "", "", "间接免疫荧光法"))
    for nm, cd in AUTO_AB[1:rng.randint(9, len(AUTO_AB))]:
        isp = ill and rng.random() < 0.25
        out.append(s_item(nm, cd, rng.choice(posv) if isp else neg, "pos" if isp else "", rt, "", meth))
    return out


def inflam_items(rng):
    out = []
    if rng.random() < 0.8:
        rt = rng.choice(["0-10", "<10", "0-6", "<8.0"])
        out.append(num_item(rng, rng.choice(["C反应蛋白", "C-反应蛋白", "超敏C反应蛋白"]), rng.choice(["CRP", "hs-CRP"]),
                            "mg/L", rt, 0.3, float(re.findall(_NUM, rt)[-1]) * 0.9, dec=rng.choice([1, 2]), p_ab=0.35, ab_hi=150))
    if rng.random() < 0.7:
        rt = rng.choice(["0-20", "0-15", "0-26", "<20"])
        it = num_item(rng, rng.choice(["血沉", "红细胞沉降率"]), "ESR", "mm/h", rt, 2, 14, dec=0, p_ab=0.3, ab_hi=90)
        out.append(it)
    if rng.random() < 0.6:
        rt = rng.choice(["<0.05", "0-0.5", "<0.5", "0.00-0.05"])
        out.append(num_item(rng, "降钙素原", "PCT", "ng/mL", rt, 0.01, float(re.findall(_NUM, rt)[-1]) * 0.9,
                            dec=rng.choice([2, 3]), p_ab=0.3, ab_hi=8))
    if rng.random() < 0.5:
        out.append(num_item(rng, rng.choice(["白介素-6", "白细胞介素6"]), "IL-6", "pg/mL", rng.choice(["0-7", "<7.0"]),
                            1.2, 6.5, dec=2, p_ab=0.3, ab_hi=200))
    if rng.random() < 0.6:
        out.append(num_item(rng, rng.choice(["抗链球菌溶血素O", "抗链O"]), "ASO", "IU/mL", rng.choice(["0-200", "<200"]),
                            20, 180, dec=1, p_ab=0.15, ab_hi=800))
        out.append(num_item(rng, "类风湿因子", "RF", "IU/mL", rng.choice(["0-20", "<20", "0-15.9"]), 2, 14,
                            dec=1, p_ab=0.15, ab_hi=300))
    if rng.random() < 0.6 or not out:
        isp = rng.random() < 0.15
        out.append(s_item(rng.choice(["梅毒螺旋体颗粒凝集试验", "梅毒TPPA"]), "TPPA", "阳性" if isp else "阴性",
                          "pos" if isp else "", "阴性"))
        out.append(s_item(rng.choice(["甲苯胺红不加热血清试验", "梅毒TRUST"]), "TRUST",
                          rng.choice(["阳性(1:4)", "阳性 1:8"]) if isp else "阴性", "pos" if isp else "", "阴性"))
    return out


CBC = [  # name, code, unit, range, lo, hi, dec
    ("白细胞计数", "WBC", "10^9/L", "3.5-9.5", 4.0, 9.0, 2), ("中性粒细胞百分比", "NEU%", "%", "40-75", 45, 72, 1),
    ("淋巴细胞百分比", "LYM%", "%", "20-50", 22, 45, 1), ("单核细胞百分比", "MON%", "%", "3-10", 3.5, 9, 1),
    ("嗜酸性粒细胞百分比", "EOS%", "%", "0.4-8.0", 0.5, 6, 1), ("嗜碱性粒细胞百分比", "BAS%", "%", "0-1", 0.1, 0.9, 1),
    ("中性粒细胞绝对值", "NEU#", "10^9/L", "1.8-6.3", 2.0, 6.0, 2), ("淋巴细胞绝对值", "LYM#", "10^9/L", "1.1-3.2", 1.2, 3.0, 2),
    ("单核细胞绝对值", "MON#", "10^9/L", "0.1-0.6", 0.15, 0.55, 2), ("嗜酸性粒细胞绝对值", "EOS#", "10^9/L", "0.02-0.52", 0.03, 0.45, 2),
    ("嗜碱性粒细胞绝对值", "BAS#", "10^9/L", "0-0.06", 0.0, 0.05, 2), ("红细胞计数", "RBC", "10^12/L", "4.3-5.8", 4.4, 5.6, 2),
    ("血红蛋白", "HGB", "g/L", "130-175", 132, 170, 0), ("红细胞压积", "HCT", "%", "40-50", 40.5, 49, 1),
    ("平均红细胞体积", "MCV", "fL", "82-100", 83, 98, 1), ("平均红细胞血红蛋白含量", "MCH", "pg", "27-34", 27.5, 33.5, 1),
    ("平均红细胞血红蛋白浓度", "MCHC", "g/L", "316-354", 318, 350, 0), ("红细胞分布宽度", "RDW-CV", "%", "11.5-14.5", 11.8, 14, 1),
    ("血小板计数", "PLT", "10^9/L", "125-350", 140, 330, 0), ("平均血小板体积", "MPV", "fL", "7.4-12.5", 8, 12, 1),
    ("血小板分布宽度", "PDW", "%", "9-17", 10, 16.5, 1), ("血小板压积", "PCT", "%", "0.11-0.28", 0.12, 0.27, 3),
]


def cbc_items(rng, p_ab):
    ux = rng.choice(["^", "×10^", "*"])
    out = []
    for nm, cd, u, rt, lo, hi, dec in CBC:
        if ux == "×10^" and u.startswith("10^"):
            u = "×" + u
        elif ux == "*":
            u = u.replace("^", "*")
        if rng.random() < 0.3:
            rt = rt.replace("-", rng.choice(["--", "~", "-"]))
        out.append(num_item(rng, nm, cd, u, rt, lo, hi, dec=dec, p_ab=p_ab))
    return out


# --------------------------------------------------------------------------
# sheet designs
# --------------------------------------------------------------------------
COLSETS = {
    "A": [("name", "项目"), ("valflag", "结果"), ("unit", "单位"), ("range", "参考值")],
    "B": [("no", "序号"), ("code", "代号"), ("name", "项目名称"), ("value", "结果"), ("flag", "提示"),
          ("range", "参考范围"), ("unit", "单位")],
    "C": [("name", "检验项目"), ("valflag", "结果"), ("range", "参考区间"), ("unit", "单位"), ("method", "方法")],
    "D": [("no", "No"), ("name", "项目"), ("code", "英文名称"), ("value", "结果"), ("flag", ""),
          ("unit", "单位"), ("range", "参考区间")],
    "E": [("namecode", "项目名称"), ("value", "检验结果"), ("flag", ""), ("range", "参考值"), ("unit", "单位")],
    "F": [("name", "检验项目"), ("code", "缩写"), ("valflag", "结果"), ("range", "参考范围"), ("unit", "单位"),
          ("method", "检测方法")],
    "G": [("no", ""), ("codename", "项目"), ("value", "结果"), ("flag", "标志"), ("unit", "单位"), ("range", "参考值")],
    "H": [("no", "序号"), ("name", "项目"), ("valflag", "结果"), ("range", "参考值")],
    "I": [("code", "代号"), ("name", "项目"), ("value", "结果"), ("flag", "提示"), ("range", "参考值")],
    "S": [("codename", "项目"), ("valflag", "结果"), ("range", "参考")],            # narrow strips
    "S2": [("code", ""), ("name", "项目"), ("valflag", "结果"), ("unit", ""), ("range", "参考值")],
}


def pick_cols(rng, sets, items, judge_label=None):
    cols = list(COLSETS[rng.choice(sets)])
    if not any(it.method for it in items):
        cols = [c for c in cols if c[0] != "method"]
    if not any(it.unit for it in items) and rng.random() < 0.75:
        cols = [c for c in cols if c[0] != "unit"]
    elif any(it.unit for it in items) and not any(c[0] == "unit" for c in cols):
        cols.append(("unit", "单位"))
    if judge_label:
        i = max(i for i, c in enumerate(cols) if c[0] in ("value", "valflag", "flag")) + 1
        cols.insert(i, ("judge", judge_label))
    if rng.random() < 0.25:   # some LIS print 检验结果 / 测定值 / 参考值范围 etc.
        ren = {"结果": rng.choice(["检验结果", "测定结果", "结果"]), "参考值": rng.choice(["参考值", "参考范围"]),
               "项目": rng.choice(["项目", "检验项目", "项目名称"])}
        cols = [(k, ren.get(lab, lab)) for k, lab in cols]
    return cols


def spaced(s):
    return " ".join(s)


def mk_sheet(rng, sid, rtype, title, specimen, printer, paper, hosp=None, trad=False, peds=False,
             exam=False):
    hosp = hosp or (hospital_tc(rng) if trad else hospital_sc(rng, "peds" if peds else ("exam" if exam else
                    rng.choice(["general"] * 5 + ["lab"]))))
    if rng.random() < 0.25 and not trad and len(title) <= 8:
        title = spaced(title)
    sh = Sheet(sid, rtype, hosp, title, trad=trad, paper=paper, printer=printer)
    sh.header, sh.footer = header_fields(rng, specimen, trad, peds, exam)
    sh.style = base_style(rng, printer, paper)
    if paper == "strip":   # receipt-style strips print only a few header lines
        keep = ("姓名", "性别", "年龄", "样本号", "标本号", "条码号", "采样时间", "采集时间")
        sh.header = [h for h in sh.header if h[0] in keep]
        sh.footer = [f for f in sh.footer if not f[0].startswith("审核")]
    if rng.random() < 0.6 and paper != "strip":
        sh.foot_notes.append(rng.choice(FOOT_NOTES))
    if rng.random() < 0.3 and paper != "strip":
        sh.style["page_no"] = rng.choice(["第1页/共1页", "第 1 页", "1/1"])
    sh.style["stamp_ring"] = hosp[:9]
    sh.style["stamp_mid"] = "检验专用章"
    return sh


def finish(rng, sh, pol=None):
    pol = pol or flag_policy(rng)
    for blk in sh.blocks:
        cols = blk.get("columns", sh.columns)
        keys = {k for k, _ in cols}
        if keys & {"flag", "valflag"}:
            pol["stuck"] = "valflag" in keys
            apply_flags(rng, blk["items"], pol)
        if sh.trad:
            blk["columns"] = [(k, s2t(lab)) for k, lab in cols]
    if sh.trad:
        sh.columns = [(k, s2t(lab)) for k, lab in sh.columns]
        sh.header = [(s2t(a), s2t(b)) for a, b in sh.header]
        sh.footer = [(s2t(a), s2t(b)) for a, b in sh.footer]
        sh.foot_notes = [s2t(x) for x in sh.foot_notes]
        sh.style["stamp_mid"] = s2t(sh.style["stamp_mid"])
    if pol["p"] == 0.0 and any(it.ab in ("H", "L") for _, _, it in sh.all_items()):
        sh.notes.append("out-of-range values printed without any flag mark")
    return sh


def any_printer(rng, allow=("laser", "laser", "laser", "laser", "inkjet", "inkjet", "dotmatrix")):
    return rng.choice(allow)


def d_fecal_std(rng, sid):
    rtype = rng.choice(["粪常规", "粪便常规", "大便常规"])
    title = rng.choice([f"{rtype}检验报告单", "检验报告单", f"{rtype}检查报告", "临床检验报告单"])
    pr = any_printer(rng)
    sh = mk_sheet(rng, sid, rtype, title, rng.choice(["粪便", "大便"]), pr, rng.choice(["A4", "A5L", "B5"]))
    ctx = fecal_ctx(rng)
    items = fecal_items(rng, ctx, rng.choice([(), ("ob",), ("ob", "tf"), ("hp",)]))
    sh.columns = pick_cols(rng, ["A", "B", "D", "E", "H", "I"], items)
    sh.blocks = [{"items": items}]
    return finish(rng, sh)


def d_fecal_ob_dot(rng, sid):
    sh = mk_sheet(rng, sid, "粪便常规+隐血", rng.choice(["粪便常规+隐血检验报告单", "检验报告单(粪便)"]),
                  "粪便", "dotmatrix", rng.choice(["A5L", "A5L", "B5"]))
    ctx = fecal_ctx(rng)
    items = fecal_items(rng, ctx, ("ob",))
    sh.columns = pick_cols(rng, ["B", "H", "I", "A"], items)
    sh.blocks = [{"items": items}]
    return finish(rng, sh)


def d_fecal_analyzer(rng, sid):
    sh = mk_sheet(rng, sid, "粪常规", rng.choice(["粪便分析仪检测报告", "全自动粪便分析报告单",
                                                  "粪便常规+隐血+转铁蛋白报告单"]),
                  "粪便", rng.choice(["laser", "inkjet"]), rng.choice(["A4", "B5"]))
    ctx = fecal_ctx(rng)
    ctx["hp_mode"] = rng.choice(["col", "inline"])
    items = fecal_items(rng, ctx, rng.choice([("ob", "tf"), ("ob", "tf", "calpro"), ("ob", "tf", "hp")]))
    for it in items:   # bilingual names printed as 'Color 颜色'
        it.code = {"COL": "Color", "PC": "Pus", "MAC": "Macrophage", "EC": "Epithelium"}.get(it.code, it.code)
    sh.columns = pick_cols(rng, ["G", "G", "E"], items)
    sh.style["nc_sep"] = rng.choice([" ", "  "])
    sh.blocks = [{"items": items}]
    sh.style["img_row"] = rng.randint(2, 4)
    return finish(rng, sh)


def d_fecal_peds(rng, sid):
    sh = mk_sheet(rng, sid, rng.choice(["粪常规", "粪便常规"]),
                  rng.choice(["儿科粪便常规检验报告单", "粪便常规检验报告单", "检验报告单"]),
                  "粪便", any_printer(rng), rng.choice(["A5L", "A4"]), peds=True)
    ctx = fecal_ctx(rng)
    items = fecal_items(rng, ctx, ("ob", "peds"))
    sh.columns = pick_cols(rng, ["A", "B", "E", "H", "I"], items)
    sh.blocks = [{"items": items}]
    return finish(rng, sh)


def d_urine_single(rng, sid):
    rtype = rng.choice(["尿常规", "尿液分析", "尿常规"])
    sh = mk_sheet(rng, sid, rtype, rng.choice([f"{rtype}检验报告单", "检验报告单", "尿液分析报告单"]),
                  rng.choice(["尿液", "中段尿", "晨尿"]), any_printer(rng), rng.choice(["A4", "A5L", "B5"]))
    ctx = urine_ctx(rng)
    items = urine_dry(rng, ctx)
    if rng.random() < 0.8:
        items += urine_micro(rng, ctx)
    sh.columns = pick_cols(rng, ["A", "B", "D", "E", "I", "G"], items)
    if len(items) > 18 and sh.paper == "A5L" and rng.random() < 0.5:
        h = (len(items) + 1) // 2
        sh.blocks = [{"items": items[:h]}, {"items": items[h:]}]
    else:
        sh.blocks = [{"items": items}]
    return finish(rng, sh)


def d_urine_two(rng, sid):
    rtype = rng.choice(["尿液干化学+尿沉渣", "尿常规", "尿液分析"])
    sh = mk_sheet(rng, sid, rtype, rng.choice(["尿液分析报告单", "尿常规+尿沉渣检验报告单", "检验报告单"]),
                  "尿液", rng.choice(["laser", "laser", "inkjet"]), rng.choice(["A4", "A5L"]))
    ctx = urine_ctx(rng)
    dry, sed = urine_dry(rng, ctx), urine_sed(rng, ctx)
    cset = rng.choice(["A", "B", "D", "I", "E", "H"])
    c1 = pick_cols(rng, [cset], dry)
    c2 = pick_cols(rng, [cset], sed)
    cap = rng.choice([("干化学分析", "尿沉渣分析"), ("尿液干化学", "尿有形成分"), ("", ""), ("干化学", "沉渣")])
    sh.columns = c1
    sh.blocks = [{"items": dry, "columns": c1, "caption": cap[0]}, {"items": sed, "columns": c2, "caption": cap[1]}]
    sh.style["blocks_side"] = rng.random() < 0.85
    sh.style["head_cols"] = rng.choice([4, 5]) if sh.paper == "A5L" else 4
    return finish(rng, sh)


def d_urine_strip(rng, sid):
    sh = mk_sheet(rng, sid, "尿常规", rng.choice(["尿液分析报告", "尿液分析结果", "尿常规"]), "尿液", "thermal", "strip")
    ctx = urine_ctx(rng)
    ctx["neg_range"] = ctx["neg"]
    items = urine_dry(rng, ctx)
    sh.columns = pick_cols(rng, ["S", "S2"], items)
    sh.style["fs"] = rng.randint(22, 24)
    sh.blocks = [{"items": items}]
    return finish(rng, sh)


def d_tumour_psa(rng, sid):
    meth = rng.random() < 0.5
    sh = mk_sheet(rng, sid, "肿瘤标志物", rng.choice(["前列腺特异性抗原检测报告", "检验报告单", "免疫检验报告单"]),
                  "血清", rng.choice(["laser", "laser", "inkjet", "dotmatrix"]), rng.choice(["A5L", "A4"]))
    sh.header = [(a, "男" if a == "性别" else b) for a, b in sh.header]
    items = psa_items(rng, 0.25, meth)
    if rng.random() < 0.3:
        items += tumour_items(rng, ["CEA", "AFP"], 0.1, meth)
    sh.columns = pick_cols(rng, ["C", "F", "B", "A", "E"], items)
    sh.blocks = [{"items": items}]
    return finish(rng, sh)


def d_tumour_panel(rng, sid):
    meth = rng.random() < 0.4
    codes = ["AFP", "CEA", "CA125", "CA19-9", "CA15-3", "CA72-4", "NSE", "CYFRA21-1", "SCC", "FER", "ProGRP"]
    codes = codes[:rng.randint(5, len(codes))]
    sh = mk_sheet(rng, sid, "肿瘤标志物", rng.choice(["肿瘤标志物检测报告单", "检验报告单", "肿瘤标志物十二项"]),
                  "血清", any_printer(rng), rng.choice(["A4", "A5L"]))
    items = tumour_items(rng, codes, rng.choice([0.05, 0.15, 0.3]), meth)
    sh.columns = pick_cols(rng, ["B", "C", "F", "D", "A"], items)
    sh.blocks = [{"items": items}]
    return finish(rng, sh)


def d_hbv(rng, sid):
    mode = rng.choice(["num", "num", "num", "qual"])
    pre = rng.random() < 0.3
    sh = mk_sheet(rng, sid, "乙肝五项", rng.choice(["乙肝五项定量检测报告", "乙肝两对半检验报告单", "检验报告单",
                                                    "免疫检验报告单"]),
                  "血清", any_printer(rng), rng.choice(["A4", "A5L"]))
    items, prof = hbv_items(rng, mode, pre)
    if mode == "num":
        sh.columns = pick_cols(rng, ["A", "B", "D", "I"], items, rng.choice(["定性", "结果判断", "判定"]))
        sh.notes.append("separate qualitative column: " + ", ".join(f"{it.code or it.name}={it.judge}" for it in items))
    else:
        sh.columns = pick_cols(rng, ["A", "H", "I", "E"], items)
    sh.notes.append(f"profile {prof}")
    sh.blocks = [{"items": items}]
    return finish(rng, sh)


def d_resp(rng, sid):
    qs = rng.choice(["cn", "cnp", "sym"])
    strip = rng.random() < 0.3
    sh = mk_sheet(rng, sid, "呼吸道病原体抗原", rng.choice(["呼吸道病原体检测报告", "检验报告单", "急诊检验报告单"]),
                  rng.choice(["鼻咽拭子", "咽拭子"]), "thermal" if strip else any_printer(rng),
                  "strip" if strip else rng.choice(["A5L", "A4"]))
    items = resp_items(rng, qs)
    sh.columns = pick_cols(rng, ["S", "S2"] if strip else ["C", "H", "I", "F"], items)
    sh.blocks = [{"items": items}]
    return finish(rng, sh)


def d_auto(rng, sid):
    sh = mk_sheet(rng, sid, "自身抗体", rng.choice(["自身抗体谱检测报告", "抗核抗体谱(ANA谱)报告单", "检验报告单"]),
                  "血清", rng.choice(["laser", "inkjet"]), "A4")
    items = auto_items(rng)
    sh.columns = pick_cols(rng, ["C", "H", "I", "F", "E"], items)
    sh.blocks = [{"items": items}]
    return finish(rng, sh)


def d_inflam(rng, sid):
    sh = mk_sheet(rng, sid, rng.choice(["感染指标", "血清学检查", "炎症指标"]),
                  rng.choice(["检验报告单", "免疫检验报告单", "急诊检验报告单"]),
                  rng.choice(["血清", "全血"]), any_printer(rng), rng.choice(["A5L", "A4", "B5"]))
    items = inflam_items(rng)
    sh.columns = pick_cols(rng, ["A", "B", "C", "D", "E"], items)
    sh.blocks = [{"items": items}]
    return finish(rng, sh)


def d_cbc(rng, sid):
    sh = mk_sheet(rng, sid, "血常规", rng.choice(["血常规检验报告单", "血细胞分析报告单", "检验报告单"]),
                  "全血", any_printer(rng), rng.choice(["A4", "A5L"]))
    items = cbc_items(rng, rng.choice([0.05, 0.12, 0.25]))
    cols = pick_cols(rng, ["B", "D", "E", "I", "A"], items)
    sh.columns = cols
    h = rng.choice([11, 12]) if rng.random() < 0.7 else len(items)
    sh.blocks = [{"items": items[:h]}] + ([{"items": items[h:]}] if h < len(items) else [])
    return finish(rng, sh)


def d_tw(rng, sid):
    kind = rng.choice(["fecal", "urine"])
    eng = rng.random() < 0.7          # values in English (Taiwan / Hong Kong style)
    neg = ("Negative" if eng else "陰性")
    nf = ("Not found" if eng else "未發現")
    hpf = rng.choice([" /HPF", "/HPF"])

    def cell(rt=""):
        v = rng.choice(["0-1", "0-2", "1-2", "0-1", "2-5"])
        return v

    if kind == "fecal":
        rtype, title = "粪常规", rng.choice(["糞便常規檢查", "Stool Routine 糞便常規", "糞便檢驗報告"])
        items = [s_item("顏色", "Color", rng.choice(["Brown", "Yellow", "Yellowish brown", "Dark brown"] if eng else ["黃褐色", "黃色", "褐色"]), "", ""),
                 s_item("性狀", "Consistency", rng.choice(["Soft", "Formed", "Loose", "Mushy", "Watery"] if eng else ["軟便", "成形", "糊狀", "稀便"]), "", ""),
                 s_item("黏液", "Mucus", neg, "", neg),
                 s_item("紅血球", "RBC", cell() + hpf, "", "0-2" + hpf),
                 s_item("白血球", "WBC", cell() + hpf, "", "0-5" + hpf),
                 s_item("膿球", "Pus cell", rng.choice([nf, "0-1" + hpf]), "", nf),
                 s_item("潛血", "Occult blood", *rng.choice([(neg, ""), (neg, ""), ("Positive(+)" if eng else "陽性(+)", "pos")]), neg),
                 s_item("寄生蟲卵", "Parasite ova", nf, "", nf),
                 s_item("阿米巴", "Amoeba", nf, "", nf)]
        if rng.random() < 0.5:
            items.insert(5, s_item("脂肪球", "Fat globule", rng.choice([nf, "Few" if eng else "少量"]), "", nf))
    else:
        rtype, title = "尿常规", rng.choice(["尿液常規檢查", "Urine Routine 尿液常規", "尿液檢驗報告"])
        g = ["Trace", "1+", "2+"] if eng else ["微量", "1+", "2+"]

        def q(p=0.12):
            return (rng.choice(g), "pos") if rng.random() < p else (neg, "")
        items = [s_item("顏色", "Color", rng.choice(["Yellow", "Straw", "Pale yellow", "Amber"] if eng else ["黃色", "淡黃色"]), "", ""),
                 s_item("濁度", "Turbidity", rng.choice(["Clear", "Clear", "Slightly turbid"] if eng else ["清澈", "微濁"]), "", "Clear" if eng else "清澈"),
                 num_item(rng, "比重", "SP.Gravity", "", "1.003-1.035", 1.006, 1.028, dec=3, p_ab=0.05),
                 s_item("酸鹼度", "pH", rng.choice(["5.0", "6.0", "6.5", "7.0"]), "", "5.0-8.0"),
                 s_item("白血球酯酶", "Leukocyte", *q(), neg), s_item("亞硝酸鹽", "Nitrite", *q(0.05), neg),
                 s_item("蛋白質", "Protein", *q(), neg), s_item("葡萄糖", "Glucose", *q(0.06), neg),
                 s_item("酮體", "Ketone", *q(0.05), neg),
                 s_item("尿膽素原", "Urobilinogen", rng.choice(["0.1", "0.2", "1.0"]), "", "0.1-1.0", "mg/dL"),
                 s_item("膽紅素", "Bilirubin", neg, "", neg), s_item("潛血", "Occult blood", *q(), neg),
                 s_item("紅血球", "RBC", cell(), "", "0-2", "/HPF"), s_item("白血球", "WBC", cell(), "", "0-5", "/HPF"),
                 s_item("上皮細胞", "Epithelial cell", rng.choice(["0-1", "1-5", "5-10"]), "", "0-5", "/HPF"),
                 s_item("圓柱體", "Cast", rng.choice([nf, "0"]), "", "0-2", "/LPF"),
                 s_item("結晶", "Crystal", rng.choice([nf, nf, "Ca-Oxalate (+)"] if eng else [nf, "草酸鈣(+)"]), "", ""),
                 s_item("細菌", "Bacteria", rng.choice(["-", "+", "-"]), "", "-")]
    sh = mk_sheet(rng, sid, rtype, title, "糞便" if kind == "fecal" else "尿液", rng.choice(["laser", "laser", "inkjet", "laser", "inkjet", "dotmatrix"]),
                  rng.choice(["A4", "A5L", "B5"]), trad=True)
    sh.style["font"] = rng.choice(["noto_sans", "uming", "noto_serif", "microhei"])
    cols = rng.choice([[("codename", "檢驗項目 Test"), ("valflag", "結果 Result"), ("unit", "單位 Unit"), ("range", "參考值 Reference")],
                       [("code", "Test"), ("name", "項目"), ("value", "Result"), ("flag", ""), ("unit", "Unit"), ("range", "Ref. Range")],
                       [("namecode", "檢驗項目"), ("value", "檢驗結果"), ("flag", "註記"), ("range", "參考值"), ("unit", "單位")]])
    if not any(it.unit for it in items):
        cols = [c for c in cols if c[0] != "unit"]
    sh.columns = cols
    sh.blocks = [{"items": items}]
    pol = flag_policy(rng)
    pol["pos"] = rng.choice(["*", "H", "", "*"])
    return finish(rng, sh, pol)


def d_exam(rng, sid):
    sh = mk_sheet(rng, sid, "尿常规+粪常规", rng.choice(["体检检验结果", "健康体检检验报告", "检验报告单"]),
                  "尿液/粪便", rng.choice(["laser", "inkjet"]), "A4", exam=True)
    uctx, fctx = urine_ctx(rng), fecal_ctx(rng)
    uctx["p_ab"] = fctx["p_ab"] = 0.05
    u = urine_dry(rng, uctx)
    f = fecal_items(rng, fctx, ("ob",))
    cols = pick_cols(rng, ["A", "H", "I", "E"], u + f)
    sh.columns = cols
    sh.blocks = [{"items": u, "caption": "尿常规"}, {"items": f, "caption": "粪常规"}]
    sh.style["blocks_side"] = rng.random() < 0.4
    sh.style["head_cols"] = 3
    return finish(rng, sh)


DESIGNS = {
    "fecal_std": d_fecal_std, "fecal_ob_dot": d_fecal_ob_dot, "fecal_analyzer": d_fecal_analyzer,
    "fecal_peds": d_fecal_peds, "urine_single": d_urine_single, "urine_two": d_urine_two,
    "urine_strip": d_urine_strip, "tumour_psa": d_tumour_psa, "tumour_panel": d_tumour_panel,
    "hbv": d_hbv, "resp": d_resp, "auto": d_auto, "inflam": d_inflam, "cbc": d_cbc, "tw": d_tw, "exam": d_exam,
}
DECK = ["fecal_std", "urine_two", "fecal_ob_dot", "urine_single", "tumour_psa", "hbv", "fecal_analyzer",
        "urine_strip", "auto", "fecal_peds", "cbc", "tw", "tumour_panel", "urine_single", "resp", "fecal_std",
        "inflam", "urine_two", "tw", "exam", "fecal_ob_dot", "hbv", "fecal_analyzer", "urine_strip", "cbc",
        "fecal_peds", "tumour_panel", "urine_two", "resp", "fecal_std"]


def build_deck(seed, n):
    r = random.Random(f"deck-{seed}")
    out = []
    while len(out) < n:
        d = list(DECK)
        r.shuffle(d)
        out += d
    return out[:n]


# --------------------------------------------------------------------------
# marks on the paper (pen circles, blots), then captures
# --------------------------------------------------------------------------
def paper_marks(img, page: Page, sh: Sheet, rng, nrng):
    notes = []
    out = img.astype(np.float32)
    boxes = [b for b in page.boxes if b[0].value]
    # a doctor circles abnormal values with a ballpoint pen (still legible)
    abn = [b for b in boxes if b[0].ab]
    if abn and rng.random() < 0.25:
        pen = np.array(rng.choice([(30, 50, 160), (170, 30, 40)]), np.float32)
        m = np.zeros(out.shape[:2], np.uint8)
        for it, bb, cellb in rng.sample(abn, min(len(abn), rng.randint(1, 3))):
            cx, cy = (bb[0] + bb[2]) / 2, (bb[1] + bb[3]) / 2
            ax, ay = (bb[2] - bb[0]) / 2 + 18, (bb[3] - bb[1]) / 2 + 12
            cv2.ellipse(m, (int(cx), int(cy)), (int(ax), int(ay)), rng.uniform(-8, 8), rng.uniform(0, 40),
                        rng.uniform(330, 380), 255, 2, cv2.LINE_AA)
        a = cv2.GaussianBlur(m.astype(np.float32) / 255, (0, 0), 0.7)[..., None] * 0.85
        out = out * (1 - a) + pen * a
        notes.append("pen circles around some abnormal values")
    # an ink blot or a scribble hides one value (recorded as uncertain)
    if boxes and rng.random() < 0.12:
        it, bb, cellb = rng.choice(boxes)
        m = np.zeros(out.shape[:2], np.uint8)
        x0, y0, x1, y1 = [int(v) for v in bb]
        if rng.random() < 0.5:
            cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
            for _ in range(7):
                rr = int(nrng.integers(max(8, (y1 - y0) // 2), max(12, (x1 - x0) // 2 + 10)))
                cv2.circle(m, (cx + int(nrng.integers(-12, 13)), cy + int(nrng.integers(-5, 6))), rr, 255, -1)
            col = np.array(rng.choice([(40, 40, 90), (90, 60, 40)]), np.float32)
            what = "ink blot"
        else:
            x = x0 - 6
            while x < x1 + 6:
                cv2.line(m, (x, y0 - 4), (x + 9, y1 + 4), 255, 3, cv2.LINE_AA)
                cv2.line(m, (x + 9, y1 + 4), (x + 14, y0 - 4), 255, 3, cv2.LINE_AA)
                x += 8
            col = np.array((25, 40, 140), np.float32)
            what = "pen scribble"
        a = cv2.GaussianBlur(m.astype(np.float32) / 255, (0, 0), 1.2)[..., None] * 0.93
        out = out * (1 - a) + col * a
        it.uncertain = ["value"]
        if it.flag and any(k == "valflag" for k, _ in sh.columns):
            it.uncertain = ["value", "flag"]
        notes.append(f"{what} over the value of '{it.name}' (uncertain)")
    # a fold crease across the page (legible)
    if rng.random() < 0.3:
        h, w = out.shape[:2]
        y = int(h * rng.uniform(0.3, 0.7))
        prof = np.exp(-((np.arange(h) - y) / 3.0) ** 2)[:, None]
        shade = 1 - 0.10 * prof + 0.04 * np.exp(-((np.arange(h) - y - 6) / 5.0) ** 2)[:, None]
        out = out * shade[..., None]
        notes.append("fold crease")
    sh.notes += notes
    return np.clip(out, 0, 255).astype(np.uint8)


def resize_long(img, long_side):
    h, w = img.shape[:2]
    s = long_side / max(h, w)
    return cv2.resize(img, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


def add_noise(img, nrng, sigma):
    n = nrng.normal(0, sigma, img.shape[:2]).astype(np.float32)[..., None]
    return np.clip(img.astype(np.float32) + n, 0, 255).astype(np.uint8)


def capture_scan(img, rng, nrng):
    h, w = img.shape[:2]
    pad = int(max(h, w) * rng.uniform(0.01, 0.04))
    bed = np.full((h + 2 * pad, w + 2 * pad, 3), rng.choice([250, 245, 235, 60]), np.uint8)
    bed[pad:pad + h, pad:pad + w] = img
    ang = rng.uniform(-1.5, 1.5)
    M = cv2.getRotationMatrix2D((bed.shape[1] / 2, bed.shape[0] / 2), ang, 1.0)
    bed = cv2.warpAffine(bed, M, (bed.shape[1], bed.shape[0]), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    f = bed.astype(np.float32)
    f = (f - 128) * rng.uniform(1.0, 1.15) + 128 + rng.uniform(0, 10)
    img2 = np.clip(f, 0, 255).astype(np.uint8)
    gray = rng.random() < 0.3
    if gray:
        g = cv2.cvtColor(img2, cv2.COLOR_RGB2GRAY)
        img2 = np.stack([g] * 3, -1)
    img2 = cv2.GaussianBlur(img2, (0, 0), rng.uniform(0.3, 0.7))
    long_side = min(2400, max(1400, int(max(img2.shape[:2]) * rng.uniform(0.85, 1.0))))
    img2 = resize_long(img2, long_side)
    img2 = add_noise(img2, nrng, rng.uniform(1.0, 2.5))
    q = rng.randint(70, 90)
    return img2, f"flat scan{', greyscale' if gray else ''}, rot {ang:+.1f} deg, q{q}", q


def desk_background(h, w, rng, nrng):
    kind = rng.choice(["wood", "grey", "white", "dark", "cloth"])
    base = {"wood": (150, 105, 70), "grey": (120, 122, 125), "white": (215, 212, 205),
            "dark": (45, 45, 50), "cloth": (70, 90, 120)}[kind]
    bg = np.empty((h, w, 3), np.float32)
    bg[:] = base
    low = cv2.resize(nrng.normal(0, 1, (8, 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    bg += low[..., None] * 10
    if kind == "wood":
        yy = np.arange(h, dtype=np.float32)[:, None]
        xx = np.arange(w, dtype=np.float32)[None, :]
        warp = cv2.resize(nrng.normal(0, 1, (6, 6)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        ph = yy / rng.uniform(9, 20) + 2.5 * np.sin(xx / rng.uniform(150, 400)) + 4 * warp
        grain = (np.sin(ph) * 6 + np.sin(ph * 2.7) * 3) * (0.6 + 0.4 * np.cos(xx / rng.uniform(300, 700)))
        bg += grain[..., None]
    bg += nrng.normal(0, 4, (h, w))[..., None].astype(np.float32)
    return np.clip(bg, 0, 255), kind


def capture_photo(img, rng, nrng):
    h, w = img.shape[:2]
    desc = []
    # curl: gentle vertical wave of the paper
    if rng.random() < 0.5:
        amp = rng.uniform(2, 7)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        map_y = ys + amp * np.sin(xs / w * math.pi * rng.uniform(0.8, 2.0))
        img = cv2.remap(img, xs, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        desc.append("paper curl")
    margin = rng.uniform(0.05, 0.16)
    W2, H2 = int(w * (1 + 2 * margin)), int(h * (1 + 2 * margin))
    if w / h < 0.5:   # strips: wide desk around them
        W2 = int(h * rng.uniform(0.65, 0.85))
    bg, bgk = desk_background(H2, W2, rng, nrng)
    ang = rng.uniform(-6, 6)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    cx, cy = W2 / 2, H2 / 2
    ca, sa = math.cos(math.radians(ang)), math.sin(math.radians(ang))
    dst = []
    jit = 0.035 * min(w, h)
    for x, y in src:
        x0, y0 = x - w / 2, y - h / 2
        dst.append([cx + x0 * ca - y0 * sa + rng.uniform(-jit, jit), cy + x0 * sa + y0 * ca + rng.uniform(-jit, jit)])
    # perspective: one edge a little shorter (camera not square to the page)
    k = rng.uniform(0.0, 0.04) * w
    if rng.random() < 0.5:
        dst[0][0] += k; dst[1][0] -= k
    else:
        dst[3][0] += k; dst[2][0] -= k
    dst = np.float32(dst)
    M = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(img, M, (W2, H2), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), M, (W2, H2))
    mask = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 1.0)[..., None]
    # soft drop shadow of the sheet on the desk
    sh_m = cv2.GaussianBlur(np.roll(mask[..., 0], (12, 10), (0, 1)), (0, 0), 12)[..., None]
    bg = bg * (1 - 0.35 * sh_m)
    out = warped.astype(np.float32) * mask + bg * (1 - mask)
    desc.append(f"tilt {ang:+.1f} deg")
    # uneven light: linear gradient + vignette
    yy, xx = np.mgrid[0:H2, 0:W2].astype(np.float32)
    gx, gy = rng.uniform(-1, 1), rng.uniform(-1, 1)
    grad = 1 + rng.uniform(0.08, 0.25) * ((xx / W2 - 0.5) * gx + (yy / H2 - 0.5) * gy)
    vig = 1 - rng.uniform(0.05, 0.2) * (((xx / W2 - 0.5) ** 2 + (yy / H2 - 0.5) ** 2) * 2)
    out *= (grad * vig)[..., None]
    desc.append("uneven light")
    if rng.random() < 0.5:   # shadow of the phone / hand over a corner or edge
        poly = np.zeros((H2, W2), np.uint8)
        side = rng.choice(["l", "r", "t", "b"])
        d = rng.uniform(0.15, 0.4)
        pts = {"l": [(0, 0), (int(W2 * d), 0), (int(W2 * d * 0.6), H2), (0, H2)],
               "r": [(W2, 0), (int(W2 * (1 - d)), 0), (int(W2 * (1 - d * 0.5)), H2), (W2, H2)],
               "t": [(0, 0), (W2, 0), (W2, int(H2 * d * 0.5)), (0, int(H2 * d))],
               "b": [(0, H2), (W2, H2), (W2, int(H2 * (1 - d))), (0, int(H2 * (1 - d * 0.6)))]}[side]
        cv2.fillPoly(poly, [np.int32(pts)], 255)
        s = cv2.GaussianBlur(poly.astype(np.float32) / 255, (0, 0), rng.uniform(25, 60))
        out *= (1 - rng.uniform(0.2, 0.38) * s)[..., None]
        desc.append("shadow")
    if rng.random() < 0.2:   # thumb holding the sheet, from the bottom edge (margin only)
        page_bot = float(dst[:, 1].max())
        reach = (H2 - page_bot) + 0.035 * h
        tx = int(rng.uniform(0.15, 0.85) * W2)
        rx, ry = int(max(40, 0.07 * W2)), int(reach)
        tm = np.zeros((H2, W2), np.float32)
        cv2.ellipse(tm, (tx, H2), (rx, ry), rng.uniform(-12, 12), 0, 360, 1.0, -1)
        shade = cv2.GaussianBlur(tm, (0, 0), rx * 0.35)
        tm = cv2.GaussianBlur(tm, (0, 0), 3)[..., None]
        skin = np.array(rng.choice([(198, 150, 122), (175, 126, 100), (210, 165, 140)]), np.float32)
        fill = skin * (0.65 + 0.4 * shade[..., None])
        out = out * (1 - tm) + fill * tm
        desc.append("thumb at bottom edge")
    # colour cast of indoor light
    cast = np.array(rng.choice([(1.04, 1.0, 0.9), (0.95, 1.0, 1.06), (1.0, 1.0, 1.0), (1.05, 1.02, 0.94)]), np.float32)
    out = out * cast * rng.uniform(0.92, 1.08)
    out = np.clip(out, 0, 255).astype(np.uint8)
    sig = rng.uniform(0.4, 1.2)
    out = cv2.GaussianBlur(out, (0, 0), sig)
    if sig > 0.9:
        desc.append("slight blur")
    long_side = rng.randint(1800, 2400) if w / h > 0.5 else rng.randint(1500, 2200)
    out = resize_long(out, long_side)
    out = add_noise(out, nrng, rng.uniform(2.0, 5.0))
    q = rng.randint(60, 88)
    desc.append(f"{bgk} desk, q{q}")
    return out, "phone photo, " + ", ".join(desc), q


def capture_plan(rng, sh):
    r = rng.random()
    if sh.paper == "strip":
        return rng.choice([["photo"], ["scan", "photo"], ["photo", "photo2"]])
    if r < 0.35:
        return ["scan", "photo"]
    if r < 0.6:
        return ["photo"]
    if r < 0.8:
        return ["scan"]
    return ["photo", "photo2"]


# --------------------------------------------------------------------------
# transcripts and CLI
# --------------------------------------------------------------------------
def transcript_items(sh: Sheet):
    out = []
    side = len(sh.blocks) > 1 and sh.style.get("blocks_side", True) and sh.paper != "strip"
    row_cont = 0
    for b, blk in enumerate(sh.blocks, 1):
        cols = blk.get("columns", sh.columns)
        keys = {k for k, _ in cols}
        for r, it in enumerate(blk["items"], 1):
            if side:
                bno, rno = b, r
            else:
                row_cont += 1
                bno, rno = 1, row_cont
            out.append({
                "block": bno, "row": rno, "name_printed": it.name,
                "code_printed": it.code if keys & {"code", "namecode", "codename"} else "",
                "value": it.value,
                "flag_printed": it.flag if keys & {"flag", "valflag"} else "",
                "range_printed": it.rng if "range" in keys else "",
                "unit_printed": it.unit if "unit" in keys else "",
                "uncertain": list(it.uncertain),
            })
    return out


def describe(sh: Sheet):
    lay = "two blocks side by side" if (len(sh.blocks) > 1 and sh.style.get("blocks_side", True)
                                       and sh.paper != "strip") else (
        "stacked tables" if len(sh.blocks) > 1 else "single table")
    cols = "/".join(lab or f"<{k}>" for k, lab in sh.columns)
    return f"{sh.printer} print on {sh.paper}, {lay}, columns {cols}"


def make_sheet(seed, i, design):
    sid = f"D{i + 1:02d}"
    rng = random.Random(f"{seed}-{sid}-{design}")
    nrng = np.random.default_rng([seed, i])
    sh = DESIGNS[design](rng, sid)
    # a sheet printed without flags column but with flags set must not keep them
    for blk in sh.blocks:
        keys = {k for k, _ in blk.get("columns", sh.columns)}
        if not keys & {"flag", "valflag"}:
            for it in blk["items"]:
                it.flag = ""
    nrows = sum(len(b["items"]) for b in sh.blocks)
    if nrows <= 10 and sh.paper == "A4" and rng.random() < 0.7:
        sh.paper = rng.choice(["A5L", "B5"])     # short reports come on half sheets
    if nrows <= 10 and sh.paper != "strip":
        sh.style["fs"] = int(sh.style["fs"] * rng.uniform(1.0, 1.15))
    sh.notes.insert(0, describe(sh))
    page = render_sheet(sh, rng, nrng)
    img = compose_page(page, sh, nrng)
    img = paper_marks(img, page, sh, rng, nrng)
    return sh, img, rng, nrng


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-n", type=int, default=30)
    a = ap.parse_args(argv)
    if not 1 <= a.n <= 99:
        ap.error("-n must be 1..99")
    img_dir = os.path.join(a.out, "images")
    tr_dir = os.path.join(a.out, "transcripts")
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(tr_dir, exist_ok=True)
    deck = build_deck(a.seed, a.n)
    rows = []
    t0 = time.time()
    for i, design in enumerate(deck):
        sh, img, rng, nrng = make_sheet(a.seed, i, design)
        files = []
        for cap in capture_plan(rng, sh):
            if cap == "scan":
                out, desc, q = capture_scan(img, rng, nrng)
            else:
                out, desc, q = capture_photo(img, rng, nrng)
            fn = f"{sh.sid}__{cap}.jpg"
            save_jpg(os.path.join(img_dir, fn), out, q)
            files.append(fn)
            rows.append({"file": fn, "sheet": sh.sid, "report_type": sh.report_type, "hospital": sh.hospital,
                         "rows_approx": sum(len(b["items"]) for b in sh.blocks), "photo": desc,
                         "source_repo": SOURCE})
        items = transcript_items(sh)
        js = transcript_json(sh, files, items)
        js["notes"] = f"design {design}; " + js["notes"]
        with open(os.path.join(tr_dir, f"{sh.sid}.json"), "w", encoding="utf-8") as fh:
            json.dump(js, fh, ensure_ascii=False, indent=1)
        print(f"{sh.sid} {design:15s} {sh.report_type:12s} {len(items):3d} rows  {', '.join(files)}", flush=True)
    with open(os.path.join(a.out, "images.csv"), "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_HEADER)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {a.n} sheets, {len(rows)} images to {a.out} in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
