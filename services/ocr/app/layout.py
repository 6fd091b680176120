"""Rebuild tables from OCR text boxes: find the column header rows (项目/结果/参考范围/单位 ...), split side-by-side
tables, group boxes into rows, and give each box a column hint. Pure geometry on boxes; no model calls."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from zhenxi_knowledge.text import nfkc

from .knowledge import simplified
from .parsing import ROW_NO, Token, parse_value, split_flag

# Header words → column kind. Checked after normalisation (NFKC, lower, no spaces, the traditional forms of header
# characters made simplified). "other" names a column that holds no part of an indicator (检测方法, 上次结果, 备注,
# 临界值 ...): its cells are left out of the table body, so a previous result or a cut-off is never read as the
# result or the range. The other kinds come first: '结果' is a result, '上次结果' is not.
RANGE_LOW, RANGE_HIGH = "range_low", "range_high"
HEADER_WORDS: list[tuple[str, str]] = [
    # '检验项目' with its first characters misread ('应验项目', '检睑项目') is still the name header
    (r"^(检验|检测|检查|分析|化验|测定|报告|[\u4e00-\u9fff][验测查])?项目(中文)?(名称)?$|^中文名称?$|^项目名$"
     r"|^(检验|检查)?名称$|^(检验|检测)?指标(名称)?$|^items?$|^tests?(name|item)?$|^analyte$|^examination$", "name"),
    (r"^(英文)?(缩写|代号|代码|简称)$|^英文(名称?)?$|^项目(代号|代码)$|^code$|^abbr\.?$|^abbreviation$", "code"),
    (r"^(检验|检测|测定|测试|检查|化验|本次|定量|实验)?(结果|值)$|^结果值?$|^(测定|测量|实测|检验)值$|^results?$|^value$",
     "value"),
    (r"^(结果|高低|异常)?(提示|标志|标记|标识)$|^(状态|高低|报警|异常提示|flags?|h/l|↑↓)$", "flag"),
    (r"^(参考|正常)(范围|值|区间|值范围|值区间|限)$|^正常参考(值|范围|区间)$|^生物参考区间$|^参考(值及单位)?$|^范围$"
     r"|^ref(erence)?(range|interval)?$|^ref\.(range)?$|^normal(range|value)s?$", "range"),
    (r"^(计量)?单位$|^units?$", "unit"),
    # a range printed as two bound columns (参考下限 | 参考上限): each row's two cells are joined into its range
    (r"^(参考|正常)?(值|范围|区间)?(下限|低限|低值|最低值)$|^(lower|low)(limit)?$", RANGE_LOW),
    (r"^(参考|正常)?(值|范围|区间)?(上限|高限|高值|最高值)$|^(upper|high)(limit)?$", RANGE_HIGH),
    (r"^(序号?|no\.?|编号|#|seq)$", "seq"),
    (r"^(检测|检验|测定)?方法$|^method$|^(上次|前次|历史|历次)(检验)?(结果)?$|^(previous|last)results?$|^(结果|变化)?趋势$"
     r"|^(备注|说明|remarks?|comments?|仪器|检测仪器|试剂|检验者|检验人|审核者|检验日期|标本类型|样本类型)$"
     r"|^(临界值|危急值(范围)?|检出限|医学决定水平|cut-?off值?|s/co)$", "other"),
]
_NAME_HEADER = "name"
OTHER_COLUMN = "other"
_BRACKETED = re.compile(r"[(（\[][^()（）\[\]]*[)）\]]")
_LATIN_PART = re.compile(r"[a-z][a-z./\- ]*")


@functools.lru_cache(maxsize=4096)
def header_kind(text: str) -> str | None:
    """The column kind a header cell names, or None. A bilingual cell ('结果 Result', 'Unit 單位') is named by its
    two halves together (or by one, when the other is a whole word the vocabulary lacks); a bracketed qualifier ('参考值(成人)', '提示(↑↓)', '结果(Result)') does not
    hide the word before it."""
    t = simplified(nfkc(text).lower()).strip()  # (a Taiwan or Hong Kong sheet's traditional characters)
    kind = _header_kind(t)
    unbracketed = _BRACKETED.sub(" ", t)
    if kind is None and unbracketed != t:
        kind = _header_kind(unbracketed)
    if kind is None and _CJK_TEXT.search(t) and re.search(r"[a-z]", t):
        cjk = "".join(re.findall(r"[\u4e00-\u9fff]+", unbracketed))
        latin = " ".join(m.group(0) for m in _LATIN_PART.finditer(t))
        k_cjk, k_latin = _header_kind(cjk), _header_kind(latin)
        # the two halves name one column, or the Chinese one does and the English one is a word of its own ('项目名称
        # Item Name'), not letters the recogniser made of a rule or a speck ('EH参考值' beside a garbled 项目). The
        # English half alone never names the cell: a garbled word joined to the next header words ('参考范制' + '单位'
        # + 'No') is no 'No' column
        if k_cjk == k_latin or k_latin is None and len(re.sub(r"[^a-z]", "", latin)) >= 4:
            kind = k_cjk
    return kind


def _header_kind(text: str) -> str | None:
    t = re.sub(r"[\s:：()（）\[\]]", "", text)
    for pat, kind in HEADER_WORDS:
        if re.search(pat, t):
            return kind
    if "/" in t and not t.startswith("/"):  # '参考区间/值', '结果/单位': the first alternative names the column
        return _header_kind(t.split("/")[0])
    return None


@dataclass
class Table:
    x0: float
    x1: float
    y0: float  # first body row starts below this
    columns: list[tuple[str, float, float]] = field(default_factory=list)  # (kind, x0, x1) from the header


@dataclass
class LayoutResult:
    tables: list[Table]
    rows: list[list[Token]]  # body rows, each left to right, tagged with column hints
    outside: list[Token]  # tokens not in any table body (header area, footer)


def _line_height(tokens: list[Token]) -> float:
    hs = [t.box[3] - t.box[1] for t in tokens]
    return float(np.median(hs)) if hs else 20.0


_CJK_TEXT = re.compile(r"[\u4e00-\u9fff]")


def split_stacked(tokens: list[Token], line_h: float) -> list[Token]:
    """Single-character names on consecutive rows (钾 / 钠 / 氯 / 钙 on a chemistry sheet) stand one above the other,
    and the detector may take them for one vertical text line ('钠氯', a box one character wide and two rows
    tall). Such a box is cut back into one token per character, each on its own row."""
    out: list[Token] = []
    for t in tokens:
        text = t.text.strip()
        w, h = t.box[2] - t.box[0], t.box[3] - t.box[1]
        n = len(text)
        if 2 <= n <= 4 and all(_CJK_TEXT.match(c) for c in text) and h >= 1.6 * line_h and w <= 1.4 * line_h \
                and 0.6 * line_h <= h / n <= 1.8 * line_h:
            step = h / n
            out.extend(Token(c, t.score, (t.box[0], t.box[1] + i * step, t.box[2], t.box[1] + (i + 1) * step),
                             t.column) for i, c in enumerate(text))
        else:
            out.append(t)
    return out


def slope_field(tokens: list[Token]):
    """The baseline slope as a smooth function of page position, dy/dx = f(x, y): a quadratic surface fitted
    (weighted by line length, twice, leaving out lines 3 MADs off) to the slopes of the long text lines. On a
    bent page (a booklet's gutter, a curling sheet) the slope changes along a row; a keystoned page fans (slope
    linear in y). Returns None when too few lines measure a slope to fit it."""
    pts = [(t.cx, (t.box[1] + t.box[3]) / 2, t.slope, t.box[2] - t.box[0]) for t in tokens if t.slope is not None]
    if len(pts) < 12:
        return None
    a = np.asarray(pts, dtype=np.float64)
    x0, x1, y0, y1 = a[:, 0].min(), a[:, 0].max(), a[:, 1].min(), a[:, 1].max()
    sx, sy = max(x1 - x0, 1.0) / 2, max(y1 - y0, 1.0) / 2
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2

    def design(x, y):
        u, v = (np.asarray(x, dtype=np.float64) - mx) / sx, (np.asarray(y, dtype=np.float64) - my) / sy
        return np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=-1)

    X, z, w = design(a[:, 0], a[:, 1]), a[:, 2], np.sqrt(a[:, 3])
    keep = np.ones(len(a), bool)
    coef = None
    for _ in range(2):
        if keep.sum() < 12:
            return None
        coef = np.linalg.lstsq(X[keep] * w[keep, None], z[keep] * w[keep], rcond=None)[0]
        r = z - X @ coef
        mad = float(np.median(np.abs(r[keep]))) + 1e-3
        keep = np.abs(r) <= 3 * mad

    c0, c1, c2, c3, c4, c5 = (float(c) for c in coef)

    def f(x: float, y: float) -> float:
        # plain floats: row following asks for one point at a time, thousands of times per page
        u = min(max((x - mx) / sx, -1.2), 1.2)  # no extrapolation far out
        v = min(max((y - my) / sy, -1.2), 1.2)
        return c0 + c1 * u + c2 * v + c3 * u * u + c4 * u * v + c5 * v * v

    return f


def group_rows(tokens: list[Token], line_h: float) -> list[list[Token]]:
    """Text rows followed along their baselines, left to right: each row extends to the token whose centre lies
    closest to the row's line extrapolated from its last token. The row's own slope (median over its OCR quads)
    carries it; where the page's slope field (``slope_field``) changes between the last token and the next, the
    line follows that change, in steps of about two line heights (a bowed row near a booklet's gutter runs
    steeply there and flattens towards the page's middle: extrapolating its steep start across the page lands a row
    too high or low). This holds on curled or keystoned photos, where one global angle leaves the left and right
    blocks on different slants."""
    slopes = [t.slope for t in tokens if t.slope is not None]
    default_slope = float(np.median(slopes)) if slopes else 0.0
    field = slope_field(tokens)
    rows: list[list[Token]] = []
    offsets: list[float | None] = []  # per row: its own slope minus the field's (0 where it measures none)

    def predict(last: Token, slope: float, offset: float | None, cx: float) -> float:
        y = (last.box[1] + last.box[3]) / 2
        if field is None or offset is None:
            return y + slope * (cx - last.cx)
        n = max(1, int(abs(cx - last.cx) / (2 * line_h)))
        step = (cx - last.cx) / n
        x = last.cx
        for _ in range(n):
            y += (float(field(x + step / 2, y)) + offset) * step
            x += step
        return y

    for tok in sorted(tokens, key=lambda t: (t.box[0], t.box[1])):
        cx, cy = tok.cx, (tok.box[1] + tok.box[3]) / 2
        best, best_d = -1, 1e9
        for i, row in enumerate(rows):
            last = row[-1]
            if last.box[2] > tok.box[0] + 0.6 * line_h:
                continue  # overlaps horizontally: not the same line
            rs = [t.slope for t in row if t.slope is not None]
            slope = float(np.median(rs)) if rs else default_slope
            pred = predict(last, slope, offsets[i], cx)
            d = abs(cy - pred)
            if d < best_d:
                best, best_d = i, d
        if best >= 0 and best_d < 0.5 * line_h:
            rows[best].append(tok)
            i = best
        else:
            rows.append([tok])
            offsets.append(None)
            i = len(rows) - 1
        if field is not None:
            own = [(t.slope, t.cx, (t.box[1] + t.box[3]) / 2) for t in rows[i] if t.slope is not None]
            offsets[i] = float(np.median([s - field(x, y) for s, x, y in own])) if own else 0.0
    rows.sort(key=lambda r: float(np.median([(t.box[1] + t.box[3]) / 2 for t in r])))
    return rows


def group_rows_by_centre(tokens: list[Token], line_h: float) -> list[list[Token]]:
    """Cluster tokens into text rows by vertical overlap (tolerant of a little residual skew)."""
    rows: list[list[Token]] = []
    centres: list[float] = []
    for tok in sorted(tokens, key=lambda t: (t.box[1] + t.box[3]) / 2):
        cy = (tok.box[1] + tok.box[3]) / 2
        best, best_d = -1, 1e9
        for i, c in enumerate(centres):
            d = abs(cy - c)
            if d < best_d:
                best, best_d = i, d
        if best >= 0 and best_d < 0.55 * line_h:
            rows[best].append(tok)
            centres[best] = float(np.mean([(t.box[1] + t.box[3]) / 2 for t in rows[best]]))
        else:
            rows.append([tok])
            centres.append(cy)
    order = np.argsort(centres)
    return [sorted(rows[i], key=lambda t: t.box[0]) for i in order]


def residual_skew(quads: list[np.ndarray]) -> float:
    """Skew (radians, y grows with x when positive) still left after geometry, from the OCR boxes themselves:
    the length-weighted median angle of the top and bottom edges of long text lines."""
    angs, wts = [], []
    for q in quads:
        q = np.asarray(q, dtype=np.float64).reshape(4, 2)
        for a, b in ((q[0], q[1]), (q[3], q[2])):
            dx, dy = b[0] - a[0], b[1] - a[1]
            h = np.linalg.norm(q[3] - q[0])
            if dx > 3 * max(h, 1):
                angs.append(np.arctan2(dy, dx))
                wts.append(dx)
    if len(angs) < 3:
        return 0.0
    a, w = np.array(angs), np.array(wts)
    o = np.argsort(a)
    cum = np.cumsum(w[o])
    med = float(a[o][np.searchsorted(cum, cum[-1] / 2)])
    return med if abs(med) < np.radians(10) else 0.0


def straighten(texts: list[tuple[str, float, np.ndarray]]) -> list[Token]:
    """Tokens whose boxes are taken after removing the residual skew (rotation about the page origin), so that
    one table row shares one baseline even when the page was not perfectly deskewed."""
    quads = [np.asarray(q, dtype=np.float64).reshape(4, 2) for _, _, q in texts]
    ang = residual_skew(quads)
    c, s_ = np.cos(-ang), np.sin(-ang)
    out = []
    for (text, score, _), q in zip(texts, quads):
        x = q[:, 0] * c - q[:, 1] * s_
        y = q[:, 0] * s_ + q[:, 1] * c
        dx = ((x[1] - x[0]) + (x[2] - x[3])) / 2
        dy = ((y[1] - y[0]) + (y[2] - y[3])) / 2
        hgt = max(y.max() - y.min(), 1.0)
        slope = float(dy / dx) if dx > 2.5 * hgt else None
        out.append(Token(text, score, (float(x.min()), float(y.min()), float(x.max()), float(y.max())), slope=slope))
    return out


def _header_words(row: list[Token]) -> list[tuple[str, Token]]:
    """Header words of a row: tokens split at spaces (boxes apportioned), adjacent pieces merged when together
    they make a header word ('项 目' → 项目, '结 果' → 结果)."""
    words: list[Token] = []
    for t in row:
        parts = t.text.split()
        if len(parts) <= 1:
            words.append(t)
            continue
        total = max(len(t.text), 1)
        pos = 0
        for w in parts:
            st = t.text.find(w, pos)
            pos = st + len(w)
            x0 = t.box[0] + (t.box[2] - t.box[0]) * st / total
            x1 = t.box[0] + (t.box[2] - t.box[0]) * pos / total
            words.append(Token(w, t.score, (x0, t.box[1], x1, t.box[3])))
    words = [w for w in words if not re.fullmatch(r"\d{1,2}|[|｜丨]", w.text.strip())]  # specks and rules
    out: list[tuple[str, Token]] = []
    i = 0
    while i < len(words):
        # glued header words ('结果参考区间', '编号项' + '目'): a window that splits wholly into header terms
        glued = None
        if k := header_kind(words[i].text):
            out.append((k, words[i]))  # a whole header word keeps its own box
            i += 1
            continue
        for j in range(min(len(words), i + 3), i, -1):
            txt = "".join(w.text for w in words[i:j])
            parts = _decompose(txt)
            if parts and (len(parts) > 1 or j - i > 1):
                glued = (parts, txt, words[i:j], j)
                break
        if glued:
            parts, txt, ws, j = glued
            x0, x1 = ws[0].box[0], ws[-1].box[2]
            y0, y1 = min(w.box[1] for w in ws), max(w.box[3] for w in ws)
            n = max(len(txt), 1)
            for term, a, b in parts:
                k = header_kind(term)
                if k:
                    out.append((k, Token(term, min(w.score for w in ws),
                                         (x0 + (x1 - x0) * a / n, y0, x0 + (x1 - x0) * b / n, y1))))
            i = j
            continue
        hit = None
        for j in range(min(len(words), i + 3), i, -1):
            txt = "".join(w.text for w in words[i:j])
            if j - i > 1 and _CJK_TEXT.search(txt) and not _CJK_TEXT.search(words[i].text):
                # Latin letters no header word begins with, before a Chinese header word: a garbled half of the
                # cell before ('项目 Itemi' + '结果 Result'), never part of this one
                continue
            k = header_kind(txt)
            if k:
                ws = words[i:j]
                hit = (k, Token(txt, min(w.score for w in ws), (ws[0].box[0], min(w.box[1] for w in ws),
                                                                  ws[-1].box[2], max(w.box[3] for w in ws))), j)
                break
        if hit:
            out.append((hit[0], hit[1]))
            i = hit[2]
        else:
            i += 1
    return out


_HEADER_TERMS = re.compile(r"序号|编号|No\.?|NO\.?|检验项目|检测项目|项目名称|中文名称|项目|英文缩写|缩写|代号|代码|"
                           r"检验结果|检测结果|测定值|结果|生物参考区间|参考区间|参考范围|参考值|正常值|单位|异常提示|提示|标志|报警")


def _decompose(text: str) -> list[tuple[str, int, int]] | None:
    """'结果参考区间' → [('结果', 0, 2), ('参考区间', 2, 6)] when the whole text is header terms, else None."""
    t = text.strip()
    parts, pos = [], 0
    while pos < len(t):
        m = _HEADER_TERMS.match(t, pos)
        if not m:
            return None
        parts.append((m.group(0), m.start(), m.end()))
        pos = m.end()
    return parts or None


_FIELD = re.compile(r"[\u4e00-\u9fff][:：]")  # '姓名：', '接收时间:' (never a column header or a table cell)


def find_header_rows(rows: list[list[Token]]) -> list[tuple[int, list[tuple[str, Token]]]]:
    """Rows that look like a column header: >= 2 header words, one of them the name or value column."""
    found = []
    for i, row in enumerate(rows):
        kinds = _header_words(row)
        ks = {k for k, _ in kinds if k != OTHER_COLUMN}
        # ('结果 | 备注', '检验者: | 张三 | 结果': a result word beside words of no indicator column is no header)
        if sum(k != OTHER_COLUMN for k, _ in kinds) >= 2 and (_NAME_HEADER in ks or "value" in ks) \
                and ("value" in ks or "range" in ks):
            # most of the row must be header words (a body row may hold one '结果' by chance); a report-header field
            # ('样本名：黄某', a label and a colon) that a tilted photo puts level with the header is no table cell
            cells = [t for t in row if not _FIELD.search(t.text)]
            if sum(len(t.text) for _, t in kinds) >= 0.5 * sum(len(t.text.replace(" ", "")) for t in cells):
                found.append((i, kinds))
    return found


def join_broken_headers(headers: list[tuple[int, list[tuple[str, Token]]]], line_h: float,
                        ) -> tuple[list[tuple[int, list[tuple[str, Token]]]], set[int]]:
    """A slanted photo (one side of the sheet further away) can break one column-header line into two adjacent
    rows, the left block's words on one and the right block's on the other. Two adjacent header rows less than
    1.5 line heights apart whose words do not overlap across the page are one header, kept at the lower row.
    Returns the headers and the indices of the rows joined into another."""
    out: list[tuple[int, list[tuple[str, Token]]]] = []
    joined: set[int] = set()
    for idx, kinds in headers:
        if out and out[-1][0] == idx - 1:
            prev = out[-1][1]
            a0, a1 = min(t.box[0] for _, t in prev), max(t.box[2] for _, t in prev)
            b0, b1 = min(t.box[0] for _, t in kinds), max(t.box[2] for _, t in kinds)
            ya = float(np.median([(t.box[1] + t.box[3]) / 2 for _, t in prev]))
            yb = float(np.median([(t.box[1] + t.box[3]) / 2 for _, t in kinds]))
            if abs(yb - ya) < 1.5 * line_h and (b0 >= a1 or a0 >= b1):
                joined.add(out[-1][0])
                out[-1] = (idx, prev + kinds)
                continue
        out.append((idx, kinds))
    return out, joined


def split_tables(header: list[tuple[str, Token]], page_x0: float, page_x1: float) -> list[Table]:
    """One header row may carry two (or three) tables side by side: a new table starts at each repeated
    name column (or repeated value column when names have no header word)."""
    header = sorted(header, key=lambda kt: kt[1].box[0])
    starts = [0]
    seen: set[str] = set()
    for j, (k, _) in enumerate(header):
        # a name column after a value and a range/unit column also starts a block (the first block's own name
        # header word was not read)
        late_name = k == _NAME_HEADER and bool(seen & {"range", "unit"}) and (
            k not in seen and "value" in seen or k in seen and "value" not in seen)  # (the value word was lost)
        if late_name or k in seen and k in (_NAME_HEADER, "value", "seq") and "value" in seen and (
                k != "value" or _NAME_HEADER not in seen):
            # the new block begins at its own code/seq columns just before the repeated name
            st = j
            while st - 1 > starts[-1] and header[st - 1][0] in ("seq", "code") and \
                    any(kk == "value" for kk, _ in header[starts[-1]:st - 1]):
                st -= 1
            starts.append(st)
            seen = {kk for kk, _ in header[st:j]}
        seen.add(k)
    tables = []
    for n, s in enumerate(starts):
        e = starts[n + 1] if n + 1 < len(starts) else len(header)
        cols = header[s:e]
        x0 = page_x0 if n == 0 else (header[s - 1][1].box[2] + cols[0][1].box[0]) / 2
        x1 = page_x1 if n + 1 == len(starts) else (cols[-1][1].box[2] + header[e][1].box[0]) / 2
        # the name column usually starts left of its header word (left-aligned long names)
        if n > 0:
            prev_last = header[s - 1][1]
            x0 = max(prev_last.box[2] + 2, min(x0, cols[0][1].box[0] - 0.25 * (cols[0][1].box[0] - prev_last.box[2])))
        y0 = max(t.box[3] for _, t in cols)
        columns = [(k, t.box[0], t.box[2]) for k, t in cols]
        tables.append(Table(x0=x0, x1=x1, y0=y0, columns=columns))
    _borrow_name_column(tables)
    return tables


def _borrow_name_column(tables: list[Table]) -> None:
    """Blocks side by side repeat one column structure. A block whose name header word was not read ('应验项目'
    lost, or cut by the photo's edge) gets a name column where its sibling has one: just left of its first
    column, as wide as the sibling's, when both continue with the same column after the name."""
    named = [t for t in tables if t.columns and any(k == _NAME_HEADER for k, _, _ in t.columns)]
    for t in tables:
        if not t.columns or any(k == _NAME_HEADER for k, _, _ in t.columns):
            continue
        first_k, fx0, _ = min(t.columns, key=lambda c: c[1])
        for sib in named:
            cols = sorted(sib.columns, key=lambda c: c[1])
            ni = next(i for i, c in enumerate(cols) if c[0] == _NAME_HEADER)
            if ni + 1 >= len(cols) or cols[ni + 1][0] != first_k:
                continue
            gap = cols[ni + 1][1] - cols[ni][2]
            width = cols[ni][2] - cols[ni][1]
            nx1 = fx0 - max(gap, 0.0)
            nx0 = max(t.x0, nx1 - width)
            if nx1 > nx0:
                t.columns.append((_NAME_HEADER, nx0, nx1))
                t.columns.sort(key=lambda c: c[1])
            break


_NUMBERED_NAME = re.compile(r"\d{1,3}\s*[\u4e00-\u9fff]")  # a row number, then the name
# what a result cell begins with: a word, or a number that no unit's power or slash follows ('2-4', '<0.5', '11.2↑';
# not '10^9/L', '109/L', '+', '×10^9/L', 'mL/min')
_RESULT_LIKE = re.compile(r"[\u4e00-\u9fff]|[<>≤≥]?\d+(?:\.\d+)?(?:$|[\s\-~～↑↓HL])")


def column_hint(table: Table, tok: Token) -> str | None:
    """The header column whose span best covers the token (by centre), else the nearest by centre."""
    if not table.columns:
        return None
    cx = tok.cx
    text = tok.text.lstrip()
    if _CJK_TEXT.search(text) and (not text[:1].isdigit() or _NUMBERED_NAME.match(text)):
        # names are left-aligned: a long name reaches under the next header word, so text is placed by its
        # first characters (about two line heights), not by its centre; so is a name read together with its row
        # number and result ('20平均红细胞Hb浓度329'), which the centre puts under 结果
        h = tok.box[3] - tok.box[1]
        cx = tok.box[0] + min(tok.box[2] - tok.box[0], 2 * h) / 2
    cols = sorted(table.columns, key=lambda c: c[1])
    bounds = []
    for i, (k, x0, x1) in enumerate(cols):
        left = table.x0 if i == 0 else (cols[i - 1][2] + x0) / 2
        right = table.x1 if i + 1 == len(cols) else (x1 + cols[i + 1][1]) / 2
        bounds.append((k, left, right))
    for i, (k, left, right) in enumerate(bounds):
        if left <= cx < right:
            if k in ("unit", "flag") and i > 0 and cols[i - 1][0] == "value" and _RESULT_LIKE.match(text) and \
                    cols[i - 1][1] <= tok.box[0] < cols[i][1] - (tok.box[3] - tok.box[1]):
                # a result right-aligned in a wide column under a centred 结果 ends just before the unit or mark
                # column: it begins well left of that column's header word, which a unit or a mark never does
                return "value"
            return k
    return None


def analyse(tokens: list[Token], page_w: float) -> LayoutResult:
    """Tables (with header hints when a header row exists) and their body rows."""
    if not tokens:
        return LayoutResult([], [], [])
    line_h = _line_height(tokens)
    tokens = split_stacked(tokens, line_h)
    rows = group_rows(tokens, line_h)
    headers, joined = join_broken_headers(find_header_rows(rows), line_h)
    if not headers:
        # Unknown layout: treat the page as one table without hints, and let the content decide; two tables
        # side by side are still split by the row parser (a second name after a value starts a new item).
        return LayoutResult([Table(0, page_w, -1)], rows, [])
    tables_all: list[tuple[int, Table]] = []
    for idx, header in headers:
        for t in split_tables(header, 0.0, page_w):
            tables_all.append((idx, t))
    header_idx = {i for i, _ in headers} | joined
    body_rows: list[list[Token]] = []
    table_rows: dict[tuple[int, int], list[list[Token]]] = {}
    outside: list[Token] = []
    first_header = min(header_idx)
    for i, row in enumerate(rows):
        if i in header_idx:
            continue
        if i < first_header:
            outside.extend(row)
            continue
        # the header that governs this row: the nearest header row above it
        gov = max(h for h in header_idx if h < i)
        tables = [t for h, t in tables_all if h == gov]
        by_table: dict[int, list[Token]] = {}
        for tok in row:
            for n, t in enumerate(tables):
                if t.x0 <= tok.cx < t.x1:
                    tok.column = column_hint(t, tok)
                    by_table.setdefault(n, []).append(tok)
                    break
        for n in sorted(by_table):
            body_rows.append(_join_bound_cells(sorted(by_table[n], key=lambda t: t.box[0])))
            table_rows.setdefault((gov, n), []).append(body_rows[-1])
    for rows_of_table in table_rows.values():
        results_left_under_names(rows_of_table, line_h)
        realign_shifted_columns(rows_of_table)
        mark_group_column(rows_of_table, line_h)
    body_rows = [r for r in (_drop_other_cells(row) for row in body_rows) if r]
    body_rows = merge_split_rows(body_rows, line_h)
    return LayoutResult([t for _, t in tables_all], body_rows, outside)


def _join_bound_cells(row: list[Token]) -> list[Token]:
    """A row's cells under 参考下限 and 参考上限 (a range printed as two bound columns) joined into the one range
    cell the rest of the reading expects ('70' '130' → '70-130'); a bound printed alone (the other cell empty)
    is no result, and no range the row can be flagged on: left out."""
    lows = [t for t in row if t.column == RANGE_LOW]
    highs = [t for t in row if t.column == RANGE_HIGH]
    if not lows and not highs:
        return row
    rest = [t for t in row if t.column not in (RANGE_LOW, RANGE_HIGH)]
    if len(lows) != 1 or len(highs) != 1:
        return rest
    lo, hi = lows[0], highs[0]
    box = (lo.box[0], min(lo.box[1], hi.box[1]), hi.box[2], max(lo.box[3], hi.box[3]))
    joined = Token(f"{lo.text.strip()}-{hi.text.strip()}", min(lo.score, hi.score), box, "range", lo.slope)
    return sorted(rest + [joined], key=lambda t: t.box[0])


_NUMBER_CELL = re.compile(r"^[<>≤≥]?\s*\d+(?:\.\d+)?\s*[↑↓HL]{0,2}$")
_RANGE_CELL = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:-{1,2}|~|～|—|一)\s*\d+(?:\.\d+)?|[<>≤≥]\s*\d)")


