#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Blind benchmark generator E: ordinary mainland-China lab sheets as patients photograph them.

Sheet mix (approximate): 45% 血常规, 15% 尿常规, 10% 粪常规, 20% 生化, 10% PSA / tumour markers.
Capture conditions (the point of this generator): motion blur, camera shake, defocus that varies
across the page, steep perspective, hand-held roll plus 90/180/270 pixel rotation, low light with
sensor noise and warm light, heavy JPEG / WeChat downscaling / small images, page partly out of
frame, tablecloth / desk backgrounds, and a few greyscale flat-bed scans for contrast.

Every result row stays legible: each capture is planned so that the projected character height of
the smallest result row stays above a threshold, blur is capped relative to it, and every result
row lies inside the frame.

Written without looking at the OCR system's code, its knowledge base, other benches or any real sheet in the
repository; all hospitals, patients and values are invented. Synthetic: its scores are printed apart from the real
photos' and meet no accuracy goal.

Usage: python bench/blind_sheets_e.py --out DIR [--seed 7] [-n 30] [--jobs 2]
Writes DIR/images/<SHEET>__<capture>.jpg, DIR/images.csv, DIR/transcripts/<SHEET>.json; score with
python bench/ocr_accuracy.py --real --root DIR
"""
import argparse
import csv
import io
import json
import math
import os
import sys
from multiprocessing import Pool

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

PPM = 10  # page raster: pixels per millimetre
SOURCE_REPO = "synthetic-e"
TRANSCRIBER = "generator-e"

# --------------------------------------------------------------------------------------------
# random helper
# --------------------------------------------------------------------------------------------


class Rnd:
    def __init__(self, *parts):
        self.g = np.random.default_rng([int(p) & 0xFFFFFFFF for p in parts])

    def u(self, a, b):
        return float(self.g.uniform(a, b))

    def i(self, a, b):  # inclusive
        return int(self.g.integers(a, b + 1))

    def c(self, seq, w=None):
        if w is None:
            return seq[int(self.g.integers(len(seq)))]
        w = np.asarray(w, float)
        return seq[int(self.g.choice(len(seq), p=w / w.sum()))]

    def p(self, prob):
        return bool(self.g.random() < prob)

    def n(self, mu, sd):
        return float(self.g.normal(mu, sd))

    def ln(self, med, s):
        return float(med * math.exp(s * min(2.3, max(-2.3, self.g.normal(0.0, 1.0)))))


# --------------------------------------------------------------------------------------------
# fonts
# --------------------------------------------------------------------------------------------

FONT_FILES = {
    "sans": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    "sans_b": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    "serif": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    "serif_b": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 2),
    "zenhei": ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    "microhei": ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    "uming": ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    "dejavu": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0),
}
CJK_ORDER = ["sans", "serif", "zenhei", "microhei", "uming", "sans_b", "serif_b"]
_FONTS = {}
_GLYPH = {}


def font_ok(key):
    return os.path.exists(FONT_FILES[key][0])


def resolve_font(key):
    if font_ok(key):
        return key
    if key.endswith("_b") and font_ok(key[:-2]):
        return key[:-2]
    for k in CJK_ORDER:
        if font_ok(k):
            return k
    raise SystemExit("no CJK font found (looked for Noto CJK / WenQuanYi / AR PL UMing)")


def font(key, px):
    key = resolve_font(key)
    k = (key, int(px))
    if k not in _FONTS:
        path, idx = FONT_FILES[key]
        _FONTS[k] = ImageFont.truetype(path, int(px), index=idx)
    return _FONTS[k]


def has_glyph(key, ch):
    key = resolve_font(key)
    k = (key, ch)
    if k not in _GLYPH:
        f = font(key, 40)
        if ch.isspace():
            ok = True
        else:
            m = f.getmask(ch)
            nd = f.getmask("\U0010FFFD")
            ok = m.getbbox() is not None and not (m.size == nd.size and bytes(m) == bytes(nd))
        _GLYPH[k] = ok
    return _GLYPH[k]


def text_runs(text, fkey, lkey=None):
    out, cur, buf = [], None, ""
    for ch in text:
        k = lkey if (lkey and ord(ch) < 128) else fkey
        if not has_glyph(k, ch):
            k = fkey if has_glyph(fkey, ch) else next((c for c in CJK_ORDER if font_ok(c) and has_glyph(c, ch)), fkey)
        if buf and k != cur:
            out.append((cur, buf))
            buf = ""
        cur = k
        buf += ch
    if buf:
        out.append((cur, buf))
    return out


def text_w(text, fkey, px, lkey=None, track=0.0):
    w = sum(font(k, px).getlength(s) for k, s in text_runs(text, fkey, lkey))
    return w + track * max(0, len(text) - 1)


def draw_text(d, x, yb, text, fkey, px, align="l", lkey=None, fill=0, stroke=0, track=0.0):
    """Draw text with its baseline at yb; returns (x_left, x_right)."""
    w = text_w(text, fkey, px, lkey, track)
    if align == "c":
        x -= w / 2
    elif align == "r":
        x -= w
    x0 = x
    for k, s in text_runs(text, fkey, lkey):
        f = font(k, px)
        if track:
            for ch in s:
                d.text((x, yb), ch, font=f, fill=fill, anchor="ls", stroke_width=stroke, stroke_fill=fill)
                x += f.getlength(ch) + track
        else:
            d.text((x, yb), s, font=f, fill=fill, anchor="ls", stroke_width=stroke, stroke_fill=fill)
            x += f.getlength(s)
    return x0, x0 + w


# --------------------------------------------------------------------------------------------
# invented people / hospitals / dates
# --------------------------------------------------------------------------------------------

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN_M = ["伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "刚", "平", "建国", "建华", "志强", "国庆", "海涛",
           "文斌", "俊", "鹏", "鑫", "浩", "宇", "永刚", "德明", "学军", "振华", "家豪", "春生", "长青", "立新"]
GIVEN_F = ["芳", "娜", "秀英", "敏", "静", "丽", "艳", "娟", "霞", "秀兰", "桂英", "海燕", "红梅", "玉兰", "慧",
           "颖", "婷", "雪", "琳", "欣", "佳", "丹", "晓燕", "玉珍", "淑华", "美玲", "春梅", "凤英", "雅琴", "丽华"]
PLACE_A = list("江临清云安宁华滨远泰丰平兴阳川峰南青金石龙凤长新永嘉德和顺溪")
PLACE_B = list("州阳平安川江宁山城源昌海原丘陵溪口")
CN_NUM = ["一", "二", "三", "四", "五", "六", "七"]
ROADS = ["人民", "解放", "建设", "中山", "和平", "胜利", "健康", "文化", "新华", "长江"]


def person(r, sex):
    return r.c(SURNAMES) + r.c(GIVEN_M if sex == "男" else GIVEN_F)


def hospital_name(r, sex):
    P = r.c(PLACE_A) + r.c(PLACE_B)
    pats = ["{P}市第{N}人民医院", "{P}市人民医院", "{P}县人民医院", "{P}市中医院", "{P}医科大学附属第{N}医院",
            "{P}市中心医院", "{P}区人民医院", "{P}市中西医结合医院", "{P}县第{N}人民医院", "{P}街道社区卫生服务中心"]
    w = [3, 3, 2, 1.5, 2, 2, 1.5, 1, 1, 1]
    if sex == "女":
        pats.append("{P}市妇幼保健院")
        w.append(1)
    return r.c(pats, w).format(P=P, N=r.c(CN_NUM[:5])), P


class Clock:
    def __init__(self, r):
        self.y, self.mo, self.d = r.i(2021, 2025), r.i(1, 12), r.i(1, 28)
        self.t = r.i(7 * 60 + 10, 11 * 60 + 30) * 60 + r.i(0, 59)
        self.style = r.c(["a", "b", "c", "d"], [4, 2, 2, 1])

    def fmt(self, add_min=0, secs=None):
        t = self.t + add_min * 60
        h, m, s = t // 3600, (t // 60) % 60, t % 60
        if self.style == "a":
            return f"{self.y}-{self.mo:02d}-{self.d:02d} {h:02d}:{m:02d}"
        if self.style == "b":
            return f"{self.y}/{self.mo:02d}/{self.d:02d} {h:02d}:{m:02d}:{s:02d}"
        if self.style == "c":
            return f"{self.y}-{self.mo:02d}-{self.d:02d} {h:02d}:{m:02d}:{s:02d}"
        return f"{self.y}.{self.mo:02d}.{self.d:02d} {h:02d}:{m:02d}"


# --------------------------------------------------------------------------------------------
# result rows
# --------------------------------------------------------------------------------------------

FLAG_MAPS = {
    "arrow": {"H": "↑", "L": "↓", "P": "↑", "A": "*"},
    "HL": {"H": "H", "L": "L", "P": "*", "A": "*"},
    "cn": {"H": "偏高", "L": "偏低", "P": "*", "A": "*"},
    "star": {"H": "*", "L": "*", "P": "*", "A": "*"},
}


def fmt(v, d):
    s = f"{max(v, 0.0):.{d}f}"
    return s


def numrow(name, code, unit, v, d, lo, hi, kind, rd, sep):
    """kind: 'r' lo-hi, 'lt' <hi, 'gt' >lo, 'n' no range printed."""
    step = 10.0 ** (-d)
    v = max(float(v), step if d == 0 else 0.0)
    vs = fmt(v, d)
    vv = float(vs)
    lo_s = fmt(lo, rd) if lo is not None else None
    hi_s = fmt(hi, rd) if hi is not None else None
    lo_v = float(lo_s) if lo_s is not None else None
    hi_v = float(hi_s) if hi_s is not None else None
    for _ in range(4):  # never sit exactly on a bound (avoids ambiguous flags)
        moved = False
        if kind in ("r", "gt") and lo_v is not None and abs(vv - lo_v) < 1e-9:
            vv += step if lo_v > 0 else step
            moved = True
        if kind in ("r", "lt") and hi_v is not None and abs(vv - hi_v) < 1e-9:
            vv -= step
            moved = True
        vs = fmt(vv, d)
        vv = float(vs)
        if not moved:
            break
    direction = ""
    if kind == "r":
        direction = "L" if vv < lo_v else ("H" if vv > hi_v else "")
        rs = f"{lo_s}{sep}{hi_s}"
    elif kind == "lt":
        direction = "H" if vv >= hi_v else ""
        rs = f"<{hi_s}"
    elif kind == "gt":
        direction = "L" if vv <= lo_v else ""
        rs = f">{lo_s}"
    else:
        rs = ""
    return {"name": name, "code": code, "value": vs, "dir": direction, "range": rs, "unit": unit}


def textrow(name, code, unit, value, rng_str, direction=""):
    return {"name": name, "code": code, "value": value, "dir": direction, "range": rng_str, "unit": unit}


def hp_upper(s):
    """Upper bound of a microscopy count such as '0-2', '3-5', '未见'."""
    if s in ("未见", "无", "阴性", "-"):
        return 0.0
    if "-" in s:
        try:
            return float(s.split("-")[-1])
        except ValueError:
            return None
    try:
        return float(s)
    except ValueError:
        return None


def hp_row(name, code, unit, value, rng_str):
    """Microscopy row: flagged when the counted upper bound exceeds the printed range."""
    direction = ""
    vu, ru = hp_upper(value), hp_upper(rng_str) if rng_str else None
    if rng_str:
        if vu is None:
            direction = "A" if value != rng_str else ""
        elif ru is not None and vu > ru:
            direction = "H"
    return textrow(name, code, unit, value, rng_str, direction)


# ---- 血常规 ---------------------------------------------------------------------------------


def gen_cbc(r, sex, sep):
    newref = r.p(0.7)
    ustyle = r.c(["^", "^", "x^", "*", "~", "E"], [4, 1, 2, 1.5, 1, 0.6])
    u9 = {"^": "10^9/L", "x^": "×10^9/L", "*": "10*9/L", "~": "10~9/L", "E": "10E9/L"}[ustyle]
    u12 = u9.replace("9", "12")
    hct_ll = r.p(0.25)
    three = r.p(0.15)
    scen = r.c(["normal", "bact", "viral", "ida", "lowplt", "highplt", "anemia"], [6, 2, 1.2, 1.2, 0.7, 0.5, 0.8])
    M = sex == "男"
    # white cells
    wbc = {"bact": r.u(10.2, 17.5), "viral": r.u(2.6, 3.8)}.get(scen, max(2.8, r.n(6.4, 1.5)))
    if scen == "bact":
        pct = [r.n(82, 4), r.n(11, 3), r.n(5.5, 1.4), max(0.2, r.n(0.9, 0.5)), max(0.1, r.n(0.25, 0.1))]
    elif scen == "viral":
        pct = [r.n(42, 6), r.n(45, 6), r.n(9.5, 2), max(0.3, r.n(2.0, 1)), max(0.1, r.n(0.5, 0.2))]
    else:
        pct = [r.n(59, 8), r.n(30, 7), r.n(6.5, 1.5), max(0.3, r.n(2.6, 1.6)), max(0.1, r.n(0.45, 0.2))]
    pct = [max(0.1, p) for p in pct]
    tot = sum(pct)
    pct = [p * 100.0 / tot for p in pct]
    ab = [wbc * p / 100.0 for p in pct]
    # red cells
    if scen == "ida":
        rbc = r.u(4.2, 4.9) if M else r.u(3.9, 4.6)
        mcv, mchc, rdw = r.u(64, 77), r.u(292, 314), r.u(15.5, 19.5)
    elif scen == "anemia":
        rbc = r.u(3.6, 4.2) if M else r.u(3.2, 3.75)
        mcv, mchc, rdw = r.n(91, 4), r.n(330, 6), r.n(13.2, 0.8)
    else:
        rbc = r.n(4.95, 0.33) if M else r.n(4.38, 0.3)
        mcv, mchc, rdw = r.n(90, 4), r.n(334, 7), r.n(12.9, 0.6)
    hct = rbc * mcv / 10.0
    hgb = hct / 100.0 * mchc
    mch = hgb / rbc
    rdwsd = r.n(42.5, 2.5) if scen != "ida" else r.n(45, 3)
    plt = {"lowplt": r.u(55, 115), "highplt": r.u(365, 480)}.get(scen, max(95.0, r.n(232, 55)))
    mpv = r.n(10.1, 0.9)
    pdw = r.n(12.6, 1.8)
    pct_ = plt * mpv / 10000.0
    plcr = r.n(27, 6)
    crp = {"bact": r.u(22, 95), "viral": r.u(3, 16)}.get(scen, r.u(0.3, 6.5))

    def R(lo_new, hi_new, lo_old, hi_old):
        return (lo_new, hi_new) if newref else (lo_old, hi_old)

    nm = lambda *opts: r.c(list(opts))
    rows = {}
    s = sep
    rows["WBC"] = numrow(nm("白细胞计数", "白细胞", "白细胞数目"), "WBC", u9, wbc, 2, *R(3.5, 9.5, 4.0, 10.0), "r", r.c([1, 2]), s)
    if not three:
        names_p = [("中性粒细胞百分比", "NEU%", "NEUT%"), ("淋巴细胞百分比", "LYM%", "LYMPH%"),
                   ("单核细胞百分比", "MON%", "MONO%"), ("嗜酸性粒细胞百分比", "EOS%", "EO%"),
                   ("嗜碱性粒细胞百分比", "BAS%", "BASO%")]
        names_a = [("中性粒细胞绝对值", "NEU#", "NEUT#"), ("淋巴细胞绝对值", "LYM#", "LYMPH#"),
                   ("单核细胞绝对值", "MON#", "MONO#"), ("嗜酸性粒细胞绝对值", "EOS#", "EO#"),
                   ("嗜碱性粒细胞绝对值", "BAS#", "BASO#")]
        cset = r.c([1, 2])
        pctword = r.c(["百分比", "百分比", "比率", "百分数"])
        absword = r.c(["绝对值", "绝对值", "计数", "数"])
        rp = [R(40, 75, 50, 70), R(20, 50, 20, 40), R(3, 10, 3, 8), R(0.4, 8.0, 0.5, 5.0), R(0, 1, 0, 1)]
        ra = [R(1.8, 6.3, 2.0, 7.0), R(1.1, 3.2, 0.8, 4.0), R(0.1, 0.6, 0.12, 0.8), R(0.02, 0.52, 0.05, 0.5), R(0, 0.06, 0, 0.1)]
        keys = ["NEU", "LYM", "MON", "EOS", "BAS"]
        for j, k in enumerate(keys):
            n, c = names_p[j][0].replace("百分比", pctword), names_p[j][cset]
            rows[k + "%"] = numrow(n, c, "%", pct[j], 1, *rp[j], "r", 1, s)
            n, c = names_a[j][0].replace("绝对值", absword), names_a[j][cset]
            rows[k + "#"] = numrow(n, c, u9, ab[j], 2, *ra[j], "r", 2, s)
        diff = [k + "%" for k in keys] + [k + "#" for k in keys]
        if r.p(0.3):
            diff = [k + "#" for k in keys] + [k + "%" for k in keys]
    else:
        lym, mid = pct[1], pct[2] + pct[3] + pct[4]
        gran = 100.0 - lym - mid
        for k, n, c, v, lo, hi in [("LYM%", "淋巴细胞百分比", "LYM%", lym, 20, 40), ("MID%", "中间细胞百分比", "MID%", mid, 3, 14),
                                   ("GRAN%", "中性粒细胞百分比", "GRAN%", gran, 50, 70)]:
            rows[k] = numrow(n, c, "%", v, 1, lo, hi, "r", 1, s)
        for k, n, c, p, lo, hi in [("LYM#", "淋巴细胞数", "LYM#", lym, 0.8, 4.0), ("MID#", "中间细胞数", "MID#", mid, 0.1, 1.5),
                                   ("GRAN#", "中性粒细胞数", "GRAN#", gran, 2.0, 7.0)]:
            rows[k] = numrow(n, c, u9, wbc * p / 100.0, 2, lo, hi, "r", 1, s)
        diff = ["LYM%", "MID%", "GRAN%", "LYM#", "MID#", "GRAN#"]
    rows["RBC"] = numrow(nm("红细胞计数", "红细胞", "红细胞数目"), "RBC", u12, rbc, 2,
                         *(R(4.3, 5.8, 4.0, 5.5) if M else R(3.8, 5.1, 3.5, 5.0)), "r", 2, s)
    rows["HGB"] = numrow(nm("血红蛋白", "血红蛋白浓度", "血红蛋白量"), r.c(["HGB", "HGB", "Hb"]), "g/L", hgb, 0,
                         *(R(130, 175, 120, 160) if M else R(115, 150, 110, 150)), "r", 0, s)
    hn = nm("红细胞压积", "红细胞比容", "血细胞比容")
    hlo, hhi = (40, 50) if M else (35, 45)
    if hct_ll:
        rows["HCT"] = numrow(hn, "HCT", "L/L", hct / 100.0, 3, hlo / 100.0, hhi / 100.0, "r", 2, s)
    else:
        rows["HCT"] = numrow(hn, "HCT", "%", hct, 1, hlo, hhi, "r", 1, s)
    rows["MCV"] = numrow("平均红细胞体积", "MCV", "fL", mcv, 1, *R(82, 100, 80, 100), "r", r.c([0, 1]), s)
    rows["MCH"] = numrow(nm("平均红细胞血红蛋白含量", "平均红细胞血红蛋白量", "平均血红蛋白量"), "MCH", "pg", mch, 1, 27, 34, "r", r.c([0, 1]), s)
    rows["MCHC"] = numrow(nm("平均红细胞血红蛋白浓度", "平均血红蛋白浓度"), "MCHC", "g/L", mchc, 0, *R(316, 354, 320, 360), "r", 0, s)
    rows["RDW-CV"] = numrow(nm("红细胞分布宽度-CV", "红细胞分布宽度CV", "红细胞体积分布宽度"), r.c(["RDW-CV", "RDW-CV", "RDW"]), "%",
                            rdw, 1, *R(11.5, 14.5, 11.0, 16.0), "r", 1, s)
    rows["RDW-SD"] = numrow(nm("红细胞分布宽度-SD", "红细胞分布宽度SD"), "RDW-SD", "fL", rdwsd, 1, 37.0, 54.0, "r", 1, s)
    rows["PLT"] = numrow(nm("血小板计数", "血小板", "血小板数目"), "PLT", u9, plt, 0, *R(125, 350, 100, 300), "r", 0, s)
    mlo, mhi = r.c([(7.4, 12.5), (6.5, 12.0), (9.4, 12.5), (7.0, 11.0)])
    rows["MPV"] = numrow("平均血小板体积", "MPV", "fL", mpv, 1, mlo, mhi, "r", 1, s)
    rows["PDW"] = numrow(nm("血小板分布宽度", "血小板体积分布宽度"), "PDW", r.c(["fL", "fL", "%", ""]), pdw, 1, 9.0, 17.0, "r", 1, s)
    rows["PCT"] = numrow(nm("血小板压积", "血小板比容"), "PCT", "%", pct_, r.c([2, 3]), 0.108, 0.282, "r", 3, s)
    rows["P-LCR"] = numrow(nm("大血小板比率", "大型血小板比率"), "P-LCR", "%", plcr, 1, 13.0, 43.0, "r", 1, s)
    if r.p(0.5):
        rows["CRP"] = numrow("C反应蛋白", "CRP", "mg/L", crp, r.c([1, 2]), 0, 10, r.c(["r", "lt"]), r.c([0, 1]), s)
    else:
        rows["CRP"] = numrow("超敏C反应蛋白", "hs-CRP", "mg/L", min(crp, 40) * 0.45, 2, 0, 3, r.c(["r", "lt"]), r.c([0, 1, 2]), s)

    rbcpart = ["RBC", "HGB", "HCT", "MCV", "MCH", "MCHC", "RDW-CV", "RDW-SD"]
    pltpart = ["PLT", "MPV", "PDW", "PCT", "P-LCR"]
    drop = set()
    if r.p(0.3):
        drop.add("RDW-SD")
    if r.p(0.4):
        drop.add("P-LCR")
    if r.p(0.2):
        drop.add("PCT")
    if three and r.p(0.5):
        drop.add("P-LCR")
    order_kind = r.c(["wbc", "wbc", "wbc", "rbc"])
    if order_kind == "wbc":
        order = ["WBC"] + diff + rbcpart + pltpart
    else:
        order = rbcpart + ["WBC"] + diff + pltpart
    if r.p(0.35):
        order = (["CRP"] + order) if r.p(0.3) else (order + ["CRP"])
    return [rows[k] for k in order if k not in drop], scen


# ---- 尿常规 ---------------------------------------------------------------------------------

GRADES = {
    "plus": (["阴性", "+-", "1+", "2+", "3+"], "阴性"),
    "sym": (["-", "±", "+", "++", "+++"], "-"),
    "cn": (["阴性", "弱阳性", "阳性(+)", "阳性(++)", "阳性(+++)"], "阴性"),
}


def grade_row(name, code, g, qstyle, unit=""):
    vals, normal = GRADES[qstyle]
    return textrow(name, code, unit, vals[g], normal, "P" if g > 0 else "")


def gen_urine(r, sex, sep):
    qstyle = r.c(["plus", "sym", "cn"], [5, 2, 1.2])
    scen = r.c(["normal", "uti", "protein", "glucose", "blood"], [6, 2, 1, 1, 0.8])
    rows = []
    cr = r.c(["淡黄色", "", "黄色", "浅黄色"], [3, 2, 1.5, 1])
    rows.append(textrow(r.c(["颜色", "颜色", "外观"]), r.c(["COL", "", "Color"]), "", cr if cr else r.c(["淡黄色", "黄色", "浅黄色"]), cr))
    tr = r.c(["清", "清亮", "透明", ""], [3, 2, 1, 2])
    if scen == "uti" and r.p(0.6):
        rows.append(textrow(r.c(["透明度", "浊度"]), r.c(["CLA", "TUR", ""]), "", "微浑", tr, "A" if tr else ""))
    else:
        rows.append(textrow(r.c(["透明度", "浊度"]), r.c(["CLA", "TUR", ""]), "", tr if tr else r.c(["清", "清亮"]), tr))
    sglo = r.c([1.003, 1.005])
    rows.append(numrow("比重", "SG", "", r.c([1.010, 1.015, 1.015, 1.020, 1.020, 1.025]), 3, sglo, 1.030, "r", 3, sep))
    rows.append(numrow(r.c(["酸碱度", "酸碱度", "PH值"]), "pH", "", r.c([5.5, 6.0, 6.0, 6.5, 7.0, 7.5]), 1, r.c([4.5, 5.0]), 8.0, "r", 1, sep))
    g = {"protein": r.c([2, 3]), "uti": r.c([0, 1])}.get(scen, 0)
    rows.append(grade_row(r.c(["蛋白质", "尿蛋白", "蛋白"]), "PRO", g, qstyle))
    g = r.c([2, 3, 4]) if scen == "glucose" else 0
    rows.append(grade_row(r.c(["葡萄糖", "尿糖"]), "GLU", g, qstyle))
    g = r.c([0, 1, 2]) if scen == "glucose" else 0
    rows.append(grade_row("酮体", "KET", g, qstyle))
    g = {"blood": r.c([2, 3]), "uti": r.c([1, 2])}.get(scen, 1 if (sex == "女" and r.p(0.12)) else 0)
    rows.append(grade_row(r.c(["隐血", "潜血", "隐血"]), r.c(["BLD", "BLD", "ERY"]), g, qstyle))
    g = r.c([2, 3]) if scen == "uti" else 0
    rows.append(grade_row(r.c(["白细胞酯酶", "白细胞酯酶", "白细胞"]), "LEU", g, qstyle))
    g = r.c([0, 2]) if scen == "uti" else 0
    rows.append(grade_row("亚硝酸盐", "NIT", g, qstyle))
    uro = r.c(["word", "neg", "num"], [3, 2, 1])
    if uro == "word":
        w = r.c(["正常", "Normal"])
        rows.append(textrow("尿胆原", r.c(["URO", "UBG"]), "", w, w))
    elif uro == "num":
        rows.append(numrow("尿胆原", r.c(["URO", "UBG"]), r.c(["μmol/L", "umol/L"]), r.c([3.2, 3.2, 16.0]), 1, 0, 16.9, "lt", 1, sep))
    else:
        rows.append(grade_row("尿胆原", r.c(["URO", "UBG"]), 0, qstyle))
    rows.append(grade_row("胆红素", "BIL", 0, qstyle))
    if r.p(0.45):
        rows.append(grade_row(r.c(["维生素C", "抗坏血酸"]), "VC", 1 if r.p(0.12) else 0, qstyle))
    if r.p(0.6):  # microscopy
        uh = r.c(["/HP", "/HP", "个/HP", "/HPF"])
        ul = uh.replace("H", "L")
        rr = r.c(["0-3", "0-3", "0-2"])
        rbcv = {"blood": r.c(["10-15", "15-20", "8-12"]), "uti": r.c(["2-4", "3-5"])}.get(scen, r.c(["0-1", "0-2", "0-1", "1-2"]))
        rows.append(hp_row(r.c(["红细胞", "镜检红细胞", "红细胞(镜检)"]), "RBC", uh, rbcv, rr))
        wr = r.c(["0-5", "0-5", "0-3"])
        wv = r.c(["10-15", "15-20", "20-30"]) if scen == "uti" else r.c(["0-2", "1-3", "0-1", "2-3"])
        rows.append(hp_row(r.c(["白细胞", "镜检白细胞", "白细胞(镜检)"]), "WBC", uh, wv, wr))
        rows.append(hp_row(r.c(["上皮细胞", "鳞状上皮细胞"]), r.c(["EC", "EC", ""]), uh, r.c(["0-1", "1-3", "少量", "偶见"]), ""))
        rows.append(hp_row("管型", r.c(["CAST", ""]), ul, "未见", "未见"))
        if r.p(0.7):
            rows.append(hp_row("结晶", r.c(["CRY", "", "X'TAL"]), "", "未见", "未见"))
        if r.p(0.5) or scen == "uti":
            rows.append(hp_row("细菌", r.c(["BACT", ""]), "", r.c(["少量", "大量"]) if scen == "uti" else "未见", "未见"))
    else:  # flow cytometry sediment
        uu = r.c(["/uL", "/μL", "个/μL"])
        rows.append(numrow("红细胞", "RBC", uu, {"blood": r.u(80, 400), "uti": r.u(15, 60)}.get(scen, r.u(0.5, 14)), 1, 0, r.c([17, 25]), "r", 0, sep))
        rows.append(numrow("白细胞", "WBC", uu, r.u(60, 450) if scen == "uti" else r.u(0.8, 16), 1, 0, r.c([25, 28]), "r", 0, sep))
        rows.append(numrow("上皮细胞", "EC", uu, r.u(0.5, 14), 1, 0, 28, "r", 0, sep))
        rows.append(numrow("管型", "CAST", uu, r.u(0.0, 0.9), 2, 0, 1.0, "r", 1, sep))
        rows.append(numrow("细菌", r.c(["BACT", "BAC"]), uu, r.u(900, 3500) if scen == "uti" else r.u(2, 95), 1, 0, 130, "r", 0, sep))
        if r.p(0.6):
            rows.append(numrow("结晶", r.c(["X'TAL", "CRY"]), uu, r.u(0.0, 6.0), 1, 0, 10, "r", 0, sep))
    return rows, scen


# ---- 粪常规 ---------------------------------------------------------------------------------


def gen_stool(r, sex, sep):
    scen = r.c(["normal", "diarrhea", "bleed"], [7, 2, 1])
    ob_vals = r.c([("阴性", "弱阳性", "阳性"), ("阴性", "+-", "+"), ("阴性", "弱阳性", "阳性(+)")])
    uh = r.c(["/HP", "/HP", "个/HP", "/HPF"])
    rows = []
    cr = r.c(["黄色", "", "黄褐色"], [3, 2, 1])
    rows.append(textrow("颜色", "", "", cr if cr else r.c(["黄色", "黄褐色", "棕黄色", "褐色"]), cr))
    sr = r.c(["软便", "", "成形软便", "成形"], [3, 2, 1, 1])
    if scen == "diarrhea":
        v = r.c(["稀便", "糊状", "水样便"])
        rows.append(textrow("性状", "", "", v, sr, "A" if sr else ""))
    else:
        rows.append(textrow("性状", "", "", sr if sr else r.c(["软便", "成形", "糊状"]), sr))
    rows.append(hp_row("红细胞", r.c(["", "", "RBC"]), uh, "未见" if scen != "bleed" else r.c(["0-2", "2-4"]), "未见"))
    wr = r.c(["未见", "0-2"])
    if scen == "diarrhea":
        wv = r.c(["3-5", "5-8", "8-12"])
    else:
        wv = "未见" if wr == "未见" else r.c(["未见", "0-1", "0-2"])
    rows.append(hp_row("白细胞", r.c(["", "", "WBC"]), uh, wv, wr))
    if r.p(0.6):
        rows.append(hp_row("吞噬细胞", "", uh, "未见", "未见"))
    if r.p(0.7):
        rows.append(hp_row("脂肪球", "", "", r.c(["少量", "未见"]) if scen == "diarrhea" else "未见", "未见"))
    rows.append(hp_row("虫卵", "", "", "未见", "未见"))
    if r.p(0.6):
        rows.append(hp_row("真菌", "", "", r.c(["未见", "未见", "少量"]), "未见"))
    if r.p(0.4):
        rows.append(hp_row("黏液", "", "", "少量" if scen == "diarrhea" else "无", "无"))
    og = r.c([1, 2]) if scen == "bleed" else (1 if (scen == "diarrhea" and r.p(0.3)) else 0)
    rows.append(textrow(r.c(["隐血试验", "隐血试验", "粪隐血"]), r.c(["OB", "", "FOB"]), "", ob_vals[og], "阴性", "P" if og else ""))
    if r.p(0.4):
        tg = 1 if (scen == "bleed" and r.p(0.6)) else 0
        rows.append(textrow("转铁蛋白", r.c(["TF", ""]), "", ob_vals[tg], "阴性", "P" if tg else ""))
    return rows, scen


# ---- 生化 -----------------------------------------------------------------------------------


def gen_biochem(r, sex, sep):
    M = sex == "男"
    um = r.c(["μmol/L", "umol/L"], [3, 1.3])
    scen = r.c(["normal", "fattyliver", "urate", "diabetes", "lipid", "ckd"], [4, 1.5, 1, 1, 1.2, 0.6])
    f = {"ALT": 1, "AST": 1, "GGT": 1, "TG": 1, "UA": 0, "GLU": 0, "TC": 0, "LDL": 0, "CREA": 1, "UREA": 1, "CysC": 1}
    if scen == "fattyliver":
        f.update(ALT=2.6, AST=1.6, GGT=2.4, TG=1.9)
    elif scen == "urate":
        f.update(UA=150)
    elif scen == "diabetes":
        f.update(GLU=r.u(2.0, 6.0), TG=1.5)
    elif scen == "lipid":
        f.update(TC=r.u(0.9, 1.8), LDL=r.u(0.7, 1.3), TG=1.4)
    elif scen == "ckd":
        f.update(CREA=1.9, UREA=1.8, UA=90, CysC=1.9)
    rows = {}
    s = sep
    nm = lambda *o: r.c(list(o))
    alt = r.ln(24 if M else 17, 0.42) * f["ALT"]
    ast = r.ln(22 if M else 19, 0.28) * f["AST"]
    rows["ALT"] = numrow(nm("丙氨酸氨基转移酶", "谷丙转氨酶"), "ALT", "U/L", alt, r.c([0, 1]), *((9, 50) if M else (7, 40)), "r", 0, s)
    rows["AST"] = numrow(nm("天门冬氨酸氨基转移酶", "谷草转氨酶"), "AST", "U/L", ast, r.c([0, 1]), *((15, 40) if M else (13, 35)), "r", 0, s)
    rows["AST/ALT"] = numrow(nm("谷草/谷丙", "AST/ALT比值"), "AST/ALT", "", ast / max(alt, 1), 2, None, None, "n", 0, s)
    rows["GGT"] = numrow(nm("γ-谷氨酰转移酶", "谷氨酰转肽酶"), nm("GGT", "GGT", "γ-GT"), "U/L", r.ln(25 if M else 16, 0.5) * f["GGT"], 0, *((10, 60) if M else (7, 45)), "r", 0, s)
    rows["ALP"] = numrow("碱性磷酸酶", "ALP", "U/L", r.ln(74, 0.25), 0, 45, 125, "r", 0, s)
    alb, glb = r.n(45, 3), r.n(27, 3.5)
    rows["TP"] = numrow("总蛋白", "TP", "g/L", alb + glb, 1, 65, 85, "r", r.c([0, 1]), s)
    rows["ALB"] = numrow("白蛋白", "ALB", "g/L", alb, 1, 40, 55, "r", r.c([0, 1]), s)
    rows["GLB"] = numrow("球蛋白", "GLB", "g/L", glb, 1, 20, 40, "r", r.c([0, 1]), s)
    rows["A/G"] = numrow(nm("白球比", "白蛋白/球蛋白", "白球比例"), "A/G", "", alb / glb, r.c([1, 2]), 1.2, 2.4, "r", 1, s)
    tb = r.ln(11, 0.38)
    db = tb * r.u(0.2, 0.34)
    tr = r.c([(0, 21, 0), (3.4, 20.5, 1), (0, 23, 0)])
    rows["TBIL"] = numrow("总胆红素", nm("TBIL", "T-BIL"), um, tb, 1, tr[0], tr[1], "r", tr[2], s)
    dr = r.c([(0, 6.8, 1), (0, 8, 0), (0, 3.4, 1)])
    rows["DBIL"] = numrow("直接胆红素", nm("DBIL", "D-BIL"), um, db, 1, dr[0], dr[1], "r", dr[2], s)
    rows["IBIL"] = numrow("间接胆红素", nm("IBIL", "I-BIL"), um, tb - db, 1, r.c([1.7, 0]), r.c([13.7, 17.0]), "r", 1, s)
    rows["TBA"] = numrow("总胆汁酸", "TBA", um, r.ln(3.5, 0.6), 1, 0, 10, "r", 0, s)
    rows["CHE"] = numrow("胆碱酯酶", "CHE", "U/L", r.n(8200, 1400), 0, 5000, 12000, "r", 0, s)
    rows["PA"] = numrow("前白蛋白", "PA", "mg/L", r.n(275, 45), 0, 200, 400, "r", 0, s)
    ur = ((3.1, 8.0) if M else (2.6, 7.5))
    rows["UREA"] = numrow(nm("尿素", "尿素氮"), nm("UREA", "BUN"), "mmol/L", r.n(5.1, 1.1) * f["UREA"], 2, ur[0], ur[1], "r", 1, s)
    cr = r.c([((57, 97) if M else (41, 73)), ((59, 104) if M else (45, 84))])
    rows["CREA"] = numrow("肌酐", nm("CREA", "Cr"), um, (r.n(79, 11) if M else r.n(58, 8)) * f["CREA"], r.c([0, 1]), cr[0], cr[1], "r", 0, s)
    rows["UA"] = numrow("尿酸", "UA", um, (r.n(355, 65) if M else r.n(268, 50)) + f["UA"], 0, *((208, 428) if M else (155, 357)), "r", 0, s)
    rows["CysC"] = numrow("胱抑素C", nm("CysC", "Cys-C"), "mg/L", r.n(0.84, 0.11) * f["CysC"], 2, *r.c([(0.59, 1.03), (0.51, 1.09)]), "r", 2, s)
    rows["GLU"] = numrow(nm("葡萄糖", "空腹血糖", "葡萄糖"), nm("GLU", "GLU", "FBG"), "mmol/L", r.n(5.2, 0.45) + f["GLU"], 2, 3.9, 6.1, "r", r.c([1, 2]), s)
    tck = r.c([("lt", 0, 5.2), ("r", 2.8, 5.2), ("r", 3.1, 5.7)])
    rows["TC"] = numrow("总胆固醇", nm("TC", "CHOL"), "mmol/L", r.n(4.7, 0.7) + f["TC"], 2, tck[1], tck[2], tck[0], 2, s)
    tgk = r.c([("lt", 0, 1.7), ("r", 0.56, 1.70), ("r", 0.45, 1.69)])
    rows["TG"] = numrow("甘油三酯", "TG", "mmol/L", r.ln(1.25, 0.42) * f["TG"], 2, tgk[1], tgk[2], tgk[0], 2, s)
    hk = r.c([("r", 1.04, 1.55), ("gt", 1.04, None), ("r", 0.91, 2.05)])
    rows["HDL"] = numrow("高密度脂蛋白胆固醇", nm("HDL-C", "HDL-C", "HDL"), "mmol/L", r.n(1.33, 0.24), 2, hk[1], hk[2], hk[0], 2, s)
    lk = r.c([("lt", 0, 3.37), ("r", 0, 3.36), ("r", 2.07, 3.37)])
    rows["LDL"] = numrow("低密度脂蛋白胆固醇", nm("LDL-C", "LDL-C", "LDL"), "mmol/L", r.n(2.85, 0.55) + f["LDL"], 2, lk[1], lk[2], lk[0], 2, s)
    rows["ApoA1"] = numrow("载脂蛋白A1", nm("ApoA1", "APOA1"), "g/L", r.n(1.34, 0.18), 2, 1.0, 1.6, "r", 2, s)
    rows["ApoB"] = numrow("载脂蛋白B", nm("ApoB", "APOB"), "g/L", r.n(0.88, 0.17), 2, 0.6, 1.1, "r", 2, s)
    rows["Lpa"] = numrow("脂蛋白(a)", "Lp(a)", "mg/L", r.ln(130, 0.8), r.c([0, 1]), 0, 300, r.c(["r", "lt"]), 0, s)
    rows["K"] = numrow("钾", "K", "mmol/L", r.n(4.1, 0.28), 2, 3.5, 5.3, "r", 1, s)
    rows["Na"] = numrow("钠", "Na", "mmol/L", r.n(140.5, 2.0), 1, 137, 147, "r", 0, s)
    rows["Cl"] = numrow("氯", "Cl", "mmol/L", r.n(103, 2.0), 1, 99, 110, "r", 0, s)
    rows["Ca"] = numrow("钙", "Ca", "mmol/L", r.n(2.33, 0.08), 2, 2.11, 2.52, "r", 2, s)
    rows["P"] = numrow("磷", nm("P", "PHOS"), "mmol/L", r.n(1.15, 0.14), 2, 0.85, 1.51, "r", 2, s)
    rows["Mg"] = numrow("镁", "Mg", "mmol/L", r.n(0.88, 0.06), 2, 0.75, 1.02, "r", 2, s)
    rows["CO2"] = numrow(nm("二氧化碳", "二氧化碳结合力"), nm("CO2", "CO2-CP", "TCO2"), "mmol/L", r.n(25.2, 1.9), 1, 22, 29, "r", 0, s)
    rows["CK"] = numrow("肌酸激酶", "CK", "U/L", r.ln(105 if M else 78, 0.42), 0, *((50, 310) if M else (40, 200)), "r", 0, s)
    rows["CKMB"] = numrow("肌酸激酶同工酶", "CK-MB", "U/L", r.n(13, 4.5), r.c([0, 1]), 0, 24, "r", 0, s)
    rows["LDH"] = numrow("乳酸脱氢酶", "LDH", "U/L", r.n(180, 30), 0, 120, 250, "r", 0, s)
    rows["HBDH"] = numrow("α-羟丁酸脱氢酶", nm("HBDH", "α-HBDH"), "U/L", r.n(142, 24), 0, 72, 182, "r", 0, s)

    liver = ["ALT", "AST", "AST/ALT", "GGT", "ALP", "TP", "ALB", "GLB", "A/G", "TBIL", "DBIL", "IBIL", "TBA", "CHE", "PA"]
    if r.p(0.4):
        liver.remove("AST/ALT")
    if r.p(0.5):
        liver.remove("CHE")
    if r.p(0.5):
        liver.remove("PA")
    kidney = ["UREA", "CREA", "UA"] + (["CysC"] if r.p(0.6) else [])
    glu = ["GLU"]
    lipid = ["TC", "TG", "HDL", "LDL"] + (["ApoA1", "ApoB"] if r.p(0.5) else []) + (["Lpa"] if r.p(0.4) else [])
    elec = ["K", "Na", "Cl", "Ca"] + (["P", "Mg"] if r.p(0.6) else []) + (["CO2"] if r.p(0.5) else [])
    card = ["CK", "CKMB", "LDH", "HBDH"]
    groups = [liver, kidney, glu, lipid]
    n = sum(len(g) for g in groups)
    target = r.i(25, 40)
    if n < target or r.p(0.6):
        groups.insert(r.c([2, 4]), elec)
        n += len(elec)
    if n < target or (r.p(0.3) and n + len(card) <= 40):
        groups.append(card)
        n += len(card)
    order = [k for g in groups for k in g]
    while len(order) > 40:
        order.pop()
    while len(order) < 25:
        for k in ["CHE", "PA", "CysC", "ApoA1", "ApoB", "Lpa", "CO2", "P", "Mg"]:
            if k not in order:
                order.append(k)
                break
        else:
            break
    return [rows[k] for k in order], scen


# ---- PSA / 肿瘤标志物 --------------------------------------------------------------------------


def gen_tumour(r, sex, sep, sub):
    unit = r.c(["ng/mL", "ng/ml"])
    uu = r.c(["U/mL", "U/ml"])
    kind = r.c(["r", "r", "lt"])
    s = sep
    rows = []
    high_psa = r.p(0.3)
    tpsa = r.u(4.3, 12.5) if high_psa else r.ln(1.0, 0.6)
    pd = r.c([2, 3])
    if sub in ("psa1", "psa3"):
        rows.append(numrow(r.c(["总前列腺特异性抗原", "总前列腺特异性抗原(PSA)", "前列腺特异性抗原"]), r.c(["TPSA", "t-PSA", "PSA"]),
                           unit, tpsa, pd, 0, 4, kind, r.c([0, 2]), s))
        if sub == "psa3":
            fpsa = tpsa * (r.u(0.08, 0.2) if high_psa else r.u(0.15, 0.35))
            rows.append(numrow("游离前列腺特异性抗原", r.c(["FPSA", "f-PSA"]), unit, fpsa, pd, 0, r.c([0.93, 1.0]), kind, 2, s))
            rows.append(numrow(r.c(["游离PSA/总PSA", "FPSA/TPSA比值"]), "F/T", "", fpsa / tpsa, 2, 0.25, None, "gt", 2, s))
        return rows, ("high" if high_psa else "normal")
    pool = [("癌胚抗原", "CEA", unit, 0, 5, 1.6), ("甲胎蛋白", "AFP", unit, 0, 7, 2.5),
            ("糖类抗原19-9", "CA19-9", uu, 0, 37, 9), ("糖类抗原72-4", "CA72-4", uu, 0, 6.9, 1.8),
            ("细胞角蛋白19片段", "CYFRA21-1", unit, 0, 3.3, 1.6), ("神经元特异性烯醇化酶", "NSE", unit, 0, 16.3, 10),
            ("鳞状上皮细胞癌抗原", "SCC", unit, 0, 1.5, 0.7)]
    if sex == "女":
        pool += [("糖类抗原125", "CA125", uu, 0, 35, 11), ("糖类抗原15-3", "CA15-3", uu, 0, 25, 9)]
    else:
        pool += [("总前列腺特异性抗原", "TPSA", unit, 0, 4, 1.0)]
    k = r.i(4, 6)
    idx = sorted(r.g.choice(len(pool), size=min(k, len(pool)), replace=False).tolist())
    for j in idx:
        n, c, u, lo, hi, med = pool[j]
        v = r.ln(med, 0.5) if not r.p(0.12) else hi * r.u(1.1, 2.2)
        rows.append(numrow(n, c, u, v, 2, lo, hi, kind, 2 if hi < 10 else 1, s))
    return rows, "panel"


# --------------------------------------------------------------------------------------------
# sheet specification
# --------------------------------------------------------------------------------------------

TYPE_WEIGHTS = [("血常规", 0.45), ("尿常规", 0.15), ("粪常规", 0.10), ("生化", 0.20), ("PSA", 0.10)]
PSA_TYPE = "总前列腺特异性抗原(PSA)"


def allocate_types(n, r):
    raw = [w * n for _, w in TYPE_WEIGHTS]
    cnt = [int(math.floor(x)) for x in raw]
    rem = sorted(range(len(raw)), key=lambda i: (-(raw[i] - cnt[i]), i))
    for i in rem[: n - sum(cnt)]:
        cnt[i] += 1
    types = [TYPE_WEIGHTS[i][0] for i in range(len(cnt)) for _ in range(cnt[i])]
    perm = r.g.permutation(len(types)).tolist()
    return [types[i] for i in perm]


def sheet_ids(n):
    ids = [f"E{i:02d}" for i in range(1, min(n, 99) + 1)]
    al = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    k = 0
    while len(ids) < n:
        ids.append("E" + al[k // 36] + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[k % 36])
        k += 1
    return ids


DEPTS = {
    "血常规": ["门诊内科", "发热门诊", "呼吸内科", "消化内科", "血液内科", "急诊科", "体检中心", "全科医学科", "感染科", "中医科"],
    "尿常规": ["泌尿外科", "肾内科", "门诊内科", "妇科", "体检中心", "急诊科", "内分泌科"],
    "粪常规": ["消化内科", "门诊内科", "急诊科", "体检中心", "感染科", "肛肠科"],
    "生化": ["内分泌科", "心血管内科", "消化内科", "肾内科", "体检中心", "门诊内科", "神经内科"],
    "PSA": ["泌尿外科", "体检中心", "门诊内科", "肿瘤科"],
}
DIAG = {
    "血常规": ["上呼吸道感染", "发热待查", "体检", "贫血", "咳嗽", "急性支气管炎", "头晕", "腹痛"],
    "尿常规": ["尿路感染", "体检", "腰痛", "尿频尿急", "2型糖尿病", "血尿待查"],
    "粪常规": ["腹泻", "急性胃肠炎", "腹痛", "体检", "慢性胃炎", "便血待查"],
    "生化": ["体检", "高血压", "2型糖尿病", "脂肪肝", "高脂血症", "高尿酸血症", "冠心病", "慢性胃炎"],
    "PSA": ["前列腺增生", "体检", "尿频", "前列腺炎"],
}
SAMPLE = {"血常规": ["全血", "静脉血", "EDTA抗凝血", "全血"], "尿常规": ["尿液", "中段尿", "随机尿", "尿液"],
          "粪常规": ["粪便", "大便", "粪便"], "生化": ["血清", "血清", "静脉血"], "PSA": ["血清"]}
ITEM_NAME = {"血常规": ["血常规", "血常规(五分类)", "血细胞分析", "血常规+CRP"], "尿常规": ["尿常规", "尿液分析", "尿常规+沉渣"],
             "粪常规": ["粪便常规", "粪常规+隐血", "大便常规"], "生化": ["肝功能 肾功能 血脂 血糖", "生化全套", "肝肾功能+血脂", "生化组合"],
             "PSA": ["总前列腺特异性抗原(PSA)", "前列腺特异性抗原", "肿瘤标志物"]}
TITLES = {"血常规": ["检验报告单", "血常规检验报告单", "血细胞分析报告单", "临床检验报告单", "检验科检验报告单"],
          "尿常规": ["检验报告单", "尿液分析报告单", "尿常规检验报告单", "临床检验报告单"],
          "粪常规": ["检验报告单", "粪便常规检验报告单", "粪便检验报告单"],
          "生化": ["检验报告单", "生化检验报告单", "临床生化检验报告", "生化检验报告"],
          "PSA": ["检验报告单", "免疫检验报告单", "化学发光检验报告单", "肿瘤标志物检测报告"]}


def make_sheet(sid, idx, rtype, seed):
    r = Rnd(seed, idx, 11)
    sex = "男" if rtype == "PSA" else r.c(["男", "女"])
    age = r.i(45, 84) if rtype == "PSA" else r.i(18, 86)
    sep = r.c(["-", "--", "~", " - ", "-"], [4, 2.5, 1.5, 1, 0])
    sub = ""
    if rtype == "血常规":
        rows, scen = gen_cbc(r, sex, sep)
    elif rtype == "尿常规":
        rows, scen = gen_urine(r, sex, sep)
    elif rtype == "粪常规":
        rows, scen = gen_stool(r, sex, sep)
    elif rtype == "生化":
        rows, scen = gen_biochem(r, sex, sep)
    else:
        sub = r.c(["psa1", "psa3", "tm"], [4, 3, 3])
        if sub == "tm" and r.p(0.5):
            sex = r.c(["男", "女"])
        rows, scen = gen_tumour(r, sex, sep, sub)
    report_type = rtype if rtype != "PSA" else (PSA_TYPE if sub != "tm" else "肿瘤标志物")
    hosp, place = hospital_name(r, sex)
    clock = Clock(r)

    # ---- layout style ------------------------------------------------------------------------
    n = len(rows)
    if rtype == "血常规":
        nb = r.c([1, 2, 3], [2.5, 6, 1.5]) if n >= 18 else r.c([1, 2])
    elif rtype == "尿常规":
        nb = r.c([1, 2])
    elif rtype == "生化":
        nb = r.c([1, 2], [6, 4])
    else:
        nb = 1
    if nb == 3:
        papers = ["A4L", "A4P"]
    elif nb == 2:
        papers = ["A5L", "A4P"] if r.p(0.65) else ["A4P", "A5L"]
        if rtype == "生化" and n > 30:
            papers = ["A4P", "A5L"]
    else:
        if n <= 12:
            papers = ["A5L", "A4P"] if r.p(0.6) else ["A4P"]
        else:
            papers = ["A4P"]
    colstyle = r.c(["S1", "S2", "S3", "S4", "S5", "S6"], [3, 3, 1, 1.2, 0.8, 1.5])
    if rtype == "粪常规" and colstyle in ("S2", "S3") and r.p(0.6):
        colstyle = "S6"
    flag_style = r.c(["arrow", "HL", "cn", "star"], [6, 2.5, 0.7, 0.8])
    body = r.c(["serif", "uming", "sans", "zenhei", "microhei"], [3, 1.5, 2, 1.5, 2])
    layout = {
        "nb": nb, "papers": papers, "colstyle": colstyle, "flag_style": flag_style,
        "body": body, "latin": "dejavu" if r.p(0.3) else None,
        "title_font": r.c(["sans_b", "serif_b", "zenhei"]),
        "header": r.c(["H1", "H2", "H3"], [4, 3, 2]),
        "rules": r.c(["grid", "header", "none", "dashed"], [2, 5, 1.5, 1.5]),
        "numcol": r.p(0.85 if rtype == "血常规" else 0.55),
        "numfmt": r.c(["{}", "{:02d}", "{}."], [5, 2, 1]),
        "numcont": r.p(0.8),
        "font_mm": r.u(3.4, 4.2) if n <= 12 else r.u(3.0, 3.8), "spacing": r.u(1.35, 1.95),
        "valalign": r.c(["l", "c", "r"], [4, 2, 1.5]),
        "zebra": r.p(0.08), "boldabn": r.p(0.25), "hdrbold": r.p(0.5),
        "footer_at_bottom": r.p(0.5), "barcode": r.p(0.5), "logo": r.p(0.4),
        "margin_mm": r.u(9, 16), "top_mm": r.u(7, 14), "info_cols": r.c([3, 4, 4]),
        "colon": r.c(["：", ":"], [3, 1]), "trackt": r.p(0.35), "vsep": r.p(0.5),
        "ink": r.i(8, 45), "paper": r.c([(251, 251, 248), (249, 247, 240), (246, 248, 251), (252, 252, 252)]),
        "hdr_names": {
            "no": r.c(["序号", "No", "NO.", "编号", ""]),
            "name": r.c(["检验项目", "项目", "项目名称", "检测项目", "中文名称"]),
            "code": r.c(["代号", "英文缩写", "缩写", "代码"]),
            "value": r.c(["结果", "检验结果", "测定值", "结 果"]),
            "flag": r.c(["提示", "", "标志", "异常"]),
            "range": r.c(["参考范围", "参考值", "参考区间", "生物参考区间"]),
            "unit": r.c(["单位", "单位", "计量单位"]),
        },
    }
    if colstyle == "S2":
        layout["hdr_names"].update(name="项目", code="代号", value="结果", flag="提示", range="参考值")
    if colstyle == "S1":
        layout["hdr_names"].update(name="检验项目", value="结果", range="参考范围")
    if colstyle == "S5":
        flag_style = layout["flag_style"] = "none"
    for row in rows:
        row["flag"] = FLAG_MAPS[flag_style][row["dir"]] if (row["dir"] and flag_style != "none") else ""

    # ---- header / footer text ----------------------------------------------------------------
    pname = person(r, sex)
    dept = r.c(DEPTS[rtype])
    inpatient = r.p(0.3) and dept not in ("体检中心", "发热门诊", "急诊科")
    fields = [("姓名", pname), ("性别", sex), ("年龄", f"{age}岁" if r.p(0.8) else str(age)),
              (r.c(["科别", "科室", "申请科室"]), dept + ("病区" if inpatient and r.p(0.3) else "")),
              ("床号", str(r.i(1, 45)) if inpatient else ""),
              (r.c(["住院号", "病历号"]) if inpatient else r.c(["门诊号", "病历号", "ID号"]),
               str(r.i(10 ** 5, 10 ** 7)) if inpatient else str(r.i(10 ** 8, 10 ** 10))),
              (r.c(["样本号", "标本号", "样本编号"]), r.c([str(r.i(1, 480)), f"{clock.mo:02d}{clock.d:02d}-{r.i(1, 300):04d}"])),
              (r.c(["标本类型", "样本类型", "标本种类"]), r.c(SAMPLE[rtype])),
              (r.c(["送检医生", "申请医生", "开单医生"]), person(r, r.c(["男", "女"]))),
              ("临床诊断", r.c(DIAG[rtype]))]
    if r.p(0.5):
        fields.append((r.c(["检验项目", "申请项目"]), r.c(ITEM_NAME[rtype]) if sub != "tm" else "肿瘤标志物"))
    if r.p(0.35):
        fields.append(("采样时间", clock.fmt(0)))
    times_in_header = r.p(0.3)
    if times_in_header:
        fields += [("接收时间", clock.fmt(r.i(15, 70))), ("报告时间", clock.fmt(r.i(90, 300)))]
    keep = [f for f in fields if not (f[0] == "床号" and not f[1] and r.p(0.5))]
    tester, checker = person(r, r.c(["男", "女"])), person(r, r.c(["男", "女"]))
    foot = []
    notes = ["本报告仅对所检测标本负责", "*本报告仅对本次所检测标本负责，如有疑问请于三日内与检验科联系。",
             "检验结果仅供临床参考，请结合临床。", "本检验结果仅对本次送检标本负责。"]
    if flag_style == "arrow":
        notes.append("注：↑表示结果高于参考区间，↓表示结果低于参考区间")
    elif flag_style == "HL":
        notes.append("注：H表示偏高，L表示偏低")
    sig = [(r.c(["检验者", "检验人", "检验医师"]), tester), (r.c(["审核者", "审核人", "核对者"]), checker)]
    if not times_in_header:
        tline = [("采样时间", clock.fmt(0)), ("接收时间", clock.fmt(r.i(15, 70))), ("报告时间", clock.fmt(r.i(90, 300)))]
        if r.p(0.4):
            tline = tline[1:]
        foot.append(("fields", tline))
    foot.append(("fields", sig + ([("报告时间", clock.fmt(r.i(90, 300)))] if times_in_header and r.p(0.3) else [])))
    foot.append(("text", r.c(notes[:4])))
    if len(notes) > 4 and r.p(0.5):
        foot.append(("text", notes[4]))
    if rtype == "PSA":
        method = r.c(["化学发光法", "电化学发光法", "化学发光微粒子免疫分析法"])
        foot.insert(0, ("text", f"检测方法：{method}    仪器：全自动化学发光免疫分析仪"))
        if sub != "tm":
            foot.append(("para", "注：1. 前列腺按摩、直肠指检、膀胱镜检查、导尿及射精等可使PSA暂时升高，建议在上述操作前或操作一周后采血复查。"
                                 "2. 当TPSA处于4-10ng/mL时，建议结合游离PSA比值及临床综合判断。3. 本结果仅供临床参考。"))
        else:
            foot.append(("para", "注：肿瘤标志物升高不能单独作为肿瘤诊断依据，少数良性疾病及吸烟等因素也可引起轻度升高，"
                                 "请结合临床及影像学检查综合判断，必要时动态观察。"))
        if r.p(0.6):
            foot.append(("para", "备注：标本已按规定保存7天，如对结果有疑问请在此期限内与检验科联系复查。"))
    if r.p(0.35):
        foot.append(("text", f"地址：{place}市{r.c(ROADS)}路{r.i(1, 300)}号    电话：0{r.i(310, 990)}-{r.i(2000000, 8999999)}"))
    pageno = r.p(0.4)
    barcode_num = str(r.i(10 ** 11, 10 ** 12 - 1))
    title = r.c(TITLES[rtype]) if sub != "tm" else r.c(TITLES["PSA"])
    inst = None
    if rtype == "血常规" and r.p(0.4):
        inst = "检验仪器：全自动血液细胞分析仪"
    elif rtype == "生化" and r.p(0.4):
        inst = "检验仪器：全自动生化分析仪"
    elif rtype == "尿常规" and r.p(0.4):
        inst = "检验仪器：尿液干化学分析仪/尿沉渣分析仪"
    return {
        "id": sid, "idx": idx, "rtype": rtype, "report_type": report_type, "sub": sub, "scen": scen,
        "hospital": hosp, "title": title, "fields": keep, "rows": rows, "layout": layout,
        "foot": foot, "pageno": pageno, "barcode": barcode_num, "inst": inst, "sex": sex,
    }


# --------------------------------------------------------------------------------------------
# page rendering
# --------------------------------------------------------------------------------------------

PAPERS = {"A5L": (210, 148), "A4P": (210, 297), "A4L": (297, 210)}
COLSTYLES = {
    "S1": ["no", "name", "code", "value", "flag", "range", "unit"],   # 检验项目/结果/参考范围/单位
    "S2": ["no", "name", "code", "value", "flag", "unit", "range"],   # 项目/代号/结果/提示/单位/参考值
    "S3": ["no", "code", "name", "value", "flag", "unit", "range"],
    "S4": ["name", "code", "valflag", "unit", "range"],               # flag printed right after value
    "S5": ["no", "name", "value", "unit", "range"],                   # no flag column at all
    "S6": ["no", "name", "value", "flag", "range", "unit"],
}


def split_blocks(rows, nb):
    per = int(math.ceil(len(rows) / nb))
    return [rows[i * per:(i + 1) * per] for i in range(nb) if rows[i * per:(i + 1) * per]]


def dashed_line(d, x0, y, x1, w, dash=14, gap=8):
    x = x0
    while x < x1:
        d.line([(x, y), (min(x + dash, x1), y)], fill=0, width=w)
        x += dash + gap


def draw_barcode(d, x1, y0, h, num, fkey):
    g = np.random.default_rng(int(num) % (2 ** 32))
    bars = g.integers(1, 4, size=60)
    unit = 3
    total = int(bars.sum()) * unit
    x = x1 - total
    for k, b in enumerate(bars):
        if k % 2 == 0:
            d.rectangle([x, y0, x + b * unit - 1, y0 + h], fill=0)
        x += b * unit
    draw_text(d, x1 - total / 2, y0 + h + 26, num, fkey, 24, "c", None)
    return x1 - total


def fields_layout(d, fields, x0, x1, y, px, fkey, lkey, ncols, colon, line_h, bold_label=False):
    cw = (x1 - x0) / ncols
    col = 0
    for label, value in fields:
        t = f"{label}{colon}{value}"
        w = text_w(t, fkey, px, lkey) + px
        span = max(1, int(math.ceil(w / cw)))
        if col + span > ncols:
            col = 0
            y += line_h
        draw_text(d, x0 + col * cw, y, t, fkey, px, "l", lkey)
        col += span
        if col >= ncols:
            col = 0
            y += line_h
    if col:
        y += line_h
    return y


def wrap_text(text, fkey, px, width):
    lines, cur = [], ""
    for ch in text:
        if text_w(cur + ch, fkey, px) > width and cur:
            lines.append(cur)
            cur = ch
        else:
            cur += ch
    if cur:
        lines.append(cur)
    return lines


def measure_table(sheet, blocks, cols, fpx):
    L = sheet["layout"]
    fkey, lkey, hn = L["body"], L["latin"], L["hdr_names"]
    widths = []
    for c in cols:
        texts = [hn.get(c if c != "valflag" else "value", "")]
        for b, brows in enumerate(blocks):
            for row in brows:
                if c == "no":
                    texts.append(L["numfmt"].format(99))
                elif c == "valflag":
                    texts.append(row["value"] + "  " + row["flag"])
                else:
                    texts.append(row[c])
        w = max(text_w(t, fkey, fpx, lkey) for t in texts)
        widths.append(w + fpx * (0.9 if c not in ("flag", "no") else 0.6))
    return widths


def render_sheet(sheet):
    """Return (page L image as np.uint8, info dict) with drawn strings logged per result row."""
    L = sheet["layout"]
    base = COLSTYLES[L["colstyle"]]
    nocode = [c for c in base if c != "code"]
    tiers = (3.0, 2.6) if L["nb"] != 3 else (2.6,)
    for minf in tiers:
        for paper in L["papers"]:
            for cols_try in (base, nocode):
                res = _render_try(sheet, paper, cols_try, min_font_mm=minf)
                if res is not None:
                    return res
    for paper in ("A4P", "A4L"):
        res = _render_try(sheet, paper, nocode, min_font_mm=2.6)
        if res is not None:
            return res
    res = _render_try(sheet, "A4P", nocode, min_font_mm=2.2, force=True)
    assert res is not None
    return res


def _render_try(sheet, paper, cols, min_font_mm, force=False):
    L = sheet["layout"]
    wmm, hmm = PAPERS[paper]
    W, H = wmm * PPM, hmm * PPM
    nb = L["nb"] if not (paper == "A4P" and L["nb"] == 3) else 2
    blocks = split_blocks(sheet["rows"], nb)
    nb = len(blocks)
    nmax = max(len(b) for b in blocks)
    ml = L["margin_mm"] * PPM
    x0c, x1c = ml, W - ml
    gap = 6 * PPM if nb > 1 else 0
    bw = (x1c - x0c - gap * (nb - 1)) / nb
    fkey, lkey = L["body"], L["latin"]

    # --- table font: fit width ---
    fpx = L["font_mm"] * PPM
    if nb == 3:
        fpx = min(fpx, 3.1 * PPM)
    while True:
        widths = measure_table(sheet, blocks, cols, fpx)
        if sum(widths) <= bw or fpx <= min_font_mm * PPM:
            break
        fpx *= 0.95
    if sum(widths) > bw and not force:
        return None

    img = Image.new("L", (W, H), 255)
    d = ImageDraw.Draw(img)
    y = L["top_mm"] * PPM
    hp = int(min(fpx * 1.0, 3.4 * PPM))  # info text size
    info_px = max(int(2.8 * PPM), hp)
    tkey = L["title_font"]
    tstroke = 1 if tkey == "zenhei" else 0

    # --- header ---
    hname, title = sheet["hospital"], sheet["title"]
    if L["barcode"]:
        draw_barcode(d, x1c, y, 8 * PPM, sheet["barcode"], fkey)
    if L["header"] == "H1":
        hs = int(r_between(5.2, 7.0, sheet["idx"]) * PPM)
        draw_text(d, W / 2, y + hs, hname, tkey, hs, "c", stroke=tstroke)
        y += hs * 1.45
        ts = int(hs * 0.82)
        draw_text(d, W / 2, y + ts, title, tkey, ts, "c", stroke=tstroke, track=ts * 0.5 if L["trackt"] else 0)
        y += ts * 1.7
    elif L["header"] == "H2":
        hs = int(r_between(5.0, 6.5, sheet["idx"]) * PPM)
        draw_text(d, W / 2, y + hs, hname + title, tkey, hs, "c", stroke=tstroke)
        y += hs * 1.8
    else:
        hs = int(r_between(5.0, 6.2, sheet["idx"]) * PPM)
        xl = x0c
        if L["logo"]:
            rr = hs * 0.62
            cx, cy = x0c + rr, y + hs * 0.62
            d.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], outline=0, width=4)
            d.rectangle([cx - rr * 0.18, cy - rr * 0.6, cx + rr * 0.18, cy + rr * 0.6], fill=0)
            d.rectangle([cx - rr * 0.6, cy - rr * 0.18, cx + rr * 0.6, cy + rr * 0.18], fill=0)
            xl = x0c + 2 * rr + hs * 0.4
        draw_text(d, xl, y + hs, hname, tkey, hs, "l", stroke=tstroke)
        y += hs * 1.5
        ts = int(hs * 0.8)
        draw_text(d, W / 2, y + ts, title, tkey, ts, "c", stroke=tstroke, track=ts * 0.4 if L["trackt"] else 0)
        y += ts * 1.6
    y = max(y, L["top_mm"] * PPM + (8 * PPM + 40 if L["barcode"] else 0))
    if L["header"] == "H2" or L["rules"] == "grid":
        d.line([(x0c, y - info_px * 0.6), (x1c, y - info_px * 0.6)], fill=0, width=3)
    y += info_px * 0.6
    line_h = info_px * 1.55
    y = fields_layout(d, sheet["fields"], x0c + 4, x1c, y + info_px * 0.9, info_px, fkey, lkey, L["info_cols"], L["colon"], line_h)
    y -= info_px * 0.4
    if sheet["inst"]:
        draw_text(d, x0c + 4, y + info_px * 0.2, sheet["inst"], fkey, info_px, "l", lkey)
        y += line_h
    if L["rules"] == "dashed":
        dashed_line(d, x0c, y, x1c, 3)
    else:
        d.line([(x0c, y), (x1c, y)], fill=0, width=5 if L["header"] != "H3" else 3)
        if L["header"] == "H1" and L["rules"] != "none":
            d.line([(x0c, y + 7), (x1c, y + 7)], fill=0, width=2)
    y += 0.8 * PPM

    # --- footer measurement ---
    fp = max(int(2.7 * PPM), int(min(fpx * 0.9, 3.2 * PPM)))
    fl_h = fp * 1.6
    foot_lines = []
    for kind, content in sheet["foot"]:
        if kind == "para":
            for ln in wrap_text(content, fkey, fp, x1c - x0c - 8):
                foot_lines.append(("text", ln))
        else:
            foot_lines.append((kind, content))
    if sheet["pageno"]:
        foot_lines.append(("pageno", "第 1 页 / 共 1 页"))
    foot_h = len(foot_lines) * fl_h + 1.0 * PPM
    bottom = H - 8 * PPM

    # --- table vertical fit ---
    hdr_h = fpx * 1.7
    avail = bottom - foot_h - y - hdr_h - 1.5 * PPM
    row_h = fpx * L["spacing"]
    if row_h * nmax > avail:
        row_h = avail / nmax
        if row_h < fpx * 1.22:
            fpx2 = row_h / 1.22
            if fpx2 < min_font_mm * PPM and not force:
                return None
            fpx = fpx2
            hdr_h = fpx * 1.7
            widths = measure_table(sheet, blocks, cols, fpx)
    fpx_i = int(round(fpx))
    extra = max(0.0, bw - sum(widths))
    share = {"name": 0.3, "value": 0.2, "range": 0.2, "unit": 0.12, "code": 0.1, "flag": 0.05, "no": 0.03, "valflag": 0.2}
    tot = sum(share[c] for c in cols)
    widths = [w + extra * share[c] / tot for w, c in zip(widths, cols)]
    hn = L["hdr_names"]
    ty0 = y
    drawn = []
    row_boxes = []
    rown = 0
    for b, brows in enumerate(blocks):
        bx = x0c + b * (bw + gap)
        xs = [bx]
        for w in widths:
            xs.append(xs[-1] + w)
        if not L["numcont"]:
            rown = 0
        # header row
        hb = ty0 + hdr_h / 2 + fpx * 0.36
        for c, xa, xb in zip(cols, xs[:-1], xs[1:]):
            label = hn.get("value" if c == "valflag" else c, "")
            if not label:
                continue
            al = "c" if c in ("flag", "no") else "l"
            xx = (xa + xb) / 2 if al == "c" else xa + fpx * 0.3
            draw_text(d, xx, hb, label, fkey, fpx_i, al, lkey, stroke=1 if L["hdrbold"] else 0)
        for i, row in enumerate(brows):
            rown += 1
            yt = ty0 + hdr_h + i * row_h
            base = yt + row_h / 2 + fpx * 0.36
            if L["zebra"] and i % 2 == 1:
                d.rectangle([bx, yt, xs[-1], yt + row_h], fill=236)
            log = {"name": "", "code": "", "value": "", "flag": "", "range": "", "unit": ""}
            for c, xa, xb in zip(cols, xs[:-1], xs[1:]):
                pad = fpx * 0.3
                if c == "no":
                    draw_text(d, (xa + xb) / 2, base, L["numfmt"].format(rown), fkey, fpx_i, "c", lkey)
                    continue
                if c == "valflag":
                    st = 1 if (L["boldabn"] and row["flag"]) else 0
                    _, xr = draw_text(d, xa + pad, base, row["value"], fkey, fpx_i, "l", lkey, stroke=st)
                    log["value"] = row["value"]
                    if row["flag"]:
                        draw_text(d, xr + fpx * 0.45, base, row["flag"], fkey, fpx_i, "l", lkey)
                        log["flag"] = row["flag"]
                    continue
                s = row[c]
                log[c] = s
                if not s:
                    continue
                if c == "value":
                    al = L["valalign"]
                    xx = {"l": xa + pad, "c": (xa + xb) / 2, "r": xb - pad * 2}[al]
                    st = 1 if (L["boldabn"] and row["flag"]) else 0
                    draw_text(d, xx, base, s, fkey, fpx_i, al, lkey, stroke=st)
                elif c == "flag":
                    draw_text(d, (xa + xb) / 2, base, s, fkey, fpx_i, "c", lkey)
                else:
                    draw_text(d, xa + pad, base, s, fkey, fpx_i, "l", lkey)
            drawn.append({"block": b + 1, "row": i + 1, "log": log})
            row_boxes.append((bx, yt, xs[-1], yt + row_h))
        # rules
        tb = ty0 + hdr_h + len(brows) * row_h
        full_b = ty0 + hdr_h + nmax * row_h
        if L["rules"] == "grid":
            d.rectangle([bx, ty0, xs[-1], full_b], outline=0, width=3)
            for k in range(nmax + 1):
                yy = ty0 + hdr_h + k * row_h
                d.line([(bx, yy), (xs[-1], yy)], fill=0, width=2)
            for xx in xs[1:-1]:
                d.line([(xx, ty0), (xx, full_b)], fill=0, width=2)
        elif L["rules"] in ("header", "dashed"):
            f = dashed_line if L["rules"] == "dashed" else (lambda dd, a, yy, bb, w: dd.line([(a, yy), (bb, yy)], fill=0, width=w))
            f(d, bx, ty0 + hdr_h, xs[-1], 3)
            if nb > 1 and L["vsep"] and b > 0:
                d.line([(bx - gap / 2, ty0), (bx - gap / 2, full_b)], fill=0, width=2)
    table_bottom = ty0 + hdr_h + nmax * row_h
    if L["rules"] in ("header", "dashed", "none"):
        if L["rules"] == "dashed":
            dashed_line(d, x0c, table_bottom + 6, x1c, 3)
        else:
            d.line([(x0c, table_bottom + 6), (x1c, table_bottom + 6)], fill=0, width=4 if L["rules"] == "header" else 2)

    # --- footer ---
    if L["footer_at_bottom"]:
        fy = max(table_bottom + 3 * PPM, bottom - foot_h)
    else:
        fy = table_bottom + 4 * PPM
    fy += fp
    for kind, content in foot_lines:
        if kind == "fields":
            n = len(content)
            cw = (x1c - x0c) / max(n, 1)
            for k, (lab, val) in enumerate(content):
                draw_text(d, x0c + k * cw, fy, f"{lab}{L['colon']}{val}", fkey, fp, "l", lkey)
        elif kind == "pageno":
            draw_text(d, x1c, fy, content, fkey, fp, "r", lkey)
        else:
            draw_text(d, x0c, fy, content, fkey, fp, "l", lkey)
        fy += fl_h
    info = {"paper": paper, "W": W, "H": H, "row_boxes": row_boxes, "em": fpx_i, "drawn": drawn,
            "nb": nb, "cols": cols, "blocks": [len(b) for b in blocks], "font_mm": fpx_i / PPM}
    return np.array(img), info


def r_between(a, b, idx):
    # deterministic per-sheet size choice that does not consume the sheet RNG
    g = np.random.default_rng([idx, 77])
    return float(g.uniform(a, b))


# --------------------------------------------------------------------------------------------
# capture simulation
# --------------------------------------------------------------------------------------------


def noise_field(g, h, w, cell):
    cell = max(2.0, float(cell))
    sh, sw = int(h / cell) + 3, int(w / cell) + 3
    small = g.random((sh, sw)).astype(np.float32)
    big = cv2.resize(small, (int(sw * cell), int(sh * cell)), interpolation=cv2.INTER_CUBIC)
    return big[:h, :w]


def make_texture(kind, h, w, mmpp, g):
    """Background texture, in table-plane coordinates. mmpp = millimetres per texture pixel."""
    px = lambda mm: mm / mmpp
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "wood":
        n1 = noise_field(g, h, w, px(40))
        n2 = noise_field(g, h, w, px(6))
        streak = cv2.resize(g.random((max(2, int(h / px(0.6))), max(2, int(w / px(40))))).astype(np.float32), (w, h),
                            interpolation=cv2.INTER_LINEAR)
        period = px(g.uniform(3.0, 7.0))
        grain = np.sin(2 * np.pi * (yy + px(8) * n1 + 0.02 * xx) / period)
        v = 0.55 + 0.16 * grain + 0.18 * (streak - 0.5) + 0.15 * (n2 - 0.5)
        plank = px(g.uniform(90, 180))
        seam = (np.mod(yy + px(5) * n1, plank) < px(0.7)).astype(np.float32)
        v = v * (1 - 0.5 * seam)
        dark = np.array(g.choice([[95, 62, 38], [120, 80, 48], [70, 45, 30], [140, 100, 64]]), np.float32)
        light = dark * g.uniform(1.45, 1.75)
        tex = dark[None, None, :] + (light - dark)[None, None, :] * np.clip(v, 0, 1)[..., None]
    elif kind == "gingham":
        p = px(g.uniform(7, 20))
        col = np.array(g.choice([[190, 40, 45], [40, 70, 150], [40, 120, 70], [40, 40, 45], [200, 120, 40]]), np.float32)
        hx = (np.mod(xx, p) < p / 2).astype(np.float32)
        hy = (np.mod(yy, p) < p / 2).astype(np.float32)
        a = 0.42 * hx + 0.42 * hy
        white = np.array([238, 234, 226], np.float32)
        tex = white[None, None] * (1 - a[..., None]) + col[None, None] * a[..., None]
        weave = (np.sin(xx * 2 * np.pi / px(0.8)) * np.sin(yy * 2 * np.pi / px(0.8)))
        tex += (6 * weave)[..., None]
    elif kind == "floral":
        base = np.array(g.choice([[236, 222, 200], [214, 228, 236], [240, 214, 214], [222, 236, 214]]), np.float32)
        tex = np.ones((h, w, 3), np.float32) * base
        sp = px(g.uniform(18, 34))
        cols = [[200, 70, 90], [230, 150, 60], [90, 140, 70], [120, 90, 170], [60, 120, 180]]
        for cy in np.arange(-sp, h + sp, sp):
            for cx in np.arange(-sp, w + sp, sp):
                jx, jy = g.uniform(-0.3, 0.3) * sp, g.uniform(-0.3, 0.3) * sp
                c = tuple(float(v) for v in cols[int(g.integers(len(cols)))])
                rad = sp * g.uniform(0.12, 0.22)
                for k in range(5):
                    ang = 2 * np.pi * k / 5 + g.uniform(0, 0.5)
                    cv2.circle(tex, (int(cx + jx + np.cos(ang) * rad), int(cy + jy + np.sin(ang) * rad)), int(max(1, rad * 0.7)), c, -1, cv2.LINE_AA)
                cv2.circle(tex, (int(cx + jx), int(cy + jy)), int(max(1, rad * 0.45)), (240, 210, 80), -1, cv2.LINE_AA)
                if g.random() < 0.5:
                    cv2.ellipse(tex, (int(cx + jx + sp * 0.35), int(cy + jy + sp * 0.1)), (int(rad * 0.9), int(rad * 0.35)),
                                float(g.uniform(0, 180)), 0, 360, (80, 130, 70), -1, cv2.LINE_AA)
        tex += (noise_field(g, h, w, px(2)) - 0.5)[..., None] * 14
    elif kind == "stripes":
        cols = np.array(g.choice([[[225, 225, 220], [70, 90, 140], [180, 60, 60]], [[235, 230, 215], [150, 120, 90], [90, 110, 80]],
                                  [[230, 230, 235], [60, 60, 70], [200, 170, 80]]]), np.float32)
        widths = g.uniform(4, 28, size=12)
        bounds = np.cumsum(widths)
        pos = np.mod(xx * mmpp + 0.3 * yy * mmpp, bounds[-1])
        ids = np.searchsorted(bounds, pos) % 3
        tex = cols[ids]
        tex += (noise_field(g, h, w, px(1.5)) - 0.5)[..., None] * 10
    elif kind == "laminate":
        base = np.array(g.choice([[214, 210, 200], [200, 200, 204], [226, 220, 206], [188, 176, 160]]), np.float32)
        tex = np.ones((h, w, 3), np.float32) * base
        tex += (noise_field(g, h, w, px(60)) - 0.5)[..., None] * 18
        tex += g.normal(0, 5, size=(h, w, 1)).astype(np.float32)
    else:  # dark desk
        base = np.array(g.choice([[48, 46, 44], [62, 56, 52], [36, 38, 44]]), np.float32)
        tex = np.ones((h, w, 3), np.float32) * base
        tex += (noise_field(g, h, w, px(80)) - 0.5)[..., None] * 24
        tex += g.normal(0, 3, size=(h, w, 1)).astype(np.float32)
    return np.clip(tex, 0, 255).astype(np.float32)


def disk_kernel(r):
    if r < 0.35:
        k = np.zeros((1, 1), np.float32)
        k[0, 0] = 1
        return k
    R = int(math.ceil(r)) + 1
    yy, xx = np.mgrid[-R:R + 1, -R:R + 1].astype(np.float32)
    dist = np.sqrt(xx ** 2 + yy ** 2)
    k = np.clip(r + 0.5 - dist, 0, 1)
    return (k / k.sum()).astype(np.float32)


def motion_kernel(length, angle_deg):
    L = max(1.0, length)
    R = int(math.ceil(L / 2)) + 2
    k = np.zeros((2 * R + 1, 2 * R + 1), np.float32)
    a = math.radians(angle_deg)
    for t in np.linspace(-L / 2, L / 2, int(L * 8) + 2):
        x, y = R + t * math.cos(a), R + t * math.sin(a)
        x0, y0 = int(math.floor(x)), int(math.floor(y))
        fx, fy = x - x0, y - y0
        k[y0, x0] += (1 - fx) * (1 - fy)
        k[y0, x0 + 1] += fx * (1 - fy)
        k[y0 + 1, x0] += (1 - fx) * fy
        k[y0 + 1, x0 + 1] += fx * fy
    return k / k.sum()


def shake_kernel(extent, g):
    pts = [np.zeros(2)]
    v = g.normal(0, 1, 2)
    for _ in range(60):
        v = 0.85 * v + g.normal(0, 0.6, 2)
        pts.append(pts[-1] + v)
    pts = np.array(pts)
    pts -= pts.mean(0)
    span = max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]), 1e-6)
    pts *= extent / span
    R = int(math.ceil(extent / 2)) + 2
    k = np.zeros((2 * R + 1, 2 * R + 1), np.float32)
    for (x, y) in pts:
        x += R
        y += R
        x0, y0 = int(math.floor(x)), int(math.floor(y))
        fx, fy = x - x0, y - y0
        k[y0, x0] += (1 - fx) * (1 - fy)
        k[y0, x0 + 1] += fx * (1 - fy)
        k[y0 + 1, x0] += (1 - fx) * fy
        k[y0 + 1, x0 + 1] += fx * fy
    k = cv2.GaussianBlur(k, (0, 0), 0.35)
    return k / k.sum()


def project_page(pw, ph, tilt, tdir, rho, roll):
    c = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float64)
    cen = c - [pw / 2, ph / 2]
    dv = np.array([math.cos(tdir), math.sin(tdir)])
    t = math.radians(tilt)
    D = rho * max(pw, ph)
    u = cen @ dv
    X = cen - u[:, None] * dv + (u * math.cos(t))[:, None] * dv
    Z = D + u * math.sin(t)
    P = X * (D / Z)[:, None]
    a = math.radians(roll)
    Rm = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return P @ Rm.T, D


def poly_area(p):
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


def tpts(H, pts):
    return cv2.perspectiveTransform(np.asarray(pts, np.float32).reshape(1, -1, 2), H).reshape(-1, 2)


def sample_photo(flags, r, pw, ph, attempt):
    P = {"flags": set(flags)}
    F = P["flags"]
    page_portrait = ph > pw
    P["portrait"] = page_portrait if not (("table" in F and r.p(0.4)) or r.p(0.08)) else (not page_portrait)
    relax = attempt // 8  # every 8 failed attempts relax the framing a little
    if "small" in F:
        P["Lf"] = r.i(900, 1000)
        P["nf"] = r.u(1.5, 2.2)
    elif "wechat" in F:
        P["Lf"] = r.c([1080, 1080, 1280, 1280, r.i(1080, 1280)])
        P["nf"] = r.u(1.5, 2.0)
    else:
        P["Lf"] = min(2600, r.c([1600, 1920, 2048, 2304, 2400, r.i(1600, 2400)]) + 200 * relax)
        P["nf"] = 1.0
    P["Ln"] = int(min(2600, P["Lf"] * P["nf"]))
    if "lowlight" in F:
        P["q"] = r.i(35, 60)
    elif "small" in F or "wechat" in F:
        P["q"] = r.i(50, 72)
    else:
        P["q"] = r.i(76, 92)
    if "steep" in F:
        P["tilt"] = max(25.0, r.u(25, 40) - 3 * relax)
        P["rho"] = r.u(0.95, 1.3)
    else:
        P["tilt"] = r.u(3, 15) if r.p(0.85) else r.u(0, 3)
        P["rho"] = r.u(1.0, 1.6)
    # far side: usually the top of the page (phone held over the near/bottom edge)
    base = r.c([-90, -90, -90, 90, 0, 180], [5, 0, 0, 1, 1, 1])
    P["tdir"] = math.radians(base + r.u(-25, 25))
    P["roll"] = (r.u(3, 15) * r.c([-1, 1])) if ("roll" in F) else r.u(-2.5, 2.5)
    if "table" in F:
        P["fill"] = min(0.85, r.u(0.5, 0.8) + 0.05 * relax)
    elif "edge_cut" in F:
        P["fill"] = r.u(0.92, 1.02)
    else:
        P["fill"] = min(0.93, r.u(0.66, 0.9) + 0.04 * relax)
    P["cut_side"] = r.c(["top", "bottom", "left", "right"], [3, 3, 2, 2])
    P["ox"], P["oy"] = r.u(0.15, 0.85), r.u(0.15, 0.85)
    P["rot"] = 0
    if "sideways" in F:
        P["rot"] = r.c([1, 3])
    elif "upside" in F:
        P["rot"] = 2
    return P


def plan_geometry(P, pw, ph, rows, em):
    Ln = P["Ln"]
    Wn, Hn = (int(round(Ln * 3 / 4)), Ln) if P["portrait"] else (Ln, int(round(Ln * 3 / 4)))
    proj, D = project_page(pw, ph, P["tilt"], P["tdir"], P["rho"], P["roll"])
    bw, bh = np.ptp(proj[:, 0]), np.ptp(proj[:, 1])
    area = poly_area(proj)
    if "edge_cut" in P["flags"]:
        side = P["cut_side"]
        if side in ("top", "bottom"):
            s = min(P["fill"] * Hn / bh, 0.95 * Wn / bw)
        else:
            s = min(P["fill"] * Wn / bw, 0.95 * Hn / bh)
    else:
        s = min(math.sqrt(P["fill"] * Wn * Hn / area), 0.965 * Wn / bw, 0.965 * Hn / bh)
    q = proj * s
    q -= q.min(0)
    qw, qh = q[:, 0].max(), q[:, 1].max()
    q[:, 0] += max(0.0, Wn - qw) * P["ox"]
    q[:, 1] += max(0.0, Hn - qh) * P["oy"]
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    H = cv2.getPerspectiveTransform(src, q.astype(np.float32))
    margin = 0.02 * min(Wn, Hn)
    rb = np.array(rows, np.float64)
    corners = np.concatenate([rb[:, [0, 1]], rb[:, [2, 1]], rb[:, [2, 3]], rb[:, [0, 3]]])
    rc = tpts(H, corners)
    cut = None
    if "edge_cut" in P["flags"]:
        pc = tpts(H, src)
        side = P["cut_side"]
        want = 0.015 + 0.06 * P["ox"]
        if side == "top":
            room = rc[:, 1].min() - pc[:, 1].min() - margin
            c = min(want * Hn, room)
            sh = (0.0, -(pc[:, 1].min() + c))
        elif side == "bottom":
            room = pc[:, 1].max() - rc[:, 1].max() - margin
            c = min(want * Hn, room)
            sh = (0.0, (Hn + c) - pc[:, 1].max())
        elif side == "left":
            room = rc[:, 0].min() - pc[:, 0].min() - margin
            c = min(want * Wn, room)
            sh = (-(pc[:, 0].min() + c), 0.0)
        else:
            room = pc[:, 0].max() - rc[:, 0].max() - margin
            c = min(want * Wn, room)
            sh = ((Wn + c) - pc[:, 0].max(), 0.0)
        if c < 0.012 * min(Wn, Hn):
            return None
        T = np.array([[1, 0, sh[0]], [0, 1, sh[1]], [0, 0, 1]], np.float64)
        H = T @ H
        rc = tpts(H, corners)
        cut = (side, c)
        pc2 = tpts(H, src)
        # only the chosen edge may leave the frame
        other_out = {"top": pc2[:, 1].min() < -1, "bottom": pc2[:, 1].max() > Hn + 1,
                     "left": pc2[:, 0].min() < -1, "right": pc2[:, 0].max() > Wn + 1}
        if any(v for k, v in other_out.items() if k != side):
            return None
    if rc[:, 0].min() < margin or rc[:, 1].min() < margin or rc[:, 0].max() > Wn - margin or rc[:, 1].max() > Hn - margin:
        return None
    # projected character size of every result row
    pts = []
    for (x0, y0, x1, y1) in rows:
        yc = (y0 + y1) / 2
        for x in (x0 + em, (x0 + x1) / 2, x1 - em):
            pts += [(x, yc - em / 2), (x, yc + em / 2), (x - em / 2, yc), (x + em / 2, yc)]
    tp = tpts(H, pts).reshape(-1, 4, 2)
    v = np.linalg.norm(tp[:, 1] - tp[:, 0], axis=1)
    h = np.linalg.norm(tp[:, 3] - tp[:, 2], axis=1)
    k = P["Lf"] / P["Ln"]
    em_eff = float(np.sqrt(v * h).min()) * k
    em_min = float(np.minimum(v, h).min()) * k
    return {"H": H, "Wn": Wn, "Hn": Hn, "em_eff": em_eff, "em_min": em_min, "cut": cut, "D": D}


def legible_threshold(P):
    F = P["flags"]
    t = 12.5
    if "lowlight" in F or "motion" in F or "shake" in F or P["q"] < 50:
        t += 2.0
    if "steep" in F or "defocus" in F:
        t += 1.0
    return t


def plan_photo(flags, r, pw, ph, rows, em):
    flags = list(flags)
    for stage in range(4):
        for attempt in range(24):
            P = sample_photo(flags, r, pw, ph, attempt)
            G = plan_geometry(P, pw, ph, rows, em)
            if G is None:
                continue
            if G["em_eff"] >= legible_threshold(P) and G["em_min"] >= 0.72 * legible_threshold(P):
                return P, G
        # relax: drop the size restriction first, then steep / table / cut framing
        for drop in (["small"], ["wechat"], ["table", "edge_cut"], ["steep"])[stage:stage + 1]:
            for f in drop:
                if f in flags:
                    flags.remove(f)
                    if f == "small":
                        flags.append("wechat")
    P = sample_photo([f for f in flags if f in ("roll", "sideways", "upside", "lowlight", "motion", "shake", "warm")], r, pw, ph, 40)
    P["Lf"], P["Ln"], P["nf"], P["tilt"], P["fill"] = 2600, 2600, 1.0, 4.0, 0.92
    G = plan_geometry(P, pw, ph, rows, em)
    assert G is not None
    return P, G


def illum_field(Hn, Wn, g, P):
    yy, xx = np.mgrid[0:Hn, 0:Wn].astype(np.float32)
    nx, ny = xx / Wn * 2 - 1, yy / Hn * 2 - 1
    phi = g.uniform(0, 2 * np.pi)
    L = 1.0 + g.uniform(0.04, 0.2) * (nx * math.cos(phi) + ny * math.sin(phi))
    L *= 1.0 - g.uniform(0.05, 0.28) * (nx ** 2 + ny ** 2) / 2
    shadow = None
    if "shadow" in P["flags"]:
        m = np.zeros((Hn, Wn), np.float32)
        side = int(g.integers(4))
        depth = g.uniform(0.18, 0.4)
        pts = []
        n = 7
        for k in range(n + 1):
            t = k / n
            w = depth + g.uniform(-0.06, 0.06)
            if side == 0:
                pts.append((t * Wn, w * Hn))
            elif side == 1:
                pts.append((t * Wn, (1 - w) * Hn))
            elif side == 2:
                pts.append((w * Wn, t * Hn))
            else:
                pts.append(((1 - w) * Wn, t * Hn))
        corner = {0: [(Wn, 0), (0, 0)], 1: [(Wn, Hn), (0, Hn)], 2: [(0, Hn), (0, 0)], 3: [(Wn, Hn), (Wn, 0)]}[side]
        poly = np.array(pts + corner, np.int32)
        cv2.fillPoly(m, [poly], 1.0)
        m = cv2.GaussianBlur(m, (0, 0), g.uniform(0.03, 0.07) * max(Wn, Hn))
        dark = g.uniform(0.15, 0.3)
        L *= 1 - dark * m
        shadow = round(dark, 2)
    return L, shadow


def add_noise(img, sigma, g):
    Hn, Wn = img.shape[:2]
    Y = img.mean(axis=2)
    smap = sigma * (0.55 + 1.3 * (1.0 - np.clip(Y / 255.0, 0, 1)))
    n = g.normal(0, 1, size=(Hn, Wn)).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), 0.6) * 1.6
    img += (n * smap)[..., None]
    ch = g.normal(0, 1, size=(Hn // 2 + 1, Wn // 2 + 1, 2)).astype(np.float32)
    ch = cv2.resize(ch, (Wn, Hn), interpolation=cv2.INTER_LINEAR)
    cs = smap * 0.6
    img[..., 0] += ch[..., 0] * cs
    img[..., 2] += ch[..., 1] * cs
    img[..., 1] -= (ch[..., 0] + ch[..., 1]) * 0.5 * cs
    return img


def jpeg_roundtrip(arr, q):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=int(q), subsampling=2)
    return np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def render_photo(page_L, paper_rgb, ink_level, P, G, g, pw, ph):
    H, Wn, Hn = G["H"], G["Wn"], G["Hn"]
    F = P["flags"]
    desc = []
    # pre-downscale the page so the warp never decimates strokes
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    grid = np.array([[x, y] for x in np.linspace(0, pw, 5) for y in np.linspace(0, ph, 5)], np.float32)
    a = tpts(H, grid)
    b = tpts(H, grid + [8, 0])
    c = tpts(H, grid + [0, 8])
    smax = max(np.linalg.norm(b - a, axis=1).max(), np.linalg.norm(c - a, axis=1).max()) / 8
    pre = min(1.0, smax * 1.3)
    if pre < 0.97:
        sw, sh = int(round(pw * pre)), int(round(ph * pre))
        small = cv2.resize(page_L, (sw, sh), interpolation=cv2.INTER_AREA)
        Hs = H @ np.diag([pw / sw, ph / sh, 1.0])
    else:
        sw, sh, small, Hs = pw, ph, page_L, H
    a_ink = (255.0 - small.astype(np.float32)) / 255.0
    a_ink *= 0.86 + 0.14 * noise_field(g, sh, sw, 40)
    paper = np.array(paper_rgb, np.float32)
    ink = np.array([ink_level, ink_level, ink_level + 6], np.float32)
    rgb = paper[None, None] * (1 - a_ink[..., None]) + ink[None, None] * a_ink[..., None]
    rgb += g.normal(0, 1.4, size=(sh, sw, 1)).astype(np.float32)
    mask = np.ones((sh, sw), np.float32)
    if "curl" in F:
        yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
        A = g.uniform(0.002, 0.005) * sh
        ph0 = g.uniform(0, 2 * np.pi)
        mapy = yy + A * np.sin(2 * np.pi * xx / sw * g.uniform(0.5, 1.2) + ph0) * np.sin(np.pi * yy / sh)
        mapx = xx + 0.5 * A * np.sin(np.pi * yy / sh * g.uniform(0.5, 1.5) + ph0) * np.sin(np.pi * xx / sw)
        rgb = cv2.remap(rgb, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    page_w = cv2.warpPerspective(rgb, Hs, (Wn, Hn), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    m = cv2.warpPerspective(mask, Hs, (Wn, Hn), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # background in the table plane (same homography as the page)
    Hinv = np.linalg.inv(H)
    fc = np.array([[0, 0], [Wn, 0], [Wn, Hn], [0, Hn]], np.float64)
    hom = np.c_[fc, np.ones(4)] @ Hinv.T
    big = 4.0 * max(pw, ph)
    if np.any(hom[:, 2] <= 1e-9):
        bx0, by0, bx1, by1 = -big, -big, big + pw, big + ph
    else:
        pc = hom[:, :2] / hom[:, 2:3]
        bx0, by0 = np.clip(pc.min(0), -big, None)
        bx1, by1 = np.clip(pc.max(0), None, big + max(pw, ph))
    span = max(bx1 - bx0, by1 - by0, 1.0)
    ts = min(1.0, 1500.0 / span)
    tw, th = max(8, int((bx1 - bx0) * ts) + 2), max(8, int((by1 - by0) * ts) + 2)
    bgkind = P["bg"]
    tex = make_texture(bgkind, th, tw, (1.0 / ts) / PPM, g)
    T = np.array([[1 / ts, 0, bx0], [0, 1 / ts, by0], [0, 0, 1]], np.float64)
    bg = cv2.warpPerspective(tex, H @ T, (Wn, Hn), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if bgkind in ("gingham", "floral", "stripes"):
        bg = cv2.GaussianBlur(bg, (0, 0), 0.7)
    sh_m = cv2.GaussianBlur(m, (0, 0), 0.006 * max(Wn, Hn))
    Ms = np.float32([[1, 0, 0.004 * Wn * g.uniform(-1, 1)], [0, 1, 0.005 * Hn]])
    sh_m = cv2.warpAffine(sh_m, Ms, (Wn, Hn))
    bg *= (1 - g.uniform(0.2, 0.45) * sh_m)[..., None]
    img = bg * (1 - m[..., None]) + page_w
    # lighting
    L, shadow = illum_field(Hn, Wn, g, P)
    if "lowlight" in F:
        wb = np.array([1.0, g.uniform(0.82, 0.89), g.uniform(0.56, 0.68)], np.float32)
        desc.append("warm indoor light")
    elif "warm" in F:
        wb = np.array([1.0, g.uniform(0.9, 0.95), g.uniform(0.72, 0.84)], np.float32)
        desc.append("warm indoor light")
    else:
        wb = np.array(g.choice([[1.0, 1.0, 1.0], [0.97, 1.0, 1.04], [0.99, 1.0, 0.95]]), np.float32)
    bright = g.uniform(0.5, 0.68) if "lowlight" in F else g.uniform(0.88, 1.02)
    img *= (L * bright)[..., None] * wb[None, None]
    if "lowlight" in F:
        img = img * 0.92 + g.uniform(10, 22) * np.array([1.0, 0.85, 0.62], np.float32)
        desc.append("dim")
    if shadow:
        desc.append("hand/phone shadow")
    # optics: defocus varying across the frame
    scale = P["Ln"] / P["Lf"]
    emf = G["em_eff"]
    if "steep" in F or "defocus" in F:
        rmax_f = min(g.uniform(1.3, 2.4), 0.13 * emf)
        if "steep" in F:
            # depth-of-field: blur grows with distance from the focus depth on the tilted plane
            gh, gw = 36, 48
            yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float64)
            fpts = np.stack([(xx + 0.5) * Wn / gw, (yy + 0.5) * Hn / gh], -1).reshape(-1, 2)
            hp = np.c_[fpts, np.ones(len(fpts))] @ Hinv.T
            pp = hp[:, :2] / np.where(np.abs(hp[:, 2:3]) < 1e-9, 1e-9, hp[:, 2:3])
            dv = np.array([math.cos(P["tdir"]), math.sin(P["tdir"])])
            u = (pp - [pw / 2, ph / 2]) @ dv
            z = G["D"] + u * math.sin(math.radians(P["tilt"]))
            z = np.maximum(z, 0.2 * G["D"])
            uf = g.uniform(-0.3, 0.05) * max(pw, ph)
            zf = G["D"] + uf * math.sin(math.radians(P["tilt"]))
            coc = np.abs(z - zf) / z
            pagecoc = np.abs((G["D"] + np.array([-0.5, 0.5]) * max(pw, ph) * math.sin(math.radians(P["tilt"]))) - zf)
            pagecoc = (pagecoc / (G["D"] + np.array([-0.5, 0.5]) * max(pw, ph) * math.sin(math.radians(P["tilt"])))).max()
            rm = np.clip(coc / max(pagecoc, 1e-6), 0, 1.25).reshape(gh, gw).astype(np.float32)
            desc.append(f"depth-of-field blur up to {rmax_f:.1f}px")
        else:
            ang = g.uniform(0, 2 * np.pi)
            yy, xx = np.mgrid[0:36, 0:48].astype(np.float32)
            nx, ny = (xx + 0.5) / 48 * 2 - 1, (yy + 0.5) / 36 * 2 - 1
            proj = (nx * math.cos(ang) + ny * math.sin(ang)) / (abs(math.cos(ang)) + abs(math.sin(ang)))
            t0 = g.uniform(0.0, 0.35)
            rm = np.clip((proj - t0) / (1 - t0), 0, 1) ** 1.3
            where = ["right", "lower right", "bottom", "lower left", "left", "upper left", "top", "upper right"][int(((math.degrees(ang) + 22.5) % 360) // 45)]
            desc.append(f"soft focus toward {where} edge/corner (up to {rmax_f:.1f}px), sharp centre")
        rmap = cv2.resize(rm, (Wn, Hn), interpolation=cv2.INTER_LINEAR) * (rmax_f * scale)
        levels = int(math.ceil(rmap.max())) + 1
        out = np.zeros_like(img)
        for k in range(levels):
            wk = np.clip(1.0 - np.abs(rmap - k), 0, 1)
            if wk.max() <= 0:
                continue
            bk = img if k == 0 else cv2.filter2D(img, -1, disk_kernel(float(k)), borderType=cv2.BORDER_REFLECT)
            out += bk * wk[..., None]
        img = out
    if "motion" in F:
        Lm = min(g.uniform(2.0, 6.0), 0.3 * emf)
        ang = g.uniform(0, 180)
        img = cv2.filter2D(img, -1, motion_kernel(Lm * scale, ang), borderType=cv2.BORDER_REFLECT)
        desc.append(f"motion blur {Lm:.1f}px at {ang:.0f}°")
    if "shake" in F:
        ext = min(g.uniform(3.0, 6.5), 0.32 * emf)
        img = cv2.filter2D(img, -1, shake_kernel(ext * scale, g), borderType=cv2.BORDER_REFLECT)
        desc.append(f"camera shake ~{ext:.1f}px")
    if not ({"steep", "defocus", "motion", "shake"} & F):
        img = cv2.GaussianBlur(img, (0, 0), 0.5 * scale)  # lens softness
    # sensor noise (stronger in dark areas), then phone processing
    sig = g.uniform(6.0, 11.0) if "lowlight" in F else g.uniform(1.2, 3.2)
    img = add_noise(img, sig * (scale ** 0.5), g)
    if "lowlight" in F:
        desc.append(f"sensor noise σ≈{sig:.0f}")
    amt = g.uniform(0.25, 0.7)
    img = img + amt * (img - cv2.GaussianBlur(img, (0, 0), 1.1 * scale))
    out = np.clip(img, 0, 255).astype(np.uint8)
    if P["Ln"] != P["Lf"]:
        out = jpeg_roundtrip(out, g.integers(86, 95))
        k = P["Lf"] / P["Ln"]
        out = cv2.resize(out, (int(round(Wn * k)), int(round(Hn * k))), interpolation=cv2.INTER_AREA)
    if P["rot"]:
        out = np.ascontiguousarray(np.rot90(out, P["rot"]))
    return out, desc


def describe_photo(P, G, extra):
    F = P["flags"]
    parts = ["phone photo"]
    if "table" in F:
        parts.append(f"page ~{int(round(P['fill'] * 100))}% of frame on {BG_NAMES[P['bg']]}")
    else:
        parts.append(f"on {BG_NAMES[P['bg']]}")
    if abs(P["roll"]) >= 3:
        parts.append(f"hand-held roll {P['roll']:+.0f}°")
    tdeg = (math.degrees(P["tdir"]) + 360) % 360
    far = ["right", "bottom", "left", "top"][int(((tdeg + 45) % 360) // 90)]
    if P["tilt"] >= 20:
        parts.append(f"steep perspective {P['tilt']:.0f}° (page {far} edge far)")
    elif P["tilt"] >= 5:
        parts.append(f"tilt {P['tilt']:.0f}°")
    if G["cut"]:
        parts.append(f"{G['cut'][0]} page edge out of frame")
    parts += extra
    if "curl" in F:
        parts.append("paper not flat")
    sz = "WeChat-size" if "wechat" in F else ("small" if "small" in F else "")
    parts.append(f"{sz + ' ' if sz else ''}{P['Lf']}px long side")
    parts.append(f"jpeg q{P['q']} 4:2:0")
    if P["rot"]:
        parts.append({1: "pixels rotated 90° CCW (phone sideways)", 2: "pixels rotated 180° (upside down)",
                      3: "pixels rotated 90° CW (phone sideways)"}[P["rot"]])
    return ", ".join(parts)


BG_NAMES = {"wood": "wooden desk", "gingham": "checked tablecloth", "floral": "floral tablecloth", "stripes": "striped cloth",
            "laminate": "plain desk", "dark": "dark desk"}


def scan_capture(page_L, paper, g):
    dpi = int(g.choice([150, 150, 180, 200, 200]))
    s = dpi / 25.4 / PPM
    ph, pw = page_L.shape
    sw, sh = int(round(pw * s)), int(round(ph * s))
    pg = cv2.resize(page_L, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
    white, black = g.uniform(238, 250), g.uniform(14, 38)
    pg = black + (white - black) * (pg / 255.0)
    bed_w, bed_h = (216, 297) if paper != "A4L" else (297, 216)
    BW, BH = int(round(bed_w * dpi / 25.4)), int(round(bed_h * dpi / 25.4))
    lid = g.uniform(226, 242)
    canvas = np.full((BH, BW), lid, np.float32) + g.normal(0, 1.2, size=(BH, BW)).astype(np.float32)
    ang = g.uniform(0.2, 1.3) * (1 if g.random() < 0.5 else -1)
    ox, oy = g.uniform(1, 4) * dpi / 25.4, g.uniform(1, 4) * dpi / 25.4
    M = cv2.getRotationMatrix2D((sw / 2, sh / 2), ang, 1.0)
    M[0, 2] += ox
    M[1, 2] += oy
    pw_ = cv2.warpAffine(pg, M, (BW, BH), flags=cv2.INTER_LINEAR, borderValue=0)
    mk = cv2.warpAffine(np.ones((sh, sw), np.float32), M, (BW, BH), flags=cv2.INTER_LINEAR, borderValue=0)
    edge = cv2.GaussianBlur(mk, (0, 0), 1.5) - mk
    out = canvas * (1 - mk) + pw_ * mk
    out -= 60 * np.clip(np.abs(edge), 0, 1) * 2.5
    out = cv2.GaussianBlur(out, (0, 0), g.uniform(0.4, 0.65))
    out += g.normal(0, g.uniform(1.0, 2.2), size=out.shape).astype(np.float32)
    gamma = g.uniform(0.9, 1.1)
    out = 255.0 * np.clip(out / 255.0, 0, 1) ** gamma
    q = int(g.integers(70, 91))
    rot = 2 if g.random() < 0.1 else 0
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rot:
        out = np.ascontiguousarray(np.rot90(out, rot))
    desc = f"flat-bed scan, {dpi} dpi greyscale, skew {ang:+.1f}°, {'page on A4 bed, ' if paper == 'A5L' else ''}jpeg q{q}"
    if rot:
        desc += ", placed upside down (rotated 180°)"
    return out, q, desc


# --------------------------------------------------------------------------------------------
# capture planning (which conditions each photo gets)
# --------------------------------------------------------------------------------------------

PRIMARY = ["motion", "shake", "steep", "defocus", "lowlight", "wechat", "small", "edge_cut", "table", "sideways", "upside", "scan"]
PRIMARY_W = [1.2, 1.0, 1.2, 1.0, 1.2, 1.0, 0.7, 1.0, 1.1, 0.9, 0.5, 0.8]


FEAS = {"small": (1000, 12.5), "wechat": (1280, 12.5), "wechat_heavy": (1280, 14.5)}


def feasible(info, what):
    """Rough check that a sheet's table text can stay legible at a given output size."""
    Lf, thr = FEAS[what]
    return info["font_mm"] / info["page_long_mm"] * Lf * 0.8 >= thr


