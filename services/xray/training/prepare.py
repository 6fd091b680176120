"""Patient-disjoint splits + a cache of windowed images and masks (one pass over the data).

Writes  models/splits/{nih,jsrt,covid}.csv  (committed: file, patient, split)
and     training/cache/chest256.npz, training/cache/work/<src>/<name>.png (windowed working images, never committed).

The cache also holds the labelled films of ``cxr_nih14_extra/`` (src ``cxr_nih14_extra``) with the committed
patient-level split across all NIH folders, ``models/splits/nih_extra.csv`` (written by refit_heads_extra.py: a
``cxr_nih14/`` patient keeps their split; extra films of test patients are not in it and are never cached). ``view``
records AP/PA ("" where NIH's table has none) for view weighting in train_chest.py.
"""
from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
SVC = HERE.parent
sys.path.insert(0, str(SVC))
from app.imaging import CLS_SIZE, prepare_gray, to_network_input  # noqa: E402

DATA = Path(__import__("os").environ.get("XRAY_DATA", "/work/shared/datasets"))
SPLITS = SVC / "models" / "splits"
CACHE = HERE / "cache"
LABELS = ["Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
          "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia"]
ORGANS = ["left_lung", "right_lung", "heart"]
SEED = 20240601


def _assign(patients: list[str], fractions=(0.6, 0.2, 0.2), seed: int = SEED) -> dict[str, str]:
    ps = sorted(set(patients))
    random.Random(seed).shuffle(ps)
    n = len(ps)
    a, b = round(n * fractions[0]), round(n * (fractions[0] + fractions[1]))
    return {p: ("train" if i < a else "val" if i < b else "test") for i, p in enumerate(ps)}


def _stratified_nih(rows: list[dict]) -> dict[str, str]:
    """Random patient split, re-drawn until every finding has >=2 positives in val and in test (if it can)."""
    pats = [r["image"][7:15] for r in rows]
    best, best_score = None, -1
    for k in range(200):
        sp = _assign(pats, seed=SEED + k)
        score = 0
        for lab in LABELS:
            for part in ("val", "test"):
                pos = sum(int(r[lab]) for r, p in zip(rows, pats) if sp[p] == part)
                score += min(pos, 4)
        if score > best_score:
            best, best_score = sp, score
    return best


def write_splits() -> None:
    SPLITS.mkdir(parents=True, exist_ok=True)
    nih = list(csv.DictReader(open(DATA / "cxr_nih14" / "labels.csv")))
    sp = _stratified_nih(nih)
    with open(SPLITS / "nih.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "patient", "split"])
        for r in nih:
            w.writerow([r["image"], r["image"][7:15], sp[r["image"][7:15]]])
    js = list(csv.DictReader(open(DATA / "cxr_jsrt_scr" / "labels.csv")))
    # JSRT: one image per patient; stratify nodule/normal so both sides have nodules.
    sp = {}
    for lab in ("nodule", "normal"):
        sp.update(_assign([r["case_id"] for r in js if r["label"] == lab], (0.7, 0.15, 0.15)))
    with open(SPLITS / "jsrt.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "patient", "split"])
        for r in js:
            w.writerow([r["image"], r["case_id"], sp[r["case_id"]]])
    cv_ = list(csv.DictReader(open(DATA / "cxr_covid_permissive" / "labels.csv")))
    sp = _assign([r["patientid"] for r in cv_], (0.6, 0.2, 0.2))
    with open(SPLITS / "covid.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "patient", "split"])
        for r in cv_:
            w.writerow([r["image"], r["patientid"], sp[r["patientid"]]])


def read_split(name: str) -> dict[str, str]:
    return {r["image"]: r["split"] for r in csv.DictReader(open(SPLITS / f"{name}.csv"))}


def build_cache() -> None:
    """Chest-network arrays at CLS_SIZE for all sources + windowed working PNGs for the detector."""
    CACHE.mkdir(parents=True, exist_ok=True)
    X, Y, M, S, SRC, NAMES, SEGMASK, VIEW = [], [], [], [], [], [], [], []
    nan = np.full(15, np.nan, dtype=np.float32)

    def add(src: str, rel: str, y: np.ndarray, split: str, masks: np.ndarray | None, view: str = "",
            folder: str | None = None):
        gray = cv2.imread(str(DATA / (folder or src) / rel), cv2.IMREAD_GRAYSCALE)
        work = prepare_gray(gray)
        out = CACHE / "work" / (folder or src) / Path(rel).name
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), work)
        X.append((to_network_input(work)[0] * 255).round().astype(np.uint8))
        Y.append(y)
        S.append(split)
        SRC.append(src)
        NAMES.append(rel)
        VIEW.append(view)
        if masks is None:
            M.append(np.zeros((3, CLS_SIZE, CLS_SIZE), np.uint8))
            SEGMASK.append(0)
        else:
            M.append(masks)
            SEGMASK.append(1)

    sp = read_split("nih")
    for r in csv.DictReader(open(DATA / "cxr_nih14" / "labels.csv")):
        y = np.array([float(r[l]) for l in LABELS] + [1.0 - float(r["no_finding"])], np.float32)
        add("cxr_nih14", r["image"], y, sp[r["image"]], None, r.get("view", ""))
    extra = [r for r in csv.DictReader(open(SPLITS / "nih_extra.csv")) if r["folder"].startswith("extra/")]
    labels = {}
    for sub in sorted({r["folder"] for r in extra}):
        for r in csv.DictReader(open(DATA / "cxr_nih14_extra" / sub[len("extra/"):] / "labels.csv")):
            labels[(sub, r["image"])] = r
    for e in extra:
        r = labels[(e["folder"], e["image"])]
        y = np.array([float(r[l]) for l in LABELS] + [1.0 - float(r["no_finding"])], np.float32)
        add("cxr_nih14_extra", r["image"], y, e["split"], None, r.get("view", ""),
            folder="cxr_nih14_extra/" + e["folder"][len("extra/"):])
    sp = read_split("jsrt")
    for r in csv.DictReader(open(DATA / "cxr_jsrt_scr" / "labels.csv")):
        y = nan.copy()
        if r["label"] == "nodule":
            y[LABELS.index("Nodule")] = 1.0
            y[14] = 1.0
        else:
            y[:] = 0.0
        name = Path(r["image"]).name
        ms = []
        for o in ORGANS:
            m = cv2.imread(str(DATA / "cxr_jsrt_scr" / "masks" / o / name), cv2.IMREAD_GRAYSCALE)
            ms.append((cv2.resize(m, (CLS_SIZE, CLS_SIZE), interpolation=cv2.INTER_AREA) > 127).astype(np.uint8))
        add("cxr_jsrt_scr", r["image"], y, sp[r["image"]], np.stack(ms))
    sp = read_split("covid")
    for r in csv.DictReader(open(DATA / "cxr_covid_permissive" / "labels.csv")):
        y = nan.copy()
        if r["finding"] == "No Finding":
            y[:] = 0.0
        else:
            y[LABELS.index("Pneumonia")] = 1.0
            y[14] = 1.0
        add("cxr_covid_permissive", r["image"], y, sp[r["image"]], None)
    np.savez_compressed(CACHE / "chest256.npz", x=np.stack(X), y=np.stack(Y), m=np.stack(M),
                        split=np.array(S), src=np.array(SRC), name=np.array(NAMES), segmask=np.array(SEGMASK),
                        view=np.array(VIEW))
    print("cached", len(X), "images")


if __name__ == "__main__":
    write_splits()
    build_cache()
