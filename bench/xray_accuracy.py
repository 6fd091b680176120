"""Chest X-ray accuracy, through the serving code (ONNX Runtime), on the held-out TEST splits.

Prints: per-finding AUROC with 95% bootstrap CI and the mean (NIH test), lung and heart Dice (JSRT test),
nodule sensitivity at 1 false positive per image (JSRT test), gate accuracy on chest films vs non-chest images.
Run: .venv/bin/python bench/xray_accuracy.py [--split val|test] [--data /work/shared/datasets]
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVC = ROOT / "services" / "xray"
sys.path[:0] = [str(SVC), str(SVC / "training")]

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from metrics import auroc, bootstrap_ci, dice, mean_auroc_ci, sensitivity_at_fp  # noqa: E402

LABELS = ["Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
          "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia"]


def split_rows(name: str, part: str) -> list[str]:
    return [r["image"] for r in csv.DictReader(open(SVC / "models" / "splits" / f"{name}.csv")) if r["split"] == part]


def real_non_chest(analyzer) -> dict | None:
    """Real images that are not chest films: the sample data inside the scikit-image wheel (nothing downloaded).
    Colour images are tried as shipped (the colourfulness check) and as grayscale (the embedding gate)."""
    try:
        import skimage
    except ImportError:
        return None
    from app.errors import ServiceError
    folder = Path(skimage.__file__).parent / "data"
    files = sorted([*folder.glob("*.png"), *folder.glob("*.jpg")])
    out: dict[str, tuple[int, int, list[str]]] = {}
    for kind in ("as shipped", "grayscale"):
        refused, n, accepted = 0, 0, []
        for f in files:
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is None:
                continue
            if kind == "grayscale":
                gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
                if np.abs(img.astype(np.int16) - gray[..., None]).mean() < 2:
                    continue  # already gray: counted above
                data = cv2.imencode(".png", gray)[1].tobytes()
            else:
                data = f.read_bytes()
            n += 1
            try:
                analyzer.analyze(data, f.name, None)
                accepted.append(f.name)
            except ServiceError:
                refused += 1
        out[kind] = (refused, n, accepted)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="test", choices=["val", "test"])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("XRAY_DATA", "/work/shared/datasets")))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-gate", action="store_true")
    args = ap.parse_args()
    if not (args.data / "cxr_nih14").exists():
        print(f"datasets not found at {args.data}; nothing to measure")
        return
    from app.imaging import prepare_gray
    from app.analyzer import work_lungs
    from app.inference import ChestModel, Detector
    from app.measurements import resize_masks

    chest = ChestModel(threads=args.threads)
    det = Detector(threads=args.threads)

    # --- findings (NIH)
    names = split_rows("nih", args.split)
    labels = {r["image"]: r for r in csv.DictReader(open(args.data / "cxr_nih14" / "labels.csv"))}
    P, Y = [], []
    for i in range(0, len(names), 16):
        works = [prepare_gray(cv2.imread(str(args.data / "cxr_nih14" / n), cv2.IMREAD_GRAYSCALE)) for n in names[i:i + 16]]
        outs = chest.run(works)
        # as served: Nodule = max(network, detector) when chestnet.json has that detector head
        _, best = det.run_scored(works, lungs=[work_lungs(o, w.shape) for o, w in zip(outs, works)])
        for o, b, w in zip(outs, best, works):
            chest.apply_detector_heads(o, b, w.shape)
        P += [o.probs for o in outs]
    for n in names:
        r = labels[n]
        Y.append([float(r[l]) for l in LABELS] + [1.0 - float(r["no_finding"])])
    P, Y = np.array(P), np.array(Y)
    print(f"\n== Findings: NIH ChestX-ray14 {args.split} split, {len(names)} images (patient-disjoint)")
    print(f"{'finding':<20}{'AUROC':>7}  {'95% CI':<15}{'pos':>5}  {'thr':>6} {'sens':>6} {'spec':>6}")
    for k, lab in enumerate(LABELS + ["abnormal"]):
        a = auroc(Y[:, k], P[:, k])
        lo, hi = bootstrap_ci(Y[:, k], P[:, k])
        pos = Y[:, k] == 1
        thr = chest.thresholds.get(lab, 0.5)
        pred = P[:, k] >= thr
        sens = (pred & pos).sum() / max(1, pos.sum())
        spec = (~pred & ~pos).sum() / max(1, (~pos).sum())
        note = "  (few positives)" if pos.sum() < 8 else ""
        print(f"{lab:<20}{a:7.3f}  [{lo:.3f}, {hi:.3f}]{int(pos.sum()):>5}  {thr:6.3f} {sens:6.2f} {spec:6.2f}{note}")
    m, mlo, mhi = mean_auroc_ci(Y[:, :14], P[:, :14])
    print(f"{'mean (14 findings)':<20}{m:7.3f}  [{mlo:.3f}, {mhi:.3f}]")

    # --- segmentation (JSRT/SCR)
    names = split_rows("jsrt", args.split)
    D = {o: [] for o in ("left_lung", "right_lung", "heart")}
    for n in names:
        work = prepare_gray(cv2.imread(str(args.data / "cxr_jsrt_scr" / n), cv2.IMREAD_GRAYSCALE))
        out = chest.run([work])[0]
        masks = resize_masks(out.binary_masks, work.shape[1], work.shape[0])  # as served (sidecar thresholds)
        for k, o in enumerate(D):
            gt = cv2.imread(str(args.data / "cxr_jsrt_scr" / "masks" / o / Path(n).name), 0) > 127
            D[o].append(dice(masks[k], gt))
    print(f"\n== Segmentation: JSRT/SCR {args.split} split, {len(names)} images")
    rng = np.random.default_rng(0)
    for o, v in D.items():
        v = np.array(v)
        boots = [v[rng.integers(0, len(v), len(v))].mean() for _ in range(1000)]
        print(f"{o:<12} Dice {v.mean():.3f}  [{np.percentile(boots, 2.5):.3f}, {np.percentile(boots, 97.5):.3f}]  "
              f"min {v.min():.3f}")

    # --- nodules (JSRT + NIH boxes in this split)
    rows = {r["image"]: r for r in csv.DictReader(open(args.data / "cxr_jsrt_scr" / "labels.csv"))}
    dets, gts = [], []
    for n in names:
        r = rows[n]
        work = prepare_gray(cv2.imread(str(args.data / "cxr_jsrt_scr" / n), cv2.IMREAD_GRAYSCALE))
        # as served: the detector's lung views and lung-region filter read the chest network's masks
        lungs = [work_lungs(chest.run([work])[0], work.shape)] if det.needs_lungs else None
        dets.append([(d["score"], d["box"]) for d in det.run([work], conf=0.01, lungs=lungs)[0]])
        gts.append([[float(r[k]) for k in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")]] if r["label"] == "nodule" else [])
    print(f"\n== Nodules: JSRT {args.split} split, {len(names)} images, {sum(map(len, gts))} nodules")
    for fp in (0.25, 0.5, 1.0, 2.0, 4.0):
        s, t = sensitivity_at_fp(dets, gts, fp)
        print(f"sensitivity at {fp:>4} FP/image: {s:.3f} (score >= {t:.3f})")
    boots = []
    for _ in range(500):
        idx = rng.integers(0, len(dets), len(dets))
        if sum(len(gts[i]) for i in idx):
            boots.append(sensitivity_at_fp([dets[i] for i in idx], [gts[i] for i in idx], 1.0)[0])
    print(f"95% CI at 1 FP/image: [{np.percentile(boots, 2.5):.3f}, {np.percentile(boots, 97.5):.3f}]")

    # --- gate
    if not args.skip_gate:
        from calibrate_gate import gate_eval
        from app.analyzer import AnalyzerConfig, XrayAnalyzer
        res = gate_eval(XrayAnalyzer(AnalyzerConfig(threads=args.threads, include_masks=False,
                                                    include_heatmaps=False)))
        print("\n== Gate: held-out test chest films vs synthetic non-chest images")
        print(f"chest films accepted: {res['cxr']['accepted']}/{res['cxr']['n']} ({res['cxr']['acceptance_rate']:.3f})")
        for kind, r in res["non_cxr"].items():
            print(f"  {kind:<16} refused {r['refused']}/{r['n']}")
        print(f"non-chest refused: {res['non_cxr_refusal_rate']:.3f}; accuracy {res['accuracy']:.3f}; "
              f"balanced accuracy {res['balanced_accuracy']:.3f}")
        real = real_non_chest(XrayAnalyzer(AnalyzerConfig(threads=args.threads, include_masks=False,
                                                          include_heatmaps=False)))
        if real is None:
            print("\n(scikit-image not installed: no real non-chest images to test the gate on)")
        else:
            print("\n== Gate: real non-chest images (scikit-image's bundled photos, micrographs, fundus, documents, "
                  "phantom), as shipped and converted to grayscale")
            for kind, (refused, n, accepted) in real.items():
                print(f"  {kind:<16} refused {refused}/{n}" + (f"  accepted: {', '.join(accepted)}" if accepted else ""))


if __name__ == "__main__":
    main()
