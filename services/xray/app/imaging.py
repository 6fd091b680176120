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
