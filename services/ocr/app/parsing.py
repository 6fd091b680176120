"""Pure text parsing of lab-report cells: values, reference ranges, flags, units; and the row parser that
turns one table row (OCR tokens left to right) into indicator records. No image or model code here."""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from zhenxi_knowledge import ARROWS_DOWN as _ARROW_DOWN
from zhenxi_knowledge import ARROWS_UP as _ARROW_UP
from zhenxi_knowledge import (NONE_SEEN_WORDS, ParsedRange, arrow_flag, parse_sex_ranges, qualitative_grade,
                              same_direction)
from zhenxi_knowledge import parse_range as _parse_range
from zhenxi_knowledge import flag_number as interpret  # (L/N/H/LL/HH: computed in the package)
from zhenxi_knowledge import parse_flag as _parse_flag
from zhenxi_knowledge.ranges import COMPARATORS, NUM, TIMES_TEN, times_ten_as_e

from .knowledge import Indicator, KnowledgeBase, norm_text, simplified

_CMP = COMPARATORS
_PCT_IN_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*([-~～—]{1,2})\s*(\d+(?:\.\d+)?)\s*%\s*$")


_INTERVAL = re.compile(r"^[\[(【]\s*(" + NUM + r")\s*[,，]\s*(" + NUM + r")\s*[\])】]$")
_DASH_AS_ONE = re.compile(r"(?<=\d)\s*一+\s*(?=[-+]?\d)")


def _titre_range(t: str) -> ParsedRange | None:
    """'<1:100', '≤1:40': a titre's range, one-sided in dilutions (the package's parser reads no ratio)."""
    m = _TITRE_RANGE_FORM.match(_printed_range_forms(t).replace(" ", ""))
    if m is None:
        return None
    pr = _parse_range(f"{m.group(1)}{m.group(2)}")
    if pr is None:
        return None
    pr.text = t
    return pr


_TITRE_RANGE_FORM = re.compile(r"^(<=|[<≤])1[:：](\d{1,5})$")


def _printed_range_forms(t: str) -> str:
    """A range as the package's parser reads it, from forms a sheet or the recogniser gives that it does not:
    the dash read as the CJK character 一 ('3.5一5.5', '男:130一175'), the less/greater-or-equal signs of Big5
    fonts ('≦40', '≧1.04'; NFKC keeps them), interval notation ('[3.5,5.5]'), a bound either side of zero
    ('±3', a base excess: -3 to 3) and bounds in brackets for their signs ('(-3)-(+3)'). ``t`` is NFKC text."""
    t = _DASH_AS_ONE.sub("-", t.replace("≦", "≤").replace("≧", "≥"))
    m = _INTERVAL.match(t) or _BRACKETED_BOUNDS.match(t)
    if m:
        t = f"{m.group(1)}~{m.group(2)}"
    m = _PLUS_MINUS_BOUND.match(t)
    if m:
        t = f"-{m.group(1)}~{m.group(1)}"
    if _CJK_CHAR.search(t.replace("一", "").replace("十", "")):
        # a word range in traditional script ('陰性', '未發現'), its sign bracket read as 一 ('阴性(一)') or its 未 as
        # 末; not a lone '一' or '(一)', which is as often a mark the recogniser read from a thin arrow
        t = result_glyphs(simplified(t))
    return t


_PLUS_MINUS_BOUND = re.compile(r"^±\s*(\d+(?:\.\d+)?)$")
_BRACKETED_BOUNDS = re.compile(r"^[(（]\s*(" + NUM + r")\s*[)）]\s*[-~～—–]{1,2}\s*[(（]\s*(" + NUM + r")\s*[)）]$")


# An age group's label, in brackets or not, with its colon: '成人:', '儿童：', '(成人)', '（新生儿）'
_AGE_LABEL = re.compile(r"[(（]?\s*(成人|儿童|小儿|新生儿|婴幼儿|婴儿|幼儿|学龄前儿童|青少年)\s*[)）]?\s*[:：]?\s*")
# the ages (years, from inclusive, to exclusive) each group covers; a patient's age is in whole years (the header
# prints '5岁'), so a group must hold the whole year: age 0 is an infant (婴儿), not surely a newborn (新生儿, the
# first 28 days)
_AGE_GROUPS = {"成人": (18.0, 200.0), "儿童": (0.0, 18.0), "小儿": (0.0, 18.0), "新生儿": (0.0, 28 / 365),
               "婴儿": (0.0, 1.0), "婴幼儿": (0.0, 3.0), "幼儿": (1.0, 3.0), "学龄前儿童": (3.0, 7.0),
               "青少年": (12.0, 18.0)}
# a unit printed after the last range of the cell ('成人:0-40 儿童:0-50 U/L'): not part of that group's range
_TRAILING_UNIT = re.compile(r"(?:\s+\S*[A-Za-zμµ%/]\S*|(?<=\d)[A-Za-zμµ%/][^\s\d]*(?:\d[^\s]*)?)$")


def _age_parts(text: str) -> list[tuple[str, str]] | None:
    """(group, its range text) for each age label of a cell printing a range per age group, the label before its
    range ('成人:3.5-9.5 儿童:5.0-12.0') or after it ('45-125(成人) 42-390(儿童)'). None when the cell is no such
    range (fewer than two labels, or none for adults)."""
    t = unicodedata.normalize("NFKC", text or "").strip()
    labels = list(_AGE_LABEL.finditer(t))
    if len(labels) == 1 and labels[0].start() == 0 and re.match(r"\s*[<>≤≥]?\d", t[labels[0].end():]):
        # one group's range alone ('新生儿:170-200'): the sheet printed the patient's group
        return [(labels[0].group(1), _TRAILING_UNIT.sub("", t[labels[0].end():]).strip(" ;；,，、\u3000"))]
    if len(labels) < 2 or not any(m.group(1) == "成人" for m in labels):
        return None
    label_after = bool(re.search(r"\d", t[:labels[0].start()]))
    parts = []
    for k, m in enumerate(labels):
        if label_after:
            part = t[labels[k - 1].end() if k else 0:m.start()]
        else:
            part = t[m.end():labels[k + 1].start() if k + 1 < len(labels) else len(t)]
        parts.append((m.group(1), _TRAILING_UNIT.sub("", part.strip(" ;；,，、\u3000")).strip(" ;；,，、\u3000")))
    return parts


def _group_holds(group: str, age: float | None) -> bool:
    if age is None:
        return group == "成人"
    lo, hi = _AGE_GROUPS[group]
    whole_year = isinstance(age, int) or float(age).is_integer()
    return lo <= age and (age + 1 <= hi if whole_year else age < hi)


def is_age_split(text: str) -> bool:
    """Does the cell print a range per age group ('成人:3.5-9.5 儿童:5.0-12.0')?"""
    return _age_parts(text) is not None


def age_split_range(text: str, age: float | None = None) -> ParsedRange | None:
    """'成人:3.5-9.5 儿童:5.0-12.0', '45-125(成人) 42-390(儿童)': one cell printing a range per age group. The
    range of the narrowest group that holds the patient's ``age`` (whole years; the adult's with no age); None
    when the cell is no such range or no group holds the age (a child against '成人 … 新生儿 …': no printed range
    fits, the caller falls back as for a row with none)."""
    parts = _age_parts(text)
    if parts is None:
        return None
    groups = [g for g, _ in parts if _group_holds(g, age) or len(parts) == 1 and age is None]
    if not groups:
        return None
    best = min(groups, key=lambda g: _AGE_GROUPS[g][1] - _AGE_GROUPS[g][0])
    # every part under the group's label, together ('成人男:130-175 成人女:115-150 儿童:110-160': a range per sex)
    pr = parse_range(" ".join(p for g, p in parts if g == best))
    if pr is None or (pr.low is None and pr.high is None and not pr.by_sex):
        return None
    pr.text = text
    return pr


def parse_range(text: str) -> ParsedRange | None:
    """The package's range parser; a range printed with its unit on both bounds ('50.0%--70.0%') is read without it;
    a range per age group in one cell ('成人:3.5-9.5 儿童:5.0-12.0') is read as the adult's (age_split_range)."""
    t = unicodedata.normalize("NFKC", text or "").strip()
    m = _PCT_IN_RANGE.match(t)
    if m:
        return _parse_range(f"{m.group(1)}{m.group(2)}{m.group(3)}")
    if _AGE_LABEL.search(t):
        pr = age_split_range(text)
        if pr is not None:
            return pr
    pr = _parse_range(text)
    if pr is None:
        pr = _titre_range(t)
    if pr is None:
        alt = _printed_range_forms(t)
        if alt != t:
            pr = _parse_range(alt)
            if pr is not None:
                if _INTERVAL.match(t):  # '(0,5]': a round bracket leaves its bound out
                    pr.low_inclusive, pr.high_inclusive = t[0] != "(", t[-1] != ")"
                return pr
    if pr is None and re.match(r"^[1lI|tf↑↓]\s*[<>≤≥]\s*\d", t):
        # '1<8' is '↑ <8': an arrow printed before a one-sided range, its head lost on a small or recompressed
        # photo and read as '1' or 't' (a range never starts with a digit before its comparator)
        return _parse_range(t[1:])
    m = _POINT_LOST_IN_LOW.match(t) if pr is None else None
    if m and len(m.group(1)) > len(m.group(3)) and float(m.group(1)) > float(m.group(2)):
        # a range never runs downwards: '17--13.7' is '1.7--13.7' with the point lost (both bounds printed to
        # the same decimals; before '13-8' is read as an arrow and '3-8', which leaves the bounds' decimals unequal)
        n = len(m.group(3))
        alt = _parse_range(f"{m.group(1)[:-n]}.{m.group(1)[-n:]}-{m.group(2)}")
        if alt is not None and alt.low is not None and alt.high is not None and alt.low <= alt.high:
            alt.text = text
            return alt
    if pr is None and re.match(r"^[1lI|↑]\s*\d+(?:\.\d+)?\s*[-~]{1,2}\s*\d", t):
        # '13-8' is '↑ 3-8' with the arrow read as '1' (a range never runs downwards)
        alt = _parse_range(t[1:])
        if alt is not None and alt.low is not None and alt.high is not None and alt.low <= alt.high:
            return alt
    m = _ONE_GROUP_RANGE.match(t) if pr is None else None
    if m and not _ONE_GROUP_RANGE.match(m.group(2)):
        # '新生儿:170-200', '6-<13岁:27-66', '绝经期:25.8-134.8', '卵泡期:0.2-1.5': one range under its group's label,
        # the patient's as the sheet printed it (two labels in one cell are a choice the row cannot make: none)
        alt = _parse_range(m.group(2))
        if alt is not None and (alt.low is not None or alt.high is not None):
            alt.text = text
            return alt
    m = _DOUBLED_SEPARATOR.match(t) if pr is None else None
    if m:
        # '5.00~-38.00': a stray dash beside the separator (a rule's end, noise) is no minus sign; the upper bound
        # of a range read this way must lie above its lower bound
        alt = _parse_range(f"{m.group(1)}~{m.group(2)}{m.group(3)}")
        if alt is not None and alt.low is not None and alt.high is not None and alt.low < alt.high:
            return alt
    m = _TRAILING_POINT.match(t) if pr is None else None
    if m:
        # '10.9--15.': the upper bound's decimals cut off by the photo's edge (or a speck after it); its whole part
        # is what is left of it, and it must still lie above the lower bound
        alt = _parse_range(m.group(1))
        if alt is not None and alt.low is not None and alt.high is not None and alt.low < alt.high:
            alt.text = text
            return alt
    m = _WORD_WITH_CUTOFF.match(t) if pr is None else None
    if m:
        # '阴性(<0.9)', '0-0.9(阴性)': a sign word with the cut-off that defines it; the cut-off is the range
        alt = _parse_range(m.group(1) or m.group(2))
        if alt is not None and (alt.low is not None or alt.high is not None):
            alt.text = text
            return alt
    return pr


# the results a word reference may list as normal, each saying nothing or next to nothing was found
_FEW_OR_NONE = frozenset({"无", "阴性", "阴性(-)", "-", "极少", "极少量", "少量", "少许", "偶见", "微量", *NONE_SEEN_WORDS})


def listed_words(text: str) -> list[str]:
    """The words of a reference printed as a list of results ('极少量或少量': ['极少量', '少量']), each a word
    for nothing or next to nothing; [] when the text is no such list."""
    parts = [p for p in re.split(r"或者|或|、", norm_text(text)) if p]
    return parts if len(parts) >= 2 and all(p in _FEW_OR_NONE for p in parts) else []


def listed_as_normal(it: "RowItem") -> bool:
    """Is the row's result, as printed, one of the words its reference lists ('少量' against '极少量或少量')?"""
    return it.listed_reference is not None and it.value is not None and \
        norm_text(it.value.text) in listed_words(it.listed_reference.text)


_POINT_LOST_IN_LOW = re.compile(r"^(\d+)\s*(?:-{1,2}|~|～|—|一|–)\s*(\d+\.(\d+))$")


