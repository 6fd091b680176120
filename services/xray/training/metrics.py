"""Numpy-only metrics shared by training and bench/xray_accuracy.py (no sklearn needed at bench time)."""
from __future__ import annotations

import numpy as np


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    """Mann-Whitney AUROC with average ranks for ties; NaN when a class is missing."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    npos, nneg = int(y.sum()), int((~y).sum())
    if npos == 0 or nneg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    ss = s[order]
    i = 0
    while i < len(ss):
        j = i
        while j + 1 < len(ss) and ss[j + 1] == ss[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[y].sum() - npos * (npos + 1) / 2.0) / (npos * nneg))


def bootstrap_ci(y: np.ndarray, s: np.ndarray, fn=auroc, n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Percentile 95% CI by resampling images; resamples missing a class are skipped."""
    rng = np.random.default_rng(seed)
    y, s = np.asarray(y), np.asarray(s)
    vals = []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        v = fn(y[idx], s[idx])
        if np.isfinite(v):
            vals.append(v)
    if len(vals) < n // 10:
        return float("nan"), float("nan")
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


def mean_auroc_ci(Y: np.ndarray, S: np.ndarray, n: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """Mean AUROC over the columns that have both classes, with a joint image-level bootstrap CI."""
    def mean_of(y, s):
        v = [auroc(y[:, k], s[:, k]) for k in range(y.shape[1])]
        v = [x for x in v if np.isfinite(x)]
        return float(np.mean(v)) if v else float("nan")
    rng = np.random.default_rng(seed)
    point = mean_of(Y, S)
    vals = []
    for _ in range(n):
        idx = rng.integers(0, len(Y), len(Y))
        vals.append(mean_of(Y[idx], S[idx]))
    vals = [v for v in vals if np.isfinite(v)]
    return point, float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


def youden_threshold(y: np.ndarray, s: np.ndarray, min_specificity: float = 0.0) -> float:
    """Score threshold maximising sensitivity + specificity - 1 (midpoint between neighbouring scores), among the
    thresholds whose specificity is at least ``min_specificity``."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    if y.all() or (~y).all():
        return 0.5
    cands = np.unique(s)
    best_t, best_j = 0.5, -1.0
    for i, t in enumerate(cands):
        pred = s >= t
        spec = (~pred & ~y).sum() / (~y).sum()
        if spec < min_specificity:
            continue
        j = (pred & y).sum() / y.sum() + spec - 1.0
        if j > best_j:
            lo = cands[i - 1] if i > 0 else t
            best_t, best_j = float((lo + t) / 2.0), j
    return best_t


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a).astype(bool), np.asarray(b).astype(bool)
    den = a.sum() + b.sum()
    return 1.0 if den == 0 else float(2.0 * (a & b).sum() / den)


def box_iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / ua if ua > 0 else 0.0


def sensitivity_at_fp(dets: list[list[tuple[float, list[float]]]], gts: list[list[list[float]]],
                      fp_per_image: float = 1.0, hit=None) -> tuple[float, float]:
    """FROC point: sensitivity at the score where false positives per image reach ``fp_per_image``.

    A detection is a hit when its centre lies inside a ground-truth box (or IoU >= 0.1 via ``hit``);
    each ground-truth lesion counts once. Returns (sensitivity, score threshold)."""
    def is_hit(d, g):
        cx, cy = (d[0] + d[2]) / 2, (d[1] + d[3]) / 2
        return (g[0] <= cx <= g[2] and g[1] <= cy <= g[3]) or box_iou(d, g) >= 0.1
    hit = hit or is_hit
    flat = []
    for i, ds in enumerate(dets):
        for score, box in ds:
            flat.append((score, i, box))
    flat.sort(key=lambda t: -t[0])
    n_img = len(gts)
    n_gt = sum(len(g) for g in gts)
    found: set[tuple[int, int]] = set()
    fp = 0
    best_sens, best_thr = 0.0, 1.0
    for score, i, box in flat:
        matched = False
        for k, g in enumerate(gts[i]):
            if hit(box, g):
                matched = True
                found.add((i, k))
        if not matched:
            fp += 1
        if fp / n_img > fp_per_image:
            break
        best_sens, best_thr = (len(found) / n_gt if n_gt else float("nan")), score
    return best_sens, best_thr
