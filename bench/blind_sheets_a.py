#!/usr/bin/env python3
"""Blind test-set generator "A": synthetic mainland-China hospital LIS lab-report sheets.

Renders 30 (default) images of simplified-Chinese laboratory report printouts in the style of
tertiary / city hospital LIS systems (laser and ink-jet A4 / A5 pages, plus a few thermal strips):
two- and three-block blood counts, long biochemistry panels (30+ rows), urine-analyser sheets with a
dry-chemistry block on the left and a sediment block on the right, physical-examination-centre style
multi-section pages, stool, tumour-marker, coagulation, thyroid and serology sheets.
Each sheet gets one or two captures (flat scan and/or phone photo) and an exact JSON transcription.

This script was written WITHOUT looking at the OCR system's code, its knowledge base, other benches or
any real sheets in the repository; all hospitals, patients and values are invented.

Usage:  python blind_sheets_a.py --out DIR [--seed 7] [-n 30]
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

PX_MM = 8  # rendering resolution of the printed page (~203 dpi)

# --------------------------------------------------------------------------------------------
# fonts
# --------------------------------------------------------------------------------------------
_NOTO_SANS = '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc'
_NOTO_SANS_B = '/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc'
_NOTO_SERIF = '/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc'
_NOTO_SERIF_B = '/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc'
FONT_FILES = {
    'notosans': (_NOTO_SANS, 2), 'notosans_b': (_NOTO_SANS_B, 2),
    'notoserif': (_NOTO_SERIF, 2), 'notoserif_b': (_NOTO_SERIF_B, 2),
    'zen': ('/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc', 0),
    'micro': ('/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', 0),
    'uming': ('/usr/share/fonts/truetype/arphic/uming.ttc', 0),
    'mono': (_NOTO_SANS, 7),
    'dejavu': ('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', 0),
}
_FCACHE = {}
_GCACHE = {}


def font(key, size):
    size = max(8, int(round(size)))
    k = (key, size)
    if k not in _FCACHE:
        path, idx = FONT_FILES[key]
        _FCACHE[k] = ImageFont.truetype(path, size, index=idx)
    return _FCACHE[k]


def _mask_sig(f, ch):
    m = f.getmask(ch)
    return m.size, bytes(m)


def glyph_ok(key, ch):
    if ch.isascii():
        return True
    k = (key, ch)
    if k not in _GCACHE:
        f = font(key, 32)
        _GCACHE[k] = _mask_sig(f, ch) != _mask_sig(f, '\U0010FFFD')
    return _GCACHE[k]


def runs(text, key):
    out = []
    for ch in text:
        k = key
        if not glyph_ok(key, ch):
            k = 'notosans' if glyph_ok('notosans', ch) else 'dejavu'
        if out and out[-1][0] == k:
            out[-1][1] += ch
        else:
            out.append([k, ch])
    return out


def text_w(text, key, size):
    return sum(font(k, size).getlength(s) for k, s in runs(text, key))


def draw_text(d, x, base_y, text, key, size, fill=0, align='l', bold=False):
    """Draw text with its baseline at base_y; x is left/centre/right edge depending on align."""
    w = text_w(text, key, size)
    if align == 'c':
        x = x - w / 2
    elif align == 'r':
        x = x - w
    for k, s in runs(text, key):
        f = font(k, size)
        if bold:  # fake bold: overprint shifted by one pixel (like LIS printers do)
            d.text((x, base_y), s, font=f, fill=fill, anchor='ls')
            d.text((x + 1, base_y), s, font=f, fill=fill, anchor='ls')
        else:
            d.text((x, base_y), s, font=f, fill=fill, anchor='ls')
        x += f.getlength(s)
    return w


# --------------------------------------------------------------------------------------------
# value helpers
# --------------------------------------------------------------------------------------------
def fmt(v, dec):
    return f'{v:.{dec}f}'


class Row:
    def __init__(self, name, code, value, flag='', rng='', unit='', prev='', method='', bold=False):
        self.name, self.code, self.value, self.flag = name, code, value, flag
        self.range, self.unit, self.prev, self.method, self.bold = rng, unit, prev, method, bold


class Style:
    """Per-sheet printing conventions."""

    def __init__(self, r):
        self.sep = r.choice(['--', '-', '-', '~', '～', '-'])
        self.zero = r.choice(['range', 'range', 'lt', 'le'])   # how 0..hi ranges are printed
        self.flag_style = r.choice(['col_arrow', 'col_arrow', 'col_HL', 'glued_arrow', 'glued_HL'])
        self.qual_mark = None
        self.u_e9 = r.choice(['10^9/L', '10^9/L', '10*9/L', '×10⁹/L', 'x10^9/L'])
        self.u_umol = r.choice(['μmol/L', 'umol/L'])
        self.u_ul = r.choice(['/μL', '/ul', '个/μL'])
        self.u_iu = r.choice(['U/L', 'U/L', 'IU/L'])
        self.u_ngml = r.choice(['ng/mL', 'ng/ml'])
        self.bold_abn = r.random() < 0.3

    def marks(self):
        fs = self.flag_style
        if fs in ('col_arrow', 'glued_arrow'):
            return '↑', '↓'
        if fs in ('col_HL', 'glued_HL'):
            return 'H', 'L'
        if fs == 'col_cn':
            return '偏高', '偏低'
        return '', ''

    def qmark(self):
        if self.flag_style == 'none':
            return ''
        return self.qual_mark

    def e12(self):
        return self.u_e9.replace('9', '12').replace('⁹', '¹²')


def num_item(st, r, name, code, unit, lo, hi, dec, kind='between', abn=None, v=None, method=''):
    """Make a numeric row. lo/hi are printed strings ('' if absent). kind: between|lt|gt.
    abn: None (normal) / 'H' / 'L'. v: explicit value (float) overrides sampling."""
    flo = float(lo) if lo != '' else None
    fhi = float(hi) if hi != '' else None
    if v is None:
        if kind == 'lt':
            base_lo, base_hi = 0.0, fhi
        elif kind == 'gt':
            base_lo, base_hi = flo, flo * 1.8
        else:
            base_lo, base_hi = flo, fhi
        w = base_hi - base_lo
        if abn == 'H' and fhi is not None:
            v = fhi + w * r.uniform(0.06, 0.7) if w > 0 else fhi * r.uniform(1.1, 2.0)
        elif abn == 'L' and flo is not None and flo > 0:
            v = flo - min(w * r.uniform(0.05, 0.3), flo * 0.45)
        else:
            v = r.uniform(base_lo + 0.12 * w, base_hi - 0.12 * w)
            if kind == 'lt':
                v = r.uniform(0.15 * fhi, 0.85 * fhi)
    unit_step = 10 ** (-dec)
    # keep away from the printed bounds
    for b in (flo, fhi):
        if b is not None and abs(v - b) < unit_step * 0.6:
            v = b + (unit_step if (v >= b) else -unit_step)
    v = max(v, 0.0)
    s = fmt(v, dec)
    fv = float(s)
    hi_mark, lo_mark = st.marks()
    flag = ''
    if kind == 'between':
        if fhi is not None and fv > fhi:
            flag = hi_mark
        elif flo is not None and fv < flo:
            flag = lo_mark
        if flo is not None and float(lo) == 0 and st.zero != 'range':
            rs = ('<' if st.zero == 'lt' else '≤') + hi
            if st.zero == 'lt' and fv >= fhi:
                flag = hi_mark
        else:
            rs = f'{lo}{st.sep}{hi}'
    elif kind == 'lt':
        rs = '<' + hi
        if fv >= fhi:
            flag = hi_mark
    else:  # gt
        rs = '>' + lo
        if fv <= flo:
            flag = lo_mark
    return Row(name, code, s, flag, rs, unit, method=method), fv


def qual_row(st, name, code, value, normal_values, rng_text, unit=''):
    flag = ''
    if rng_text and value not in normal_values:
        flag = st.qmark()
    return Row(name, code, value, flag, rng_text, unit)


def pick_abn(r, p):
    if r.random() < p:
        return 'H' if r.random() < 0.72 else 'L'
    return None


# --------------------------------------------------------------------------------------------
# report content generators: each returns (report_type, sections, meta)
# sections: list of (section_title or None, [Row])
# --------------------------------------------------------------------------------------------
CBC_NAMES = {
    'A': ['白细胞计数', '中性粒细胞百分比', '淋巴细胞百分比', '单核细胞百分比', '嗜酸性粒细胞百分比',
          '嗜碱性粒细胞百分比', '中性粒细胞绝对值', '淋巴细胞绝对值', '单核细胞绝对值', '嗜酸性粒细胞绝对值',
          '嗜碱性粒细胞绝对值', '红细胞计数', '血红蛋白', '红细胞压积', '平均红细胞体积', '平均血红蛋白含量',
          '平均血红蛋白浓度', '红细胞分布宽度-CV', '红细胞分布宽度-SD', '血小板计数', '平均血小板体积',
          '血小板分布宽度', '血小板压积', '大型血小板比率'],
    'B': ['白细胞', '中性粒细胞比率', '淋巴细胞比率', '单核细胞比率', '嗜酸性粒细胞比率', '嗜碱性粒细胞比率',
          '中性粒细胞数', '淋巴细胞数', '单核细胞数', '嗜酸性粒细胞数', '嗜碱性粒细胞数', '红细胞', '血红蛋白',
          '红细胞比积', '红细胞平均体积', '平均血红蛋白量', '平均血红蛋白浓度', '红细胞体积分布宽度CV',
          '红细胞体积分布宽度SD', '血小板', '血小板平均体积', '血小板体积分布宽度', '血小板压积', '大血小板比率'],
    'C': ['白细胞', '中性粒细胞%', '淋巴细胞%', '单核细胞%', '嗜酸细胞%', '嗜碱细胞%', '中性粒细胞#',
          '淋巴细胞#', '单核细胞#', '嗜酸细胞#', '嗜碱细胞#', '红细胞', '血红蛋白', '红细胞压积', '平均红细胞体积',
          '平均血红蛋白量', '平均血红蛋白浓度', '红细胞分布宽度CV', '红细胞分布宽度SD', '血小板', '平均血小板体积', '血小板分布宽度',
          '血小板压积', '大血小板比率'],
}
CBC_CODES = {
    'mindray': ['WBC', 'NEU%', 'LYM%', 'MON%', 'EOS%', 'BAS%', 'NEU#', 'LYM#', 'MON#', 'EOS#', 'BAS#', 'RBC', 'HGB',
                'HCT', 'MCV', 'MCH', 'MCHC', 'RDW-CV', 'RDW-SD', 'PLT', 'MPV', 'PDW', 'PCT', 'P-LCR'],
    'sysmex': ['WBC', 'NEUT%', 'LYMPH%', 'MONO%', 'EO%', 'BASO%', 'NEUT#', 'LYMPH#', 'MONO#', 'EO#', 'BASO#', 'RBC',
               'HGB', 'HCT', 'MCV', 'MCH', 'MCHC', 'RDW-CV', 'RDW-SD', 'PLT', 'MPV', 'PDW', 'PCT', 'P-LCR'],
}


def gen_cbc(r, st, sex, child, opts):
    names = CBC_NAMES[opts.get('names', r.choice('AAB' if not opts.get('short') else 'C'))]
    codes = CBC_CODES[r.choice(['mindray', 'sysmex'])]
    if names is CBC_NAMES['C']:
        # short names already contain RDW codes; keep codes distinct list
        pass
    e9, e12 = st.u_e9, st.e12()
    if child:
        R = dict(WBC=('4.4', '11.9'), NEUp=('22', '65'), LYMp=('23', '69'), MONp=('2', '11'), EOSp=('0', '9'),
                 BASp=('0', '1'), NEUa=('1.2', '7.0'), LYMa=('1.8', '6.3'), MONa=('0.12', '0.93'),
                 EOSa=('0', '0.68'), BASa=('0', '0.07'), RBC=('4.0', '5.5'), HGB=('112', '149'), HCT=('34', '43'),
                 MCV=('76', '88'), MCH=('24', '30'), MCHC=('310', '355'), PLT=('188', '472'))
    else:
        R = dict(WBC=('3.5', '9.5'), NEUp=('40', '75'), LYMp=('20', '50'), MONp=('3', '10'), EOSp=('0.4', '8.0'),
                 BASp=('0', '1'), NEUa=('1.8', '6.3'), LYMa=('1.1', '3.2'), MONa=('0.1', '0.6'),
                 EOSa=('0.02', '0.52'), BASa=('0', '0.06'),
                 RBC=('4.3', '5.8') if sex == '男' else ('3.8', '5.1'),
                 HGB=('130', '175') if sex == '男' else ('115', '150'),
                 HCT=('40', '50') if sex == '男' else ('35', '45'),
                 MCV=('82', '100'), MCH=('27', '34'), MCHC=('316', '354'), PLT=('125', '350'))
    R.update(RDWCV=r.choice([('11.0', '16.0'), ('11.5', '14.5')]), RDWSD=r.choice([('35.0', '56.0'), ('39.0', '46.0')]),
             MPV=r.choice([('7.4', '12.5'), ('9.4', '12.5')]), PDW=('9.0', '17.0'), PCT=('0.108', '0.282'),
             PLCR=('13.0', '43.0'))
    for _ in range(60):
        scen = r.choice(['normal', 'infection', 'anemia', 'viral', 'thrombo', 'mild', 'infection', 'anemia'])
        f = lambda a, b: r.uniform(a, b)
        wbc = f(4.8, 8.6) if not child else f(5.5, 10.5)
        neu, mon, eos, bas = f(50, 68), f(4, 8.5), f(0.8, 4.5), f(0.1, 0.7)
        if child:
            neu = f(30, 55)
        if scen == 'infection':
            wbc, neu, mon, eos = f(10.2, 17.5), f(76, 89), f(3.5, 9.5), f(0.1, 1.2)
        elif scen == 'viral':
            wbc, neu, mon = f(2.8, 4.6), f(32, 46), f(8, 12.5)
        lym = 100 - neu - mon - eos - bas
        rbc = f(4.5, 5.5) if sex == '男' else f(3.95, 4.9)
        mcv, mch = f(84, 96), f(28, 32.5)
        rdw = f(11.9, 13.9)
        if child:
            rbc, mcv, mch = f(4.2, 5.2), f(78, 86), f(25.5, 29)
        if scen == 'anemia':
            rbc = f(3.4, 4.3) if sex == '男' else f(3.2, 3.9)
            mcv, mch, rdw = f(66, 80), f(19.5, 26), f(15.2, 19.5)
        if scen == 'mild':
            rbc *= r.choice([0.92, 1.0, 1.08])
        hct = rbc * mcv / 10
        hgb = rbc * mch
        mchc = hgb / hct * 100
        plt = f(170, 320) if not child else f(220, 420)
        if scen == 'thrombo':
            plt = f(55, 118)
        mpv = f(8.8, 11.8) if plt > 120 else f(11.2, 13.6)
        pdw = f(10.5, 16.2)
        pct = plt * mpv / 10000
        plcr = f(17, 38) if plt > 120 else f(38, 49)
        rdwsd = rdw * mcv / 100 * f(3.3, 3.7)
        pv = dict(WBC=(wbc, 2), NEUp=(neu, 1), LYMp=(lym, 1), MONp=(mon, 1), EOSp=(eos, 1), BASp=(bas, 1),
                  RBC=(rbc, 2), HGB=(hgb, 0), HCT=(hct, 1), MCV=(mcv, 1), MCH=(mch, 1), MCHC=(mchc, 0),
                  RDWCV=(rdw, 1), RDWSD=(rdwsd, 1), PLT=(plt, 0), MPV=(mpv, 1), PDW=(pdw, 1), PCT=(pct, 3),
                  PLCR=(plcr, 1))
        if opts.get('wbc_dec1'):
            pv['WBC'] = (wbc, 1)
        wbc_p = float(fmt(*pv['WBC']))
        for k in ('NEU', 'LYM', 'MON', 'EOS', 'BAS'):
            pv[k + 'a'] = (wbc_p * float(fmt(*pv[k + 'p'])) / 100, 2)
        keys = ['WBC', 'NEUp', 'LYMp', 'MONp', 'EOSp', 'BASp', 'NEUa', 'LYMa', 'MONa', 'EOSa', 'BASa', 'RBC', 'HGB',
                'HCT', 'MCV', 'MCH', 'MCHC', 'RDWCV', 'RDWSD', 'PLT', 'MPV', 'PDW', 'PCT', 'PLCR']
        units = [e9, '%', '%', '%', '%', '%', e9, e9, e9, e9, e9, e12, 'g/L', '%', 'fL', 'pg', 'g/L', '%', 'fL', e9,
                 'fL', 'fL', '%', '%']
        optional = ['RDWSD', 'MPV', 'PDW', 'PCT', 'PLCR']
        nopt = opts.get('nopt', r.randint(1, 5))
        drop = set(r.sample(optional, 5 - nopt))
        rows = []
        for i, k in enumerate(keys):
            if k in drop:
                continue
            lo, hi = R[k]
            v, dec = pv[k]
            row, _ = num_item(st, r, names[i], codes[i], units[i], lo, hi, dec, v=v)
            rows.append(row)
        if opts.get('crp'):
            crp = f(12, 68) if scen == 'infection' else f(0.6, 7.5)
            row, _ = num_item(st, r, '全血C反应蛋白', 'CRP', 'mg/L', '0', '10', 2, v=crp)
            rows.append(row)
        if opts.get('rbc_first'):
            rbc_rows = [x for x in rows if x.code in ('RBC', 'HGB', 'HCT', 'MCV', 'MCH', 'MCHC', 'RDW-CV', 'RDW-SD')]
            rest = [x for x in rows if x not in rbc_rows]
            rows = rbc_rows + rest
        nab = sum(1 for x in rows if x.flag)
        frac = nab / len(rows)
        if 0.09 <= frac <= 0.27:
            break
    if names is CBC_NAMES['C']:
        for x in rows:  # names like 'RDW-CV' duplicate the code: print no separate code for them
            if x.name == x.code:
                pass
    secs = [(None, rows)]
    if opts.get('sections'):
        wb = [x for x in rows if x.code in codes[:11] or x.code == 'CRP']
        rb = [x for x in rows if x.code in codes[11:19]]
        pl = [x for x in rows if x.code in codes[19:]]
        secs = [('白细胞系统', wb), ('红细胞系统', rb), ('血小板系统', pl)]
    return '血常规', secs


# ---------------------------------------------------------------- urine
def urine_qual_scale(style):
    if style == 'cn':
        return dict(neg='阴性', trace='±', p1='1+', p2='2+', p3='3+', rng='阴性', uro_norm='正常', uro_rng='正常')
    if style == 'sym':
        return dict(neg='-', trace='+-', p1='+', p2='++', p3='+++', rng='-', uro_norm='-', uro_rng='-')
    return dict(neg='阴性(-)', trace='弱阳性(±)', p1='阳性(+)', p2='阳性(++)', p3='阳性(+++)', rng='阴性(-)',
                uro_norm='阴性(-)', uro_rng='阴性(-)')


def gen_urine(r, st, sex, child, opts):
    qs = urine_qual_scale(opts.get('qstyle', r.choice(['cn', 'cn', 'sym', 'cnsym'])))
    scen = r.choice(['uti', 'normal_mild', 'diabetic', 'nephro', 'uti'])
    pos = {}
    if scen == 'uti':
        pos = {'LEU': r.choice(['p1', 'p2', 'p3']), 'NIT': r.choice(['neg', 'neg', 'neg', 'p1']),
               'BLD': r.choice(['neg', 'neg', 'trace'])}
    elif scen == 'diabetic':
        pos = {'GLU': r.choice(['p2', 'p3']), 'KET': r.choice(['neg', 'trace', 'p1']), 'PRO': r.choice(['neg', 'trace'])}
    elif scen == 'nephro':
        pos = {'PRO': r.choice(['p1', 'p2']), 'BLD': r.choice(['p1', 'p2'])}
    else:
        pos = {r.choice(['BLD', 'LEU', 'PRO']): 'trace'}
    codes_cn = r.random() < 0.7
    dry = []
    col = r.choice(['淡黄色', '淡黄色', '黄色'])
    rng_col = r.choice(['', '淡黄色']) if col == '淡黄色' else ''
    dry.append(qual_row(st, '颜色', 'COL' if codes_cn else '', col, [col], rng_col))
    tur = '微浑' if scen == 'uti' and r.random() < 0.35 else '清亮'
    dry.append(qual_row(st, r.choice(['透明度', '浊度']), 'CLA' if codes_cn else '', tur, ['清亮'], '清亮'))
    sg = r.choice(['1.010', '1.015', '1.020', '1.025', '1.015'])
    dry.append(Row('比重', 'SG', sg, '', f'1.003{st.sep}1.030', ''))
    ph = r.choice(['5.0', '5.5', '6.0', '6.5', '7.0', '6.0'])
    dry.append(Row(r.choice(['酸碱度', 'pH值']), 'PH', ph, '', f'4.5{st.sep}8.0', ''))
    spec = [('白细胞', 'LEU'), ('亚硝酸盐', 'NIT'), ('蛋白质', 'PRO'), ('葡萄糖', 'GLU'), ('酮体', 'KET'),
            ('尿胆原', 'URO'), ('胆红素', 'BIL'), ('隐血', 'BLD')]
    if r.random() < 0.5:
        spec[0] = ('白细胞酯酶', 'LEU')
    if r.random() < 0.4:
        spec[7] = ('潜血', 'BLD')
    if r.random() < 0.5:
        spec.append(('维生素C', 'VC'))
    r.shuffle(spec) if r.random() < 0.3 else None
    for nm, cd in spec:
        lvl = pos.get(cd, 'neg')
        if cd == 'NIT' and lvl != 'neg':
            lvl = 'p1'
        if cd == 'URO':
            v = qs['uro_norm'] if lvl == 'neg' else qs['p1']
            dry.append(qual_row(st, nm, cd, v, [qs['uro_norm']], qs['uro_rng']))
        else:
            v = qs[lvl]
            dry.append(qual_row(st, nm, cd, v, [qs['neg']], qs['rng']))
    sed = []
    sed_style = opts.get('sed', r.choice(['flow', 'flow', 'micro']))
    if sed_style == 'flow':
        u = st.u_ul
        rbc_hi = scen in ('nephro',) or pos.get('BLD', 'neg') in ('p1', 'p2')
        wbc_hi = scen == 'uti'
        items = [('红细胞', 'RBC', '0', '17', 1, 'H' if rbc_hi else None, u),
                 ('白细胞', 'WBC', '0', '28', 1, 'H' if wbc_hi else None, u),
                 ('上皮细胞', 'EC', '0', '28', 1, pick_abn(r, 0.15) and 'H', u),
                 ('管型', 'CAST', '0', '1', 2, 'H' if scen == 'nephro' and r.random() < 0.6 else None, u),
                 ('细菌', 'BACT', '0', '130', 1, 'H' if wbc_hi and r.random() < 0.5 else None, u),
                 ('结晶', "X'TAL", '0', '10', 1, None, u)]
        if r.random() < 0.6:
            items.append(('小圆上皮细胞', 'SRC', '0', '3', 1, None, u))
        if r.random() < 0.5:
            items.append(('病理管型', 'P.CAST', '0', '1', 2, None, u))
        if r.random() < 0.5:
            items.append(('粘液丝', 'MUCUS', '0', '0.28', 2, None, u))
        if r.random() < 0.5:
            items.insert(2, ('红细胞(高倍视野)', 'RBC-HPF', '0', '3', 1, 'H' if rbc_hi else None, '/HPF'))
            items.insert(3, ('白细胞(高倍视野)', 'WBC-HPF', '0', '5', 1, 'H' if wbc_hi else None, '/HPF'))
        saved = st.zero
        st.zero = 'range'
        for nm, cd, lo, hi, dec, ab, unit in items:
            row, _ = num_item(st, r, nm, cd, unit, lo, hi, dec, abn=ab)
            if not codes_cn:
                row.code = ''
            sed.append(row)
        st.zero = saved
    else:
        rbc_v = r.choice(['3-5', '5-8', '8-12']) if pos.get('BLD', 'neg') != 'neg' else r.choice(['未见', '0-1', '0-2'])
        wbc_v = r.choice(['8-12', '15-20', '满视野']) if scen == 'uti' else r.choice(['0-2', '1-3', '未见'])
        rflag = st.marks()[0] if rbc_v in ('3-5', '5-8', '8-12') else ''
        sed.append(Row('红细胞', 'RBC' if codes_cn else '', rbc_v, rflag, '0-3', '/HP'))
        wflag = st.marks()[0] if wbc_v in ('8-12', '15-20', '满视野') else ''
        sed.append(Row('白细胞', 'WBC' if codes_cn else '', wbc_v, wflag, '0-5', '/HP'))
        sed.append(qual_row(st, '上皮细胞', 'EC' if codes_cn else '', r.choice(['少量', '未见', '少量']), ['少量', '未见'],
                            '', '/HP'))
        cast = '未见' if scen != 'nephro' else '颗粒管型0-1'
        sed.append(qual_row(st, '管型', 'CAST' if codes_cn else '', cast, ['未见'], '未见', '/LP'))
        sed.append(qual_row(st, '结晶', "X'TAL" if codes_cn else '', r.choice(['未见', '未见', '草酸钙结晶少量']),
                            ['未见', '草酸钙结晶少量'], ''))
        sed.append(qual_row(st, '细菌', 'BACT' if codes_cn else '', '少量' if scen == 'uti' else '未见', ['未见'], '未见'))
        sed.append(qual_row(st, '真菌', '', '未见', ['未见'], '未见'))
    if not codes_cn:
        for x in dry + sed:
            x.code = ''
    return '尿常规', [('尿干化学分析', dry), ('尿沉渣分析', sed)]


# ---------------------------------------------------------------- stool
def gen_stool(r, st, sex, child, opts):
    scen = r.choice(['normal', 'bleed', 'enteritis', 'normal', 'fungal'])
    rows = []
    hp_in_value = opts.get('hp_in_value', False)
    colr = r.choice(['黄色', '黄褐色', '棕黄色']) if scen != 'bleed' else r.choice(['褐色', '黑色'])
    shape = r.choice(['软', '成形', '软']) if scen not in ('enteritis',) else r.choice(['稀', '糊状'])
    rows.append(Row('颜色', '', colr, '', '', ''))
    rows.append(Row('性状', '', shape, '', '', ''))
    unit = '' if hp_in_value else '/HP'
    suffix = '/HP' if hp_in_value else ''

    def hp(v):
        return v + suffix if v not in ('未见',) else v
    wbc = r.choice(['未见', '0-1', '未见']) if scen != 'enteritis' else r.choice(['5-8', '10-15'])
    if hp_in_value and wbc == '未见':
        wbc = r.choice(['0-1', '0-2'])
    rbc = '未见' if scen not in ('bleed', 'enteritis') else r.choice(['0-2', '2-4'])
    qm = st.qmark()
    rows.append(Row('红细胞', 'RBC', hp(rbc), '' if rbc == '未见' else qm, '未见', unit))
    rows.append(Row('白细胞', 'WBC', hp(wbc), qm if wbc in ('5-8', '10-15') else '', '0-2', unit))
    ob = '阳性(+)' if scen == 'bleed' else ('弱阳性' if scen == 'enteritis' and r.random() < 0.4 else '阴性')
    ob_name = r.choice(['隐血试验', '粪便隐血', '潜血试验(OB)', '隐血(胶体金法)'])
    rows.append(qual_row(st, ob_name, 'OB' if '(OB)' not in ob_name else '', ob, ['阴性'], '阴性'))
    if r.random() < 0.5:
        tf = '阳性(+)' if scen == 'bleed' and r.random() < 0.7 else '阴性'
        rows.append(qual_row(st, '转铁蛋白', 'TF', tf, ['阴性'], '阴性'))
    rows.append(qual_row(st, r.choice(['寄生虫卵', '虫卵']), '', r.choice(['未见', '未找到']), ['未见', '未找到'], '未见'))
    rows.append(qual_row(st, '脂肪球', '', r.choice(['未见', '未见', '少量']), ['未见'], '未见'))
    rows.append(qual_row(st, r.choice(['真菌', '霉菌']), '', '少量' if scen == 'fungal' else '未见', ['未见'], '未见'))
    if r.random() < 0.6:
        rows.append(qual_row(st, '吞噬细胞', '', '未见', ['未见'], '未见'))
    if r.random() < 0.5:
        rows.append(qual_row(st, '粘液', '', '少量' if scen == 'enteritis' else '无', ['无'], '无'))
    if child and r.random() < 0.7:
        rows.append(qual_row(st, '轮状病毒抗原', 'RV', '阳性' if scen == 'enteritis' else '阴性', ['阴性'], '阴性'))
    if not opts.get('codes', True) or r.random() < 0.4:
        for x in rows:
            x.code = ''
    return '粪常规', [(None, rows)]


# ---------------------------------------------------------------- biochemistry
def chem_catalog(st, sex, r):
    M = sex == '男'
    u, iu = st.u_umol, st.u_iu
    ast_name = r.choice(['天门冬氨酸氨基转移酶', '天冬氨酸氨基转移酶'])
    ggt_name = r.choice(['γ-谷氨酰转移酶', 'γ-谷氨酰转肽酶'])
    cat = {
        '肝功能': [
            ('ALT', '丙氨酸氨基转移酶', iu, ('9', '50') if M else ('7', '40'), 0, 'between', '速率法'),
            ('AST', ast_name, iu, ('15', '40') if M else ('13', '35'), 0, 'between', '速率法'),
            ('TP', '总蛋白', 'g/L', ('65.0', '85.0'), 1, 'between', '双缩脲法'),
            ('ALB', '白蛋白', 'g/L', ('40.0', '55.0'), 1, 'between', '溴甲酚绿法'),
            ('GLB', '球蛋白', 'g/L', ('20.0', '40.0'), 1, 'between', '计算法'),
            ('A/G', r.choice(['白球比', '白蛋白/球蛋白']), '', ('1.2', '2.4'), 2, 'between', '计算法'),
            ('TBIL', '总胆红素', u, r.choice([('0', '21.0'), ('3.4', '20.5')]), 1, 'between', '钒酸盐氧化法'),
            ('DBIL', '直接胆红素', u, ('0', '6.8'), 1, 'between', '钒酸盐氧化法'),
            ('IBIL', '间接胆红素', u, ('0', '17.0'), 1, 'between', '计算法'),
            ('GGT', ggt_name, iu, ('10', '60') if M else ('7', '45'), 0, 'between', '速率法'),
            ('ALP', '碱性磷酸酶', iu, ('45', '125') if M else ('35', '100'), 0, 'between', '速率法'),
            ('TBA', '总胆汁酸', u, ('0', '10.0'), 1, 'between', '酶循环法'),
            ('CHE', '胆碱酯酶', iu, ('5000', '12000'), 0, 'between', '速率法'),
            ('PA', '前白蛋白', 'mg/L', ('200', '400'), 0, 'between', '免疫比浊法'),
        ],
        '肾功能': [
            ('UREA', r.choice(['尿素', '尿素氮']), 'mmol/L', ('3.1', '8.0') if M else ('2.6', '7.5'), 2, 'between', '脲酶法'),
            ('CREA', '肌酐', u, ('57', '111') if M else ('41', '81'), 0, 'between', '酶法'),
            ('UA', '尿酸', u, ('208', '428') if M else ('155', '357'), 0, 'between', '尿酸酶法'),
            ('CysC', '胱抑素C', 'mg/L', ('0.59', '1.03'), 2, 'between', '免疫比浊法'),
            ('CO2', '二氧化碳结合力', 'mmol/L', ('22.0', '29.0'), 1, 'between', '酶法'),
        ],
        '血糖': [
            ('GLU', r.choice(['葡萄糖', '空腹血糖']), 'mmol/L', ('3.90', '6.10'), 2, 'between', '己糖激酶法'),
        ],
        '血脂': [
            ('TC', '总胆固醇', 'mmol/L', ('', '5.20'), 2, 'lt', '酶法'),
            ('TG', '甘油三酯', 'mmol/L', ('', '1.70'), 2, 'lt', '酶法'),
            ('HDL-C', '高密度脂蛋白胆固醇', 'mmol/L', ('1.04', ''), 2, 'gt', '直接法'),
            ('LDL-C', '低密度脂蛋白胆固醇', 'mmol/L', ('', '3.37'), 2, 'lt', '直接法'),
            ('ApoA1', '载脂蛋白A1', 'g/L', ('1.00', '1.60'), 2, 'between', '免疫比浊法'),
            ('ApoB', '载脂蛋白B', 'g/L', ('0.60', '1.10'), 2, 'between', '免疫比浊法'),
            ('Lp(a)', '脂蛋白(a)', 'mg/L', ('0', '300'), 0, 'between', '免疫比浊法'),
        ],
        '电解质': [
            ('K', '钾', 'mmol/L', ('3.50', '5.30'), 2, 'between', '离子选择电极法'),
            ('Na', '钠', 'mmol/L', ('137.0', '147.0'), 1, 'between', '离子选择电极法'),
            ('Cl', '氯', 'mmol/L', ('99.0', '110.0'), 1, 'between', '离子选择电极法'),
            ('Ca', '钙', 'mmol/L', ('2.11', '2.52'), 2, 'between', '偶氮胂Ⅲ法'),
            ('P', '磷', 'mmol/L', ('0.85', '1.51'), 2, 'between', '磷钼酸法'),
            ('Mg', '镁', 'mmol/L', ('0.75', '1.02'), 2, 'between', '二甲苯胺蓝法'),
        ],
        '心肌酶': [
            ('CK', '肌酸激酶', iu, ('50', '310') if M else ('40', '200'), 0, 'between', '速率法'),
            ('CK-MB', '肌酸激酶同工酶', iu, ('0', '24'), 1, 'between', '免疫抑制法'),
            ('LDH', '乳酸脱氢酶', iu, ('120', '250'), 0, 'between', '速率法'),
            ('HBDH', 'α-羟丁酸脱氢酶', iu, ('72', '182'), 0, 'between', '速率法'),
        ],
        '其他': [
            ('HCY', '同型半胱氨酸', u, ('0', '15.0'), 1, 'between', '酶循环法'),
            ('hs-CRP', '超敏C反应蛋白', 'mg/L', ('0', '3.00'), 2, 'between', '免疫比浊法'),
            ('AMY', '淀粉酶', iu, ('35', '135'), 0, 'between', '速率法'),
        ],
    }
    return cat


def gen_chem(r, st, sex, child, opts):
    cat = chem_catalog(st, sex, r)
    target = opts.get('n', 32)
    groups = opts.get('groups', ['肝功能', '肾功能', '血糖', '血脂', '电解质', '心肌酶'])
    pool = [(g, it) for g in groups for it in cat[g]]
    if target < len(pool):
        must = {'ALT', 'AST', 'TP', 'ALB', 'GLB', 'A/G', 'TBIL', 'DBIL', 'IBIL', 'UREA', 'CREA', 'UA', 'GLU', 'TC', 'TG',
                'K', 'Na', 'Cl'}
        optional = [p for p in pool if p[1][0] not in must]
        drop = set(x[1][0] for x in r.sample(optional, min(len(pool) - target, len(optional))))
        pool = [p for p in pool if p[1][0] not in drop]
    elif target > len(pool):
        extra = [('其他', it) for it in cat['其他']]
        pool += extra[:target - len(pool)]
    p_abn = r.uniform(0.10, 0.2)
    vals = {}
    rows_by_group = {}
    use_method = opts.get('method', False)
    for _ in range(40):
        rows_by_group = {}
        vals = {}
        for g, (code, name, unit, (lo, hi), dec, kind, meth) in pool:
            ab = pick_abn(r, p_abn)
            if code in ('GLB', 'A/G', 'IBIL'):
                continue
            if code == 'DBIL':
                tb = vals.get('TBIL', 12.0)
                v = tb * r.uniform(0.18, 0.38)
                row, fv = num_item(st, r, name, code, unit, lo, hi, dec, kind, v=v)
            else:
                row, fv = num_item(st, r, name, code, unit, lo, hi, dec, kind, abn=ab)
            vals[code] = fv
            row.method = meth if use_method else ''
            rows_by_group.setdefault(g, []).append((code, row))
        # derived values
        derived = {}
        if 'TP' in vals and 'ALB' in vals:
            glb = vals['TP'] - vals['ALB']
            if glb < 15:
                continue
            derived['GLB'] = glb
            derived['A/G'] = vals['ALB'] / float(fmt(glb, 1))
        if 'TBIL' in vals and 'DBIL' in vals:
            derived['IBIL'] = vals['TBIL'] - vals['DBIL']
        rows = []
        secs = []
        for g in groups + ['其他']:
            grp_rows = []
            for gg, (code, name, unit, (lo, hi), dec, kind, meth) in pool:
                if gg != g:
                    continue
                if code in derived:
                    row, _ = num_item(st, r, name, code, unit, lo, hi, dec, kind, v=derived[code])
                    row.method = meth if use_method else ''
                    grp_rows.append(row)
                else:
                    for c, rw in rows_by_group.get(g, []):
                        if c == code:
                            grp_rows.append(rw)
            if grp_rows:
                secs.append((g, grp_rows))
                rows += grp_rows
        frac = sum(1 for x in rows if x.flag) / len(rows)
        if 0.09 <= frac <= 0.25:
            break
    if not opts.get('sections'):
        secs = [(None, rows)]
    rt = '生化'
    return rt, secs


# ---------------------------------------------------------------- tumour markers etc.
def gen_tumour(r, st, sex, child, opts):
    ng = st.u_ngml
    items = [('AFP', '甲胎蛋白', ng, ('0', '7.00'), 2), ('CEA', '癌胚抗原', ng, ('0', '5.00'), 2),
             ('CA125', '糖类抗原125', 'U/mL', ('0', '35.00'), 2), ('CA19-9', '糖类抗原19-9', 'U/mL', ('0', '37.00'), 2),
             ('CA72-4', '糖类抗原72-4', 'U/mL', ('0', '6.90'), 2), ('NSE', '神经元特异性烯醇化酶', ng, ('0', '16.30'), 2),
             ('CYFRA21-1', '细胞角蛋白19片段', ng, ('0', '3.30'), 2), ('SCC', '鳞状上皮细胞癌抗原', ng, ('0', '1.50'), 2),
             ('FER', '铁蛋白', ng, ('30.0', '400.0') if sex == '男' else ('13.0', '150.0'), 1)]
    if sex == '女':
        items.insert(4, ('CA15-3', '糖类抗原15-3', 'U/mL', ('0', '25.00'), 2))
    n = opts.get('n', r.randint(5, 8))
    if sex == '男':
        n = min(n, 7)
    chosen = items[:n]
    rows = []
    must = r.randrange(len(chosen)) if sex == '女' or r.random() < 0.5 else -1
    for i, (code, name, unit, (lo, hi), dec) in enumerate(chosen):
        ab = 'H' if i == must or r.random() < 0.06 else None
        if code == 'CA72-4' and not ab and r.random() < 0.5:
            rows.append(Row(name, code, '<1.50', '', (f'0{st.sep}6.90' if st.zero == 'range' else
                                                     ('<6.90' if st.zero == 'lt' else '≤6.90')), unit))
            continue
        row, _ = num_item(st, r, name, code, unit, lo, hi, dec, abn=ab)
        rows.append(row)
    secs = [(None, rows)]
    if sex == '男':
        tpsa_ab = must < 0 or r.random() < 0.3
        row1, tp = num_item(st, r, '总前列腺特异性抗原', 'TPSA', ng, '0', '4.000', 3, abn='H' if tpsa_ab else None)
        fr = r.uniform(0.09, 0.2) if tpsa_ab else r.uniform(0.18, 0.35)
        row2, fp = num_item(st, r, '游离前列腺特异性抗原', 'FPSA', ng, '0', '0.930', 3, v=tp * fr)
        row3, _ = num_item(st, r, '游离PSA/总PSA', 'F/T', '', '0.25', '', 2, kind='gt', v=fp / tp if tp else 0.3)
        psa = [row1, row2, row3]
        if opts.get('sections'):
            secs = [('肿瘤标志物', rows), ('前列腺特异性抗原', psa)]
        else:
            secs = [(None, rows + psa)]
    elif opts.get('sections'):
        secs = [('消化道肿瘤标志物', rows[:4]), ('其他肿瘤标志物', rows[4:])]
    return '肿瘤标志物', secs


def gen_coag(r, st, sex, child, opts):
    rows = []
    spec = [('凝血酶原时间', 'PT', 's', ('9.8', '12.1'), 1), ('国际标准化比值', 'INR', '', ('0.80', '1.20'), 2),
            ('凝血酶原活动度', 'PT%', '%', ('70', '130'), 0),
            ('活化部分凝血活酶时间', 'APTT', 's', ('25.0', '31.3'), 1), ('凝血酶时间', 'TT', 's', ('14.0', '21.0'), 1),
            ('纤维蛋白原', 'FIB', 'g/L', ('2.00', '4.00'), 2)]
    if r.random() < 0.6:
        spec.append(('D-二聚体', 'D-D', 'mg/L FEU', ('0', '0.55'), 2))
    ab_key = r.choice([x[1] for x in spec if x[1] in ('APTT', 'FIB', 'D-D', 'PT')])
    for name, code, unit, (lo, hi), dec in spec:
        ab = 'H' if code == ab_key else None
        row, _ = num_item(st, r, name, code, unit, lo, hi, dec, abn=ab)
        rows.append(row)
    return '凝血四项', [(None, rows)]


def gen_thyroid(r, st, sex, child, opts):
    spec = [('游离三碘甲状腺原氨酸', 'FT3', 'pmol/L', ('3.10', '6.80'), 2), ('游离甲状腺素', 'FT4', 'pmol/L', ('12.0', '22.0'), 2),
            ('促甲状腺激素', 'TSH', r.choice(['μIU/mL', 'mIU/L']), ('0.27', '4.20'), 3),
            ('三碘甲状腺原氨酸', 'T3', 'nmol/L', ('1.30', '3.10'), 2), ('甲状腺素', 'T4', 'nmol/L', ('66.0', '181.0'), 1),
            ('抗甲状腺球蛋白抗体', 'TGAb', 'IU/mL', ('0', '115'), 2), ('抗甲状腺过氧化物酶抗体', 'TPOAb', 'IU/mL', ('0', '34'), 2)]
    scen = r.choice(['hypo', 'hyper'])
    rows = []
    for name, code, unit, (lo, hi), dec in spec:
        ab = None
        if scen == 'hypo':
            ab = {'TSH': 'H', 'TPOAb': 'H' if r.random() < 0.5 else None}.get(code)
        else:
            ab = {'TSH': 'L', 'FT4': 'H'}.get(code)
        if code == 'TSH' and ab == 'L':
            row, _ = num_item(st, r, name, code, unit, lo, hi, dec, v=r.uniform(0.005, 0.08))
        else:
            row, _ = num_item(st, r, name, code, unit, lo, hi, dec, abn=ab)
        rows.append(row)
    return '甲功', [(None, rows)]


def gen_serology(r, st, sex, child, opts):
    scen = r.choice(['vaccinated', 'past'])
    hi_m, lo_m = st.marks()
    rows = []

    def add(name, code, unit, v, dec, kind, bound):
        s = fmt(v, dec)
        fv = float(s)
        if kind == 'lt':
            rs, flag = '<' + bound, (hi_m if fv >= float(bound) else '')
        else:
            rs, flag = '>' + bound, (lo_m if fv <= float(bound) else '')
        rows.append(Row(name, code, s, flag, rs, unit))
    add('乙肝表面抗原', 'HBsAg', 'IU/mL', r.uniform(0.0, 0.03), 2, 'lt', '0.05')
    add('乙肝表面抗体', 'HBsAb', 'mIU/mL', r.uniform(60, 520) if scen == 'vaccinated' else r.uniform(12, 80), 2, 'lt', '10.00')
    add('乙肝e抗原', 'HBeAg', 'S/CO', r.uniform(0.25, 0.45), 3, 'lt', '1.000')
    add('乙肝e抗体', 'HBeAb', 'S/CO', r.uniform(1.3, 2.2) if scen == 'vaccinated' else r.uniform(0.02, 0.6), 3, 'gt', '1.000')
    add('乙肝核心抗体', 'HBcAb', 'S/CO', r.uniform(0.1, 0.4) if scen == 'vaccinated' else r.uniform(6, 11), 3, 'lt', '1.000')
    add('丙肝抗体', 'HCV-Ab', 'S/CO', r.uniform(0.04, 0.2), 3, 'lt', '1.000')
    add('人类免疫缺陷病毒抗原抗体', 'HIV Ag/Ab', 'S/CO', r.uniform(0.1, 0.3), 3, 'lt', '1.000')
    add('梅毒螺旋体抗体', 'TP-Ab', 'S/CO', r.uniform(0.03, 0.15), 3, 'lt', '1.000')
    return '传染病', [(None, rows)]


GENERATORS = {'血常规': gen_cbc, '尿常规': gen_urine, '粪常规': gen_stool, '生化': gen_chem,
              '肿瘤标志物': gen_tumour, '凝血四项': gen_coag, '甲功': gen_thyroid, '传染病': gen_serology}

# --------------------------------------------------------------------------------------------
# sheet plans (fixed coverage; details vary with the seed)
# --------------------------------------------------------------------------------------------
P = lambda rt, paper, layout, prn, caps, **kw: dict(rt=rt, paper=paper, layout=layout, prn=prn, caps=caps, kw=kw)
PLANS = [
    P('血常规', 'A5L', 'two', 'laser', ['scan', 'phone'], cols='no_name_code_val_flag_unit_rng'),
    P('血常规', 'A4P', 'one', 'inkjet', ['phone'], cols='no_name_code_val_flag_rng_unit', grid='grid'),
    P('血常规', 'A4L', 'three', 'laser', ['scan'], flag='glued_arrow', short=True),
    P('血常规', 'STRIP', 'one', 'thermal', ['phone'], flag='glued_HL', short=True, crp=True),
    P('血常规', 'A5L', 'two', 'inkjet', ['scan', 'phone'], flag='col_HL'),
    P('尿常规', 'A4P', 'urine2', 'laser', ['phone', 'scan'], sed='flow'),
    P('生化', 'A4P', 'sections', 'laser', ['scan', 'phone'], n=34, tijian=True),
    P('粪常规', 'A5L', 'one', 'inkjet', ['phone']),
    P('肿瘤标志物', 'A5L', 'one', 'laser', ['scan'], sex='男'),
    P('血常规', 'A4P', 'two', 'laser', ['phone'], flag='glued_arrow', crp=True),
    P('尿常规', 'A5L', 'urine2', 'inkjet', ['scan'], sed='micro'),
    P('生化', 'A4P', 'two', 'laser', ['phone', 'scan'], n=36),
    P('凝血四项', 'A5L', 'one', 'laser', ['phone']),
    P('血常规', 'A4L', 'three', 'inkjet', ['phone'], flag='col_arrow', child=True),
    P('粪常规', 'STRIP', 'one', 'thermal', ['phone'], flag='glued_arrow'),
    P('生化', 'A5L', 'two', 'inkjet', ['scan'], n=18, groups=['肝功能', '肾功能', '血糖']),
    P('尿常规', 'A4P', 'urine2', 'laser', ['phone'], sed='micro', qstyle='cnsym'),
    P('甲功', 'A5L', 'one', 'laser', ['phone', 'scan']),
    P('血常规', 'A5L', 'two', 'laser', ['phone'], flag='glued_HL', rbc_first=True),
    P('生化', 'A4P', 'one', 'laser', ['scan', 'phone'], n=31, method=True),
    P('肿瘤标志物', 'A4P', 'sections', 'inkjet', ['phone'], tijian=True, sex='女'),
    P('粪常规', 'A4P', 'one', 'laser', ['scan'], hp_in_value=True, child=True),
    P('传染病', 'A5L', 'one', 'laser', ['phone'], flag='col_arrow'),
    P('血常规', 'A4P', 'one', 'laser', ['scan'], flag='col_cn', prev=True),
    P('尿常规', 'A5L', 'urine2', 'laser', ['phone', 'scan'], sed='flow', grid='grid', qstyle='sym'),
    P('生化', 'A4P', 'two', 'inkjet', ['phone'], n=33, sections=True),
    P('肿瘤标志物', 'STRIP', 'one', 'thermal', ['phone'], sex='男'),
    P('粪常规', 'A5L', 'one', 'inkjet', ['phone', 'scan'], flag='none', grid='grid'),
    P('尿常规', 'A4P', 'sections', 'laser', ['scan'], tijian=True, sed='flow'),
    P('血常规', 'A4P', 'sections', 'inkjet', ['phone'], tijian=True),
]

PAPER_MM = {'A4P': (210, 297), 'A4L': (297, 210), 'A5L': (210, 148), 'STRIP': (80, None)}

SURN = list('王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤')
GIVEN = list('伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力梅鹏飞斌宇浩凯鑫晨欣悦思雨婷佳琪子轩博宏志国庆春燕亮颖瑶晓俊峰')
PLACES = ['滨江', '临川', '青州', '南屏', '云阳', '海陵', '泰和', '白水', '东湖', '西岭', '丰城', '嘉禾', '宁远', '龙泉',
          '长乐', '清河', '桐城', '安平', '永宁', '江北', '汉川', '凤阳', '淮西', '金沙', '平湖', '太和', '松江', '沙溪',
          '柳南', '宝山']
HOSP_SUFFIX = ['市第一人民医院', '市中心医院', '医科大学附属第一医院', '大学附属第二医院', '省人民医院', '市中医医院',
               '市第三人民医院', '医学院附属医院', '市人民医院', '县人民医院', '市第二人民医院', '中西医结合医院',
               '市妇幼保健院', '市第四人民医院']
TITLES = ['检验报告单', '检验报告', '临床检验报告单', '检验结果报告单', '化验单', '检验报告单', '医学检验报告单']
DEPTS = ['心内科', '消化内科', '内分泌科', '肾内科', '普外科', '呼吸内科', '感染科', '泌尿外科', '全科医学科', '神经内科',
         '妇科', '急诊科', '血液内科', '骨科', '肿瘤科', '门诊内科']
DIAG = {'血常规': ['发热待查', '贫血', '上呼吸道感染', '肺炎', '体检', '头晕'],
        '尿常规': ['尿路感染', '慢性肾炎', '2型糖尿病', '腰痛待查', '体检', '血尿待查'],
        '粪常规': ['腹泻', '急性胃肠炎', '腹痛待查', '消化道出血?', '体检'],
        '生化': ['高血压病', '2型糖尿病', '脂肪肝', '慢性肾脏病', '体检', '冠心病'],
        '肿瘤标志物': ['体检', '肺结节', '胃炎', '前列腺增生', '乳腺结节'],
        '凝血四项': ['术前检查', '房颤', '下肢静脉血栓?'], '甲功': ['甲状腺结节', '甲减?', '心悸待查'],
        '传染病': ['术前检查', '入院筛查']}
SAMPLE = {'血常规': ['全血', 'EDTA抗凝血', '静脉血'], '尿常规': ['尿液', '中段尿', '晨尿'], '粪常规': ['粪便', '大便'],
          '生化': ['血清', '血清'], '肿瘤标志物': ['血清'], '凝血四项': ['枸橼酸钠抗凝血', '血浆'], '甲功': ['血清'],
          '传染病': ['血清']}
RT_TITLE = {'血常规': ['血常规', '血细胞分析', '血常规(五分类)', '全血细胞计数+五分类'],
            '尿常规': ['尿常规', '尿液分析', '尿常规+尿沉渣', '尿液分析(干化学+有形成分)'],
            '粪常规': ['粪便常规', '粪常规+隐血', '大便常规'], '生化': ['生化全套', '生化检验', '肝肾功能+血脂+电解质'],
            '肿瘤标志物': ['肿瘤标志物', '肿瘤标志物检测'], '凝血四项': ['凝血四项', '凝血功能'],
            '甲功': ['甲状腺功能', '甲功七项'], '传染病': ['乙肝五项+术前八项', '传染病筛查']}


def rname(r):
    return r.choice(SURN) + ''.join(r.choice(GIVEN) for _ in range(r.choice([1, 2, 2])))


def rdate(r):
    y = r.choice([2023, 2024, 2024])
    m, d = r.randint(1, 12), r.randint(1, 28)
    return y, m, d


# --------------------------------------------------------------------------------------------
# page rendering
# --------------------------------------------------------------------------------------------
COL_HDR = {
    'no': ['序号', 'No.', 'No', 'NO.'],
    'name': ['项目名称', '检验项目', '检测项目', '项目', '中文名称', '检验项目名称'],
    'code': ['代号', '英文缩写', '缩写', '项目代号', '代码', '简称'],
    'val': ['结果', '检验结果', '测定值', '结 果', '检测结果'],
    'flag': ['提示', '标志', '状态', '异常提示', ''],
    'rng': ['参考范围', '参考值', '参考区间', '生物参考区间', '参考值范围'],
    'unit': ['单位', '单位', '计量单位'],
    'meth': ['检测方法', '方法'],
    'prev': ['上次结果', '前次结果'],
}
ORDERS = ['no_name_code_val_flag_unit_rng', 'no_code_name_val_flag_rng_unit', 'name_val_flag_unit_rng',
          'no_name_val_flag_rng_unit', 'code_name_val_flag_unit_rng', 'no_name_code_val_flag_rng_unit',
          'no_name_val_unit_flag_rng']


class Sheet:
    def __init__(self, sid, plan, seed):
        self.sid = sid
        self.plan = plan
        self.r = random.Random(f'{seed}-{sid}')
        r = self.r
        kw = plan['kw']
        self.kw = kw
        self.st = Style(r)
        if kw.get('flag'):
            self.st.flag_style = kw['flag']
        if plan['prn'] == 'thermal' and self.st.flag_style in ('col_cn',):
            self.st.flag_style = 'glued_arrow'
        self.st.qual_mark = r.choice(['*', self.st.marks()[0], self.st.marks()[0]]) if self.st.marks()[0] else ''
        if self.st.flag_style == 'col_cn':
            self.st.qual_mark = '*'
        self.child = bool(kw.get('child'))
        self.sex = kw.get('sex') or r.choice(['男', '女'])
        if self.child:
            yrs = r.randint(2, 5)
            self.age = r.choice([f'{yrs}岁', f'{yrs}岁{r.randint(1, 11)}月'])
        else:
            a = r.randint(22, 78)
            self.age = f'{a}岁' if r.random() < 0.8 else str(a)
        rt = plan['rt']
        opts = dict(kw)
        if plan['layout'] == 'sections':
            opts['sections'] = True
        self.rt, self.secs = GENERATORS[rt](r, self.st, self.sex, self.child, opts)
        if kw.get('prev'):
            for _, rows in self.secs:
                for x in rows:
                    try:
                        fv = float(x.value)
                        dec = len(x.value.split('.')[1]) if '.' in x.value else 0
                        x.prev = fmt(fv * r.uniform(0.85, 1.15), dec) if r.random() < 0.85 else ''
                    except ValueError:
                        pass
        if self.st.bold_abn:
            for _, rows in self.secs:
                for x in rows:
                    x.bold = bool(x.flag)

    # ---------------------------------------------------------------- layout helpers
    def columns(self):
        r, kw = self.r, self.kw
        paper = self.plan['paper']
        if paper == 'STRIP':
            order = r.choice(['name_val_flag_unit_rng', 'name_val_flag_rng_unit', 'code_name_val_flag_rng'])
        elif self.plan['layout'] == 'three':
            order = r.choice(['code_name_val_flag_rng', 'name_val_flag_rng_unit', 'no_name_val_flag_rng'])
        else:
            order = kw.get('cols') or r.choice(ORDERS)
        cols = order.split('_')
        if self.st.flag_style.startswith('glued') or self.st.flag_style == 'none':
            cols = [c for c in cols if c != 'flag']
        if kw.get('method') and 'meth' not in cols:
            cols.append('meth')
        if kw.get('prev') and 'prev' not in cols:
            cols.insert(cols.index('val') + (2 if 'flag' in cols else 1), 'prev')
        if not any(x.unit for _, rows in self.secs for x in rows):
            cols = [c for c in cols if c != 'unit']
        has_codes = any(x.code for _, rows in self.secs for x in rows)
        if not has_codes:
            cols = [c for c in cols if c != 'code']
        self.glue_code = False
        if has_codes and 'code' not in cols and paper != 'STRIP' and self.plan['layout'] != 'three' \
                and r.random() < 0.5:
            self.glue_code = True
        if self.plan['layout'] == 'three' and 'code' in cols:
            pass
        return cols

    def cell(self, key, idx, row):
        if key == 'no':
            return str(idx)
        if key == 'name':
            if self.glue_code and row.code:
                return f'{row.name}({row.code})'
            return row.name
        if key == 'code':
            return row.code
        if key == 'val':
            fs = self.st.flag_style
            if fs.startswith('glued') and row.flag:
                return row.value + self.glue_sep + row.flag
            return row.value
        if key == 'flag':
            return row.flag
        if key == 'rng':
            return row.range
        if key == 'unit':
            return row.unit
        if key == 'meth':
            return row.method
        if key == 'prev':
            return row.prev
        return ''

    # ---------------------------------------------------------------- main render
    def render(self):
        r, plan = self.r, self.plan
        paper = plan['paper']
        wmm, hmm = PAPER_MM[paper]
        self.glue_sep = r.choice(['', ' ', ' '])
        tijian = bool(self.kw.get('tijian'))
        body_font = r.choice(['uming', 'uming', 'notoserif', 'notosans', 'zen', 'micro', 'notoserif'])
        if plan['prn'] == 'thermal':
            body_font = r.choice(['zen', 'notosans', 'micro', 'mono'])
        title_font = r.choice(['notoserif_b', 'notosans_b', 'zen', 'notoserif_b'])
        self.body_font, self.title_font = body_font, title_font
        cols = self.columns()
        self.cols = cols
        hdr = {c: r.choice(COL_HDR[c]) for c in cols}
        if 'flag' in cols and not hdr['flag'] and self.st.flag_style == 'col_cn':
            hdr['flag'] = '提示'
        grid = self.kw.get('grid') or r.choice(['rules', 'rules', 'rules', 'none', 'grid'])
        if paper == 'STRIP':
            grid = r.choice(['none', 'rules'])
        self.grid = grid

        # blocks
        layout = plan['layout']
        blocks = []  # list of dict(title, entries)
        if layout == 'urine2':
            t1 = r.choice(['干化学分析', '尿干化学', '尿液干化学检查'])
            t2 = r.choice(['尿沉渣分析', '尿有形成分分析', '尿沉渣镜检']) if self.secs[1][1][0].unit != '/HP' else \
                r.choice(['尿沉渣镜检', '显微镜检查'])
            blocks = [dict(title=t1, entries=[('item', x) for x in self.secs[0][1]]),
                      dict(title=t2, entries=[('item', x) for x in self.secs[1][1]])]
        else:
            entries = []
            for title, rows in self.secs:
                if title and layout in ('sections', 'two') and (layout == 'sections' or self.kw.get('sections')):
                    entries.append(('sec', title))
                entries += [('item', x) for x in rows]
            nb = {'one': 1, 'sections': 1, 'two': 2, 'three': 3}[layout]
            if nb == 1:
                blocks = [dict(title=None, entries=entries)]
            else:
                n_items = sum(1 for e in entries if e[0] == 'item')
                per = math.ceil(n_items / nb)
                cur, cnt = [], 0
                for e in entries:
                    if e[0] == 'item' and cnt == per and len(blocks) < nb - 1:
                        blocks.append(dict(title=None, entries=cur))
                        cur, cnt = [], 0
                    if e[0] == 'sec' and cnt >= per - 2 and len(blocks) < nb - 1 and cur:
                        blocks.append(dict(title=None, entries=cur))
                        cur, cnt = [], 0
                    cur.append(e)
                    cnt += e[0] == 'item'
                blocks.append(dict(title=None, entries=cur))
        self.blocks = blocks

        # page size
        W = wmm * PX_MM
        max_lines = max(len(b['entries']) for b in blocks) + 1 + (1 if blocks[0]['title'] else 0)
        if paper == 'STRIP':
            base = r.randint(19, 21)
            rowf = r.uniform(1.45, 1.6)
            H = int(110 * PX_MM + max_lines * base * rowf + 60 * PX_MM / 2)
        else:
            H = hmm * PX_MM
        img = Image.new('L', (W, H), 255)
        d = ImageDraw.Draw(img)
        self.d = d
        mx = int((r.uniform(10, 16) if paper != 'STRIP' else 4) * PX_MM)
        x0, x1 = mx, W - mx
        y = int((r.uniform(8, 14) if paper != 'STRIP' else 6) * PX_MM)

        # -------- header
        hosp = r.choice(PLACES) + r.choice(HOSP_SUFFIX)
        title = r.choice(TITLES)
        if tijian:
            hosp = hosp + '健康管理中心' if r.random() < 0.6 else hosp.replace('医院', '医院体检中心')
            title = r.choice(['健康体检检验报告', '体检检验结果报告单', '体检化验结果'])
        fsz_body = {'A4P': 24, 'A4L': 24, 'A5L': 22, 'STRIP': 20}[paper]
        fsz_title = int(fsz_body * r.uniform(1.5, 1.9))
        if paper == 'STRIP':
            fsz_title = 26
        cx = W / 2
        hstyle = r.choice(['two_lines', 'one_line', 'two_lines', 'logo']) if paper != 'STRIP' else 'two_lines'
        barcode = paper != 'STRIP' and r.random() < 0.5
        if hstyle == 'one_line':
            y += fsz_title
            draw_text(d, cx, y, hosp + title, title_font, fsz_title, align='c')
            y += int(fsz_title * 0.6)
        else:
            y += fsz_title
            if hstyle == 'logo':
                rr = int(fsz_title * 0.75)
                lx = cx - text_w(hosp, title_font, fsz_title) / 2 - rr * 2 - 10
                d.ellipse([lx, y - fsz_title * 0.9, lx + 2 * rr, y - fsz_title * 0.9 + 2 * rr], outline=0, width=3)
                d.line([lx + rr, y - fsz_title * 0.9 + 6, lx + rr, y - fsz_title * 0.9 + 2 * rr - 6], fill=0, width=4)
                d.line([lx + 6, y - fsz_title * 0.9 + rr, lx + 2 * rr - 6, y - fsz_title * 0.9 + rr], fill=0, width=4)
            draw_text(d, cx, y, hosp, title_font, fsz_title, align='c')
            y += int(fsz_title * 1.35)
            tsz = int(fsz_title * r.uniform(0.8, 1.0))
            sub = title
            if r.random() < 0.35 and paper != 'STRIP':
                sub = r.choice(RT_TITLE[self.rt]) + title if r.random() < 0.5 else title
            draw_text(d, cx, y, sub, title_font, tsz, align='c')
            if r.random() < 0.25 and paper != 'STRIP':
                y += int(fsz_body * 1.2)
                draw_text(d, cx, y, 'Laboratory Report', 'dejavu', int(fsz_body * 0.8), align='c')
            y += int(tsz * 0.6)
        if barcode:
            bx = x1 - 60 * PX_MM // 2
            by = int(6 * PX_MM)
            xx = bx
            while xx < x1 - 4:
                w_ = r.choice([2, 2, 3, 4, 6])
                if r.random() < 0.55:
                    d.rectangle([xx, by, xx + w_ - 1, by + 9 * PX_MM], fill=0)
                xx += w_
            draw_text(d, bx, by + 9 * PX_MM + 22, str(r.randint(10 ** 9, 10 ** 10 - 1)), 'dejavu', 18)

        y += int(fsz_body * 0.8)
        # -------- patient fields
        yy, mm, dd = rdate(r)
        hh, mi = r.randint(7, 10), r.randint(0, 59)
        dt_coll = f'{yy}-{mm:02d}-{dd:02d} {hh:02d}:{mi:02d}'
        dt_recv = f'{yy}-{mm:02d}-{dd:02d} {hh + 1:02d}:{(mi + 17) % 60:02d}'
        dt_rep = f'{yy}-{mm:02d}-{dd:02d} {hh + 3:02d}:{(mi + 41) % 60:02d}'
        self.dates = (dt_coll, dt_recv, dt_rep)
        sp = lambda s: ('\u3000'.join(s) if len(s) == 2 and self.spaced_labels else s)
        self.spaced_labels = r.random() < 0.3
        inpatient = r.random() < 0.45
        fields = [(sp('姓名'), rname(r)), (sp('性别'), self.sex), (sp('年龄'), self.age)]
        if tijian:
            opt = [('体检号', f'TJ{yy}{r.randint(100000, 999999)}'), ('单位', r.choice(['个人', '某某科技有限公司', '市直机关'])),
                   ('体检日期', f'{yy}-{mm:02d}-{dd:02d}'), ('样本类型', r.choice(SAMPLE[self.rt])),
                   ('条码号', str(r.randint(10 ** 9, 10 ** 10 - 1)))]
        else:
            idlab = '住院号' if inpatient else r.choice(['门诊号', '病历号', 'ID号'])
            opt = [(idlab, str(r.randint(10 ** 6, 10 ** 8))),
                   (r.choice(['科别', '科室', '申请科室']), ('' if not inpatient else '') + r.choice(DEPTS)),
                   (r.choice(['标本类型', '样本类型', '标本种类', '标本']), r.choice(SAMPLE[self.rt])),
                   (r.choice(['送检医生', '申请医生', '送检医师']), rname(r)),
                   (r.choice(['临床诊断', '诊断']), r.choice(DIAG[self.rt])),
                   (r.choice(['样本号', '标本号', '条码号']), str(r.randint(1, 999)) if r.random() < 0.5 else
                    str(r.randint(10 ** 9, 10 ** 10 - 1)))]
            if inpatient:
                opt.insert(2, (sp('床号'), f'{r.randint(1, 60)}床' if r.random() < 0.5 else str(r.randint(1, 60))))
            if r.random() < 0.5:
                opt.append((r.choice(['采样时间', '采集时间']), dt_coll))
        k = r.randint(max(3, len(opt) - 3), len(opt)) if paper != 'STRIP' else r.randint(3, 4)
        fields += opt[:k]
        if r.random() < 0.5 and paper != 'STRIP':
            # mix order but keep name first
            tail = fields[1:]
            r.shuffle(tail)
            fields = fields[:1] + tail
        ncol = {'A4P': r.choice([3, 4]), 'A4L': 4, 'A5L': r.choice([3, 4]), 'STRIP': 2}[paper]
        if paper == 'STRIP':
            ncol = 1
        colon = r.choice(['：', ':', '：'])
        fsz_f = fsz_body
        if r.random() < 0.4 or paper == 'STRIP':
            pass
        else:
            d.line([x0, y - 4, x1, y - 4], fill=0, width=r.choice([1, 2, 3]))
            y += 10
        cw = (x1 - x0) / ncol
        # shrink field font until everything fits
        while True:
            ok = all(text_w(f'{a}{colon}{b}', body_font, fsz_f) < cw * (2 if len(b) > 14 else 1) - 8
                     for a, b in fields) or fsz_f <= 14
            if ok:
                break
            fsz_f -= 1
        lh = int(fsz_f * 1.55)
        ci = 0
        y += lh
        for a, b in fields:
            span = 2 if (text_w(f'{a}{colon}{b}', body_font, fsz_f) > cw - 8) else 1
            if ci + span > ncol:
                ci = 0
                y += lh
            xx = x0 + ci * cw
            draw_text(d, xx, y, f'{a}{colon}{b}', body_font, fsz_f)
            ci += span
            if ci >= ncol:
                ci = 0
                y += lh
        if ci != 0:
            y += lh
        y -= int(lh * 0.45)
        d.line([x0, y, x1, y], fill=0, width=r.choice([1, 2, 2]))
        y += 8

        # -------- footer (measure first)
        foot = self.footer_lines(fsz_body)
        foot_h = sum(int(s * 1.6) for _, s in foot) + 20
        table_bottom_limit = H - int((r.uniform(8, 12) if paper != 'STRIP' else 5) * PX_MM) - foot_h
        # -------- table
        gap = int(r.uniform(4, 8) * PX_MM) if len(blocks) > 1 else 0
        y_end = self.draw_table(d, blocks, cols, hdr, x0, x1, y + 4, table_bottom_limit, fsz_body, gap, grid,
                                fixed_rowf=(rowf if paper == 'STRIP' else None))
        # -------- footer
        fy = y_end + int(fsz_body * 0.8)
        if paper != 'STRIP' and r.random() < 0.5:
            fy = max(fy, table_bottom_limit + 10)
        for text_, s in foot:
            fy += int(s * 1.6)
            if text_ == '--':
                d.line([x0, fy - s, x1, fy - s], fill=0, width=1)
                continue
            if isinstance(text_, tuple):
                parts = text_
                cwf = (x1 - x0) / len(parts)
                for i, p in enumerate(parts):
                    draw_text(d, x0 + i * cwf, fy, p, body_font, s)
            else:
                al = 'c' if text_.startswith('第') else 'l'
                draw_text(d, cx if al == 'c' else x0, fy, text_, body_font, s, align=al)
        if paper == 'STRIP':
            img = img.crop((0, 0, W, min(H, fy + 12 * PX_MM)))
        self.page = img
        self.hosp = hosp
        return img

    def footer_lines(self, fsz):
        r = self.r
        s = int(fsz * 0.9)
        coll, recv, rep = self.dates
        out = []
        if self.plan['paper'] == 'STRIP':
            out.append(('--', s))
            out.append((f'报告时间:{rep}', s))
            out.append((f'检验者:{rname(r)}  审核者:{rname(r)}', s))
            out.append(('本结果仅对该标本负责', s))
            return out
        out.append(('--', s))
        a = (f'{r.choice(["接收时间", "收样时间"])}：{recv}', f'{r.choice(["报告时间", "报告日期"])}：{rep}')
        if r.random() < 0.5:
            a = (f'{r.choice(["采样时间", "采集时间"])}：{coll}',) + a
        b = (f'{r.choice(["检验者", "检验人", "检验医师"])}：{rname(r)}', f'{r.choice(["审核者", "审核人", "审核医师"])}：{rname(r)}')
        if r.random() < 0.5:
            out += [(a, s), (b, s)]
        else:
            out += [(b, s), (a, s)]
        note = r.choice(['备注：本报告仅对所检测标本负责，如有疑问请于三日内与检验科联系。',
                         '注：本检验结果仅对本次送检标本负责，结果仅供临床参考。',
                         '*本报告仅对所检测标本负责。   检验科电话：' + f'0{r.randint(100, 999)}-{r.randint(1000000, 8999999)}',
                         '备注：结果仅供临床参考，请结合临床综合分析。'])
        out.append((note, int(s * 0.9)))
        if self.st.flag_style in ('col_arrow', 'glued_arrow') and r.random() < 0.5:
            out.append(('说明：↑表示结果高于参考范围，↓表示结果低于参考范围', int(s * 0.85)))
        if r.random() < 0.7:
            out.append((r.choice(['第 1 页 / 共 1 页', '第1页 共1页', '第1页/共1页']), int(s * 0.85)))
        return out

    def draw_table(self, d, blocks, cols, hdr, x0, x1, y0, y_lim, size0, gap, grid, fixed_rowf=None):
        r = self.r
        nb = len(blocks)
        bw = (x1 - x0 - gap * (nb - 1)) / nb
        rowf = fixed_rowf or r.uniform(1.55, 1.95)
        max_lines = max(len(b['entries']) for b in blocks) + 1 + (1 if blocks[0]['title'] else 0)
        size = int(size0 * 1.25)
        bf = self.body_font
        hdr_bold = r.random() < 0.5
        while True:
            row_h = size * rowf
            if max_lines * row_h > (y_lim - y0) and size > 12:
                size -= 1
                continue
            widths_all = []
            fits = True
            for b in blocks:
                ws = {}
                idx = 0
                for c in cols:
                    w = text_w(hdr[c], bf, size) + (2 if hdr_bold else 0)
                    idx = 0
                    for e in b['entries']:
                        if e[0] != 'item':
                            continue
                        idx += 1
                        w = max(w, text_w(self.cell(c, idx, e[1]), bf, size) + (2 if e[1].bold else 0))
                    ws[c] = w + size * 0.75
                if sum(ws.values()) > bw:
                    fits = False
                widths_all.append(ws)
            if fits or size <= 12:
                break
            size -= 1
        self.table_font_size = size
        # if there is plenty of vertical room, increase row height a bit (up to 2.3x)
        row_h = min(size * 2.3, max(size * rowf, (y_lim - y0) / max_lines * 0.75)) if not fixed_rowf else size * rowf
        # common column widths across blocks (LIS prints identical block layouts)
        wmax = {c: max(ws[c] for ws in widths_all) for c in cols}
        total = sum(wmax.values())
        if total > bw:
            scale = bw / total
            wmax = {c: w * scale for c, w in wmax.items()}
        else:
            extra = bw - total
            weights = {c: {'name': 3, 'rng': 2, 'val': 1.5, 'unit': 1, 'flag': 0.6, 'no': 0.3, 'code': 1,
                           'meth': 1, 'prev': 1}[c] for c in cols}
            sw = sum(weights.values())
            wmax = {c: wmax[c] + extra * weights[c] / sw for c in cols}
        val_align = r.choice(['l', 'l', 'c', 'r'])
        rng_align = r.choice(['l', 'l', 'c'])
        aligns = {'no': 'c', 'name': 'l', 'code': 'l', 'val': val_align, 'flag': 'c', 'rng': rng_align, 'unit': 'l',
                  'meth': 'l', 'prev': val_align}
        y_bottom = y0
        lw_thick = r.choice([2, 3])
        for bi, b in enumerate(blocks):
            bx = x0 + bi * (bw + gap)
            y = y0
            if b['title']:
                y += row_h
                draw_text(d, bx + 4, y - row_h * 0.28, b['title'], self.title_font, int(size * 1.05))
            # header row
            if grid in ('rules', 'grid'):
                d.line([bx, y, bx + bw, y], fill=0, width=lw_thick)
            ytop_tab = y
            y += row_h
            xs = [bx]
            for c in cols:
                xs.append(xs[-1] + wmax[c])
            for ci, c in enumerate(cols):
                cx0, cx1 = xs[ci] + size * 0.3, xs[ci + 1] - size * 0.3
                ax = {'l': cx0, 'c': (cx0 + cx1) / 2, 'r': cx1}[aligns[c] if c not in ('val',) else
                                                               ('c' if val_align == 'c' else 'l')]
                draw_text(d, ax, y - row_h * 0.3, hdr[c], bf, size,
                          align=aligns[c] if c != 'val' else ('c' if val_align == 'c' else 'l'), bold=hdr_bold)
            if grid in ('rules', 'grid'):
                d.line([bx, y, bx + bw, y], fill=0, width=1 if grid == 'grid' else r.choice([1, 2]))
            elif grid == 'none':
                xx = bx
                while xx < bx + bw:
                    d.line([xx, y - 2, min(xx + 8, bx + bw), y - 2], fill=0, width=1)
                    xx += 14
            idx = 0
            for e in b['entries']:
                y += row_h
                if e[0] == 'sec':
                    draw_text(d, bx + size * 0.3, y - row_h * 0.3, self.sec_label(e[1]), self.title_font, size)
                    if grid == 'grid':
                        d.line([bx, y, bx + bw, y], fill=0, width=1)
                    continue
                idx += 1
                row = e[1]
                for ci, c in enumerate(cols):
                    t = self.cell(c, idx, row)
                    if not t:
                        continue
                    cx0, cx1 = xs[ci] + size * 0.3, xs[ci + 1] - size * 0.3
                    al = aligns[c]
                    ax = {'l': cx0, 'c': (cx0 + cx1) / 2, 'r': cx1}[al]
                    draw_text(d, ax, y - row_h * 0.3, t, bf, size, align=al,
                              bold=row.bold and c in ('val', 'flag'))
                if grid == 'grid':
                    d.line([bx, y, bx + bw, y], fill=0, width=1)
            if grid == 'grid':
                for xv in xs:
                    d.line([xv, ytop_tab, xv, y], fill=0, width=1)
            y_bottom = max(y_bottom, y)
        if grid == 'rules':
            d.line([x0, y_bottom + 4, x1, y_bottom + 4], fill=0, width=lw_thick)
        self.row_h = row_h
        return y_bottom + 4

    def sec_label(self, t):
        if not hasattr(self, '_secfmt'):
            self._secfmt = self.r.choice(['【{}】', '■{}', '▲ {}', '{}：', '〖{}〗'])
        return self._secfmt.format(t)

    # ---------------------------------------------------------------- transcript
    def transcript(self, files):
        items = []
        for bi, b in enumerate(self.blocks):
            idx = 0
            for e in b['entries']:
                if e[0] != 'item':
                    continue
                idx += 1
                x = e[1]
                items.append({'block': bi + 1, 'row': idx, 'name_printed': x.name, 'code_printed': x.code
                              if ('code' in self.cols or self.glue_code) else '',
                              'value': x.value, 'flag_printed': x.flag, 'range_printed': x.range,
                              'unit_printed': x.unit if 'unit' in self.cols else '', 'uncertain': []})
        return items


# --------------------------------------------------------------------------------------------
# print simulation and capture
# --------------------------------------------------------------------------------------------
def lowfreq(r, h, w, cells=(6, 8), lo=0.0, hi=1.0):
    small = np.array([[r.uniform(lo, hi) for _ in range(cells[1])] for _ in range(cells[0])], np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def print_sim(page, kind, r):
    a = (255 - np.asarray(page, np.float32)) / 255.0
    h, w = a.shape
    nrng = np.random.default_rng(r.randint(0, 2 ** 31))
    if kind == 'laser':
        a = cv2.GaussianBlur(a, (0, 0), 0.55)
        a = np.clip(a * 1.1, 0, 1)
        ink = np.array([22, 22, 24], np.float32)
        paper = np.array([252, 252, 250], np.float32)
        strength = 0.97 + 0.03 * lowfreq(r, h, w)
    elif kind == 'inkjet':
        a = cv2.GaussianBlur(a, (0, 0), 0.9)
        a = np.clip(a * 1.35, 0, 1)
        ink = np.array([r.randint(25, 40), r.randint(25, 40), r.randint(40, 60)], np.float32)
        paper = np.array([250, 250, 247], np.float32)
        period = r.uniform(24, 60)
        band = 1 - 0.13 * (0.5 + 0.5 * np.sin(np.arange(h) / period * 2 * np.pi))[:, None]
        strength = band * (0.92 + 0.08 * lowfreq(r, h, w))
    else:  # thermal
        a = cv2.GaussianBlur(a, (0, 0), 0.6)
        a = np.clip(a * 1.2, 0, 1)
        ink = np.array([r.randint(55, 80)] * 2 + [r.randint(65, 90)], np.float32)
        paper = np.array([240, 239, 234], np.float32)
        strength = 0.58 + 0.4 * lowfreq(r, h, w, (10, 3))
        for _ in range(r.randint(1, 3)):  # faint vertical head streak
            xx = r.randrange(w)
            strength[:, xx:xx + r.randint(1, 3)] *= 0.6
    pap = paper[None, None, :] * (1 + nrng.normal(0, 0.006, (h, w, 1)).astype(np.float32))
    s = (a * strength)[:, :, None]
    out = pap * (1 - s) + ink[None, None, :] * s
    return np.clip(out, 0, 255).astype(np.uint8)


def capture_scan(rgb, r, paper):
    h, w = rgb.shape[:2]
    bed = np.array([r.randint(238, 250)] * 3, np.float32)
    pad = int(max(h, w) * r.uniform(0.015, 0.03))
    canvas = np.empty((h + 2 * pad, w + 2 * pad, 3), np.uint8)
    canvas[:] = bed.astype(np.uint8)
    canvas[pad:pad + h, pad:pad + w] = rgb
    ang = r.uniform(-1.0, 1.0)
    H_, W_ = canvas.shape[:2]
    M = cv2.getRotationMatrix2D((W_ / 2, H_ / 2), ang, 1.0)
    canvas = cv2.warpAffine(canvas, M, (W_, H_), flags=cv2.INTER_LINEAR, borderValue=tuple(int(v) for v in bed))
    long_target = r.randint(2000, 2400) if paper in ('A4P', 'A4L') else r.randint(1700, 2100)
    sc = long_target / max(H_, W_)
    canvas = cv2.resize(canvas, (int(W_ * sc), int(H_ * sc)), interpolation=cv2.INTER_AREA if sc < 1 else
                        cv2.INTER_CUBIC)
    nrng = np.random.default_rng(r.randint(0, 2 ** 31))
    canvas = np.clip(canvas.astype(np.float32) + nrng.normal(0, 1.8, canvas.shape), 0, 255).astype(np.uint8)
    return canvas, r.randint(85, 92), f'flat scan, rotation {ang:+.2f} deg'


def desk(r, h, w):
    """Desk background (BGR float32), built at quarter resolution then upscaled."""
    nrng = np.random.default_rng(r.randint(0, 2 ** 31))
    h4, w4 = h // 4 + 1, w // 4 + 1
    kind = r.choice(['wood', 'grey', 'dark', 'wood'])
    if kind == 'wood':
        base = np.array([r.randint(95, 140), r.randint(120, 160), r.randint(160, 200)], np.float32)  # BGR
        stripes = np.sin(np.linspace(0, r.uniform(30, 70), h4)[:, None] + lowfreq(r, h4, w4, (4, 4), 0, 6)) * 0.08
        img = base[None, None, :] * (1 + stripes[:, :, None])
    elif kind == 'grey':
        g = r.randint(150, 195)
        img = np.full((h4, w4, 3), g, np.float32) * np.array([1.0, 1.0, 0.98], np.float32)
    else:
        img = np.full((h4, w4, 3), r.randint(45, 75), np.float32) * np.array([1.05, 1.0, 0.95], np.float32)
    img *= (0.9 + 0.2 * lowfreq(r, h4, w4, (3, 3)))[:, :, None]
    img += nrng.normal(0, 3, (h4, w4, 3)).astype(np.float32)
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    return img, kind


def capture_phone(rgb_page, r, paper):
    ph, pw = rgb_page.shape[:2]
    portrait = ph >= pw
    if paper == 'STRIP':
        L = r.randint(2300, 2900)
    elif paper.startswith('A4'):
        L = r.randint(2300, 3000)
    else:
        L = r.randint(1900, 2600)
    S = int(L * 3 / 4)
    Wf, Hf = (S, L) if portrait else (L, S)
    fill = r.uniform(0.72, 0.93)
    ang = r.uniform(-6, 6)
    key = r.uniform(0.0, 0.09)
    key_dir = r.choice(['top', 'bottom', 'left', 'right'])
    # keep the apparent tilt of the page edges moderate: the shift of the shortened edge, seen from the
    # perpendicular edges, is key*(edge ratio)/2
    ratio = (pw / ph) if key_dir in ('top', 'bottom') else (ph / pw)
    key = min(key, 0.09 / max(ratio, 1.0))
    s = fill * min(Wf / pw, Hf / ph)
    for _ in range(30):
        w2, h2 = pw * s / 2, ph * s / 2
        pts = np.array([[-w2, -h2], [w2, -h2], [w2, h2], [-w2, h2]], np.float32)
        k = key
        if key_dir == 'top':
            pts[0, 0] *= 1 - k; pts[1, 0] *= 1 - k
        elif key_dir == 'bottom':
            pts[2, 0] *= 1 - k; pts[3, 0] *= 1 - k
        elif key_dir == 'left':
            pts[0, 1] *= 1 - k; pts[3, 1] *= 1 - k
        else:
            pts[1, 1] *= 1 - k; pts[2, 1] *= 1 - k
        jit = np.array([[r.uniform(-1, 1), r.uniform(-1, 1)] for _ in range(4)], np.float32) * 0.008 * max(w2, h2)
        pts = pts + jit
        th = math.radians(ang)
        R = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]], np.float32)
        pts = pts @ R.T
        off = np.array([r.uniform(-0.03, 0.03) * Wf, r.uniform(-0.03, 0.03) * Hf], np.float32)
        pts = pts + np.array([Wf / 2, Hf / 2], np.float32) + off
        m = 0.015 * min(Wf, Hf)
        if pts[:, 0].min() >= m and pts[:, 1].min() >= m and pts[:, 0].max() <= Wf - m and pts[:, 1].max() <= Hf - m:
            break
        s *= 0.97
    # pre-shrink page for better resampling
    pre = min(1.0, s * 1.15)
    if pre < 1.0:
        src_img = cv2.resize(rgb_page, (int(pw * pre), int(ph * pre)), interpolation=cv2.INTER_AREA)
    else:
        src_img = rgb_page
    sh, sw = src_img.shape[:2]
    src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float32)
    Hm = cv2.getPerspectiveTransform(src, pts.astype(np.float32))
    bgr_page = cv2.cvtColor(src_img, cv2.COLOR_RGB2BGR)
    warped = cv2.warpPerspective(bgr_page, Hm, (Wf, Hf), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    mask = cv2.warpPerspective(np.full((sh, sw), 255, np.uint8), Hm, (Wf, Hf), flags=cv2.INTER_LINEAR)
    maskf = mask.astype(np.float32)[:, :, None] / 255.0
    bg, bgkind = desk(r, Hf, Wf)
    q = 8  # low-resolution factor for smooth fields
    hq, wq = Hf // q + 1, Wf // q + 1
    small_mask = cv2.resize(mask, (wq, hq), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    sh_m = cv2.GaussianBlur(np.roll(np.roll(small_mask, 1, 0), 1, 1), (0, 0), 1.2)
    sh_m = cv2.resize(sh_m, (Wf, Hf), interpolation=cv2.INTER_LINEAR)
    bg *= (1 - 0.35 * sh_m)[:, :, None]
    img = bg * (1 - maskf) + warped.astype(np.float32) * maskf
    del bg, warped
    # lighting: gradient + vignette + soft shadow (computed small, upscaled)
    yy, xx = np.mgrid[0:hq, 0:wq].astype(np.float32)
    yy /= hq
    xx /= wq
    gdir = r.uniform(0, 2 * math.pi)
    g = (np.cos(gdir) * (xx - 0.5) + np.sin(gdir) * (yy - 0.5))
    light = 1.0 + g * r.uniform(0.12, 0.28)
    light *= 1 - 0.18 * (((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 2)
    shadow_desc = 'no shadow'
    if r.random() < 0.65:
        sm = np.zeros((hq, wq), np.float32)
        corner = r.choice(['tl', 'tr', 'bl', 'br', 'l', 'r'])
        cxs = {'tl': (0, 0), 'tr': (wq, 0), 'bl': (0, hq), 'br': (wq, hq), 'l': (0, hq // 2), 'r': (wq, hq // 2)}[corner]
        cv2.ellipse(sm, (int(cxs[0]), int(cxs[1])), (int(wq * r.uniform(0.25, 0.45)), int(hq * r.uniform(0.2, 0.4))),
                    r.uniform(0, 180), 0, 360, 1.0, -1)
        sm = cv2.GaussianBlur(sm, (0, 0), min(wq, hq) * 0.06)
        light *= 1 - r.uniform(0.15, 0.28) * sm
        shadow_desc = f'soft shadow {corner}'
    light = cv2.resize(light, (Wf, Hf), interpolation=cv2.INTER_LINEAR)
    cast = np.array([r.uniform(0.93, 1.0), 1.0, r.uniform(1.0, 1.06)], np.float32)  # BGR -> warm
    img *= light[:, :, None]
    img *= cast[None, None, :] * r.uniform(0.95, 1.05)
    sig = r.uniform(0.6, 1.1)
    img = cv2.GaussianBlur(img, (0, 0), sig)
    nrng = np.random.default_rng(r.randint(0, 2 ** 31))
    img += nrng.normal(0, r.uniform(2, 3.5), img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    out = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    desc = (f'phone photo {Wf}x{Hf}, rotation {ang:+.1f} deg, keystone {key * 100:.0f}% ({key_dir}), '
            f'fill {fill * 100:.0f}%, {bgkind} desk, {shadow_desc}, blur {sig:.1f}')
    return out, r.randint(75, 90), desc


# --------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('-n', type=int, default=30)
    args = ap.parse_args()
    t0 = time.time()
    img_dir = os.path.join(args.out, 'images')
    tr_dir = os.path.join(args.out, 'transcripts')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(tr_dir, exist_ok=True)
    csv_rows = []
    for i in range(args.n):
        plan = PLANS[i % len(PLANS)]
        sid = f'BA{i + 1:03d}'
        sh = Sheet(sid, plan, args.seed)
        page = sh.render()
        rr = random.Random(f'{args.seed}-{sid}-cap')
        printed = print_sim(page, plan['prn'], rr)
        files, cap_desc = [], []
        for cap in plan['caps']:
            if cap == 'scan':
                img, q, desc = capture_scan(printed, rr, plan['paper'])
            else:
                img, q, desc = capture_phone(printed, rr, plan['paper'])
            fn = f'{sid}__{cap}.jpg'
            Image.fromarray(img).save(os.path.join(img_dir, fn), quality=q)
            files.append(fn)
            cap_desc.append(f'{desc}, JPEG q{q}')
            csv_rows.append((fn, sid, sh.rt))
        items = sh.transcript(files)
        nb = len(sh.blocks)
        lay = {1: 'one block', 2: 'two blocks side by side', 3: 'three blocks side by side'}[nb]
        if plan['layout'] == 'urine2':
            lay = 'two blocks: dry chemistry left, sediment right, each with a subtitle and its own header row'
        if plan['layout'] == 'sections' or sh.kw.get('sections'):
            lay += ', physical-exam-centre style section headings inside the block (not items)'
        fs = sh.st.flag_style
        flag_desc = {'col_arrow': 'separate flag column with arrows', 'col_HL': 'separate flag column with H/L',
                     'col_cn': 'separate flag column with 偏高/偏低', 'glued_arrow': 'arrow glued to the value',
                     'glued_HL': 'H/L glued to the value',
                     'none': 'this sheet style prints NO abnormal marks at all (flag_printed empty everywhere)'}[fs]
        extras = []
        if 'no' in sh.cols:
            extras.append('row numbers')
        if sh.glue_code:
            extras.append('code glued to the name as name(CODE)')
        elif 'code' in sh.cols:
            extras.append('separate code column')
        if 'meth' in sh.cols:
            extras.append('method column (not transcribed)')
        if 'prev' in sh.cols:
            extras.append('previous-result column (not transcribed)')
        if 'unit' not in sh.cols:
            extras.append('no unit column')
        notes = (f'{sh.hosp}; layout: {lay}; columns: {"/".join(sh.cols)}; {flag_desc}; grid: {sh.grid}; '
                 f'{", ".join(extras)}; print: {plan["prn"]} on {plan["paper"]}; font {sh.body_font}; '
                 f'captures: {" | ".join(cap_desc)}')
        tr = {'sheet': sid, 'files': files, 'report_type': sh.rt, 'transcriber': 'blind-generator',
              'patient': {'sex': sh.sex, 'age': sh.age}, 'items': items, 'rows_not_legible': [], 'notes': notes}
        with open(os.path.join(tr_dir, f'{sid}.json'), 'w', encoding='utf-8') as f:
            json.dump(tr, f, ensure_ascii=False, indent=1)
    with open(os.path.join(args.out, 'images.csv'), 'w', newline='', encoding='utf-8') as f:
        w = csv.writer(f)
        w.writerow(['file', 'sheet', 'report_type'])
        w.writerows(csv_rows)
    print(f'{args.n} sheets, {len(csv_rows)} images -> {args.out} in {time.time() - t0:.1f}s')


if __name__ == '__main__':
    main()