def _drop_other_cells(row: list[Token]) -> list[Token]:
    """A cell under an "other" header (a method, a previous result, a cut-off) is no part of the row when the row
    has its result under the result header; when it has none (the 结果 word garbled, a result wide enough to
    reach under the column beside) the cell stays, without a hint, for the content to decide."""
    if not any(t.column == OTHER_COLUMN for t in row):
        return row
    if any(t.column == "value" for t in row):
        return [t for t in row if t.column != OTHER_COLUMN]
    for t in row:
        if t.column == OTHER_COLUMN:
            t.column = None
    return row


def _result_cell(tok: Token) -> bool:
    """A cell that reads as a result by its content alone (the parser's own reading: a number with its mark, a
    sign or a grade, 阴性, 未检出 ...)."""
    return parse_value(split_flag(tok.text.strip())[0]) is not None


def results_left_under_names(rows: list[list[Token]], line_h: float) -> bool:
    """A wide result column with its header word centred and its results printed at the column's left (a
    pre-printed form filled in by another printer): the midpoint between 项目 and 结果 falls right of the results,
    so they are taken for name cells (and, printed out of register, on rows of their own), and the sheet comes
    back empty. Seen over the block: at least three result-like cells (a number, a sign, 阴性...) under the name
    header, starting at one left edge right of where the names end, and (almost) nothing under 结果 itself.
    Those cells are results. Returns whether any was moved."""
    under = [t for row in rows for t in row if t.column == _NAME_HEADER]
    cand = [t for t in under if _result_cell(t)]
    if len(cand) < 3:
        return False
    # the names beside them (not the footer's '检验者:' under the table)
    top = min(t.box[1] for t in cand) - line_h
    bottom = max(t.box[3] for t in cand) + line_h
    names = [t for t in under if not _result_cell(t) and top <= (t.box[1] + t.box[3]) / 2 <= bottom]
    if len(names) < 3:
        return False
    edges = sorted(t.box[0] for t in cand)
    edge = edges[len(edges) // 2]
    aligned = [t for t in cand if abs(t.box[0] - edge) <= line_h]
    # most names start, and end, left of that edge (one garbled result among them is no name)
    starts = sorted(t.box[0] for t in names)
    ends = sorted(t.box[2] for t in names)
    if len(aligned) < 3 or edge < starts[(3 * len(starts)) // 4] + line_h or edge < ends[(3 * len(ends)) // 4]:
        return False
    if sum(1 for row in rows for t in row if t.column == "value") >= 0.5 * len(aligned):
        return False
    for t in aligned:
        t.column = "value"
    return True


def realign_shifted_columns(rows: list[list[Token]]) -> bool:
    """A block whose header words were placed one column off (a header word lost or misread, a block whose
    header sits over its neighbour's columns): its results come out under 参考范围 and its ranges under 单位, so
    that a result is taken for a range, or lost when no range follows it. Seen by content over the whole block:
    most cells under the range header are bare numbers and most cells under the unit header are ranges. Then
    those cells are given the column their content and the block agree on (number → result, range → range).
    Returns whether the block was realigned."""
    under = {"range": [], "unit": []}
    for row in rows:
        for t in row:
            if t.column in under:
                under[t.column].append(t)
    rng, unit = under["range"], under["unit"]
    if len(rng) < 3 or len(unit) < 3:
        return False
    nums = sum(1 for t in rng if _NUMBER_CELL.match(t.text.strip()))
    rng_in_rng = sum(1 for t in rng if _RANGE_CELL.match(t.text))
    rng_in_unit = sum(1 for t in unit if _RANGE_CELL.match(t.text))
    if nums < 0.6 * len(rng) or rng_in_rng > 0.2 * len(rng) or rng_in_unit < 0.5 * len(unit):
        return False
    # the result column is where those numbers stand: a word there ('未提示', '3级') is a result too
    num_cells = [t for t in rng if _NUMBER_CELL.match(t.text.strip())]
    x0, x1 = min(t.box[0] for t in num_cells), max(t.box[2] for t in num_cells)
    for t in rng:
        if _NUMBER_CELL.match(t.text.strip()) or (x0 <= t.cx <= x1 and not _RANGE_CELL.match(t.text)):
            t.column = "value"
    for t in unit:
        if _RANGE_CELL.match(t.text):
            t.column = "range"
    return True


def mark_group_column(rows: list[list[Token]], line_h: float) -> None:
    """A column of group labels before the names (autoantibody sheets: '间接免疫荧光抗核抗体检测' written down
    several rows, then the names of its tests). Seen as rows that hold two text cells side by side under the
    name header, the second starting at a common left edge; cells that end at that edge are marked 'group'."""
    pairs = []
    for row in rows:
        names = [t for t in row if t.column == "name"]
        if len(names) >= 2 and _CJK_TEXT.search(names[1].text) and not re.search(r"\d", names[0].text[:1]):
            pairs.append(names[1].box[0])
    if len(pairs) < 3:
        return
    pairs.sort()
    edge = pairs[len(pairs) // 2]
    if sum(abs(x - edge) <= line_h for x in pairs) < 0.75 * len(pairs):
        return  # no common left edge: names broken in two, not a column
    for row in rows:
        for t in row:
            if t.column == "name" and t.box[0] < edge - line_h and t.box[2] <= edge + 0.5 * line_h:
                t.column = "group"




def row_numbers(row: list[Token]) -> list[Token]:
    """The row's row number, told from an integer result ('7 丙氨酸氨基转移酶 25 U/L': both read as ROW_NO) by where it
    stands: under the 序号 header, or, under no result/unit/range/flag header, left of every other cell of the row that
    is not a number of that form (the name; in a row whose name was lost, its result, unit or range)."""
    nums = [t for t in row if ROW_NO.fullmatch(t.text.strip())]
    if not nums:
        return []
    others = [t for t in row if t not in nums]
    first = min((t.box[0] for t in others), default=float("inf"))
    return [t for t in nums if t.column == "seq" or (t.column not in ("value", "range", "unit", "flag")
                                                     and t.cx < first)]


def _wrappable_name(tok: Token) -> bool:
    # (Chinese text under 序号 is a name too: a narrow or drifted row-number column, see parsing.parse_row_all)
    return tok.column in (None, "name", "seq") and bool(_CJK_TEXT.search(tok.text))


# a decimal number at the end of a name cell: a row's name and result read as one ('血小板体积分布-W11.6'), no
# second line of a name
_GLUED_RESULT = re.compile(r"\d\.\d+\s*[↑↓HL]?\s*$")


def _bracketed_code(tok: Token) -> bool:
    """'(ALT)', '（HDL-C）': a test's code in brackets, the second line of a name cell that wrapped before it."""
    return tok.column in (None, "name") and re.fullmatch(r"[(（][A-Za-z][A-Za-z0-9/\-+#%.]{0,11}[)）]",
                                                          tok.text.strip()) is not None


def _name_pitch(rows: list[list[Token]], x0: float, h: float) -> float | None:
    """The row pitch of the block whose names start at x0: the median distance between the centres of its
    neighbouring name cells (a wrapped name's two lines are one gap among a block's many); None with fewer than
    three."""
    ys = sorted((t.box[1] + t.box[3]) / 2 for row in rows for t in row
                if _wrappable_name(t) and abs(t.box[0] - x0) <= 0.8 * h)
    gaps = [b - a for a, b in zip(ys, ys[1:]) if b - a > 0.4 * h]
    return float(np.median(gaps)) if len(gaps) >= 2 else None


def _centred_between(row: list[Token], fy: float, ty: float, h: float) -> bool:
    """The row's other cells (result, unit, range) stand centred between a piece's line (centre ``fy``) and the
    row's name line (``ty``): within a quarter of the lines' distance of their midpoint (a result level with
    either line is half that distance from it). The two lines are then one cell's. On a
    sheet whose every name wraps, the lines of the name cells stand a line apart, as a dense sheet's rows do; the
    centred result tells them apart."""
    ys = [(t.box[1] + t.box[3]) / 2 for t in row if not _wrappable_name(t) and not _bracketed_code(t)]
    if not ys:
        return False
    vy = float(np.median(ys))
    return abs(vy - (fy + ty) / 2) <= 0.25 * abs(fy - ty)


def join_wrapped_names(rows: list[list[Token]], reads_as_one_name: Callable[[str, str, str], bool],
                       ) -> list[list[Token]]:
    """A long name in a narrow name column is wrapped by the report software onto a second line inside its cell
    ('总前列腺特异性抗' over '原', '高密度脂蛋白' over '胆固醇'); the row's other cells stand level with the first line
    or centred between the two. Each line is then read as a row of its own: one holds the result with half the name,
    the other nothing but the name's other half (which may itself be a test's name: 胆固醇). Layout tells a
    continuation line from a row whose result was not read: it holds one piece of name text and no result, unit or
    range; it is left-aligned with the name of the row it continues and closer to it than the block's row pitch
    (measured from the block's own rows; 1.7 text heights where the block has too few); and on a numbered sheet it
    has no row number of its own (one beside it while the row continued has none is that row's, centred on the two
    lines). The two read in order must then be one name (``reads_as_one_name(joined, piece, half)``, the half being
    the name on the row continued). Returns new rows, the piece's row gone; the rows given are left as they were."""
    rows = [list(r) for r in rows]
    pieces = []
    for i, row in enumerate(rows):
        nos = row_numbers(row)
        words = [t for t in row if t not in nos]
        if len(words) == 1 and (_wrappable_name(words[0]) or _bracketed_code(words[0])) and len(row) <= 2 and \
                not _GLUED_RESULT.search(words[0].text):
            pieces.append((i, words[0], bool(nos)))
    if not pieces:
        return rows
    gone: set[int] = set()
    for i, f, numbered in pieces:
        h = f.box[3] - f.box[1]
        fy = (f.box[1] + f.box[3]) / 2
        pitch = _name_pitch(rows, f.box[0], h)
        reach = 1.7 * h if pitch is None else 0.9 * pitch
        cands = []
        for j, row in enumerate(rows):
            if j == i or j in gone or len(row) < 2:
                continue  # (the row continued holds its result, range or unit besides the name)
            if numbered and row_numbers(row):
                continue  # each has its row number: two rows, the piece's result unread
            for k, t in enumerate(row):
                dy = (t.box[1] + t.box[3]) / 2 - fy
                if not ((_wrappable_name(t) or _bracketed_code(t)) and abs(t.box[0] - f.box[0]) <= 0.8 * h
                        and 0.4 * h < abs(dy)):
                    continue
                centred = abs(dy) < 2 * h and _centred_between(row, fy, fy + dy, h)
                if abs(dy) < reach or centred:
                    cands.append((abs(dy), j, k, dy, centred))
        for _, j, k, dy, centred in sorted(cands):
            t = rows[j][k]
            joined = f.text.strip() + t.text.strip() if dy > 0 else t.text.strip() + f.text.strip()
            # the row's result centred between the two lines makes them one cell, whatever the name reads as
            # (a test the knowledge base lacks: '不稳定型糖化血红' over '蛋白'; '稳定型糖化' over '血红蛋白', whose
            # second line alone names another test)
            if centred or reads_as_one_name(joined, f.text.strip(), t.text.strip()):
                # the name keeps its row's box: the other line of a full cell reaches the result's column edge,
                # and a name box over the result would read as a row without its name cell
                rows[j][k] = Token(joined, min(t.score, f.score), (min(t.box[0], f.box[0]), *t.box[1:]), t.column,
                                   t.slope)
                if numbered:
                    rows[j] = sorted(rows[j] + [x for x in rows[i] if x is not f], key=lambda x: x.box[0])
                gone.add(i)
                break
    return [row for i, row in enumerate(rows) if i not in gone]


def _cy(row: list[Token]) -> float:
    return float(np.median([(t.box[1] + t.box[3]) / 2 for t in row]))


def merge_split_rows(rows: list[list[Token]], line_h: float) -> list[list[Token]]:
    """A row whose results sit a little higher or lower than its names (another print head, a tight line pitch)
    comes out as two half rows: names without a result, and results without a name. Two neighbouring half rows
    that do not overlap horizontally are one row."""
    def has(row: list[Token], kinds: tuple[str, ...]) -> bool:
        return any(t.column in kinds for t in row)

    out: list[list[Token]] = []
    i = 0
    while i < len(rows):
        r = rows[i]
        if i + 1 < len(rows):
            r2 = rows[i + 1]
            overlap = any(a.box[0] < b.box[2] and b.box[0] < a.box[2] for a in r for b in r2)
            half = (has(r, ("name", "code")) and not has(r, ("value",)) and has(r2, ("value",))
                    and not has(r2, ("name", "code"))) or (
                has(r2, ("name", "code")) and not has(r2, ("value",)) and has(r, ("value",))
                and not has(r, ("name", "code")))
            if half and not overlap and abs(_cy(r) - _cy(r2)) < 0.95 * line_h:
                out.append(sorted(r + r2, key=lambda t: t.box[0]))
                i += 2
                continue
        out.append(r)
        i += 1
    return out
