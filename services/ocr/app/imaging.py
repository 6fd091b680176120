"""Decode an upload into BGR pages with limits: bytes and pixel counts are checked from the file header before
any pixel is decoded (decompression bombs), truncated files are refused, EXIF rotation is applied."""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from zhenxi_common.filetypes import sniff

from .errors import (
    FileTooLargeError,
    ImageTooLargeError,
    ImageUnreadableError,
    UnsupportedMediaTypeError,
)

try:  # HEIC/HEIF from iPhones
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_OK = True
except ImportError:  # pragma: no cover - dependency is declared
    HEIF_OK = False

ACCEPTED = ("jpeg", "png", "webp", "heic", "pdf")
PDF_RENDER_LONG_SIDE = 2200


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    pdf_max_pages: int = 2


class Pages(list):
    """The decoded pages (BGR uint8), and how many the file holds (a PDF's pages past the limit are not decoded)."""

    def __init__(self, pages: list[np.ndarray], in_file: int | None = None) -> None:
        super().__init__(pages)
        self.in_file = len(pages) if in_file is None else in_file


def decode(data: bytes, content_type: str | None = None, limits: Limits = Limits()) -> tuple[Pages, str]:
    """Bytes → the BGR uint8 pages (with the number the file holds) and the detected format."""
    if len(data) > limits.max_bytes:
        raise FileTooLargeError(details={"bytes": len(data), "max_bytes": limits.max_bytes})
    if not data:
        raise ImageUnreadableError("文件为空。 The file is empty.")
    fmt = sniff(data)
    if fmt is None or fmt == "dicom":   # DICOM is no lab report: treated as an unknown file, as before
        declared = (content_type or "").lower()
        if declared.startswith("image/") or declared == "application/pdf":
            raise ImageUnreadableError(details={"declared_type": declared})
        raise UnsupportedMediaTypeError(details={"declared_type": declared or None, "accepted": list(ACCEPTED)})
    if fmt == "other_image":
        raise UnsupportedMediaTypeError(details={"accepted": list(ACCEPTED)})
    if fmt == "pdf":
        return _decode_pdf(data, limits), fmt
    if fmt == "heic" and not HEIF_OK:  # pragma: no cover
        raise UnsupportedMediaTypeError(details={"accepted": [f for f in ACCEPTED if f != "heic"]})
    return Pages([_decode_raster(data, limits)]), fmt


def _decode_raster(data: bytes, limits: Limits) -> np.ndarray:
    # PIL's own bomb guard, tightened to our limit; the explicit size check below gives the better message.
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))  # lazy: reads the header only
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise ImageUnreadableError(details={"reason": type(exc).__name__}) from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLargeError(details={"max_pixels": limits.max_pixels}) from exc
        w, h = im.size
        if w <= 0 or h <= 0:
            raise ImageUnreadableError(details={"width": w, "height": h})
        if w * h > limits.max_pixels:
            raise ImageTooLargeError(details={"width": w, "height": h, "max_pixels": limits.max_pixels})
        try:
            im.load()
            im = ImageOps.exif_transpose(im)
        except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated / corrupt
            raise ImageUnreadableError(details={"reason": "truncated_or_corrupt"}) from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLargeError(details={"max_pixels": limits.max_pixels}) from exc
    return _to_bgr(im)


def _to_bgr(im: Image.Image) -> np.ndarray:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    if im.mode in ("I;16", "I;16B", "I", "F"):
        arr = np.asarray(im, dtype=np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        arr = ((arr - lo) / max(hi - lo, 1e-6) * 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(arr[:, :, None], 3, axis=2))
    rgb = np.asarray(im.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _decode_pdf(data: bytes, limits: Limits) -> Pages:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ImageUnreadableError(details={"reason": "pdf_unreadable"}) from exc
    pages = []
    try:
        n = len(pdf)
        if n == 0:
            raise ImageUnreadableError(details={"reason": "pdf_has_no_pages"})
        for i in range(min(n, limits.pdf_max_pages)):
            page = pdf[i]
            w_pt, h_pt = page.get_size()
            if w_pt <= 0 or h_pt <= 0:
                raise ImageUnreadableError(details={"reason": "pdf_page_empty"})
            scale = min(PDF_RENDER_LONG_SIDE / max(w_pt, h_pt), 4.0)
            if w_pt * h_pt * scale * scale > limits.max_pixels:
                scale = (limits.max_pixels / (w_pt * h_pt)) ** 0.5
            bitmap = page.render(scale=scale)
            im = bitmap.to_pil()
            pages.append(_to_bgr(im))
            page.close()
    finally:
        pdf.close()
    return Pages(pages, n)
