"""Column-header coverage of the OCR layout (sheets from hospitals we have never seen).

bench/data/ocr_header_words.jsonl holds header cells as hospitals print them, each with the column it names
(seq, name, code, value, flag, range, unit, or "other": a method, a previous result, a cut-off, a remark ... that
is no part of an indicator), and whole header rows, one or more blocks side by side. Both were written from domain
knowledge by someone who had not read the layout code; the layout learnt the words it lacked from this list.
bench/data/ocr_header_words_heldout.jsonl is a second list of cells, written the same way by another writer who saw
neither the code nor the first list, and is never fitted to: its numbers are the ones that say how the header
vocabulary fares on sheets we have not seen. Every cell goes through `layout.header_kind`; every row is
laid out as tokens left to right above one body row (a sample cell under each header cell) and goes through
`layout.analyse`, the service's own table step. A row is right when a header row is found, the page splits into as
many tables as the row has blocks, and every body cell gets its header's column (a cell under an "other" column is
left out of the body).

    .venv/bin/python bench/ocr_headers.py [--data FILE ...] [--misses]

Prints coverage per kind and for the rows; --misses lists what was not right."""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "ocr"))

from app.layout import OTHER_COLUMN, analyse, header_kind  # noqa: E402
from app.parsing import Token  # noqa: E402

DATA = ROOT / "bench" / "data" / "ocr_header_words.jsonl"
# a second list, written the same way by another writer after the layout had learnt the first: never fitted to
HELD_OUT = ROOT / "bench" / "data" / "ocr_header_words_heldout.jsonl"
SAMPLE = {"seq": "7", "name": "血红蛋白", "code": "HGB", "value": "135", "flag": "↑", "unit": "g/L",
          "range": "130-175", OTHER_COLUMN: "128"}
CHAR_W, GAP, LINE_H = 22.0, 36.0, 24.0


def _tokens(cells: list[str], y: float, widths: list[float]) -> list[Token]:
    out, x = [], 20.0
    for text, w in zip(cells, widths):
        tw = CHAR_W * max(len(text.replace(" ", "")), 1)
        out.append(Token(text, 0.99, (x, y, x + tw, y + LINE_H)))
        x += w + GAP
    return out


def score_row(row: dict) -> tuple[bool, str]:
    cells, kinds = row["row"], row["kinds"]
    body = [SAMPLE[k] for k in kinds]
    widths = [CHAR_W * max(len(a.replace(" ", "")), len(b), 2) for a, b in zip(cells, body)]
    header = _tokens(cells, 100.0, widths)
    cells_below = _tokens(body, 100.0 + 1.6 * LINE_H, widths)
    blocks = kinds.count("name") or max(kinds.count("value"), 1)
    res = analyse(header + cells_below, page_w=header[-1].box[2] + 40)
    if not res.tables or res.tables[0].y0 < 0:
        return False, "no header row found"
    if len(res.tables) != blocks:
        return False, f"{len(res.tables)} tables, expected {blocks}"
    got = {id(t): t.column for r in res.rows for t in r}
    for tok, k in zip(cells_below, kinds):
        if k == OTHER_COLUMN:
            if id(tok) in got:
                return False, f"cell under {tok.text!r} kept as {got[id(tok)]}"
        elif got.get(id(tok)) != k:
            return False, f"cell {tok.text!r} under a {k} header got {got.get(id(tok))}"
    return True, ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, nargs="*", default=[DATA, HELD_OUT])
    ap.add_argument("--misses", action="store_true")
    args = ap.parse_args()
    for path in args.data:
        lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        words = [x for x in lines if "text" in x]
        rows = [x for x in lines if "row" in x]
        per, right = Counter(), Counter()
        misses = []
        wrong_kind = 0  # read as another column (worse than not read: the cells below go to the wrong field)
        for w in words:
            k = header_kind(w["text"])
            per[w["kind"]] += 1
            if k == w["kind"]:
                right[w["kind"]] += 1
            else:
                wrong_kind += k is not None
                misses.append(f"  word {w['text']!r}: {w['kind']} read as {k}")
        print(f"== {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        for k in sorted(per):
            print(f"   {k:<7} {right[k]:>4} / {per[k]:<4} {right[k] / per[k]:.3f}")
        n = sum(per.values())
        print(f"   header cells: {sum(right.values())} / {n} = {sum(right.values()) / max(n, 1):.3f}")
        n7 = n - per[OTHER_COLUMN]
        r7 = sum(right.values()) - right[OTHER_COLUMN]
        print(f"   cells of the seven indicator columns: {r7} / {n7} = {r7 / max(n7, 1):.3f}; "
              f"read as another column: {wrong_kind}")
        if rows:
            ok = 0
            for r in rows:
                good, why = score_row(r)
                ok += good
                if not good:
                    misses.append(f"  row {' | '.join(r['row'])}: {why}")
            print(f"   header rows:  {ok} / {len(rows)} = {ok / len(rows):.3f}")
        if args.misses:
            print("\n".join(misses))


if __name__ == "__main__":
    main()
