#!/usr/bin/env python3
"""Blind test-set generator C: Chinese hospital lab-report sheets "between the lab and the patient's phone".

Renders synthetic but realistic images of mainland-China LIS printouts (血常规, 尿常规, 粪常规, 生化,
肿瘤标志物/PSA and a few others: 凝血, 甲功, 传染病) printed on laser / ink-jet / thermal printers, and then
damages them the way they get damaged before a patient photographs them:

  * a red round or oval seal ("XX医院检验科 检验专用章") stamped partly over the table or the footer
    (semi-transparent red, multiplied over the black print);
  * ballpoint handwriting (blue/black): ticks, circles around results, underlines, short margin notes,
    a signature scribble - never covering a result so that a person could not read it;
  * a yellow/green highlighter stroke across one or two rows;
  * folds/creases (folded in three or in four: crease line, shading change, page not quite flat),
    a staple or a punched hole, a torn or curled corner away from the table;
  * two sheets photographed together, overlapping (the sheet to read is the larger one in the middle);
  * a finger/thumb at one edge of the photo (outside the table);
  * screen photos (sheet shown on a monitor: pixel grid, moire bands, bluish, glare).

Handwriting and seals are not transcribed: the transcript lists only what the LIS printed.

Written without seeing the OCR code, its knowledge files or any real sheet in the repository; everything
here comes from general knowledge of what Chinese hospital lab printouts look like.

CLI:  python blind_sheets_c.py --out DIR [--seed 7] [-n 30]
Writes DIR/images/<SHEET>__<capture>.jpg, DIR/images.csv, DIR/transcripts/<SHEET>.json
"""
import argparse
import csv
import json
import math
import os
import random
import time

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

# ----------------------------------------------------------------------------------------------------------
# fonts
# ----------------------------------------------------------------------------------------------------------
FONT_FILES = {
    'sans': ('/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc', 2),
    'sans_bold': ('/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc', 2),
    'serif': ('/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc', 2),
    'serif_bold': ('/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc', 2),
    'zenhei': ('/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc', 0),
    'microhei': ('/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', 0),
    'uming': ('/usr/share/fonts/truetype/arphic/uming.ttc', 0),
    'dejavu': ('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', 0),
}
BOLD_OF = {'sans': 'sans_bold', 'serif': 'serif_bold', 'zenhei': 'sans_bold', 'microhei': 'sans_bold',
           'uming': 'serif_bold'}
_FONT_CACHE = {}
FALLBACK_CHARS = set('⁰¹²³⁴⁵⁶⁷⁸⁹')  # superscripts missing in most CJK fonts -> DejaVu


def font(key, size):
    size = int(round(size))
    k = (key, size)
    if k not in _FONT_CACHE:
        path, idx = FONT_FILES[key]
        _FONT_CACHE[k] = ImageFont.truetype(path, size, index=idx)
    return _FONT_CACHE[k]


def _runs(s, fkey):
    runs, cur, curk = [], '', None
    for ch in s:
        k = 'dejavu' if (ch in FALLBACK_CHARS and fkey != 'uming') else fkey
        if k != curk and cur:
            runs.append((curk, cur))
            cur = ''
        cur += ch
        curk = k
    if cur:
        runs.append((curk, cur))
    return runs


def text_w(s, fkey, size):
    return sum(font(k, size).getlength(t) for k, t in _runs(s, fkey))


def draw_text(draw, x, base, s, fkey, size, fill=0, align='l', spacing=0.0):
    """draw s with baseline at `base`; align l/c/r relative to x. Returns bbox (x0,y0,x1,y1)."""
    if spacing:
        s_w = text_w(s, fkey, size) + spacing * (len(s) - 1)
    else:
        s_w = text_w(s, fkey, size)
    if align == 'c':
        x = x - s_w / 2
    elif align == 'r':
        x = x - s_w
    x0 = x
    for k, t in _runs(s, fkey):
        f = font(k, size)
        if spacing:
            for ch in t:
                draw.text((x, base), ch, font=f, fill=fill, anchor='ls')
                x += f.getlength(ch) + spacing
        else:
            draw.text((x, base), t, font=f, fill=fill, anchor='ls')
            x += f.getlength(t)
    return (int(x0), int(base - size * 0.88), int(x0 + s_w + 1), int(base + size * 0.2))


# ----------------------------------------------------------------------------------------------------------
# catalogues (code variants, name variants, unit key, range male, range female, decimals, kind)
# kind: both | lt (upper limit only) | gt (lower limit only)
# ----------------------------------------------------------------------------------------------------------
def I(codes, names, unit, rm, rf=None, dec=1, kind='both', method=''):
    return dict(codes=codes, names=names, unit=unit, rm=rm, rf=rf, dec=dec, kind=kind, method=method)


CBC = {
    'WBC': I(['WBC'], ['白细胞计数', '白细胞', '白细胞数目'], 'e9', ('3.5', '9.5'), dec=2),
    'NEUT%': I(['NEUT%', 'NEU%', 'GRAN%'], ['中性粒细胞百分比', '中性粒细胞百分数', '中性粒细胞比率'], '%', ('40', '75')),
    'LYMPH%': I(['LYMPH%', 'LYM%', 'LYM%'], ['淋巴细胞百分比', '淋巴细胞百分数', '淋巴细胞比率'], '%', ('20', '50')),
    'MONO%': I(['MONO%', 'MON%', 'MID%'], ['单核细胞百分比', '单核细胞百分数', '单核细胞比率'], '%', ('3', '10')),
    'EO%': I(['EO%', 'EOS%', 'EO%'], ['嗜酸性粒细胞百分比', '嗜酸性粒细胞百分数', '嗜酸性粒细胞比率'], '%', ('0.4', '8.0')),
    'BASO%': I(['BASO%', 'BAS%', 'BASO%'], ['嗜碱性粒细胞百分比', '嗜碱性粒细胞百分数', '嗜碱性粒细胞比率'], '%', ('0', '1')),
    'NEUT#': I(['NEUT#', 'NEU#', 'GRAN#'], ['中性粒细胞绝对值', '中性粒细胞计数', '中性粒细胞数'], 'e9', ('1.8', '6.3'), dec=2),
    'LYMPH#': I(['LYMPH#', 'LYM#', 'LYM#'], ['淋巴细胞绝对值', '淋巴细胞计数', '淋巴细胞数'], 'e9', ('1.1', '3.2'), dec=2),
    'MONO#': I(['MONO#', 'MON#', 'MID#'], ['单核细胞绝对值', '单核细胞计数', '单核细胞数'], 'e9', ('0.1', '0.6'), dec=2),
    'EO#': I(['EO#', 'EOS#', 'EO#'], ['嗜酸性粒细胞绝对值', '嗜酸性粒细胞计数', '嗜酸性粒细胞数'], 'e9', ('0.02', '0.52'), dec=2),
    'BASO#': I(['BASO#', 'BAS#', 'BASO#'], ['嗜碱性粒细胞绝对值', '嗜碱性粒细胞计数', '嗜碱性粒细胞数'], 'e9', ('0', '0.06'), dec=2),
    'RBC': I(['RBC'], ['红细胞计数', '红细胞', '红细胞数目'], 'e12', ('4.3', '5.8'), ('3.8', '5.1'), dec=2),
    'HGB': I(['HGB', 'Hb', 'HGB'], ['血红蛋白', '血红蛋白浓度', '血红蛋白'], 'g/L', ('130', '175'), ('115', '150'), dec=0),
    'HCT': I(['HCT'], ['红细胞压积', '红细胞比积', '红细胞比容'], '%', ('40', '50'), ('35', '45')),
    'MCV': I(['MCV'], ['平均红细胞体积'], 'fL', ('82', '100')),
    'MCH': I(['MCH'], ['平均红细胞血红蛋白含量', '平均血红蛋白量', '平均红细胞血红蛋白量'], 'pg', ('27', '34')),
    'MCHC': I(['MCHC'], ['平均红细胞血红蛋白浓度', '平均血红蛋白浓度'], 'g/L', ('316', '354'), dec=0),
    'RDW-CV': I(['RDW-CV'], ['红细胞分布宽度-CV', '红细胞体积分布宽度CV', '红细胞分布宽度CV'], '%', ('11.0', '16.0')),
    'RDW-SD': I(['RDW-SD'], ['红细胞分布宽度-SD', '红细胞体积分布宽度SD', '红细胞分布宽度SD'], 'fL', ('35.0', '56.0')),
    'PLT': I(['PLT'], ['血小板计数', '血小板', '血小板数目'], 'e9', ('125', '350'), dec=0),
    'MPV': I(['MPV'], ['平均血小板体积'], 'fL', ('7.4', '12.5')),
    'PDW': I(['PDW'], ['血小板分布宽度'], '%', ('9.0', '17.0')),
    'PCT': I(['PCT'], ['血小板压积', '血小板比积', '血小板压积'], '%', ('0.108', '0.282'), dec=3),
    'P-LCR': I(['P-LCR'], ['大型血小板比率', '大血小板比率', '大型血小板比例'], '%', ('13.0', '43.0')),
    'P-LCC': I(['P-LCC'], ['大型血小板数目', '大血小板数目', '大型血小板计数'], 'e9', ('30', '90'), dec=0),
    'CRP': I(['CRP', 'hs-CRP', 'CRP'], ['C反应蛋白', '超敏C反应蛋白', 'C-反应蛋白'], 'mg/L', ('0', '10'), dec=2, kind='lt'),
}
CBC_CORE_A = ['WBC', 'NEUT%', 'LYMPH%', 'MONO%', 'EO%', 'BASO%', 'NEUT#', 'LYMPH#', 'MONO#', 'EO#', 'BASO#',
              'RBC', 'HGB', 'HCT', 'MCV', 'MCH', 'MCHC', 'RDW-CV', 'RDW-SD', 'PLT', 'MPV', 'PDW', 'PCT', 'P-LCR',
              'P-LCC']
CBC_CORE_B = ['WBC', 'RBC', 'HGB', 'HCT', 'MCV', 'MCH', 'MCHC', 'PLT', 'NEUT%', 'LYMPH%', 'MONO%', 'EO%', 'BASO%',
              'NEUT#', 'LYMPH#', 'MONO#', 'EO#', 'BASO#', 'RDW-CV', 'RDW-SD', 'MPV', 'PDW', 'PCT', 'P-LCR', 'P-LCC']
CBC_OPTIONAL = ['RDW-CV', 'RDW-SD', 'MPV', 'PDW', 'PCT', 'P-LCR', 'P-LCC']

BIO = {
    'ALT': I(['ALT'], ['丙氨酸氨基转移酶', '谷丙转氨酶'], 'U', ('9', '50'), ('7', '40'), dec=0, method='速率法'),
    'AST': I(['AST'], ['天门冬氨酸氨基转移酶', '谷草转氨酶'], 'U', ('15', '40'), ('13', '35'), dec=0, method='速率法'),
    'GGT': I(['GGT', 'γ-GT'], ['γ-谷氨酰转移酶', 'γ-谷氨酰转肽酶'], 'U', ('10', '60'), ('7', '45'), dec=0, method='速率法'),
    'ALP': I(['ALP'], ['碱性磷酸酶'], 'U', ('45', '125'), ('35', '100'), dec=0, method='速率法'),
    'TP': I(['TP'], ['总蛋白'], 'g/L', ('65.0', '85.0'), method='双缩脲法'),
    'ALB': I(['ALB'], ['白蛋白'], 'g/L', ('40.0', '55.0'), method='溴甲酚绿法'),
    'GLB': I(['GLB'], ['球蛋白'], 'g/L', ('20.0', '40.0'), method='计算法'),
    'A/G': I(['A/G'], ['白球比', '白蛋白/球蛋白'], '', ('1.2', '2.4'), dec=2, method='计算法'),
    'TBIL': I(['TBIL', 'T-BIL'], ['总胆红素'], 'umol', ('0', '21.0'), dec=1, kind='lt', method='钒酸盐氧化法'),
    'DBIL': I(['DBIL', 'D-BIL'], ['直接胆红素'], 'umol', ('0', '6.8'), dec=1, kind='lt', method='钒酸盐氧化法'),
    'IBIL': I(['IBIL', 'I-BIL'], ['间接胆红素'], 'umol', ('1.7', '13.7'), dec=1, method='计算法'),
    'TBA': I(['TBA'], ['总胆汁酸'], 'umol', ('0', '10.0'), dec=1, kind='lt', method='酶循环法'),
    'UREA': I(['UREA', 'BUN'], ['尿素', '尿素氮'], 'mmol/L', ('3.10', '8.00'), ('2.60', '7.50'), dec=2, method='脲酶法'),
    'CREA': I(['CREA', 'Cr'], ['肌酐'], 'umol', ('57', '111'), ('41', '81'), dec=0, method='酶法'),
    'UA': I(['UA'], ['尿酸'], 'umol', ('208', '428'), ('155', '357'), dec=0, method='尿酸酶法'),
    'CysC': I(['Cys-C', 'CysC'], ['胱抑素C'], 'mg/L', ('0.51', '1.09'), dec=2, method='免疫比浊法'),
    'B2MG': I(['β2-MG', 'B2-MG'], ['β2-微球蛋白', 'β2微球蛋白'], 'mg/L', ('1.00', '3.00'), dec=2, method='免疫比浊法'),
    'GLU': I(['GLU'], ['葡萄糖', '空腹血糖'], 'mmol/L', ('3.90', '6.10'), dec=2, method='己糖激酶法'),
    'TC': I(['TC', 'CHOL'], ['总胆固醇'], 'mmol/L', ('0', '5.18'), dec=2, kind='lt', method='酶法'),
    'TG': I(['TG'], ['甘油三酯'], 'mmol/L', ('0', '1.70'), dec=2, kind='lt', method='酶法'),
    'HDL': I(['HDL-C', 'HDL'], ['高密度脂蛋白胆固醇', '高密度脂蛋白'], 'mmol/L', ('1.04', ''), dec=2, kind='gt', method='直接法'),
    'LDL': I(['LDL-C', 'LDL'], ['低密度脂蛋白胆固醇', '低密度脂蛋白'], 'mmol/L', ('0', '3.37'), dec=2, kind='lt', method='直接法'),
    'APOA1': I(['ApoA1', 'APOA1'], ['载脂蛋白A1'], 'g/L', ('1.00', '1.60'), dec=2, method='免疫比浊法'),
    'APOB': I(['ApoB', 'APOB'], ['载脂蛋白B'], 'g/L', ('0.60', '1.10'), dec=2, method='免疫比浊法'),
    'K': I(['K', 'K+'], ['钾', '钾离子'], 'mmol/L', ('3.50', '5.30'), dec=2, method='离子选择电极法'),
    'NA': I(['Na', 'Na+'], ['钠', '钠离子'], 'mmol/L', ('137.0', '147.0'), dec=1, method='离子选择电极法'),
    'CL': I(['Cl', 'Cl-'], ['氯', '氯离子'], 'mmol/L', ('99.0', '110.0'), dec=1, method='离子选择电极法'),
    'CA': I(['Ca'], ['钙', '总钙'], 'mmol/L', ('2.11', '2.52'), dec=2, method='偶氮砷III法'),
    'P': I(['P', 'PHOS'], ['磷', '无机磷'], 'mmol/L', ('0.85', '1.51'), dec=2, method='磷钼酸法'),
    'MG': I(['Mg'], ['镁'], 'mmol/L', ('0.75', '1.02'), dec=2, method='二甲苯胺蓝法'),
    'CO2': I(['CO2', 'TCO2'], ['二氧化碳结合力', '总二氧化碳'], 'mmol/L', ('22.0', '29.0'), dec=1, method='酶法'),
    'CK': I(['CK'], ['肌酸激酶'], 'U', ('50', '310'), ('40', '200'), dec=0, method='速率法'),
    'CKMB': I(['CK-MB'], ['肌酸激酶同工酶', '肌酸激酶-MB'], 'U', ('0', '24.0'), dec=1, kind='lt', method='免疫抑制法'),
    'LDH': I(['LDH', 'LD'], ['乳酸脱氢酶'], 'U', ('120', '250'), dec=0, method='速率法'),
    'HBDH': I(['HBDH', 'α-HBDH'], ['α-羟丁酸脱氢酶', '羟丁酸脱氢酶'], 'U', ('72', '182'), dec=0, method='速率法'),
}
BIO_PANELS = {
    '肝功': ['ALT', 'AST', 'GGT', 'ALP', 'TP', 'ALB', 'GLB', 'A/G', 'TBIL', 'DBIL', 'IBIL', 'TBA'],
    '肾功': ['UREA', 'CREA', 'UA', 'CysC', 'B2MG'],
    '血糖': ['GLU'],
    '血脂': ['TC', 'TG', 'HDL', 'LDL', 'APOA1', 'APOB'],
    '电解质': ['K', 'NA', 'CL', 'CA', 'P', 'MG', 'CO2'],
    '心肌酶': ['CK', 'CKMB', 'LDH', 'HBDH'],
}

