"""Issue 17, nodules: detector inference that does not swing with the lung crop.

The served detector runs on the lung box from the U-Net masks (grown 5 %), at 448 px, plus its mirror. A sub-percent
move of that box (a new SegNet, a different mask threshold) moved JSRT validation sensitivity at 1 FP/image from
0.611 to 0.500. This script measures, per inference configuration, the FROC on the served crop AND its spread when
the lung box is jittered (each side moved by up to ``--jitter`` of the box size, ``--n-jitter`` draws per image),
so that a configuration is chosen for its expected sensitivity rather than the luck of one crop.

Configurations: several lung-box margins and input sizes, mirrors, fused (mean or max over views) and filtered by a
lung region (the served hull of both lungs, or the masks dilated). Raw detections per view are cached in
training/cache/nodule_crops_<part>.pkl, so configurations are re-scored without running the network again.

Serving venv (ONNX Runtime only):
    nice -n 10 .venv/bin/python services/xray/training/nodule_crop_explore.py collect --parts val
    nice -n 10 .venv/bin/python services/xray/training/nodule_crop_explore.py score --parts val
The test split is collected and scored only with ``--parts test``, once, after the choice:
    nice -n 10 .venv/bin/python services/xray/training/nodule_crop_explore.py compare --parts val,test
"""
from __future__ import annotations

import argparse
import itertools
import json
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
from app.analyzer import work_lungs  # noqa: E402
from app.imaging import prepare_gray  # noqa: E402
from app.inference import MODELS_DIR, ChestModel, Detector, lung_box, lung_region  # noqa: E402
from metrics import sensitivity_at_fp  # noqa: E402
from nodule_tta_explore import CACHE, DATA, FPS, jsrt_rows, run_view  # noqa: E402
from nodule_tta_explore import fuse as _fuse, iou as _iou, lung_filter as keep_in  # noqa: E402

MARGINS = (0.0, 0.05, 0.10)
SIZES = (352, 384, 416, 448, 480)
REGIONS = ("hull", "dilate7", "dilate15", "dilate23", "dilate31", "none")


def jitter_box(base: tuple[int, int, int, int], rng: np.random.Generator, frac: float, shape) -> tuple:
    """Each side of the (margin 0) lung box moved by U(-frac, frac) of the box's width / height."""
    x0, y0, x1, y1 = base
    w, h = x1 - x0, y1 - y0
    d = rng.uniform(-frac, frac, 4) * np.array([w, h, w, h])
    H, W = shape
    return (int(np.clip(round(x0 + d[0]), 0, W - 2)), int(np.clip(round(y0 + d[1]), 0, H - 2)),
            int(np.clip(round(x1 + d[2]), x0 + 2, W)), int(np.clip(round(y1 + d[3]), y0 + 2, H)))


def grow(box, margin: float, shape) -> tuple[int, int, int, int]:
    """The served growth rule (app.inference.lung_box) applied to an already-computed box."""
    x0, y0, x1, y1 = box
    H, W = shape
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    return int(max(0, x0 - mx)), int(max(0, y0 - my)), int(min(W, x1 + mx)), int(min(H, y1 + my))


def collect(part: str, n_jitter: int, frac: float, seed: int = 17, onnx: Path = MODELS_DIR / "detector.onnx",
            margins=MARGINS, sizes=SIZES) -> list[dict]:
    """Raw detections of the network ``onnx`` per image, per box (served lung box + n_jitter jittered) and per view
    (margin, size, mirrored). The same seed gives the same jittered boxes for every network."""
    chest = ChestModel(MODELS_DIR / "chestnet.onnx", threads=1)
    det = Detector(onnx, threads=1)
    rng = np.random.default_rng(seed)
    recs, t0 = [], time.process_time()
    for name, gts in jsrt_rows(part):
        work = prepare_gray(cv2.imread(str(DATA / "cxr_jsrt_scr" / name), cv2.IMREAD_GRAYSCALE))
        lung = work_lungs(chest.run([work])[0], work.shape)
        base = lung_box(lung, 0.0)
        bases = [base] + [jitter_box(base, rng, frac, work.shape) for _ in range(n_jitter)]
        views = {}
        for j, b in enumerate(bases):
            for m, s, f in itertools.product(margins, sizes, (False, True)):
                views[(j, m, s, f)] = run_view(det, work, grow(b, m, work.shape), s, f)
        recs.append({"name": name, "gts": gts, "lung": lung, "bases": bases, "views": views})
    print(f"{part}: {len(recs)} images, {sum(len(r['gts']) for r in recs)} nodules, "
          f"{(time.process_time() - t0) / max(1, len(recs)):.1f} s CPU per image", flush=True)
    return recs


