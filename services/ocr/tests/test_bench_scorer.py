"""The real-photo scorer (bench/ocr_real.score_photo): what it counts right, wrong, extra and unscored."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from app.knowledge import load_knowledge  # noqa: E402
from ocr_real import score_photo  # noqa: E402


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


def _row(n, name, value, rng="", uncertain=()):
    return {"block": 1, "row": n, "name_printed": name, "code_printed": "", "value": value, "flag_printed": "",
            "range_printed": rng, "unit_printed": "", "uncertain": list(uncertain)}


def _pred(name, value, flag):
    return {"name_printed": name, "value_text": value, "flag": flag, "code": None}


def test_a_row_the_transcriber_could_not_read_is_neither_right_nor_extra(kb):
    """A result the transcriber marked illegible is not expected, and the service's reading of it is not counted
    as predicted either (it was counted extra, a precision loss for a row nobody can check). A result read on a
    row the sheet leaves blank is still extra, and a row nobody printed is extra."""
    expected = [_row(1, "白细胞", "5.2", "3.5-9.5"), _row(2, "红细胞", "4.8", "4.3-5.8", uncertain=["value"]),
                _row(3, "血型", "")]
    sc = score_photo(expected, [_pred("白细胞", "5.2", "N"), _pred("红细胞", "4.3", "N")], kb)
    assert (sc["right"], sc["predicted"], sc["expected"], sc["f1"]) == (1, 1, 1, 1.0)
    assert sc["pred_status"] == ["right", "unscored"]
    sc = score_photo(expected, [_pred("白细胞", "5.2", "N"), _pred("血型", "A", None), _pred("血糖", "5.0", "N")], kb)
    assert (sc["right"], sc["predicted"], sc["expected"]) == (1, 3, 1)
    assert sc["pred_status"] == ["right", "extra", "extra"]


def test_an_illegible_row_does_not_take_the_reading_of_its_legible_namesake(kb):
    """A urine sheet prints 白细胞 twice (the count and the strip pad); when the count is illegible, a reading of
    白细胞 that matches neither value goes to the legible row (wrong), not to the illegible one (unscored)."""
    expected = [dict(_row(1, "白细胞", "2780.80", "0-32", uncertain=["value"]), code_printed="WBC"),
                dict(_row(2, "白细胞", "3+", "阴性"), code_printed="LEU")]
    sc = score_photo(expected, [_pred("白细胞", "2+", "POS")], kb)
    assert (sc["right"], sc["predicted"], sc["expected"]) == (0, 1, 1)
    assert sc["pred_status"] == ["wrong"]


def test_a_word_the_sheets_range_lists_as_normal_is_normal():
    from ocr_real import sheet_flag

    assert sheet_flag(_row(1, "淀粉颗粒", "少量", "极少量或少量")) == "N"
    assert sheet_flag(_row(1, "淀粉颗粒", "少量", "阴性")) == "POS"
    assert sheet_flag(_row(1, "尿胆原", "±", "阴性或±")) == "N"
