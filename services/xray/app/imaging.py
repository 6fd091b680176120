"""Pure image preparation shared by training and serving (numpy + OpenCV only, no torch).

Every image goes through the same steps, so what the models see at serving time is what they saw in training:
grayscale float -> percentile window -> 8-bit -> working size (longest side <= WORK_SIDE) -> CLAHE.
The windowing is what makes the washed-out JSRT scans and the contrast-rich NIH scans look alike.
"""
from __future__ import annotations

import numpy as np
import cv2

WORK_SIDE = 512          # every analysis runs on an image whose longest side is at most this
CLS_SIZE = 256           # input side of the chest network (classifier + U-Net + CAM)
CLIP_LOW, CLIP_HIGH = 0.5, 99.5
CLAHE_CLIP, CLAHE_TILES = 2.0, 8


def percentile_window(gray: np.ndarray, low: float = CLIP_LOW, high: float = CLIP_HIGH) -> np.ndarray:
    """Clip to the [low, high] percentiles and stretch to uint8 0..255."""
    a = np.asarray(gray, dtype=np.float32)
    lo, hi = np.percentile(a, [low, high])
    if not np.isfinite(lo) or not np.isfinite(hi) or hi - lo < 1e-6:
        return np.zeros(a.shape, dtype=np.uint8)
    out = (np.clip(a, lo, hi) - lo) * (255.0 / (hi - lo))
    return np.rint(out).astype(np.uint8)


def to_work_size(img: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """Shrink (never enlarge) so that the longest side is at most ``side``."""
    h, w = img.shape[:2]
    scale = side / max(h, w)
    if scale >= 1.0:
        return img
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    return cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)


def clahe(img_u8: np.ndarray) -> np.ndarray:
    op = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=(CLAHE_TILES, CLAHE_TILES))
    return op.apply(img_u8)


def prepare_gray(gray: np.ndarray) -> np.ndarray:
    """Any-depth grayscale array -> windowed, CLAHE-equalised uint8 at working size."""
    if gray.ndim != 2:
        raise ValueError("prepare_gray expects a 2-D grayscale array")
    small = to_work_size(np.asarray(gray, dtype=np.float32))
    return clahe(percentile_window(small))


def to_network_input(work_u8: np.ndarray, size: int = CLS_SIZE) -> np.ndarray:
    """Working image -> float32 (1, size, size) in 0..1 (squashed: CTR is a ratio of widths, so it is unaffected)."""
    r = cv2.resize(work_u8, (size, size), interpolation=cv2.INTER_AREA)
    return (r.astype(np.float32) / 255.0)[None]


