"""Train the semantic emergency detector (app/emergency.py) and record how it generalises.

Data: the labelled question files in bench/data listed in TRAIN_FILES (urgency == "emergency" is the positive
class). The blind set nlp_questions_test3.jsonl is never read here. Each file was written by a different author
(people or helpers who never saw the lexicon), so leave-one-file-out cross-validation measures recall on phrasing
from an unseen writer. The threshold is the highest one whose cross-validated recall is >= TARGET_RECALL; the final
model is then fit on all files. L2 logistic regression by Newton's method, positives re-weighted to balance.

    .venv/bin/python services/nlp/training/train_emergency.py
writes services/nlp/models/emergency_head.npz (weights, threshold) and emergency_head.json (data, CV metrics).
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

SVC = Path(__file__).resolve().parents[1]
ROOT = SVC.parents[1]
sys.path.insert(0, str(SVC))

from app.emergency import HASH_DIM, MODEL_PATH, features  # noqa: E402
from app.retrieval import DenseEncoder  # noqa: E402

DATA = ROOT / "bench" / "data"
TRAIN_FILES = ["nlp_questions.jsonl", "nlp_questions_dev.jsonl", "nlp_questions_dev2.jsonl",
               "nlp_questions_dev3.jsonl", "nlp_emergency_dev.jsonl", "nlp_emergency_train_a.jsonl",
               "nlp_emergency_train_b.jsonl"]
L2 = 0.3
TARGET_RECALL = 0.9       # base threshold: used when the rules found nothing reassuring
STRICT_FPR = 0.01         # strict threshold: used when the rules recognised the text and judged it benign


def fit(X: np.ndarray, y: np.ndarray, l2: float = L2, iters: int = 25) -> np.ndarray:
    Xb = np.hstack([X, np.ones((len(X), 1), X.dtype)]).astype(np.float64)
    w = np.zeros(Xb.shape[1])
    sw = np.where(y == 1, (len(y) - y.sum()) / max(1.0, y.sum()), 1.0)
    R = l2 * np.eye(Xb.shape[1])
    R[-1, -1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-Xb @ w))
        g = Xb.T @ (sw * (p - y)) + R @ w
        H = (Xb * (sw * p * (1 - p))[:, None]).T @ Xb + R
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def predict(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(X @ w[:-1] + w[-1])))


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    return float(((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg)))


def main() -> None:
    rows = []
    digests = {}
    for name in TRAIN_FILES:
        raw = (DATA / name).read_bytes()
        digests[name] = hashlib.sha256(raw).hexdigest()[:16]
        rows += [dict(json.loads(line), src=name) for line in raw.decode("utf-8").splitlines() if line.strip()]
    texts = [r["text"] for r in rows]
    y = np.array([r["emergency"] if "emergency" in r else r["urgency"] == "emergency" for r in rows], float)
    src = np.array([r["src"] for r in rows])
    X = features(DenseEncoder(threads=2), texts, HASH_DIM)
    P = np.zeros(len(y))
    per_file = {}
    for name in TRAIN_FILES:
        te = src == name
        w = fit(X[~te], y[~te])
        P[te] = predict(w, X[te])
        per_file[name] = {"n": int(te.sum()), "emergencies": int(y[te].sum()), "auroc": round(auroc(y[te], P[te]), 4)}
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    curve = [(float(t), float((P[y == 1] >= t).mean()), float((P[y == 0] >= t).mean())) for t in grid]
    ok = [c for c in curve if c[1] >= TARGET_RECALL]
    threshold, cv_recall, cv_fpr = max(ok, key=lambda c: c[0]) if ok else curve[0]
    calm = [c for c in curve if c[2] <= STRICT_FPR]
    strict, strict_recall, strict_fpr = min(calm, key=lambda c: c[0]) if calm else curve[-1]
    for name in TRAIN_FILES:
        te = src == name
        per_file[name].update(recall=round(float((P[te & (y == 1)] >= threshold).mean()), 4),
                              false_positive_rate=round(float((P[te & (y == 0)] >= threshold).mean()), 4))
    w = fit(X, y)
    MODEL_PATH.parent.mkdir(exist_ok=True)
    np.savez(MODEL_PATH, weights=w[:-1].astype(np.float32), bias=np.float32(w[-1]), threshold=np.float32(threshold),
             threshold_strict=np.float32(strict), hash_dim=np.int32(HASH_DIM))
    meta = {"model": "emergency_head", "features": f"USE-multilingual-v3 (512) + hashed char 1-3-grams ({HASH_DIM})",
            "l2": L2, "train_files": digests, "n": int(len(y)), "emergencies": int(y.sum()),
            "threshold": threshold, "threshold_rule": f"highest threshold with leave-one-file-out recall >= {TARGET_RECALL}",
            "threshold_strict": strict,
            "threshold_strict_rule": f"lowest threshold with leave-one-file-out false-positive rate <= {STRICT_FPR}",
            "cv_at_strict": {"recall": round(strict_recall, 4), "false_positive_rate": round(strict_fpr, 4)},
            "cv_leave_one_file_out": {"auroc": round(auroc(y, P), 4), "recall": round(cv_recall, 4),
                                      "false_positive_rate": round(cv_fpr, 4), "per_file": per_file},
            "sha256": hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()}
    MODEL_PATH.with_suffix(".json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(meta["cv_leave_one_file_out"], indent=2, ensure_ascii=False))
    print(f"threshold {threshold}: CV recall {cv_recall:.3f}, CV false-positive rate {cv_fpr:.3f}")
    print(f"strict threshold {strict}: CV recall {strict_recall:.3f}, CV false-positive rate {strict_fpr:.3f}")


if __name__ == "__main__":
    main()
