"""Capture-condition stress set #2 for the lab-report OCR (independent tester, round 2).

Writes OUT/images/<LABEL>-<TF>__x.jpg, OUT/images.csv, OUT/transcripts/<SHEET>.json (dev transcripts, "files"
pointing at the generated images), in the layout of bench/ocr_geo_stress.py, so that

    .venv/bin/python bench/ocr_accuracy.py --real --root OUT --cache OUT_ocr -v --json OUT.json

Build: .venv/bin/python bench/ocr_capture_stress.py --out /tmp/capt2/final (about 5 min). Written by a tester who
had not read the OCR service's code; synthetic transforms of real photos, scored apart, no accuracy goal.

scores them. Only dev sheets (asserted against split.json). Deterministic: every random draw is seeded from
sha256(file|transform). Transforms (none repeats round 1: roll 10-40, busy/white desk, far, pitch 35-50, fold,
glare spot, occlusion, crop):

  barrel    close shot, wide-angle barrel distortion (rules bow outwards)
  pincush   close shot, pincushion distortion
  handC     sheet held in the air in one hand, cylinder bend across its width, thumb on the left margin, room behind
  handS     same, gentle S bend
  two       two different dev sheets side by side in one photo (scored on the target sheet)
  nextpg    the next page (another real sheet) lying over the target's right margin
  lowlight  low light: heavy sensor noise, then phone denoise + sharpen (watercolour), small roll
  sleeve    through a plastic sleeve: lowered contrast, long glare streaks, wrinkle highlights
  screen    re-photographed from a phone screen at an angle (subpixel grid -> moire, perspective, bezel)
  th720     portrait photo, the landscape sheet small across it, saved at 720 px long side (JPEG q75)
  th1080    same at 1080 px long side (JPEG q85)
  screenF   control for screen: same geometry, no subpixel grid (no moire)
  screenC   screen, close: the displayed sheet fills ~88% of the frame (moire kept)
  vshake25  vertical motion blur, 0.25 x the character height
  (every output is capped at 4000 px long side)
  vshake    vertical motion blur only, length 0.4 x the character height
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from ocr_geo_stress import DS, TR, rng_for, sensor, write_root  # the first round's dataset, seeds and writer
from ocr_geo_stress import place as geo_place

# label, file, partner file for two/nextpg (another dev sheet of a different kind)
PHOTOS = [
    ("A02", "A02__Jerry.in__bloodtest2.jpg", "S08__Jerry.in__stool8.jpg"),
    ("A12", "A12__Jerry.in__bloodtest16.jpeg", "U12__Jerry.in__urine16.jpg"),
    ("A11", "A11__Jerry.in__bloodtest15.jpg", "S10__Jerry.in__stool10.jpg"),
    ("N05", "N05__pHash__t6.jpg", "U02__Jerry.in__urine4.jpg"),
    ("A27", "A27__Jerry.in__labtest4.jpg", "A16__Jerry.in__bloodtest20.jpeg"),
    ("U04", "U04__Jerry.in__urine6.jpeg", "A17__blood_test__bloodtest20_1.jpeg"),
    ("U13", "U13__Jerry.in__urine17.jpg", "N01__pHash__t1.jpg"),
    ("U11", "U11__urine_test__urine14.jpeg", "A16__Jerry.in__bloodtest20.jpeg"),
    ("S05a", "S05_alt1__stool_test__stool5.jpeg", "A17__blood_test__bloodtest20_1.jpeg"),
    ("S07a", "S07_alt1__stool_test__stool7.jpg", "N01__pHash__t1.jpg"),
    ("P05", "P05__Jerry.in__psa6.jpg", "U12__Jerry.in__urine16.jpg"),
    ("P03", "P03__Jerry.in__psa3.jpg", "A16__Jerry.in__bloodtest20.jpeg"),
]


def u8(x):
    return np.clip(x, 0, 255).astype(np.uint8)


def upscale_min(img, target=1600):
    h, w = img.shape[:2]
    s = target / max(h, w)
    if s <= 1:
        return img
    return cv2.resize(img, (int(w * s), int(h * s)), interpolation=cv2.INTER_CUBIC)


def cap_long(img, target):
    h, w = img.shape[:2]
    s = target / max(h, w)
    if s >= 1:
        return img
    return cv2.resize(img, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)


# ------------------------------------------------------------------ backgrounds
def desk(h, w, rng, lo=70, hi=150):
    base = rng.uniform(lo, hi) + rng.uniform(-10, 10, size=3)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    grad = 1.0 + 0.15 * ((gx / w - 0.5) * rng.uniform(-1, 1) + (gy / h - 0.5) * rng.uniform(-1, 1))
    return u8(base[None, None, :] * grad[..., None] + rng.normal(0, 3, (h, w, 3)))


def room(h, w, rng):
    """Out-of-focus room: beige wall with a light gradient, a bright window, a door frame, a dark cabinet, floor."""
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    wall = np.array([150, 175, 195], np.float32) * rng.uniform(0.8, 1.05)
    img = wall[None, None] * (0.85 + 0.3 * (gx / w))[..., None]
    # window (bright, slightly blue), with mullions
    wx0, wy0 = int(rng.uniform(0.55, 0.7) * w), int(rng.uniform(0.05, 0.15) * h)
    wx1, wy1 = wx0 + int(0.28 * w), wy0 + int(0.35 * h)
    img[wy0:wy1, wx0:wx1] = np.array([245, 240, 230], np.float32)
    img[wy0:wy1, (wx0 + wx1) // 2 - w // 200:(wx0 + wx1) // 2 + w // 200] = (90, 90, 95)
    # door frame (dark brown) on the left
    dx = int(rng.uniform(0.02, 0.12) * w)
    img[int(0.05 * h):, dx:dx + int(0.04 * w)] = (40, 60, 90)
    img[int(0.05 * h):, dx + int(0.2 * w):dx + int(0.24 * w)] = (40, 60, 90)
    # cabinet and floor
    img[int(0.62 * h):int(0.9 * h), int(0.6 * w):int(0.95 * w)] = (50, 55, 60)
    img[int(0.88 * h):] = np.array([70, 100, 130], np.float32)
    img = cv2.GaussianBlur(img, (0, 0), max(h, w) / 150)  # depth of field
    return u8(img + rng.normal(0, 3, img.shape))


# ------------------------------------------------------------------ geometry helpers
def persp_quad(w, h, pitch=0.0, yaw=0.0, roll=0.0, f=None):
    f = f or 1.2 * max(w, h)
    pts = np.array([[-w / 2, -h / 2, 0], [w / 2, -h / 2, 0], [w / 2, h / 2, 0], [-w / 2, h / 2, 0]], np.float64)
    return project(pts, pitch, yaw, roll, f)


def rot_mats(pitch, yaw, roll):
    r, p, y = np.deg2rad([roll, pitch, yaw])
    Rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    Rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    Ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    return Rz.T @ Rx.T @ Ry.T


def project(pts, pitch, yaw, roll, f):
    p = pts @ rot_mats(pitch, yaw, roll)
    z = p[:, 2] + f
    return np.stack([f * p[:, 0] / z, f * p[:, 1] / z], -1).astype(np.float32)


def place(page, quad, canvas, shadow=True):
    """The first round's place, with a linear warp at any size (as this round drew its photos)."""
    return geo_place(page, quad, canvas, shadow=shadow, interp=cv2.INTER_LINEAR)


