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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", nargs="+", required=True)
    ap.add_argument("--decision", type=Path, required=True)
    ap.add_argument("--test", type=Path, default=None)
    ap.add_argument("--adopted", choices=["yes", "no"], required=True)
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    out = {"runs": {t: summarise_run(t) for t in args.runs}}
    dec = json.loads(args.decision.read_text())
    out["decision"] = {"films": dec["films"], "films_nih14": dec["films_nih14"],
                       "candidates": {Path(k).parent.name: v for k, v in dec["candidates"].items()},
                       "load_avg": dec.get("load_avg")}
    if args.test:
        t = json.loads(args.test.read_text())
        out["test"] = {"films": t["films"], "candidates": {Path(k).parent.name: v for k, v in t["candidates"].items()}}
    out["adopted"] = args.adopted == "yes"
    out["note"] = args.note
    out["load_avg_at_report"] = [round(x, 2) for x in os.getloadavg()]
    (MODELS / "backbone_retrain_metrics.json").write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", MODELS / "backbone_retrain_metrics.json")


if __name__ == "__main__":
    main()
