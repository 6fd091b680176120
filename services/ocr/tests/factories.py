"""Small generated inputs for tests (never the 200-report evaluation set)."""
from __future__ import annotations

import io
import random
import struct
import zlib

import cv2
import numpy as np
from PIL import Image

import pytest

from synth.generate import available_fonts, make_report, make_rows, render

# Synthetic sheets need a CJK font (Debian fonts-wqy-zenhei, see synth/README.md); without one they would be
# ASCII-only pages that test something else. `./zhenxi test` installs deploy/apt-packages.txt, so a missing font
# is a broken set-up: those tests fail and say so, rather than skip.
# (the fixture `_cjk_font` is in conftest.py)
requires_cjk_font = pytest.mark.usefixtures("_cjk_font")


def report(seed: int = 1, layout: str = "classic", distortion: str = "clean", panel: str | None = "liver"):
    """(BGR image, ground truth) of one synthetic report."""
    rng = random.Random(f"test-{seed}")
    return make_report(rng, seed, available_fonts(), layout=layout, distortion=distortion, panel=panel)


def clean_page(seed: int = 1, panel: str = "blood_routine") -> np.ndarray:
    rng = random.Random(f"page-{seed}")
    rows = make_rows(rng, panel, "male", "arrows", "dash", "si")
    header = {"hospital": "测试医院", "title": "检验报告单", "name": "某某", "sex_zh": "男", "age": 40, "dept": "内科",
              "mrn": "1", "collected": "2024-01-02 08:00", "reported": "2024-01-02 12:00", "sample": "全血"}
    page = render(rng, "classic", panel, rows, header, available_fonts())
    return cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2BGR)


def screen_photo(img: np.ndarray, scale: float = 0.5, k: int = 3) -> np.ndarray:
    """``img`` as a phone photographs it on a monitor, close up: shown at ``scale`` of its size, each screen pixel
    seen as a k x k tile of red, green and blue sub-pixels with a darker line between pixel rows."""
    small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA).astype(np.float32)
    h, w = small.shape[:2]
    big = cv2.resize(small, (w * k, h * k), interpolation=cv2.INTER_NEAREST)
    tile = np.full((k, k, 3), 0.3, np.float32)
    for c in range(3):  # (BGR: blue, green, red sub-pixel columns)
        tile[:, c % k, c] = 1.0
    tile[k - 1] *= 0.55
    big *= np.tile(tile, (h, w, 1)) * 1.75
    return np.clip(big, 0, 255).astype(np.uint8)


def side_by_side(*imgs: np.ndarray) -> np.ndarray:
    """Report sheets lying side by side on a dark desk in one photo, each 800 px wide, at different heights."""
    photo = np.full((1100, 1800, 3), (55, 70, 65), np.uint8)
    for k, img in enumerate(imgs):
        p = cv2.resize(img, (800, int(800 * img.shape[0] / img.shape[1])))
        y0 = (1100 - p.shape[0]) // 2 + (-40 if k else 30)
        photo[y0:y0 + p.shape[0], 60 + 880 * k:60 + 880 * k + 800] = p
    return photo


def encode(img: np.ndarray, ext: str = ".jpg", quality: int = 90) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == ".jpg" else []
    ok, buf = cv2.imencode(ext, img, params)
    assert ok
    return buf.tobytes()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but carries one tiny IDAT: a decompression-bomb probe."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


def natural_scene(seed: int = 3, w: int = 1024, h: int = 768) -> np.ndarray:
    """A cat-photo stand-in: smooth coloured blobs, fur-like texture, no text lines."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for _ in range(12):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(60, 300)
        colour = rng.uniform(20, 235, 3)
        wgt = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[..., None]
        img = img * (1 - wgt) + colour * wgt
    fur = cv2.GaussianBlur(rng.normal(0, 25, (h, w)).astype(np.float32), (0, 0), 1.2)
    fur = cv2.filter2D(fur, -1, np.ones((1, 9), np.float32) / 9)
    img += fur[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def pdf_of(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB)).save(buf, format="PDF", resolution=150)
    return buf.getvalue()
