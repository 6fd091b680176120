"""NLP benchmark: department top-1/top-3 per department and macro-averaged, emergency recall/precision,
urgency agreement, retrieval recall@5 and MRR, latency p50/p95. Prints numbers; asserts nothing.

    .venv/bin/python bench/nlp.py                 # both held-out test sets + retrieval set
    .venv/bin/python bench/nlp.py --dev           # the dev sets used for tuning
    .venv/bin/python bench/nlp.py --set NAME      # one file from bench/data
    .venv/bin/python bench/nlp.py --show-errors   # list misses (use on the dev set only when tuning)
    .venv/bin/python bench/nlp.py --emergency-dev # red-flag tuning set: emergencies and hard look-alikes
    .venv/bin/python bench/nlp.py --real-only     # only the real patient questions (test split; --dev: dev split)
    .venv/bin/python bench/nlp.py --no-compare    # skip the "rules alone" (learned router off) comparison rows

Real patient questions (../shared/datasets/zh_patient_questions, kept outside the repository) are scored on the
committed seeded-hash split (services/nlp/training/real_split.json): the test part by default, the dev part with
--dev. They are skipped, with the reason printed, where the folder is missing.
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
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "nlp"))
sys.path.insert(0, str(ROOT / "services" / "nlp" / "training"))

from app.service import NlpService  # noqa: E402
import real_questions  # noqa: E402


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def real_bench(svc: NlpService, split: str, show_errors: bool, label: str) -> dict[str, float]:
    """Real patient questions: per-department and macro top-1/top-3, the largest confusions, emergency false
    alarms (these are consultation-site questions, none an emergency by its label), which evidence decided."""
    rows = real_questions.load(split)
    per = defaultdict(lambda: [0, 0, 0])
    confusion: Counter = Counter()
    alarms = Counter()
    decided = Counter()
    lat = []
    errors = []
    for q in rows:
        t = time.perf_counter()
        out = svc.analyze_symptoms(q.text)
        lat.append((time.perf_counter() - t) * 1000)
        ids = [d["id"] for d in out["departments"]]
        stat = per[q.department]
        stat[0] += 1
        stat[1] += ids[:1] == [q.department]
        stat[2] += q.department in ids[:3]
        if ids[:1] != [q.department]:
            confusion[(q.department, ids[0] if ids else "-")] += 1
        if out["urgency"] == "emergency":
            alarms["semantic" if [f["id"] for f in out["red_flags"]] == ["rf_possible_emergency"] else "rules"] += 1
        decided[(out.get("routing") or {}).get("decided_by", "rules (no router)")] += 1
        if show_errors and ids[:1] != [q.department]:
            errors.append(f"  gold={q.department} pred={ids} decided={(out.get('routing') or {}).get('decided_by')}"
                          f" :: {q.text[:80]}")
    print(f"-- {label}")
    print(f"{'department':<18}{'n':>5}{'top1':>8}{'top3':>8}")
    for dept in sorted(per, key=lambda d: -per[d][0]):
        n, a1, a3 = per[dept]
        print(f"{dept:<18}{n:>5}{a1 / n:>8.3f}{a3 / n:>8.3f}")
    macro1 = statistics.mean(a1 / n for n, a1, _ in per.values())
    macro3 = statistics.mean(a3 / n for n, _, a3 in per.values())
    micro1 = sum(a1 for _, a1, _ in per.values()) / len(rows)
    print(f"macro top-1 {macro1:.3f}   macro top-3 {macro3:.3f}   micro top-1 {micro1:.3f}   (n={len(rows)}, "
          f"{len(per)} departments)")
    weak = [d for d, (n, _, a3) in per.items() if n >= 10 and a3 / n < 0.70]
    print(f"departments with >= 10 questions and top-3 < 0.70: {weak or 'none'}")
    print("largest errors (gold -> predicted top-1): " + ", ".join(
        f"{g}->{p} {c}" for (g, p), c in confusion.most_common(10)))
    n_alarm = sum(alarms.values())
    print(f"emergency false alarms on real questions {n_alarm}/{len(rows)} ({n_alarm / len(rows):.3f}): "
          f"red-flag rules {alarms['rules']}, semantic net {alarms['semantic']}")
    print("decided by: " + ", ".join(f"{k} {v}" for k, v in decided.most_common()))
    print(f"triage latency ms p50 {pct(lat, 0.5):.1f}  p95 {pct(lat, 0.95):.1f}")
    for e in errors:
        print(e)
    return {"macro_top1": macro1, "macro_top3": macro3}


def triage_bench(svc: NlpService, rows: list[dict], show_errors: bool, show_per_dept: bool = True) -> None:
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
    for dept in sorted(per) if show_per_dept else ():
        n, a1, a3 = per[dept]
        print(f"{dept:<18}{n:>4}{a1 / n:>8.3f}{a3 / n:>8.3f}")
    macro1 = statistics.mean(a1 / n for n, a1, _ in per.values())
    macro3 = statistics.mean(a3 / n for n, _, a3 in per.values())
    micro1 = sum(a1 for _, a1, _ in per.values()) / len(rows)
    print(f"macro top-1 {macro1:.3f}   macro top-3 {macro3:.3f}   micro top-1 {micro1:.3f}   (n={len(rows)})")
    outside = [v for d, v in per.items() if d in svc.kb.departments and svc.kb.departments[d].kind != "internal"]
    if outside:  # the departments the real questions do not cover (surgery, women and children, senses, mind...)
        print(f"  outside internal medicine ({len(outside)} departments, {sum(n for n, _, _ in outside)} questions): "
              f"macro top-1 {statistics.mean(a1 / n for n, a1, _ in outside):.3f}   "
              f"macro top-3 {statistics.mean(a3 / n for n, _, a3 in outside):.3f}")
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
    ap.add_argument("--real-only", action="store_true", help="only the real patient questions")
    ap.add_argument("--no-compare", action="store_true", help="skip the rules-alone (router off) rows")
    args = ap.parse_args()
    t = time.perf_counter()
    svc = NlpService.create()
    print(f"knowledge {svc.kb.version}: {len(svc.kb.diseases)} diseases, {len(svc.kb.symptoms)} symptoms, "
          f"{len(svc.kb.interpretations)}/{len(svc.kb.indicators)} indicator interpretations, "
          f"{len(svc.kb.patterns)} patterns; start-up {time.perf_counter() - t:.1f}s")
    data = ROOT / "bench" / "data"
    router = svc.triage.router
    print(f"learned router: {'sha256 ' + router.meta['sha256'][:12] if router else 'not loaded (rules alone)'}")
    reason = real_questions.missing_reason()
    split = "dev" if args.dev else "test"
    if reason:
        print(f"== real patient questions: skipped: {reason}")
    elif not (args.set or args.emergency_dev):
        print(f"== triage on the real patient questions, {split} split")
        real_bench(svc, split, args.show_errors, "rules + learned router")
        if router is not None and not args.no_compare:
            svc.triage.router = None
            real_bench(svc, split, False, "rules alone (router off)")
            svc.triage.router = router
    if args.real_only:
        return 0
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
        if router is not None and not args.no_compare:
            print(f"-- {name}, rules alone (router off)")
            svc.triage.router = None
            triage_bench(svc, load(data / name), False, show_per_dept=False)
            svc.triage.router = router
    if not args.no_retrieval:
        print("== retrieval on nlp_retrieval.jsonl")
        retrieval_bench(svc, load(data / "nlp_retrieval.jsonl"), args.show_errors)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
