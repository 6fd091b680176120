#!/usr/bin/env python3
"""Blind synthetic lab-sheet generator "F" -- variety in the result TABLE itself.

Generator F renders invented mainland-China hospital lab-report printouts
(simplified Chinese) and "captures" them the way patients do (phone photos,
flat scans), writing an exact JSON transcript of every printed result row.

It was written WITHOUT looking at the OCR system's code, its knowledge base,
the other benches or any real lab sheet.  All hospitals, patients, doctors,
sample numbers and values are invented; reference ranges and units are
ordinary textbook values.  The code is original.

What F varies (each sheet draws a few of these):
  * columns: 序号, 英文缩写/代号 (before or after the Chinese name), 检测方法,
    上次结果 (older number on every row; the transcript keeps only the current
    result), 提示/标志 flag column, unit before or after the range, two bound
    columns 参考下限/参考上限, names printed as 丙氨酸氨基转移酶(ALT)
  * reference ranges: 3.5~5.5, 3.5-5.5, 3.50--5.50, (3.5-5.5), <5.0, ≤40,
    >60, ≥1.04, 0-2/HP, 阴性, 阴性(-), sex-specific "男:130-175 女:115-150"
  * values: decimals of varying precision, censored (<0.01, >1000.0),
    qualitative (阴性, 阳性(+), 弱阳性, +-, ±, 1+..4+, 未检出, 浅黄色, 清亮,
    微浑, 黄色软便, 0-2/HP), serology number+word ("0.35 阴性")
  * flags: ↑↓, H/L, 偏高/偏低, ↑↑/↓↓, HH/LL, *, !; flag before the value,
    glued after it (3.86↓), spaced after it, or in its own column; some
    sheets print abnormal results bold or red with no flag at all
  * long names wrapping to a second line inside the cell; sub-heading rows
  * kinds: 血常规 尿常规 粪常规 生化 肿瘤标志物 PSA 血糖 糖化血红蛋白 血脂
    电解质 肝功 肾功 甲功 凝血 CRP 乙肝五项
  * page furniture with numbers that are not results (barcodes, sample no.,
    times, bed, age, 备注, footnotes, 检验者/审核者, 第1页/共1页)
  * paper: A4 portrait, A5 landscape, narrow thermal strip; 1-3 side-by-side
    table blocks; 6-40 result rows
  * captures: phone photos (tilt <= 8 deg, mild perspective, uneven light,
    desk background, JPEG q75-92, 1 in 6 rotated 90/180/270 in pixels) and
    ~25% flat scans at 150-300 dpi.  Smallest result text >= ~14 px tall,
    image long side 1200-3000 px.

Usage:
  python bench/blind_sheets_f.py --out DIR [--seed 7] [-n 30] [--jobs 2]

Output (deterministic per seed):
  DIR/images/<SHEET>__<capture>.jpg   e.g. F07__photo1.jpg, F07__scan.jpg
  DIR/images.csv  file,sheet,report_type,hospital,rows_approx,photo,source_repo
  DIR/transcripts/<SHEET>.json

Transcript conventions: items are printed result rows only (no sub-headings)
in reading order (block, then row).  Strings are exactly as drawn: value
without its flag, censored values keep their sign, "0.35 阴性" stays the
value, flag_printed is the printed mark or "".  A cell wrapped over two lines
is transcribed as its one-line string (name parts joined directly, the two
halves of a sex-specific range joined by one space).  Two bound columns give
"lo-hi".  code_printed is "" when no code column is printed (a code inside
the name cell, e.g. 丙氨酸氨基转移酶(ALT), stays part of name_printed).
"""
import argparse
import csv
import json
import math
import os
import random
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import cv2
from PIL import Image, ImageDraw, ImageFont

SOURCE_REPO = "synthetic: bench/blind_sheets_f.py"

# --------------------------------------------------------------------------
# fonts
# --------------------------------------------------------------------------
_FONT_SPECS = {
    # family: (regular path, index, bold path or None, bold index)
    "noto_sans": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2,
                  "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    "noto_serif": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2,
                   "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 2),
    "zenhei": ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, None, 0),
    "zenhei_sharp": ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 2, None, 0),
    "microhei": ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0, None, 0),
    "uming": ("/usr/share/fonts/truetype/arphic/uming.ttc", 0, None, 0),
    "noto_mono": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 7,
                  "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 7),
}
_REQUIRED_GLYPHS = "↑↓≤≥±μβγ×²：（）～—"
_font_cache = {}
_usable_families = None


def _font(family, size, bold=False):
    size = max(6, int(round(size)))
    key = (family, size, bold)
    f = _font_cache.get(key)
    if f is None:
        path, idx, bpath, bidx = _FONT_SPECS[family]
        if bold and bpath:
            f = ImageFont.truetype(bpath, size, index=bidx)
        else:
            f = ImageFont.truetype(path, size, index=idx)
        _font_cache[key] = f
    return f


def usable_families():
    """Families that exist and draw every special glyph we use."""
    global _usable_families
    if _usable_families is not None:
        return _usable_families
    ok = []
    for fam, (path, idx, _b, _bi) in _FONT_SPECS.items():
        if not os.path.exists(path):
            continue
        try:
            f = ImageFont.truetype(path, 40, index=idx)
        except OSError:
            continue
        missing = bytes(f.getmask("\U000F0000"))
        good = True
        for ch in _REQUIRED_GLYPHS + "白细胞阴性":
            m = f.getmask(ch)
            if m.getbbox() is None or bytes(m) == missing:
                good = False
                break
        if good:
            ok.append(fam)
    if not ok:
        sys.exit("no usable CJK font found (need Noto CJK / WenQuanYi / AR PL UMing)")
    _usable_families = ok
    return ok


# --------------------------------------------------------------------------
# analyte catalog
# --------------------------------------------------------------------------
def N(name, code, unit, lo, hi, dec, meth="", sex=None, cens=None, one=None,
      short=None, crit=True):
    """Numeric analyte.  lo/hi are printed bound strings (None = open).
    sex = (mlo, mhi, flo, fhi).  cens = list of ('<'|'>', limit string).
    one = '<' / '≤' / '>' / '≥' preferred symbol for a one-sided range."""
    return dict(kind="num", name=name, code=code, unit=unit, lo=lo, hi=hi,
                dec=dec, meth=meth, sex=sex, cens=cens or [], one=one,
                short=short or name, crit=crit)


def Q(name, code, levels, normal, unit="", meth="", short=None, rng_txt=None):
    """Qualitative analyte.  levels = list of (symbolic level, weight);
    normal = symbolic levels counted as normal.  rng_txt overrides range."""
    return dict(kind="qual", name=name, code=code, unit=unit, levels=levels,
                normal=set(normal), meth=meth, short=short or name,
                rng_txt=rng_txt)


def S(name, code, unit, cutoff, dec, meth="化学发光法", inverse=False,
      protective=False, short=None):
    """Serology: a number compared with a cutoff, optionally with a word."""
    return dict(kind="sero", name=name, code=code, unit=unit, cutoff=cutoff,
                dec=dec, meth=meth, inverse=inverse, protective=protective,
                short=short or name)


CBC = [
    N("白细胞计数", "WBC", "10^9/L", "3.5", "9.5", 2, "电阻抗法", short="白细胞"),
    N("中性粒细胞百分比", "NEUT%", "%", "40.0", "75.0", 1, "流式细胞术", short="中性粒细胞%"),
    N("淋巴细胞百分比", "LYMPH%", "%", "20.0", "50.0", 1, "流式细胞术", short="淋巴细胞%"),
    N("单核细胞百分比", "MONO%", "%", "3.0", "10.0", 1, "流式细胞术", short="单核细胞%"),
    N("嗜酸性粒细胞百分比", "EO%", "%", "0.4", "8.0", 1, "流式细胞术", short="嗜酸性粒细胞%"),
    N("嗜碱性粒细胞百分比", "BASO%", "%", "0.0", "1.0", 1, "流式细胞术", short="嗜碱性粒细胞%"),
    N("中性粒细胞绝对值", "NEUT#", "10^9/L", "1.80", "6.30", 2, "计算法", short="中性粒细胞#"),
    N("淋巴细胞绝对值", "LYMPH#", "10^9/L", "1.10", "3.20", 2, "计算法", short="淋巴细胞#"),
    N("单核细胞绝对值", "MONO#", "10^9/L", "0.10", "0.60", 2, "计算法", short="单核细胞#"),
    N("嗜酸性粒细胞绝对值", "EO#", "10^9/L", "0.02", "0.52", 2, "计算法", short="嗜酸性粒细胞#"),
    N("嗜碱性粒细胞绝对值", "BASO#", "10^9/L", "0.00", "0.06", 2, "计算法", short="嗜碱性粒细胞#"),
    N("红细胞计数", "RBC", "10^12/L", None, None, 2, "电阻抗法",
      sex=("4.3", "5.8", "3.8", "5.1"), short="红细胞"),
    N("血红蛋白", "HGB", "g/L", None, None, 0, "比色法",
      sex=("130", "175", "115", "150")),
    N("红细胞压积", "HCT", "%", None, None, 1, "计算法",
      sex=("40.0", "50.0", "35.0", "45.0")),
    N("平均红细胞体积", "MCV", "fL", "82.0", "100.0", 1, "计算法", short="平均红细胞体积"),
    N("平均红细胞血红蛋白含量", "MCH", "pg", "27.0", "34.0", 1, "计算法", short="平均血红蛋白量"),
    N("平均红细胞血红蛋白浓度", "MCHC", "g/L", "316", "354", 0, "计算法", short="平均血红蛋白浓度"),
    N("红细胞分布宽度变异系数", "RDW-CV", "%", "11.5", "14.5", 1, "计算法", short="红细胞分布宽度CV"),
    N("红细胞分布宽度标准差", "RDW-SD", "fL", "39.0", "46.0", 1, "计算法", short="红细胞分布宽度SD"),
    N("血小板计数", "PLT", "10^9/L", "125", "350", 0, "电阻抗法", short="血小板"),
    N("平均血小板体积", "MPV", "fL", "9.4", "12.5", 1, "计算法"),
    N("血小板分布宽度", "PDW", "fL", "9.0", "17.0", 1, "计算法"),
    N("血小板压积", "PCT", "%", "0.108", "0.282", 3, "计算法"),
    N("大型血小板比率", "P-LCR", "%", "13.0", "43.0", 1, "计算法"),
]
CBC_CRP = [
    N("C反应蛋白", "CRP", "mg/L", "0", "10", 2, "免疫比浊法",
      cens=[("<", "0.50")]),
]