def fuse(per_view, thr: float, mode: str):
    """The served clustering (mean over views, a view that missed counts 0) or ``max`` over the views' best scores."""
    return per_view[0] if len(per_view) == 1 else _fuse(per_view, thr, mode)


def region_mask(lung, kind):
    if kind == "none":
        return None
    if kind == "hull" or kind.startswith("dilate"):
        return lung_region(lung, kind)
    raise ValueError(kind)


def config_dets(recs, keys, mode, region, j, fuse_iou=0.3):
    out = []
    for r in recs:
        d = fuse([r["views"][(j, *k)] for k in keys], fuse_iou, mode)
        reg = r.setdefault("_reg", {})
        if region not in reg:
            reg[region] = region_mask(r["lung"], region)
        out.append(d if reg[region] is None else keep_in(d, reg[region]))
    return out


def soft_dets(recs, keys, j, factor: float, dilate: int = 15, mode: str = "mean", fuse_iou: float = 0.3):
    """As served with an ``off_lungs`` block: fused, kept inside the hull, x ``factor`` off the masks grown by
    ``dilate`` px."""
    out = []
    for r in recs:
        reg = r.setdefault("_reg", {})
        for k in ("hull", f"dilate{dilate}"):
            if k not in reg:
                reg[k] = region_mask(r["lung"], k)
        d = keep_in(fuse([r["views"][(j, *k)] for k in keys], fuse_iou, mode), reg["hull"])
        on = reg[f"dilate{dilate}"]
        out.append([(s if keep_in([(s, b)], on) else s * factor, b) for s, b in d])
    return out


def pooled_threshold(part: str, inference: dict, fp: float = 1.0, tag: str = "") -> tuple[float, float]:
    """Operating score that does not hang on one crop: the score at ``fp`` false positives per image with the
    detections of the served lung box and of every jittered box pooled (each crop of each image counted as an image).
    Returns (threshold, pooled sensitivity). Reads (or collects) the cache of ``collect``."""
    p = CACHE / f"nodule_crops_{part}{tag}.pkl"
    if not p.exists():
        CACHE.mkdir(exist_ok=True)
        p.write_bytes(pickle.dumps(collect(part, 6, 0.015)))
    recs = pickle.loads(p.read_bytes())
    keys = [(float(v["margin"]), int(v["size"]), bool(v["flip"])) for v in inference["views"]]
    off = inference.get("off_lungs") or {}
    dets, gts = [], []
    for j in range(len(recs[0]["bases"])):
        dets += soft_dets(recs, keys, j, float(off.get("factor", 1.0)), int(off.get("dilate", 15)),
                          fuse_iou=float(inference.get("fuse_iou", 0.3)))
        gts += [r["gts"] for r in recs]
    sens, thr = sensitivity_at_fp(dets, gts, fp)
    return float(thr), float(sens)


def froc(dets, gts):
    return [sensitivity_at_fp(dets, gts, fp)[0] for fp in FPS]


def at_threshold(dets, gts, thr):
    """(sensitivity, false positives per image) of the boxes scoring >= thr: what the service reports."""
    found, fp = set(), 0
    for i, ds in enumerate(dets):
        for s, b in ds:
            if s < thr:
                continue
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            hits = [k for k, g in enumerate(gts[i]) if (g[0] <= cx <= g[2] and g[1] <= cy <= g[3]) or _iou(b, g) >= 0.1]
            found.update((i, k) for k in hits)
            fp += not hits
    return len(found) / max(1, sum(map(len, gts))), fp / len(gts)


def configs():
    """name -> (view keys (margin, size, flip), cost in 512 px runs)."""
    out = {}
    for s in SIZES:
        out[f"m.05@{s}+flip"] = [(0.05, s, False), (0.05, s, True)]
        out[f"m.05@{s}"] = [(0.05, s, False)]
    for s in SIZES:
        out[f"m0+.05+.10@{s}+flip"] = [(m, s, f) for m in MARGINS for f in (False, True)]
        out[f"m0+.10@{s}+flip"] = [(m, s, f) for m in (0.0, 0.10) for f in (False, True)]
        out[f"m0+.10@{s}"] = [(0.0, s, False), (0.10, s, True)]
        out[f"m0,.05,.10@{s} alt flip"] = [(0.0, s, False), (0.05, s, True), (0.10, s, False)]
    out["m.05@416+448+480+flip"] = [(0.05, s, f) for s in (416, 448, 480) for f in (False, True)]
    out["m.05@384+480+flip"] = [(0.05, s, f) for s in (384, 480) for f in (False, True)]
    out["m.05@352+448 flip alt"] = [(0.05, 352, False), (0.05, 448, True)]
    out["all margins x 416,448,480 +flip"] = [(m, s, f) for m in MARGINS for s in (416, 448, 480) for f in (False, True)]
    out["m0@384+m.10@448 flip alt"] = [(0.0, 384, False), (0.10, 448, True)]
    out["m0+.10@384+flip,m.05@448"] = [(0.0, 384, False), (0.10, 384, True), (0.05, 448, False)]
    return {k: (v, round(sum((s / 512) ** 2 for _, s, _ in v), 2)) for k, v in out.items()}