def plan_captures(n, seed, infos):
    r = Rnd(seed, 999)
    ncap = [2 if r.p(0.4) else 1 for _ in range(n)]
    total = sum(ncap)
    deck = []
    while len(deck) < total:
        chunk = []
        for p, w in zip(PRIMARY, PRIMARY_W):
            chunk += [p] * max(1, int(round(w * 2)))
        perm = r.g.permutation(len(chunk)).tolist()
        deck += [chunk[i] for i in perm]
    out, k = [], 0
    for i in range(n):
        caps = deck[k:k + ncap[i]]
        k += ncap[i]
        if len(caps) == 2 and (caps[0] == caps[1] or caps.count("scan") == 2):
            caps[1] = next(p for p in PRIMARY if p != caps[0] and p != "scan")
        out.append(caps)
    # move small / WeChat-size captures onto sheets whose print is large enough to survive them
    slots = [(i, j) for i in range(n) for j in range(len(out[i]))]
    for (i, j) in slots:
        p = out[i][j]
        if p in ("small", "wechat") and not feasible(infos[i], p):
            for (k, l) in slots:
                q = out[k][l]
                if k == i or q in ("small", "wechat", "scan") or not feasible(infos[k], p):
                    continue
                if p in out[k] or q in out[i]:
                    continue
                out[i][j], out[k][l] = q, p
                break
    return out


