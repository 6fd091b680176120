"""NLP benchmark: department top-1/top-3 per department and macro-averaged, emergency recall/precision,
urgency agreement, retrieval recall@5 and MRR, latency p50/p95. Prints numbers; asserts nothing.

    .venv/bin/python bench/nlp.py                 # both held-out test sets + retrieval set
    .venv/bin/python bench/nlp.py --dev           # the dev sets used for tuning
    .venv/bin/python bench/nlp.py --set NAME      # one file from bench/data
    .venv/bin/python bench/nlp.py --show-errors   # list misses (use on the dev set only when tuning)
    .venv/bin/python bench/nlp.py --emergency-dev # red-flag tuning set: emergencies and hard look-alikes
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "nlp"))

from app.service import NlpService  # noqa: E402


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def triage_bench(svc: NlpService, rows: list[dict], show_errors: bool) -> None:
    per = defaultdict(lambda: [0, 0, 0])  # n, top1, top3
    tp = fp = fn = 0
    urg_ok = 0
    lat = []
    errors = []
    for row in rows:
        t = time.perf_counter()
        out = svc.analyze_symptoms(row["text"])
        lat.append((time.perf_counter() - t) * 1000)
        ids = [d["id"] for d in out["departments"]]
        stat = per[row["department"]]
        stat[0] += 1
        stat[1] += bool(ids[:1] == [row["department"]])
        stat[2] += row["department"] in ids[:3]
        gold_em, pred_em = row["urgency"] == "emergency", out["urgency"] == "emergency"
        tp += gold_em and pred_em
        fp += pred_em and not gold_em
        fn += gold_em and not pred_em
        urg_ok += out["urgency"] == row["urgency"]
        if show_errors and (ids[:1] != [row["department"]] or gold_em != pred_em):
            errors.append(f"  {row['id']} gold={row['department']}/{row['urgency']} pred={ids}/{out['urgency']} "
                          f"sym={[s['id'] for s in out['symptoms']]} :: {row['text']}")
    print(f"{'department':<18}{'n':>4}{'top1':>8}{'top3':>8}")
    for dept in sorted(per):
        n, a1, a3 = per[dept]
        print(f"{dept:<18}{n:>4}{a1 / n:>8.3f}{a3 / n:>8.3f}")
    macro1 = statistics.mean(a1 / n for n, a1, _ in per.values())
    macro3 = statistics.mean(a3 / n for n, _, a3 in per.values())
    micro1 = sum(a1 for _, a1, _ in per.values()) / len(rows)
    print(f"macro top-1 {macro1:.3f}   macro top-3 {macro3:.3f}   micro top-1 {micro1:.3f}   (n={len(rows)})")
    rec = tp / (tp + fn) if tp + fn else float("nan")
    prec = tp / (tp + fp) if tp + fp else float("nan")
    print(f"emergency recall {rec:.3f} ({tp}/{tp + fn})   precision {prec:.3f} ({tp}/{tp + fp})")
    print(f"urgency exact agreement {urg_ok / len(rows):.3f}")
    print(f"triage latency ms p50 {pct(lat, 0.5):.1f}  p95 {pct(lat, 0.95):.1f}")
    for e in errors:
        print(e)


def retrieval_bench(svc: NlpService, rows: list[dict], show_errors: bool) -> None:
    hits = 0
    rr = []
    lat = []
    for row in rows:
        t = time.perf_counter()
        ranked = [h.doc_id for h in svc.retriever.search(row["question"], k=10)]
        lat.append((time.perf_counter() - t) * 1000)
        expected = set(row["expected"])
        hits += bool(expected & set(ranked[:5]))
        rank = next((i + 1 for i, d in enumerate(ranked) if d in expected), None)
        rr.append(1 / rank if rank else 0.0)
        if show_errors and (rank is None or rank > 1):
            print(f"  rank={rank} expected={row['expected']} got={ranked[:3]} :: {row['question']}")
    print(f"retrieval ({svc.retriever.mode}) recall@5 {hits / len(rows):.3f}   MRR {statistics.mean(rr):.3f}   "
          f"(n={len(rows)})   latency ms p50 {pct(lat, 0.5):.1f} p95 {pct(lat, 0.95):.1f}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", action="store_true", help="use the dev (tuning) sets instead of the test sets")
    ap.add_argument("--set", help="one question file in bench/data, e.g. nlp_questions_test3.jsonl")
    ap.add_argument("--emergency-dev", action="store_true",
                    help="use the red-flag dev set (emergencies and non-emergency look-alikes) for tuning")
    ap.add_argument("--show-errors", action="store_true")
    ap.add_argument("--no-retrieval", action="store_true")
    args = ap.parse_args()
    t = time.perf_counter()
    svc = NlpService.create()
    print(f"knowledge {svc.kb.version}: {len(svc.kb.diseases)} diseases, {len(svc.kb.symptoms)} symptoms, "
          f"{len(svc.kb.interpretations)}/{len(svc.kb.indicators)} indicator interpretations, "
          f"{len(svc.kb.patterns)} patterns; start-up {time.perf_counter() - t:.1f}s")
    data = ROOT / "bench" / "data"
    if args.set:
        names = [args.set]
    elif args.emergency_dev:
        names = ["nlp_emergency_dev.jsonl"]
    elif args.dev:
        names = ["nlp_questions_dev.jsonl", "nlp_questions_dev2.jsonl", "nlp_questions_dev3.jsonl"]
    else:
        names = ["nlp_questions.jsonl", "nlp_questions_test3.jsonl", "nlp_questions_test4.jsonl"]
    for name in names:
        print(f"== triage on {name}")
        triage_bench(svc, load(data / name), args.show_errors)
    if not args.no_retrieval:
        print("== retrieval on nlp_retrieval.jsonl")
        retrieval_bench(svc, load(data / "nlp_retrieval.jsonl"), args.show_errors)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
