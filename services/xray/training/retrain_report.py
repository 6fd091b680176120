"""Collect issue 17's backbone retrain (train_chest.py runs on all NIH films) into models/backbone_retrain_metrics.json
for the model card: per-run validation history, the served-composition comparison on validation that decided
adoption (eval_served.py), and the NIH test split read once after the decision.

    retrain_report.py --runs _base [...] --decision runs/eval_served_val_decision.json \
        [--test runs/eval_served_test_final.json] --adopted yes|no --note "..."
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent / "models"


def summarise_run(tag: str) -> dict:
    d = json.loads((HERE / "runs" / f"chest_history{tag}.json").read_text())
    hist = [h for h in d["history"] if "val_mean_auroc" in h]
    best = max(hist, key=lambda h: h["val_mean_auroc"])
    a = d["args"]
    return {"args": {k: a[k] for k in ("epochs", "batch", "frozen_blocks", "smooth", "strong_aug",
                                       "no_view_weights", "with_decoder", "val_from")},
            "epochs": [{"epoch": h["epoch"], "val_nih14": round(h["val_mean_auroc"], 4),
                        "val_mixed": round(h["val_mixed_mean_auroc"], 4), "train_s": h.get("train_s")} for h in hist],
            "best_epoch": best["epoch"], "best_val_nih14": round(best["val_mean_auroc"], 4),
            "best_val_mixed": round(best["val_mixed_mean_auroc"], 4),
            "best_val_nih14_per_finding": {k: round(v, 4) for k, v in best["val_auroc"].items()},
            "best_val_mixed_per_finding": {k: round(v, 4) for k, v in best["val_mixed_auroc"].items()}}


def update_chestnet_metrics(path: Path, val_mean: float | None = None, served_graph: str | None = None) -> None:
    import numpy as np

    import sys
    sys.path.insert(0, str(HERE))
    from metrics import auroc, bootstrap_ci, mean_auroc_ci
    z = np.load(path)
    Y, P = z["Y"], z["served"][-1]
    meta = json.loads((MODELS / "chestnet.json").read_text())
    mpath = MODELS / "chestnet_metrics.json"
    cm = json.loads(mpath.read_text())
    for k, name in enumerate(meta["labels"]):
        y, s = Y[:, k], P[:, k]
        pos, pred = y == 1, s >= meta["thresholds"][name]
        lo, hi = bootstrap_ci(y, s)
        cm["per_finding"].setdefault(name, {}).update(
            auroc=auroc(y, s), ci95=[lo, hi], test_positives=int(pos.sum()), threshold=meta["thresholds"][name],
            sensitivity=float((pred & pos).sum() / max(1, pos.sum())),
            specificity=float((~pred & ~pos).sum() / max(1, (~pos).sum())), few_positives=bool(pos.sum() < 8))
    for name, entry in cm.get("measurement_heads", {}).items():
        if entry.get("adopted") and name in meta.get("measurement_heads", {}):
            per = cm["per_finding"][name]
            entry.update(threshold=round(meta["thresholds"][name], 4), test_auroc=round(per["auroc"], 4),
                         test_ci95=[round(c, 4) for c in per["ci95"]], test_positives=per["test_positives"])
            per.update(val_auroc=entry["val_auroc_measurement"], source=f"measurement:{entry['measurement']}")
    m, lo, hi = mean_auroc_ci(Y[:, :14], P[:, :14])
    cm["mean_auroc_14"] = {"value": m, "ci95": [lo, hi]}
    m0, lo0, hi0 = mean_auroc_ci(Y[:, :14], z["network"][-1][:, :14])
    cm["mean_auroc_14_network_only_onnx"] = {"value": m0, "ci95": [lo0, hi0]}
    if val_mean is not None:
        cm["val_mean_auroc_14"] = val_mean
    served_graph = served_graph or "ensemble of the committed and the retrained findings network " \
                                   "(backbone_retrain_metrics.json)"
    cm["served_graph"] = (served_graph + "; per-finding test numbers are the served probabilities (measurement and "
                          "detector heads on)")
    mpath.write_text(json.dumps(cm, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", nargs="+", required=True)
    ap.add_argument("--decision", type=Path, required=True)
    ap.add_argument("--test", type=Path, default=None)
    ap.add_argument("--adopted", choices=["yes", "no"], required=True)
    ap.add_argument("--note", default="")
    ap.add_argument("--decision-names", nargs="*", default=None, help="labels for the decision file's graphs, in order")
    ap.add_argument("--ablation", nargs="*", default=[],
                    help="RUN=eval_served.json of [committed, RUN alone, RUN + committed] on validation")
    ap.add_argument("--test-arrays", type=Path, default=None,
                    help="eval_served.py --test arrays: the LAST graph's served test scores replace the per-finding "
                         "test numbers of models/chestnet_metrics.json (the served model's card table)")
    ap.add_argument("--test-names", nargs="*", default=None, help="labels for the test file's graphs, in order")
    args = ap.parse_args()
    out = {"runs": {t: summarise_run(t) for t in args.runs}}
    dec = json.loads(args.decision.read_text())
    out["decision"] = {"films": dec["films"], "films_nih14": dec["films_nih14"],
                       "candidates": {(args.decision_names or [])[i] if args.decision_names else Path(k).parent.name: v
                                      for i, (k, v) in enumerate(dec["candidates"].items())},
                       "ensemble_offline": dec.get("ensemble_of_the_two"),
                       "thresholds": dec.get("thresholds"),
                       "load_avg": dec.get("load_avg")}
    out["ablations"] = {}
    for item in args.ablation:
        tag, path = item.split("=", 1)
        c = list(json.loads(Path(path).read_text())["candidates"].values())
        out["ablations"][tag] = {label: {k: c[i][k]["mean"] for k in ("network_nih14", "network_mixed",
                                                                     "served_nih14", "served_mixed")}
                                 for i, label in enumerate(("committed", "alone", "with_committed"))}
    if args.test:
        t = json.loads(args.test.read_text())
        out["test"] = {"films": t["films"], "load_avg": t.get("load_avg"),
                       "candidates": {(args.test_names or [])[i] if args.test_names else Path(k).parent.name: v
                                      for i, (k, v) in enumerate(t["candidates"].items())}}
    if args.test_arrays:
        last = list(dec["candidates"].values())[-1]
        update_chestnet_metrics(args.test_arrays, last["served_nih14"]["mean"])
    write_report(out, args.adopted == "yes", args.note, "backbone_retrain_metrics.json")


def write_report(out: dict, adopted: bool, note: str, name: str) -> None:
    """A findings round's report, with its verdict and the load when written, into models/NAME."""
    out["adopted"] = adopted
    out["note"] = note
    out["load_avg_at_report"] = [round(x, 2) for x in os.getloadavg()]
    (MODELS / name).write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", MODELS / name)


if __name__ == "__main__":
    main()
