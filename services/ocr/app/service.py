"""Lab-report parsing, end to end: bytes → quality gate → geometry → OCR → layout → indicators.

``LabReportParser`` is the service layer: no FastAPI, no database. It keeps no personal data: the OCR text
itself is never returned or logged, only whitelisted header fields and matched indicators."""
from __future__ import annotations

import functools
import logging
import math
import re
import time
import unicodedata
from dataclasses import dataclass, replace

import cv2
import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein
from typing import Any, Callable
from zhenxi_knowledge import NONE_SEEN_WORDS, allows_trace

from . import geometry, imaging, quality
from .errors import NotADocumentError
from .inference import EngineOptions, OcrEngine, PageOcr
from .knowledge import Indicator, KnowledgeBase, load_knowledge, norm_text, traditional
from . import marks
from .layout import (OTHER_COLUMN, LayoutResult, _line_height, analyse, header_kind, join_wrapped_names, residual_skew,
                     row_numbers as row_number_tokens, straighten)
from .parsing import (Cell, ParsedValue, RowItem, Token, age_split_range, choose_indicator, count_or_titre_flag,
                      han_chars, identifier_digits, interpret, is_age_split, is_per_field, listed_as_normal,
                      numeric_bounds, one_han,
                      parse_range, parse_row_all, placeholder_result,
                      parse_value, plus_minus_glyphs, reading_as_reference, result_glyphs, same_direction,
                      signed_digit, signed_digit_as_number, simplified, split_flag, ten_power_unit, without_per_field,
                      word_in_stray_brackets, word_is_reference, range_bound_cut)
from .report_header import extract_header, panels_kind, title_kind

log = logging.getLogger("zhenxi.ocr.service")
MIN_TEXT_LINES = 3
# a name wrapped in its cell and joined reads as a name at least this well, and this much better than either line
WRAPPED_NAME_MIN = 0.75
WRAPPED_NAME_MARGIN = 0.05
OTHER_SCALE = 4.0  # a printed range this many times off the knowledge base's is in another unit (_other_scale)


@dataclass(frozen=True)
class ParserOptions:
    limits: imaging.Limits = imaging.Limits()
    gate: quality.GateThresholds = quality.GateThresholds()
    engine: EngineOptions = EngineOptions()
    review_threshold: float = 0.80
    use_geometry: bool = True

    @classmethod
    def from_settings(cls, s: Any) -> "ParserOptions":
        return cls(
            limits=imaging.Limits(max_bytes=s.max_upload_bytes, max_pixels=s.max_pixels,
                                  pdf_max_pages=s.pdf_max_pages),
            gate=quality.GateThresholds(min_side_px=s.min_side_px),
            engine=EngineOptions(threads=s.threads, use_cuda=s.use_cuda, det_max_side=s.det_max_side,
                                 rec_batch_size=s.rec_batch_size, rec_max_pad=s.rec_max_pad,
                                 page_cls_samples=s.page_cls_samples),
            review_threshold=s.review_threshold,
        )


def _mainland_cell_words(text: str) -> list[str]:
    """A name cell with Taiwan's or Hong Kong's words for the cells ('紅血球', '白血球', '膿球') in the words a stool or
    urine finding is known by (红细胞, 白细胞, 脓细胞), the rest of the name kept ('紅血球壓積' is 红细胞压积, not 红细胞;
    '白球比', the A/G ratio, is no cell); [] where it holds none."""
    t = simplified(text)
    mainland = t.replace("红血球", "红细胞").replace("白血球", "白细胞").replace("脓球", "脓细胞")
    return [mainland] if mainland != t else []


def _prefer_urine(kb: KnowledgeBase, it: RowItem) -> None:
    """On a urine sheet a bare '红细胞' / '白细胞' is the sediment count, not the blood count, and a bare '葡萄糖' is
    urine glucose: the names are matched again as '尿' + name, and the urine candidates replace the others when
    found."""
    qualitative = it.parsed_value is not None and it.parsed_value.number is None \
        and it.parsed_value.qualitative is not None
    for k, (cell, ms) in enumerate(it.names):
        if qualitative and ms and ms[0].indicator.kind == "quantitative" and ms[0].indicator.unit:
            # '白细胞 3+' / '红细胞 阴性': the dry-chemistry pad (白细胞酯酶, 隐血), not the sediment count
            alt = [m for t in ("(干化学)", "定性", "(尿)") for m in kb.match_name(cell.text + t, allow_fuzzy=False)
                   if m.indicator.panel == "urinalysis" and m.indicator.kind == "qualitative"]
            if alt:
                it.names[k] = (cell, alt)
                continue
        if not ms or ms[0].indicator.panel == "urinalysis":
            continue
        for text in [cell.text] + _mainland_cell_words(cell.text):
            alt = [m for m in kb.match_name("尿" + text) if m.indicator.panel == "urinalysis"]
            if alt:
                it.names[k] = (cell, alt)
                break


def _prefer_stool(kb: KnowledgeBase, it: RowItem) -> None:
    """On a stool sheet a bare '红细胞' / '白细胞' / '颜色' / '隐血' is the stool finding, not the blood or urine one:
    the names are matched again as '粪便' + name, and the stool candidates replace the others when found."""
    for cell, ms in it.names:
        if ms and ms[0].indicator.panel == "stool":
            alt = [m for m in ms if m.indicator.panel == "stool"]
        else:
            # '大便镜检（红细胞）', '镜检白细胞': the stool finding is the part in brackets, after a 大便/粪便 prefix,
            # or the name after a 镜检 prefix
            texts = [cell.text] + re.findall(r"[(（]([^()（）]+)[)）]", cell.text)
            texts = [re.sub(r"^(大便|粪便|粪)?(镜检|常规)?", "", t) for t in texts]
            texts += [w for t in texts for w in _mainland_cell_words(t)]
            alt = []
            for t in texts:
                alt = [m for m in kb.match_name("粪便" + t, allow_fuzzy=False) if m.indicator.panel == "stool"]
                if alt:
                    break
        if alt:
            # the other name printed beside ('Color 颜色', 'OB 潜血') must not pull the row back to blood/urine
            it.names = [(c, alt) for c, _ in it.names]
            return
    pv = it.parsed_value
    if pv is not None and pv.number is None and pv.qualitative is not None:
        # a sign word ('转铁蛋白 阴性', the faecal transferrin test) is no result of a blood test measured in a unit
        # (serum transferrin, g/L): on a stool sheet such a row does not take that code; it comes back uncoded
        it.names = [(c, [m for m in ms if not (m.indicator.kind == "quantitative" and m.indicator.unit)])
                    for c, ms in it.names]


_MISREAD_SIGN = re.compile(r"[\u4e00-\u9fff]性([(（][^()（）]{0,2}[)）])?")


# on a row the sheet itself marks as a sign test (its printed range 阴性, or a name that reads as one), a result cell
# left as a fragment of a sign word by faint or dot-matrix print: '性', '阴肿性生', 'A生', 'BAHN生' (性 read as 生), or
# its first character with the second garbled ('阳庄')
_GARBLED_SIGN = re.compile(r"(?:[\u4e00-\u9fffA-Za-z]{0,4}[性生][\u4e00-\u9fff]?|(?:阴|阳|弱阳)[\u4e00-\u9fff])"
                           r"([(（][^()（）]{0,2}[)）])?")


def _sign_row(it: RowItem) -> bool:
    """The row is a sign test by the sheet's own word: its printed range reads as 阴性 / 阳性, or its name reads almost
    surely as a test whose results are signs (kind qualitative)."""
    if it.parsed_range is not None and it.parsed_range.qualitative is not None:
        return True
    ind = _confident_code(it)
    return ind is not None and ind.kind == "qualitative"


# words whole in a result cell that make it no fragment of a sign word: 强阳性, 可疑阳性, 反应性, 无细菌生长, 无寄生虫
# (阳性 after a character no qualifier begins with, '禁阳性' for 弱阳性, is still a fragment)
_INTACT_WORDS = re.compile(r"^(强|弱|极弱|可疑|疑似)?(阴性|阳性)|反应|生长|寄生")


def _misread_qualitative(it: RowItem) -> bool:
    """A result that has the shape of a qualitative word ('X性', also with its bracketed mark: '阿性（）' for 阴性(-))
    but is neither 阴性 nor any other known one: the recogniser lost the one character that decides the meaning; on
    a sign row (``_sign_row``) also a fragment of one ('性', '阴肿性生'). It is not returned; the row is named as
    unread."""
    pv = it.parsed_value
    if pv is not None and (pv.number is not None or pv.qualitative is not None):
        return False
    text = split_flag(it.value.text.strip())[0]  # ('禁阳性(←)↑': the mark after it is no part of the word)
    return bool(_MISREAD_SIGN.fullmatch(text) or _sign_row(it) and _GARBLED_SIGN.fullmatch(text)
                and not _INTACT_WORDS.search(text))


def _tall_share(ocr: list[PageOcr]) -> float:
    """Share of text lines taller than wide: text running down the page (a sideways photo)."""
    n = tall = 0
    for page in ocr:
        for line in page.lines:
            x0, y0, x1, y1 = line.box
            n += 1
            tall += (y1 - y0) > 1.5 * (x1 - x0)
    return tall / n if n else 0.0


def _reads_wrong(result: dict[str, Any], ocr: list[PageOcr]) -> bool:
    """No column header read left-to-right, and few known indicators or text running down the page: probably
    the wrong way up or sideways."""
    coded = sum(1 for i in result["indicators"] if i.get("code"))
    return not result.get("layout", {}).get("header_rows") and (coded < 5 or _tall_share(ocr) > 0.25)


_Reading = tuple[dict[str, Any], list[PageOcr], list[geometry.GeometryResult]]  # a result, its OCR, its pages

SECOND_LOOK_FACTOR = 2  # a page with rows left unread is read again with the text found at this many times the size
SECOND_LOOK_MIN_SHRINK = 1.5  # ... where the detector saw it shrunk at least this much (else no finer look exists)
# the re-shoot reasons that say rows of the table were left unread
ROWS_UNREAD_REASONS = {"row_numbers_missing", "rows_not_returned", "row_pitch_gap", "result_not_read",
                       "names_not_read"}


def _rows_left_unread(result: dict[str, Any]) -> bool:
    """Does the reading say that rows of its table were left unread: a re-shoot asked for rows missing, or a
    column header row read with no result under it?"""
    for w in result.get("warnings", []):
        if w.get("code") == "no_indicators_found" and result.get("layout", {}).get("header_rows"):
            return True
        if w.get("code") == "reshoot_suggested" and \
                {r.split("/")[0] for r in (w.get("details") or {}).get("reasons") or []} & ROWS_UNREAD_REASONS:
            return True
    return False


def _reading_score(result: dict[str, Any]) -> float:
    coded = sum(1 for i in result["indicators"] if i.get("code"))
    return 2 * coded + len(result["indicators"]) + 5 * min(result.get("layout", {}).get("header_rows", 0), 2)


def _confident_score(result: dict[str, Any]) -> tuple[float, float]:
    """_reading_score over the rows read without doubt (needs_review false), then over all rows: a finer look at a
    shrunk page finds rows the first one lost, and also misreads rows the first one read right, on blurred or
    dot-matrix print."""
    sure = [i for i in result["indicators"] if not i.get("needs_review")]
    return _reading_score({**result, "indicators": sure}), _reading_score(result)


_PM_MARKS = ("+", "十", "-", "一", "(+)", "(-)")
_CRITICAL_DIRECTION = {"HH": "H", "LL": "L"}


def marks_speak_plus_minus(indicators: list[dict[str, Any]]) -> bool:
    """Does the mark column of these rows (one page's: callers pass a page at a time) speak + and - (at least two
    such marks) and never an arrow?"""
    marks = [i for i in indicators if (i.get("flag_mark") or "").strip() in _PM_MARKS]
    arrows = any(i.get("flag_mark") and (i.get("flag_mark") or "").strip() not in _PM_MARKS for i in indicators)
    return len(marks) >= 2 and not arrows


