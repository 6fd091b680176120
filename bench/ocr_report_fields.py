"""The patient's sex and age as the OCR service reads them from a report's header lines (sheets from hospitals we
have never seen). The default range of a test the sheet prints no range for depends on both: a newborn of 20 days
is not an adult of 20.

bench/data/ocr_report_fields.jsonl holds header lines as hospitals print them (written from domain knowledge by
someone who had not read the parser), each with the sex and the age in years it gives (null where it gives none;
pitfalls such as 床号, dates, 孕周, 男科 and 女性型乳房发育 give none). Every entry goes through
`report_header.extract_header`, the service's own step, twice: each line as one OCR box, and each line cut into
boxes at its wide gaps (two spaces or more), as the detector often returns fields. A sex is right when it equals the
entry's; an age when `age_years` is within 0.01 years of it, and `age` (completed years) is its whole part.

    .venv/bin/python bench/ocr_report_fields.py [--misses]"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "ocr"))

from app.parsing import Token  # noqa: E402
from app.report_header import extract_header  # noqa: E402

DATA = ROOT / "bench" / "data" / "ocr_report_fields.jsonl"


def boxes_of(line: str) -> list[str]:
    """A header line cut into OCR boxes at its wide gaps (two spaces or more, an ideographic space), as the detector
    often returns fields."""
    return [p for p in re.split(r"\s{2,}|\u3000", line) if p.strip()]


def tokens(lines: list[str], split: bool) -> list[Token]:
    out = []
    for n, line in enumerate(lines):
        parts = boxes_of(line) if split else [line]
        x = 20.0
        for p in parts:
            w = 20.0 * len(p)
            out.append(Token(p, 0.98, (x, 40.0 + 36 * n, x + w, 64.0 + 36 * n)))
            x += w + 50
    return out


def age_right(h: dict, want: float | None) -> bool:
    got = h["age_years"]
    if want is None or got is None:
        return want is None and got is None
    return abs(got - want) <= 0.01 and h["age"] == math.floor(want + 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--misses", action="store_true")
    args = ap.parse_args()
    rows = [json.loads(x) for x in args.data.read_text(encoding="utf-8").splitlines() if x.strip()]
    clear = [r for r in rows if not r.get("ambiguous")]
    print(f"{len(rows)} entries ({len(rows) - len(clear)} ambiguous, counted apart); "
          f"{sum(r['sex'] is not None for r in clear)} give a sex, {sum(r['age_years'] is not None for r in clear)} "
          f"an age")
    for split in (False, True):
        for label, part in (("clear", clear), ("ambiguous", [r for r in rows if r.get("ambiguous")])):
            sex_ok = age_ok = both = 0
            infants = [r for r in part if r["age_years"] is not None and r["age_years"] < 1]
            inf_ok = 0
            wrong_sex = wrong_age = 0  # read where the entry gives none, or read as another
            misses = []
            for r in part:
                h = extract_header(tokens(r["lines"], split))
                s_ok = h["sex"] == r["sex"]
                a_ok = age_right(h, r["age_years"])
                sex_ok += s_ok
                age_ok += a_ok
                both += s_ok and a_ok
                inf_ok += a_ok and r["age_years"] is not None and r["age_years"] < 1
                wrong_sex += not s_ok and h["sex"] is not None
                wrong_age += not a_ok and h["age"] is not None
                if not (s_ok and a_ok):
                    misses.append(f"    {r['lines']}: sex {h['sex']} (want {r['sex']}), age {h['age_years']}"
                                  f"/{h['age']} (want {r['age_years']})")
            if not part:
                continue
            n = len(part)
            print(f"  {'boxes cut at gaps' if split else 'one box per line'}, {label}: sex {sex_ok}/{n} "
                  f"{sex_ok / n:.3f}, age {age_ok}/{n} {age_ok / n:.3f} (under a year {inf_ok}/{len(infants)}), "
                  f"both {both / n:.3f}; read wrongly (not merely missed): sex {wrong_sex}, age {wrong_age}")
            if args.misses:
                print("\n".join(misses))


if __name__ == "__main__":
    main()
