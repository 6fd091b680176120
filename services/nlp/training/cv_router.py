"""Balanced cross-validation of the department router, for choices made without the real test split.

The real questions of the train and dev parts (``real_questions.py``; the test part is never read here) are cut into
K stratified folds: within each department, the questions ordered by their split hash go to folds 0, 1, ..., K-1 in
turn, so that even a department of 5 questions is spread over the folds. Each fold is predicted by a model fitted on
the other folds plus every written set that is not a test set (as ``train_router.py`` trains). Printed, per
department and macro-averaged (every department counts the same, as in the issue's held-out set of 25 per
department):

- ``model``: the learned router alone (out of fold, temperature fitted on the out-of-fold scores);
- ``triage``: the full triage (rules + the out-of-fold probabilities at the blend weight), which is what a patient
  gets; optionally also the written sets scored out of fold (leave-one-file-out) for the departments outside
  internal medicine.

    .venv/bin/python services/nlp/training/cv_router.py --ngrams 1-3 --power 0.75 --C 32 [--triage] [--written]

Everything is printed; nothing is written except the embedding cache (.zhenxi/cache, gitignored).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy import sparse  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import real_questions  # noqa: E402
import train_router as tr  # noqa: E402


def folds_of(questions: list[real_questions.RealQuestion], k: int) -> np.ndarray:
    by_dept: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(questions):
        by_dept[q.department].append(i)
    fold = np.zeros(len(questions), int)
    for idx in by_dept.values():
        for r, i in enumerate(sorted(idx, key=lambda i: questions[i].hash)):
            fold[i] = r % k
    return fold


def written_rows() -> list[tuple[str, str, str]]:
    rows = []
    for name in tr.WRITTEN:
        for line in (tr.DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                if r["department"] != "emergency":
                    rows.append((r["text"], r["department"], name))
    return rows


def per_department(ranked: list[list[str]], gold: list[str]) -> dict[str, list[int]]:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for ids, g in zip(ranked, gold):
        per[g][0] += 1
        per[g][1] += ids[:1] == [g]
        per[g][2] += g in ids[:3]
    return per


RECORD: dict[str, dict] = {}


def show(label: str, per: dict[str, list[int]], brief: bool = False) -> tuple[float, float]:
    m1 = statistics.mean(a / n for n, a, _ in per.values())
    m3 = statistics.mean(b / n for n, _, b in per.values())
    RECORD[label] = {"macro_top1": round(m1, 4), "macro_top3": round(m3, 4),
                     "per_department": {d: {"n": n, "top1": round(a / n, 3), "top3": round(b / n, 3)}
                                        for d, (n, a, b) in sorted(per.items(), key=lambda kv: -kv[1][0])}}
    line = "  ".join(f"{d[:5]}({n}) {a / n:.2f}/{b / n:.2f}" for d, (n, a, b) in
                     sorted(per.items(), key=lambda kv: -kv[1][0]))
    print(f"{label}: macro top-1 {m1:.3f} top-3 {m3:.3f}" + ("" if brief else f"\n    {line}"), flush=True)
    return m1, m3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--ngrams", default="1-3", help="character n-gram range, e.g. 1-3 or 1-4")
    ap.add_argument("--C", type=float, default=32.0)
    ap.add_argument("--power", type=float, default=0.75, help="sample weight (mean / class size) ** power")
    ap.add_argument("--clf", default="lr", choices=["lr", "svm", "cnb"])
    ap.add_argument("--no-use", action="store_true", help="character n-grams only")
    ap.add_argument("--tau", default="0", help="logit adjustment(s) towards a flat prior, comma-separated")
    ap.add_argument("--triage", action="store_true", help="also score the full triage with the out-of-fold probs")
    ap.add_argument("--blend", default="1.5", help="blend weight(s) for --triage, comma-separated")
    ap.add_argument("--written", action="store_true", help="also the written sets, leave-one-file-out (triage)")
    ap.add_argument("--written-only", action="store_true", help="with --triage --written: skip the real questions")
    ap.add_argument("--save", action="store_true",
                    help="then fit on all of train+dev and the written sets with the first --tau and --blend, and "
                         "write models/router.npz + router.json (temperature from the out-of-fold scores)")
    args = ap.parse_args()
    t0, c0 = time.time(), time.process_time()
    lo, hi = (int(x) for x in args.ngrams.split("-"))
    ngrams = tuple(range(lo, hi + 1))
    real = [q for q in real_questions.load() if q.split in ("train", "dev")]
    written = written_rows()
    texts = [q.text for q in real] + [w[0] for w in written]
    y = np.array([q.department for q in real] + [w[1] for w in written])
    src = np.array(["real"] * len(real) + [w[2] for w in written])
    n_real = len(real)
    fold = folds_of(real, args.k)
    E = tr.embed(texts)
    rows, cols, vals = [], [], []
    for i, t in enumerate(texts):
        for key, c in tr.gram_counts(t, tr.HASH_DIM, ngrams).items():
            rows.append(i)
            cols.append(key)
            vals.append(1.0 + np.log(c))
    G = sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), tr.HASH_DIM), dtype=np.float32)
    print(f"{n_real} real (train+dev) in {args.k} folds + {len(written)} written; ngrams {ngrams} clf {args.clf} "
          f"C {args.C} power {args.power}; features {time.time() - t0:.0f}s", flush=True)

    def fit_predict(train_idx: np.ndarray, test_idx: np.ndarray) -> tuple[np.ndarray, list[str], dict[str, int]]:
        idf = tr.idf_of(G[train_idx])
        X = tr.design(E, G, idf, 0.0 if args.no_use else 1.0)
        if args.no_use:
            X = X[:, 512:]
        yt = list(y[train_idx])
        sw = tr.class_weights(yt, args.power)
        if args.clf == "lr":
            from sklearn.linear_model import LogisticRegression
            m = LogisticRegression(C=args.C, max_iter=400, tol=1e-4).fit(X[train_idx], yt, sample_weight=sw)
            Z = m.decision_function(X[test_idx])
        elif args.clf == "svm":
            from sklearn.svm import LinearSVC
            m = LinearSVC(C=args.C).fit(X[train_idx], yt, sample_weight=sw)
            Z = m.decision_function(X[test_idx])
        else:
            from sklearn.naive_bayes import ComplementNB
            Xg = X[:, -tr.HASH_DIM:]
            m = ComplementNB(alpha=args.C).fit(Xg[train_idx], yt, sample_weight=sw)
            Z = m.predict_log_proba(Xg[test_idx])
        return Z, [str(c) for c in m.classes_], Counter(yt)

    oof_Z = None
    classes: list[str] = []
    counts: Counter = Counter()
    import hashlib

    key = hashlib.sha256(json.dumps([args.k, args.ngrams, args.C, args.power, args.clf, args.no_use, texts,
                                     list(y)]).encode()).hexdigest()[:16]
    cached = tr.CACHE / f"router-cv-oof-{key}.npz"
    if cached.exists():
        with np.load(cached) as z:
            oof_Z, classes, counts = z["Z"], [str(c) for c in z["classes"]], Counter(json.loads(str(z["counts"])))
        print("  out-of-fold scores from the cache", flush=True)
    for f in range(args.k if oof_Z is None else 0):
        train_idx = np.where(np.r_[fold != f, np.ones(len(written), bool)])[0]
        test_idx = np.where(fold == f)[0]
        Z, classes, counts = fit_predict(train_idx, test_idx)
        if oof_Z is None:
            oof_Z = np.zeros((n_real, len(classes)), np.float32)
        oof_Z[test_idx] = Z
        print(f"  fold {f} done {time.time() - t0:.0f}s", flush=True)
    np.savez(cached, Z=oof_Z, classes=np.array(classes), counts=json.dumps(counts))
    gold = [q.department for q in real]
    T = tr.fit_temperature(oof_Z, np.array([classes.index(g) for g in gold]))
    # effective training prior after the sample weights: n_c ** (1 - power)
    log_prior = np.array([(1 - args.power) * np.log(max(counts[c], 1)) for c in classes])
    log_prior -= log_prior.mean()
    results = {}
    for tau in [float(x) for x in args.tau.split(",")]:
        z = oof_Z / T - tau * log_prior
        z = np.exp(z - z.max(1, keepdims=True))
        P = z / z.sum(1, keepdims=True)
        ranked = [[classes[j] for j in np.argsort(-p)[:3]] for p in P]
        results[tau] = P
        show(f"model alone, tau {tau} (T {T:.2f})", per_department(ranked, gold))
    if not args.triage:
        if args.save:
            save(args, texts, list(y), src, E, G, ngrams, T, log_prior, classes, counts)
        print(f"wall {time.time() - t0:.0f}s cpu {time.process_time() - c0:.0f}s load {os.getloadavg()[0]:.1f}")
        return
    from app.service import NlpService

    svc = NlpService.create()
    # the semantic emergency net embeds every text again on each pass: look the embeddings computed above up instead
    row_of = {t: i for i, t in enumerate(texts)}

    class Cached:
        def __init__(self, enc) -> None:
            self.enc = enc

        def encode(self, batch: list[str]) -> np.ndarray:
            if all(t in row_of for t in batch):
                return E[[row_of[t] for t in batch]]
            return self.enc.encode(batch)

    if svc.triage.semantic is not None:
        svc.triage.semantic.encoder = Cached(svc.triage.semantic.encoder)

    class Fixed:
        meta = {"sha256": "cv"}

        def __init__(self, blend: float) -> None:
            self.blend = blend
            self.p: dict[str, float] = {}

        def probabilities(self, text: str) -> dict[str, float]:
            return self.p

    def triage(texts_: list[str], probs: np.ndarray | None, blend: float, cls: list[str]) -> list[list[str]]:
        fixed = Fixed(blend)
        svc.triage.router = fixed if probs is not None else None
        out = []
        for i, t in enumerate(texts_):
            if probs is not None:
                fixed.p = dict(zip(cls, probs[i].tolist()))
            out.append([d["id"] for d in svc.analyze_symptoms(t)["departments"]])
        return out

    real_texts = [q.text for q in real]
    blends = [float(x) for x in args.blend.split(",")]
    if args.written_only:
        blends_real: list[float] = []
    else:
        blends_real = blends
    if 0.0 in blends_real:  # the rules alone: once, whatever tau
        show("triage, rules alone (blend 0)", per_department(triage(real_texts, None, 0.0, classes), gold))
    for tau, P in results.items():
        for b in blends_real:
            if b:
                show(f"triage, tau {tau} blend {b}", per_department(triage(real_texts, P, b, classes), gold))
    if args.written:
        w_idx = np.arange(n_real, len(texts))
        oof_w = np.zeros((len(written), len(classes)), np.float32)
        for name in tr.WRITTEN:
            held = w_idx[src[w_idx] == name]
            Z, cls, _ = fit_predict(np.where(src != name)[0], held)
            assert cls == classes
            oof_w[held - n_real] = Z
        w_texts, w_gold = [w[0] for w in written], [w[1] for w in written]
        for tau in results:
            z = oof_w / T - tau * log_prior
            z = np.exp(z - z.max(1, keepdims=True))
            Pw = z / z.sum(1, keepdims=True)
            for b in blends:
                if b or tau == next(iter(results)):
                    show(f"written out of fold, tau {tau} blend {b}",
                         per_department(triage(w_texts, Pw if b else None, b, classes), w_gold), brief=True)
    if args.save:
        save(args, texts, list(y), src, E, G, ngrams, T, log_prior, classes, counts)
    print(f"wall {time.time() - t0:.0f}s cpu {time.process_time() - c0:.0f}s load {os.getloadavg()[0]:.1f}")


def save(args, texts, y, src, E, G, ngrams, T, log_prior, classes, counts) -> None:
    """The final model: fitted on every real train+dev question and the written sets, with the choices made by the
    cross-validation above. The logit adjustment (tau x the training prior left after the sample weights) is folded
    into the bias, so serving is unchanged: softmax((x W + b - T tau log prior) / T)."""
    import hashlib

    from sklearn.linear_model import LogisticRegression

    assert args.clf == "lr" and not args.no_use, "only the logistic regression over both views is served"
    tau = float(args.tau.split(",")[0])
    blend = float(args.blend.split(",")[0])
    idf = tr.idf_of(G)
    X = tr.design(E, G, idf, 1.0)
    clf = LogisticRegression(C=args.C, max_iter=400, tol=1e-4).fit(X, y, sample_weight=tr.class_weights(y, args.power))
    assert [str(c) for c in clf.classes_] == classes
    final_counts = Counter(y)
    prior = np.array([(1 - args.power) * np.log(final_counts[c]) for c in classes])
    prior -= prior.mean()
    bias = clf.intercept_ - T * tau * prior
    W = np.vstack([clf.coef_[:, :512].T, clf.coef_[:, 512:].T]).astype(np.float32)
    tr.MODEL_PATH.parent.mkdir(exist_ok=True)
    np.savez_compressed(tr.MODEL_PATH, weights=W, bias=bias.astype(np.float32), classes=np.array(classes), idf=idf,
                        use_scale=np.float32(1.0), temperature=np.float32(T), blend=np.float32(blend),
                        hash_dim=np.int32(tr.HASH_DIM), ngram_max=np.int32(max(ngrams)))
    digests = {name: hashlib.sha256((tr.DATA / name).read_bytes()).hexdigest()[:16] for name in tr.WRITTEN}
    split_digest = hashlib.sha256(real_questions.SPLIT_PATH.read_bytes()).hexdigest()[:16]
    n_real = int((src == "real").sum())
    meta = {
        "model": "department_router",
        "trained_by": "training/cv_router.py --save " + " ".join(
            f"--{k} {v}" for k, v in (("ngrams", args.ngrams), ("C", args.C), ("power", args.power),
                                      ("tau", tau), ("blend", blend))),
        "features": f"USE-multilingual-v3 (512) + TF-IDF hashed char {min(ngrams)}-{max(ngrams)}-grams "
                    f"({tr.HASH_DIM}, crc32)",
        "classifier": f"multinomial logistic regression, C={args.C}, sample weight (mean class size / class size)"
                      f"^{args.power}; logit adjustment tau={tau} towards a flat prior folded into the bias",
        "classes": classes,
        "train": {"real_questions_split": {"file": "training/real_split.json", "sha256_16": split_digest,
                                           "train+dev": n_real},
                  "written_files": digests, "written_rows": len(y) - n_real, "emergency_rows": "left out",
                  "class_counts": dict(final_counts.most_common())},
        "never_read": sorted(tr.BLIND) + ["real_split test part"],
        "temperature": T,
        "tau": tau,
        "blend": blend,
        "cross_validation": {"folds": args.k, "scores": RECORD},
        "sha256": hashlib.sha256(tr.MODEL_PATH.read_bytes()).hexdigest(),
    }
    tr.MODEL_PATH.with_suffix(".json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    print(f"saved {tr.MODEL_PATH} ({tr.MODEL_PATH.stat().st_size / 1e6:.1f} MB), T {T:.2f} tau {tau} blend {blend}")


if __name__ == "__main__":
    main()
