"""Unknown-test safety of the OCR service's name resolution: a test the knowledge base does not hold must come back
uncoded (`code: null`, as printed), never as a test it does hold (抗核抗体 read as 乙肝核心抗体 tells the patient of a
hepatitis B result they never had).

Every row of bench/data/ocr_unknown_names.jsonl (printed name, result, unit, range, category, the kind of sheet it
is printed on; written from domain knowledge) is resolved exactly as a parsed table row is, as bench/ocr_names.py
does: a row of tokens name | result | unit | range goes through `parsing.parse_row_all`, the urine / stool sheet
preferences (`service.prefer_sheet_names`) and `parsing.choose_indicator` with the sheet's panels as context.
Rows with `code: null` are right when they come back uncoded (or are not returned as an indicator at all), wrong
when coded; rows with a code (tests the knowledge base holds under a name that shares characters with unknown
ones) are right when they resolve to it.

    .venv/bin/python bench/ocr_unknown.py [--misses] [--category autoantibody]

Prints per category: n, right (uncoded), coded wrongly, and the share coded wrongly; for the known rows, right /
wrong / not resolved."""
from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "ocr"))
sys.path.insert(0, str(ROOT / "bench"))

from app.knowledge import load_knowledge  # noqa: E402
from ocr_names import SHEET_PANELS as _NAME_PANELS, load_rows, resolve_row  # noqa: E402

DATA = ROOT / "bench" / "data" / "ocr_unknown_names.jsonl"
# the panels a sheet of each kind shows (as bench/ocr_names.py, plus the sheets unknown tests are printed on)
SHEET_PANELS = {
    **_NAME_PANELS,
    "immuno": {"infection", "inflammation", "thyroid"},
    "hormone": {"hormones", "thyroid"},
    "tumor": {"tumor_markers"},
    "coag": {"coagulation"},
    "gas": {"blood_gas", "electrolytes"},
}


def resolve(kb, r: dict) -> str | None:
    """The code the service gives a table row printing this name, result, unit and range on its sheet."""
    return resolve_row(kb, r["printed"], r["value"], r.get("unit"), r.get("range"), r["sheet"],
                       SHEET_PANELS.get(r["sheet"], set()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--misses", action="store_true", help="list every row not resolved right")
    ap.add_argument("--category", help="only this category")
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args()
    kb = load_knowledge()
    rows = load_rows(args.data, "category", args.category)
    counts: dict[str, Counter] = defaultdict(Counter)
    misses = []
    for r in rows:
        got = resolve(kb, r)
        want = r.get("code")
        if got == want:
            verdict = "right"
        elif got is None:
            verdict = "unresolved"
        else:
            verdict = "wrong"
        for c in (r["category"], "unknown" if want is None else "known_all"):
            counts[c][verdict] += 1
        if verdict != "right":
            misses.append((r["category"], verdict, r["printed"], r.get("unit") or "-", want or "-", got or "-"))
    if args.misses:
        for m in sorted(misses):
            print("MISS %-16s %-10s %-28s unit=%-10s want=%-8s got=%s" % m)
    print(f"knowledge {kb.version}")
    print(f"{'category':17} {'n':>5} {'right':>6} {'wrong':>6} {'unres':>6} {'wrong%':>7}")
    cats = sorted(c for c in counts if c not in ("unknown", "known", "known_all"))
    for c in [*cats, "unknown", "known_all"]:
        k = counts.get(c)
        if not k:
            continue
        n = k["right"] + k["wrong"] + k["unresolved"]
        print(f"{c:17} {n:5d} {k['right']:6d} {k['wrong']:6d} {k['unresolved']:6d} {k['wrong'] / n:7.3f}")


if __name__ == "__main__":
    main()