UA_DRY = [
    Q("颜色", "COL", [("C_淡黄色", 5), ("C_黄色", 3), ("C_浅黄色", 3), ("C_深黄色", 1)],
      ["C_淡黄色", "C_黄色", "C_浅黄色", "C_深黄色"], rng_txt=["淡黄色", "", "黄色"]),
    Q("透明度", "CLA", [("T_清亮", 6), ("T_微浑", 2), ("T_浑浊", 1)],
      ["T_清亮"], rng_txt=["清亮", "", "清晰"]),
    N("比重", "SG", "", "1.003", "1.030", 3, "折射法", crit=False),
    N("酸碱度", "pH", "", "4.5", "8.0", 1, "指示剂法", crit=False),
    Q("白细胞酯酶", "LEU", [("NEG", 7), ("TRACE", 1), ("1+", 1), ("2+", 1)],
      ["NEG"], meth="酯酶法"),
    Q("亚硝酸盐", "NIT", [("NEG", 9), ("POS", 1)], ["NEG"], meth="偶氮反应法"),
    Q("尿蛋白", "PRO", [("NEG", 6), ("TRACE", 1), ("1+", 1), ("2+", 1), ("3+", 1)],
      ["NEG"], meth="蛋白误差法", short="蛋白质"),
    Q("尿葡萄糖", "GLU", [("NEG", 7), ("TRACE", 1), ("1+", 1), ("3+", 1), ("4+", 1)],
      ["NEG"], meth="葡萄糖氧化酶法", short="葡萄糖"),
    Q("酮体", "KET", [("NEG", 8), ("TRACE", 1), ("1+", 1)], ["NEG"], meth="亚硝基铁氰化钠法"),
    Q("尿胆原", "URO", [("NEG", 7), ("WPOS", 1), ("1+", 1)], ["NEG"], meth="偶氮反应法"),
    Q("胆红素", "BIL", [("NEG", 8), ("1+", 1)], ["NEG"], meth="偶氮反应法"),
    Q("隐血", "BLD", [("NEG", 6), ("TRACE", 1), ("1+", 1), ("2+", 1), ("3+", 1)],
      ["NEG"], meth="过氧化物酶法", short="潜血"),
    Q("维生素C", "VC", [("NEG", 7), ("1+", 1), ("2+", 1)], ["NEG"]),
]
UA_SED_NUM = [
    N("红细胞", "RBC", "/μL", "0", "25", 1, "流式细胞术", crit=False),
    N("白细胞", "WBC", "/μL", "0", "30", 1, "流式细胞术", crit=False),
    N("上皮细胞", "EC", "/μL", "0", "28", 1, "流式细胞术", crit=False),
    N("管型", "CAST", "/μL", "0", "2.5", 2, "流式细胞术", crit=False),
    N("细菌", "BACT", "/μL", "0", "700", 1, "流式细胞术", crit=False),
    Q("结晶", "XTAL", [("ND", 8), ("FEW", 1)], ["ND"], rng_txt=["未检出", ""]),
]
UA_SED_HP = [
    Q("镜检红细胞", "RBC", [("HP0-1", 4), ("HP0-2", 3), ("HP3-5", 1), ("HP10-15", 1)],
      ["HP0-1", "HP0-2"], rng_txt=["0-3/HP", "0-2/HP"]),
    Q("镜检白细胞", "WBC", [("HP0-2", 4), ("HP1-3", 3), ("HP8-10", 1), ("HP满视野", 1)],
      ["HP0-2", "HP1-3"], rng_txt=["0-5/HP"]),
    Q("上皮细胞", "EC", [("FEW", 4), ("ND", 3), ("MORE", 1)], ["FEW", "ND"],
      rng_txt=["少量", ""]),
    Q("管型", "CAST", [("ND", 8), ("HPT0-1", 1)], ["ND"], rng_txt=["未检出", "0/LP"]),
]

FECES = [
    Q("颜色", "COL", [("C_黄色", 6), ("C_棕黄色", 2), ("C_褐色", 2), ("C_黑色", 1)],
      ["C_黄色", "C_棕黄色", "C_褐色"], rng_txt=["黄色", "", "黄褐色"]),
    Q("性状", "", [("S_黄色软便", 4), ("S_软便", 3), ("S_成形便", 3), ("S_稀便", 1),
                 ("S_糊状便", 1)], ["S_黄色软便", "S_软便", "S_成形便"],
      rng_txt=["软便", "成形", ""]),
    Q("红细胞", "RBC", [("ND", 7), ("HP0-2", 1), ("HP3-5", 1)], ["ND"],
      rng_txt=["未检出", "0/HP"]),
    Q("白细胞", "WBC", [("ND", 6), ("HP0-2", 2), ("HP5-8", 1)], ["ND", "HP0-2"],
      rng_txt=["未检出", "0-2/HP"]),
    Q("吞噬细胞", "", [("ND", 9), ("HP0-1", 1)], ["ND"], rng_txt=["未检出"]),
    Q("寄生虫卵", "", [("ND", 10)], ["ND"], rng_txt=["未检出"], short="虫卵"),
    Q("脂肪球", "", [("ND", 7), ("FEW", 2)], ["ND"], rng_txt=["未检出"]),
    Q("真菌", "", [("ND", 8), ("FEW", 1)], ["ND"], rng_txt=["未检出"]),
    Q("隐血试验", "OB", [("NEG", 6), ("WPOS", 2), ("POS", 2)], ["NEG"],
      meth="胶体金法", short="隐血"),
    Q("转铁蛋白", "TF", [("NEG", 7), ("POS", 1)], ["NEG"], meth="胶体金法"),
    Q("轮状病毒抗原", "RV", [("NEG", 8), ("POS", 1)], ["NEG"], meth="胶体金法"),
]

LIVER = [
    N("丙氨酸氨基转移酶", "ALT", "U/L", "9", "50", 0, "速率法"),
    N("天门冬氨酸氨基转移酶", "AST", "U/L", "15", "40", 0, "速率法"),
    N("谷草/谷丙比值", "AST/ALT", "", "0.8", "1.5", 2, "计算法", crit=False),
    N("γ-谷氨酰转移酶", "GGT", "U/L", "10", "60", 0, "速率法"),
    N("碱性磷酸酶", "ALP", "U/L", "45", "125", 0, "速率法"),
    N("总胆红素", "TBIL", "μmol/L", "0.0", "21.0", 1, "钒酸盐氧化法"),
    N("直接胆红素", "DBIL", "μmol/L", "0.0", "6.8", 1, "钒酸盐氧化法"),
    N("间接胆红素", "IBIL", "μmol/L", "1.7", "13.7", 1, "计算法"),
    N("总蛋白", "TP", "g/L", "65.0", "85.0", 1, "双缩脲法"),
    N("白蛋白", "ALB", "g/L", "40.0", "55.0", 1, "溴甲酚绿法"),
    N("球蛋白", "GLB", "g/L", "20.0", "40.0", 1, "计算法"),
    N("白球比", "A/G", "", "1.2", "2.4", 2, "计算法", crit=False),
    N("总胆汁酸", "TBA", "μmol/L", "0.0", "10.0", 1, "酶循环法"),
    N("胆碱酯酶", "CHE", "U/L", "5000", "12000", 0, "速率法"),
    N("前白蛋白", "PA", "mg/L", "200", "400", 0, "免疫比浊法"),
    N("腺苷脱氨酶", "ADA", "U/L", "4", "24", 0, "比色法"),
]
HEART = [
    N("乳酸脱氢酶", "LDH", "U/L", "120", "250", 0, "速率法"),
    N("肌酸激酶", "CK", "U/L", "50", "310", 0, "速率法"),
    N("肌酸激酶同工酶", "CK-MB", "U/L", "0", "24", 1, "免疫抑制法"),
    N("α-羟丁酸脱氢酶", "HBDH", "U/L", "72", "182", 0, "速率法"),
]
KIDNEY = [
    N("尿素", "UREA", "mmol/L", "3.10", "8.00", 2, "脲酶法"),
    N("肌酐", "CREA", "μmol/L", None, None, 0, "酶法", sex=("57", "97", "41", "73")),
    N("尿酸", "UA", "μmol/L", None, None, 0, "尿酸酶法", sex=("208", "428", "155", "357")),
    N("胱抑素C", "CysC", "mg/L", "0.59", "1.03", 2, "免疫比浊法"),
    N("β2微球蛋白", "β2-MG", "mg/L", "1.00", "3.00", 2, "免疫比浊法"),
    N("估算肾小球滤过率", "eGFR", "mL/min/1.73m²", "90", None, 1, "计算法",
      one="≥", crit=False),
    N("二氧化碳结合力", "CO2", "mmol/L", "22.0", "29.0", 1, "酶法"),
]
LIPID = [
    N("总胆固醇", "TC", "mmol/L", None, "5.18", 2, "酶法", one="<"),
    N("甘油三酯", "TG", "mmol/L", None, "1.70", 2, "酶法", one="<"),
    N("高密度脂蛋白胆固醇", "HDL-C", "mmol/L", "1.04", None, 2, "直接法", one=">"),
    N("低密度脂蛋白胆固醇", "LDL-C", "mmol/L", None, "3.37", 2, "直接法", one="<"),
    N("载脂蛋白A1", "ApoA1", "g/L", "1.00", "1.60", 2, "免疫比浊法"),
    N("载脂蛋白B", "ApoB", "g/L", "0.60", "1.10", 2, "免疫比浊法"),
    N("脂蛋白(a)", "Lp(a)", "mg/L", None, "300", 0, "免疫比浊法", one="<"),
    N("小而密低密度脂蛋白胆固醇", "sdLDL-C", "mmol/L", "0.10", "1.20", 2, "酶法"),
]
ELEC = [
    N("钾", "K", "mmol/L", "3.50", "5.30", 2, "离子选择电极法"),
    N("钠", "Na", "mmol/L", "137.0", "147.0", 1, "离子选择电极法"),
    N("氯", "Cl", "mmol/L", "99.0", "110.0", 1, "离子选择电极法"),
    N("钙", "Ca", "mmol/L", "2.11", "2.52", 2, "比色法"),
    N("镁", "Mg", "mmol/L", "0.75", "1.02", 2, "比色法"),
    N("无机磷", "P", "mmol/L", "0.85", "1.51", 2, "比色法", short="磷"),
    N("总二氧化碳", "TCO2", "mmol/L", "22.0", "29.0", 1, "酶法"),
    N("阴离子间隙", "AG", "mmol/L", "8.0", "16.0", 1, "计算法", crit=False),
    N("血清渗透压", "Osm", "mOsm/L", "275", "305", 0, "计算法", crit=False),
]
GLUCOSE = [
    N("空腹血糖", "GLU", "mmol/L", "3.90", "6.10", 2, "己糖激酶法", short="葡萄糖"),
    N("餐后2小时血糖", "2hPG", "mmol/L", None, "7.80", 2, "己糖激酶法", one="<"),
    N("糖化血红蛋白", "HbA1c", "%", "4.0", "6.0", 1, "高效液相色谱法"),
    N("糖化白蛋白", "GA", "%", "11.0", "16.0", 1, "酶法"),
    N("果糖胺", "FMN", "mmol/L", "1.65", "2.15", 2, "比色法"),
    N("空腹胰岛素", "INS", "μIU/mL", "2.6", "24.9", 2, "化学发光法"),
    N("C肽", "C-P", "ng/mL", "1.10", "4.40", 2, "化学发光法"),
]
HBA1C = [
    N("糖化血红蛋白A1a", "A1a", "%", "0.0", "1.5", 1, "高效液相色谱法", crit=False),
    N("糖化血红蛋白A1b", "A1b", "%", "0.0", "2.0", 1, "高效液相色谱法", crit=False),
    N("胎儿血红蛋白", "F", "%", "0.0", "1.0", 1, "高效液相色谱法", crit=False),
    N("不稳定型糖化血红蛋白", "LA1c", "%", "0.0", "2.5", 1, "高效液相色谱法", crit=False),
    N("稳定型糖化血红蛋白", "SA1c", "%", "4.0", "6.0", 1, "高效液相色谱法"),
    N("糖化血红蛋白(IFCC)", "HbA1c", "mmol/mol", "20", "42", 0, "计算法"),
    N("估算平均血糖", "eAG", "mmol/L", "3.9", "7.0", 1, "计算法", crit=False),
    N("非糖化血红蛋白", "A0", "%", "85.0", "95.0", 1, "高效液相色谱法", crit=False),
]
THYROID = [
    N("促甲状腺激素", "TSH", "μIU/mL", "0.270", "4.200", 3, "电化学发光法",
      cens=[("<", "0.005"), (">", "100.000")]),
    N("游离三碘甲状腺原氨酸", "FT3", "pmol/L", "3.10", "6.80", 2, "电化学发光法"),
    N("游离甲状腺素", "FT4", "pmol/L", "12.00", "22.00", 2, "电化学发光法"),
    N("总三碘甲状腺原氨酸", "T3", "nmol/L", "1.30", "3.10", 2, "电化学发光法"),
    N("总甲状腺素", "T4", "nmol/L", "66.0", "181.0", 1, "电化学发光法"),
    N("抗甲状腺球蛋白抗体", "TGAb", "IU/mL", None, "115", 1, "电化学发光法",
      one="<", cens=[("<", "10.0"), (">", "4000.0")]),
    N("抗甲状腺过氧化物酶抗体", "TPOAb", "IU/mL", None, "34", 1, "电化学发光法",
      one="<", cens=[("<", "5.0"), (">", "600.0")]),
    N("甲状腺球蛋白", "Tg", "ng/mL", "3.50", "77.00", 2, "电化学发光法"),
    N("促甲状腺素受体抗体", "TRAb", "IU/L", None, "1.75", 2, "电化学发光法", one="<",
      cens=[("<", "0.80")]),
]
COAG = [
    N("凝血酶原时间", "PT", "s", "9.4", "12.5", 1, "凝固法"),
    N("国际标准化比值", "INR", "", "0.80", "1.20", 2, "计算法"),
    N("凝血酶原活动度", "PTA", "%", "70", "130", 0, "计算法"),
    N("活化部分凝血活酶时间", "APTT", "s", "25.1", "36.5", 1, "凝固法"),
    N("凝血酶时间", "TT", "s", "10.3", "16.6", 1, "凝固法"),
    N("纤维蛋白原", "FIB", "g/L", "2.00", "4.00", 2, "凝固法"),
    N("D-二聚体", "D-D", "mg/L FEU", None, "0.55", 2, "免疫比浊法", one="<",
      cens=[("<", "0.10")]),
    N("纤维蛋白(原)降解产物", "FDP", "μg/mL", None, "5.0", 1, "免疫比浊法", one="<",
      cens=[("<", "2.5")]),
    N("抗凝血酶III", "AT-III", "%", "80", "120", 0, "发色底物法"),
]
INFLAM = [
    N("C反应蛋白", "CRP", "mg/L", "0.00", "10.00", 2, "免疫比浊法",
      cens=[("<", "0.50"), (">", "200.00")]),
    N("超敏C反应蛋白", "hs-CRP", "mg/L", "0.00", "3.00", 2, "免疫比浊法",
      cens=[("<", "0.10")]),
    N("血清淀粉样蛋白A", "SAA", "mg/L", None, "10.0", 1, "免疫比浊法", one="<",
      cens=[("<", "5.0")]),
    N("降钙素原", "PCT", "ng/mL", None, "0.05", 3, "化学发光法", one="<",
      cens=[("<", "0.020")]),
    N("白细胞介素-6", "IL-6", "pg/mL", "0.0", "7.0", 2, "化学发光法",
      cens=[("<", "1.50")]),
    N("红细胞沉降率", "ESR", "mm/h", None, None, 0, "魏氏法",
      sex=("0", "15", "0", "20")),
]
HBV = [
    S("乙型肝炎病毒表面抗原", "HBsAg", "IU/mL", "0.05", 2, short="乙肝表面抗原"),
    S("乙型肝炎病毒表面抗体", "HBsAb", "mIU/mL", "10.0", 2, protective=True,
      short="乙肝表面抗体"),
    S("乙型肝炎病毒e抗原", "HBeAg", "S/CO", "1.00", 3, short="乙肝e抗原"),
    S("乙型肝炎病毒e抗体", "HBeAb", "S/CO", "1.00", 3, inverse=True,
      short="乙肝e抗体"),
    S("乙型肝炎病毒核心抗体", "HBcAb", "S/CO", "1.00", 3, short="乙肝核心抗体"),
]
INFECT_EXTRA = [
    S("丙型肝炎病毒抗体", "Anti-HCV", "S/CO", "1.00", 2, short="丙肝抗体"),
    S("人类免疫缺陷病毒抗原抗体", "HIV Ag/Ab", "S/CO", "1.00", 2, short="艾滋病抗体"),
    S("梅毒螺旋体特异性抗体", "TP-Ab", "S/CO", "1.00", 2, short="梅毒抗体"),
]
TUMOR = [
    N("总前列腺特异性抗原", "tPSA", "ng/mL", None, "4.000", 3, "化学发光法", one="<",
      cens=[("<", "0.003"), (">", "100.000")]),
    N("游离前列腺特异性抗原", "fPSA", "ng/mL", None, "0.930", 3, "化学发光法", one="<",
      cens=[("<", "0.010")]),
    N("游离PSA/总PSA比值", "f/tPSA", "", "0.25", None, 2, "计算法", one=">", crit=False),
    N("癌胚抗原", "CEA", "ng/mL", None, "5.00", 2, "化学发光法", one="<",
      cens=[("<", "0.20")]),
    N("甲胎蛋白", "AFP", "ng/mL", None, "7.00", 2, "化学发光法", one="<",
      cens=[("<", "0.50"), (">", "1000.0")]),
    N("糖类抗原125", "CA125", "U/mL", None, "35.00", 2, "化学发光法", one="<"),
    N("糖类抗原19-9", "CA19-9", "U/mL", None, "27.00", 2, "化学发光法", one="<",
      cens=[(">", "1000.0"), ("<", "0.80")]),
    N("糖类抗原15-3", "CA15-3", "U/mL", None, "25.00", 2, "化学发光法", one="<"),
    N("糖类抗原72-4", "CA72-4", "U/mL", None, "6.90", 2, "化学发光法", one="<",
      cens=[("<", "0.20")]),
    N("细胞角蛋白19片段", "CYFRA21-1", "ng/mL", None, "3.30", 2, "化学发光法", one="<"),
    N("神经元特异性烯醇化酶", "NSE", "ng/mL", None, "16.30", 2, "化学发光法", one="<"),
    N("鳞状细胞癌相关抗原", "SCC", "ng/mL", None, "1.50", 2, "化学发光法", one="<"),
    N("铁蛋白", "FER", "ng/mL", None, None, 1, "化学发光法",
      sex=("30", "400", "13", "150"), cens=[(">", "1500.0")]),
]

