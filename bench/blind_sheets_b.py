#!/usr/bin/env python3
"""Blind test-set generator "B": synthetic Chinese lab-report sheets with exact transcripts.

Renders images of lab-report printouts in the style of county hospitals, community clinics,
township health centres and private labs (plus a few Taiwan / Hong Kong sheets in traditional
characters): dot-matrix and thermal prints, narrow thermal strips, A5 half pages, small fonts,
English codes beside or instead of Chinese names, bilingual headers, flags as arrows, H/L,
偏高/偏低 in their own column or glued to the value, and some laser / ink-jet A4 pages.
Each sheet is captured as a flat scan and/or a phone photo, and a JSON transcript lists every
printed result row exactly as printed.

This script was written from general knowledge of what Chinese LIS printouts look like,
WITHOUT looking at the OCR system's code, its knowledge base, its benchmarks or any real sheet
in the repository.

Usage:  python blind_sheets_b.py --out DIR [--seed 7] [-n 30]
Writes  DIR/images/<SHEET>__<capture>.jpg, DIR/images.csv, DIR/transcripts/<SHEET>.json
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

# ----------------------------------------------------------------------------- fonts
NOTO_SANS = '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc'
NOTO_SANS_B = '/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc'
NOTO_SERIF = '/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc'
UMING = '/usr/share/fonts/truetype/arphic/uming.ttc'
ZENHEI = '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc'
MICROHEI = '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc'

# (file, index) per family and script
FONTS = {
    'sans': {'sc': (NOTO_SANS, 2), 'tw': (NOTO_SANS, 3), 'hk': (NOTO_SANS, 4)},
    'sansb': {'sc': (NOTO_SANS_B, 2), 'tw': (NOTO_SANS_B, 3), 'hk': (NOTO_SANS_B, 4)},
    'serif': {'sc': (NOTO_SERIF, 2), 'tw': (NOTO_SERIF, 3), 'hk': (NOTO_SERIF, 4)},
    'ming': {'sc': (UMING, 0), 'tw': (UMING, 2), 'hk': (UMING, 1)},
    'zenhei': {'sc': (ZENHEI, 0), 'tw': (ZENHEI, 0), 'hk': (ZENHEI, 0)},
    'zenmono': {'sc': (ZENHEI, 1), 'tw': (ZENHEI, 1), 'hk': (ZENHEI, 1)},
    'micro': {'sc': (MICROHEI, 0), 'tw': (MICROHEI, 0), 'hk': (MICROHEI, 0)},
    'monosc': {'sc': (NOTO_SANS, 7), 'tw': (NOTO_SANS, 8), 'hk': (NOTO_SANS, 9)},
}
_FONT_CACHE = {}


def font(family, script, px):
    px = max(8, int(round(px)))
    key = (family, script, px)
    if key not in _FONT_CACHE:
        path, idx = FONTS[family][script]
        try:
            _FONT_CACHE[key] = ImageFont.truetype(path, px, index=idx)
        except OSError:
            _FONT_CACHE[key] = ImageFont.truetype(ZENHEI, px, index=0)
    return _FONT_CACHE[key]


# ----------------------------------------------------------------------------- catalogue
# test tuple: key, name(s) "a|b", code(s) "a|b", unit key, ranges (list of alternatives; each is
# (lo, hi) strings with None for open ends, or dict by sex), decimals, abnormal direction
def T(key, name, code, unit, ranges, dec, dirn='both', src=None, factor=1.0):
    return dict(key=key, name=name, code=code, unit=unit, ranges=ranges, dec=dec, dirn=dirn,
                src=src or key, factor=factor)


CBC5 = [
    T('WBC', '白细胞计数|白细胞', 'WBC', 'e9', [('3.5', '9.5'), ('4.0', '10.0')], 2),
    T('NEUT%', '中性粒细胞百分比|中性粒细胞比率', 'NEUT%|NEU%', '%', [('40.0', '75.0'), ('50.0', '70.0')], 1),
    T('LYMPH%', '淋巴细胞百分比|淋巴细胞比率', 'LYMPH%|LYM%', '%', [('20.0', '50.0'), ('20.0', '40.0')], 1),
    T('MONO%', '单核细胞百分比|单核细胞比率', 'MONO%|MON%', '%', [('3.0', '10.0'), ('3.0', '8.0')], 1),
    T('EO%', '嗜酸性粒细胞百分比|嗜酸性粒细胞比率', 'EO%|EOS%', '%', [('0.4', '8.0'), ('0.5', '5.0')], 1),
    T('BASO%', '嗜碱性粒细胞百分比|嗜碱性粒细胞比率', 'BASO%|BAS%', '%', [('0.0', '1.0'), ('0.0', '1.0')], 1),
    T('NEUT#', '中性粒细胞绝对值|中性粒细胞数', 'NEUT#|NEU#', 'e9', [('1.80', '6.30'), ('2.00', '7.00')], 2),
    T('LYMPH#', '淋巴细胞绝对值|淋巴细胞数', 'LYMPH#|LYM#', 'e9', [('1.10', '3.20'), ('0.80', '4.00')], 2),
    T('MONO#', '单核细胞绝对值|单核细胞数', 'MONO#|MON#', 'e9', [('0.10', '0.60'), ('0.12', '0.80')], 2),
    T('EO#', '嗜酸性粒细胞绝对值|嗜酸性粒细胞数', 'EO#|EOS#', 'e9', [('0.02', '0.52'), ('0.05', '0.50')], 2),
    T('BASO#', '嗜碱性粒细胞绝对值|嗜碱性粒细胞数', 'BASO#|BAS#', 'e9', [('0.00', '0.06'), ('0.00', '0.10')], 2),
    T('RBC', '红细胞计数|红细胞', 'RBC', 'e12', [{'男': ('4.30', '5.80'), '女': ('3.80', '5.10')},
                                              {'男': ('4.00', '5.50'), '女': ('3.50', '5.00')}], 2),
    T('HGB', '血红蛋白|血红蛋白浓度', 'HGB|Hb', 'g/L', [{'男': ('130', '175'), '女': ('115', '150')},
                                                {'男': ('120', '160'), '女': ('110', '150')}], 0),
    T('HCT', '红细胞压积|红细胞比积', 'HCT', '%', [{'男': ('40.0', '50.0'), '女': ('35.0', '45.0')},
                                             {'男': ('40.0', '50.0'), '女': ('37.0', '48.0')}], 1),
    T('MCV', '平均红细胞体积', 'MCV', 'fL', [('82.0', '100.0'), ('80.0', '100.0')], 1),
    T('MCH', '平均红细胞血红蛋白含量|平均血红蛋白量', 'MCH', 'pg', [('27.0', '34.0'), ('27.0', '31.0')], 1),
    T('MCHC', '平均红细胞血红蛋白浓度|平均血红蛋白浓度', 'MCHC', 'g/L', [('316', '354'), ('320', '360')], 0),
    T('RDW-CV', '红细胞分布宽度-CV|红细胞分布宽度CV', 'RDW-CV|RDW', '%', [('11.0', '16.0'), ('11.5', '14.5')], 1),
    T('RDW-SD', '红细胞分布宽度-SD|红细胞分布宽度SD', 'RDW-SD', 'fL', [('35.0', '56.0'), ('39.0', '46.0')], 1),
    T('PLT', '血小板计数|血小板', 'PLT', 'e9', [('125', '350'), ('100', '300')], 0),
    T('MPV', '平均血小板体积', 'MPV', 'fL', [('6.5', '12.0'), ('7.4', '12.5')], 1),
    T('PDW', '血小板分布宽度', 'PDW', 'fL', [('9.0', '17.0'), ('9.0', '17.0')], 1),
    T('PCT', '血小板压积|血小板比积', 'PCT', '%', [('0.108', '0.282'), ('0.110', '0.280')], 3),
    T('P-LCR', '大型血小板比率|大血小板比率', 'P-LCR', '%', [('13.0', '43.0'), ('11.0', '45.0')], 1),
]
CBC3 = [
    T('WBC', '白细胞计数|白细胞', 'WBC', 'e9', [('4.0', '10.0'), ('3.5', '9.5')], 1),
    T('LYM%', '淋巴细胞百分比', 'LYM%', '%', [('20.0', '40.0')], 1),
    T('MID%', '中间细胞百分比', 'MID%|Mid%', '%', [('3.0', '15.0')], 1),
    T('GRAN%', '中性粒细胞百分比|粒细胞百分比', 'GRAN%|GRA%', '%', [('50.0', '70.0')], 1),
    T('LYM#', '淋巴细胞数目', 'LYM#', 'e9', [('0.8', '4.0')], 1),
    T('MID#', '中间细胞数目', 'MID#|Mid#', 'e9', [('0.1', '1.5')], 1),
    T('GRAN#', '中性粒细胞数目|粒细胞数目', 'GRAN#|GRA#', 'e9', [('2.0', '7.0')], 1),
    T('RBC', '红细胞计数|红细胞', 'RBC', 'e12', [{'男': ('4.00', '5.50'), '女': ('3.50', '5.00')}], 2),
    T('HGB', '血红蛋白', 'HGB', 'g/L', [{'男': ('120', '160'), '女': ('110', '150')}], 0),
    T('HCT', '红细胞压积', 'HCT', '%', [{'男': ('40.0', '54.0'), '女': ('37.0', '47.0')}], 1),
    T('MCV', '平均红细胞体积', 'MCV', 'fL', [('80.0', '100.0')], 1),
    T('MCH', '平均血红蛋白含量', 'MCH', 'pg', [('27.0', '34.0')], 1),
    T('MCHC', '平均血红蛋白浓度', 'MCHC', 'g/L', [('320', '360')], 0),
    T('RDW-CV', '红细胞分布宽度CV', 'RDW-CV', '%', [('11.0', '16.0')], 1),
    T('RDW-SD', '红细胞分布宽度SD', 'RDW-SD', 'fL', [('35.0', '56.0')], 1),
    T('PLT', '血小板计数|血小板', 'PLT', 'e9', [('100', '300')], 0),
    T('MPV', '平均血小板体积', 'MPV', 'fL', [('6.5', '12.0')], 1),
    T('PDW', '血小板分布宽度', 'PDW', 'fL', [('9.0', '17.0')], 1),
    T('PCT', '血小板压积', 'PCT', '%', [('0.108', '0.282')], 3),
]
CBC_TW = [
    T('WBC', '白血球', 'WBC', 'k/uL', [('4.0', '10.0')], 1),
    T('RBC', '紅血球', 'RBC', 'M/uL', [{'男': ('4.50', '5.90'), '女': ('4.00', '5.20')}], 2),
    T('HGB', '血色素', 'Hb', 'g/dL', [{'男': ('13.5', '17.5'), '女': ('12.0', '16.0')}], 1, factor=0.1),
    T('HCT', '血球容積比', 'Hct', '%', [{'男': ('41.0', '53.0'), '女': ('36.0', '46.0')}], 1),
    T('MCV', '平均紅血球容積', 'MCV', 'fL', [('80.0', '100.0')], 1),
    T('MCH', '平均紅血球血色素', 'MCH', 'pg', [('26.0', '34.0')], 1),
    T('MCHC', '平均紅血球血色素濃度', 'MCHC', 'g/dL', [('31.0', '37.0')], 1, factor=0.1),
    T('RDW-CV', '紅血球分佈寬度', 'RDW-CV', '%', [('11.5', '14.5')], 1),
    T('PLT', '血小板', 'PLT', 'k/uL', [('150', '400')], 0),
    T('MPV', '平均血小板容積', 'MPV', 'fL', [('7.0', '11.0')], 1),
    T('NEUT%', '嗜中性球', 'Neut', '%', [('40.0', '75.0')], 1),
    T('LYMPH%', '淋巴球', 'Lym', '%', [('20.0', '45.0')], 1),
    T('MONO%', '單核球', 'Mono', '%', [('2.0', '10.0')], 1),
    T('EO%', '嗜酸性球', 'Eos', '%', [('0.0', '6.0')], 1),
    T('BASO%', '嗜鹼性球', 'Baso', '%', [('0.0', '2.0')], 1),
    T('NEUT#', '嗜中性球數', 'Neut#', 'k/uL', [('1.80', '7.70')], 2),
    T('LYMPH#', '淋巴球數', 'Lym#', 'k/uL', [('1.00', '4.80')], 2),
    T('MONO#', '單核球數', 'Mono#', 'k/uL', [('0.10', '0.90')], 2),
    T('EO#', '嗜酸性球數', 'Eos#', 'k/uL', [('0.00', '0.50')], 2),
]

BIO = {
    'ALT': T('ALT', '丙氨酸氨基转移酶|谷丙转氨酶', 'ALT', 'U/L', [('9', '50'), ('0', '40')], 0, 'hi'),
    'AST': T('AST', '天门冬氨酸氨基转移酶|谷草转氨酶', 'AST', 'U/L', [('15', '40'), ('0', '40')], 0, 'hi'),
    'TP': T('TP', '总蛋白', 'TP', 'g/L', [('65.0', '85.0'), ('60.0', '80.0')], 1),
    'ALB': T('ALB', '白蛋白', 'ALB', 'g/L', [('40.0', '55.0'), ('35.0', '55.0')], 1, 'lo'),
    'GLB': T('GLB', '球蛋白', 'GLB', 'g/L', [('20.0', '40.0'), ('20.0', '35.0')], 1),
    'A/G': T('A/G', '白球比|白蛋白/球蛋白', 'A/G', '', [('1.20', '2.40'), ('1.10', '2.50')], 2),
    'TBIL': T('TBIL', '总胆红素', 'TBIL', 'umol', [('0.0', '21.0'), ('3.4', '20.5')], 1, 'hi'),
    'DBIL': T('DBIL', '直接胆红素', 'DBIL', 'umol', [('0.0', '6.8'), ('0.0', '3.4')], 1, 'hi'),
    'IBIL': T('IBIL', '间接胆红素', 'IBIL', 'umol', [('1.7', '13.7'), ('0.0', '17.0')], 1, 'hi'),
    'ALP': T('ALP', '碱性磷酸酶', 'ALP', 'U/L', [('45', '125'), ('40', '150')], 0, 'hi'),
    'GGT': T('GGT', 'γ-谷氨酰转移酶|谷氨酰转肽酶', 'GGT', 'U/L', [('10', '60'), ('7', '45')], 0, 'hi'),
    'TBA': T('TBA', '总胆汁酸', 'TBA', 'umol', [(None, '10.0'), ('0.0', '10.0')], 1, 'hi'),
    'CHE': T('CHE', '胆碱酯酶', 'CHE', 'U/L', [('5000', '12000'), ('4000', '11000')], 0, 'lo'),
    'UREA': T('UREA', '尿素|尿素氮', 'UREA|BUN', 'mmol/L', [('2.80', '7.20'), ('3.10', '8.00')], 2),
    'CREA': T('CREA', '肌酐', 'CREA|Cr', 'umol', [{'男': ('57', '111'), '女': ('41', '81')},
                                              {'男': ('59', '104'), '女': ('45', '84')}], 0, 'hi'),
    'UA': T('UA', '尿酸', 'UA', 'umol', [{'男': ('208', '428'), '女': ('155', '357')},
                                        {'男': ('150', '420'), '女': ('90', '360')}], 0, 'hi'),
    'CYSC': T('CYSC', '胱抑素C', 'Cys-C|CysC', 'mg/L', [('0.59', '1.03'), ('0.51', '1.09')], 2, 'hi'),
    'GLU': T('GLU', '葡萄糖|空腹血糖', 'GLU', 'mmol/L', [('3.90', '6.10'), ('3.89', '6.11')], 2),
    'TC': T('TC', '总胆固醇', 'TC|CHOL', 'mmol/L', [(None, '5.20'), ('2.80', '5.20')], 2, 'hi'),
    'TG': T('TG', '甘油三酯', 'TG', 'mmol/L', [(None, '1.70'), ('0.56', '1.70')], 2, 'hi'),
    'HDL': T('HDL', '高密度脂蛋白胆固醇', 'HDL-C|HDL', 'mmol/L', [('1.04', None), ('0.90', '1.55')], 2, 'lo'),
    'LDL': T('LDL', '低密度脂蛋白胆固醇', 'LDL-C|LDL', 'mmol/L', [(None, '3.37'), ('0.00', '3.40')], 2, 'hi'),
    'APOA1': T('APOA1', '载脂蛋白A1', 'ApoA1|APOA1', 'g/L', [('1.00', '1.60'), ('1.20', '1.60')], 2),
    'APOB': T('APOB', '载脂蛋白B', 'ApoB|APOB', 'g/L', [('0.60', '1.10'), ('0.80', '1.05')], 2),
    'K': T('K', '钾', 'K', 'mmol/L', [('3.50', '5.30'), ('3.50', '5.50')], 2),
    'NA': T('NA', '钠', 'Na', 'mmol/L', [('137.0', '147.0'), ('135.0', '145.0')], 1),
    'CL': T('CL', '氯', 'Cl', 'mmol/L', [('99.0', '110.0'), ('96.0', '108.0')], 1),
    'CA': T('CA', '钙', 'Ca', 'mmol/L', [('2.11', '2.52'), ('2.10', '2.60')], 2),
    'P': T('P', '磷|无机磷', 'P|PHOS', 'mmol/L', [('0.85', '1.51'), ('0.81', '1.45')], 2),
    'MG': T('MG', '镁', 'Mg', 'mmol/L', [('0.75', '1.02'), ('0.70', '1.10')], 2),
    'CO2': T('CO2', '二氧化碳结合力|总二氧化碳', 'CO2|TCO2', 'mmol/L', [('22.0', '29.0'), ('20.0', '30.0')], 1),
    'CK': T('CK', '肌酸激酶', 'CK', 'U/L', [('50', '310'), ('40', '200')], 0, 'hi'),
    'CKMB': T('CKMB', '肌酸激酶同工酶', 'CK-MB', 'U/L', [('0.0', '24.0'), (None, '25.0')], 1, 'hi'),
    'LDH': T('LDH', '乳酸脱氢酶', 'LDH', 'U/L', [('120', '250'), ('109', '245')], 0, 'hi'),
    'HBDH': T('HBDH', 'α-羟丁酸脱氢酶', 'HBDH|α-HBDH', 'U/L', [('72', '182'), ('90', '220')], 0, 'hi'),
    'HBA1C': T('HBA1C', '糖化血红蛋白', 'HbA1c', '%', [('4.0', '6.0'), ('4.0', '6.5')], 1, 'hi'),
}
BIO_METHOD = {'ALT': '速率法', 'AST': '速率法', 'TP': '双缩脲法', 'ALB': '溴甲酚绿法', 'GLB': '计算',
              'A/G': '计算', 'TBIL': '钒酸盐氧化法', 'DBIL': '钒酸盐氧化法', 'IBIL': '计算', 'ALP': '速率法',
              'GGT': '速率法', 'TBA': '酶循环法', 'CHE': '速率法', 'UREA': '脲酶法', 'CREA': '肌氨酸氧化酶法',
              'UA': '尿酸酶法', 'CYSC': '免疫比浊法', 'GLU': '己糖激酶法', 'TC': '酶法', 'TG': '酶法',
              'HDL': '直接法', 'LDL': '直接法', 'APOA1': '免疫比浊法', 'APOB': '免疫比浊法', 'K': '离子选择电极法',
              'NA': '离子选择电极法', 'CL': '离子选择电极法', 'CA': '偶氮胂III法', 'P': '磷钼酸法', 'MG': '比色法',
              'CO2': '酶法', 'CK': '速率法', 'CKMB': '免疫抑制法', 'LDH': '速率法', 'HBDH': '速率法',
              'HBA1C': '高效液相色谱法'}
BIO_TW = [
    T('GLU', '飯前血糖', 'Glu-AC', 'mg/dL', [('70', '100')], 0, 'hi'),
    T('HBA1C', '糖化血色素', 'HbA1c', '%', [('4.0', '6.0')], 1, 'hi'),
    T('BUN', '尿素氮', 'BUN', 'mg/dL', [('7', '20')], 0),
    T('CREA', '肌酸酐', 'CRE', 'mg/dL', [{'男': ('0.70', '1.30'), '女': ('0.50', '1.10')}], 2, 'hi'),
    T('EGFR', '腎絲球過濾率', 'eGFR', 'mL/min/1.73m²', [('60.0', None)], 1, 'lo'),
    T('UA', '尿酸', 'UA', 'mg/dL', [{'男': ('3.5', '7.2'), '女': ('2.6', '6.0')}], 1, 'hi'),
    T('TC', '總膽固醇', 'T-CHO', 'mg/dL', [(None, '200')], 0, 'hi'),
    T('TG', '三酸甘油酯', 'TG', 'mg/dL', [(None, '150')], 0, 'hi'),
    T('HDL', '高密度脂蛋白膽固醇', 'HDL-C', 'mg/dL', [('40', None)], 0, 'lo'),
    T('LDL', '低密度脂蛋白膽固醇', 'LDL-C', 'mg/dL', [(None, '130')], 0, 'hi'),
    T('AST', '血清麩草酸轉氨基酶', 'GOT', 'U/L', [('0', '40')], 0, 'hi'),
    T('ALT', '血清麩丙酮酸轉氨基酶', 'GPT', 'U/L', [('0', '41')], 0, 'hi'),
    T('ALP', '鹼性磷酸酶', 'ALP', 'U/L', [('40', '129')], 0, 'hi'),
    T('TBIL', '總膽紅素', 'T-BIL', 'mg/dL', [('0.2', '1.2')], 1, 'hi'),
    T('ALB', '白蛋白', 'ALB', 'g/dL', [('3.5', '5.2')], 1, 'lo'),
    T('NA', '鈉', 'Na', 'mmol/L', [('136', '145')], 0),
    T('K', '鉀', 'K', 'mmol/L', [('3.5', '5.1')], 1),
]
TUMOR = {
    'AFP': T('AFP', '甲胎蛋白', 'AFP', 'ng/mL', [(None, '7.0'), ('0.0', '20.0')], 2, 'hi'),
    'CEA': T('CEA', '癌胚抗原', 'CEA', 'ng/mL', [(None, '5.0'), ('0.0', '5.0')], 2, 'hi'),
    'CA125': T('CA125', '糖类抗原125', 'CA125', 'U/mL', [(None, '35.0'), ('0.0', '35.0')], 2, 'hi'),
    'CA199': T('CA199', '糖类抗原19-9', 'CA19-9', 'U/mL', [(None, '37.0'), ('0.0', '27.0')], 2, 'hi'),
    'CA153': T('CA153', '糖类抗原15-3', 'CA15-3', 'U/mL', [(None, '25.0'), ('0.0', '31.3')], 2, 'hi'),
    'CA724': T('CA724', '糖类抗原72-4', 'CA72-4', 'U/mL', [(None, '6.9'), ('0.0', '6.9')], 2, 'hi'),
    'NSE': T('NSE', '神经元特异性烯醇化酶', 'NSE', 'ng/mL', [(None, '16.3'), ('0.0', '16.3')], 2, 'hi'),
    'CYFRA': T('CYFRA', '细胞角蛋白19片段', 'CYFRA21-1', 'ng/mL', [(None, '3.30'), ('0.00', '3.30')], 2, 'hi'),
    'SCC': T('SCC', '鳞状上皮细胞癌抗原', 'SCC', 'ng/mL', [(None, '1.5'), ('0.0', '1.5')], 2, 'hi'),
    'TPSA': T('TPSA', '总前列腺特异性抗原', 'tPSA|TPSA', 'ng/mL', [(None, '4.00'), ('0.00', '4.00')], 3, 'hi'),
    'FPSA': T('FPSA', '游离前列腺特异性抗原', 'fPSA|FPSA', 'ng/mL', [(None, '0.93'), ('0.00', '0.93')], 3, 'hi'),
    'FER': T('FER', '铁蛋白', 'FER|SF', 'ng/mL', [('23.9', '336.2'), ('30.0', '400.0')], 1, 'hi'),
}
TUMOR_HK = [
    T('AFP', '甲胎蛋白', 'AFP', 'ug/L', [(None, '7.0')], 1, 'hi'),
    T('CEA', '癌胚抗原', 'CEA', 'ug/L', [(None, '5.0')], 1, 'hi'),
    T('CA125', '癌抗原125', 'CA 125', 'U/mL', [(None, '35')], 0, 'hi'),
    T('CA199', '癌抗原19-9', 'CA 19-9', 'U/mL', [(None, '37')], 0, 'hi'),
    T('CA153', '癌抗原15-3', 'CA 15-3', 'U/mL', [(None, '25')], 0, 'hi'),
    T('TPSA', '前列腺特異抗原', 'PSA', 'ug/L', [(None, '4.00')], 2, 'hi'),
]
COAG = [
    T('PT', '凝血酶原时间', 'PT', 's', [('9.4', '12.5'), ('11.0', '14.5')], 1),
    T('INR', '国际标准化比值', 'INR', '', [('0.80', '1.20'), ('0.85', '1.15')], 2),
    T('PTA', '凝血酶原活动度', 'PT%|PTA', '%', [('70.0', '130.0'), ('80.0', '120.0')], 1),
    T('APTT', '活化部分凝血活酶时间', 'APTT', 's', [('25.1', '36.5'), ('28.0', '43.5')], 1),
    T('TT', '凝血酶时间', 'TT', 's', [('10.3', '16.6'), ('14.0', '21.0')], 1),
    T('FIB', '纤维蛋白原', 'FIB', 'g/L', [('2.00', '4.00'), ('2.38', '4.98')], 2),
    T('DD', 'D-二聚体', 'D-D|D-Dimer', 'mg/L FEU', [(None, '0.55'), ('0.00', '0.50')], 2, 'hi'),
]
THYROID = [
    T('FT3', '游离三碘甲状腺原氨酸', 'FT3', 'pmol/L', [('3.10', '6.80'), ('2.63', '5.70')], 2),
    T('FT4', '游离甲状腺素', 'FT4', 'pmol/L', [('12.00', '22.00'), ('9.01', '19.05')], 2),
    T('TSH', '促甲状腺激素', 'TSH', 'uIU/mL', [('0.270', '4.200'), ('0.350', '4.940')], 3),
    T('T3', '总三碘甲状腺原氨酸', 'T3|TT3', 'nmol/L', [('1.30', '3.10'), ('0.89', '2.44')], 2),
    T('T4', '总甲状腺素', 'T4|TT4', 'nmol/L', [('66.0', '181.0'), ('62.7', '150.8')], 1),
    T('TPOAB', '抗甲状腺过氧化物酶抗体', 'TPOAb|A-TPO', 'IU/mL', [(None, '34.0'), ('0.0', '34.0')], 1, 'hi'),
    T('TGAB', '抗甲状腺球蛋白抗体', 'TgAb|A-TG', 'IU/mL', [(None, '115.0'), ('0.0', '115.0')], 1, 'hi'),
]
SEROLOGY = [
    T('HBSAG', '乙肝表面抗原', 'HBsAg', 'IU/mL', [(None, '0.05')], 2, 'hi'),
    T('HBSAB', '乙肝表面抗体', 'HBsAb|Anti-HBs', 'mIU/mL', [(None, '10.00')], 2, 'hi'),
    T('HBEAG', '乙肝e抗原', 'HBeAg', 'S/CO', [(None, '1.00')], 2, 'hi'),
    T('HBEAB', '乙肝e抗体', 'HBeAb|Anti-HBe', 'S/CO', [('1.00', None)], 2, 'lo'),
    T('HBCAB', '乙肝核心抗体', 'HBcAb|Anti-HBc', 'S/CO', [(None, '1.00')], 2, 'hi'),
    T('HCV', '丙型肝炎病毒抗体', 'Anti-HCV|HCV-Ab', 'S/CO', [(None, '1.00')], 2, 'hi'),
    T('HIV', '人类免疫缺陷病毒抗原抗体', 'HIV Ag/Ab', 'S/CO', [(None, '1.00')], 2, 'hi'),
    T('TP', '梅毒螺旋体抗体', 'TP-Ab|Anti-TP', 'S/CO', [(None, '1.00')], 2, 'hi'),
]
CRP = [
    T('CRP', 'C反应蛋白|C-反应蛋白', 'CRP', 'mg/L', [('0.0', '10.0'), (None, '6.0')], 1, 'hi'),
    T('SAA', '血清淀粉样蛋白A', 'SAA', 'mg/L', [('0.0', '10.0'), (None, '10.0')], 1, 'hi'),
]

UNIT_VARIANTS = {
    'e9': ['10^9/L', '10*9/L', '×10^9/L', '×10⁹/L', '10E9/L', 'x10^9/L'],
    'e12': ['10^12/L', '10*12/L', '×10^12/L', '×10¹²/L', '10E12/L', 'x10^12/L'],
    'umol': ['umol/L', 'μmol/L'],
    'U/L': ['U/L', 'IU/L'],
    'ng/mL': ['ng/mL', 'ng/ml'],
    'fL': ['fL', 'fl'],
    'k/uL': ['10^3/uL'],
    'M/uL': ['10^6/uL'],
}

# ----------------------------------------------------------------------------- sheet plan
# flag: arrow_col, hl_col, cn_col, arrow_glued, hl_glued, none
# namestyle: code_col, suffix, prefix, name_only, code_only
PLAN = [
    dict(id='BB001', rt='血常规', panel='cbc5', paper='A4', prn='laser', script='sc', blocks=2, flag='arrow_col',
         names='code_col', grid='rules', site='county', caps=('scan', 'phone'), rowno=True),
    dict(id='BB002', rt='血常规', panel='cbc3', paper='S80', prn='thermal', script='sc', blocks=1, flag='hl_glued',
         names='code_only', grid='dashed', site='township', caps=('phone',), rowno=False),
    dict(id='BB003', rt='血常规', panel='cbc_tw', paper='A4', prn='laser', script='tw', blocks=1, flag='hl_col',
         names='code_col', grid='rules', site='tw', caps=('scan',), rowno=True, bi=True),
    dict(id='BB004', rt='尿常规', panel='urine_mic', paper='CF', prn='dot', script='sc', blocks=2, flag='arrow_glued',
         names='name_only', grid='rules', site='county', caps=('phone',), rowno=True),
    dict(id='BB005', rt='粪常规', panel='stool', paper='A5P', prn='laser', script='sc', blocks=1, flag='arrow_col',
         names='name_only', grid='none', site='community', caps=('scan', 'phone'), rowno=True),
    dict(id='BB006', rt='生化', panel='bio_full', paper='A4', prn='laser', script='sc', blocks=2, flag='hl_col',
         names='code_col', grid='rules', site='private', caps=('scan',), rowno=True, bi=True),
    dict(id='BB007', rt='肿瘤标志物', panel='tumor6', paper='A5L', prn='inkjet', script='sc', blocks=1,
         flag='arrow_glued', names='code_col', grid='grid', site='county', caps=('phone',), rowno=True),
    dict(id='BB008', rt='血常规', panel='cbc5', paper='CF', prn='dot', script='sc', blocks=2, flag='arrow_col',
         names='suffix', grid='rules', site='community', caps=('phone', 'scan'), rowno=False),
    dict(id='BB009', rt='尿常规', panel='urine_hk', paper='A4', prn='laser', script='hk', blocks=1, flag='hl_col',
         names='code_col', grid='rules', site='hk', caps=('phone',), rowno=False, bi=True),
    dict(id='BB010', rt='血常规', panel='cbc5s', paper='S80', prn='thermal', script='sc', blocks=1, flag='arrow_col',
         names='prefix', grid='dashed', site='township', caps=('scan',), rowno=False),
    dict(id='BB011', rt='生化', panel='bio_full2', paper='CFL', prn='dot', script='sc', blocks=2, flag='arrow_col',
         names='name_only', grid='rules', site='county', caps=('phone',), rowno=True),
    dict(id='BB012', rt='粪常规', panel='stool_s', paper='S58', prn='thermal', script='sc', blocks=1, flag='arrow_glued',
         names='name_only', grid='dashed', site='township', caps=('phone',), rowno=False),
    dict(id='BB013', rt='血常规', panel='cbc5', paper='A4L', prn='laser', script='sc', blocks=3, flag='hl_glued',
         names='code_col', grid='rules', site='county', caps=('scan',), rowno=True),
    dict(id='BB014', rt='生化', panel='bio_tw', paper='A4', prn='laser', script='tw', blocks=1, flag='hl_col',
         names='code_col', grid='grid', site='tw', caps=('phone',), rowno=False),
    dict(id='BB015', rt='尿常规', panel='urine_auto', paper='S80', prn='thermal', script='sc', blocks=1,
         flag='arrow_glued', names='prefix', grid='dashed', site='community', caps=('phone',), rowno=False),
    dict(id='BB016', rt='凝血四项', panel='coag', paper='A5L', prn='laser', script='sc', blocks=1, flag='arrow_col',
         names='code_col', grid='rules', site='county', caps=('scan',), rowno=True),
    dict(id='BB017', rt='血常规', panel='cbc5', paper='A4', prn='inkjet', script='sc', blocks=1, flag='cn_col',
         names='code_col', grid='rules', site='private', caps=('phone',), rowno=True, last=True),
    dict(id='BB018', rt='甲功', panel='thyroid', paper='A5P', prn='laser', script='sc', blocks=1, flag='hl_glued',
         names='suffix', grid='rules', site='county', caps=('phone', 'scan'), rowno=True, method=True),
    dict(id='BB019', rt='粪常规', panel='stool', paper='CF', prn='dot', script='sc', blocks=1, flag='arrow_col',
         names='name_only', grid='none', site='county', caps=('scan',), rowno=True),
    dict(id='BB020', rt='生化', panel='bio_liver_kidney', paper='CF', prn='dot', script='sc', blocks=2, flag='none',
         names='name_only', grid='rules', site='township', caps=('phone',), rowno=True),
    dict(id='BB021', rt='肿瘤标志物', panel='tumor_hk', paper='A4', prn='laser', script='hk', blocks=1, flag='hl_col',
         names='code_col', grid='rules', site='hk', caps=('scan',), rowno=False, bi=True),
    dict(id='BB022', rt='传染病', panel='serology', paper='A5L', prn='laser', script='sc', blocks=1, flag='arrow_col',
         names='code_col', grid='grid', site='county', caps=('phone',), rowno=True),
    dict(id='BB023', rt='血常规', panel='cbc5', paper='A5L', prn='inkjet', script='sc', blocks=2, flag='arrow_glued',
         names='prefix', grid='none', site='clinic', caps=('phone',), rowno=False),
    dict(id='BB024', rt='尿常规', panel='urine_full', paper='A4', prn='laser', script='sc', blocks=2, flag='arrow_col',
         names='code_col', grid='rules', site='county', caps=('scan', 'phone'), rowno=True, bi=True),
    dict(id='BB025', rt='生化', panel='bio_heart_lipid', paper='A4', prn='laser', script='sc', blocks=1, flag='hl_col',
         names='code_col', grid='none', site='private', caps=('phone',), rowno=True, method=True),
    dict(id='BB026', rt='粪常规', panel='stool', paper='A5L', prn='inkjet', script='sc', blocks=1, flag='cn_col',
         names='name_only', grid='grid', site='clinic', caps=('scan',), rowno=True),
    dict(id='BB027', rt='CRP', panel='crp', paper='S58', prn='thermal', script='sc', blocks=1, flag='hl_glued',
         names='code_only', grid='dashed', site='clinic', caps=('phone',), rowno=False, no_age=True),
    dict(id='BB028', rt='肿瘤标志物', panel='psa', paper='A5P', prn='laser', script='sc', blocks=1, flag='cn_col',
         names='code_col', grid='rules', site='private', caps=('phone',), rowno=True),
    dict(id='BB029', rt='尿常规', panel='urine_mic_hp', paper='CF', prn='dot', script='sc', blocks=1, flag='arrow_col',
         names='name_only', grid='rules', site='township', caps=('phone',), rowno=True),
    dict(id='BB030', rt='血型', panel='abo', paper='A5L', prn='laser', script='sc', blocks=1, flag='arrow_col',
         names='name_only', grid='rules', site='county', caps=('scan',), rowno=True),
]

PAPER_MM = {'A4': (210, 297), 'A4L': (297, 210), 'A5P': (148, 210), 'A5L': (210, 148),
            'CF': (241, 140), 'CFL': (241, 280), 'S80': (80, None), 'S58': (58, None)}

# ----------------------------------------------------------------------------- names, places
SURN = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐韩冯邓曹彭曾萧田董潘袁蔡蒋余杜叶程魏苏吕丁沈'
GIVEN = ['秀英', '建国', '丽', '志强', '桂兰', '海燕', '明', '玉梅', '小红', '俊杰', '子涵', '佳怡', '文', '军',
         '伟', '春花', '国庆', '淑珍', '德明', '晓燕', '红霞', '永强', '金凤', '家乐', '思雨', '秋菊', '宏伟', '玉兰']
SURN_TC = '陳林黃張李王吳劉蔡楊許鄭謝郭洪邱曾廖賴周'
GIVEN_TC = ['淑芬', '志明', '怡君', '家豪', '美玲', '俊宏', '雅婷', '冠宇', '秀蘭', '建華', '嘉欣', '偉強', '詠詩']
PLACES = ['青禾', '柳溪', '南岭', '石桥', '云川', '梅湾', '枫林', '白沙', '新垣', '东坪', '龙塘', '杏山', '清河',
          '安平', '桃源', '双河', '凤岗', '永丰', '平川', '兴隆']


def hospital_name(site, rng):
    p = rng.choice(PLACES)
    if site == 'county':
        return rng.choice([p + '县人民医院', p + '县中医院', p + '县第二人民医院', p + '县妇幼保健院']), None
    if site == 'community':
        return rng.choice([p + '街道社区卫生服务中心', p + '社区卫生服务站', p + '路社区卫生服务中心']), None
    if site == 'township':
        return rng.choice([p + '镇卫生院', p + '乡卫生院', p + '镇中心卫生院']), None
    if site == 'private':
        n = rng.choice(['康和', '瑞诚', '仁达', '华检', '安诺', '博睿'])
        return rng.choice([p + n + '医学检验所', n + '医学检验实验室', p + n + '临床检验中心']), \
            rng.choice(['%s Medical Laboratory' % {'康和': 'Kanghe', '瑞诚': 'Ruicheng', '仁达': 'Renda',
                                                    '华检': 'Huajian', '安诺': 'Annuo', '博睿': 'Borui'}[n]])
    if site == 'clinic':
        return rng.choice([p + '诊所', p + '村卫生室', p + '门诊部', p + '健民诊所']), None
    if site == 'tw':
        n = rng.choice(['仁愛', '博安', '宏恩', '德生', '惠民'])
        return rng.choice([n + '醫院', n + '聯合診所', n + '醫事檢驗所']), \
            {'仁愛': 'Jen-Ai', '博安': 'Po-An', '宏恩': 'Hung-En', '德生': 'Te-Sheng', '惠民': 'Hui-Min'}[n] + \
            rng.choice([' Hospital', ' Clinic', ' Medical Laboratory'])
    if site == 'hk':
        n = rng.choice(['維康', '恒安', '嘉和', '德信'])
        return n + '醫學化驗所', {'維康': 'Wellcare', '恒安': 'Hang On', '嘉和': 'Ka Wo', '德信': 'Tak Shun'}[n] + \
            ' Medical Laboratory'
    return p + '医院', None


def person(rng, script):
    if script == 'sc':
        return rng.choice(SURN) + rng.choice(GIVEN)
    return rng.choice(SURN_TC) + rng.choice(GIVEN_TC)


# ----------------------------------------------------------------------------- value generation
def pick_range(t, sh, sex):
    rs = t['ranges']
    r = rs[sh['rstd'] % len(rs)]
    if isinstance(r, dict):
        r = r[sex]
    return r


def fmt(v, dec):
    s = '%.*f' % (dec, v)
    if s.startswith('-'):
        s = '%.*f' % (dec, abs(v))
    return s


def flag_of(vstr, r):
    try:
        v = float(vstr)
    except ValueError:
        return None
    lo, hi = r
    if hi is not None and v > float(hi):
        return 'H'
    if lo is not None and v < float(lo):
        return 'L'
    return None


def gen_generic(t, r, rng, p_abn):
    lo, hi = r
    lo_f = float(lo) if lo is not None else None
    hi_f = float(hi) if hi is not None else None
    abn = rng.random() < p_abn
    dirn = t['dirn']
    if lo_f is None or (lo_f == 0 and dirn == 'hi'):        # "<x" style or 0-x
        if abn:
            return hi_f * rng.uniform(1.08, 3.5)
        return hi_f * (rng.uniform(0.05, 0.75) if t.get('tumor') else rng.uniform(0.3, 0.88))
    if hi_f is None:                                         # ">x"
        if abn:
            return lo_f * rng.uniform(0.55, 0.93)
        return lo_f * rng.uniform(1.08, 1.7)
    span = hi_f - lo_f
    if abn:
        d = dirn if dirn in ('hi', 'lo') else rng.choice(['hi', 'lo'])
        if d == 'hi':
            return hi_f + span * rng.uniform(0.05, 0.7)
        v = lo_f - span * rng.uniform(0.05, 0.35)
        if v > 0:
            return v
        return lo_f * rng.uniform(0.5, 0.9)
    return lo_f + span * (0.08 + 0.84 * rng.betavariate(2.2, 2.2))


def cbc_state(rng, sex):
    sc = rng.choice(['normal', 'normal', 'infection', 'anemia', 'viral', 'lowplt', 'mild'])
    g = {}
    wbc = {'infection': rng.gauss(12.8, 2.2), 'viral': rng.gauss(3.4, 0.4)}.get(sc, rng.gauss(6.4, 1.3))
    wbc = max(2.2, wbc)
    if sc == 'infection':
        pct = dict(NEUT=rng.gauss(82, 4), LYMPH=rng.gauss(11, 3), MONO=rng.gauss(5.5, 1.2),
                   EO=rng.gauss(0.8, 0.4), BASO=rng.gauss(0.3, 0.1))
    elif sc == 'viral':
        pct = dict(NEUT=rng.gauss(41, 5), LYMPH=rng.gauss(46, 5), MONO=rng.gauss(9.5, 1.5),
                   EO=rng.gauss(2.0, 1.0), BASO=rng.gauss(0.5, 0.2))
    else:
        pct = dict(NEUT=rng.gauss(59, 7), LYMPH=rng.gauss(31, 6), MONO=rng.gauss(6.5, 1.3),
                   EO=rng.gauss(2.6, 1.4), BASO=rng.gauss(0.4, 0.2))
    for k in pct:
        pct[k] = max(0.1, pct[k])
    s = sum(pct.values())
    for k in pct:
        pct[k] = pct[k] * 100.0 / s
    g['WBC'] = wbc
    for k, v in pct.items():
        g[k + '%'] = v
        g[k + '#'] = wbc * v / 100
    g['LYM%'] = pct['LYMPH']
    g['MID%'] = pct['MONO'] + pct['EO'] + pct['BASO']
    g['GRAN%'] = pct['NEUT']
    g['LYM#'], g['MID#'], g['GRAN#'] = g['LYMPH#'], g['MONO#'] + g['EO#'] + g['BASO#'], g['NEUT#']
    rbc = rng.gauss(4.95, 0.3) if sex == '男' else rng.gauss(4.4, 0.28)
    mcv, mch = rng.gauss(90, 3.5), rng.gauss(30.2, 1.2)
    rdw = rng.gauss(12.9, 0.6)
    if sc == 'anemia':
        rbc *= rng.uniform(0.82, 0.95)
        mcv, mch, rdw = rng.gauss(73, 4), rng.gauss(23.5, 1.5), rng.gauss(16.5, 1.2)
    g['RBC'] = rbc
    g['MCV'] = mcv
    g['HCT'] = rbc * mcv / 10
    g['HGB'] = rbc * mch
    g['MCH'] = mch
    g['MCHC'] = g['HGB'] / g['HCT'] * 100
    g['RDW-CV'] = rdw
    g['RDW-SD'] = rdw * mcv / 100 * 3.5 + rng.gauss(0, 1.0)
    plt_ = rng.gauss(72, 18) if sc == 'lowplt' else rng.gauss(228, 48)
    g['PLT'] = max(15, plt_)
    g['MPV'] = rng.gauss(10.1, 0.9)
    g['PDW'] = rng.gauss(12.6, 1.6)
    g['PCT'] = g['PLT'] * g['MPV'] / 10000
    g['P-LCR'] = rng.gauss(27, 5)
    return g


QUAL_STYLES = {
    'A': dict(neg='阴性', grades=['+-', '1+', '2+', '3+'], pos='阳性'),
    'B': dict(neg='-', grades=['±', '+', '++', '+++'], pos='+'),
    'C': dict(neg='阴性(-)', grades=['弱阳性(+-)', '阳性(1+)', '阳性(2+)', '阳性(3+)'], pos='阳性(+)'),
    'TC': dict(neg='陰性', grades=['+-', '1+', '2+', '3+'], pos='陽性'),
}


def urine_items(sh, rng, kind):
    """Return list of item dicts for urinalysis (dry chemistry + sediment)."""
    qs = QUAL_STYLES[sh['qstyle']]
    sc = rng.choice(['normal', 'normal', 'uti', 'nephritic', 'diabetic'])
    g = dict(LEU=0, NIT=0, PRO=0, GLU=0, KET=0, URO=0, BIL=0, BLD=0, VC=0)
    if sc == 'uti':
        g.update(LEU=rng.choice([2, 3]), NIT=rng.choice([0, 1]), BLD=rng.choice([0, 1]))
    elif sc == 'nephritic':
        g.update(PRO=rng.choice([1, 2]), BLD=rng.choice([2, 3]))
    elif sc == 'diabetic':
        g.update(GLU=rng.choice([2, 3, 4]), KET=rng.choice([0, 1, 2]))
    if sc == 'normal' and rng.random() < 0.4:
        g[rng.choice(['PRO', 'BLD', 'LEU', 'VC'])] = 1

    def q(k, posneg=False):
        gr = g[k]
        if gr == 0:
            return qs['neg'], None
        if posneg:
            return qs['pos'], 'H'
        return qs['grades'][gr - 1], 'H'
    tc = sh['script'] != 'sc'
    items = []

    def add(name, code, value, fk, rng_s, unit, qual=True):
        items.append(dict(name=name, code=code, value=value, fk=fk, range=rng_s, unit=unit, qual=qual))
    neg = qs['neg']
    color = rng.choice(['淡黄色', '黄色', '淡黄色']) if not tc else rng.choice(['淡黃色', '黃色'])
    clar = '清亮' if sc == 'normal' else rng.choice(['微浑', '清亮'])
    if tc:
        clar = '清澈' if sc == 'normal' else '微混濁'
    sg = rng.choice(['1.010', '1.015', '1.020', '1.025', '1.005', '1.030'])
    ph = rng.choice(['5.5', '6.0', '6.0', '6.5', '7.0', '5.0'])
    sep = sh['rsep']
    if tc:
        add('顏色', 'Colour', color, None, '', '')
        add('透明度', 'Clarity', clar, None, '', '')
        add('比重', 'SG', sg, None, '1.003%s1.030' % sep, '', False)
        add('酸鹼值', 'pH', ph, None, '5.0%s8.0' % sep, '', False)
        for nm, cd, k in [('蛋白質', 'PRO', 'PRO'), ('葡萄糖', 'GLU', 'GLU'), ('酮體', 'KET', 'KET'),
                          ('膽紅素', 'BIL', 'BIL'), ('尿膽素原', 'URO', 'URO'), ('亞硝酸鹽', 'NIT', 'NIT'),
                          ('潛血', 'BLD', 'BLD'), ('白血球酯酶', 'LEU', 'LEU')]:
            v, fk = q(k, posneg=(k == 'NIT'))
            add(nm, cd, v, fk, neg, '')
    else:
        cmap = {'颜色': 'COL', '透明度': 'CLA'}
        add('颜色', cmap['颜色'] if sh['urine_codes'] else '', color, None, '', '')
        add('透明度', cmap['透明度'] if sh['urine_codes'] else '', clar, None, '', '')
        add('比重', 'SG', sg, None, '1.003%s1.030' % sep, '', False)
        add('酸碱度', 'PH|pH', ph, None, '4.5%s8.0' % sep, '', False)
        for nm, cd, k in [('白细胞', 'LEU', 'LEU'), ('亚硝酸盐', 'NIT', 'NIT'), ('尿蛋白', 'PRO', 'PRO'),
                          ('葡萄糖', 'GLU', 'GLU'), ('酮体', 'KET', 'KET'), ('尿胆原', 'URO|UBG', 'URO'),
                          ('胆红素', 'BIL', 'BIL'), ('隐血', 'BLD|ERY', 'BLD'), ('维生素C', 'VC', 'VC')]:
            if k == 'VC' and rng.random() < 0.4:
                continue
            v, fk = q(k, posneg=(k == 'NIT'))
            nm2 = nm
            if k == 'LEU' and kind != 'dry':
                nm2 = '白细胞酯酶'
            add(nm2, cd, v, fk, neg, '')
    hp_sep = '~' if kind == 'mic_hp' else '-'
    if kind in ('mic', 'mic_hp', 'hk'):
        def cells(hi_, abn):
            if abn:
                opts = [(4, 6), (5, 8), (8, 10), (10, 15), (15, 20), (20, 30)]
                opts = [o for o in opts if o[0] > hi_]
                a, b = rng.choice(opts)
            else:
                a, b = rng.choice([(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)][: hi_])
            return '%d%s%d' % (a, hp_sep, b)
        rbc_abn = g['BLD'] >= 2
        wbc_abn = g['LEU'] >= 2
        rbc_v = cells(3, rbc_abn)
        wbc_v = cells(5, wbc_abn)
        hp = '/HP' if kind != 'hk' else '/HPF'
        if kind == 'mic_hp':
            rbc_v, wbc_v = rbc_v + '/HP', wbc_v + '/HP'
            unit, r3, r5 = '', '0~3/HP', '0~5/HP'
        else:
            unit, r3, r5 = hp, '0%s3' % hp_sep, '0%s5' % hp_sep
        if tc:
            add('紅血球', 'RBC', rbc_v, 'H' if rbc_abn else None, r3, unit)
            add('白血球', 'WBC', wbc_v, 'H' if wbc_abn else None, r5, unit)
            add('上皮細胞', 'Epi', rng.choice(['少量', '0-1']), None, '', unit)
            add('圓柱體', 'Cast', '未發現', None, '', '/LPF')
            add('結晶', 'Crystal', rng.choice(['未發現', '未發現', '草酸鈣']), None, '', '')
            add('細菌', 'Bact', '少量' if sc == 'uti' else '未發現', None, '', '')
        else:
            add('红细胞(镜检)' if kind == 'mic' else '红细胞', 'RBC', rbc_v, 'H' if rbc_abn else None, r3, unit)
            add('白细胞(镜检)' if kind == 'mic' else '白细胞', 'WBC', wbc_v, 'H' if wbc_abn else None, r5, unit)
            add('上皮细胞', 'EC', rng.choice(['少量', '未见', '偶见']), None, '', '')
            add('管型', 'CAST', '未见', None, '未见', '')
            add('结晶', 'XTAL', rng.choice(['未见', '未见', '尿酸盐结晶']), None, '', '')
            add('细菌', 'BACT', '少量' if sc == 'uti' else '未见', None, '', '')
    if kind in ('auto', 'full'):
        def num(lo, hi, abn, big=5.0):
            v = rng.uniform(hi * 1.3, hi * big) if abn else rng.uniform(lo, hi * 0.8)
            return '%.1f' % v
        rbc_abn = g['BLD'] >= 2
        wbc_abn = g['LEU'] >= 2
        bac_abn = sc == 'uti'
        u = sh['ul_unit']
        rows = [('红细胞', 'RBC', 0, 17, rbc_abn), ('白细胞', 'WBC', 0, 28, wbc_abn),
                ('上皮细胞', 'EC', 0, 28, False), ('管型', 'CAST', 0, 1.3, False),
                ('细菌', 'BACT', 0, 130, bac_abn), ('结晶', 'XTAL', 0, 10, False)]
        if kind == 'full':
            rows += [('病理管型', 'Path.CAST', 0, 0.5, False), ('酵母样菌', 'YLC', 0, 1, False),
                     ('小圆上皮细胞', 'SRC', 0, 3, False), ('粘液丝', 'MUCS', 0, 50, False)]
        for nm, cd, lo, hi, abn in rows:
            v = num(lo, hi, abn)
            hi_s = ('%g' % hi)
            fk = 'H' if float(v) > hi else None
            add(nm, cd, v, fk, '0%s%s' % (sep, hi_s), u, False)
    return items


def stool_items(sh, rng):
    qs = QUAL_STYLES[sh['qstyle']]
    sc = rng.choice(['normal', 'diarrhea', 'diarrhea', 'bleed'])
    items = []

    def add(name, code, value, fk, r, unit='', qual=True):
        items.append(dict(name=name, code=code, value=value, fk=fk, range=r, unit=unit, qual=qual))
    color = {'normal': rng.choice(['黄色', '黄褐色', '棕黄色']), 'diarrhea': rng.choice(['黄色', '黄绿色']),
             'bleed': rng.choice(['黑色', '褐色'])}[sc]
    shape = {'normal': rng.choice(['软', '成形', '软便']), 'diarrhea': rng.choice(['稀', '糊状', '水样']),
             'bleed': rng.choice(['糊状', '柏油样'])}[sc]
    hp = sh.get('hp_unit', '/HP')
    add('颜色', '', color, None, '' if not sh['stool_ref'] else '黄色')
    if sh['stool_ref'] and color != '黄色':
        items[-1]['range'] = ''
    add('性状', '', shape, None, '')
    wbc = '未见' if sc != 'diarrhea' else rng.choice(['3-5', '5-8', '10-15'])
    rbc = '未见' if sc == 'normal' else rng.choice(['未见', '0-2', '2-4'])
    add('红细胞', 'RBC', rbc, None if rbc == '未见' else 'H', '未见', hp if rbc != '未见' or sh['unit_all'] else '')
    add('白细胞', 'WBC', wbc, None if wbc == '未见' else 'H', '未见', hp if wbc != '未见' or sh['unit_all'] else '')
    if sh['full_stool']:
        add('吞噬细胞', '', '未见', None, '未见')
        add('脂肪球', '', rng.choice(['未见', '未见', '少量']), None, '')
    add('虫卵', '', rng.choice(['未见', '未找到']), None, '')
    if sh['full_stool']:
        add('真菌', '', '未见', None, '未见')
    ob = 'bleed' == sc or (sc == 'diarrhea' and rng.random() < 0.4)
    add('隐血试验' if rng.random() < 0.5 else '潜血', 'OB', qs['pos'] if ob else qs['neg'], 'H' if ob else None,
        qs['neg'])
    if sh['full_stool']:
        tf = ob and rng.random() < 0.7
        add('转铁蛋白', 'TF', qs['pos'] if tf else qs['neg'], 'H' if tf else None, qs['neg'])
    return items


def numeric_panel(tests, sh, rng, sex, p_abn, gen_state=None):
    items = []
    for t in tests:
        r = pick_range(t, sh, sex)
        if gen_state is not None and t['src'] in gen_state:
            v = gen_state[t['src']] * t['factor']
        else:
            v = gen_generic(t, r, rng, p_abn)
        items.append(dict(t=t, r=r, v=v))
    # coherent derived values
    byk = {it['t']['key']: it for it in items}
    if 'TBIL' in byk and 'DBIL' in byk and 'IBIL' in byk:
        byk['DBIL']['v'] = min(byk['DBIL']['v'], byk['TBIL']['v'] * 0.45)
        byk['IBIL']['v'] = byk['TBIL']['v'] - byk['DBIL']['v']
    if 'TP' in byk and 'ALB' in byk and 'GLB' in byk:
        byk['GLB']['v'] = byk['TP']['v'] - byk['ALB']['v']
        if 'A/G' in byk:
            byk['A/G']['v'] = byk['ALB']['v'] / max(byk['GLB']['v'], 5)
    if 'TPSA' in byk and 'FPSA' in byk:
        byk['FPSA']['v'] = byk['TPSA']['v'] * rng.uniform(0.12, 0.3)
    out = []
    for it in items:
        t = it['t']
        vs = fmt(it['v'], t['dec'])
        out.append(dict(name=t['name'], code=t['code'], value=vs, fk=flag_of(vs, it['r']), range=it['r'],
                        unit=t['unit'], qual=False, key=t['key']))
    return out


def panel_items(sh, rng, sex):
    p = sh['panel']
    if p in ('cbc5', 'cbc5s', 'cbc3', 'cbc_tw'):
        tests = {'cbc5': CBC5, 'cbc3': CBC3, 'cbc_tw': CBC_TW}.get(p)
        if p == 'cbc5s':
            keep = ['WBC', 'NEUT%', 'LYMPH%', 'MONO%', 'EO%', 'BASO%', 'NEUT#', 'LYMPH#', 'MONO#', 'EO#', 'BASO#',
                    'RBC', 'HGB', 'HCT', 'MCV', 'MCH', 'MCHC', 'RDW-CV', 'PLT', 'MPV', 'PCT']
            tests = [t for t in CBC5 if t['key'] in keep]
        elif p == 'cbc5':
            n = rng.choice([20, 22, 24, 24])
            drop = {20: ['RDW-SD', 'PDW', 'P-LCR', 'PCT'], 22: ['P-LCR', 'RDW-SD'], 24: []}[n]
            tests = [t for t in CBC5 if t['key'] not in drop]
        return numeric_panel(tests, sh, rng, sex, 0, cbc_state(rng, sex))
    if p.startswith('bio'):
        keys = {
            'bio_full': ['ALT', 'AST', 'TP', 'ALB', 'GLB', 'A/G', 'TBIL', 'DBIL', 'IBIL', 'ALP', 'GGT', 'TBA',
                         'UREA', 'CREA', 'UA', 'CYSC', 'GLU', 'TC', 'TG', 'HDL', 'LDL', 'K', 'NA', 'CL', 'CA',
                         'P', 'CO2', 'CK', 'LDH'],
            'bio_full2': ['ALT', 'AST', 'TP', 'ALB', 'GLB', 'A/G', 'TBIL', 'DBIL', 'IBIL', 'ALP', 'GGT', 'CHE',
                          'UREA', 'CREA', 'UA', 'GLU', 'TC', 'TG', 'HDL', 'LDL', 'APOA1', 'APOB', 'K', 'NA', 'CL',
                          'CA', 'MG', 'CK', 'CKMB', 'LDH', 'HBDH', 'HBA1C'],
            'bio_liver_kidney': ['ALT', 'AST', 'TP', 'ALB', 'GLB', 'A/G', 'TBIL', 'DBIL', 'IBIL', 'GGT', 'ALP',
                                 'UREA', 'CREA', 'UA', 'GLU', 'TG'],
            'bio_heart_lipid': ['CK', 'CKMB', 'LDH', 'HBDH', 'AST', 'K', 'NA', 'CL', 'CA', 'MG', 'P', 'CO2',
                                'TC', 'TG', 'HDL', 'LDL', 'APOA1', 'APOB', 'GLU', 'HBA1C', 'UREA', 'CREA', 'UA'],
        }.get(p)
        tests = BIO_TW if p == 'bio_tw' else [BIO[k] for k in keys]
        return numeric_panel(tests, sh, rng, sex, 0.16)
    if p in ('tumor6', 'tumor_hk', 'psa'):
        for t in list(TUMOR.values()) + TUMOR_HK:
            t['tumor'] = True
    if p == 'tumor6':
        ks = ['AFP', 'CEA', 'CA125', 'CA199', 'CA153', 'CA724', 'NSE', 'CYFRA', 'FER']
        if sex == '男':
            ks[4] = 'TPSA'
        return numeric_panel([TUMOR[k] for k in ks], sh, rng, sex, 0.14)
    if p == 'tumor_hk':
        ts = [t for t in TUMOR_HK if not (sex == '男' and t['key'] in ('CA125', 'CA153'))
              and not (sex == '女' and t['key'] == 'TPSA')]
        return numeric_panel(ts, sh, rng, sex, 0.2)
    if p == 'psa':
        its = numeric_panel([TUMOR['TPSA'], TUMOR['FPSA']], sh, rng, sex, 0.35)
        tp, fp = float(its[0]['value']), float(its[1]['value'])
        ratio = fp / tp if tp > 0 else 0.2
        vs = '%.2f' % ratio
        its.append(dict(name='游离PSA/总PSA比值', code='f/tPSA|F/T', value=vs, fk='L' if float(vs) < 0.25 else None,
                        range=('0.25', None), unit='', qual=False, key='FT'))
        return its
    if p == 'coag':
        keys = ['PT', 'INR', 'APTT', 'TT', 'FIB'] + (['PTA'] if rng.random() < 0.5 else []) + \
               (['DD'] if rng.random() < 0.5 else [])
        tests = [t for t in COAG if t['key'] in keys]
        return numeric_panel(tests, sh, rng, sex, 0.18)
    if p == 'thyroid':
        tests = THYROID[:5] + (THYROID[5:] if rng.random() < 0.6 else [])
        return numeric_panel(tests, sh, rng, sex, 0.18)
    if p == 'serology':
        its = numeric_panel(SEROLOGY, sh, rng, sex, 0.0)
        # realistic: HBsAb often positive after vaccination, HBeAb >1 = negative
        for it in its:
            v = float(it['value'])
            if it['key'] == 'HBSAB' and rng.random() < 0.7:
                it['value'] = '%.2f' % rng.uniform(25, 600)
            elif it['key'] == 'HBEAB':
                it['value'] = '%.2f' % rng.uniform(1.2, 2.2)
            elif it['key'] in ('HBSAG', 'HBEAG', 'HCV', 'HIV', 'TP'):
                it['value'] = '%.2f' % (v * rng.uniform(0.05, 0.6))
            it['fk'] = flag_of(it['value'], it['range'])
        return its
    if p == 'crp':
        return numeric_panel(CRP, sh, rng, sex, 0.5)
    if p == 'abo':
        abo = rng.choice(['A型', 'B型', 'O型', 'AB型', 'O型', 'A型'])
        return [dict(name='ABO血型', code='ABO', value=abo, fk=None, range='', unit='', qual=True),
                dict(name='Rh(D)血型', code='RhD', value=rng.choice(['阳性', '阳性(+)']), fk=None, range='',
                     unit='', qual=True),
                dict(name='不规则抗体筛查', code='', value=sh['qneg'], fk=None, range=sh['qneg'], unit='',
                     qual=True)]
    if p.startswith('urine'):
        kind = {'urine_mic': 'mic', 'urine_mic_hp': 'mic_hp', 'urine_auto': 'auto', 'urine_full': 'full',
                'urine_hk': 'hk'}[p]
        return urine_items(sh, rng, kind)
    if p.startswith('stool'):
        return stool_items(sh, rng)
    raise ValueError(p)


# ----------------------------------------------------------------------------- sheet style
HDR_SC = dict(no=['序号', 'No.', 'NO', '序'], name=['项目名称', '检验项目', '检测项目', '项目', '中文名称'],
              code=['代号', '英文缩写', '缩写', '代码', '英文名称'],
              value=['结果', '检验结果', '测定值', '结果值', '检测结果'], flag=['提示', '标志', '状态', '异常提示'],
              range=['参考范围', '参考值', '参考区间', '生物参考区间', '参考值范围'], unit=['单位', '单位', '计量单位'],
              method=['检测方法', '方法'], last=['上次结果', '历史结果'])
HDR_BI = dict(no=['No.'], name=['项目 Item', '检验项目 Test'], code=['代号 Code', '缩写 Abbr.'],
              value=['结果 Result'], flag=['提示 Flag', '标志 Flag'], range=['参考范围 Ref.Range', '参考值 Reference'],
              unit=['单位 Unit'], method=['方法 Method'], last=['上次 Last'])
HDR_TC = dict(no=['序號', 'No.'], name=['檢驗項目', '項目', '檢驗項目名稱'], code=['代碼', '英文名稱', '簡稱'],
              value=['結果', '檢驗結果', '結果值'], flag=['標記', '提示', '註記'],
              range=['參考值', '參考範圍', '參考區間'], unit=['單位'], method=['方法'], last=['前次結果'])
HDR_TC_BI = dict(no=['No.'], name=['檢驗項目 Test', '項目 Item'], code=['代碼 Code', 'Code'],
                 value=['結果 Result'], flag=['標記 Flag', 'Flag'], range=['參考值 Ref. Range', '參考範圍 Reference'],
                 unit=['單位 Unit'], method=['方法'], last=['前次'])

SPECIMEN = {'血常规': ['全血', '静脉血', 'EDTA抗凝血', '末梢血'], '生化': ['血清', '血清'], '尿常规': ['尿液', '中段尿', '随机尿'],
            '粪常规': ['粪便', '大便'], '肿瘤标志物': ['血清'], '凝血四项': ['血浆', '枸橼酸钠抗凝血'], '甲功': ['血清'],
            '传染病': ['血清'], 'CRP': ['全血', '末梢血'], '血型': ['EDTA抗凝血', '全血']}
SPECIMEN_TC = {'血常规': ['全血', 'EDTA全血'], '生化': ['血清'], '尿常规': ['尿液', '中段尿'], '肿瘤标志物': ['血清']}
DIAG = {'血常规': ['上呼吸道感染', '发热待查', '贫血', '健康查体', '咳嗽', '急性扁桃体炎', '支气管炎'],
        '生化': ['高血压', '2型糖尿病', '健康查体', '脂肪肝', '冠心病', '慢性肾病'], '尿常规': ['泌尿系感染', '体检', '腰痛待查', '糖尿病'],
        '粪常规': ['腹泻', '急性胃肠炎', '腹痛待查', '消化道出血?'], '肿瘤标志物': ['体检', '肺结节', '肝占位', '前列腺增生'],
        '凝血四项': ['术前检查', '房颤', '术前'], '甲功': ['甲状腺结节', '甲亢?', '甲减'], '传染病': ['术前检查', '孕检', '入院筛查'],
        'CRP': ['发热', '上感', '咳嗽'], '血型': ['孕检', '术前备血']}
DIAG_TC = {'血常规': ['健康檢查', '上呼吸道感染', '貧血'], '生化': ['高血壓', '糖尿病', '健康檢查'],
           '尿常规': ['泌尿道感染', '健康檢查'], '肿瘤标志物': ['健康檢查', '肝腫瘤追蹤']}
DEPT = ['内科', '外科', '儿科', '妇科', '门诊', '急诊', '体检中心', '普内科', '全科', '中医科', '感染科', '骨科']


def make_style(plan, rng, seed):
    sh = dict(plan)
    sh.setdefault('bi', False)
    sh.setdefault('last', False)
    sh.setdefault('method', False)
    sh.setdefault('no_age', False)
    sc = sh['script']
    sh['rstd'] = rng.randint(0, 1)
    sh['codev'] = rng.randint(0, 1)
    sh['namev'] = rng.randint(0, 1)
    prn = sh['prn']
    if prn == 'dot':
        sh['family'] = rng.choice(['zenmono', 'ming', 'zenhei'])
    elif prn == 'thermal':
        sh['family'] = rng.choice(['zenhei', 'monosc', 'zenmono'])
    elif sc != 'sc':
        sh['family'] = rng.choice(['ming', 'sans', 'serif'])
    else:
        sh['family'] = rng.choice(['ming', 'sans', 'serif', 'micro', 'ming'])
    sh['rsep'] = rng.choice(['--', '-', '~', '～', '-', '--']) if sc == 'sc' else rng.choice(['-', '~', ' - '])
    sh['lt_form'] = rng.choice(['<{hi}', '0{sep}{hi}', '≤{hi}', '<{hi}'])
    sh['gt_form'] = rng.choice(['>{lo}', '≥{lo}', '>{lo}'])
    sh['uv'] = rng.randint(0, 5)
    ft = font(sh['family'], sc, 40)
    if sh['uv'] == 3 and not (has_glyph(ft, '⁹') and has_glyph(ft, '¹')):
        sh['uv'] = 2
    sh['qstyle'] = 'TC' if sc != 'sc' else rng.choice(['A', 'A', 'B', 'C'])
    if sh['qstyle'] == 'B' and prn in ('dot', 'thermal'):
        sh['qstyle'] = 'A'
    if sh['panel'] in ('stool', 'stool_s', 'abo'):
        sh['qstyle'] = rng.choice(['A', 'A', 'C'])
    sh['qneg'] = QUAL_STYLES[sh['qstyle']]['neg']
    sh['urine_codes'] = rng.random() < 0.5
    sh['ul_unit'] = rng.choice(['/ul', '/uL', '/μL'])
    sh['stool_ref'] = rng.random() < 0.4
    sh['unit_all'] = rng.random() < 0.5
    sh['full_stool'] = sh['panel'] == 'stool' and rng.random() < 0.7
    sh['glue_sep'] = rng.choice(['', ' ']) if sh['flag'] in ('arrow_glued', 'hl_glued') else ''
    if sh['prn'] == 'thermal':
        sh['fs_mm'] = rng.uniform(2.7, 3.1)
    elif sh['prn'] == 'dot':
        sh['fs_mm'] = rng.uniform(3.0, 3.4)
    elif sh['paper'] in ('A5P', 'A5L'):
        sh['fs_mm'] = rng.uniform(2.6, 3.1)
    else:
        sh['fs_mm'] = rng.uniform(2.7, 3.4)
    sh['rowfac'] = rng.uniform(1.45, 1.9)
    if sc == 'sc':
        hw = HDR_BI if sh['bi'] else HDR_SC
    else:
        hw = HDR_TC_BI if sh['bi'] else HDR_TC
    sh['hdr'] = {k: rng.choice(v) for k, v in hw.items()}
    if sh['names'] == 'code_only':
        sh['hdr']['name'] = rng.choice(['项目', 'Item', '参数', 'Para.'])
    # column order
    cols = []
    if sh['rowno']:
        cols.append('no')
    if sh['names'] == 'code_col':
        cols += rng.choice([['name', 'code'], ['code', 'name']]) if sc == 'sc' else ['code', 'name']
    else:
        cols.append('name')
    valcols = ['value'] + (['flag'] if sh['flag'] in ('arrow_col', 'hl_col', 'cn_col') else [])
    tail = rng.choice([['unit', 'range'], ['range', 'unit'], ['range', 'unit']])
    if sh['prn'] == 'thermal' and sh['paper'] == 'S58':
        tail = ['unit', 'range'] if sh['panel'] == 'crp' else ['range']
    cols += valcols
    if sh['last']:
        cols.append('last')
    cols += tail
    if sh['method']:
        cols.append('method')
    sh['cols'] = cols
    sh['marks'] = {'arrow_col': ('↑', '↓'), 'arrow_glued': ('↑', '↓'), 'hl_col': ('H', 'L'), 'hl_glued': ('H', 'L'),
                   'cn_col': ('偏高', '偏低'), 'none': ('', '')}[sh['flag']]
    return sh


def has_glyph(f, ch):
    miss = f.getmask('\U000F0001')
    m = f.getmask(ch)
    return m.getbbox() is not None and (m.size != miss.size or bytes(m) != bytes(miss))


def unit_str(u, sh):
    if u in UNIT_VARIANTS:
        vs = UNIT_VARIANTS[u]
        return vs[sh['uv'] % len(vs)]
    return u


def range_str(r, sh):
    if isinstance(r, str):
        return r
    lo, hi = r
    sep = sh['rsep']
    if lo is None:
        return sh['lt_form'].format(hi=hi, sep=sep)
    if hi is None:
        return sh['gt_form'].format(lo=lo)
    return '%s%s%s' % (lo, sep, hi)


def alt(s, i):
    ps = s.split('|')
    return ps[i % len(ps)]


def finalize_items(raw, sh):
    """Apply sheet style: names, codes, units, ranges, mark strings."""
    out = []
    for it in raw:
        name = alt(it['name'], sh['namev'])
        code = alt(it['code'], sh['codev']) if it['code'] else ''
        r = it['range']
        rs = range_str(r, sh)
        fk = it['fk']
        # "0-x" printed for "<x": value below 0 impossible; ">=" printed: equality is normal
        if not isinstance(r, str) and fk is None and r[1] is None and sh['gt_form'].startswith('>') \
                and float(it['value']) == float(r[0]):
            fk = 'L'
        if not isinstance(r, str) and r[0] is None and sh['lt_form'].startswith('<') and fk is None \
                and float(it['value']) == float(r[1]):
            fk = 'H'
        mk = ''
        if fk == 'H':
            mk = sh['marks'][0]
        elif fk == 'L':
            mk = sh['marks'][1]
        out.append(dict(name=name, code=code, value=it['value'], mark=mk, range=rs, unit=unit_str(it['unit'], sh),
                        qual=it['qual'], key=it.get('key', name)))
    return out


# ----------------------------------------------------------------------------- page drawing
class Page:
    def __init__(self, w_mm, h_mm, s):
        self.s = s
        self.W = int(round(w_mm * s))
        self.H = int(round(h_mm * s))
        self.img = Image.new('L', (self.W, self.H), 255)
        self.d = ImageDraw.Draw(self.img)
        self.arrow_stroke = 0

    def text(self, x, y, t, f, anchor='lm', stroke=0):
        if t and self.arrow_stroke and ('↑' in t or '↓' in t):
            stroke = max(stroke, self.arrow_stroke)
        if t:
            self.d.text((x, y), t, font=f, fill=0, anchor=anchor, stroke_width=stroke, stroke_fill=0)

    def hline(self, x0, x1, y, w=1, dash=None):
        if dash:
            x = x0
            while x < x1:
                self.d.line([(x, y), (min(x1, x + dash), y)], fill=0, width=w)
                x += dash * 2
        else:
            self.d.line([(x0, y), (x1, y)], fill=0, width=w)

    def vline(self, x, y0, y1, w=1):
        self.d.line([(x, y0), (x, y1)], fill=0, width=w)


def cell_texts(it, idx, sh):
    names = sh['names']
    name, code = it['name'], it['code']
    tx = {}
    tx['no'] = str(idx)
    if names == 'code_col':
        tx['name'], tx['code'] = name, code
        pn, pc = name, code
    elif names == 'suffix':
        tx['name'] = '%s(%s)' % (name, code) if code else name
        pn, pc = name, code
    elif names == 'prefix':
        tx['name'] = (code, name)
        pn, pc = name, code
    elif names == 'code_only':
        tx['name'] = code or name
        pn, pc = code or name, ''
    else:
        tx['name'] = name
        pn, pc = name, ''
    v = it['value']
    if sh['flag'] in ('arrow_glued', 'hl_glued') and it['mark']:
        v = v + sh['glue_sep'] + it['mark']
    tx['value'] = v
    tx['flag'] = it['mark']
    tx['range'] = it['range']
    tx['unit'] = it['unit']
    tx['method'] = it.get('method', '')
    tx['last'] = it.get('last', '')
    return tx, pn, pc


def draw_sheet(sh, items, meta, rng_layout_seed):
    """Render the page. Returns (PIL 'L' image, fs_px, item placement list)."""
    w_mm, h_mm = PAPER_MM[sh['paper']]
    strip = h_mm is None
    s = {'thermal': 8.0, 'dot': 12.0}.get(sh['prn'], 8.0)
    fs_mm = sh['fs_mm']
    for attempt in range(12):
        rng = random.Random(rng_layout_seed)
        res = _draw_try(sh, items, meta, rng, s, w_mm, h_mm if not strip else 900, fs_mm, strip)
        if res is not None:
            return res + (s,)
        fs_mm *= 0.94
    raise RuntimeError('cannot fit sheet %s' % sh['id'])


def _draw_try(sh, items, meta, rng, s, w_mm, h_mm, fs_mm, strip):
    pg = Page(w_mm, h_mm, s)
    if sh['prn'] == 'dot':
        pg.arrow_stroke = 2
    sc = sh['script']
    fam = sh['family']
    fs = fs_mm * s
    f = font(fam, sc, fs)
    fb = font('sansb' if fam in ('sans', 'micro', 'zenhei') else fam, sc, fs)
    margin_l = (4.0 if strip else rng.uniform(9, 14) if sh['paper'] not in ('CF', 'CFL') else 17) * s
    margin_r = margin_l
    margin_t = (4.0 if strip else rng.uniform(8, 13)) * s
    x0, x1 = margin_l, pg.W - margin_r
    y = margin_t
    # ---------------- header
    hname, en = meta['hospital']
    hf = font('sansb' if fam != 'ming' and sh['prn'] == 'laser' else fam, sc,
              fs * (1.25 if strip else rng.uniform(1.5, 1.9)))
    hstroke = 0 if (fam in ('sans', 'micro') and sh['prn'] == 'laser') else (1 if not strip else 0)
    y += hf.size * 0.6
    pg.text(pg.W / 2, y, hname, hf, 'mm', stroke=hstroke)
    y += hf.size * 0.8
    if en:
        ef = font('sans', 'sc', fs * 0.9)
        y += ef.size * 0.3
        pg.text(pg.W / 2, y, en, ef, 'mm')
        y += ef.size * 0.9
    tf = font(fam, sc, fs * (1.1 if strip else rng.uniform(1.25, 1.5)))
    title = meta['title']
    y += tf.size * 0.6
    pg.text(pg.W / 2, y, title, tf, 'mm', stroke=1 if not strip and sh['prn'] != 'thermal' else 0)
    y += tf.size * 0.9
    if sh.get('barcode') and not strip:
        bx, by = x1 - 38 * s, margin_t
        xx = bx
        while xx < bx + 34 * s:
            wbar = rng.choice([1, 1, 2, 3]) * s * 0.25
            if rng.random() < 0.55:
                pg.d.rectangle([xx, by, xx + wbar, by + 7 * s], fill=0)
            xx += wbar + s * 0.25
        pg.text(bx + 17 * s, by + 9 * s, meta['barcode'], font('sans', 'sc', fs * 0.75), 'mm')
    # patient fields
    fields = meta['fields']
    colon = sh['colon']
    ff = font(fam, sc, fs)
    if strip:
        y += fs * 0.3
        for row in meta['strip_field_rows']:
            line = '  '.join('%s%s%s' % (l, colon, v) for l, v in row)
            pg.text(x0, y + fs * 0.6, line, ff)
            y += fs * 1.45
    else:
        ncol = sh['ncol']
        texts = ['%s%s%s' % (l, colon, v) for l, v in fields]
        while ncol > 2 and max(ff.getlength(t) for t in texts) + 3 * s > (x1 - x0) / ncol:
            ncol -= 1
        cw = (x1 - x0) / ncol
        if sh['hdr_rule_top']:
            pg.hline(x0, x1, y + fs * 0.2, w=max(1, int(s * 0.3)))
            y += fs * 0.5
        for i, t in enumerate(texts):
            c = i % ncol
            if c == 0:
                y += fs * 1.5
            pg.text(x0 + c * cw, y - fs * 0.6, t, ff)
        y += fs * 0.4
    # ---------------- table
    cols = sh['cols']
    nb = sh['blocks']
    gap = (6 if not strip else 0) * s
    bw = (x1 - x0 - gap * (nb - 1)) / nb
    per = int(math.ceil(len(items) / nb))
    blocks = [items[i * per:(i + 1) * per] for i in range(nb)]
    pad = fs * (0.7 if strip else 1.1)
    hdr = sh['hdr']
    fh = font(fam, sc, fs * (1.0 if not sh['bi'] else 0.9))
    # natural widths
    cell_rows = []
    placements = []
    for b, blk in enumerate(blocks):
        for r, it in enumerate(blk):
            tx, pn, pc = cell_texts(it, r + 1, sh)
            cell_rows.append((b, r, tx))
            placements.append(dict(block=b + 1, row=r + 1, name_printed=pn, code_printed=pc, item=it))
    codew = 0
    if sh['names'] == 'prefix':
        codew = max(f.getlength(tx['name'][0]) for _, _, tx in cell_rows) + fs * 0.8
    natw = {}
    for c in cols:
        w = fh.getlength(hdr[c]) if not sh.get('no_header') else 0
        for _, _, tx in cell_rows:
            t = tx[c]
            if isinstance(t, tuple):
                tw = codew + f.getlength(t[1])
            else:
                tw = f.getlength(t)
            w = max(w, tw)
        natw[c] = w + pad
    total = sum(natw.values())
    if total > bw:
        return None
    extra = bw - total
    weights = {c: (2.0 if c in ('name',) else 1.0) for c in cols}
    if strip:
        weights = {c: 1.0 for c in cols}
    ws = sum(weights.values())
    colw = {c: natw[c] + min(extra * weights[c] / ws, fs * 3.5 * weights[c]) for c in cols}
    if sh['compact'] and not strip:
        colw = {c: natw[c] + min(extra * weights[c] / ws, fs * 2.5) for c in cols}
    align = {c: 'l' for c in cols}
    if sh['valign'] == 'r':
        align['value'] = 'r'
    if sh['prn'] == 'thermal':
        align['value'] = 'r' if sh['valign'] == 'r' else 'l'
    align['flag'] = 'c'
    align['no'] = 'c' if sh['nocenter'] else 'l'
    rowh = fs * sh['rowfac']
    hdrh = fs * (1.8 if not sh['bi'] else 1.9)
    table_top = y + fs * 0.6
    lw = max(1, int(round(s * 0.25)))
    max_rows = max(len(bk) for bk in blocks)
    table_bot = table_top + hdrh + max_rows * rowh
    grid = sh['grid']
    for b in range(nb):
        bx = x0 + b * (bw + gap)
        xs = [bx]
        for c in cols:
            xs.append(xs[-1] + colw[c])
        yy = table_top
        # header
        if grid == 'dashed':
            pg.text(bx, yy, '-' * int(bw / f.getlength('-')), f, 'lm')
            yy += fs * 0.6
        elif grid in ('rules', 'grid'):
            pg.hline(bx, bx + bw, yy, w=lw * (2 if sh['thick_top'] else 1))
        for ci, c in enumerate(cols):
            cx = xs[ci] + pad / 2
            a = align[c]
            if a == 'c':
                pg.text((xs[ci] + xs[ci + 1]) / 2, yy + hdrh / 2, hdr[c], fh, 'mm')
            elif a == 'r' and c == 'value':
                pg.text(xs[ci + 1] - pad / 2, yy + hdrh / 2, hdr[c], fh, 'rm')
            else:
                pg.text(cx, yy + hdrh / 2, hdr[c], fh, 'lm')
        yy += hdrh
        if grid == 'dashed':
            pg.text(bx, yy, '-' * int(bw / f.getlength('-')), f, 'lm')
            yy += fs * 0.5
        elif grid != 'none':
            pg.hline(bx, bx + bw, yy, w=lw)
        elif sh['none_hdr_rule']:
            pg.hline(bx, bx + bw, yy, w=lw)
        for (bb, r, tx) in cell_rows:
            if bb != b:
                continue
            cy = yy + rowh * (r + 0.5)
            for ci, c in enumerate(cols):
                t = tx[c]
                a = align[c]
                if isinstance(t, tuple):
                    pg.text(xs[ci] + pad / 2, cy, t[0], f, 'lm')
                    pg.text(xs[ci] + pad / 2 + codew, cy, t[1], f, 'lm')
                elif a == 'c':
                    pg.text((xs[ci] + xs[ci + 1]) / 2, cy, t, f, 'mm')
                elif a == 'r':
                    pg.text(xs[ci + 1] - pad / 2, cy, t, f, 'rm')
                else:
                    pg.text(xs[ci] + pad / 2, cy, t, f, 'lm')
            if grid == 'grid':
                pg.hline(bx, bx + bw, yy + rowh * (r + 1), w=lw)
        nrow = len(blocks[b])
        yend = yy + rowh * max_rows
        if grid == 'grid':
            for xv in xs:
                pg.vline(xv, table_top, yy + rowh * nrow, w=lw)
        if grid == 'rules':
            pg.hline(bx, bx + bw, yend + fs * 0.2, w=lw)
        if grid == 'dashed':
            pg.text(bx, yend + fs * 0.3, '-' * int(bw / f.getlength('-')), f, 'lm')
        table_bot = max(table_bot, yend + fs * 0.5)
    y = table_bot + fs * 0.8
    # ---------------- footer
    foot = meta['footer']
    ff2 = font(fam, sc, fs * (0.95 if not strip else 1.0))
    if strip:
        for line in foot['lines_strip']:
            pg.text(x0, y + fs * 0.6, line, ff2)
            y += fs * 1.45
        y += fs * 2.0
        bottom = y
        if bottom > pg.H:
            return None
        img = pg.img.crop((0, 0, pg.W, int(bottom)))
        return img, fs, placements
    lines = foot['lines']
    need = len(lines) * fs * 1.5 + fs
    anchor_bottom = sh['foot_bottom']
    if anchor_bottom:
        fy = pg.H - margin_t - need
        if fy < y:
            return None
        y = fy
    if y + need > pg.H - margin_t * 0.6:
        return None
    if sh['foot_rule']:
        pg.hline(x0, x1, y, w=lw)
    y += fs * 0.4
    for line in lines:
        y += fs * 1.5
        if isinstance(line, list):
            cw = (x1 - x0) / len(line)
            for i, t in enumerate(line):
                pg.text(x0 + i * cw, y - fs * 0.6, t, ff2)
        else:
            pg.text(x0, y - fs * 0.6, line, ff2)
    if sh.get('pageno'):
        pg.text(pg.W / 2, pg.H - margin_t * 0.5, meta['pageno'], font(fam, sc, fs * 0.85), 'mm')
    if sh['paper'] in ('CF', 'CFL'):
        meta['tractor'] = True
    return pg.img, fs, placements


# ----------------------------------------------------------------------------- header/footer content
def make_meta(sh, rng, sex, age_s, rt):
    sc = sh['script']
    tc = sc != 'sc'
    hname, en = hospital_name(sh['site'], rng)
    if tc:
        title = rng.choice(['檢驗報告', '檢驗報告單', '檢驗結果報告'])
        if sh['bi']:
            title = title + ' Laboratory Report'
    else:
        base = rng.choice(['检验报告单', '检验报告', '临床检验报告单', '检验结果报告单', '化验单'])
        sub = {'血常规': '血常规', '尿常规': '尿常规', '粪常规': '粪便常规', '生化': '生化', '肿瘤标志物': '肿瘤标志物',
               '凝血四项': '凝血功能', '甲功': '甲状腺功能', '传染病': '传染病筛查', 'CRP': 'C反应蛋白', '血型': '血型鉴定'}[rt]
        if rng.random() < 0.5:
            title = sub + base if base not in ('化验单',) else sub + '化验单'
        else:
            title = base
        if sh['bi'] and rng.random() < 0.7:
            title = title + ' Laboratory Report'
        if sh['site'] == 'private' and not en and rng.random() < 0.5:
            en = 'Clinical Laboratory Report'
    name = person(rng, sc)
    pid = str(rng.randint(100000, 9999999))
    d0 = (2023 + rng.randint(0, 1), rng.randint(1, 12), rng.randint(1, 28))
    hh, mm = rng.randint(7, 11), rng.randint(0, 59)
    t_col = '%04d-%02d-%02d %02d:%02d' % (d0 + (hh, mm))
    mm2 = mm + rng.randint(30, 150)
    t_rep = '%04d-%02d-%02d %02d:%02d' % (d0 + (hh + mm2 // 60, mm2 % 60))
    if tc:
        L = dict(name='姓名', sex='性別', age='年齡', id=rng.choice(['病歷號', '病歷號碼']), dept='科別',
                 spec=rng.choice(['檢體', '檢體類別']), doc=rng.choice(['醫師', '送檢醫師']), diag='臨床診斷',
                 sno='檢體編號', time=rng.choice(['採檢時間', '收件時間']), bed='床號')
        if sh['bi']:
            L = dict(name='姓名 Name', sex='性別 Sex', age='年齡 Age', id='病歷號 MRN', dept='科別 Dept',
                     spec='檢體 Specimen', doc='醫師 Doctor', diag='診斷 Dx', sno='編號 Lab No.',
                     time='採檢 Collected', bed='床號 Bed')
        specimen = rng.choice(SPECIMEN_TC.get(rt, ['血清']))
        diag = rng.choice(DIAG_TC.get(rt, ['健康檢查']))
        dept = rng.choice(['內科', '家醫科', '門診', '健檢中心', '急診'])
        doc = person(rng, sc)
    else:
        L = dict(name=rng.choice(['姓名', '姓名', '病人姓名']), sex='性别', age='年龄',
                 id=rng.choice(['病历号', '门诊号', '住院号', 'ID号', '卡号']), dept=rng.choice(['科别', '科室', '申请科室']),
                 spec=rng.choice(['标本类型', '样本种类', '标本', '样本类型']), doc=rng.choice(['送检医生', '申请医生', '开单医生']),
                 diag=rng.choice(['临床诊断', '诊断']), sno=rng.choice(['样本号', '条码号', '标本号', '流水号']),
                 time=rng.choice(['采样时间', '接收时间', '采集时间']), bed='床号')
        if sh['bi']:
            L = dict(name='姓名 Name', sex='性别 Sex', age='年龄 Age', id='病历号 ID', dept='科室 Dept.',
                     spec='标本 Specimen', doc='医生 Doctor', diag='诊断 Diagnosis', sno='样本号 No.',
                     time='采样 Collected', bed='床号 Bed')
        specimen = rng.choice(SPECIMEN[rt])
        diag = rng.choice(DIAG[rt])
        dept = rng.choice(DEPT) if sh['site'] in ('county', 'private') else rng.choice(['门诊', '全科', '内科', '儿科'])
        if '月' in age_s:
            dept = '儿科'
        elif dept == '儿科':
            dept = '门诊'
        if dept == '妇科' and sex == '男':
            dept = '内科'
        doc = person(rng, sc)
    sno = str(rng.randint(1, 480))
    f = [('name', name), ('sex', sex), ('age', age_s), ('id', pid), ('dept', dept), ('spec', specimen),
         ('doc', doc), ('diag', diag), ('sno', sno), ('time', t_col)]
    if sh['site'] == 'county' and rng.random() < 0.4:
        f.insert(5, ('bed', str(rng.randint(1, 60)) + rng.choice(['', '床'])))
    if sh['no_age']:
        f = [x for x in f if x[0] != 'age']
    # vary order a bit: keep name first
    rest = f[1:]
    if rng.random() < 0.5:
        i, j = rng.sample(range(len(rest)), 2)
        rest[i], rest[j] = rest[j], rest[i]
    f = [f[0]] + rest
    if sh['paper'] in ('S80', 'S58'):
        f = [x for x in f if x[0] in ('name', 'sex', 'age', 'sno', 'time', 'dept')]
    fields = [(L[k], v) for k, v in f]
    colon = sh['colon']
    # strip: 1-2 fields per line
    srows, cur = [], []
    for l, v in fields:
        if l in (L['time'],):
            if cur:
                srows.append(cur)
                cur = []
            srows.append([(l, v)])
            continue
        cur.append((l, v))
        if len(cur) == (2 if sh['paper'] == 'S80' else 1) or (len(cur) == 1 and len(v) > 8):
            srows.append(cur)
            cur = []
    if cur:
        srows.append(cur)
    # footer
    tester, checker = person(rng, sc), person(rng, sc)
    if tc:
        lab = [['送檢時間%s%s' % (colon, t_col), '報告時間%s%s' % (colon, t_rep)],
               ['檢驗者%s%s' % (colon, tester), '審核者%s%s' % (colon, checker)],
               rng.choice(['備註：本報告僅對所檢測之檢體負責', '※ H: 高於參考值  L: 低於參考值', '備註：檢驗結果僅供臨床參考'])]
        if sh['bi']:
            lab[1] = ['檢驗者 Tested by%s%s' % (colon, tester), '審核者 Verified by%s%s' % (colon, checker)]
    else:
        rep_lbl = rng.choice(['报告时间', '报告日期'])
        lab = [['%s%s%s' % (L['time'].split(' ')[0] if not sh['bi'] else '采样时间', colon, t_col),
                '%s%s%s' % (rep_lbl, colon, t_rep)],
               ['检验者%s%s' % (colon, tester), '审核者%s%s' % (colon, checker)],
               '备注%s%s' % (colon, rng.choice(['本报告仅对所检测标本负责', '本结果仅对此标本负责，如有疑问请在三日内联系检验科',
                                                '检验结果仅供临床参考', '本报告仅对送检标本负责']))]
        if sh['bi']:
            lab[1] = ['检验者 Tested by%s%s' % (colon, tester), '审核者 Checked by%s%s' % (colon, checker)]
        if sh['flag'] == 'arrow_col' and rng.random() < 0.4:
            lab.append('注：↑表示结果偏高，↓表示结果偏低')
    strip_lines = ['送检%s%s' % (colon, t_col[5:]), '报告%s%s' % (colon, t_rep[5:]),
                   '检验%s%s  审核%s%s' % (colon, tester, colon, checker), '*本结果仅对本标本负责*']
    if sh['paper'] == 'S58':
        strip_lines = ['报告%s%s' % (colon, t_rep), '检验%s%s' % (colon, tester), '仅对本标本负责']
    pageno = rng.choice(['第1页/共1页', '第 1 页 共 1 页', '- 1 -']) if not tc else rng.choice(['第1頁/共1頁', 'Page 1 of 1'])
    return dict(hospital=(hname, en), title=title, fields=fields, strip_field_rows=srows,
                footer=dict(lines=lab, lines_strip=strip_lines), pageno=pageno,
                barcode=str(rng.randint(10 ** 9, 10 ** 10 - 1)))


# ----------------------------------------------------------------------------- print effects
def lowfreq(nr, h, w, cells=6, lo=0.0, hi=1.0):
    g = nr.random((cells, cells)).astype(np.float32)
    f = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    f = (f - f.min()) / (f.max() - f.min() + 1e-6)
    return lo + (hi - lo) * f


def print_effect(img, sh, nr, s, tractor):
    ink = 1.0 - np.asarray(img, dtype=np.float32) / 255.0
    h, w = ink.shape
    prn = sh['prn']
    if prn == 'laser':
        paper = np.array([nr.uniform(243, 250), nr.uniform(243, 250), nr.uniform(240, 248)], np.float32)
        inkc = np.array([25, 25, 28], np.float32) + nr.uniform(-5, 10)
        dens = np.full((h, w), nr.uniform(0.9, 1.0), np.float32)
        if nr.random() < 0.5:   # toner slightly uneven
            dens *= lowfreq(nr, h, w, 4, 0.85, 1.0)
        sp = (nr.random((h, w)) < 0.000012).astype(np.float32)
        ink = np.clip(ink + cv2.dilate(sp, np.ones((2, 2), np.uint8)) * 0.7, 0, 1)
    elif prn == 'thermal':
        ink = (ink > 0.45).astype(np.float32)      # thermal heads print whole dots
        paper = np.array([nr.uniform(236, 246), nr.uniform(237, 246), nr.uniform(236, 244)], np.float32)
        inkc = np.array([55, 55, 62], np.float32) + nr.uniform(0, 25)
        dens = lowfreq(nr, h, w, 5, nr.uniform(0.45, 0.6), nr.uniform(0.8, 0.95))
        # weak heating elements -> faint vertical streaks
        cols_ = nr.random(w) < 0.012
        streak = np.where(cols_, nr.uniform(0.35, 0.7), 1.0).astype(np.float32)
        dens = dens * streak[None, :]
        ink = ink * (nr.random((h, w)) > 0.04)
    elif prn == 'dot':
        pitch = 3
        small = cv2.resize(ink, (w // pitch, h // pitch), interpolation=cv2.INTER_AREA)
        grid = (small > 0.28).astype(np.float32)
        grid *= (nr.random(grid.shape) > 0.03)
        grid *= nr.uniform(0.75, 1.0, grid.shape).astype(np.float32)
        up = np.zeros((grid.shape[0] * pitch, grid.shape[1] * pitch), np.float32)
        up[pitch // 2::pitch, pitch // 2::pitch] = grid
        k = np.zeros((5, 5), np.float32)
        cv2.circle(k, (2, 2), 2, 1.0, -1)
        dots = cv2.filter2D(up, -1, k)
        dots = cv2.GaussianBlur(dots, (0, 0), 0.6)
        ink = np.zeros((h, w), np.float32)
        ink[:dots.shape[0], :dots.shape[1]] = np.clip(dots, 0, 1)
        tint = nr.choice([0, 1, 2, 3])
        paper = [np.array([246, 245, 240]), np.array([250, 235, 238]), np.array([236, 246, 236]),
                 np.array([248, 246, 228])][tint].astype(np.float32)
        inkc = np.array([45, 45, 70], np.float32) + nr.uniform(-10, 20)
        # ribbon wear: horizontal bands
        band = lowfreq(nr, h, 8, 12, nr.uniform(0.55, 0.75), 1.0)
        dens = cv2.resize(band, (w, h)) * lowfreq(nr, h, w, 3, 0.85, 1.0)
    else:  # inkjet
        ink = cv2.GaussianBlur(ink, (0, 0), 0.8)
        ink = np.clip(ink * 1.25, 0, 1)
        paper = np.array([nr.uniform(244, 251)] * 3, np.float32)
        inkc = np.array([20, 22, 38], np.float32)
        dens = np.ones((h, w), np.float32) * nr.uniform(0.85, 0.97)
        nb = int(h / (s * 12))
        for _ in range(nb):
            yb = int(nr.uniform(0, h))
            dens[yb:yb + int(s * nr.uniform(0.3, 1.0))] *= nr.uniform(0.7, 0.88)
    a = np.clip(ink * dens, 0, 1)[..., None]
    tex = lowfreq(nr, h, w, 20, -3, 3)[..., None] + nr.normal(0, 1.5, (h, w, 1)).astype(np.float32)
    out = paper[None, None, :] * (1 - a) + inkc[None, None, :] * a + tex
    if tractor:   # continuous form: tractor holes and perforation
        for side in (7 * s, w - 7 * s):
            yy = 6 * s
            while yy < h:
                cv2.circle(out, (int(side), int(yy)), int(2.0 * s), (120, 118, 112), -1)
                yy += 12.7 * s
        for xp in (13 * s, w - 13 * s):
            for yy in range(0, h, int(3 * s)):
                cv2.line(out, (int(xp), yy), (int(xp), yy + int(1.5 * s)), (215, 215, 210), 1)
    return np.clip(out, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- captures
def soft_blur(img, sigma):
    """Large Gaussian blur done on a reduced image (fast)."""
    if sigma < 4:
        return cv2.GaussianBlur(img, (0, 0), sigma)
    h, w = img.shape[:2]
    f = sigma / 2.0
    small = cv2.resize(img, (max(1, int(w / f)), max(1, int(h / f))), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 2.0)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def jpeg_write(path, rgb, q):
    cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(q)])


def capture_scan(page, nr, s, fs_px):
    h, w = page.shape[:2]
    dpm = nr.uniform(7.9, 9.8)            # 200-250 dpi
    sc = dpm / s
    long_mm = max(h, w) / s
    if long_mm * dpm > 3000:
        sc = 3000.0 / max(h, w)
    if fs_px * sc < 20:
        sc = 20.0 / fs_px
    pg = cv2.resize(page, (int(w * sc), int(h * sc)), interpolation=cv2.INTER_AREA)
    h, w = pg.shape[:2]
    m = int(nr.uniform(2, 6) * dpm)
    bed = np.full((h + 2 * m, w + 2 * m, 3), nr.uniform(228, 245), np.float32)
    bed[m:m + h, m:m + w] = pg
    ang = nr.uniform(-1.0, 1.0)
    H, W = bed.shape[:2]
    M = cv2.getRotationMatrix2D((W / 2, H / 2), ang, 1.0)
    out = cv2.warpAffine(bed, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out = cv2.GaussianBlur(out, (0, 0), nr.uniform(0.3, 0.55))
    out += nr.normal(0, 1.8, out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8), int(nr.uniform(84, 93))


def desk(nr, H, W):
    kind = nr.integers(0, 5)
    base = [np.array([150, 110, 72]), np.array([118, 118, 114]), np.array([212, 208, 200]),
            np.array([62, 58, 54]), np.array([72, 98, 84])][kind].astype(np.float32)
    f = lowfreq(nr, H, W, 5, 0.85, 1.1)[..., None]
    bg = base[None, None, :] * f
    if kind == 0:   # wood grain
        g = nr.random((H // 8 + 1, 1)).astype(np.float32)
        g = cv2.resize(np.repeat(g, 4, axis=1), (W, H), interpolation=cv2.INTER_LINEAR)
        bg *= (0.9 + 0.15 * g)[..., None]
    bg += nr.normal(0, 3, (H, W, 1)).astype(np.float32)
    return bg


def capture_phone(page, nr, s, fs_px):
    h, w = page.shape[:2]
    portrait = h >= w
    L = int(nr.uniform(2300, 3000))
    fill = nr.uniform(0.74, 0.92)
    for _ in range(3):
        Wo, Ho = (int(L * 0.75), L) if portrait else (L, int(L * 0.75))
        scale = min(Wo * fill / w, Ho * fill / h)
        if fs_px * scale >= 17 or (L >= 3000 and fill >= 0.93):
            break
        L = min(3000, int(L * 1.15))
        fill = min(0.94, fill + 0.05)
    lim = 6.0 if portrait else 3.5     # long landscape rows get less tilt to stay readable
    ang = math.radians(nr.uniform(-lim, lim))
    # pre-shrink page close to final scale
    if scale < 0.9:
        pre = scale * 1.1
        page = cv2.resize(page, (int(w * pre), int(h * pre)), interpolation=cv2.INTER_AREA)
        scale = scale / pre
        h, w = page.shape[:2]
    for _ in range(30):
        cx, cy = Wo / 2 + nr.uniform(-0.03, 0.03) * Wo, Ho / 2 + nr.uniform(-0.03, 0.03) * Ho
        pts = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]], np.float32) * scale
        k = nr.uniform(0.0, 0.08)
        side = nr.integers(0, 4)
        if side == 0:
            pts[0, 0] *= (1 - k); pts[1, 0] *= (1 - k)
        elif side == 1:
            pts[2, 0] *= (1 - k); pts[3, 0] *= (1 - k)
        elif side == 2:
            pts[0, 1] *= (1 - k); pts[3, 1] *= (1 - k)
        else:
            pts[1, 1] *= (1 - k); pts[2, 1] *= (1 - k)
        R = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]], np.float32)
        dst = pts @ R.T + np.array([cx, cy], np.float32)
        if dst[:, 0].min() > 0.01 * Wo and dst[:, 0].max() < 0.99 * Wo and dst[:, 1].min() > 0.01 * Ho \
                and dst[:, 1].max() < 0.99 * Ho:
            break
        scale *= 0.97
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    M = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    warped = cv2.warpPerspective(page.astype(np.float32), M, (Wo, Ho), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), M, (Wo, Ho), flags=cv2.INTER_LINEAR)
    bg = desk(nr, Ho, Wo)
    # drop shadow of the paper on the desk
    sh_off = np.float32([[1, 0, nr.uniform(4, 14)], [0, 1, nr.uniform(4, 14)]])
    shadow = cv2.warpAffine(mask, sh_off, (Wo, Ho))
    shadow = soft_blur(shadow, 12)
    bg *= (1 - 0.45 * shadow)[..., None]
    m3 = mask[..., None]
    out = bg * (1 - m3) + warped * m3
    # lighting: gradient + vignette
    yy, xx = np.mgrid[0:Ho, 0:Wo].astype(np.float32)
    gx, gy = nr.uniform(-0.18, 0.18), nr.uniform(-0.18, 0.18)
    light = 1.0 + gx * (xx / Wo - 0.5) + gy * (yy / Ho - 0.5)
    r2 = ((xx / Wo - 0.5) ** 2 + (yy / Ho - 0.5) ** 2)
    light *= 1.0 - nr.uniform(0.05, 0.2) * r2 * 2
    if nr.random() < 0.6:      # soft shadow of the phone / hand
        sm = np.zeros((Ho, Wo), np.float32)
        x_a = nr.uniform(-0.2, 0.6) * Wo
        poly = np.array([[x_a, Ho], [x_a + nr.uniform(0.3, 0.7) * Wo, Ho],
                         [x_a + nr.uniform(0.5, 0.9) * Wo, Ho * nr.uniform(0.55, 0.85)],
                         [x_a + nr.uniform(0.0, 0.3) * Wo, Ho * nr.uniform(0.6, 0.9)]], np.int32)
        cv2.fillPoly(sm, [poly], 1.0)
        sm = soft_blur(sm, Wo * 0.04)
        light *= 1 - nr.uniform(0.12, 0.25) * sm
    out *= light[..., None]
    warm = np.array([nr.uniform(1.0, 1.06), 1.0, nr.uniform(0.9, 1.0)], np.float32)
    out *= warm[None, None, :]
    out = cv2.GaussianBlur(out, (0, 0), nr.uniform(0.5, 1.0))
    out += nr.normal(0, nr.uniform(1.5, 3.5), (Ho, Wo, 1)).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8), int(nr.uniform(75, 90))


# ----------------------------------------------------------------------------- main
def age_string(rng, sh, rt):
    sc = sh['script']
    child = sh['site'] in ('community', 'clinic', 'township') and rt in ('血常规', 'CRP', '粪常规') and rng.random() < 0.35
    if child:
        y, m = rng.randint(1, 6), rng.randint(1, 11)
        return ('%d岁%d月' % (y, m)) if sc == 'sc' else ('%d歲%d月' % (y, m))
    a = rng.randint(18, 82)
    if rt == '肿瘤标志物':
        a = rng.randint(45, 78)
    if sc == 'tw':
        return rng.choice(['%d歲' % a, '%d' % a])
    if sc == 'hk':
        return '%d' % a
    return rng.choice(['%d岁' % a, '%d岁' % a, '%d' % a])


def abnormal_fraction(items):
    num = [it for it in items if not it.get('qual')]
    if not num:
        return 0.0, 0
    return sum(1 for it in num if it['fk']) / len(num), len(num)


def build_sheet(plan, seed, idx):
    rng = random.Random(seed * 7919 + idx * 104729)
    sh = make_style(plan, rng, seed)
    sc = sh['script']
    rt = sh['rt']
    sh['colon'] = rng.choice(['：', ':', '：']) if sh['paper'] not in ('S80', 'S58') else rng.choice([':', '：'])
    sh['ncol'] = 4 if sh['paper'] in ('A4', 'A4L', 'CFL', 'CF', 'A5L') else 3
    if sh['paper'] == 'A4L':
        sh['ncol'] = 5
    sh['hdr_rule_top'] = rng.random() < 0.5
    sh['barcode'] = sh['paper'] in ('A4', 'A4L', 'A5L') and sh['prn'] in ('laser', 'inkjet') and rng.random() < 0.5
    sh['compact'] = rng.random() < 0.3
    sh['valign'] = rng.choice(['l', 'l', 'r'])
    sh['nocenter'] = rng.random() < 0.5
    sh['thick_top'] = rng.random() < 0.5
    sh['none_hdr_rule'] = rng.random() < 0.4
    sh['foot_bottom'] = sh['paper'] in ('A4', 'A4L', 'CFL') and rng.random() < 0.6
    sh['foot_rule'] = rng.random() < 0.7
    sh['pageno'] = sh['paper'] not in ('S80', 'S58') and rng.random() < 0.5
    if sh['panel'] == 'psa':
        sex = '男'
    else:
        sex = rng.choice(['男', '女'])
    age_s = age_string(rng, sh, rt)
    # generate values, keep the share of out-of-range numeric results plausible
    best = None
    for attempt in range(60):
        raw = panel_items(sh, rng, sex)
        fr, n = abnormal_fraction(raw)
        if n < 8 or 0.08 <= fr <= 0.26:
            best = raw
            break
        if best is None or abs(fr - 0.16) < abs(abnormal_fraction(best)[0] - 0.16):
            best = raw
    raw = best
    items = finalize_items(raw, sh)
    if sh['method']:
        for it, r in zip(items, raw):
            it['method'] = BIO_METHOD.get(r.get('key'), '化学发光法')
    if sh['last']:
        for it in items:
            try:
                v = float(it['value'])
                dec = len(it['value'].split('.')[1]) if '.' in it['value'] else 0
                it['last'] = fmt(v * rng.uniform(0.8, 1.2), dec)
            except ValueError:
                it['last'] = it['value']
    meta = make_meta(sh, rng, sex, age_s, rt)
    img, fs_px, placements, s = draw_sheet(sh, items, meta, rng.randint(0, 10 ** 9))
    return sh, sex, age_s, items, meta, img, fs_px, placements, s


def describe(sh, caps):
    lay = {1: 'one block', 2: 'two blocks side by side', 3: 'three blocks side by side'}[sh['blocks']]
    grid = {'rules': 'horizontal rules under header and at end', 'grid': 'full grid', 'none': 'no table rules',
            'dashed': 'dashed text separators'}[sh['grid']]
    flag = {'arrow_col': 'arrow marks in own column', 'hl_col': 'H/L in own column', 'cn_col': '偏高/偏低 in own column',
            'arrow_glued': 'arrow glued to value', 'hl_glued': 'H/L glued to value',
            'none': 'this sheet style prints no abnormal marks at all (flags empty everywhere)'}[sh['flag']]
    names = {'code_col': 'code in own column', 'suffix': 'code glued after name in parentheses',
             'prefix': 'code printed before name in the name cell', 'name_only': 'Chinese names only',
             'code_only': 'English codes instead of Chinese names (name_printed = code)'}[sh['names']]
    paper = {'A4': 'A4 portrait', 'A4L': 'A4 landscape', 'A5P': 'A5 portrait', 'A5L': 'A5 landscape half page',
             'CF': 'continuous form half page 241x140mm with tractor holes',
             'CFL': 'continuous form 241x280mm with tractor holes', 'S80': '80mm thermal strip',
             'S58': '58mm thermal strip'}[sh['paper']]
    prn = {'laser': 'laser print', 'thermal': 'thermal print (grey, faded)', 'dot': 'dot-matrix print',
           'inkjet': 'ink-jet print'}[sh['prn']]
    extra = []
    if sh['rowno']:
        extra.append('row numbers')
    if sh['bi']:
        extra.append('bilingual headers')
    if sh['script'] != 'sc':
        extra.append('traditional characters (%s style)' % ('Taiwan' if sh['script'] == 'tw' else 'Hong Kong'))
    if sh['last']:
        extra.append('previous-result column (not transcribed as items)')
    if sh['method']:
        extra.append('method column')
    capd = {'scan': 'flat scan', 'phone': 'phone photo'}
    return 'layout: %s, %s, %s, %s%s; %s; %s; %s; captures: %s' % (
        lay, grid, flag, names, (', ' + ', '.join(extra)) if extra else '', paper, prn,
        'font %s' % sh['family'], ', '.join(capd[c] for c in caps))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('-n', type=int, default=30)
    a = ap.parse_args()
    t0 = time.time()
    os.makedirs(os.path.join(a.out, 'images'), exist_ok=True)
    os.makedirs(os.path.join(a.out, 'transcripts'), exist_ok=True)
    rows = []
    for i in range(a.n):
        plan = dict(PLAN[i % len(PLAN)])
        plan['id'] = 'BB%03d' % (i + 1)
        sh, sex, age_s, items, meta, img, fs_px, placements, s = build_sheet(plan, a.seed, i)
        nr = np.random.default_rng(a.seed * 1000003 + i)
        page = print_effect(img, sh, nr, s, sh['paper'] in ('CF', 'CFL'))
        files = []
        for cap in sh['caps']:
            if cap == 'scan':
                im, q = capture_scan(page, nr, s, fs_px)
            else:
                im, q = capture_phone(page, nr, s, fs_px)
            fn = '%s__%s.jpg' % (sh['id'], cap)
            jpeg_write(os.path.join(a.out, 'images', fn), im, q)
            files.append(fn)
            rows.append((fn, sh['id'], sh['rt']))
        titems = []
        for p in placements:
            it = p['item']
            titems.append(dict(block=p['block'], row=p['row'], name_printed=p['name_printed'],
                               code_printed=p['code_printed'], value=it['value'], flag_printed=it['mark'],
                               range_printed=it['range'], unit_printed=it['unit'], uncertain=[]))
        tr = dict(sheet=sh['id'], files=files, report_type=sh['rt'], transcriber='blind-generator',
                  patient=dict(sex=sex, age='' if sh['no_age'] else age_s), items=titems, rows_not_legible=[],
                  notes=describe(sh, sh['caps']))
        with open(os.path.join(a.out, 'transcripts', sh['id'] + '.json'), 'w', encoding='utf-8') as fh:
            json.dump(tr, fh, ensure_ascii=False, indent=1)
    with open(os.path.join(a.out, 'images.csv'), 'w', newline='', encoding='utf-8') as fh:
        w = csv.writer(fh)
        w.writerow(['file', 'sheet', 'report_type'])
        w.writerows(rows)
    print('wrote %d sheets, %d images to %s in %.1fs' % (a.n, len(rows), a.out, time.time() - t0))


if __name__ == '__main__':
    main()
