"""Page geometry, pure OpenCV: find the sheet's quadrilateral and undo perspective, turn 90/270° photos
upright (text-line direction), and remove small skew. 0° vs 180° needs reading, so it is settled later by the
angle classifier on a handful of text lines (inference.page_is_upside_down)."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WORK_LONG_SIDE = 800


@dataclass
class GeometryResult:
    image: np.ndarray
    quad: list[list[float]] | None  # page corners in the input image (tl, tr, br, bl), if a page was found
    rotation: int  # degrees clockwise applied for coarse orientation (0, 90, 270)
    skew: float  # degrees removed

    def as_dict(self) -> dict[str, object]:
        return {"page_found": self.quad is not None, "rotation": self.rotation, "skew_deg": round(self.skew, 2)}


def order_corners(pts: np.ndarray) -> np.ndarray:
    """tl, tr, br, bl."""
    pts = np.asarray(pts, dtype=np.float32).reshape(4, 2)
    s = pts.sum(axis=1)
    d = np.diff(pts, axis=1).ravel()
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]], dtype=np.float32)


def _quad_ok(q: np.ndarray, area_img: float) -> bool:
    if not cv2.isContourConvex(q.reshape(-1, 1, 2).astype(np.int32)):
        return False
    area = cv2.contourArea(q.astype(np.float32))
    if area < 0.2 * area_img or area > 0.985 * area_img:
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


def find_page_quad(img: np.ndarray) -> np.ndarray | None:
    """Corners of the sheet (tl, tr, br, bl) in img coordinates, or None when the photo is already the page
    (scans, crops) or no convincing quadrilateral exists."""
    h, w = img.shape[:2]
    s = WORK_LONG_SIDE / max(h, w)
    small = cv2.resize(img, (max(int(w * s), 1), max(int(h * s), 1)), interpolation=cv2.INTER_AREA) if s < 1 else img
    s = min(s, 1.0)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    area_img = float(grey.shape[0] * grey.shape[1])
    grey = cv2.GaussianBlur(grey, (5, 5), 0)
    candidates: list[np.ndarray] = []
    # 1) bright paper against a darker background: Otsu, close away the text, largest blob
    _, bw = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bw = cv2.morphologyEx(bw, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15)))
    # 2) edges
    edges = cv2.Canny(grey, 40, 120)
    edges = cv2.dilate(edges, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
    for mask in (bw, edges):
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for c in sorted(contours, key=cv2.contourArea, reverse=True)[:3]:
            if cv2.contourArea(c) < 0.2 * area_img:
                break
            hull = cv2.convexHull(c)
            peri = cv2.arcLength(hull, True)
            for eps in (0.02, 0.03, 0.05):
                approx = cv2.approxPolyDP(hull, eps * peri, True)
                if len(approx) == 4:
                    q = order_corners(approx.reshape(4, 2))
                    if _quad_ok(q, area_img):
                        candidates.append(q)
                    break
    if not candidates:
        return None
    best = max(candidates, key=lambda q: cv2.contourArea(q))
    return best / s


def warp_page(img: np.ndarray, quad: np.ndarray) -> np.ndarray:
    tl, tr, br, bl = quad
    wdt = int(round(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))))
    hgt = int(round(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))))
    wdt, hgt = max(wdt, 16), max(hgt, 16)
    dst = np.array([[0, 0], [wdt - 1, 0], [wdt - 1, hgt - 1], [0, hgt - 1]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    return cv2.warpPerspective(img, m, (wdt, hgt), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _text_blobs(img: np.ndarray) -> tuple[np.ndarray, float]:
    """Binary mask of text where characters of one line are merged, and the working scale."""
    h, w = img.shape[:2]
    s = min(1.0, 1000 / max(h, w))
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    if s < 1:
        grey = cv2.resize(grey, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
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


def text_orientation(img: np.ndarray) -> int:
    """0 if text lines run horizontally, 90 if they run vertically (page turned by 90° or 270°)."""
    bw, ch = _text_blobs(img)
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
    return 90 if score["v"] > 1.3 * score["h"] else 0


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


def deskew(img: np.ndarray, angle: float) -> np.ndarray:
    """Rotate by ``angle`` degrees counter-clockwise to straighten lines (canvas grows; border replicated)."""
    if abs(angle) < 0.3:
        return img
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


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


def text_outside_quad(img: np.ndarray, quad: np.ndarray) -> float:
    """Share of the text ink that lies outside the quadrilateral: a 'page' that cuts through the table (a ruled
    box, the table's own frame) leaves text outside and must not be used to crop."""
    bw, ch = _text_blobs(img)
    s = bw.shape[1] / img.shape[1]
    mask = np.zeros_like(bw)
    cv2.fillConvexPoly(mask, np.round(quad * s).astype(np.int32), 255)
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7)))
    # A page on a darker desk leaves a band of 'ink' just outside its edges: the adaptive threshold (block 31)
    # marks the desk next to the bright paper. Ink that is both off the paper and within that band of the quad is
    # that halo, not text; text in a shadow further out, or on paper next to the edge, still counts.
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    grey = cv2.resize(grey, (bw.shape[1], bw.shape[0]), interpolation=cv2.INTER_AREA)
    _, paper = cv2.threshold(cv2.GaussianBlur(grey, (5, 5), 0), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    k = max(5, int(3 * ch)) | 1
    paper = cv2.morphologyEx(paper, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    paper = cv2.erode(paper, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
    # Only for a page lying inside the frame: a quad with a side along the photo's border is the frame cutting
    # the paper, with no desk edge to leave a halo, and what is dark beside it may be text.
    if not _edge_on_frame(quad, img.shape[1], img.shape[0]):
        band = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (35, 35)))
        bw = cv2.bitwise_and(bw, cv2.bitwise_not(cv2.bitwise_and(band, cv2.bitwise_not(paper))))
    ink = float(np.count_nonzero(bw))
    if ink == 0:
        return 0.0
    return float(np.count_nonzero(cv2.bitwise_and(bw, cv2.bitwise_not(mask)))) / ink


def normalise_page(img: np.ndarray) -> GeometryResult:
    """Perspective → coarse 90° orientation → skew. The 180° question is left to the angle classifier."""
    img = upscale_small(img)
    quad = find_page_quad(img)
    if quad is not None and text_outside_quad(img, quad) > 0.03:
        quad = None
    out = warp_page(img, quad) if quad is not None else img
    rot = 0
    if text_orientation(out) == 90:
        rot = 90
        out = rotate(out, 90)
    skew = estimate_skew(out)
    out = deskew(out, skew)
    return GeometryResult(out, quad.tolist() if quad is not None else None, rot, skew if abs(skew) >= 0.3 else 0.0)