# kind -> (report_type, title options, sample type options)
KINDS = {
    "血常规": ("血常规", ["血细胞分析报告单", "血常规检验报告单", "全血细胞计数报告"], ["全血", "EDTA抗凝血"]),
    "尿常规": ("尿常规", ["尿液分析报告单", "尿常规检验报告单", "尿液检验报告"], ["尿液", "中段尿"]),
    "粪常规": ("粪常规", ["粪便常规检验报告单", "粪便检验报告单"], ["粪便"]),
    "生化": ("生化", ["生化检验报告单", "生物化学检验报告单", "生化全项报告单"], ["血清"]),
    "肿瘤标志物 PSA": ("肿瘤标志物 PSA", ["肿瘤标志物检测报告", "免疫检验报告单", "前列腺特异性抗原检测报告"], ["血清"]),
    "血糖": ("血糖", ["血糖检测报告单", "糖代谢检验报告单"], ["血清", "血浆"]),
    "糖化血红蛋白": ("糖化血红蛋白", ["糖化血红蛋白检测报告", "HbA1c 分析报告"], ["全血", "EDTA抗凝血"]),
    "血脂": ("血脂", ["血脂检验报告单", "血脂四项检测报告"], ["血清"]),
    "电解质": ("电解质", ["电解质检验报告单", "血清电解质报告单"], ["血清"]),
    "肝功": ("肝功", ["肝功能检验报告单", "肝功检测报告单"], ["血清"]),
    "肾功": ("肾功", ["肾功能检验报告单", "肾功检测报告单"], ["血清"]),
    "甲功": ("甲功", ["甲状腺功能检测报告", "甲功七项检验报告单"], ["血清"]),
    "凝血": ("凝血", ["凝血功能检验报告单", "凝血四项检测报告"], ["枸橼酸钠抗凝血浆", "血浆"]),
    "CRP": ("CRP", ["炎症指标检验报告单", "C反应蛋白检测报告"], ["血清", "全血"]),
    "乙肝五项": ("乙肝五项", ["乙肝五项定量检测报告", "感染性疾病标志物检验报告单"], ["血清"]),
}
KIND_ORDER = list(KINDS)


def _subset(rng, items, lo, hi, keep_first=0):
    """Pick between lo and hi analytes keeping catalog order."""
    n = rng.randint(min(lo, len(items)), min(hi, len(items)))
    n = max(n, min(keep_first, len(items)))
    idx = list(range(keep_first)) + sorted(
        rng.sample(range(keep_first, len(items)), max(0, n - keep_first)))
    return [items[i] for i in sorted(idx)]


def panel_groups(kind, rng):
    """Return list of (subheading or None, [analytes])."""
    if kind == "血常规":
        a = _subset(rng, CBC, 16, 24, keep_first=1)
        if rng.random() < 0.25:
            a = a + CBC_CRP
        return [(None, a)]
    if kind == "尿常规":
        dry = _subset(rng, UA_DRY, 9, 13, keep_first=2)
        sed = _subset(rng, UA_SED_NUM if rng.random() < 0.55 else UA_SED_HP, 3, 6)
        if rng.random() < 0.5:
            return [("干化学分析", dry), ("尿沉渣分析", sed)]
        return [(None, dry + sed)]
    if kind == "粪常规":
        return [(None, _subset(rng, FECES, 6, 11, keep_first=2))]
    if kind == "生化":
        pool = [("肝功能", LIVER, 8, 16), ("肾功能", KIDNEY, 4, 7), ("血脂", LIPID, 4, 8),
                ("电解质", ELEC, 5, 9), ("血糖", GLUCOSE[:2], 1, 2), ("心肌酶", HEART, 2, 4)]
        order = list(range(len(pool)))
        rng.shuffle(order)
        chosen, est = [], 0
        for i in order:       # 3-6 groups, at least ~18 rows in all
            if len(chosen) >= 3 and (est >= 18 or len(chosen) >= 6) and rng.random() < 0.6:
                break
            chosen.append(i)
            est += pool[i][3]
        chosen.sort()
        groups = []
        for i in chosen:
            title, items, lo, hi = pool[i]
            groups.append((title, _subset(rng, items, lo, hi, keep_first=1)))
        total = sum(len(g[1]) for g in groups)
        while total > 40:
            t, it = groups[0]
            groups[0] = (t, it[:-1])
            total -= 1
        if rng.random() < 0.3:
            groups = [(None, [a for g in groups for a in g[1]])]
        return groups
    if kind == "肿瘤标志物 PSA":
        if rng.random() < 0.5:
            return [(None, TUMOR[:3] + _subset(rng, TUMOR[3:], 3, 7))]
        return [(None, _subset(rng, TUMOR, 6, 13, keep_first=2))]
    if kind == "血糖":
        return [(None, _subset(rng, GLUCOSE, 6, 7, keep_first=1))]
    if kind == "糖化血红蛋白":
        return [(None, _subset(rng, HBA1C, 6, 8))]
    if kind == "血脂":
        return [(None, _subset(rng, LIPID, 6, 8, keep_first=4))]
    if kind == "电解质":
        return [(None, _subset(rng, ELEC, 6, 9, keep_first=3))]
    if kind == "肝功":
        return [(None, _subset(rng, LIVER, 8, 16, keep_first=2))]
    if kind == "肾功":
        return [(None, _subset(rng, KIDNEY, 6, 7, keep_first=3))]
    if kind == "甲功":
        return [(None, _subset(rng, THYROID, 6, 9, keep_first=3))]
    if kind == "凝血":
        return [(None, _subset(rng, COAG, 6, 9, keep_first=2))]
    if kind == "CRP":
        g = [(None, _subset(rng, INFLAM, 5, 6, keep_first=1))]
        if len(g[0][1]) < 6 or rng.random() < 0.3:
            g.append(("血常规" if rng.random() < 0.5 else None,
                      _subset(rng, CBC, 4, 8, keep_first=1)))
        return g
    if kind == "乙肝五项":
        g = [(None, list(HBV))]
        g.append(("其他" if rng.random() < 0.4 else None, _subset(rng, INFECT_EXTRA, 1, 3)))
        return g
    raise ValueError(kind)


