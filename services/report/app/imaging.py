"""Images derived from an X-ray for the report: the lung/heart masks and nodule boxes drawn over the film, and the
findings' heatmaps, each rendered once at the size the report shows (longest side ≤ 512 px)."""
from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

MAX_SIDE = 512
ORGAN_COLOURS = {"left_lung": (46, 204, 113), "right_lung": (39, 174, 96), "lungs": (46, 204, 113),
                 "heart": (231, 76, 60)}
BOX_COLOUR = (255, 193, 7)
BOXED = ("nodule_or_mass", "Nodule", "Mass")   # detector classes (xray models/detector.json): lesion boxes


def _fit(img: Image.Image) -> Image.Image:
    scale = MAX_SIDE / max(img.size)
    if scale < 1:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BILINEAR)
    return img


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=3)   # a little larger, several times faster than optimize
    return buf.getvalue()


def overlay(original: bytes, masks: dict[str, str], detections: list[dict[str, Any]]) -> bytes | None:
    """Masks tinted over the film and lesion boxes outlined. None when the film is not a PNG/JPEG PIL reads
    (a DICOM): the report then shows the heatmaps only."""
    try:
        base = Image.open(io.BytesIO(original))
        base.load()
    except Exception:  # PIL raises several types for unreadable input; the overlay is optional
        return None
    size = base.size
    rgb = np.asarray(base.convert("L").convert("RGB"), dtype=np.float32)
    for organ, b64 in masks.items():
        try:
            m = Image.open(io.BytesIO(base64.b64decode(b64))).convert("L")
        except Exception:
            continue
        if m.size != size:
            m = m.resize(size, Image.NEAREST)
        sel = np.asarray(m) > 127
        colour = np.array(ORGAN_COLOURS.get(organ, (52, 152, 219)), dtype=np.float32)
        rgb[sel] = rgb[sel] * 0.6 + colour * 0.4
    img = Image.fromarray(rgb.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    width = max(2, round(max(size) / 256))
    for d in detections:
        if d.get("label") not in BOXED:
            continue
        box = d.get("box") or []
        if len(box) == 4:
            draw.rectangle([float(v) for v in box], outline=BOX_COLOUR, width=width)
    return _png(_fit(img))


def heatmap(png_base64: str) -> bytes:
    img = Image.open(io.BytesIO(base64.b64decode(png_base64)))
    return _png(_fit(img.convert("RGB")))
