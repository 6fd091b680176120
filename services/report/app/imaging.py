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
    img.save(buf, format="PNG", compress_level=1)   # ~15 % larger than level 6, ~3x faster to write
    return buf.getvalue()


def _dicom_film(data: bytes) -> Image.Image | None:
    """A single-frame greyscale DICOM as an 8-bit image, in the order PS3.3 C.11 gives: modality LUT (rescale),
    VOI LUT or window, MONOCHROME1 inversion; then stretched to 0..255 for display. None if it cannot be read."""
    if len(data) <= 132 or data[128:132] != b"DICM":
        return None
    try:
        import pydicom
        from pydicom.pixels import apply_modality_lut, apply_voi_lut

        ds = pydicom.dcmread(io.BytesIO(data))
        arr = ds.pixel_array
        if arr.ndim != 2:
            return None
        img = apply_modality_lut(arr, ds).astype(np.float32)
        if "WindowCenter" in ds or "VOILUTSequence" in ds:
            img = apply_voi_lut(img, ds).astype(np.float32)
        if str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper() == "MONOCHROME1":
            img = img.max() - img
    except Exception:  # pydicom raises many types for broken or unsupported pixel data; the overlay is optional
        return None
    lo, hi = float(np.min(img)), float(np.max(img))
    if not np.isfinite([lo, hi]).all():
        return None
    scaled = (img - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(img)
    return Image.fromarray(scaled.clip(0, 255).astype(np.uint8), mode="L")


def _film(data: bytes) -> Image.Image | None:
    try:
        base = Image.open(io.BytesIO(data))
        base.load()
        return base
    except Exception:  # PIL raises several types for unreadable input; a DICOM is read with pydicom
        return _dicom_film(data)


def overlay(original: bytes, masks: dict[str, str], detections: list[dict[str, Any]]) -> bytes | None:
    """Masks tinted over the film (PNG, JPEG or DICOM) and lesion boxes outlined. None when the film cannot be
    read: the report then shows the heatmaps only. The film is brought to report size first and the tint is
    PIL's C blend under each mask, so a large film costs little more than a small one."""
    base = _film(original)
    if base is None:
        return None
    size = base.size
    img = _fit(base.convert("L")).convert("RGB")
    scale = img.width / size[0]
    for organ, b64 in masks.items():
        try:
            m = Image.open(io.BytesIO(base64.b64decode(b64))).convert("L")
        except Exception:
            continue
        if m.size != img.size:
            m = m.resize(img.size, Image.NEAREST)
        m = m.point(lambda v: 255 if v > 127 else 0)
        tint = Image.blend(img, Image.new("RGB", img.size, ORGAN_COLOURS.get(organ, (52, 152, 219))), 0.4)
        img.paste(tint, mask=m)
    draw = ImageDraw.Draw(img)
    width = max(2, round(max(img.size) / 256))
    for d in detections:
        if d.get("label") not in BOXED:
            continue
        box = d.get("box") or []
        if len(box) == 4:
            draw.rectangle([float(v) * scale for v in box], outline=BOX_COLOUR, width=width)
    return _png(img)


def heatmap(png_base64: str) -> bytes:
    """The finding's heatmap at report size. xray sends a PNG at the film's resolution: one already within
    ``MAX_SIDE`` is stored as sent (only its header is read; decoding and re-encoding it cost ~20 ms of CPU per
    heatmap for identical pixels); a larger one is scaled down once."""
    data = base64.b64decode(png_base64)
    img = Image.open(io.BytesIO(data))   # lazy: reads the header, not the pixels
    if img.format == "PNG" and max(img.size) <= MAX_SIDE:
        return data
    return _png(_fit(img.convert("RGB")))
