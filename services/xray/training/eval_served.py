"""Score chest graphs as served, on the validation splits of ``refit_heads_extra.py`` (NIH-only = ``cxr_nih14/`` val,
93 films; mixed = those + the extra films' val patients), through the serving code (``app.inference``).

"Served" = the network's probabilities with chestnet.json's heads applied: the Cardiomegaly CTR measurement head
(from the masks) and the Nodule detector head (max of the network and the detector's best box inside the lungs).
The detector's scores depend only on the image and the masks; candidates made by ``combine_export.py
--seg-from-onnx`` keep the committed SegNet branch, so they are computed once (with the committed graph) and cached.

    eval_served.py [--onnx DIR/chestnet.onnx ...] [--flip] [--test]

Each ONNX is read with its own sidecar (DIR/chestnet.json), test-time views (``tta``) included. ``--flip`` scores
each graph twice in the same run, without test-time views and with the mirror (``"tta": {"views": ["flip"]}``), as
candidates ``PATH`` and ``PATH flip``. ``--test`` reads the NIH test split of ``cxr_nih14/`` (committed
``splits/nih.csv``): only once, after the choice. Writes runs/eval_served.json (and prints a table).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SVC = HERE.parent
sys.path.insert(0, str(SVC))
sys.path.insert(0, str(HERE))
from metrics import auroc, bootstrap_ci, mean_auroc_ci  # noqa: E402
from refit_heads_extra import FINDINGS, split_all  # noqa: E402

DATA = Path(os.environ.get("XRAY_DATA", "/work/shared/datasets"))
COMMITTED = SVC / "models" / "chestnet.onnx"


def rows_for(part: str) -> list[dict]:
    if part == "val":
        return [r for r in split_all(DATA) if r["split"] == "val"]
    sp = {r["image"]: r["split"] for r in csv.DictReader(open(SVC / "models" / "splits" / "nih.csv"))}
    rows = [r for r in csv.DictReader(open(DATA / "cxr_nih14" / "labels.csv")) if sp[r["image"]] == "test"]
    for r in rows:
        r["path"], r["folder"] = str(DATA / "cxr_nih14" / r["image"]), "cxr_nih14"
    return rows


def works_for(rows):
    from app.imaging import load_image, prepare_gray
    return [prepare_gray(load_image(Path(r["path"]).read_bytes(), r["path"], "image/png").gray) for r in rows]


def detector_best(part: str, rows, works) -> np.ndarray:
    """Best box score inside the lungs per film (0 when none), exactly as the analyzer computes it."""
    cache = HERE / "cache" / f"served_detector_{part}.npz"
    names = np.array([r["folder"] + "/" + r["image"] for r in rows])
    if cache.exists() and np.array_equal((z := np.load(cache))["names"], names):
        return z["D"]
    from app.analyzer import work_lungs
    from app.inference import ChestModel, Detector
    chest, det = ChestModel(COMMITTED, threads=1), Detector(threads=1)
    chest.tta_views = []  # the masks come from the original view either way
    D = []
    for w in works:
        co = chest.run([w])[0]
        b = det.run_scored([w], lungs=[work_lungs(co, w.shape)])[1][0]
        D.append(b["score"] if b else 0.0)
    D = np.asarray(D, np.float32)
    cache.parent.mkdir(exist_ok=True)
    np.savez(cache, names=names, D=D)
    return D


def score(onnx_path: Path, works, D, tta_views: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(network probabilities, served probabilities, masks checksum) per film; ``tta_views`` overrides the sidecar's
    test-time views ([] = the original film only)."""
    from app.inference import ChestModel
    model = ChestModel(onnx_path, threads=int(os.environ.get("THREADS", "2")), verify_sha256=False)
    if tta_views is not None:
        model.tta_views = list(tta_views)
    heads = model.measurement_heads
    net, served, msum = [], [], []
    for i in range(0, len(works), 8):
        model.measurement_heads = {}
        outs = model.run(works[i:i + 8])
        model.measurement_heads = heads
        for o, d in zip(outs, D[i:i + 8]):
            net.append(o.probs.copy())
            model.apply_measurement_heads(o)
            model.apply_detector_heads(o, {"score": float(d), "box": [0, 0, 1, 1]} if d > 0 else None, (2, 2))
            served.append(o.probs.copy())
            msum.append(float(o.masks.sum()))
    return np.asarray(net), np.asarray(served), np.asarray(msum)


