"""A second look at empty result cells. The text detector drops a lone '-' (urinalysis, stool: "negative") far more
often than a sheet leaves a result blank: a short stroke has too little area to pass as a text line, or the
recogniser returns nothing for a crop 10 px wide. When a row has a name but no result, the part of the page
where its result should be is looked at directly: a single short horizontal stroke, and nothing else, is read as
'-' (and a small cross as '+', a cross over a bar as '±', a cross then a bar as '+-'). Pure OpenCV on the page
image; no model call."""
from __future__ import annotations

import math

import cv2
import numpy as np

from .layout import Table


def straighten_image(img: np.ndarray, angle: float) -> np.ndarray:
    """The page image in the coordinates of ``layout.straighten`` (rotated by -angle radians about the origin)."""
    if abs(angle) < 1e-4:
        return img
    c, s = np.cos(-angle), np.sin(-angle)
    m = np.array([[c, -s, 0.0], [s, c, 0.0]], dtype=np.float64)
    h, w = img.shape[:2]
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def value_span(table: Table, left_limit: float, right_limit: float | None,
               kind: str = "value") -> tuple[float, float] | None:
    """x-span of the table's result column (or of its column ``kind``, e.g. 'flag' for 提示), between its neighbours'
    header words, kept right of ``left_limit`` (the row's name) and left of ``right_limit`` (its range/unit cell)."""
    cols = sorted(table.columns, key=lambda c: c[1])
    for i, (k, x0, x1) in enumerate(cols):
        if k != kind:
            continue
        left = table.x0 if i == 0 else (cols[i - 1][2] + x0) / 2
        right = table.x1 if i + 1 == len(cols) else (x1 + cols[i + 1][1]) / 2
        left = max(left, left_limit)
        if right_limit is not None:
            if kind == "value" and i + 1 < len(cols) and cols[i + 1][0] in ("range", "unit"):
                # a right-aligned result ends under the gap before the range's header word, past the midpoint;
                # the row's own range cell (right_limit) still bounds it
                right = max(right, cols[i + 1][1] - 2)
            right = min(right, right_limit)
        return (left, right) if right - left > 4 else None
    return None


def find_dash(gray: np.ndarray, x0: float, x1: float, cy: float, line_h: float) -> tuple[float, float, float, float] | None:
    """A lone '-' in gray[:, x0:x1] on the text row centred at cy: exactly one ink blob there, short, flat, solid,
    on the row's middle line; None when the cell is blank or holds anything else. Returns the stroke's box."""
    found = find_mark(gray, x0, x1, cy, line_h)
    return found[1] if found is not None and found[0] == "-" else None


def _is_plus(blob: np.ndarray) -> bool:
    """One ink blob (a boolean crop of it) shaped as '+': a bar across its middle row and one down its middle
    column, its four corners (nearly) empty."""
    h, w = blob.shape
    if h < 4 or w < 4:
        return False
    r0, r1 = h // 3, h - h // 3
    c0, c1 = w // 3, w - w // 3
    across = blob[r0:r1].any(axis=0).mean()  # the bar across: every column inked in the middle band
    down = blob[:, c0:c1].any(axis=1).mean()  # the bar down: every row inked in the middle band
    corners = np.concatenate([blob[:r0, :c0].ravel(), blob[:r0, c1:].ravel(), blob[r1:, :c0].ravel(),
                              blob[r1:, c1:].ravel()])
    return bool(across >= 0.85 and down >= 0.85 and (corners.mean() if corners.size else 1.0) <= 0.2)