def render_surface(page, zfun, pitch, yaw, roll, f, canvas, offset, scale, shade_fun=None, grid=(24, 32)):
    """Render a bent page z = zfun(u, v) (page pixel coords) through a pinhole camera, by piecewise homographies on
    a grid of cells. Returns (canvas with the page, the page's mask, projected grid)."""
    h, w = page.shape[:2]
    gv, gu = grid
    us = np.linspace(0, w - 1, gu + 1)
    vs = np.linspace(0, h - 1, gv + 1)
    U, V = np.meshgrid(us, vs)
    Z = zfun(U, V)
    # arc-length-ish: shrink u where the surface is steep (keeps the page width physical)
    dzdu = np.gradient(Z, axis=1) / np.gradient(U, axis=1)
    ds = np.sqrt(1 + dzdu ** 2)
    X = np.concatenate([np.zeros((gv + 1, 1)), np.cumsum(0.5 * (1 / ds[:, 1:] + 1 / ds[:, :-1]) * np.diff(U, axis=1), 1)], 1)
    X = X - w / 2 * (X[:, -1:] / (w - 1))  # centre
    pts = np.stack([X.ravel(), (V - h / 2).ravel(), Z.ravel()], -1)
    P = project(pts, pitch, yaw, roll, f).reshape(gv + 1, gu + 1, 2) * scale + np.float32(offset)
    H, W = canvas.shape[:2]
    out = canvas.astype(np.float32).copy()
    acc = np.zeros((H, W), np.float32)
    pagef = page.astype(np.float32)
    if shade_fun is not None:
        pagef = pagef * shade_fun(*np.mgrid[0:h, 0:w][::-1].astype(np.float32))[..., None]
    for i in range(gv):
        for j in range(gu):
            src = np.float32([[us[j], vs[i]], [us[j + 1], vs[i]], [us[j + 1], vs[i + 1]], [us[j], vs[i + 1]]])
            dst = np.float32([P[i, j], P[i, j + 1], P[i + 1, j + 1], P[i + 1, j]])
            x0, y0 = np.floor(dst.min(0)).astype(int) - 2
            x1, y1 = np.ceil(dst.max(0)).astype(int) + 2
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
            if x1 <= x0 or y1 <= y0:
                continue
            m = cv2.getPerspectiveTransform(src, dst - np.float32([x0, y0]))
            # source sub-window (with a margin) for speed
            sx0, sy0 = int(max(us[j] - 4, 0)), int(max(vs[i] - 4, 0))
            sx1, sy1 = int(min(us[j + 1] + 5, w)), int(min(vs[i + 1] + 5, h))
            T = np.array([[1, 0, sx0], [0, 1, sy0], [0, 0, 1]], np.float64)
            m2 = m @ T
            patch = cv2.warpPerspective(pagef[sy0:sy1, sx0:sx1], m2, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REPLICATE)
            msk = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.fillConvexPoly(msk, np.round((dst - np.float32([x0, y0])) * 16).astype(np.int32), 255,
                               lineType=cv2.LINE_AA, shift=4)
            a = msk.astype(np.float32) / 255
            a = np.maximum(a - acc[y0:y1, x0:x1], 0)
            out[y0:y1, x0:x1] = out[y0:y1, x0:x1] * (1 - a[..., None]) + patch * a[..., None]
            acc[y0:y1, x0:x1] += a
    return out, np.clip(acc, 0, 1), P