def letterbox(work_u8: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Fit into a size x size grey canvas keeping aspect; returns (image, scale, (pad_x, pad_y))."""
    h, w = work_u8.shape[:2]
    scale = size / max(h, w)
    nh, nw = round(h * scale), round(w * scale)
    resized = cv2.resize(work_u8, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.full((size, size), 114, dtype=np.uint8)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas[py:py + nh, px:px + nw] = resized
    return canvas, scale, (px, py)


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of an (H, W, 3) array, any dtype, as float32."""
    a = rgb.astype(np.float32)
    return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk colourfulness on a 0..255 scale (0 for a gray image, ~>15 for a colour photo)."""
    a = rgb.astype(np.float32)
    if a.max() > 255:
        a = a * (255.0 / a.max())
    rg = a[..., 0] - a[..., 1]
    yb = 0.5 * (a[..., 0] + a[..., 1]) - a[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


# ---------------------------------------------------------------------------------------------- decoding uploads
from dataclasses import dataclass, field  # noqa: E402
import io  # noqa: E402
import warnings  # noqa: E402

from zhenxi_common.filetypes import sniff as sniff_bytes  # noqa: E402

IMAGE_TYPES = {"image/png", "image/jpeg", "image/jpg", "image/pjpeg"}
DICOM_TYPES = {"application/dicom", "application/dicom+octet-stream"}
GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")


@dataclass
class Limits:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000      # a 6000 x 6000 detector is fine; decompression bombs are not
    min_side: int = 64


@dataclass
class LoadedImage:
    gray: np.ndarray                   # float32 (H, W) at the input's size, display polarity
    width: int
    height: int
    source: str                        # "png" | "jpeg" | "dicom"
    colourfulness: float = 0.0
    dicom_meta: dict = field(default_factory=dict)
    pixel_spacing_mm: tuple[float, float] | None = None


def sniff(data: bytes, filename: str | None, content_type: str | None, allow_dicom: bool = True) -> str:
    """Decide the format from the bytes first; the declared type only has to not contradict them."""
    from app.errors import UnsupportedMediaTypeError

    ct = (content_type or "").split(";")[0].strip().lower()
    name = (filename or "").lower()
    magic = sniff_bytes(data)
    if magic in ("png", "jpeg"):
        kind = magic
    elif allow_dicom and (magic == "dicom" or ct in DICOM_TYPES or name.endswith(DICOM_SUFFIXES)):
        kind = "dicom"
    else:
        raise UnsupportedMediaTypeError(details={"content_type": ct[:64] or None})
    allowed = {"png": IMAGE_TYPES | GENERIC_TYPES | DICOM_TYPES, "jpeg": IMAGE_TYPES | GENERIC_TYPES,
               "dicom": DICOM_TYPES | GENERIC_TYPES}[kind]
    if ct and ct not in allowed:
        raise UnsupportedMediaTypeError("声明的类型与文件内容不符。 The declared content type does not match the file.",
                                        details={"content_type": ct[:64], "detected": kind})
    return kind


def load_image(data: bytes, filename: str | None = None, content_type: str | None = None,
               limits: Limits | None = None, allow_dicom: bool = True) -> LoadedImage:
    """Bytes -> LoadedImage, or a clear ServiceError (415/413/422). Never trusts the header alone.

    The one decode path of the service: analyses, fine-tuning uploads (``jobs.inspect_zip``, PNG/JPEG only) and
    the trainer all read images here, so an image is accepted or refused the same way everywhere."""
    from app.errors import FileTooLargeError, ImageTooSmallError, ImageUnreadableError

    limits = limits or Limits()
    if len(data) > limits.max_bytes:
        raise FileTooLargeError(details={"bytes": len(data), "max_bytes": limits.max_bytes})
    if not data:
        raise ImageUnreadableError("文件为空。 The file is empty.", details={"bytes": 0})
    kind = sniff(data, filename, content_type, allow_dicom)
    if kind == "dicom":
        from app.dicom import decode_dicom
        d = decode_dicom(data, limits.max_pixels)
        h, w = d.gray.shape
        img = LoadedImage(d.gray, w, h, "dicom", 0.0, d.meta, d.pixel_spacing_mm)
    else:
        img = _load_raster(data, kind, limits)
    if min(img.width, img.height) < limits.min_side:
        raise ImageTooSmallError(details={"width": img.width, "height": img.height, "min_side": limits.min_side})
    return img


def _load_raster(data: bytes, kind: str, limits: Limits) -> LoadedImage:
    from PIL import Image, ImageOps, UnidentifiedImageError
    from app.errors import ImageTooLargeError, ImageUnreadableError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            if w * h > limits.max_pixels:
                raise ImageTooLargeError(details={"pixels": w * h, "max_pixels": limits.max_pixels})
            im.load()
    except ImageTooLargeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLargeError(details={"reason": "decompression_bomb"}) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageUnreadableError(details={"reason": type(e).__name__}) from None
    try:
        im = ImageOps.exif_transpose(im)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # a broken EXIF block is not a reason to refuse the pixels
    mode = im.mode
    colour = 0.0
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        gray = np.asarray(im, dtype=np.float32)
    elif mode == "L":
        gray = np.asarray(im, dtype=np.float32)
    elif mode == "LA":
        gray = np.asarray(im.convert("L"), dtype=np.float32)
    else:
        rgb = np.asarray(im.convert("RGB"))
        small = rgb[:: max(1, rgb.shape[0] // 256), :: max(1, rgb.shape[1] // 256)]
        colour = colourfulness(small)
        gray = rgb_to_gray(rgb)
    h, w = gray.shape
    return LoadedImage(gray, w, h, kind, colour)
