"""Issue 17, part 2: is the detector retrained for the served view (train_yolo.py --view served) better than the
served one? Reads the raw detections that ``nodule_crop_explore.py collect --onnx ... --tag ...`` cached for each
network on the same boxes (the served lung box and 6 jittered boxes per JSRT film, seed 17).

Rule (fixed before the candidate was scored):
* the candidate's views are re-chosen like the served ones: among ``NETWORK_VIEW_SETS`` (at most two 448 px runs) x
  off-lung factor, the best JSRT validation mean FROC over the 7 crops, among those whose JSRT train sensitivity at
  1 FP/image (mean over crops) is not below the served pipeline's;
* the candidate is adopted only if its validation sensitivity at 1 FP/image (mean over crops) beats the served
  pipeline's and its validation mean FROC over crops is not lower.

    score:  detector_retrain_report.py --candidate _v40                       (val + train, prints the decision)
    test:   detector_retrain_report.py --candidate _v40 --test                (reads the test caches once, after)
    adopt:  detector_retrain_report.py --candidate _v40 --test --adopt training/runs/v40/detector.onnx

The served pipeline is what models/detector.json serves (its views and off-lung factor) with the network cached under
``--served``. A later round (``--round 2``: another round of hard-negative mining, ``train_yolo.py --mine``) is
recorded under ``round_2`` in models/detector_retrain_metrics.json, beside the earlier rounds; ``--key`` records
another run of a round under its own name (``round_2_e40``: round 2 trained on round 1's 40-epoch schedule).

``--adopt`` copies the candidate to models/detector.onnx and writes detector.json (views, pooled threshold on
validation, sha256), detector_metrics.json (FROC on test, served crop and mean over crops) and
detector_retrain_metrics.json (every number of the comparison, for write_card.py). Serving venv or training venv.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SVC = HERE.parent
sys.path.insert(0, str(SVC))
sys.path.insert(0, str(HERE))
from metrics import sensitivity_at_fp  # noqa: E402
from nodule_crop_explore import CACHE, FPS, NETWORK_VIEW_SETS, OFF_LUNG_FACTORS, at_threshold, froc, soft_dets  # noqa: E402

MODELS = SVC / "models"


def served_config() -> tuple[list[tuple[float, int, bool]], float]:
    """The view keys (margin, size, mirrored) and off-lung factor that models/detector.json serves."""
    inf = json.loads((MODELS / "detector.json").read_text())["inference"]
    keys = [(float(v["margin"]), int(v["size"]), bool(v["flip"])) for v in inf["views"]]
    return keys, float((inf.get("off_lungs") or {}).get("factor", 1.0))


def load(part: str, tag: str) -> list[dict]:
    return pickle.loads((CACHE / f"nodule_crops_{part}{tag}.pkl").read_bytes())


def evaluate(recs, keys, factor) -> dict:
    gts = [r["gts"] for r in recs]
    dj = [soft_dets(recs, keys, j, factor) for j in range(len(recs[0]["bases"]))]
    fr = np.array([froc(d, gts) for d in dj])
    return {"images": len(recs), "nodules": int(sum(map(len, gts))), "crops": len(dj),
            "froc_served_crop": fr[0].round(4).tolist(), "froc_mean_over_crops": fr.mean(0).round(4).tolist(),
            "mean_froc_over_crops": round(float(fr.mean()), 4),
            "sens1_mean_over_crops": round(float(fr[:, 2].mean()), 4),
            "sens1_min_max_over_crops": [round(float(fr[:, 2].min()), 4), round(float(fr[:, 2].max()), 4)],
            "_dets": dj, "_gts": gts}


def pooled(ev: dict, fp: float = 1.0) -> tuple[float, float]:
    """Score at ``fp`` FP/image with every crop of every film pooled (nodule_crop_explore.pooled_threshold)."""
    dets, gts = [], []
    for d in ev["_dets"]:
        dets += d
        gts += ev["_gts"]
    s, t = sensitivity_at_fp(dets, gts, fp)
    return float(t), float(s)


def test_summary(ev: dict, thr: float) -> dict:
    """``ev`` on the test split: its FROC, a film-bootstrap 95 % CI of sensitivity at 1 FP/image on the served box,
    and what the service reports at the operating threshold ``thr`` (served box, and mean over the crops)."""
    at = np.array([at_threshold(d, ev["_gts"], thr) for d in ev["_dets"]])
    rng, boots = np.random.default_rng(0), []
    d0, g0 = ev["_dets"][0], ev["_gts"]
    for _ in range(1000):
        idx = rng.integers(0, len(g0), len(g0))
        if sum(len(g0[i]) for i in idx):
            boots.append(sensitivity_at_fp([d0[i] for i in idx], [g0[i] for i in idx], 1.0)[0])
    return {**public(ev), "sens1_served_crop_ci95": [round(float(np.percentile(boots, q)), 4) for q in (2.5, 97.5)],
            "at_threshold_served_crop": {"sensitivity": round(float(at[0, 0]), 4), "fp_per_image": round(float(at[0, 1]), 3)},
            "at_threshold_mean_over_crops": {"sensitivity": round(float(at[:, 0].mean()), 4),
                                             "fp_per_image": round(float(at[:, 1].mean()), 3)}}


def public(ev: dict) -> dict:
    return {k: v for k, v in ev.items() if not k.startswith("_")}


def choose(cand_tag: str, served_tag: str) -> dict:
    keys, factor = served_config()
    served = {p: evaluate(load(p, served_tag), keys, factor) for p in ("val", "train")}
    cand_recs = {p: load(p, cand_tag) for p in ("val", "train")}
    rows = {}
    for name, keys in NETWORK_VIEW_SETS.items():
        if any((0, *k) not in cand_recs["val"][0]["views"] for k in keys):
            continue
        for fac in OFF_LUNG_FACTORS:
            rows[f"{name}|off x{fac}"] = {"keys": keys, "factor": fac,
                                          **{p: evaluate(cand_recs[p], keys, fac) for p in ("val", "train")}}
    print(f"{'':34s} | val: served crop @1FP, mean over crops @1FP, mean FROC | train: same")
    for label, r in [(f"SERVED network, served views x{factor}", served)] + list(rows.items()):
        v, t = r["val"], r["train"]
        print(f"{label:34s} | {v['froc_served_crop'][2]:.3f} {v['sens1_mean_over_crops']:.3f} "
              f"{v['mean_froc_over_crops']:.3f} | {t['froc_served_crop'][2]:.3f} {t['sens1_mean_over_crops']:.3f} "
              f"{t['mean_froc_over_crops']:.3f}", flush=True)
    ok = {k: r for k, r in rows.items() if r["train"]["sens1_mean_over_crops"] >= served["train"]["sens1_mean_over_crops"]}
    best = max(ok or rows, key=lambda k: ((ok or rows)[k]["val"]["mean_froc_over_crops"],
                                          (ok or rows)[k]["val"]["sens1_mean_over_crops"]))
    b = rows[best]
    adopt = bool(ok) and (b["val"]["sens1_mean_over_crops"] > served["val"]["sens1_mean_over_crops"]
                          and b["val"]["mean_froc_over_crops"] >= served["val"]["mean_froc_over_crops"])
    print(f"chosen views for the candidate: {best}; adopt: {adopt}", flush=True)
    return {"served": served, "candidates": rows, "chosen": best, "adopt": adopt,
            "no_loss_on_train": sorted(ok)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidate", required=True, help="cache tag of the retrained network, e.g. _v40")
    ap.add_argument("--served", default="_served", help="cache tag of the served network")
    ap.add_argument("--test", action="store_true", help="also read the test caches (once, after the choice)")
    ap.add_argument("--adopt", type=Path, default=None, help="candidate ONNX to copy into models/ if the rule passes")
    ap.add_argument("--training", default="", help="free text: how the candidate was trained (for the card)")
    ap.add_argument("--findings-head", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                    help="only record: eval_served.py reports (runs/eval_served_val<tag>.json) with the served and the "
                         "retrained detector; their Nodule head numbers go into models/detector_retrain_metrics.json")
    ap.add_argument("--note", default="", help="free text for the card")
    ap.add_argument("--round", type=int, default=1, help="mining round: 2 and later are recorded under round_<n>")
    ap.add_argument("--key", default=None,
                    help="record under this key instead of round_<n> (another schedule of the same round, e.g. "
                         "round_2_e40), beside the earlier runs")
    args = ap.parse_args()
    path = MODELS / "detector_retrain_metrics.json"
    key = args.key or (None if args.round == 1 else f"round_{args.round}")
    if args.findings_head:
        top = json.loads(path.read_text())
        d = top[key] if key else top
        head = {}
        for label, f in zip(("served_detector", "retrained_detector"), args.findings_head):
            c = next(iter(json.loads(f.read_text())["candidates"].values()))
            head[label] = {k: {"Nodule": c[k]["per_finding"]["Nodule"], "mean_14": c[k]["mean"]}
                           for k in ("network_nih14", "network_mixed", "served_nih14", "served_mixed")}
        d["findings_head"] = head
        if args.note:
            d["note"] = args.note
        path.write_text(json.dumps(top, indent=1) + "\n")
        print(json.dumps(head, indent=1))
        return
    res = choose(args.candidate, args.served)
    b = res["candidates"][res["chosen"]]
    thr_c, sens_c = pooled(b["val"])
    thr_s, sens_s = pooled(res["served"]["val"])
    keys, factor = served_config()
    report = {"rule": __doc__.split("Rule (fixed before the candidate was scored):")[1].split("\n\n")[0].strip(),
              "served_views": {"keys": keys, "factor": factor}, "chosen_views": res["chosen"], "adopted": res["adopt"], "training": args.training,
              "views_without_loss_on_train": res["no_loss_on_train"],
              "served": {p: public(e) for p, e in res["served"].items()},
              "candidate_rows": {k: {p: public(r[p]) for p in ("val", "train")} for k, r in res["candidates"].items()},
              "thresholds": {"served": round(thr_s, 4), "candidate": round(thr_c, 4)},
              "pooled_val_sens1": {"served": round(sens_s, 4), "candidate": round(sens_c, 4)}}
    if args.test:
        for label, tag, keys, fac, thr in (("served", args.served, keys, factor, thr_s),
                                           ("candidate", args.candidate, b["keys"], b["factor"], thr_c)):
            report.setdefault("test", {})[label] = t = test_summary(evaluate(load("test", tag), keys, fac), thr)
            print(f"TEST {label}: served crop {t['froc_served_crop']} (@1FP CI {t['sens1_served_crop_ci95']}) | mean over "
                  f"crops {t['froc_mean_over_crops']} | at threshold {thr:.4f}: {t['at_threshold_served_crop']} / "
                  f"{t['at_threshold_mean_over_crops']}", flush=True)
    report["fps"] = list(FPS)
    out = path if args.adopt else HERE / "runs" / f"detector_retrain_report{'_' + key if key else ''}.json"
    if args.adopt and res["adopt"]:
        if "test" not in report:
            raise SystemExit("--adopt writes the test numbers into the metrics: pass --test")
        shutil.copy(args.adopt, MODELS / "detector.onnx")
        meta = json.loads((MODELS / "detector.json").read_text())
        inf = meta["inference"]
        inf["views"] = [{"crop": "lungs", "margin": m, "size": s, "flip": f} for m, s, f in b["keys"]]
        if b["factor"] == 1.0:
            inf.pop("off_lungs", None)
        else:
            inf["off_lungs"] = {"dilate": 15, "factor": b["factor"]}
        inf["rule"] = ("re-chosen for the retrained network (training/detector_retrain_report.py): best JSRT "
                       "validation mean FROC (0.25-4 FP/image) over the served lung box and 6 jittered boxes per "
                       "image, among view sets costing at most two 448 px runs that do not lose on JSRT train")
        meta.update(version=time.strftime("%Y%m%d"), sha256=hashlib.sha256((MODELS / "detector.onnx").read_bytes()).hexdigest(),
                    score_threshold=round(thr_c, 4), inference=inf)
        meta.pop("source", None)
        (MODELS / "detector.json").write_text(json.dumps(meta, indent=2) + "\n")
        t = report["test"]["candidate"]
        metrics = {"split": "JSRT test (models/splits/jsrt.csv), read once after the choice on JSRT validation",
                   "test_images": t["images"], "test_lesions": t["nodules"], "fps": list(FPS),
                   "froc_served_crop": t["froc_served_crop"], "froc_mean_over_crops": t["froc_mean_over_crops"],
                   **{f"sens_at_{fp}_fp": {"sensitivity": t["froc_served_crop"][i]} for i, fp in enumerate(FPS)},
                   "sens_at_1fp_ci95": t["sens1_served_crop_ci95"],
                   "val_sens_at_1fp_mean_over_crops": b["val"]["sens1_mean_over_crops"],
                   "operating_threshold": round(thr_c, 4), "at_operating_threshold": t["at_threshold_served_crop"],
                   "at_operating_threshold_mean_over_crops": t["at_threshold_mean_over_crops"],
                   "training": args.training, "imgsz": meta["imgsz"]}
        (MODELS / "detector_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        print("adopted: models/detector.onnx, detector.json, detector_metrics.json", flush=True)
    if args.adopt:
        # The validation FROC of what is served after the decision, for the card's curve beside test's.
        v = b["val"] if res["adopt"] else res["served"]["val"]
        dm = json.loads((MODELS / "detector_metrics.json").read_text())
        dm.update(val_images=v["images"], val_lesions=v["nodules"], val_froc_served_crop=v["froc_served_crop"],
                  val_froc_mean_over_crops=v["froc_mean_over_crops"])
        (MODELS / "detector_metrics.json").write_text(json.dumps(dm, indent=2) + "\n")
    if key and out == path:
        report = {**json.loads(path.read_text()), key: report}
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