# --------------------------------------------------------------------------
# sheet style
# --------------------------------------------------------------------------
FLAG_SETS = {
    "arrow": ("↑", "↓", "↑↑", "↓↓"),
    "arrow_single": ("↑", "↓", "↑", "↓"),
    "HL": ("H", "L", "HH", "LL"),
    "HL_single": ("H", "L", "H", "L"),
    "word": ("偏高", "偏低", "偏高", "偏低"),
    "star": ("*", "*", "*", "*"),
    "bang": ("!", "!", "!!", "!!"),
}
HEADERS = {
    "idx": ["序号", "No.", "NO"],
    "code": ["英文缩写", "代号", "缩写", "项目代号", "英文名称"],
    "name": ["项目名称", "检验项目", "项目", "中文名称", "检测项目"],
    "result": ["结果", "检验结果", "测定结果", "检测结果"],
    "flag": ["提示", "标志", "异常提示", "状态"],
    "prev": ["上次结果", "前次结果", "历史结果"],
    "unit": ["单位", "计量单位"],
    "range": ["参考范围", "参考值", "参考区间", "生物参考区间"],
    "lo": ["参考下限", "下限"],
    "hi": ["参考上限", "上限"],
    "method": ["检测方法", "方法", "检验方法"],
}
PAPER_MM = {"A4": (210.0, 297.0), "A5L": (210.0, 148.0), "thermal": (80.0, None)}


def make_style(kind, rng, n_rows):
    fams = usable_families()
    st = {}
    # paper
    if kind in ("糖化血红蛋白", "血糖", "CRP", "电解质") and n_rows <= 14:
        paper = rng.choices(["thermal", "A5L", "A4"], [4, 3, 2])[0]
    elif n_rows <= 14:
        paper = rng.choices(["thermal", "A5L", "A4"], [1, 4, 4])[0]
    elif n_rows <= 26:
        paper = rng.choices(["thermal", "A5L", "A4"], [1, 4, 5])[0]
    else:
        paper = rng.choices(["A5L", "A4"], [2, 5])[0]
    st["paper"] = paper
    thermal = paper == "thermal"
    if thermal:
        st["font"] = rng.choice([f for f in fams if f in ("zenhei_sharp", "zenhei", "noto_mono", "microhei")] or fams)
    else:
        st["font"] = rng.choice(fams)
    st["em_mm"] = rng.uniform(2.9, 3.6) if not thermal else rng.uniform(2.8, 3.3)
    st["line_k"] = rng.uniform(1.35, 1.75)
    # columns
    cols = []
    if not thermal and rng.random() < 0.45:
        cols.append("idx")
    code_pos = None
    if rng.random() < (0.35 if thermal else 0.55):
        code_pos = rng.choice(["before", "after"])
    st["name_paren_code"] = code_pos is None and not thermal and rng.random() < 0.35
    if code_pos == "before":
        cols += ["code", "name"]
    elif code_pos == "after":
        cols += ["name", "code"]
    else:
        cols += ["name"]
    if not thermal and rng.random() < 0.12:
        cols.append("method")
    cols.append("result")
    # flag placement
    fmode = rng.choices(["column", "glued", "space", "before", "none"],
                        [4, 3, 1.5, 1.5, 1.2])[0]
    st["flag_mode"] = fmode
    if fmode == "column":
        cols.append("flag")
        fset = rng.choices(list(FLAG_SETS), [4, 2, 3, 1, 2, 1, 1])[0]
    elif fmode == "none":
        fset = None
    else:
        fset = rng.choices(["arrow", "arrow_single", "HL", "HL_single", "star", "bang"],
                           [5, 2, 2, 1, 1, 1])[0]
    st["flag_set"] = fset
    st["emph"] = None
    if fmode == "none":
        st["emph"] = rng.choice(["bold", "red"])
    elif rng.random() < 0.2:
        st["emph"] = rng.choice(["bold", "red"])
    # qualitative abnormal: use high mark, star, or nothing
    st["qual_flag"] = rng.choice(["high", "high", "star", "none"]) if fset else "none"
    if fset == "word" or (fset in ("HL", "HL_single") and fmode != "column"):
        # no 偏高 / Latin H glued onto a word such as 阳性 or 微浑
        st["qual_flag"] = rng.choice(["star", "none"])
    prev_after = None
    if not thermal and rng.random() < 0.25:
        prev_after = rng.choice(["result", "end"])
    if prev_after == "result":
        cols.append("prev")
    two_bounds = (not thermal) and kind in ("血常规", "电解质", "肝功", "肾功", "凝血",
                                            "生化", "血糖") and rng.random() < 0.2
    st["two_bounds"] = two_bounds
    rcols = ["lo", "hi"] if two_bounds else ["range"]
    if thermal and rng.random() < 0.3:
        tail = rcols
    else:
        tail = (["unit"] + rcols) if rng.random() < 0.5 else (rcols + ["unit"])
    cols += tail
    if "method" not in cols and not thermal and rng.random() < 0.12:
        cols.append("method")
    if prev_after == "end":
        cols.append("prev")
    st["cols"] = cols
    st["headers"] = {k: rng.choice(v) for k, v in HEADERS.items()}
    st["headers"]["hi"] = "上限" if st["headers"]["lo"] == "下限" else "参考上限"
    if st["headers"]["flag"] == "状态" and fset == "word":
        st["headers"]["flag"] = "提示"
    st["prev_date"] = None
    # range format
    st["rng_sep"] = rng.choices(["-", "~", "--", "－", "～"], [5, 3, 2, 1, 1])[0]
    st["rng_paren"] = rng.random() < 0.15
    st["rng_pad"] = rng.random() < 0.3
    st["lt"] = rng.choice(["<", "≤", "0-"])
    st["gt"] = rng.choice([">", "≥", ">"])
    st["sex_mode"] = rng.choice(["both", "both", "own"])
    st["sex_colon"] = rng.choice([":", "：", ""])
    st["unit_109"] = rng.choice(["10^9/L", "×10^9/L", "10*9/L", "x10^9/L"])
    # qualitative notation
    st["neg"] = rng.choice(["阴性", "阴性", "阴性(-)", "-"])
    st["trace"] = rng.choice(["±", "+-", "±", "弱阳性"])
    st["plus"] = rng.choice(["n+", "n+", "plus"])       # 2+ vs ++
    st["pos"] = rng.choice(["阳性", "阳性(+)", "+"])
    st["nd"] = rng.choice(["未检出", "未检出", "未见"])
    st["sero"] = rng.choice(["num", "word", "numword", "numword"])
    # table look
    st["grid"] = "dashes" if thermal else rng.choice(["three", "three", "grid", "hlines", "zebra"])
    st["result_align"] = rng.choice(["left", "center", "right"])
    st["name_wrap"] = (not thermal) and rng.random() < 0.45
    st["short_names"] = thermal or rng.random() < 0.2
    st["subhead_style"] = rng.choice(["plain", "bracket", "dash"])
    st["color"] = (30, 30, 30) if not thermal else (70, 70, 70)
    st["header_layout"] = rng.choice(["center", "left_barcode", "center_barcode"])
    return st


# --------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------
def fmt(x, dec):
    s = f"{x:.{dec}f}"
    if s.startswith("-0") and float(s) == 0:
        s = s[1:]
    return s


def pad_bound(b, dec, st):
    if b is None:
        return None
    if st["rng_pad"]:
        cur = len(b.split(".")[1]) if "." in b else 0
        if dec > cur:
            return fmt(float(b), dec)
    return b


def qual_text(level, st):
    if level == "NEG":
        return st["neg"]
    if level == "TRACE":
        return st["trace"]
    if level == "WPOS":
        return "弱阳性"
    if level == "POS":
        return st["pos"]
    if level.endswith("+") and level[0].isdigit():
        n = int(level[0])
        return level if st["plus"] == "n+" else "+" * n
    if level == "ND":
        return st["nd"]
    if level == "FEW":
        return "少量"
    if level == "MORE":
        return "较多"
    if level.startswith("HPT"):
        return level[3:] + "/LP"
    if level.startswith("HP"):
        return level[2:] + ("/HP" if level[2].isdigit() else "")
    if level[:2] in ("C_", "T_", "S_"):
        return level[2:]
    raise ValueError(level)


def numeric_bounds(an, sex):
    lo, hi = an["lo"], an["hi"]
    if an["sex"]:
        m = an["sex"]
        lo, hi = (m[0], m[1]) if sex == "男" else (m[2], m[3])
    return lo, hi


def range_text(an, st, sex):
    """Printed reference cell (or (lo, hi) for two-bound sheets)."""
    dec = an.get("dec", 0)
    if an["kind"] == "num":
        if an["sex"] and st["sex_mode"] == "both" and not st["two_bounds"]:
            m = [pad_bound(b, dec, st) for b in an["sex"]]
            c = st["sex_colon"]
            sep = st["rng_sep"] if st["rng_sep"] in ("-", "~", "--") else "-"
            return f"男{c}{m[0]}{sep}{m[1]} 女{c}{m[2]}{sep}{m[3]}"
        lo, hi = numeric_bounds(an, sex)
        lo, hi = pad_bound(lo, dec, st), pad_bound(hi, dec, st)
        if st["two_bounds"]:
            if lo is None:
                lo = fmt(0, dec)
            if hi is None:
                hi = fmt(float(lo) * 1.8, dec)
            return (lo, hi)
        if lo is None:
            sym = an["one"] if (an["one"] and st["lt"] != "0-" and st["lt"] == "<") else st["lt"]
            if sym == "0-":
                r = f"0{st['rng_sep']}{hi}"
            else:
                r = f"{sym}{hi}"
        elif hi is None:
            r = f"{st['gt']}{lo}"
        else:
            r = f"{lo}{st['rng_sep']}{hi}"
        if st["rng_paren"]:
            r = f"({r})"
        return r
    if an["kind"] == "qual":
        if an["rng_txt"] is not None:
            return an["rng_txt"][zlib.crc32((st["neg"] + st["rng_sep"] + an["name"]).encode()) % len(an["rng_txt"])]
        return st["neg"] if st["neg"] != "-" else "阴性"
    # sero
    cut = an["cutoff"]
    sym = ">" if an["inverse"] else "<"
    if st["sero"] == "word":
        return "阴性" if not an["protective"] else "阴性"
    if st["sero"] == "numword" and st["neg"] == "阴性(-)":
        return f"阴性({sym}{cut})"
    return f"{sym}{cut}"


