"""Synthetic sheets that look like the real photos (issue 9), as a separate set so the committed eval set stays
byte-identical:

- two- and three-block sheets with thin rules, a row number before every name, an arrow column between the
  result and the range (or the arrow glued to the result), units printed as instruments print them;
- print: laser (clean), dot-matrix (characters made of dots) and thermal (faded grey, streaks);
- capture: uneven light and shadow, perspective on a desk, paper curl, a fold, screen moiré, JPEG.

    cd services/ocr && python -m synth.realistic -n 24 --out synth/out/realistic

Ground truth follows the sheet: the printed arrow, else value vs the printed range (H/L/N), NEG/POS for
qualitative results. Critical (危急值) values keep their direction (H/L) here; `critical` is a separate field."""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw

from .generate import (HOSPITALS, PANELS, _jpeg, _on_desk, _shadow, available_fonts, font, make_rows)

SEED = 20261205
LAYOUTS = ["two_block", "three_block", "one_block"]
PRINTS = ["laser", "dot_matrix", "thermal"]
CAPTURES = ["flat", "curl", "fold", "moire", "phone"]


def sheet_flag(gt: dict) -> str | None:
    """The generator's flag in the sheet's terms: a printed range gives H/L, never HH/LL (the critical limits are
    the knowledge base's, not the sheet's); qualitative results are NEG/POS (older labels N/A are mapped)."""
    f = gt.get("flag")
    if gt.get("value") is None:
        return {"N": "NEG", "A": "POS"}.get(f, f)
    return {"HH": "H", "LL": "L"}.get(f, f)