def capture_flags(primary, r, info):
    F = {primary}
    if r.p(0.75) or primary in ("motion", "shake"):
        F.add("roll")
    if primary != "lowlight" and r.p(0.25):
        F.add("warm")
    if r.p(0.28):
        F.add("shadow")
    if primary not in ("motion", "shake") and r.p(0.15):
        F.add(r.c(["motion", "shake"]))
    if primary not in ("small", "wechat") and r.p(0.3) and feasible(info, "wechat"):
        F.add("wechat")
    if primary not in ("sideways", "upside") and r.p(0.12):
        F.add("sideways")
    if primary == "lowlight" and r.p(0.6) and feasible(info, "wechat_heavy"):
        F.add("wechat")
    if ("lowlight" in F or "motion" in F or "shake" in F) and "wechat" in F and not feasible(info, "wechat_heavy"):
        if primary in ("wechat", "small"):
            F.discard("motion")
            F.discard("shake")
        else:
            F.discard("wechat")
    if r.p(0.4):
        F.add("curl")
    return F


# --------------------------------------------------------------------------------------------
# per-sheet work
# --------------------------------------------------------------------------------------------


def sheet_info(args):
    sid, idx, rtype, seed = args
    cv2.setNumThreads(1)
    sheet = make_sheet(sid, idx, rtype, seed)
    _, info = render_sheet(sheet)
    return {"paper": info["paper"], "font_mm": info["font_mm"], "page_long_mm": max(PAPERS[info["paper"]])}