# a sign word and its numeric cut-off in brackets, either way round ('阴性(<0.9)', '<1.0(阴性)', '0-0.9 (阴性)')
_WORD_WITH_CUTOFF = re.compile(r"^(?:阴性|阳性|negative|positive)\s*[(（]\s*([^()（）]+?)\s*[)）]$|"
                               r"^([^()（）]+?)\s*[(（]\s*(?:阴性|阳性|negative|positive)\s*[)）]$", re.I)


def range_bound_cut(text: str) -> bool:
    """Is this range one read with its upper bound cut after the point ('10.9--15.', parse_range)?"""
    return _TRAILING_POINT.match(unicodedata.normalize("NFKC", text or "").strip()) is not None


# one range under a phase or an age span ('绝经期:25.8-134.8', '6-<13岁:27-66'); age groups are _AGE_LABEL's. Only
# these labels: '阳性:>0.05', '危急值:<2.5', '灰区:0.9-1.1' are cut-offs, not the range
_ONE_GROUP_RANGE = re.compile(r"^[(（]?\s*((?:卵泡|排卵|黄体|月经|绝经|妊娠)期|绝经[前后]|孕[早中晚]期|[早中晚]孕(?:期)?"
                              r"|\d{1,2}\s*(?:[-~]\s*[<≤]?|[<≤])\s*\d{1,2}\s*(?:岁|月|天|周)"
                              r"|\d{1,2}\s*(?:岁|月|天|周)以[上下])\s*[)）]?\s*[:：]\s*(.+)$")
# a range whose upper bound was cut after its point ('10.9--15.')
_TRAILING_POINT = re.compile(r"^(\d+(?:\.\d+)?\s*[-~～—–]{1,2}\s*\d+)\.$")
_DOUBLED_SEPARATOR = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:~\s*[-—一]|[-—一]\s*~)\s*(\d+(?:\.\d+)?)(\s*\S*)$")
# How a cell looks when it holds a qualitative result (an OCR cell classifier; the grade itself comes from the
# package's qualitative_grade).
_QUAL_RE = re.compile(r"^(?:阴性|阳性|弱阳性|可疑|未检出|" + "|".join(NONE_SEEN_WORDS) + r"|无|检出|正常|无反应性"
                      r"|有反应性|neg(?:ative)?|pos(?:itive)?|norm(?:al)?"
                      r"|absent|detected|non-?reactive|reactive|present|found"
                      r"|[-±+]|\+-|-\+|\(\+-\)|\+{1,4}|[1-4]\+|\(?[-±+]\)?|阴性\(?-?\)?|阳性\(?\+*\)?|微量|少量|少许|trace"
                      r"|\(\+{1,4}\)|\([1-4]\+\)|弱阳性\(?(?:±|\+-|\+)?\)?|阳性\([1-4]\+\))$", re.I)
# Glyphs the recogniser returns for a printed flag mark: a bold 'H' comes back as '日'.
_MISREAD_MARKS = {"日": "H"}


def _clean_number_text(s: str) -> str:
    """Undo common OCR confusions inside numbers: O→0, l/I→1, ',' as decimal point, spaces, a lost point after a
    leading zero."""
    t = unicodedata.normalize("NFKC", s).strip()
    t = t.replace(" ", "")
    e = times_ten_as_e(t)
    if e != t and re.fullmatch(r"[<>≤≥=]*[-+]?\d+(?:\.\d+)?E[-+]?\d{1,2}", e):
        return e  # '2.35×10^3' (a viral load): 2.35E3
    if re.fullmatch(r"[<>≤≥=]*[-+]?[\dOoIl,\.]+", t) and re.search(r"\d", t):
        t = t.replace("O", "0").replace("o", "0").replace("I", "1").replace("l", "1")
        if t.count(",") == 1 and "." not in t:
            t = t.replace(",", ".")
        t = t.replace(",", "")
        # '04', '005': no result is printed with a leading zero; the decimal point after it was lost (faint or
        # dotted print)
        m = re.fullmatch(r"([<>≤≥=]*[-+]?)0(\d+)", t)
        if m:
            t = f"{m.group(1)}0.{m.group(2)}"
    return t


@dataclass
class ParsedValue:
    number: float | None
    text: str
    comparator: str | None = None  # '<', '<=', '>', '>=' for results like '<0.5'
    qualitative: str | None = None  # 'negative' | 'positive' | '1+' ...


# A printed '+' / '-' mark the recogniser returned as the CJK characters 十 (ten) / 一 (one): '十' → '+', '一' → '-',
# '十一' / '+一' → '+-'. Only for cells made of nothing else (a result is never the word 一 or 十).
_PM_GLYPHS = re.compile(r"[十+一\-]{1,4}")
_SIGN_GLYPHS = str.maketrans({"−": "-", "–": "-", "—": "-", "一": "-", "十": "+"})
_SIGN_RUN = r"[-+±−–—一十]{1,4}"  # a bracketed grade as read: '+', '-', '+-', the minus also as '−', '–', '一'
_THIN_ONE_PLUS = re.compile(r"^\s*[Iil|](?=\+\s*$)")  # '1+' with its thin '1' read as 'I', 'l' or '|'


def plus_minus_glyphs(text: str) -> str:
    """'十一' → '+-', '一' → '-', '十十' → '++'; any other text unchanged."""
    t = text.strip()
    if _PM_GLYPHS.fullmatch(t) and ("十" in t or "一" in t):
        return t.replace("十", "+").replace("一", "-")
    if t in ("士", "(士)", "（士）"):  # '±' read as the character 士 (a scholar), which no result is
        return t.replace("士", "±")
    return text


# 未 ('not') read as 末 ('end', one stroke's length apart) or 术, before the words of a microscopy finding none
# seen: '末见', '术检出', '末發現' (no result begins with them; not 木, the top of a clipped 查 in 查见, found)
_END_FOR_NOT = re.compile(r"^(\s*)[末术](?=\s*(?:见|見|检出|檢出|发现|發現|找到|查见|查見|查到|找见|检到|检见))")


def result_glyphs(text: str) -> str:
    """A qualitative result as the sheet printed it, from the glyphs the recogniser returns on a blurred or
    recompressed photo: '十一' → '+-' (plus_minus_glyphs), '1(−)' → '1(-)', '(一)' → '(-)', 'I+' → '1+',
    '末见' → '未见'."""
    t = plus_minus_glyphs(text)
    if (m := _SIGN_WORD_BANG.fullmatch(t.strip())) is not None:
        # '阴性！)', '阴性！！': dot-matrix print's '(-)' after a sign word read as exclamation marks; the grade of a
        # positive is lost with it
        return m.group(1) + "(-)" if m.group(1) in ("阴性", "陰性") else m.group(1)
    t = re.sub(r"[(（]\s*(" + _SIGN_RUN + r")\s*[)）]", lambda m: "(" + m.group(1).translate(_SIGN_GLYPHS) + ")", t)
    return _END_FOR_NOT.sub(r"\1未", _THIN_ONE_PLUS.sub("1", t))


_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
_SIGN_WORD_BANG = re.compile(r"(阴性|弱阳性|阳性|陰性|弱陽性|陽性)\s*[(（]?\s*[!！]+\s*[)）!！]?")


_GRADE = r"(?P<grade>\+{1,4}|[1-4]\+|±|\+-)"
_NUM_GRADE = re.compile(r"(?P<num>" + NUM + r")\s+" + _GRADE)
_GRADE_NUM = re.compile(_GRADE + r"\s+(?P<num>" + NUM + r")")
# a strip pad's concentration with its unit and its grade in one cell ('28 mmol/L 2+', '200 Ery/μL 3+',
# '2+ 28mmol/L'): the unit of a pad, an amount per litre, decilitre or microlitre
_PAD_UNIT = r"(?:[A-Za-zμµ]{1,5}\s*)?/\s*(?:[μµu]L|ul|dL|dl|mL|L)"
# (a grade spelt out: a lone '+' after a unit is as likely an arrow or a rule read as one: '5.2 mmol/L +')
_PAD_GRADE = r"(?P<grade>\+{2,4}|[1-4]\+|±|\+-)"
_NUM_UNIT_GRADE = re.compile(r"(?P<num>" + NUM + r")\s*(?P<unit>" + _PAD_UNIT + r")\s*[(]?" + _PAD_GRADE + r"[)]?")
_GRADE_NUM_UNIT = re.compile(r"[(]?" + _PAD_GRADE + r"[)]?\s+(?P<num>" + NUM + r")\s*(?P<unit>" + _PAD_UNIT + r")")
# the grade with its concentration in brackets: '1+(0.3g/L)', '±(0.15)', '4+(≥55mmol/L)'
_GRADE_BRACKET_NUM = re.compile(_GRADE + r"\s*[(]\s*(?P<num>(?:<=|>=|[<>≤≥])?\s*" + NUM + r")\s*(?P<unit>" + _PAD_UNIT +
                                r")?\s*[)]")


def _pad_cell(nk: str) -> re.Match | None:
    """A test-strip pad's number with its grade in one cell, NFKC text ('500 +++', '3+ 500', '28 mmol/L 2+',
    '2+ 200 Ery/μL', '1+(0.3g/L)'): the match, with groups num, grade and (where printed) unit; else None."""
    for pattern in (_NUM_GRADE, _GRADE_NUM, _NUM_UNIT_GRADE, _GRADE_NUM_UNIT, _GRADE_BRACKET_NUM):
        if (m := pattern.fullmatch(nk)) is not None:
            return m
    return None


# The plus read as the CJK 十 where only a sign can stand: inside brackets of signs and grade digits ('3.0(十3)',
# '阳性(十)', '(十十)'), before the digit of a cell that starts with it ('十1', '十2.5'), after a grade digit that ends
# the cell ('3十'). Not in a word: '十二指肠' keeps its 十 (no ASCII digit or bracket of signs beside it).
_TEN_IN_BRACKETS = re.compile(r"[(（]\s*[-+±十一1-4]*十[-+±十一1-4]*\s*[)）]")
_TEN_BEFORE_DIGIT = re.compile(r"^(\s*)十(?=\s*\d)")
_TEN_AFTER_GRADE = re.compile(r"(?<=^[1-4])十(?=\s*$)")


def plus_read_as_ten(text: str) -> str:
    """'3.0(十3)' → '3.0(+3)', '十1' → '+1', '阳性(十)' → '阳性(+)', '3十' → '3+': the 十 the recogniser returns for
    a printed '+', put back where a sign stands. Any other text unchanged."""
    if "十" not in text:
        return text
    t = _TEN_IN_BRACKETS.sub(lambda m: m.group(0).replace("十", "+"), text)
    t = _TEN_BEFORE_DIGIT.sub(r"\1+", t)
    return _TEN_AFTER_GRADE.sub("+", t.strip()) if _TEN_AFTER_GRADE.search(t.strip()) else t


def parse_value(text: str) -> ParsedValue | None:
    """A result cell without its flag: '6.52', '<0.50', '阴性', '2+', '1.0E+03'. None if not a value."""
    raw = text.strip()
    if not raw:
        return None
    pv = _parse_value(plus_read_as_ten(raw))
    if pv is None and (word := word_in_stray_brackets(raw)) is not None:
        pv = _parse_value(word)
    if pv is not None:
        pv.text = raw
    return pv


_WORD_IN_STRAY_BRACKETS = re.compile(r"[(（]?\s*([\u4e00-\u9fff]{2,4})\s*[)）]?")


def word_in_stray_brackets(text: str) -> str | None:
    """'(未见', '阴性)', '(未见)': a word result with a bracket the recogniser took from a cell's edge or a rule
    (or printed round it): the word, when it is a result ('未见'; a number is never read out of brackets this way,
    a name is no result); else None."""
    m = _WORD_IN_STRAY_BRACKETS.fullmatch(text.strip())
    if m is None or m.group(1) == text.strip():
        return None
    pv = _parse_value(m.group(1))
    return m.group(1) if pv is not None and pv.number is None else None