def gen_value(an, st, sex, rng, hbv_pattern=None):
    """Return (value_text, direction) where direction in
    None, 'H', 'L', 'HH', 'LL', 'P' (qualitative positive / abnormal)."""
    k = an["kind"]
    if k == "qual":
        levels, w = zip(*an["levels"])
        lev = rng.choices(levels, w)[0]
        return qual_text(lev, st), (None if lev in an["normal"] else "P")
    if k == "sero":
        pos = hbv_pattern.get(an["code"], rng.random() < 0.1) if hbv_pattern is not None \
            else rng.random() < 0.08
        cut = float(an["cutoff"])
        dec = an["dec"]
        if an["inverse"]:
            v = rng.uniform(0.005, 0.6) * cut if pos else rng.uniform(1.2, 2.5) * cut
        else:
            v = rng.uniform(1.5, 400) * cut if pos else rng.uniform(0.05, 0.7) * cut
        num = fmt(v, dec)
        if pos and not an["inverse"] and an["code"] == "HBsAg" and rng.random() < 0.4:
            num = ">250.00"
        word = ("阳性" if pos else "阴性")
        if st["neg"] == "阴性(-)":
            word = "阳性(+)" if pos else "阴性(-)"
        if st["sero"] == "num":
            txt = num
        elif st["sero"] == "word":
            txt = word
        else:
            txt = f"{num} {word}"
        if not pos:
            d = None
        elif st["sero"] == "num":
            d = "L" if an["inverse"] else "H"
        else:
            d = None if an["protective"] else "P"
        return txt, d
    # numeric
    dec = an["dec"]
    lo_s, hi_s = numeric_bounds(an, sex)
    lo = float(lo_s) if lo_s is not None else None
    hi = float(hi_s) if hi_s is not None else None
    if st["two_bounds"]:
        if lo is None:
            lo = 0.0
        if hi is None:
            hi = float(fmt(lo * 1.8, dec))
    span_lo = lo if lo is not None else (hi * 0.1 if hi else 0.0)
    span_hi = hi if hi is not None else span_lo * 1.8
    # censored?
    if an["cens"] and rng.random() < 0.3:
        sym, lim = rng.choice(an["cens"])
        limv = float(lim)
        if sym == "<":
            d = "L" if (lo is not None and limv <= lo and lo > 0) else None
        else:
            d = "HH" if an["crit"] and st["flag_set"] and rng.random() < 0.5 else "H"
            if hi is None:
                d = None
        return sym + lim, d
    can_low = lo is not None and lo > 0
    can_high = hi is not None
    opts = [("N", 0.70)]
    if can_high:
        opts.append(("H", 0.17))
    if can_low:
        opts.append(("L", 0.13))
    pick = rng.choices([o[0] for o in opts], [o[1] for o in opts])[0]
    want = None
    if pick == "N":
        v = rng.uniform(span_lo, span_hi) if span_hi > span_lo else span_lo
    else:
        # abnormal values move away from the bound by a fraction of the
        # normal span, so narrow ranges (Na, SG, pH) stay plausible
        span = max(span_hi - span_lo, abs(span_hi) * 0.05, 10 ** -dec)
        reach = 1.0 if an["crit"] else 0.3
        if pick == "H":
            if an["crit"] and rng.random() < 0.15:
                v, want = hi + span * rng.uniform(1.5, 4.0), "HH"
            else:
                v, want = hi + span * rng.uniform(0.05, reach), "H"
        else:
            if an["crit"] and rng.random() < 0.15:
                v, want = max(lo * 0.3, lo - span * rng.uniform(1.0, 2.5)), "LL"
            else:
                v, want = max(lo * 0.5, lo - span * rng.uniform(0.05, 0.6 * reach)), "L"
    txt = fmt(v, dec)
    vv = float(txt)
    # only a printed "<hi" makes the bound itself abnormal
    strict_hi = lo_s is None and st["lt"] == "<" and not st["two_bounds"] and not an["sex"]
    if hi is not None and (vv > hi or (strict_hi and vv >= hi)):
        d = "HH" if want == "HH" else "H"
    elif lo is not None and vv < lo:
        d = "LL" if want == "LL" else "L"
    else:
        d = None
    return txt, d


def prev_value(an, st, sex, rng):
    saved = st["flag_set"]
    txt, _ = gen_value(an, st, sex, rng, hbv_pattern={})
    st["flag_set"] = saved
    return txt


def flag_mark(direction, st):
    fs = st["flag_set"]
    if direction is None or fs is None:
        return ""
    marks = FLAG_SETS[fs]
    if direction == "P":
        q = st["qual_flag"]
        if q == "none":
            return ""
        if q == "star":
            return "*"
        return marks[0]
    return {"H": marks[0], "L": marks[1], "HH": marks[2], "LL": marks[3]}[direction]


def compose_result(value, flag, mode):
    if not flag:
        return value
    if mode == "glued":
        return value + flag
    if mode == "space":
        return value + " " + flag
    if mode == "before":
        return flag + " " + value if len(flag) > 1 or flag in "HL*!" else flag + value
    return value


def decompose_result(text, flag, mode):
    """Inverse of compose_result given the mode, used as a check."""
    if not flag or mode in ("column", "none"):
        return text
    if mode == "glued":
        assert text.endswith(flag)
        return text[:-len(flag)]
    if mode == "space":
        assert text.endswith(" " + flag)
        return text[:-len(flag) - 1]
    assert text.startswith(flag)
    return text[len(flag):].lstrip(" ")


# --------------------------------------------------------------------------
# invented people and places
# --------------------------------------------------------------------------
PLACES = ["临江", "青峰", "安平", "东岚", "云溪", "白沙", "柳川", "清河", "南屿", "嘉禾",
          "北塘", "长汀", "石渠", "桐庐湾", "凤岭", "双桥", "溪口", "洛川", "西岑", "永宁"]
HOSP_FMT = ["{p}市第{n}人民医院", "{p}市中心医院", "{p}县人民医院", "{p}市中医院",
            "{p}区妇幼保健院", "{p}医学院附属第{n}医院", "{p}市第{n}医院", "{p}仁和医院",
            "{p}县中西医结合医院", "{p}市人民医院{b}院区"]
SURN = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国志文斌海燕"
DEPTS = ["内分泌科", "心内科门诊", "消化内科", "泌尿外科", "体检中心", "急诊内科", "普通内科",
         "肾内科", "妇科门诊", "老年病科", "感染科", "呼吸内科", "全科医学科", "骨科病区"]
DIAG = ["体检", "高血压", "2型糖尿病", "发热待查", "腹痛", "乏力", "贫血待查", "慢性乙型肝炎",
        "前列腺增生", "高脂血症", "甲状腺结节", "尿路感染", "头晕", "咳嗽", "复查"]
REMARKS = ["本报告仅对所检标本负责，如有疑问请于3日内与检验科联系。",
           "结果仅供临床参考。",
           "危急值已电话通知临床。",
           "标本轻度溶血，可能影响部分结果。",
           "请结合临床分析。",
           "本结果仅对此标本负责"]


def person(rng):
    return rng.choice(SURN) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))


def make_meta(kind, rng, sex, st):
    p = rng.choice(PLACES)
    hosp = rng.choice(HOSP_FMT).format(p=p, n=rng.choice("一二三四五六"),
                                       b=rng.choice(["东", "南", "西", "北"]))
    rt, titles, samples = KINDS[kind]
    y = rng.choice([2022, 2023, 2024, 2025])
    mo, da = rng.randint(1, 12), rng.randint(1, 28)
    hh, mi = rng.randint(6, 10), rng.randint(0, 59)
    t0 = f"{y}-{mo:02d}-{da:02d} {hh:02d}:{mi:02d}"
    t1 = f"{y}-{mo:02d}-{da:02d} {hh:02d}:{min(59, mi + rng.randint(5, 40)):02d}"
    t2 = f"{y}-{mo:02d}-{da:02d} {rng.randint(11, 17):02d}:{rng.randint(0, 59):02d}"
    if rng.random() < 0.3:
        t0 += f":{rng.randint(0, 59):02d}"
    age = rng.randint(19, 86)
    info = [("姓名", person(rng)), ("性别", sex), ("年龄", f"{age}岁"),
            (rng.choice(["科别", "科室", "申请科室"]), rng.choice(DEPTS)),
            (rng.choice(["床号", "床位"]), rng.choice(["", "--", str(rng.randint(1, 60)), f"{rng.randint(1, 40)}床"])),
            (rng.choice(["病历号", "门诊号", "住院号", "ID号"]), str(rng.randint(10 ** 7, 10 ** 10 - 1))),
            (rng.choice(["标本类型", "样本类型", "标本种类"]), rng.choice(samples)),
            (rng.choice(["标本号", "样本号", "流水号"]), str(rng.randint(1, 2999)).zfill(rng.choice([3, 4]))),
            (rng.choice(["送检医生", "申请医生", "开单医生"]), person(rng)),
            ("临床诊断", rng.choice(DIAG)),
            (rng.choice(["采集时间", "采样时间"]), t0),
            (rng.choice(["接收时间", "签收时间"]), t1)]
    if rng.random() < 0.5:
        info.append(("仪器", rng.choice(["BC-6800", "AU5800", "cobas e601", "XN-1000", "UF-5000",
                                        "ACL TOP 700", "HLC-723G8", "i2000SR"])))
    rng.shuffle(info[3:])
    return dict(hospital=hosp, title=rng.choice(titles), report_type=rt, info=info,
                barcode=str(rng.randint(10 ** 9, 10 ** 12 - 1)), t_report=t2,
                tester=person(rng), checker=person(rng),
                remark=rng.choice(REMARKS), phone=f"0{rng.randint(510, 799)}-{rng.randint(2000000, 8999999)}")


# --------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------
def unit_text(u, st):
    if u == "10^9/L":
        return st["unit_109"]
    if u == "10^12/L":
        return st["unit_109"].replace("9", "12")
    return u


def build_rows(kind, rng, st, sex):
    """Entries: ('sub', text) or ('row', cells, item)."""
    groups = st["_groups"]
    hbv = None
    if kind == "乙肝五项":
        pat = rng.choices(["neg", "vacc", "small3", "big3", "past"], [3, 4, 2, 1, 2])[0]
        hbv = {"neg": {}, "vacc": {"HBsAb": True},
               "small3": {"HBsAg": True, "HBeAb": True, "HBcAb": True},
               "big3": {"HBsAg": True, "HBeAg": True, "HBcAb": True},
               "past": {"HBsAb": True, "HBcAb": True}}[pat]
        hbv = {k: v for k, v in hbv.items()}
        for c in ("HBsAg", "HBsAb", "HBeAg", "HBeAb", "HBcAb"):
            hbv.setdefault(c, False)
    entries = []
    n = 0
    for title, analytes in groups:
        if title:
            sh = st["subhead_style"]
            entries.append(("sub", {"bracket": f"【{title}】", "dash": f"—— {title} ——"}.get(sh, title)))
        for an in analytes:
            n += 1
            value, direction = gen_value(an, st, sex, rng, hbv_pattern=hbv)
            flag = flag_mark(direction, st) if st["flag_mode"] != "none" else ""
            name = an["short"] if st["short_names"] else an["name"]
            code = an["code"]
            if st["name_paren_code"] and code:
                name = f"{name}({code})"
            cells = {}
            cells["idx"] = str(n)
            cells["code"] = code if "code" in st["cols"] else ""
            cells["name"] = name
            cells["method"] = an.get("meth") or rng.choice(["比色法", "速率法", "化学发光法"])
            mode = st["flag_mode"]
            cells["result"] = compose_result(value, flag, mode)
            cells["flag"] = flag if mode == "column" else ""
            cells["prev"] = prev_value(an, st, sex, rng)
            cells["unit"] = unit_text(an.get("unit", ""), st)
            if an["kind"] == "sero" and st["sero"] == "word":
                cells["unit"] = ""
            r = range_text(an, st, sex)
            if isinstance(r, tuple):
                cells["lo"], cells["hi"] = r
                rtxt = f"{r[0]}-{r[1]}"
            else:
                cells["range"] = r
                rtxt = r
            # self-check: the value recovered from the drawn result cell
            assert decompose_result(cells["result"], flag, mode) == value, (cells["result"], flag, mode)
            abnormal = direction is not None
            item = {"block": 0, "row": 0, "name_printed": name,
                    "code_printed": cells["code"], "value": value,
                    "flag_printed": flag, "range_printed": rtxt,
                    "unit_printed": cells["unit"] if "unit" in st["cols"] else "",
                    "uncertain": []}
            entries.append(("row", cells, item, abnormal))
    return entries


# --------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------
_wcache = {}


def text_w(text, family, size, bold=False):
    key = (text, family, int(round(size)), bold)
    w = _wcache.get(key)
    if w is None:
        w = _font(family, size, bold).getlength(text)
        _wcache[key] = w
    return w


