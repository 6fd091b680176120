"""The realistic synthetic sheets (synth/realistic.py) look like printed reports: drawn on small inputs."""
import random
from types import SimpleNamespace

import numpy as np

from synth.generate import available_fonts
from synth.realistic import _render

HEADER = {"hospital": "临江县人民医院", "title": "血常规检验报告单", "name": "某某", "sex_zh": "男", "age": 40,
          "sample": "全血", "dept": "门诊", "mrn": "1234567"}


def test_a_long_name_is_printed_condensed_inside_its_column(_cjk_font):
    """On a three-block sheet the name column is narrow: a 14-character name at the sheet's type size runs past
    it. It is printed in smaller type within its column, never over the result beside it (a printer does not
    overprint; an overprinted digit is unreadable, not a recognition test)."""
    long = SimpleNamespace(name="平均红细胞血红蛋白浓度测定值", value_text="327", arrow="", range_text="316--354",
                           unit_text="g/L")
    rows = [long] * 3
    img = np.asarray(_render(random.Random(1), rows, HEADER, available_fonts()[0], 3, False).convert("L"))
    # the layout _render uses: 3 blocks across 2300 px, columns No/项目/结果/arrow/参考范围/单位
    bw = (2300 - 80) / 3
    x_name = 40 + 6 + 0.07 * (bw - 12)
    x_value = x_name + 0.36 * (bw - 12)
    ink = img < 70  # text ink (25), not the grey rules (110)
    y_end = img.shape[0] - 70  # the sheet is cut 70 px below its last row (the footer line)
    body = ink[y_end - 3 * 34:y_end]  # the three body rows (row pitch 34-42 px)
    # the name's ink ends before the result column begins, in every block
    for b in range(3):
        xv = int(x_value + b * bw)
        gap = body[:, xv - 3:xv]
        assert not gap.any()


def test_booklet_curl_bows_rows_toward_the_gutter_only():
    """The bench's bound-page variant (`--curl`): a straight row stays straight far from the gutter and bows at the
    gutter by up to the given share of the height; text at the gutter is squeezed and shaded; deterministic."""
    import cv2

    from synth.realistic import booklet_curl

    h, w = 400, 600
    page = np.full((h, w, 3), 255, np.uint8)
    for y in (40, 200, 360):
        cv2.line(page, (0, y), (w - 1, y), (0, 0, 0), 2)
    for gutter in ("l", "r"):
        out, params = booklet_curl(page, gutter, 0.04, seed=3)
        again, _ = booklet_curl(page, gutter, 0.04, seed=3)
        assert np.array_equal(out, again) and params["gutter"] == gutter
        grey = out[..., 0].astype(int)
        near, far = (3, w - 4) if gutter == "l" else (w - 4, 3)

        def row_y(x, y0):
            col = grey[max(0, y0 - 30):y0 + 30, x]
            return max(0, y0 - 30) + float(np.mean(np.nonzero(col < 100)[0]))

        shifts = [row_y(near, y) - row_y(far, y) for y in (40, 360)]
        assert all(abs(row_y(far, y) - (y + 0.5)) < 1.5 for y in (40, 200, 360))  # far side untouched
        assert max(abs(s) for s in shifts) > 0.5 * 0.04 * h  # bowed at the gutter...
        assert max(abs(s) for s in shifts) <= 0.04 * h + 1  # ...by at most the bow
        assert grey[h // 3, near] < grey[h // 3, far] - 40  # shaded at the gutter


def test_uneven_light_kinds_darken_or_wash_out_part_of_the_page_only():
    """The bench's uneven-light variant (`--shade`): a shadow darkens part of the page by 35-60 %, a lamp to one side
    leaves the far side 40-55 % darker, a glare patch washes the ink out (bright, low contrast) and a crease shades
    one side; part of the page always stays about as it was; deterministic."""
    from synth.realistic import LIGHTS, uneven_light

    h, w = 600, 800
    page = np.full((h, w, 3), 230, np.uint8)
    page[::20, :] = 20  # dark lines of 'ink' all over
    paper = page[..., 0] == 230
    for kind in LIGHTS:
        for seed in range(6):
            out, params = uneven_light(page, kind, seed)
            again, _ = uneven_light(page, kind, seed)
            assert np.array_equal(out, again) and out.shape == page.shape
            ratio = out[..., 0].astype(np.float32)[paper] / 230.0
            if kind == "glare":
                ink = out[..., 0][~paper]
                assert ink.max() >= 20 + 0.4 * 210 and ink.min() <= 25  # washed out at its centre, not everywhere
                assert ratio.min() > 0.99  # paper cannot get brighter than white
                continue
            darkest = 1.0 - float(ratio.min())
            lo, hi = {"shadow": (0.3, 0.6), "side": (0.2, 0.56), "crease": (0.19, 0.55)}[kind]
            assert lo <= darkest <= hi, (kind, seed, darkest)
            assert float(ratio.max()) > 0.9  # part of the page is still (about) fully lit