def _parse_value(raw: str) -> ParsedValue | None:
    if len(raw) > 2 and raw[-1] in ".。,，" and re.search(r"[)）\u4e00-\u9fff]$", raw[:-1]):
        raw = raw[:-1]  # '阴性(-).': a speck after a word or a bracket read as a point (no word ends in one)
    t = _clean_number_text(raw)
    m = _SIGNED_GRADE.fullmatch(t)
    if m:  # '+2': a test strip's grade printed sign first (2+), not the number 2
        return ParsedValue(None, raw, None, f"{m.group(1)}+")
    m = re.fullmatch(r"(<=|>=|=<|=>|[<>≤≥＜＞])?\s*(" + NUM + r")(?:[eE]([-+]?\d{1,2}))?", t)
    if m:
        num = float(m.group(2)) * (10 ** int(m.group(3)) if m.group(3) else 1)
        if not math.isfinite(num):
            return None
        return ParsedValue(num, raw, _CMP.get(m.group(1)) if m.group(1) else None)
    # ('1+' read as 'I+' as inside numbers, '(一)' for '(-)', '末见' for '未见': result_glyphs)
    q = _SIGN_WORD_MISREAD.sub(r"\1性", result_glyphs(norm_text(simplified(raw))))
    if (m := _ENGLISH_SIGN_BRACKET.fullmatch(q)) is not None:
        # 'Positive(+)', 'Negative (-)', 'Weakly positive(+)' (Hong Kong, Taiwan, bilingual sheets): the sign
        # word with its bracketed grade, read as its Chinese form
        q = _ENGLISH_SIGN_WORDS[m.group(1).lower()] + m.group(2)
    if _QUAL_RE.match(q):
        # ('阳性(++)', '弱阳性(+)': the bracketed sign is the grade, the package's bracketed_grade)
        return ParsedValue(None, raw, None, qualitative_grade(q))
    m = re.fullmatch(r"(" + NUM + r")\s*[(（]\s*(" + _SIGN_RUN + r"|阴性|阳性)\s*[)）]", t)
    if m:  # '66(+)', '3(-)': a number with its qualitative reading (the minus also as '−', '–', '一' on a blurred
        # or recompressed photo, the plus as '十')
        sign = m.group(2).translate(_SIGN_GLYPHS)
        return ParsedValue(float(m.group(1)), raw, None, qualitative_grade(sign))
    pv = number_with_reading(raw)
    if pv is not None:
        return pv
    nk = unicodedata.normalize("NFKC", raw)
    m = _pad_cell(nk)
    if m:  # '500 +++', '3+ 500', '28 mmol/L 2+', '1+(0.3g/L)': a test-strip pad's number (and its unit) with its
        # grade; '4+(≥55mmol/L)' keeps its comparator
        number, comparator = _comparator_number(m.group("num"))
        return ParsedValue(number, raw, comparator, qualitative_grade(m.group("grade")))
    m = re.fullmatch(r"1\s*[:：]\s*(\d{1,5})", t)
    if m:  # a titre '1:320' (kept as printed; the dilution is the number)
        return ParsedValue(None, raw, None, None)
    m = _WORD_TITRE.fullmatch(t)
    if m:  # '阳性(1:8)': a non-treponemal test's reading and its titre (kept as printed)
        return ParsedValue(None, raw, None, qualitative_grade(m.group(1)))
    if _BLOOD_GROUP.fullmatch(t):  # 'A型', 'AB型': an ABO group, kept as printed
        return ParsedValue(None, raw, None, None)
    return None


_ENGLISH_SIGN_WORDS = {"negative": "阴性", "neg": "阴性", "positive": "阳性", "pos": "阳性", "weaklypositive": "弱阳性",
                       "weakpositive": "弱阳性"}
_ENGLISH_SIGN_BRACKET = re.compile(r"(negative|neg|positive|pos|weaklypositive|weakpositive)\s*([(（]\s*(?:[-±+]|\+-|"
                                   r"\+{1,4}|[1-4]\+)\s*[)）])", re.I)
_BLOOD_GROUP = re.compile(r"(?:AB|A|B|O)\s*型")
_WORD_TITRE = re.compile(r"(阴性|弱阳性|阳性)[(（]1[:：]\d{1,5}[)）]")
# the 性 of a sign word read as a look-alike ('阳牲', '阴姓')
_SIGN_WORD_MISREAD = re.compile(r"^(阴|阳|弱阳)[牲姓]")
_SIGNED_GRADE = re.compile(r"\+([1-4])")  # '+1' .. '+4' alone: no result is printed with a plus and one digit
_NUM_TEXT = r"(?:<=|>=|[<>≤≥])?\s*\d+(?:\.\d+)?"
# '3.0(+3)', '0.3(1+)', '15(+-)': a test strip's concentration with its grade in brackets
_NUM_BRACKET_GRADE = re.compile(r"(" + NUM + r")\s*[(（]\s*(\+[1-4]|[1-4]\+|\+{1,4}|±|\+-)\s*[)）]")
# '阴性(0.24)', '阳性 (12.87)': a serology result's reading with its measured index in brackets; '阴性 0.23' with
# the index after a space (a bare number only: '阴性 <1.0' is the reading and its printed reference)
_WORD_BRACKET_NUM = re.compile(r"(阴性|弱阳性|阳性)\s*(?:[(（]\s*(" + _NUM_TEXT + r")\s*[)）]|\s(\d+(?:\.\d+)?))")
# '0.24 阴性', '<0.05阴性', '12.87 阳性(+)': the measured index, then its reading
# (groups: the number, the word with its bracketed sign, the word alone)
_NUM_THEN_WORD = re.compile(r"(" + _NUM_TEXT + r")\s*((阴性|弱阳性|阳性)(?:\s*[(（]\s*[-+±]{1,4}\s*[)）])?)")


def _comparator_number(num_text: str) -> tuple[float, str | None]:
    """'<0.05' → (0.05, '<'): a _NUM_TEXT number and its comparator."""
    c = re.match(r"(<=|>=|[<>≤≥])\s*", num_text)
    return float(num_text[c.end():] if c else num_text), _CMP.get(c.group(1)) if c else None


def pad_unit(cell: Cell) -> Cell | None:
    """The unit printed inside a strip pad's result cell ('28 mmol/L 2+', '3+ 200 Ery/uL', '1+(0.3g/L)'), as a cell
    of its own (its box apportioned by character count), or None."""
    t = cell.text.strip()
    m = _pad_cell(unicodedata.normalize("NFKC", t))
    if m is None or m.groupdict().get("unit") is None:
        return None
    x0, y0, x1, y1 = cell.box
    n = max(len(t), 1)
    a, b = m.span("unit")
    return Cell(m.group("unit").strip(), cell.score, (x0 + (x1 - x0) * a / n, y0, x0 + (x1 - x0) * b / n, y1))


def number_with_reading(text: str) -> ParsedValue | None:
    """A number printed with its qualitative reading in one cell: a strip pad's concentration and grade
    ('3.0(+3)', '0.3(1+)'), a serology index and its word ('阴性(0.24)', '0.24 阴性'). The number is the result,
    the reading decides the flag (NEG/POS). None for any other text."""
    t = unicodedata.normalize("NFKC", text or "").strip()
    m = _NUM_BRACKET_GRADE.fullmatch(t)
    if m:
        g = m.group(2)
        grade = f"{g[1]}+" if _SIGNED_GRADE.fullmatch(g) else g
        return ParsedValue(float(m.group(1)), text.strip(), None, qualitative_grade(grade))
    m = _WORD_BRACKET_NUM.fullmatch(t)
    word, num = (m.group(1), m.group(2) or m.group(3)) if m else (None, None)
    if m is None:
        m = _NUM_THEN_WORD.fullmatch(t)
        word, num = (m.group(3), m.group(1)) if m else (None, None)
    if m is None:
        return None
    number, comparator = _comparator_number(num)
    return ParsedValue(number, text.strip(), comparator, qualitative_grade(word))


_PER_FIELD = r"(?:HP|LP|HPF|LPF)"  # a microscope's field: high / low power
_COUNT_PER_FIELD = re.compile(r"^(\d+)\s*[-~～]\s*(\d+)\s*(?:/\s*" + _PER_FIELD + r")?$", re.I)


_COUNTLESS = ("满视野", "满视", "布满视野")


def count_against_range(text: str, low: float | None, high: float | None) -> str | None:
    """L/N/H of a count per field printed as a span ('0-2', '10-15/HP', urine sediment and stool microscopy)
    against a printed numeric range ('0-5'): H when the span reaches above the range, L when it starts below it,
    else N; '满视野' (too many to count) is H. None when the text is no such count or the range has no bound."""
    t = unicodedata.normalize("NFKC", text or "").strip()
    if t in _COUNTLESS and high is not None:
        return "H"  # '满视野' (the field full of cells): beyond any count the range allows
    m = _COUNT_PER_FIELD.match(t)
    if m is None or (low is None and high is None):
        return None
    a, b = int(m.group(1)), int(m.group(2))
    if a > b:
        return None
    if high is not None and b > high:
        return "H"
    if low is not None and a < low:
        return "L"
    return "N"


_TITRE = re.compile(r"^1\s*[:：]\s*(\d{1,5})$")


def titre_against_range(text: str, pr: ParsedRange | None) -> str | None:
    """POS/NEG of a titre ('1:320', antibodies found at that dilution) against its printed range: a titre reported
    where the range says 阴性 is positive (a negative result is printed as 阴性 or '<1:100', not as a titre);
    against '<1:100' it is positive from 1:100 on (from 1:101 against '≤1:100'). None when the text is no titre or
    the range says neither."""
    m = _TITRE.match(unicodedata.normalize("NFKC", text or "").strip())
    if m is None or pr is None:
        return None
    if pr.qualitative == "negative":
        return "POS"
    if pr.high is not None and pr.low is None and re.search(r"[:：]", pr.text or ""):
        n = int(m.group(1))
        return "POS" if n > pr.high or (n == pr.high and not pr.high_inclusive) else "NEG"
    return None


# cells seen, too few to count (少量 / 少许 are read as positive words by parse_value and never get here)
_FEW_SEEN = ("偶见", "可见", "查见")
# the same amounts in English (Hong Kong and Taiwan sheets): 'Occasional' and 'Rare' are 偶见
_OCCASIONAL_EN = ("occasional", "rare")
_FEW_SEEN_EN = _OCCASIONAL_EN + ("few", "moderate", "many", "numerous")


def is_per_field(unit: str) -> bool:
    """A unit per microscope field: '/HP', '个/HP', '/LPF'."""
    return bool(re.fullmatch(r"(?:个)?/\s*" + _PER_FIELD, unicodedata.normalize("NFKC", unit or "").strip(), re.I))


def without_per_field(text: str) -> str:
    """A microscopy result without its per-field unit: '0-2/HP' → '0-2', '偶见/HPF' → '偶见'."""
    return re.sub(r"\s*/\s*" + _PER_FIELD + "$", "", unicodedata.normalize("NFKC", text or "").strip(), flags=re.I)


def seen_against_none_range(text: str, pr: ParsedRange | None, high: float | None) -> str | None:
    """POS/N of a microscopy finding against a range that expects none or a count: cells seen ('0-2', '0-2/HP',
    '偶见', '少许', '满视野') where the range says 未见 / 阴性 are a positive finding ('0-0' is none seen: NEG);
    '偶见' (seen now and then) lies within a printed count range ('0-5') or a range that is itself 偶见; the
    English amounts alike ('Few', 'Many'; 'Occasional' and 'Rare' are 偶见). None for anything else."""
    t = without_per_field(text)
    if pr is None:
        return None
    if t.lower() in _OCCASIONAL_EN:
        t = "偶见"
    if t == "偶见" and (high is not None and high >= 1 or norm_text(pr.text or "") == "偶见"):
        return "N"
    if pr.qualitative != "negative":
        return None
    m = _COUNT_PER_FIELD.match(t)
    if m:
        return "NEG" if int(m.group(2)) == 0 else "POS"
    return "POS" if t in _FEW_SEEN or t in _COUNTLESS or t.lower() in _FEW_SEEN_EN else None


def count_or_titre_flag(text: str, pr: ParsedRange, low: float | None, high: float | None) -> str | None:
    """The flag of a result that is neither a number nor a sign word, against its printed range: a count per field
    ('10-15/HP' against '0-5', bounds ``low``/``high`` as printed), cells seen against 未见 ('0-2', '偶见'), or a
    titre ('1:320' against 阴性 or '<1:100')."""
    return count_against_range(text, low, high) or seen_against_none_range(text, pr, high) \
        or titre_against_range(text, pr)