def _runs_down(gray: np.ndarray, xa: int, xb: int, ya: int, yb: int, paper: float,
               line_h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns of the band gray[ya:yb, xa:xb] darker than paper (20 levels) down 80 % of the band and on beyond it,
    over 0.3 text heights above or below: where a column line may run (no glyph of the row is 1.3 text heights
    tall). Also returns the strips above and below the band it looked at."""
    h_img = gray.shape[0]
    m = max(2, int(round(0.3 * line_h)))
    above, below = gray[max(0, ya - m):ya, xa:xb], gray[yb:min(h_img, yb + m), xa:xb]
    through = (gray[ya:yb, xa:xb] < paper - 20.0).mean(axis=0) >= 0.8
    beyond = np.zeros(through.shape[0], bool)
    for part in (above, below):
        if part.shape[0] >= m:
            beyond |= (part < paper - 20.0).mean(axis=0) >= 0.8
    return through & beyond, above, below


def _column_lines(gray: np.ndarray, xa: int, xb: int, ya: int, yb: int, paper: float,
                  line_h: float, runs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Columns of gray[ya:yb, xa:xb] (a row band one text line tall) that a grid's column line runs down: darker
    than paper through the band and on beyond it, over at least 0.3 text heights above or below (no glyph of the
    row is 1.3 text heights tall: a '1' as tall as the band stays; the rows above and below leave paper between
    them and this one), and darker than the columns beside it (a line, not a broad band of shade or a screen's
    moiré): a thin line than the 9 px around it, a thick or blurred one (5 px and wider) much darker than the
    columns about half a text height either side. Returns a boolean mask over the band's columns, widened over the
    line's blurred edges. ``runs``: _runs_down's answer for this band where the caller has it already."""
    cand, above, below = runs if runs is not None else _runs_down(gray, xa, xb, ya, yb, paper, line_h)
    if not cand.any():
        return cand
    col = np.median(np.vstack([above, gray[ya:yb, xa:xb], below]), axis=0)

    def beside(win: int) -> np.ndarray:
        # (paper beyond the band's ends: a rule the cell's edge cuts in half is still a line there)
        return np.median(np.lib.stride_tricks.sliding_window_view(np.pad(col, win // 2, constant_values=paper), win),
                         axis=1)

    # a thin line against the 9 px around it (a screen's moiré, stripes a dozen px wide or more, is not darker
    # than that); a thick or blurred one against a window about a text height wide, when it is printed ink, much
    # darker than the paper (moiré shades it by a few tens of levels)
    wide = beside(max(9, 2 * int(0.6 * line_h) + 1))
    lines = cand & ((col < beside(9) - 15.0) | (col < wide - 45.0))
    # the line's blurred edges: neighbouring columns still darker than the paper beside them
    for _ in range(max(2, int(0.15 * line_h))):
        grown = lines | np.r_[False, lines[:-1]] | np.r_[lines[1:], False]
        grown &= col < wide - 8.0
        if (grown == lines).all():
            break
        lines = grown
    return np.convolve(lines, np.ones(3), "same") > 0


def find_mark(gray: np.ndarray, x0: float, x1: float, cy: float,
              line_h: float) -> tuple[str, tuple[float, float, float, float]] | None:
    """A lone '-', '+' or trace mark ('±', '+-') in gray[:, x0:x1] on the text row centred at cy (the detector
    drops them: too little area for a text line): exactly one ink blob there, on the row's middle line, a short flat
    solid stroke ('-') or two short bars crossing ('+', about as wide as tall); or a '+' with a bar right under it
    ('±': the bar sits as low as the next row's ink, or has run into the '+'), or with a bar right after it
    ('+-'). Returns the mark and its box, or None when the cell is blank or holds anything else."""
    return look_at_mark_cell(gray, x0, x1, cy, line_h)[0]


MARK_CONTRAST = 45.0  # paper minus the darkest ink of a cell a mark is read from (below: texture, shadow, noise)
INK_CONTRAST = 30.0  # ... and of a cell said to hold ink at all (a faint mark, unread); JPEG noise on paper stays below


def look_at_mark_cell(gray: np.ndarray, x0: float, x1: float, cy: float, line_h: float
                      ) -> tuple[tuple[str, tuple[float, float, float, float]] | None, bool]:
    """find_mark's look at the cell, with whether the cell holds ink of its own row at all: (mark or None, inked).
    Inked = at least one blob past the specks, clear of table rules and of the rows above and below, wholly
    inside the cell. A cell that is inked but yields no mark holds something unreadable (a blurred or broken
    mark); one that is not is blank on the page (a sheet that leaves the cell empty) and no other photo will
    show a mark there. Ink running in from the neighbouring cell is not counted as the cell's own."""
    h_img, w_img = gray.shape[:2]
    half = 0.5 * line_h
    ya, yb = int(max(0, cy - half)), int(min(h_img, cy + half))
    xa, xb = int(max(0, x0)), int(min(w_img, x1))
    if yb - ya < 6 or xb - xa < 6:
        return None, False
    band = gray[ya:yb, xa:xb].copy()
    # threshold from the row band's own paper and ink: a cell that is all paper has no ink at all
    paper = float(np.percentile(band, 90))
    # a grid's column lines down the cell first (also faint ones that the threshold below would break into specks),
    # before the table rules across it are erased (a rule erased first takes the column line's ends with it)
    runs = _runs_down(gray, xa, xb, ya, yb, paper, line_h)
    lines = _column_lines(gray, xa, xb, ya, yb, paper, line_h, runs)
    runs_down = runs[0]
    if lines.any():
        band[:, lines] = int(paper)
    # table rules across the cell (also slanted ones): horizontal runs much longer than a dash, removed before
    # the threshold is set so that their dark ink does not hide a faint dash
    run = max(int(1.6 * line_h), 12)
    if band.shape[1] > run:
        dark = (band < paper - 25.0).astype(np.uint8)
        rules = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((1, run), np.uint8))
        if rules.any():
            rules = cv2.dilate(rules, np.ones((3, 3), np.uint8))
            band[rules > 0] = int(paper)
    mid = band[max(0, int(cy - 0.3 * line_h) - ya):max(1, int(cy + 0.3 * line_h) - ya + 1)]
    darkest = float(mid.min())  # this row's own ink, not the darker print of the rows above or below
    if paper - darkest < INK_CONTRAST:
        return None, False  # no ink darker than paper texture, shadow or JPEG noise
    # ink too faint to read a mark from (a hairline '-' re-photographed) still says the cell is not blank
    faint = paper - darkest < MARK_CONTRAST
    # half-way to the darkest ink: thin strokes stay whole
    thr = (paper + darkest) / 2 if faint else min(paper - 25.0, (paper + darkest) / 2)
    ink = (band < thr).astype(np.uint8)
    n, labels, stats, cents = cv2.connectedComponentsWithStats(ink, connectivity=8)
    min_area = max(4.0, 0.005 * line_h * line_h)
    blobs = []
    under = []  # flat blobs low in the band, left out as the next row's ink: the bar of a '±' may be one
    side_rule = False
    bh, bw = ink.shape
    for k in range(1, n):
        x, y, w, h, area = stats[k]
        if area < min_area:
            continue  # specks, JPEG noise
        if w >= 0.7 * bw and h <= 0.25 * line_h:
            continue  # a table rule across the cell
        top, bottom = ya + y, ya + y + h
        if abs(ya + cents[k][1] - cy) > 0.3 * line_h and (bottom < cy - 0.2 * line_h or top > cy + 0.2 * line_h):
            if top > cy and 0 < x and x + w < bw and y + h < bh and _is_flat(w, h, line_h):
                # the bar of a '±' sits low, under its '+' (wholly inside the band: ink cut by the band's lower edge
                # is the top stroke of the next row's text)
                under.append((k, x, y, w, h, area, cents[k]))
            continue  # ink of the row above or below (tight line pitch), clear of this row's middle
        if h >= 0.9 * bh and w <= 0.3 * line_h and 0 < x and x + w < bw and runs_down[x:x + w].any():
            continue  # a column line _column_lines left (grey grid print or blur, under its 45-level contrast):
            # as tall as the band, thin, and running on beyond it, it is no ink of the cell (a '1' ends in the band)
        if x == 0 or x + w >= bw:
            if w <= 0.15 * line_h and h >= 0.3 * line_h:
                side_rule = True  # a column rule at the cell's side, caught by the cut: no mark is read past it,
                continue  # but the cell's own ink is still told
            return None, False  # ink running out of the cell: text of the neighbouring cell
        blobs.append((k, x, y, w, h, area, cents[k]))
    if faint or side_rule:
        return None, bool(blobs)
    bracketed = _inside_brackets(blobs, line_h)
    if bracketed is not None:  # '(±)' garbled to '(t)': the mark between its brackets, sized by them (a bracket spans
        # about the height of the text it holds; a small font's line is measured taller than its print)
        inner, bracket_h = bracketed
        text_h = min(line_h, 1.3 * bracket_h)
        found = _read_blobs(labels, inner, under, band, xa, ya, cy, text_h, paper, darkest)
        if found is None:
            return None, True
        left, right = min(blobs, key=lambda b: b[1]), max(blobs, key=lambda b: b[1] + b[3])
        return (f"({found[0]})", (float(xa + left[1]), found[1][1], float(xa + right[1] + right[3]), found[1][3])), True
    return _read_blobs(labels, blobs, under, band, xa, ya, cy, line_h, paper, darkest), bool(blobs)


def _inside_brackets(blobs: list, line_h: float) -> tuple[list, int] | None:
    """The blobs between a pair of brackets, and the brackets' height, when the first and the last blob of the
    cell are tall and thin (a '(' and a ')') and at least one, shorter, lies between them; else None."""
    if len(blobs) < 3:
        return None
    ordered = sorted(blobs, key=lambda b: b[1])
    first, last = ordered[0], ordered[-1]

    def bracket(b: tuple) -> bool:
        return b[4] >= 0.35 * line_h and b[3] <= 0.35 * line_h and b[4] >= 2.5 * b[3]

    inner = ordered[1:-1]
    if not (bracket(first) and bracket(last)) or any(
            b[1] < first[1] + first[3] - 1 or b[1] + b[3] > last[1] + 1 or b[4] >= min(first[4], last[4])
            for b in inner):
        return None
    return inner, min(first[4], last[4])


def _read_blobs(labels: np.ndarray, blobs: list, under: list, band: np.ndarray, xa: int, ya: int, cy: float,
                line_h: float, paper: float, darkest: float) -> tuple[str, tuple[float, float, float, float]] | None:
    """The mark the cell's blobs make ('-', '+', '±', '+-'), or None."""
    if len(blobs) == 1 and under:
        for bar in under:
            if (two := _two_part_mark(labels, blobs + [bar], xa, ya, cy, line_h)) is not None:
                return two
    if len(blobs) == 2:
        return _two_part_mark(labels, blobs, xa, ya, cy, line_h)
    if len(blobs) != 1:
        return None
    k, x, y, w, h, area, (bx, by) = blobs[0]
    box = (float(xa + x), float(ya + y), float(xa + x + w), float(ya + y + h))
    if abs((ya + by) - cy) > 0.3 * line_h:
        return None
    # flat: at least 1.6 times as wide as tall (a small hyphen thickened by ink-jet print comes out 5 x 3 px at a
    # 30 px line; a point or a blot is about square), or, a few pixels across where the threshold rounds the sides
    # (3 x 2), at least 1.2 times with its ink spreading DASH_ELONGATION times as wide as tall
    if 0.12 * line_h <= w <= 1.3 * line_h and h <= 0.3 * line_h and area >= 0.5 * w * h and \
            (w >= 1.6 * h or (w >= 1.2 * h and _elongation(band, x, y, w, h, paper, darkest) >= DASH_ELONGATION)):
        return "-", box
    plus = _is_plus(labels[y:y + h, x:x + w] == k)
    if plus and _plus_sized(w, h, line_h, smallest=0.15) and \
            (bar := _faint_bar_under(band, x, y, w, h, paper, darkest, line_h)) is not None:
        return "±", (box[0], box[1], box[2], float(ya + bar))  # its bar fainter than the threshold
    if plus and _plus_sized(w, h, line_h, aspect=1.5):
        return "+", box
    if _is_plus_over_bar(labels[y:y + h, x:x + w] == k, line_h):
        return "±", box
    return None


DASH_ELONGATION = 1.5  # a few-pixel blob whose ink spreads this many times wider than tall is a stroke, not a point


def _elongation(band: np.ndarray, x: int, y: int, w: int, h: int, paper: float, darkest: float) -> float:
    """How much wider than tall a small blob's ink spreads (the ratio of its darkness-weighted standard deviations
    across and down, over its box and 2 px around it): a hyphen of 4 x 2 px thresholded to 3 x 2 still spreads
    about twice as wide as tall, where a point or a speck spreads alike both ways. Ink lighter than a quarter of
    the cell's contrast is left out (paper texture)."""
    win = band[max(0, y - 2):y + h + 2, max(0, x - 2):x + w + 2].astype(np.float64)
    weight = np.clip(paper - win - 0.25 * (paper - darkest), 0.0, None)
    total = weight.sum()
    if total <= 0:
        return 0.0
    ys, xs = np.mgrid[0:win.shape[0], 0:win.shape[1]]
    mx, my = (weight * xs).sum() / total, (weight * ys).sum() / total
    sx = math.sqrt((weight * (xs - mx) ** 2).sum() / total)
    sy = math.sqrt((weight * (ys - my) ** 2).sum() / total)
    return sx / max(sy, 1e-6)


def _faint_bar_under(band: np.ndarray, x: int, y: int, w: int, h: int, paper: float, darkest: float,
                     line_h: float) -> int | None:
    """The bottom (band row) of a bar under a '+' blob at band[y:y+h, x:x+w] that the cell's threshold lost: a
    small '±' blurred, where the crossing of the '+' is much darker than its thin bar. A row of pixels, within
    0.3 text heights under the '+', darker than the paper by a quarter of the ink's contrast across at least 80 % of
    the '+''s width and not far beyond it (no rule, no neighbouring ink); above it only the tip of the '+''s
    upright or paper."""
    level = paper - (paper - darkest) / 4.0
    side = max(2, int(0.12 * line_h)) + 1  # (blur widens a faint bar past the '+' thresholded darker)
    lo, hi = y + h, min(band.shape[0], y + h + max(3, int(round(0.3 * line_h))))
    if lo >= hi or x < side or x + w + side > band.shape[1]:
        return None
    dark = band[lo:hi, x - side:x + w + side] < level
    inner = dark[:, side:side + w].mean(axis=1)
    outer = dark[:, [0, -1]].any(axis=1)
    gap = False
    for r in range(dark.shape[0]):
        if inner[r] >= 0.8:
            return None if outer[r] else lo + r + 1
        if inner[r] >= 0.3 and gap:
            return None  # other ink under the '+', after paper
        gap |= inner[r] < 0.3
    return None


def _is_flat(w: int, h: int, line_h: float) -> bool:
    """A blob's size as a bar: short of a text height, at least 2.5 times as wide as tall, thin."""
    return 0.12 * line_h <= w <= 1.0 * line_h and h <= 0.2 * line_h and w >= 2.5 * h


def _plus_sized(w: int, h: int, line_h: float, smallest: float = 0.2, aspect: float = 1.6) -> bool:
    """A blob's size as a '+': each side at least ``smallest`` and at most 0.8 text heights, about as wide as tall
    (within ``aspect``)."""
    return smallest * line_h <= min(w, h) and max(w, h) <= 0.8 * line_h and max(w, h) <= aspect * min(w, h)


def _is_plus_over_bar(blob: np.ndarray, line_h: float) -> bool:
    """One blob shaped as '±' whose bar has run into the plus above it (small print, blur): its last pixel rows
    are a bar across its whole width, and what lies above them, less the row where the two touch, is a '+'."""
    h, w = blob.shape
    if h < 7 or w < 5 or not (0.3 * line_h <= h <= 0.9 * line_h and 0.2 * line_h <= w <= 0.8 * line_h):
        return False
    cover = blob.mean(axis=1)
    bottom = h
    while bottom > 0 and cover[bottom - 1] >= 0.8:
        bottom -= 1
    if not 1 <= h - bottom <= max(2, int(0.15 * line_h)):
        return False
    top_part = blob[:max(0, bottom - 1)]
    rows = np.nonzero(top_part.any(axis=1))[0]
    cols = np.nonzero(top_part.any(axis=0))[0]
    if len(rows) < 4 or len(cols) < 4:
        return False
    plus = top_part[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return _plus_sized(plus.shape[1], plus.shape[0], line_h) and _is_plus(plus)


def _two_part_mark(labels: np.ndarray, blobs: list, xa: int, ya: int, cy: float,
                   line_h: float) -> tuple[str, tuple[float, float, float, float]] | None:
    """Two blobs that make one trace mark: a '+' with a bar under it ('±'), or a '+' with a '-' after it on its
    middle line ('+-'). Returns the mark and the box of both, or None."""
    (k1, x1, y1, w1, h1, _, c1), (k2, x2, y2, w2, h2, _, c2) = sorted(blobs, key=lambda b: (b[2], b[1]))
    box = (float(xa + min(x1, x2)), float(ya + min(y1, y2)), float(xa + max(x1 + w1, x2 + w2)),
           float(ya + max(y1 + h1, y2 + h2)))
    if abs((box[1] + box[3]) / 2 - cy) > 0.3 * line_h or box[3] - box[1] > 0.9 * line_h:
        return None
    # '±': the upper blob a '+', the lower a bar as wide, right under it
    if _plus_sized(w1, h1, line_h) and _is_plus(labels[y1:y1 + h1, x1:x1 + w1] == k1) and _is_flat(w2, h2, line_h):
        overlap = min(x1 + w1, x2 + w2) - max(x1, x2)
        if y2 >= y1 + h1 - 1 and y2 - (y1 + h1) <= 0.3 * line_h and 0.6 * w1 <= w2 <= 1.5 * w1 \
                and overlap >= 0.6 * min(w1, w2):
            return "±", box
    # '+-': a '+' and, right after it, a bar across its middle
    (ka, xa_, ya_, wa, ha, _, ca), (kb, xb_, yb_, wb, hb, _, cb) = sorted(blobs, key=lambda b: b[1])
    if _plus_sized(wa, ha, line_h) and _is_plus(labels[ya_:ya_ + ha, xa_:xa_ + wa] == ka) \
            and _is_flat(wb, hb, line_h) and 0 <= xb_ - (xa_ + wa) <= 0.5 * line_h \
            and ya_ + 0.25 * ha <= cb[1] <= ya_ + 0.75 * ha and wb <= 1.3 * wa:
        return "+-", box
    return None
