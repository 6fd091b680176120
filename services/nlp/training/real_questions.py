"""Real patient questions (../shared/datasets/zh_patient_questions) and their fixed train/dev/test split.

The questions are never committed. What is committed is the split: ``real_split.json`` lists, for every question,
a hash of its text and the part it belongs to. The split is a seeded hash split, stratified by department: within
each department the questions are ordered by ``sha256(SEED + text)``; the first 20 % (at least one where a department
has three or more questions) are test, the next 20 % dev, the rest train. Nothing but the text and the label decides
where a question goes, so the split is reproduced exactly from the data and this rule.

    .venv/bin/python services/nlp/training/real_questions.py     # (re)writes real_split.json, prints the counts
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SPLIT_PATH = HERE / "real_split.json"
SEED = "zhenxi-routing-split-v1"
TEST_FRACTION = 0.2
DEV_FRACTION = 0.2


def dataset_path() -> Path:
    """``ZHENXI_REAL_QUESTIONS`` or ``<repo>/../shared/datasets/zh_patient_questions/questions.csv``."""
    env = os.environ.get("ZHENXI_REAL_QUESTIONS")
    return Path(env) if env else ROOT.parent / "shared" / "datasets" / "zh_patient_questions" / "questions.csv"


def missing_reason() -> str | None:
    path = dataset_path()
    if path.exists():
        return None
    return (f"real patient questions not found at {path} (they are kept outside the repository; "
            "set ZHENXI_REAL_QUESTIONS to the questions.csv of zh_patient_questions)")


@dataclass(frozen=True)
class RealQuestion:
    text: str          # title + "。" + body, as a patient would type it into triage
    department: str    # department id (knowledge/departments)
    label_name: str    # the department name the question was asked in
    hash: str          # sha256(SEED + text), hex
    split: str = ""


def _name_to_id() -> dict[str, str]:
    data = yaml.safe_load((ROOT / "knowledge" / "departments" / "departments.yaml").read_text(encoding="utf-8"))
    return {d["name"]: d["id"] for d in data["departments"]}


def text_of(title: str, ask: str) -> str:
    title, ask = title.strip(), ask.strip()
    if not title:
        return ask
    if not ask or ask.startswith(title):
        return ask or title
    return title + ("" if title[-1] in "？?。！!，," else "。") + ask


def text_hash(text: str) -> str:
    return hashlib.sha256((SEED + "\0" + text).encode("utf-8")).hexdigest()


def read_questions(path: Path | None = None) -> list[RealQuestion]:
    names = _name_to_id()
    out = []
    with open(path or dataset_path(), encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = text_of(row["title"], row["ask"])
            out.append(RealQuestion(text=text, department=names[row["department"]], label_name=row["department"],
                                    hash=text_hash(text)))
    return out


def assign(questions: list[RealQuestion]) -> dict[str, str]:
    """hash -> split, by the rule in the module docstring."""
    by_dept: dict[str, list[str]] = defaultdict(list)
    for q in questions:
        by_dept[q.department].append(q.hash)
    parts: dict[str, str] = {}
    for hashes in by_dept.values():
        hashes = sorted(set(hashes))
        n = len(hashes)
        n_test = max(1, round(TEST_FRACTION * n)) if n >= 3 else 0
        n_dev = max(1, round(DEV_FRACTION * n)) if n >= 3 else 0
        for i, h in enumerate(hashes):
            parts[h] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
    return parts


def load(split: str | None = None) -> list[RealQuestion]:
    """The questions with their committed split (``split`` filters). A question missing from the committed split
    (the dataset changed) is an error: the split must not drift silently."""
    split_map = {r["h"]: r["split"] for r in json.loads(SPLIT_PATH.read_text())["rows"]}
    out = []
    for q in read_questions():
        s = split_map.get(q.hash[:20])
        if s is None:
            raise ValueError(f"a question is not in {SPLIT_PATH.name}: the dataset changed; rerun this module")
        if split is None or s == split:
            out.append(RealQuestion(q.text, q.department, q.label_name, q.hash, s))
    return out


def main() -> None:
    reason = missing_reason()
    if reason:
        raise SystemExit(reason)
    qs = read_questions()
    parts = assign(qs)
    rows = [{"h": q.hash[:20], "split": parts[q.hash]} for q in qs]
    counts: dict[str, Counter] = defaultdict(Counter)
    for q in qs:
        counts[q.label_name][parts[q.hash]] += 1
    head = json.dumps({
        "dataset": "zh_patient_questions/questions.csv",
        "rule": (f"per department, order by sha256('{SEED}' + NUL + text); first {TEST_FRACTION:.0%} test "
                 f"(at least 1 where n >= 3), next {DEV_FRACTION:.0%} dev, rest train; text = title + '。' + ask; "
                 "h = first 20 hex digits of that hash"),
        "n": len(rows),
        "counts": {d: {s: c[s] for s in ("train", "dev", "test")}
                   for d, c in sorted(counts.items(), key=lambda kv: -sum(kv[1].values()))}},
        ensure_ascii=False, indent=1)
    body = ",\n".join(json.dumps(r) for r in rows)
    SPLIT_PATH.write_text(head[:-2] + ',\n "rows": [\n' + body + "\n]}\n")
    for d, c in counts.items():
        print(f"{d:<8} train {c['train']:>5}  dev {c['dev']:>4}  test {c['test']:>4}")


if __name__ == "__main__":
    main()
