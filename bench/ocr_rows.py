"""Printed-row format coverage of the OCR service's row parsing (sheets from hospitals we have never seen).

Every row of bench/data/ocr_printed_rows.jsonl (the cells of one printed table row as OCR returns them, with the
column its header puts each under; written from domain knowledge, see bench/make_printed_rows.py) goes through
the service's own row path: `parsing.parse_row_all` on Token cells laid out left to right, the urine / stool sheet
preferences (`service.prefer_sheet_names`), `parsing.choose_indicator` with the report's panels, and the record the
service returns for it (`LabReportParser._indicator_record`, or `_uncoded_record` for a name the knowledge base
lacks) with the patient's sex. A row is right when every field it expects is:

  value  the parsed number (and comparator of a censored result) or grade / word as read
  flag   the returned flag (H also accepts HH, L also LL)
  range  the printed range's low / high for the patient's sex
  unit   the unit cell read means the expected unit (after the knowledge base's OCR misreadings are undone)

    .venv/bin/python bench/ocr_rows.py [--misses] [--cat mark] [--field flag]

Prints coverage per category and per field; --misses lists every row not right with what was read. Rows the data
marks "ambiguous" (even a person could read them two ways) are counted apart. Rows whose want has "same_as" (one grade of one
test printed in different brackets or words) are right only when the whole group returns one reading."""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "ocr"))

from app.knowledge import load_knowledge  # noqa: E402
from app.parsing import Token, choose_indicator, parse_row_all  # noqa: E402
from app.service import LabReportParser, prefer_sheet_names  # noqa: E402
from ocr_names import SHEET_PANELS as _NAME_PANELS  # noqa: E402

DATA = ROOT / "bench" / "data" / "ocr_printed_rows.jsonl"
# bench/ocr_names.py's panels per report type, and the round-two panels of this bench
SHEET_PANELS = {**_NAME_PANELS, "immuno": set(), "infect": {"infection"}, "coag": {"coagulation"}}
COLUMN = {"no": "seq"}  # the layout's name of the row-number column
SEX = {"男": "male", "女": "female"}  # as report_header gives the patient's sex
# ('±' and '+-' are one grade, trace, however a writer spells it)
GRADE = {"-": {"negative"}, "±": {"trace"}, "+-": {"trace"}, "+": {"positive", "1+"}, "1+": {"1+"}, "2+": {"2+"},
         "3+": {"3+"}, "4+": {"4+"}}
FIELDS = ("value", "flag", "range", "unit")


def row_tokens(cells: list[list]) -> list[Token]:
    toks, x = [], 10.0
    for text, col in cells:
        w = 16.0 * len(text)
        toks.append(Token(text, 0.99, (x, 100.0, x + w, 128.0), COLUMN.get(col, col)))
        x += w + 60.0
    return toks


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def read_row(kb, parser: LabReportParser, r: dict) -> tuple[dict | None, object, object, int]:
    """(record, row item, indicator, items with a name) for one printed row."""
    items = [it for it in parse_row_all(kb, row_tokens(r["cells"])) if it.names]
    if not items:
        return None, None, None, 0
    it = items[0]
    panel = r["panel"]
    prefer_sheet_names(kb, it, panel if panel in ("stool", "urine") else None)
    choice = choose_indicator(kb, it, set(), SHEET_PANELS.get(panel, set()))
    if it.value is None or it.parsed_value is None:
        return None, it, choice[0] if choice else None, len(items)
    if choice:
        rec = parser._indicator_record(choice[0], choice[1], choice[2], it, SEX.get(r.get("sex")), 0, [],
                                       r.get("age"))
    else:
        rec = parser._uncoded_record(it, 0)
    return rec, it, choice[0] if choice else None, len(items)


def judge(kb, r: dict, rec: dict | None, it, ind, n_items: int) -> dict[str, bool]:
    want = r["want"]
    got: dict[str, bool] = {}
    pv = it.parsed_value if it is not None else None
    # value
    wv = want.get("value")
    if pv is None or rec is None:
        got["value"] = False
    elif isinstance(wv, (int, float)):
        cmp_ok = (pv.comparator or None) == (want.get("cmp") or None)
        got["value"] = pv.number is not None and _close(pv.number, float(wv)) and cmp_ok
    elif wv in GRADE:
        got["value"] = pv.qualitative in GRADE[wv]
    else:
        got["value"] = (rec.get("value_text") or "").replace(" ", "") == str(wv)
    # flag
    wf = want.get("flag")
    if wf is not None:
        ok = set(wf) if isinstance(wf, list) else {wf}
        ok |= {f * 2 for f in ok if f in ("H", "L")}
        got["flag"] = rec is not None and rec.get("flag") in ok
    # range
    if "low" in want or "high" in want:
        pr = it.parsed_range if it is not None else None
        if want.get("low") is None and want.get("high") is None:
            got["range"] = pr is None or (pr.low is None and pr.high is None)
        elif pr is None:
            got["range"] = False
        else:
            lo, hi = pr.for_sex(SEX.get(r.get("sex")))
            got["range"] = _close(lo, want.get("low")) and _close(hi, want.get("high"))
    # unit
    wu = want.get("unit")
    if "unit" in want:
        printed = it.unit.text if it is not None and it.unit is not None else None
        if not wu:
            got["unit"] = printed is None
        elif printed is None:
            got["unit"] = False
        elif ind is not None and kb.resolve_unit(wu, ind) is not None:
            got["unit"] = kb.resolve_unit(printed, ind, misread=True) == kb.resolve_unit(wu, ind)
        else:
            units = kb.kb.units
            got["unit"] = bool(set(units.canonical_units(units.fix_misread(printed)))
                               & set(units.canonical_units(wu)))
    got["one_row"] = n_items == 1
    return got


