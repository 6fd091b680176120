"""Phone-capture geometry / condition stress set for the lab-report OCR (independent tester).

Writes OUT/images/<LABEL>-<TF>__x.jpg, OUT/images.csv and OUT/transcripts/<SHEET>.json (copies of the dev
transcripts with "files" pointing at the generated images) so that

    .venv/bin/python bench/ocr_accuracy.py --real --root OUT --cache OUT_ocr -v --json OUT.json

scores them. Only dev sheets are used (checked against split.json). Deterministic: every random draw is seeded
from sha256(file + transform).

    .venv/bin/python bench/ocr_geo_stress.py --out /tmp/geo/set1   (the sets of the README: see --spec there)

Written by a tester who had not read the OCR service's code. Synthetic transforms of real photos: scored apart,
no accuracy goal.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
DS = HERE.parent.parent / "shared" / "datasets" / "lab_reports_real"  # ../shared beside the checkout
TR = HERE / "data" / "lab_reports_real"

# (label, file): 7 blood (N02 = 22-row two-block sheet), 2 urine, 1 biochem, 2 stool, 1 PSA
PHOTOS = [
    ("A02", "A02__Jerry.in__bloodtest2.jpg"),
    ("N02", "N02__pHash__t2.jpg"),
    ("N01", "N01__pHash__t1.jpg"),
    ("A14", "A14__Jerry.in__bloodtest18.jpg"),
    ("A22", "A22__Jerry.in__contrast2.jpg"),
    ("A12", "A12__Jerry.in__bloodtest16.jpeg"),
    ("U04", "U04__Jerry.in__urine6.jpeg"),
    ("U10", "U10__Jerry.in__urine13.jpg"),
    ("U11", "U11__urine_test__urine14.jpeg"),
    ("S06a", "S06_alt1__stool_test__stool6.jpg"),
    ("S09", "S09__Jerry.in__stool9.jpg"),
    ("P05", "P05__Jerry.in__psa6.jpg"),
    # extra short sheets (used by the third round only)
    ("P03", "P03__Jerry.in__psa3.jpg"),
    ("S08", "S08__Jerry.in__stool8.jpg"),
]


def rng_for(fname: str, tf: str) -> np.random.Generator:
    return np.random.default_rng(int(hashlib.sha256(f"{fname}|{tf}".encode()).hexdigest()[:16], 16))


# ---------------------------------------------------------------- backgrounds
def desk_plain(h, w, rng, grey=None):
    """A plain desk with a light gradient and noise; grey=(lo,hi) picks its brightness."""
    lo, hi = grey or (60, 150)
    base = rng.uniform(lo, hi) + rng.uniform(-8, 8, size=3)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    grad = 1.0 + 0.12 * ((gx / w - 0.5) * rng.uniform(-1, 1) + (gy / h - 0.5) * rng.uniform(-1, 1))
    img = base[None, None, :] * grad[..., None]
    img += rng.normal(0, 3, size=(h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def desk_busy(h, w, rng, lab_scrap=True, clutter=True):
    """Wood grain plus clutter: a keyboard-ish block, a mug rim, a pen, coloured post-its, printed-text scraps."""
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = rng.uniform(0.01, 0.03) * 1000 / max(h, w)
    grain = np.sin(gy * f * 6 + 8 * np.sin(gx * f * 0.4) + rng.uniform(0, 6)) * 0.5 + 0.5
    wood = np.stack([40 + 40 * grain, 75 + 50 * grain, 120 + 60 * grain], -1)  # BGR brownish
    img = wood + rng.normal(0, 4, size=(h, w, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    if not clutter:  # wood grain only
        return cv2.GaussianBlur(img, (0, 0), 1.0)
    s = max(h, w)
    # keyboard: dark block with key grid
    x0, y0 = int(rng.uniform(0, 0.3) * w), int(rng.uniform(0.0, 0.15) * h)
    kw, kh = int(0.35 * w), int(0.12 * h)
    cv2.rectangle(img, (x0, y0), (x0 + kw, y0 + kh), (35, 35, 38), -1)
    step = max(6, kh // 5)
    for yy in range(y0 + 3, y0 + kh - step, step):
        for xx in range(x0 + 3, x0 + kw - step, step):
            cv2.rectangle(img, (xx, yy), (xx + step - 4, yy + step - 4), (70, 70, 72), -1)
            cv2.putText(img, chr(65 + (xx // step) % 26), (xx + 2, yy + step - 6), cv2.FONT_HERSHEY_SIMPLEX,
                        step / 60, (200, 200, 200), 1)
    # mug
    cx, cy = int(rng.uniform(0.75, 0.95) * w), int(rng.uniform(0.1, 0.3) * h)
    cv2.circle(img, (cx, cy), int(0.07 * s), (230, 230, 235), -1)
    cv2.circle(img, (cx, cy), int(0.058 * s), (30, 50, 70), -1)
    # pen
    px, py = int(rng.uniform(0.05, 0.2) * w), int(rng.uniform(0.7, 0.95) * h)
    cv2.line(img, (px, py), (px + int(0.25 * w), py - int(0.08 * h)), (160, 40, 20), max(3, s // 150))
    # post-its and a printed scrap with text lines
    for _ in range(3):
        qx, qy = int(rng.uniform(0, 0.9) * w), int(rng.uniform(0.5, 0.9) * h)
        col = [(90, 230, 250), (180, 140, 250), (140, 240, 160)][int(rng.integers(3))]
        cv2.rectangle(img, (qx, qy), (qx + int(0.08 * s), qy + int(0.08 * s)), col, -1)
    sx, sy = int(rng.uniform(0.7, 0.85) * w), int(rng.uniform(0.55, 0.75) * h)
    cv2.rectangle(img, (sx, sy), (sx + int(0.2 * w), sy + int(0.25 * h)), (235, 235, 230), -1)
    for i in range(8):
        yy = sy + int((i + 1) * 0.025 * h)
        txt = ("12.3  4.5-6.7  g/L" if i % 2 else "WBC 7.1 10^9/L") if lab_scrap else \
            ("call the plumber" if i % 2 else "shopping list: milk")
        cv2.putText(img, txt, (sx + 8, yy), cv2.FONT_HERSHEY_SIMPLEX,
                    s / 3000, (40, 40, 40), max(1, s // 1500))
    return cv2.GaussianBlur(img, (0, 0), 1.0)


# ---------------------------------------------------------------- geometry
def quad_3d(w, h, pitch=0.0, yaw=0.0, roll=0.0, fov_f=1.0):
    """Corners of a w×h page seen by a pinhole camera: page rotated by roll (in its plane), then pitch (about the
    horizontal axis, top edge away from the camera for pitch>0) and yaw; focal = fov_f * max(w,h); the page centre
    at distance such that the unrotated page spans ~ the image. Returns 4×2 float32 (not yet placed)."""
    pts = np.array([[-w / 2, -h / 2, 0], [w / 2, -h / 2, 0], [w / 2, h / 2, 0], [-w / 2, h / 2, 0]], np.float64)
    r = np.deg2rad(roll)
    Rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    p = np.deg2rad(pitch)
    Rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    y = np.deg2rad(yaw)
    Ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    pts = pts @ Rz.T @ Rx.T @ Ry.T
    f = fov_f * max(w, h)
    z = pts[:, 2] + f * 1.0
    # y axis points down: top edge (y<0) goes away (z larger) when pitch>0 with this sign
    return np.stack([f * pts[:, 0] / z, f * pts[:, 1] / z], -1).astype(np.float32)


def place(page, quad, canvas, shadow=True, interp=None):
    """Warp `page` onto `canvas` at `quad` (4×2, canvas coords), with soft edges and a faint drop shadow.
    `interp`: the warp's interpolation (default: cubic where the page is enlarged, else linear)."""
    h, w = page.shape[:2]
    H, W = canvas.shape[:2]
    src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    m = cv2.getPerspectiveTransform(src, np.float32(quad))
    if interp is None:
        interp = cv2.INTER_CUBIC if cv2.contourArea(np.float32(quad)) > w * h else cv2.INTER_LINEAR
    warped = cv2.warpPerspective(page, m, (W, H), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (W, H), flags=cv2.INTER_LINEAR)
    out = canvas.astype(np.float32)
    if shadow:
        sh = cv2.GaussianBlur(mask, (0, 0), max(3, W / 300)).astype(np.float32) / 255
        sh = np.roll(sh, (int(W / 250), int(W / 250)), axis=(0, 1))
        out *= (1 - 0.35 * sh)[..., None]
    a = cv2.GaussianBlur(mask, (3, 3), 0).astype(np.float32)[..., None] / 255
    out = out * (1 - a) + warped.astype(np.float32) * a
    return np.clip(out, 0, 255).astype(np.uint8)


