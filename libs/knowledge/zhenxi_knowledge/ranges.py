"""The one reference-range parser: '3.5-9.5', '3.5~9.5', '(3.5--9.5)', '<5.2', '≥1.0', '男:130-175 女:115-150',
'阴性'. Used for ranges printed on a sheet and sent to the APIs alike."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .text import nfkc, norm_text

NUM = r"[-+]?\d+(?:\.\d+)?"
# a bound in E-notation, as viral-load assays print it ('<1.00E+02', '5.0E+02-1.0E+08')
_BOUND = NUM + r"(?:[eE][-+]?\d{1,2})?"
_SCI = NUM + r"[eE][-+]?\d{1,2}"
# a power of ten printed after the number ('2.35×10^3', '1.0×10⁵' as NFKC reads it): E-notation. Not 10^9 or 10^12,
# the powers of cell-count units ('6.52×10^9' with its '/L' in a box of its own is a count, not 6.52E9)
TIMES_TEN = re.compile(r"(\d+(?:\.\d+)?)\s*[×xX*]\s*10\s*\^?\s*([-+]?\d{1,2})")


def times_ten_as_e(text: str) -> str:
    """'2.35×10^3' → '2.35E3' (see TIMES_TEN); other text unchanged."""
    return TIMES_TEN.sub(lambda m: m.group(0) if m.group(2).lstrip("+") in ("9", "12")
                         else f"{m.group(1)}E{m.group(2)}", text)
RANGE_SEP = r"(?:-{1,2}|~|～|—|–|－|至|到|to|\.{2,3}|_)"
COMPARATORS = {"<": "<", "＜": "<", "≤": "<=", "<=": "<=", "=<": "<=", ">": ">", "＞": ">", "≥": ">=", ">=": ">=",
               "=>": ">="}
NEGATIVE_WORDS = ("阴性", "阴性(-)", "阴性-", "-", "neg", "negative", "未检出", "无反应性", "nonreactive",
                  "non-reactive")
# microscopy's "none seen", as LIS systems word it (粪便红细胞 未见, 寄生虫卵 未查见, 真菌 未发现): a negative result,
# and a range that expects nothing in the field. The one list: flags.qualitative_grade and the OCR service read it.
# English as Hong Kong and Taiwan sheets print it ('Not found', 'None seen'), as norm_text gives it: lower case, no
# spaces.
NONE_SEEN_WORDS = ("未见", "未找到", "未查见", "未发现", "未查到", "未找见", "未检到", "未检见",
                   "notfound", "noneseen", "notseen", "notdetected")
POSITIVE_WORDS = ("阳性", "阳性(+)", "pos", "positive")
# '阴性或弱阳性' (urobilinogen): negative, a trace allowed (allows_trace); the reference of a test whose normal is
# negative
_NEGATIVE_OR_TRACE = re.compile(r"(?:阴性|正常|-|\(-\)|阴性\(-\))(?:或|/)(?:弱阳性|±|\+-|微量|可疑|弱阳性\(±\))")
# a sex, bracketed or as a word ('(女)3.8-5.1', '女性 0.29-1.67'), its colon, its range
_SEX_RANGE = re.compile(r"[(（]?(男性?|女性?|male|female|(?<![a-z])[mf](?![a-z]))[)）]?\s*[:：]?\s*"
                        r"([<>≤≥]?=?\s*[-+]?\d[\d.\-~～—–至]*\d?)", re.I)
# comparators printed in words or with look-alike glyphs ('大于1.04', '〈3.0'): read as the signs
_MIDDLE_DOT = re.compile(r"(?<=\d)[·•](?=\d)")
_WORD_COMPARATORS = (("大于等于", "≥"), ("小于等于", "≤"), ("大于", ">"), ("小于", "<"), ("〈", "<"), ("〉", ">"))


@dataclass(frozen=True)
class Range:
    low: float | None = None
    high: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {"low": self.low, "high": self.high}


@dataclass
class ParsedRange:
    low: float | None
    high: float | None
    text: str
    low_inclusive: bool = True
    high_inclusive: bool = True
    qualitative: str | None = None  # 'negative' for '阴性', 'positive' for '阳性'
    by_sex: dict[str, tuple[float | None, float | None]] | None = None  # '男:130-175 女:115-150'

    def for_sex(self, sex: str | None) -> tuple[float | None, float | None]:
        if not self.by_sex:
            return self.low, self.high
        if sex in self.by_sex:
            return self.by_sex[sex]
        if len(self.by_sex) == 1:
            return None, None  # one sex's range alone ('男:130-175', its 女 line read apart): none of hers, nor of
            # a patient whose sex is not known
        return self.low, self.high

    def as_range(self, sex: str | None = None) -> Range | None:
        low, high = self.for_sex(sex)
        return None if low is None and high is None else Range(low, high)


def parse_sex_ranges(text: str) -> ParsedRange | None:
    """'男:130-175 女:115-150' → both; low/high of the union for when sex is unknown. A range printed for one sex
    only ('女:41-73') is that sex's (for_sex gives no range for the other sex or an unknown one)."""
    t = nfkc(text)
    found: dict[str, tuple[float | None, float | None]] = {}
    for m in _SEX_RANGE.finditer(t):
        r = parse_range(m.group(2))
        if r is None:
            continue
        key = "male" if m.group(1).lower() in ("男", "男性", "male", "m") else "female"
        found[key] = (r.low, r.high)
    if not found or len(found) == 1 and re.sub(r"[\s:：()（）]", "", _SEX_RANGE.sub("", t)):
        return None  # (one sex, and more in the cell than its range: not a range of one sex)
    lows = [v[0] for v in found.values()]
    highs = [v[1] for v in found.values()]
    return ParsedRange(None if None in lows else min(lows), None if None in highs else max(highs), text.strip(),
                       by_sex=found)