def split_flag(text: str) -> tuple[str, str | None]:
    """('112', 'L') from '112↓' / '112 L' / '↓112'; flag is one of the shared vocabulary (L/H/LL/HH/ABN) or None.
    A lone '1', 'l', 'I' or '|' after a space is an arrow the OCR could not read: dropped, direction unknown; so is
    one after a second decimal point ('500.5.1': no number has two, the arrow's foot read as the point)."""
    t = unicodedata.normalize("NFKC", text).strip()
    m = re.match(r"^([<>≤≥]?=?[-+]?\d+(?:\.\d+)?)\s+[1lI|]$", t) or \
        re.match(r"^([<>≤≥]?=?[-+]?\d+\.\d+)\.[1lI|]$", t) or \
        re.match(r"^([<>≤≥]?=?[-+]?\d+\.\d+)\s+[5sS%]$", t)  # '43.2 5': a '%' read as 5 after a decimal
    if m:
        return m.group(1), None
    m = re.match(r"^(.*?)[\s]*([↑↓⬆⬇▲▼]{1,2})$", t) or re.match(r"^([↑↓⬆⬇▲▼]{1,2})\s*(.*)$", t)
    if m:
        a, b = m.group(1), m.group(2)
        arrows, rest = (b, a) if any(c in b for c in _ARROW_UP + _ARROW_DOWN) else (a, b)
        return rest.strip(), arrow_flag(arrows)
    m = re.match(r"^(.*?\d)\s*(HH|LL|H|L)$", t) or re.match(r"^(.*?(?:阴性|阳性)\s*[(（][-+±]{1,4}[)）])\s*(H|L)$", t)
    if m:  # ('阳性(+)H': a sign word with its bracketed grade, then the mark)
        return m.group(1).strip(), m.group(2)
    m = re.match(r"^(.*?\d)\s*[(\[【]\s*(HH|LL|H|L|h|l|偏高|偏低|高|低)\s*[)\]】]$", t) or \
        re.match(r"^(.*?\d)\s*(偏高|偏低|高|低)$", t) or re.match(r"^(.*?\d\.\d+)\s*(h)$", t)
    if m:  # '79.9(H)', '298[L]', '(l)', '75偏低', '61.5高', '98.6h'. A bare lower-case 'h' only after a decimal
        # ('2h', '24h' are the hours of a timed test in its name); a bare 'l' is left alone: it reads as a 1
        return m.group(1).strip(), _parse_flag(m.group(2), markers_only=True)
    m = re.match(r"^(HH|LL|H|L|h|偏高|偏低|高|低)\s*((?:<=|>=|[<>≤≥])?\s*[-+]?\d+(?:\.\d+)?)$", t)
    if m:  # 'H66.3', '偏低75': a mark column printed before the result, its cell glued to the result's
        return m.group(2).strip(), _parse_flag(m.group(1), markers_only=True)
    m = re.match(r"^(.*?\d)\s*\*$", t) or re.match(r"^[*★]\s*([<>≤≥]?=?\d+(?:\.\d+)?)$", t) or \
        re.match(r"^([^*]*?(?:\+|±|[\u4e00-\u9fff]|[(（](?:\+{1,4}|[1-4]\+|±|\+-)[)）]))\s*\*$", t) or \
        re.match(r"^((?:[1-4]\+|\+{1,4}|±|[(（](?:\+{1,4}|[1-4]\+|±|\+-)[)）]))\s*[米木本]$", t)
    if m:  # '86.4*', '*86.4': a star beside the result says abnormal, the range gives the direction; also beside
        # a grade, a bracketed sign or a word ('+++*', '(+)*', '±*', '微浑*', '阳性*'); a small star after a grade
        # read as the character it looks like ('1+本', '++米': no result word ends a grade with one)
        return m.group(1).strip(), "ABN"
    return t, None


def _upright_stroke(cell: Cell) -> bool:
    """A lone dash read from a box much taller than wide: the recogniser turned the tall box on its side and read an
    upright stroke (a thin ↑ or ↓ whose head was lost, a '|') as '一'. No minus sign is taller than it is wide."""
    x0, y0, x1, y1 = cell.box
    # (the full-width 一 only: the recogniser's reading of a turned upright stroke; a hyphen's box shared out of a
    # longer token by character count ('<25 -') is narrow too)
    return (y1 - y0) > 1.5 * max(x1 - x0, 1.0) and cell.text.strip() == "一"


def parse_flag(text: str) -> str | None:
    """A stand-alone flag cell: '↑', 'H', '偏高', '↓↓', '*' → a flag of the shared vocabulary."""
    t = norm_text(text)
    return _parse_flag(_MISREAD_MARKS.get(t, text), markers_only=True)


# ---- row parsing ---------------------------------------------------------------------------------------------

@dataclass
class Token:
    text: str
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in page pixels
    column: str | None = None  # header column hint: name | value | flag | range | unit | code | group | None
    slope: float | None = None  # dy/dx of the text line's baseline (from the OCR quad), None when too short

    @property
    def cx(self) -> float:
        return (self.box[0] + self.box[2]) / 2


@dataclass
class Cell:
    """A field assembled from a token (or part of one)."""
    text: str
    score: float
    box: tuple[float, float, float, float]


@dataclass
class RowItem:
    names: list[tuple[Cell, list[Any]]] = field(default_factory=list)  # (cell, NameMatch candidates)
    value: Cell | None = None
    parsed_value: ParsedValue | None = None
    flag: Cell | None = None
    flag_code: str | None = None
    range: Cell | None = None
    parsed_range: ParsedRange | None = None
    unit: Cell | None = None
    extras: list[Cell] = field(default_factory=list)
    row_no: int | None = None  # the row number printed before the name, when the sheet numbers its rows
    value_from_shape: bool = False  # the result is a '-' or '+' seen on the page (marks.find_mark), not recognised text
    flag_ink: bool = False  # no mark read, but the mark cell holds ink of its own (marks.look_at_mark_cell): unreadable
    value_from_likelihood: bool = False  # a garbled sign word read again against 阴性/阳性/弱阳性 (CTC likelihood)
    bare_range: Cell | None = None  # a lone number under the range header: a one-sided range ('<25') whose thin
    # comparator the detector left out of its box (see service.comparator_lost_in_range_column)
    range_comparator_inferred: bool = False  # the range's '<' was put back from its column (review note)
    value_reread: bool = False  # an unmarked result outside its printed range, read again to fit it (review note)
    comma_undecided: bool = False  # '1,256' kept as 1.256 where 1256 would flag otherwise (thousands_as_number)
    listed_reference: Cell | None = None  # a reference printed as words a normal result may be ('极少量或少量'):
    # kept apart from the range (it bounds nothing, and no other rule reads it), only to say which words are normal


_UNIT_HINT = re.compile(r"(/L|/l|/dL|/dl|/mL|/ml|%|fL|fl|pg|mmHg|/μL|/uL|/HP|/LP|mm/h|^s$|秒|次/分|bpm|COI|ratio|kPa)",
                        re.I)


# a code with a one-character suffix glued by a hyphen ('HCT-M', 'LYM%-M') whose letter the recogniser read as a
# digit ('HCT-4'): a minus and one digit glued to a code's letters is no negative result (a result stands apart)
_CODE_SUFFIX = re.compile(r"([A-Za-z][A-Za-z%#]*)-\d")


def _code_with_suffix(kb: KnowledgeBase, text: str) -> bool:
    """'HCT-4' is the code HCT-M, its suffix letter read as a digit; 'BE-3', 'ABE-4' are a base excess and its
    negative result: a test whose reference range runs below zero (base excess, a z-score) keeps the signed reading."""
    m = _CODE_SUFFIX.fullmatch(text)
    if m is None:
        return False
    signed = [x for x in kb.match_name(m.group(1), allow_fuzzy=False) if x.how == "exact"
              and x.indicator.ref is not None and x.indicator.ref.low is not None and x.indicator.ref.low < 0]
    return not signed


def _split_glued(kb: KnowledgeBase, tok: Token) -> list[tuple[str, str, float]]:
    """Split a token that holds several fields ('嗜酸性粒细胞百分4.40', '6.52 10^9/L', '3.5-9.5 g/L', '112↓').
    Returns [(kind, text, x_fraction_start)] with kind in name|value|flag|range|unit|text."""
    text = unicodedata.normalize("NFKC", tok.text).strip()
    out: list[tuple[str, str, float]] = []
    n = max(len(text), 1)
    rest, fl = split_flag(text)
    if not (fl and parse_value(rest) is not None) and any(
            m.how == "exact" for m in kb.match_name(text, allow_fuzzy=False)) or kb.printed_twice(text):
        # 'T3', 'CA125', 'HbA1c', '载脂蛋白A1ApoA1' are names, not name + value; '98.6H' is a result and its
        # mark, whatever name a sequence-number-stripped '6H' may be an alias of
        return [("name", text, 0.0)]
    # name + value: the longest leading part that is a known name, followed by a number/qualitative.
    m = re.match(r"^(.*?[^\d\s.<>≤≥+\-])\s*((?:<=|>=|[<>≤≥])?\s*[-+]?\d+(?:\.\d+)?\s*[↑↓HL]{0,2})$", text)
    # (not in a code column: a code cell holds the code alone, its last digit no result: 'AT-II1' is AT-III
    # misread, beside its own name and result)
    if m and tok.column != "code" and not parse_range(text) and _CJK_OR_ALPHA.search(m.group(1)) and \
            not _code_with_suffix(kb, text):
        head, tail = m.group(1), m.group(2)
        head = _LEAD_ROWNO.sub("", head) or head
        if re.fullmatch(r"-?\d{1,3}", tail.strip()) and kb.numbered_family(head.rstrip("-")):
            # 'IL-2', '白细胞介素-10', '糖类抗原50', '维生素B1': the number is the test's, whatever test it is
            return [("name", text, 0.0)]
        matches = kb.match_name(head, allow_fuzzy=True) if len(head) >= 2 else \
            [x for x in kb.match_name(head, allow_fuzzy=False) if x.how == "exact"] if one_han(head) else []
        if matches and matches[0].score >= (0.75 if not re.search(r"[\u4e00-\u9fff]", head) else 0.6) or (
                tok.column == "name" and len(re.findall(r"[\u4e00-\u9fff]", head)) >= 3):
            # under the name header a number glued to a long name is its result, known name or not
            return [("name", head, 0.0), ("value", tail, len(head) / n)]
    # name + qualitative result: '肺炎支原体IgM(胶阴性'
    m = re.match(r"^(.*[\u4e00-\u9fffA-Za-z)）(（])(阴性|阳性|弱阳性|未检出|未见)$", text)
    if m and len(re.findall(r"[\u4e00-\u9fffA-Za-z]", m.group(1))) >= 2 and not kb.match_name(text, allow_fuzzy=False):
        head = m.group(1)
        return [("name", head, 0.0), ("value", m.group(2), len(head) / n)]
    # one result printed in two units, the second in brackets: '7.8%(62mmol/mol)' (HbA1c as NGSP % and IFCC),
    # '5.6mmol/L(101mg/dL)': the first reading and its unit are the row's; the bracket repeats the result
    m = _TWO_UNIT_RESULT.fullmatch(text)
    if m and is_unit(kb, m.group(2)) and is_unit(kb, m.group(3)) and parse_value(split_flag(m.group(1))[0]):
        head = m.group(1).strip()
        return [("value", head, 0.0), ("unit", m.group(2), len(head) / n)]
    # value/range followed by a unit: the unit from the first digit on ('6.52 10^9/L'), else from the last one
    # ('22.0%': the first split, '2' + '2.0%', is no unit)
    for m in (re.match(r"^(.*?\d[↑↓]{0,2})\s*([A-Za-zμµ%/×x\^\*\d\.\-~]*[A-Za-zμµ%/][A-Za-zμµ%/\^\d\.²]*)$", text),
              re.match(r"^(.*\d[↑↓]{0,2})\s*([A-Za-zμµ%/][A-Za-zμµ%/\^\d\.²]*)$", text),
              re.match(r"^(.*\d[↑↓]{0,2})\s*(个\s*/\s*\S+|秒)$", text)):  # '125.3个/μL', '12.5秒'
        if m and is_unit(kb, m.group(2)) and (parse_value(split_flag(m.group(1))[0]) or parse_range(m.group(1))):
            head = m.group(1).strip()
            kind = "range" if parse_range(head) and not parse_value(split_flag(head)[0]) else "value"
            return [(kind, head, 0.0), ("unit", m.group(2), len(head) / n)]
    # a range glued to its unit: '320.0-355.0g/L', '0.12--1.00×10°/L' (the regex above stops at the first digit;
    # a unit the recogniser mangled beyond repair is kept as printed)
    for i in range(1, len(text)):
        head, unit = text[:i].rstrip(), text[i:].strip()
        if head and head[-1].isdigit() and re.match(r"[A-Za-zμµ%/×\^\*个秒]", unit) and parse_range(head) \
                and not parse_value(head) and (is_unit(kb, unit) or re.match(r"[×x\*]\s*10", unit)):
            return [("range", head, 0.0), ("unit", unit, len(head) / n)]
    # a count unit glued to the result or the range without a space: '6.4510^9/L', '125-35010^9/L' (the unit
    # begins with digits of its own: cut where what follows is a 10^n unit, the leftmost such cut)
    for i in range(1, len(text) - 3):
        head, unit = text[:i].rstrip(), text[i:].strip()
        if head[-1:].isdigit() and re.match(r"10\S*/", unit) and is_unit(kb, unit):
            if parse_value(split_flag(head)[0]) is not None:
                return [("value", head, 0.0), ("unit", unit, i / n)]
            if parse_range(head) is not None:
                return [("range", head, 0.0), ("unit", unit, i / n)]
    # a unit glued before the range: '1012/L3.50-5.50'
    for i in range(1, len(text) - 2):
        unit, tail = text[:i].strip(), text[i:].strip()
        if tail[:1].isdigit() and re.search(r"[/%a-zA-Zμ]$", unit) and is_unit(kb, unit) and parse_range(tail) \
                and not parse_value(tail):
            return [("unit", unit, 0.0), ("range", tail, i / n)]
    # a microscopy word glued to its per-field unit: '偶见/HP', '满视野/HP' (the word is the result)
    m = _WORD_PER_FIELD.fullmatch(text)
    if m and not kb.match_name(m.group(1), allow_fuzzy=False):
        return [("text", m.group(1), 0.0), ("unit", m.group(2), len(m.group(1)) / n)]
    # value then range in one cell: '6.52 3.5-9.5', '0.24 阴性', '<0.05阴性' (a serology index with the printed
    # reference beside it, the cell under the range header)
    m = re.match(r"^(\S+)\s+(\S+)$", text) or _NUM_THEN_WORD.fullmatch(text) or _SIGN_THEN_SIGN.fullmatch(text)
    if m and parse_value(split_flag(m.group(1))[0]) and parse_range(m.group(2)):
        return [("value", m.group(1), 0.0), ("range", m.group(2), (len(text) - len(m.group(2))) / n)]
    out.append(("?", text, 0.0))
    return out


