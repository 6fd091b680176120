"""Quality gate: refuse, with a reason and a hint, photos OCR cannot read — before spending time on OCR.

All measures are taken on a grey copy scaled to a fixed long side, so thresholds do not depend on the camera.
The gate errs toward accepting: a doubtful photo goes on to OCR, which then reports "no indicators found"
rather than inventing any."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from .errors import (
    ImageOverexposedError,
    ImageTooBlurryError,
    ImageTooDarkError,
    ImageTooSmallError,
    NotADocumentError,
)
from .geometry import standing_roll

MEASURE_LONG_SIDE = 1024


@dataclass(frozen=True)
class GateThresholds:
    min_side_px: int = 280
    min_sharpness: float = 120.0  # 90th-percentile tile variance of the Laplacian (Gaussian blur σ≈2.5 at 1024 px)
    dark_p95: float = 70.0  # even the brightest 5 % of pixels are darker than this
    dark_mean: float = 45.0  # a frame this dark overall ...
    dark_page: float = 100.0  # ... is too dark when its brightest 5 % (a page's white) stays below this (the paper
    # mask's dim light, quality.DIM_LIGHT); a lamp's spot of 1-2 % of the frame does not reach that far
    overexposed_fraction: float = 0.55  # share of blown-out (>=250) pixels ...
    overexposed_ink: float = 0.004  # ... with almost no ink left (50 levels below the blown paper: faded thermal
    # print on a bright page is still ink)
    min_text_components: int = 40
    min_aligned_fraction: float = 0.60
    max_colorfulness: float = 60.0
    min_paper_fraction: float = 0.15  # bright, flat area: paper (X-rays, scenes and screens have little)


@dataclass(frozen=True)
class QualityReport:
    width: int
    height: int
    sharpness: float
    brightness: float
    contrast: float
    text_components: int
    aligned_fraction: float
    colorfulness: float
    paper_fraction: float

    def as_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _grey(img: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    h, w = g.shape[:2]
    s = MEASURE_LONG_SIDE / max(h, w)
    if s < 1:
        g = cv2.resize(g, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
    return g


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian, per tile, 90th percentile: text tiles decide, not the empty margins."""
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)
    h, w = lap.shape
    th, tw = max(h // 8, 1), max(w // 8, 1)
    tiles = [float(lap[y:y + th, x:x + tw].var()) for y in range(0, h - th + 1, th) for x in range(0, w - tw + 1, tw)]
    return float(np.percentile(tiles, 90)) if tiles else 0.0


def colorfulness(img: np.ndarray) -> float:
    """Hasler & Süsstrunk colourfulness; paper documents are grey, natural scenes are not."""
    if img.ndim != 3:
        return 0.0
    small = cv2.resize(img, (256, int(256 * img.shape[0] / img.shape[1]) or 1), interpolation=cv2.INTER_AREA)
    b, g, r = [c.astype(np.float32) for c in cv2.split(small)]
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))


TILTS = (0.0, -3.0, 3.0, -6.0, 6.0, -9.0, 9.0, -12.0, 12.0)  # degrees tried for the text-line direction


def text_layout(grey: np.ndarray) -> tuple[int, float]:
    """(number of character-like dark blobs, share of them sitting on a common text line with >= 3 others)."""
    bw = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    n, _, stats, cents = cv2.connectedComponentsWithStats(bw, connectivity=8)
    if n <= 1:
        return 0, 0.0
    s = stats[1:]
    h = s[:, cv2.CC_STAT_HEIGHT]
    w = s[:, cv2.CC_STAT_WIDTH]
    area = s[:, cv2.CC_STAT_AREA]
    fill = area / np.maximum(h * w, 1)
    keep = (h >= 4) & (h <= 80) & (w >= 1) & (w <= 120) & (area >= 6) & (fill > 0.08) & (fill < 0.95)
    if keep.sum() < 3:
        return int(keep.sum()), 0.0
    # text lines run across the image, or down it when the photo is turned 90°, and a hand-held photo tilts them
    # by up to ~12°: take the best direction (on a tilted line, characters more than one apart leave the band)
    c = cents[1:][keep]
    aligned = 0.0
    # a phone held at a larger angle still: the rows' own direction (modulo 90), measured from the same centres
    roll = standing_roll(c, max(2.0, float(np.median(h[keep])) / 3))
    for deg in TILTS + ((round(roll),) if abs(roll) > max(TILTS) else ()):
        t = np.deg2rad(deg)
        across = c[:, 1] * np.cos(t) - c[:, 0] * np.sin(t)
        down = c[:, 0] * np.cos(t) + c[:, 1] * np.sin(t)
        aligned = max(aligned, _aligned(across, h[keep]), _aligned(down, w[keep]))
    return int(keep.sum()), aligned


def _aligned(pos: np.ndarray, size: np.ndarray) -> float:
    """Share of blobs with >= 3 others of similar size centred on the same line (along one axis)."""
    order = np.argsort(pos)
    pos, size = pos[order], size[order].astype(np.float32)
    med = float(np.median(size))
    tol = max(med * 0.35, 1.5)
    left = np.searchsorted(pos, pos - tol, side="left")
    right = np.searchsorted(pos, pos + tol, side="right")
    neighbours = right - left - 1
    similar = (size > med * 0.4) & (size < med * 2.5)
    return float(((neighbours >= 3) & similar).mean())


