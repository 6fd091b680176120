"""The one flag vocabulary and the functions that compute it.

    L, N, H      below / within / above the reference range
    LL, HH       beyond a critical (危急值) limit
    POS, NEG     a qualitative result (阳性 / 阴性)
    ABN          abnormal without a direction (a printed '*', an abnormal colour or text result)
"""
from __future__ import annotations

import re
from typing import Literal

from .ranges import NONE_SEEN_WORDS, Range
from .text import nfkc, norm_text

Flag = Literal["L", "N", "H", "LL", "HH", "POS", "NEG", "ABN"]
FLAGS: tuple[str, ...] = ("L", "N", "H", "LL", "HH", "POS", "NEG", "ABN")
HIGH_FLAGS = frozenset({"H", "HH"})
LOW_FLAGS = frozenset({"L", "LL"})
CRITICAL_FLAGS = frozenset({"HH", "LL"})
ABNORMAL_FLAGS = frozenset({"L", "H", "LL", "HH", "POS", "ABN"})

ARROWS_UP = "↑⬆▲"
ARROWS_DOWN = "↓⬇▼"
# Printed flag words (after norm_text) → flag. '+' alone is a positive result, not a direction.
_FLAG_WORDS: dict[str, str] = {
    "h": "H", "high": "H", "高": "H", "偏高": "H", "升高": "H", "hh": "HH",
    "l": "L", "low": "L", "低": "L", "偏低": "L", "降低": "L", "ll": "LL",
    "n": "N", "normal": "N", "正常": "N",
    "阳性": "POS", "阳": "POS", "pos": "POS", "positive": "POS", "p": "POS", "弱阳性": "POS", "+": "POS",
    "阴性": "NEG", "neg": "NEG", "negative": "NEG", "-": "NEG",
    "*": "ABN", "a": "ABN", "异常": "ABN", "abnormal": "ABN", "abn": "ABN",
    # the vocabulary itself, and the earlier FHIR spelling of abnormal
    "abn.": "ABN",
}
# What a lab sheet prints in a flag column or glued to a value: arrows, letters, 高/低, '*'. Words that are results
# themselves (阴性, '-', '+') are not markers, nor is a lone 'A': on real sheets that is a column or group label
# far more often than an abnormal mark.
_MARKER_WORDS: dict[str, str] = {"h": "H", "l": "L", "hh": "HH", "ll": "LL", "高": "H", "低": "L", "偏高": "H",
                                 "偏低": "L", "阳性": "POS", "阳": "POS", "*": "ABN", "异常": "ABN"}
_NEGATIVE_RESULTS = ("阴性", "阴", "-", "neg", "negative", "未检出", "normal", "正常", "阴性(-)", "(-)", "无反应性",
                     "阴性-")


def arrow_flag(arrows: str) -> str:
    up = sum(c in ARROWS_UP for c in arrows)
    down = sum(c in ARROWS_DOWN for c in arrows)
    if up:
        return "HH" if up >= 2 else "H"
    return "LL" if down >= 2 else "L"


def parse_flag(text: str | None, *, markers_only: bool = False) -> str | None:
    """A printed or sent flag ('↑', 'H', '偏高', '↓↓', '阳性', '*', 'HH') → a flag of the vocabulary, or None.
    ``markers_only``: only what a sheet prints as a flag mark (arrows, H/L/HH/LL, 高/低, '*', 阳性), not the
    result words ('-', '阴性', 'N') a flag column never holds."""
    if text is None:
        return None
    t = norm_text(str(text))
    if not t:
        return None
    if len(t) <= 2 and all(c in ARROWS_UP + ARROWS_DOWN for c in t):
        return arrow_flag(t)
    if markers_only:
        return _MARKER_WORDS.get(t)
    if t.upper() in FLAGS:
        return t.upper()
    return _FLAG_WORDS.get(t)


def flag_number(value: float, ref_low: float | None, ref_high: float | None,
                critical: Range | None = None, *, low_inclusive: bool = True,
                high_inclusive: bool = True) -> str | None:
    """L/N/H of a number against a range, LL/HH beyond the critical limits; None with no range or limit hit.
    Both the number and the critical limits must be in the same unit. A bound printed with a strict comparator
    ('<8', '>60') is not inclusive: the bound itself is then out of range."""
    if critical is not None:
        if critical.high is not None and value >= critical.high:
            return "HH"
        if critical.low is not None and value <= critical.low:
            return "LL"
    if ref_low is None and ref_high is None:
        return None
    if ref_high is not None and (value > ref_high + 1e-9 or not high_inclusive and value >= ref_high - 1e-9):
        return "H"
    if ref_low is not None and (value < ref_low - 1e-9 or not low_inclusive and value <= ref_low + 1e-9):
        return "L"
    return "N"