def build_sheet(args):
    sid, idx, rtype, seed, caps, outdir = args
    cv2.setNumThreads(1)
    sheet = make_sheet(sid, idx, rtype, seed)
    page, info = render_sheet(sheet)
    finfo = {"paper": info["paper"], "font_mm": info["font_mm"], "page_long_mm": max(PAPERS[info["paper"]])}
    ph, pw = page.shape
    # transcript items come from exactly the strings that were drawn
    items = []
    for dr in info["drawn"]:
        lg = dr["log"]
        items.append({"block": dr["block"], "row": dr["row"], "name_printed": lg["name"], "code_printed": lg["code"],
                      "value": lg["value"], "flag_printed": lg["flag"], "range_printed": lg["range"],
                      "unit_printed": lg["unit"], "uncertain": []})
    # cross-check against the row data used to draw
    flat = [row for row in sheet["rows"]]
    assert len(flat) == len(items)
    cols = info["cols"]
    for row, it in zip(flat, items):
        assert it["name_printed"] == row["name"] and it["value"] == row["value"]
        assert it["flag_printed"] == (row["flag"] if ("flag" in cols or "valflag" in cols) else "")
        assert it["range_printed"] == (row["range"] if "range" in cols else "")
        assert it["unit_printed"] == (row["unit"] if "unit" in cols else "")
        assert it["code_printed"] == (row["code"] if "code" in cols else "")
    files, photos, ems = [], [], []
    nphoto = 0
    for ci, prim in enumerate(caps):
        g = np.random.default_rng([seed, idx, ci, 4242])
        r = Rnd(seed, idx, ci, 17)
        if prim == "scan":
            out, q, desc = scan_capture(page, info["paper"], g)
            ems.append(info["em"] * (150 / 25.4 / PPM if "150 dpi" in desc else (180 if "180 dpi" in desc else 200) / 25.4 / PPM))
            fname = f"{sid}__scan.jpg"
            Image.fromarray(out).save(os.path.join(outdir, "images", fname), "JPEG", quality=q)
        else:
            nphoto += 1
            F = capture_flags(prim, r, finfo)
            P, G = plan_photo(F, r, pw, ph, info["row_boxes"], info["em"])
            ems.append(G["em_eff"])
            if "table" in P["flags"]:  # patterned tablecloth or wooden desk clearly visible around the page
                P["bg"] = r.c(["wood", "gingham", "floral", "stripes"], [3, 2, 1.5, 1])
            elif r.p(0.6):
                P["bg"] = r.c(["wood", "gingham", "floral", "stripes", "laminate", "dark"], [3, 2, 1.5, 1, 2, 1])
            else:
                P["bg"] = r.c(["laminate", "wood", "dark"])
            out, extra = render_photo(page, sheet["layout"]["paper"], sheet["layout"]["ink"], P, G, g, pw, ph)
            desc = describe_photo(P, G, extra)
            fname = f"{sid}__photo{nphoto}.jpg"
            Image.fromarray(out).save(os.path.join(outdir, "images", fname), "JPEG", quality=int(P["q"]), subsampling=2)
        files.append(fname)
        photos.append(desc)
    L = sheet["layout"]
    nb = info["nb"]
    hn = L["hdr_names"]
    colnames = []
    for c in info["cols"]:
        if c == "no":
            continue
        lab = hn.get("value" if c == "valflag" else c, "")
        colnames.append((lab or "(unlabelled flag)") + ("+flag" if c == "valflag" else ""))
    fs = {"arrow": "arrows ↑/↓", "HL": "H/L letters", "cn": "偏高/偏低 words", "star": "* marks", "none": "no flag column"}[L["flag_style"]]
    notes = (f"{info['paper']} page, {nb} side-by-side block(s) of {'+'.join(str(x) for x in info['blocks'])} rows; "
             f"columns {'/'.join(colnames)}{' after a row number' if 'no' in info['cols'] else ''}; flags: {fs}"
             f"{'' if L['flag_style'] != 'arrow' else ' (qualitative abnormals use ↑, text abnormals *)'}; "
             f"rules: {L['rules']}; table font {info['font_mm']:.1f} mm. row = position within its block. "
             + " | ".join(f"{f}: {p} (smallest result text ~{e:.0f}px)" for f, p, e in zip(files, photos, ems)))
    tr = {"sheet": sid, "files": files, "report_type": sheet["report_type"], "transcriber": TRANSCRIBER,
          "rows_not_legible": 0, "notes": notes, "items": items}
    with open(os.path.join(outdir, "transcripts", f"{sid}.json"), "w", encoding="utf-8") as fh:
        json.dump(tr, fh, ensure_ascii=False, indent=1)
    return [{"file": f, "sheet": sid, "report_type": sheet["report_type"], "hospital": sheet["hospital"],
             "rows_approx": len(items), "photo": p, "source_repo": SOURCE_REPO} for f, p in zip(files, photos)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    a = ap.parse_args(argv)
    if a.n < 1:
        raise SystemExit("-n must be >= 1")
    os.makedirs(os.path.join(a.out, "images"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "transcripts"), exist_ok=True)
    types = allocate_types(a.n, Rnd(a.seed, 1))
    ids = sheet_ids(a.n)
    pre = [(ids[i], i + 1, types[i], a.seed) for i in range(a.n)]
    pool = Pool(a.jobs) if a.jobs > 1 else None
    mp = pool.map if pool else (lambda f, xs: [f(x) for x in xs])
    try:
        infos = mp(sheet_info, pre)
        caps = plan_captures(a.n, a.seed, infos)
        jobs = [(ids[i], i + 1, types[i], a.seed, caps[i], a.out) for i in range(a.n)]
        results = mp(build_sheet, jobs)
    finally:
        if pool:
            pool.close()
            pool.join()
    with open(os.path.join(a.out, "images.csv"), "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["file", "sheet", "report_type", "hospital", "rows_approx", "photo", "source_repo"])
        w.writeheader()
        for rs in results:
            for row in rs:
                w.writerow(row)
    print(f"wrote {sum(len(x) for x in results)} images for {a.n} sheets to {a.out}")


if __name__ == "__main__":
    main()