_TWO_UNIT_RESULT = re.compile(r"((?:<=|>=|[<>≤≥])?\s*\d+(?:\.\d+)?\s*[↑↓]{0,2})\s*([A-Za-zμµ%/][^\s(（]*)\s*"
                              r"[(（]\s*\d+(?:\.\d+)?\s*([A-Za-zμµ%/][^)）]*?)\s*[)）]")
_CJK_OR_ALPHA = re.compile(r"[\u4e00-\u9fffA-Za-z]")
# '阴性(-)阴性(-)': a sign result and its printed reference read as one cell with no space between them
_SIGN_THEN_SIGN = re.compile(r"((?:阴性|阳性|弱阳性)(?:[(（][-+±]{1,4}[)）])?)((?:阴性|阳性)(?:[(（][-+±]{1,4}[)）])?)")
_WORD_PER_FIELD = re.compile(r"([\u4e00-\u9fff]{1,4})\s*((?:个|p)?/" + _PER_FIELD + ")", re.I)


_TEN_POWER_UNIT = re.compile(r"^[×xX*]?10[\^~*°'`’‘\"]?\d{0,2}[\^~*°'`’‘\"]?/[Ll1I|]$")


def ten_power_unit(text: str) -> bool:
    """'×10°/L', '×10/L', '×102/L': a 10^n/L count unit whose superscript exponent the recogniser lost or mangled."""
    return bool(_TEN_POWER_UNIT.match(unicodedata.normalize("NFKC", text).replace(" ", "")))


# a count per microlitre named by what is counted: 'Leu/μl', 'Ery/ul', 'cells/μL' (urine strip and flow printouts)
_COUNT_PER_UL = re.compile(r"^[A-Za-z]{2,6}\s*/\s*[uμµ][lL]$")


def count_per_ul(text: str) -> bool:
    return bool(_COUNT_PER_UL.match(unicodedata.normalize("NFKC", text).strip()))


def is_unit(kb: KnowledgeBase, text: str) -> bool:
    """A unit as printed, or as the recogniser mangled it (units.yaml's misreadings, a lost exponent), or a count
    per microlitre named by what it counts ('Leu/μl')."""
    return kb.is_unit(text, misread=True) or ten_power_unit(text) or count_per_ul(text)
_LISTABLE = re.compile(r"[\u4e00-\u9fff]{2}|[A-Za-z]{2}")
# header/footer key-value text and people (检验者, 审核者, 医生, 姓名 ...) never become uncoded rows
_NOT_A_ROW = re.compile(r"[:：]|检验者|审核|报告|医生|医师|姓名|时间|日期|签名|电话|地址|科室|床号|病历|门诊|住院|标本|样本|备注|注|"
                        r"送检|签收|接收|采样|采集|申请|条码|诊断|打印|核对|"
                        # what identifies a patient: never a result row (an ID card, phone, record, card numbers)
                        r"身份证|证件|手机|联系|病案|卡号|就诊号|登记号|医保|档案|流水号|"
                        # a legend of the marks ('注：↑偏高 ↓偏低 ↑↑/↓↓危急值') is no row either
                        r"偏高|偏低|危急值")  # (the form's fields, also without a colon)
# a run of digits as long as a mobile number (11), an ID card's (15, 18) or a record number: no result prints so
_IDENTIFIER_DIGITS = re.compile(r"\d{11,}[Xx]?")


_METHOD_PREFIX = re.compile(r"([\u4e00-\u9fff]{1,4})[:：]\s*(\S.*)")


# a result cell that says the result is elsewhere or later ('另报', '见附页', '详见血涂片报告', '待回报'): no result
_PLACEHOLDER_RESULT = re.compile(r"^(另报|另发|另附|另见|见附[页表]|附页|详见.*|见.{0,8}报告|待回报|待报|待出|待复查)$")


def placeholder_result(text: str) -> bool:
    """Is the result cell a pointer to another report, not a result ('外周血分析 另报')?"""
    return _PLACEHOLDER_RESULT.match(re.sub(r"\s", "", simplified(unicodedata.normalize("NFKC", text)))) is not None


def identifier_digits(text: str) -> bool:
    """'110101199001011234', '13800138000': a value that is an identifier's run of digits, not a result."""
    return _IDENTIFIER_DIGITS.fullmatch(re.sub(r"\s", "", unicodedata.normalize("NFKC", text))) is not None


def han_chars(text: str) -> str:
    """The Chinese characters of a text, in order: what two readings of a name are compared on."""
    return "".join(_CJK_CHAR.findall(text))


def one_han(text: str) -> bool:
    """A one-character Chinese name (钠, 氯, 钾): too short to match fuzzily, most likely misread when unknown."""
    return _CJK_CHAR.fullmatch(text.strip()) is not None


def _row_name_ok(text: str) -> bool:
    """A printed row name the knowledge base does not know, still worth returning: words, not header/footer
    key-value text or people. A short method prefix ('镜检:柱状上皮细胞', '干化学：…') is part of a row name."""
    t = unicodedata.normalize("NFKC", text).strip()
    m = _METHOD_PREFIX.fullmatch(t)
    if m and not _NOT_A_ROW.search(m.group(1).replace(":", "")):
        t = m.group(2)
    return bool(_LISTABLE.search(t)) and not _NOT_A_ROW.search(t) and len(t) <= 24 and \
        not re.search(r"\d{7,}", t)


def classify(kb: KnowledgeBase, text: str) -> str:
    """name | value | flag | range | unit | qual | text — by content alone."""
    t = text.strip()
    if not t:
        return "text"
    if parse_flag(t):
        # 'L'/'H' alone are flags; '阳性' is a value.
        if norm_text(t) not in ("阳性",):
            return "flag"
    rest, fl = split_flag(t)
    pv = parse_value(rest) if rest else None
    pr = parse_range(t)
    if pv is not None and pv.qualitative is None:
        if pr is not None and pv.comparator is None:
            return "range"
        return "value" if pv.comparator is None or pr is None else "value_or_range"
    if pr is not None and (pr.qualitative is None or pv is None):
        return "range"  # (a word range that is no result: '阴性或弱阳性')
    if pv is not None:
        return "qual"
    if is_unit(kb, t) and (not kb.match_name(t, allow_fuzzy=False) or count_per_ul(t)):
        return "unit"  # ('Leu/μl' is leukocytes per μL, not the 白细胞 row whose name it starts with)
    if is_unit(kb, t):
        return "unit_or_name"
    if _CJK_OR_ALPHA.search(t):
        return "name"
    return "text"


def _name_fragment(kb: KnowledgeBase, word: str) -> bool:
    """A piece of a name that cannot stand as a row name: one Chinese character with letters or digits ('抗U1' of
    '抗U1 RNP'), unknown to the knowledge base."""
    return classify(kb, word) == "name" and len(_CJK_CHAR.findall(word)) == 1 and not _LISTABLE.search(word) \
        and not kb.match_name(word, allow_fuzzy=False)


def _join_name_fragments(kb: KnowledgeBase, groups: list[str]) -> list[str]:
    """A name printed with a space inside ('抗U1 RNP') is one name: a fragment that cannot be a row name on its own
    (_name_fragment) is joined to the unknown name word after it, rather than dropped while the rest ('RNP') comes
    back as the row's whole name."""
    out: list[str] = []
    for g in groups:
        if out and _name_fragment(kb, out[-1]) and classify(kb, g) == "name" \
                and not kb.match_name(g, allow_fuzzy=False):
            out[-1] = out[-1] + " " + g
        else:
            out.append(g)
    return out


def _longer_unit(kb: KnowledgeBase, joined: str, first: str) -> bool:
    """Words that are one unit together: 'mg/L FEU' (D-dimer as fibrinogen equivalents; its first word alone is
    a unit of another meaning), 'ng / mL'."""
    if not kb.is_unit(joined):
        return False
    return not kb.is_unit(first) or set(kb.canonical_units(joined)) != set(kb.canonical_units(first))


def explode(kb: KnowledgeBase, tok: Token) -> list[Token]:
    """OCR often returns a whole row as one line ('收缩压 SYS 124 mmHg'): split at spaces, re-joining words that
    only make sense together ('CA 125', 'mg/L FEU'). Boxes are apportioned by character count."""
    text = tok.text.strip()
    words = text.split()
    nk = unicodedata.normalize("NFKC", text)  # as parse_value reads it: a full-width '５００　＋＋＋' is one result
    if len(words) <= 1:
        return [tok]
    kind = classify(kb, text)
    # (a sign word kept whole, 'Not found', but not a line of signs the recogniser glued: '+ -')
    if kind in ("range", "value") or _EN_RESULT_WORD.fullmatch(text) or \
            kind == "qual" and re.search(r"[A-Za-z\u4e00-\u9fff]", text) or _pad_cell(nk) is not None or \
            number_with_reading(nk) is not None or any(
            m.how == "exact" for m in kb.match_name(text, allow_fuzzy=False)) or kb.printed_twice(text):
        return [tok]
    groups: list[str] = []
    i = 0
    while i < len(words):
        took = 1
        for j in range(min(len(words), i + 3), i + 1, -1):
            joined = " ".join(words[i:j])
            if any(m.how == "exact" for m in kb.match_name(joined, allow_fuzzy=False)) \
                    or _longer_unit(kb, joined, words[i]):
                took = j - i
                break
        groups.append(" ".join(words[i:i + took]))
        i += took
    groups = _join_name_fragments(kb, groups)
    # the groups are found in the text with its runs of spaces made one, as they were joined: a group of two words
    # that the line printed with two spaces between them ('3 FPSA/TPSA  比值') is still found, in its place
    text = " ".join(words)
    total = max(len(text), 1)
    x0, y0, x1, y1 = tok.box
    out, pos = [], 0
    for k, g in enumerate(groups):
        start = text.find(g, pos)
        end = start + len(g)
        pos = end
        # a cell placed under 序号 ('17 平均红细胞血红蛋白浓度 314') holds one row number: what follows it is the
        # name and the rest of the row, not more row numbers
        col = "name" if tok.column == "seq" and k > 0 else tok.column
        out.append(Token(g, tok.score, (x0 + (x1 - x0) * start / total, y0, x0 + (x1 - x0) * end / total, y1), col))
    return out


ROW_NO = re.compile(r"\d{1,3}[.、]?")  # the text of a row number ('7', '12.', '3、'); an integer result reads the same
_LEAD_ROWNO = re.compile(r"^(\d{1,3})[.、]?\s*(?=[\u4e00-\u9fff]{2})|^(\d{1,3})[.、]?\s+(?=[A-Za-z]{2}|[\u4e00-\u9fff]{2})")
_LEAD_RANGE_UNIT = re.compile(r"^(\d+(?:\.\d+)?\s*[-~]{1,2}\s*\d+(?:\.\d+)?)\s*((?:[×x*]\s*)?10\S{0,3}/[Ll]|"
                              r"[A-Za-zμµ%]{1,4}/[A-Za-z]{1,3}|%|fl|fL|pg)\s*(?=[\u4e00-\u9fff]{3})")
_LEAD_ROWNO_MISREAD = re.compile(r"^\d{1,2}[CcOoDQεe][.、]?\s*(?=[\u4e00-\u9fff]{2})")
_LEAD_ARROW = re.compile(r"^([↑↓⬆⬇▲▼]{1,2})\s*(\S.*)$")
_TRAIL_ARROW = re.compile(r"^(.*\S)\s*([↑↓⬆⬇▲▼]{1,2})$")


_COUNT_SUFFIX = re.compile(r"(数目|计数|绝对值|总数|数)$")
_PCT_SUFFIX = re.compile(r"(百分比|百分数|百分率|比率|比例|%)$")


def _second_chance(kb: KnowledgeBase, text: str) -> list[Any]:
    """A misread name ('嗜限性粒细触数目') whose suffix differs from the knowledge base's spelling as well: try the
    usual suffixes of counts (计数/数目/绝对值) and percentages (百分比/百分率/%) before giving up."""
    t = unicodedata.normalize("NFKC", text).strip()
    for pat, alts in ((_COUNT_SUFFIX, ("计数", "数目", "绝对值", "数")), (_PCT_SUFFIX, ("百分比", "百分率", "百分数", "%"))):
        m = pat.search(t)
        if not m or len(t) - len(m.group(0)) < 3:
            continue
        stem = t[: m.start()]
        best: list[Any] = []
        for a in alts:
            ms = kb.match_name(stem + a)
            if ms and ms[0].score >= 0.6 and (not best or ms[0].score > best[0].score):
                best = ms
        if best:
            return best
    return []