TUM = {
    'AFP': I(['AFP'], ['甲胎蛋白'], 'ng', ('0', '7.0'), dec=2, kind='lt', method='化学发光法'),
    'CEA': I(['CEA'], ['癌胚抗原'], 'ng', ('0', '5.0'), dec=2, kind='lt', method='化学发光法'),
    'CA125': I(['CA125', 'CA-125'], ['糖类抗原125', '糖类抗原CA125'], 'U/mL', ('0', '35.0'), dec=2, kind='lt', method='化学发光法'),
    'CA199': I(['CA19-9', 'CA199'], ['糖类抗原19-9', '糖类抗原CA19-9'], 'U/mL', ('0', '37.0'), dec=2, kind='lt', method='化学发光法'),
    'CA153': I(['CA15-3', 'CA153'], ['糖类抗原15-3', '糖类抗原CA15-3'], 'U/mL', ('0', '25.0'), dec=2, kind='lt', method='化学发光法'),
    'CA724': I(['CA72-4', 'CA724'], ['糖类抗原72-4', '糖类抗原CA72-4'], 'U/mL', ('0', '6.9'), dec=2, kind='lt', method='化学发光法'),
    'NSE': I(['NSE'], ['神经元特异性烯醇化酶'], 'ng', ('0', '16.3'), dec=2, kind='lt', method='化学发光法'),
    'CYFRA': I(['CYFRA21-1'], ['细胞角蛋白19片段'], 'ng', ('0', '3.3'), dec=2, kind='lt', method='化学发光法'),
    'SCC': I(['SCC', 'SCCA'], ['鳞状细胞癌抗原', '鳞状上皮细胞癌抗原'], 'ng', ('0', '1.5'), dec=2, kind='lt', method='化学发光法'),
    'FER': I(['FER', 'SF'], ['铁蛋白', '血清铁蛋白'], 'ng', ('30.0', '400.0'), dec=1, method='化学发光法'),
    'TPSA': I(['tPSA', 'TPSA'], ['总前列腺特异性抗原', '总前列腺特异抗原'], 'ng', ('0', '4.0'), dec=3, kind='lt', method='化学发光法'),
    'FPSA': I(['fPSA', 'FPSA'], ['游离前列腺特异性抗原', '游离前列腺特异抗原'], 'ng', ('0', '0.93'), dec=3, kind='lt', method='化学发光法'),
    'FT': I(['f/tPSA', 'F/T'], ['游离PSA/总PSA', '游离/总PSA比值'], '', ('0.25', ''), dec=2, kind='gt', method='计算法'),
}

OTHER = {
    '凝血功能': {
        'PT': I(['PT'], ['凝血酶原时间'], 's', ('9.4', '12.5'), method='凝固法'),
        'PTA': I(['PTA', 'PT%'], ['凝血酶原活动度'], '%', ('80', '120'), dec=0, method='计算法'),
        'INR': I(['INR', 'PT-INR'], ['国际标准化比值'], '', ('0.80', '1.20'), dec=2, method='计算法'),
        'APTT': I(['APTT'], ['活化部分凝血活酶时间'], 's', ('25.1', '36.5'), method='凝固法'),
        'TT': I(['TT'], ['凝血酶时间'], 's', ('10.3', '16.6'), method='凝固法'),
        'FIB': I(['FIB', 'Fg'], ['纤维蛋白原'], 'g/L', ('2.00', '4.00'), dec=2, method='Clauss法'),
        'DD': I(['D-D', 'DD'], ['D-二聚体'], 'mg/L FEU', ('0', '0.55'), dec=2, kind='lt', method='免疫比浊法'),
    },
    '甲状腺功能': {
        'TSH': I(['TSH'], ['促甲状腺激素'], 'uIU/mL', ('0.27', '4.20'), dec=3, method='电化学发光法'),
        'FT3': I(['FT3'], ['游离三碘甲状腺原氨酸'], 'pmol/L', ('3.10', '6.80'), dec=2, method='电化学发光法'),
        'FT4': I(['FT4'], ['游离甲状腺素'], 'pmol/L', ('12.00', '22.00'), dec=2, method='电化学发光法'),
        'T3': I(['T3', 'TT3'], ['总三碘甲状腺原氨酸', '三碘甲状腺原氨酸'], 'nmol/L', ('1.30', '3.10'), dec=2, method='电化学发光法'),
        'T4': I(['T4', 'TT4'], ['总甲状腺素', '甲状腺素'], 'nmol/L', ('66.0', '181.0'), dec=1, method='电化学发光法'),
        'TGAB': I(['TgAb', 'A-TG'], ['甲状腺球蛋白抗体', '抗甲状腺球蛋白抗体'], 'IU/mL', ('0', '115.0'), dec=1, kind='lt', method='电化学发光法'),
        'TPOAB': I(['TPOAb', 'A-TPO'], ['甲状腺过氧化物酶抗体', '抗甲状腺过氧化物酶抗体'], 'IU/mL', ('0', '34.0'), dec=1, kind='lt', method='电化学发光法'),
    },
    '传染病': {
        'HBSAG': I(['HBsAg'], ['乙肝病毒表面抗原', '乙型肝炎表面抗原'], 'S/CO', ('0', '1.00'), dec=2, kind='lt', method='化学发光法'),
        'HBSAB': I(['抗-HBs', 'HBsAb'], ['乙肝病毒表面抗体', '乙型肝炎表面抗体'], 'mIU/mL', ('0', '10.00'), dec=2, kind='lt', method='化学发光法'),
        'HBEAG': I(['HBeAg'], ['乙肝病毒e抗原', '乙型肝炎e抗原'], 'S/CO', ('0', '1.00'), dec=2, kind='lt', method='化学发光法'),
        'HBEAB': I(['抗-HBe', 'HBeAb'], ['乙肝病毒e抗体', '乙型肝炎e抗体'], 'S/CO', ('1.00', ''), dec=2, kind='gt', method='化学发光法'),
        'HBCAB': I(['抗-HBc', 'HBcAb'], ['乙肝病毒核心抗体', '乙型肝炎核心抗体'], 'S/CO', ('0', '1.00'), dec=2, kind='lt', method='化学发光法'),
        'HCV': I(['抗-HCV', 'HCV-Ab'], ['丙肝病毒抗体', '丙型肝炎病毒抗体'], 'S/CO', ('0', '1.00'), dec=2, kind='lt', method='化学发光法'),
        'HIV': I(['HIV Ag/Ab', 'HIV'], ['人类免疫缺陷病毒抗原抗体', '艾滋病病毒抗原抗体'], 'S/CO', ('0', '1.00'), dec=2, kind='lt', method='化学发光法'),
        'TP': I(['TP-Ab', 'TPPA'], ['梅毒螺旋体抗体', '梅毒螺旋体特异性抗体'], 'S/CO', ('0', '1.00'), dec=2, kind='lt', method='化学发光法'),
    },
}

UNIT_STYLES = {
    'e9': ['10^9/L', '10*9/L', '×10⁹/L', 'x10^9/L'],
    'e12': ['10^12/L', '10*12/L', '×10¹²/L', 'x10^12/L'],
    'umol': ['umol/L', 'μmol/L', 'µmol/L', 'umol/L'],
    'U': ['U/L', 'IU/L', 'U/L', 'U/L'],
    'ng': ['ng/mL', 'ng/ml', 'ng/mL', 'ng/ml'],
}

SURNAMES = list('王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢')
GIVEN = list('伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文志海燕云鹏辉晓宇欣怡子轩梓涵浩然雪梅立新春生')
CITY = ['江州', '临川', '云岭', '青禾', '东湖', '南岭', '北峰', '西陵', '石桥', '安平', '清源', '河阳', '松江口', '白沙',
        '凤台', '龙泉', '金水', '宁远', '新丰', '嘉禾', '宜阳', '桐城', '兴隆', '永和', '平川', '汉滨', '泉山', '柳河',
        '丹江', '鹿城', '枫林', '望海']
HOSP_FORMS = ['{c}市第{n}人民医院', '{c}市人民医院', '{c}县人民医院', '{c}市中医院', '{c}医科大学附属第{n}医院',
              '{c}市中心医院', '{c}市妇幼保健院', '{c}区人民医院', '{c}市第{n}医院', '{c}县中医医院', '{c}市中西医结合医院',
              '{c}市{c2}社区卫生服务中心', '{c}康华医院', '{c}市儿童医院']
NUMS = '一二三四五六七八'
DEPTS = ['内科门诊', '消化内科', '泌尿外科', '儿科', '发热门诊', '体检中心', '急诊科', '妇科', '心内科', '内分泌科',
         '肾内科', '普通外科', '全科门诊', '感染科', '呼吸内科', '老年病科']
DIAGS = ['上呼吸道感染', '健康体检', '高血压', '2型糖尿病', '腹泻', '尿路感染', '贫血待查', '肝功能异常', '前列腺增生',
         '发热待查', '咳嗽', '腹痛待查', '高脂血症', '甲状腺结节', '术前检查', '慢性胃炎', '头晕', '乏力']


def rand_name(R):
    return R.choice(SURNAMES) + ''.join(R.choice(GIVEN) for _ in range(R.choice([1, 2, 2])))


def hospital_name(R):
    f = R.choice(HOSP_FORMS)
    c = R.choice(CITY)
    c2 = R.choice([x for x in CITY if x != c])
    return f.format(c=c, c2=c2, n=R.choice(NUMS[:5]))


# ----------------------------------------------------------------------------------------------------------
# values
# ----------------------------------------------------------------------------------------------------------
def fmt(v, dec):
    s = f'{v:.{dec}f}'
    if s.startswith('-'):
        s = f'{0:.{dec}f}'
    return s


def gen_numeric(it, lo, hi, R, abn_p, prefer=None):
    kind = it['kind']
    dec = it['dec']
    step = 10 ** (-dec)
    for _ in range(50):
        ab = R.random() < abn_p
        if kind == 'both':
            lo_f, hi_f = float(lo), float(hi)
            span = hi_f - lo_f
            if ab:
                side = prefer or ('H' if (lo_f <= 0 or R.random() < 0.6) else 'L')
                if side == 'H':
                    v = hi_f + span * R.uniform(0.06, 0.6) + step
                else:
                    v = lo_f - span * R.uniform(0.05, 0.35) - step
                    if v <= 0:
                        v = hi_f + span * R.uniform(0.06, 0.5) + step
            else:
                v = R.uniform(lo_f + 0.04 * span, hi_f - 0.04 * span)
        elif kind == 'lt':
            h = float(hi)
            v = h * R.uniform(1.12, 3.5) if ab else h * R.uniform(0.04, 0.9)
        else:
            l = float(lo)
            v = l * R.uniform(0.35, 0.88) if ab else l * R.uniform(1.1, 2.2)
        s = fmt(v, dec)
        fv = float(s)
        # avoid values exactly on a bound (keeps the flag unambiguous)
        if fv in (float(lo or 'nan'), float(hi or 'nan')):
            continue
        if kind == 'both' and fv < 0:
            continue
        return s
    return s


def judge_numeric(v, it, lo, hi):
    fv = float(v)
    if it['kind'] == 'both':
        if fv > float(hi):
            return 'H'
        if fv < float(lo):
            return 'L'
        return ''
    if it['kind'] == 'lt':
        return 'H' if fv > float(hi) else ''
    return 'L' if fv < float(lo) else ''


QUAL_STYLES = [
    {'neg': '阴性', 'weak': '±', '1': '1+', '2': '2+', '3': '3+', 'pos': '阳性'},
    {'neg': '阴性(-)', 'weak': '弱阳性(±)', '1': '阳性(1+)', '2': '阳性(2+)', '3': '阳性(3+)', 'pos': '阳性(+)'},
    {'neg': '-', 'weak': '+-', '1': '+', '2': '++', '3': '+++', 'pos': '+'},
    {'neg': '阴性', 'weak': '+-', '1': '+1', '2': '+2', '3': '+3', 'pos': '阳性'},
]


