"""Test-time augmentation for the committed chest network, measured on the same validation splits as
``refit_heads_extra.py`` (``nih14-only`` = cxr_nih14 val films; ``mixed`` = those + the extra set's val patients).

Views of the working image: the original, a horizontal flip, centre crops (multi-crop) and a slight zoom-out. Each
view runs the serving ``ChestModel`` (measurement heads included, so Cardiomegaly comes from the CTR head of the
original view only); probabilities are averaged over the views. Test films are never read.

    nice -n 19 .venv/bin/python services/xray/training/findings_tta_explore.py
"""
from __future__ import annotations

import itertools
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
SVC = HERE.parent
sys.path.insert(0, str(SVC))
sys.path.insert(0, str(HERE))
from metrics import auroc  # noqa: E402
from refit_heads_extra import FINDINGS, split_all  # noqa: E402

DATA = Path(os.environ.get("XRAY_DATA", "/work/shared/datasets"))


def crop_view(work: np.ndarray, frac: float, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    h, w = work.shape
    ch, cw = int(round(h * frac)), int(round(w * frac))
    y0 = int(round((h - ch) / 2 + dy * (h - ch) / 2))
    x0 = int(round((w - cw) / 2 + dx * (w - cw) / 2))
    return work[y0:y0 + ch, x0:x0 + cw]


def pad_view(work: np.ndarray, frac: float) -> np.ndarray:
    h, w = work.shape
    ph, pw = int(round(h * frac / 2)), int(round(w * frac / 2))
    return cv2.copyMakeBorder(work, ph, ph, pw, pw, cv2.BORDER_REPLICATE)


VIEWS = {
    "orig": lambda w: w,
    "flip": lambda w: np.ascontiguousarray(w[:, ::-1]),
    "crop90": lambda w: crop_view(w, 0.9),
    "crop80": lambda w: crop_view(w, 0.8),
    "crop90_up": lambda w: crop_view(w, 0.9, dy=-1.0),
    "crop90_down": lambda w: crop_view(w, 0.9, dy=1.0),
    "pad10": lambda w: pad_view(w, 0.1),
}


def main() -> None:
    from app.imaging import load_image, prepare_gray
    from app.inference import ChestModel

    rows = [r for r in split_all(DATA) if r["split"] == "val"]
    cache = HERE / "cache" / "findings_tta_val.npz"
    if cache.exists():
        z = np.load(cache)
        P = {k: z[k] for k in VIEWS}
    else:
        model = ChestModel(SVC / "models" / "chestnet.onnx", threads=1)
        P = {k: [] for k in VIEWS}
        t0 = time.process_time()
        for r in rows:
            work = prepare_gray(load_image(Path(r["path"]).read_bytes(), r["path"], "image/png").gray)
            for k, fn in VIEWS.items():
                P[k].append(model.run([fn(work)])[0].probs)
        print(f"{len(rows)} films x {len(VIEWS)} views, {(time.process_time() - t0) / len(rows) / len(VIEWS) * 1e3:.0f} ms "
              f"CPU per view", flush=True)
        P = {k: np.asarray(v, np.float32) for k, v in P.items()}
        cache.parent.mkdir(exist_ok=True)
        np.savez(cache, **P)
    Y = np.array([[float(r[k]) for k in FINDINGS] for r in rows])
    nih = np.array([not r["folder"].startswith("extra/") for r in rows])
    ic = FINDINGS.index("Cardiomegaly")

    def evaluate(views: tuple[str, ...]) -> tuple[float, float, dict]:
        S = np.mean([P[v] for v in views], axis=0)
        S[:, ic] = P["orig"][:, ic]  # the CTR measurement head reads the original view's masks
        per, mix, only = {}, [], []
        for k, name in enumerate(FINDINGS):
            y = Y[:, k]
            if y.sum() < 2 or y[nih].sum() < 1 or y[nih].sum() == nih.sum():
                continue
            a_mix, a_nih = auroc(y, S[:, k]), auroc(y[nih], S[nih, k])
            if np.isnan(a_mix) or np.isnan(a_nih):
                continue
            per[name] = (round(a_nih, 3), round(a_mix, 3))
            mix.append(a_mix)
            only.append(a_nih)
        return float(np.mean(only)), float(np.mean(mix)), per

    print(f"val films: mixed {len(rows)}, nih14-only {nih.sum()}")
    res = {}
    names = [k for k in VIEWS if k != "orig"]
    combos = [("orig",)] + [("orig", v) for v in names] + [("orig",) + c for c in itertools.combinations(names, 2)] \
        + [tuple(VIEWS)]
    base = evaluate(("orig",))
    for c in combos:
        a_nih, a_mix, per = evaluate(c)
        res["+".join(c)] = {"nih14": round(a_nih, 4), "mixed": round(a_mix, 4), "per_finding_nih_mixed": per}
        flag = "  <- beats orig on both" if a_nih > base[0] and a_mix >= base[1] else ""
        print(f"{'+'.join(c):40s} nih14-only {a_nih:.4f}  mixed {a_mix:.4f}{flag}", flush=True)
    print("findings in the mean:", len(base[2]))
    (HERE / "runs").mkdir(exist_ok=True)
    (HERE / "runs" / "findings_tta.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
