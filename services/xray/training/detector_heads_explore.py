"""Does the nodule detector make a better Nodule / Mass finding score than the findings network?

The detector (as served: views, fusion, lung-hull filter) already runs on every film; its best box score is free.
On the validation splits of ``refit_heads_extra.py`` (NIH-only and mixed), compare for Nodule and Mass: the network's
probability, the detector's max score (0 without a box), and blends of the two (mean of their ranks within the
split, and the mean of the probabilities). Test films are never read. Writes training/runs/detector_heads.json.

    nice -n 19 .venv/bin/python services/xray/training/detector_heads_explore.py
"""
from __future__ import annotations

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
from metrics import auroc  # noqa: E402
from refit_heads_extra import FINDINGS, split_all  # noqa: E402

DATA = Path(os.environ.get("XRAY_DATA", "/work/shared/datasets"))


def main() -> None:
    from app.analyzer import work_lungs
    from app.imaging import load_image, prepare_gray
    from app.inference import ChestModel, Detector

    rows = [r for r in split_all(DATA) if r["split"] == "val"]
    cache = HERE / "cache" / "detector_heads_val.npz"
    if cache.exists():
        z = np.load(cache)
        P, D = z["P"], z["D"]
    else:
        chest, det = ChestModel(threads=1), Detector(threads=1)
        P, D, t0 = [], [], time.process_time()
        for r in rows:
            work = prepare_gray(load_image(Path(r["path"]).read_bytes(), r["path"], "image/png").gray)
            co = chest.run([work])[0]
            ds = det.run([work], conf=0.005, lungs=[work_lungs(co, work.shape)])[0]
            P.append(co.probs)
            D.append(max((d["score"] for d in ds), default=0.0))
        P, D = np.asarray(P), np.asarray(D)
        print(f"{len(rows)} films, {(time.process_time() - t0) * 1e3 / len(rows):.0f} ms CPU each", flush=True)
        cache.parent.mkdir(exist_ok=True)
        np.savez(cache, P=P, D=D)
    nih = np.array([not r["folder"].startswith("extra/") for r in rows])

    def rank(x):
        return np.argsort(np.argsort(x, kind="stable"), kind="stable") / max(1, len(x) - 1)

    out = {}
    for name in ("Nodule", "Mass"):
        k = FINDINGS.index(name)
        y = np.array([float(r[name]) for r in rows])
        res = {}
        for label, fn in (("network", lambda m: P[m, k]), ("detector", lambda m: D[m]),
                          ("mean of ranks", lambda m: (rank(P[m, k]) + rank(D[m])) / 2),
                          ("mean of probabilities", lambda m: (P[m, k] + D[m]) / 2),
                          ("max", lambda m: np.maximum(P[m, k], D[m]))):
            res[label] = {"nih14": round(auroc(y[nih], fn(nih)), 4), "mixed": round(auroc(y, fn(np.ones(len(y), bool))), 4)}
        out[name] = {"positives_nih14": int(y[nih].sum()), "positives_mixed": int(y.sum()), **res}
        print(name, json.dumps(out[name]), flush=True)
    if "--adopt" in sys.argv:
        adopt(out, rows, P, D, nih)
    if "--test" in sys.argv:
        out["test"] = test_report()
    (HERE / "runs").mkdir(exist_ok=True)
    (HERE / "runs" / "detector_heads.json").write_text(json.dumps(out, indent=1))
    levers = SVC / "models" / "inference_levers.json"
    if levers.exists():
        d = json.loads(levers.read_text())
        d["detector_heads"] = {**d.get("detector_heads", {}), **out}
        levers.write_text(json.dumps(d, indent=1) + "\n")


def adopt(out: dict, rows, P, D, nih) -> None:
    """Nodule = max(network, detector) (best on both validation splits, > 0.01 over the network on NIH-only: the
    rule measurement_heads.py uses); its threshold re-chosen with the committed rule on NIH validation."""
    from metrics import youden_threshold
    meta_path = SVC / "models" / "chestnet.json"
    meta = json.loads(meta_path.read_text())
    k = FINDINGS.index("Nodule")
    y = np.array([float(r["Nodule"]) for r in rows])
    s = np.maximum(P[:, k], D)
    thr = float(youden_threshold(y[nih], s[nih], 0.6))
    out["adopted"] = {"Nodule": {"combine": "max", "threshold_before": meta["thresholds"]["Nodule"],
                                 "threshold": thr}}
    meta["detector_heads"] = {"Nodule": {"combine": "max", "source": "detector best box score inside the lungs",
                                         "rule": "adopted when > 0.01 above the network on NIH validation AUROC "
                                                 "(training/detector_heads_explore.py)"}}
    meta["thresholds"]["Nodule"] = thr
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print("adopted Nodule head, threshold", round(thr, 4), flush=True)


def test_report() -> dict:
    """Read once, after the choice: the NIH test split, Nodule and Mass AUROC, network vs served head."""
    import csv

    import cv2

    from app.analyzer import work_lungs
    from app.imaging import prepare_gray
    from app.inference import ChestModel, Detector
    from metrics import bootstrap_ci
    sp = {r["image"]: r["split"] for r in csv.DictReader(open(SVC / "models" / "splits" / "nih.csv"))}
    rows = [r for r in csv.DictReader(open(DATA / "cxr_nih14" / "labels.csv")) if sp[r["image"]] == "test"]
    chest, det = ChestModel(threads=1), Detector(threads=1)
    P, D = [], []
    for r in rows:
        work = prepare_gray(cv2.imread(str(DATA / "cxr_nih14" / r["image"]), cv2.IMREAD_GRAYSCALE))
        co = chest.run([work])[0]
        P.append(co.probs.copy())
        b = det.run_scored([work], lungs=[work_lungs(co, work.shape)])[1][0]
        D.append(b["score"] if b else 0.0)
    P, D = np.asarray(P), np.asarray(D)
    res = {"films": len(rows)}
    k = FINDINGS.index("Nodule")
    y = np.array([float(r["Nodule"]) for r in rows])
    for label, s in (("network", P[:, k]), ("max(network, detector)", np.maximum(P[:, k], D))):
        lo, hi = bootstrap_ci(y, s)
        res[label] = {"auroc": round(auroc(y, s), 4), "ci95": [round(lo, 4), round(hi, 4)], "positives": int(y.sum())}
    print("test", res, flush=True)
    return res


if __name__ == "__main__":
    main()
