"""Synthetic images that are NOT frontal chest X-rays, to measure the gate (never to set its thresholds).

Kinds: rendered lab-report documents (gray and photographed-looking), colour photo-like scenes, gray natural-like
textures, CT-slice-like phantoms, limb-radiograph-like phantoms. Deterministic for a given seed.
"""
from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

KINDS = ("document", "document_photo", "colour_photo", "gray_texture", "ct_slice", "limb_xray")
WORDS = ["WBC", "RBC", "HGB", "PLT", "ALT", "AST", "GLU", "CRE", "BUN", "TSH", "HbA1c", "LDL", "HDL", "TG",
         "白细胞", "红细胞", "血红蛋白", "血小板", "谷丙转氨酶", "参考范围", "结果", "单位", "mmol/L", "g/L", "10^9/L"]


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # very old Pillow
        return ImageFont.load_default()


def document(rng: np.random.Generator, w: int = 600, h: int = 800) -> np.ndarray:
    im = Image.new("L", (w, h), int(rng.integers(235, 256)))
    d = ImageDraw.Draw(im)
    d.text((40, 30), "检验报告 LABORATORY REPORT", fill=0, font=_font(26))
    y = 90
    for _ in range(int(rng.integers(15, 28))):
        x = 40
        for _ in range(int(rng.integers(3, 6))):
            word = WORDS[int(rng.integers(len(WORDS)))] + ("" if rng.random() < 0.5 else f" {rng.uniform(0, 200):.1f}")
            d.text((x, y), word, fill=int(rng.integers(0, 60)), font=_font(int(rng.integers(14, 20))))
            x += int(rng.integers(90, 150))
        if rng.random() < 0.3:
            d.line((30, y + 22, w - 30, y + 22), fill=100)
        y += int(rng.integers(24, 34))
        if y > h - 40:
            break
    return np.asarray(im)


def document_photo(rng: np.random.Generator) -> np.ndarray:
    doc = document(rng).astype(np.float32)
    h, w = doc.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    j = rng.uniform(-0.06, 0.06, (4, 2)) * [w, h]
    M = cv2.getPerspectiveTransform(src, (src + j).astype(np.float32))
    warped = cv2.warpPerspective(doc, M, (w, h), borderValue=float(rng.uniform(40, 120)))
    shade = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.8, 1.1), w)[None, :]
    out = np.clip(warped * shade + rng.normal(0, 4, warped.shape), 0, 255).astype(np.uint8)
    tint = np.array([1.0, rng.uniform(0.95, 1.0), rng.uniform(0.85, 0.95)])
    return np.clip(out[..., None] * tint, 0, 255).astype(np.uint8)  # slightly warm RGB, like a phone photo


def colour_photo(rng: np.random.Generator, s: int = 512) -> np.ndarray:
    yy, xx = np.mgrid[0:s, 0:s] / s
    img = np.zeros((s, s, 3), np.float32)
    for c in range(3):
        img[..., c] = 255 * (rng.uniform(0.2, 0.8) + 0.3 * np.sin(rng.uniform(1, 6) * xx + rng.uniform(0, 6))
                             * np.cos(rng.uniform(1, 6) * yy))
    for _ in range(int(rng.integers(4, 12))):
        colour = [float(v) for v in rng.uniform(0, 255, 3)]
        cv2.ellipse(img, (int(rng.integers(0, s)), int(rng.integers(0, s))),
                    (int(rng.integers(10, 120)), int(rng.integers(10, 120))), float(rng.uniform(0, 180)), 0, 360,
                    colour, -1)
    img = cv2.GaussianBlur(img, (0, 0), 2.0) + rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def gray_texture(rng: np.random.Generator, s: int = 512) -> np.ndarray:
    noise = rng.normal(0, 1, (s // 16, s // 16)).astype(np.float32)
    base = cv2.resize(noise, (s, s), interpolation=cv2.INTER_CUBIC)
    fine = cv2.GaussianBlur(rng.normal(0, 1, (s, s)).astype(np.float32), (0, 0), 1.5)
    img = base * 40 + fine * 15 + 128
    return np.clip(img, 0, 255).astype(np.uint8)


def ct_slice(rng: np.random.Generator, s: int = 512) -> np.ndarray:
    img = np.zeros((s, s), np.float32)
    c = s // 2
    cv2.ellipse(img, (c, c + 10), (int(s * rng.uniform(0.38, 0.46)), int(s * rng.uniform(0.28, 0.34))), 0, 0, 360, 130, -1)
    for side in (-1, 1):
        cv2.ellipse(img, (c + side * int(s * 0.17), c), (int(s * 0.12), int(s * 0.18)), 0, 0, 360, 20, -1)
    cv2.circle(img, (c, c + int(s * 0.22)), int(s * 0.04), 250, -1)
    cv2.circle(img, (c - int(s * 0.03), c - int(s * 0.02)), int(s * 0.07), 160, -1)
    cv2.ellipse(img, (c, c + 10), (int(s * 0.42), int(s * 0.31)), 0, 0, 360, 210, 6)
    img = cv2.GaussianBlur(img, (0, 0), 1.2) + rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def limb_xray(rng: np.random.Generator, s: int = 512) -> np.ndarray:
    img = np.full((s, s), 15, np.float32)
    ang = rng.uniform(-20, 20)
    cv2.ellipse(img, (s // 2, s // 2), (int(s * 0.18), int(s * 0.48)), ang, 0, 360, 90, -1)  # soft tissue
    for off in (-0.06, 0.06):
        cx = int(s / 2 + off * s)
        cv2.ellipse(img, (cx, s // 2), (int(s * 0.035), int(s * 0.42)), ang, 0, 360, 220, -1)  # bones
    img = cv2.GaussianBlur(img, (0, 0), 3) + rng.normal(0, 5, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


GENERATORS = {"document": document, "document_photo": document_photo, "colour_photo": colour_photo,
              "gray_texture": gray_texture, "ct_slice": ct_slice, "limb_xray": limb_xray}


def make(kind: str, seed: int) -> np.ndarray:
    return GENERATORS[kind](np.random.default_rng(seed))


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(arr: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