# a descriptive result in English, as Hong Kong and Taiwan sheets print colour, clarity, consistency and amounts
_EN_RESULT_WORD = re.compile(r"(?:(?:pale|light|dark|deep|slightly|very|yellowish|reddish|brownish|greenish|blackish)"
                             r"[\s-]*){0,2}(?:yellow|straw|amber|colou?rless|red"
                             r"|brown|green|black|orange|clear|turbid|cloudy|hazy|bloody|soft|formed|semi-?formed"
                             r"|loose|watery|mucoid|hard|mushy|muddy|pasty|liquid|semi-?solid|tarry|"
                             + "|".join(_FEW_SEEN_EN) + ")", re.I)


def _descriptive(kb: KnowledgeBase, text: str) -> bool:
    """A descriptive result ('黄色', '软便', '0-2' cells per field, 'Slightly turbid'), not a code or a name that
    drifted into the value column ('MONO%', '红细胞')."""
    t = text.strip()
    if re.fullmatch(r"\d+\s*[-~]\s*\d+(?:\s*/\s*" + _PER_FIELD + ")?", t, re.I):
        return True  # cells per field: '0-2', '0-2/HP'
    if _EN_RESULT_WORD.fullmatch(t):
        return True
    if not re.search(r"[\u4e00-\u9fff]", t) or len(t) > 8 or _NOT_A_ROW.search(t) or re.search(r"[*＊A-Za-z]", t):
        return False  # descriptive results are words ('浅黄色', '软便'); '抗SSA' is a name
    ms = kb.match_name(t, allow_fuzzy=True)
    return not ms or ms[0].score < 0.6


def _word_result_of(cur: RowItem, text: str) -> bool:
    """Under the 结果 header, a word is the result of a row whose test is reported in words ('大便性状 粘液':
    mucoid stool), even when the word is also a test's name elsewhere (粘液 on a stool sheet's own mucus row)."""
    t = text.strip()
    if not re.fullmatch(r"[\u4e00-\u9fff]{1,6}", t):
        return False
    return any(ms and ms[0].score >= 0.8 and ms[0].indicator.kind == "text" for _, ms in cur.names)


def _split_lead(tok: Token) -> list[Token]:
    """Row numbers glued before a name ('3 肺炎支原体', '20平均红细胞') are dropped; an arrow glued to a range
    ('↑<8', '↓ 2.4-4.0') becomes its own flag cell; '1 %' after a value is an arrow the OCR read as '1'."""
    text = tok.text.strip()
    x0, y0, x1, y1 = tok.box
    n = max(len(text), 1)
    m = _LEAD_ROWNO.match(text)
    if m and not re.match(r"^\d+\s*[-~]", text) and not parse_flag(text[m.end():]) and \
            _pad_cell(unicodedata.normalize("NFKC", text)) is None:
        # ('514偏高' is a result and its mark, not row 514 of a test named 偏高; '28 mmol/L 2+' a pad's result)
        cut = m.end()
        num = m.group(1) or m.group(2)
        # what follows a row number is the name, even when the header placed the glued cell under 序号
        rest_col = "name" if tok.column == "seq" else tok.column
        return [Token(num, tok.score, (x0, y0, x0 + (x1 - x0) * len(num) / n, y1), "seq", tok.slope),
                Token(text[cut:], tok.score, (x0 + (x1 - x0) * cut / n, y0, x1, y1), rest_col, tok.slope)]
    m = _LEAD_RANGE_UNIT.match(text)
    if m and parse_range(m.group(1)):
        # '0.80--4.00×10°/L血小板平均体积9.7': one text line ran from the range and unit of the block on the left
        # into the next block's name; cut at the name
        out, pos = [], 0
        for g, col in ((m.group(1), "range"), (m.group(2), "unit"), (text[m.end():], "name")):
            st = text.find(g, pos)
            pos = st + len(g)
            out.append(Token(g, tok.score, (x0 + (x1 - x0) * st / n, y0, x0 + (x1 - x0) * pos / n, y1), col, tok.slope))
        return out
    m = _LEAD_ROWNO_MISREAD.match(text)
    if m:  # '1C尿亚硝酸盐', '1ε尿胆原': a row number with a misread digit; the name is what follows
        cut = m.end()
        return [Token(text[cut:], tok.score, (x0 + (x1 - x0) * cut / n, y0, x1, y1),
                      "name" if tok.column == "seq" else tok.column, tok.slope)]
    m = _LEAD_ARROW.match(text)
    if m and (parse_range(m.group(2)) or re.fullmatch(r"[A-Za-z%μ/\d^~*×.·]+", m.group(2))):
        cut = len(m.group(1))
        return [Token(m.group(1), tok.score, (x0, y0, x0 + (x1 - x0) * cut / n, y1), "flag", tok.slope),
                Token(m.group(2), tok.score, (x0 + (x1 - x0) * (cut + 1) / n, y0, x1, y1), tok.column, tok.slope)]
    return [tok]


_LOST_ARROW = {"t", "f", "l", "I", "|"}  # what the recogniser returns for an arrow whose head it cannot see
_MISREAD_MARK_UNIT = re.compile(r"^[1tfIlT|\[]\s*(\S.*)$")
_DASH_GLYPH = re.compile(r"^[-~～一—–－]+$")
_LEADS_WITH_DASH = re.compile(r"^[-~～一—–－]+\s*\d")
_ENDS_WITH_DASH = re.compile(r"(\d+(?:\.\d+)?)\s*[-~～一—–－]+")


def _join_split_ranges(kb: KnowledgeBase, pieces: list[tuple[str, Cell, str | None]]) -> list[tuple[str, Cell, str | None]]:
    """A range printed with spaces ('0.8 - 2.0', '120 一 160') comes back as two or three boxes under the range
    header: a bare number, then '-2.0' or a dash glyph and a number. Joined into one range cell when the pieces sit
    close together under the range column and together they read as a range."""
    out: list[tuple[str, Cell, str | None]] = []
    bare = re.compile(r"\d+(?:\.\d+)?")
    i = 0
    has_value = False  # the current row item already has its result (a range never comes first)
    while i < len(pieces):
        kind, cell, col = pieces[i]
        joined = None
        # ('15一': the lower bound with its dash read as the CJK 一 classifies as a name)
        lower_with_dash = col == "range" and kind in ("text", "name") and _ENDS_WITH_DASH.fullmatch(cell.text.strip())
        if kind == "name" and not lower_with_dash or kind == "rowno":
            has_value = False
        if has_value and lower_with_dash \
                and i + 1 < len(pieces) and pieces[i + 1][2] == "range" and bare.fullmatch(pieces[i + 1][1].text.strip()):
            # '15-' '40': the range's dash stayed with its lower bound
            nxt = pieces[i + 1][1]
            text = _ENDS_WITH_DASH.fullmatch(cell.text.strip()).group(1) + "-" + nxt.text.strip()
            pr = parse_range(text)
            h = max(cell.box[3] - cell.box[1], 1.0)
            if pr is not None and pr.low is not None and pr.high is not None and pr.low <= pr.high \
                    and nxt.box[0] - cell.box[2] <= 3.0 * h:
                box = (cell.box[0], min(cell.box[1], nxt.box[1]), nxt.box[2], max(cell.box[3], nxt.box[3]))
                joined = (("range", Cell(text, min(cell.score, nxt.score), box), "range"), i + 2)
        # (a sheet with no column header read, an analyser's strip: no column says 'range', and the pieces after
        # the result join among themselves)
        if joined is None and has_value and col in ("range", "unit", None) and kind in ("value", "value_or_range") \
                and bare.fullmatch(cell.text.strip()):
            h = max(cell.box[3] - cell.box[1], 1.0)
            for j in (i + 2, i + 1):
                if j >= len(pieces) or any(c2 != ("range" if col else None) for _, _, c2 in pieces[i + 1:j + 1]):
                    continue
                parts = [p[1] for p in pieces[i:j + 1]]
                if any(b.box[0] - a.box[2] > (1.5 if j == i + 2 else 3.0) * h for a, b in zip(parts, parts[1:])):
                    continue
                if j == i + 2 and not (_DASH_GLYPH.match(parts[1].text.strip()) and bare.fullmatch(parts[2].text.strip())):
                    continue
                # '0.8' '-2.0', or '100' '350' whose dash the detector dropped (under a range header only: with no
                # header, two bare numbers after a result may be earlier results, not a range)
                if j == i + 1 and not (_LEADS_WITH_DASH.match(parts[1].text.strip()) or
                                       col is not None and bare.fullmatch(parts[1].text.strip())):
                    continue
                text = parts[0].text.strip() + "-" + re.sub(r"^[-~～一—–－\s]+", "", "".join(
                    p.text.strip() for p in parts[1:]))
                pr = parse_range(text)
                if pr is not None and pr.low is not None and pr.high is not None and pr.low <= pr.high:
                    box = (parts[0].box[0], min(p.box[1] for p in parts), parts[-1].box[2], max(p.box[3] for p in parts))
                    joined = (("range", Cell(text, min(p.score for p in parts), box), "range"), j + 1)
                    break
        if joined:
            out.append(joined[0])
            i = joined[1]
        else:
            out.append(pieces[i])
            has_value = has_value or kind in ("value", "qual", "value_or_range")
            i += 1
    return out


_ONE_SEX_RANGE = re.compile(r"^(男|女|male|female|m|f)\s*[:：]?\s*[<>≤≥]?=?\s*\d[\d.\s\-~～—–一至]*$", re.I)


def _join_sex_ranges(tokens: list[Token]) -> list[Token]:
    """'男:4.3-5.8' '女:3.8-5.1': a sex-specific range the detector boxed as two cells side by side; neither is a
    range alone (parse_sex_ranges needs both sexes), so they are joined into the one cell the sheet printed."""
    toks = sorted(tokens, key=lambda t: t.box[0])
    out: list[Token] = []
    for tok in toks:
        prev = out[-1] if out else None
        a = _ONE_SEX_RANGE.match(unicodedata.normalize("NFKC", prev.text).strip()) if prev else None
        b = _ONE_SEX_RANGE.match(unicodedata.normalize("NFKC", tok.text).strip())
        if prev is not None and a and b and a.group(1) != b.group(1):
            text = f"{prev.text.strip()} {tok.text.strip()}"
            if parse_range(text) is not None:
                box = (prev.box[0], min(prev.box[1], tok.box[1]), tok.box[2], max(prev.box[3], tok.box[3]))
                out[-1] = Token(text, min(prev.score, tok.score), box, prev.column or tok.column, prev.slope)
                continue
        out.append(tok)
    return out