def score(data: dict, max_cost: float, out_path: Path | None):
    res = {}
    hdr = " ".join(f"{fp:>5}" for fp in FPS)
    for part, recs in data.items():
        gts = [r["gts"] for r in recs]
        n_j = len(recs[0]["bases"])
        print(f"\n== {part}: {len(recs)} images, {sum(map(len, gts))} nodules, {n_j - 1} jittered boxes per image")
        print(f"{'config':34s} {'cost':>4} {'mode':4} {'region':8} | served crop: {hdr} | jitter@1FP mean min max"
              f" | mean FROC over jitters | jitter at served-crop thr: sens, FP/img")
        for (name, (keys, cost)), mode, region in itertools.product(
                configs().items(), ("mean", "max"), REGIONS):
            if cost > max_cost or (mode == "max" and len(keys) == 1) or any(k not in recs[0]["views"] for k in
                                                                            ((0, *k) for k in keys)):
                continue
            dj = [config_dets(recs, keys, mode, region, j) for j in range(n_j)]
            per_j = [froc(d, gts) for d in dj]
            thr = sensitivity_at_fp(dj[0], gts, 1.0)[1]
            fixed = [at_threshold(d, gts, thr) for d in dj]
            s1 = [f[2] for f in per_j]
            mean_froc = float(np.mean([np.mean(f) for f in per_j]))
            row = {"cost": cost, "froc_served_crop": per_j[0], "sens1_jitter": s1,
                   "sens1_mean": float(np.mean(s1)), "froc_mean_over_jitters": mean_froc,
                   "froc_points_mean_over_jitters": np.mean(per_j, 0).round(4).tolist(),
                   "threshold_1fp_served_crop": thr, "at_threshold_jitter": fixed}
            res.setdefault(part, {})[f"{name}|{mode}|{region}"] = row
            print(f"{name:34s} {cost:4.2f} {mode:4} {region:8} | {' '.join(f'{v:5.3f}' for v in per_j[0])} | "
                  f"{np.mean(s1):.3f} {min(s1):.3f} {max(s1):.3f} | {mean_froc:.3f} | "
                  f"{np.mean([f[0] for f in fixed[1:]]):.3f} {np.mean([f[1] for f in fixed[1:]]):.2f}", flush=True)
    if out_path:
        out_path.write_text(json.dumps(res, indent=1))
    return res


def compare(data: dict) -> None:
    """The previous and the adopted served configurations (adopt_inference.py), each at its operating threshold:
    FROC on the served crop and averaged over the crops, and what the service reports at the threshold."""
    from adopt_inference import DETECTOR_INFERENCE, DETECTOR_INFERENCE_BEFORE
    thresholds = {"previous": 0.2058, "adopted": json.loads((MODELS_DIR / "detector.json").read_text())["score_threshold"]}
    for part, recs in data.items():
        gts = [r["gts"] for r in recs]
        for name, inf in (("previous", DETECTOR_INFERENCE_BEFORE), ("adopted", DETECTOR_INFERENCE)):
            keys = [(float(v["margin"]), int(v["size"]), bool(v["flip"])) for v in inf["views"]]
            off = inf.get("off_lungs") or {}
            dj = [soft_dets(recs, keys, j, float(off.get("factor", 1.0)), int(off.get("dilate", 15)))
                  for j in range(len(recs[0]["bases"]))]
            fr = np.array([froc(d, gts) for d in dj])
            at = np.array([at_threshold(d, gts, thresholds[name]) for d in dj])
            print(f"{part} {name}: served crop {fr[0].round(3)} | mean over {len(dj)} crops {fr.mean(0).round(3)} "
                  f"(mean FROC {fr.mean():.3f}, at 1 FP {fr[:, 2].min():.3f}-{fr[:, 2].max():.3f}) | at threshold "
                  f"{thresholds[name]:.4f}: sensitivity {at[:, 0].mean():.3f}, {at[:, 1].mean():.2f} FP/image")