def _pages(indicators: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The returned rows, page by page."""
    return [[i for i in indicators if i.get("page", 0) == p] for p in sorted({i.get("page", 0) for i in indicators})]


def _unmarked_rows_on_pm_sheet(indicators: list[dict[str, Any]]) -> None:
    """On a sheet whose mark column speaks +/- (autoantibody panels) and never an arrow, a result printed within
    its range and without a mark is the sheet's '-', and one above its range the sheet's '+': the detector drops a
    lone '-' or '+' (small on a slanted or re-photographed page) far more often than the sheet leaves the column
    blank. Per page: a second page's arrows do not speak for the first."""
    for on_page in _pages(indicators):
        if marks_speak_plus_minus(on_page):
            for i in on_page:
                if not i.get("flag_mark") and i.get("range_printed") and i.get("flag") in ("N", "H"):
                    i["flag"] = "NEG" if i["flag"] == "N" else "POS"


def _code_names_han(ind: Indicator) -> list[str]:
    """A code's printed name and aliases, Chinese characters only."""
    return [han_chars(n) for n in [ind.name] + list(ind.aliases or [])]


def _printed_unit_of(kb: KnowledgeBase, printed: str, ind: Indicator) -> tuple[str, float] | None:
    """A printed unit read as one of this code's units (misreadings allowed, or an exponent the OCR lost): the
    canonical unit and the factor to it, or None when it is not this code's."""
    return kb.resolve_unit(printed, ind, misread=True) or _exponent_lost(printed, ind)


def _name_cells(it: RowItem) -> list[Cell]:
    """The cells a row's name was read from: its name cells and the unknown words that followed them before the
    result ('WTXC 白甜张', a code and the Chinese name both garbled: the Chinese is what a garbled name is read on)."""
    return [c for c, _ in it.names] + list(it.extras)


def _name_han(it: RowItem) -> str:
    """The Chinese characters of a row's name cells (_name_cells)."""
    return han_chars(" ".join(c.text for c in _name_cells(it)))


def _garbled_candidates(kb: KnowledgeBase, it: RowItem, used: set[str], panels: set[str],
                        readings: tuple[str, ...] | list[str] = (), any_name: bool = False
                        ) -> list[tuple[float, Indicator]]:
    """The codes a name garbled past the fuzzy matcher ('白红图计数', '淋巴组临绝对位' on dot-matrix print) may stand
    for, best first, with the name's similarity: only where the rest of the row vouches for the code. Among the
    unused codes of the panels this sheet holds, a printed unit must be one of the code's units and a printed range
    must sit on the code's scale (else the value must). A garbled name keeps its length ('病理管型' is another test
    than '管型', not a misreading of it). ``readings``: the name cell recognised again on its own (see
    _reread_names); a code's similarity is its best over the page's reading and these. A qualitative result (阴性,
    1+) vouches for the panels' qualitative codes."""
    pv, pr = it.parsed_value, it.parsed_range
    if not panels or pv is None or (pv.number is None and pv.qualitative is None):
        return []
    has_range = pr is not None and pr.high is not None and pr.high > 0
    printed = _name_han(it)
    if len(printed) < 3 and not (any_name or readings):
        return []
    texts = [printed] + [t for r in readings if len(t := han_chars(r)) >= 3]
    scored = []
    for ind in kb.indicators.values():
        if ind.code in used or ind.panel not in panels:
            continue
        if pv.number is None:
            if ind.kind == "qualitative":
                scored.append((_name_likeness(texts, readings, ind), ind))
            continue
        res = _printed_unit_of(kb, it.unit.text, ind) if _unit_vouches(it) else (ind.unit, 1.0)
        if res is None:
            continue  # a printed unit that is not this code's
        dr = ind.default_range(None)
        if dr is None or dr.high is None or dr.high <= 0:
            continue
        mid_k = (max(dr.low or 0.0, 0.0) + dr.high) / 2
        if has_range:
            mid_p = res[1] * (max(pr.low or 0.0, 0.0) + pr.high) / 2  # in the code's canonical unit
            if mid_p <= 0 or abs(math.log10(mid_p / mid_k)) > 0.5:
                continue  # the printed range is not on this code's scale
        elif not (max(dr.low or 0.0, 0.0) / 3 <= res[1] * pv.number <= 3 * dr.high):
            continue  # no range printed: at least the value on this code's scale
        scored.append((_name_likeness(texts, readings, ind), ind))
    scored = [(best, ind) for best, ind in scored if best > 0 or any_name]
    scored.sort(key=lambda x: -x[0])
    return scored


def _name_likeness(texts: list[str], readings: tuple[str, ...] | list[str], ind: Indicator) -> float:
    """A garbled name's similarity to a code's names: the best over its readings, of the same length give or take a
    fifth; 1 where the cell was read again as exactly one of them (also a short one: 尿酸)."""
    if any(r in [ind.name, *(ind.aliases or [])] for r in readings):
        return 1.0
    names = _code_names_han(ind)
    return max((fuzz.ratio(t, n) / 100 for t in texts for n in names
                if len(n) >= 3 and min(len(n), len(t)) >= 0.8 * max(len(n), len(t))), default=0.0)


# the column header words a garbled header cell is read against (each names a column kind, header_kind): the words
# LIS printouts use most, the kinds with no indicator part ('检测方法', '上次结果') among them so that such a cell
# is not forced into the nearest indicator column
HEADER_VOCABULARY = ("序号", "编号", "项目", "检验项目", "检测项目", "项目名称", "代号", "英文缩写", "结果", "检验结果",
                     "检测结果", "测定值", "提示", "异常提示", "结果提示", "标志", "参考范围", "参考值", "参考区间",
                     "生物参考区间", "参考值范围", "单位", "检测方法", "上次结果")
HEADER_WORD_CHARS = max(len(w) for w in HEADER_VOCABULARY)  # a cell longer than the longest word is not read again
HEADER_MIN_PER_CHAR = -9.0  # a header word read again: per character; the margin over other columns' words decides
HEADER_MARGIN = 3.0
LEXICON_MIN_PER_CHAR = -6.0  # log-likelihood per character of the best name (a name of another test: -8 to -30)
LEXICON_MARGIN = 2.0  # per character, over the best name of any other code


def _lexicon_words(cands: list[Indicator]) -> dict[str, str]:
    """The names (and aliases) of the candidate codes a garbled name cell is read against: {word: code}."""
    return {w: ind.code for ind in cands for w in [ind.name, *(ind.aliases or [])] if len(han_chars(w)) >= 2}


def clear_best(likelihoods: dict[str, float], min_per_char: float, margin: float,
               group: Callable[[str], Any] = lambda w: w) -> str | None:
    """The word that explains a cell clearly best, from the recogniser's per-character log-likelihoods: at least
    ``min_per_char``, and ``margin`` above the best word of every other ``group`` (words of one group, e.g. the
    names of one code, do not compete with each other); else None."""
    best: dict[Any, tuple[float, str]] = {}
    for w, v in likelihoods.items():
        g = group(w)
        if g not in best or v > best[g][0]:
            best[g] = (v, w)
    ranked = sorted(best.values(), reverse=True)
    if not ranked or ranked[0][0] < min_per_char:
        return None
    if len(ranked) > 1 and ranked[0][0] - ranked[1][0] < margin:
        return None
    return ranked[0][1]


def _lexicon_pick(words: dict[str, str], likelihoods: dict[str, float]) -> str | None:
    """The candidate name that explains the cell clearly best: its per-character log-likelihood at least
    LEXICON_MIN_PER_CHAR, and LEXICON_MARGIN above every other code's best name; else None."""
    return clear_best(likelihoods, LEXICON_MIN_PER_CHAR, LEXICON_MARGIN, words.__getitem__)


def _against_printed(pv: Any, pr: Any, low: float | None, high: float | None) -> str | None:
    """L/N/H of a printed result against its printed range (bounds ``low``/``high`` as printed): '<8' excludes 8
    itself, '>60' excludes 60. A result printed with a comparator is a limit of the assay, on the side it names:
    '<3.40' against '<3.4' is not high (below 3.4), but '<5' against '5-40' is low and '>1000' against '0-1000'
    is high (the result lies beyond the bound it sits on). One rule for coded and uncoded rows."""
    li, hi = pr.low_inclusive, pr.high_inclusive
    if pv.comparator in ("<", "<="):
        li, hi = li and pv.comparator == "<=", True
    elif pv.comparator in (">", ">="):
        li, hi = True, hi and pv.comparator == ">="
    return interpret(pv.number, low, high, low_inclusive=li, high_inclusive=hi)


def _patients_range(pr: Any, sex: str | None, age: float | None) -> tuple[Any, float | None, float | None]:
    """(range, low, high) of a printed range for this patient: '成人:3.5-9.5 儿童:5.0-12.0' gives the range of the
    patient's age group, none when no group holds the age (a child against '成人 … 新生儿 …': then as for a row
    printing no range); '男:130-175 女:115-150' the patient's sex's; one sex's range alone ('男:130-175', its 女
    line read as a row apart) is none for a woman, or for a patient whose sex the header does not give."""
    if pr is not None and age is not None and is_age_split(pr.text):
        pr = age_split_range(pr.text, age)
    if pr is None or pr.by_sex and pr.for_sex(sex) == (None, None):
        return None, None, None
    return (pr, *pr.for_sex(sex))


def _mid_distance(low: float | None, high: float | None, default: Any) -> float | None:
    """How far apart a range (``low``, ``high``) and the knowledge base's ``default`` range sit: |log10| of the
    ratio of their midpoints (a missing or negative lower bound counts as 0); None when it cannot be told."""
    if high is None or high <= 0 or default is None or default.high is None or default.high <= 0:
        return None
    mid, ref = (max(low or 0.0, 0.0) + high) / 2, (max(default.low or 0.0, 0.0) + default.high) / 2
    return abs(math.log10(mid / ref)) if mid > 0 and ref > 0 else None


def _other_scale(low: float | None, high: float | None, default: Any) -> bool:
    """A printed range at least OTHER_SCALE times off the knowledge base's ``default`` range: the sheet's unit is
    another (mg/dL glucose, g/dL haemoglobin). Labs' ranges for one unit differ far less."""
    d = _mid_distance(low, high, default)
    return d is not None and d >= math.log10(OTHER_SCALE)


def _composite_panels(kb: KnowledgeBase, panels: set[str]) -> set[str]:
    """The panels a garbled name may come from: those read on the sheet, and all the panels of a composite report
    (生化: liver, kidney, lipids, electrolytes, glucose, cardiac) two of whose panels were read there. A 生化 sheet
    whose only glucose row (葡萄糖) was garbled still holds glucose."""
    out = set(panels)
    for rt in kb.report_types.values():
        if rt.panels and len(panels & set(rt.panels)) >= 2:
            out |= set(rt.panels)
    return out


def sheet_kind(panel_rows: dict[str, int], stool_rows: int, sample_type: str | None) -> tuple[bool, bool]:
    """(urine sheet, stool sheet) from the rows read by panel (``panel_rows``: clearly named rows by the panel of
    their name; ``stool_rows``: rows with a stool name in any name cell) and the header's sample type. A urine sheet
    prints 外观, 霉菌, 结晶 too, names the stool panel also holds: where the rows would make the sheet both, the
    header's sample type decides, else the panel with more rows (a tie stays a stool sheet: its bare 颜色 and 隐血
    read as urine names)."""
    blood = panel_rows.get("blood_routine", 0)
    urine_n = panel_rows.get("urinalysis", 0)
    urine = urine_n >= max(3, 2 * blood) or sample_type == "urine"
    stool = stool_rows >= 2 and stool_rows >= blood or sample_type in ("stool", "feces")
    if urine and stool:
        if sample_type == "urine" or sample_type not in ("stool", "feces") and urine_n > stool_rows:
            stool = False
        else:
            urine = False
    return urine, stool


def prefer_sheet_names(kb: KnowledgeBase, it: RowItem, sheet: str | None) -> None:
    """On a stool or urine sheet (``sheet``: 'stool', 'urine' or None) a row's bare name is that sheet's own
    finding, not the blood test of the same name (``_prefer_stool``, ``_prefer_urine``)."""
    if sheet == "stool":
        _prefer_stool(kb, it)
    elif sheet == "urine":
        _prefer_urine(kb, it)


# A person's name or a signature line read as a table row (a header or footer line that a tilted or cropped photo put
# among the rows: '郭某某 化验单第1张', '审核者 王某'). The service never returns personal data, so such a row is
# neither returned nor named in a warning.
_ROLE_WORDS = re.compile(r"(检验|审核|报告|操作|核对|采集|采样|送检|申请|开单|临床|主治|复核|批准)(者|人|员|医生|医师)|"
                         r"签名|签字|姓名|医生|医师|"
                         r"(检验|审核|复核|报告|批准|操作|核对|采样|送检|签收|接收|录入|打印)\s*[:：]|"
                         r"\b(tested|verified|checked|reported|approved|authori[sz]ed|collected|received|printed) by\b",
                         re.I)
_SURNAMES = set("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
                "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
                "戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯"
                "纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪"
                "简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑"
                "郎甄丛仲虞敖巩明佘池查麻苑迟邝")
# characters of test names and results, seldom of given names: a row whose name holds one is a test, not a person
_TEST_CHARS = set("细胞血尿便粪蛋白酸酶素体型液色管晶菌虫卵性度率比值数量计核抗原糖脂胆固醇酮钾钠氯钙镁磷铁锌铜肌"
                  "氨基转移球氮肝肾凝纤维板总游离直间接检验测定试镜常规分布宽压积平均浓含指标阴阳透明浊清澄黏粘丝"
                  "上皮结亚硝盐隐潜病毒杆红黄绿棕褐灰黑乳稀软硬稠形状态带疸草丙张")


# what results in words say (未查见, 未检出, 偶见, 少量, 浅黄色, 软便, 成形, 微浑): not a form's header or a signature
_RESULT_WORD = re.compile(r"未|无|阴|阳|检出|找到|查见|偶见|少量|多量|[色便状形浑混浊清]")


def wrapped_name_reads_whole(kb: KnowledgeBase, joined: str, piece: str = "", half: str = "") -> bool:
    """Does a name broken over two lines of its cell read whole when joined (layout.join_wrapped_names)? The
    joined text is a printed name exactly (a name, alias or known misreading): either half may then name a test of
    its own ('高密度脂蛋白' over '胆固醇', 胆固醇 = TC; the result centred may stand with either line): the layout
    has already found the piece a continuation line (no row number, result, unit or range of its own, closer than
    the block's row pitch), which a row of its own is not. Or, where neither half is a name exactly, the joined
    text reads as a name clearly better than either half does (a hospital's longer form of a known name:
    '人类免疫缺' over '陷病毒抗原' reads as the start of 人类免疫缺陷病毒抗原抗体)."""
    whole = kb.match_name(joined, allow_fuzzy=False)
    if whole and whole[0].how == "exact":
        return True
    if piece and half:
        # '丙氨酸氨基转移酶' over '(ALT)': both lines name the same test exactly, the second as its code in brackets
        named = [kb.match_name(x, allow_fuzzy=False) for x in (re.sub(r"^[(（]|[)）]$", "", piece), half)]
        if all(m and m[0].how == "exact" for m in named) and named[0][0].indicator.code == named[1][0].indicator.code:
            return True
    if not piece or not half:
        return False
    best = {t: (m[0].score if (m := kb.match_name(t)) else 0.0) for t in (joined, piece, half)}
    return best[joined] >= WRAPPED_NAME_MIN and best[joined] > max(best[piece], best[half]) + WRAPPED_NAME_MARGIN


def _personal_row(it: RowItem) -> bool:
    """The row holds a person's name or a signature line, not a test: a role word (审核者, 检验医师, 姓名), or a name
    of two or three Chinese characters led by a common surname (黄, 白 too), then no character of a test's name, with
    no unit, range or result word (阴性, 未查见, 2+) beside it (a test row prints one of them far more often than not)."""
    text = simplified(" ".join(c.text for c, _ in it.names))  # (檢驗者 on a Hong Kong or Taiwan sheet)
    if _ROLE_WORDS.search(text) or it.value is not None and _ROLE_WORDS.search(simplified(it.value.text)):
        return True
    first = (text.split() or [""])[0]
    first = re.sub(r"[:：*★]", "", first)
    # a result word beside it ('包囊 未查见', '滴虫 阴性', '黏液 少量') makes it a test whatever its name looks like
    pv = it.parsed_value
    result_word = pv is not None and (pv.qualitative is not None or bool(_RESULT_WORD.search(pv.text or "")))
    return (2 <= len(first) <= 3 and all("\u4e00" <= ch <= "\u9fff" for ch in first) and first[0] in _SURNAMES
            and not any(ch in _TEST_CHARS for ch in first[1:]) and it.unit is None and it.parsed_range is None
            and not result_word)


def _named_exactly(it: RowItem) -> bool:
    """The row's name is printed as the knowledge base spells it (a name, alias or known misreading)."""
    return any(m.how == "exact" for _, ms in it.names for m in ms)


def _garbled_need(it: RowItem) -> float:
    """More than half the characters must agree (病理管型 is not 透明管型), and the less the rest of the row vouches
    for the code, the closer the name must be."""
    has_range = it.parsed_range is not None and it.parsed_range.high is not None and it.parsed_range.high > 0
    unit = _unit_vouches(it)
    return 0.56 if has_range and unit else 0.6 if has_range or unit else 0.67


def _unit_vouches(it: RowItem) -> bool:
    """Whether the row's printed unit can say which code a garbled name is: a unit of one character other than '%'
    ('s', '5', '8' where '%' was printed, 'n' for fL) is most often a unit the recogniser garbled too, and says
    nothing (then the range and value must put the row on the code's scale)."""
    if it.unit is None:
        return False
    u = unicodedata.normalize("NFKC", it.unit.text).strip()
    return len(u) > 1 or u == "%"


def garbled_name_matches(kb: KnowledgeBase, items: list[RowItem], used: set[str], panels: set[str],
                         named_elsewhere: set[str] = frozenset(), margin: float = 0.1,
                         readings: dict[int, list[str]] | None = None) -> dict[int, tuple[Indicator, float, str]]:
    """Codes for the rows whose names were garbled past the fuzzy matcher, decided jointly so that two such rows
    never trade values (a urine sheet prints several /μL counts on one scale, so a garbled 白细胞 row fits the 红细胞
    code too). A row gets a code only when the code is clearly its best (by ``margin``) AND the row is clearly the
    code's best among all garbled rows: two rows that contend for one code get neither. A code whose own name was
    read on a row of this sheet (its result lost) is never given to another row: that row's value is not its own.
    Returns {index in items: (indicator, confidence, 'garbled')}; the confidence says it was a guess.
    ``readings``: {index in items: the name cell recognised again on its own}."""
    readings = readings or {}
    cands = [[(s, ind) for s, ind in _garbled_candidates(kb, it, used, panels, readings.get(k, ()))
              if ind.code not in named_elsewhere] for k, it in enumerate(items)]
    out: dict[int, tuple[Indicator, float, str]] = {}
    for k, (it, cs) in enumerate(zip(items, cands)):
        if not cs or cs[0][0] < _garbled_need(it) or (len(cs) > 1 and cs[0][0] - cs[1][0] < margin):
            continue
        best, ind = cs[0]
        rivals = [s for j, other in enumerate(cands) if j != k for s, i2 in other if i2.code == ind.code]
        if rivals and best - max(rivals) < margin:
            continue  # another garbled row fits this code about as well: which value is whose is not known
        out[k] = (ind, best * 0.9, "garbled")
    return out


def _structure_candidates(kb: KnowledgeBase, it: RowItem, used: set[str], panels: set[str]) -> list[Indicator]:
    """The codes a row whose name is unreadable may still be, from the rest of the row alone: among the unused
    codes of the sheet's panels, those whose printed unit is one of the code's, whose printed range sits where the
    code's own ranges sit (_range_fit) and whose value is on the code's scale. A row without a readable unit is not
    named this way ('抗核抗休比值' 0.02 against 0.00-0.06, a test the knowledge base lacks, fits BASO# by range
    alone).
    The name must share a third of its characters with the code's name or the recogniser must have been unsure of
    it: a name read cleanly that the knowledge base lacks is another test ('电导率' on a urine sheet is not P-LCR,
    though its range sits where P-LCR's does), not a garbled one."""
    pv, pr = it.parsed_value, it.parsed_range
    if not panels or not it.names or pv is None or pv.number is None or pv.qualitative is not None:
        return []
    if pr is None or pr.high is None or pr.high <= 0 or pr.low is None or it.unit is None:
        return []  # a two-sided printed range and a unit are the evidence; '<5' fits too many codes
    printed = _name_han(it)
    name_score = min(c.score for c, _ in it.names)
    out = []
    for ind in kb.indicators.values():
        if ind.code in used or ind.panel not in panels or ind.kind != "quantitative":
            continue
        res = _printed_unit_of(kb, it.unit.text, ind)
        if res is None or not _range_fit(kb, ind, pr, it.unit):
            continue  # not this code's unit, or a range off this code's scale
        dr = ind.default_range(None)
        v = res[1] * pv.number
        if not (max(dr.low or 0.0, 0.0) / 10 <= v <= 10 * dr.high):
            continue
        names = _code_names_han(ind)
        shared = max((fuzz.ratio(printed, n) / 100 for n in names if n), default=0.0) if printed else 0.0
        if shared < 0.3 and name_score >= 0.8 and not one_han(printed):  # (one character: 钠 read 钢)
            continue
        out.append(ind)
    return out


def structure_name_matches(kb: KnowledgeBase, items: list[RowItem], used: set[str], panels: set[str],
                           named_elsewhere: set[str] = frozenset()) -> dict[int, tuple[Indicator, float, str]]:
    """Codes for rows whose names are unreadable, from their structure alone: a row is named only when exactly one
    code fits it (_structure_candidates) and that code fits no other such row (two rows that could be the same
    test get neither), and never with a code whose own name was read on the sheet. Returns {index in items:
    (indicator, confidence, 'structure')}: a low confidence, and the record asks for review."""
    cands = [[ind for ind in _structure_candidates(kb, it, used, panels) if ind.code not in named_elsewhere]
             for it in items]
    out: dict[int, tuple[Indicator, float, str]] = {}
    for k, cs in enumerate(cands):
        if len(cs) != 1:
            continue
        if any(cs[0].code in {i.code for i in other} for j, other in enumerate(cands) if j != k):
            continue
        out[k] = (cs[0], 0.5, "structure")
    return out


def _kind_panels(kb: KnowledgeBase, rt: str | None) -> set[str]:
    """The panels of the report kind a printed title names ('血常规检验报告单' → blood_routine; 生化 → its panels)."""
    if rt in kb.report_types and kb.report_types[rt].panels:
        return set(kb.report_types[rt].panels)
    return {rt} if rt in kb.panels else set()


def _range_fit(kb: KnowledgeBase, ind: Indicator, pr: Any, unit: Cell | None) -> bool | None:
    """Does a printed numeric range sit where this code's ranges sit (its midpoint and width within a factor of
    about 1.6 of the knowledge base's default, in the code's canonical unit)? None when it cannot be told (no
    numeric range, no default range)."""
    dr = ind.default_range(None)
    if pr is None or pr.high is None:
        return None
    res = kb.resolve_unit(unit.text, ind, misread=True) if unit is not None else None
    f = res[1] if res else 1.0
    lo_p, hi_p = max(pr.low or 0.0, 0.0) * f, pr.high * f
    d = _mid_distance(lo_p, hi_p, dr)
    if d is None:
        return None
    lo_k, hi_k = max(dr.low or 0.0, 0.0), dr.high
    if hi_p > lo_p and hi_k > lo_k:
        d += 0.5 * abs(math.log10((hi_p - lo_p) / (hi_k - lo_k)))
    return d < 0.2


NAME_RIVAL_MARGIN = 0.1  # a code the name matches within this of the chosen one: a close rival (as garbled_name_matches)


def _range_rules_out_rivals(kb: KnowledgeBase, ind: Indicator, it: RowItem, pr: Any) -> bool:
    """Do the row's printed range and unit tell its code from the close rivals its name was read as? A rival is
    another code the name cells match within NAME_RIVAL_MARGIN of the chosen code's best score ('谷芮转氨酶' reads
    ALT and AST alike); it is ruled out when the printed range does not sit at its scale (``_range_fit``) or the
    printed unit, a real unit, is not one it takes. ALT and AST both print 0-40 U/L: a range cannot tell them."""
    best = max((m.score for _, ms in it.names for m in ms if m.indicator.code == ind.code), default=0.0)
    unit = it.unit.text if it.unit is not None else None
    real_unit = unit is not None and kb.is_unit(unit, misread=True)
    for _, ms in it.names:
        for m in ms:
            r = m.indicator
            if r.code == ind.code or m.score < best - NAME_RIVAL_MARGIN:
                continue
            if _range_fit(kb, r, pr, it.unit) is True and (not real_unit or kb.resolve_unit(unit, r, misread=True)):
                return False
    return True


def _confident_code(it: RowItem) -> Indicator | None:
    """The code the row's first name cell reads as almost surely (match score 0.9 or more), else None."""
    ms = it.names[0][1] if it.names else []
    return ms[0].indicator if ms and ms[0].score >= 0.9 else None


def names_read_without_result(no_value: list[RowItem], with_value: list[RowItem]) -> set[str]:
    """The codes whose own name was read on a row without a result: a garbled row never takes them (its value is not
    theirs). On a sheet that names its rows in Chinese (8 in 10 of its rows with a result, 5 or more), a bare
    code with no Chinese beside it ('WBC', 'PLT  RBC' under the table) is a histogram's caption or a label, not a
    row whose result was lost: it claims no code."""
    chinese = sum(1 for it in with_value if _name_han(it))
    chinese_sheet = len(with_value) >= 5 and chinese >= 0.8 * len(with_value)
    return {ind.code for it in no_value if (ind := _confident_code(it)) is not None
            and (not chinese_sheet or _name_han(it))}


def _blocks_by_value_column(items: list[RowItem]) -> list[list[RowItem]]:
    """Rows with a result, grouped into blocks by their result column (result cells whose x-extents overlap), each
    block top to bottom."""
    blocks: list[tuple[float, float, list[RowItem]]] = []
    for it in sorted((i for i in items if i.value is not None), key=lambda i: i.value.box[0]):
        x0, x1 = it.value.box[0], it.value.box[2]
        for n, (bx0, bx1, members) in enumerate(blocks):
            if x0 < bx1 and bx0 < x1:
                members.append(it)
                blocks[n] = (min(bx0, x0), max(bx1, x1), members)
                break
        else:
            blocks.append((x0, x1, [it]))
    return [sorted(m, key=lambda i: (i.value.box[1] + i.value.box[3]) / 2) for _, _, m in blocks]


def repair_range_shift(kb: KnowledgeBase, items: list[RowItem], min_rows: int = 4) -> list[tuple[int, int, int]]:
    """A block whose printed ranges came back one row off their results (rows grouped across a drift between the
    result and range columns, or a range printed a line lower than its result): every result is then judged
    against its neighbour's range. Seen structurally: within one result column, the printed ranges do not sit on
    the scale of the rows' codes, while the same ranges moved one row up (or down) do. The ranges (and the units,
    where they fit better moved too) of the run of rows where the move fits clearly better are given to the
    rows they belong to. Only confidently named rows vote. Returns the moves made: (block, first row, shift)."""
    moves = []
    for b, block in enumerate(_blocks_by_value_column(items)):
        n = len(block)
        if n < min_rows:
            continue
        codes = [_confident_code(it) for it in block]
        ranges = [(it.range, it.parsed_range, it.unit) for it in block]

        def fits(i: int, j: int) -> bool | None:
            if codes[i] is None or not 0 <= j < n:
                return None
            return _range_fit(kb, codes[i], ranges[j][1], ranges[j][2] if ranges[j][2] is not None else block[i].unit)

        base = [fits(i, i) for i in range(n)]
        best = None  # (gain, a, e, k)
        for k in (-1, 1):
            shifted = [fits(i, i + k) for i in range(n)]
            for a in range(n):
                for e in range(a + 3, n + 1):
                    run = range(a, e)
                    now_ok = sum(base[i] is True for i in run)
                    now_bad = sum(base[i] is False for i in run)
                    new_ok = sum(shifted[i] is True for i in run)
                    new_bad = sum(shifted[i] is False for i in run)
                    gain = new_ok - now_ok
                    # the move must explain the run: most of its rows misfit now, almost none after the move
                    if now_bad >= 2 and new_ok >= 3 and new_bad <= max(1, (e - a) // 6) and gain >= 2 and \
                            now_bad >= 0.6 * (now_ok + now_bad) and (best is None or gain > best[0]):
                        best = (gain, a, e, k)
        if best is None:
            continue
        _, a, e, k = best
        units_now = sum(1 for i in range(a, e) if codes[i] is not None and block[i].unit is not None
                        and kb.resolve_unit(block[i].unit.text, codes[i], misread=True))
        units_moved = sum(1 for i in range(a, e) if codes[i] is not None and 0 <= i + k < n
                          and ranges[i + k][2] is not None
                          and kb.resolve_unit(ranges[i + k][2].text, codes[i], misread=True))
        move_units = units_moved > units_now
        for i in range(a, e):
            j = i + k
            rng, pr, unit = ranges[j] if 0 <= j < n else (None, None, None)
            block[i].range, block[i].parsed_range = rng, pr
            if move_units:
                block[i].unit = unit
        moves.append((b, a, k))
    return moves


def _decimals(text: str) -> int:
    m = re.search(r"\.(\d+)", text)
    return len(m.group(1)) if m else 0


def point_read_as_space(it: RowItem) -> bool:
    """'4 85' for 4.85: a decimal point too faint or dotted for the recogniser, which left a gap between the digits
    (read as one number it would be 485). Taken as the point when the digits after the gap are exactly as many as
    the decimals of the printed range."""
    if it.value is None or it.range is None:
        return False
    m = re.fullmatch(r"(\d+) (\d+)", re.sub(r"\s+", " ", it.value.text.strip()))
    if not m:
        return False
    decs = {_decimals(b) for b in re.findall(r"\d+(?:\.\d+)?", it.range.text)}
    if decs != {len(m.group(2))}:
        return False
    text = f"{m.group(1)}.{m.group(2)}"
    it.value, it.parsed_value = Cell(text, it.value.score, it.value.box), parse_value(text)
    return True


_POINT_FOR_DASH = re.compile(r"(\d)\.(\d)")


def point_read_as_dash(it: RowItem, text_test: bool = False) -> bool:
    """'0.1' for 0-1 (a dot-matrix dash read as a point) where the result can only be a count of cells per field,
    which microscopy reports whole: the row's name reads as a test reported in words and counts (粪便白细胞, 脓细胞),
    or (``text_test``) the test chosen for the row on its kind of sheet is one (a stool sheet's '红细胞(镜检)', whose
    name alone first reads as the urine sediment count). A urine analyser's sediment prints decimals per field
    ('4.62 /HP' against '0-5'), and a serology index or a strip's concentration is a decimal against '阴性' ('0.2
    COI'), so neither a range nor a unit decides. Taken only for two digits, the first smaller, with no unit or one
    per field."""
    if it.value is None or (m := _POINT_FOR_DASH.fullmatch(it.value.text.strip())) is None \
            or int(m.group(1)) >= int(m.group(2)):
        return False
    if it.unit is not None and not is_per_field(it.unit.text):
        return False
    if not text_test and not any(ms and ms[0].score >= 0.8 and ms[0].indicator.kind == "text" for _, ms in it.names):
        return False
    text = f"{m.group(1)}-{m.group(2)}"
    it.value, it.parsed_value = Cell(text, it.value.score, it.value.box), ParsedValue(None, text)
    return True


def arrow_read_as_trailing_one(items: list[RowItem], min_others: int = 4) -> list[RowItem]:
    """'162.821' for '162.82↑': an up arrow printed right after the result, read as a trailing '1'. Taken as the
    arrow only where the sheet shows it: the page's other results all print one number of decimals d (at least
    ``min_others`` of them), this one has d+1 ending in '1', no mark was read beside it, and without the '1' it
    lies above the printed range (as the arrow says). Returns the rows put right. Whole numbers do not count
    against the sheet's format: a result printed without decimals (145 g/L) says nothing about how the others are
    printed, and on a small or recompressed photo a code label or a unit scrap read as a number ('602' for 'EO#',
    a lone '4' for '%') would otherwise hide it."""
    nums = [it for it in items if it.value is not None and it.parsed_value is not None
            and it.parsed_value.number is not None and it.parsed_value.comparator is None]
    glued = [re.fullmatch(r"(\d+\.(\d+))1", it.value.text.strip()) for it in nums]
    plain = {_decimals(it.value.text) for it, m in zip(nums, glued) if m is None} - {0}
    n_plain = sum(1 for it, m in zip(nums, glued) if m is None and _decimals(it.value.text))
    if len(plain) != 1 or n_plain < min_others:
        return []
    d = plain.pop()
    fixed = []
    for it, m in zip(nums, glued):
        pr = it.parsed_range
        if m is None or len(m.group(2)) != d or it.flag_code is not None or pr is None or pr.high is None:
            continue
        if float(m.group(1)) <= pr.high:
            continue
        it.value, it.parsed_value = Cell(m.group(1), it.value.score, it.value.box), parse_value(m.group(1))
        it.flag, it.flag_code = Cell("↑", it.value.score, it.value.box), "H"
        fixed.append(it)
    return fixed


def plus_read_for_an_arrow(items: list[RowItem], min_arrows: int = 2) -> list[RowItem]:
    """On a sheet whose marks are arrows or H/L (at least ``min_arrows`` rows), a '+' mark beside a plain number with
    a numeric printed range is an arrow the recogniser misread ('十' for ↑, '+' for a blurred ↓): it says
    'abnormal', not 'positive', and the number against its range gives the direction. Returns the rows changed."""
    if sum(1 for it in items if it.flag_code in ("H", "L", "HH", "LL")) < min_arrows:
        return []
    out = []
    for it in items:
        pv, pr = it.parsed_value, it.parsed_range
        if it.flag_code == "POS" and it.flag is not None and plus_minus_glyphs(norm_text(it.flag.text)) == "+" \
                and pv is not None and pv.number is not None and pv.qualitative is None \
                and pr is not None and (pr.low is not None or pr.high is not None):
            it.flag_code = "ABN"
            out.append(it)
    return out


def comparator_lost_in_range_column(items: list[RowItem], min_others: int = 2) -> list[RowItem]:
    """'25' under the range header where the sheet prints '<25': on a small or recompressed photo the thin '<'
    fades below the detector's threshold and is left outside the box. A lone number is no range; it is read as
    one-sided, with the comparator the page's other ranges print, where those are mostly one-sided upper limits
    (at least ``min_others``, more than the two-sided ranges); a '0' stays what it is. Returns the rows given a
    range."""
    bare = [it for it in items if it.range is None and it.bare_range is not None
            and (parse_value(it.bare_range.text) or ParsedValue(None, "")).number]  # not '0': 'none expected
    if not bare:
        return []
    ranges = [it.parsed_range for it in items if it.parsed_range is not None and it.parsed_range.qualitative is None]
    upper = [pr.text.strip()[0] for pr in ranges if pr.low is None and pr.high is not None
             and pr.text.strip()[:1] in ("<", "≤")]
    two_sided = sum(1 for pr in ranges if pr.low is not None and pr.high is not None)
    if len(upper) < min_others or len(upper) <= two_sided:
        return []
    cmp = max(("<", "≤"), key=upper.count)
    fixed = []
    for it in bare:
        pr = parse_range(cmp + it.bare_range.text.strip())
        if pr is not None:
            it.range, it.parsed_range = Cell(cmp + it.bare_range.text.strip(), it.bare_range.score,
                                             it.bare_range.box), pr
            it.range_comparator_inferred = True
            fixed.append(it)
    return fixed


def _stray_letter(it: RowItem) -> bool:
    """A 'name' that is one letter ('t', 'f'): an arrow the recogniser misread, not an indicator."""
    return bool(it.names) and all(len(re.sub(r"[\[\]()（）【】\s]", "", c.text)) <= 1 for c, _ in it.names) \
        and not it.extras


def _stray_letter_range_to_its_row(items: list[RowItem]) -> None:
    """'总胆固醇 7.28 t 2.80~5.85 mmol/L': the arrow between result and range read as the letter 't' starts a new
    item that takes the printed range and unit away from the row they belong to. They are given back to the row on
    the left (the nearest item with a result and no range of its own); the letter itself is dropped, the range
    decides the flag."""
    for k, it in enumerate(items):
        if it.value is not None or not _stray_letter(it) or (it.range is None and it.unit is None):
            continue
        prev = items[k - 1] if k else None
        if prev is None or prev.value is None or prev.range is not None:
            continue
        if it.names[0][0].box[0] < prev.value.box[2]:
            continue  # not to the right of the result
        if it.unit is not None and prev.unit is not None:
            continue
        prev.range, prev.parsed_range = it.range, it.parsed_range
        if it.unit is not None:
            prev.unit = it.unit
        it.range = it.parsed_range = it.unit = None


APART_FACTOR = 0.75  # a row set apart from its block's end by skipped lines: its confidence scaled by this


def _doubt(rec: dict[str, Any], reason: str, factor: float, threshold: float, review: bool = False) -> None:
    """Lower a returned row's confidence for a structural doubt, with its review reason (``review``: the row
    needs review whatever its confidence)."""
    rec["confidence"] = round(rec["confidence"] * factor, 3)
    rec["needs_review"] = bool(rec.get("needs_review")) or review
    fc = rec.get("field_confidence") or {}
    if "structure" in fc:
        fc["structure"] = round(fc["structure"] * factor, 3)
    reasons = set(rec.get("review_reasons") or []) | {reason}
    if rec["confidence"] < threshold:
        rec["needs_review"] = True
        reasons.add("low_confidence")
    rec["review_reasons"] = sorted(reasons)


DEFAULT_RANGE_FACTOR = 0.9  # a row flagged by the knowledge base's range on a page that prints its ranges
DEFAULT_DISAGREES_FACTOR = 0.8  # a printed mark against the knowledge base's default range (not the sheet's)
# (x0.8 rests on one dev sheet whose hospital ranges differ from the defaults; to be checked on more sheets)
UNDECIDED_FACTOR = 0.9  # a known test's numeric result left without any flag on a sheet that prints ranges
RANGES_PRINTED_SHARE = 0.8  # a sheet "prints ranges" when this share of its (at least 5) numeric rows has one


NO_RANGE_RUN = 3  # this many consecutive rows of a block without a printed range: a part of the sheet that prints none


def flag_not_decided(indicators: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a known test with a numeric result and no flag at all, on a sheet that prints its ranges: the row's
    range was not read (and no mark), and no other range could stand in (a unit that is not the test's, a
    child's age). Whether the result is high or low is the one thing the patient needs; another photo may show it.
    A part of the sheet that prints no ranges (a urine sheet's dipstick rows, 比重 and pH among 阴性 rows) is told
    by a run of NO_RANGE_RUN or more consecutive rows of the block without a printed range, not by one neighbour:
    glare across the range column takes one or two rows' ranges, and those rows then stand between rows that
    print theirs (the other candidates are skipped over, so two such rows do not hide each other). A row whose
    whole block prints no range is the sheet's own blank."""
    num = [i for i in indicators if i.get("value") is not None]
    if len(num) < 5 or sum(1 for i in num if i.get("range_printed")) < RANGES_PRINTED_SHARE * len(num):
        return []
    out = []
    for i in num:
        if not i.get("code") or i.get("flag") is not None or i.get("range_printed"):
            continue
        block = _block_rows(i, indicators)
        k = block.index(i)
        a = k
        while a > 0 and not block[a - 1].get("range_printed"):
            a -= 1
        b = k
        while b < len(block) - 1 and not block[b + 1].get("range_printed"):
            b += 1
        # the run of rangeless rows around it must be short and bounded by a row that prints its range
        if b - a + 1 < NO_RANGE_RUN and (a > 0 or b < len(block) - 1):
            out.append(i)
    return out


def same_block(p: Any, q: Any) -> bool:
    """Do two boxes (x0, y0, x1, y1) stand in one block of the table: they share at least half of the narrower
    one's width (the rows of the table beside do not)."""
    return min(p[2], q[2]) - max(p[0], q[0]) >= 0.5 * min(p[2] - p[0], q[2] - q[0])


def _block_rows(row: dict[str, Any], indicators: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The returned rows of this row's block (same page, ``same_block``), top to bottom, this row included."""
    return sorted([i for i in indicators if i is row or i.get("page", 0) == row.get("page", 0)
                   and same_block(row["box"], i["box"])], key=lambda i: i["box"][1] + i["box"][3])


def equivocal_without_mark(indicators: list[dict[str, Any]], min_marked: int = 2) -> list[dict[str, Any]]:
    """Equivocal results ('±', '+-', 微量, 40(+-)) with no printed mark, on a page whose rows carry printed marks
    (at least ``min_marked`` others): a sheet with a mark column says which way a ± result counts, so here its
    mark was most likely lost, and the returned flag is the service's convention (POS) rather than the sheet's."""
    out = []
    for on_page in _pages(indicators):
        marked = sum(1 for i in on_page if i.get("flag_mark"))
        out += [i for i in on_page if i.get("qualitative") == "trace" and not i.get("flag_mark")
                and marked >= min_marked]
    return out


REREAD_MIN_SCORE = 0.8  # a result cell read again must read at least this well to replace the first reading
REREAD_MAX_EDITS = 2  # ... and differ from the first reading by at most this many characters (added, lost, changed)
REREAD_MIN_VOTES = 2  # ... by at least this many of its crops, more than any other number that fits
# the crops of a result cell read again: (x, y) padding in cell heights; the first two are also read enlarged twice
REREAD_PADS = ((0.15, 0.15), (0.35, 0.15), (0.05, 0.3), (0.25, 0.3))
NUM_TEXT = r"\d+(?:\.\d+)?"  # a plain number as a result cell holds it


MARK_GAP_MIN = 1.0  # a gap between a result and its next cell narrower than this many line heights holds no mark


POINT_LOST_FACTOR = 0.5  # an unmarked whole number many times its range that, with a point put back, fits it


def decimal_point_lost(indicators: list[dict[str, Any]], min_marked: int = 1,
                       times: float = 5.0) -> list[dict[str, Any]]:
    """Results printed as a whole number ('27') at least ``times`` the top of their printed range, with no mark,
    on a page whose other rows carry printed marks, where the test is printed with decimals on this sheet (its
    printed range has a decimal point: 0.5-5.0, 3.5-9.5) and the result falls inside the range with the point
    put back one or two digits from the end (2.7 in 0.5-5.0, 4.72 in 3.5-9.5): the point, the smallest glyph on
    the sheet, was most likely lost to blur. A range printed in whole numbers (ALT 9-50, urine WBC 0-25 /μL) says
    the test's results are whole numbers too, and a result there many times its top is a real high value. Never
    on a result past the knowledge base's critical limit (WBC 50, glucose 40): a critical value is reported as
    read, not explained away. A real extreme that keeps its point (白细胞 47.24) is not a whole number.
    ``times=5``: with the point lost one digit from the end the reading is 10x the true result, so a true result
    in the upper half of its range reads at least 5x the top (2.7 of 0.5-5.0 as '27'), and two digits from the
    end (100x) nearly any result in range does; a lower bar would reach the real highs of 2-4x the top that
    enzymes and inflammation markers reach, at the cost of a lost point on a result in the lower half of its
    range ('8' for 0.8) going uncaught. ``min_marked=1``: the page must show that it marks results (one other
    printed mark is enough: most rows of a sheet are normal and unmarked), since only there does a
    missing mark on a result that high say something."""
    out = []
    for on_page in _pages(indicators):
        if sum(1 for j in on_page if j.get("flag_mark")) < min_marked:
            continue  # (a candidate has no mark of its own, so every mark counted is another row's)
        for i in on_page:
            ref = i.get("reference") or {}
            low, high, v = ref.get("low"), ref.get("high"), i.get("value")
            if ref.get("source") != "printed" or i.get("flag_mark") or v is None or not high or high <= 0 \
                    or i.get("critical") or not re.fullmatch(r"\d{1,4}", (i.get("value_printed") or "").strip()) \
                    or v < times * high:
                continue
            # the range's decimals, not the result's: a sheet prints results with as many or more (4.72 in
            # 3.5-9.5), so the point's place is not asked to match them
            if not any(_decimals(n) for n in re.findall(r"\d+(?:\.\d+)?", i.get("range_printed") or "")):
                continue  # a range in whole numbers: the test's results are whole numbers on this sheet
            if any((low or 0.0) <= v / 10 ** k <= high for k in (1, 2)):
                out.append(i)
    return out


GAP_MIN_ROWS = 5  # a block needs this many returned rows before its row pitch means anything
GAP_REGULAR = 0.7  # ... and this share of its row-to-row steps within a quarter of the median step


def row_pitch_gaps(on_page: list[dict[str, Any]], tokens: list[Token]) -> list[dict[str, Any]]:
    """Places where a block of regularly spaced returned rows skips one to three lines and the page holds
    something result-like there (a digit, a sign word or mark) or nothing read at all: a printed table keeps
    its row pitch, so such a step is a row that was not returned (its result garbled, '0()'), or a returned row
    that is not the table's (a footer field below it). A skipped line that holds only words (a section label
    such as 镜检) is the sheet's own, and so is a wider step between rows whose printed numbers run on (n, n+1).
    Blocks side by side are told apart by where their names start. Each gap:
    the returned rows on either side, how many lines it skips, and the row it sets apart at the block's top or
    bottom ('lone'), if any."""
    rows = sorted(on_page, key=lambda i: i["box"][0])
    blocks: list[list[dict[str, Any]]] = []
    for i in rows:
        if blocks:
            h = float(np.median([x["box"][3] - x["box"][1] for x in blocks[-1]]))
            if i["box"][0] - blocks[-1][-1]["box"][0] <= 4 * h:
                blocks[-1].append(i)
                continue
        blocks.append([i])
    out: list[dict[str, Any]] = []
    for b in blocks:
        if len(b) < GAP_MIN_ROWS:
            continue
        b = sorted(b, key=lambda i: i["box"][1] + i["box"][3])
        ys = [(i["box"][1] + i["box"][3]) / 2 for i in b]
        steps = np.diff(ys)
        pitch = float(np.median(steps))
        if pitch <= 0 or np.mean(np.abs(steps - pitch) <= 0.25 * pitch) < GAP_REGULAR:
            continue
        bx0, bx1 = min(i["box"][0] for i in b), max(i["box"][2] for i in b)
        for k, step in enumerate(steps):
            lines = step / pitch
            if not (1.75 <= lines <= 4.25 and abs(lines - round(lines)) <= 0.25):
                continue
            above, below = b[k].get("row"), b[k + 1].get("row")
            if isinstance(above, int) and isinstance(below, int) and below == above + 1:
                continue  # the printed row numbers run on across the wider step: no row is missing there
            lo, hi = ys[k] + 0.5 * pitch, ys[k + 1] - 0.5 * pitch
            inside = [t.text for t in tokens if lo < (t.box[1] + t.box[3]) / 2 < hi and bx0 <= t.cx <= bx1]
            if inside and not any(_RESULT_LIKE.search(t) for t in inside):
                continue  # words only: a section label or a note the sheet prints between its rows
            lone = b[-1] if k == len(steps) - 1 else b[0] if k == 0 else None
            out.append({"after": b[k].get("name_printed"), "before": b[k + 1].get("name_printed"),
                        "rows_skipped": int(round(lines)) - 1, "holds": "result_like" if inside else "nothing",
                        "lone": lone})
    return out


_RESULT_LIKE = re.compile(r"\d|[阴阳]性|[+＋十↑↓]")


def _item_box(it: RowItem) -> tuple[float, float, float, float]:
    """The box around every cell of a row item."""
    boxes = [c.box for c, _ in it.names] + [c.box for c in (it.value, it.range, it.unit, it.flag) if c is not None]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _overlap(a: tuple[float, ...] | list[float], b: tuple[float, ...] | list[float]) -> float:
    """The share of box a that box b covers."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0.0) * max(h, 0.0) / max((a[2] - a[0]) * (a[3] - a[1]), 1.0)


def _nameless_result_row(kb: KnowledgeBase, row: list[Token]) -> RowItem | None:
    """A table row that parsing made nothing of, though it holds a number under the result header and, under
    their headers, a unit or a range: a result row whose name was not read (or was read as something else). Its
    result and unit/range as a row item, to be named in the re-shoot request; None for anything else."""
    value = next((t for t in row if t.column == "value" and (pv := parse_value(t.text)) is not None
                  and (pv.number is not None or signed_digit(t.text) is not None)), None)
    if value is None:
        return None
    unit = next((t for t in row if t.column == "unit" and kb.is_unit(t.text, misread=True)), None)
    rng = next((t for t in row if t.column == "range" and parse_range(t.text) is not None), None)
    if unit is None and rng is None:
        return None
    it = RowItem(value=Cell(value.text, value.score, value.box), parsed_value=parse_value(value.text),
                 unit=Cell(unit.text, unit.score, unit.box) if unit else None,
                 range=Cell(rng.text, rng.score, rng.box) if rng else None,
                 parsed_range=parse_range(rng.text) if rng else None)
    signed_digit_as_number(it)  # '+2' with its unit or a numeric range: the number (a base excess), not a grade
    return it if it.parsed_value is not None and it.parsed_value.number is not None else None


def _table_row_evidence(it: RowItem) -> bool:
    """Does a row item that was not returned look like a row of the table? A number read as its result, with the
    unit or the range printed beside it (what a result row prints), or a name of two characters or more."""
    pv = it.parsed_value
    if it.value is None or pv is None:
        return False
    named = any(len(re.sub(r"[\[\]()（）【】\s]", "", c.text)) >= 2 for c, _ in it.names)
    return pv.number is not None and (it.unit is not None or it.parsed_range is not None) or named


def _part_of_a_read_row(it: RowItem, on_page: list[dict[str, Any]]) -> bool:
    """A name with no result that is only a piece of a row read elsewhere: a stray letter ('t'), a code label
    that overlaps a returned row, or sits level with one and right beside it (or names the same code)."""
    texts = [re.sub(r"[\[\]()（）【】\s]", "", c.text) for c, _ in it.names]
    if all(len(t) <= 1 for t in texts):
        return True
    x0 = min(c.box[0] for c, _ in it.names)
    x1 = max(c.box[2] for c, _ in it.names)
    y0 = min(c.box[1] for c, _ in it.names)
    y1 = max(c.box[3] for c, _ in it.names)
    h = max(y1 - y0, 1.0)
    codes = {m.indicator.code for _, ms in it.names for m in ms[:3]}
    for i in on_page:
        bx0, by0, bx1, by1 = i["box"]
        ov_x = min(x1, bx1) - max(x0, bx0)
        ov_y = min(y1, by1) - max(y0, by0)
        if ov_x > 0 and ov_y > 0 and ov_x * ov_y >= 0.4 * (x1 - x0) * h:
            return True
        if ov_y >= 0.5 * h:
            gap = max(bx0 - x1, x0 - bx1, 0.0)
            code = i.get("code") or ""
            if gap < 1.5 * h or any(code == c or code.endswith("-" + c) for c in codes):
                return True
            if x0 >= bx1 - h and x1 <= _block_right(i, on_page) + h:
                return True  # after a returned row, inside its block: its unit or mark read as a name ('pg' as 'PR')
    return False


def _room_for_row(n: int, numbered: list[tuple[int, Any]]) -> bool:
    """Is there room on the page for a row numbered n that was not read? ``numbered``: (printed number, box) of the
    rows read with a number. Between the nearest numbers read above and below it in its block (a and b), a printed
    table leaves (b - a) row pitches; where the two rows stand closer than that, the sheet's numbering skips n
    (a test it did not run, a number misread) and no row was lost there. Unknown (True) without a row pitch: at
    least two pairs of consecutively numbered rows one above the other."""
    def cy(box: Any) -> float:
        return (box[1] + box[3]) / 2

    by_no = sorted(numbered, key=lambda r: r[0])
    steps = [cy(q[1]) - cy(p[1]) for p, q in zip(by_no, by_no[1:])
             if q[0] == p[0] + 1 and same_block(p[1], q[1]) and cy(q[1]) > cy(p[1])]
    if len(steps) < 2:
        return True
    pitch = float(np.median(steps))
    above = max((r for r in numbered if r[0] < n), key=lambda r: r[0], default=None)
    below = min((r for r in numbered if r[0] > n), key=lambda r: r[0], default=None)
    if above is None or below is None or not same_block(above[1], below[1]) or cy(below[1]) <= cy(above[1]):
        return True  # at a block's end, or across to the block beside: nothing to measure
    return cy(below[1]) - cy(above[1]) >= (below[0] - above[0] - 0.5) * pitch


def _block_right(row: dict[str, Any], on_page: list[dict[str, Any]]) -> float:
    """The right edge of the block a returned row belongs to: the furthest right any row reaches whose box shares
    at least half of the narrower one's width with this row's (the rows of the table beside it do not)."""
    block = [i for i in on_page if same_block(row["box"], i["box"])]
    beside = [i for i in on_page if not same_block(row["box"], i["box"])]
    # a line in this block and in the one beside too (a note or merged row across both tables) bridges them: it
    # does not say where this block ends
    return max([row["box"][2]] + [i["box"][2] for i in block
                                  if not any(same_block(i["box"], j["box"]) for j in beside)])


def _exponent_lost(printed: str, ind: Indicator) -> tuple[str, float] | None:
    """'×10°/L', '×10/L', '×102/L': a 10^n/L unit whose superscript exponent the recogniser lost or mangled. It is
    taken as the code's own 10^n/L unit when the code has exactly one (a count: 10^9/L, 10^12/L)."""
    if not ten_power_unit(printed):
        return None
    fam = [(u, f) for u, f in ind.units.items() if re.fullmatch(r"10\^\d{1,2}/L", u)]
    return fam[0] if len(fam) == 1 else None


def _default_range_on_a_sheet_with_ranges(indicators: list[dict[str, Any]], warnings: list[dict[str, Any]],
                                          threshold: float) -> None:
    """The knowledge base's range is the fallback when the sheet prints no range. On a page that prints a range for
    most of its rows, a row without one most likely has a range we could not read: its flag (from the knowledge
    base) is said to be so, in a warning and in the row's review reasons, and the row's confidence drops."""
    by_page: dict[int, list[dict[str, Any]]] = {}
    for i in indicators:
        if i.get("code") and i.get("value") is not None:
            by_page.setdefault(i.get("page", 0), []).append(i)
    for rows in by_page.values():
        printed = sum(1 for i in rows if (i.get("reference") or {}).get("source") == "printed")
        if len(rows) < 4 or printed < 0.6 * len(rows):
            continue
        for i in rows:
            if (i.get("reference") or {}).get("source") != "default" or i.get("flag_printed"):
                continue
            _doubt(i, "printed_range_not_read", DEFAULT_RANGE_FACTOR, threshold)
            if i.get("flag") in ("H", "L", "HH", "LL"):
                warnings.append({"code": "flag_from_default_range", "indicator": i["code"],
                                 "message": f"该行参考范围未能读出，{i['flag']} 依据知识库的默认范围判断，请核对报告单。 "
                                            f"The printed range of this row was not read: {i['flag']} comes from the "
                                            "knowledge base's default range; check it against the sheet."})


def _value_text(it: RowItem, pv: Any) -> str:
    """The result as read: a '+' / '-' the recogniser returned as 十 / 一 is given back as '+' / '-'
    (value_printed keeps the glyphs as read), and a word in a traditional form ('黃色') in the simplified one the
    sheet printed."""
    t = it.value.text
    if pv.qualitative is not None:
        t = word_in_stray_brackets(t) or t  # '(未见': the bracket was the cell's edge
        return result_glyphs(simplified(t))
    return t if pv.number is not None else simplified(t)


def _described_flag(ind: Indicator, text: str) -> str | None:
    """A descriptive result (颜色, 性状, 透明度) where the sheet's range was not read as one: N for a word the
    knowledge base knows as this test's normal result (黄色 stool), ABN for one it knows as a finding (红色, 稀便),
    None for any other word (nothing to judge it by)."""
    word = norm_text(simplified(text))
    if word in {norm_text(w) for w in ind.normal}:
        return "N"
    if word in {norm_text(w) for w in ind.findings}:
        return "ABN"
    return None


def _fmt_num(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:g}"


def _round(x: float | None, decimals: int) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(round(x, max(decimals, 0) + 2))


SIGN_WORDS = ("阴性", "阳性", "弱阳性")  # the words whose one character decides the finding
SIGN_TAKEN = "阴性"  # the only one taken from the likelihood: blur fills 阴's 月 into 阳's 日, never the other way
SIGN_MIN_PER_CHAR = -6.0  # log-likelihood per character of the word taken
SIGN_MARGIN = 1.5  # per character, over every other sign word
SIGN_RECHECK_SCORE = 0.9  # a sign word read with a lower recognition score than this is read again
_SIGN_CELL = re.compile(r"(?P<head>[\u4e00-\u9fff]{1,2})性(?P<tail>[(（][^()（）]{0,2}[)）])?")


def _sign_word_doubt(it: RowItem) -> str | None:
    """The bracketed tail ('(-)', '（）', '') of a result cell to read again against the sign words: a cell shaped
    like one ('X性', 'X性(…)') that is none of them (the recogniser lost the deciding character), or one of them
    read with a recognition score below SIGN_RECHECK_SCORE; None for any other cell."""
    if it.value is None or it.value_from_shape:
        return None
    m = _SIGN_CELL.fullmatch(it.value.text.strip())
    if m is None:
        if _misread_qualitative(it):  # a fragment of a sign word on a sign row ('性', '阴肿性生')
            g = _GARBLED_SIGN.fullmatch(split_flag(it.value.text.strip())[0])
            return g.group(1) or "" if g else ""
        return None
    word = simplified(m.group("head")) + "性"
    if word in SIGN_WORDS and it.value.score >= SIGN_RECHECK_SCORE:
        return None
    if word not in SIGN_WORDS and not _misread_qualitative(it):
        return None  # another word that ends in 性 and parses (无反应性)
    return m.group("tail") or ""


def _sign_pick(likelihoods: dict[str, float]) -> str | None:
    """阴性 when it explains the cell clearly best: at least SIGN_MIN_PER_CHAR per character, and SIGN_MARGIN per
    character above 阳性 and 弱阳性; else None (the reading is kept). A cell the likelihood reads as 阳性 is not
    taken: on a blurred or small photo the recogniser's likelihood leans to 阳 for a printed 阴 (on the real dev
    photos every 阳性 it preferred for a garbled cell was a printed 阴性), and a false positive is the worst error
    this service can make; such a cell stays unread and is named in the re-shoot request."""
    pick = clear_best(likelihoods, SIGN_MIN_PER_CHAR, SIGN_MARGIN, group=simplified)  # 陰性 is 阴性
    return SIGN_TAKEN if pick is not None and simplified(pick) == SIGN_TAKEN else None


WORD_MIN_PER_CHAR = -3.0  # a descriptive word read again: log-likelihood per character of the word taken
WORD_MARGIN = 1.5  # per character, over every other word the test reports


def _result_words(ind: Indicator) -> list[str]:
    """The words a descriptive (kind text) test reports, normal or not (颜色: 黄色 … 黄绿色), in Chinese characters."""
    return [w for w in dict.fromkeys([*ind.normal, *ind.findings]) if len(w) >= 2 and len(han_chars(w)) == len(w)]


@functools.lru_cache(maxsize=None)
def in_both_scripts(words: tuple[str, ...]) -> tuple[str, ...]:
    """Each word as printed in either script ('阴性' and '陰性' on a Taiwan sheet), for reading a cell against them;
    worked out on first use (the converter's tables load then, not at import)."""
    return tuple(dict.fromkeys(v for w in words for v in (w, traditional(w))))


def none_seen_readings() -> tuple[str, ...]:
    """The words a microscopy finding none seen is printed with (the package's none-seen words and 未检出), in both
    scripts (未發現)."""
    return in_both_scripts(tuple(w for w in (*NONE_SEEN_WORDS, "未检出") if han_chars(w) == w))


# a result cell shaped like one garbled past parsing: its 未 (or 未 read as 末) and one to three characters
_NONE_SEEN_SHAPE = re.compile(r"[未末][\u4e00-\u9fff]{1,3}")


def _word_doubt(it: RowItem) -> list[str]:
    """The words to read a result cell against: a descriptive result (no number, no grade) of a row whose name
    reads as a test with word results, read with a score below SIGN_RECHECK_SCORE, that is none of that test's words
    ('杨便', '竟绿色', '糊秋'); on any row, a cell shaped like a none-seen word that did not parse ('未验现', '末极現'
    for 未發現) against those words; [] for any other row."""
    pv = it.parsed_value
    if it.value is None or it.value_from_shape or pv is None or pv.number is not None or pv.qualitative is not None \
            or not han_chars(it.value.text):
        return []
    if _NONE_SEEN_SHAPE.fullmatch(it.value.text.strip()):
        return list(none_seen_readings())
    if it.value.score >= SIGN_RECHECK_SCORE:
        return []
    best = max((m.score for _, ms in it.names for m in ms), default=0.0)
    inds = {m.indicator.code: m.indicator for _, ms in it.names for m in ms if m.score >= best - 1e-9}
    if not inds or any(ind.kind != "text" for ind in inds.values()):
        return []
    words = [w for ind in inds.values() for w in _result_words(ind)]
    return [] if simplified(it.value.text.strip()) in words else list(dict.fromkeys(words))


def _word_pick(likelihoods: dict[str, float]) -> str | None:
    """The test's word that explains the cell clearly best: at least WORD_MIN_PER_CHAR per character and WORD_MARGIN
    per character above every other (one word in its two scripts does not compete with itself); else None (the
    reading is kept)."""
    return clear_best(likelihoods, WORD_MIN_PER_CHAR, WORD_MARGIN, group=simplified)


def column_drift(table: Any, results: list[tuple[float, float, float, float]] | tuple, cy: float,
                 line_h: float) -> float:
    """How far the table's result column has moved at height ``cy`` from where its header word sits: on a photo
    seen at an angle (or a curled page) a column's cells drift sideways down the page, so the header's x-span no
    longer covers a cell far below it. Fitted (Theil-Sen: the median of pairwise slopes, x of the left edge against
    y) on the result boxes read under that header (at least 4, over at least 3 line heights); 0 when they do not
    say."""
    cols = [(a, b) for k, a, b in table.columns if k == "value"]
    if not cols:
        return 0.0
    a, b = cols[0]
    pts = [(x0, (y0 + y1) / 2) for x0, y0, x1, y1 in results
           if table.x0 <= (x0 + x1) / 2 < table.x1 and a - 3 * line_h <= x0 <= b + line_h and y0 > table.y0 - line_h]
    if len(pts) < 4:
        return 0.0
    xs, ys = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    if ys.max() - ys.min() < 3 * line_h:
        return 0.0
    # Theil-Sen: the median of the pairwise slopes, so that a footer's or a neighbour's cell does not tilt the column
    i, j = np.triu_indices(len(xs), 1)
    far = np.abs(ys[j] - ys[i]) >= line_h
    if far.sum() < 3:
        return 0.0
    slope = float(np.median((xs[j] - xs[i])[far] / (ys[j] - ys[i])[far]))
    resid = np.abs(xs - slope * ys - np.median(xs - slope * ys))
    if np.mean(resid <= 0.25 * line_h) < 0.6:
        return 0.0  # the result cells are not one aligned column (centred, or two kinds of cell)
    return float(slope * (cy - table.y0))


class _EmptyCellLook:
    """Looks at the page where a named row's result should be (marks.find_mark); the page image is straightened
    like the tokens only when a row needs it."""

    def __init__(self, image: Any, page: PageOcr, tokens: list[Token], tables: list[Any]) -> None:
        self.image, self.page, self.tables = image, page, tables
        self.line_h = _line_height(tokens) if tokens else 20.0
        self._gray = None
        self._straight = None

    def straight(self) -> Any:
        if self._straight is None:
            angle = residual_skew([line.quad for line in self.page.lines])
            # an upside-down page was read turned by 180° (the boxes are in that frame): turn the image alike
            img = geometry.rotate(self.image, 180) if self.page.upside_down else self.image
            self._straight = marks.straighten_image(img, angle)
        return self._straight

    def gray(self) -> Any:
        if self._gray is None:
            img = self.straight()
            self._gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
        return self._gray

    def cell_crop(self, box: tuple[float, float, float, float]) -> np.ndarray | None:
        """A text cell as the recogniser reads it again: its box padded by 0.15 of its height; None when the crop is
        too small to read (under 6 px either way)."""
        x0, y0, x1, y1 = box
        pad = 0.15 * (y1 - y0)
        crop = self.crop(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        return crop if crop.shape[0] >= 6 and crop.shape[1] >= 6 else None

    def crop(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """A region of the straightened page as the recogniser takes it (BGR, contiguous)."""
        img = self.straight()
        crop = img[int(max(0, y0)):int(min(img.shape[0], y1)), int(max(0, x0)):int(min(img.shape[1], x1))]
        if crop.ndim == 2:
            crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
        return np.ascontiguousarray(crop)

    def _table_at(self, cx: float, cy: float) -> Any:
        """The table (with header columns) a point on the page lies in: the lowest header above it that spans it."""
        tables = [t for t in self.tables if t.columns and t.x0 <= cx < t.x1 and t.y0 < cy]
        return max(tables, key=lambda t: t.y0) if tables else None

    def read_name(self, row: list[Token], recognise: Any, kb: KnowledgeBase) -> tuple[Token, list[Token]] | None:
        """A table row with a result (and a range or a row number) but no name, or only a garbled scrap of one
        ('sín' for 血): the detector lost or mis-boxed the name cell, most often a name of one character (钾, 钠,
        氯 on a chemistry sheet, 血 on a stool sheet: too little area for a text line). The ink in the name column
        left of the result is cut out and recognised on its own. Returns the new name token and the scraps it
        replaces (None when the cell holds no ink or the recogniser reads no word there)."""
        values = [t for t in row if t.column == "value" and parse_value(split_flag(t.text)[0]) is not None]
        if not values:
            return None
        v = min(values, key=lambda t: t.box[0])
        left_of = [t for t in row if t.box[2] <= v.box[0] + 2 and t is not v]
        rownos = [t for t in row_number_tokens(row) if t in left_of]
        scraps = [t for t in left_of if t not in rownos and not re.search(r"[\u4e00-\u9fff]", t.text)
                  and len(t.text.strip()) <= 3 and not kb.match_name(t.text, allow_fuzzy=False)]
        if any(t not in rownos and t not in scraps and re.search(r"[\u4e00-\u9fffA-Za-z]", t.text) for t in left_of):
            return None  # the row has its name (also one glued to its row number, under 序号)
        if not (any(t.column == "range" for t in row) or rownos):
            return None
        cy = float(np.median([(t.box[1] + t.box[3]) / 2 for t in row]))
        table = self._table_at(v.cx, cy)
        if table is None:
            return None
        names = [c for c in table.columns if c[0] == "name"]
        if not names:
            return None
        lh = self.line_h
        left = max(table.x0, names[0][1] - lh, *(t.box[2] + 2 for t in rownos))
        right = v.box[0] - 0.3 * lh
        gray = self.gray()
        ya, yb = int(max(0, cy - 0.7 * lh)), int(min(gray.shape[0], cy + 0.7 * lh))
        xa, xb = int(max(0, left)), int(min(gray.shape[1], right))
        if xb - xa < lh or yb - ya < 0.8 * lh:
            return None
        band = gray[ya:yb, xa:xb]
        paper = float(np.percentile(band, 90))
        ink = band < paper - 60.0
        ink[:, ink.mean(axis=0) > 0.8] = False  # vertical rules
        ink[ink.mean(axis=1) > 0.6, :] = False  # horizontal rules
        # the row's own ink: the run of inked pixel rows around the middle (not the top of the row below)
        prof = ink.any(axis=1)
        mid = int(cy - ya)
        if not prof[max(0, mid - int(0.25 * lh)):mid + int(0.25 * lh) + 1].any():
            return None
        top, bottom = mid, mid
        while top > 0 and prof[top - 1:top + 1].any():
            top -= 1
        while bottom < len(prof) - 1 and prof[bottom:bottom + 2].any():
            bottom += 1
        ink[:top] = False
        ink[bottom + 1:] = False
        ys, xs = np.nonzero(ink)
        if len(xs) < 0.05 * lh * lh:
            return None
        pad = int(0.2 * lh)
        x0, x1 = max(0, xa + int(xs.min()) - pad), min(gray.shape[1], xa + int(xs.max()) + 1 + pad)
        y0, y1 = max(0, ya + int(ys.min()) - pad), min(gray.shape[0], ya + int(ys.max()) + 1 + pad)
        text, score = recognise([self.crop(x0, y0, x1, y1)])[0]
        text = text.strip()
        if score < 0.5 or not re.search(r"[\u4e00-\u9fff]", text):
            return None
        return Token(text, score, (float(x0 + pad), float(y0 + pad), float(x1 - pad), float(y1 - pad)), "name"), scraps

    def read_flag_mark(self, it: RowItem) -> None:
        """A '-' or '+' in the row's 提示 column that the detector dropped (a sheet whose mark column prints + or - on
        every row: '40(+-)' with '-' beside it is the sheet's negative, not the grade's weak positive)."""
        if it.value is None:
            return
        v = it.value.box
        cy = (v[1] + v[3]) / 2
        table = self._table_at((v[0] + v[2]) / 2, cy)
        if table is None:
            return
        span = marks.value_span(table, v[2] + 2, None, kind="flag")
        if span is None:
            return
        found, inked = marks.look_at_mark_cell(self.gray(), span[0], span[1], cy, self.line_h)
        if found is not None and found[0] in ("-", "+"):  # (a mark column says + or -; '±' is a result)
            it.flag, it.flag_code = Cell(found[0], 0.85, found[1]), "NEG" if found[0] == "-" else "POS"
        else:
            it.flag_ink = inked  # ink in the cell, no mark made out of it: a mark another photo may show

    def read_header_words(self, tokens: list[Token], likelihoods: Any) -> list[Token] | None:
        """On a page where no column header row was found: short words on the line of a header word that was read
        ('单位', 'No') are read again against the header vocabulary (the recogniser's likelihood of each word, as
        for garbled names), and take the word that explains them clearly best, by at least HEADER_MARGIN per
        character over any word of another column. Returns the tokens with those words replaced (for the layout
        to run again), or None when none was."""
        known = [t for t in tokens if header_kind(t.text) not in (None, OTHER_COLUMN)]
        if not known:
            return None
        lh = self.line_h
        cands = [t for t in tokens if t not in known and 1 <= len(t.text.strip()) <= HEADER_WORD_CHARS and
                 any(abs(t.box[1] + t.box[3] - k.box[1] - k.box[3]) < lh for k in known)]
        crops = [self.cell_crop(t.box) for t in cands]
        keep = [k for k, c in enumerate(crops) if c is not None]
        if not keep:
            return None
        scores = likelihoods([crops[k] for k in keep], [list(HEADER_VOCABULARY)] * len(keep))
        new_text: dict[int, str] = {}
        for k, ll in zip(keep, scores):
            if (pick := clear_best(ll, HEADER_MIN_PER_CHAR, HEADER_MARGIN, header_kind)) is not None:
                new_text[id(cands[k])] = pick
        if not new_text:
            return None
        return [replace(t, text=new_text[id(t)], column=None) if id(t) in new_text else replace(t, column=None)
                for t in tokens]

    def read_sign_words(self, items: list[RowItem], likelihoods: Any) -> None:
        """Result cells that hold a sign word the recogniser garbled ('胡性', '相性', '阿性（）' for 阴性) or read with a
        low score: the cell is read against 阴性 / 阳性 / 弱阳性 by the recogniser's likelihood (CTC over its output
        frames, one call for the page) and the word is taken only when it explains the cell clearly best
        (``_sign_pick``); the row is then returned with review reason ``result_read_by_likelihood``. Otherwise the
        reading stays as it was (a garbled sign word is not returned: the row is named as unread)."""
        todo: list[tuple[RowItem, str]] = []
        crops: list[np.ndarray] = []
        for it in items:
            tail = _sign_word_doubt(it)
            if tail is None:
                continue
            crop = self.cell_crop(it.value.box)
            if crop is None:
                continue
            todo.append((it, tail))
            crops.append(crop)
        if not crops:
            return
        scores = likelihoods(crops, [[w + tail for w in in_both_scripts(SIGN_WORDS)] for _, tail in todo])
        for (it, tail), ll in zip(todo, scores):
            pick = _sign_pick({w[: -len(tail)] if tail else w: v for w, v in ll.items()})
            if pick is None or pick + tail == it.value.text.strip():
                continue
            it.value = Cell(pick + tail, it.value.score, it.value.box)
            it.parsed_value = parse_value(it.value.text)
            it.value_from_likelihood = True

    @staticmethod
    def read_result_words(todo: list[tuple[RowItem, "_EmptyCellLook", list[str]]], likelihoods: Any) -> None:
        """Descriptive results garbled on the page ('杨便' for 稀便, '竟绿色' for 黄绿色): each cell is read against the
        words its test reports (the knowledge base's normal results and findings) by the recogniser's likelihood,
        all in one call, and the word is taken only when it explains the cell clearly best (``_word_pick``); the row
        then carries review reason ``result_read_by_likelihood``."""
        cells: list[tuple[RowItem, list[str]]] = []
        crops: list[np.ndarray] = []
        for it, looker, words in todo:
            if (crop := looker.cell_crop(it.value.box)) is not None:
                cells.append((it, words))
                crops.append(crop)
        if not crops:
            return
        for (it, words), ll in zip(cells, likelihoods(crops, [w for _, w in cells])):
            pick = _word_pick(ll)
            if pick is None:
                continue
            it.value = Cell(pick, it.value.score, it.value.box)
            it.parsed_value = parse_value(pick) or ParsedValue(None, pick)  # 未发现: a negative reading
            it.value_from_likelihood = True

    def read_unmarked_outliers(self, items: list[RowItem], recognise: Any) -> None:
        """On a page that marks its results, a number outside its printed range with no mark of its own and a
        blank mark cell may be misread: its first digit lost on a small photo ('1.4' for PDW 11.4 against
        9.8-16.2). A page marks its results when a row carries a printed mark read (H, L, an arrow), or when a
        row's cell under a mark column header (提示, 标志) holds ink. A row whose mark cell holds ink, or cannot be
        looked at, is left as read. The result cell is read again, alone, from the crops REREAD_PADS gives (the
        first two also enlarged twice, a reading each crop's own). A number that fits the range, within
        REREAD_MAX_EDITS characters of the first reading (its point counted), read from at least REREAD_MIN_VOTES
        crops and from more crops than the first reading or any other number that fits, replaces it; the row then
        carries review reason ``result_read_again``. Otherwise the result stays as read: on the real dev photos
        most unmarked results outside their range are marked results whose arrow the reading lost (their flag
        comes from the range anyway)."""
        outliers: list[RowItem] = []
        marked = any(it.flag is not None and it.flag_code in ("H", "L", "HH", "LL") for it in items)
        for it in items:
            pv, pr = it.parsed_value, it.parsed_range
            if it.flag is not None or it.flag_ink or it.value is None or it.value_from_shape or pv is None \
                    or pv.number is None or pv.comparator or pr is None or pr.low is None or pr.high is None \
                    or not re.fullmatch(NUM_TEXT, it.value.text.strip()) \
                    or _against_printed(pv, pr, pr.low, pr.high) not in ("H", "L"):
                continue
            state, headed = self._mark_cell(it)
            if state == "blank":
                outliers.append(it)
            elif state == "inked" and headed:
                marked = True  # a mark under the page's mark column, unread: the page marks its results
        if not marked or not outliers:
            return
        todo: list[RowItem] = []
        crops: list[np.ndarray] = []
        for it in outliers:
            x0, y0, x1, y1 = it.value.box
            h = y1 - y0
            cells = [self.crop(x0 - a * h, y0 - b * h, x1 + a * h, y1 + b * h) for a, b in REREAD_PADS]
            if all(c.shape[0] >= 6 and c.shape[1] >= 6 for c in cells):
                cells += [cv2.resize(c, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC) for c in cells[:2]]
                todo.append(it)
                crops.extend(cells)
        readings = recognise(crops) if crops else []
        per = len(REREAD_PADS) + 2
        source = list(range(len(REREAD_PADS))) + [0, 1]  # the crop each reading is of (an enlargement: its own)
        for k, it in enumerate(todo):
            pr, first = it.parsed_range, it.value.text.strip()
            crops_of: dict[float, set[int]] = {}  # number -> the crops that read it
            texts: dict[float, tuple[str, float, ParsedValue]] = {}  # number -> its best reading
            for (text, score), src in zip(readings[per * k:per * (k + 1)], source):
                text = text.strip()
                pv = parse_value(text) if re.fullmatch(NUM_TEXT, text) else None
                if pv is None or pv.number is None or score < REREAD_MIN_SCORE:
                    continue
                crops_of.setdefault(pv.number, set()).add(src)
                if score > texts.get(pv.number, ("", 0.0, pv))[1]:
                    texts[pv.number] = (text, score, pv)
            fitting = [n for n, (text, _, pv) in texts.items() if _against_printed(pv, pr, pr.low, pr.high) == "N"
                       and Levenshtein.distance(first, text) <= REREAD_MAX_EDITS]
            if not fitting:
                continue
            best = max(fitting, key=lambda n: len(crops_of[n]))
            rivals = [len(c) for n, c in crops_of.items() if n != best and (n in fitting or n == it.parsed_value.number)]
            if len(crops_of[best]) >= REREAD_MIN_VOTES and all(len(crops_of[best]) > r for r in rivals):
                text, score, it.parsed_value = texts[best]
                it.value = Cell(text, score, it.value.box)
                it.value_reread = True

    def _mark_cell(self, it: RowItem) -> tuple[str | None, bool]:
        """What the row's mark cell holds: 'inked' (ink of its own: a mark the reading lost), 'blank', or None where
        it cannot be looked at; and whether the cell is under a mark column header (提示, 标志). Without one, the
        cell is the gap between the result and the next cell right of it (an arrow column with no header word),
        looked at only where the gap is wide enough to hold a mark."""
        v = it.value.box
        cy = (v[1] + v[3]) / 2
        table = self._table_at((v[0] + v[2]) / 2, cy)
        span = marks.value_span(table, v[2] + 2, None, kind="flag") if table is not None else None
        headed = span is not None
        if span is None:
            lh = self.line_h
            nxt = [c.box[0] for c in (it.range, it.unit) if c is not None and c.box[0] > v[2]]
            if not nxt or min(nxt) - v[2] < MARK_GAP_MIN * lh:
                return None, False
            span = (v[2] + 0.2 * lh, min(nxt) - 0.2 * lh)
        found, inked = marks.look_at_mark_cell(self.gray(), span[0], span[1], cy, self.line_h)
        return ("inked" if found is not None or inked else "blank"), headed

    def read_dash(self, it: RowItem, results: list[tuple[float, float, float, float]] = ()) -> None:
        """``results``: the boxes of the results read on the page, whose drift down the page (a photo seen at an
        angle fans its columns) moves the header's result column to this row (column_drift)."""
        name = it.names[-1][0].box
        # the row's first cell right of the result: its range or its unit, whichever the sheet prints first
        right = min((c for c in (it.range, it.unit) if c is not None), key=lambda c: c.box[0], default=None)
        cy = (name[1] + name[3]) / 2
        if right is not None:
            cy = (cy + (right.box[1] + right.box[3]) / 2) / 2
        cx = (name[0] + name[2]) / 2
        table = self._table_at(cx, cy)
        span = None
        if table is not None:
            shift = column_drift(table, results, cy, self.line_h)
            if abs(shift) < 0.5 * self.line_h:
                shift = 0.0  # (the slack between the header words covers a small drift)
            span = marks.value_span(replace(table, columns=[(k, a + shift, b + shift) for k, a, b in table.columns]),
                                    name[2] + 2, right.box[0] - 2 if right is not None else None)
        elif right is not None and right.box[0] - name[2] > self.line_h:
            span = (name[2] + 2, right.box[0] - 2)  # no header: the gap between name and range
        elif right is None:
            span = _results_column(name, results, self.line_h)  # no header, nothing after the result either
        if span is None:
            return
        found = marks.find_mark(self.gray(), span[0], span[1], cy, self.line_h)
        if found is None:
            return
        it.value, it.parsed_value = Cell(found[0], 0.85, found[1]), parse_value(found[0])
        it.value_from_shape = True



def _results_column(name: tuple[float, float, float, float], results: list[tuple[float, float, float, float]],
                    line_h: float) -> tuple[float, float] | None:
    """Where the results stand right of a name on a page with no column header (an analyser's strip: code,
    result, and a unit only where there is a concentration): the span the page's results read right of it
    cover, from their first quartile of left edges to their third of right edges, when they line up as a
    column (at least three, within eight line heights). None otherwise."""
    col = [r for r in results if name[2] < r[0] < name[2] + 12 * line_h]
    if len(col) < 3:
        return None
    lefts = sorted(r[0] for r in col)
    rights = sorted(r[2] for r in col)
    lo, hi = lefts[len(lefts) // 4], rights[(3 * len(rights)) // 4]
    if hi - lo > 8 * line_h:
        return None
    return max(name[2] + 2, lo - 0.5 * line_h), hi + 0.5 * line_h


def _header_kinds(lay: LayoutResult) -> set[str]:
    return {k for t in lay.tables for k, _, _ in t.columns}


def header_needs_reading(lay: LayoutResult) -> bool:
    """Whether the page's column header words are to be read again against the header vocabulary: no header row
    was found, or one with neither a name nor a range column (a result word, a unit, a row number: the other words
    of the line garbled)."""
    kinds = _header_kinds(lay)
    return not kinds or not kinds & {"name", "range"}


def _age_zh(years: float) -> str:
    """An age in years as a report prints it: '5岁', '2岁5个月', '8个月', '15天'."""
    if years >= 1:
        months = round((years - int(years)) * 12)
        return f"{int(years)}岁" + (f"{months}个月" if 0 < months < 12 else "")
    if years * 12 >= 1:
        return f"{round(years * 12)}个月"
    return f"{round(years * 365)}天" if years * 365 >= 1 else "0岁"


def _age_en(years: float) -> str:
    if years >= 1:
        return f"{int(years)} years"
    if years * 12 >= 1:
        return f"{round(years * 12)} months"
    return f"{round(years * 365)} days" if years * 365 >= 1 else "under a day"

class LabReportParser:
    def __init__(self, options: ParserOptions = ParserOptions(), engine: OcrEngine | None = None,
                 knowledge: KnowledgeBase | None = None) -> None:
        self.options = options
        self.kb = knowledge or load_knowledge()
        self.engine = engine or OcrEngine(options.engine)

    def warm_up(self) -> None:
        self.engine.warm_up()
        simplified("黃")  # the traditional -> simplified table loads on first use, not on a patient's request

    # ---------------------------------------------------------------------------------------------------------
    def parse(self, data: bytes, filename: str | None = None, content_type: str | None = None) -> dict[str, Any]:
        """Raise an ImageRejectedError subclass for unusable input; otherwise return the report (possibly with
        no indicators and a warning saying why)."""
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        t0 = t_start
        pages, fmt = imaging.decode(data, content_type, self.options.limits)
        q = quality.check(pages[0], self.options.gate)
        # a later page of a PDF too small on a side to hold a table (a strip, a stub), or blank, is left out, and
        # the response says which; so are the pages past the limit read. The first page decides whether the upload
        # is usable at all
        skipped = [n + 1 for n, p in enumerate(pages)
                   if n and (min(p.shape[:2]) < self.options.gate.min_side_px or quality.blank(p))]
        unread = pages.in_file - len(pages)
        pages = [p for n, p in enumerate(pages) if n + 1 not in skipped]
        timings["gate"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        sheets = geometry.sheet_boxes(pages[0]) if self.options.use_geometry and fmt != "pdf" and len(pages) == 1 \
            else []
        if any(min(x1 - x0, y1 - y0) < self.options.gate.min_side_px for x0, y0, x1, y1 in sheets):
            sheets = []  # a sheet cut out too small to read on its own (the gate's smallest side): read whole
        timings["geometry"] = (time.perf_counter() - t0) * 1000
        for k in ("det", "cls", "rec", "parse"):
            timings[k] = 0.0
        if sheets:
            # two report sheets side by side in one photo: read as one page, rows would run from one sheet into
            # the other. Each is cut out and read as if it had been photographed alone (its own codes, header and
            # report type); the sheets' rows come back as pages 0 and 1
            try:
                readings = [self._read([pages[0][y0:y1, x0:x1]], timings) for x0, y0, x1, y1 in sheets]
            except NotADocumentError:  # a 'sheet' with next to no text on it: the photo is read whole
                sheets = []
            else:
                result, ocr, geo = self._merge_sheets(readings)
        if not sheets:
            result, ocr, geo = self._read(pages, timings)
        else:
            result["warnings"].append({"code": "sheets_read_apart", "details": {"sheets": len(sheets)},
                                       "message": f"照片中有{len(sheets)}张报告单，已分别识别（见各项的 page）。 "
                                                  f"The photo shows {len(sheets)} report sheets; each was read on "
                                                  f"its own (see each indicator's page)."})
        if skipped:
            result["warnings"].append({"code": "pages_skipped", "details": {"pages": skipped},
                                       "message": "有页面过小或空白，未识别。 "
                                                  "Pages that are blank or too small to hold a table were not read."})
        if unread > 0:
            n_read = len(pages) + len(skipped)
            result["warnings"].append({"code": "pages_not_read", "details": {"pages_read": n_read,
                                                                             "pages_in_file": n_read + unread},
                                       "message": f"只识别了前{n_read}页，其余{unread}页未识别，请分开上传。 "
                                                  f"Only the first {n_read} pages were read; upload the other "
                                                  f"{unread} separately."})
        timings["total"] = (time.perf_counter() - t_start) * 1000
        result["quality"] = {**q.as_dict(), "format": fmt, "pages": len(pages),
                             "geometry": [g.as_dict() | {"upside_down": o.upside_down} for g, o in zip(geo, ocr)]}
        if sheets:
            result["quality"]["sheets"] = [{"page": k, "report_type": r["report_type"], "header": r["header"]}
                                           for k, (r, _, _) in enumerate(readings)]
        result["timings_ms"] = {k: round(v, 1) for k, v in timings.items()}
        log.info("lab report parsed", extra={"indicators": len(result["indicators"]), "format": fmt,
                                             "report_type": result["report_type"], "total_ms": timings["total"]})
        return result

    def _read(self, pages: list[np.ndarray], timings: dict[str, float]) -> _Reading:
        """The pages (of one upload, or one sheet cut out of a photo) through geometry, OCR and assembly, with the
        second readings where the first looks wrong: (result, ocr, geometry). Times are added to ``timings``."""
        t0 = time.perf_counter()
        geo = [geometry.normalise_page(p) if self.options.use_geometry else
               geometry.GeometryResult(p, None, 0, 0.0) for p in pages]
        timings["geometry"] += (time.perf_counter() - t0) * 1000
        ocr = self.engine.run([g.image for g in geo])
        n_lines = sum(len(p.lines) for p in ocr)
        if n_lines < MIN_TEXT_LINES:
            # The cheap gate let it through (e.g. an X-ray with a few markers); the detector found no real text.
            raise NotADocumentError(details={"text_lines": n_lines})
        for k in ("det", "cls", "rec"):
            timings[k] += sum(p.timings_ms.get(k, 0.0) for p in ocr)
        t0 = time.perf_counter()
        result = self._assemble(ocr, geo)
        timings["parse"] += (time.perf_counter() - t0) * 1000
        if self.options.use_geometry and _reads_wrong(result, ocr):
            # No column header read left-to-right and (almost) nothing parsed: the orientation vote was probably
            # wrong (a sideways photo of a sparse sheet). Try the other turns; keep the best reading.
            # The turns are taken from each page as it was read (turned over where the angle vote turned it), and
            # each turned page is read as given: the vote that got the page wrong would only turn it back
            read = [g.turned(180) if o.upside_down else g for g, o in zip(geo, ocr)]
            for turn in (180, 90, 270):
                result, ocr, geo = self._read_again([g.turned(turn) for g in read], (result, ocr, geo), timings,
                                                    turn_vote=False)
                if not _reads_wrong(result, ocr):
                    break
        if self.options.use_geometry:
            # a photo of a screen: the display's pixel grid over the text breaks the recogniser's strokes apart; the
            # page is read again with the grid smoothed away (before the page is resampled), the better reading kept
            t0 = time.perf_counter()
            smooth = [geometry.smooth_screen_grid(p) for p in pages]
            timings["geometry"] += (time.perf_counter() - t0) * 1000
            if any(sm is not None for sm in smooth):
                t0 = time.perf_counter()
                geo2 = [geometry.normalise_page(sm if sm is not None else p) for sm, p in zip(smooth, pages)]
                timings["geometry"] += (time.perf_counter() - t0) * 1000
                result, ocr, geo = self._read_again(geo2, (result, ocr, geo), timings)
        det_side = self.options.engine.det_max_side
        if self.options.use_geometry and det_side and _rows_left_unread(result) and \
                any(max(g.image.shape[:2]) >= SECOND_LOOK_MIN_SHRINK * det_side for g in geo):
            # rows left unread on a page the detector saw shrunk: its small print (the far side of a steep shot,
            # a three-block sheet across a large photo) may have been too small there to be found. The pages are
            # read again as they were read (turned over where the angle vote turned them), with the text found at
            # twice the size, the better reading kept
            as_read = [g.turned(180) if o.upside_down else g for g, o in zip(geo, ocr)]
            result, ocr, geo = self._read_again(as_read, (result, ocr, geo), timings, turn_vote=False,
                                                det_side=SECOND_LOOK_FACTOR * det_side)
        return result, ocr, geo

    @staticmethod
    def _merge_sheets(readings: list[_Reading]) -> _Reading:
        """One response for the sheets of one photo, each read on its own: the first sheet's header, report type
        and layout on top; every indicator and warning with its sheet's number as ``page``."""
        result = dict(readings[0][0])
        result["indicators"], result["warnings"] = [], []
        ocr: list[PageOcr] = []
        geo: list[geometry.GeometryResult] = []
        for k, (res, o, g) in enumerate(readings):
            result["indicators"] += [{**i, "page": k} for i in res["indicators"]]
            result["warnings"] += [{**w, "page": k} for w in res["warnings"]]
            ocr += o
            geo += g
        return result, ocr, geo

    def _read_again(self, geo: list[geometry.GeometryResult], best: _Reading, timings: dict[str, float],
                    turn_vote: bool = True, det_side: int | None = None) -> _Reading:
        """The pages read again as ``geo`` gives them (turned, or smoothed, or with the text found at
        ``det_side``): (result, ocr, geometry) of the better reading of the two, ``best`` on a tie; the
        recognition time is added to ``timings``."""
        ocr = self.engine.run([g.image for g in geo], turn_vote=turn_vote, det_side=det_side)
        for k in ("det", "cls", "rec"):
            timings[k] += sum(p.timings_ms.get(k, 0.0) for p in ocr)
        result = self._assemble(ocr, geo)
        score = _confident_score if det_side else _reading_score
        return (result, ocr, geo) if score(result) > score(best[0]) else best

    # ---------------------------------------------------------------------------------------------------------
    def _assemble(self, ocr: list[PageOcr], geo: list[geometry.GeometryResult]) -> dict[str, Any]:
        warnings: list[dict[str, Any]] = []
        indicators: list[dict[str, Any]] = []
        used: set[str] = set()
        outside_tokens: list[Token] = []
        all_tokens: list[Token] = []
        items_per_page: list[tuple[int, list[RowItem]]] = []
        no_value: list[tuple[int, RowItem]] = []
        header_rows = 0
        row_numbers: dict[int, set[int]] = {p: set() for p in range(len(ocr))}
        table_top: dict[int, float] = {}  # per page: the bottom of the first column-header row
        lookers: dict[int, _EmptyCellLook] = {}
        page_tokens: dict[int, list[Token]] = {}
        nameless: list[tuple[int, RowItem]] = []  # table rows with a result and unit/range but nothing named
        for pno, (page, g) in enumerate(zip(ocr, geo)):
            tokens = straighten([(line.text, line.score, line.quad) for line in page.lines])
            lay = analyse(tokens, float(g.image.shape[1]))
            if header_needs_reading(lay):
                # no column header row, or one of a result word and little else ('No 项F 結果 岁考范围 单位'): its
                # words may be garbled ('结天', '多考范用' on dot-matrix print)
                reread = _EmptyCellLook(g.image, page, tokens, []).read_header_words(tokens,
                                                                                     self.engine.word_likelihoods)
                if reread is not None:
                    lay2 = analyse(reread, float(g.image.shape[1]))
                    if len(_header_kinds(lay2)) > len(_header_kinds(lay)):
                        tokens, lay = reread, lay2
            all_tokens.extend(tokens)
            page_tokens[pno] = tokens
            header_rows += len({t.y0 for t in lay.tables if t.columns})
            if any(t.columns for t in lay.tables):
                table_top[pno] = min(t.y0 for t in lay.tables if t.columns)
            outside_tokens.extend(lay.outside)
            items: list[RowItem] = []
            looker = _EmptyCellLook(g.image, page, tokens, lay.tables)
            lookers[pno] = looker
            page_items: list[RowItem] = []
            body = join_wrapped_names(lay.rows, lambda *names: wrapped_name_reads_whole(self.kb, *names))
            for row in body:
                reread = looker.read_name(row, self.engine.recognise, self.kb)
                if reread is not None:
                    row = sorted([t for t in row if t not in reread[1]] + [reread[0]], key=lambda t: t.box[0])
                row_items = parse_row_all(self.kb, row)
                if not row_items and (bare := _nameless_result_row(self.kb, row)) is not None:
                    nameless.append((pno, bare))  # '17.80 %' under the result and unit headers, its name unread
                _stray_letter_range_to_its_row(row_items)
                for it in row_items:
                    point_read_as_space(it)
                    point_read_as_dash(it)
                page_items.extend(row_items)
            looker.read_sign_words(page_items, self.engine.word_likelihoods)  # '胡性': 阴性 or 阳性? (one call)
            results = [it.value.box for it in page_items if it.value is not None]
            for it in page_items:
                if _stray_letter(it) and it.value is None and it.range is None and it.unit is None:
                    continue  # 't' left over from an arrow: not a row
                if it.value is None and it.names and it.flag is None:
                    looker.read_dash(it, results)  # a lone '-' or '+' the detector dropped
                if it.value is not None and _misread_qualitative(it):
                    no_value.append((pno, it))  # '開性', '旧性': a 阴性/阳性 we cannot tell apart; never guessed
                elif it.value is not None:
                    items.append(it)
                elif any(ms for _, ms in it.names) or it.row_no is not None:
                    no_value.append((pno, it))  # a known name (or a numbered row) whose result was not read
                if it.row_no is not None:
                    row_numbers[pno].add(it.row_no)
            if any(it.flag is not None and it.flag_code in ("NEG", "POS") for it in items) and \
                    not any(it.flag_code in ("H", "L", "HH", "LL") for it in items):
                # the mark column speaks + and -: a row without a mark may hold a '-' the detector dropped
                for it in items:
                    if it.flag is None:
                        looker.read_flag_mark(it)
            comparator_lost_in_range_column(items)
            plus_read_for_an_arrow(items)
            arrow_read_as_trailing_one(items)
            if repair_range_shift(self.kb, items):
                warnings.append({"code": "range_column_realigned", "page": pno,
                                 "message": "参考范围列与结果列错行，已按指标重新对齐，请核对。 "
                                            "The printed ranges sat one row off their results and were realigned "
                                            "by the tests' scales; please check."})
            looker.read_unmarked_outliers(items, self.engine.recognise)
            items_per_page.append((pno, items))
        header = extract_header(outside_tokens or all_tokens, self.kb, header_area=bool(outside_tokens))
        sex = header.get("sex")
        # the kind the printed title names, read once: the panels a garbled name may come from, and the report type
        titled = title_kind([t.text for t in (outside_tokens or all_tokens) if len(t.text) <= 40], self.kb)
        # First pass: which panels does this report hold? Used to break name ties (pH: urine or blood gas).
        panels_seen: set[str] = set()
        panel_rows: dict[str, int] = {}
        for _, items in items_per_page:
            for it in items:
                for _, ms in it.names[:1]:
                    if ms and ms[0].score >= 0.95:
                        panels_seen.add(ms[0].indicator.panel)
                        panel_rows[ms[0].indicator.panel] = panel_rows.get(ms[0].indicator.panel, 0) + 1
        # names only a stool sheet prints (脂肪球, 虫卵, 轮状病毒…), in any name cell of a row
        stool_rows = sum(1 for _, items in items_per_page for it in items
                         if any(ms and ms[0].score >= 0.95 and ms[0].indicator.panel == "stool" for _, ms in it.names))
        urine_sheet, stool_sheet = sheet_kind(panel_rows, stool_rows, header.get("sample_type"))
        uncoded: list[tuple[int, RowItem, int]] = []  # (position in indicators, item, page)
        sheet = "stool" if stool_sheet else "urine" if urine_sheet else None
        for pno, items in items_per_page:
            for it in items:
                prefer_sheet_names(self.kb, it, sheet)
        # rows whose name is printed exactly claim their codes first, then the fuzzily read ones take what is left
        # (a garbled '尿白细胞酯梅', leukocyte esterase, must not take U-WBC from the '尿白细胞计数' row below it);
        # the rows come back in their printed order
        rows = [(pno, it) for pno, items in items_per_page for it in items]
        # descriptive results garbled on the page, read against the words their tests report (one call)
        _EmptyCellLook.read_result_words([(it, lookers[pno], words) for pno, it in rows
                                          if (words := _word_doubt(it))], self.engine.word_likelihoods)
        built: list[tuple[int, dict[str, Any], RowItem, int, bool]] = []  # (printed order, record, item, page, uncoded)
        dropped: list[tuple[int, RowItem]] = list(nameless)  # rows read with a result, returned as no indicator
        inked: set[int] = set()  # id() of the records whose mark cell holds ink no mark was read from
        for order, (pno, it) in sorted(enumerate(rows), key=lambda e: not _named_exactly(e[1][1])):
            choice = choose_indicator(self.kb, it, used, panels_seen)
            if choice is None and _personal_row(it):
                continue  # a person's name or a signature line: never returned, never named in a warning
            if choice is None:
                # a name the knowledge base lacks, or a second row for a code already taken (urine 白细胞 per
                # μL and per HP): returned as printed rather than dropped
                rec = self._uncoded_record(it, pno, sex, header.get("age_years")) if it.names else None
                if rec is not None:
                    rec["row"] = it.row_no
                    built.append((order, rec, it, pno, True))
                else:
                    dropped.append((pno, it))
                continue
            ind, name_conf, how = choice
            rec = self._indicator_record(ind, name_conf, how, it, sex, pno, warnings, header.get("age_years"))
            if rec is None:
                dropped.append((pno, it))
                continue
            used.add(ind.code)
            rec["row"] = it.row_no
            built.append((order, rec, it, pno, False))
        for _, rec, it, pno, is_uncoded in sorted(built, key=lambda b: b[0]):
            if it.flag_ink:
                inked.add(id(rec))
            if is_uncoded:
                uncoded.append((len(indicators), it, pno))
            indicators.append(rec)
        # second chance for names garbled past the fuzzy matcher, once every clearly named row has its code
        named_elsewhere = names_read_without_result([it for _, it in no_value],
                                                    [it for _, items in items_per_page for it in items])
        # the panels the sheet holds: those its clearly read names belong to, and those its title names (a sheet
        # whose every name was garbled still says 血常规 in its title)
        near = _composite_panels(self.kb, panels_seen | _kind_panels(self.kb, titled))
        readings = self._reread_names(uncoded, lookers, used, near)
        garbled = garbled_name_matches(self.kb, [it for _, it, _ in uncoded], used, near, named_elsewhere,
                                       readings=readings)
        # last, names unreadable past any likeness: named by their unit, range and value alone where exactly one
        # code fits (lower confidence, for review)
        left = [n for n in range(len(uncoded)) if n not in garbled]
        used_now = used | {ind.code for ind, _, _ in garbled.values()}
        # only the codes of the sheet's own type: a urine or stool sheet's unknown row is not a blood-count test
        sheet_panels = {"urinalysis"} if urine_sheet else {"stool"} if stool_sheet else near
        by_structure = structure_name_matches(self.kb, [uncoded[n][1] for n in left], used_now, sheet_panels,
                                              named_elsewhere)
        garbled.update({left[m]: match for m, match in by_structure.items()})
        for n, (ind, name_conf, how) in sorted(garbled.items()):
            k, it, pno = uncoded[n]
            rec = self._indicator_record(ind, name_conf, how, it, sex, pno, warnings, header.get("age_years"))
            if rec is not None:
                used.add(ind.code)
                rec["row"] = it.row_no
                if it.flag_ink:
                    inked.add(id(rec))
                indicators[k] = rec
        _unmarked_rows_on_pm_sheet(indicators)
        _default_range_on_a_sheet_with_ranges(indicators, warnings, self.options.review_threshold)
        gaps = [g for pno in sorted({i.get("page", 0) for i in indicators})
                for g in row_pitch_gaps([i for i in indicators if i.get("page", 0) == pno], page_tokens.get(pno, []))]
        for g in gaps:
            if g["lone"] is not None:  # one row set apart from its block's end: most likely not a row of the table
                _doubt(g["lone"], "row_apart_from_block", APART_FACTOR, self.options.review_threshold)
        undecided = flag_not_decided(indicators)
        for rec in undecided:  # the sheet prints ranges, this row's was not read: no flag
            _doubt(rec, "flag_not_decided", UNDECIDED_FACTOR, self.options.review_threshold, review=True)
        equivocal = equivocal_without_mark(indicators)
        for rec in equivocal:  # '±' with its mark lost: POS by convention, not by the sheet
            _doubt(rec, "equivocal_without_mark", UNDECIDED_FACTOR, self.options.review_threshold, review=True)
        # where a page's mark column speaks + and - on its rows, an unmarked '±' whose mark cell holds ink that no
        # mark was made out of is a mark blurred or broken: the sheet's own call on the row (which way its ± counts)
        # is on the page, and another photo may show it. A blank mark cell is the sheet's own (some sheets mark +
        # and - but leave ± rows blank): no photo would show a mark there, so the row is only marked for review
        mark_lost = [i for on_page in _pages(indicators) if marks_speak_plus_minus(on_page)
                     for i in on_page if id(i) in inked and any(i is e for e in equivocal)]
        point_lost = decimal_point_lost(indicators)
        for rec in point_lost:  # '27' for 2.7: far above its range, unmarked on a marking sheet
            _doubt(rec, "decimal_point_lost", POINT_LOST_FACTOR, self.options.review_threshold, review=True)
        reshoot = self._doubtful_rows(indicators, no_value, row_numbers, table_top, dropped,
                                      [{k: v for k, v in g.items() if k != "lone"} for g in gaps], undecided,
                                      mark_lost, point_lost)
        if reshoot is not None:
            warnings.append(reshoot)
        rtype = titled or panels_kind([i["panel"] for i in indicators if i["panel"]], self.kb)
        if not indicators:
            warnings.append({"code": "no_indicators_found",
                             "message": "未识别到检验指标：可能不是检验报告单，或版式无法识别。 "
                                        "No lab indicators were recognised: not a lab report, or an unknown layout."})
        return {"report_type": rtype, "header": header, "indicators": indicators, "warnings": warnings,
                "knowledge_version": self.kb.version, "layout": {"header_rows": header_rows}}

    def _reread_names(self, uncoded: list[tuple[int, RowItem, int]], lookers: dict[int, "_EmptyCellLook"],
                      used: set[str], panels: set[str]) -> dict[int, list[str]]:
        """A second look at the names garbled past the fuzzy matcher (dot-matrix print: '淋巴组临绝对位'), for rows
        that have a result and codes their unit and range (else value) vouch for. The name cell is cut out and
        (1) read against the names of those codes: the recogniser's likelihood of each name (CTC, what greedy
        decoding garbles it still ranks), kept when one name is clearly best ('内氨陵照基传移酰' → 丙氨酸氨基转移酶,
        'LLP+' → 肌酐); (2) where some name is already alike, recognised again on its own, as cut and slightly
        blurred (which joins the dots). One recognition call for each. The readings only feed the joint
        garbled-name match, with its thresholds and margins unchanged."""
        crops: list[np.ndarray] = []
        owner: list[int] = []
        lex: list[tuple[int, np.ndarray, dict[str, str]]] = []
        for n, (_, it, pno) in enumerate(uncoded):
            looker = lookers.get(pno)
            if looker is None or not it.names:
                continue
            cands = _garbled_candidates(self.kb, it, used, panels, any_name=True)
            if not cands:
                continue
            crop = looker.cell_crop(max(_name_cells(it), key=lambda c: len(han_chars(c.text))).box)
            if crop is None:
                continue
            words = _lexicon_words([ind for _, ind in cands])
            if words:
                lex.append((n, crop, words))
            if cands[0][0] >= 0.4:
                crops += [crop, cv2.GaussianBlur(crop, (0, 0), 0.8)]
                owner += [n, n]
        out: dict[int, list[str]] = {}
        if lex:
            scores = self.engine.word_likelihoods([c for _, c, _ in lex], [list(w) for _, _, w in lex])
            for (n, _, words), ll in zip(lex, scores):
                if (pick := _lexicon_pick(words, ll)) is not None:
                    out.setdefault(n, []).append(pick)
        if crops:
            for n, (text, score) in zip(owner, self.engine.recognise(crops)):
                if score >= 0.5 and text.strip():
                    out.setdefault(n, []).append(text.strip())
        return out

    def _doubtful_rows(self, indicators: list[dict[str, Any]], no_value: list[tuple[int, RowItem]],
                       row_numbers: dict[int, set[int]], table_top: dict[int, float] | None = None,
                       dropped: list[tuple[int, RowItem]] | None = None,
                       gaps: list[dict[str, Any]] | None = None,
                       undecided_rows: list[dict[str, Any]] | None = None,
                       unmarked_rows: list[dict[str, Any]] | None = None,
                       point_lost_rows: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
        """Rows the sheet has but the result lacks: gaps in the printed row numbers (1..N), rows whose name was
        read but not their result, rows read with a result that no indicator came back for, lines a regularly
        spaced block skips (``gaps``, from row_pitch_gaps), rows of a known test left without a flag on a sheet
        that prints ranges (``undecided_rows``, from flag_not_decided), equivocal results whose +/- mark was seen
        but not read on a sheet that marks its rows + or - (``unmarked_rows``), whole numbers whose decimal point
        was most likely lost (``point_lost_rows``, from decimal_point_lost), and rows read with low confidence. Any
        of them → a re-shoot request naming the rows, instead of a silently short list."""
        missing: list[int] = []
        expected = None
        for pno, nums in row_numbers.items():
            if len(nums) >= 3:
                top = max(nums)
                on_page = [i for i in indicators if i.get("page") == pno]
                if top <= 80 and len(nums) >= 0.5 * top:  # a real 1..N numbering, not stray digits
                    expected = (expected or 0) + top
                    if len(on_page) < top:
                        have = {i.get("row") for i in on_page}
                        numbered = [(i["row"], i["box"]) for i in on_page if isinstance(i.get("row"), int)] + \
                            [(it.row_no, it.names[0][0].box) for q, it in no_value if q == pno and it.row_no is not None
                             and it.names]
                        missing += [n for n in range(1, top + 1) if n not in have and _room_for_row(n, numbered)]
        unread = []
        for pno, it in no_value:
            on_page = [i for i in indicators if i.get("page") == pno]
            ys = [i["box"][1] for i in on_page] + [i["box"][3] for i in on_page]
            cy = (it.names[0][0].box[1] + it.names[0][0].box[3]) / 2 if it.names else None
            top = min(ys + [(table_top or {}).get(pno, float("inf"))]) if ys else None
            if not (ys and cy is not None and top <= cy <= max(ys)):
                continue  # outside the table (a histogram label, a footer)
            if it.row_no is None and _part_of_a_read_row(it, on_page):
                continue  # '[MCH]' under its name, 'UBG' beside 尿胆原: a piece of a row that was read
            unread.append({"row": it.row_no, "name_printed": " ".join(c.text for c, _ in it.names)})
        # rows the table holds, read with a result, that come back as no indicator (a number in the result column
        # with its unit or range but no name read; a name and result no code of the sheet takes)
        not_returned = []
        for pno, it in dropped or []:
            if not _table_row_evidence(it):
                continue
            on_page = [i for i in indicators if i.get("page") == pno]
            ys = [i["box"][1] for i in on_page] + [i["box"][3] for i in on_page]
            x0, y0, x1, y1 = _item_box(it)
            cy = (y0 + y1) / 2
            if not ys or not min(ys) <= cy <= max(ys) + (y1 - y0):
                continue  # not among the table's rows (a footer, a histogram's scale)
            if any(_overlap(_item_box(it), i["box"]) >= 0.5 for i in on_page):
                continue  # a piece of a row that was returned
            not_returned.append({"row": it.row_no,
                                 "name_printed": " ".join(c.text for c, _ in it.names) or None,
                                 "value_printed": it.value.text if it.value else None})
        gaps = gaps or []
        undecided = [{"row": i.get("row"), "code": i["code"], "name_printed": i.get("name_printed")}
                     for i in undecided_rows or []]
        unmarked = [{"row": i.get("row"), "code": i["code"], "name_printed": i.get("name_printed"),
                     "value_printed": i.get("value_printed")} for i in unmarked_rows or []]
        point_lost = [{"row": i.get("row"), "code": i["code"], "name_printed": i.get("name_printed"),
                       "value_printed": i.get("value_printed")} for i in point_lost_rows or []]
        low_rows = [i for i in indicators if i["confidence"] < self.options.review_threshold]
        low = [{"row": i.get("row"), "code": i["code"], "name_printed": i.get("name_printed"),
                "confidence": i["confidence"]} for i in low_rows]
        # a row with a lost decimal point asks for the re-shoot under its own reason, not by its lowered confidence
        lost_ids = {id(i) for i in point_lost_rows or []}
        low_own = [i for i in low_rows if id(i) not in lost_ids]
        if len(low_own) <= max(1, 0.2 * len(indicators)) and not any(i["confidence"] < 0.5 for i in low_own):
            low_trigger = False
        else:
            low_trigger = True
        # one-character names not read (钠 as 钢): named by structure alone or uncoded, always asked about
        misread = [{"row": i.get("row"), "code": i["code"], "name_printed": i.get("name_printed"),
                    "confidence": i["confidence"]} for i in indicators
                   if one_han(i.get("name_printed") or "") and i.get("needs_review")
                   and (i["code"] is None or "name_from_structure" in i.get("review_reasons", []))]
        evidence = {"row_numbers_missing": missing, "result_not_read": unread, "low_confidence_rows": low_trigger,
                    "names_not_read": misread, "rows_not_returned": not_returned, "row_pitch_gap": gaps,
                    "flag_not_decided": undecided, "mark_not_read": unmarked, "decimal_point_lost": point_lost}
        reasons = [reason for reason, seen in evidence.items() if seen]
        if not reasons:
            return None
        return {"code": "reshoot_suggested",
                "message": "部分行未能可靠读取，请将报告单放平、对准光线后重新拍摄。 "
                           "Some rows could not be read reliably: please re-take the photo flat, in good light, "
                           "with the whole table in view.",
                "details": {"reasons": reasons, "expected_rows": expected, "read_rows": len(indicators),
                            "missing_rows": sorted(set(missing)), "rows_without_result": unread,
                            "low_confidence_rows": low, "names_not_read": misread,
                            "rows_not_returned": not_returned, "row_gaps": gaps, "rows_without_flag": undecided,
                            "rows_without_mark": unmarked, "rows_point_lost": point_lost}}

    def _uncoded_record(self, it: RowItem, page: int, sex: str | None = None,
                        age: float | None = None) -> dict[str, Any] | None:
        """A table row whose name the knowledge base does not know: returned as printed, flagged by the sheet
        alone (printed mark, else value vs printed range, else NEG/POS for a qualitative result); a range printed
        per sex or age group is the patient's, as for a known test."""
        pv = it.parsed_value
        if pv is None or it.value is None or identifier_digits(it.value.text):
            return None  # (an ID card's or a phone's number beside an unknown label: personal data, no result)
        name = " ".join([c.text for c, _ in it.names] + [c.text for c in it.extras])
        pr, low, high = _patients_range(it.parsed_range, sex, age)
        flag = it.flag_code
        if pv.qualitative is not None and flag in ("H", "ABN", None):
            flag = "NEG" if pv.qualitative == "negative" else "POS"  # '阴性', '3(-)', '66(+)', '2+'
        if flag == "ABN" and pv.number is not None and pr is not None and (low is not None or high is not None):
            # a mark that says only 'abnormal' ('*', a '+' read for an arrow): the printed range gives the direction,
            # as it does for a known test
            direction = _against_printed(pv, pr, low, high)
            flag = direction if direction in ("H", "L", "HH", "LL") else flag
        elsewhere = placeholder_result(it.value.text)  # '外周血分析 另报': the result is in another report
        if elsewhere:
            flag = None
        elif flag is None:
            if pv.number is not None and pr is not None and (low is not None or high is not None):
                flag = _against_printed(pv, pr, low, high)
            elif pv.qualitative is not None:
                flag = "NEG" if pv.qualitative == "negative" else "POS"
            elif pr is not None:
                flag = count_or_titre_flag(it.value.text, pr, low, high)
        if flag in (None, "POS") and it.flag_code is None and not elsewhere and listed_as_normal(it):
            flag = "N"  # '少量' against the sheet's own '极少量或少量'
        # confidence: recognition × agreement with the printed structure. A name the knowledge base lacks is not
        # doubtful in itself; a row is when nothing printed beside it confirms the reading.
        rec = min(it.value.score, *(c.score for c, _ in it.names))
        has_range = pr is not None and (low is not None or high is not None)
        if pv.number is not None:
            # a number: a printed range (or at least a unit) says this is a result column
            structure = 1.0 if has_range else 0.95 if it.unit is not None else 0.82
            if has_range and it.flag_code in ("H", "L", "HH", "LL"):
                comp = interpret(pv.number, low, high)
                if comp in ("H", "L", "HH", "LL", "N") and not same_direction(it.flag_code, comp):
                    structure *= 0.5  # the printed arrow and value vs range disagree
        elif pv.qualitative is not None:
            structure = 1.0  # 阴性, 未检出, 2+: a result word
        else:
            structure = 0.95 if pr is not None else 0.85  # a descriptive word with nothing to check it against
        conf = min(1.0, rec * structure)
        one_char = one_han(name)  # a one-character name unknown: most likely misread
        boxes = [c.box for c, _ in it.names] + [it.value.box]
        flag_mark = it.flag.text if it.flag is not None else None
        return {
            "code": None, "name": name, "name_en": None, "loinc": None, "panel": None,
            "value": pv.number, "value_text": _value_text(it, pv), "comparator": pv.comparator,
            "qualitative": pv.qualitative, "name_printed": name, "value_printed": it.value.text,
            "range_printed": it.range.text if it.range else None, "unit_printed": it.unit.text if it.unit else None,
            "flag_mark": flag_mark, "unit": it.unit.text if it.unit else None,
            "unit_text": it.unit.text if it.unit else None,
            "reference": {"low": low, "high": high,
                          "text": pr.text if pr else None, "source": "printed" if pr else None},
            "flag": flag, "flag_printed": it.flag_code, "flag_computed": None, "critical": False,
            "flag_critical": None,
            "confidence": round(conf, 3),
            "field_confidence": {"name": round(min(c.score for c, _ in it.names), 3),
                                 "value": round(it.value.score, 3),
                                 "unit": round(it.unit.score, 3) if it.unit else 0.5,
                                 "reference": round(it.range.score, 3) if it.range else 0.5,
                                 "flag": round(it.flag.score, 3) if it.flag else 0.5,
                                 "structure": round(structure, 3)},
            "needs_review": conf < self.options.review_threshold or one_char or it.value_reread or it.comma_undecided,
            "review_reasons": ["not_in_knowledge_base"] + (["name_not_read"] if one_char else []) +
                              (["result_reported_elsewhere"] if elsewhere else []) +
                              (["result_read_again"] if it.value_reread else []) +
                              (["comma_read_as_point"] if it.comma_undecided else []) +
                              (["result_read_from_mark_shape"] if it.value_from_shape else []) +
                              (["result_read_by_likelihood"] if it.value_from_likelihood else []) +
                              (["range_comparator_inferred"] if it.range_comparator_inferred else []) +
                              (["low_confidence"] if conf < self.options.review_threshold else []),
            "box": [round(min(b[0] for b in boxes), 1), round(min(b[1] for b in boxes), 1),
                    round(max(b[2] for b in boxes), 1), round(max(b[3] for b in boxes), 1)],
            "page": page,
        }

    def _indicator_record(self, ind: Indicator, name_conf: float, how: str, it: RowItem, sex: str | None,
                          page: int, warnings: list[dict[str, Any]], age: float | None = None) -> dict[str, Any] | None:
        pv = it.parsed_value
        assert pv is not None and it.value is not None
        signed = signed_digit(it.value.text)
        if signed is not None:
            # '+2': the signed number against a numeric range, or for a test the knowledge base knows as
            # quantitative (a base excess) printed with its unit or no range; the strip grade 2+ against 阴性 or
            # for a qualitative test (尿蛋白 +2 with a unit column: still a grade)
            pr0 = it.parsed_range
            if numeric_bounds(pr0) or ind.kind == "quantitative" and (it.unit is not None or pr0 is None):
                pv = ParsedValue(signed, pv.text)
            else:
                pv = ParsedValue(None, pv.text, None, f"{int(signed)}+")
            it.parsed_value = pv
        if ind.kind == "text" and pv.number is not None and point_read_as_dash(it, text_test=True):
            pv = it.parsed_value  # '1.2' for 1-2 on a stool sheet's 红细胞(镜检): a count per field
        if it.parsed_range is None and (dr := ind.default_range(sex)) is not None and \
                word_is_reference(it, dr.high):
            # '1250.00 阴性' for HBsAg (cut-off 0.05): the number is the result, the word the printed reference
            reading_as_reference(it)
            pv = it.parsed_value
        if pv.number is None and pv.qualitative is None and ind.kind == "quantitative" \
                and all(len(c.text.strip()) <= 1 for c, _ in it.names):
            return None  # a stray letter ('t') read as a one-letter code, with a word for its result: no row
        review_reasons: list[str] = []
        # ---- unit --------------------------------------------------------------------------------------------
        factor = 1.0
        unit = ind.unit
        unit_text = it.unit.text if it.unit else None
        unit_conf = 0.85
        unit_known = True
        unit_fit = 1.0  # how well the printed unit agrees with the code (a factor of the structural agreement)
        if unit_text:
            res = self.kb.resolve_unit(unit_text, ind, misread=True)
            if res is None and not self.kb.is_unit(unit_text, misread=True):
                res = _exponent_lost(unit_text, ind)
                if res is not None:
                    unit_fit = 0.97  # '×10°/L', '×10/L': the 10^n/L family of this code, its exponent unread
            unit_known = res is not None
            if res is None:
                unit, unit_conf = unit_text, 0.3
                review_reasons.append("unit_unrecognised")
                if not ind.units:
                    unit_fit = 1.0  # the knowledge base knows no unit for this code: nothing to disagree with
                elif len(unit_text.strip()) > 1 and self.kb.is_unit(unit_text, misread=True):
                    unit_fit = 0.6  # a real unit, but not one of this code's: a neighbour's unit or another test
                else:
                    unit_fit = 0.9  # a garbled unit ('S' for %, 'LL'): the unit was misread, the value may not be
            else:
                factor = res[1]
                # a unit that is valid for this code confirms the reading even when the recogniser was unsure
                # of a short token ('%', 'pg')
                unit_conf = max(it.unit.score, 0.95)
        elif ind.unit_needed:
            # no unit read, for a test that assays report in units no factor converts (CK-MB: ng/mL or U/L): the
            # knowledge base's range and critical limits, in one of them, are not applied
            unit_known = False
        ifcc = ind.ifcc_mmol_mol
        converter = (lambda x: x * factor)
        if ifcc and unit_text and "mmol/mol" in unit_text.replace(" ", "").lower():
            unit, unit_conf = ind.unit, it.unit.score if it.unit else 0.85
            converter = (lambda x: ifcc.slope * x + ifcc.intercept)
        # ---- value -------------------------------------------------------------------------------------------
        value = None
        if pv.number is not None:
            if ind.kind == "text":
                if not any(re.match(r"\d", n) for n in ind.normal):
                    return None  # a number where only words are results (颜色 '3'): a misread, not this row
                value = pv.number  # a count printed as a number where counts are results (粪便红细胞 '2')
            else:
                value = _round(converter(pv.number), ind.decimals)
        elif ind.kind == "quantitative" and ind.unit is not None:
            # '阴性' printed against a quantitative test (e.g. a CRP sheet): keep the text, no number
            review_reasons.append("qualitative_result_for_quantitative_test")
        value_conf = it.value.score
        # ---- reference range ---------------------------------------------------------------------------------
        pr, plow, phigh = _patients_range(it.parsed_range, sex, age)
        plow_p = phigh_p = None
        if pr is not None:
            plow_p, phigh_p = plow, phigh
            if not unit_text and unit_known and _other_scale(plow, phigh, ind.default_range(sex)):
                # no unit read, and the printed range is many times off the knowledge base's ('70-110' for glucose:
                # mg/dL, not mmol/L): the result is in a unit the row does not say; the knowledge base's unit and
                # its critical limits do not apply (the printed range still decides the flag)
                unit, unit_known = None, False
                review_reasons.append("unit_not_read_range_at_other_scale")
            low = _round(converter(plow), ind.decimals) if plow is not None else None
            high = _round(converter(phigh), ind.decimals) if phigh is not None else None
            reference = {"low": low, "high": high, "text": pr.text, "source": "printed"}
            ref_conf = it.range.score if it.range else 0.85
        else:
            dr = ind.default_range(sex)
            low, high = (dr.low, dr.high) if dr else (None, None)
            text = ind.ref_text or (f"{_fmt_num(low)}-{_fmt_num(high)}" if low is not None and high is not None
                                    else "")
            child = age is not None and age < 18
            # the knowledge base holds adult ranges only: for a child they are marked as such and not used to flag
            reference = {"low": low, "high": high, "text": text or None,
                         "source": ("adult_default" if child else "default") if dr else None}
            ref_conf = 0.9
            if dr and not unit_known and not unit_text:
                review_reasons.append("unit_needed_for_range")  # (CK-MB 17.8 with no unit: U/L or ng/mL?)
            if dr and child:
                review_reasons.append("adult_range_for_child")
                warnings.append({"code": "adult_range_for_child", "indicator": ind.code,
                                 "message": f"报告未打印参考范围，知识库仅有成人参考范围，不适用于{_age_zh(age)}的儿童，未据此判断高低。 "
                                            f"No range printed and only an adult range is known: not used to flag "
                                            f"a child of {_age_en(age)}."})
        # ---- flag: the sheet is the truth ----------------------------------------------------------------------
        computed: str | None = None
        if value is not None:
            if pr is not None and pv.number is not None:
                # value vs the printed range, both as printed (no unit conversion, no knowledge-base limits)
                computed = _against_printed(pv, pr, plow_p, phigh_p)
            elif reference["source"] == "default" and unit_known:
                computed = interpret(value, low, high)
        elif pv.qualitative is not None:
            computed = "NEG" if pv.qualitative == "negative" else "POS"
            if pv.qualitative == "trace" and pr is not None and allows_trace(pr.text):
                computed = "N"  # '弱阳性' against the sheet's own '阴性或弱阳性' (urobilinogen)
            elif computed == "POS" and pr is None and it.range is None and \
                    pv.qualitative in {q.qualitative for q in map(parse_value, ind.normal) if q is not None}:
                # no range printed (nor mark): the knowledge base's normal results decide ('±' for urobilinogen,
                # '少量' starch granules on a stool sheet)
                computed = "N"
        elif pr is not None:
            # '10-15' cells per field against '0-5'; a titre '1:320' against 阴性 or '<1:100'; cells seen ('0-2',
            # '偶见') against 未见: POS, unless the test's normal results include them (粪便白细胞 偶见, 0-2: N)
            computed = count_or_titre_flag(it.value.text, pr, plow_p, phigh_p)
            if computed == "POS" and pr.qualitative == "negative" and \
                    without_per_field(it.value.text) in {without_per_field(n) for n in ind.normal}:
                computed = "N"
        if computed in (None, "POS") and listed_as_normal(it):
            computed = "N"  # '少量' against the sheet's own '极少量或少量', '偶见' against '无或偶见'
        if computed is None and ind.kind == "text" and pv.number is None and pv.qualitative is None:
            computed = _described_flag(ind, it.value.text)
        printed = it.flag_code
        if printed is None and pv.number is not None and pv.qualitative is not None:
            printed = "NEG" if pv.qualitative == "negative" else "POS"  # '3(-)', '66(+)'
        if printed == "ABN" and computed in ("H", "L", "HH", "LL", "POS"):
            printed = computed  # a bare '*' says "abnormal"; the numbers say which way
        if printed in ("H", "ABN") and pv.qualitative is not None and pv.qualitative != "negative":
            printed = "POS"
        flag = printed or computed
        if placeholder_result(it.value.text):
            # '白细胞分类 见附页': the result is in another report; the row stays, with no flag and a note
            flag = computed = None
            review_reasons.append("result_reported_elsewhere")
        flag_conf = it.flag.score if printed and it.flag else min(value_conf, ref_conf)
        if printed and computed and not same_direction(printed, computed):
            warnings.append({"code": "flag_disagrees_with_range", "indicator": ind.code,
                             "message": f"打印的提示({printed})与数值/参考范围({computed})不一致，以打印为准。 "
                                        f"Printed flag {printed} disagrees with value vs range ({computed}); "
                                        "the printed flag is kept."})
            review_reasons.append("flag_disagrees_with_range")
        flag_mark = None
        if it.flag is not None:
            fm = re.search(r"[↑↓⬆⬇▲▼]{1,2}|偏高|偏低|HH|LL|H|L|\*|阳性|异常", it.flag.text)
            flag_mark = fm.group(0) if fm else it.flag.text
        # beyond a 危急值 limit (the package's check, on the knowledge base's limits): said in its own field and a
        # warning, never written over the sheet's flag. The sheet prints H/L; HH/LL in `flag` only when it prints
        # them (↑↑, HH). With no printed mark or range and no default range, the limit gives the direction.
        # The limits are adults', and lie outside every normal range: they are not applied where the sheet's own
        # range holds the result (its population or its unit is not the knowledge base's), nor to a child whose
        # sheet prints no range (a newborn's haematocrit of 62 % is normal)
        crit_flag = (interpret(value, None, None, ind.critical)
                     if value is not None and ind.critical is not None and unit_known
                     and not (pr is not None and computed == "N")
                     and not (pr is None and age is not None and age < 18) else None)
        critical = crit_flag is not None
        crit_unsure = critical and not unit_text and pr is None
        if crit_unsure:
            review_reasons.append("critical_without_unit")  # neither unit nor range read: 13.5 may be g/dL
        if critical:
            if flag is None:
                flag = _CRITICAL_DIRECTION[crit_flag]
            warnings.append({"code": "critical_value", "indicator": ind.code,
                             "message": f"{ind.name} {_value_text(it, pv)} 超出危急值界限({crit_flag})，请尽快就医。 "
                                        f"{ind.name_en or ind.code} {_value_text(it, pv)} is beyond a critical limit "
                                        f"({crit_flag}); the sheet's flag ({flag}) is kept."})
        # ---- plausibility ------------------------------------------------------------------------------------
        if value is not None and high not in (None, 0) and value > 50 * abs(high):
            review_reasons.append("implausible_value")
        if value is not None and low not in (None, 0) and value < low / 50 and value != 0:
            review_reasons.append("implausible_value")
        if pv.comparator:
            review_reasons.append("censored_value")
        if it.value_from_shape:
            review_reasons.append("result_read_from_mark_shape")
        if it.value_from_likelihood:
            review_reasons.append("result_read_by_likelihood")  # a garbled sign word read against 阴性/阳性/弱阳性
        if it.range_comparator_inferred:
            review_reasons.append("range_comparator_inferred")  # '12' read under '<12' ranges: its '<' put back
        if it.value_reread:
            review_reasons.append("result_read_again")  # a result read again to fit its range: for a person to check
        if it.comma_undecided:
            review_reasons.append("comma_read_as_point")  # '1,256': 1.256 or 1256, and the sheet marks neither
        # '10.9--15.': an upper bound cut after its point (15.4 on the sheet) is read as its whole part; a result
        # between it and the next whole number is flagged on digits the photo lost
        # (both as printed, as the flag is computed: not the value converted to the canonical unit and rounded)
        cut = it.range is not None and range_bound_cut(it.range.text)
        if cut:
            review_reasons.append("range_bound_cut")
        cut_decides = cut and pv.number is not None and phigh_p is not None and phigh_p < pv.number < phigh_p + 1
        # a printed range at this code's scale, beside a unit of the code (or a garbled one, or none), says which
        # test the row is, whatever its name's recognition score ('WXC 白脂票' on a blurred photo is still WBC),
        # provided it rules out the codes the name reads as nearly as well (ALT and AST share 0-40 U/L): then only
        # the result's own reading is in doubt. A name garbled past the fuzzy matcher was coded by its unit and
        # range in part (and by a margin over its rivals), so its match score still counts in ``structure``; a
        # name from structure alone is not vouched for
        vouched = how != "structure" and unit_fit >= 0.9 and _range_fit(self.kb, ind, pr, it.unit) is True \
            and (how == "garbled" or _range_rules_out_rivals(self.kb, ind, it, pr))
        # a fuzzy or garbled match under 0.85 that range and unit do not vouch for (a garbled one: never, its score
        # still counts) is named as the doubt where it leaves the row below the review threshold (added below), so
        # name_uncertain never stands on a row not marked for review. On dev, the 41 garbled rows at 0.80 or more
        # that it would otherwise mark were all right
        name_doubt = how in ("fuzzy", "prefix", "garbled") and name_conf < 0.85 and (how == "garbled" or not vouched)
        if how == "structure":
            review_reasons.append("name_from_structure")  # the name was not read: unit, range and value fit one code
        field_conf = {"name": round(min(name_conf, 1.0), 3), "value": round(value_conf, 3),
                      "unit": round(unit_conf, 3), "reference": round(ref_conf, 3), "flag": round(flag_conf, 3)}
        # structure: does the row hang together? (the name is one the knowledge base knows, the value parses, the
        # unit fits the code, value/range/arrow agree). Calibrated on the real dev photos against the truth
        # (bench/ocr_accuracy.py --real prints the AUROC and the re-shoot confusion table).
        structure = 1.0
        if how in ("fuzzy", "prefix", "garbled", "structure") and not (vouched and how != "garbled"):
            structure *= min(1.0, 0.55 + 0.5 * name_conf)  # a fuzzy name match is as good as its score
        if pv.number is None and pv.qualitative is None:
            # a descriptive result: one of the words this test reports (黄色 for 颜色) confirms it
            word = simplified(it.value.text.strip())
            known_word = any(norm == word for norm in (*ind.normal, *ind.findings)) or \
                any(norm and norm in word for norm in ind.normal if len(norm) >= 2)
            structure *= 1.0 if known_word else 0.9
        structure *= unit_fit
        if not unit_text and ind.unit not in (None, "", "ratio") and value is not None:
            structure *= 0.95
        if printed and computed and not same_direction(printed, computed):
            # against the sheet's own range a mark that disagrees is a misreading of one of them; against the
            # knowledge base's default (the sheet's range not read) it is most often the hospital's range
            structure *= 0.5 if pr is not None else DEFAULT_DISAGREES_FACTOR
        elif not printed and pr is None:
            structure *= 0.95
        if "implausible_value" in review_reasons:
            structure *= 0.5
        # a '-' seen on the page scores 0.85; a name the row's range and unit vouch for is not in doubt
        rec_score = value_conf if vouched else min(value_conf, *(c.score for c, _ in it.names))
        field_conf["structure"] = round(structure, 3)
        overall = min(1.0, rec_score * structure)
        if overall < self.options.review_threshold:
            review_reasons.append("low_confidence")
            if name_doubt:
                review_reasons.append("name_uncertain")
        box = [round(v, 1) for v in _item_box(it)]
        return {
            "code": ind.code, "name": ind.name, "name_en": ind.name_en, "loinc": ind.loinc, "panel": ind.panel,
            "value": value, "value_text": _value_text(it, pv), "comparator": pv.comparator,
            "name_printed": " ".join([c.text for c, _ in it.names] + [c.text for c in it.extras]),
            "value_printed": it.value.text,
            "range_printed": it.range.text if it.range else None, "unit_printed": unit_text,
            "flag_mark": flag_mark,
            "qualitative": pv.qualitative,
            "unit": unit, "unit_text": unit_text,
            "reference": reference, "flag": flag, "flag_printed": printed, "flag_computed": computed,
            "critical": bool(critical), "flag_critical": crit_flag,
            "confidence": round(overall, 3), "field_confidence": field_conf,
            # review = the row may be misread (low confidence); review_reasons also carry notes that do not make a
            # row doubtful on their own (a name the knowledge base lacks, a censored value, a child's age)
            "needs_review": overall < self.options.review_threshold or how == "structure" or it.value_reread
            or cut_decides or crit_unsure or it.comma_undecided,
            "review_reasons": sorted(set(review_reasons)),
            "box": box, "page": page,
        }