# ----------------------------------------------------------------------------------------------------------
# sheet specification
# ----------------------------------------------------------------------------------------------------------
def make_rows(rtype, sex, age_y, R, st):
    """returns list of printed rows: dict(code, name, value, hl ('H'/'L'/''), range, unit, method)"""
    rows = []
    abn_p = st['abn_p']
    v_idx = st['name_variant']
    sep = st['sep']

    def unit_of(key):
        if key in UNIT_STYLES:
            return UNIT_STYLES[key][st['unit_style']]
        return key

    def rng_text(it, lo, hi):
        if it['kind'] == 'both':
            return f'{lo}{sep}{hi}'
        if it['kind'] == 'lt':
            ls = st['lt_style']
            if ls == 0:
                return f'<{hi}'
            if ls == 1:
                return f'0{sep}{hi}'
            if ls == 2:
                return f'≤{hi}'
            return f'0.00{sep}{hi}' if '.' in hi else f'0{sep}{hi}'
        return f'>{lo}' if st['lt_style'] != 2 else f'≥{lo}'

    def add_numeric(cat, key, prefer=None, value=None):
        it = cat[key]
        lo, hi = it['rf'] if (sex == '女' and it['rf']) else it['rm']
        v = value if value is not None else gen_numeric(it, lo, hi, R, abn_p, prefer)
        rows.append(dict(code=it['codes'][v_idx % len(it['codes'])], name=it['names'][v_idx % len(it['names'])],
                         value=v, hl=judge_numeric(v, it, lo, hi), range=rng_text(it, lo, hi),
                         unit=unit_of(it['unit']), method=it['method']))

    if rtype == '血常规':
        order = CBC_CORE_A if st['cbc_order'] == 0 else CBC_CORE_B
        n_target = R.randint(18, 25)
        opt = [k for k in CBC_OPTIONAL]
        R.shuffle(opt)
        drop = set(opt[:max(0, len(order) - n_target)])
        keys = [k for k in order if k not in drop]
        if st.get('with_crp'):
            keys.append('CRP')
        for k in keys:
            add_numeric(CBC, k)
    elif rtype == '生化':
        combos = [['肝功', '肾功', '血糖', '血脂'], ['肝功', '肾功'], ['肝功', '肾功', '血糖', '血脂', '电解质'],
                  ['肾功', '电解质', '血糖'], ['肝功', '肾功', '血糖', '血脂', '电解质', '心肌酶'], ['血脂', '血糖', '肝功'],
                  ['肾功', '电解质', '心肌酶']]
        panels = combos[st['bio_combo'] % len(combos)]
        keys = []
        for p in panels:
            ks = list(BIO_PANELS[p])
            if len(ks) > 4 and R.random() < 0.5:
                drop = R.sample(ks[2:], R.randint(1, 2))
                ks = [k for k in ks if k not in drop]
            keys += ks
        keys = keys[:35]
        vals = {}
        for k in keys:
            it = BIO[k]
            lo, hi = it['rf'] if (sex == '女' and it['rf']) else it['rm']
            vals[k] = gen_numeric(it, lo, hi, R, abn_p)
        if 'TP' in vals and 'ALB' in vals and 'GLB' in vals:
            g = float(vals['TP']) - float(vals['ALB'])
            if g > 5:
                vals['GLB'] = fmt(g, 1)
                if 'A/G' in vals:
                    vals['A/G'] = fmt(float(vals['ALB']) / g, 2)
        if 'TBIL' in vals and 'DBIL' in vals and 'IBIL' in vals:
            ib = float(vals['TBIL']) - float(vals['DBIL'])
            if ib > 0.5:
                vals['IBIL'] = fmt(ib, 1)
        for k in keys:
            add_numeric(BIO, k, value=vals[k])
    elif rtype == '肿瘤标志物':
        if st.get('psa'):
            keys = ['TPSA', 'FPSA', 'FT']
            t = gen_numeric(TUM['TPSA'], '0', '4.0', R, 0.35)
            ratio = R.uniform(0.1, 0.35)
            f = fmt(float(t) * ratio, 3)
            ft = fmt(float(f) / max(float(t), 0.001), 2)
            if ft == '0.25':
                ft = '0.26'
            add_numeric(TUM, 'TPSA', value=t)
            add_numeric(TUM, 'FPSA', value=f)
            add_numeric(TUM, 'FT', value=ft)
            if R.random() < 0.5:
                add_numeric(TUM, 'AFP')
                add_numeric(TUM, 'CEA')
        else:
            base = ['AFP', 'CEA', 'CA125', 'CA199', 'CA153', 'CA724', 'NSE', 'CYFRA', 'SCC', 'FER']
            if sex == '男':
                base = [b for b in base if b != 'CA153'] + ['TPSA', 'FPSA']
            n = R.randint(4, 10)
            keys = [b for b in base if b in set(R.sample(base, n))]
            for k in keys:
                add_numeric(TUM, k)
    elif rtype in OTHER:
        cat = OTHER[rtype]
        keys = list(cat.keys())
        if rtype == '凝血功能':
            keys = ['PT', 'PTA', 'INR', 'APTT', 'TT', 'FIB'] + (['DD'] if R.random() < 0.6 else [])
            if R.random() < 0.5:
                keys.remove('PTA')
        if rtype == '甲状腺功能' and R.random() < 0.5:
            keys = ['TSH', 'FT3', 'FT4', 'TGAB', 'TPOAB']
        for k in keys:
            it = cat[k]
            if rtype == '传染病':
                lo, hi = it['rm']
                if k == 'HBSAB':
                    v = fmt(R.choice([R.uniform(0.5, 9), R.uniform(15, 800)]), 2)
                elif k == 'HBEAB':
                    v = fmt(R.uniform(1.2, 2.2) if R.random() < 0.8 else R.uniform(0.01, 0.6), 2)
                elif k == 'HBCAB':
                    v = fmt(R.uniform(0.05, 0.6) if R.random() < 0.75 else R.uniform(5, 11), 2)
                else:
                    v = fmt(R.uniform(0.02, 0.55), 2)
                add_numeric(cat, k, value=v)
            else:
                add_numeric(cat, k)
    elif rtype == '尿常规':
        q = QUAL_STYLES[st['qual_style']]
        hp = st['sed_style'] == 'hp'

        def qual(code, name, levels, probs, method='干化学法'):
            lv = R.choices(levels, probs)[0] if R.random() < abn_p * 1.3 else 'neg'
            rows.append(dict(code=code, name=name, value=q[lv], hl='' if lv == 'neg' else 'H', range=q['neg'],
                             unit='', method=method))
        vi = v_idx
        color_range = st['urine_color_range']
        rows.append(dict(code='COL' if vi % 2 == 0 else 'GLO', name=['颜色', '尿颜色', '颜色'][vi % 3],
                         value=R.choice(['淡黄色', '黄色', '浅黄色']) if not color_range else '淡黄色',
                         hl='', range='淡黄色' if color_range else '', unit='', method='目测法'))
        rows.append(dict(code='CLA' if vi % 2 == 0 else 'TUR', name=['透明度', '浊度', '透明度'][vi % 3],
                         value='清亮' if color_range else R.choice(['清亮', '清', '微浑']),
                         hl='', range='清亮' if color_range else '', unit='', method='目测法'))
        sg = R.choice(['1.010', '1.015', '1.020', '1.025', '1.005', '1.030', '1.018', '1.012'])
        if R.random() < abn_p * 0.5:
            sg = '1.035'
        rows.append(dict(code='SG', name=['比重', '尿比重', '比重'][vi % 3], value=sg,
                         hl='H' if float(sg) > 1.030 else '', range=f'1.003{sep}1.030', unit='', method='折射法'))
        ph = R.choice(['5.0', '5.5', '6.0', '6.5', '7.0', '7.5', '6.0'])
        rows.append(dict(code='PH', name=['酸碱度', 'pH值', '酸碱度'][vi % 3], value=ph, hl='',
                         range=f'4.5{sep}8.0', unit='', method='干化学法'))
        qual('PRO', ['蛋白质', '尿蛋白', '蛋白'][vi % 3], ['weak', '1', '2'], [3, 3, 1])
        qual('GLU', ['葡萄糖', '尿糖', '葡萄糖'][vi % 3], ['weak', '1', '2', '3'], [2, 2, 1, 1])
        qual('KET', '酮体', ['weak', '1'], [3, 1])
        qual('BIL', '胆红素', ['1'], [1])
        qual('URO', ['尿胆原', '尿胆原', '尿胆原'][vi % 3], ['1', '2'], [3, 1])
        qual('NIT', '亚硝酸盐', ['pos'], [1])
        qual('BLD', ['隐血', '潜血', '隐血'][vi % 3], ['weak', '1', '2', '3'], [2, 2, 2, 1])
        qual('LEU', ['白细胞酯酶', '白细胞(干化学)', '白细胞酯酶'][vi % 3], ['weak', '1', '2', '3'], [2, 2, 2, 1])
        if R.random() < 0.5:
            qual('VC', ['维生素C', '抗坏血酸', '维生素C'][vi % 3], ['weak', '1'], [2, 1])
        if hp:
            def hp_row(code, name, normals, abns, rng, unit='/HP'):
                if R.random() < abn_p * 1.2:
                    v, hl = R.choice(abns), 'H'
                else:
                    v, hl = R.choice(normals), ''
                rows.append(dict(code=code, name=name, value=v, hl=hl, range=rng, unit=unit, method='显微镜检查'))
            hp_row('RBC', ['红细胞', '镜检红细胞', '红细胞'][vi % 3], ['0-1', '0-2', '1-2', '0-3'],
                   ['3-5', '5-8', '8-10', '10-15'], '0-3')
            hp_row('WBC', ['白细胞', '镜检白细胞', '白细胞'][vi % 3], ['0-2', '1-3', '0-3', '2-4'],
                   ['5-8', '8-12', '15-20', '6-10'], '0-5')
            rows.append(dict(code='EC', name='上皮细胞', value=R.choice(['少量', '0-2', '1-3', '未见']), hl='',
                             range='', unit='/HP', method='显微镜检查'))
            rows.append(dict(code='CAST', name='管型', value='未见', hl='', range='未见', unit='/LP',
                             method='显微镜检查'))
            rows.append(dict(code='CRY', name='结晶', value='未见', hl='', range='未见', unit='/HP',
                             method='显微镜检查'))
            b = R.random() < abn_p
            rows.append(dict(code='BACT', name='细菌', value='少量' if b else '未见', hl='H' if b else '',
                             range='未见', unit='/HP', method='显微镜检查'))
        else:
            uu = ['/ul', '/uL', '个/uL', '/μl'][st['unit_style'] % 4]

            def cnt_row(code, name, hi, dec, abn_hi, rngs=None):
                if R.random() < abn_p * 1.2:
                    v = R.uniform(hi * 1.3, abn_hi)
                else:
                    v = R.uniform(0, hi * 0.85)
                s = fmt(v, dec)
                rows.append(dict(code=code, name=name, value=s, hl='H' if float(s) > hi else '',
                                 range=f'0{sep}{fmt(hi, dec) if dec else int(hi)}', unit=uu, method='流式细胞术'))
            cnt_row('RBC', ['红细胞', '红细胞计数', '红细胞'][vi % 3], 17, R.choice([0, 1]), 180)
            cnt_row('WBC', ['白细胞', '白细胞计数', '白细胞'][vi % 3], 28, R.choice([0, 1]), 400)
            cnt_row('EC', ['上皮细胞', '上皮细胞计数', '鳞状上皮细胞'][vi % 3], 28, 1, 60)
            cnt_row('CAST', ['管型', '管型计数', '透明管型'][vi % 3], 1, 2, 4)
            cnt_row('BACT', ['细菌', '细菌计数', '细菌'][vi % 3], 130, 1, 3000)
            if R.random() < 0.6:
                cnt_row('YLC', '酵母样菌', 1, 1, 10)
            if R.random() < 0.5:
                cnt_row('SRC', '小圆上皮细胞', 3, 1, 9)
            if R.random() < 0.4:
                rows.append(dict(code='X-TAL', name='结晶', value=fmt(R.uniform(0, 8), 1), hl='', range=f'0{sep}10',
                                 unit=uu, method='流式细胞术'))
    elif rtype == '粪常规':
        q = QUAL_STYLES[st['qual_style']]
        vi = v_idx
        miss = '未找到' if vi % 3 == 1 else '未见'
        rows.append(dict(code='', name='颜色', value=R.choice(['黄色', '棕黄色', '黄褐色', '褐色']), hl='', range='',
                         unit='', method='肉眼观察'))
        rows.append(dict(code='', name=['性状', '性状', '硬度'][vi % 3], value=R.choice(['软便', '成形', '糊状', '稀便']),
                         hl='', range='', unit='', method='肉眼观察'))
        for code, name, abns in [('RBC', '红细胞', ['0-2', '1-3', '3-5']), ('WBC', '白细胞', ['0-2', '2-4', '5-10'])]:
            if R.random() < st['abn_p'] * 1.4:
                rows.append(dict(code=code, name=name, value=R.choice(abns), hl='H', range='未见', unit='/HP',
                                 method='显微镜检查'))
            else:
                rows.append(dict(code=code, name=name, value='未见', hl='', range='未见', unit='/HP',
                                 method='显微镜检查'))
        ob_names = [['隐血试验', '隐血(化学法)'], ['潜血', '潜血(免疫法)'], ['隐血', '隐血(免疫法)']][vi % 3]
        ob_n = ob_names[0] if R.random() < 0.6 else ob_names[1]
        pos = R.random() < st['abn_p'] * 1.5
        rows.append(dict(code='OB', name=ob_n, value=q['pos'] if pos else q['neg'], hl='H' if pos else '',
                         range=q['neg'], unit='', method='免疫胶体金法' if '免疫' in ob_n else '化学法'))
        if R.random() < 0.4:
            tp = pos and R.random() < 0.5
            rows.append(dict(code='TF', name='转铁蛋白', value=q['pos'] if tp else q['neg'], hl='H' if tp else '',
                             range=q['neg'], unit='', method='免疫胶体金法'))
        rows.append(dict(code='', name=['虫卵', '寄生虫卵', '虫卵'][vi % 3], value=miss, hl='', range=miss, unit='',
                         method='显微镜检查'))
        fat = R.random() < st['abn_p']
        rows.append(dict(code='', name='脂肪球', value='少量' if fat else miss, hl='H' if fat else '', range=miss,
                         unit='', method='显微镜检查'))
        fun = R.random() < st['abn_p'] * 0.7
        rows.append(dict(code='', name=['真菌', '霉菌', '真菌'][vi % 3], value='少量' if fun else miss,
                         hl='H' if fun else '', range=miss, unit='', method='显微镜检查'))
        if R.random() < 0.5:
            rows.append(dict(code='', name='吞噬细胞', value=miss, hl='', range=miss, unit='', method='显微镜检查'))
        if R.random() < 0.3:
            rows.append(dict(code='', name='阿米巴', value='未找到', hl='', range='未找到', unit='',
                             method='显微镜检查'))
    return rows


TYPE_PLAN = (['血常规'] * 9 + ['尿常规'] * 5 + ['粪常规'] * 4 + ['生化'] * 6 + ['肿瘤标志物'] * 3 +
             ['凝血功能', '甲状腺功能', '传染病'])
SPECIMEN = {'血常规': ['全血', 'EDTA-K2抗凝全血', '静脉血', '末梢血'], '尿常规': ['尿液', '中段尿', '晨尿', '随机尿'],
            '粪常规': ['粪便', '大便'], '生化': ['血清'], '肿瘤标志物': ['血清'], '凝血功能': ['血浆', '枸橼酸钠抗凝血浆'],
            '甲状腺功能': ['血清'], '传染病': ['血清']}
TITLE_SUFFIX = {'血常规': ['血常规', '血细胞分析', '血常规五分类', '全血细胞计数'], '尿常规': ['尿常规', '尿液分析', '尿液常规检查'],
                '粪常规': ['粪便常规', '粪常规', '大便常规'], '生化': ['生化全项', '生化检验', '肝肾功能', '生化组合'],
                '肿瘤标志物': ['肿瘤标志物', '肿瘤标志物检测', '肿瘤标志物全套'], '凝血功能': ['凝血四项', '凝血功能'],
                '甲状腺功能': ['甲状腺功能', '甲功五项'], '传染病': ['传染病四项', '乙肝五项+HCV+HIV+TP', '术前八项']}