# Issue 17, part 2 (a detector retrained on the served views): view sets costing at most two 448 px runs, each with
# the hull filter and the off-lung weighting factors below. The served set is (0.0, 448, False), (0.10, 448, True).
NETWORK_VIEW_SETS = {
    "m0+.10@448 (served)": [(0.0, 448, False), (0.10, 448, True)],
    "m.05@448+flip": [(0.05, 448, False), (0.05, 448, True)],
    "m0@448+flip": [(0.0, 448, False), (0.0, 448, True)],
    "m.10@448+flip": [(0.10, 448, False), (0.10, 448, True)],
    "m0+.05@448 alt flip": [(0.0, 448, False), (0.05, 448, True)],
    "m0+.10@416 (served views at 416)": [(0.0, 416, False), (0.10, 416, True)],
    "m0@448": [(0.0, 448, False)],
}
OFF_LUNG_FACTORS = (1.0, 0.7, 0.5)


def network_table(data_by_tag: dict[str, dict[str, list]]) -> dict:
    """Per network (cache tag), view set and off-lung factor: FROC on the served crop, the mean FROC over the served
    box and the jittered boxes, and sensitivity at 1 FP/image on each (mean, min, max). Every network is read on the
    same boxes (same seed), so the rows compare networks, not crops."""
    out = {}
    for tag, parts in data_by_tag.items():
        for part, recs in parts.items():
            gts = [r["gts"] for r in recs]
            n_j = len(recs[0]["bases"])
            for name, keys in NETWORK_VIEW_SETS.items():
                if any((0, *k) not in recs[0]["views"] for k in keys):
                    continue
                for fac in OFF_LUNG_FACTORS:
                    fr = np.array([froc(soft_dets(recs, keys, j, fac), gts) for j in range(n_j)])
                    row = {"froc_served_crop": fr[0].round(4).tolist(), "froc_mean_over_crops": fr.mean(0).round(4).tolist(),
                           "mean_froc_over_crops": round(float(fr.mean()), 4),
                           "sens1_mean_over_crops": round(float(fr[:, 2].mean()), 4),
                           "sens1_min_max": [round(float(fr[:, 2].min()), 4), round(float(fr[:, 2].max()), 4)]}
                    out.setdefault(tag, {}).setdefault(part, {})[f"{name}|off x{fac}"] = row
                    print(f"{tag:10s} {part:5s} {name:22s} x{fac:<3} | served crop {' '.join(f'{v:.3f}' for v in fr[0])}"
                          f" | mean over {n_j} crops {' '.join(f'{v:.3f}' for v in fr.mean(0))} (FROC {fr.mean():.3f})"
                          f" | @1FP {fr[:, 2].mean():.3f} [{fr[:, 2].min():.3f}-{fr[:, 2].max():.3f}]", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["collect", "score", "compare", "networks"])
    ap.add_argument("--parts", default="val")
    ap.add_argument("--n-jitter", type=int, default=6)
    ap.add_argument("--jitter", type=float, default=0.015)
    ap.add_argument("--max-cost", type=float, default=9.0)
    ap.add_argument("--onnx", type=Path, default=MODELS_DIR / "detector.onnx",
                    help="detector to collect (a candidate needs its .json sidecar beside it)")
    ap.add_argument("--tag", default="", help="cache suffix: training/cache/nodule_crops_<part><tag>.pkl")
    ap.add_argument("--margins", default=",".join(map(str, MARGINS)))
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--tags", default="", help="networks: comma-separated cache tags to compare (e.g. _served,_v40)")
    args = ap.parse_args()
    CACHE.mkdir(exist_ok=True)
    if args.cmd == "networks":
        data_by_tag = {t: {part: pickle.loads((CACHE / f"nodule_crops_{part}{t}.pkl").read_bytes())
                           for part in args.parts.split(",")} for t in args.tags.split(",")}
        res = network_table(data_by_tag)
        (CACHE / f"nodule_networks_{args.parts.replace(',', '_')}.json").write_text(json.dumps(res, indent=1))
        return
    data = {}
    for part in args.parts.split(","):
        p = CACHE / f"nodule_crops_{part}{args.tag}.pkl"
        if args.cmd == "collect" or not p.exists():
            p.write_bytes(pickle.dumps(collect(part, args.n_jitter, args.jitter, onnx=args.onnx,
                                               margins=tuple(float(m) for m in args.margins.split(",")),
                                               sizes=tuple(int(x) for x in args.sizes.split(",")))))
        data[part] = pickle.loads(p.read_bytes())
    if args.cmd == "compare":
        compare(data)
    if args.cmd == "score":
        score(data, args.max_cost, CACHE / f"nodule_crops_scores_{'_'.join(data)}{args.tag}.json")


if __name__ == "__main__":
    main()
