#!/usr/bin/env python3
"""Blind synthetic test-set generator G: analyser printouts and old-style forms.

Draws invented lab reports of the kind small clinics and county hospitals hand
out, then "captures" them as phone photos and/or flat scans:

  * haematology analyser printouts (thermal strips, small laser A5/A4 pages)
    with 3-part / 5-part parameters, H/L flags, histograms and DIFF scatter;
  * pre-printed coloured forms (ink grid + item names) over-printed by a
    dot-matrix or laser printer out of register;
  * carbonless second/third plies (faint smeared blue/purple impact print);
  * urine dry-chemistry and biochemistry analyser strips;
  * ordinary mainland LIS report sheets (血常规, 尿常规, 粪常规, 生化, PSA).

Everything (hospitals, people, values) is random and invented.

Usage: python bench/blind_sheets_g.py --out DIR [--seed 7] [-n 30] [--jobs 2]
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from functools import lru_cache
from multiprocessing import Pool

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

PXMM = 8.0            # paper canvas resolution, px per mm (~203 dpi)
MIN_DIGIT_PX = 15.0   # digit height of the smallest result in the final image
SOURCE = "synthetic-g"


class Retry(Exception):
    """Layout came out unusable; the sheet is redrawn with another sub-seed."""


# --------------------------------------------------------------------------
# fonts
# --------------------------------------------------------------------------
_FD = "/usr/share/fonts"
FONTS = {
    "sans": (f"{_FD}/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    "sansb": (f"{_FD}/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    "sansmono": (f"{_FD}/opentype/noto/NotoSansCJK-Regular.ttc", 7),
    "serif": (f"{_FD}/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    "serifb": (f"{_FD}/opentype/noto/NotoSerifCJK-Bold.ttc", 2),
    "zen": (f"{_FD}/truetype/wqy/wqy-zenhei.ttc", 0),
    "zenmono": (f"{_FD}/truetype/wqy/wqy-zenhei.ttc", 1),
    "micro": (f"{_FD}/truetype/wqy/wqy-microhei.ttc", 0),
    "ming": (f"{_FD}/truetype/arphic/uming.ttc", 0),
    "dvmono": (f"{_FD}/truetype/dejavu/DejaVuSansMono.ttf", 0),
    "dvmonob": (f"{_FD}/truetype/dejavu/DejaVuSansMono-Bold.ttf", 0),
    "dvsans": (f"{_FD}/truetype/dejavu/DejaVuSans.ttf", 0),
    "dvsansb": (f"{_FD}/truetype/dejavu/DejaVuSans-Bold.ttf", 0),
    "dvcond": (f"{_FD}/truetype/dejavu/DejaVuSansCondensed.ttf", 0),
}
LATIN_ONLY = {"dvmono", "dvmonob", "dvsans", "dvsansb", "dvcond"}


@lru_cache(maxsize=None)
def font(key, size):
    path, idx = FONTS[key]
    f = ImageFont.truetype(path, int(size), index=idx)
    f.key = key
    return f


def _glyph_img(key, ch):
    img = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(img).text((8, 8), ch, fill=255, font=font(key, 30))
    return img.tobytes()


@lru_cache(maxsize=None)
def _notdef(key):
    return _glyph_img(key, "\uffff")


@lru_cache(maxsize=None)
def _has_glyph(key, ch):
    if ch.isspace():
        return True
    return _glyph_img(key, ch) != _notdef(key)


def check_glyphs(fnt, s):
    for ch in s:
        if not _has_glyph(fnt.key, ch):
            raise RuntimeError(f"font {fnt.key} lacks glyph {ch!r} in {s!r}")


# --------------------------------------------------------------------------
# random helper
# --------------------------------------------------------------------------
class R:
    def __init__(self, seq):
        self.g = np.random.default_rng(seq)

    def u(self, a, b):
        return float(self.g.uniform(a, b))

    def i(self, a, b):
        return int(self.g.integers(a, b + 1))

    def p(self, prob):
        return bool(self.g.random() < prob)

    def n(self, mu, sd):
        return float(self.g.normal(mu, sd))

    def c(self, seq):
        return seq[int(self.g.integers(len(seq)))]

    def w(self, seq, weights):
        w = np.asarray(weights, float)
        return seq[int(self.g.choice(len(seq), p=w / w.sum()))]


def smooth_noise(r, h, w, cell):
    """Zero-mean unit-ish low-frequency noise field of shape (h, w)."""
    lh, lw = max(2, h // cell + 2), max(2, w // cell + 2)
    low = r.g.normal(0, 1, (lh, lw)).astype(np.float32)
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)


def fmt(v, d):
    s = f"{v:.{d}f}"
    if float(s) == 0:
        s = s.lstrip("-")
    return s


# --------------------------------------------------------------------------
# invented people and places
# --------------------------------------------------------------------------
SURN = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余杜叶程魏苏吕丁沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万严覃戴莫孔向汤")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红梅玉凤云飞鹏辉玲燕春晓文斌宇浩然欣怡子涵佳琪淑珍德福海波林峰")
PLACE1 = list("青禾澄岚柳溪桐岭沅枫棠霁汀杉苇芦萍栖梧蓝檀榆楠栎茗蕖苍渌泓瑶")
PLACE2 = list("川阳山源口坪桥湾塘岗坝集店营庄堡屯沟圩浦")
HOSP_FMT = ["{p}县人民医院", "{p}县中医医院", "{p}镇卫生院", "{p}乡卫生院", "{p}县第二人民医院",
            "{p}街道社区卫生服务中心", "{p}县妇幼保健院", "{p}区人民医院", "{p}县{q}镇中心卫生院",
            "{p}市{q}区医院", "{p}综合门诊部", "{p}医院"]
DEPTS = ["内科", "外科", "妇科", "儿科", "门诊", "急诊科", "体检科", "中医科", "感染科", "泌尿外科", "全科", "消化内科"]
MODELS = ["HX-3180", "XC-5160", "BH-2210", "DA-5260", "MH-3D", "KH-8600", "HT-3120", "QX-5D"]
UMODELS = ["UA-120", "URS-300", "UX-11", "DU-500", "UT-130"]
BMODELS = ["BS-180i", "SC-210", "KB-60", "CA-80", "LB-120"]


def pname(r):
    return r.c(SURN) + "".join(r.c(GIVEN) for _ in range(r.c([1, 2, 2])))


def place(r):
    return r.c(PLACE1) + r.c(PLACE2)


def hospital(r):
    return r.c(HOSP_FMT).format(p=place(r), q=place(r))


def patient(r, sex=None):
    sex = sex or r.c("MF")
    y, mo, d = r.i(2023, 2025), r.i(1, 12), r.i(1, 28)
    hh, mm = r.i(7, 15), r.i(0, 59)
    rt = hh * 60 + mm + r.i(20, 200)
    return dict(name=pname(r), sex=sex, sexc="男" if sex == "M" else "女", age=r.i(19, 84),
                dept=r.c(DEPTS), bed=str(r.i(1, 60)) if r.p(0.4) else "", pid=f"{r.i(10000, 999999)}",
                sno=str(r.i(1, 399)), date=f"{y}-{mo:02d}-{d:02d}", time=f"{hh:02d}:{mm:02d}",
                rtime=f"{rt // 60:02d}:{rt % 60:02d}", sec=f"{r.i(0, 59):02d}",
                doctor=pname(r), tech=pname(r), chk=pname(r), y=y, mo=mo, d=d)


# --------------------------------------------------------------------------
# analytes and value generation (ordinary textbook adult ranges)
# --------------------------------------------------------------------------
def parse_rng(spec):
    a, b = spec
    if a in ("<", ">"):
        return ("lt" if a == "<" else "gt"), float(b), float(b)
    return "rng", float(a), float(b)


def rng_text(spec, sep):
    a, b = spec
    if a in ("<", ">"):
        return a + b
    return f"{a}{sep}{b}"


def flag_of(x, spec):
    kind, lo, hi = parse_rng(spec)
    if kind == "rng":
        return "H" if x > hi else ("L" if x < lo else "")
    if kind == "lt":
        return "H" if x >= hi else ""
    return "L" if x <= lo else ""


def gen_q(r, spec, dec, p):
    kind, lo, hi = parse_rng(spec)
    for _ in range(40):
        if kind == "rng":
            if r.p(p):
                v = lo * r.u(0.62, 0.93) if (lo > 0 and r.p(0.35)) else hi * r.u(1.08, 2.0)
            else:
                v = r.u(lo + 0.08 * (hi - lo), hi - 0.08 * (hi - lo))
        elif kind == "lt":
            v = hi * r.u(1.06, 1.8) if r.p(p) else hi * r.u(0.35, 0.92)
        else:
            v = lo * r.u(0.55, 0.93) if r.p(p) else lo * r.u(1.08, 1.7)
        s = fmt(v, dec)
        if float(s) not in (lo, hi):
            return s
    return s


def sexed(spec, sex):
    return spec[sex] if isinstance(spec, dict) else spec


# code: (Chinese name, short name, unit key, range spec, decimals)
CBC = {
    "WBC": ("白细胞计数", "白细胞", "e9", ("3.5", "9.5"), 2),
    "NEU%": ("中性粒细胞百分比", "中性粒细胞比率", "%", ("40.0", "75.0"), 1),
    "LYM%": ("淋巴细胞百分比", "淋巴细胞比率", "%", ("20.0", "50.0"), 1),
    "MON%": ("单核细胞百分比", "单核细胞比率", "%", ("3.0", "10.0"), 1),
    "EOS%": ("嗜酸性粒细胞百分比", "嗜酸细胞比率", "%", ("0.4", "8.0"), 1),
    "BAS%": ("嗜碱性粒细胞百分比", "嗜碱细胞比率", "%", ("0.0", "1.0"), 1),
    "NEU#": ("中性粒细胞绝对值", "中性粒细胞数", "e9", ("1.80", "6.30"), 2),
    "LYM#": ("淋巴细胞绝对值", "淋巴细胞数", "e9", ("1.10", "3.20"), 2),
    "MON#": ("单核细胞绝对值", "单核细胞数", "e9", ("0.10", "0.60"), 2),
    "EOS#": ("嗜酸性粒细胞绝对值", "嗜酸细胞数", "e9", ("0.02", "0.52"), 2),
    "BAS#": ("嗜碱性粒细胞绝对值", "嗜碱细胞数", "e9", ("0.00", "0.06"), 2),
    "MID#": ("中间细胞绝对值", "中间细胞数", "e9", ("0.10", "0.90"), 2),
    "GRAN#": ("中性粒细胞绝对值", "中性粒细胞数", "e9", ("2.00", "7.00"), 2),
    "MID%": ("中间细胞百分比", "中间细胞比率", "%", ("3.0", "10.0"), 1),
    "GRAN%": ("中性粒细胞百分比", "中性粒细胞比率", "%", ("50.0", "70.0"), 1),
    "RBC": ("红细胞计数", "红细胞", "e12", {"M": ("4.30", "5.80"), "F": ("3.80", "5.10")}, 2),
    "HGB": ("血红蛋白", "血红蛋白", "g/L", {"M": ("130", "175"), "F": ("115", "150")}, 0),
    "HCT": ("红细胞压积", "红细胞压积", "%", {"M": ("40.0", "50.0"), "F": ("35.0", "45.0")}, 1),
    "MCV": ("平均红细胞体积", "平均红细胞体积", "fL", ("82.0", "100.0"), 1),
    "MCH": ("平均红细胞血红蛋白含量", "平均血红蛋白量", "pg", ("27.0", "34.0"), 1),
    "MCHC": ("平均红细胞血红蛋白浓度", "平均血红蛋白浓度", "g/L", ("316", "354"), 0),
    "RDW-CV": ("红细胞分布宽度-CV", "红细胞分布宽度", "%", ("11.5", "14.5"), 1),
    "RDW-SD": ("红细胞分布宽度-SD", "红细胞分布宽度", "fL", ("39.0", "46.0"), 1),
    "PLT": ("血小板计数", "血小板", "e9", ("125", "350"), 0),
    "MPV": ("平均血小板体积", "平均血小板体积", "fL", ("7.4", "10.4"), 1),
    "PDW": ("血小板分布宽度", "血小板分布宽度", "fL", ("9.0", "17.0"), 1),
    "PCT": ("血小板压积", "血小板压积", "%", ("0.108", "0.282"), 3),
    "P-LCR": ("大血小板比率", "大血小板比率", "%", ("13.0", "43.0"), 1),
}
RED_PLT = ["RBC", "HGB", "HCT", "MCV", "MCH", "MCHC", "RDW-CV", "RDW-SD", "PLT", "MPV", "PDW", "PCT", "P-LCR"]
CBC5_ORDER = ["WBC", "NEU%", "LYM%", "MON%", "EOS%", "BAS%", "NEU#", "LYM#", "MON#", "EOS#", "BAS#"] + RED_PLT
CBC3_ORDER = ["WBC", "LYM#", "MID#", "GRAN#", "LYM%", "MID%", "GRAN%", "HGB", "RBC", "HCT", "MCV", "MCH", "MCHC",
              "RDW-CV", "RDW-SD", "PLT", "MPV", "PDW", "PCT", "P-LCR"]


def cbc_numbers(r, sex, p):
    """Internally consistent blood count (numbers before rounding)."""
    wbc = r.u(4.2, 8.9)
    if r.p(p * 1.3):
        wbc = r.c([r.u(9.9, 17.5), r.u(2.1, 3.3)])
    neu, lym, mon, eos, bas = r.n(58, 6), r.n(31, 5), r.u(4, 8), r.u(0.8, 4.5), r.u(0.1, 0.7)
    if wbc > 9.5 and r.p(0.7):
        neu, lym = r.u(76, 88), r.u(7, 17)
    elif r.p(p * 0.5):
        neu, lym = r.u(30, 39), r.u(48, 58)
    if r.p(p * 0.4):
        eos = r.u(8.5, 13)
    tot = neu + lym + mon + eos + bas
    pc = [round(x * 100 / tot, 1) for x in (neu, lym, mon, eos, bas)]
    pc[0] = round(100 - sum(pc[1:]), 1)
    base = {"M": 4.95, "F": 4.45}[sex]
    rbc = r.n(base, 0.28)
    mcv, mch = r.n(90, 3.5), 0
    if r.p(p):
        if r.p(0.6):        # microcytic anaemia
            mcv = r.u(66, 80)
            mch = mcv * r.u(0.29, 0.32)
            rbc = r.n(base - 0.3, 0.3)
        else:
            rbc = r.u(base - 1.3, base - 0.7)
    if not mch:
        mch = mcv * r.u(0.320, 0.352)
    hgb = rbc * mch
    hct = rbc * mcv / 10
    rdwcv = r.u(11.9, 14.0) if mcv > 80 else r.u(15.2, 19.5)
    rdwsd = mcv * rdwcv / 100 * r.u(3.35, 3.7)
    plt = r.u(150, 320)
    if r.p(p):
        plt = r.c([r.u(55, 118), r.u(365, 520)])
    mpv = r.u(7.9, 10.2)
    pdw = r.u(10.5, 16.2)
    pct = plt * mpv / 10000
    plcr = min(42.0, max(14.0, (mpv - 6.2) * r.u(6.0, 7.5)))
    v = {"WBC": wbc, "NEU%": pc[0], "LYM%": pc[1], "MON%": pc[2], "EOS%": pc[3], "BAS%": pc[4],
         "RBC": rbc, "HGB": hgb, "HCT": hct, "MCV": mcv, "MCH": mch, "MCHC": 1000 * mch / mcv,
         "RDW-CV": rdwcv, "RDW-SD": rdwsd, "PLT": plt, "MPV": mpv, "PDW": pdw, "PCT": pct, "P-LCR": plcr}
    for k, frac in (("NEU#", pc[0]), ("LYM#", pc[1]), ("MON#", pc[2]), ("EOS#", pc[3]), ("BAS#", pc[4])):
        v[k] = wbc * frac / 100
    v["MID%"] = round(pc[2] + pc[3] + pc[4], 1)
    v["GRAN%"] = pc[0]
    v["LYM%"] = pc[1]
    v["MID#"], v["GRAN#"] = wbc * v["MID%"] / 100, wbc * pc[0] / 100
    return v


def unit_of(key, st):
    if key == "e9":
        return st["u9"]
    if key == "e12":
        return st["u12"]
    return key.replace("umol", st.get("umol", "umol"))


def cbc_rows(r, pat, st, five, p):
    v = cbc_numbers(r, pat["sex"], p)
    rows = []
    for code in (CBC5_ORDER if five else CBC3_ORDER):
        cn, short, uk, spec, dec = CBC[code]
        spec = sexed(spec, pat["sex"])
        if code == "WBC":
            dec = st.get("wbc_dec", 2)
        s = fmt(v[code], dec)
        rows.append(dict(code=code, name=short if st.get("short") else cn, value=s,
                         abn=flag_of(float(s), spec), spec=spec, dec=dec, unit=unit_of(uk, st)))
    return rows


BIO = {
    "ALT": ("丙氨酸氨基转移酶", "U/L", {"M": ("9", "50"), "F": ("7", "40")}, 0),
    "AST": ("天门冬氨酸氨基转移酶", "U/L", {"M": ("15", "40"), "F": ("13", "35")}, 0),
    "GGT": ("γ-谷氨酰基转移酶", "U/L", {"M": ("10", "60"), "F": ("7", "45")}, 0),
    "ALP": ("碱性磷酸酶", "U/L", {"M": ("45", "125"), "F": ("35", "100")}, 0),
    "TBIL": ("总胆红素", "umol/L", ("3.4", "20.5"), 1),
    "DBIL": ("直接胆红素", "umol/L", ("0.0", "6.8"), 1),
    "IBIL": ("间接胆红素", "umol/L", ("1.7", "13.7"), 1),
    "TP": ("总蛋白", "g/L", ("65.0", "85.0"), 1),
    "ALB": ("白蛋白", "g/L", ("40.0", "55.0"), 1),
    "GLB": ("球蛋白", "g/L", ("20.0", "40.0"), 1),
    "A/G": ("白球比", "", ("1.2", "2.4"), 2),
    "GLU": ("葡萄糖", "mmol/L", ("3.90", "6.10"), 2),
    "UREA": ("尿素", "mmol/L", {"M": ("3.1", "8.0"), "F": ("2.6", "7.5")}, 2),
    "CREA": ("肌酐", "umol/L", {"M": ("57", "97"), "F": ("41", "73")}, 1),
    "UA": ("尿酸", "umol/L", {"M": ("208", "428"), "F": ("155", "357")}, 0),
    "TC": ("总胆固醇", "mmol/L", ("<", "5.20"), 2),
    "TG": ("甘油三酯", "mmol/L", ("<", "1.70"), 2),
    "HDL-C": ("高密度脂蛋白胆固醇", "mmol/L", (">", "1.04"), 2),
    "LDL-C": ("低密度脂蛋白胆固醇", "mmol/L", ("<", "3.40"), 2),
    "K": ("钾", "mmol/L", ("3.50", "5.30"), 2),
    "Na": ("钠", "mmol/L", ("137.0", "147.0"), 1),
    "Cl": ("氯", "mmol/L", ("99.0", "110.0"), 1),
    "Ca": ("钙", "mmol/L", ("2.11", "2.52"), 2),
    "CK": ("肌酸激酶", "U/L", {"M": ("50", "310"), "F": ("40", "200")}, 0),
    "LDH": ("乳酸脱氢酶", "U/L", ("120", "250"), 0),
}
LIVER = ["ALT", "AST", "GGT", "ALP", "TBIL", "DBIL", "IBIL", "TP", "ALB", "GLB", "A/G"]
KIDNEY = ["UREA", "CREA", "UA", "GLU"]
LIPID = ["TC", "TG", "HDL-C", "LDL-C"]
ELEC = ["K", "Na", "Cl", "Ca"]


def bio_rows(r, pat, st, codes, p):
    sex = pat["sex"]
    vals = {}
    for code in codes:
        cn, uk, spec, dec = BIO[code]
        vals[code] = gen_q(r, sexed(spec, sex), dec, p)
    if "TP" in codes and "ALB" in codes:
        tp, alb = float(vals["TP"]), float(vals["ALB"])
        if tp - alb < 16:
            tp = alb + r.u(20, 33)
            vals["TP"] = fmt(tp, 1)
        glb = float(vals["TP"]) - alb
        if "GLB" in codes:
            vals["GLB"] = fmt(glb, 1)
        if "A/G" in codes:
            vals["A/G"] = fmt(alb / glb, 2)
    if "TBIL" in codes and "DBIL" in codes:
        tb = float(vals["TBIL"])
        db = tb * r.u(0.18, 0.38)
        vals["DBIL"] = fmt(db, 1)
        if "IBIL" in codes:
            vals["IBIL"] = fmt(tb - float(vals["DBIL"]), 1)
    rows = []
    for code in codes:
        cn, uk, spec, dec = BIO[code]
        spec = sexed(spec, sex)
        s = vals[code]
        rows.append(dict(code=st.get("bcode", {}).get(code, code), name=cn, value=s,
                         abn=flag_of(float(s), spec), spec=spec, dec=dec, unit=unit_of(uk, st)))
    return rows


# urine dry chemistry: code, Chinese name, grades (grade, concentration), unit
URINE = [
    ("LEU", "白细胞", [("-", ""), ("+-", "15"), ("1+", "70"), ("2+", "125"), ("3+", "500")], "Cell/uL"),
    ("NIT", "亚硝酸盐", [("-", ""), ("+", "")], ""),
    ("URO", "尿胆原", [("Norm", "3.3"), ("1+", "33"), ("2+", "66"), ("3+", "131")], "umol/L"),
    ("PRO", "蛋白质", [("-", ""), ("+-", "0.15"), ("1+", "0.3"), ("2+", "1.0"), ("3+", "3.0")], "g/L"),
    ("pH", "酸碱度", None, ""),
    ("BLD", "隐血", [("-", ""), ("+-", "10"), ("1+", "25"), ("2+", "80"), ("3+", "200")], "Cell/uL"),
    ("SG", "比重", None, ""),
    ("KET", "酮体", [("-", ""), ("+-", "0.5"), ("1+", "1.5"), ("2+", "3.9"), ("3+", "7.8")], "mmol/L"),
    ("BIL", "胆红素", [("-", ""), ("1+", "17"), ("2+", "50"), ("3+", "100")], "umol/L"),
    ("GLU", "葡萄糖", [("-", ""), ("+-", "5.5"), ("1+", "14"), ("2+", "28"), ("3+", "55")], "mmol/L"),
    ("VC", "维生素C", [("-", ""), ("+-", "0.6"), ("1+", "1.4"), ("2+", "2.8"), ("3+", "5.7")], "mmol/L"),
]


def urine_grades(r, p):
    """Returns dict code -> (grade_index or numeric string)."""
    out = {}
    for code, cn, grades, unit in URINE:
        if grades is None:
            out[code] = (fmt(r.c([5.0, 5.5, 6.0, 6.0, 6.5, 7.0, 7.5]), 1) if code == "pH"
                         else fmt(r.c([1.010, 1.015, 1.015, 1.020, 1.020, 1.025]), 3))
        else:
            out[code] = r.i(1, len(grades) - 1) if r.p(p * 0.8 + 0.04) else 0
    return out


# --------------------------------------------------------------------------
# the sheet: layers of ink drawn onto paper
# --------------------------------------------------------------------------
PAPERS = {"white": (248, 248, 244), "pink": (250, 226, 230), "yellow": (250, 243, 204),
          "green": (224, 241, 220), "blue": (221, 234, 248), "thermal": (244, 245, 242)}
INKS = {"red": (196, 36, 48), "green": (28, 122, 70), "blue": (36, 66, 168), "black": (22, 22, 24),
        "ribbon": (34, 34, 40), "purple": (88, 52, 140), "carbon_blue": (70, 72, 175),
        "carbon_purple": (104, 60, 160), "thermal": (28, 28, 36)}


class Sheet:
    def __init__(self, w_mm, h_mm, paper):
        self.W, self.H = int(round(w_mm * PXMM)), int(round(h_mm * PXMM))
        self.paper = paper
        self.layers, self.by = [], {}
        self.boxes = []      # (layer, bbox, tag)
        self.rec = {}        # (block,row) -> {field: text}
        self.vbox = {}       # (block,row) -> (layer, bbox, digit_top, digit_bottom)
        self.alpha = None
        self.fmin = 10 ** 9

    def mm(self, v):
        return v * PXMM

    def layer(self, name, ink, mode, strength=1.0, **kw):
        img = Image.new("L", (self.W, self.H), 0)
        L = dict(name=name, ink=ink, mode=mode, strength=strength, img=img, d=ImageDraw.Draw(img), A=None, kw=kw)
        self.layers.append(L)
        self.by[name] = L
        return L

    def text(self, ln, x, y, s, fnt, anchor="lm", tag=None):
        if s == "":
            return None
        check_glyphs(fnt, s)
        d = self.by[ln]["d"]
        d.text((x, y), s, fill=255, font=fnt, anchor=anchor)
        bb = d.textbbox((x, y), s, font=fnt, anchor=anchor)
        self.boxes.append((ln, bb, tag))
        if tag is not None:
            key, field = tag
            rec = self.rec.setdefault(key, {})
            if field in rec:
                raise RuntimeError(f"field drawn twice {tag}")
            rec[field] = s
            if field == "value":
                db = d.textbbox((x, y), "0", font=fnt, anchor=anchor)
                self.vbox[key] = (ln, (min(bb[0], db[0]), min(bb[1], db[1]), max(bb[2], db[2]), max(bb[3], db[3])),
                                  db[1], db[3])
        return bb

    def line(self, ln, pts, w=2):
        self.by[ln]["d"].line([tuple(map(float, p)) for p in pts], fill=255, width=int(w))

    def rect(self, ln, box, w=2):
        self.by[ln]["d"].rectangle([float(v) for v in box], outline=255, width=int(w))

    def dashed(self, ln, p0, p1, w=2, dash=10, gap=7):
        (x0, y0), (x1, y1) = p0, p1
        L = math.hypot(x1 - x0, y1 - y0)
        t = 0.0
        while t < L:
            t2 = min(L, t + dash)
            self.line(ln, [(x0 + (x1 - x0) * t / L, y0 + (y1 - y0) * t / L),
                           (x0 + (x1 - x0) * t2 / L, y0 + (y1 - y0) * t2 / L)], w)
            t += dash + gap

    # ---- compositing ----------------------------------------------------
    def render(self, r):
        H, W = self.H, self.W
        img = np.empty((H, W, 3), np.float32)
        img[:] = self.paper
        img += (smooth_noise(r, H, W, 90) * r.u(0.8, 2.0) + r.g.normal(0, r.u(1.0, 2.2), (H, W)))[..., None]
        for L in self.layers:
            m = np.asarray(L["img"], np.float32) / 255.0
            m = process_ink(m, L, r)
            if L["A"] is not None:
                m = cv2.warpAffine(m, L["A"], (W, H), flags=cv2.INTER_LINEAR)
            ink = np.asarray(L["ink"], np.float32) / 255.0
            img *= 1.0 - m[..., None] * (1.0 - ink)[None, None, :]
            L["m"] = m
        alpha = self.alpha if self.alpha is not None else np.ones((H, W), np.float32)
        return np.clip(img, 0, 255), alpha

    def value_geom(self):
        """Per item: corners and digit-height segment in paper px (after layer misregistration)."""
        out = {}
        for key, (ln, bb, dt, dbm) in self.vbox.items():
            x0, y0, x1, y1 = bb
            xm = (x0 + x1) / 2
            pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [xm, dt], [xm, dbm]], np.float32)
            A = self.by[ln]["A"]
            if A is not None:
                pts = pts @ A[:, :2].T + A[:, 2]
            out[key] = pts
        return out


def dotify(m, p, r):
    H, W = m.shape
    h, w = H // p, W // p
    cells = m[:h * p, :w * p].reshape(h, p, w, p).mean(axis=(1, 3))
    on = (cells > 0.3).astype(np.float32)
    imp = np.zeros((H, W), np.float32)
    ys, xs = np.arange(h) * p + p // 2, np.arange(w) * p + p // 2
    imp[np.ix_(ys, xs)] = on
    rad = 0.62 * p + 0.25
    k = int(math.ceil(rad)) * 2 + 1
    yy, xx = np.mgrid[:k, :k] - k // 2
    ker = np.clip(rad + 0.5 - np.hypot(yy, xx), 0, 1).astype(np.float32)
    out = np.clip(cv2.filter2D(imp, -1, ker), 0, 1)
    return out


def process_ink(m, L, r):
    mode, st = L["mode"], L["strength"]
    H, W = m.shape
    if mode == "offset":
        return cv2.GaussianBlur(m, (0, 0), 0.6) * st
    if mode == "laser":
        m = cv2.GaussianBlur(m, (0, 0), 0.55)
        return m * st * (0.93 + 0.07 * np.clip(smooth_noise(r, H, W, 120), -1, 1))
    if mode == "thermal":
        m = (m > 0.45).astype(np.float32)
        m = cv2.GaussianBlur(m, (0, 0), 0.6)
        fade = 0.82 + 0.12 * np.clip(smooth_noise(r, H, 1, 60), -1.5, 1.5)
        streak = np.ones((1, W), np.float32)
        for _ in range(r.i(0, 2)):
            x = r.i(0, W - 3)
            streak[0, x:x + r.i(1, 2)] = r.u(0.45, 0.7)
        return m * st * fade * streak
    if mode == "dot":
        m = dotify(m, L["kw"].get("pitch", 2), r)
        rib = 0.8 + 0.2 * np.clip(smooth_noise(r, H, W, 40), -1, 1)
        return cv2.GaussianBlur(m, (0, 0), 0.5) * st * rib
    if mode == "carbon":
        if L["kw"].get("dots", True):
            m = dotify(m, L["kw"].get("pitch", 2), r)
        ang = r.u(-25, 25) if r.p(0.7) else r.u(65, 115)
        ln = r.i(3, 6)
        ker = np.zeros((ln * 2 + 1, ln * 2 + 1), np.float32)
        c = ln
        for t in np.linspace(-ln, ln, 4 * ln + 1):
            ker[int(round(c + t * math.sin(math.radians(ang)) * 0.5)),
                int(round(c + t * math.cos(math.radians(ang)) * 0.5))] += 1
        ker /= ker.sum()
        sm = cv2.filter2D(m, -1, ker)
        m = np.maximum(m * 0.75, sm)
        m = cv2.GaussianBlur(m, (0, 0), r.u(0.7, 1.0))
        blotch = 0.78 + 0.22 * np.clip(smooth_noise(r, H, W, 70), -1, 1)
        smudge = np.clip(smooth_noise(r, H, W, 150) - 1.3, 0, 1) * 0.04
        return np.clip(m * st * blotch + smudge, 0, 1)
    raise ValueError(mode)


# --------------------------------------------------------------------------
# table helpers
# --------------------------------------------------------------------------
def plan_cols(specs):
    """specs: list of (field, width, align, gap_after). Returns {field: (x0, x1, align)}, total width."""
    pos, x = {}, 0.0
    for f, w, al, gap in specs:
        pos[f] = (x, x + w, al)
        x += w + gap
    return pos, x - (specs[-1][3] if specs else 0)


def colw(rows, field, fnt, header=""):
    ws = [fnt.getlength(rw.get(field, "")) for rw in rows] + [fnt.getlength(header) if header else 0]
    return max(ws) if ws else 0


ANCH = {"l": "lm", "r": "rm", "c": "mm"}


def put_text_col(sh, ln, pos, field, x_off, yc, s, fnt, tag=None):
    a, b, al = pos[field]
    x = x_off + (a if al == "l" else b if al == "r" else (a + b) / 2)
    return sh.text(ln, x, yc, s, fnt, ANCH[al], tag)


def draw_rows(sh, rows, block, pos, x_off, y0, row_h, fonts, layers, nc_style=None):
    """Draw result rows; fields present in pos are printed. fonts/layers: dict field->..., '*' default."""
    for i, rw in enumerate(rows):
        key = (block, i + 1)
        yc = y0 + row_h * (i + 0.5)
        for field in pos:
            fnt = fonts.get(field, fonts["*"])
            ln = layers.get(field, layers["*"])
            if field == "no":
                put_text_col(sh, ln, pos, field, x_off, yc, str(i + 1), fnt)
            elif field == "namecode":
                a, b, al = pos[field]
                x = x_off + a
                parts = [("name", rw["name"])] if not rw["code"] else {"nc": [("name", rw["name"]), (" ", None), ("code", rw["code"])],
                         "cn": [("code", rw["code"]), (" ", None), ("name", rw["name"])],
                         "n(c)": [("name", rw["name"]), ("(", None), ("code", rw["code"]), (")", None)]}[nc_style]
                if not rw["name"]:
                    parts = [("code", rw["code"])]
                for f2, s in parts:
                    if s is None:
                        if f2.strip():
                            sh.text(ln, x, yc, f2, fnt, "lm")
                        x += fnt.getlength(f2) + (2 if f2.strip() else 0)
                    else:
                        sh.text(ln, x, yc, s, fnt, "lm", tag=(key, f2))
                        x += fnt.getlength(s) + 1
            elif field == "conc":     # urine strip concentration: second part of the value
                if rw.get("conc"):
                    put_text_col(sh, ln, pos, field, x_off, yc, rw["conc"], fnt, tag=(key, "value2"))
            elif field == "pre":      # urine strip '*' prefix column
                if rw.get("flag"):
                    put_text_col(sh, ln, pos, field, x_off, yc, rw["flag"], fnt, tag=(key, "flag"))
            else:
                s = rw.get(field, "")
                if s:
                    put_text_col(sh, ln, pos, field, x_off, yc, s, fnt, tag=(key, field))


def flow(sh, ln, texts, x0, x1, y, fnt, lh, ncol):
    """Place short texts in a grid of ncol cells; a long text spans several cells. Returns rows used."""
    cw = (x1 - x0) / ncol
    col = row = 0
    for t in texts:
        span = max(1, math.ceil((fnt.getlength(t) + fnt.size) / cw))
        if col + span > ncol:
            row, col = row + 1, 0
        sh.text(ln, x0 + col * cw, y + row * lh, t, fnt, "lm")
        col += span
    return row + 1


def printed_item(rw, block, row, fields):
    g = lambda f: rw.get(f, "") if f in fields else ""
    return {"block": block, "row": row, "name_printed": g("name"), "code_printed": g("code"),
            "value": rw.get("value_t", rw["value"]), "flag_printed": g("flag"), "range_printed": g("range"),
            "unit_printed": g("unit"), "uncertain": []}


def finalize_rows(rows, st, sep, fmap):
    """Attach printed range/flag strings to internal rows."""
    for rw in rows:
        if "range" not in rw:
            spec = rw["spec"]
            if st.get("pad_range") and spec[0] not in "<>":
                d = rw["dec"]
                spec = (fmt(float(spec[0]), d), fmt(float(spec[1]), d))
            rw["range"] = rng_text(spec, sep)
        rw["flag"] = fmap.get(rw["abn"], "") if rw["abn"] else ""
    return rows


# --------------------------------------------------------------------------
# histograms and scatter
# --------------------------------------------------------------------------
HIST = {
    "WBC": (400, [0, 100, 200, 300, 400], [35, 98, 135]),
    "RBC": (250, [0, 50, 100, 150, 200, 250], [25, 200]),
    "PLT": (30, [0, 10, 20, 30], [2, 25]),
}


def draw_hist(sh, ln, box, kind, r, tf, lw=2, mcv=90.0):
    x0, y0, x1, y1 = box
    xmax, ticks, disc = HIST[kind]
    th = tf.size
    sh.text(ln, x0 + 4, y0 + th * 0.6, kind, tf, "lm")
    px0, px1 = x0 + th * 0.6, x1 - th * 2.3
    py0, py1 = y0 + th * 1.3, y1 - th * 1.5
    sh.line(ln, [(px0, py1), (px1, py1)], lw)
    if r.p(0.6):
        sh.line(ln, [(px0, py0), (px0, py1)], lw)
    xs = np.linspace(0, xmax, 180)
    if kind == "WBC":
        ys = (np.exp(-0.5 * ((xs - r.u(60, 85)) / r.u(12, 20)) ** 2)
              + r.u(0.15, 0.4) * np.exp(-0.5 * ((xs - r.u(110, 140)) / 15) ** 2)
              + r.u(0.4, 1.1) * np.exp(-0.5 * ((xs - r.u(170, 230)) / r.u(30, 45)) ** 2))
    elif kind == "RBC":
        ys = np.exp(-0.5 * ((np.log(xs + 1) - math.log(mcv)) / r.u(0.13, 0.2)) ** 2)
    else:
        ys = np.exp(-0.5 * ((np.log(xs + 0.5) - math.log(r.u(6, 9.5))) / r.u(0.35, 0.5)) ** 2)
    ys = ys * (1 + 0.03 * r.g.normal(0, 1, ys.size).cumsum() / 10)
    ys = np.clip(ys / ys.max(), 0, 1) * r.u(0.72, 0.95)
    pts = [(px0 + (px1 - px0) * x / xmax, py1 - (py1 - py0) * y) for x, y in zip(xs, ys)]
    sh.line(ln, pts, lw)
    for dv in disc:
        if r.p(0.7):
            x = px0 + (px1 - px0) * dv / xmax
            sh.dashed(ln, (x, py0 + 4), (x, py1), max(1, lw - 1), 6, 5)
    for t in ticks:
        x = px0 + (px1 - px0) * t / xmax
        sh.line(ln, [(x, py1), (x, py1 + 5)], max(1, lw - 1))
        sh.text(ln, x, py1 + 7, str(t), tf, "mt")
    sh.text(ln, x1 - 2, py1 + 7, "fL", tf, "rt")


def draw_scatter(sh, ln, box, r, tf, lw=2):
    x0, y0, x1, y1 = box
    th = tf.size
    sh.text(ln, x0 + 4, y0 + th * 0.6, r.c(["DIFF", "LMNE", "4DIFF"]), tf, "lm")
    px0, py0, px1, py1 = x0 + th * 1.4, y0 + th * 1.4, x1 - 6, y1 - th * 1.5
    sh.rect(ln, (px0, py0, px1, py1), max(1, lw - 1))
    sh.text(ln, (px0 + px1) / 2, py1 + 6, r.c(["SSC", "SS", "FL"]), tf, "mt")
    sh.text(ln, x0 + 2, (py0 + py1) / 2, r.c(["FSC", "FL", "FS"]), tf, "lm")
    d = sh.by[ln]["d"]
    clusters = [(0.25, 0.35, 0.06, 0.08, 380), (0.62, 0.55, 0.1, 0.09, 520), (0.4, 0.7, 0.07, 0.06, 90),
                (0.8, 0.8, 0.05, 0.05, 60), (0.15, 0.15, 0.05, 0.05, 40)]
    for cx, cy, sx, sy, n in clusters:
        n = int(n * r.u(0.6, 1.2))
        xs = np.clip(r.g.normal(cx, sx, n), 0.02, 0.98)
        ys = np.clip(r.g.normal(cy, sy, n), 0.02, 0.98)
        for x, y in zip(xs, ys):
            X, Y = px0 + (px1 - px0) * x, py1 - (py1 - py0) * y
            d.rectangle([X, Y, X + 1.5, Y + 1.5], fill=255)


# --------------------------------------------------------------------------
# styles shared by layouts
# --------------------------------------------------------------------------
def unit_style(r, latin=False):
    u9 = r.w(["10^9/L", "10*9/L", "x10^9/L", "×10^9/L"], [4, 2, 1, 1 if not latin else 1])
    return dict(u9=u9, u12=u9.replace("9", "12"), umol=r.w(["umol", "μmol"], [3, 2]))


FLAGMAPS = {"HL": {"H": "H", "L": "L"}, "arrow": {"H": "↑", "L": "↓"}, "cn": {"H": "偏高", "L": "偏低"},
            "star": {"H": "*", "L": "*"}, "none": {}}


def torn_alpha(r, H, W, top=True, bottom=True):
    a = np.ones((H, W), np.float32)
    xs = np.arange(W)
    for edge, on in (("t", top), ("b", bottom)):
        if not on:
            continue
        walk = np.clip(np.cumsum(r.g.normal(0, 1.6, W)), -10, 10)
        jag = (r.u(4, 14) + walk + 3 * np.abs(np.sin(xs / r.u(3, 8)))).astype(int)
        for x in range(W):
            if edge == "t":
                a[:max(0, jag[x]), x] = 0
            else:
                a[H - max(0, jag[x]):, x] = 0
    return a


# --------------------------------------------------------------------------
# layout: narrow analyser strip (haematology, urine, biochemistry)
# --------------------------------------------------------------------------
def lay_strip(r, pat, hosp, kind):
    mode = "thermal" if (kind == "haem" or r.p(0.7)) else "dot"
    width = r.w([57, 80], [3, 2]) if kind != "urine" else r.w([57, 80], [4, 1])
    if mode == "dot":
        fs = 30
        fk = r.c(["dvmono", "sansmono"])
    else:
        fs = r.c([24, 24, 26])
        fk = r.c(["dvmono", "dvmonob", "sansmono", "zenmono"])
    mono = font(fk, fs)
    cjk_key = fk if fk not in LATIN_ONLY else r.c(["zen", "zenmono", "micro"])
    cjk = font(cjk_key, fs - 2 if mode == "thermal" else fs)
    st = unit_style(r, True)
    st["umol"] = "umol"
    st["short"] = True
    st["pad_range"] = r.p(0.5)
    lang_cn = r.p(0.45)
    p = r.u(0.08, 0.3)
    fields = ["code", "value", "flag", "unit"]
    notes = []
    if kind == "haem":
        five = r.p(0.35)
        st["wbc_dec"] = r.c([1, 2])
        rows = cbc_rows(r, pat, st, five, p)
        fmap = FLAGMAPS[r.w(["HL", "arrow"], [4, 1])]
        rtype = "血常规"
        title = r.c(["血细胞分析报告", "血常规检测报告", "HEMATOLOGY REPORT", "CBC RESULT"])
        model = r.c(MODELS)
        notes.append(f"{width}mm thermal strip from a {'5' if five else '3'}-part haematology analyser")
    elif kind == "urine":
        u = urine_grades(r, p)
        negw = r.c(["-", "-", "neg", "Neg", "NEG"])
        conc = r.p(0.5)
        uro = r.c(["URO", "UBG"])
        order = URINE if r.p(0.7) else URINE[::-1]
        rows = []
        for code, cn, grades, unit in order:
            g = u[code]
            if grades is None:
                rows.append(dict(code=code, name=cn, value=g, abn="", unit=""))
                continue
            grade, c = grades[g]
            val = negw if grade == "-" else grade
            un, cc = "", ""
            if conc and c:
                cc, un = c, unit
            abn = "H" if g > 0 else ""
            rows.append(dict(code=uro if code == "URO" else code, name=cn, value=val, conc=cc, abn=abn, unit=un,
                             value_t=val))
        fmap = {"H": "*"} if r.p(0.8) else {}
        rtype = "尿常规"
        title = r.c(["URINALYSIS", "尿液分析", "URINE TEST", "尿十一项"])
        model = r.c(UMODELS)
        notes.append(f"{width}mm {'thermal' if mode == 'thermal' else 'impact dot-matrix'} strip from a urine "
                     f"dry-chemistry analyser; " + ("'*' marks abnormal rows" if fmap else "no flags printed"))
        if conc:
            notes.append("positive grades printed with a concentration column; the value is the grade, the unit "
                         "is the concentration's")
    else:
        panel = r.w(["liver", "kidney", "mix"], [2, 2, 3])
        codes = {"liver": LIVER[:r.i(6, 11)], "kidney": KIDNEY + (LIPID if r.p(0.5) else []),
                 "mix": ["ALT", "AST", "TBIL", "GLU", "UREA", "CREA", "UA", "TC", "TG"][:r.i(6, 9)]}[panel]
        st["bcode"] = {"Na": "NA", "Cl": "CL", "Ca": "CA"} if r.p(0.5) else {}
        if r.p(0.3):
            st["bcode"]["CREA"] = "CRE"
        rows = bio_rows(r, pat, st, codes, p)
        fmap = FLAGMAPS[r.w(["HL", "arrow"], [3, 1])]
        rtype = {"liver": "肝功能", "kidney": "生化", "mix": "生化"}[panel]
        title = r.c(["BIOCHEMISTRY", "生化分析结果", "CHEMISTRY REPORT"])
        model = r.c(BMODELS)
        notes.append(f"{width}mm {mode} strip from a biochemistry analyser")
    show_name = width == 80 and kind != "urine" and r.p(0.5)
    show_range = width == 80 and kind != "urine" and r.p(0.6)
    if show_range:
        fields.append("range")
    if show_name:
        fields.append("name")
    if kind != "urine":
        finalize_rows(rows, st, r.c(["-", "-", " - "]), fmap)
    else:
        for rw in rows:
            rw["flag"] = fmap.get(rw["abn"], "") if rw["abn"] else ""
    star_prefix = kind == "urine" and r.p(0.6)
    # columns
    sp = fs * 0.5
    specs = []
    if star_prefix:
        specs.append(("pre", mono.getlength("*"), "l", 4))
    specs.append(("code", colw(rows, "code", mono), "l", sp * 1.5))
    if show_name:
        specs.append(("name", colw(rows, "name", cjk), "l", sp))
    vr = r.p(0.6) and kind != "urine"
    has_conc = any(rw.get("conc") for rw in rows)
    specs.append(("value", colw(rows, "value", mono), "r" if vr else "l", sp if has_conc else fs * 0.3))
    if has_conc:
        specs.append(("conc", colw(rows, "conc", mono), "r", fs * 0.3))
    if not star_prefix:
        specs.append(("flag", max(mono.getlength("H"), colw(rows, "flag", mono)), "l", sp))
    specs.append(("unit", colw(rows, "unit", mono), "l", sp))
    if show_range:
        specs.append(("range", colw(rows, "range", mono), "l", 0))
    pos, tw = plan_cols(specs)
    avail = (width - 8) * PXMM
    if tw > avail:
        raise Retry("strip too narrow")
    lh = int(fs * r.u(1.3, 1.55))
    head = []
    if r.p(0.5):
        head.append(("c", hosp, cjk))
    head.append(("c", title, cjk if any(ord(ch) > 127 for ch in title) else mono))
    idl = "样本号" if lang_cn else "Sample ID"
    head += [("l", f"{idl}: {pat['sno']}", cjk if lang_cn else mono),
             ("l", f"{'日期' if lang_cn else 'Date'}: {pat['date']} {pat['time']}", cjk if lang_cn else mono)]
    if kind == "haem":
        ms = "模式: 全血" if lang_cn else r.c(["Mode: WB", "Mode: Whole Blood", "Mode: PD"])
        head.append(("l", ms, cjk if lang_cn else mono))
    if r.p(0.6):
        head.append(("l", f"姓名: {pat['name']}  {pat['sexc']} {pat['age']}岁", cjk))
    else:
        head.append(("l", f"Sex: {'Male' if pat['sex'] == 'M' else 'Female'}  Age: {pat['age']}", mono))
    gh = int(22 * PXMM) if kind == "haem" else 0
    ngraph = 3 if kind == "haem" else 0
    foot = [("l", f"{'操作者' if lang_cn else 'Operator'}: {pat['tech'] if lang_cn else 'admin'}",
             cjk if lang_cn else mono), ("l", model, mono)]
    H = 10 * PXMM + len(head) * lh + lh + len(rows) * lh + lh + ngraph * (gh + 3 * PXMM) + len(foot) * lh + 14 * PXMM
    paper = PAPERS["thermal"] if mode == "thermal" else PAPERS[r.c(["white", "white", "yellow"])]
    sh = Sheet(width, H / PXMM, paper)
    if mode == "thermal":
        sh.layer("p", INKS["thermal"], "thermal", r.u(0.8, 0.97))
    else:
        sh.layer("p", INKS[r.c(["ribbon", "purple"])], "dot", r.u(0.8, 0.95))
    sh.alpha = torn_alpha(r, sh.H, sh.W, top=r.p(0.7), bottom=True)
    x0 = 4 * PXMM + r.u(0, max(0, avail - tw) * 0.3)
    y = 11 * PXMM
    for al, s, f in head:
        check_glyphs(f, s)
        if al == "c":
            sh.text("p", sh.W / 2, y + lh / 2, s, f, "mm")
        else:
            sh.text("p", x0, y + lh / 2, s, f, "lm")
        y += lh
    sep = r.c(["-", "=", "."])
    sh.text("p", sh.W / 2, y + lh / 2, sep * int(avail / mono.getlength(sep)), mono, "mm")
    y += lh
    draw_rows(sh, rows, 1, pos, x0, y, lh, {"*": mono, "name": cjk}, {"*": "p"})
    y += len(rows) * lh
    sh.text("p", sh.W / 2, y + lh / 2, sep * int(avail / mono.getlength(sep)), mono, "mm")
    y += lh
    tf = font(fk if fk in LATIN_ONLY else "dvsans", 18)
    mcv = next((float(rw["value"]) for rw in rows if rw["code"] == "MCV"), 90.0)
    for g in (["WBC", "RBC", "PLT"] if ngraph else []):
        draw_hist(sh, "p", (x0, y, sh.W - 4 * PXMM, y + gh), g, r, tf, 2, mcv)
        y += gh + 3 * PXMM
    for al, s, f in foot:
        sh.text("p", x0, y + lh / 2, s, f, "lm")
        y += lh
    items = [printed_item(rw, 1, i + 1, fields) for i, rw in enumerate(rows)]
    if ngraph:
        notes.append("WBC/RBC/PLT histograms below the table")
    notes.append("columns: " + ", ".join(f for f, *_ in specs))
    return sh, items, dict(report_type=rtype, hospital=hosp if head[0][1] == hosp else "", notes="; ".join(notes))


# --------------------------------------------------------------------------
# layout: analyser laser page (A5 landscape / A4 portrait) with graphs
# --------------------------------------------------------------------------
def lay_haem_page(r, pat, hosp):
    five = r.p(0.55)
    variant = r.w(["a5", "a4right", "a4bottom"], [3, 2, 2])
    st = unit_style(r, True)
    st["short"] = r.p(0.5)
    st["pad_range"] = r.p(0.5)
    st["wbc_dec"] = r.c([1, 2])
    p = r.u(0.1, 0.35)
    rows = cbc_rows(r, pat, st, five, p)
    fmap = FLAGMAPS[r.w(["HL", "arrow"], [3, 1])]
    finalize_rows(rows, st, r.c(["-", " - ", "--"]), fmap)
    lat = r.c(["dvsans", "dvcond", "dvmono"])
    cjkk = r.c(["sans", "micro", "zen"])
    if variant == "a5":
        w_mm, h_mm, fs = 210, 148, r.c([22, 24])
    else:
        w_mm, h_mm, fs = 210, 297, r.c([26, 28])
    fv = font(lat, fs)
    fn = font(cjkk, fs - 2)
    show_name = variant == "a4right" and r.p(0.8)
    nc_first = r.p(0.5)
    fields = ["code", "value", "flag", "unit", "range"] + (["name"] if show_name else [])
    sp = fs * 0.7
    specs = []
    if show_name and not nc_first:
        specs.append(("name", colw(rows, "name", fn), "l", sp))
    specs.append(("code", colw(rows, "code", fv, "Param"), "l", sp))
    if show_name and nc_first:
        specs.append(("name", colw(rows, "name", fn), "l", sp))
    specs += [("value", colw(rows, "value", fv, "Result"), "r", fs * 0.3), ("flag", fv.getlength("H") + 4, "l", sp),
              ("unit", colw(rows, "unit", fv, "Unit"), "l", sp), ("range", colw(rows, "range", fv, "Range"), "l", 0)]
    pos, tw = plan_cols(specs)
    split = CBC5_ORDER.index("RBC") if five else CBC3_ORDER.index("HGB")
    blocks = [rows[:split], rows[split:]] if variant in ("a5", "a4bottom") else [rows]
    sh = Sheet(w_mm, h_mm, PAPERS["white"])
    sh.layer("p", INKS["black"], "laser", r.u(0.85, 1.0))
    m = 9 * PXMM
    cn_head = r.p(0.5)
    hf = font(cjkk if cn_head else lat, fs + 6)
    y = m + 4 * PXMM
    if r.p(0.6):
        sh.text("p", sh.W / 2, y, hosp, font(cjkk, fs + 10), "mm")
        hosp_out = hosp
        y += (fs + 10) * 1.6
    else:
        hosp_out = ""
    sh.text("p", sh.W / 2, y, "血细胞分析报告" if cn_head else r.c(["Hematology Analysis Report", "CBC Report"]), hf, "mm")
    y += fs * 1.8
    lab = (["样本号", "姓名", "性别", "年龄", "模式", "检测时间"] if cn_head else
           ["Sample ID", "Name", "Sex", "Age", "Mode", "Time"])
    vals = [pat["sno"], pat["name"], pat["sexc"] if cn_head else ("Male" if pat["sex"] == "M" else "Female"),
            f"{pat['age']}{'岁' if cn_head else ' Y'}", "全血" if cn_head else r.c(["WB", "CBC+DIFF", "WB-CBC"]),
            f"{pat['date']} {pat['time']}:{pat['sec']}"]
    inf = font(cjkk, fs - 2)
    cw = (sh.W - 2 * m) / 3
    for k, (a, b) in enumerate(zip(lab, vals)):
        sh.text("p", m + cw * (k % 3), y + (k // 3) * fs * 1.5, f"{a}: {b}", inf, "lm")
    y += fs * 3.2
    sh.line("p", [(m, y), (sh.W - m, y)], 2)
    y += fs * 0.9
    row_h = fs * r.u(1.45, 1.7)
    if variant == "a5":
        nmx = max(len(rows) - split, split)
        row_h = max(row_h, min(fs * 2.0, (sh.H - y - 24 * PXMM) / (nmx + 0.7)))
    hdr = {"code": "参数" if cn_head else "Param", "value": "结果" if cn_head else "Result",
           "unit": "单位" if cn_head else "Unit", "range": "参考范围" if cn_head else "Ref. Range",
           "name": "项目" if cn_head else "Item"}
    gap_b = 10 * PXMM
    nblk = len(blocks)
    tab_w = tw * nblk + gap_b * (nblk - 1)
    graph_right = variant in ("a5", "a4right")
    if tab_w > sh.W - 2 * m:
        raise Retry("table too wide")
    gw = sh.W - 2 * m - tab_w - 8 * PXMM
    if graph_right and gw < 55 * PXMM:
        raise Retry("no room for graphs")
    items = []
    for bi, brows in enumerate(blocks):
        xo = m + bi * (tw + gap_b)
        for f, (a, b, al) in pos.items():
            if f != "flag":
                put_text_col(sh, "p", pos, f, xo, y, hdr[f], font(cjkk if cn_head else lat, fs - 2))
        draw_rows(sh, brows, bi + 1, pos, xo, y + row_h * 0.7, row_h, {"*": fv, "name": fn}, {"*": "p"})
        items += [printed_item(rw, bi + 1, i + 1, fields) for i, rw in enumerate(brows)]
    ytab_end = y + row_h * 0.7 + row_h * max(len(b) for b in blocks)
    tf = font("dvsans", r.c([17, 18, 20]))
    graphs = (["DIFF"] if five else ["WBC"]) + ["RBC", "PLT"]
    if five and r.p(0.3):
        graphs.insert(1, "WBC")
    mcv = float(next(rw["value"] for rw in rows if rw["code"] == "MCV"))
    if graph_right:
        gx0, gx1 = sh.W - m - gw, sh.W - m
        gy, gy1 = y - fs * 0.5, ytab_end if variant == "a5" else min(sh.H - 40 * PXMM, ytab_end + 60 * PXMM)
        gh = min((gy1 - gy) / len(graphs), 50 * PXMM)
        for g in graphs:
            box = (gx0, gy, gx1, gy + gh - 2 * PXMM)
            if g == "DIFF":
                draw_scatter(sh, "p", (gx0, gy, min(gx1, gx0 + (gh - 2 * PXMM) * 1.5), box[3]), r, tf)
            else:
                draw_hist(sh, "p", box, g, r, tf, 2, mcv)
            gy += gh
        yend = max(ytab_end, gy)
    else:
        gy = ytab_end + 6 * PXMM
        gwid = (sh.W - 2 * m) / len(graphs)
        for k, g in enumerate(graphs):
            box = (m + k * gwid, gy, m + (k + 1) * gwid - 5 * PXMM, gy + 45 * PXMM)
            draw_scatter(sh, "p", box, r, tf) if g == "DIFF" else draw_hist(sh, "p", box, g, r, tf, 2, mcv)
        yend = gy + 45 * PXMM
    yend += 4 * PXMM
    if yend > sh.H - 16 * PXMM:
        raise Retry("page overflow")
    sh.line("p", [(m, yend), (sh.W - m, yend)], 2)
    sh.text("p", m, yend + fs, f"{'检验者' if cn_head else 'Operator'}: {pat['tech']}", inf, "lm")
    sh.text("p", sh.W - m, yend + fs, f"{'打印时间' if cn_head else 'Printed'}: {pat['date']} {pat['rtime']}",
            inf, "rm")
    notes = (f"small-laser analyser page ({'A5 landscape' if variant == 'a5' else 'A4 portrait'}), "
             f"{'5' if five else '3'}-part CBC, {nblk} table block(s) "
             f"{'with Chinese names' if show_name else 'codes only'}, graphs "
             f"{'right' if graph_right else 'below'}: {', '.join(graphs)}")
    return sh, items, dict(report_type="血常规", hospital=hosp_out, notes=notes)


# --------------------------------------------------------------------------
# layout: pre-printed coloured form over-printed out of register (+ carbon copy)
# --------------------------------------------------------------------------
def lay_form(r, pat, hosp, carbon=False):
    panel = r.w(["cbc", "bio", "liver", "urine"], [4, 2.5, 1.5, 2])
    st = unit_style(r)
    st["short"] = r.p(0.6)
    p = r.u(0.1, 0.3)
    if panel == "cbc":
        rows = cbc_rows(r, pat, st, False, p)
        rtype, sub = "血常规", r.c(["(血液分析)", "血常规", "(血细胞分析)"])
    elif panel in ("bio", "liver"):
        codes = LIVER if panel == "liver" else (["ALT", "AST", "TBIL", "DBIL", "TP", "ALB"] + KIDNEY + LIPID[:r.i(0, 4)]
                                                + (ELEC if r.p(0.3) else []))
        rows = bio_rows(r, pat, st, codes, p)
        rtype, sub = ("肝功能", "(肝功能)") if panel == "liver" else ("生化", r.c(["(生化检验)", "(生化)"]))
    else:
        u = urine_grades(r, p)
        rows = []
        for code, cn, grades, unit in URINE:
            g = u[code]
            if grades is None:
                rng = ("4.5", "8.0") if code == "pH" else ("1.003", "1.030")
                rows.append(dict(code=code.upper(), name=cn, value=g, abn=flag_of(float(g), rng), spec=rng, dec=1,
                                 unit=""))
            else:
                val = grades[g][0] if g else ("正常" if code == "URO" else "阴性")
                rows.append(dict(code=code, name=cn, value=val, abn="H" if g else "",
                                 range="正常" if code == "URO" else "阴性", unit=""))
        rtype, sub = "尿常规", "(尿液分析)"
    fmode = r.w(["arrow", "HL", "none"], [5, 3, 1])
    finalize_rows(rows, st, r.c(["-", "~", "--"]), FLAGMAPS[fmode])
    range_pre = r.p(0.6)
    range_mode = "pre" if range_pre else r.w(["print", "none"], [3, 1])
    unit_pre = r.p(0.6)
    has_unit = any(rw["unit"] for rw in rows)
    # which pre-printed rows get a printed result
    if panel in ("bio", "liver") and r.p(0.6):
        keep = [rw for rw in rows if r.p(0.8)]
        rows_res = keep if len(keep) >= 4 else rows
    else:
        rows_res = rows
    result_ids = {id(rw) for rw in rows_res}
    # paper and inks
    if carbon:
        pcol = r.c(["pink", "yellow", "blue", "green"])
    else:
        pcol = r.w(["white", "pink", "yellow", "green", "blue"], [2, 2, 2, 1.5, 1.5])
    icol = {"pink": "red", "yellow": r.c(["red", "green"]), "green": "green", "blue": "blue"}.get(
        pcol, r.c(["red", "green", "blue"]))
    two = len(rows) > 12 and r.p(0.6)
    if two:
        w_mm, h_mm = r.c([(210, 148), (216, 150), (241, 140)])
    elif len(rows) > 12:
        w_mm, h_mm = r.c([(185, 260), (195, 270)])
    else:
        w_mm, h_mm = r.c([(185, 130), (210, 148), (180, 200)])
    sh = Sheet(w_mm, h_mm, PAPERS[pcol])
    pre = sh.layer("pre", INKS[icol], "offset", r.u(0.75, 0.95))
    pmode = "carbon" if carbon else r.w(["dot", "laser"], [3, 2])
    if carbon:
        ink = INKS[r.c(["carbon_blue", "carbon_purple"])]
        sh.layer("prn", ink, "carbon", r.u(0.55, 0.75), dots=r.p(0.75))
    else:
        sh.layer("prn", INKS["ribbon" if pmode == "dot" else "black"], pmode, r.u(0.82, 0.97))
    dotty = pmode == "dot" or (carbon and sh.by["prn"]["kw"]["dots"])
    pf_key = r.c(["serif", "sans", "ming", "zen"])
    fs_pre = r.c([22, 24])
    fpre = font(pf_key, fs_pre)
    fprn = font(r.c(["zenmono", "sansmono", "zen"]) if dotty else r.c(["sans", "micro", "zen"]), 30 if dotty else 26)
    fnum = font(r.c(["dvmono", "zenmono", "sansmono"]) if dotty else r.c(["dvsans", "sans", "micro"]),
                30 if dotty else 26)
    fp = lambda s: fnum if all(_has_glyph(fnum.key, ch) for ch in s) else fprn
    m = 8 * PXMM
    sh.rect("pre", (m * 0.6, m * 0.6, sh.W - m * 0.6, sh.H - m * 0.6), 3)
    if r.p(0.4):
        sh.rect("pre", (m * 0.6 + 6, m * 0.6 + 6, sh.W - m * 0.6 - 6, sh.H - m * 0.6 - 6), 1)
    y = m + 6 * PXMM
    tfont = font(r.c(["serifb", "sansb", "zen"]), r.c([40, 44, 48]))
    sh.text("pre", sh.W / 2, y, f"{hosp}检验报告单", tfont, "mm")
    y += 7 * PXMM
    sh.text("pre", sh.W / 2, y, sub, font(pf_key, 26), "mm")
    y += 7 * PXMM
    # info labels pre-printed, values printed
    info = [("姓名", pat["name"]), ("性别", pat["sexc"]), ("年龄", f"{pat['age']}岁"), ("科别", pat["dept"]),
            ("床号", pat["bed"]), ("标本号", pat["sno"])]
    cw = (sh.W - 2 * m) / len(info)
    for k, (a, b) in enumerate(info):
        x = m + 2 * PXMM + k * cw
        bb = sh.text("pre", x, y, a + "：", fpre, "lm")
        sh.line("pre", [(bb[2] + 2, y + fs_pre * 0.6), (x + cw - 3 * PXMM, y + fs_pre * 0.6)], 1)
        sh.text("prn", bb[2] + 1.5 * PXMM, y, b, fprn, "lm")
    y += 6 * PXMM
    # table grid
    nblk = 2 if two else 1
    per = [rows[:(len(rows) + 1) // 2], rows[(len(rows) + 1) // 2:]] if two else [rows]
    tw_all = sh.W - 2 * m
    bw = tw_all / nblk
    nmax = max(len(b) for b in per)
    avail_h = sh.H - y - 26 * PXMM
    row_h = min(9.5 * PXMM, avail_h / (nmax + 1))
    if row_h < max(fprn.size, fnum.size) * 1.25:
        raise Retry("rows too tight")
    nc_style = r.c(["nc", "n(c)"])
    name_w = max(fpre.getlength(rw["name"] + " (" + rw["code"] + ")") for rw in rows) + 3 * PXMM
    res_w = max(max(fp(rw["value"]).getlength(rw["value"]) + fprn.getlength(rw["flag"] or "↑") for rw in rows)
                + 5 * PXMM, 24 * PXMM)
    rf = (lambda s: fpre) if range_mode == "pre" else fp
    rng_w = (max(rf(rw["range"]).getlength(rw["range"]) for rw in rows) + 3 * PXMM) if range_mode != "none" else 0
    uf = (lambda s: fpre) if unit_pre else fp
    unit_w = (max(uf(rw["unit"]).getlength(rw["unit"]) for rw in rows) + 3 * PXMM) if has_unit else 0
    need = name_w + res_w + rng_w + unit_w
    if need > bw - 2 * PXMM:
        raise Retry("form too narrow")
    extra = (bw - need) / 4
    name_w, res_w = name_w + extra, res_w + extra * 2
    rng_w = rng_w + extra * 0.5 if rng_w else 0
    unit_w = unit_w + extra * 0.5 if unit_w else 0
    if not rng_w:
        res_w += extra * 0.5
    if not unit_w:
        res_w += extra * 0.5
    cols = [("name", name_w, "项  目"), ("res", res_w, "结  果")]
    if unit_w:
        cols.append(("unit", unit_w, "单  位"))
    if rng_w:
        cols.append(("range", rng_w, "参考值"))
    items = []
    # misregistration of the printer layer
    ang = r.c([-1, 1]) * r.u(0.12, 1.0)
    dx, dy = r.u(-3.5, 3.5) * PXMM, r.u(-1.6, 1.6) * PXMM
    half = sh.W / 2 * math.sin(math.radians(abs(ang)))
    lim = 0.4 * row_h
    if abs(dy) + half > lim:
        dy = math.copysign(max(0.0, lim - half), dy)
        if half > lim:
            ang = math.degrees(math.asin(lim * 0.9 / (sh.W / 2))) * (1 if ang > 0 else -1)
    A = cv2.getRotationMatrix2D((sh.W / 2, sh.H / 2), ang, 1.0)
    A[0, 2] += dx
    A[1, 2] += dy
    sh.by["prn"]["A"] = A.astype(np.float32)
    ytop = y
    fields = ["name", "code", "value", "flag"] + (["range"] if range_mode != "none" else []) + (
        ["unit"] if has_unit else [])
    for bi, brows in enumerate(per):
        bx = m + bi * bw
        xs = [bx]
        for c in cols:
            xs.append(xs[-1] + c[1])
        ybot = ytop + row_h * (len(brows) + 1)
        ybot_full = ytop + row_h * (nmax + 1)
        for k, c in enumerate(cols):
            sh.text("pre", (xs[k] + xs[k + 1]) / 2, ytop + row_h / 2, c[2], fpre, "mm")
        for x in xs:
            sh.line("pre", [(x, ytop), (x, ybot_full)], 2)
        for j in range(nmax + 2):
            sh.line("pre", [(bx, ytop + j * row_h), (xs[-1], ytop + j * row_h)], 2 if j in (0, 1, nmax + 1) else 1)
        rno = 0
        for i, rw in enumerate(brows):
            yc = ytop + row_h * (i + 1.5)
            has = id(rw) in result_ids
            if has:
                rno += 1
                key = (bi + 1, rno)
            else:
                key = None
            tg = (lambda f: (key, f)) if has else (lambda f: None)
            x = xs[0] + 1.5 * PXMM
            if nc_style == "nc":
                bb = sh.text("pre", x, yc, rw["name"], fpre, "lm", tg("name"))
                sh.text("pre", bb[2] + fs_pre * 0.4, yc, rw["code"], fpre, "lm", tg("code"))
            else:
                bb = sh.text("pre", x, yc, rw["name"], fpre, "lm", tg("name"))
                bb = sh.text("pre", bb[2] + 2, yc, "(", fpre, "lm")
                bb = sh.text("pre", bb[2] + 2, yc, rw["code"], fpre, "lm", tg("code"))
                sh.text("pre", bb[2] + 2, yc, ")", fpre, "lm")
            ci = {c[0]: k for k, c in enumerate(cols)}
            if "unit" in ci and unit_pre:
                sh.text("pre", xs[ci["unit"]] + 1.5 * PXMM, yc, rw["unit"], fpre, "lm", tg("unit"))
            if "range" in ci and range_mode == "pre":
                sh.text("pre", xs[ci["range"]] + 1.5 * PXMM, yc, rw["range"], fpre, "lm", tg("range"))
            if not has:
                continue
            vx = xs[1] + 4 * PXMM
            bb = sh.text("prn", vx, yc, rw["value"], fp(rw["value"]), "lm", (key, "value"))
            if rw["flag"]:
                sh.text("prn", bb[2] + 6, yc, rw["flag"], fprn, "lm", (key, "flag"))
            if "unit" in ci and not unit_pre:
                sh.text("prn", xs[ci["unit"]] + 1.5 * PXMM, yc, rw["unit"], fp(rw["unit"]), "lm", (key, "unit"))
            if "range" in ci and range_mode == "print":
                sh.text("prn", xs[ci["range"]] + 1.5 * PXMM, yc, rw["range"], fp(rw["range"]), "lm",
                        (key, "range"))
            items.append(printed_item(rw, bi + 1, rno, fields))
    yf = ytop + row_h * (nmax + 1) + 6 * PXMM
    foot = [("送检医师", pat["doctor"]), ("检验者", pat["tech"]), ("审核者", pat["chk"]),
            ("报告日期", pat["date"])]
    cw = (sh.W - 2 * m) / len(foot)
    for k, (a, b) in enumerate(foot):
        x = m + 2 * PXMM + k * cw
        bb = sh.text("pre", x, yf, a + "：", fpre, "lm")
        sh.text("prn", bb[2] + 1 * PXMM, yf, b, fp(b), "lm")
    if yf + 8 * PXMM < sh.H - m * 0.6:
        sh.text("pre", m + 2 * PXMM, yf + 6 * PXMM, "注：本报告仅对所检标本负责", font(pf_key, 20), "lm")
    notes = (f"{'carbonless copy ply: faint smeared blue/purple impact print on ' if carbon else 'pre-printed '}"
             f"{pcol} form, grid and item names in {icol} ink; results {'printed' if carbon else pmode + '-printed'}"
             f" in {'carbon' if carbon else 'black'} out of register (shift ~{dx / PXMM:.1f}/{dy / PXMM:.1f} mm, "
             f"rot {ang:.2f} deg); flags {fmode}; ranges {range_mode}, units {'pre-printed' if unit_pre else 'printed'}; "
             f"{nblk} block(s)" + ("; some pre-printed rows have no result" if len(rows_res) < len(rows) else ""))
    return sh, items, dict(report_type=rtype, hospital=hosp, notes=notes)


# --------------------------------------------------------------------------
# layout: ordinary mainland LIS sheet (optionally as a carbon copy ply)
# --------------------------------------------------------------------------
STOOL = [("颜色", "COL", ["黄色", "黄色", "棕黄色", "黄褐色"], "黄色", ""),
         ("性状", "", ["软", "软", "糊状", "成形"], "软", ""),
         ("红细胞", "RBC", ["未见", "未见", "未见", "0-2"], "未见", "/HP"),
         ("白细胞", "WBC", ["未见", "未见", "0-2", "1-3"], "未见", "/HP"),
         ("隐血试验", "OB", ["阴性", "阴性", "阴性", "阳性"], "阴性", ""),
         ("寄生虫卵", "", ["未找到"], "未找到", ""),
         ("脂肪球", "", ["未见"], "未见", ""),
         ("真菌", "", ["未见"], "未见", "")]


def ordinary_rows(r, pat, st, panel, p, umode):
    if panel == "cbc":
        return cbc_rows(r, pat, st, True, p), "血常规"
    if panel == "bio":
        codes = r.c([LIVER[:7] + KIDNEY + LIPID, ["ALT", "AST", "TBIL", "TP", "ALB"] + KIDNEY + ELEC,
                     ["ALT", "AST", "GGT", "ALP", "TBIL", "DBIL", "IBIL"] + KIDNEY])
        return bio_rows(r, pat, st, codes, p), "生化"
    if panel == "psa":
        tp = r.u(0.3, 3.6) if not r.p(p * 1.4) else r.u(4.3, 14.0)
        fp = tp * r.u(0.12, 0.34)
        tps, fps = fmt(tp, 2), fmt(fp, 2)
        ratio = fmt(float(fps) / float(tps), 2)
        rows = [dict(code="TPSA", name="总前列腺特异性抗原", value=tps, spec=("0.00", "4.00"), dec=2, unit="ng/mL"),
                dict(code="FPSA", name="游离前列腺特异性抗原", value=fps, spec=("0.00", "0.93"), dec=2, unit="ng/mL"),
                dict(code="FPSA/TPSA", name="游离/总PSA比值", value=ratio, spec=(">", "0.25"), dec=2, unit="")]
        for rw in rows:
            rw["abn"] = flag_of(float(rw["value"]), rw["spec"])
        return rows, "PSA"
    if panel == "stool":
        rows = []
        for cn, code, opts, ref, unit in STOOL:
            v = r.c(opts)
            rows.append(dict(code=code, name=cn, value=v, range=ref, unit=unit,
                             abn="H" if v in ("阳性", "0-2", "1-3") and ref in ("阴性", "未见") else ""))
        return rows, "粪常规"
    u = urine_grades(r, p)
    neg = r.c(["阴性", "阴性", "-"])
    rows = [dict(code="COL", name="颜色", value=r.c(["淡黄色", "黄色", "淡黄色"]), range="淡黄色", unit="", abn=""),
            dict(code="CLA", name="透明度", value=r.c(["清亮", "清亮", "微浑"]), range="清亮", unit="", abn="")]
    for code, cn, grades, unit in URINE:
        g = u[code]
        if grades is None:
            rng = ("4.5", "8.0") if code == "pH" else ("1.003", "1.030")
            rows.append(dict(code=code.upper(), name=cn, value=g, abn=flag_of(float(g), rng), spec=rng, dec=1, unit=""))
        else:
            gr = grades[g][0]
            if gr == "+-" and umode == "pm":
                gr = "±"
            val = gr if g else ("正常" if code == "URO" else neg)
            rows.append(dict(code=code, name=("尿" if code in ("PRO", "GLU") else "") + cn, value=val,
                             abn="H" if g else "", range="正常" if code == "URO" else neg, unit=""))
    for cn, code, hi, unit in (("红细胞(镜检)", "RBC", 3, "/HP"), ("白细胞(镜检)", "WBC", 5, "/HP")):
        v = r.i(0, hi) if not r.p(p) else r.i(hi + 2, hi * 4)
        rows.append(dict(code=code, name=cn, value=str(v), range=f"0-{hi}", unit=unit, abn="H" if v > hi else ""))
    return rows, "尿常规"


def lay_ordinary(r, pat, hosp, carbon=False):
    panel = r.w(["cbc", "urine", "stool", "bio", "psa"], [3.5, 2, 1, 2.5, 1])
    if panel == "psa":
        pat["sex"], pat["sexc"], pat["age"] = "M", "男", r.i(46, 84)
    st = unit_style(r)
    st["short"] = False
    p = r.u(0.08, 0.3)
    umode = r.c(["pm", "+-", "+-"])
    rows, rtype = ordinary_rows(r, pat, st, panel, p, umode)
    quant = panel in ("cbc", "bio", "psa")
    fmode = r.w(["arrow", "HL", "cn"], [5, 3, 1 if quant else 0])
    finalize_rows(rows, st, r.c(["-", "--", "～", " - "]), FLAGMAPS[fmode])
    n = len(rows)
    a4 = (n > 14 and r.p(0.6)) or (n > 20 and not carbon)
    if carbon:
        a4 = False
    if a4:
        w_mm, h_mm = 210, 297
    elif carbon and n > 12:
        w_mm, h_mm = r.c([(241, 140), (241, 150)])
    else:
        w_mm, h_mm = r.c([(210, 148), (216, 140), (241, 140)])
    two = (not a4 and n > 12) or (a4 and n > 26)
    pcol = r.c(["pink", "yellow", "blue"]) if carbon else "white"
    sh = Sheet(w_mm, h_mm, PAPERS[pcol])
    if carbon:
        sh.layer("p", INKS[r.c(["carbon_blue", "carbon_purple"])], "carbon", r.u(0.6, 0.78), dots=True)
        dotty = True
    else:
        pm = r.w(["laser", "dot"], [6, 1])
        sh.layer("p", INKS["black" if pm == "laser" else "ribbon"], pm, r.u(0.85, 0.98))
        dotty = pm == "dot"
    ck = r.c(["sans", "micro", "zen", "serif"]) if not dotty else r.c(["zen", "zenmono", "sansmono"])
    fs = (30 if dotty else (r.c([26, 28]) if a4 else r.c([24, 26])))
    ft = font(ck, fs)
    fh = font(ck if not dotty else "zen", fs - 2 if not dotty else 28)
    m = 10 * PXMM
    y = m + 3 * PXMM
    sh.text("p", sh.W / 2, y, hosp, font("sansb" if not dotty else ck, fs + 14), "mm")
    y += (fs + 14) * 1.3
    sh.text("p", sh.W / 2, y, r.c(["检验报告单", "临床检验报告单", f"{rtype}检验报告单"]), font(ck, fs + 6), "mm")
    if r.p(0.5) and not dotty:      # barcode, top right
        bx = sh.W - m - 38 * PXMM
        x = bx
        while x < bx + 36 * PXMM:
            wdt = r.c([2, 2, 4, 6])
            sh.by["p"]["d"].rectangle([x, m - 2 * PXMM, x + wdt - 1, m + 6 * PXMM], fill=255)
            x += wdt + r.c([2, 3, 4])
    y += fs * 1.6
    info = [("姓名", pat["name"]), ("性别", pat["sexc"]), ("年龄", f"{pat['age']}岁"), ("病历号", pat["pid"]),
            ("科别", pat["dept"]), ("床号", pat["bed"]),
            ("标本", {"cbc": "全血", "urine": "尿液", "stool": "粪便"}.get(panel, "血清")), ("样本号", pat["sno"]),
            ("送检医生", pat["doctor"]), ("临床诊断", r.c(["", "体检", "发热待查", "腹痛", "高血压"])),
            ("采样时间", f"{pat['date']} {pat['time']}")]
    fi = font(ck, fs - 2)
    y += fs * 1.45 * flow(sh, "p", [f"{a}：{b}" for a, b in info], m, sh.W - m, y, fi, fs * 1.45, 4)
    variant = r.c(["v1", "v2", "v3"])
    if variant == "v1":
        specs = [("no", "No", "c"), ("name", "检验项目", "l"), ("code", "代号", "l"), ("value", "结果", "r"),
                 ("flag", "", "l"), ("unit", "单位", "l"), ("range", "参考区间", "l")]
    elif variant == "v2":
        specs = [("code", "代号", "l"), ("name", "项目名称", "l"), ("value", "结果", "l"), ("flag", "", "l"),
                 ("range", "参考值", "l"), ("unit", "单位", "l")]
    else:
        specs = [("no", "序号", "c"), ("namecode", "项目", "l"), ("value", "结果", "l"), ("flag", "提示", "c"),
                 ("unit", "单位", "l"), ("range", "参考范围", "l")]
    if not any(rw["code"] for rw in rows) and variant != "v3":
        specs = [s for s in specs if s[0] != "code"]
    nc_style = r.c(["nc", "n(c)"])
    nb = 2 if two else 1
    bgap = 8 * PXMM
    for shrink, gf in ((0, 0.9), (0, 0.6), (2, 0.5), (4, 0.4)):
        ft, fh = font(ck, fs - shrink), font(fh.key, fh.size - shrink)
        gap = ft.size * gf
        cspec = []
        for f, hdr, al in specs:
            if f == "no":
                w = max(ft.getlength("00"), fh.getlength(hdr))
            elif f == "namecode":
                w = max(ft.getlength(rw["name"] + "(" + rw["code"] + ")") + 4 for rw in rows)
                w = max(w, fh.getlength(hdr))
            elif f == "flag":
                w = max([ft.getlength(rw["flag"]) for rw in rows] + [ft.getlength("↑"), fh.getlength(hdr)])
            else:
                w = max(colw(rows, f, ft), fh.getlength(hdr))
            cspec.append((f, w, al, ft.size * 0.45 if f == "value" else gap))
        pos, tw = plan_cols(cspec)
        if tw * nb + bgap * (nb - 1) <= sh.W - 2 * m:
            break
    if nb == 1 and tw < sh.W - 2 * m:
        add = min((sh.W - 2 * m - tw) * r.u(0.5, 0.9) / len(cspec), 12 * PXMM)
        cspec = [(f, w, al, g + add if f != "value" else g) for f, w, al, g in cspec]
        pos, tw = plan_cols(cspec)
    if tw * nb + bgap * (nb - 1) > sh.W - 2 * m:
        raise Retry("sheet too narrow")
    per = [rows[:(n + 1) // 2], rows[(n + 1) // 2:]] if two else [rows]
    nmax = max(len(b) for b in per)
    avail = sh.H - y - 28 * PXMM
    row_h = min(fs * 1.9, avail / (nmax + 1.3))
    if row_h < fs * 1.22:
        raise Retry("rows too tight")
    extra = ((sh.W - 2 * m) - (tw * nb + bgap * (nb - 1))) / nb
    xoff = [m + bi * (tw + extra + bgap) + extra * 0.2 for bi in range(nb)]
    y += fs * 0.4
    sh.line("p", [(m, y), (sh.W - m, y)], 2)
    fields = [s[0] for s in specs if s[0] not in ("no",)]
    if "namecode" in fields:
        fields += ["name", "code"]
    items = []
    for bi, brows in enumerate(per):
        for f, hdr, al in specs:
            if hdr:
                put_text_col(sh, "p", pos, f, xoff[bi], y + row_h * 0.55, hdr, fh)
        draw_rows(sh, brows, bi + 1, pos, xoff[bi], y + row_h * 1.1, row_h, {"*": ft}, {"*": "p"}, nc_style)
        items += [printed_item(rw, bi + 1, i + 1, fields) for i, rw in enumerate(brows)]
    sh.line("p", [(m, y + row_h * 1.1), (sh.W - m, y + row_h * 1.1)], 1)
    yend = y + row_h * 1.1 + row_h * nmax + fs * 0.5
    sh.line("p", [(m, yend), (sh.W - m, yend)], 2)
    foot = [f"送检日期：{pat['date']}", f"报告日期：{pat['date']} {pat['rtime']}", f"检验者：{pat['tech']}",
            f"审核者：{pat['chk']}"]
    nf = flow(sh, "p", foot, m, sh.W - m, yend + fs * 1.1, fi, fs * 1.4, 4)
    if yend + fs * (1.3 + 1.4 * nf) < sh.H - 6 * PXMM:
        sh.text("p", m, yend + fs * (0.9 + 1.4 * nf), "*本报告仅对所检测标本负责，如有疑问请于三日内联系检验科", font(ck, fs - 4), "lm")
    notes = (f"{'carbonless copy of a dot-matrix LIS sheet on ' + pcol + ' paper, all text faint blue/purple; ' if carbon else ''}"
             f"mainland LIS report ({'A4' if a4 else 'landscape half-sheet'}), {nb} block(s), "
             f"columns: {', '.join(s[0] for s in specs)}; flags {fmode}")
    return sh, items, dict(report_type=rtype, hospital=hosp, notes=notes)


# --------------------------------------------------------------------------
# self-checks on the drawn sheet
# --------------------------------------------------------------------------
def inter(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h)


def tbox(sh, ln, bb):
    A = sh.by[ln]["A"]
    if A is None:
        return bb
    pts = np.array([[bb[0], bb[1]], [bb[2], bb[1]], [bb[2], bb[3]], [bb[0], bb[3]]], np.float32)
    pts = pts @ A[:, :2].T + A[:, 2]
    return (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())


def check_sheet(sh, items):
    keys = [(it["block"], it["row"]) for it in items]
    if len(set(keys)) != len(keys):
        raise RuntimeError("duplicate block/row")
    fmap = {"name_printed": "name", "code_printed": "code", "value": "value", "flag_printed": "flag",
            "range_printed": "range", "unit_printed": "unit"}
    for it in items:
        rec = dict(sh.rec.get((it["block"], it["row"]), {}))
        rec.pop("value2", None)  # a strip's concentration beside the grade: the grade is the result
        for jf, df in fmap.items():
            if it[jf] != rec.get(df, ""):
                raise RuntimeError(f"transcript/drawn mismatch {it['block']},{it['row']} {df}: "
                                   f"{it[jf]!r} vs {rec.get(df, '')!r}")
        if not it["value"]:
            raise RuntimeError("empty value")
    if set(sh.rec) != set(keys):
        raise RuntimeError("drawn rows without transcript")
    # geometry: values inside paper, not colliding with other text
    tb = [(ln, tbox(sh, ln, bb), tag) for ln, bb, tag in sh.boxes]
    margin = 1.0 * PXMM
    for ln, bb, tag in tb:
        if bb[0] < margin or bb[1] < margin or bb[2] > sh.W - margin or bb[3] > sh.H - margin:
            if tag is not None or ln != "pre":
                raise Retry(f"text outside paper {tag}")
    vals = [(ln, bb, tag) for ln, bb, tag in tb if tag and tag[1] == "value"]
    for ln, bb, tag in vals:
        area = max(1.0, (bb[2] - bb[0]) * (bb[3] - bb[1]))
        sb = (bb[0] + 1, bb[1] + 1, bb[2] - 1, bb[3] - 1)
        for ln2, bb2, tag2 in tb:
            if tag2 == tag:
                continue
            ov = inter(sb, bb2)
            if ln2 == ln and ov > 0:
                raise Retry(f"value overlaps text {tag} {tag2}")
            if ln2 != ln and ov > 0.3 * area:
                raise Retry(f"value buried under pre-print {tag}")
    if sh.alpha is not None:
        for ln, bb, tag in vals:
            x0, y0, x1, y1 = [int(v) for v in bb]
            if sh.alpha[max(0, y0 - 4):y1 + 4, max(0, x0):x1].min() < 1:
                raise Retry("value on torn edge")


def check_ink(sh):
    """After rendering: every value box holds ink of its layer."""
    for key, (ln, bb, dt, dbm) in sh.vbox.items():
        m = sh.by[ln]["m"]
        x0, y0, x1, y1 = [int(v) for v in tbox(sh, ln, bb)]
        if m[max(0, y0):y1 + 1, max(0, x0):x1 + 1].max() < 0.3:
            raise Retry(f"no ink at value {key}")


# --------------------------------------------------------------------------
# captures
# --------------------------------------------------------------------------
def desk(r, H, W):
    kind = r.c(["wood", "wood", "grey", "white", "cloth", "dark"])
    h, w = H // 4 + 1, W // 4 + 1
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    n1 = smooth_noise(r, h, w, 40)
    if kind == "wood":
        base = np.array(r.c([(158, 112, 72), (120, 82, 52), (186, 146, 102)]), np.float32)
        ang = r.u(0, math.pi)
        t = xx * math.cos(ang) + yy * math.sin(ang)
        grain = np.sin(t / r.u(2, 4) + n1 * 1.2) * 0.35 + np.sin(t / r.u(12, 25) + n1 * 0.6) * 0.65
        img = base[None, None] * (1 + 0.1 * grain[..., None])
    else:
        base = np.array({"grey": (176, 178, 176), "white": (226, 224, 218), "cloth": (58, 72, 98),
                         "dark": (62, 58, 56)}[kind], np.float32) * r.u(0.9, 1.08)
        img = base[None, None] * (1 + 0.06 * n1[..., None])
    img = img + r.g.normal(0, 3, img.shape).astype(np.float32)
    return cv2.resize(img, (W, H), interpolation=cv2.INTER_LINEAR), kind


def light_field(r, H, W, strength):
    yy, xx = np.mgrid[:H, :W].astype(np.float32)
    yy /= H
    xx /= W
    f = 1 + strength * (r.u(-0.15, 0.15) * (xx - 0.5) + r.u(-0.15, 0.15) * (yy - 0.5))
    cx, cy = r.u(0.3, 0.7), r.u(0.3, 0.7)
    f -= strength * r.u(0.05, 0.22) * ((xx - cx) ** 2 + (yy - cy) ** 2)
    if r.p(0.35):      # soft shadow of the phone / hand
        sh = np.zeros((H // 8 + 1, W // 8 + 1), np.float32)
        c = (int(r.u(0, 1) * sh.shape[1]), int(r.u(0, 1) * sh.shape[0]))
        cv2.ellipse(sh, c, (int(sh.shape[1] * r.u(0.2, 0.45)), int(sh.shape[0] * r.u(0.15, 0.35))),
                    r.u(0, 180), 0, 360, 1.0, -1)
        sh = cv2.GaussianBlur(sh, (0, 0), sh.shape[1] * 0.06)
        f -= r.u(0.1, 0.22) * cv2.resize(sh, (W, H))
    return f


def measure(geom, M):
    """Transform value geometry with 3x3 M; return min digit height and list of transformed quads."""
    hmin, quads = 1e9, []
    for key, pts in geom.items():
        t = cv2.perspectiveTransform(pts[None].astype(np.float64), M)[0]
        hmin = min(hmin, float(np.hypot(*(t[5] - t[4]))))
        quads.append(t[:4])
    return hmin, quads


def finish(r, img, blur, noise, quality):
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    img = img + r.g.normal(0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), quality


def capture_phone(r, paper, alpha, geom, hmin0):
    H, W = alpha.shape
    s = max(MIN_DIGIT_PX / hmin0, 0.5) * r.u(1.06, 1.3)
    for attempt in range(8):
        fill = r.u(0.7, 0.88)
        pw, ph = W * s, H * s
        if ph >= pw:
            FH = ph / fill
            FW = max(pw / fill, FH * 0.75)
            FH = max(FH, FW * 4 / 3)
        else:
            FW = pw / fill
            FH = max(ph / fill, FW * 0.75)
            FW = max(FW, FH * 4 / 3)
        if max(FW, FH) < 1600:       # phones do not deliver tiny frames: move closer instead
            s *= 1600 / max(FW, FH)
            continue
        FW, FH = int(FW) // 2 * 2, int(FH) // 2 * 2
        cx, cy = FW / 2 + r.u(-0.05, 0.05) * FW, FH / 2 + r.u(-0.05, 0.05) * FH
        roll = math.radians(r.u(-4, 4))
        corners = np.array([[-pw / 2, -ph / 2], [pw / 2, -ph / 2], [pw / 2, ph / 2], [-pw / 2, ph / 2]])
        kx = r.u(0, 0.06)
        side = r.c([0, 1, 2, 3])      # which edge is farther from the camera
        sc = np.ones(4)
        far = {0: [0, 1], 1: [1, 2], 2: [2, 3], 3: [3, 0]}[side]
        sc[far] = 1 - kx
        corners = corners * sc[:, None]
        corners += r.g.normal(0, 0.006, (4, 2)) * [pw, ph]
        rot = np.array([[math.cos(roll), -math.sin(roll)], [math.sin(roll), math.cos(roll)]])
        dst = corners @ rot.T + [cx, cy]
        if dst[:, 0].min() < 10 or dst[:, 1].min() < 10 or dst[:, 0].max() > FW - 10 or dst[:, 1].max() > FH - 10:
            s *= 0.97
            continue
        src = np.array([[0, 0], [W, 0], [W, H], [0, H]], np.float32)
        M = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
        hmin, quads = measure(geom, M)
        if hmin < MIN_DIGIT_PX:
            s *= MIN_DIGIT_PX / hmin * 1.04
            continue
        break
    else:
        raise Retry("phone capture failed")
    bg, dkind = desk(r, FH, FW)
    src_img = cv2.GaussianBlur(paper, (0, 0), 0.35 / s) if s < 0.8 else paper
    pw_img = cv2.warpPerspective(src_img, M, (FW, FH), flags=cv2.INTER_LINEAR)
    a = cv2.warpPerspective(alpha, M, (FW, FH), flags=cv2.INTER_LINEAR)
    shadow = cv2.GaussianBlur(np.roll(a, (r.i(3, 12), r.i(3, 12)), (0, 1)), (0, 0), r.u(6, 14))
    bg *= (1 - r.u(0.25, 0.45) * shadow)[..., None]
    img = bg * (1 - a[..., None]) + pw_img * a[..., None]
    img *= light_field(r, FH, FW, r.u(0.6, 1.4))[..., None]
    img *= np.array([r.u(0.96, 1.04), 1.0, r.u(0.94, 1.04)], np.float32)[None, None]
    img, q = finish(r, img, r.u(0.35, 0.85), r.u(1.5, 3.5), r.i(72, 90))
    k = r.w([0, 1, 2, 3], [7, 1.2, 0.8, 1])
    for qd in quads:
        if qd[:, 0].min() < 2 or qd[:, 1].min() < 2 or qd[:, 0].max() > FW - 2 or qd[:, 1].max() > FH - 2:
            raise Retry("value outside photo")
    if k:
        img = np.ascontiguousarray(np.rot90(img, k))
    desc = (f"phone photo on {dkind} desk, roll {math.degrees(roll):.1f} deg, keystone {kx * 100:.0f}%"
            + (f", turned {k * 90} deg" if k else "") + f", jpeg q{q}")
    return img, q, desc, hmin


def capture_scan(r, paper, alpha, geom, hmin0):
    H, W = alpha.shape
    dpis = [150, 200, 240, 300]
    ok = [d for d in dpis if hmin0 * d / 25.4 / PXMM * 0.98 >= MIN_DIGIT_PX]
    if not ok:
        raise Retry("no scan dpi")
    dpi = r.c(ok[:2])
    s = dpi / 25.4 / PXMM
    ang = r.u(-0.8, 0.8)
    w_mm, h_mm = W / PXMM, H / PXMM
    if r.p(0.4) and w_mm < 200 and h_mm < 280:
        cw_mm, ch_mm = (210, 297) if h_mm >= w_mm else (297, 210)
    else:
        cw_mm, ch_mm = w_mm + r.u(6, 18), h_mm + r.u(6, 18)
    CW, CH = int(cw_mm * dpi / 25.4), int(ch_mm * dpi / 25.4)
    ox = r.u(2, max(3, (cw_mm - w_mm) - 2)) * dpi / 25.4
    oy = r.u(2, max(3, (ch_mm - h_mm) - 2)) * dpi / 25.4
    A = cv2.getRotationMatrix2D((W / 2, H / 2), ang, s)
    A[0, 2] += ox - (W / 2 - W * s / 2)
    A[1, 2] += oy - (H / 2 - H * s / 2)
    M = np.vstack([A, [0, 0, 1]])
    hmin, quads = measure(geom, M)
    if hmin < MIN_DIGIT_PX:
        raise Retry("scan too small")
    bgc = np.array(r.c([(250, 250, 250), (244, 244, 242), (236, 236, 236)]), np.float32)
    src_img = cv2.GaussianBlur(paper, (0, 0), 0.35 / s) if s < 0.8 else paper
    p_img = cv2.warpAffine(src_img, A, (CW, CH), flags=cv2.INTER_LINEAR)
    a = cv2.warpAffine(alpha, A, (CW, CH), flags=cv2.INTER_LINEAR)
    img = np.empty((CH, CW, 3), np.float32)
    img[:] = bgc
    edge = cv2.GaussianBlur(np.roll(a, 2, 0), (0, 0), 2.0)
    img *= (1 - 0.18 * edge)[..., None]
    img = img * (1 - a[..., None]) + p_img * a[..., None]
    img = (img - 128) * r.u(1.0, 1.1) + 128 + r.u(0, 8)
    for qd in quads:
        if qd[:, 0].min() < 2 or qd[:, 1].min() < 2 or qd[:, 0].max() > CW - 2 or qd[:, 1].max() > CH - 2:
            raise Retry("value outside scan")
    img, q = finish(r, img, r.u(0.25, 0.5), r.u(0.8, 1.8), r.i(84, 94))
    return img, q, f"flat scan {dpi} dpi, skew {ang:.2f} deg, jpeg q{q}", hmin


# --------------------------------------------------------------------------
# sheet assembly
# --------------------------------------------------------------------------
KINDS = ["haem", "form", "carbon", "strip", "ordinary"]
MIX = [0.35, 0.20, 0.10, 0.15, 0.20]


def kind_plan(seed, n):
    raw = [m * n for m in MIX]
    cnt = [int(x) for x in raw]
    rem = sorted(range(len(MIX)), key=lambda i: (-(raw[i] - cnt[i]), i))
    for i in rem[:n - sum(cnt)]:
        cnt[i] += 1
    plan = [k for k, c in zip(KINDS, cnt) for _ in range(c)]
    rng = np.random.default_rng([seed, 99991])
    return [plan[i] for i in rng.permutation(n)]


def build(r, kind):
    hosp = hospital(r)
    pat = patient(r)
    if kind == "haem":
        if r.p(0.5):
            return lay_strip(r, pat, hosp, "haem")
        return lay_haem_page(r, pat, hosp)
    if kind == "form":
        return lay_form(r, pat, hosp, carbon=False)
    if kind == "carbon":
        return lay_form(r, pat, hosp, True) if r.p(0.6) else lay_ordinary(r, pat, hosp, True)
    if kind == "strip":
        return lay_strip(r, pat, hosp, r.w(["urine", "bio"], [3, 2]))
    return lay_ordinary(r, pat, hosp, False)


def make_sheet(args):
    seed, idx, kind, outdir = args
    sid = f"G{idx + 1:02d}"
    last = None
    for attempt in range(12):
        r = R([seed, idx, attempt])
        try:
            sh, items, meta = build(r, kind)
            check_sheet(sh, items)
            paper, alpha = sh.render(r)
            check_ink(sh)
            geom = sh.value_geom()
            hmin0 = min(float(np.hypot(*(g[5] - g[4]))) for g in geom.values())
            caps = r.w(["phone", "scan", "both"], [4.5, 2, 3.5])
            if meta["notes"].startswith(tuple(f"{w}mm" for w in (57, 80))) and caps == "scan" and r.p(0.6):
                caps = "phone"
            outs = []
            if caps in ("phone", "both"):
                outs.append(("phone",) + capture_phone(r, paper, alpha, geom, hmin0))
            if caps in ("scan", "both"):
                outs.append(("scan",) + capture_scan(r, paper, alpha, geom, hmin0))
            break
        except Retry as e:
            last = e
            continue
    else:
        raise RuntimeError(f"{sid}: could not lay out sheet ({last})")
    os.makedirs(os.path.join(outdir, "images"), exist_ok=True)
    os.makedirs(os.path.join(outdir, "transcripts"), exist_ok=True)
    files, rows = [], []
    for cap, img, q, desc, hmin in outs:
        fn = f"{sid}__{cap}.jpg"
        Image.fromarray(img).save(os.path.join(outdir, "images", fn), quality=q, subsampling=2)
        files.append(fn)
        rows.append([fn, sid, meta["report_type"], meta["hospital"], len(items), desc, SOURCE])
    items.sort(key=lambda it: (it["block"], it["row"]))
    tr = {"sheet": sid, "files": files, "report_type": meta["report_type"], "transcriber": "generator G",
          "rows_not_legible": 0, "notes": meta["notes"], "items": items}
    with open(os.path.join(outdir, "transcripts", f"{sid}.json"), "w", encoding="utf-8") as f:
        json.dump(tr, f, ensure_ascii=False, indent=1)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    plan = kind_plan(a.seed, a.n)
    tasks = [(a.seed, i, k, a.out) for i, k in enumerate(plan)]
    if a.jobs > 1:
        with Pool(a.jobs, initializer=cv2.setNumThreads, initargs=(1,)) as pool:
            res = pool.map(make_sheet, tasks, chunksize=1)
    else:
        cv2.setNumThreads(1)
        res = [make_sheet(t) for t in tasks]
    with open(os.path.join(a.out, "images.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "sheet", "report_type", "hospital", "rows_approx", "photo", "source_repo"])
        for rows in res:
            w.writerows(rows)
    print(f"wrote {sum(len(x) for x in res)} images for {a.n} sheets to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
