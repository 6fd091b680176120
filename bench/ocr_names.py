"""Printed-name coverage of the OCR service's name resolution (issue 9: sheets from hospitals we have never seen).

Every variant in bench/data/ocr_printed_names.jsonl (printed name, unit, expected code, report panel; written from
domain knowledge, not from our sheets) is resolved exactly as a parsed table row is: a row of tokens
name | result | unit | range goes through `parsing.parse_row_all`, the urine / stool sheet preferences
(`service.prefer_sheet_names`) and `parsing.choose_indicator` with the report's panels as context.
The result and range are what such a sheet prints for the expected test (its default range), so the unit and scale
tie-breaks act as on a real row.

    .venv/bin/python bench/ocr_names.py [--misses] [--panel urine]

Prints right / wrong / not resolved per panel (a variant whose expected code is null is right when it stays
uncoded), and for the variants printed with a unit, how many units the expected code accepts as printed (after the
knowledge base's OCR misreadings are undone: 'mmo1/L', 'g/1')."""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "ocr"))

from app.knowledge import load_knowledge  # noqa: E402
from app.parsing import Token, choose_indicator, parse_row_all  # noqa: E402
from app.service import prefer_sheet_names  # noqa: E402

DATA = ROOT / "bench" / "data" / "ocr_printed_names.jsonl"
# the panels a sheet of each report type shows (service: panels_seen from its confidently named rows)
SHEET_PANELS = {
    "blood": {"blood_routine", "inflammation"},
    "biochem": {"liver", "kidney", "electrolytes", "lipids", "glucose", "cardiac"},
    "psa": {"tumor_markers"},
    "urine": {"urinalysis"},
    "stool": {"stool"},
}


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def printed_result(kb, code: str | None) -> tuple[str, str | None]:
    """(result, range) a sheet prints for the test: the middle of its default range and that range; 阴性 for a
    qualitative test; its first normal word for a descriptive one."""
    ind = kb.indicators.get(code) if code else None
    if ind is None or ind.kind == "qualitative":
        return "阴性", "阴性"
    if ind.kind == "text":
        return (ind.normal[0] if ind.normal else "未见"), None
    r = ind.default_range(None)
    if r is None or r.high is None:
        return ("1.0", None) if r is None or r.low is None else (_fmt(r.low * 1.5), f">{_fmt(r.low)}")
    lo = r.low or 0.0
    return _fmt((lo + r.high) / 2), (f"{_fmt(lo)}-{_fmt(r.high)}" if r.low is not None else f"<{_fmt(r.high)}")


def row_tokens(name: str, value: str, unit: str | None, rng: str | None) -> list[Token]:
    toks, x = [], 10.0
    for text, col in ((name, "name"), (value, "value"), (unit, "unit"), (rng, "range")):
        if not text:
            continue
        w = 16.0 * len(text)
        toks.append(Token(text, 0.99, (x, 100.0, x + w, 128.0), col))
        x += w + 60.0
    return toks


def resolve_row(kb, name: str, value: str, unit: str | None, rng: str | None, sheet: str,
                panels: set[str]) -> str | None:
    """The code the service gives a table row printing this name, result, unit and range on a sheet of this kind
    (``panels``: the panels its indicators may come from): row parsing, the urine/stool preference, the choice."""
    items = [it for it in parse_row_all(kb, row_tokens(name, value, unit, rng)) if it.names]
    if not items:
        return None
    it = items[0]
    prefer_sheet_names(kb, it, sheet if sheet in ("stool", "urine") else None)
    choice = choose_indicator(kb, it, set(), panels)
    return choice[0].code if choice else None


def resolve(kb, name: str, unit: str | None, panel: str, code: str | None) -> str | None:
    """The code the service gives a table row printing this name and unit on a sheet of this report type."""
    value, rng = printed_result(kb, code)
    return resolve_row(kb, name, value, unit, rng, panel, SHEET_PANELS.get(panel, set()))


def load_rows(path: str | Path, field: str, value: str | None) -> list[dict]:
    """The bench rows of a JSONL file (its header line aside), only those whose ``field`` is ``value`` if given."""
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if "printed" in r and (not value or r[field] == value)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--misses", action="store_true", help="list every variant not resolved right")
    ap.add_argument("--panel", help="only this report panel (blood, biochem, psa, urine, stool)")
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args()
    kb = load_knowledge()
    rows = load_rows(args.data, "panel", args.panel)
    counts: dict[str, Counter] = defaultdict(Counter)
    misses, unit_misses = [], Counter()
    for r in rows:
        got = resolve(kb, r["printed"], r.get("unit"), r["panel"], r.get("code"))
        if got == r.get("code"):
            verdict = "right"
        elif got is None:
            verdict = "unresolved"
        else:
            verdict = "wrong"
        counts[r["panel"]][verdict] += 1
        counts["all"][verdict] += 1
        if verdict != "right":
            misses.append((r["panel"], verdict, r["printed"], r.get("unit"), r.get("code"), got))
        ind = kb.indicators.get(r.get("code") or "")
        if ind is not None and r.get("unit"):
            ok = kb.resolve_unit(r["unit"], ind, misread=True) is not None
            for p in (r["panel"], "all"):
                counts[p]["units"] += 1
                counts[p]["units_ok"] += ok
            if not ok:
                unit_misses[(r["panel"], r["code"], r["unit"])] += 1
    if args.misses:
        for m in sorted(misses):
            print("MISS %-7s %-10s %-28s unit=%-10s want=%-8s got=%s" % m)
        for (panel, code, unit), k in sorted(unit_misses.items()):
            print(f"UNIT {panel:7} {code:10} {unit!r} not a unit of the code (x{k})")
    print(f"knowledge {kb.version}")
    print(f"{'panel':8} {'n':>5} {'right':>6} {'wrong':>6} {'unres':>6} {'cover':>6} {'units':>11}")
    for p in [*SHEET_PANELS, "all"]:
        c = counts.get(p)
        if not c:
            continue
        n = c["right"] + c["wrong"] + c["unresolved"]
        units = f"{c['units_ok']}/{c['units']}"
        print(f"{p:8} {n:5d} {c['right']:6d} {c['wrong']:6d} {c['unresolved']:6d} {c['right'] / n:6.3f} {units:>11}")


if __name__ == "__main__":
    main()