def parse_row_all(kb: KnowledgeBase, tokens: list[Token]) -> list[RowItem]:
    """parse_row, keeping the items that got a name but no value (counted as doubtful rows)."""
    pieces: list[tuple[str, Cell, str | None]] = []  # (kind, cell, column-hint)
    exploded = [p for t in tokens for p in explode(kb, t)]
    exploded = _join_sex_ranges([p for t in exploded for p in _split_lead(t)])
    for tok in sorted(exploded, key=lambda t: t.box[0]):
        if tok.column == "group":
            continue  # a group label printed before the names (layout.mark_group_column)
        if tok.column == "seq" and ROW_NO.fullmatch(tok.text.strip()):
            pieces.append(("rowno", Cell(tok.text.strip().rstrip(".、"), tok.score, tok.box), "seq"))
            continue  # the row number column
        if tok.column == "seq" and _CJK_OR_ALPHA.search(tok.text):
            tok.column = "name"  # text under 序号 is the name (narrow or glued '编号项目' header words)
        m = _MISREAD_MARK_UNIT.match(tok.text.strip())
        if m and not is_unit(kb, tok.text) and is_unit(kb, m.group(1)) and not (
                (tok.column == "name" or all(k == "rowno" for k, _, _ in pieces))
                and any(x.how == "exact" for x in kb.match_name(tok.text, allow_fuzzy=False))):
            # an arrow printed before the unit that the recogniser read as 't', 'f', '1' ('t×10^9/L', '1%'):
            # the mark's direction is lost; the printed range still decides the flag. A known name where the row's
            # name stands (under the name header, or first in the row) is not one: 'TC', total cholesterol, is no
            # arrow before '°C' (while 'fpg' after a result is an arrow before 'pg', not FPG)
            cut = len(tok.text) - len(m.group(1))
            w = tok.box[2] - tok.box[0]
            tok = Token(m.group(1), tok.score, (tok.box[0] + w * cut / max(len(tok.text), 1), tok.box[1], tok.box[2],
                                                tok.box[3]), tok.column, tok.slope)
        kind = classify(kb, tok.text)
        # (a unit_or_name is a unit as printed or misread, 'mg/1' for mg/l: not 'mg/' + a result '1')
        if kind in ("name", "text") and re.search(r"\d", tok.text) or kind == "text" or (
                kind == "name" and re.search(r"(阴性|阳性|未检出|未见)([(（][-+±]{1,4}[)）])?$", tok.text.strip())) or (
                kind == "name" and _WORD_PER_FIELD.fullmatch(unicodedata.normalize("NFKC", tok.text).strip())):
            parts = _split_glued(kb, tok)
        elif kind == "value" and re.search(r"\d\s*\S*[A-Za-z%/]", unicodedata.normalize("NFKC", tok.text)):
            parts = _split_glued(kb, tok)
        elif kind in ("value", "qual") and tok.column == "range" and _NUM_THEN_WORD.fullmatch(
                unicodedata.normalize("NFKC", tok.text).strip()):
            # '0.24 阴性' under the range header: the result with the printed reference (阴性) beside it, as the
            # column says, not a serology index with its reading
            parts = _split_glued(kb, tok)
        elif kind == "range" and re.search(r"[A-Za-z%/]", tok.text):
            parts = _split_glued(kb, tok)
        else:
            parts = [("?", tok.text, 0.0)]
        w = tok.box[2] - tok.box[0]
        for j, (k, txt, frac) in enumerate(parts):
            end = parts[j + 1][2] if j + 1 < len(parts) else 1.0
            box = (tok.box[0] + w * frac, tok.box[1], tok.box[0] + w * end, tok.box[3])
            cell = Cell(txt.strip(), tok.score, box)
            pieces.append((classify(kb, txt) if k == "?" else k, cell, tok.column))
    pieces = _join_split_ranges(kb, pieces)

    # a cell that the header puts in the range column is still the value when another range-like cell follows
    # it before the next name (the header word boxes were off: letter-spaced or glued headers)
    later_range: list[bool] = []
    for i, (kind, cell, col) in enumerate(pieces):
        nxt = False
        for k2, c2, col2 in pieces[i + 1:]:
            if k2 == "rowno" or k2 == "name" and (col2 in ("name", "seq") or kb.match_name(c2.text, allow_fuzzy=False)):
                break  # the next row item (the block beside, or the next name) begins
            if k2 in ("range", "qual", "value_or_range", "value") or (k2 == "name" and _descriptive(kb, c2.text)):
                nxt = True
                break
        later_range.append(nxt)
    items: list[RowItem] = []
    single: list[Cell] = []  # one-character name cells the knowledge base does not know (钠 read as 钢)
    code_cells: set[int] = set()  # id() of the name cells read under the code header (代号)
    cur: RowItem | None = None
    pending_no: int | None = None
    for idx, (kind, cell, col) in enumerate(pieces):
        if kind == "value" and re.fullmatch(r"\d{1,3}", cell.text.strip()) and idx + 1 < len(pieces) \
                and pieces[idx + 1][0] == "name" and (cur is None or cur.value is not None) \
                and cell.box[2] <= pieces[idx + 1][1].box[0] + 2:
            kind = "rowno"  # '13' right before the next block's name
        if kind == "rowno":
            pending_no = int(cell.text)
            continue
        if col == "range" and later_range[idx] and cur is not None and cur.value is None and cur.names:
            col = "value"
        if col == "range" and kind in ("name", "text") and cur is not None and cur.value is not None \
                and cur.range is None and cur.listed_reference is None and listed_words(cell.text):
            cur.listed_reference = cell
            continue
        if col == "flag" and kind in ("name", "text"):
            kind = "flag" if parse_flag(cell.text) else kind
        if (col == "flag" or cur is not None and cur.range is not None) and cur is not None \
                and cur.value is not None and cur.flag is None and not _upright_stroke(cell) \
                and plus_minus_glyphs(norm_text(cell.text)) in ("+", "-", "±", "+-", "(+)", "(-)"):
            # (a lone +/- after the row's range is its mark even where the glued header '参考值提示' put the
            # mark column under the range)
            # a +/- mark column (autoantibody sheets): the sheet's own positive/negative call
            cur.flag, cur.flag_code = cell, "NEG" if plus_minus_glyphs(norm_text(cell.text)) in ("-", "(-)") else "POS"
            continue
        if col == "flag" and cur is not None and cur.value is not None and cur.flag is None \
                and (sign := re.fullmatch(r"(阴|阳)性(\([-+]\))?", norm_text(cell.text))):
            # '5.62 | 阳性 | <1.0 S/CO': the sign word under the 提示 header is the sheet's call on the ratio, not
            # its range
            cur.flag, cur.flag_code = cell, "NEG" if sign.group(1) == "阴" else "POS"
            continue
        if kind == "unit_or_name":
            kind = "unit" if (cur is not None and cur.value is not None and cur.unit is None) or col == "unit" else "name"
        word, star = split_flag(cell.text) if col == "value" else (cell.text, None)
        # ('微浑*', '稀便↑': its mark; a letter H or L at a word's end is no mark)
        star = star if (star == "ABN" or star in ("H", "L") and cell.text.strip()[-1:] in _ARROW_UP + _ARROW_DOWN) \
            and cur is not None and cur.flag is None else None
        if kind in ("name", "range", "text") and col == "value" and cur is not None and cur.names \
                and cur.value is None and not parse_value(word) \
                and (_descriptive(kb, cell.text) or _word_result_of(cur, cell.text)
                     or star and (_descriptive(kb, word) or _word_result_of(cur, word))):
            # a descriptive result under the 结果 header: '黄色', '软便', '0-2' (cells per field)
            if star:
                t = cell.text.strip()
                mark = (t[len(word.strip()):].strip() if t.startswith(word.strip()) else "") or "*"
                cell = Cell(word, cell.score, cell.box)
                cur.flag, cur.flag_code = Cell(mark, cell.score, cell.box), star
            cur.value, cur.parsed_value = cell, ParsedValue(None, cell.text.strip())
            continue
        if kind == "qual" and col == "name" and (cur is None or cur.value is not None) \
                and one_han(cell.text) and idx + 1 < len(pieces) \
                and pieces[idx + 1][0] in ("value", "value_or_range"):
            # a one-character name misread as a result word (氯 read as 無, 'none') right before its result (not a
            # '-' read as '一' before a name)
            kind = "name"
        if kind == "name" and cur is not None and cur.value is not None and cur.flag is None and (
                (col == "flag" and cell.text.strip() in _LOST_ARROW | {"T"})
                or (cell.text.strip() in _LOST_ARROW and cur.range is None and cur.unit is None
                    and idx + 1 < len(pieces) and pieces[idx + 1][0] in ("range", "unit", "value_or_range"))):
            # '29.46 t 0-7.00': an arrow between the result and its range, its head lost on a small or recompressed
            # photo (read as 't'); not a row of its own ('T' is 体温) that would take the range away. Its direction
            # is lost: the printed range decides the flag. Under the 提示 header it is the mark wherever 提示 stands
            # (also after the unit and range) and whatever follows (a 上次结果 column prints a number after it:
            # '362 t 293', which made a row 't 293'); there an uppercase 'T' is the arrow too, not 体温
            continue
        if kind == "name":
            matches = kb.match_name(cell.text)
            if not matches or matches[0].score < 0.6:
                matches = _second_chance(kb, cell.text) or matches
            if not matches or matches[0].score < 0.6:
                # (after the row's range or unit the name column of the block beside has begun)
                open_row = cur is not None and cur.value is None and cur.names and cur.range is None \
                    and cur.unit is None
                if open_row and col in (None, "name", "code"):
                    cur.extras.append(cell)
                    continue
                one_char = col == "name" and one_han(cell.text)
                if one_char:
                    single.append(cell)  # kept only with a result in the result column (below: `structured`)
                if col in ("name", "code") and _row_name_ok(cell.text) or one_char:
                    # a printed row name the knowledge base does not know (stool, autoantibodies): kept, so the
                    # row still comes back (uncoded) instead of vanishing
                    if open_row:
                        cur.names.append((cell, []))
                    else:
                        cur = RowItem(names=[(cell, [])], row_no=pending_no)
                        pending_no = None
                        items.append(cur)
                    if col == "code":
                        code_cells.add(id(cell))
                continue
            same = cur is not None and cur.value is None and cur.names and any(
                m.indicator.code in {x.indicator.code for _, ms in cur.names for x in ms} for m in matches)
            near = cur is not None and cur.names and (
                cell.box[0] - cur.names[-1][0].box[2] < 4 * (cell.box[3] - cell.box[1]))
            # a name under the name header after the row's code under the code header ('WBC | 白细胞(镜检)', a
            # 代号 column before 项目名称), however far apart: one row, even where the code reads as another test
            after_code = col == "name" and cur is not None and cur.names and id(cur.names[-1][0]) in code_cells
            if cur is not None and cur.value is None and cur.names and (same or col == "code" or near or after_code):
                cur.names.append((cell, matches))
                if col == "code":
                    code_cells.add(id(cell))
                continue
            cur = RowItem(names=[(cell, matches)], row_no=pending_no)
            pending_no = None
            items.append(cur)
            if col == "code":
                code_cells.add(id(cell))
            continue
        if cur is None:
            continue  # sequence numbers and such before the first name
        if kind == "flag" and col == "unit" and not re.search(r"[↑↓⬆⬇▲▼]", cell.text):
            kind = "unit"  # 'LL' under 单位 is a misread 'L/L', not a critical-low mark
        if kind == "flag":
            if cur.value is not None and cur.flag is None:
                cur.flag, cur.flag_code = cell, parse_flag(cell.text)
            elif cur.value is None and cur.flag is None and cur.names:
                cur.flag, cur.flag_code = cell, parse_flag(cell.text)  # a flag column before the result
            continue
        if kind == "value_or_range":
            kind = "range" if cur.value is not None or col == "range" else "value"
        if kind == "value" and cur.value is not None and cur.value.text.strip() in ("1", "l", "I", "|") \
                and cur.flag is None and cur.range is None and cur.unit is None and col != "range" \
                and cur.value.box[2] <= cell.box[0]:
            # '中性粒细胞百分比 1 47.8 50.0-70.0': a mark printed before the result (a flag column: L, H, ↑, ↓) whose
            # letter or arrow head a small or recompressed photo lost, read as '1'; the number after it is the result
            # (direction lost: the printed range decides the flag)
            cur.value = cur.parsed_value = None
        if kind in ("value", "qual"):
            if cur.value is None and col != "range":
                rest, fl = split_flag(cell.text)
                pv = parse_value(rest)
                if pv is None:
                    continue
                cur.value, cur.parsed_value = Cell(rest, cell.score, cell.box), pv
                if fl:
                    cur.flag, cur.flag_code = cell, fl
                if cur.unit is None and (pad := pad_unit(cell)) is not None:
                    cur.unit = pad  # '3+ 200 Ery/uL': the pad's unit, printed in its result cell
                continue
            if cur.range is None and kind == "qual":
                pr = parse_range(cell.text)
                if pr is not None:
                    cur.range, cur.parsed_range = cell, pr
                continue
            if cur.range is None and col == "range":
                pr = parse_range(cell.text)
                if pr is not None:
                    cur.range, cur.parsed_range = cell, pr
                elif cur.bare_range is None and re.fullmatch(NUM, cell.text.strip()):
                    cur.bare_range = cell
            continue
        if kind == "range":
            if cur.value is None and col not in ("range",):
                # ranges never come before the value in a row, except for layouts that say so in the header
                rest, fl = split_flag(cell.text)
                pv = parse_value(rest)
                if pv is not None:
                    cur.value, cur.parsed_value = Cell(rest, cell.score, cell.box), pv
                    if fl:
                        cur.flag, cur.flag_code = cell, fl
                continue
            if cur.range is None:
                pr = parse_range(cell.text)
                if pr is not None:
                    cur.range, cur.parsed_range = cell, pr
            else:
                _sign_word_then_range(cur, cell)
            continue
        if kind == "unit":
            if cur.unit is None and (cur.value is not None or col == "unit"):
                cur.unit = cell
            continue
    for it in items:
        _unit_from_percent_range(it)
        signed_digit_as_number(it)
        thousands_as_number(it)
        power_with_the_unit(it)
        pr = it.parsed_range
        if pr is not None and pr.qualitative is None and word_is_reference(it, pr.high):
            reading_as_reference(it)  # '1250.00 阴性' against a printed '0-0.05': the number is the result
    # a one-character unknown name is a row only with the row's structure: a number in the result column and a
    # unit or range, or a sign word there (a stool sheet's '血 | 阴性', gross blood beside its 隐血 row); else it is a
    # stray character (a mark, a unit scrap, a header fragment)
    value_boxes = {c.box for _, c, col in pieces if col == "value"}

    def structured(it: RowItem) -> bool:
        pv = it.parsed_value
        if it.value is None or it.value.box not in value_boxes or pv is None:
            return False
        if pv.number is not None:
            return it.unit is not None or it.parsed_range is not None
        return norm_text(it.value.text) in ("阴性", "阳性", "弱阳性")

    return [it for it in items if not (it.names and all(c in single for c, _ in it.names)) or structured(it)]