# a sign word with its grade in brackets: '阳性(++)', '阳性(3+)', '弱阳性(+)', '弱阳性(±)'
_BRACKETED_WORD_GRADE = re.compile(r"(?:弱)?阳性\((\+{1,4}|[1-4]\+|±|\+-)\)")


def bracketed_grade(text: str) -> str | None:
    """The grade of a sign word printed with its grade in brackets ('阳性(++)' → 2+, '阳性(+)' → 1+, '弱阳性(±)' →
    trace): the bracketed sign is the grade, whatever word goes with it, so '弱阳性(+)' is 1+ as '(+)' and '+' are.
    None for any other text. The one reading of these cells for the package and the OCR service."""
    m = _BRACKETED_WORD_GRADE.fullmatch(norm_text(text))
    if m is None:
        return None
    g = m.group(1)
    if g in ("±", "+-"):
        return "trace"
    return f"{len(g) if g.startswith('+') else int(g[0])}+"


_NEGATIVE_PREFIXES = ("阴性", "(-)", "未检出", "无反应性", "nonreactive", "non-reactive") + NONE_SEEN_WORDS


def qualitative_grade(text: str) -> str:
    """'阴性'/'未见' → negative, '±'/'+-' → trace, '2+'/'++' → 2+, '阳性(++)' → 2+ (bracketed_grade), other
    positive words → positive."""
    q = norm_text(text)
    if q.startswith(_NEGATIVE_PREFIXES):
        return "negative"
    g = bracketed_grade(q)
    if g is not None:
        return g
    q = q.strip("()")
    if q in ("-", "阴性", "阴性-", "neg", "negative", "未检出", "正常", "normal", "norm", "无反应性", "阴", "无",
             "absent"):
        return "negative"
    if q in ("±", "+-", "-+", "可疑", "微量", "trace", "弱阳性"):
        return "trace"
    m = re.fullmatch(r"([1-4])\+", q) or re.fullmatch(r"(\+{1,4})", q)
    if m:
        g = m.group(1)
        return f"{len(g) if g.startswith('+') else int(g)}+"
    return "positive"


def flag_text(kind: str, text: str, normal: tuple[str, ...] = (), scale: tuple[str, ...] = ()) -> str | None:
    """Flag of a non-numeric result. Qualitative: NEG for the normal results / first scale grade, POS for the
    others. Text (颜色, 性状): N for a listed normal result, ABN for any other. None when it cannot be read."""
    v = nfkc(text).strip().lower()
    if not v:
        return None
    normals = {nfkc(n).strip().lower() for n in normal}
    grades = [nfkc(s).strip().lower() for s in scale]
    if kind == "text":
        return "N" if v in normals or v in ("正常", "normal") else "ABN"
    if v in normals or v in _NEGATIVE_RESULTS:
        return "NEG"
    if v in grades:
        return "NEG" if grades.index(v) == 0 else "POS"
    if re.fullmatch(r"[1-4]\+|\+{1,4}|±", v) or any(w in v for w in ("阳性", "positive", "pos", "检出", "有反应性")):
        return "NEG" if "未检出" in v or "无反应性" in v else "POS"
    return None


def direction(flag: str | None) -> str | None:
    """high | low | positive | abnormal | normal, the words interpretations are keyed by."""
    if flag in HIGH_FLAGS:
        return "high"
    if flag in LOW_FLAGS:
        return "low"
    return {"POS": "positive", "ABN": "abnormal", "N": "normal", "NEG": "normal"}.get(flag or "")


def same_direction(a: str | None, b: str | None) -> bool:
    """Printed 'H' and computed 'HH' agree in direction; only H vs L / abnormal vs normal disagree. A mark
    (H, '*') printed on a positive qualitative result agrees with POS."""
    if a is None or b is None:
        return True
    if {a, b} <= {"POS", "ABN", "H"}:
        return True
    if a in HIGH_FLAGS and b in HIGH_FLAGS or a in LOW_FLAGS and b in LOW_FLAGS:
        return True
    if {a, b} <= {"N", "NEG"}:
        return True
    return a == b