def table(Y, P, mask) -> tuple[dict, float]:
    per = {n: auroc(Y[mask, k], P[mask, k]) for k, n in enumerate(FINDINGS)}
    vals = [v for v in per.values() if np.isfinite(v)]
    return {k: round(v, 4) for k, v in per.items()}, round(float(np.mean(vals)), 4)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", type=Path, nargs="*", default=[COMMITTED])
    ap.add_argument("--test", action="store_true", help="NIH test split of cxr_nih14/ (read once, after the choice)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--flip", action="store_true",
                    help="score each graph without test-time views and with the mirrored film (flip TTA), same run")
    ap.add_argument("--write-thresholds", action="store_true",
                    help="re-choose the last graph's thresholds on the served NIH-only validation probabilities "
                         "(Youden J with specificity >= 0.6, the committed rule; measurement heads keep theirs) and "
                         "write them into its sidecar")
    args = ap.parse_args()
    part = "test" if args.test else "val"
    rows = rows_for(part)
    t0 = time.time()
    works = works_for(rows)
    D = detector_best(part, rows, works)
    Y = np.array([[float(r[k]) for k in FINDINGS] for r in rows])
    Y15 = np.concatenate([Y, np.array([[1.0 - float(r.get("no_finding") or 0)] for r in rows])], 1)  # + abnormal
    nih = np.array([r["folder"] == "cxr_nih14" for r in rows])
    report = {"part": part, "films": len(rows), "films_nih14": int(nih.sum()), "candidates": {}}
    arrays = []
    variants = [(p, v) for p in args.onnx for v in ([[], ["flip"]] if args.flip else [None])]
    for path, views in variants:
        net, served, msum = score(path, works, D, views)
        arrays.append((net, served))
        key = str(path) + (" flip" if views else "")
        res = {}
        for label, P in (("network", net), ("served", served)):
            for split, mask in (("nih14", nih), ("mixed", np.ones(len(rows), bool))):
                if part == "test" and split == "mixed":
                    continue
                per, mean = table(Y, P, mask)
                res[f"{label}_{split}"] = {"mean": mean, "per_finding": per}
                if part == "test":
                    m, lo, hi = mean_auroc_ci(Y[mask], P[mask][:, :14])
                    res[f"{label}_{split}"]["ci95"] = [round(lo, 4), round(hi, 4)]
                    res[f"{label}_{split}"]["per_finding_ci95"] = {
                        n: [round(c, 4) for c in bootstrap_ci(Y[mask, k], P[mask, k])] for k, n in enumerate(FINDINGS)}
        res["masks_checksum"] = round(float(msum.sum()), 2)
        report["candidates"][key] = res
        print(key, {k: v["mean"] for k, v in res.items() if isinstance(v, dict)}, flush=True)
    if len(args.onnx) == 2 and not args.flip:
        # The two graphs as an ensemble (both run per film: twice the chest-network cost): mean of the served
        # probabilities (the CTR head reads the same SegNet masks in both, the detector head the same boxes).
        (n0, s0), (n1, s1) = arrays
        res = {}
        for split, mask in (("nih14", nih), ("mixed", np.ones(len(rows), bool))):
            if part == "test" and split == "mixed":
                continue
            per, mean = table(Y, (s0 + s1) / 2, mask)
            res[f"served_{split}"] = {"mean": mean, "per_finding": per}
            if part == "test":
                m, lo, hi = mean_auroc_ci(Y[mask], ((s0 + s1) / 2)[mask][:, :14])
                res[f"served_{split}"]["ci95"] = [round(lo, 4), round(hi, 4)]
        report["ensemble_of_the_two"] = res
        print("ensemble", {k: v["mean"] for k, v in res.items()}, flush=True)
    if args.write_thresholds:
        if part != "val":
            raise SystemExit("thresholds come from validation only")
        from metrics import youden_threshold
        path = args.onnx[-1]
        meta = json.loads(path.with_suffix(".json").read_text())
        # the variant the sidecar serves: with --flip, the mirrored one exactly when the sidecar has flip TTA
        on = "flip" in (meta.get("tta") or {}).get("views", [])
        served = arrays[-1][1] if (on or not args.flip) else arrays[-2][1]
        new = dict(meta["thresholds"])
        for k, name in enumerate(meta["labels"]):
            if name not in meta.get("measurement_heads", {}):
                new[name] = float(youden_threshold(Y15[nih, k], served[nih, k], 0.6))
        report["thresholds"] = {"before": meta["thresholds"], "after": new}
        meta["thresholds"] = new
        meta["threshold_rule"] = ("Youden J with specificity >= 0.6 on the NIH validation split (cxr_nih14/), on the "
                                  "served probabilities (ensemble mean" + (", averaged with the mirrored film's" if on
                                                                          else "") +
                                  "; Nodule with its detector head); measurement heads keep theirs")
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
        print("thresholds written to", path.with_suffix(".json"), flush=True)
    names = list(report["candidates"])
    heads = [Path(n.removesuffix(" flip")).parent.name[:9 if n.endswith(" flip") else 14]
             + (" flip" if n.endswith(" flip") else "") for n in names]
    print(f"{'finding':<20}" + "".join(f"{h:>16}" for h in heads) + "   (served NIH-only / mixed)")
    for k, f in enumerate(FINDINGS):
        cells = []
        for n in names:
            c = report["candidates"][n]
            mix = c.get("served_mixed", {}).get("per_finding", {}).get(f, float("nan"))
            cells.append(f"{c['served_nih14']['per_finding'][f]:.3f}/{mix:.3f}".rjust(16))
        print(f"{f:<20}" + "".join(cells))
    (HERE / "runs").mkdir(exist_ok=True)
    np.savez(HERE / "runs" / f"eval_served_{part}{args.tag}.npz", Y=Y15, nih=nih,
             network=np.stack([a[0] for a in arrays]), served=np.stack([a[1] for a in arrays]))
    report["seconds"] = round(time.time() - t0)
    report["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    (HERE / "runs" / f"eval_served_{part}{args.tag}.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