# ------------------------------------------------------------------ transforms
def tf_lens(img, rng, k):
    """Close shot filling the frame (3-5% desk margin, small roll), then radial distortion: k>0 barrel, k<0
    pincushion (source radius = r * (1 + k r^2), r normalised by the half diagonal)."""
    page = upscale_min(img, 2000)
    h, w = page.shape[:2]
    q = persp_quad(w, h, pitch=rng.uniform(-4, 4), yaw=rng.uniform(-4, 4), roll=rng.uniform(-3, 3))
    lo, hi = q.min(0), q.max(0)
    m = rng.uniform(0.03, 0.05) * (hi - lo)
    q = q - lo + m
    W, H = int(hi[0] - lo[0] + 2 * m[0]), int(hi[1] - lo[1] + 2 * m[1])
    px, py = int(0.12 * W), int(0.12 * H)  # desk beyond the frame, sampled by the barrel's corners
    out = place(page, q + np.float32([px, py]), desk(H + 2 * py, W + 2 * px, rng))
    gy, gx = np.mgrid[0:H, 0:W].astype(np.float32)
    cx, cy = W / 2, H / 2
    R = float(np.hypot(cx, cy))
    gx, gy = gx + px, gy + py
    cx, cy = cx + px, cy + py
    r2 = ((gx - cx) ** 2 + (gy - cy) ** 2) / R ** 2
    s = 1 + k * r2
    out = cv2.remap(out, (cx + (gx - cx) * s).astype(np.float32), (cy + (gy - cy) * s).astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # vignetting typical of wide lenses
    out = out.astype(np.float32) * (1 - 0.25 * r2)[..., None]
    return sensor(out, rng)


def thumb(canvas, base_pt, direction, size, rng):
    """A thumb (skin ellipse with a nail) pressing at base_pt, pointing along `direction` (unit vector)."""
    H, W = canvas.shape[:2]
    m = np.zeros((H, W), np.uint8)
    d = np.float32(direction) / np.linalg.norm(direction)
    L, Wd = size, size * 0.62
    tip = np.float32(base_pt) + d * L * 0.45
    ang = float(np.degrees(np.arctan2(d[1], d[0])))
    cv2.ellipse(m, (int(tip[0]), int(tip[1])), (int(L * 0.5), int(Wd / 2)), ang, 0, 360, 255, -1)
    back = tip - d * L * 1.6
    cv2.line(m, (int(tip[0]), int(tip[1])), (int(back[0]), int(back[1])), 255, int(Wd))
    nail = np.zeros((H, W), np.uint8)
    nt = tip + d * L * 0.18
    cv2.ellipse(nail, (int(nt[0]), int(nt[1])), (int(L * 0.2), int(Wd * 0.32)), ang, 0, 360, 255, -1)
    a = cv2.GaussianBlur(m, (0, 0), 2).astype(np.float32)[..., None] / 255
    an = cv2.GaussianBlur(nail, (0, 0), 2).astype(np.float32)[..., None] / 255
    skin = np.array([115, 145, 200], np.float32) * rng.uniform(0.85, 1.05)
    o = canvas.astype(np.float32)
    sh = np.roll(cv2.GaussianBlur(m, (0, 0), size / 10).astype(np.float32)[..., None] / 255,
                 (int(size / 12), int(size / 12)), (0, 1))
    o = o * (1 - 0.3 * sh)
    o = o * (1 - a) + skin * a
    o = o * (1 - an) + np.array([170, 185, 225], np.float32) * an
    return u8(o)


def tf_hand(img, rng, kind):
    """Sheet held up in one hand in a room: bent (cylinder across its width, or a gentle S), slight pitch/yaw/roll,
    a thumb on the left margin, shading that follows the bend."""
    page = upscale_min(img, 1800)
    h, w = page.shape[:2]
    if kind == "C":
        A = rng.uniform(0.06, 0.09) * w * rng.choice([-1, 1])

        def zf(u, v):
            return A * (1 - (2 * u / (w - 1) - 1) ** 2)

        def shade(u, v):
            return 1 - 0.18 * np.abs(2 * u / (w - 1) - 1) ** 2 * (1 if A > 0 else 0.6)
    else:
        A = rng.uniform(0.03, 0.045) * w
        ph = rng.uniform(0, 2 * np.pi)

        def zf(u, v):
            return A * np.sin(2 * np.pi * u / (w - 1) * 1.1 + ph) + 0.01 * w * np.sin(np.pi * v / (h - 1))

        def shade(u, v):
            return 1 - 0.09 * (1 + np.cos(2 * np.pi * u / (w - 1) * 1.1 + ph))
    f = 1.1 * max(w, h)
    pitch, yaw, roll = rng.uniform(6, 12), rng.uniform(-8, 8), rng.uniform(-6, 6)
    q = project(np.array([[-w / 2, -h / 2, 0], [w / 2, -h / 2, 0], [w / 2, h / 2, 0], [-w / 2, h / 2, 0]]),
                pitch, yaw, roll, f)
    span = q.max(0) - q.min(0)
    mfrac = rng.uniform(0.12, 0.18)
    W, H = int(span[0] * (1 + 2 * mfrac)), int(span[1] * (1 + 2 * mfrac))
    bg = room(H, W, rng)
    off = np.float32([W / 2, H / 2]) + np.float32(rng.uniform(-0.04, 0.04, 2)) * [W, H]
    out, acc, P = render_surface(page, zf, pitch, yaw, roll, f, bg, off, 1.0, shade)
    # thumb on the left margin, around 55-70% of the height, pointing into the page by ~3.5% of its width
    gv = P.shape[0] - 1
    i = int(rng.uniform(0.55, 0.7) * gv)
    left = P[i, 0]
    d = P[i, 1] - P[i, 0]
    d = d / np.linalg.norm(d)
    tsize = 0.075 * span[0]
    out = thumb(out, left - d * tsize * 0.62, d, tsize, rng)  # the tip ~2.5% of the page width inside
    out = cv2.GaussianBlur(out, (0, 0), 0.7)
    return sensor(out, rng, 3.0)


def load_partner(fname):
    return cv2.imread(str(DS / "images" / fname), cv2.IMREAD_COLOR)


def tf_two(img, rng, partner):
    """Two sheets side by side on a desk, both whole in the frame; the partner scaled to the same height (+-8%),
    each with its own small roll. The target is left or right (seeded)."""
    a = upscale_min(img, 1600)
    ha, wa = a.shape[:2]
    b = partner
    s = ha * rng.uniform(0.92, 1.08) / b.shape[0]
    b = cv2.resize(b, (int(b.shape[1] * s), int(b.shape[0] * s)), interpolation=cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA)
    hb, wb = b.shape[:2]
    gap = int(0.04 * max(wa, wb))
    left_is_target = rng.random() < 0.5
    W = wa + wb + gap + int(0.12 * (wa + wb))
    H = int(max(ha, hb) * 1.25)
    out = desk(H, W, rng)
    x = int(0.06 * (wa + wb))
    items = [(a, ha, wa), (b, hb, wb)] if left_is_target else [(b, hb, wb), (a, ha, wa)]
    for pg, hh, ww in items:
        q = persp_quad(ww, hh, roll=rng.uniform(-3, 3), pitch=rng.uniform(-3, 3))
        q = q - q.min(0)
        q = q + np.float32([x, (H - (q[:, 1].max())) / 2 + rng.uniform(-0.03, 0.03) * H])
        out = place(pg, q, out)
        x += ww + gap
    return sensor(out, rng)


def tf_nextpg(img, rng, partner):
    """The target on a desk (small roll); the next page (another real sheet, same scale) lies on top of it,
    its left edge over the target's right margin (overlap 3-5% of the target width), turned by a few degrees,
    running off the frame on the right."""
    a = upscale_min(img, 1600)
    ha, wa = a.shape[:2]
    b = partner
    s = ha * rng.uniform(0.95, 1.1) / b.shape[0]
    b = cv2.resize(b, (int(b.shape[1] * s), int(b.shape[0] * s)), interpolation=cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA)
    hb, wb = b.shape[:2]
    W, H = int(wa * 1.45), int(ha * 1.25)
    out = desk(H, W, rng)
    q = persp_quad(wa, ha, roll=rng.uniform(-3, 3), pitch=rng.uniform(-3, 3))
    q = q - q.min(0) + np.float32([0.06 * wa, 0.12 * ha])
    out = place(a, q, out)
    xr = q[1:3, 0].min()
    qb = persp_quad(wb, hb, roll=rng.uniform(-6, -2) * rng.choice([-1, 1]))
    qb = qb - np.float32([qb[[0, 3], 0].max(), qb[:, 1].min()])
    qb = qb + np.float32([xr - rng.uniform(0.03, 0.05) * wa, 0.05 * ha])
    out = place(b, qb, out)
    return sensor(out, rng)


def tf_lowlight(img, rng):
    """Dim room: soft (sigma 1), exposure x0.18, shot + read + blotchy chroma noise, gain back; then a phone's NL-means denoise (strong) and
    unsharp mask (watercolour look); warm cast; page on a dark desk with a 3-6 deg roll."""
    page = cap_long(upscale_min(img, 1600), 2000)
    h, w = page.shape[:2]
    q = persp_quad(w, h, roll=rng.uniform(3, 6) * rng.choice([-1, 1]), pitch=rng.uniform(-4, 4))
    q = q - q.min(0)
    span = q.max(0)
    m = 0.07 * span
    W, H = int(span[0] + 2 * m[0]), int(span[1] + 2 * m[1])
    out = place(page, q + m, desk(H, W, rng, 40, 80)).astype(np.float32)
    out = out * np.array([0.8, 0.95, 1.1], np.float32)  # warm tungsten
    out = cv2.GaussianBlur(out, (0, 0), 1.0)  # slow shutter: slightly soft
    gain = 1 / 0.18
    e = out / gain
    e = rng.poisson(np.clip(e, 0, None) * 0.6) / 0.6  # shot noise
    e = e + rng.normal(0, 3.0, e.shape)  # read noise
    chroma = cv2.GaussianBlur(rng.normal(0, 5.0, e.shape).astype(np.float32), (0, 0), 2.0)  # blotchy chroma
    e = e + chroma
    noisy = u8(e * gain)
    den = cv2.fastNlMeansDenoisingColored(noisy, None, 13, 16, 7, 21)
    blur = cv2.GaussianBlur(den, (0, 0), 1.6)
    sharp = cv2.addWeighted(den, 2.0, blur, -1.0, 0)
    return sharp


def tf_sleeve(img, rng):
    """Through a clear plastic sleeve: veiling (contrast x0.72, +20% toward bluish white), 2-3 long glare streaks
    across the page (peak 55-75% toward white), thin wrinkle highlights, the sleeve's welded edge."""
    page = upscale_min(img, 1600)
    h, w = page.shape[:2]
    q = persp_quad(w, h, roll=rng.uniform(-4, 4), pitch=rng.uniform(0, 8))
    q = q - q.min(0)
    span = q.max(0)
    m = 0.06 * span
    W, H = int(span[0] + 2 * m[0]), int(span[1] + 2 * m[1])
    out = place(page, q + m, desk(H, W, rng)).astype(np.float32)
    veil = np.array([250, 245, 240], np.float32)
    out = out * 0.72 + 0.22 * veil
    gy, gx = np.mgrid[0:H, 0:W].astype(np.float32)
    for _ in range(int(rng.integers(2, 4))):
        ang = np.deg2rad(rng.uniform(25, 65) * rng.choice([-1, 1]))
        c = np.float32([rng.uniform(0.2, 0.8) * W, rng.uniform(0.2, 0.8) * H])
        d = (gx - c[0]) * np.sin(ang) - (gy - c[1]) * np.cos(ang)
        along = (gx - c[0]) * np.cos(ang) + (gy - c[1]) * np.sin(ang)
        width = rng.uniform(0.015, 0.04) * max(W, H)
        g = rng.uniform(0.55, 0.75) * np.exp(-(d / width) ** 2) * np.exp(-(along / (0.6 * max(W, H))) ** 2)
        out = out * (1 - g[..., None]) + 255 * g[..., None]
    for _ in range(6):  # wrinkles: thin bright wavy lines
        msk = np.zeros((H, W), np.uint8)
        x0, y0 = rng.uniform(0, W), rng.uniform(0, H)
        ang = rng.uniform(0, np.pi)
        L = rng.uniform(0.2, 0.5) * max(W, H)
        ts = np.linspace(-L / 2, L / 2, 60)
        wob = 0.01 * max(W, H) * np.sin(ts / L * 6 + rng.uniform(0, 6))
        pts = np.stack([x0 + ts * np.cos(ang) - wob * np.sin(ang), y0 + ts * np.sin(ang) + wob * np.cos(ang)], -1)
        cv2.polylines(msk, [pts.astype(np.int32)], False, 255, max(2, int(max(W, H) / 600)))
        a = cv2.GaussianBlur(msk, (0, 0), 2).astype(np.float32)[..., None] / 255 * 0.5
        out = out * (1 - a) + 255 * a
    # welded edge of the sleeve along the left margin
    ex = int(m[0] * 0.5)
    out[:, ex:ex + max(3, W // 300)] *= 0.85
    return sensor(out, rng)


def tf_screen(img, rng, grid=True, fill="screen"):
    """The sheet shown full-screen (fit, letterboxed) on a 2340x1080 phone held landscape, re-photographed at an
    angle: RGB subpixel stripes with dark gaps -> aliasing moire in the camera sampling; perspective (pitch 12-18,
    yaw 8-14); black bezel; dim room; a soft screen reflection; camera exposure brings the white up."""
    SW, SH = 2340, 1080
    h, w = img.shape[:2]
    s = min(SW / w, SH / h)
    disp = cv2.resize(img, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    scr = np.zeros((SH, SW, 3), np.uint8)
    y0, x0 = (SH - disp.shape[0]) // 2, (SW - disp.shape[1]) // 2
    scr[y0:y0 + disp.shape[0], x0:x0 + disp.shape[1]] = disp
    scr = scr.astype(np.float32) * np.array([1.0, 0.97, 0.92], np.float32)  # bluish screen white (BGR)
    # subpixel texture: each pixel -> 3x3, channel stripes B,G,R per column, 1 dark row in 3
    big = np.repeat(np.repeat(scr, 3, 0), 3, 1)
    if grid:
        sub = np.zeros((SH * 3, SW * 3, 3), np.float32)
        for c, col in enumerate((2, 1, 0)):  # R stripe first on the left: R,G,B -> BGR indices 2,1,0
            sub[:, c::3, col] = big[:, c::3, col]
        sub[2::3] *= 0.35
    else:  # control: the same light output with no subpixel structure (no moire)
        sub = big * 0.26
    sub = u8(sub)
    Hs, Ws = sub.shape[:2]
    pitch, yaw, roll = rng.uniform(12, 18), rng.uniform(8, 14) * rng.choice([-1, 1]), rng.uniform(-4, 4)
    q = persp_quad(Ws, Hs, pitch=pitch, yaw=yaw, roll=roll, f=1.3 * Ws)
    # camera frame 4000x3000; the screen spans ~80% of its width
    q = q - q.min(0)
    CW, CH = 4000, 3000
    if fill == "screen":  # the whole phone in view, screen ~80% of the frame width
        sc = 0.8 * 4000 / q[:, 0].max()
        q = q * sc
        q = q + np.float32([(CW - q[:, 0].max()) / 2, (CH - q[:, 1].max()) / 2])
    else:  # close: the displayed sheet spans ~88% of the frame's width or height, the rest of the screen runs off
        Ms = cv2.getPerspectiveTransform(np.float32([[0, 0], [Ws - 1, 0], [Ws - 1, Hs - 1], [0, Hs - 1]]), q)
        cq = cv2.perspectiveTransform(np.float32([[[3 * x0, 3 * y0], [3 * (x0 + disp.shape[1]), 3 * y0],
                                                   [3 * (x0 + disp.shape[1]), 3 * (y0 + disp.shape[0])],
                                                   [3 * x0, 3 * (y0 + disp.shape[0])]]]), Ms)[0]
        span = cq.max(0) - cq.min(0)
        sc = 0.88 * min(CW / span[0], CH / span[1])
        q = q * sc
        cq = cq * sc
        q = q + (np.float32([CW / 2, CH / 2]) - (cq.min(0) + cq.max(0)) / 2)
    bg = desk(CH, CW, rng, 25, 45)
    # bezel: a slightly larger black quad around the screen
    c = q.mean(0)
    bez = c + (q - c) * 1.06
    cv2.fillConvexPoly(bg, bez.astype(np.int32), (18, 18, 20), lineType=cv2.LINE_AA)
    Msrc = np.float32([[0, 0], [Ws - 1, 0], [Ws - 1, Hs - 1], [0, Hs - 1]])
    m = cv2.getPerspectiveTransform(Msrc, q)
    warped = cv2.warpPerspective(sub, m, (CW, CH), flags=cv2.INTER_LINEAR)  # no prefilter -> aliasing moire
    mask = cv2.warpPerspective(np.full((Hs, Ws), 255, np.uint8), m, (CW, CH), flags=cv2.INTER_NEAREST)
    a = mask.astype(np.float32)[..., None] / 255
    out = bg.astype(np.float32) * (1 - a) + warped.astype(np.float32) * a
    out = cv2.GaussianBlur(out, (0, 0), 0.6)  # lens
    out = out * (1 + 1.3 * a)  # auto exposure (metered on the screen)
    gy, gx = np.mgrid[0:CH, 0:CW].astype(np.float32)
    rc = np.float32([rng.uniform(0.3, 0.7) * CW, rng.uniform(0.3, 0.6) * CH])
    refl = 0.25 * np.exp(-(((gx - rc[0]) / (0.3 * CW)) ** 2 + ((gy - rc[1]) / (0.2 * CH)) ** 2)) * a[..., 0]
    out = out * (1 - refl[..., None]) + 230 * refl[..., None]
    return sensor(out, rng, 3.0)


def tf_thumb(img, rng, long_side, quality):
    """Portrait phone photo (3000x4000) of the sheet lying landscape-wise: sheet width 86-90% of the frame width
    (a portrait sheet: 62% of the frame height), small roll, plain desk; then saved at `long_side` px, JPEG q."""
    h, w = img.shape[:2]
    CW, CH = 3000, 4000
    s = (rng.uniform(0.86, 0.90) * CW / w) if w >= h else (0.62 * CH / h)
    page = cv2.resize(img, (int(w * s), int(h * s)), interpolation=cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA)
    ph, pw = page.shape[:2]
    q = persp_quad(pw, ph, roll=rng.uniform(-3, 3), pitch=rng.uniform(3, 8))
    q = q - q.mean(0) + np.float32([CW / 2, CH * rng.uniform(0.45, 0.55)])
    out = place(page, q, desk(CH, CW, rng))
    out = sensor(out, rng)
    s2 = long_side / CH
    out = cv2.resize(out, (int(CW * s2), long_side), interpolation=cv2.INTER_AREA)
    return out, quality


def char_height(img):
    """Median height of character-like connected components of the adaptive-threshold ink mask."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    th = cv2.adaptiveThreshold(g, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    n, lab, st, _ = cv2.connectedComponentsWithStats(th, 8)
    h = img.shape[0]
    hs = st[1:, cv2.CC_STAT_HEIGHT]
    ws = st[1:, cv2.CC_STAT_WIDTH]
    ok = (hs >= 6) & (hs < h / 12) & (ws < 2.5 * hs) & (ws > 0.2 * hs) & (st[1:, cv2.CC_STAT_AREA] > 12)
    return float(np.percentile(hs[ok], 75)) if ok.sum() > 10 else 20.0


def tf_vshake(img, rng, frac=0.4):
    """Vertical camera shake only: a vertical box kernel of length 0.4 x the character height (75th percentile of
    the ink components' heights), on the photo as taken (upscaled to >=1600 long side)."""
    page = upscale_min(img, 1600)
    p = char_height(page)
    L = max(3, int(round(frac * p)))
    k = np.zeros((L, 1), np.float32) + 1.0 / L
    out = cv2.filter2D(page, -1, k, borderType=cv2.BORDER_REPLICATE)
    return sensor(out, rng, 2.0)


def build(tf, img, rng, partner):
    if tf == "barrel":
        return tf_lens(img, rng, 0.14)
    if tf == "pincush":
        return tf_lens(img, rng, -0.09)
    if tf == "handC":
        return tf_hand(img, rng, "C")
    if tf == "handS":
        return tf_hand(img, rng, "S")
    if tf == "two":
        return tf_two(img, rng, partner)
    if tf == "nextpg":
        return tf_nextpg(img, rng, partner)
    if tf == "lowlight":
        return tf_lowlight(img, rng)
    if tf == "sleeve":
        return tf_sleeve(img, rng)
    if tf == "screen":
        return tf_screen(img, rng)
    if tf == "screenF":
        return tf_screen(img, rng, grid=False)
    if tf == "screenC":
        return tf_screen(img, rng, fill="content")
    if tf == "vshake25":
        return tf_vshake(img, rng, 0.25)
    if tf == "th720":
        return tf_thumb(img, rng, 720, 75)
    if tf == "th1080":
        return tf_thumb(img, rng, 1080, 85)
    if tf == "vshake":
        return tf_vshake(img, rng)
    raise KeyError(tf)


ALL_TF = ["barrel", "pincush", "handC", "handS", "two", "nextpg", "lowlight", "sleeve", "screen", "screenF", "screenC",
          "th720", "th1080", "vshake", "vshake25"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--photos", nargs="*", default=None)
    ap.add_argument("--transforms", nargs="*", default=None)
    ap.add_argument("--no-upright", action="store_true")
    args = ap.parse_args()
    split = json.loads((TR / "split.json").read_text(encoding="utf-8"))
    same = split.get("same_sheet", {})
    tfs = ALL_TF if args.transforms is None else args.transforms
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    (args.out / "transcripts").mkdir(parents=True, exist_ok=True)
    rows_csv = {r["file"]: r for r in csv.DictReader((DS / "images.csv").open(encoding="utf-8"))}
    files_by_sheet: dict[str, list[str]] = {}
    csv_out = []
    for label, fname, pfile in PHOTOS:
        if args.photos and label not in args.photos:
            continue
        sheet = same.get(fname[:3], fname[:3])
        assert split["sheets"].get(sheet) == "dev", (fname, sheet)
        psheet = same.get(pfile[:3], pfile[:3])
        assert split["sheets"].get(psheet) == "dev", (pfile, psheet)
        img = cv2.imread(str(DS / "images" / fname), cv2.IMREAD_COLOR)
        partner = load_partner(pfile)
        for tf in ([] if args.no_upright else ["up"]) + tfs:
            out_name = f"{label}-{tf}__x.jpg"
            dst = args.out / "images" / out_name
            if tf == "up":
                shutil.copyfile(DS / "images" / fname, dst)
            else:
                res = build(tf, img.copy(), rng_for(fname, tf), partner)
                q = 90
                if isinstance(res, tuple):
                    res, q = res
                res = cap_long(res, 4000)  # a phone photo is at most 4000 px long
                cv2.imwrite(str(dst), res, [cv2.IMWRITE_JPEG_QUALITY, q])
            files_by_sheet.setdefault(sheet, []).append(out_name)
            r = dict(rows_csv[fname])
            r["file"], r["photo"] = out_name, f"{r['photo']} | transform {tf}"
            csv_out.append(r)
            print(out_name, cv2.imread(str(dst)).shape[:2], flush=True)
    write_root(args.out, files_by_sheet, rows_csv, csv_out)


if __name__ == "__main__":
    main()
