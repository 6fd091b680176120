"""End to end with the real PP-OCR models on a few small generated reports."""
import cv2
import numpy as np
import pytest

from app import errors
from app.service import LabReportParser
from factories import encode, natural_scene, report, requires_cjk_font

pytestmark = requires_cjk_font


@pytest.fixture(scope="module")
def parser():
    p = LabReportParser()
    p.warm_up()
    return p


def _score(result, truth):
    pred = {i["code"]: i for i in result["indicators"]}
    hits = 0
    for g in truth["indicators"]:
        p = pred.get(g["code"])
        if p is None:
            continue
        same_value = (g["value"] is None and p["value"] is None) or (
            g["value"] is not None and p["value"] is not None and abs(p["value"] - g["value"]) < 1e-6)
        hits += same_value and p["flag"] == g["flag"]
    invented = [c for c in pred if c not in {g["code"] for g in truth["indicators"]}]
    return hits / len(truth["indicators"]), invented


@pytest.mark.parametrize("layout,distortion,panel", [
    ("classic", "clean", "liver"),
    ("two_column", "perspective", "blood_routine"),
    ("tight", "rotate", "lipids"),
])
def test_reads_generated_reports(parser, layout, distortion, panel):
    img, truth = report(seed=11, layout=layout, distortion=distortion, panel=panel)
    result = parser.parse(encode(img), "r.jpg", "image/jpeg")
    share, invented = _score(result, truth)
    assert share >= 0.85, (layout, distortion, share)
    assert invented == []
    assert result["report_type"] in (panel, "biochemistry")
    assert set(result["timings_ms"]) >= {"gate", "geometry", "det", "rec", "parse", "total"}
    one = result["indicators"][0]
    for key in ("code", "name", "name_en", "loinc", "value", "value_text", "unit", "reference", "flag", "confidence",
                "box"):
        assert key in one


def test_upside_down_page_is_turned(parser):
    img, truth = report(seed=12, layout="classic", distortion="clean", panel="kidney")
    result = parser.parse(encode(cv2.rotate(img, cv2.ROTATE_180)))
    assert result["quality"]["geometry"][0]["upside_down"] is True
    assert _score(result, truth)[0] >= 0.85


def test_header_fields_and_no_personal_name(parser):
    img, truth = report(seed=13, layout="name_code", distortion="clean", panel="thyroid")
    result = parser.parse(encode(img))
    h = result["header"]
    assert h["sex"] == truth["sex"] and h["age"] == truth["age"]
    assert h["hospital"] == truth["hospital"]
    assert "name" not in h and "patient_name" not in h
    dump = str(result)
    assert "姓名" not in dump and "病历号" not in dump


def test_mg_dl_glucose_is_converted(parser):
    from app.knowledge import load_knowledge
    from app.parsing import Token

    kb = load_knowledge()
    toks = [Token("葡萄糖", 0.99, (10, 10, 100, 40)), Token("108", 0.99, (200, 10, 250, 40)),
            Token("70-110", 0.99, (300, 10, 380, 40)), Token("mg/dL", 0.99, (420, 10, 480, 40))]
    from app.inference import PageOcr, TextLine
    from app.geometry import GeometryResult

    lines = [TextLine(t.text, t.score, np.float32([[t.box[0], t.box[1]], [t.box[2], t.box[1]], [t.box[2], t.box[3]],
                                                   [t.box[0], t.box[3]]])) for t in toks]
    out = parser._assemble([PageOcr(lines, False)], [GeometryResult(np.zeros((100, 600, 3), np.uint8), None, 0, 0)])
    glu = out["indicators"][0]
    assert glu["code"] == "GLU" and glu["unit"] == "mmol/L" and glu["unit_text"] == "mg/dL"
    assert glu["value"] == pytest.approx(108 * 0.0555, abs=1e-3)
    assert glu["reference"]["high"] == pytest.approx(110 * 0.0555, abs=1e-3)
    assert kb.version == out["knowledge_version"]


def test_printed_flag_disagreeing_with_range_is_kept_with_warning(parser):
    from app.geometry import GeometryResult
    from app.inference import PageOcr, TextLine

    cells = [("白细胞计数", 10, 100), ("5.1↑", 200, 260), ("3.5-9.5", 300, 380), ("10^9/L", 420, 490)]
    lines = [TextLine(t, 0.99, np.float32([[a, 10], [b, 10], [b, 40], [a, 40]])) for t, a, b in cells]
    out = parser._assemble([PageOcr(lines, False)], [GeometryResult(np.zeros((100, 600, 3), np.uint8), None, 0, 0)])
    wbc = out["indicators"][0]
    assert wbc["flag"] == "H" and wbc["flag_computed"] == "N" and wbc["needs_review"]
    assert any(w["code"] == "flag_disagrees_with_range" for w in out["warnings"])


def test_unknown_layout_gives_empty_result_with_reason(parser):
    from PIL import Image, ImageDraw

    from synth.generate import available_fonts, font

    im = Image.new("RGB", (1200, 1500), "white")
    d = ImageDraw.Draw(im)
    f = font((available_fonts() or [None])[0], 30)
    text = "会议纪要：本周完成需求评审，下周开始联调测试。请各组按时提交周报，并同步风险与依赖事项。"
    for i in range(24):
        d.text((60, 60 + i * 55), text[(i * 3) % 20:][:30], font=f, fill="black")
    result = parser.parse(encode(cv2.cvtColor(np.asarray(im), cv2.COLOR_RGB2BGR)))
    assert result["indicators"] == []
    assert result["warnings"][0]["code"] == "no_indicators_found"


def test_cat_photo_is_refused_not_parsed(parser):
    with pytest.raises(errors.NotADocumentError):
        parser.parse(encode(natural_scene()))


def test_pdf_report(parser):
    from factories import pdf_of

    img, truth = report(seed=14, layout="classic", distortion="clean", panel="electrolytes")
    result = parser.parse(pdf_of(img), "r.pdf", "application/pdf")
    assert result["quality"]["format"] == "pdf"
    assert _score(result, truth)[0] >= 0.85


def test_chest_xrays_are_refused(parser):
    from pathlib import Path

    files = sorted(Path("/work/shared/datasets/cxr_nih14").rglob("*.png"))[:8]
    if not files:
        pytest.skip("chest X-ray dataset not present")
    for f in files:
        with pytest.raises((errors.NotADocumentError, errors.ImageTooBlurryError)):
            parser.parse(f.read_bytes(), f.name, "image/png")
