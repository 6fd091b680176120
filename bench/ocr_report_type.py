"""The kind of report as the OCR service reads it from the text above the table (sheets from hospitals we have never
seen). The kind decides which of two same-named tests a row is: 葡萄糖 on a urine sheet is the strip's U-GLU, on a
chemistry sheet the serum GLU; 红细胞 on a stool sheet is a microscopy finding, not the blood count.

Each entry of the data (written from domain knowledge by someone who had read neither the parser nor our sheets)
holds the header lines of one sheet and the report kind a reader takes from them; "unknown" where the header names
no kind we hold (a plain '检验报告单', or a kind such as 性激素). The lines go through `report_header.report_type`
with no indicator panels, as the service's title step calls `report_header.title_kind` (the texts outside the
table, each box of at most 40 characters), twice: each line as one OCR box, and each line cut into boxes at its wide
gaps (two spaces or more). A kind is right when it equals the entry's; "wrong" counts a kind named that is not the
sheet's (worse than none: with none the service falls back to the panels of the rows it read).

    .venv/bin/python bench/ocr_report_type.py [--data FILE] [--misses]"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "ocr"))

from app.knowledge import load_knowledge  # noqa: E402
from app.report_header import report_type  # noqa: E402
from ocr_report_fields import boxes_of  # noqa: E402

DATA = ROOT / "bench" / "data" / "ocr_report_titles_fit.jsonl"


def boxes(lines: list[str], split: bool) -> list[str]:
    return [b for line in lines for b in (boxes_of(line) if split else [line]) if len(b) <= 40]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--misses", action="store_true")
    args = ap.parse_args(argv)
    kb = load_knowledge()
    rows = [json.loads(x) for x in args.data.read_text(encoding="utf-8").splitlines() if x.strip()]
    per = {True: Counter(), False: Counter()}
    by_type: dict[str, Counter] = {}
    ambiguous = Counter()
    for r in rows:
        for split in (False, True):
            got = report_type(boxes(r["lines"], split), [], kb)
            if r.get("ambiguous"):
                ambiguous["n"] += 1
                ambiguous["right"] += got == r["type"]
                continue
            c = by_type.setdefault(r["type"], Counter())
            right = got == r["type"]
            wrong = not right and got != "unknown"
            for cnt in (per[split], c):
                cnt["n"] += 1
                cnt["right"] += right
                cnt["wrong"] += wrong
            if args.misses and not right and split is False:
                print(f"MISS {r['type']:14s} got={got:14s} {' | '.join(r['lines'])}  ({r.get('form', '')})")
    print(f"{'type':16s} {'n':>5s} {'right':>6s} {'wrong':>6s} {'acc':>6s}")
    for t in sorted(by_type):
        c = by_type[t]
        print(f"{t:16s} {c['n']:5d} {c['right']:6d} {c['wrong']:6d} {c['right'] / c['n']:6.3f}")
    for split in (False, True):
        c = per[split]
        print(f"all ({'boxes cut at gaps' if split else 'one box a line'}): {c['right']}/{c['n']} = "
              f"{c['right'] / max(c['n'], 1):.3f}; another kind named: {c['wrong']}")
    if ambiguous["n"]:
        print(f"ambiguous entries (not counted above): {ambiguous['right']}/{ambiguous['n']} as the data reads them")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
