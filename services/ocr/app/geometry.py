"""Page geometry, pure OpenCV: find the sheet's quadrilateral and undo perspective, turn 90/270° photos
upright (text-line direction), and remove small skew. 0° vs 180° needs reading, so it is settled later by the
angle classifier on a handful of text lines (inference.page_is_upside_down)."""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import NamedTuple

import cv2
import numpy as np

WORK_LONG_SIDE = 800


@dataclass
class GeometryResult:
    image: np.ndarray
    quad: list[list[float]] | None  # page corners in the input image (tl, tr, br, bl), if a page was found
    rotation: int  # degrees clockwise applied for coarse orientation (0, 90, 270)
    skew: float  # degrees removed
    text_perspective: bool = False  # no page outline; the perspective the text lines and columns show was undone

    def as_dict(self) -> dict[str, object]:
        return {"page_found": self.quad is not None, "rotation": self.rotation, "skew_deg": round(self.skew, 2),
                "text_perspective": self.text_perspective}

    def turned(self, degrees_cw: int) -> "GeometryResult":
        """The same page turned further by ``degrees_cw`` (a multiple of 90), its rotation counted in."""
        return replace(self, image=rotate(self.image, degrees_cw), rotation=(self.rotation + degrees_cw) % 360)


def order_corners(pts: np.ndarray) -> np.ndarray:
    """tl, tr, br, bl."""
    pts = np.asarray(pts, dtype=np.float32).reshape(4, 2)
    s = pts.sum(axis=1)
    d = np.diff(pts, axis=1).ravel()
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]], dtype=np.float32)


def _quad_ok(q: np.ndarray, area_img: float, min_share: float = 0.2) -> bool:
    if not cv2.isContourConvex(q.reshape(-1, 1, 2).astype(np.int32)):
        return False
    area = cv2.contourArea(q.astype(np.float32))
    if area < min_share * area_img or area > 0.985 * area_img:
        return False
    # angles not too far from 90°
    for i in range(4):
        a, b, c = q[i - 1], q[i], q[(i + 1) % 4]
        v1, v2 = a - b, c - b
        cos = abs(float(np.dot(v1, v2) / (np.linalg.norm(v1) * np.linalg.norm(v2) + 1e-6)))
        if cos > 0.5:  # 60°..120°
            return False
    return True


def _edge_on_frame(q: np.ndarray, w: int, h: int, margin: float = 0.015) -> bool:
    """Does a side of the quad run along the photo's border? Then that side is the frame cutting the paper (or
    the paper and whatever lies beside it), not an edge of paper against a desk."""
    m = margin * max(w, h)
    for a, b in zip(q, np.roll(q, -1, axis=0)):
        for axis, limit in ((0, 0.0), (0, w - 1.0), (1, 0.0), (1, h - 1.0)):
            if abs(a[axis] - limit) <= m and abs(b[axis] - limit) <= m:
                return True
    return False


FRAME_CORNER_DIAGONAL_DEG = 10.0  # a side leaving the photo's corner this far off both axes cuts across the frame


def _frame_corner_artefact(q: np.ndarray, w: int, h: int, margin: float = 0.015) -> bool:
    """A quad with a corner on a corner of the photo and a side from there cutting diagonally across the frame
    (neither along the photo's border nor nearly parallel to it): the hull of edges that reach the frame's corner
    (a shadow, the desk). A page
    the frame cuts at its corner has both sides there along the border; a page's own corner is never exactly on
    the photo's."""
    m = margin * max(w, h)
    for i, p in enumerate(q):
        if min(abs(p[0]), abs(p[0] - (w - 1))) <= m and min(abs(p[1]), abs(p[1] - (h - 1))) <= m:
            for nb in (q[i - 1], q[(i + 1) % 4]):
                along = any(abs(p[a] - lim) <= m and abs(nb[a] - lim) <= m
                            for a, lim in ((0, 0.0), (0, w - 1.0), (1, 0.0), (1, h - 1.0)))
                dx, dy = abs(float(nb[0] - p[0])), abs(float(nb[1] - p[1]))
                off_axis = np.degrees(np.arctan2(min(dx, dy), max(dx, dy)))  # 0: along an axis, 45: diagonal
                if not along and off_axis > FRAME_CORNER_DIAGONAL_DEG:
                    return True
    return False


