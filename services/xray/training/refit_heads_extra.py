"""Experiment (issue 17, part 1, the CPU-cheap end): do the 1,001 extra NIH films help the findings heads?

Without retraining the backbone (no torch here; it runs in the service venv): the committed chest network embeds
every labelled NIH film in ``cxr_nih14/`` and ``cxr_nih14_extra/``; an L2 logistic head per finding is fitted on the
train split's embeddings, with sample weights that give AP and PA films equal total weight (the extra set is
65% AP and pneumonia-enriched); the L2 strength is picked on the mixed validation split. Each refitted head is
compared with the committed network head on two validation splits:

* ``nih14-only``: the committed split's ``val`` films of ``cxr_nih14/`` (the backbone never trained on them);
* ``mixed``: those plus the validation patients of the extra set.

It also scores an ensemble of the two heads (the sum of their logits, each standardised on train), which is itself
one linear head on the embedding and so would cost nothing at serving time.

Split (patient level, across all folders): ``cxr_nih14/`` keeps the committed ``models/splits/nih.csv``
(train/val/test); an extra patient who also has films there inherits that patient's split; the other extra
patients are split 80/20 train/val per view (seeded). Written to ``models/splits/nih_extra.csv``.
Test films are never read. Nothing is exported: the script prints the comparison and writes
``training/runs/refit_heads_extra.json``; adoption and export are a separate, deliberate step.

    .venv/bin/python services/xray/training/refit_heads_extra.py [--data ../shared/datasets] [--limit N]
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
from metrics import auroc  # noqa: E402

FINDINGS = ["Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
            "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia"]
SEED = 17
# L2 strengths (the loss is a weighted mean: each class sums to weight 0.5). A first run over 0.001..1 picked the
# strongest one for every finding, so the grid goes further.
LAMBDAS = (0.3, 1.0, 3.0, 10.0, 30.0)


def read_rows(folder: Path) -> list[dict]:
    with open(folder / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["path"] = str(folder / r["image"])
        r["patient"] = Path(r["image"]).name[:8]
        r["folder"] = folder.name if folder.parent.name != "cxr_nih14_extra" else f"extra/{folder.name}"
    return rows


def split_all(data: Path) -> list[dict]:
    nih = read_rows(data / "cxr_nih14")
    committed = {}
    with open(SVC / "models" / "splits" / "nih.csv", newline="") as f:
        for r in csv.DictReader(f):
            committed[r["image"]] = r["split"]
    by_patient: dict[str, str] = {}
    for r in nih:
        r["split"] = committed[r["image"]]
        by_patient.setdefault(r["patient"], r["split"])
    extra = [r for sub in ("darkcovidnet", "misc") for r in read_rows(data / "cxr_nih14_extra" / sub)]
    rng = np.random.default_rng(SEED)
    free = sorted({r["patient"] for r in extra} - set(by_patient))
    view_of = {}
    for r in extra:
        view_of.setdefault(r["patient"], r.get("view") or "unknown")
    for view in sorted(set(view_of[p] for p in free)):
        pats = [p for p in free if view_of[p] == view]
        rng.shuffle(pats)
        n_val = int(round(0.2 * len(pats)))
        for i, p in enumerate(pats):
            by_patient[p] = "val" if i < n_val else "train"
    for r in extra:
        r["split"] = by_patient[r["patient"]]
    return nih + extra


def embed(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    from app.imaging import load_image, prepare_gray
    from app.inference import ChestModel

    model = ChestModel(SVC / "models" / "chestnet.onnx", threads=int(os.environ.get("THREADS", "1")))
    E, P = [], []
    for i in range(0, len(rows), 8):
        works = [prepare_gray(load_image(Path(r["path"]).read_bytes(), r["path"], "image/png").gray)
                 for r in rows[i:i + 8]]
        for o in model.run(works):
            E.append(o.embedding)
            P.append(o.probs)
    return np.asarray(E, np.float32), np.asarray(P, np.float32)


def fit_logistic(Z: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression (bias unpenalised), L-BFGS; classes balanced through the weights."""
    from scipy.optimize import minimize  # here, so split_all() imports in the training venv (no scipy)
    pos = y == 1
    wb = w * np.where(pos, 0.5 / max(w[pos].sum(), 1e-9), 0.5 / max(w[~pos].sum(), 1e-9))

    def f(theta):
        beta, b = theta[:-1], theta[-1]
        z = Z @ beta + b
        loss = np.sum(wb * (np.logaddexp(0, z) - y * z)) + 0.5 * lam * beta @ beta
        p = 1 / (1 + np.exp(-z))
        g = wb * (p - y)
        return loss, np.concatenate([Z.T @ g + lam * beta, [g.sum()]])

    res = minimize(f, np.zeros(Z.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 300})
    return res.x[:-1], float(res.x[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("ZHENXI_DATASETS", SVC.parent.parent.parent
                                                                     / "shared" / "datasets")))
    ap.add_argument("--limit", type=int, default=0, help="debug: at most N films")
    ap.add_argument("--no-view-weights", action="store_true", help="ablation: every training film weighs 1")
    ap.add_argument("--nih14-train-only", action="store_true",
                    help="ablation: fit on cxr_nih14's train films only (does the extra data help, or the refit?)")
    ap.add_argument("--tag", default="", help="suffix of the results file")
    args = ap.parse_args()
    rows = [r for r in split_all(args.data) if r["split"] in ("train", "val")]  # test films are never read
    if args.limit:
        rows = rows[:: max(1, len(rows) // args.limit)]
    out_split = SVC / "models" / "splits" / "nih_extra.csv"
    with open(out_split, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["image", "folder", "patient", "view", "split"])
        for r in rows:
            wr.writerow([r["image"], r["folder"], r["patient"], r.get("view", ""), r["split"]])
    cache = HERE / "cache" / "nih_extra_embeddings.npz"
    images = np.array([r["folder"] + "/" + r["image"] for r in rows])
    if cache.exists() and np.array_equal(np.load(cache)["images"], images):
        E, P = np.load(cache)["E"], np.load(cache)["P"]
    else:
        t0 = time.perf_counter()
        E, P = embed(rows)
        print(f"embedded {len(rows)} films in {time.perf_counter() - t0:.0f} s")
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, images=images, E=E, P=P)
    Y = np.array([[float(r[k]) for k in FINDINGS] for r in rows])
    split = np.array([r["split"] for r in rows])
    extra = np.array([r["folder"].startswith("extra/") for r in rows])
    view = np.array([r.get("view") or "unknown" for r in rows])
    tr, va_mix = split == "train", split == "val"
    if args.nih14_train_only:
        tr = tr & ~extra
    va_nih = va_mix & ~extra
    counts = {v: int((tr & (view == v)).sum()) for v in np.unique(view[tr])}
    # Each view group (AP, PA, and the cxr_nih14 films whose view is not recorded) gets the same total weight.
    w = np.array([tr.sum() / (len(counts) * counts[v]) if v in counts else 1.0 for v in view])
    if args.no_view_weights:
        w = np.ones(len(rows))
    mu, sd = E[tr].mean(0), E[tr].std(0) + 1e-6
    Z = (E - mu) / sd
    print(f"train {tr.sum()} films ({int((tr & extra).sum())} extra; views {counts}), "
          f"val mixed {va_mix.sum()} ({int((va_mix & extra).sum())} extra), val nih14-only {va_nih.sum()}")
    report = {"variant": {"view_weights": not args.no_view_weights, "nih14_train_only": args.nih14_train_only},
              "split": str(out_split.relative_to(SVC)), "train": int(tr.sum()), "val_mixed": int(va_mix.sum()),
              "val_nih14": int(va_nih.sum()), "findings": {}}
    print(f"{'finding':<20}{'pos tr/va':>10}{'net mix':>9}{'refit mix':>10}{'net nih':>9}{'refit nih':>10}"
          f"{'blend mix':>10}{'blend nih':>10}  lam")
    means = {"net_mix": [], "refit_mix": [], "net_nih": [], "refit_nih": [], "blend_mix": [], "blend_nih": []}
    for k, name in enumerate(FINDINGS):
        y = Y[:, k]
        if y[tr].sum() < 3 or y[va_mix].sum() < 2:
            continue
        best = None
        for lam in LAMBDAS:
            beta, b = fit_logistic(Z[tr], y[tr], w[tr], lam)
            s = Z @ beta + b
            a = auroc(y[va_mix], s[va_mix])
            if best is None or a > best[0]:
                best = (a, lam, s)
        a_mix, lam, s = best
        n_mix, n_nih = auroc(y[va_mix], P[va_mix, k]), auroc(y[va_nih], P[va_nih, k])
        a_nih = auroc(y[va_nih], s[va_nih])
        # Ensemble of the two linear heads on the same embedding: the sum of their logits, each standardised on
        # train (their scales differ a lot). Affine in the embedding, so itself one linear head: free at serving.
        pk = np.clip(P[:, k].astype(np.float64), 1e-6, 1 - 1e-6)
        net_logit = np.log(pk / (1 - pk))
        blend = ((net_logit - net_logit[tr].mean()) / (net_logit[tr].std() + 1e-9)
                 + (s - s[tr].mean()) / (s[tr].std() + 1e-9))
        b_mix, b_nih = auroc(y[va_mix], blend[va_mix]), auroc(y[va_nih], blend[va_nih])
        report["findings"][name] = {"pos_train": int(y[tr].sum()), "pos_val_mixed": int(y[va_mix].sum()),
                                    "pos_val_nih14": int(y[va_nih].sum()), "network_mixed": round(n_mix, 4),
                                    "refit_mixed": round(a_mix, 4), "network_nih14": round(n_nih, 4),
                                    "refit_nih14": round(a_nih, 4), "blend_mixed": round(b_mix, 4),
                                    "blend_nih14": round(b_nih, 4), "lambda": lam}
        print(f"{name:<20}{int(y[tr].sum()):>5}/{int(y[va_mix].sum()):<4}{n_mix:>9.3f}{a_mix:>10.3f}"
              f"{n_nih:>9.3f}{a_nih:>10.3f}{b_mix:>10.3f}{b_nih:>10.3f}  {lam:g}")
        if not np.isnan(n_nih) and not np.isnan(a_nih):
            means["net_mix"].append(n_mix)
            means["refit_mix"].append(a_mix)
            means["net_nih"].append(n_nih)
            means["refit_nih"].append(a_nih)
            means["blend_mix"].append(b_mix)
            means["blend_nih"].append(b_nih)
    report["mean"] = {k: round(float(np.mean(v)), 4) for k, v in means.items() if v}
    report["mean_over"] = len(means["net_nih"])
    print("mean over", report["mean_over"], "findings:", report["mean"])
    (HERE / "runs").mkdir(exist_ok=True)
    (HERE / "runs" / f"refit_heads_extra{args.tag}.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