def fit_canvas(quad, margin_frac):
    lo, hi = quad.min(0), quad.max(0)
    span = hi - lo
    m = margin_frac * span
    W, H = int(round(span[0] + 2 * m[0])), int(round(span[1] + 2 * m[1]))
    return quad - lo + m, W, H


def rotate90(img, k):
    return {0: img, 1: cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE), 2: cv2.rotate(img, cv2.ROTATE_180),
            3: cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)}[k]


def min_side_scale(img, target=1400):
    """Upscale small pages so that the shortest canvas is still phone-like (never downscale)."""
    h, w = img.shape[:2]
    s = max(1.0, target / max(h, w))
    return cv2.resize(img, (int(w * s), int(h * s)), interpolation=cv2.INTER_CUBIC) if s > 1 else img


def sensor(img, rng, sigma=2.5):
    return np.clip(img.astype(np.float32) + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- transforms
def make_desk(H, W, rng, desk):
    if desk == "b":
        return desk_busy(H, W, rng)
    if desk == "c":
        return desk_busy(H, W, rng, lab_scrap=False)
    if desk == "w":
        return desk_plain(H, W, rng, grey=(200, 225))
    if desk == "g":
        return desk_busy(H, W, rng, clutter=False)
    return desk_plain(H, W, rng)


def tf_roll(img, rng, roll, turn=0, busy=False, desk="p"):
    page = min_side_scale(rotate90(img, turn))
    h, w = page.shape[:2]
    q = quad_3d(w, h, roll=roll, pitch=rng.uniform(-4, 4), yaw=rng.uniform(-4, 4))
    q, W, H = fit_canvas(q, rng.uniform(0.05, 0.10))
    bg = make_desk(H, W, rng, "b" if busy else desk)
    return sensor(place(page, q, bg), rng)


def tf_persp(img, rng, pitch, yaw=0.0, roll=0.0, turn=0, fov_f=0.75):
    page = min_side_scale(rotate90(img, turn), 1600)
    h, w = page.shape[:2]
    q = quad_3d(w, h, pitch=pitch, yaw=yaw, roll=roll, fov_f=fov_f)
    # rescale so the near edge is ~ at the page's own resolution
    q = q * (max(w, h) / max(q.max(0) - q.min(0)))
    q, W, H = fit_canvas(q, rng.uniform(0.05, 0.09))
    bg = desk_plain(H, W, rng)
    return sensor(place(page, q, bg), rng)


def tf_far(img, rng, area, busy, roll=0.0, pitch=0.0, light_desk=False, turn=0, desk=None):
    """Page filling `area` of a 4000×3000 frame (landscape page) or 3000×4000 (portrait page)."""
    img = rotate90(img, turn)
    h, w = img.shape[:2]
    W, H = (4000, 3000) if w >= h else (3000, 4000)
    s = np.sqrt(area * W * H / (w * h))
    page = cv2.resize(img, (int(w * s), int(h * s)), interpolation=cv2.INTER_CUBIC)
    ph, pw = page.shape[:2]
    q = quad_3d(pw, ph, roll=roll, pitch=pitch, fov_f=1.2)
    q = q - q.mean(0) + np.float32([W / 2 + rng.uniform(-0.12, 0.12) * W, H / 2 + rng.uniform(-0.1, 0.1) * H])
    if desk is not None:
        bg = make_desk(H, W, rng, desk)
        light_desk = desk == "w"
    elif busy:
        bg = desk_busy(H, W, rng)
    elif light_desk:
        bg = desk_plain(H, W, rng, grey=(200, 225))
    else:
        bg = desk_plain(H, W, rng)
    out = place(page, q, bg, shadow=not light_desk)
    out = cv2.GaussianBlur(out, (0, 0), 1.0)  # a far shot: the page is soft
    return sensor(out, rng, 3.0)


def tf_occlude(img, rng):
    """Page with slight roll on a desk; a second (blank-ish) sheet under/over one side edge, a finger on the bottom
    corner, and the phone's shadow across the page."""
    page = min_side_scale(img)
    h, w = page.shape[:2]
    q = quad_3d(w, h, roll=rng.uniform(4, 8) * rng.choice([-1, 1]), pitch=rng.uniform(3, 8))
    q, W, H = fit_canvas(q, 0.12)
    bg = desk_plain(H, W, rng)
    out = place(page, q, bg)
    # second sheet overlapping the right page edge by ~4% of the page width (margin area), itself tilted
    xr = q[:, 0].max()
    sw, shh = int(0.5 * w), int(0.9 * h)
    other = np.full((shh, sw, 3), 238, np.uint8)
    for i in range(20):
        yy = int((i + 1) * shh / 22)
        cv2.line(other, (int(0.1 * sw), yy), (int(0.9 * sw), yy), (150, 150, 150), max(1, h // 400))
    oq = quad_3d(sw, shh, roll=rng.uniform(-20, -10))
    oq = oq - oq.min(0) + np.float32([xr - 0.04 * w, 0.05 * H])
    out = place(other, oq, out)
    # a finger from the bottom edge over the bottom-left page corner
    cx, cy = int(q[3, 0] + 0.05 * w), int(q[3, 1])
    fw, fh = int(0.06 * w), int(0.22 * h)
    skin = np.array([120, 150, 205], np.float32)
    finger = np.zeros((H, W), np.uint8)
    cv2.ellipse(finger, (cx, cy), (fw, fh // 2), rng.uniform(-25, -10), 0, 360, 255, -1)
    cv2.rectangle(finger, (cx - fw, cy), (cx + fw, H), 255, -1)
    finger = cv2.GaussianBlur(finger, (0, 0), 2).astype(np.float32)[..., None] / 255
    o = out.astype(np.float32)
    o = o * (1 - finger) + (skin * (0.85 + 0.15 * rng.random()))[None, None, :] * finger
    # phone shadow: a soft dark band across the top-left third of the page
    sh = np.zeros((H, W), np.uint8)
    x0, y0 = int(rng.uniform(0.05, 0.25) * W), 0
    pts = np.int32([[x0, y0], [x0 + int(0.30 * W), y0], [x0 + int(0.22 * W), int(0.55 * H)], [x0 - int(0.08 * W), int(0.55 * H)]])
    cv2.fillConvexPoly(sh, pts, 255)
    sh = cv2.GaussianBlur(sh, (0, 0), W / 60).astype(np.float32) / 255
    o *= (1 - 0.45 * sh)[..., None]
    return sensor(np.clip(o, 0, 255).astype(np.uint8), rng)


def tf_light(img, rng):
    """Fold crease across the page, a glare spot, and mild motion blur (text height-relative)."""
    page = min_side_scale(img)
    h, w = page.shape[:2]
    q = quad_3d(w, h, roll=rng.uniform(-5, 5), pitch=rng.uniform(5, 10))
    q, W, H = fit_canvas(q, 0.06)
    out = place(page, q, desk_plain(H, W, rng)).astype(np.float32)
    gy, gx = np.mgrid[0:H, 0:W].astype(np.float32)
    # crease: a line across the page at ~45-55% height, slightly slanted; dark on one side, bright ridge
    yc = H * rng.uniform(0.42, 0.58)
    slope = rng.uniform(-0.08, 0.08)
    d = gy - (yc + slope * (gx - W / 2))
    ridge = np.exp(-(d / (H / 400 + 1)) ** 2)
    side = np.where(d > 0, 0.88 + 0.12 * (1 - np.exp(-d / (H / 15))), 1.0)
    out = out * side[..., None] * (1 - 0.25 * ridge[..., None])
    # geometric kink at the crease: shift the lower half by ~0.3% of height
    mapy = (gy - np.where(d > 0, H * 0.003, 0)).astype(np.float32)
    out = cv2.remap(out, gx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # glare: bright elliptic spot (partial saturation) over part of the page
    gcx, gcy = W * rng.uniform(0.3, 0.7), H * rng.uniform(0.25, 0.75)
    r2 = ((gx - gcx) / (0.12 * W)) ** 2 + ((gy - gcy) / (0.08 * H)) ** 2
    g = 0.55 * np.exp(-r2)
    out = out * (1 - g[..., None]) + 255 * g[..., None]
    # motion blur: ~W/300 px, slight angle; then a mild defocus
    L = max(3, int(W / 300)) | 1
    k = np.zeros((L, L), np.float32)
    k[L // 2, :] = 1
    k = cv2.warpAffine(k, cv2.getRotationMatrix2D((L / 2 - 0.5, L / 2 - 0.5), rng.uniform(-20, 20), 1.0), (L, L))
    k /= k.sum()
    out = cv2.filter2D(out, -1, k)
    out = cv2.GaussianBlur(out, (0, 0), 0.8)
    return sensor(np.clip(out, 0, 255).astype(np.uint8), rng)


def tf_crop(img, rng):
    """Close-up with a 10° roll: the page outline never shows; the page's top and bottom margins / left-right
    edges are cut by the frame (corners out of view), the table rows stay inside."""
    page = min_side_scale(img)
    h, w = page.shape[:2]
    roll = rng.uniform(7, 11) * rng.choice([-1, 1])
    q = quad_3d(w, h, roll=roll, pitch=rng.uniform(-3, 3))
    q, W, H = fit_canvas(q, 0.0)
    out = place(page, q, desk_plain(H, W, rng))
    # crop: cut ~half of each corner triangle so no page corner is visible
    cx0, cy0 = int(0.06 * W), int(0.08 * H)
    out = out[cy0:H - cy0, cx0:W - cx0]
    return sensor(out, rng)


TRANSFORMS = {
    "r25": lambda im, r: tf_roll(im, r, 25),
    "r-35": lambda im, r: tf_roll(im, r, -35, busy=True),
    "t90r15": lambda im, r: tf_roll(im, r, 15, turn=1),
    "t270r-20": lambda im, r: tf_roll(im, r, -20, turn=3),
    "p40": lambda im, r: tf_persp(im, r, pitch=40, yaw=r.uniform(-8, 8)),
    "t90p35": lambda im, r: tf_persp(im, r, pitch=35, yaw=r.uniform(-6, 6), turn=1),
    "farW": lambda im, r: tf_far(im, r, 0.30, busy=False, roll=r.uniform(-5, 5), light_desk=True),
    "farB": lambda im, r: tf_far(im, r, 0.40, busy=True, roll=r.uniform(-12, -6), pitch=15),
    "occl": tf_occlude,
    "light": tf_light,
    "crop": tf_crop,
}


def parse_tf(tf):
    """Parametric names: R<roll>[t<k>][p|b|c|w] roll (turn k*90 first; desk plain/busy with a lab-like slip/busy
    clean/white); P<pitch>[t<k>][y<yaw>] steep perspective; F<area%>[r<roll>][p<pitch>][t<k>][p|b|c|w] far shot."""
    import re
    m = re.fullmatch(r"R(-?\d+)(?:t(\d))?([pbcwg])?", tf)
    if m:
        return lambda im, r: tf_roll(im, r, float(m.group(1)), turn=int(m.group(2) or 0), desk=m.group(3) or "p")
    m = re.fullmatch(r"P(\d+)(?:t(\d))?(?:y(-?\d+))?", tf)
    if m:
        return lambda im, r: tf_persp(im, r, pitch=float(m.group(1)), yaw=float(m.group(3) or 0),
                                      turn=int(m.group(2) or 0))
    m = re.fullmatch(r"F(\d+)(?:r(-?\d+))?(?:p(\d+))?(?:t(\d))?([pbcw])?", tf)
    if m:
        return lambda im, r: tf_far(im, r, int(m.group(1)) / 100, busy=False, roll=float(m.group(2) or 0),
                                    pitch=float(m.group(3) or 0), turn=int(m.group(4) or 0), desk=m.group(5) or "p")
    return TRANSFORMS[tf]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--photos", nargs="*", default=None, help="labels from PHOTOS (default all)")
    ap.add_argument("--transforms", nargs="*", default=None, help=f"default all: {list(TRANSFORMS)}")
    ap.add_argument("--no-upright", action="store_true")
    ap.add_argument("--spec", nargs="*", default=None,
                    help="explicit LABEL:TF1,TF2,... pairs (overrides --photos/--transforms; 'up' = the original)")
    args = ap.parse_args()
    split = json.loads((TR / "split.json").read_text(encoding="utf-8"))
    same = split.get("same_sheet", {})
    tfs = args.transforms or list(TRANSFORMS)
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    (args.out / "transcripts").mkdir(parents=True, exist_ok=True)
    rows_csv = {r["file"]: r for r in csv.DictReader((DS / "images.csv").open(encoding="utf-8"))}
    files_by_sheet: dict[str, list[str]] = {}
    csv_out = []
    spec = {a.split(":")[0]: a.split(":")[1].split(",") for a in args.spec} if args.spec else None
    for label, fname in PHOTOS:
        if spec is not None and label not in spec:
            continue
        if spec is None and args.photos and label not in args.photos:
            continue
        sheet = same.get(fname[:3], fname[:3])
        assert split["sheets"].get(sheet) == "dev", (fname, sheet)
        img = cv2.imread(str(DS / "images" / fname), cv2.IMREAD_COLOR)
        todo = spec[label] if spec is not None else ([] if args.no_upright else ["up"]) + tfs
        for tf in todo:
            out_name = f"{label}-{tf}__x.jpg"
            dst = args.out / "images" / out_name
            if tf == "up":
                shutil.copyfile(DS / "images" / fname, dst)  # the very bytes (same OCR cache key as the original)
            else:
                res = parse_tf(tf)(img.copy(), rng_for(fname, tf))
                cv2.imwrite(str(dst), res, [cv2.IMWRITE_JPEG_QUALITY, 90])
            files_by_sheet.setdefault(sheet, []).append(out_name)
            r = dict(rows_csv[fname])
            r["file"], r["photo"] = out_name, f"{r['photo']} | transform {tf}"
            csv_out.append(r)
            print(out_name, cv2.imread(str(dst)).shape[:2], flush=True)
    write_root(args.out, files_by_sheet, rows_csv, csv_out)


def write_root(out: Path, files_by_sheet: dict[str, list[str]], rows_csv: dict[str, dict], csv_out: list[dict]) -> None:
    """The dev transcripts (their "files" now the images written) and images.csv, laid out as
    ``bench/ocr_accuracy.py --real --root`` reads them."""
    for sheet, files in files_by_sheet.items():
        d = json.loads((TR / f"{sheet}.json").read_text(encoding="utf-8"))
        d["files"] = files
        (out / "transcripts" / f"{sheet}.json").write_text(json.dumps(d, ensure_ascii=False, indent=1),
                                                          encoding="utf-8")
    with (out / "images.csv").open("w", encoding="utf-8", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(next(iter(rows_csv.values())).keys()))
        wr.writeheader()
        wr.writerows(csv_out)


if __name__ == "__main__":
    main()
