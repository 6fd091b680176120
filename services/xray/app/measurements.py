"""Lung/heart masks -> cleaned binary masks and measurements (cardiothoracic ratio, lung areas)."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

ORGANS = ("left_lung", "right_lung", "heart")  # left_lung = the patient's left = image right (PA display)


def largest_component(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 2:
        return m.astype(bool)
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return lab == k


def binarize(probs: np.ndarray, threshold: float | Sequence[float] = 0.5) -> np.ndarray:
    """(3, S, S) probabilities -> (3, S, S) bool, one connected component per organ; ``threshold`` is one value or
    one per organ."""
    ts = [float(threshold)] * len(probs) if np.isscalar(threshold) else [float(t) for t in threshold]
    if len(ts) != len(probs):
        raise ValueError(f"{len(ts)} thresholds for {len(probs)} masks")
    return np.stack([largest_component(p >= t) for p, t in zip(probs, ts)])


def resize_masks(masks: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bool masks at network size -> bool masks at (height, width) via smooth upsampling."""
    out = []
    for m in masks:
        r = cv2.resize(m.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        out.append(r >= 0.5)
    return np.stack(out)


def _x_extent(mask: np.ndarray) -> tuple[int, int] | None:
    cols = np.where(mask.any(0))[0]
    return (int(cols[0]), int(cols[-1])) if cols.size else None


def measure(masks: np.ndarray, width: int, height: int,
            pixel_spacing_mm: tuple[float, float] | None = None) -> dict:
    """Measurements from (3, S, S) bool masks at network size (squashed). Horizontal ratios are unaffected by the
    squash; areas are rescaled to the input's pixels."""
    left, right, heart = masks
    S_h, S_w = left.shape
    px_area = (width / S_w) * (height / S_h)
    out: dict = {"cardiothoracic_ratio": None, "heart_width_px": None, "thoracic_width_px": None}
    lungs = left | right
    te, he = _x_extent(lungs), _x_extent(heart)
    if te and he and te[1] > te[0]:
        thor = te[1] - te[0] + 1
        hw = he[1] - he[0] + 1
        out["cardiothoracic_ratio"] = round(hw / thor, 3)
        out["heart_width_px"] = round(hw * width / S_w, 1)
        out["thoracic_width_px"] = round(thor * width / S_w, 1)
    la, ra = float(left.sum() * px_area), float(right.sum() * px_area)
    out["left_lung_area_px"] = round(la)
    out["right_lung_area_px"] = round(ra)
    out["lung_area_fraction"] = round(float(lungs.mean()), 4)
    if pixel_spacing_mm:
        mm2 = pixel_spacing_mm[0] * pixel_spacing_mm[1]
        out["left_lung_area_cm2"] = round(la * mm2 / 100.0, 1)
        out["right_lung_area_cm2"] = round(ra * mm2 / 100.0, 1)
    ctr = out["cardiothoracic_ratio"]
    out["cardiomegaly_by_ctr"] = None if ctr is None else bool(ctr > 0.5)
    return out


def lung_plausibility(masks: np.ndarray) -> dict:
    """Does the segmentation look like two lungs on a frontal chest film? Used by the gate."""
    left, right, heart = masks
    S = left.shape[1]
    reasons = []
    fl, fr, fh = float(left.mean()), float(right.mean()), float(heart.mean())
    for name, f in (("left_lung", fl), ("right_lung", fr)):
        if not 0.03 <= f <= 0.40:
            reasons.append(f"{name}_area")
    cx = lambda m: float(np.where(m)[1].mean()) / S if m.any() else 0.5  # noqa: E731
    if left.any() and right.any() and not cx(left) > cx(right):
        reasons.append("lung_sides")
    if fh < 0.005 or fh > 0.30:
        reasons.append("heart_area")
    if fl and fr and max(fl, fr) / max(1e-6, min(fl, fr)) > 4.0:
        reasons.append("lung_asymmetry")
    return {"plausible": not reasons, "reasons": reasons, "areas": [round(fl, 4), round(fr, 4), round(fh, 4)]}
