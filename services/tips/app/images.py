"""Tip images: checked before decoding, then re-encoded once per served width as WebP and a JPEG fallback.

Order matters: bytes first (413), then the format and pixel count from the header only (a decompression bomb is
refused before its pixels are allocated), then a full decode (corrupt files fail here). EXIF and every other
metadata block are dropped: the orientation is applied to the pixels first, and nothing else is written."""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import (ImageFileTooLargeError, ImageTooManyPixelsError, ImageTooSmallError, ImageUnreadableError,
                     UnsupportedImageTypeError)

ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
FORMATS = {"webp": ("WEBP", "image/webp"), "jpeg": ("JPEG", "image/jpeg")}


@dataclass(frozen=True)
class Variant:
    width: int
    height: int
    format: str   # webp | jpeg
    media_type: str
    data: bytes


@dataclass(frozen=True)
class ProcessedImage:
    width: int
    height: int
    variants: list[Variant]


def process_image(data: bytes, *, max_bytes: int, max_pixels: int, widths: tuple[int, ...],
                  min_side: int = 32) -> ProcessedImage:
    if len(data) > max_bytes:
        raise ImageFileTooLargeError(details={"max_bytes": max_bytes, "bytes": len(data)})
    if not data:
        raise ImageUnreadableError(details={"reason": "empty"})
    with warnings.catch_warnings():
        # Pillow's own bomb guard would warn or raise on its global limit; ours is checked explicitly below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise ImageTooManyPixelsError(details={"max_pixels": max_pixels}) from exc
        except UnidentifiedImageError as exc:
            raise ImageUnreadableError(details={"reason": "not_an_image"}) from exc
        except (OSError, SyntaxError, ValueError) as exc:   # a header that starts right and then breaks off
            raise ImageUnreadableError(details={"reason": "corrupt"}) from exc
        if img.format not in ACCEPTED:
            raise UnsupportedImageTypeError(details={"format": img.format, "accepted": sorted(ACCEPTED.values())})
        w, h = img.size
        if w * h > max_pixels:
            raise ImageTooManyPixelsError(details={"max_pixels": max_pixels, "pixels": w * h})
        if min(w, h) < min_side:
            raise ImageTooSmallError(details={"min_side": min_side, "width": w, "height": h})
        try:
            img.load()
            img = ImageOps.exif_transpose(img)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise ImageUnreadableError(details={"reason": "corrupt"}) from exc
    has_alpha = img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info)
    base = img.convert("RGBA" if has_alpha else "RGB")
    w, h = base.size
    variants: list[Variant] = []
    for target in sorted({min(t, w) for t in widths}):
        size = (target, max(1, round(h * target / w)))
        frame = base if size == base.size else base.resize(size, Image.Resampling.LANCZOS)
        for fmt, (pil_fmt, media) in FORMATS.items():
            out = io.BytesIO()
            if pil_fmt == "JPEG":
                rgb = frame
                if frame.mode == "RGBA":   # JPEG has no alpha: flatten on white
                    rgb = Image.new("RGB", frame.size, (255, 255, 255))
                    rgb.paste(frame, mask=frame.getchannel("A"))
                rgb.save(out, "JPEG", quality=82, optimize=True, progressive=True)
            else:
                frame.save(out, "WEBP", quality=80, method=4)
            variants.append(Variant(size[0], size[1], fmt, media, out.getvalue()))
    return ProcessedImage(w, h, variants)