def _work_grey(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The photo at the work scale (long side WORK_LONG_SIDE at most), its blurred grey, and the scale."""
    h, w = img.shape[:2]
    s = WORK_LONG_SIDE / max(h, w)
    small = cv2.resize(img, (max(int(w * s), 1), max(int(h * s), 1)), interpolation=cv2.INTER_AREA) if s < 1 else img
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    return small, cv2.GaussianBlur(grey, (5, 5), 0), min(s, 1.0)


def _paper_mask(grey: np.ndarray) -> np.ndarray:
    """Bright paper against a darker background: Otsu, with the text closed away."""
    _, bw = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return cv2.morphologyEx(bw, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15)))


def _mask_quads(mask: np.ndarray, n_hulls: int = 3, min_share: float = 0.2) -> list[np.ndarray]:
    """A quadrilateral (tl, tr, br, bl; work-scale pixels) for each of the mask's n_hulls largest blobs, by the
    area of their hulls, that covers at least min_share of the frame and is shaped like a sheet."""
    h, w = mask.shape[:2]
    area_img = float(h * w)
    out = []
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    # by the area of their hulls: a page outline whose edge is broken at one corner is an open line that
    # encloses nothing, but its hull is the page
    hulls = sorted((cv2.convexHull(c) for c in contours), key=cv2.contourArea, reverse=True)
    for hull in hulls[:n_hulls]:
        if cv2.contourArea(hull) < min_share * area_img:
            break
        peri = cv2.arcLength(hull, True)
        for eps in (0.02, 0.03, 0.05):
            approx = cv2.approxPolyDP(hull, eps * peri, True)
            if len(approx) == 4:
                q = order_corners(approx.reshape(4, 2))
                if _quad_ok(q, area_img, min_share) and not _frame_corner_artefact(q, w, h):
                    out.append(q)
                break
    return out


def _outline_masks(img: np.ndarray) -> tuple[np.ndarray, float, list[np.ndarray]]:
    """The blurred grey at the work scale, the scale, and the masks a sheet's outline is looked for in: the bright
    paper (Otsu), the edges of the grey image and the edges of any colour channel (a shadowed page on a desk of
    about its brightness still differs in colour)."""
    small, grey, s = _work_grey(img)
    dil = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
    masks = [_paper_mask(grey), cv2.dilate(cv2.Canny(grey, 40, 120), dil)]
    if small.ndim == 3:
        blur = cv2.GaussianBlur(small, (5, 5), 0)
        masks.append(cv2.dilate(np.max([cv2.Canny(blur[..., c], 40, 120) for c in range(3)], axis=0), dil))
    return grey, s, masks


def page_quads(img: np.ndarray) -> list[np.ndarray]:
    """Candidate corners of the sheet (tl, tr, br, bl) in img coordinates, largest first; empty when the photo is
    already the page (scans, crops) or no convincing quadrilateral exists. Candidates come from the bright paper
    (Otsu), from the edges of the grey image and from the edges of any colour channel (a shadowed page on a desk
    of about its brightness still differs in colour)."""
    grey, s, masks = _outline_masks(img)
    candidates = [q / s for mask in masks for q in _mask_quads(mask)]
    return sorted(candidates, key=lambda q: -cv2.contourArea(q.astype(np.float32)))


def find_page_quad(img: np.ndarray) -> np.ndarray | None:
    """Corners of the sheet (tl, tr, br, bl) in img coordinates, or None when the photo is already the page
    (scans, crops) or no convincing quadrilateral exists."""
    quads = page_quads(img)
    return quads[0] if quads else None


def warp_page(img: np.ndarray, quad: np.ndarray) -> np.ndarray:
    tl, tr, br, bl = quad
    wdt = int(round(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))))
    hgt = int(round(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))))
    wdt, hgt = max(wdt, 16), max(hgt, 16)
    dst = np.array([[0, 0], [wdt - 1, 0], [wdt - 1, hgt - 1], [0, hgt - 1]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    return cv2.warpPerspective(img, m, (wdt, hgt), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _text_blobs(img: np.ndarray, thin: bool = False) -> tuple[np.ndarray, float]:
    """Binary mask of text where characters of one line are merged, and the working scale. ``thin``: only thin
    dark strokes (black top-hat of 5 px at the working scale, at least 25 grey levels deep) instead of the adaptive
    threshold: print strokes are a few pixels wide and dark, while the interference bands of a photographed
    screen (moiré) are smooth or faint, so they drop out there where the adaptive threshold turns their dark
    troughs into long stripes."""
    h, w = img.shape[:2]
    s = min(1.0, 1000 / max(h, w))
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    if s < 1:
        grey = cv2.resize(grey, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
    if thin:
        hat = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
        bw = ((hat > 25) * 255).astype(np.uint8)
    else:
        bw = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    n, _, stats, _ = cv2.connectedComponentsWithStats(bw, connectivity=8)
    hs = stats[1:, cv2.CC_STAT_HEIGHT] if n > 1 else np.array([8])
    ws = stats[1:, cv2.CC_STAT_WIDTH] if n > 1 else np.array([8])
    sel = (hs >= 4) & (hs <= 60) & (ws <= 60)
    ch = float(np.median(np.maximum(hs[sel], ws[sel]))) if sel.any() else 10.0
    k = max(3, int(ch * 0.9))
    # remove long table rules so they do not dominate the orientation vote
    lines_h = cv2.morphologyEx(bw, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k * 6, 1)))
    lines_v = cv2.morphologyEx(bw, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, k * 6)))
    bw = cv2.subtract(bw, cv2.bitwise_or(lines_h, lines_v))
    return bw, ch


def _line_direction_scores(bw: np.ndarray, ch: float) -> dict[str, float]:
    """Total length of the horizontal ('h') and vertical ('v') line-like blobs of merged characters."""
    k = max(3, int(ch * 0.8))
    score = {}
    for name, kernel in (("h", (k, 1)), ("v", (1, k))):
        merged = cv2.morphologyEx(bw, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, kernel))
        n, _, stats, _ = cv2.connectedComponentsWithStats(merged, connectivity=8)
        if n <= 1:
            score[name] = 0.0
            continue
        ww = stats[1:, cv2.CC_STAT_WIDTH].astype(np.float32)
        hh = stats[1:, cv2.CC_STAT_HEIGHT].astype(np.float32)
        long_side = np.maximum(ww, hh)
        elong = ww / np.maximum(hh, 1) if name == "h" else hh / np.maximum(ww, 1)
        ok = (elong > 2.5) & (long_side > 2 * ch) & (np.minimum(ww, hh) < 3 * ch)
        score[name] = float(long_side[ok].sum())
    return score


def text_orientation(img: np.ndarray) -> int:
    """0 if text lines run horizontally, 90 if they run vertically (page turned by 90° or 270°). A vertical verdict
    that the thin strokes alone contradict is not taken: the stripes of screen moiré run across the text lines and
    read as vertical lines in the thresholded ink."""
    bw, ch = _text_blobs(img)
    score = _line_direction_scores(bw, ch)
    if score["v"] <= 1.3 * score["h"]:
        return 0
    thin = _line_direction_scores(*_text_blobs(img, thin=True))
    return 0 if thin["h"] > 1.3 * thin["v"] else 90


def estimate_skew(img: np.ndarray) -> float:
    """Small skew of horizontal text lines in degrees (positive = counter-clockwise), within ±15°."""
    bw, ch = _text_blobs(img)
    k = max(3, int(ch * 1.2))
    merged = cv2.morphologyEx(bw, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1)))
    contours, _ = cv2.findContours(merged, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    angles, weights = [], []
    for c in contours:
        if len(c) < 5:
            continue
        (cx, cy), (rw, rh), ang = cv2.minAreaRect(c)
        if rw < rh:
            rw, rh = rh, rw
            ang = ang - 90
        if rw < 4 * ch or rh > 2.5 * ch:
            continue
        # ang is now the long side's direction: a blob running down the page (a moiré stripe across the text, a
        # slanted rule) is not a text line, and folding it by 90° would count it as one
        if abs((ang + 90) % 180 - 90) > 45:
            continue
        # OpenCV angles: normalise to (-45, 45]
        while ang <= -45:
            ang += 90
        while ang > 45:
            ang -= 90
        angles.append(-ang)
        weights.append(rw)
    if len(angles) < 3:
        return 0.0
    a = np.array(angles)
    wts = np.array(weights)
    order = np.argsort(a)
    cum = np.cumsum(wts[order])
    med = float(a[order][np.searchsorted(cum, cum[-1] / 2)])
    return med if abs(med) <= 15 else 0.0


def rotate(img: np.ndarray, degrees_cw: int) -> np.ndarray:
    d = degrees_cw % 360
    if d == 90:
        return cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
    if d == 180:
        return cv2.rotate(img, cv2.ROTATE_180)
    if d == 270:
        return cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return img


def _rotation_on_grown_canvas(img: np.ndarray, angle: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The affine matrix turning ``img`` by ``angle`` degrees counter-clockwise about its centre, and the size
    (w, h) of the canvas that holds all of it."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return m, (nw, nh)


def deskew(img: np.ndarray, angle: float) -> np.ndarray:
    """Rotate by ``angle`` degrees counter-clockwise to straighten lines (canvas grows; border replicated)."""
    if abs(angle) < 0.3:
        return img
    m, size = _rotation_on_grown_canvas(img, angle)
    return cv2.warpAffine(img, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


ROLL_MIN_DEG = 12.0  # a roll this large is taken off before the rest of geometry (estimate_skew covers less)
ROLL_MIN_SHARPNESS = 1.3  # the best angle's profile sharpness over the median angle's: below it, no text rows
ROLL_RESIDUAL_MAX_DEG = 3.0  # after a roll is taken off, estimate_skew corrects at most this much more
ROLL_OVER_LEVEL = 1.3  # ... and, for a roll past ROLL_MIN_DEG, over the best angle within it: a diagonal hatch or
# watermark on a level page stands out over the median angle too, but less over the page's own level rows (1.15
# for a dashed 45° hatch over 12 % of a page; real dev photos rolled 16-40° on the stress set: 1.39 at least,
# median 2.1. A hatch over a fifth of a page reaches 1.65 and is still taken for a roll)


def rows_angle(pts: np.ndarray, bin_px: float) -> tuple[float, float, float]:
    """The direction of the rows that points (characters' centres, x right, y down) line up along, in degrees
    in [-45, 45) (y' = y cos a - x sin a is constant along a row), taken modulo 90: the angle whose projections
    are sharpest, across the rows and across the columns at once (the sum of squared counts in bins of
    ``bin_px``); rows and a table's columns line up at the same angle modulo 90. Returns (angle, how much
    sharper than at the median angle, how much sharper than the best angle within ±ROLL_MIN_DEG);
    (0.0, 1.0, 1.0) for fewer than 30 points."""
    if len(pts) < 30:
        return 0.0, 1.0, 1.0
    pts = np.asarray(pts, dtype=np.float64) - np.mean(pts, axis=0)

    def sharpness(deg: float) -> float:
        t = np.radians(deg)
        total = 0.0
        for u in (pts[:, 1] * np.cos(t) - pts[:, 0] * np.sin(t), pts[:, 0] * np.cos(t) + pts[:, 1] * np.sin(t)):
            counts = np.bincount(((u - u.min()) / bin_px).astype(np.int64)).astype(np.float64)
            total += float((counts * counts).sum())
        return total

    coarse = np.arange(-45.0, 45.0, 1.0)
    scores = np.array([sharpness(a) for a in coarse])
    best = float(coarse[int(scores.argmax())])
    fine = np.arange(best - 1.0, best + 1.01, 0.1)
    angle = float(fine[int(np.argmax([sharpness(a) for a in fine]))])
    level = float(scores[np.abs(coarse) <= ROLL_MIN_DEG].max())
    return ((angle + 45.0) % 90.0 - 45.0, float(scores.max() / max(float(np.median(scores)), 1e-9)),
            float(scores.max() / max(level, 1e-9)))


def standing_roll(pts: np.ndarray, bin_px: float) -> float:
    """``rows_angle``'s angle where it stands out as the rows' own (sharper than the median angle by
    ROLL_MIN_SHARPNESS; a roll past ROLL_MIN_DEG also sharper than the best level angle by ROLL_OVER_LEVEL), else
    0.0. The one rule of the gate (quality.text_layout) and of ``coarse_roll``."""
    angle, sharper, over_level = rows_angle(pts, bin_px)
    if sharper < ROLL_MIN_SHARPNESS or abs(angle) >= ROLL_MIN_DEG and over_level < ROLL_OVER_LEVEL:
        return 0.0
    return angle


def coarse_roll(img: np.ndarray, ink: _Ink | None = None) -> float:
    """The roll of the text rows in degrees (positive = counter-clockwise, as ``estimate_skew``), modulo 90, for
    any angle (``rows_angle`` over the characters' centres). A phone held at 20-40° to the page leaves rows that
    a horizontal closing no longer merges into lines, so ``estimate_skew`` sees none; the characters themselves
    still line up along the rows and down the table's columns. The quarter turn is ``text_orientation``'s to
    settle after. 0.0 where too few characters are found or no angle stands out. ``ink``: the photo's _ink,
    when the caller has it."""
    bw, ch, paper, _ = ink or _ink(img)
    n, _, stats, centres = cv2.connectedComponentsWithStats(bw, connectivity=8)
    if n < 31:
        return 0.0
    size = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
    pts = centres[1:][(size >= 0.3 * ch) & (size <= 2.5 * ch)]
    # the characters on the page, the largest bright area: a keyboard's grid of letters or a striped desk beside
    # a short sheet has more blobs in rows of its own than the sheet has
    k = max(3, int(2 * ch)) | 1
    near = cv2.dilate(paper, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    n_areas, areas, area_stats, _ = cv2.connectedComponentsWithStats(near, connectivity=8)
    on_paper = pts[:0]
    if n_areas > 1:
        page = 1 + int(np.argmax(area_stats[1:, cv2.CC_STAT_AREA]))
        xi = np.clip(pts[:, 0].astype(np.int64), 0, near.shape[1] - 1)
        yi = np.clip(pts[:, 1].astype(np.int64), 0, near.shape[0] - 1)
        on_paper = pts[areas[yi, xi] == page]
    return -standing_roll(on_paper if len(on_paper) >= 30 else pts, max(2.0, ch / 3))


def turn_by(img: np.ndarray, angle: float) -> np.ndarray:
    """Rotate by ``angle`` degrees counter-clockwise on a grown canvas filled with the photo's border colour (its
    median): replicating the border, as ``deskew`` does for a small angle, would draw long stripes across a
    large corner."""
    m, size = _rotation_on_grown_canvas(img, angle)
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    fill = tuple(float(v) for v in np.median(border.reshape(len(border), -1), axis=0))
    return cv2.warpAffine(img, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


MIN_LONG_SIDE = 1280  # small web/phone images are enlarged to this (at most MAX_UPSCALE times) before OCR
MAX_UPSCALE = 2.5


def upscale_small(img: np.ndarray) -> np.ndarray:
    """Enlarge a small photo (a 600 px screenshot of a sheet) so that its characters reach the size the detector
    and recogniser were trained on; larger photos are left alone."""
    h, w = img.shape[:2]
    f = min(MAX_UPSCALE, MIN_LONG_SIDE / max(h, w))
    if f <= 1.05:
        return img
    return cv2.resize(img, (int(round(w * f)), int(round(h * f))), interpolation=cv2.INTER_CUBIC)


class _Ink(NamedTuple):
    """What text_outside_quad reads off the photo, whatever the quad: the text blobs, the char size and the
    paper mask, at the work scale s."""
    bw: np.ndarray
    ch: float
    paper: np.ndarray
    s: float


def _ink(img: np.ndarray) -> _Ink:
    bw, ch = _text_blobs(img)
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    grey = cv2.resize(grey, (bw.shape[1], bw.shape[0]), interpolation=cv2.INTER_AREA)
    _, paper = cv2.threshold(cv2.GaussianBlur(grey, (5, 5), 0), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    k = max(5, int(3 * ch)) | 1
    paper = cv2.morphologyEx(paper, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    paper = cv2.erode(paper, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
    return _Ink(bw, ch, paper, bw.shape[1] / img.shape[1])


def text_outside_quad(img: np.ndarray, quad: np.ndarray, ink: _Ink | None = None) -> float:
    """Share of the text ink that lies outside the quadrilateral: a 'page' that cuts through the table (a ruled
    box, the table's own frame) leaves text outside and must not be used to crop. ``ink``: the photo's _ink,
    when the caller checks several quads."""
    bw, _, paper, s = ink or _ink(img)
    mask = np.zeros_like(bw)
    cv2.fillConvexPoly(mask, np.round(quad * s).astype(np.int32), 255)
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7)))
    # A page on a darker desk leaves a band of 'ink' just outside its edges: the adaptive threshold (block 31)
    # marks the desk next to the bright paper (the paper mask). Ink that is both off the paper and within that band
    # of the quad is that halo, not text; text in a shadow further out, or on paper next to the edge, still counts.
    # Only for a page lying inside the frame: a quad with a side along the photo's border is the frame cutting
    # the paper, with no desk edge to leave a halo, and what is dark beside it may be text.
    if not _edge_on_frame(quad, img.shape[1], img.shape[0]):
        band = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (35, 35)))
        bw = cv2.bitwise_and(bw, cv2.bitwise_not(cv2.bitwise_and(band, cv2.bitwise_not(paper))))
    n_ink = float(np.count_nonzero(bw))
    if n_ink == 0:
        return 0.0
    return float(np.count_nonzero(cv2.bitwise_and(bw, cv2.bitwise_not(mask)))) / n_ink


# Two report sheets lying side by side (or one above the other) in one photo: a patient shooting a visit's reports
# at once. Read as one page, their rows would be joined across the sheets; each is cut out and read on its own.
# Three or more are not looked for: such a photo is read whole, as before.
SHEET_MIN_SHARE = 0.08  # of the frame: one of two sheets (two side by side cover 0.25-0.45 each)
SHEET_MIN_TEXT = 0.15  # each sheet holds at least this share of the photo's text ...
SHEETS_MAX_TEXT_OUTSIDE = 0.05  # ... and the sheets together all but this share
SHEET_GAP_DARKER = 0.75  # the desk between two sheets is darker than this share of their paper ...
SHEET_GAP_RUN = 8  # ... over this many work-scale pixels (a ruled line, slanted and blurred, darkens 4-5)
SHEET_EDGE_SLACK = 0.03  # of a quad's size: how far inside its edge the gap is still looked for
SHEET_HALF_TOL = 0.015  # of the height: two quads whose facing corners level this closely are one page
SHEET_CROP_MARGIN = 0.03  # of the sheet's size: the desk kept round each cut-out sheet, so its outline is found


def _extent_overlap(u: np.ndarray, v: np.ndarray) -> float:
    """How far two spans (the coordinates of two quads' corners along one axis) overlap, as a share of the
    shorter; negative when they lie apart."""
    return float(min(u.max(), v.max()) - max(u.min(), v.min())) / max(1.0, min(np.ptp(u), np.ptp(v)))


def _quads_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Area shared by two convex quads, as a share of the smaller one."""
    inter, _ = cv2.intersectConvexConvex(a.astype(np.float32), b.astype(np.float32))
    return float(inter) / max(1.0, min(cv2.contourArea(a.astype(np.float32)), cv2.contourArea(b.astype(np.float32))))


def _in_order(a: np.ndarray, b: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """The axis two quads lie apart along (0: side by side, their x extents overlapping less than their y extents;
    1: one above the other), and the two quads in order along it."""
    axis = 0 if _extent_overlap(a[:, 0], b[:, 0]) < _extent_overlap(a[:, 1], b[:, 1]) else 1
    return (axis, b, a) if a[:, axis].mean() > b[:, axis].mean() else (axis, a, b)


def _halves_of_one_page(a: np.ndarray, b: np.ndarray) -> bool:
    """Do two quads continue each other across the gap: the corners that face each other at both ends of the gap
    level (side by side: at the same height, within SHEET_HALF_TOL of the quads' height)? Then they are one
    page's two halves, cut apart in the paper mask by something lying across it (a pen, a phone, a shadow, a
    fold's crease), not two sheets: sheets laid side by side seldom line up at both ends."""
    axis, a, b = _in_order(a, b)
    o = 1 - axis
    # corners: tl, tr, br, bl. Side by side: a's tr/br face b's tl/bl; one above the other: a's bl/br face b's tl/tr
    pairs = ((a[1], b[0]), (a[2], b[3])) if axis == 0 else ((a[3], b[0]), (a[2], b[1]))
    size = (np.ptp(a[:, o]) + np.ptp(b[:, o])) / 2
    return all(abs(float(p[o] - q[o])) <= SHEET_HALF_TOL * size for p, q in pairs)


def _desk_between(grey: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """Is there desk, not paper, between two quads (work-scale pixels)? Across the gap between them (from a little
    inside one's facing edge to a little inside the other's: an outline may be found inside its sheet), over the
    stretch where both run, the median of each line of pixels along the gap is taken: the desk runs the whole
    stretch and stays dark there, while text covers a line only here and there. SHEET_GAP_RUN of those medians in
    a row must all be much darker than the paper of either (the bright quarter of its pixels); a ruled line is
    narrower. Between two blocks of one table lies paper."""
    axis, a, b = _in_order(a, b)
    slack = [SHEET_EDGE_SLACK * float(np.sqrt(cv2.contourArea(q.astype(np.float32)))) for q in (a, b)]
    g0, g1 = int(a[:, axis].max() - slack[0]), int(np.ceil(b[:, axis].min() + slack[1]))
    o = 1 - axis
    lo, hi = max(a[:, o].min(), b[:, o].min()), min(a[:, o].max(), b[:, o].max())
    lo, hi = int(lo + 0.1 * (hi - lo)), int(hi - 0.1 * (hi - lo))
    h, w = grey.shape[:2]
    g0, g1 = max(0, g0), min(w if axis == 0 else h, g1)
    if g1 - g0 < SHEET_GAP_RUN or hi - lo < 8:
        return False
    band = grey[lo:hi, g0:g1] if axis == 0 else grey[g0:g1, lo:hi].T
    profile = np.median(band, axis=0)
    k = SHEET_GAP_RUN
    darkest = min(float(profile[i:i + k].max()) for i in range(len(profile) - k + 1))
    papers = []
    for q in (a, b):
        m = np.zeros_like(grey)
        cv2.fillConvexPoly(m, np.round(q).astype(np.int32), 255)
        papers.append(float(np.percentile(grey[m > 0], 75)))
    return darkest < SHEET_GAP_DARKER * min(papers)


def _text_shares(img: np.ndarray, quads: list[np.ndarray], ink: _Ink) -> tuple[list[float], float]:
    """Share of the photo's text inside each quad, and outside all of them. The desk's halo just outside a
    quad's edge (ink off the paper, within a band round it) is not text; inside a quad everything dark is, for
    a sheet's paper may be greyer than its neighbour's and so fall outside the Otsu paper mask."""
    bw, _, paper, s = ink
    masks = []
    halo = np.zeros_like(bw)
    for q in quads:
        m = np.zeros_like(bw)
        cv2.fillConvexPoly(m, np.round(q * s).astype(np.int32), 255)
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7)))
        masks.append(m)
        if not _edge_on_frame(q, img.shape[1], img.shape[0]):
            ring = cv2.subtract(cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_RECT, (35, 35))), m)
            halo = cv2.bitwise_or(halo, ring)
    bw = cv2.bitwise_and(bw, cv2.bitwise_not(cv2.bitwise_and(halo, cv2.bitwise_not(paper))))
    n_ink = float(np.count_nonzero(bw))
    if n_ink == 0:
        return [0.0] * len(quads), 1.0
    inside = [float(np.count_nonzero(cv2.bitwise_and(bw, m))) / n_ink for m in masks]
    union = masks[0]
    for m in masks[1:]:
        union = cv2.bitwise_or(union, m)
    return inside, float(np.count_nonzero(cv2.bitwise_and(bw, cv2.bitwise_not(union)))) / n_ink


def sheet_boxes(img: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of each sheet, in reading order, where the photo shows two separate sheets of paper side by
    side, each holding text; [] for a photo of one sheet. Separate means: the two outlines do not overlap, each
    holds a good share of the photo's text and together all of it (the page's own title and header are not
    left outside, as they would be by two framed blocks of one table), and desk, not paper, lies between them."""
    h, w = img.shape[:2]
    grey, s, masks = _outline_masks(img)
    work = [q for mask in masks for q in _mask_quads(mask, n_hulls=4, min_share=SHEET_MIN_SHARE)]
    if len(work) < 2:
        return []
    distinct: list[np.ndarray] = []
    for q in work:  # the masks often find the same outline
        if all(np.abs(q - d).max() > 0.02 * WORK_LONG_SIDE for d in distinct):
            distinct.append(q)
    pairs = [(qa, qb) for i, qa in enumerate(distinct) for qb in distinct[i + 1:]
             if _quads_overlap(qa, qb) <= 0.05 and not _halves_of_one_page(qa, qb) and _desk_between(grey, qa, qb)]
    if not pairs:
        return []
    ink = _ink(img)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for qa, qb in pairs:
        (ta, tb), outside = _text_shares(img, [qa / s, qb / s], ink)
        if min(ta, tb) >= SHEET_MIN_TEXT and outside <= SHEETS_MAX_TEXT_OUTSIDE and (best is None or outside < best[0]):
            best = (outside, qa, qb)
    if best is None:
        return []
    a, b = best[1] / s, best[2] / s
    # side by side (their x extents overlap by little) or one above the other; each sheet's box reaches towards
    # the other only up to the middle of the gap between them, so no sliver of the other sheet's text comes along
    axis, a, b = _in_order(a, b)
    cut = (a[:, axis].max() + b[:, axis].min()) / 2
    boxes = []
    for q, lo, hi in ((a, None, cut), (b, cut, None)):
        x0, y0 = q.min(axis=0)
        x1, y1 = q.max(axis=0)
        mx, my = SHEET_CROP_MARGIN * (x1 - x0), SHEET_CROP_MARGIN * (y1 - y0)
        box = [x0 - mx, y0 - my, x1 + mx, y1 + my]
        if lo is not None:
            box[axis] = max(box[axis], lo)
        if hi is not None:
            box[axis + 2] = min(box[axis + 2], hi)
        boxes.append((max(0, int(box[0])), max(0, int(box[1])), min(w, int(np.ceil(box[2]))),
                      min(h, int(np.ceil(box[3])))))
    return boxes


def page_quad_for_text(img: np.ndarray, ink: _Ink | None = None) -> np.ndarray | None:
    """The largest page candidate that leaves (almost) no text outside: a table frame, or a page outline that
    the mask cut short (a shadow on the paper), is not the page. ``ink``: the photo's _ink, when the caller has
    it."""
    quads = page_quads(img)
    if not quads:
        return None
    ink = ink or _ink(img)
    fits = [q for q in quads if text_outside_quad(img, q, ink) <= 0.03]
    if len(fits) >= 2 and _corners_on_frame(fits[0], img.shape[1], img.shape[0]) == 3:
        # three corners on the photo's border: a pale desk merged with the paper into one bright area that the
        # frame cuts (no page has that outline; a page the frame cuts shows two corners there, or four when it
        # fills the frame). The page inside it is the page
        return fits[1]
    return fits[0] if fits else None


def _corners_on_frame(q: np.ndarray, w: int, h: int, margin: float = 0.015) -> int:
    m = margin * max(w, h)
    return sum(1 for x, y in q if min(x, w - 1 - x, y, h - 1 - y) <= m)


# ---------------------------------------------------------------------------------------------------------------
# A photo of a screen: the camera catches the display's pixel grid, a fine periodic pattern over the whole page.
# In the image's spectrum it stands out as a sharp peak at a period of a few pixels, far above the spectrum around
# it at that frequency, where printed text and paper texture spread their energy broadly. A scanner's halftone or
# dither can make such peaks too, so the service reads a page with a grid both ways and keeps the better reading.

SCREEN_GRID_PEAK = 80.0  # the peak's height over the mean of its ring of frequencies (on the 73 real photos: 53 at
# most; photographed screens of the blind sets 89-144; a JPEG's block grid is left out, below)
SCREEN_GRID_PERIODS = (2.2, 8.0)  # px: a display's pixels or sub-pixels as a phone photographs them
SCREEN_GRID_WINDOW = 512  # px: the square at the page's centre whose spectrum is looked at


@functools.lru_cache(maxsize=4)
def _spectrum_grid(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For an n x n window: its 2-D Hann taper, the row and column frequencies of its real FFT (cycles per window)
    and each frequency's ring (rounded radius), flattened; the same for every page, so worked out once."""
    win = np.outer(np.hanning(n), np.hanning(n)).astype(np.float32)
    fy, fx = np.fft.fftfreq(n) * n, np.fft.rfftfreq(n) * n
    ring = np.rint(np.hypot(fy[:, None], fx[None, :])).astype(np.int64).ravel()
    return win, fy, fx, ring


def screen_grid_period(img: np.ndarray) -> float | None:
    """The period in px of a fine periodic pattern over the page's centre (a photographed screen's pixel grid):
    the strongest peak of the spectrum among periods of 2.2-8 px whose height is at least SCREEN_GRID_PEAK times
    the mean of its ring of frequencies; None when there is none."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    h, w = g.shape[:2]
    n = min(SCREEN_GRID_WINDOW, h, w) // 2 * 2
    if n < 64:
        return None
    c = g[(h - n) // 2:(h - n) // 2 + n, (w - n) // 2:(w - n) // 2 + n].astype(np.float32)
    c -= c.mean()
    win, fy, fx, ring = _spectrum_grid(n)
    spec = np.abs(np.fft.rfft2(c * win))
    vals = spec.ravel()
    lo, hi = int(np.ceil(n / SCREEN_GRID_PERIODS[1])), int(n / SCREEN_GRID_PERIODS[0])
    counts = np.bincount(ring, minlength=hi + 1)[lo:hi + 1]
    mean = np.bincount(ring, weights=vals, minlength=hi + 1)[lo:hi + 1] / np.maximum(counts, 1)
    peak = np.zeros(hi + 1)
    np.maximum.at(peak, ring[ring <= hi], vals[ring <= hi])
    ratio = peak[lo:hi + 1] / (mean + 1e-6)
    periods = n / np.arange(lo, hi + 1)
    # (a JPEG's 8 x 8 blocks repeat at 8, 4 and 8/3 px: their peaks are the compression's, not a screen's)
    ratio[np.min(np.abs(periods[:, None] - np.array([8.0, 4.0, 8.0 / 3.0])[None, :]), axis=1) < 0.08] = 0.0
    k = int(np.argmax(ratio))
    if ratio[k] < SCREEN_GRID_PEAK:
        return None
    # a harmonic of a coarser pattern (ruled lines every 30 px) is no grid: the same direction at 1/m of the
    # frequency peaks as well there
    sel = np.flatnonzero((ring == lo + k) & (vals == peak[lo + k]))[0]
    py, px = np.unravel_index(sel, spec.shape)
    fy0, fx0 = fy[py], fx[px]
    for m in range(2, 9):
        y, x = int(round(fy0 / m)) % n, int(round(fx0 / m))
        r = int(round(np.hypot(fy0 / m, fx0 / m)))
        if r >= 2 and spec[y, x] >= 0.5 * SCREEN_GRID_PEAK * np.mean(vals[ring == r]):
            return None
    return float(periods[k])


def smooth_screen_grid(img: np.ndarray) -> np.ndarray | None:
    """The photo with a photographed screen's pixel grid smoothed away (a Gaussian about a third of the grid's
    period wide: the grid goes, strokes a few times wider stay); None when it shows no such grid."""
    period = screen_grid_period(img)
    if period is None:
        return None
    return cv2.GaussianBlur(img, (0, 0), 0.35 * period)


def normalise_page(img: np.ndarray) -> GeometryResult:
    """Perspective → coarse 90° orientation → skew. The 180° question is left to the angle classifier."""
    img = upscale_small(img)
    ink = _ink(img)  # the photo's text and paper, read once for the page outline and for the roll
    quad = page_quad_for_text(img, ink)
    out = warp_page(img, quad) if quad is not None else img
    if quad is not None and abs(coarse_roll(out)) >= ROLL_MIN_DEG:
        # squared up by its outline, a page's rows run along it: rows still slanted this far mean the outline
        # was not the page's (a bright desk merged with it along the frame's border)
        quad, out = None, img
    roll = 0.0
    if quad is None:
        # no page outline to square the page up by (a busy or pale desk, the page filling the frame): a phone
        # held at a large angle to the rows is turned back first
        roll = coarse_roll(out, ink)
        if abs(roll) >= ROLL_MIN_DEG:
            out = turn_by(out, roll)
        else:
            roll = 0.0
    rot = 0
    if text_orientation(out) == 90:
        rot = 90
        out = rotate(out, 90)
    persp = False
    if quad is None:
        # the page fills the frame: no outline to unwarp, but the text rows and column edges show the perspective
        out, persp = unwarp_text_perspective(out)
    skew = estimate_skew(out)
    if roll and abs(skew) > ROLL_RESIDUAL_MAX_DEG:
        skew = 0.0  # the rows were just levelled by their characters: a large 'skew' now is the desk's, not theirs
    out = deskew(out, skew)
    skew += roll
    return GeometryResult(out, quad.tolist() if quad is not None else None, rot, skew if abs(skew) >= 0.3 else 0.0,
                          persp)


# ---------------------------------------------------------------------------------------------------------------
# Perspective from the text itself, for a page that fills the frame (no page outline to unwarp).
# Under a homography the text rows still run straight but meet in one vanishing point, and so do the aligned
# left / right edges of a table's columns. Both points are fitted robustly; the page is unwarped only when the
# fan they describe is both well supported and large enough to matter.

FAN_MIN_DEG = 2.5  # the smallest spread of row (or column) directions across the text that is corrected
FAN_MAX_DEG = 25.0
ROWS_FLAT_DEG = 0.6  # after the unwarp, the median row must lie this close to the rows' common direction


def _text_segments(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Line-like blobs of merged characters: centres (n×2), unit directions (n×2), lengths, char size; all in
    the input's pixels. The last value is the work scale."""
    bw, ch = _text_blobs(img)
    s = bw.shape[1] / img.shape[1]
    k = max(3, int(ch * 1.2))
    merged = cv2.morphologyEx(bw, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1)))
    contours, _ = cv2.findContours(merged, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cs, ds, ls = [], [], []
    for c in contours:
        if len(c) < 8:
            continue
        (cx, cy), (rw, rh), _ = cv2.minAreaRect(c)
        long_, short = max(rw, rh), min(rw, rh)
        if long_ < 4 * ch or short > 2.5 * ch:
            continue
        vx, vy, _, _ = cv2.fitLine(c.reshape(-1, 2).astype(np.float32), cv2.DIST_L2, 0, 0.01, 0.01).ravel()
        if abs(vy) > abs(vx) * np.tan(np.radians(30)):  # not a row of text
            continue
        if vx < 0:
            vx, vy = -vx, -vy
        cs.append((cx / s, cy / s))
        ds.append((vx, vy))
        ls.append(long_ / s)
    return np.array(cs, dtype=np.float64).reshape(-1, 2), np.array(ds, dtype=np.float64).reshape(-1, 2), \
        np.array(ls, dtype=np.float64), ch / s, s


class _TextShape(NamedTuple):
    """What the perspective fit and the flatness check both read off one image: its text segments (centres,
    unit directions, lengths, char size; input pixels) and the table's column edges among their ends."""
    centres: np.ndarray
    dirs: np.ndarray
    lengths: np.ndarray
    ch: float
    edges: list[tuple[np.ndarray, np.ndarray, int]]


def _text_shape(img: np.ndarray) -> _TextShape | None:
    """The image's text segments and column edges, found once; None with fewer than 10 segments."""
    centres, dirs, lengths, ch, _ = _text_segments(img)
    if len(centres) < 10:
        return None
    return _TextShape(centres, dirs, lengths, ch, _column_edges(centres, dirs, lengths, ch, np.random.default_rng(0)))


def _common_row(dirs: np.ndarray) -> np.ndarray:
    """The rows' common direction as a point at infinity (homogeneous), from the median segment direction."""
    par = np.median(dirs, axis=0)
    par = par / np.linalg.norm(par)
    return np.array([par[0], par[1], 0.0])


def _vanishing_point(centres: np.ndarray, dirs: np.ndarray, weights: np.ndarray,
                     norm: tuple[float, float, float]) -> np.ndarray:
    """Homogeneous point (in normalised coordinates) closest to all lines, by weighted SVD with two trimming
    rounds (the worst fifth of the lines by angle is dropped each time)."""
    ox, oy, sc = norm
    c = (centres - (ox, oy)) / sc
    lines = np.stack([dirs[:, 1], -dirs[:, 0], dirs[:, 0] * c[:, 1] - dirs[:, 1] * c[:, 0]], axis=1)
    keep = np.ones(len(lines), bool)
    v = np.array([1.0, 0.0, 0.0])
    for _ in range(3):
        a = lines[keep] * np.sqrt(weights[keep])[:, None]
        v = np.linalg.svd(a)[2][-1]
        res = _angle_residuals(c, dirs, v)
        if keep.sum() < 8:
            break
        keep = res <= np.quantile(res, 0.8)
    return v


def _angle_residuals(c: np.ndarray, dirs: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle (rad) between each line's direction and the direction from its centre to the point v."""
    if abs(v[2]) < 1e-9:
        u = np.tile(v[:2], (len(c), 1))
    else:
        u = v[:2] / v[2] - c
    u = u / (np.linalg.norm(u, axis=1, keepdims=True) + 1e-12)
    cross = dirs[:, 0] * u[:, 1] - dirs[:, 1] * u[:, 0]
    return np.abs(np.arcsin(np.clip(cross, -1, 1)))


def _direction_at(v: np.ndarray, p: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Unit direction at point p towards the vanishing point v, signed like ref."""
    u = v[:2] if abs(v[2]) < 1e-9 else v[:2] / v[2] - p
    u = u / (np.linalg.norm(u) + 1e-12)
    return u if float(np.dot(u, ref)) >= 0 else -u


def _fan_deg(v: np.ndarray, pts: np.ndarray, ref: np.ndarray) -> float:
    """Largest angle between the directions towards v seen from the given points."""
    angs = [np.degrees(np.arctan2(*_direction_at(v, p, ref)[::-1])) for p in pts]
    return float(max(angs) - min(angs))


def _column_edges(centres: np.ndarray, dirs: np.ndarray, lengths: np.ndarray, ch: float,
                  rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Straight alignments of the left (or right) ends of text segments: a table's columns. Sequential RANSAC on
    the end points; returns (point on line, unit direction pointing down, inliers) for each alignment."""
    out = []
    if len(centres) < 8:
        return out
    ylo, yhi = centres[:, 1].min(), centres[:, 1].max()
    span = max(yhi - ylo, 1.0)
    for side in (-1, 1):
        pts = centres + side * dirs * lengths[:, None] / 2
        free = np.ones(len(pts), bool)
        for _ in range(6):
            idx = np.flatnonzero(free)
            if len(idx) < 5:
                break
            best, best_in = None, None
            for _ in range(150):
                i, j = rng.choice(idx, 2, replace=False)
                d = pts[j] - pts[i]
                if abs(d[1]) < 0.2 * span:
                    continue
                d = d / np.linalg.norm(d)
                if d[1] < 0:
                    d = -d
                if abs(d[0]) > np.sin(np.radians(20)):
                    continue
                r = pts[idx] - pts[i]
                dist = np.abs(r[:, 0] * d[1] - r[:, 1] * d[0])
                inl = idx[dist < 0.35 * ch]
                if best_in is None or len(inl) > len(best_in):
                    best, best_in = (pts[i], d), inl
            if best_in is None or len(best_in) < 5:
                break
            p = pts[best_in]
            if p[:, 1].max() - p[:, 1].min() < 0.3 * span:
                free[best_in] = False
                continue
            # refit on the inliers (total least squares)
            mean = p.mean(axis=0)
            d = np.linalg.svd(p - mean)[2][0]
            d = d if d[1] > 0 else -d
            out.append((mean, d, len(best_in)))
            free[best_in] = False
    return out


def _column_vanishing_point(edges: list[tuple[np.ndarray, np.ndarray, int]],
                            norm: tuple[float, float, float], tol_deg: float = 0.6) -> np.ndarray | None:
    """RANSAC over pairs of column edges: the vanishing point most edges (weighted by their support) pass
    through. None unless at least three edges agree and they outweigh the best parallel bundle by half."""
    ec = np.array([(p - norm[:2]) / norm[2] for p, _, _ in edges])
    ed = np.array([d for _, d, _ in edges])
    ew = np.array([n for _, _, n in edges], dtype=np.float64)
    lines = np.stack([ed[:, 1], -ed[:, 0], ed[:, 0] * ec[:, 1] - ed[:, 1] * ec[:, 0]], axis=1)
    tol = np.radians(tol_deg)
    best, best_w, best_in = None, 0.0, None
    par_w = 0.0
    for i in range(len(edges)):
        inl = _angle_residuals(ec, ed, np.array([ed[i, 0], ed[i, 1], 0.0])) < tol
        par_w = max(par_w, float(ew[inl].sum()))
        for j in range(i + 1, len(edges)):
            v = np.cross(lines[i], lines[j])
            if not np.any(v):
                continue
            inl = _angle_residuals(ec, ed, v) < tol
            wsum = float(ew[inl].sum())
            if wsum > best_w:
                best, best_w, best_in = v, wsum, inl
    if best is None or best_in.sum() < 3 or best_w < 1.5 * par_w:
        return None
    a = lines[best_in] * np.sqrt(ew[best_in])[:, None]
    return np.linalg.svd(a)[2][-1]


def perspective_from_text(img: np.ndarray, shape: _TextShape | None = None,
                          ) -> tuple[np.ndarray, tuple[int, int], bool] | None:
    """The homography (3×3, input pixels → output pixels) and the output size (width, height) that make the text
    rows level and parallel and the table's column edges upright and parallel, and whether the rows fanned (or
    only the columns); None when the text shows no confident, material perspective (rows and columns both
    parallel within FAN_MIN_DEG). ``shape``: the image's _text_shape, when the caller already has it."""
    h, w = img.shape[:2]
    shape = shape or _text_shape(img)
    if shape is None:
        return None
    centres, dirs, lengths, edges = shape.centres, shape.dirs, shape.lengths, shape.edges
    norm = (w / 2, h / 2, max(w, h) / 2)
    cn = (centres - norm[:2]) / norm[2]
    wts = lengths / lengths.max()
    ref_r = np.array([1.0, 0.0])
    ref_c = np.array([0.0, 1.0])
    # text extent (normalised)
    lo, hi = cn.min(axis=0), cn.max(axis=0)
    mid = (lo + hi) / 2
    # rows
    v_r = _vanishing_point(centres, dirs, wts, norm)
    fan_r = _fan_deg(v_r, np.array([[mid[0], lo[1]], [mid[0], hi[1]]]), ref_r)
    par = _common_row(dirs)
    res_fan = float(np.median(_angle_residuals(cn, dirs, v_r)))
    res_par = float(np.median(_angle_residuals(cn, dirs, par)))
    rows_fan = fan_r >= FAN_MIN_DEG and res_fan < 0.6 * res_par and fan_r <= FAN_MAX_DEG
    if not rows_fan:
        v_r = par
    # columns
    cols_fan = False
    v_c = None
    if len(edges) >= 3:
        cand = _column_vanishing_point(edges, norm)
        if cand is not None:
            fan_c = _fan_deg(cand, np.array([[lo[0], mid[1]], [hi[0], mid[1]]]), ref_c)
            if FAN_MIN_DEG <= fan_c <= FAN_MAX_DEG:
                cols_fan, v_c = True, cand
    if not rows_fan and not cols_fan:
        return None
    if v_c is None:
        # columns upright to the rows at the text's centre
        d = _direction_at(v_r, mid, ref_r)
        v_c = np.array([-d[1], d[0], 0.0])
    # the quad: rows through v_r at the top and bottom of the text, columns through v_c at its left and right
    def line_through(p: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.cross(np.array([p[0], p[1], 1.0]), v)

    top = line_through(np.array([mid[0], lo[1]]), v_r)
    bot = line_through(np.array([mid[0], hi[1]]), v_r)
    left = line_through(np.array([lo[0], mid[1]]), v_c)
    right = line_through(np.array([hi[0], mid[1]]), v_c)
    corners = []
    for a, b in ((top, left), (top, right), (bot, right), (bot, left)):
        p = np.cross(a, b)
        if abs(p[2]) < 1e-9:
            return None
        corners.append(p[:2] / p[2] * norm[2] + norm[:2])
    quad = np.array(corners, dtype=np.float32)
    if not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
        return None
    tl, tr, br, bl = quad
    wdt = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    hgt = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    dst = np.array([[0, 0], [wdt, 0], [wdt, hgt], [0, hgt]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(quad, dst)
    frame = cv2.perspectiveTransform(np.float32([[[0, 0]], [[w, 0]], [[w, h]], [[0, h]]]), m).reshape(4, 2)
    x0, y0 = frame.min(axis=0)
    x1, y1 = frame.max(axis=0)
    if (x1 - x0) * (y1 - y0) > 1.8 * w * h:  # the unwarp would blow the photo up: not trusted
        return None
    t = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], dtype=np.float64)
    return t @ m, (int(np.ceil(x1 - x0)), int(np.ceil(y1 - y0))), rows_fan


def _parallelism(img: np.ndarray, shape: _TextShape | None) -> tuple[float, float | None] | None:
    """How far the text is from a flat page: the median angle (deg) between a text row and the rows' common
    direction, and the weighted spread (deg) of the leans of the table's column edges (None when fewer than
    three edges are found). ``shape`` is the image's _text_shape (None: too little text)."""
    if shape is None:
        return None
    h, w = img.shape[:2]
    norm = (w / 2, h / 2, max(w, h) / 2)
    rows = float(np.degrees(np.median(_angle_residuals((shape.centres - norm[:2]) / norm[2], shape.dirs,
                                                       _common_row(shape.dirs)))))
    edges = [e for e in shape.edges if e[2] >= 6]
    if len(edges) < 3:
        return rows, None
    lean = np.degrees(np.arcsin(np.array([d[0] for _, d, _ in edges])))
    wt = np.array([n for _, _, n in edges], dtype=np.float64)
    return rows, float(np.sqrt(np.average((lean - np.average(lean, weights=wt)) ** 2, weights=wt)))


def unwarp_text_perspective(img: np.ndarray) -> tuple[np.ndarray, bool]:
    """Undo the perspective the text shows (see perspective_from_text). The unwarped page is kept only when its
    rows and column edges are measurably closer to parallel than before and neither got worse; otherwise the
    image comes back unchanged."""
    shape = _text_shape(img)  # found once: the fit and the 'before' of the flatness check both read it
    fit = perspective_from_text(img, shape)
    if fit is None:
        return img, False
    m, size, rows_fanned = fit
    # cubic: a small photo was already enlarged once (upscale_small), and a second linear pass blurs its strokes
    out = cv2.warpPerspective(img, m, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    before, after = _parallelism(img, shape), _parallelism(out, _text_shape(out))
    if before is None or after is None:
        return img, False
    cols = before[1] is not None and after[1] is not None
    worse = after[0] > before[0] * 1.1 + 0.05 or (cols and after[1] > before[1] * 1.3 + 0.5)
    better = after[0] < 0.8 * before[0] or (cols and after[1] < 0.6 * before[1] - 0.2)
    # Rows still bent after the unwarp (a curled page, a wrong fit): a homography is not the page's shape. A
    # correction of the columns alone must leave the rows about as straight as they were: when it moves them a
    # lot, its column edges were chance alignments.
    if worse or not better or (rows_fanned and after[0] > ROWS_FLAT_DEG) or \
            (not rows_fanned and abs(after[0] - before[0]) > 0.25):
        return img, False
    return out, True
