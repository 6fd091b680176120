"""Uneven light on a phone photo of paper: a hand's or the phone's shadow, a lamp to one side, a shaded crease,
vignetting. The paper shows the light falling on it: its local brightest level, with the ink closed away."""
from __future__ import annotations

import cv2
import numpy as np

SHADED = (0.4, 0.6)  # paper lit at this share of the page's brightest light is in a deep shadow, worth undoing
MIN_SHADED_SHARE = 0.10  # ... and the page is flattened only when that much of it is in such a shadow
KEEP = 1.15  # light within this factor of the brightest is left as it is (the recogniser reads it well)
NOT_PAPER = 0.35  # darker than this share of the brightest light is not paper in a shadow (a desk): left alone


def local_light(grey: np.ndarray, work: int = 128, frac: float = 1 / 8, full: bool = True) -> np.ndarray:
    """The light falling on each part of the frame, as the paper there shows it: the brightest level around each
    pixel (a grey closing at ``frac`` of the long side removes the ink; a closing, not a dilation alone, keeps the
    edge of a shadow or of a bright page against a darker desk where it is), smoothed a little, at the size of
    ``grey`` (``full``) or of the working copy of at most ``work`` px it is computed on, so it costs little."""
    h, w = grey.shape[:2]
    s = min(1.0, work / max(h, w))
    small = cv2.resize(grey, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
    k = max(3, int(max(small.shape) * frac)) | 1
    bg = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    bg = cv2.GaussianBlur(bg, (0, 0), 1.0)
    return cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR) if full else bg


def flatten(img: np.ndarray) -> tuple[np.ndarray, bool]:
    """The page as if evenly lit, when a shadow covers a good part of it: where the light falling on the paper
    (``local_light`` on a 256 px copy, closing at 1/12 of the long side: wider than any text line, narrower than a
    shadow) is below ``1 / KEEP`` of the page's brightest, the pixels are brightened by the missing light beyond
    that factor (the same gain on every colour channel). Paper that is lit about fully stays pixel for pixel as it
    was, and so does what is too dark to be paper in a shadow (``NOT_PAPER``: a desk, a dark print area; the gain
    fades out between it and ``SHADED[0]``). A page with less than ``MIN_SHADED_SHARE`` of its area lit within
    ``SHADED`` (evenly lit, a vignetted corner, a dark edge of the desk) is returned as it is.
    Returns (image, flattened)."""
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    light = local_light(grey, work=256, frac=1 / 12, full=False).astype(np.float32)
    hi = float(np.percentile(light, 98)) if light.size else 0.0
    if hi <= 0:
        return img, False
    r = light / hi
    if float(((r >= SHADED[0]) & (r < SHADED[1])).mean()) < MIN_SHADED_SHARE:
        return img, False
    gain = np.clip(1.0 / np.maximum(r * KEEP, 1e-3), 1.0, None)
    fade = np.clip((r - NOT_PAPER) / (SHADED[0] - NOT_PAPER), 0.0, 1.0)
    gain = 1.0 + (gain - 1.0) * fade
    gain = cv2.resize(gain, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    out = img.astype(np.float32) * (gain[..., None] if img.ndim == 3 else gain)
    return np.clip(np.round(out), 0, 255).astype(np.uint8), True