def make_spec(sheet_id, rtype, R, art, forced_print=None):
    st = {}
    sex = R.choice(['男', '女'])
    if rtype == '肿瘤标志物' and art.get('psa'):
        sex = '男'
        st['psa'] = True
    age_y = R.randint(18, 82)
    child = rtype in ('血常规', '粪常规') and R.random() < 0.15
    if child:
        age_y = R.randint(1, 9)
        age = f'{age_y}岁{R.randint(1, 11)}月' if R.random() < 0.6 else f'{age_y}岁'
    else:
        age = R.choice([f'{age_y}岁', f'{age_y}岁', f'{age_y}岁', f'{age_y}'])
    st['abn_p'] = R.uniform(0.1, 0.2)
    st['name_variant'] = R.randint(0, 5)
    st['sep'] = R.choice(['--', '-', '~', '～', '-', '--', ' - '])
    st['unit_style'] = R.choice([0, 0, 0, 1, 1, 2, 3])
    st['lt_style'] = R.randint(0, 3)
    st['cbc_order'] = R.randint(0, 1)
    st['with_crp'] = rtype == '血常规' and R.random() < 0.2
    st['bio_combo'] = R.randint(0, 6)
    st['qual_style'] = R.choice([0, 0, 1, 2, 3])
    st['sed_style'] = R.choice(['hp', 'count'])
    st['urine_color_range'] = R.random() < 0.3
    rows = make_rows(rtype, sex, age_y, R, st)

    # print & paper
    pr = forced_print or R.choices(['laser', 'inkjet', 'thermal'], [6, 3, 2])[0]
    n = len(rows)
    if pr == 'thermal':
        paper = 'strip' if (n <= 26 and R.random() < 0.75) else 'A5P'
    else:
        opts = ['A4', 'A5L']
        if n <= 16:
            opts += ['A5P']
        if n >= 28:
            opts += ['A4L']
        paper = R.choice(opts)

    # flag style
    fm = R.choices(['col', 'glued', 'glued_space', 'none'], [5, 2, 2, 0.35])[0]
    if paper == 'strip' and fm == 'col':
        fm = R.choice(['glued', 'glued_space', 'col'])
    marks = R.choice([('↑', '↓'), ('↑', '↓'), ('H', 'L'), ('偏高', '偏低'), ('↑', '↓')])
    if marks[0] == '偏高' and fm != 'col':
        marks = ('↑', '↓')
    if marks[0] == 'H' and fm == 'glued':
        fm = 'glued_space'
    code_mode = R.choice(['col_before', 'col_after', 'col_after', 'paren', 'prefix', 'none'])
    if rtype == '粪常规' and code_mode in ('paren', 'prefix') and R.random() < 0.5:
        code_mode = 'none'
    extra = R.choices(['', 'method', 'last'], [6, 2, 1])[0]
    if paper == 'strip':
        extra = ''
    layout = dict(
        has_no=R.random() < 0.6, no_hdr=R.choice(['序号', 'No.', 'NO', '']), code_mode=code_mode,
        code_hdr=R.choice(['代号', '英文缩写', '缩写', '项目代码', '英文名称']),
        name_hdr=R.choice(['项目名称', '检验项目', '检测项目', '项目', '中文名称']),
        res_hdr=R.choice(['结果', '检验结果', '测定值', '检测结果', '结果值']),
        flag_hdr=R.choice(['提示', '标志', '状态', '异常提示', '', '提示']),
        rng_hdr=R.choice(['参考范围', '参考值', '参考区间', '生物参考区间', '参考范围']),
        unit_hdr='单位', method_hdr=R.choice(['检测方法', '方法']), last_hdr=R.choice(['上次结果', '历史结果']),
        tail=R.choice([['flag', 'unit', 'range'], ['flag', 'range', 'unit'], ['flag', 'range', 'unit']]),
        flag_mode=fm, marks=marks, extra=extra,
        rules=R.choice(['rules', 'grid', 'none', 'header_box', 'rules']),
        res_align=R.choice(['l', 'c', 'c']), rng_align=R.choice(['l', 'c']),
        font=R.choice(['serif', 'uming', 'sans', 'zenhei', 'microhei', 'serif', 'uming']),
        blocks=1, bold_res_abn=R.random() < 0.3,
    )
    if paper in ('A5L',) and n > 11:
        layout['blocks'] = 2
    elif paper == 'A4' and n > 24 and R.random() < 0.6:
        layout['blocks'] = 2
    elif paper == 'A4L':
        layout['blocks'] = 3 if n >= 30 else 2
    if paper == 'strip':
        layout['font'] = R.choice(['sans', 'zenhei', 'microhei'])
        layout['rules'] = R.choice(['none', 'rules'])
    # apply flags
    items = []
    for r in rows:
        if fm == 'none':
            mark = ''
        else:
            mark = marks[0] if r['hl'] == 'H' else marks[1] if r['hl'] == 'L' else ''
        r['mark'] = mark
        if extra == 'last':
            r['last'] = last_value(r['value'], R)
        items.append(r)

    patient = dict(sex=sex, age=age, name=rand_name(R), mrn=str(R.randint(10 ** 6, 10 ** 9 - 1)),
                   dept=R.choice(DEPTS if not child else ['儿科', '儿科门诊', '儿童保健科']), bed=str(R.randint(1, 60)),
                   spec=R.choice(SPECIMEN[rtype]), doctor=rand_name(R), diag=R.choice(DIAGS),
                   sample=str(R.randint(1, 999)), barcode=str(R.randint(10 ** 9, 10 ** 10 - 1)),
                   inpatient=R.random() < 0.25)
    y, mo, d = R.choice([2023, 2024, 2025]), R.randint(1, 12), R.randint(1, 28)
    hh, mm = R.randint(7, 11), R.randint(0, 59)
    dates = dict(coll=f'{y}-{mo:02d}-{d:02d} {hh:02d}:{mm:02d}',
                 recv=f'{y}-{mo:02d}-{d:02d} {hh:02d}:{min(59, mm + R.randint(5, 40)):02d}',
                 rep=f'{y}-{mo:02d}-{d:02d} {min(23, hh + R.randint(1, 4)):02d}:{R.randint(0, 59):02d}')
    if R.random() < 0.3:
        for k in dates:
            dates[k] = dates[k].replace('-', '/')
    return dict(sheet=sheet_id, rtype=rtype, hospital=art.get('hospital') or hospital_name(R), rows=items,
                patient=patient, dates=dates, layout=layout, paper=paper, print=pr, st=st,
                title_suffix=R.choice(TITLE_SUFFIX[rtype]),
                title=R.choice(['检验报告单', '检验报告', '临床检验报告单', '检验结果报告单', '化验单', '检验报告单']),
                english=R.random() < 0.2, barcode=R.random() < 0.45)


def last_value(v, R):
    try:
        fv = float(v)
    except ValueError:
        return v
    dec = len(v.split('.')[1]) if '.' in v else 0
    return fmt(fv * R.uniform(0.8, 1.2), dec)


# ----------------------------------------------------------------------------------------------------------
# rendering the printed page (ink coverage, L mode 255 = paper)
# ----------------------------------------------------------------------------------------------------------
PAPER = {'A4': (1654, 2339), 'A5L': (1654, 1165), 'A5P': (1165, 1654), 'A4L': (2339, 1654), 'strip': (600, 4200)}


def cell_texts(spec, L):
    """list of columns per block: [(key, header, align, [cell strings])]"""
    cols = []
    if L['has_no']:
        cols.append(('no', L['no_hdr'], 'c'))
    cm = L['code_mode']
    if cm == 'col_before':
        cols.append(('code', L['code_hdr'], 'l'))
    cols.append(('name', L['name_hdr'], 'l'))
    if cm == 'col_after':
        cols.append(('code', L['code_hdr'], 'l'))
    cols.append(('result', L['res_hdr'], L['res_align']))
    for t in L['tail']:
        if t == 'flag':
            if L['flag_mode'] == 'col':
                cols.append(('flag', L['flag_hdr'], 'c'))
        elif t == 'unit':
            cols.append(('unit', L['unit_hdr'], 'l'))
        elif t == 'range':
            cols.append(('range', L['rng_hdr'], L['rng_align']))
    if L['extra'] == 'method':
        cols.append(('method', L['method_hdr'], 'l'))
    elif L['extra'] == 'last':
        cols.insert([c[0] for c in cols].index('result') + 1, ('last', L['last_hdr'], 'c'))
    return cols


def cell_of(key, r, row_no, L):
    if key == 'no':
        return str(row_no)
    if key == 'code':
        return r['code']
    if key == 'name':
        cm = L['code_mode']
        if cm == 'paren' and r['code']:
            return f"{r['name']}({r['code']})"
        if cm == 'prefix' and r['code']:
            return f"{r['code']} {r['name']}"
        return r['name']
    if key == 'result':
        fm = L['flag_mode']
        if fm == 'glued' and r['mark']:
            return r['value'] + r['mark']
        if fm == 'glued_space' and r['mark']:
            return r['value'] + ' ' + r['mark']
        return r['value']
    if key == 'flag':
        return r['mark']
    if key == 'range':
        return r['range']
    if key == 'unit':
        return r['unit']
    if key == 'method':
        return r['method']
    if key == 'last':
        return r.get('last', '')
    return ''