def same_grade_readings(read: list[tuple]) -> dict[str, bool]:
    """Rows whose want carries "same_as" print one grade of one test in different brackets or words ('(+)',
    '阳性(+)', '+'): the group is right only when every row of it returns the same qualitative reading."""
    seen: dict[str, set] = defaultdict(set)
    for r, rec, it, ind, n in read:
        key = r["want"].get("same_as")
        if key:
            pv = it.parsed_value if it is not None else None
            seen[key].add(pv.qualitative if pv is not None else None)
    return {key: len(vals) == 1 for key, vals in seen.items()}


def describe(rec: dict | None, it) -> str:
    if it is None:
        return "no named row"
    pv = it.parsed_value
    parts = [
        "name=" + "|".join(c.text for c, _ in it.names),
        f"value={pv.number if pv and pv.number is not None else (pv.qualitative if pv else None)!r}"
        + (f"{pv.comparator}" if pv and pv.comparator else "") + f" text={it.value.text if it.value else None!r}",
        f"flag={rec.get('flag') if rec else None}",
        f"range={(it.parsed_range.low, it.parsed_range.high) if it.parsed_range else None}"
        f" {it.range.text if it.range else ''!r}",
        f"unit={it.unit.text if it.unit else None!r}",
        f"code={rec.get('code') if rec else None}",
    ]
    return " ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--misses", action="store_true", help="list every row not read right")
    ap.add_argument("--cat", help="only this category (mark, result, range, sex, unit, glued; round two: chem, tumor, "
                                  "immune, coag, urine, stool, left)")
    ap.add_argument("--field", help="with --misses: only rows whose miss includes this field")
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args()
    kb = load_knowledge()
    parser = LabReportParser(engine=object(), knowledge=kb)  # the record assembly only: no OCR engine
    rows = [json.loads(line) for line in Path(args.data).read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if "cells" in r and (not args.cat or r["cat"] == args.cat)]
    counts: dict[str, Counter] = defaultdict(Counter)
    misses = []
    amb = Counter()
    read = [(r, *read_row(kb, parser, r)) for r in rows]
    same = same_grade_readings(read)
    for r, rec, it, ind, n in read:
        got = judge(kb, r, rec, it, ind, n)
        if r["want"].get("same_as") and got.get("value"):
            got["value"] = same[r["want"]["same_as"]]
        right = all(got.values())
        if r.get("ambiguous"):  # ambiguous even to a person: counted apart, listed with --misses
            amb["n"] += 1
            amb["right"] += right
            if not right and args.misses:
                print(f"AMBIGUOUS {r['form']} [{' | '.join(c[0] for c in r['cells'])}] got: {describe(rec, it)}"
                      f"  ({r['ambiguous']})")
            continue
        for c in (r["cat"], "all"):
            counts[c]["n"] += 1
            counts[c]["right"] += right
            for f, ok in got.items():
                counts[c][f + "_n"] += 1
                counts[c][f] += ok
        if not right:
            bad = [f for f, ok in got.items() if not ok]
            if not args.field or args.field in bad:
                misses.append((r["cat"], r["form"], r.get("sex") or "", " | ".join(c[0] for c in r["cells"]),
                               ",".join(bad), describe(rec, it), r.get("want")))
    if args.misses:
        for cat, form, sex, cells, bad, seen, want in sorted(misses, key=lambda m: (m[0], m[1])):
            print(f"MISS {cat:6} {form:28} {sex:1} [{cells}] bad={bad}\n     got: {seen}\n     want: {want}")
    print(f"knowledge {kb.version}")
    print(f"{'category':9} {'n':>5} {'right':>6} {'cover':>6}  " + " ".join(f"{f:>7}" for f in (*FIELDS, "one_row")))
    cats = ("mark", "result", "range", "sex", "unit", "glued")
    for c in cats + tuple(sorted(set(counts) - set(cats) - {"all"})) + ("all",):
        k = counts.get(c)
        if not k:
            continue
        per = " ".join(f"{k[f] / k[f + '_n']:7.3f}" if k[f + "_n"] else f"{'-':>7}" for f in (*FIELDS, "one_row"))
        print(f"{c:9} {k['n']:5d} {k['right']:6d} {k['right'] / k['n']:6.3f}  {per}")
    if amb["n"]:
        print(f"ambiguous rows (not counted above): {amb['right']}/{amb['n']} read as the bench wrote them")


if __name__ == "__main__":
    main()