def page_with_header(rng: random.Random, W: int, H: int, header: dict, FB, FS, size: int,
                     labels: tuple[str, str]) -> tuple[Image.Image, ImageDraw.ImageDraw, int]:
    """A blank sheet of paper (one of three tints) with the hospital's title centred and six patient fields in two
    rows of three (``labels``: the sheet's words for the sample and the record number); returns the image, its
    drawing context and the y where the table may start."""
    paper = tuple(int(c) for c in rng.choice([(252, 252, 250), (247, 245, 238), (243, 244, 246)]))
    im = Image.new("RGB", (W, H), paper)
    dr = ImageDraw.Draw(im)
    ink = (25, 25, 25)
    title = header["hospital"] + " " + header["title"]
    dr.text(((W - dr.textlength(title, font=FB)) / 2, 30), title, font=FB, fill=ink)
    fields = [f"姓名: {header['name']}", f"性别: {header['sex_zh']}", f"年龄: {header['age']}岁",
              f"{labels[0]}: {header['sample']}", f"科室: {header['dept']}", f"{labels[1]}: {header['mrn']}"]
    for i, fld in enumerate(fields):
        dr.text((50 + (i % 3) * (W - 100) / 3, 100 + (i // 3) * (size + 12)), fld, font=FS, fill=ink)
    return im, dr, 110 + 2 * (size + 12) + 10


def _render(rng: random.Random, rows, header: dict, fpath: str | None, n_blocks: int, glue_arrow: bool) -> Image.Image:
    per = math.ceil(len(rows) / n_blocks)
    W = {1: 1240, 2: 1700, 3: 2300}[n_blocks]
    row_h = rng.randint(34, 42)
    size = int(row_h * 0.62)
    F, FB, FS = font(fpath, size), font(fpath, size + 12), font(fpath, size - 2)
    H = 260 + row_h * (per + 2) + 120
    im, dr, y0 = page_with_header(rng, W, H, header, FB, FS, size, ("标本", "病历号"))
    ink = (25, 25, 25)
    rule = (110, 110, 110)
    dr.line([(40, y0), (W - 40, y0)], fill=rule, width=1)
    bw = (W - 80) / n_blocks
    y_end = y0
    for b in range(n_blocks):
        x0 = 40 + b * bw
        cols = [("No", 0.07), ("项目", 0.36), ("结果", 0.14), ("", 0.05), ("参考范围", 0.22), ("单位", 0.16)]
        xs, acc = [], x0 + 6
        for _, w in cols:
            xs.append(acc)
            acc += w * (bw - 12)
        y = y0 + 6
        for (h, _), cx in zip(cols, xs):
            if h:
                dr.text((cx, y), h, font=F, fill=ink)
        y += row_h
        dr.line([(x0, y - 5), (x0 + bw, y - 5)], fill=rule, width=1)
        for i, r in enumerate(rows[b * per:(b + 1) * per]):
            no = str(b * per + i + 1)
            value = r.value_text + (r.arrow if glue_arrow and r.arrow else "")
            cells = [no, r.name, value, "" if glue_arrow else r.arrow, r.range_text, r.unit_text]
            for k, (txt, cx) in enumerate(zip(cells, xs)):
                if not txt:
                    continue
                # a cell never prints over its neighbour: a text too long for its column is printed condensed
                # (smaller type), as report software does, instead of running into the next column
                room = (xs[k + 1] if k + 1 < len(xs) else x0 + bw) - cx - 4
                fk, sk = F, size
                if dr.textlength(txt, font=F) > room:
                    sk = max(10, int(size * room / dr.textlength(txt, font=F)))
                    fk = font(fpath, sk)
                dr.text((cx, y + (row_h - sk) / 2), txt, font=fk, fill=ink)
            y += row_h
        y_end = max(y_end, y)
        if b > 0:
            dr.line([(x0 - 2, y0), (x0 - 2, y_end)], fill=rule, width=1)  # thin rule between blocks
    dr.line([(40, y_end + 4), (W - 40, y_end + 4)], fill=rule, width=1)
    dr.text((50, y_end + 16), "检验者: 某某   审核者: 某某   本报告仅对所检标本负责", font=FS, fill=ink)
    return im.crop((0, 0, W, int(y_end + 70)))


def _print_effect(rng: random.Random, img: np.ndarray, kind: str) -> np.ndarray:
    if kind == "laser":
        return img
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    ink = grey < 140
    if kind == "dot_matrix":
        # characters made of round dots on a coarse grid
        step = 2  # 24-pin heads: dots about half a stroke apart
        grid = np.zeros_like(ink)
        grid[::step, ::step] = True
        dots = cv2.dilate((ink & grid).astype(np.uint8) * 255, cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                                                          (step + 1, step + 1)))
        out = img.copy()
        out[ink] = np.clip(img[ink].astype(np.int16) + 200, 0, 255).astype(np.uint8)  # erase the solid strokes
        out[dots > 0] = (45, 45, 45)
        return cv2.GaussianBlur(out, (0, 0), 0.6)
    # thermal: faded grey ink, horizontal streaks where the head wore out
    out = img.astype(np.float32)
    fade = rng.uniform(0.45, 0.65)
    out = 255 - (255 - out) * fade
    h = out.shape[0]
    streak = np.ones((h, 1, 1), np.float32)
    for _ in range(rng.randint(2, 5)):
        y = rng.randint(0, h - 1)
        streak[max(0, y - 2):y + 2] = rng.uniform(0.6, 0.85)
    out = 255 - (255 - out) * streak
    return np.clip(out, 0, 255).astype(np.uint8)


def _curl(rng: random.Random, img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    amp = rng.uniform(0.015, 0.035) * h
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    map_y = yy + amp * np.sin(np.pi * xx / w) * (0.6 + 0.4 * yy / h)
    map_x = xx + 0.01 * w * np.sin(np.pi * yy / h)
    return cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def booklet_curl(img: np.ndarray, gutter: str, bow: float, seed: int) -> tuple[np.ndarray, dict]:
    """A page glued into a bound booklet (病历本) or curling near one side edge, the gutter ('l' or 'r'): within the
    30-45 % of the width nearest the gutter the page bends away (height z = (1 - d/b)², d the distance from the
    gutter, b the bent width), so that (a) rows bow, their vertical displacement ``bow`` × height × z times a mix of
    a common offset and the row's distance from the middle (rows above and below the middle bend apart, as a surface
    dropping away from a camera above it shrinks towards the centre), at most ``bow`` of the height at the gutter's
    corners; (b) text is foreshortened across the bend (horizontal compression 1 + 12·bow·z, so a 0.04 bow squeezes
    the gutter's characters to about two thirds); (c) the bend is shaded (up to 25-40 % darker at the gutter, soft).
    What the bend pulls in from beyond the frame is the photo's own edge, smeared (as ``keystone_fill``).
    ``_curl`` above is the synthetic sheets' whole-width bow (kept: the realistic set's images stay identical).
    Deterministic in ``seed``; returns the photo and the parameters used."""
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    b = float(rng.uniform(0.30, 0.45))
    common = float(rng.uniform(0.3, 0.6) * rng.choice([-1, 1]))
    shade = float(rng.uniform(0.25, 0.40))
    c = 12.0 * bow
    xo = np.arange(w, dtype=np.float32) / max(w - 1, 1)
    u = xo if gutter == "l" else 1.0 - xo  # distance from the gutter in the output, 0..1 of the width
    t = np.clip(1.0 - u / b, 0.0, 1.0)
    z = t ** 2
    # source distance from the gutter: g(u) = u - c·b/3·t³ (g' = 1 + c·t², so the bend is compressed in the photo)
    us = u - c * b / 3.0 * t ** 3
    xs = (us if gutter == "l" else 1.0 - us) * (w - 1)
    yo = np.arange(h, dtype=np.float32)
    rel = (yo - (h - 1) / 2.0) / ((h - 1) / 2.0)  # -1 top .. 1 bottom
    mix = common + (1.0 - abs(common)) * rel
    map_y = (yo[:, None] - bow * h * z[None, :] * mix[:, None]).astype(np.float32)
    map_x = np.broadcast_to(xs[None, :], (h, w)).astype(np.float32)
    out = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    light = cv2.GaussianBlur((1.0 - shade * z).astype(np.float32)[None, :].repeat(3, 0), (0, 0), 2)[1]
    out = np.clip(out.astype(np.float32) * (light[None, :, None] if out.ndim == 3 else light[None, :]), 0, 255)
    return out.astype(np.uint8), {"gutter": gutter, "bent": round(b, 3), "common": round(common, 2),
                                  "shade": round(shade, 2)}


LIGHTS = ("shadow", "side", "glare", "crease")


def uneven_light(img: np.ndarray, kind: str, seed: int) -> tuple[np.ndarray, dict]:
    """A phone photo of paper under uneven light (issue 9), one of ``LIGHTS``:

    - ``shadow``: a hand's or the phone's shadow, a polygon reaching in from one edge of the frame over 20-45 % of
      it, darkened by 35-60 % with a soft (blurred) edge;
    - ``side``: a lamp to one side, the far side 40-55 % darker (the generator's ``_shadow``, a smooth ramp);
    - ``glare``: a bright elliptical patch on glossy (thermal) paper that washes the print out by 45-70 % at its
      centre, so the ink there is grey;
    - ``crease``: a fold across the sheet, a dark crease line with one side shaded by 20-35 %.

    Everything stays legible to a person. Deterministic in ``seed``; returns the photo and the parameters."""
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    f = img.astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    params: dict = {"kind": kind}
    if kind == "shadow":
        depth = float(rng.uniform(0.35, 0.60))
        side = int(rng.integers(4))  # the edge the shadow comes in from: 0 top, 1 right, 2 bottom, 3 left
        reach = float(rng.uniform(0.25, 0.55))  # how far in (of the frame's extent across that edge)
        a, b = sorted(rng.uniform(-0.1, 1.1, size=2))
        if b - a < 0.45:
            a, b = max(-0.1, a - 0.25), min(1.1, b + 0.25)
        mid = rng.uniform(a, b, size=2)
        tip = reach * rng.uniform([0.7, 0.85], [0.9, 1.0])
        # polygon in (along the edge, depth into the frame) coordinates, 0..1
        poly = [(a, -0.05), (a + 0.1 * (b - a), reach * rng.uniform(0.5, 0.8)), (min(mid), tip[0]),
                (max(mid), tip[1]), (b - 0.1 * (b - a), reach * rng.uniform(0.5, 0.8)), (b, -0.05)]
        pts = []
        for u, d in poly:
            x, y = {0: (u * w, d * h), 1: (w - d * w, u * h), 2: (u * w, h - d * h), 3: (d * w, u * h)}[side]
            pts.append((x, y))
        mask = np.zeros((h, w), np.float32)
        cv2.fillPoly(mask, [np.round(np.array(pts)).astype(np.int32)], 1.0)
        soft = float(rng.uniform(0.006, 0.02)) * max(h, w)
        mask = cv2.GaussianBlur(mask, (0, 0), soft)
        light = 1.0 - depth * mask
        params |= {"edge": "trbl"[side], "depth": round(depth, 2), "reach": round(reach, 2), "soft": round(soft, 1)}
    elif kind == "side":
        depth = float(rng.uniform(0.40, 0.55))
        out = _shadow(random.Random(int(rng.integers(2**31))), img, depth)
        return out, params | {"depth": round(depth, 2)}
    elif kind == "glare":
        cx, cy = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
        ax, ay = rng.uniform(0.10, 0.22) * max(h, w), rng.uniform(0.06, 0.14) * max(h, w)
        ang = float(rng.uniform(0, np.pi))
        u = ((xx - cx) * np.cos(ang) + (yy - cy) * np.sin(ang)) / ax
        v = (-(xx - cx) * np.sin(ang) + (yy - cy) * np.cos(ang)) / ay
        strength = float(rng.uniform(0.45, 0.70))
        g = strength * np.exp(-(u ** 2 + v ** 2) ** 1.5)  # flat-topped: a washed-out patch with a soft rim
        out = f + (255.0 - f) * g[..., None] if f.ndim == 3 else f + (255.0 - f) * g
        return np.clip(out, 0, 255).astype(np.uint8), params | {"strength": round(strength, 2)}
    else:  # crease
        shade = float(rng.uniform(0.20, 0.35))
        vertical = bool(rng.random() < 0.5)
        pos = float(rng.uniform(0.35, 0.65))
        tilt = float(rng.uniform(-0.08, 0.08))
        d = (xx - (pos * w + tilt * (yy - h / 2))) if vertical else (yy - (pos * h + tilt * (xx - w / 2)))
        width = max(1.5, 0.002 * max(h, w))
        sgn = float(rng.choice([-1, 1]))
        ramp = 1.0 / (1.0 + np.exp(-sgn * d / (0.01 * max(h, w))))  # the shaded side, with a short soft start
        light = (1.0 - shade * ramp) * (1.0 - 0.3 * np.exp(-(d / width) ** 2))
        params |= {"vertical": vertical, "shade": round(shade, 2)}
    out = f * (light[..., None] if f.ndim == 3 else light)
    return np.clip(out, 0, 255).astype(np.uint8), params


def _fold(rng: random.Random, img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    out = img.astype(np.float32)
    if rng.random() < 0.5:
        x = int(w * rng.uniform(0.35, 0.65))
        xx = np.arange(w, dtype=np.float32)
        crease = 1 - 0.25 * np.exp(-((xx - x) / 4) ** 2) + 0.06 * np.tanh((xx - x) / 30)
        out *= crease[None, :, None]
    else:
        y = int(h * rng.uniform(0.35, 0.65))
        yy = np.arange(h, dtype=np.float32)
        crease = 1 - 0.25 * np.exp(-((yy - y) / 4) ** 2) + 0.06 * np.tanh((yy - y) / 30)
        out *= crease[:, None, None]
        shift = rng.randint(1, 3)
        out[y:] = np.roll(out[y:], shift, axis=1)
    return np.clip(out, 0, 255).astype(np.uint8)


def _moire(rng: random.Random, img: np.ndarray) -> np.ndarray:
    """A photo of a screen: pixel-grid interference bands and RGB sub-pixel stripes."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f1, f2, ang = rng.uniform(0.02, 0.05), rng.uniform(0.3, 0.45), rng.uniform(0.05, 0.3)
    band = 1 + 0.10 * np.sin(2 * np.pi * f1 * (xx * math.cos(ang) + yy * math.sin(ang)))
    sub = np.stack([1 + 0.05 * np.sin(2 * np.pi * f2 * xx + k * 2.1) for k in range(3)], axis=-1)
    out = img.astype(np.float32) * band[..., None] * sub
    return np.clip(out, 0, 255).astype(np.uint8)


def keystone_fill(img: np.ndarray, edge: str, shrink: float) -> tuple[np.ndarray, np.ndarray]:
    """The page seen at an angle with no desk edge in view: the photo warped so that its top ('t') or left ('l')
    edge is ``shrink`` shorter, the frame kept, and the corners the page leaves filled by smearing its own edge
    (paper-coloured; nothing of the sheet is cut away, and there is no page outline to find). Returns the photo and
    the 3x3 homography applied."""
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src.copy()
    if edge == "t":
        dst[0, 0] += shrink * w / 2
        dst[1, 0] -= shrink * w / 2
    else:
        dst[0, 1] += shrink * h / 2
        dst[3, 1] -= shrink * h / 2
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE), m


def make_sheet(rng: random.Random, idx: int, fonts: list[str]) -> tuple[np.ndarray, dict]:
    layout = LAYOUTS[idx % len(LAYOUTS)]
    prt = PRINTS[(idx // len(LAYOUTS)) % len(PRINTS)]
    capture = CAPTURES[(idx // (len(LAYOUTS) * len(PRINTS))) % len(CAPTURES)]
    n_blocks = {"one_block": 1, "two_block": 2, "three_block": 3}[layout]
    panel = rng.choice(["blood_routine", "blood_routine", "biochemistry", "urinalysis"])
    if n_blocks == 3 and panel == "urinalysis":
        panel = "blood_routine"
    sex = rng.choice(["male", "female"])
    rows = make_rows(rng, panel, sex, "arrows", rng.choice(["dash", "tilde", "ddash"]), "si")
    header = {"hospital": rng.choice(HOSPITALS), "title": PANELS[panel][0] + "检验报告单", "name": "某某",
              "sex_zh": "男" if sex == "male" else "女", "age": rng.randint(18, 80), "dept": "门诊",
              "mrn": str(rng.randint(10**6, 10**7 - 1)),
              "sample": {"urinalysis": "尿液", "blood_routine": "全血"}.get(panel, "血清")}
    fpath = rng.choice(fonts) if fonts else None
    page = _render(rng, rows, header, fpath, n_blocks, glue_arrow=rng.random() < 0.3)
    img = cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2BGR)
    img = _print_effect(rng, img, prt)
    if capture == "curl":
        img = _curl(rng, img)
    elif capture == "fold":
        img = _fold(rng, img)
    elif capture == "moire":
        img = _moire(rng, img)
    portrait = img.shape[0] > img.shape[1]
    out_w, out_h = (960, 1280) if portrait else (1280, 960)
    if n_blocks == 3:  # a wide three-block sheet is photographed at a higher resolution to stay legible
        out_w, out_h = (1500, 2000) if portrait else (2000, 1500)
    img = photograph(rng, img, out_w, out_h, capture in ("phone", "curl", "fold"), 0.45, 55)
    gts = [r.gt | {"flag": sheet_flag(r.gt)} for r in rows]
    return img, {"id": f"R{idx:04d}", "layout": f"{layout}/{prt}", "distortion": capture, "panel": panel,
                 "sex": sex, "age": header["age"], "indicators": gts}


def photograph(rng: random.Random, img: np.ndarray, out_w: int, out_h: int, on_desk: bool, shadow_max: float,
               jpeg_min: int) -> np.ndarray:
    """The camera's part: the sheet laid on a desk in perspective with a shadow (``on_desk``, shadow depth up to
    ``shadow_max``) or scaled flat to the frame, then sensor noise and a JPEG of quality ``jpeg_min``-85."""
    if on_desk:
        img = _on_desk(rng, img, out_w, out_h, 0.05)
        img = _shadow(rng, img, rng.uniform(0.2, shadow_max))
    else:
        s = max(out_w, out_h) / max(img.shape[:2])
        img = cv2.resize(img, (int(img.shape[1] * s), int(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, rng.uniform(1, 3), img.shape)
    img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return _jpeg(img, rng.randint(jpeg_min, 85))


def build_sheets(make: Callable[[random.Random, int, list], tuple[np.ndarray, dict]], n: int, out_dir: Path,
                 seed: int) -> list[dict]:
    """Draw ``n`` sheets with ``make`` (one random stream per sheet, from the seed and its index) into ``out_dir``;
    returns their ground truth, each with its file name."""
    fonts = available_fonts()
    if not fonts:
        raise SystemExit("no CJK font (./zhenxi test installs deploy/apt-packages.txt)")
    out_dir.mkdir(parents=True, exist_ok=True)
    truths = []
    for i in range(n):
        img, gt = make(random.Random(f"{seed}-{i}"), i, fonts)
        cv2.imwrite(str(out_dir / f"{gt['id']}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        truths.append(gt | {"file": f"{gt['id']}.jpg"})
    return truths


def build_set(n: int, out_dir: Path, seed: int = SEED) -> list[dict]:
    return build_sheets(make_sheet, n, out_dir, seed)


def set_cli(argv: list[str] | None, doc: str | None, build: Callable[[int, Path, int], list[dict]], default_n: int,
            default_out: Path, seed: int) -> int:
    """The command line of a synthetic set: draw it and write its ground_truth.json beside the images."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=default_n)
    ap.add_argument("--out", type=Path, default=default_out)
    ap.add_argument("--seed", type=int, default=seed)
    args = ap.parse_args(argv)
    truths = build(args.n, args.out, args.seed)
    (args.out / "ground_truth.json").write_text(json.dumps(truths, ensure_ascii=False), encoding="utf-8")
    print(f"{len(truths)} sheets in {args.out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return set_cli(argv, __doc__, build_set, 24, Path(__file__).resolve().parent / "out" / "realistic", SEED)


if __name__ == "__main__":
    raise SystemExit(main())
