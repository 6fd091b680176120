"""Measurement heads: a finding whose probability comes from a measurement on the segmentation masks instead of
the findings network, when that is better on NIH *validation*.

Cardiomegaly is defined radiologically by the cardiothoracic ratio (CTR > 0.5 on a PA film). The masks come from
SegNet, trained on JSRT/SCR only, so the CTR never saw an NIH label: a 1-D logistic fit of CTR on the NIH train split
cannot memorise the way the fine-tuned head did (its train AUROC 0.96 vs validation 0.36). The head is adopted only
when its validation AUROC beats the network's by more than 0.01 (the rule refit_head.py uses); its threshold follows
the same rule as every other finding (Youden J with specificity >= 0.6 on validation). Test is scored once, after.

Runs on the serving stack only (ONNX Runtime, no torch):
    .venv/bin/python services/xray/training/measurement_heads.py [--data ../shared/datasets]
Writes `measurement_heads` + the threshold into models/chestnet.json and the numbers into chestnet_metrics.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

SVC = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(SVC), str(SVC / "training")]

from app.imaging import prepare_gray  # noqa: E402
from app.inference import ChestModel  # noqa: E402
from app.measurements import measure  # noqa: E402
from metrics import auroc, bootstrap_ci, mean_auroc_ci, youden_threshold  # noqa: E402

MIN_SPEC = 0.6
MARGIN = 0.01
CANDIDATES = {"Cardiomegaly": "cardiothoracic_ratio"}   # finding -> measurement, from radiological definitions


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 50) -> tuple[float, float]:
    """1-D logistic regression by Newton's method on standardised x; returns (coef, intercept) on raw x."""
    mu, sd = float(x.mean()), float(x.std() or 1.0)
    z = (x - mu) / sd
    X = np.stack([z, np.ones_like(z)], 1)
    w = np.zeros(2)
    for _ in range(iters):
        p = 1 / (1 + np.exp(-X @ w))
        g = X.T @ (p - y) + l2 * np.array([w[0], 0.0])
        H = (X * (p * (1 - p))[:, None]).T @ X + l2 * np.diag([1.0, 0.0]) + 1e-9 * np.eye(2)
        w -= np.linalg.solve(H, g)
    return float(w[0] / sd), float(w[1] - w[0] * mu / sd)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("XRAY_DATA", SVC.parents[1].parent / "shared" / "datasets")))
    ap.add_argument("--sidecar-only", action="store_true",
                    help="refit on train, choose on val and write chestnet.json only: no test split, no metrics file "
                         "(after a SegNet change: the served accuracy is then read once by bench/xray_accuracy.py)")
    args = ap.parse_args()
    meta_path = SVC / "models" / "chestnet.json"
    meta = json.loads(meta_path.read_text())
    meta.pop("measurement_heads", None)
    model = ChestModel(SVC / "models" / "chestnet.onnx", threads=2)
    model.measurement_heads = {}                       # score the network's own heads for the comparison
    labels = {r["image"]: r for r in csv.DictReader(open(args.data / "cxr_nih14" / "labels.csv"))}
    split = {r["image"]: r["split"] for r in csv.DictReader(open(SVC / "models" / "splits" / "nih.csv"))}
    feats: dict[str, dict[str, list]] = {}
    for part in ("train", "val") if args.sidecar_only else ("train", "val", "test"):
        rows = {"m": [], "p": [], "y": []}
        for name in sorted(n for n, s in split.items() if s == part):
            work = prepare_gray(cv2.imread(str(args.data / "cxr_nih14" / name), cv2.IMREAD_GRAYSCALE))
            out = model.run([work])[0]
            rows["m"].append(measure(out.binary_masks, work.shape[1], work.shape[0]))
            rows["p"].append(out.probs)
            rows["y"].append(labels[name])
        feats[part] = rows
    findings14 = model.labels[:14]

    def matrix(part: str, with_heads: dict) -> tuple[np.ndarray, np.ndarray]:
        r = feats[part]
        Y = np.array([[int(y[f]) for f in findings14] for y in r["y"]], float)
        P = np.array([p[:14] for p in r["p"]], float)
        for finding, head in with_heads.items():
            k = findings14.index(finding)
            for i, m in enumerate(r["m"]):
                if m[head["measurement"]] is not None:
                    P[i, k] = 1 / (1 + np.exp(-(head["coef"] * m[head["measurement"]] + head["intercept"])))
        return Y, P

    heads, report = {}, {}
    for finding, key in CANDIDATES.items():
        k = model.labels.index(finding)
        def xy(part):
            r = feats[part]
            ok = [i for i, m in enumerate(r["m"]) if m[key] is not None]
            return (np.array([r["m"][i][key] for i in ok], float), np.array([int(r["y"][i][finding]) for i in ok]),
                    np.array([r["p"][i][k] for i in ok], float))
        xt, yt, _ = xy("train")
        xv, yv, pv = xy("val")
        coef, intercept = fit_logistic(xt, yt.astype(float))
        sv = 1 / (1 + np.exp(-(coef * xv + intercept)))
        a_meas, a_net = auroc(yv, sv), auroc(yv, pv)
        entry = {"measurement": key, "val_auroc_measurement": round(a_meas, 4), "val_auroc_network": round(a_net, 4),
                 "n_train": int(len(yt)), "train_positives": int(yt.sum())}
        if a_meas > a_net + MARGIN:
            thr = float(youden_threshold(yv, sv, MIN_SPEC))
            heads[finding] = {"measurement": key, "coef": round(coef, 6), "intercept": round(intercept, 6),
                              "fallback": "network"}
            meta["thresholds"][finding] = thr
            if args.sidecar_only:
                entry.update(adopted=True, threshold=round(thr, 4), coef=round(coef, 6), intercept=round(intercept, 6))
                report[finding] = entry
                print(finding, json.dumps(entry))
                continue
            xs, ys, _ = xy("test")
            st = 1 / (1 + np.exp(-(coef * xs + intercept)))
            lo, hi = bootstrap_ci(ys, st)
            entry.update(adopted=True, threshold=round(thr, 4), test_auroc=round(auroc(ys, st), 4),
                         test_ci95=[round(lo, 4), round(hi, 4)], test_positives=int(ys.sum()))
        else:
            entry["adopted"] = False
        report[finding] = entry
        print(finding, json.dumps(entry))
    if heads:
        meta["measurement_heads"] = heads
    if args.sidecar_only:
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        # the validation entries replace the old ones (their test fields are filled from the served test scores by
        # retrain_report.update_chestnet_metrics)
        mpath = SVC / "models" / "chestnet_metrics.json"
        metrics = json.loads(mpath.read_text())
        metrics["measurement_heads"] = report
        mpath.write_text(json.dumps(metrics, indent=2) + "\n")
        return
    mpath = SVC / "models" / "chestnet_metrics.json"
    metrics = json.loads(mpath.read_text())
    metrics["measurement_heads"] = report
    for finding, entry in report.items():
        if entry.get("adopted"):
            per = metrics["per_finding"][finding]
            per.update(auroc=entry["test_auroc"], ci95=entry["test_ci95"], val_auroc=entry["val_auroc_measurement"],
                       threshold=entry["threshold"], source=f"measurement:{entry['measurement']}")
            Y, P = matrix("test", {finding: heads[finding]})
            k = findings14.index(finding)
            pos, pred = Y[:, k] == 1, P[:, k] >= entry["threshold"]
            per["sensitivity"] = float((pred & pos).sum() / max(1, pos.sum()))
            per["specificity"] = float((~pred & ~pos).sum() / max(1, (~pos).sum()))
    if heads:
        # The mean over the 14 findings, from the ONNX outputs, with and without the heads (test read once).
        before = mean_auroc_ci(*matrix("test", {}))
        after = mean_auroc_ci(*matrix("test", heads))
        metrics["mean_auroc_14_network_only_onnx"] = {"value": before[0], "ci95": [before[1], before[2]]}
        metrics["mean_auroc_14"] = {"value": after[0], "ci95": [after[1], after[2]]}
        metrics["val_mean_auroc_14"] = float(np.mean([auroc(*(lambda Y, P: (Y[:, k], P[:, k]))(*matrix("val", heads)))
                                                      for k in range(14)]))
        print("mean AUROC (test) network only %.3f -> with measurement heads %.3f [%.3f, %.3f]"
              % (before[0], after[0], after[1], after[2]))
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    mpath.write_text(json.dumps(metrics, indent=2) + "\n")


if __name__ == "__main__":
    main()
