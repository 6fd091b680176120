"""Issue 17, nodules: a box-size prior from the JSRT nodule sizes, at inference (no retraining, no extra network run).

JSRT reference boxes are squares of the nodule's diameter on the 512 px working grid. The prior multiplies the fused
score of a detection narrower (in its shorter side) than a quantile of the JSRT **train** nodule diameters by a
factor: small boxes are where the served detector's false positives crowd (vessel crossings, rib ends).

Rule (fixed before any candidate was scored on validation):
* candidates: the shorter-side minimum at the 1st, 5th or 10th percentile of the JSRT train reference diameters,
  times a factor of 0.7, 0.5, 0.3 or 0 (dropped), applied after the served views, fusion, hull and off-lung factor;
* the best JSRT validation mean FROC over the served lung box and 6 jittered boxes (the caches of
  ``nodule_crop_explore.py collect``) is chosen;
* it is adopted only if its validation mean FROC over crops beats the served pipeline's, its validation sensitivity
  at 1 FP/image (mean over crops) is not lower, and its JSRT train sensitivity at 1 FP/image (mean over crops) is not
  lower either (train: both were trained on those films, a check that nothing is lost).

    nodule_prior_explore.py --tag _v40            (val + train caches of the served network; prints the decision)
    nodule_prior_explore.py --tag _v40 --test     (reads the test cache once, after the choice)
    nodule_prior_explore.py --tag _v40 --test --adopt   (if the rule passes: size_prior and the validation threshold
                                                         into detector.json, the FROC into detector_metrics.json)

``--adopt`` writes models/detector_prior_metrics.json (every number of the comparison, for write_card.py) whether or
not the rule passes.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SVC = HERE.parent
sys.path.insert(0, str(SVC))
sys.path.insert(0, str(HERE))
from detector_retrain_report import evaluate, load, pooled, public, served_config, test_summary  # noqa: E402
from nodule_crop_explore import DATA, FPS, froc  # noqa: E402

MODELS = SVC / "models"
QUANTILES = (1, 5, 10)
FACTORS = (0.7, 0.5, 0.3, 0.0)


def train_diameters() -> np.ndarray:
    """Reference box sides (px on the 512 grid) of the JSRT train nodules (models/splits/jsrt.csv)."""
    sp = {r["image"]: r["split"] for r in csv.DictReader(open(SVC / "models" / "splits" / "jsrt.csv"))}
    return np.array([float(r["bbox_x2"]) - float(r["bbox_x1"])
                     for r in csv.DictReader(open(DATA / "cxr_jsrt_scr" / "labels.csv"))
                     if r["label"] == "nodule" and r["bbox_x1"] and sp[r["image"]] == "train"])


def with_prior(ev: dict, min_side: float, factor: float) -> dict:
    """``ev`` (detector_retrain_report.evaluate) re-scored with the prior: a box whose shorter side is below
    ``min_side`` has its score x ``factor`` (dropped at 0)."""
    dj = []
    for dets in ev["_dets"]:
        out = []
        for ds in dets:
            d = [(s if min(b[2] - b[0], b[3] - b[1]) >= min_side else s * factor, b) for s, b in ds]
            out.append(sorted((x for x in d if x[0] > 0), key=lambda x: -x[0]))
        dj.append(out)
    fr = np.array([froc(d, ev["_gts"]) for d in dj])
    return {**{k: ev[k] for k in ("images", "nodules", "crops")},
            "froc_served_crop": fr[0].round(4).tolist(), "froc_mean_over_crops": fr.mean(0).round(4).tolist(),
            "mean_froc_over_crops": round(float(fr.mean()), 4), "sens1_mean_over_crops": round(float(fr[:, 2].mean()), 4),
            "sens1_min_max_over_crops": [round(float(fr[:, 2].min()), 4), round(float(fr[:, 2].max()), 4)],
            "_dets": dj, "_gts": ev["_gts"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tag", default="_v40", help="cache tag of the served network")
    ap.add_argument("--test", action="store_true", help="also read the test cache (once, after the choice)")
    ap.add_argument("--out", type=Path, default=HERE / "runs" / "nodule_prior_explore.json")
    ap.add_argument("--adopt", action="store_true", help="write the models' files (needs --test)")
    args = ap.parse_args()
    if args.adopt and not args.test:
        raise SystemExit("--adopt writes the test numbers into the metrics: pass --test")
    keys, factor = served_config()
    diam = train_diameters()
    base = {p: evaluate(load(p, args.tag), keys, factor) for p in ("val", "train")}
    rows = {"served": {p: base[p] for p in base}}
    for q in QUANTILES:
        m = round(float(np.percentile(diam, q)), 2)
        for f in FACTORS:
            rows[f"side < {m:.1f} px (train p{q}) x{f}"] = {"min_side": m, "factor": f,
                                                           **{p: with_prior(base[p], m, f) for p in base}}
    print(f"{'':36s} | val: served crop @1FP, mean over crops @1FP, mean FROC | train: same")
    for k, r in rows.items():
        v, t = r["val"], r["train"]
        print(f"{k:36s} | {v['froc_served_crop'][2]:.3f} {v['sens1_mean_over_crops']:.3f} {v['mean_froc_over_crops']:.3f}"
              f" | {t['froc_served_crop'][2]:.3f} {t['sens1_mean_over_crops']:.3f} {t['mean_froc_over_crops']:.3f}")
    cands = {k: r for k, r in rows.items() if k != "served"}
    best = max(cands, key=lambda k: (cands[k]["val"]["mean_froc_over_crops"], cands[k]["val"]["sens1_mean_over_crops"]))
    b, s = cands[best], rows["served"]
    adopt = (b["val"]["mean_froc_over_crops"] > s["val"]["mean_froc_over_crops"]
             and b["val"]["sens1_mean_over_crops"] >= s["val"]["sens1_mean_over_crops"]
             and b["train"]["sens1_mean_over_crops"] >= s["train"]["sens1_mean_over_crops"])
    thr, _ = pooled(b["val"])
    print(f"chosen: {best}; adopt: {adopt}; pooled validation threshold {thr:.4f}")
    report = {"rule": __doc__.split("Rule (fixed before any candidate was scored on validation):")[1].split("\n\n")[0].strip(),
              "served_views": {"keys": keys, "factor": factor}, "train_diameter_quantiles": {
                  q: round(float(np.percentile(diam, q)), 2) for q in QUANTILES},
              "rows": {k: {**{x: r[x] for x in ("min_side", "factor") if x in r},
                           **{p: public(r[p]) for p in ("val", "train")}} for k, r in rows.items()},
              "chosen": best, "adopted": adopt, "threshold": round(thr, 4), "fps": list(FPS)}
    if args.test:
        ev = evaluate(load("test", args.tag), keys, factor)
        thr_s, _ = pooled(s["val"])
        for label, e, t in (("served", ev, thr_s), ("prior", with_prior(ev, b["min_side"], b["factor"]), thr)):
            report.setdefault("test", {})[label] = r = test_summary(e, t)
            print(f"TEST {label}: served crop {r['froc_served_crop']} (@1FP CI {r['sens1_served_crop_ci95']}) | mean "
                  f"over crops {r['froc_mean_over_crops']} | at {t:.4f}: {r['at_threshold_served_crop']}")
    if args.adopt:
        args.out = MODELS / "detector_prior_metrics.json"
        if adopt:
            adopt_prior(b, thr, report["test"]["prior"])
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print("wrote", args.out)


def adopt_prior(b: dict, thr: float, t: dict) -> None:
    """detector.json gets ``size_prior`` and the threshold pooled on validation with it; detector_metrics.json the
    FROC (test, read once after the choice, and validation) and the operating point of the pipeline with the prior."""
    meta = json.loads((MODELS / "detector.json").read_text())
    meta["inference"]["size_prior"] = {"min_side": b["min_side"], "factor": b["factor"]}
    meta["score_threshold"] = round(thr, 4)
    (MODELS / "detector.json").write_text(json.dumps(meta, indent=2) + "\n")
    dm = json.loads((MODELS / "detector_metrics.json").read_text())
    v = b["val"]
    dm.update(froc_served_crop=t["froc_served_crop"], froc_mean_over_crops=t["froc_mean_over_crops"],
              **{f"sens_at_{fp}_fp": {"sensitivity": t["froc_served_crop"][i]} for i, fp in enumerate(dm["fps"])},
              sens_at_1fp_ci95=t["sens1_served_crop_ci95"], val_sens_at_1fp_mean_over_crops=v["sens1_mean_over_crops"],
              operating_threshold=round(thr, 4), at_operating_threshold=t["at_threshold_served_crop"],
              at_operating_threshold_mean_over_crops=t["at_threshold_mean_over_crops"],
              val_images=v["images"], val_lesions=v["nodules"], val_froc_served_crop=v["froc_served_crop"],
              val_froc_mean_over_crops=v["froc_mean_over_crops"],
              size_prior=f"x{b['factor']} below a {b['min_side']} px side (training/nodule_prior_explore.py)")
    (MODELS / "detector_metrics.json").write_text(json.dumps(dm, indent=2) + "\n")
    print("adopted: size_prior in models/detector.json, detector_metrics.json", flush=True)


if __name__ == "__main__":
    main()
