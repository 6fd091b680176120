"""Pure preprocessing and upload decoding: no models."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from app.errors import ImageTooLargeError, ImageTooSmallError, ImageUnreadableError, UnsupportedMediaTypeError
from app.imaging import (Limits, colourfulness, letterbox, load_image, percentile_window, prepare_gray, sniff,
                         to_network_input, to_work_size)
from conftest import encode


def test_percentile_window_stretches_to_full_range_and_handles_flat_images():
    a = np.linspace(1000, 3000, 10000, dtype=np.float32).reshape(100, 100)
    w = percentile_window(a)
    assert w.dtype == np.uint8 and w.min() == 0 and w.max() == 255
    assert np.all(np.diff(w.ravel().astype(int)) >= 0)  # monotone mapping
    assert percentile_window(np.full((10, 10), 7.0)).max() == 0


def test_work_size_shrinks_but_never_enlarges():
    assert to_work_size(np.zeros((2048, 1024), np.float32)).shape == (512, 256)
    assert to_work_size(np.zeros((300, 200), np.float32)).shape == (300, 200)


def test_prepare_gray_equalises_a_washed_out_image(golden_gray):
    washed = (golden_gray.astype(np.float32) * 0.25 + 150)  # like JSRT's linear 12->8 bit mapping
    out = prepare_gray(washed)
    assert out.dtype == np.uint8 and out.shape == golden_gray.shape
    assert out.std() > washed.std() * 2


def test_network_input_and_letterbox_geometry():
    img = np.full((400, 200), 200, np.uint8)
    x = to_network_input(img, 256)
    assert x.shape == (1, 256, 256) and x.dtype == np.float32 and 0.0 <= x.min() <= x.max() <= 1.0
    lb, scale, (px, py) = letterbox(img, 352)
    assert lb.shape == (352, 352) and scale == pytest.approx(352 / 400)
    assert py == 0 and px == (352 - 176) // 2 and lb[0, 0] == 114


def test_colourfulness_separates_gray_from_colour():
    gray = np.repeat(np.random.default_rng(0).integers(0, 255, (64, 64, 1), dtype=np.uint8), 3, axis=2)
    colour = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    assert colourfulness(gray) == pytest.approx(0.0, abs=1e-6)
    assert colourfulness(colour) > 30


def test_sniff_trusts_bytes_and_refuses_contradictions(golden_bytes):
    assert sniff(golden_bytes, "x.png", "image/png") == "png"
    assert sniff(golden_bytes, "x", None) == "png"
    with pytest.raises(UnsupportedMediaTypeError):
        sniff(b"GIF89a" + b"\0" * 100, "x.gif", "image/gif")
    with pytest.raises(UnsupportedMediaTypeError):
        sniff(b"%PDF-1.7 ...", "report.pdf", "application/pdf")
    with pytest.raises(UnsupportedMediaTypeError):
        sniff(golden_bytes, "x.png", "text/html")


def test_load_png_jpeg_and_16_bit(golden_gray):
    im = load_image(encode(golden_gray), "a.png", "image/png")
    assert (im.width, im.height, im.source) == (512, 512, "png")
    assert np.array_equal(im.gray, golden_gray.astype(np.float32))
    jp = load_image(encode(golden_gray, "JPEG"), "a.jpg", "image/jpeg")
    assert jp.source == "jpeg" and np.abs(jp.gray - golden_gray).mean() < 3
    sixteen = Image.fromarray(golden_gray.astype(np.uint16) * 64)  # 14-bit data in a 16-bit PNG
    buf = io.BytesIO()
    sixteen.save(buf, format="PNG")
    im16 = load_image(buf.getvalue(), "a.png", "image/png")
    assert im16.gray.max() > 255
    assert np.array_equal(prepare_gray(im16.gray), prepare_gray(golden_gray.astype(np.float32) * 64))


def test_bad_uploads_get_clear_errors(golden_bytes):
    with pytest.raises(ImageUnreadableError):
        load_image(b"", "a.png", "image/png")
    with pytest.raises(ImageUnreadableError):
        load_image(golden_bytes[: len(golden_bytes) // 3], "a.png", "image/png")  # truncated
    with pytest.raises(ImageTooLargeError):
        load_image(golden_bytes, "a.png", "image/png", Limits(max_bytes=1000))
    with pytest.raises(ImageTooSmallError):
        load_image(encode(np.zeros((20, 20), np.uint8)), "a.png", "image/png")


def test_decompression_bomb_is_refused_before_decoding():
    bomb = Image.new("1", (9000, 9000))  # 81 MP in a few kB of PNG
    buf = io.BytesIO()
    bomb.save(buf, format="PNG")
    assert len(buf.getvalue()) < 200_000
    with pytest.raises(ImageTooLargeError) as e:
        load_image(buf.getvalue(), "bomb.png", "image/png")
    # As in ocr: too many pixels is 422 image_too_large, too many bytes 413 image_too_large.
    assert e.value.status == 422 and e.value.code == "image_too_large"
    with pytest.raises(ImageTooLargeError) as e:
        load_image(buf.getvalue(), "bomb.png", "image/png", Limits(max_bytes=1000))
    assert e.value.status == 413 and e.value.code == "image_too_large"