def _sign_word_then_range(cur: RowItem, cell: Cell) -> None:
    """'0.01 | 阴性 | 0-0.05': a sign word in a column of its own between a numeric result and its numeric range is
    the sheet's reading of the result (its mark), not the range: the numeric range is. Only where the word agrees
    with the number against that range (阴性 within it, 阳性 above it), and not where the word stands over the
    range (the range cell printed on two lines, '阴性' above '0-0.05'): that is the reference's own line."""
    pr0, pv, word = cur.parsed_range, cur.parsed_value, cur.range
    if pr0 is None or pr0.qualitative is None or cur.flag is not None or pv is None or pv.number is None \
            or word is None or min(word.box[2], cell.box[2]) > max(word.box[0], cell.box[0]):
        return
    pr = parse_range(cell.text)
    if not numeric_bounds(pr):
        return
    above = pr.high is not None and pv.number > pr.high
    if (pr0.qualitative == "negative") == above:
        return  # 阴性 beside a number above the range, 阳性 beside one within it: not the reading of this number
    cur.flag, cur.flag_code = word, "NEG" if pr0.qualitative == "negative" else "POS"
    cur.range, cur.parsed_range = cell, pr


def _unit_from_percent_range(it: RowItem) -> None:
    """A range printed with '%' on both bounds ('40%-75%', '20.0%--50.0%') names the row's unit where no unit cell
    was read: the sheet prints the percent there instead of in a unit column."""
    if it.unit is None and it.range is not None and it.parsed_range is not None \
            and _PCT_IN_RANGE.match(unicodedata.normalize("NFKC", it.range.text)):
        # (a box of no width at the range's right end: the percent is printed in the range cell, there is no
        # unit cell of its own to point at or to be taken for another row's)
        x1, y0, y1 = it.range.box[2], it.range.box[1], it.range.box[3]
        it.unit = Cell("%", it.range.score, (x1, y0, x1, y1))


def word_is_reference(it: RowItem, high: float | None) -> bool:
    """'1250.00 阴性' (HBsAg, IU/mL): a number and a sign word in one result cell, where the number contradicts the
    word against the upper bound ``high`` (of the printed numeric range, else the test's cut-off): 阴性 with the
    number above the upper bound. Then the word is the printed reference merged into the result cell, not the
    reading: the number is the result (see reading_as_reference). Only 阴性: a reference is printed 阴性, hardly
    ever 阳性, and '0.5 阳性' against another manufacturer's cut-off is the sheet's own reading, kept."""
    pv = it.parsed_value
    if pv is None or pv.number is None or pv.qualitative is None or high is None or it.value is None:
        return False
    if not _NUM_THEN_WORD.fullmatch(unicodedata.normalize("NFKC", it.value.text).strip()):
        return False
    return pv.qualitative == "negative" and pv.number > high + 1e-9


def reading_as_reference(it: RowItem) -> None:
    """Split '1250.00 阴性' into the result 1250.00 and the printed reference 阴性 (a range cell for the part of
    the cell the word is printed in, where the row has no range of its own; a printed range is kept)."""
    pv, cell = it.parsed_value, it.value
    assert pv is not None and cell is not None
    text = unicodedata.normalize("NFKC", cell.text).strip()
    m = _NUM_THEN_WORD.fullmatch(text)
    num_text, word = m.group(1).strip(), m.group(2)
    it.parsed_value = ParsedValue(pv.number, num_text, _comparator_number(num_text)[1])
    w, cut = cell.box[2] - cell.box[0], (len(text) - len(word)) / max(len(text), 1)
    x = cell.box[0] + w * cut
    it.value = Cell(num_text, cell.score, (cell.box[0], cell.box[1], x, cell.box[3]))
    if it.range is None:
        it.range = Cell(word, cell.score, (x, cell.box[1], cell.box[2], cell.box[3]))
        it.parsed_range = parse_range(word)


def numeric_bounds(pr: ParsedRange | None) -> bool:
    """A printed range with a number for a bound ('3.5-9.5', '<5', '-3~+3'), not a sign word (阴性) or nothing."""
    return pr is not None and pr.qualitative is None and (pr.low is not None or pr.high is not None)


def signed_digit(text: str | None) -> float | None:
    """The number of a result printed '+1' .. '+4' (read by parse_value as a strip grade), else None."""
    t = _clean_number_text(plus_read_as_ten((text or "").strip()))
    return float(t) if _SIGNED_GRADE.fullmatch(t) else None


def signed_digit_as_number(it: RowItem) -> None:
    """'+2' reads as the strip grade 2+ (parse_value) only where a grade can stand: no unit beside it and a range
    that is qualitative (阴性) or none. With a unit ('mmol/L') or a numeric range ('-3~+3', '±3') it is the signed
    number a quantitative test measures (a base excess). (For a coded row the service decides again with the
    test's kind: a number for a quantitative test, a grade for a qualitative one unless the range is numeric.)"""
    pv, pr = it.parsed_value, it.parsed_range
    n = signed_digit(pv.text) if pv is not None and pv.number is None else None
    if n is not None and (it.unit is not None or numeric_bounds(pr)):
        it.parsed_value = ParsedValue(n, pv.text)


_THOUSANDS = re.compile(r"((?:<=|>=|[<>≤≥])?)(\d{1,3}),(\d{3})")


def thousands_as_number(it: RowItem) -> None:
    """'1,256' reads as 1.256: a comma between digits is most often a decimal point the recogniser took for one.
    Where only a thousands separator agrees with the sheet, it is one: the printed range and mark ('1,256' and ↑
    against '0-125': 1.256 would be normal, the sheet says high; '2,350' with no mark against '1000-5000').
    Anything else keeps the decimal reading: no numeric range, a mark of no direction, both readings agreeing, a
    first group of 0 ('0,256'), a decimal reading on a bound (a mark there is the sheet's call), or a grouped number
    beyond 50 times the range (urine SG '1,025↑' against '1.003-1.030' is no 1025)."""
    pv, pr, cell = it.parsed_value, it.parsed_range, it.value
    if pv is None or pv.number is None or cell is None or not numeric_bounds(pr):
        return
    m = _THOUSANDS.fullmatch(split_flag(unicodedata.normalize("NFKC", cell.text).replace(" ", ""))[0])
    mark = {"HH": "H", "LL": "L", None: "N"}.get(it.flag_code, it.flag_code)
    if not m or m.group(2) == "0" or mark not in ("H", "L", "N") or pv.number in (pr.low, pr.high):
        return
    grouped = float(m.group(2) + m.group(3))
    if grouped > 50 * max(abs(b) for b in (pr.low, pr.high) if b is not None):
        return
    as_decimal, as_grouped = interpret(pv.number, pr.low, pr.high), interpret(grouped, pr.low, pr.high)
    if as_decimal != mark and as_grouped == mark:
        it.parsed_value = ParsedValue(grouped, pv.text, pv.comparator)
    elif as_decimal != as_grouped and it.flag_code is None:
        # no mark printed, and the two readings flag differently ('1,256' against '0-40': 1.256 normal, 1256
        # high): the decimal reading stays, for a person to check
        it.comma_undecided = True


_PER_VOLUME = re.compile(r"(?:个|cells?)?/(?:[uμµ]L|mL|L)", re.I)


def power_with_the_unit(it: RowItem) -> None:
    """'85×10^3 | /μL': a power of ten printed with the result and its unit a bare per-volume one is the unit's
    power (a count in 10^3/μL), not the result's: the result is 85 and the unit 10^3/μL. So too without a unit
    cell where the printed range is on the scale of the number before the power ('6.5×10^3 | 3.5-9.5'). A viral
    load ('2.35×10^3 | IU/mL') keeps its power."""
    pv, cell = it.parsed_value, it.value
    if pv is None or pv.number is None or cell is None:
        return
    m = TIMES_TEN.fullmatch(split_flag(unicodedata.normalize("NFKC", cell.text).replace(" ", ""))[0].lstrip("<>≤≥="))
    if not m:
        return
    mantissa, power = float(m.group(1)), m.group(2).lstrip("+")
    unit = unicodedata.normalize("NFKC", it.unit.text).replace(" ", "") if it.unit is not None else None
    pr = it.parsed_range
    bound = None if pr is None else pr.high or pr.low
    on_scale = bound is not None and bound > 0 and 0.02 <= mantissa / bound <= 50
    if unit is not None and _PER_VOLUME.fullmatch(unit):
        it.unit = Cell(f"10^{power}{unit}", it.unit.score, it.unit.box)
    elif not (unit is None and on_scale):
        return
    it.parsed_value = ParsedValue(mantissa, pv.text, pv.comparator)


def parse_row(kb: KnowledgeBase, tokens: list[Token]) -> list[RowItem]:
    """One table row, tokens left to right → indicator items (a row may hold two indicators side by side)."""
    return [it for it in parse_row_all(kb, tokens) if it.value is not None]


def _scale_fit(item: RowItem, ind: Indicator) -> float:
    """Does the printed range (else the value) sit on the scale of this indicator's usual range? Tells siblings
    apart when the name or code was misread ('Lymh' for Lym%: 20-50 is a percentage, 1.1-3.2 a count)."""
    dr = ind.default_range(None)
    if dr is None or dr.low is None or dr.high is None or dr.high <= 0:
        return 0.0
    pr = item.parsed_range
    if pr is not None and pr.low is not None and pr.high is not None and pr.high > 0:
        mid = (max(pr.low, 0.0) + pr.high) / 2
    elif item.parsed_value is not None and item.parsed_value.number is not None and item.parsed_value.number > 0:
        mid = item.parsed_value.number
    else:
        return 0.0
    ref = (max(dr.low, 0.0) + dr.high) / 2
    if mid <= 0 or ref <= 0:
        return 0.0
    d = abs(math.log10(mid / ref))
    return 0.08 if d < 0.35 else (-0.2 if d > 1.0 else 0.0)


def choose_indicator(kb: KnowledgeBase, item: RowItem, used: set[str],
                     panels: set[str] | None = None) -> tuple[Indicator, float, str] | None:
    """Pick the indicator for a row item from its name candidates, using the printed unit and the report's
    panels to break ties, and never reusing a code already taken in this report."""
    scored: dict[str, list[Any]] = {}
    for cell, matches in item.names:
        for m in matches:
            s = m.score * min(1.0, 0.5 + cell.score / 2) + 0.004 * min(len(cell.text), 10)
            prev = scored.get(m.indicator.code)
            if prev is None or prev[1] < s:
                scored[m.indicator.code] = [m.indicator, s, m.how]
            elif prev is not None:
                prev[1] = min(1.0, prev[1] + 0.05)  # two cells (name + code) agree
    if not scored:
        return None
    # a misread stem ('温区细胞比率 Lymh') may resolve to the count when the printed suffix says percentage (or
    # the reverse): the sibling code joins the candidates and the suffix, unit and range scale decide
    texts = [c.text for c, _ in item.names]
    says_pct = any(_PCT_SUFFIX.search(unicodedata.normalize("NFKC", t)) for t in texts)
    says_count = any(_COUNT_SUFFIX.search(unicodedata.normalize("NFKC", t)) or t.strip().endswith("#") for t in texts)
    for code, (ind, sc, how) in list(scored.items()):
        sib = code[:-1] + ("%" if code.endswith("#") else "#") if code[-1:] in "#%" else None
        if sib and sib not in scored and sib in kb.indicators and (says_pct if code.endswith("#") else says_count):
            scored[sib] = [kb.indicators[sib], sc, how]
    cands = list(scored.values())
    unit_text = item.unit.text if item.unit else None
    qual = item.parsed_value is not None and item.parsed_value.qualitative is not None

    if unit_text and kb.is_unit(unit_text, misread=True) and not re.fullmatch(r"\s*[A-Za-z]\s*", unit_text):
        # a name read fuzzily or as one of its OCR misreadings must fit the printed unit: a real unit its code does
        # not take says the row is another test ('IgA g/L' is no iCa misread, '凝血时间 min' no 凝血酶时间); a lone
        # letter is too often a garbled % or mark to say so ('%' read as s)
        fit = [c for c in cands if c[2] not in ("exact", "fuzzy") or c[2] == "exact" and c[1] >= 0.96
               or kb.resolve_unit(unit_text, c[0], misread=True)]
        if not fit:
            return None
        cands = fit

    def key(c: list[Any]) -> float:
        ind: Indicator = c[0]
        s = c[1]
        if unit_text:
            s += 0.1 if kb.resolve_unit(unit_text, ind, misread=True) else -0.15
        if panels and ind.panel in panels:
            s += 0.05
        if qual and ind.kind == "quantitative" and ind.unit is not None:
            s -= 0.1
        if ind.code in used:
            s -= 1.0
        if ind.code.endswith("%") and says_count and not says_pct or ind.code.endswith("#") and says_pct \
                and not says_count:
            s -= 0.1  # the printed suffix says the other kind
        s += _scale_fit(item, ind)
        return s

    cands.sort(key=key, reverse=True)
    best = cands[0]
    if best[0].code in used:
        return None
    conf = best[1]
    if len(cands) > 1 and key(cands[1]) > key(best) - 0.05 and cands[1][0].code not in used:
        conf *= 0.8  # genuinely ambiguous name
    return best[0], conf, best[2]