def wrap_cell(text, key, family, size, maxw):
    """Split text into lines that fit maxw (at most 3 lines)."""
    if maxw is None or text_w(text, family, size) <= maxw:
        return [text]
    if key == "range":
        return text.split(" ", 1) if " " in text else [text]
    lines, cur = [], ""
    i = 0
    while i < len(text):
        ch = text[i]
        # keep "(ALT)" style tails together when possible
        if ch in "(（" and cur:
            j = text.find(")" if ch == "(" else "）", i)
            tail = text[i:j + 1] if j > 0 else text[i:]
            if text_w(cur + tail, family, size) > maxw and text_w(tail, family, size) <= maxw:
                lines.append(cur)
                cur = ""
        if cur and text_w(cur + ch, family, size) > maxw:
            lines.append(cur)
            cur = ""
        cur += ch
        i += 1
    if cur:
        lines.append(cur)
    if len(lines) == 2 and len(lines[1]) == 1 and len(text) >= 4:
        # avoid a one-character orphan: split near the middle instead
        k = (len(text) + 1) // 2
        if text_w(text[:k], family, size) <= maxw:
            lines = [text[:k], text[k:]]
    if len(lines) > 3:
        lines = lines[:2] + ["".join(lines[2:])]
    return lines


def header_lines_for(entries):
    return [e for e in entries if e[0] == "row"]


def plan_table(st, entries, em, avail_w, blocks, drop, wrap_level):
    """Compute column widths for a given em (px).  Returns dict or None."""
    fam = st["font"]
    cols = [c for c in st["cols"] if c not in drop]
    pad = em * 0.9
    hdr = st["headers"]
    name_cap = None
    if st["name_wrap"] or wrap_level >= 1:
        name_cap = em * (st.get("name_cap_chars", 7) if wrap_level < 2 else 5.5)
    range_cap = None
    if wrap_level >= 1 or st.get("range_wrap"):
        range_cap = em * 6.2
    widths = {}
    for c in cols:
        hw = text_w(hdr[c], fam, em, True)
        cw = hw
        for e in entries:
            if e[0] != "row":
                continue
            t = e[1].get(c, "")
            if c == "name" and name_cap:
                lines = wrap_cell(t, c, fam, em, max(name_cap, hw))
            elif c == "range" and range_cap:
                lines = wrap_cell(t, c, fam, em, max(range_cap, hw))
            else:
                lines = [t]
            for ln in lines:
                cw = max(cw, text_w(ln, fam, em, c == "result" and st["emph"] == "bold"))
        widths[c] = cw + pad
    block_w = sum(widths.values())
    gap = em * 2.0
    total = blocks * block_w + (blocks - 1) * gap
    if total > avail_w:
        return None
    # stretch columns a bit to fill (realistic: tables span the block width)
    if st["paper"] != "thermal":
        target = (avail_w - (blocks - 1) * gap) / blocks
        extra = max(0.0, target - block_w) * st.get("fill", 0.8)
        for c in cols:
            widths[c] += extra * widths[c] / block_w
        block_w = sum(widths.values())
    return dict(cols=cols, widths=widths, block_w=block_w, gap=gap,
                name_cap=name_cap, range_cap=range_cap)


def cell_lines(st, plan, c, text, em):
    fam = st["font"]
    w = plan["widths"][c] - em * 0.9
    if c == "name" and plan["name_cap"]:
        return wrap_cell(text, c, fam, em, w)
    if c == "range" and plan["range_cap"]:
        return wrap_cell(text, c, fam, em, w)
    return [text]


def split_blocks(entries, blocks):
    rows = [i for i, e in enumerate(entries) if e[0] == "row"]
    per = math.ceil(len(rows) / blocks)
    out, cur, cnt = [], [], 0
    for e in entries:
        if e[0] == "row" and cnt == per and len(out) < blocks - 1:
            out.append(cur)
            cur, cnt = [], 0
        cur.append(e)
        if e[0] == "row":
            cnt += 1
    out.append(cur)
    # a trailing sub-heading at the end of a block moves to the next block
    for i in range(len(out) - 1):
        while out[i] and out[i][-1][0] == "sub":
            out[i + 1].insert(0, out[i].pop())
    return out


def row_heights(st, plan, block, em):
    lh = em * st["line_k"]
    inner = em * 1.2
    hs = []
    for e in block:
        if e[0] == "sub":
            hs.append(lh * 1.05)
            continue
        m = 1
        for c in plan["cols"]:
            m = max(m, len(cell_lines(st, plan, c, e[1].get(c, ""), em)))
        hs.append(max(lh, lh + (m - 1) * inner))
    return hs


# --------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------
class Pen:
    """Thin wrapper so the same code can measure (d=None) or draw."""

    def __init__(self, d, fam, color):
        self.d, self.fam, self.color = d, fam, color

    def text(self, x, y, t, size, bold=False, anchor="lm", fill=None):
        if self.d is None or not t:
            return
        f = _font(self.fam, size, bold)
        sw = 0
        if bold and _FONT_SPECS[self.fam][2] is None:
            sw = max(1, int(round(size / 30)))
        col = fill or self.color
        self.d.text((x, y), t, font=f, fill=col, anchor=anchor,
                    stroke_width=sw, stroke_fill=col)

    def line(self, x0, y0, x1, y1, w=1, fill=None, dash=False):
        if self.d is None:
            return
        col = fill or self.color
        if not dash:
            self.d.line([(x0, y0), (x1, y1)], fill=col, width=max(1, int(w)))
            return
        step = max(6, int(w * 6))
        x = x0
        while x < x1:
            self.d.line([(x, y0), (min(x + step * 0.6, x1), y1)], fill=col, width=max(1, int(w)))
            x += step

    def rect(self, box, fill):
        if self.d is not None:
            self.d.rectangle(box, fill=fill)


def draw_barcode(pen, x, y, w, h, digits, rng_seed, em):
    if pen.d is None:
        return
    r = random.Random(rng_seed)
    xx = x
    while xx < x + w:
        bw = r.choice([1, 1, 2, 3]) * max(1, em / 14)
        if r.random() < 0.55:
            pen.d.rectangle([xx, y, xx + bw, y + h], fill=(20, 20, 20))
        xx += bw
    pen.text(x + w / 2, y + h + em * 0.6, digits, em * 0.8, anchor="mm")


def draw_header(pen, st, meta, x0, y0, w, em, rseed):
    thermal = st["paper"] == "thermal"
    y = y0
    colon = st.get("colon", "：")
    lay = st["header_layout"]
    if thermal:
        y += em * 0.9
        pen.text(x0 + w / 2, y, meta["hospital"], em * 1.2, True, "mm")
        y += em * 1.6
        pen.text(x0 + w / 2, y, meta["title"], em * 1.05, True, "mm")
        y += em * 1.3
        pen.line(x0, y, x0 + w, y, em / 12, dash=True)
        y += em * 0.9
        info = meta["info"][:7]
        for i in range(0, len(info), 2):
            pair = info[i:i + 2]
            for j, (k, v) in enumerate(pair):
                pen.text(x0 + j * w / 2, y, f"{k}{colon}{v}", em * 0.85)
            y += em * 1.3
        return y + em * 0.1
    bc_w, bc_h = em * 10, em * 2.4
    if lay == "left_barcode":
        y += em * 1.1
        pen.text(x0, y, meta["hospital"], em * 1.7, True, "lm")
        y += em * 2.0
        pen.text(x0, y, meta["title"], em * 1.35, True, "lm")
        draw_barcode(pen, x0 + w - bc_w, y0 + em * 0.2, bc_w, bc_h, meta["barcode"], rseed, em)
        y += em * 1.6
    else:
        y += em * 1.1
        pen.text(x0 + w / 2, y, meta["hospital"], em * 1.7, True, "mm")
        y += em * 2.0
        pen.text(x0 + w / 2, y, meta["title"], em * 1.35, True, "mm")
        if lay == "center_barcode":
            draw_barcode(pen, x0, y0 + em * 0.2, bc_w * 0.8, bc_h, meta["barcode"], rseed, em)
        else:
            pen.text(x0 + w, y, f"条码号{colon}{meta['barcode']}", em * 0.85, anchor="rm")
        y += em * 1.6
    ncols = 4 if w / em > 58 else (3 if w / em > 40 else 2)
    info = meta["info"][: ncols * (3 if ncols > 2 else 4)]
    cw = w / ncols
    for i in range(0, len(info), ncols):
        for j, (k, v) in enumerate(info[i:i + ncols]):
            pen.text(x0 + j * cw, y, f"{k}{colon}{v}", em * 0.9)
        y += em * 1.5
    pen.line(x0, y - em * 0.35, x0 + w, y - em * 0.35, max(1, em / 14))
    return y + em * 0.4


def legend_text(st):
    fs = st["flag_set"]
    if not fs or st["flag_mode"] == "none":
        return ""
    m = FLAG_SETS[fs]
    if fs == "word":
        return ""
    if fs in ("star", "bang"):
        return f"注{st.get('colon', '：')}{m[0]} 表示结果异常"
    t = f"注{st.get('colon', '：')}{m[0]} 偏高  {m[1]} 偏低"
    if m[2] != m[0]:
        t += f"  {m[2]}/{m[3]} 危急值"
    return t


def draw_footer(pen, st, meta, x0, y0, w, em):
    thermal = st["paper"] == "thermal"
    c = st.get("colon", "：")
    y = y0 + em * 0.5
    fs = em * (0.85 if thermal else 0.9)
    if thermal:
        pen.line(x0, y, x0 + w, y, em / 12, dash=True)
        y += em * 1.0
        for t in [legend_text(st), f"检验者{c}{meta['tester']}",
                  f"报告时间{c}{meta['t_report']}", f"打印时间{c}{meta['t_report']}"]:
            if t:
                pen.text(x0, y, t, fs)
                y += em * 1.3
        return y + em * 1.5
    pen.line(x0, y, x0 + w, y, max(1, em / 14))
    y += em * 0.9
    leg = legend_text(st)
    if leg and st.get("legend", True):
        pen.text(x0, y, leg, fs)
        y += em * 1.35
    pen.text(x0, y, f"备注{c}{meta['remark']}", fs)
    y += em * 1.35
    pen.text(x0, y, f"检验者{c}{meta['tester']}", fs)
    pen.text(x0 + w * 0.3, y, f"审核者{c}{meta['checker']}", fs)
    pen.text(x0 + w, y, f"报告时间{c}{meta['t_report']}", fs, anchor="rm")
    y += em * 1.35
    pen.text(x0, y, f"咨询电话{c}{meta['phone']}", fs * 0.9)
    pen.text(x0 + w, y, st.get("page_txt", "第1页/共1页"), fs * 0.9, anchor="rm")
    return y + em * 0.9


ALIGN = {"name": "left", "code": "left", "unit": "left", "range": "left", "lo": "center",
         "hi": "center", "idx": "center", "flag": "center", "method": "left"}