def render_page(spec, R):
    L = spec['layout']
    paper = spec['paper']
    W, H = PAPER[paper]
    strip = paper == 'strip'
    img = Image.new('L', (W, H), 255)
    dr = ImageDraw.Draw(img)
    fk = L['font']
    fkb = BOLD_OF.get(fk, fk)
    rows = spec['rows']
    n = len(rows)
    mx = 36 if strip else int(W * R.uniform(0.06, 0.085))
    usable = W - 2 * mx
    base_fs = {'A4': 27, 'A5L': 24, 'A5P': 24, 'A4L': 27, 'strip': 22}[paper] + R.randint(-1, 2)
    geom = dict(rows=[], table=None, footer=None, header=None, patient_fields=None)

    # ---------- header
    y = int(H * 0.04) if not strip else 40
    hosp = spec['hospital']
    if strip:
        hfs = base_fs * 1.25
        draw_text(dr, W / 2, y + hfs, hosp, fkb, hfs, align='c')
        y += int(hfs * 1.5)
        t = spec['title_suffix'] + spec['title'][-3:] if spec['title'] != '化验单' else spec['title_suffix'] + '化验单'
        draw_text(dr, W / 2, y + base_fs * 1.1, t, fkb, base_fs * 1.1, align='c')
        y += int(base_fs * 1.9)
    else:
        hfs = base_fs * R.uniform(1.6, 1.95)
        combined = R.random() < 0.4
        logo = R.random() < 0.35
        bar_x = W - mx - 240 if spec['barcode'] else W - mx
        t_main = hosp + spec['title'] if combined else hosp
        sp0 = 0 if combined else R.choice([0, 0, 4])
        # keep the hospital name clear of the barcode
        while True:
            wh = text_w(t_main, fkb, hfs) + sp0 * len(t_main)
            cxh = W / 2
            if cxh + wh / 2 > bar_x - 25:
                cxh = (mx + bar_x - 25) / 2
            if cxh - wh / 2 >= mx or hfs < base_fs * 1.2:
                break
            hfs -= 1
        bb = draw_text(dr, cxh, y + hfs, t_main, fkb, hfs, align='c', spacing=sp0)
        if combined:
            y += int(hfs * 1.45)
        else:
            y += int(hfs * 1.35)
            tfs = base_fs * R.uniform(1.25, 1.45)
            title = spec['title']
            if R.random() < 0.4:
                title = spec['title_suffix'] + spec['title'][-3:] if spec['title'] != '化验单' else title
            sp = R.choice([0, 0, 8])
            draw_text(dr, cxh, y + tfs, title, fkb, tfs, align='c', spacing=sp)
            y += int(tfs * 1.45)
        if spec['english']:
            draw_text(dr, cxh, y + base_fs * 0.8, 'Laboratory Report', 'dejavu', base_fs * 0.75, align='c')
            y += int(base_fs * 1.2)
        if logo:
            cx, cy, rr = bb[0] - hfs * 1.0, (bb[1] + bb[3]) / 2 + 6, hfs * 0.62
            if cx - rr > 10:
                dr.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], outline=0, width=3)
                dr.ellipse([cx - rr * 0.6, cy - rr * 0.6, cx + rr * 0.6, cy + rr * 0.6], outline=0, width=2)
                dr.line([cx, cy - rr * 0.85, cx, cy + rr * 0.85], fill=0, width=4)
                dr.line([cx - rr * 0.5, cy, cx + rr * 0.5, cy], fill=0, width=4)
        if spec['barcode']:
            bx, byy = bar_x, int(H * 0.025) + 4
            x = bx
            while x < bx + 225:
                w = R.choice([2, 2, 3, 4, 6])
                dr.rectangle([x, byy, x + w - 1, byy + 58], fill=0)
                x += w + R.choice([2, 3, 4])
            draw_text(dr, bx + 112, byy + 58 + base_fs * 0.85, spec['patient']['barcode'], 'dejavu', base_fs * 0.7,
                      align='c')
            y = max(y, int(byy + 58 + base_fs * 1.3))
    geom['header'] = (0, 0, W, y)

    # ---------- patient fields
    P = spec['patient']
    colon = R.choice(['：', ':', '： '])
    no_label = R.choice(['病历号', '门诊号', 'ID号', '病人ID']) if not P['inpatient'] else '住院号'
    fields = [(R.choice(['姓名', '姓 名', '病人姓名']), P['name']), (R.choice(['性别', '性 别']), P['sex']),
              (R.choice(['年龄', '年 龄']), P['age']), (no_label, P['mrn']),
              (R.choice(['科别', '科室', '申请科室']), P['dept']),
              (R.choice(['标本类型', '样本种类', '标本种类', '样本类型']), P['spec']),
              (R.choice(['送检医生', '申请医生', '开单医生']), P['doctor']),
              (R.choice(['临床诊断', '诊断']), P['diag']), (R.choice(['样本号', '标本号']), P['sample'])]
    if R.random() < 0.4:
        fields.append(('条码号', P['barcode']))
    if P['inpatient']:
        fields.insert(5, (R.choice(['床号', '床 号']), P['bed']))
    if R.random() < 0.4:
        fields.append((R.choice(['采样时间', '采集时间']), spec['dates']['coll']))
    head3 = fields[:3]
    rest = fields[3:]
    R.shuffle(rest)
    if R.random() < 0.5:
        fields = head3 + rest
    else:
        fields = [head3[0]] + rest[:2] + head3[1:] + rest[2:]
    if strip:
        fields = fields[:6]
        k = 2
    else:
        k = {'A4': R.choice([3, 4]), 'A5L': 4, 'A5P': 3, 'A4L': 5}[paper]
    pfs = base_fs * (0.92 if not strip else 0.9)
    lh = pfs * R.uniform(1.5, 1.75)
    if not strip and R.random() < 0.5:
        dr.line([mx, y, W - mx, y], fill=0, width=2)
        y += int(lh * 0.3)
    colw = usable / k
    y0f = y
    for i, (lab, val) in enumerate(fields):
        cx = mx + (i % k) * colw
        by = y + (i // k) * lh + pfs
        s = f'{lab}{colon}{val}'
        # do not overflow column
        size = pfs
        while text_w(s, fk, size) > colw - 8 and size > 14:
            size -= 1
        draw_text(dr, cx, by, s, fk, size)
    y = int(y + math.ceil(len(fields) / k) * lh + lh * 0.25)
    geom['patient_fields'] = (mx, y0f, W - mx, y)

    # ---------- table
    cols = cell_texts(spec, L)
    nb = L['blocks']
    per = math.ceil(n / nb)
    blocks = [rows[i * per:(i + 1) * per] for i in range(nb)]
    blocks = [b for b in blocks if b]
    nb = len(blocks)
    gap_blocks = 0 if nb == 1 else base_fs * 1.2

    def natural(fs, cols_):
        ws = []
        for key, hdr, al in cols_:
            m = text_w(hdr, fkb, fs) if hdr else 0
            for bi, b in enumerate(blocks):
                for ri, r in enumerate(b):
                    m = max(m, text_w(cell_of(key, r, ri + 1 + (0 if L.get('cont_no') else 0), L), fk, fs))
            ws.append(m + fs * 0.9)
        return ws

    fs = base_fs
    while True:
        ws = natural(fs, cols)
        total = sum(ws) * nb + gap_blocks * (nb - 1)
        if total <= usable or fs <= 15:
            break
        fs -= 1
        if fs < base_fs - 5:
            # drop optional columns first
            droppable = [c for c in cols if c[0] in ('method', 'last', 'code', 'no')]
            if droppable:
                cols.remove(droppable[0])
                if droppable[0][0] == 'code' and L['code_mode'].startswith('col'):
                    L['code_mode'] = 'none'
                if droppable[0][0] == 'no':
                    L['has_no'] = False
                if droppable[0][0] in ('method', 'last'):
                    L['extra'] = ''
                fs = base_fs - 2
    bw = (usable - gap_blocks * (nb - 1)) / nb
    extra_w = bw - sum(ws)
    weights = [2.5 if c[0] == 'name' else 1.5 if c[0] in ('range', 'result') else 0.6 for c in cols]
    ws = [w + extra_w * wt / sum(weights) for w, wt in zip(ws, weights)]
    if strip:
        ws = [w for w in ws]
    row_h = fs * R.uniform(1.5, 1.85)
    footer_h = base_fs * 5.2
    avail = H - y - footer_h - H * 0.04
    if not strip:
        need = (per + 1.4) * row_h
        if need > avail:
            row_h = max(fs * 1.3, avail / (per + 1.4))
        if (per + 1.4) * row_h > avail:
            fs = max(15, int(avail / (per + 1.4) / 1.3))
            row_h = fs * 1.3
    hdr_h = row_h * 1.1
    y_tab = y + int(fs * 0.3)
    rule = L['rules']
    lw = 2
    tab_x0, tab_x1 = mx, W - mx
    for bi, b in enumerate(blocks):
        bx0 = mx + bi * (bw + gap_blocks)
        xs = [bx0]
        for w in ws:
            xs.append(xs[-1] + w)
        # header
        hb = y_tab + hdr_h * 0.5 + fs * 0.36
        for (key, hdr, al), x0, x1 in zip(cols, xs[:-1], xs[1:]):
            if not hdr:
                continue
            if al == 'c':
                draw_text(dr, (x0 + x1) / 2, hb, hdr, fkb, fs, align='c')
            else:
                draw_text(dr, x0 + fs * 0.3, hb, hdr, fkb, fs)
        if rule in ('rules', 'header_box', 'grid'):
            dr.line([bx0, y_tab + hdr_h, xs[-1], y_tab + hdr_h], fill=0, width=lw)
        if rule in ('header_box', 'grid'):
            dr.line([bx0, y_tab, xs[-1], y_tab], fill=0, width=lw)
        for ri, r in enumerate(b):
            ry0 = y_tab + hdr_h + ri * row_h
            base = ry0 + row_h * 0.5 + fs * 0.36
            info = dict(block=bi + 1, row=ri + 1, row_box=(int(bx0), int(ry0), int(xs[-1]), int(ry0 + row_h)))
            for (key, hdr, al), x0, x1 in zip(cols, xs[:-1], xs[1:]):
                s = cell_of(key, r, ri + 1, L)
                if not s:
                    continue
                ff = fkb if (key in ('result', 'flag') and r['mark'] and L['bold_res_abn']) else fk
                if al == 'c':
                    bb = draw_text(dr, (x0 + x1) / 2, base, s, ff, fs, align='c')
                else:
                    bb = draw_text(dr, x0 + fs * 0.3, base, s, ff, fs)
                if key == 'result':
                    info['res_box'] = bb
                if key == 'name':
                    info['name_box'] = bb
                if key == 'flag':
                    info['flag_box'] = bb
            if rule == 'grid':
                dr.line([bx0, ry0 + row_h, xs[-1], ry0 + row_h], fill=0, width=1)
            geom['rows'].append(info)
        yend = y_tab + hdr_h + len(b) * row_h
        if rule == 'grid':
            for x in xs:
                dr.line([x, y_tab, x, y_tab + hdr_h + len(b) * row_h], fill=0, width=1)
        if bi == 0:
            geom['block_x'] = []
        geom['block_x'].append((int(bx0), int(xs[-1])))
    y_end = int(y_tab + hdr_h + per * row_h + fs * 0.3)
    if rule in ('rules', 'header_box'):
        dr.line([mx, y_end, W - mx, y_end], fill=0, width=lw)
    if rule in ('rules', 'header_box', 'grid') and R.random() < 0.5:
        dr.line([mx, y_tab - 2, W - mx, y_tab - 2], fill=0, width=lw)
    geom['table'] = (int(mx), int(y_tab), int(W - mx), int(y_end))
    geom['fs'] = fs
    geom['row_h'] = row_h

    # ---------- footer
    ffs = base_fs * 0.88
    y = y_end + int(ffs * 0.8)
    if not strip:
        # leave free space between table and footer on roomy pages
        y_foot = max(y, int(H - H * 0.045 - ffs * 5.2)) if R.random() < 0.55 else y + int(ffs * 0.6)
    else:
        y_foot = y + int(ffs * 0.5)
    D = spec['dates']
    tester, checker = rand_name(R), rand_name(R)
    line1 = [(R.choice(['采样时间', '采集时间']), D['coll']), (R.choice(['接收时间', '签收时间']), D['recv']),
             (R.choice(['报告时间', '报告日期']), D['rep'])]
    line2 = [(R.choice(['检验者', '检验员', '检验']), tester), (R.choice(['审核者', '审核', '审核人']), checker)]
    if R.random() < 0.6:
        line2.insert(0, ('送检医生' if '送检医生' not in str(fields) else '申请医生', spec['patient']['doctor']))
    yy = y_foot
    fbox0 = yy
    if strip:
        for lab, val in line1 + line2:
            draw_text(dr, mx, yy + ffs, f'{lab}{colon}{val}', fk, ffs)
            yy += int(ffs * 1.45)
    else:
        for ln in (line1, line2):
            cw = usable / len(ln)
            for i, (lab, val) in enumerate(ln):
                s = f'{lab}{colon}{val}'
                size = ffs
                while text_w(s, fk, size) > cw - 10 and size > 13:
                    size -= 1
                draw_text(dr, mx + i * cw, yy + ffs, s, fk, size)
            yy += int(ffs * 1.6)
    note = R.choice(['本报告仅对所检测标本负责', '本报告仅对本次送检标本负责，如有疑问请于三日内与检验科联系',
                     '备注：本结果仅对所检测标本负责', '*结果仅供临床参考，如有疑问请及时与检验科联系',
                     '本检验结果仅对该标本负责'])
    nfs = ffs * 0.85
    while text_w(note, fk, nfs) > usable and nfs > 12:
        nfs -= 1
    draw_text(dr, mx, yy + nfs, note, fk, nfs)
    yy += int(nfs * 1.6)
    if not strip and R.random() < 0.7:
        draw_text(dr, W - mx, yy + nfs, R.choice(['第1页/共1页', '第 1 页 共 1 页', 'Page 1/1', '1/1']), fk, nfs,
                  align='r')
        yy += int(nfs * 1.5)
    geom['footer'] = (mx, fbox0, W - mx, yy)
    if strip:
        H2 = yy + 60
        img = img.crop((0, 0, W, H2))
        H = H2
    geom['W'], geom['H'] = W, H
    geom['mx'] = mx
    return img, geom


# ----------------------------------------------------------------------------------------------------------
# print simulation -> RGB float page
# ----------------------------------------------------------------------------------------------------------
def blur_big(a, sigma):
    """Gaussian blur with a large sigma, computed at reduced resolution"""
    f = max(1, int(sigma / 4))
    if f == 1:
        return cv2.GaussianBlur(a, (0, 0), sigma)
    h, w = a.shape[:2]
    small = cv2.resize(a, (max(2, w // f), max(2, h // f)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def smooth_noise(h, w, cell, N):
    sh, sw = max(2, h // cell + 2), max(2, w // cell + 2)
    a = N.random((sh, sw)).astype(np.float32)
    return cv2.resize(a, (w, h), interpolation=cv2.INTER_CUBIC)


def print_sim(img_l, kind, N, R):
    a = np.asarray(img_l, dtype=np.float32)
    cov = 1.0 - a / 255.0
    h, w = cov.shape
    if kind == 'laser':
        cov = cv2.GaussianBlur(cov, (0, 0), 0.45)
        ink = np.array([22, 22, 25], np.float32)
        strength = R.uniform(0.92, 0.98)
        cov = cov * strength
        spk = (N.random((h, w)) < 0.00004).astype(np.float32)
        cov = np.maximum(cov, cv2.GaussianBlur(spk, (0, 0), 0.8) * 3)
    elif kind == 'inkjet':
        cov = cv2.GaussianBlur(cov, (0, 0), 0.9)
        cov = np.clip(cov * 1.15, 0, 1)
        ink = np.array([32, 30, 48], np.float32)
        band = 1 - 0.1 * (np.sin(np.arange(h) / R.uniform(6, 14)) > 0.93).astype(np.float32)[:, None]
        cov = cov * band * R.uniform(0.85, 0.95)
    else:  # thermal
        cov = cv2.GaussianBlur(cov, (0, 0), 0.6)
        fade = 0.55 + 0.35 * smooth_noise(h, w, 260, N)
        streak = 1 - 0.25 * (smooth_noise(1, w, 9, N) > 0.86).astype(np.float32)
        cov = cov * fade * streak
        ink = np.array([60, 58, 62], np.float32)
    cov = np.clip(cov, 0, 1)
    if kind == 'thermal':
        paper = np.array([R.uniform(238, 248), R.uniform(240, 249), R.uniform(240, 250)], np.float32)
    else:
        paper = np.array([R.uniform(244, 252), R.uniform(243, 251), R.uniform(238, 248)], np.float32)
    tex = (smooth_noise(h, w, 40, N) - 0.5) * 5 + N.normal(0, 1.2, (h, w)).astype(np.float32)
    rgb = paper[None, None, :] + tex[:, :, None]
    rgb = rgb * (1 - cov[:, :, None]) + ink[None, None, :] * cov[:, :, None]
    return np.clip(rgb, 0, 255).astype(np.float32), cov


def multiply_layer(rgb, cov, color, alpha):
    """multiply-blend colour layer (cov 0..1) on rgb float"""
    c = np.asarray(color, np.float32) / 255.0
    f = 1 - (alpha * cov)[:, :, None] * (1 - c[None, None, :])
    return rgb * f


def ink_layer(rgb, cov, color, alpha=0.9):
    c = np.asarray(color, np.float32)
    a = (alpha * cov)[:, :, None]
    return rgb * (1 - a) + c[None, None, :] * a


class FreeMap:
    def __init__(self, cov, geom, pad=6):
        m = (cov > 0.12).astype(np.uint8)
        m = cv2.dilate(m, np.ones((2 * pad + 1, 2 * pad + 1), np.uint8))
        self.m = m
        self.h, self.w = m.shape

    def block(self, box):
        x0, y0, x1, y1 = [int(v) for v in box]
        self.m[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = 1

    def free(self, x, y, w, h):
        x, y, w, h = int(x), int(y), int(w), int(h)
        if x < 0 or y < 0 or x + w > self.w or y + h > self.h:
            return False
        return self.m[y:y + h, x:x + w].max() == 0

    def find(self, w, h, R, region=None, tries=400):
        x0, y0, x1, y1 = region or (0, 0, self.w, self.h)
        for _ in range(tries):
            x = R.uniform(x0, max(x0, x1 - w))
            y = R.uniform(y0, max(y0, y1 - h))
            if self.free(x, y, w, h):
                return int(x), int(y)
        return None


# ----------------------------------------------------------------------------------------------------------
# page artefacts
# ----------------------------------------------------------------------------------------------------------
def seal_layer(hosp, D, oval, R):
    """returns coverage array (h, w) of a seal, not rotated"""
    Wd = int(D * (1.45 if oval else 1.0))
    Hd = int(D)
    im = Image.new('L', (Wd + 20, Hd + 20), 0)
    dr = ImageDraw.Draw(im)
    cx, cy = (Wd + 20) / 2, (Hd + 20) / 2
    rx, ry = Wd / 2 - 2, Hd / 2 - 2
    th = max(4, int(D * 0.035))
    dr.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], outline=255, width=th)
    if oval:
        dr.ellipse([cx - rx + th * 2, cy - ry + th * 2, cx + rx - th * 2, cy + ry - th * 2], outline=255, width=2)
    text = (hosp + '检验科')
    if len(text) > 16:
        text = text[:16]
    n = len(text)
    cs = D * (0.14 if n <= 10 else 0.12 if n <= 13 else 0.105)
    span = min(215, 19 * n) if not oval else min(200, 16 * n)
    fk = R.choice(['sans_bold', 'serif_bold'])
    f = font(fk, cs)
    for i, ch in enumerate(text):
        th_deg = 90 + span / 2 - span * (i + 0.5) / n
        t = math.radians(th_deg)
        r_x, r_y = rx - th - cs * 0.75, ry - th - cs * 0.75
        px, py = cx + r_x * math.cos(t), cy - r_y * math.sin(t)
        ci = Image.new('L', (int(cs * 1.6), int(cs * 1.6)), 0)
        ImageDraw.Draw(ci).text((cs * 0.8, cs * 0.8), ch, font=f, fill=255, anchor='mm')
        ci = ci.rotate(th_deg - 90, resample=Image.BICUBIC)
        im.paste(255, (int(px - ci.width / 2), int(py - ci.height / 2)), ci)
    # star
    sr = D * (0.13 if not oval else 0.0)
    if sr > 0:
        pts = []
        for k in range(10):
            ang = math.radians(90 + k * 36)
            rr = sr if k % 2 == 0 else sr * 0.4
            pts.append((cx + rr * math.cos(ang), cy - rr * math.sin(ang) - D * 0.02))
        dr.polygon(pts, fill=255)
    bt = '检验专用章'
    bfs = D * (0.11 if not oval else 0.13)
    f2 = font(fk, bfs)
    by = cy + D * 0.27 if not oval else cy + D * 0.12
    dr.text((cx, by), bt, font=f2, fill=255, anchor='mm')
    if oval and R.random() < 0.6:
        dr.text((cx, cy + D * 0.32), str(R.randint(10 ** 12, 10 ** 13 - 1)), font=font('dejavu', D * 0.07),
                fill=255, anchor='mm')
    return np.asarray(im, np.float32) / 255.0


def apply_seal(rgb, geom, hosp, where, R, N, electronic=False):
    H, W = rgb.shape[:2]
    D = int(R.uniform(0.19, 0.24) * min(W, 1654)) if W > 700 else int(W * 0.42)
    oval = R.random() < 0.3
    cov = seal_layer(hosp, D, oval, R)
    ang = R.uniform(-25, 25) if not electronic else R.uniform(-3, 3)
    h, w = cov.shape
    M = cv2.getRotationMatrix2D((w / 2, h / 2), ang, 1.0)
    cov = cv2.warpAffine(cov, M, (w, h))
    if not electronic:
        tex = 0.55 + 0.6 * smooth_noise(h, w, 18, N)
        tex *= 0.8 + 0.35 * smooth_noise(h, w, 5, N)
        cov = np.clip(cov * tex, 0, 1)
        cov = cv2.GaussianBlur(cov, (0, 0), 1.0)
    fx0, fy0, fx1, fy1 = geom['footer']
    tx0, ty0, tx1, ty1 = geom['table']
    if where == 'footer':
        cx = R.uniform(fx0 + (fx1 - fx0) * 0.45, fx1 - w * 0.3)
        cy = R.uniform(fy0, fy1)
    else:  # partly over the lower right of the table
        cx = R.uniform(tx1 - w * 0.3, tx1 + w * 0.05)
        cy = R.uniform(ty1 - h * 0.25, ty1 + h * 0.15)
    x0, y0 = int(cx - w / 2), int(cy - h / 2)
    x0 = min(max(x0, 5), W - w - 5)
    y0 = min(max(y0, 5), H - h - 5)
    full = np.zeros((H, W), np.float32)
    full[y0:y0 + h, x0:x0 + w] = cov[:min(h, H - y0), :min(w, W - x0)]
    col = (205, 30, 45) if not electronic else (230, 20, 30)
    alpha = R.uniform(0.55, 0.75) if not electronic else 0.8
    if where == 'table':   # keep the covered print readable
        col = (228, 55, 65)
        alpha = R.uniform(0.42, 0.55)
    return multiply_layer(rgb, full, col, alpha), (x0, y0, x0 + w, y0 + h)


def pen_stroke(cov, pts, th, N):
    pts = np.asarray(pts, np.float32)
    pts += N.normal(0, 0.4, pts.shape).astype(np.float32)
    layer = np.zeros_like(cov, dtype=np.uint8)
    cv2.polylines(layer, [np.round(pts * 4).astype(np.int32)], False, 255, int(th), cv2.LINE_AA, shift=2)
    np.maximum(cov, layer.astype(np.float32) / 255.0, out=cov)


def ellipse_pts(cx, cy, rx, ry, R, N):
    a0 = R.uniform(0, 2 * math.pi)
    sweep = R.uniform(2.1, 2.35) * math.pi
    t = np.linspace(a0, a0 + sweep, 90)
    wob = 1 + 0.05 * np.sin(t * R.uniform(1.5, 3) + R.uniform(0, 6))
    rr = 1 + np.linspace(0, R.uniform(0.05, 0.14), len(t))
    x = cx + rx * np.cos(t) * wob * rr
    y = cy + ry * np.sin(t) * wob * rr
    return np.stack([x, y], 1)


def hand_text(cov, x, y, s, size, R, N):
    """paste a jittered 'handwritten' string into cov at (x, y) top-left; returns bbox"""
    fk = R.choice(['microhei', 'sans', 'uming'])
    cw = int(size * 1.25 * len(s) + size)
    ch_h = int(size * 2)
    im = Image.new('L', (cw, ch_h), 0)
    px = size * 0.3
    base = size * 1.35
    for c in s:
        sz = size * R.uniform(0.88, 1.12)
        ci = Image.new('L', (int(sz * 1.8), int(sz * 1.8)), 0)
        ImageDraw.Draw(ci).text((sz * 0.9, sz * 0.9), c, font=font(fk, sz), fill=255, anchor='mm')
        ci = ci.rotate(R.uniform(-9, 9), resample=Image.BICUBIC)
        yy = base - sz * 0.9 - size * 0.45 + R.uniform(-size * 0.08, size * 0.08)
        im.paste(255, (int(px - sz * 0.45), int(yy)), ci)
        px += font(fk, sz).getlength(c) * R.uniform(0.85, 1.05)
        base += R.uniform(-0.5, 1.5)
    arr = np.asarray(im, np.float32) / 255.0
    sh = R.uniform(0.1, 0.3)
    M = np.float32([[1, -sh, sh * ch_h / 2], [0, 1, 0]])
    arr = cv2.warpAffine(arr, M, (cw, ch_h))
    # thin the strokes a bit (ballpoint)
    arr = cv2.erode(arr, np.ones((2, 2), np.uint8)) if size > 30 else arr
    used = int(px + size * 0.5)
    arr = arr[:, :used]
    h, w = arr.shape
    H, W = cov.shape
    w2, h2 = min(w, W - x), min(h, H - y)
    if w2 <= 0 or h2 <= 0:
        return None
    np.maximum(cov[y:y + h2, x:x + w2], arr[:h2, :w2], out=cov[y:y + h2, x:x + w2])
    return (x, y, x + w2, y + h2)


NOTES_DR = ['复查', '已阅', '随诊', '注意饮食', '低盐低脂', '多饮水', '建议复查', '1周后复查', '门诊随访',
            '请消化科就诊', '戒烟限酒', '无特殊', '继续观察', '注意休息', '下次带来', '控制饮食']
NOTES_PT = ['问医生', '上次也高', '要空腹', '?', '已拿药', '周三复诊']


def apply_handwriting(rgb, cov_print, geom, R, N, n_marks):
    H, W = rgb.shape[:2]
    fm = FreeMap(cov_print, geom)
    pen = np.zeros((H, W), np.float32)
    color = R.choice([(25, 45, 150), (20, 40, 120), (35, 35, 45), (30, 55, 170)])
    th = R.choice([2, 3, 3])
    rows = [r for r in geom['rows'] if 'res_box' in r]
    did = []
    fs = geom['fs']
    kinds = R.sample(['circle', 'tick', 'underline', 'note', 'circle', 'sign', 'note2'], k=min(n_marks, 7))
    for kd in kinds:
        if kd == 'circle' and rows:
            for r in R.sample(rows, min(len(rows), R.randint(1, 3))):
                x0, y0, x1, y1 = r['res_box']
                cx, cy = (x0 + x1) / 2 + R.uniform(-3, 3), (y0 + y1) / 2 + R.uniform(-2, 2)
                rx = max((x1 - x0) / 2 + fs * R.uniform(0.35, 0.55), fs * 1.0)
                ry = max(min((y1 - y0) / 2 + fs * 0.3, geom['row_h'] * 0.62), fs * 0.7)
                pen_stroke(pen, ellipse_pts(cx, cy, rx, ry, R, N), th, N)
            did.append('circles around results')
        elif kd == 'tick' and rows:
            cnt = 0
            for r in R.sample(rows, min(len(rows), R.randint(2, 4))):
                bx0, by0, bx1, by1 = r['row_box']
                s = fs * 0.8
                # tick just right of the row if free, else left of the row
                for tx in (bx1 + fs * 0.2, bx0 - s * 1.3, r['res_box'][2] + fs * 0.25):
                    ty = (by0 + by1) / 2 - s * 0.5
                    if fm.free(tx, ty, s * 1.2, s):
                        pts = [(tx, ty + s * 0.45), (tx + s * 0.35, ty + s * 0.95), (tx + s * 1.15, ty - s * 0.1)]
                        pts = np.array(pts) + N.normal(0, 1.0, (3, 2))
                        fine = np.concatenate([np.linspace(pts[0], pts[1], 8), np.linspace(pts[1], pts[2], 14)])
                        pen_stroke(pen, fine, th, N)
                        fm.block((tx, ty, tx + s * 1.2, ty + s))
                        cnt += 1
                        break
            if cnt:
                did.append('ticks beside rows')
        elif kd == 'underline' and rows:
            r = R.choice(rows)
            bx0, by0, bx1, by1 = r['row_box']
            nb = r.get('name_box', r['res_box'])
            x_a, x_b = nb[0] - 4, r['res_box'][2] + 6
            yl = by1 - geom['row_h'] * 0.12
            t = np.linspace(0, 1, 40)
            pts = np.stack([x_a + (x_b - x_a) * t, yl + 1.5 * np.sin(t * R.uniform(3, 7)) + t * R.uniform(-3, 3)], 1)
            pen_stroke(pen, pts, th, N)
            did.append('underline')
        elif kd in ('note', 'note2'):
            s = R.choice(NOTES_DR if R.random() < 0.7 else NOTES_PT)
            size = fs * R.uniform(1.05, 1.4)
            w, h = size * 1.1 * len(s) + size, size * 2
            t0 = geom['table']
            # margin: right margin, below the table, beside the title
            regions = [(t0[2] - w * 0.2, t0[1], W, t0[3]), (0, t0[3], W, H), (0, 0, W, t0[1]),
                       (0, t0[1], t0[0] + w * 0.2, t0[3])]
            pos = None
            for reg in R.sample(regions, len(regions)):
                pos = fm.find(w, h, R, reg)
                if pos:
                    break
            if pos:
                bb = hand_text(pen, pos[0], pos[1], s, size, R, N)
                if bb:
                    fm.block(bb)
                    did.append(f'margin note "{s}"')
        elif kd == 'sign':
            w, h = fs * 5, fs * 1.8
            fb = geom['footer']
            pos = fm.find(w, h, R, (fb[0], fb[1] - h, fb[2], fb[3] + h)) or fm.find(w, h, R)
            if pos:
                x0, y0 = pos
                t = np.linspace(0, 1, 160)
                loops = R.uniform(3, 6)
                xs = x0 + w * t + fs * 0.5 * np.sin(2 * math.pi * loops * t)
                ys = y0 + h * 0.5 + h * 0.35 * np.sin(2 * math.pi * loops * t * 1.03 + 1) * (1 - 0.5 * t)
                pen_stroke(pen, np.stack([xs, ys], 1), th, N)
                fm.block((x0, y0, x0 + w, y0 + h))
                did.append('signature scribble')
    tex = 0.75 + 0.3 * smooth_noise(H, W, 6, N)
    pen = np.clip(pen * tex, 0, 1)
    return ink_layer(rgb, pen, color, 0.92), did


def apply_highlighter(rgb, geom, R, N):
    rows = [r for r in geom['rows'] if 'res_box' in r]
    if not rows:
        return rgb, ''
    H, W = rgb.shape[:2]
    color = R.choice([(250, 238, 70), (160, 245, 120), (250, 240, 90)])
    cov = np.zeros((H, W), np.float32)
    k = R.choice([1, 1, 2])
    i = R.randrange(len(rows))
    sel = [rows[i]] + ([rows[i + 1]] if k == 2 and i + 1 < len(rows) and rows[i + 1]['block'] == rows[i]['block'] else [])
    for r in sel:
        bx0, by0, bx1, by1 = r['row_box']
        x_a = r.get('name_box', r['res_box'])[0] - R.uniform(5, 20)
        x_b = bx1 - R.uniform(0, (bx1 - bx0) * 0.25)
        hh = (by1 - by0) * R.uniform(0.75, 0.95)
        cy = (by0 + by1) / 2 + R.uniform(-2, 2)
        slope = R.uniform(-0.01, 0.01)
        pts = np.array([[x_a, cy - hh / 2], [x_b, cy - hh / 2 + slope * (x_b - x_a)],
                        [x_b + 6, cy + hh / 2 + slope * (x_b - x_a)], [x_a - 4, cy + hh / 2]], np.int32)
        cv2.fillPoly(cov, [pts], 1.0, cv2.LINE_AA)
    cov = cov * (0.8 + 0.25 * smooth_noise(H, W, 12, N))
    cov = cv2.GaussianBlur(cov, (0, 0), 1.5)
    return multiply_layer(rgb, np.clip(cov, 0, 1), color, R.uniform(0.6, 0.8)), f'{len(sel)} row(s)'


def apply_staple_hole(rgb, alpha, cov_print, geom, kind, R, N):
    H, W = rgb.shape[:2]
    fm = FreeMap(cov_print, geom, pad=4)
    if kind == 'staple':
        corner = R.choice(['tl', 'tr'])
        x = 40 + R.uniform(0, 30) if corner == 'tl' else W - 140 - R.uniform(0, 30)
        y = 35 + R.uniform(0, 30)
        ang = math.radians(R.choice([-40, 40, 0, 35]) + R.uniform(-8, 8))
        Ls = 95
        p0 = (x, y)
        p1 = (x + Ls * math.cos(ang), y + Ls * math.sin(ang))
        for sh, col, t in ((3, (90, 90, 90), 9), (0, (175, 178, 182), 7), (-1, (225, 228, 232), 2)):
            cv2.line(rgb, (int(p0[0] + sh), int(p0[1] + sh)), (int(p1[0] + sh), int(p1[1] + sh)), col, t,
                     cv2.LINE_AA)
        # wrinkle lines radiating from the staple
        for _ in range(3):
            a2 = ang + R.uniform(0.6, 2.4)
            q = (p0[0] + 90 * math.cos(a2), p0[1] + 90 * math.sin(a2))
            cv2.line(rgb, (int(p0[0]), int(p0[1])), (int(q[0]), int(q[1])), (225, 224, 220), 2, cv2.LINE_AA)
        return rgb, alpha, f'staple top-{"left" if corner == "tl" else "right"}'
    # punched hole(s) in the left margin
    r = 22
    mxg = geom['mx']
    cx = max(r + 8, mxg * 0.4)
    ys = [H * 0.5] if R.random() < 0.4 else [H * 0.5 - 300, H * 0.5 + 300]
    done = 0
    for cy in ys:
        if not fm.free(cx - r - 6, cy - r - 6, 2 * r + 12, 2 * r + 12):
            cy2 = None
            for dy in range(0, 500, 20):
                for c in (cy + dy, cy - dy):
                    if fm.free(cx - r - 6, c - r - 6, 2 * r + 12, 2 * r + 12):
                        cy2 = c
                        break
                if cy2:
                    break
            if cy2 is None:
                continue
            cy = cy2
        cv2.circle(alpha, (int(cx), int(cy)), r, 0.0, -1, cv2.LINE_AA)
        cv2.circle(rgb, (int(cx), int(cy)), r + 2, (200, 198, 192), 2, cv2.LINE_AA)
        done += 1
    return rgb, alpha, f'{done} punched hole(s) in the left margin'


def apply_corner(rgb, alpha, cov_print, geom, R, N):
    """torn or curled corner, only where no print is"""
    H, W = rgb.shape[:2]
    fm = FreeMap(cov_print, geom, pad=8)
    kind = R.choice(['torn', 'curl', 'torn'])
    for corner in R.sample(['tl', 'tr', 'bl', 'br'], 4):
        for s in (170, 140, 110, 85, 60):
            # triangle with legs s
            if corner == 'tl':
                ox, oy, dx, dy = 0, 0, 1, 1
            elif corner == 'tr':
                ox, oy, dx, dy = W - 1, 0, -1, 1
            elif corner == 'bl':
                ox, oy, dx, dy = 0, H - 1, 1, -1
            else:
                ox, oy, dx, dy = W - 1, H - 1, -1, -1
            lx = s * R.uniform(0.8, 1.3)
            ly = s * R.uniform(0.8, 1.3)
            tri = np.array([[ox, oy], [ox + dx * lx, oy], [ox, oy + dy * ly]], np.float32)
            m = np.zeros((H, W), np.uint8)
            if kind == 'torn':
                # jagged edge between the two leg points
                n = 14
                t = np.linspace(0, 1, n)
                edge = np.stack([ox + dx * lx * (1 - t), oy + dy * ly * t], 1)
                edge += N.normal(0, s * 0.05, edge.shape)
                poly = np.concatenate([[[ox, oy]], edge], 0)
            else:
                poly = tri
            cv2.fillPoly(m, [poly.astype(np.int32)], 1)
            # the reflected flap region (curl) must be free too
            flap = None
            if kind == 'curl':
                p1, p2 = tri[1], tri[2]
                d = p2 - p1
                nrm = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-6)
                o = tri[0]
                proj = o - 2 * np.dot(o - p1, nrm) * nrm
                flap = np.array([p1, p2, proj], np.float32)
                cv2.fillPoly(m, [flap.astype(np.int32)], 1)
            ys, xs = np.nonzero(m)
            if len(ys) == 0:
                continue
            if fm.m[ys, xs].max() > 0:
                continue
            if kind == 'torn':
                mm = np.zeros((H, W), np.uint8)
                cv2.fillPoly(mm, [poly.astype(np.int32)], 1)
                alpha[mm > 0] = 0
                # fibrous slightly darker edge
                cv2.polylines(rgb, [poly[1:].astype(np.int32)], False, (215, 212, 205), 3, cv2.LINE_AA)
                return rgb, alpha, f'torn corner ({corner})'
            mm = np.zeros((H, W), np.uint8)
            cv2.fillPoly(mm, [tri.astype(np.int32)], 1)
            alpha[mm > 0] = 0
            # shadow under the flap then the flap (paper back side)
            sh = np.zeros((H, W), np.float32)
            cv2.fillPoly(sh, [(flap + np.array([dx * 6, dy * 6])).astype(np.int32)], 1.0)
            sh = blur_big(sh, 6)
            rgb *= (1 - 0.25 * sh)[:, :, None]
            fl = np.zeros((H, W), np.float32)
            cv2.fillPoly(fl, [flap.astype(np.int32)], 1.0, cv2.LINE_AA)
            back = np.array([232, 230, 224], np.float32)
            rgb[:] = rgb * (1 - fl[:, :, None]) + back * fl[:, :, None]
            cv2.polylines(rgb, [flap.astype(np.int32)], True, (200, 198, 190), 2, cv2.LINE_AA)
            return rgb, alpha, f'curled (dog-eared) corner ({corner})'
    return rgb, alpha, ''


def fold_shading(rgb, folds, N, strength=1.0):
    """apply crease lines and panel shading; folds: list of ('h', y) / ('v', x)"""
    H, W = rgb.shape[:2]
    shade = np.ones((H, W), np.float32)
    for ori, pos in folds:
        if ori == 'h':
            d = np.arange(H, dtype=np.float32)[:, None] - pos
            side = np.sign(d)
            f = 1 + strength * (0.035 * side * np.exp(-np.abs(d) / 220.0) - 0.06 * np.exp(-(d / 5.0) ** 2)
                                + 0.05 * np.exp(-((d - 5) / 2.5) ** 2))
            shade *= np.broadcast_to(f, (H, W))
        else:
            d = np.arange(W, dtype=np.float32)[None, :] - pos
            side = np.sign(d)
            f = 1 + strength * (0.035 * side * np.exp(-np.abs(d) / 220.0) - 0.06 * np.exp(-(d / 5.0) ** 2)
                                + 0.05 * np.exp(-((d - 5) / 2.5) ** 2))
            shade *= np.broadcast_to(f, (H, W))
    # panel brightness differences
    edges_h = sorted([0] + [p for o, p in folds if o == 'h'] + [H])
    for a, b in zip(edges_h[:-1], edges_h[1:]):
        shade[int(a):int(b)] *= 1 + strength * N.uniform(-0.035, 0.03)
    return rgb * shade[:, :, None]


def fold_displacement(H, W, folds, R, amp=4.0):
    """small displacement (page not flat) for remap: returns map_x, map_y"""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    dx = np.zeros((H, W), np.float32)
    dy = np.zeros((H, W), np.float32)
    hs = sorted([0] + [p for o, p in folds if o == 'h'] + [H])
    for a, b in zip(hs[:-1], hs[1:]):
        sel = (yy >= a) & (yy < b)
        t = (yy - a) / max(1, (b - a))
        dy += sel * amp * R.uniform(0.5, 1.0) * np.sin(math.pi * t) * ((xx / W) - 0.5)
        dx += sel * amp * R.uniform(-0.7, 0.7) * np.sin(math.pi * t)
    vs = [p for o, p in folds if o == 'v']
    for v in vs:
        dy += amp * 0.6 * np.exp(-((xx - v) / 60.0) ** 2) * ((yy / H) - 0.5)
    return xx + dx, yy + dy


# ----------------------------------------------------------------------------------------------------------
# captures
# ----------------------------------------------------------------------------------------------------------
def desk_background(h, w, R, N):
    kind = R.choice(['wood', 'grey', 'white', 'fabric', 'wood'])
    if kind == 'wood':
        base = np.array([R.uniform(120, 170), R.uniform(80, 115), R.uniform(50, 75)], np.float32)
        stripes = smooth_noise(h, max(2, w // 3), 3, N)
        stripes = cv2.resize(stripes, (w, h))
        grain = (stripes - 0.5) * 30 + (smooth_noise(h, w, 60, N) - 0.5) * 25
        bg = base[None, None, :] + grain[:, :, None] * np.array([1, 0.8, 0.6], np.float32)
    elif kind == 'grey':
        base = np.array([R.uniform(90, 140)] * 3, np.float32) + np.array([0, 2, 6], np.float32)
        bg = base[None, None, :] + ((smooth_noise(h, w, 80, N) - 0.5) * 20)[:, :, None]
    elif kind == 'white':
        base = np.array([R.uniform(200, 225), R.uniform(200, 222), R.uniform(195, 215)], np.float32)
        bg = base[None, None, :] + ((smooth_noise(h, w, 90, N) - 0.5) * 14)[:, :, None]
    else:
        base = np.array([R.uniform(30, 80), R.uniform(40, 90), R.uniform(60, 120)], np.float32)
        bg = base[None, None, :] + ((smooth_noise(h, w, 4, N) - 0.5) * 18)[:, :, None]
    return np.clip(bg + N.normal(0, 2, (h, w, 1)).astype(np.float32), 0, 255), kind


def page_quad(pw, ph, Wf, Hf, fill, ang_deg, key, R, offset=True):
    """destination quad of a page inside a frame"""
    c = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32) - np.array([pw / 2, ph / 2], np.float32)
    side = R.choice(['top', 'bottom', 'left', 'right'])
    if side == 'top':
        c[0, 0] *= 1 - key
        c[1, 0] *= 1 - key
    elif side == 'bottom':
        c[2, 0] *= 1 - key
        c[3, 0] *= 1 - key
    elif side == 'left':
        c[0, 1] *= 1 - key
        c[3, 1] *= 1 - key
    else:
        c[1, 1] *= 1 - key
        c[2, 1] *= 1 - key
    c += np.array([[R.uniform(-0.01, 0.01) * pw, R.uniform(-0.01, 0.01) * ph] for _ in range(4)], np.float32)
    a = math.radians(ang_deg)
    Rm = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
    c = c @ Rm.T
    bw, bh = c[:, 0].max() - c[:, 0].min(), c[:, 1].max() - c[:, 1].min()
    s = fill * min(Wf / bw, Hf / bh)
    c *= s
    bw, bh = bw * s, bh * s
    ox = (Wf - bw) / 2 * (R.uniform(-0.8, 0.8) if offset else 0)
    oy = (Hf - bh) / 2 * (R.uniform(-0.8, 0.8) if offset else 0)
    c += np.array([Wf / 2 + ox, Hf / 2 + oy], np.float32)
    return c, s


def composite_page(canvas, page_rgb, alpha, quad, shadow=True, shadow_strength=0.35, remap=None):
    ph, pw = page_rgb.shape[:2]
    Hf, Wf = canvas.shape[:2]
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    M = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    if remap is not None:
        mx_, my_ = remap
        page_rgb = cv2.remap(page_rgb, mx_, my_, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.remap(alpha, mx_, my_, cv2.INTER_LINEAR, borderValue=0)
    warped = cv2.warpPerspective(page_rgb, M, (Wf, Hf), flags=cv2.INTER_AREA if False else cv2.INTER_LINEAR)
    a = cv2.warpPerspective(alpha, M, (Wf, Hf), flags=cv2.INTER_LINEAR)
    if shadow:
        sh = blur_big(a, 12)
        sh = np.roll(np.roll(sh, 10, 0), 8, 1)
        canvas *= (1 - shadow_strength * sh)[:, :, None]
    canvas[:] = canvas * (1 - a[:, :, None]) + warped * a[:, :, None]
    return M


def lighting(img, R, N, strong=1.0):
    H0, W0 = img.shape[:2]
    H, W = H0 // 8, W0 // 8
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    ang = R.uniform(0, 2 * math.pi)
    g = ((xx / W - 0.5) * math.cos(ang) + (yy / H - 0.5) * math.sin(ang))
    field = 1 + strong * R.uniform(0.08, 0.2) * g
    cx, cy = R.uniform(0.2, 0.8) * W, R.uniform(0.2, 0.8) * H
    rad = np.sqrt(((xx - cx) / W) ** 2 + ((yy - cy) / H) ** 2)
    field *= 1 + strong * 0.06 - strong * R.uniform(0.05, 0.14) * rad
    # soft shadow (hand / phone)
    if R.random() < 0.6:
        m = np.zeros((H, W), np.float32)
        k = R.randrange(4)
        w0 = R.uniform(0.25, 0.5)
        if k == 0:
            poly = [(0, 0), (W * w0, 0), (W * w0 * 0.6, H), (0, H)]
        elif k == 1:
            poly = [(W, 0), (W * (1 - w0), 0), (W * (1 - w0 * 0.5), H), (W, H)]
        elif k == 2:
            poly = [(0, H), (W, H), (W, H * (1 - w0 * 0.6)), (0, H * (1 - w0))]
        else:
            poly = [(0, 0), (W, 0), (W, H * w0 * 0.5), (0, H * w0)]
        cv2.fillPoly(m, [np.array(poly, np.int32)], 1.0)
        m = cv2.GaussianBlur(m, (0, 0), min(H, W) * 0.05)
        field *= 1 - R.uniform(0.1, 0.22) * m
    field = cv2.resize(field.astype(np.float32), (W0, H0), interpolation=cv2.INTER_LINEAR)
    return img * field[:, :, None]


def finish(img, R, N, blur, noise, target_long=None):
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    img = img + N.normal(0, noise, img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if target_long:
        h, w = img.shape[:2]
        s = target_long / max(h, w)
        if abs(s - 1) > 0.01:
            img = cv2.resize(img, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
    return img


def capture_scan(page, alpha, folds, R, N):
    ph, pw = page.shape[:2]
    rgb = page.copy()
    if folds:
        rgb = fold_shading(rgb, folds, N, 0.6)
    pad = 30
    Hs, Ws = ph + 2 * pad, pw + 2 * pad
    bed = np.full((Hs, Ws, 3), R.uniform(232, 245), np.float32)
    ang = R.uniform(-1, 1)
    quad = np.array([[pad, pad], [pad + pw, pad], [pad + pw, pad + ph], [pad, pad + ph]], np.float32)
    c = quad.mean(0)
    a = math.radians(ang)
    Rm = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
    quad = (quad - c) @ Rm.T + c
    composite_page(bed, rgb, alpha, quad, shadow=True, shadow_strength=0.12)
    # scanner light falloff at one edge
    xx = np.linspace(0, 1, Ws, dtype=np.float32)[None, :]
    bed *= (1 - 0.04 * np.exp(-xx / 0.05))[:, :, None]
    tl = max(Hs, Ws) * R.uniform(0.98, 1.12)
    img = finish(bed, R, N, R.uniform(0.3, 0.55), 1.5, target_long=int(min(max(tl, 1500), 3000)))
    return img, f'flat scan, rotation {ang:.1f}°'


def draw_finger(img, forbid, R, N):
    """thumb entering from one frame edge; forbid: uint8 mask of where it must not cover"""
    H, W = img.shape[:2]
    tw = min(H, W) * R.uniform(0.09, 0.12)
    for _ in range(80):
        edge = R.choice(['left', 'right', 'bottom', 'bottom'])
        length = min(H, W) * R.uniform(0.14, 0.24)
        if edge == 'left':
            p0 = np.array([-tw * 0.5, R.uniform(0.3, 0.9) * H])
            d = np.array([1.0, R.uniform(-0.35, 0.1)])
        elif edge == 'right':
            p0 = np.array([W + tw * 0.5, R.uniform(0.3, 0.9) * H])
            d = np.array([-1.0, R.uniform(-0.35, 0.1)])
        else:
            p0 = np.array([R.uniform(0.1, 0.9) * W, H + tw * 0.5])
            d = np.array([R.uniform(-0.4, 0.4), -1.0])
        d /= np.linalg.norm(d)
        p1 = p0 + d * length
        m = np.zeros((H, W), np.uint8)
        cv2.line(m, tuple(int(v) for v in p0), tuple(int(v) for v in p1), 1, int(tw), cv2.LINE_AA)
        cv2.circle(m, tuple(int(v) for v in p1), int(tw / 2), 1, -1, cv2.LINE_AA)
        if (m & forbid).any():
            continue
        # must actually touch the page (forbid mask includes only print); accept anyway
        mf = m.astype(np.float32)
        dist = cv2.distanceTransform(m, cv2.DIST_L2, 5)
        shade = np.clip(dist / (tw * 0.5), 0, 1) ** 0.5
        skin = np.array([R.uniform(205, 225), R.uniform(165, 185), R.uniform(140, 160)], np.float32)
        tex = 1 + (smooth_noise(H, W, 7, N) - 0.5) * 0.06
        col = skin[None, None, :] * ((0.55 + 0.5 * shade) * tex)[:, :, None]
        # nail near the tip
        nail = np.zeros((H, W), np.uint8)
        nc = p1 - d * tw * 0.35
        ang = math.degrees(math.atan2(d[1], d[0]))
        cv2.ellipse(nail, (int(nc[0]), int(nc[1])), (int(tw * 0.32), int(tw * 0.26)), ang, 0, 360, 1, -1,
                    cv2.LINE_AA)
        nail_f = cv2.GaussianBlur(nail.astype(np.float32), (0, 0), 2)
        col = col * (1 - 0.5 * nail_f[:, :, None]) + np.array([235, 205, 195], np.float32) * 0.5 * nail_f[:, :, None]
        # drop shadow
        sh = blur_big(mf, tw * 0.15)
        sh = np.roll(np.roll(sh, int(tw * 0.12), 0), int(tw * 0.08), 1)
        img *= (1 - 0.35 * sh * (1 - mf))[:, :, None]
        a = cv2.GaussianBlur(mf, (0, 0), 2.5)[:, :, None]
        img[:] = img * (1 - a) + col * a
        return f'thumb at the {edge} edge'
    return ''


def capture_phone(page, alpha, cov_print, geom, folds, R, N, other=None, finger=False):
    ph, pw = page.shape[:2]
    portrait = ph >= pw
    long_side = R.randint(2500, 3000) if max(ph, pw) > 2000 else R.randint(2000, 3000)
    if portrait:
        Hf, Wf = long_side, int(long_side * 0.75)
    else:
        Wf, Hf = long_side, int(long_side * 0.75)
    canvas, desk = desk_background(Hf, Wf, R, N)
    rgb = page.copy()
    if folds:
        rgb = fold_shading(rgb, folds, N, 1.0)
    fill = R.uniform(0.72, 0.92) if other is None else R.uniform(0.70, 0.78)
    ang = R.uniform(-6, 6)
    key = R.uniform(0.0, 0.1)
    quad, s = page_quad(pw, ph, Wf, Hf, fill, ang, key, R, offset=other is None)
    desc = [f'phone photo on {desk} desk, rotation {ang:.1f}°, keystone {key * 100:.0f}%']
    if other is not None:
        opage, oalpha = other
        oh, ow = opage.shape[:2]
        # place the other sheet partly under the main one, peeking out at one side, partly outside the frame
        sc = s * R.uniform(0.75, 0.9)
        c = np.array([[0, 0], [ow, 0], [ow, oh], [0, oh]], np.float32) - np.array([ow / 2, oh / 2], np.float32)
        a = math.radians(ang + R.uniform(-12, 12))
        Rm = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
        c = (c @ Rm.T) * sc
        mc = quad.mean(0)
        side = R.choice(['left', 'right', 'top', 'bottom'])
        mw = quad[:, 0].max() - quad[:, 0].min()
        mh = quad[:, 1].max() - quad[:, 1].min()
        if side in ('left', 'right'):
            sx = -1 if side == 'left' else 1
            cxo = mc[0] + sx * (mw / 2 + (c[:, 0].max() - c[:, 0].min()) * R.uniform(0.05, 0.2))
            cyo = mc[1] + R.uniform(-0.2, 0.2) * mh
        else:
            sy = -1 if side == 'top' else 1
            cxo = mc[0] + R.uniform(-0.25, 0.25) * mw
            cyo = mc[1] + sy * (mh / 2 + (c[:, 1].max() - c[:, 1].min()) * R.uniform(0.05, 0.2))
        oq = c + np.array([cxo, cyo], np.float32)
        orgb = lighting(opage.copy(), R, N, 0.3)
        composite_page(canvas, orgb, oalpha, oq, shadow=True)
        desc.append(f'a second sheet underneath, peeking out at the {side} (not transcribed)')
    remap = fold_displacement(ph, pw, folds, R, amp=R.uniform(2.5, 5.0)) if folds else \
        fold_displacement(ph, pw, [], R, amp=R.uniform(1.5, 3.0))
    M = composite_page(canvas, rgb, alpha, quad, shadow=True, remap=remap)
    canvas = lighting(canvas, R, N)
    if finger:
        forbid = cv2.warpPerspective((cov_print > 0.1).astype(np.uint8), M, (Wf, Hf), flags=cv2.INTER_NEAREST)
        t = geom['table']
        tm = np.zeros((ph, pw), np.uint8)
        tm[t[1]:t[3], t[0]:t[2]] = 1
        forbid |= cv2.warpPerspective(tm, M, (Wf, Hf), flags=cv2.INTER_NEAREST)
        forbid = cv2.dilate(forbid, np.ones((25, 25), np.uint8))
        f = draw_finger(canvas, forbid, R, N)
        if f:
            desc.append(f)
    q = R.randint(75, 90)
    img = finish(canvas, R, N, R.uniform(0.5, 1.1), R.uniform(2.0, 3.5))
    return img, ', '.join(desc), q


def capture_screen(page, R, N):
    ph, pw = page.shape[:2]
    # page as shown on a 2560x1440 monitor inside a viewer
    portrait = ph >= pw
    if portrait:
        sh_ = R.randint(1300, 1380)
        sw_ = int(pw * sh_ / ph)
    else:
        sw_ = R.randint(1700, 1850)
        sh_ = int(ph * sw_ / pw)
    shown = cv2.resize(page, (sw_, sh_), interpolation=cv2.INTER_AREA)
    mW, mH = sw_ + R.randint(120, 260), sh_ + R.randint(70, 110)
    ui = np.full((mH, mW, 3), R.choice([60, 82, 225, 238]), np.float32)
    tb = 40
    ui[:tb] = np.array([45, 48, 55], np.float32) if ui[0, 0, 0] < 150 else np.array([215, 218, 225], np.float32)
    ox, oy = (mW - sw_) // 2, tb + (mH - tb - sh_) // 2
    ui[oy:oy + sh_, ox:ox + sw_] = shown
    # a few toolbar "icons"
    for i in range(6):
        x = 20 + i * 46
        cv2.rectangle(ui, (x, 10), (x + 22, 30), (150, 150, 160), -1)
    # photograph it: upscale x3, subpixel grid
    k = 3
    big = cv2.resize(ui, (mW * k, mH * k), interpolation=cv2.INTER_NEAREST)
    tile = np.zeros((k, k, 3), np.float32)
    tile[:, 0] = (1.0, 0.3, 0.3)
    tile[:, 1] = (0.3, 1.0, 0.3)
    tile[:, 2] = (0.3, 0.3, 1.0)
    tile[k - 1] *= 0.55
    big *= np.tile(tile, (mH, mW, 1)) * 1.75
    Hf = R.randint(2300, 2900) if portrait else R.randint(1700, 2100)
    Wf = int(Hf * 0.75) if portrait else int(Hf * 4 / 3)
    bezel = np.full((Hf, Wf, 3), R.uniform(12, 25), np.float32)
    ang = R.uniform(-4, 4)
    quad, s = page_quad(mW * k, mH * k, Wf, Hf, R.uniform(0.88, 0.96), ang, R.uniform(0.02, 0.08), R, offset=True)
    alpha = np.ones((mH * k, mW * k), np.float32)
    composite_page(bezel, big, alpha, quad, shadow=False)
    img = bezel
    H, W = img.shape[:2]
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    # explicit moire bands
    a1 = R.uniform(0, math.pi)
    per = R.uniform(35, 90)
    ph1 = (xx * math.cos(a1) + yy * math.sin(a1)) / per * 2 * math.pi
    bands = 1 + R.uniform(0.05, 0.09) * np.sin(ph1 + 2.0 * np.sin(yy / R.uniform(250, 500)))
    bands *= 1 + 0.04 * np.sin((xx * math.cos(a1 + 1.2) + yy * math.sin(a1 + 1.2)) / (per * 1.7) * 2 * math.pi)
    img = img * bands[:, :, None]
    # bluish tint
    img = img * np.array([0.9, 0.97, 1.08], np.float32) + np.array([0, 4, 12], np.float32)
    # glare blob
    gx, gy = R.uniform(0.2, 0.8) * W, R.uniform(0.15, 0.85) * H
    gr = R.uniform(0.12, 0.25) * min(H, W)
    glare = np.exp(-(((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * gr ** 2)))
    img = img + (255 - img) * (R.uniform(0.18, 0.3) * glare)[:, :, None]
    img = finish(img, R, N, R.uniform(0.6, 0.9), 3.0)
    return img, f'photo of a monitor showing the report (pixel grid, moire, bluish, glare), rotation {ang:.1f}°'


# ----------------------------------------------------------------------------------------------------------
# planning
# ----------------------------------------------------------------------------------------------------------
def plan_artifacts(n, R):
    idx = list(range(n))
    R.shuffle(idx)
    screen = set(idx[:max(1, round(n * 4 / 30))])
    rest = [i for i in idx if i not in screen]
    two = set(rest[:min(3, max(1, round(n * 3 / 30)))])
    plan = {i: dict(screen=i in screen, two=i in two) for i in range(n)}
    phys = [i for i in range(n) if i not in screen]

    def pick(frac, pool, key, val=True):
        k = max(1, round(len(pool) * frac))
        for i in R.sample(pool, min(k, len(pool))):
            plan[i][key] = val
    pick(0.5, phys, 'seal')
    pick(0.5, [i for i in screen], 'eseal')
    pick(0.45, phys, 'hand')
    pick(0.25, phys, 'highlight')
    pick(0.35, phys, 'fold')
    pick(0.25, phys, 'staple')
    pick(0.18, phys, 'corner')
    pick(0.18, phys, 'finger')
    # every physical sheet gets at least one of the emphasis effects
    for i in phys:
        if not any(plan[i].get(k) for k in ('seal', 'hand', 'highlight', 'fold', 'staple', 'corner', 'finger', 'two')):
            plan[i][R.choice(['seal', 'hand', 'highlight', 'fold'])] = True
    return plan


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('-n', type=int, default=30)
    args = ap.parse_args()
    t0 = time.time()
    os.makedirs(os.path.join(args.out, 'images'), exist_ok=True)
    os.makedirs(os.path.join(args.out, 'transcripts'), exist_ok=True)
    PR = random.Random(args.seed)
    types = [TYPE_PLAN[i % len(TYPE_PLAN)] for i in range(args.n)]
    PR.shuffle(types)
    plan = plan_artifacts(args.n, PR)
    # one tumour-marker sheet is a PSA panel
    tum = [i for i, t in enumerate(types) if t == '肿瘤标志物']
    if tum:
        plan[tum[0]]['psa'] = True
    # print technology plan: about 6 thermal, 7 ink-jet, the rest laser (screen sheets are electronic)
    nonscreen = [i for i in range(args.n) if not plan[i]['screen']]
    kinds = (['thermal'] * round(len(nonscreen) * 6 / 26) + ['inkjet'] * round(len(nonscreen) * 7 / 26))
    kinds += ['laser'] * (len(nonscreen) - len(kinds))
    PR.shuffle(kinds)
    prints = dict(zip(nonscreen, kinds))
    csv_rows = []
    for i in range(args.n):
        sid = f'BC{i + 1:03d}'
        R = random.Random(args.seed * 100003 + i * 7919)
        N = np.random.default_rng([args.seed, i])
        art = plan[i]
        spec = make_spec(sid, types[i], R, art, forced_print=prints.get(i, 'laser'))
        if art['screen'] and spec['print'] == 'thermal':
            spec['print'] = 'laser'   # electronic report shown on a monitor
            if spec['paper'] == 'strip':
                spec['paper'] = 'A4'
        page_l, geom = render_page(spec, R)
        kind = 'laser' if art['screen'] else spec['print']
        rgb, cov = print_sim(page_l, kind, N, R)
        H, W = rgb.shape[:2]
        alpha = np.ones((H, W), np.float32)
        arts = []
        folds = []
        if art.get('highlight'):
            rgb, d = apply_highlighter(rgb, geom, R, N)
            arts.append(f'yellow/green highlighter over {d}')
        if art.get('seal') or art.get('eseal'):
            where = R.choice(['footer', 'table', 'footer'])
            rgb, sb = apply_seal(rgb, geom, spec['hospital'], where, R, N, electronic=art.get('eseal', False))
            arts.append(('electronic red seal' if art.get('eseal') else 'red stamped seal') +
                        (' partly over the footer' if where == 'footer' else ' partly over the lower table'))
        if art.get('hand'):
            rgb, did = apply_handwriting(rgb, cov, geom, R, N, R.randint(2, 4))
            if did:
                arts.append('ballpoint: ' + '; '.join(dict.fromkeys(did)))
        if art.get('staple'):
            rgb, alpha, d = apply_staple_hole(rgb, alpha, cov, geom, R.choice(['staple', 'hole']), R, N)
            if d:
                arts.append(d)
        if art.get('corner'):
            rgb, alpha, d = apply_corner(rgb, alpha, cov, geom, R, N)
            if d:
                arts.append(d)
        if art.get('fold'):
            if H > W * 1.2 and R.random() < 0.6:
                folds = [('h', H / 3 + R.uniform(-20, 20)), ('h', 2 * H / 3 + R.uniform(-20, 20))]
                arts.append('folded in three (two horizontal creases)')
            else:
                folds = [('h', H / 2 + R.uniform(-20, 20)), ('v', W / 2 + R.uniform(-20, 20))]
                arts.append('folded in four (horizontal + vertical crease)')
        rgb = np.clip(rgb, 0, 255)
        # captures
        caps = []
        if art['screen']:
            caps = ['screen']
        elif art['two']:
            caps = ['phone']
        else:
            caps = PR.choices([['scan', 'phone'], ['phone'], ['scan']], [4, 5, 1.5])[0]
            if art.get('finger') and 'phone' not in caps:
                caps.append('phone')
        files, cap_desc = [], []
        for cap in caps:
            fname = f'{sid}__{cap}.jpg'
            if cap == 'scan':
                img, d = capture_scan(rgb, alpha, folds, R, N)
                q = R.randint(82, 92)
            elif cap == 'phone':
                other = None
                if art['two']:
                    ot = R.choice([t for t in sorted(set(TYPE_PLAN)) if t != spec['rtype']])
                    R2 = random.Random(args.seed * 7 + i)
                    ospec = make_spec(sid + 'x', ot, R2, {'hospital': spec['hospital'] if R2.random() < 0.5 else None},
                                      forced_print='laser')
                    if ospec['paper'] == 'A4' and spec['paper'] != 'A4':
                        ospec['paper'] = 'A5P'
                    ol, og = render_page(ospec, R2)
                    orgb, _ = print_sim(ol, 'laser', N, R2)
                    other = (orgb, np.ones(orgb.shape[:2], np.float32))
                img, d, q = capture_phone(rgb, alpha, cov, geom, folds, R, N, other=other,
                                          finger=art.get('finger', False))
            else:
                img, d = capture_screen(rgb, R, N)
                q = R.randint(78, 90)
            cv2.imwrite(os.path.join(args.out, 'images', fname), img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
            files.append(fname)
            cap_desc.append(f'{cap}: {d}, JPEG q{q}, {img.shape[1]}x{img.shape[0]}')
            csv_rows.append((fname, sid, spec['rtype']))
        # transcript
        L = spec['layout']
        items = []
        ginfo = {(g['block'], g['row']) for g in geom['rows']}
        per = math.ceil(len(spec['rows']) / L['blocks'])
        for j, r in enumerate(spec['rows']):
            b, rr = j // per + 1, j % per + 1
            assert (b, rr) in ginfo
            code_printed = r['code'] if L['code_mode'] != 'none' else ''
            items.append(dict(block=b, row=rr, name_printed=r['name'], code_printed=code_printed, value=r['value'],
                              flag_printed=r['mark'], range_printed=r['range'],
                              unit_printed=r['unit'] if any(c == 'unit' for c in L['tail']) else '',
                              uncertain=[]))
        lay = [f"{L['blocks']} block(s)" + (' side by side' if L['blocks'] > 1 else ''),
               'row numbers' if L['has_no'] else 'no row numbers',
               {'col_before': 'code column before name', 'col_after': 'code column after name',
                'paren': 'code glued to name in parentheses', 'prefix': 'code printed before name',
                'none': 'no codes'}[L['code_mode']],
               {'col': f'separate flag column ({"/".join(L["marks"])})',
                'glued': f'flag glued to value ({"/".join(L["marks"])})',
                'glued_space': f'flag after value with a space ({"/".join(L["marks"])})',
                'none': 'this sheet style prints no abnormal marks at all'}[L['flag_mode']],
               f"rules: {L['rules']}", f"paper {spec['paper']}"]
        if L['extra'] == 'method':
            lay.append('method column')
        if L['extra'] == 'last':
            lay.append('previous-result column (not transcribed as value)')
        notes = ('layout: ' + ', '.join(lay) + f"; print: {spec['print'] if not art['screen'] else 'electronic PDF'}"
                 + '; between lab and phone: ' + ('; '.join(arts) if arts else 'none')
                 + '; handwriting and seals are not transcribed; captures: ' + ' | '.join(cap_desc))
        tr = dict(sheet=sid, files=files, report_type=spec['rtype'], transcriber='blind-generator',
                  patient=dict(sex=spec['patient']['sex'], age=spec['patient']['age']), items=items,
                  rows_not_legible=[], notes=notes)
        with open(os.path.join(args.out, 'transcripts', f'{sid}.json'), 'w', encoding='utf-8') as f:
            json.dump(tr, f, ensure_ascii=False, indent=1)
    with open(os.path.join(args.out, 'images.csv'), 'w', newline='', encoding='utf-8') as f:
        w = csv.writer(f)
        w.writerow(['file', 'sheet', 'report_type'])
        w.writerows(csv_rows)
    print(f'{args.n} sheets, {len(csv_rows)} images in {time.time() - t0:.1f}s -> {args.out}')


if __name__ == '__main__':
    main()