# two decimal numbers joined by one point: the dash between them printed as a dot or two (dot-matrix print) and read
# as a point ('4.0.10.0', '50.0. 70.0'); no number has two points
_DOT_FOR_DASH = re.compile(r"(\d+\.\d+)\.(\d+\.\d+)")
# a decimal number, a space, then a whole range: the row's result glued to its range by the recogniser (a space
# inside a bound is read away, but never after the bound's decimals when a whole range follows)
_RESULT_THEN_RANGE = re.compile(r"\s*[<>≤≥]?\d+\.\d+\s+\d+(?:\.\d+)?\s*" + RANGE_SEP + r"\s*\d")


def parse_range(text: str) -> ParsedRange | None:
    """A printed reference range, or None when the text is not one."""
    raw = str(text).strip()
    t = nfkc(raw)
    if _RESULT_THEN_RANGE.match(t):
        return None  # '7.5  20--50': a result and its range in one cell, not the range 7.52-50
    t = t.strip().strip("()[]（）【】").replace(" ", "")
    for word, sign in _WORD_COMPARATORS:
        t = t.replace(word, sign)
    t = _MIDDLE_DOT.sub(".", t)  # a middle dot for the decimal point ('125·0-350·0')
    t = t.replace("O", "0") if re.fullmatch(r"[\dO.\-~<>=≤≥]+", t) else t
    e = times_ten_as_e(t)
    if e != t and (re.fullmatch(r"(" + _SCI + r")" + RANGE_SEP + r"(" + _SCI + r")", e)
                   or re.fullmatch(r"(<=|>=|=<|=>|[<>≤≥])(" + _SCI + r")", e)):
        t = e  # ('<1.0×10^2', '5.0×10^2-1.0×10^8': every bound with its power; '100-300×10^3' is a range and a unit)
    m = re.fullmatch(r"(" + _BOUND + r")" + RANGE_SEP + r"(" + _BOUND + r")", t) or _DOT_FOR_DASH.fullmatch(t)
    if m:
        lo, hi = float(m.group(1)), float(m.group(2))
        if lo > hi or lo == hi and m.re is _DOT_FOR_DASH:
            return None
        return ParsedRange(lo, hi, raw)
    m = re.fullmatch(r"(<=|>=|=<|=>|[<>≤≥])(" + _BOUND + r")", t)
    if m:
        cmp = COMPARATORS[m.group(1)]
        v = float(m.group(2))
        if cmp.startswith("<"):
            return ParsedRange(None, v, raw, high_inclusive=cmp == "<=")
        return ParsedRange(v, None, raw, low_inclusive=cmp == ">=")
    if re.search(r"[男女]|male|female|(?<![a-z])[mf][:：]", t, re.I):
        return parse_sex_ranges(t)  # ('男:130-175 女:115-150', 'Male: 130-175 Female: 115-150', 'M:130-175 F:115-150')
    q = norm_text(t)
    if q.endswith(("(-", "(+")):  # ('阴性(-)' lost its closing bracket to the strip above)
        q += ")"
    if q in NEGATIVE_WORDS or q == "无反应性" or q in NONE_SEEN_WORDS or _NEGATIVE_OR_TRACE.fullmatch(q):
        return ParsedRange(None, None, raw, qualitative="negative")
    if q in POSITIVE_WORDS:
        return ParsedRange(None, None, raw, qualitative="positive")
    return None


def allows_trace(text: str) -> bool:
    """A negative reference that allows a trace ('阴性或弱阳性', '阴性或±'): a trace result against it is normal."""
    return bool(_NEGATIVE_OR_TRACE.fullmatch(norm_text(str(text))))
