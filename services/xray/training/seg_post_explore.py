"""Mask post-processing for the served lung/heart masks, chosen on JSRT/SCR VALIDATION Dice (issue 17).

Runs the served chest graph (models/chestnet.onnx) once per JSRT film of the split, on the image and on its mirror,
caches the mask probabilities (training/cache/seg_post_<split>.npz), then scores post-processing variants at the
working-image size, as bench/xray_accuracy.py does:

* ``binary``    -- served before: threshold at network size, largest component, binary mask upsampled;
* ``prob``      -- probabilities upsampled to the working size first, then threshold + largest component;
* ``+fill``     -- holes inside each organ filled;
* ``+thr``      -- one threshold per organ (grid on validation);
* ``+flip``     -- mean with the mirrored view's masks (left and right lung swapped back).

Run: .venv/bin/python services/xray/training/seg_post_explore.py [--split val] [--onnx CANDIDATE --tag NAME]
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
SVC = HERE.parent
sys.path[:0] = [str(SVC), str(HERE)]
from metrics import dice  # noqa: E402

DATA = Path(__import__("os").environ.get("XRAY_DATA", "/work/shared/datasets"))
ORGANS = ("left_lung", "right_lung", "heart")


def split_names(part: str) -> list[str]:
    return [r["image"] for r in csv.DictReader(open(SVC / "models" / "splits" / "jsrt.csv")) if r["split"] == part]


def collect(part: str, threads: int, onnx_path: Path | None = None, tag: str = "") -> dict:
    from app.imaging import prepare_gray
    from app.inference import ChestModel
    out = HERE / "cache" / f"seg_post_{part}{tag}.npz"
    if out.exists():
        return dict(np.load(out))
    chest = (ChestModel(threads=threads) if onnx_path is None
             else ChestModel(onnx_path, threads=threads, verify_sha256=False))
    P, PF, G = [], [], []
    for n in split_names(part):
        work = prepare_gray(cv2.imread(str(DATA / "cxr_jsrt_scr" / n), cv2.IMREAD_GRAYSCALE))
        a = chest.run([work])[0].masks
        b = chest.run([np.ascontiguousarray(work[:, ::-1])])[0].masks
        P.append(a.astype(np.float16))
        PF.append(b.astype(np.float16))
        G.append(np.stack([cv2.imread(str(DATA / "cxr_jsrt_scr" / "masks" / o / Path(n).name), 0) > 127
                           for o in ORGANS]))
    d = {"p": np.stack(P), "pf": np.stack(PF), "g": np.stack(G)}
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **d)
    return d


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Bool mask with every background region that does not reach the border filled in."""
    m = np.pad(mask.astype(np.uint8), 1)
    flood = m.copy()
    cv2.floodFill(flood, np.zeros((m.shape[0] + 2, m.shape[1] + 2), np.uint8), (0, 0), 1)
    return (m | (flood == 0))[1:-1, 1:-1].astype(bool)


def unflip(pf: np.ndarray) -> np.ndarray:
    """Masks of the mirrored film -> masks of the film: mirror back, and the mirror's left lung is the right one."""
    m = pf[:, :, ::-1]
    return np.stack([m[1], m[0], m[2]])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="val", choices=["train", "val"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--onnx", type=Path, default=None, help="a candidate graph (default: the served one)")
    ap.add_argument("--tag", default="", help="cache name suffix for --onnx")
    args = ap.parse_args()
    from app.measurements import binarize, largest_component, resize_masks
    d = collect(args.split, args.threads, args.onnx, args.tag)
    P, PF, G = d["p"].astype(np.float32), d["pf"].astype(np.float32), d["g"]
    H, W = G.shape[2:]

    def up(p):
        return np.stack([cv2.resize(c, (W, H), interpolation=cv2.INTER_LINEAR) for c in p])

    def score(masks_fn) -> np.ndarray:
        return np.array([[dice(m, g) for m, g in zip(masks_fn(i), G[i])] for i in range(len(G))])

    def post(p, thr=(0.5, 0.5, 0.5), fill=False):
        ms = binarize(p, thr)
        return np.stack([fill_holes(m) for m in ms]) if fill else ms

    rows = {}
    rows["binary (served)"] = score(lambda i: resize_masks(binarize(P[i]), W, H))
    rows["prob"] = score(lambda i: post(up(P[i])))
    rows["prob+fill"] = score(lambda i: post(up(P[i]), fill=True))
    avg = lambda i: (P[i] + unflip(PF[i])) / 2  # noqa: E731
    rows["flip binary"] = score(lambda i: resize_masks(binarize(avg(i)), W, H))
    rows["flip prob+fill"] = score(lambda i: post(up(avg(i)), fill=True))
    for k, v in rows.items():
        print(f"{k:<22}" + "  ".join(f"{o} {v[:, j].mean():.4f}" for j, o in enumerate(ORGANS))
              + f"  min lung {v[:, :2].min():.3f}")
    # one threshold per organ, chosen on this split (report only; the choice is made on val)
    grid = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]
    for name, src in (("prob+fill", lambda i: up(P[i])), ("flip prob+fill", lambda i: up(avg(i)))):
        U = [src(i) for i in range(len(G))]
        best = []
        for j, o in enumerate(ORGANS):
            res = {t: np.mean([dice(fill_holes(largest_component(U[i][j] >= t)), G[i, j]) for i in range(len(G))])
                   for t in grid}
            t = max(res, key=res.get)
            best.append(t)
            print(f"{name:<16} {o:<11} " + " ".join(f"{t:.2f}:{s:.4f}" for t, s in res.items()))
        print(f"{name}: best thresholds {best}")


if __name__ == "__main__":
    main()
