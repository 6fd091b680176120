"""The layouts synthetic set (synth/layouts.py): other hospitals' table layouts, deterministic, and ground truth
that says what the sheet prints."""
import random

import numpy as np

from synth.generate import available_fonts
from synth.layouts import SEED, VARIANTS, make_sheet
from zhenxi_knowledge import flag_number, parse_range

from app.parsing import parse_value, qualitative_grade


def test_a_sheet_is_drawn_the_same_from_the_same_seed(_cjk_font):
    fonts = available_fonts()
    for i in (0, 5, 6):
        img1, gt1 = make_sheet(random.Random(f"{SEED}-{i}"), i, fonts)
        img2, gt2 = make_sheet(random.Random(f"{SEED}-{i}"), i, fonts)
        assert gt1 == gt2 and np.array_equal(img1, img2)
        assert gt1["layout"] == VARIANTS[i % len(VARIANTS)]
    _, other = make_sheet(random.Random(f"{SEED + 1}-0"), 0, fonts)
    assert other["indicators"] != make_sheet(random.Random(f"{SEED}-0"), 0, fonts)[1]["indicators"]


def test_ground_truth_reads_back_from_what_the_sheet_prints(_cjk_font):
    """Every row's printed result gives its value (or its qualitative grade), its printed range gives the
    reference bounds, and its flag is the printed value against the printed range (H/L/N; NEG/POS for graded
    results): the truth follows the sheet, whatever the layout."""
    fonts = available_fonts()[:1]
    seen = set()
    for i in range(len(VARIANTS)):
        _, gt = make_sheet(random.Random(f"{SEED}-{i}"), i, fonts)
        seen.add(gt["layout"])
        codes = [g["code"] for g in gt["indicators"]]
        assert len(codes) == len(set(codes)) and codes
        for g in gt["indicators"]:
            pv = parse_value(g["value_text"])
            if g["value"] is None:
                assert g["flag"] in ("NEG", "POS")
                assert (g["flag"] == "NEG") == (qualitative_grade(g["value_text"]) == "negative")
                continue
            assert pv is not None and abs(pv.number - g["value"]) <= 1e-6 * max(1.0, abs(g["value"]))
            ref = g["reference"]
            r = parse_range(ref["text"]) if ref["text"] else None
            assert (r.low if r else None) == ref["low"] or abs(r.low - ref["low"]) < 1e-6
            assert (r.high if r else None) == ref["high"] or abs(r.high - ref["high"]) < 1e-6
            expected = flag_number(g["value"], ref["low"], ref["high"])
            assert g["flag"] == {"HH": "H", "LL": "L"}.get(expected, expected), (gt["id"], g)
    assert seen == set(VARIANTS)
