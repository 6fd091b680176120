"""Inference-side levers for the nodule detector, measured on the JSRT validation split (choices) and test split
(report): views of the working image (full image or the lung box from the U-Net masks; several input sizes;
horizontal flip), fused by clustering, and a lung-region filter. Prints a FROC per variant.

Runs on the serving venv (ONNX Runtime only):  nice -n 19 .venv/bin/python services/xray/training/nodule_tta_explore.py
Raw detections per view are cached in training/cache/nodule_views.npz so combinations are cheap to re-score.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import pickle
import sys
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
SVC = HERE.parent
sys.path.insert(0, str(SVC))
sys.path.insert(0, str(HERE))
from app.imaging import letterbox, prepare_gray  # noqa: E402
from app.inference import MODELS_DIR, ChestModel, Detector, decode_yolo  # noqa: E402
from metrics import sensitivity_at_fp  # noqa: E402

DATA = Path(os.environ.get("XRAY_DATA", "/work/shared/datasets"))
CACHE = HERE / "cache"
FPS = (0.25, 0.5, 1.0, 2.0, 4.0)


def jsrt_rows(part: str):
    sp = {r["image"]: r["split"] for r in csv.DictReader(open(SVC / "models" / "splits" / "jsrt.csv"))}
    out = []
    for r in csv.DictReader(open(DATA / "cxr_jsrt_scr" / "labels.csv")):
        if sp[r["image"]] != part:
            continue
        boxes = [[float(r[k]) for k in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")]] if r["label"] == "nodule" and r["bbox_x1"] else []
        out.append((r["image"], boxes))
    return out


def lung_box(lung: np.ndarray, margin: float) -> tuple[int, int, int, int]:
    ys, xs = np.where(lung)
    h, w = lung.shape
    if xs.size == 0:
        return 0, 0, w, h
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    return (int(max(0, x0 - mx)), int(max(0, y0 - my)), int(min(w, x1 + mx)), int(min(h, y1 + my)))


def run_view(det: Detector, work: np.ndarray, crop, size: int, flip: bool, conf: float = 0.005):
    x0, y0, x1, y1 = crop
    img = work[y0:y1, x0:x1]
    if flip:
        img = img[:, ::-1]
    lb, scale, pad = letterbox(np.ascontiguousarray(img), size)
    x = np.repeat(lb[None, None].astype(np.float32) / 255.0, 3, axis=1)
    (raw,) = det.session.run(None, {det.input_name: x})
    ds = decode_yolo(raw[0], conf, det.iou_threshold, scale, pad, img.shape[:2], max_det=50)
    out = []
    cw = x1 - x0
    for d in ds:
        a, b, c, e = d["box"]
        if flip:
            a, c = cw - c, cw - a
        out.append((d["score"], [a + x0, b + y0, c + x0, e + y0]))
    return out


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / u if u > 0 else 0.0


def fuse(view_dets: list[list[tuple[float, list[float]]]], thr: float = 0.3, mode: str = "mean"):
    """Greedy clustering across views: a cluster's score is the mean over views of the view's best score in it
    (a view that missed it contributes 0), its box the score-weighted mean."""
    flat = [(s, b, v) for v, ds in enumerate(view_dets) for s, b in ds]
    flat.sort(key=lambda t: -t[0])
    clusters = []
    for s, b, v in flat:
        for c in clusters:
            if iou(c["box"], b) >= thr:
                c["members"].append((s, b, v))
                if v not in c["best"] or s > c["best"][v]:
                    c["best"][v] = s
                break
        else:
            clusters.append({"box": b, "members": [(s, b, v)], "best": {v: s}})
    n = len(view_dets)
    out = []
    for c in clusters:
        w = np.array([m[0] for m in c["members"]])
        bx = (np.array([m[1] for m in c["members"]]) * w[:, None]).sum(0) / w.sum()
        if mode == "mean":
            sc = sum(c["best"].values()) / n
        elif mode == "max":
            sc = max(c["best"].values())
        else:  # geometric-ish: mean with a floor so a single-view hit is not erased
            sc = sum(c["best"].values()) / n
        out.append((float(sc), bx.tolist()))
    out.sort(key=lambda t: -t[0])
    return out


def froc(dets, gts):
    return [sensitivity_at_fp(dets, gts, fp)[0] for fp in FPS]


def lung_filter(dets, region: np.ndarray):
    h, w = region.shape
    keep = []
    for s, b in dets:
        cx, cy = int(np.clip((b[0] + b[2]) / 2, 0, w - 1)), int(np.clip((b[1] + b[3]) / 2, 0, h - 1))
        if region[cy, cx]:
            keep.append((s, b))
    return keep


def collect(part: str, sizes, margins):
    chest = ChestModel(MODELS_DIR / "chestnet.onnx", threads=1)
    det = Detector(MODELS_DIR / "detector.onnx", threads=1)
    rows = jsrt_rows(part)
    recs = []
    t0 = time.process_time()
    for name, boxes in rows:
        work = prepare_gray(cv2.imread(str(DATA / "cxr_jsrt_scr" / name), cv2.IMREAD_GRAYSCALE))
        co = chest.run([work])[0]
        m = co.binary_masks
        h, w = work.shape
        lung = cv2.resize((m[0] | m[1]).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        views = {}
        crops = {"full": (0, 0, w, h)}
        for mg in margins:
            crops[f"lung{mg}"] = lung_box(lung, mg)
        for (cn, crop), size, flip in itertools.product(crops.items(), sizes, (False, True)):
            views[(cn, size, flip)] = run_view(det, work, crop, size, flip)
        recs.append({"name": name, "gts": boxes, "lung": lung, "views": views, "crops": crops})
    print(f"{part}: {len(recs)} images, {sum(len(r['gts']) for r in recs)} nodules, "
          f"{(time.process_time() - t0) / len(recs):.0f} s CPU per image (all views)", flush=True)
    return recs


def region_of(lung: np.ndarray, kind: str) -> np.ndarray:
    if kind == "none":
        return np.ones_like(lung)
    if kind.startswith("dil"):
        k = int(kind[3:])
        return cv2.dilate(lung.astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool)
    if kind == "hull":
        out = np.zeros(lung.shape, np.uint8)
        n, lab = cv2.connectedComponents(lung.astype(np.uint8))
        for i in range(1, n):
            pts = cv2.findNonZero((lab == i).astype(np.uint8))
            cv2.fillConvexPoly(out, cv2.convexHull(pts), 1)
        return out.astype(bool)
    if kind == "hull2":  # hull of both lungs together (covers the heart shadow and the mediastinum)
        out = np.zeros(lung.shape, np.uint8)
        pts = cv2.findNonZero(lung.astype(np.uint8))
        if pts is None:
            return np.ones_like(lung)
        cv2.fillConvexPoly(out, cv2.convexHull(pts), 1)
        return out.astype(bool)
    raise ValueError(kind)


def score(recs, view_keys, region: str, thr: float = 0.3, mode: str = "mean"):
    dets, gts = [], []
    for r in recs:
        vd = [r["views"][k] for k in view_keys]
        d = vd[0] if len(vd) == 1 else fuse(vd, thr, mode)
        d = lung_filter(d, region_of(r["lung"], region))
        dets.append(d)
        gts.append(r["gts"])
    return froc(dets, gts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="512,640,768")
    ap.add_argument("--margins", default="0.05,0.15")
    ap.add_argument("--parts", default="val,test")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    margins = [float(m) for m in args.margins.split(",")]
    CACHE.mkdir(exist_ok=True)
    data = {}
    for part in args.parts.split(","):
        p = CACHE / f"nodule_views_{part}.pkl"
        if p.exists():
            data[part] = pickle.loads(p.read_bytes())
        else:
            data[part] = collect(part, sizes, margins)
            p.write_bytes(pickle.dumps(data[part]))
    crops = ["full"] + [f"lung{m}" for m in margins]
    variants = {}
    for c in crops:
        for s in sizes:
            variants[f"{c}@{s}"] = [(c, s, False)]
            variants[f"{c}@{s}+flip"] = [(c, s, False), (c, s, True)]
    for c in crops:
        variants[f"{c}@{'+'.join(map(str, sizes))}"] = [(c, s, False) for s in sizes]
        variants[f"{c}@{'+'.join(map(str, sizes))}+flip"] = [(c, s, f) for s in sizes for f in (False, True)]
    variants["full@512+lung0.05@512"] = [("full", 512, False), ("lung0.05", 512, False)]
    variants["full@512+lung0.05@640"] = [("full", 512, False), ("lung0.05", 640, False)]
    res = {}
    print(f"{'variant':40s} {'region':6s} " + " ".join(f"{part}@{fp:<4}" for part in data for fp in FPS))
    for vn, keys in variants.items():
        if any(k not in next(iter(data.values()))[0]["views"] for k in keys):
            continue
        for region in ("none", "dil15", "hull", "hull2"):
            row = {part: score(recs, keys, region) for part, recs in data.items()}
            res[f"{vn}|{region}"] = row
            print(f"{vn:40s} {region:6s} " + " ".join(f"{v:7.3f}" for part in data for v in row[part]), flush=True)
    (CACHE / "nodule_tta_results.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