def draw_table(pen, st, plan, blocks, x0, y0, em):
    """Draw the table blocks; returns (bottom y, ordered items)."""
    cols, widths = plan["cols"], plan["widths"]
    hdr = st["headers"]
    lh = em * st["line_k"]
    grid = st["grid"]
    lw = max(1, em / 16)
    bottom = y0
    items = []
    red = (200, 25, 30)
    for bi, block in enumerate(blocks):
        bx = x0 + bi * (plan["block_w"] + plan["gap"])
        bw = plan["block_w"]
        y = y0
        hh = lh * 1.1
        if grid in ("three", "zebra", "grid"):
            pen.line(bx, y, bx + bw, y, lw * 1.6)
        if grid == "dashes":
            pen.line(bx, y, bx + bw, y, lw, dash=True)
        xs = [bx]
        for c in cols:
            xs.append(xs[-1] + widths[c])
        for ci, c in enumerate(cols):
            al = ALIGN.get(c, st["result_align"])
            px = em * 0.45
            xx = {"left": xs[ci] + px, "center": (xs[ci] + xs[ci + 1]) / 2,
                  "right": xs[ci + 1] - px}[al]
            pen.text(xx, y + hh / 2, hdr[c], em, st.get("hdr_bold", True),
                     {"left": "lm", "center": "mm", "right": "rm"}[al])
        y += hh
        if grid == "dashes":
            pen.line(bx, y, bx + bw, y, lw, dash=True)
        else:
            pen.line(bx, y, bx + bw, y, lw)
        hs = row_heights(st, plan, block, em)
        row_in_block = 0
        for ri, (e, h) in enumerate(zip(block, hs)):
            if e[0] == "sub":
                pen.text(bx + em * 0.45, y + h / 2, e[1], em, True)
                y += h
                if grid in ("hlines", "grid"):
                    pen.line(bx, y, bx + bw, y, lw * 0.7, fill=(120, 120, 120))
                continue
            _, cells, item, abnormal = e
            row_in_block += 1
            if grid == "zebra" and row_in_block % 2 == 0:
                pen.rect([bx, y, bx + bw, y + h], (232, 232, 232))
            for ci, c in enumerate(cols):
                t = cells.get(c, "")
                lines = cell_lines(st, plan, c, t, em)
                al = ALIGN.get(c, st["result_align"])
                px = em * 0.45
                xx = {"left": xs[ci] + px, "center": (xs[ci] + xs[ci + 1]) / 2,
                      "right": xs[ci + 1] - px}[al]
                bold = False
                fill = None
                if c in ("result", "flag") and abnormal and st["emph"]:
                    if st["emph"] == "bold":
                        bold = True
                    else:
                        fill = red
                inner = em * 1.2
                ty = y + h / 2 - (len(lines) - 1) * inner / 2
                for ln in lines:
                    pen.text(xx, ty, ln, em, bold,
                             {"left": "lm", "center": "mm", "right": "rm"}[al], fill)
                    ty += inner
                # transcript strings must be what was drawn
                joined = (" " if c == "range" else "").join(lines)
                assert joined == t, (joined, t)
            y += h
            if grid in ("hlines", "grid"):
                pen.line(bx, y, bx + bw, y, lw * 0.7, fill=(120, 120, 120) if grid == "hlines" else None)
            it = dict(item)
            it["block"] = bi + 1
            it["code_printed"] = cells["code"] if "code" in cols else ""
            it["unit_printed"] = cells["unit"] if "unit" in cols else ""
            it["name_printed"] = cells["name"]
            if "range" in cols:
                assert it["range_printed"] == cells["range"]
            else:
                assert it["range_printed"] == f"{cells['lo']}-{cells['hi']}"
            if "flag" in cols:
                assert cells["flag"] == it["flag_printed"]
                assert cells["result"] == it["value"]
            else:
                assert decompose_result(cells["result"], it["flag_printed"], st["flag_mode"]) == it["value"]
            items.append(it)
        if grid in ("three", "zebra"):
            pen.line(bx, y, bx + bw, y, lw * 1.6)
        if grid == "grid":
            for xv in xs:
                pen.line(xv, y0, xv, y, lw)
            pen.line(bx, y0, bx + bw, y0, lw)
        bottom = max(bottom, y)
    # row numbers per block in reading order
    cnt = {}
    for it in items:
        cnt[it["block"]] = cnt.get(it["block"], 0) + 1
        it["row"] = cnt[it["block"]]
    return bottom, items


RES = {"A4": 11.0, "A5L": 14.0, "thermal": 14.0}
MIN_EM_MM = {"A4": 2.6, "A5L": 2.3, "thermal": 2.6}


def layout_sheet(st, entries, meta, rng):
    n_rows = sum(1 for e in entries if e[0] == "row")
    papers = [st["paper"]] + (["A4"] if st["paper"] == "A5L" else [])
    ladder = [((), 0), ((), 1), (("method",), 1), (("method", "prev"), 1),
              (("method", "prev", "idx"), 2), (("method", "prev", "idx", "code"), 2)]
    for paper in papers:
        st["paper"] = paper
        R = RES[paper]
        Wmm, Hmm = PAPER_MM[paper]
        margin = {"A4": rng.uniform(11, 17), "A5L": rng.uniform(7, 11), "thermal": 4.0}[paper]
        avail_w = (Wmm - 2 * margin) * R
        if paper == "thermal":
            bprefs = [1]
        else:
            bprefs = [st["blocks_pref"]] + [b for b in (1, 2, 3) if b != st["blocks_pref"]]
        bprefs = [b for b in bprefs if b == 1 or n_rows >= 4 * b] or [1]
        for blocks in bprefs:
            em_mm = st["em_mm"]
            while em_mm >= MIN_EM_MM[paper] - 1e-6:
                em = em_mm * R
                for drop, wl in ladder:
                    plan = plan_table(st, entries, em, avail_w, blocks, set(drop), wl)
                    if plan is None:
                        continue
                    bl = split_blocks(entries, blocks)
                    pen = Pen(None, st["font"], st["color"])
                    hy = draw_header(pen, st, meta, margin * R, margin * R, avail_w, em, 0)
                    th = max(sum(row_heights(st, plan, b, em)) for b in bl) + em * st["line_k"] * 1.1
                    fy = draw_footer(pen, st, meta, margin * R, hy + th, avail_w, em)
                    if Hmm is None or fy <= (Hmm - margin * 0.6) * R:
                        return dict(paper=paper, R=R, margin=margin, avail_w=avail_w,
                                    blocks=bl, plan=plan, em=em, em_mm=em_mm,
                                    height_px=(fy + margin * R) if Hmm is None else Hmm * R)
                em_mm -= 0.15
    return None


def render_paper(st, entries, meta, rng):
    lay = layout_sheet(st, entries, meta, rng)
    if lay is None:
        return None
    R = lay["R"]
    Wmm, _ = PAPER_MM[lay["paper"]]
    W, H = int(round(Wmm * R)), int(round(lay["height_px"]))
    base = (246, 245, 240) if lay["paper"] == "thermal" else tuple(int(v) for v in rng.choice(
        [(252, 252, 250), (250, 250, 246), (248, 249, 250), (253, 251, 245)]))
    img = Image.new("RGB", (W, H), base)
    d = ImageDraw.Draw(img)
    pen = Pen(d, st["font"], st["color"])
    m = lay["margin"] * R
    em = lay["em"]
    hy = draw_header(pen, st, meta, m, m, lay["avail_w"], em, rng.randint(0, 10 ** 9))
    ty, items = draw_table(pen, st, lay["plan"], lay["blocks"], m, hy, em)
    draw_footer(pen, st, meta, m, ty, lay["avail_w"], em)
    return img, items, lay


# --------------------------------------------------------------------------
# captures
# --------------------------------------------------------------------------
MIN_EM_OUT = 20.5     # em (px) of result text in the output; digits ~0.72 em


def _lowres_field(nrng, h, w, cell=48):
    sh, sw = max(2, h // cell), max(2, w // cell)
    f = nrng.standard_normal((sh, sw)).astype(np.float32)
    return cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC)


def make_background(kind, h, w, nrng):
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    if kind == "wood":
        base = np.array([92, 128, 168], np.float32)      # BGR brownish
        ang = nrng.uniform(-0.3, 0.3)
        u = yy * math.cos(ang) + xx * math.sin(ang)
        warp = _lowres_field(nrng, h, w, 160) * 0.02
        stripes = np.sin((u + warp) * nrng.uniform(60, 140)) * 0.5 + 0.5
        fine = _lowres_field(nrng, h, w, 6) * 0.04
        v = 0.78 + 0.22 * stripes + fine
        img = base[None, None, :] * v[..., None]
    elif kind == "dark_cloth":
        base = np.array(nrng.uniform(35, 70, 3), np.float32)
        v = 1 + _lowres_field(nrng, h, w, 3) * 0.08 + _lowres_field(nrng, h, w, 200) * 0.1
        img = base[None, None, :] * v[..., None]
    elif kind == "white_desk":
        g = nrng.uniform(195, 225)
        base = np.array([g - 2, g, g + 3], np.float32)
        v = 1 + _lowres_field(nrng, h, w, 120) * 0.04 + _lowres_field(nrng, h, w, 4) * 0.015
        img = base[None, None, :] * v[..., None]
    elif kind == "gray_desk":
        g = nrng.uniform(110, 160)
        base = np.array([g + 4, g, g - 3], np.float32)
        v = 1 + _lowres_field(nrng, h, w, 90) * 0.06 + _lowres_field(nrng, h, w, 3) * 0.03
        img = base[None, None, :] * v[..., None]
    else:  # beige tablecloth with a faint check pattern
        base = np.array([170, 200, 215], np.float32)
        p = nrng.uniform(30, 60)
        chk = ((np.sin(xx * w / p) > 0) ^ (np.sin(yy * h / p) > 0)).astype(np.float32)
        v = 0.93 + 0.07 * chk + _lowres_field(nrng, h, w, 4) * 0.02
        img = base[None, None, :] * v[..., None]
    return np.clip(img, 0, 255).astype(np.float32)


def _jpeg(bgr, q):
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(q)])
    assert ok
    return buf.tobytes()


