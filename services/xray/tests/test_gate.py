"""The gate refuses what is not a frontal chest film and accepts real ones."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from app.errors import NotChestXrayError
from conftest import encode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))
import synth_negatives as sn  # noqa: E402


def rendered_document() -> bytes:
    im = Image.new("L", (620, 820), 250)
    d = ImageDraw.Draw(im)
    d.text((40, 30), "血常规检验报告 Complete blood count", fill=0)
    y = 80
    for i, name in enumerate(["WBC 6.2 10^9/L", "RBC 4.5 10^12/L", "HGB 135 g/L", "PLT 210 10^9/L"] * 6):
        d.text((40, y), name, fill=10)
        d.text((320, y), "3.5-9.5", fill=10)
        y += 28
    d.line((30, 70, 590, 70), fill=0, width=2)
    return encode(np.asarray(im))


def test_refuses_a_rendered_document(analyzer):
    with pytest.raises(NotChestXrayError) as e:
        analyzer.analyze(rendered_document(), "report.png", "image/png")
    assert e.value.status == 422 and e.value.code == "not_chest_xray"


def test_refuses_a_colour_photo_like_image(analyzer):
    photo = sn.make("colour_photo", 123)
    with pytest.raises(NotChestXrayError) as e:
        analyzer.analyze(sn.jpeg_bytes(photo), "photo.jpg", "image/jpeg")
    assert "colour_image" in e.value.details["reasons"]


@pytest.mark.parametrize("kind", ["document_photo", "gray_texture", "ct_slice"])
def test_refuses_other_synthetic_non_chest_images(analyzer, kind):
    arr = sn.make(kind, 7)
    with pytest.raises(NotChestXrayError):
        analyzer.analyze(sn.png_bytes(arr), f"{kind}.png", "image/png")


def test_accepts_the_chest_fixture_as_png_jpeg_and_small_rescale(analyzer, golden_bytes, golden_gray):
    assert analyzer.analyze(golden_bytes, "g.png", "image/png")["gate"]["accepted"]
    assert analyzer.analyze(encode(golden_gray, "JPEG"), "g.jpg", "image/jpeg")["gate"]["accepted"]
    small = np.asarray(Image.fromarray(golden_gray).resize((300, 300)))
    assert analyzer.analyze(encode(small), "small.png", "image/png")["gate"]["accepted"]


def test_accepts_real_held_out_chest_films(analyzer, datasets):
    import csv
    splits = Path(__file__).resolve().parent.parent / "models" / "splits"
    files = []
    for name, folder in (("covid", "cxr_covid_permissive"), ("jsrt", "cxr_jsrt_scr"), ("nih", "cxr_nih14")):
        rows = [r["image"] for r in csv.DictReader(open(splits / f"{name}.csv")) if r["split"] == "test"]
        files += [datasets / folder / k for k in rows[:3]]
    for f in files:
        assert analyzer.analyze(f.read_bytes(), f.name, "image/png")["gate"]["accepted"], f.name