def local_light(grey: np.ndarray) -> np.ndarray:
    """The light falling on each part of the frame, as the paper there shows it: the brightest level around each
    pixel (a grey closing at 1/8 of the long side removes the ink), smoothed a little, at the size of ``grey``. Computed on a
    copy of at most 128 px, so it costs little."""
    h, w = grey.shape[:2]
    s = min(1.0, 128 / max(h, w))
    small = cv2.resize(grey, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
    k = max(3, int(max(small.shape) / 8)) | 1
    # closing, not a dilation alone: the light of a bright page does not spill onto the darker desk beside it
    bg = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    bg = cv2.GaussianBlur(bg, (0, 0), 1.0)
    return cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)


PAPER_LEVEL = 140  # paper in full light is brighter than this
SHADE_MIN = 0.45  # ... and stays paper in a shadow down to this share of the frame's brightest light
PAPER_NEAR_LIGHT = 0.85  # a shaded pixel is paper when it is (nearly) as bright as the light around it
DIM_LIGHT = 100  # ... in a frame whose brightest light is at least this: paper in dim indoor light (its white
# below PAPER_LEVEL) is still the frame's brightest flat area; a frame darker still is refused as too dark or as no
# document


def paper_mask(grey: np.ndarray) -> np.ndarray:
    """Bright, flat pixels: paper. A shadow (a hand, the phone, a lamp to one side, a crease) darkens the paper it
    falls on below a fixed level, so a flat pixel also counts where it is as bright as the light around it and that
    light is at least ``SHADE_MIN`` of the frame's brightest: a shadow falling on paper is that deep at most, while a
    desk or a scene beside a page is darker still, and X-rays and scenes seldom have flat areas at their own light
    level next to bright paper. The frame's brightest light need only reach DIM_LIGHT: a page photographed in dim
    indoor light is grey all over (its white 115-135 on the blind E seed 11 photos, once refused as no document)."""
    smooth = cv2.GaussianBlur(grey, (5, 5), 0)
    flat = np.abs(cv2.Laplacian(smooth, cv2.CV_16S, ksize=3)) < 6
    light = local_light(smooth).astype(np.float32)
    top = float(np.percentile(light, 95)) if light.size else 0.0
    shaded = (light >= SHADE_MIN * top) & (smooth >= PAPER_NEAR_LIGHT * light) & (top > DIM_LIGHT)
    return flat & ((smooth > PAPER_LEVEL) | shaded)


def measure(img: np.ndarray) -> QualityReport:
    grey = _grey(img)
    h, w = img.shape[:2]
    paper = float(paper_mask(grey).mean()) if grey.size else 0.0
    comps, aligned = text_layout(grey)
    return QualityReport(width=w, height=h, sharpness=sharpness(grey), brightness=float(grey.mean()),
                         contrast=float(grey.std()), text_components=comps, aligned_fraction=aligned,
                         colorfulness=colorfulness(img), paper_fraction=paper)


BLANK_STD = 3.0  # grey levels: a page flatter than this ...
BLANK_INK = 0.0005  # ... with less of its area darker than 200 is blank


def blank(img: np.ndarray) -> bool:
    """One flat tone with no ink: a blank page."""
    grey = _grey(img)
    return float(grey.std()) < BLANK_STD and float((grey < 200).mean()) < BLANK_INK


def check(img: np.ndarray, t: GateThresholds = GateThresholds()) -> QualityReport:
    """Raise the first applicable ImageRejectedError, else return the measurements."""
    h, w = img.shape[:2]
    if min(h, w) < t.min_side_px:
        raise ImageTooSmallError(details={"width": w, "height": h, "min_side_px": t.min_side_px})
    grey = _grey(img)
    if blank(grey):
        # one flat tone with no ink (a blank PDF page, an empty scan): no report, and no glare or darkness to fix
        raise NotADocumentError("页面是空白的，没有内容。 The page is blank.",
                                details={"reason": "blank_page", "brightness": round(float(grey.mean()), 1)})
    p95 = float(np.percentile(grey, 95))
    mean = float(grey.mean())
    # a dark frame round a page that is itself lit (a report on a phone's or a monitor's screen in a dim room, a
    # sheet under a desk lamp at night) is no dark photo: what decides is the page's white
    if p95 < t.dark_p95 or (mean < t.dark_mean and p95 < t.dark_page):
        raise ImageTooDarkError(details={"brightness": round(mean, 1)})
    blown = float((grey >= 250).mean())
    ink = float((grey < 200).mean())
    if blown > t.overexposed_fraction and ink < t.overexposed_ink:
        raise ImageOverexposedError(details={"overexposed_fraction": round(blown, 3)})
    q = measure(img)
    # a wide sheet photographed on a desk, or an analyser's narrow strip, may cover little of the frame: plenty
    # of aligned text makes up for a small paper area (a strip's histograms and dashed rules leave 0.83 of its
    # characters on a line)
    paper_ok = q.paper_fraction >= t.min_paper_fraction or (
        q.paper_fraction >= t.min_paper_fraction / 2 and q.text_components >= 150 and q.aligned_fraction >= 0.8)
    doc_like = (q.text_components >= t.min_text_components and q.aligned_fraction >= t.min_aligned_fraction
                and paper_ok)
    if not doc_like or q.colorfulness > t.max_colorfulness and q.aligned_fraction < 0.6:
        raise NotADocumentError(details={"text_components": q.text_components,
                                         "aligned_fraction": round(q.aligned_fraction, 3)})
    if q.sharpness < t.min_sharpness:
        raise ImageTooBlurryError(details={"sharpness": round(q.sharpness, 1), "min_sharpness": t.min_sharpness})
    return q