def capture_photo(paper_bgr, lay, rng, nrng, force_rot=None):
    ph, pw = paper_bgr.shape[:2]
    em = lay["em"]
    portrait = ph >= pw
    aspect = rng.choice([4 / 3, 4 / 3, 4 / 3, 16 / 9])
    theta = rng.triangular(-8.0, 8.0, 0.0)
    keystone = rng.uniform(0.0, 0.06)
    kedge = rng.choice(["top", "top", "bottom", "left", "right"])
    frac = rng.uniform(0.70, 0.92)
    L = rng.uniform(1500, 3000)

    def corners_for(L, frac):
        cw, ch = (L / aspect, L) if portrait else (L, L / aspect)
        t = math.radians(theta)
        bw = pw * abs(math.cos(t)) + ph * abs(math.sin(t))
        bh = pw * abs(math.sin(t)) + ph * abs(math.cos(t))
        s = min(frac * cw / bw, frac * ch / bh)
        c = np.array([[-pw / 2, -ph / 2], [pw / 2, -ph / 2], [pw / 2, ph / 2], [-pw / 2, ph / 2]]) * s
        # keystone: shrink one edge toward its midpoint
        e = {"top": (0, 1), "bottom": (3, 2), "left": (0, 3), "right": (1, 2)}[kedge]
        mid = (c[e[0]] + c[e[1]]) / 2
        c[e[0]] = mid + (c[e[0]] - mid) * (1 - keystone)
        c[e[1]] = mid + (c[e[1]] - mid) * (1 - keystone)
        rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
        c = c @ rot.T
        jit = np.array([[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(4)]) * 0.008 * max(pw, ph) * s
        c = c + jit
        slack_x = max(0.0, (cw - (c[:, 0].max() - c[:, 0].min())) / 2 - 4)
        slack_y = max(0.0, (ch - (c[:, 1].max() - c[:, 1].min())) / 2 - 4)
        off = np.array([cw / 2 + rng.uniform(-0.6, 0.6) * slack_x,
                        ch / 2 + rng.uniform(-0.6, 0.6) * slack_y])
        c = c + off
        src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float64)
        ratios = []
        for a, b in ((0, 1), (1, 2), (2, 3), (3, 0)):
            ratios.append(np.linalg.norm(c[b] - c[a]) / np.linalg.norm(src[b] - src[a]))
        return int(round(cw)), int(round(ch)), c, min(ratios)

    state = rng.getstate()
    cw, ch, dst, r = corners_for(L, frac)
    if em * r < MIN_EM_OUT:
        L = min(3000.0, L * MIN_EM_OUT / (em * r) * 1.02)
        rng.setstate(state)
        cw, ch, dst, r = corners_for(L, frac)
        if em * r < MIN_EM_OUT:
            frac = min(0.97, frac * MIN_EM_OUT / (em * r) * 1.01)
            rng.setstate(state)
            cw, ch, dst, r = corners_for(L, frac)
    # downscale paper close to its final size first (area filter), then warp
    s0 = min(1.0, r * 1.15)
    small = cv2.resize(paper_bgr, (max(1, int(pw * s0)), max(1, int(ph * s0))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float32)
    Hm = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    warped = cv2.warpPerspective(small, Hm, (cw, ch), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0)).astype(np.float32)
    mask = cv2.warpPerspective(np.full((sh, sw), 255, np.uint8), Hm, (cw, ch), flags=cv2.INTER_LINEAR)
    m = (mask.astype(np.float32) / 255.0)[..., None]
    bgk = rng.choice(["wood", "wood", "gray_desk", "white_desk", "dark_cloth", "beige"])
    bg = make_background(bgk, ch, cw, nrng)
    # drop shadow of the sheet on the desk
    k = int(max(cw, ch) * 0.02) | 1
    sm = cv2.GaussianBlur(mask, (k, k), 0).astype(np.float32) / 255.0
    dx, dy = int(rng.uniform(-0.006, 0.012) * cw), int(rng.uniform(0.0, 0.012) * ch)
    sm = np.roll(np.roll(sm, dy, axis=0), dx, axis=1)
    bg *= (1 - 0.35 * sm)[..., None]
    out = bg * (1 - m) + warped * m
    # uneven light
    hh, ww = max(2, ch // 16), max(2, cw // 16)
    yy = np.linspace(-0.5, 0.5, hh, dtype=np.float32)[:, None]
    xx = np.linspace(-0.5, 0.5, ww, dtype=np.float32)[None, :]
    field = rng.uniform(0.86, 1.0) + rng.uniform(-0.25, 0.25) * xx + rng.uniform(-0.25, 0.25) * yy
    field = field - rng.uniform(0.0, 0.25) * (xx ** 2 + yy ** 2)
    light = "gradient"
    if rng.random() < 0.35:
        cx, cy = rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4)
        rad = rng.uniform(0.15, 0.35)
        field = field - rng.uniform(0.12, 0.28) * np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * rad * rad)))
        light = "gradient+soft shadow"
    field = cv2.resize(np.clip(field, 0.5, 1.1).astype(np.float32), (cw, ch), interpolation=cv2.INTER_CUBIC)
    out *= field[..., None]
    w = rng.uniform(-0.04, 0.07)
    out *= np.array([1 - w, 1.0, 1 + w * 0.8], np.float32)[None, None, :]
    sig = rng.uniform(0.3, 0.9)
    out = cv2.GaussianBlur(out, (0, 0), sig)
    out += nrng.normal(0, rng.uniform(1.5, 4.5), out.shape).astype(np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    rot = 0
    if force_rot is not None:
        rot = force_rot
    if rot:
        out = np.ascontiguousarray(np.rot90(out, k=-(rot // 90)))   # clockwise
    q = rng.randint(75, 92)
    desc = (f"phone photo, tilt {theta:+.1f}deg, keystone {keystone:.2f} ({kedge}), {bgk} background, "
            f"{light}, blur {sig:.1f}, q{q}" + (f", rotated {rot}" if rot else ""))
    return _jpeg(out, q), desc, em * r


def capture_scan(paper_bgr, lay, rng, nrng):
    ph, pw = paper_bgr.shape[:2]
    R = lay["R"]
    em_mm = lay["em"] / R
    pw_mm, ph_mm = pw / R, ph / R
    if lay["paper"] == "thermal":
        bed_w, bed_h = 210.0, max(297.0, ph_mm + 16)
    else:
        bed_w, bed_h = pw_mm + rng.uniform(0, 6), ph_mm + rng.uniform(0, 6)
    dpi = rng.choice([150, 200, 240, 300])
    dpi_min = MIN_EM_OUT * 25.4 / em_mm
    dpi_max = 3000 * 25.4 / max(bed_w, bed_h)
    dpi_lo_side = 1200 * 25.4 / max(bed_w, bed_h)
    dpi = int(max(min(max(dpi, dpi_min, dpi_lo_side), dpi_max), 1))
    pxmm = dpi / 25.4
    s = pxmm / R
    small = cv2.resize(paper_bgr, (int(pw * s), int(ph * s)), interpolation=cv2.INTER_AREA)
    bw, bh = int(bed_w * pxmm), int(bed_h * pxmm)
    bedv = rng.uniform(232, 252)
    bed = np.full((bh, bw, 3), bedv, np.float32)
    sh, sw = small.shape[:2]
    ox = int(rng.uniform(0, max(0, bw - sw))) if lay["paper"] == "thermal" else (bw - sw) // 2
    oy = int(rng.uniform(0, max(0, bh - sh) * 0.3)) if lay["paper"] == "thermal" else (bh - sh) // 2
    ox, oy = max(0, ox), max(0, oy)
    bed[oy:oy + sh, ox:ox + sw] = small[: bh - oy, : bw - ox]
    ang = rng.uniform(-0.9, 0.9)
    M = cv2.getRotationMatrix2D((bw / 2, bh / 2), ang, 1.0)
    bed = cv2.warpAffine(bed, M, (bw, bh), flags=cv2.INTER_LINEAR, borderValue=(bedv, bedv, bedv))
    gamma = rng.uniform(0.85, 1.1)
    bed = 255.0 * (bed / 255.0) ** gamma
    bed = cv2.GaussianBlur(bed, (0, 0), rng.uniform(0.3, 0.6))
    bed += nrng.normal(0, rng.uniform(0.8, 2.5), bed.shape).astype(np.float32)
    gray = rng.random() < 0.35
    out = np.clip(bed, 0, 255).astype(np.uint8)
    if gray:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    q = rng.randint(85, 95)
    desc = f"flat scan {dpi} dpi, skew {ang:+.1f}deg, {'grayscale' if gray else 'colour'}, q{q}"
    return _jpeg(out, q), desc, lay["em"] * s


# --------------------------------------------------------------------------
# one sheet
# --------------------------------------------------------------------------
def kind_order(seed):
    order = list(KIND_ORDER)
    random.Random(f"F-order-{seed}").shuffle(order)
    return order


def make_sheet(args):
    i, seed, out = args
    sid = f"F{i:02d}"
    rng = random.Random(f"F-{seed}-{i}")
    nrng = np.random.default_rng(rng.randint(0, 2 ** 32 - 1))
    kind = kind_order(seed)[(i - 1) % len(KIND_ORDER)]
    sex = "男" if kind == "肿瘤标志物 PSA" else rng.choice(["男", "女"])
    groups = panel_groups(kind, rng)
    n_rows = sum(len(g[1]) for g in groups)
    st = make_style(kind, rng, n_rows)
    st["_groups"] = groups
    st["colon"] = rng.choice(["：", "：", ":"])
    st["hdr_bold"] = rng.random() < 0.7
    st["legend"] = rng.random() < 0.7
    st["page_txt"] = rng.choice(["第1页/共1页", "第 1 页 共 1 页", "Page 1/1", "1/1"])
    st["fill"] = rng.uniform(0.5, 1.0)
    st["name_cap_chars"] = rng.choice([5, 6, 7, 8])
    st["range_wrap"] = rng.random() < 0.4
    if st["paper"] == "thermal":
        st["blocks_pref"] = 1
    elif st["paper"] == "A5L":
        st["blocks_pref"] = (1 if n_rows < 8 else rng.choice([1, 2, 2]) if n_rows < 15
                             else rng.choice([2, 2, 3, 3]))
    else:
        st["blocks_pref"] = (1 if n_rows < 10 else rng.choice([1, 2]) if n_rows < 20
                             else rng.choice([1, 2, 2, 3]))
    if st["blocks_pref"] == 3:      # three blocks side by side: slim columns
        st["cols"] = [c for c in st["cols"] if c not in ("idx", "method", "prev")]
        st["short_names"] = True
        st["name_paren_code"] = False
    meta = make_meta(kind, rng, sex, st)
    meta["info"] = [(k, (sex if k == "性别" else v)) for k, v in meta["info"]]
    entries = build_rows(kind, rng, st, sex)
    res = render_paper(st, entries, meta, rng)
    if res is None:       # very dense: fall back to a plain A4 layout
        st["paper"], st["name_wrap"], st["blocks_pref"] = "A4", True, 2
        res = render_paper(st, entries, meta, rng)
    assert res is not None, sid
    img, items, lay = res
    paper_bgr = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
    if st["paper"] == "thermal":
        # thermal print: slightly faded, uneven darkness along the strip
        f = 1 - 0.1 * np.abs(_lowres_field(nrng, paper_bgr.shape[0], paper_bgr.shape[1], 400))
        ink = 255 - paper_bgr.astype(np.float32)
        paper_bgr = np.clip(255 - ink * f[..., None] * rng.uniform(0.8, 1.0), 0, 255).astype(np.uint8)
    plan = rng.choices(["p", "s", "pp", "ps"], [52, 14, 16, 18])[0]
    caps = []
    np_ = 0
    for c in plan:
        if c == "p":
            np_ += 1
            rot = rng.choice([90, 180, 270]) if rng.random() < 1 / 6 else 0
            data, desc, em_out = capture_photo(paper_bgr, lay, rng, nrng, force_rot=rot)
            caps.append((f"{sid}__photo{np_}.jpg", data, desc, em_out))
        else:
            data, desc, em_out = capture_scan(paper_bgr, lay, rng, nrng)
            caps.append((f"{sid}__scan.jpg", data, desc, em_out))
    for fn, data, _d, _e in caps:
        with open(os.path.join(out, "images", fn), "wb") as fh:
            fh.write(data)
    cols = lay["plan"]["cols"]
    subs = [e[1] for b in lay["blocks"] for e in b if e[0] == "sub"]
    wrapped = any(len(cell_lines(st, lay["plan"], "name", it["name_printed"], lay["em"])) > 1 for it in items)
    notes = (f"{lay['paper']} paper, {len(lay['blocks'])} side-by-side block(s); columns: "
             f"{' | '.join(st['headers'][c] for c in cols)}; flag style: "
             f"{st['flag_mode']}" + (f" ({'/'.join(FLAG_SETS[st['flag_set']])})" if st['flag_set'] else "")
             + (f"; abnormal results printed {st['emph']}" if st['emph'] else "")
             + f"; grid {st['grid']}; range separator '{st['rng_sep']}'"
             + ("; two bound columns" if st["two_bounds"] else "")
             + ("; long names wrap inside the cell" if wrapped else "")
             + (f"; sub-headings (not results): {', '.join(subs)}" if subs else "")
             + ("; 上次结果 column holds older values (not transcribed)" if "prev" in cols else "")
             + f"; smallest result text em ~{min(c[3] for c in caps):.0f}px")
    tr = {"sheet": sid, "files": [c[0] for c in caps], "report_type": meta["report_type"],
          "transcriber": "generator F", "rows_not_legible": 0, "notes": notes, "items": items}
    with open(os.path.join(out, "transcripts", f"{sid}.json"), "w", encoding="utf-8") as fh:
        json.dump(tr, fh, ensure_ascii=False, indent=1)
    return [dict(file=c[0], sheet=sid, report_type=meta["report_type"], hospital=meta["hospital"],
                 rows_approx=len(items), photo=c[2], source_repo=SOURCE_REPO) for c in caps]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    os.makedirs(os.path.join(a.out, "images"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "transcripts"), exist_ok=True)
    usable_families()
    t0 = time.time()
    tasks = [(i, a.seed, a.out) for i in range(1, a.n + 1)]
    if a.jobs > 1:
        with ProcessPoolExecutor(max_workers=a.jobs) as ex:
            results = list(ex.map(make_sheet, tasks))
    else:
        results = [make_sheet(t) for t in tasks]
    rows = [r for res in results for r in res]
    with open(os.path.join(a.out, "images.csv"), "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["file", "sheet", "report_type", "hospital",
                                           "rows_approx", "photo", "source_repo"])
        w.writeheader()
        w.writerows(rows)
    print(f"{len(results)} sheets, {len(rows)} images -> {a.out} ({time.time() - t0:.1f}s)")


if __name__ == "__main__":
    main()
