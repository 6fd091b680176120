"""ocr's view of the shared knowledge package (``zhenxi_knowledge``): the only place in this service that touches
medical knowledge. The package loads, validates, normalises units and flags; what stays here is OCR-specific:
matching a printed (possibly misread or truncated) indicator name to a code."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein
from zhenxi_knowledge import Indicator, Knowledge, Range, get_knowledge, norm_name, norm_text, norm_unit

__all__ = ["Indicator", "KnowledgeBase", "NameMatch", "Range", "load_knowledge", "norm_name", "norm_text",
           "norm_unit", "simplified"]

_CJK = re.compile(r"[\u4e00-\u9fff]")
# how a sediment / stool microscopy row names its method before the finding
_METHOD_PREFIX = re.compile(r"^(?:镜检|显微镜检查|尿沉渣|沉渣)[:：]?(.+)$")
_ALNUM = re.compile(r"[0-9a-z]")
# one specimen for another (血β2微球蛋白 against 尿β2微球蛋白, 动脉血 against 静脉血) is another test
_SPECIMEN_CHARS = set("血尿粪便动静")
_NUMERAL = re.compile(r"[0-9一二两三四五六七八九十]")
# characters that tell two tests apart as a digit does: the hepatitis types (甲肝 / 乙肝 / 丙肝 / 丁肝 / 戊肝) and
# opposites (酸性 / 碱性 磷酸酶, 高 / 低 密度脂蛋白, 直接 / 间接 胆红素, 大 / 小): one read for the other is another test
_TYPE_CHARS = set("甲乙丙丁戊")
_OPPOSITES = {frozenset(p) for p in ("酸碱", "高低", "直间", "大小")}
# a specimen word before a blood test's name says nothing new ('血清同型半胱氨酸'), nor a method word after a name
_SPECIMEN_PREFIX = re.compile(r"^(?:血清|血浆|全血|血)(?=..)")
_METHOD_SUFFIX = re.compile(r"(?<=..)(?:测定|检测|定量|值)$")
_METHOD_WORD = re.compile(r"镜检[:：]?")
# words beside a name that leave it the same test: specimen, method (…法), measuring mode
_NEUTRAL_WORD = re.compile(r"(?:血清|血浆|全血|血|静脉血|大便|粪便|粪|测定|检测|定量|定性|干化学|镜检|尿沉渣|沉渣|仪器|手工|"
                           r"急诊|快速|常规|计算|计算值)+|[a-z0-9\-\u4e00-\u9fff]{1,12}法")
_NAME_THEN_METHOD = re.compile(r"^(.{2,}?)(?:测定|检测)$")  # (not 定量: 尿蛋白定量 is another test)
# a specimen word after a test's name ('肌酐(尿)', '红细胞(粪)'): the specimen's test, printed with it first
_SPECIMEN_AFTER = {"尿": "尿", "尿液": "尿", "粪": "粪便", "粪便": "粪便", "大便": "粪便"}
_NAME_THEN_SPECIMEN = re.compile(r"([^()（）]+)[(（](尿液?|粪便?|大便)[)）]")
_L_FOR_ONE = re.compile(r"(?<=\d)l|l(?=\d)")
# letters OCR reads as digits
_DIGIT_READ = str.maketrans("0158", "olsb")
# Greek letters of test names as OCR reads them in Latin
_GREEK_READ = {"a": "α", "b": "β", "y": "γ", "r": "γ"}
# an antibody's class names another test than the antibody's total (乙肝核心抗体IgM)
_IG_CLASS = re.compile(r"ig[gmae]\d?(?:抗体)?")


def _numbered_after(known: str, n: int) -> bool:
    """The known name goes on after its first ``n`` characters with its number ('白细胞介素|6', '糖类抗原|125',
    '维生素b|12'): a printed name cut there is the family word, not this test (白细胞介素-2, 糖类抗原50, 维生素B1)."""
    return bool(re.match(r"-?(?:\d|l\d)", known[n:]))  # also as a misreading spells it ('维生素bl2')


def fuzzy_alignment_ok(known: str, printed: str) -> bool:
    """Whether a printed name may be an OCR misreading of the known name ``known`` (both normalised), or is
    another test that shares characters with it. OCR substitutes a character in place or drops one or two; it does
    not write characters that are not there. So the printed name may not hold a character the known name lacks (a
    qualifier: 反三碘甲状腺原氨酸, 尿β2微球蛋白, 骨碱性磷酸酶), nor the known name's characters shifted (抗核抗体
    against 核心抗体), nor two characters read as one, nor one specimen for another (血/尿, 动脉/静脉), may drop at
    most two characters, and may not change a digit or a Latin identifier (IL-2 against IL-6, 载脂蛋白E against
    载脂蛋白A1, 餐后1小时 against 餐后两小时): those name the test (a trailing letter may be cut: RDW-C). A specimen
    word before the name (血清) and a method word after it (测定) are no qualifiers."""
    known, printed = (_METHOD_WORD.sub("", t) for t in (known, printed))
    if _METHOD_SUFFIX.search(printed):  # '…测定', '…CV值'; a known name's own 值 (绝对值) stays when none is printed
        printed, known = _METHOD_SUFFIX.sub("", printed), _METHOD_SUFFIX.sub("", known)
    m = _SPECIMEN_PREFIX.match(printed)
    if m:  # '血清尿酸' against '血尿酸' or '尿酸'; a known name's own 血 (血小板) stays when none is printed
        printed = printed[m.end():]
        known = _SPECIMEN_PREFIX.sub("", known)
    # a name's identifier: its digits, and a Latin tail after Chinese (载脂蛋白A1, 维生素B12, IL-6); in a name in
    # Latin letters every letter (PvCO2). A letter inside a Chinese name ('平均Hb浓度') may be misread like a character.
    if _CJK.search(known):
        tail = re.search(r"[0-9a-z]+$", known)
        protected = {i for i, ch in enumerate(known) if ch.isdigit()} | (
            set(range(tail.start(), len(known))) if tail else set())
    else:
        protected = {i for i, ch in enumerate(known) if _ALNUM.match(ch)}
    dropped = 0
    # (tag, known span, printed span); a replace beside a delete is one replace of more characters by fewer
    ops: list[list] = []
    for op in Levenshtein.opcodes(known, printed):
        if op.tag == "equal":
            continue
        prev = ops[-1] if ops else None
        if prev and {prev[0], op.tag} == {"replace", "delete"} and prev[1][1] == op.src_start:
            prev[0], prev[1], prev[2] = "replace", (prev[1][0], op.src_end), (prev[2][0], op.dest_end)
            continue
        ops.append([op.tag, (op.src_start, op.src_end), (op.dest_start, op.dest_end)])
    for tag, (s0, s1), (d0, d1) in ops:
        a, b = known[s0:s1], printed[d0:d1]
        touches = protected.intersection(range(s0, s1))
        if tag == "replace" and len(a) == 2 and len(b) == 1 and re.fullmatch(r"[a-z]{2}", a) and not touches:
            continue  # two narrow letters inside a Chinese name read as one character ('平均Hb浓度' as 平均比浓度)
        if tag == "replace" and len(a) > len(b):
            return False  # two characters read as one ('有核' as 大, '游离' as 反): another word, not a misreading
        if tag == "insert" and d0 == 0 and re.fullmatch(r"[0-9a-z.%#+\-]*[0-9.%#+\-]", b) and _CJK.match(known):
            continue  # a neighbour cell's number glued before the name ('0%嗜碱性粒细胞百分比'): a letter glued
            # there is the name's own (T淋巴细胞, CD4+T)
        if tag == "insert" and (_CJK.search(b) or _ALNUM.search(b) or re.search(r"[α-ω]", b)):
            return False
        if tag == "replace" and (len(a) != len(b) or touches or _NUMERAL.search(a) or _NUMERAL.search(b)
                                    or set(a) & _SPECIMEN_CHARS and set(b) & _SPECIMEN_CHARS):
            return False
        if tag == "replace" and any(x != y and ({x, y} <= _TYPE_CHARS or frozenset((x, y)) in _OPPOSITES)
                                    for x, y in zip(a, b)):
            return False  # '甲肝抗体' is no 丙肝抗体 misread, '酸性磷酸酶' no 碱性磷酸酶
        if tag == "replace" and s0 == 0 and a[0] in _SPECIMEN_CHARS and _CJK.match(b):
            return False  # the specimen that leads the name replaced by another word ('大红细胞' is no 粪红细胞)
        if tag == "delete":
            if touches and (re.search(r"[0-9]", a) or s1 < len(known)):
                return False
            dropped += len(_CJK.findall(a)) + len(_ALNUM.findall(a))
    return dropped <= 2


@functools.lru_cache(maxsize=4096)
def simplified(text: str) -> str:
    """Text in the simplified spelling the sheets print: the recogniser's charset holds traditional forms too and
    now and then returns one ('顏色', '黃色', '陰性', '未見'). Text without CJK characters is returned as it is."""
    if not _CJK.search(text):
        return text
    import zhconv

    return zhconv.convert(text, "zh-cn")


@functools.lru_cache(maxsize=256)
def traditional(text: str) -> str:
    """The traditional spelling a Hong Kong or Taiwan sheet prints ('陰性', '未發現'), for reading a cell against
    both."""
    import zhconv

    return zhconv.convert(text, "zh-tw")


def _outer_paren_split(key: str) -> list[str]:
    """'脂蛋白(a)(lp(a))' → ['脂蛋白(a)', 'lp(a)'], '脂蛋白a[lp(a)]' → ['脂蛋白a', 'lp(a)']: the last balanced bracket
    group at the end, and the rest."""
    if not key.endswith((")", "]")):
        return []
    close = key[-1]
    opening = "(" if close == ")" else "["
    depth = 0
    for i in range(len(key) - 1, -1, -1):
        if key[i] == close:
            depth += 1
        elif key[i] == opening:
            depth -= 1
            if depth == 0:
                return [p for p in (key[:i], key[i + 1:-1]) if p]
    return []


@dataclass(frozen=True)
class NameMatch:
    indicator: Indicator
    score: float  # 0..1
    how: str  # exact | part | prefix | fuzzy


class KnowledgeBase:
    """The package's knowledge plus OCR name matching. ``indicators``, ``panels``, ``version``, unit look-up and
    report types all come from the package."""

    def __init__(self, kb: Knowledge) -> None:
        self.kb = kb
        self.version = kb.version
        self.indicators = kb.indicators
        self.panels = kb.panels
        self.report_types = kb.report_types
        self.name_index = kb.name_index
        # Fuzzy / prefix search only over keys long enough to be distinctive.
        self._long_keys = [k for k in self.name_index if len(k) >= 4 or len(_CJK.findall(k)) >= 3]
        self._keys_of: dict[str, list[str]] = {}
        for k, codes in self.name_index.items():
            for code, _ in codes:
                self._keys_of.setdefault(code, []).append(k)
        # the family words of numbered tests ('白细胞介素', '糖类抗原', '维生素b'), once, for numbered_family
        self._family_words = {k[:n] for k in self._long_keys for n in range(2, len(k)) if _numbered_after(k, n)}
        self._names_a_test: dict[str, bool] = {}  # _rest_names_a_test's answers: the same rest for every code

    # ---- names -------------------------------------------------------------------------------------------
    def match_name(self, text: str, *, allow_fuzzy: bool = True) -> list[NameMatch]:
        """Candidate indicators for a printed name, best first. Empty when nothing plausible. A name not matched
        exactly is tried again in its simplified spelling: the recogniser's charset holds traditional forms and now
        and then returns one ('顏色' for 颜色), and a sheet may be printed in traditional characters."""
        found = self._match_name(text, allow_fuzzy=allow_fuzzy)
        if not found:
            # a digit 1 read as the letter l inside a test's number ('糖类抗原l25', 'CA l5-3'): no name spells an l
            # beside its digits
            key = norm_name(text)
            one = _L_FOR_ONE.sub("1", key)
            if one != key:  # (scored as a misreading, below an exact name)
                found = [NameMatch(x.indicator, 0.9 * x.score, x.how)
                         for x in self._match_name(one, allow_fuzzy=allow_fuzzy)]
        if found and found[0].how == "exact" or not _CJK.search(text):
            return found
        simp = simplified(text)
        if simp != text:
            alt = self._match_name(simp, allow_fuzzy=allow_fuzzy)
            if alt and (not found or alt[0].score > found[0].score):
                return alt
        return found

    def _match_name(self, text: str, *, allow_fuzzy: bool = True) -> list[NameMatch]:
        key = norm_name(text)
        if not key:
            return []
        found: dict[str, NameMatch] = {}

        def add(code: str, score: float, how: str) -> None:
            if code not in found or found[code].score < score:
                found[code] = NameMatch(self.indicators[code], score, how)

        for code, w in self.name_index.get(key, ()):
            add(code, w, "exact")
        if not found:
            # the name printed twice, Chinese and abbreviation glued or bracketed ('A/G白球比', '载脂蛋白BApoB',
            # '游离PSA/总PSA(FPSA/TPSA)'): both halves name the same test. Tried before the finer parts below, which
            # would cut a ratio's name at its '/' into the two tests it divides.
            for code, w in self._printed_twice(key):
                add(code, 0.95 * w, "part")
        if not found:
            # a method word before the name ('镜检管型', '镜检:虫卵'): the name is what follows. Scored below the
            # confident 0.95: '镜检红细胞' reads as the blood count here, and must not count as a blood row when the
            # sheet's panels are voted (the urine / stool sheet then takes it as its sediment or stool finding)
            m = _METHOD_PREFIX.match(key)
            if m:
                # ('尿沉渣红细胞计数' names the urine's: 尿红细胞计数 first)
                cands = self.name_index.get(m.group(1), ())
                if key.startswith("尿"):  # (and never the blood count: 尿沉渣白细胞数 is no WBC)
                    cands = self.name_index.get("尿" + m.group(1), ()) or [
                        (c, w) for c, w in cands if self.indicators[c].panel == "urinalysis"]
                for code, w in cands:
                    add(code, 0.9 * w, "part")
        if not found:
            # a method word after the name, unbracketed ('A群轮状病毒抗原测定', '葡萄糖检测'): the name is what precedes
            m = _NAME_THEN_METHOD.match(key)
            if m:
                for code, w in self.name_index.get(m.group(1), ()):
                    add(code, 0.95 * w, "part")
        if not found:
            # "白细胞计数(WBC)", "WBC 白细胞计数", "钾(K)": try the parts.
            m = re.match(r"^([a-z0-9#%\-\.]+)[=:：]?([\u4e00-\u9fff].*)$", key) or re.match(
                r"^([\u4e00-\u9fffα-ω][^a-z]*?)([a-z][a-z0-9#%\-\.]*)$", key)
            m_spec = _NAME_THEN_SPECIMEN.fullmatch(key)
            if m_spec:  # '肌酐(尿)' is 尿肌酐 (U-CREA), not the blood test its first part names
                parts = []
                for code, w in self.name_index.get(_SPECIMEN_AFTER[m_spec.group(2)] + m_spec.group(1), ()):
                    add(code, 0.95 * w, "part")
            else:
                parts = [p for p in re.split(r"[()\[\]（）【】/]", key) if p] + _outer_paren_split(key)
                if m:
                    parts += [m.group(1), m.group(2)]
            for p in parts:
                if p == key:
                    continue
                for code, w in self.name_index.get(p, ()):
                    if self._rest_is_neutral(key, p, code):
                        add(code, 0.95 * w, "part")
            if not found and allow_fuzzy and m and _CJK.search(m.group(2)) and len(m.group(2)) >= 4:
                # a code glued before a Chinese name that is misread ('B0S%吸酸性粒组胞百分比'): the name alone
                for x in self.match_name(m.group(2)):
                    if x.how != "part" and self._rest_is_neutral(key, m.group(2), x.indicator.code):
                        add(x.indicator.code, 0.95 * x.score, x.how)
        if not found and len(_CJK.findall(key)) >= 3:
            # Truncated names ("嗜酸性粒细胞百"): a prefix of exactly the known names of few indicators.
            for k in self._long_keys:
                if k.startswith(key) and len(key) >= 0.5 * len(k) and not _numbered_after(k, len(key)):
                    for code, w in self.name_index[k]:
                        add(code, 0.85 * w * (0.6 + 0.4 * len(key) / len(k)), "prefix")
        if not found and allow_fuzzy and len(key) >= 4:
            # one wrong character in a 4-character Chinese name scores 75
            cutoff = 74 if len(_CJK.findall(key)) >= 4 else 80
            for k, score, _ in process.extract(key, self._long_keys, scorer=fuzz.ratio, limit=5, score_cutoff=cutoff):
                # a urine test may be printed with 尿 before its name ('尿蛋白质'); any other test so printed is
                # another test (尿β2微球蛋白, 尿淀粉酶)
                for code, w in self.name_index[k]:
                    # a misreading that cuts the name ('单核细胞绝对') is aligned as the names it cuts
                    whole = [k] + ([k2 for k2 in self._keys_of[code] if k2.startswith(k) and k2 != k] if w < 1 else [])
                    if not any(fuzzy_alignment_ok(x, key) for x in whole) and not (
                            key.startswith("尿") and self.indicators[code].panel == "urinalysis"
                            and any(fuzzy_alignment_ok(x, key[1:]) for x in whole)):
                        continue
                    if "定量" in key and self.indicators[code].kind == "qualitative":
                        continue  # '尿蛋白定量' (g/24h) is not the dipstick's 尿蛋白定性 with one character misread
                    add(code, w * score / 100 * 0.9, "fuzzy")
        if not found and allow_fuzzy:
            # an abbreviation standing for its Chinese word inside a longer name ('RBC分布宽度-CV值' is
            # 红细胞分布宽度-CV): read the name again with the word
            m = re.match(r"^([a-z]{2,5})([\u4e00-\u9fff].*)$", key)
            words = {w for code, _ in self.name_index.get(m.group(1), ()) if m
                     for w in (self.indicators[code].name, *self.indicators[code].aliases)
                     if re.fullmatch(r"[\u4e00-\u9fff]{2,4}", w)} if m else set()
            for w in sorted(words, key=len)[:3]:
                for x in self.match_name(w + m.group(2)):
                    add(x.indicator.code, 0.95 * x.score, x.how)
        return sorted(found.values(), key=lambda m: -m.score)

    def _rest_names_a_test(self, rest: str) -> bool:
        """Whether ``rest`` (or a part of it around 或/及) names some test. It is asked once per candidate code of
        a part, with the same answer each time, so the answer is kept."""
        hit = self._names_a_test.get(rest)
        if hit is None:
            if len(self._names_a_test) >= 4096:
                self._names_a_test.clear()  # (rests come from OCR text: kept bounded in a long-running service)
            hit = self._names_a_test[rest] = any(self.match_name(w) for w in re.split(r"或|及", rest) if len(w) >= 2)
        return hit

    def _rest_is_neutral(self, key: str, part: str, code: str) -> bool:
        """Whether what a printed name holds besides its part ``part`` that names ``code`` leaves it that test:
        nothing, the same test's other name ('钾(K)', 'WBC白细胞计数'), an abbreviation garbled past reading
        ('白细胞计数(WBO)'), a specimen or method word ('(血清)', '(速率法)'). Anything else makes it another test:
        a qualifier word ('白蛋白(电泳)', 'APTT纠正试验', '维生素K1'), an antibody class ('乙肝核心抗体IgM'), a
        cell or protein letter ('T淋巴细胞绝对值', 'M蛋白', 'S100蛋白', '血红蛋白A2'), the other term of a ratio
        ('睾酮/雌二醇比值', 'PaO2/FiO2')."""
        i = key.find(part)
        if i < 0:
            return True
        ratio = "/" in key and not any(c == code for c, _ in self.name_index.get(key, ()))
        for rest in re.split(r"[()\[\]（）【】/:：,，\s]+", key[:i] + " " + key[i + len(part):]):
            rest = rest.strip("-_.·*")
            if not rest or any(c == code for c, _ in self.name_index.get(rest, ())):
                continue
            if _NEUTRAL_WORD.fullmatch(rest):
                continue
            if not ratio and len(rest) >= 2 and len(part) >= 2 and self._rest_names_a_test(rest):
                # a test's name, however printed: the same test's other name ('中性粒细胞百分率NEUT%',
                # '隐血或红细胞(BLD)'), or the same finding's name on another sheet ('OB隐血': the sheet decides)
                continue
            if len(rest) >= 3 and any(len(k) == len(rest) and sum(x != y for x, y in zip(k, rest)) <= len(rest) // 3
                                      for k in self._keys_of.get(code, ())):
                continue  # the same test's other name with a character misread ('PLT在小板' for 血小板)
            if rest in _GREEK_READ and any(g in self.indicators[code].name for g in _GREEK_READ[rest]):
                continue  # 'a-羟丁酸脱氢酶': α read as a
            if not _CJK.search(rest) and any(c == code for c, _ in self.name_index.get(rest.translate(_DIGIT_READ), ())):
                continue  # the abbreviation with a letter read as a digit ('E0%')
            if rest.isdigit() and key.startswith(rest):
                continue  # the row's number glued before its name ('12红细胞数目')
            if re.fullmatch(r"[a-z]", rest) and rest not in "usbpf" and key.endswith(f"({rest})") \
                    and code.lower().startswith(rest):
                continue  # the test's one-letter abbreviation in brackets after its name ('睾酮(T)'); not a
                # specimen's letter ('尿素(U)': urine, S serum, B blood, P plasma, F faeces)
            if ratio or _CJK.search(rest) or _IG_CLASS.fullmatch(rest) or len(re.findall(r"[a-z]", rest)) <= 1:
                return False
        return True

    def _printed_twice(self, key: str) -> list[tuple[str, float]]:
        """(code, weight) for each test both halves of the normalised name name ('载脂蛋白A1ApoA1')."""
        splits = [(key[:i], key[i:]) for i in range(1, len(key))]
        outer = _outer_paren_split(key)
        if len(outer) == 2:
            splits.append((outer[0], outer[1]))
        out = []
        for a, b in splits:
            wb = dict(self.name_index.get(b, ()))
            out += [(code, min(w, wb[code])) for code, w in self.name_index.get(a, ()) if code in wb]
        return out

    def numbered_family(self, text: str) -> bool:
        """The printed text is the family word of numbered tests ('白细胞介素', '糖类抗原', '维生素B'): a number
        glued to it is the test's number, not its result."""
        return norm_name(text) in self._family_words

    def printed_twice(self, text: str) -> bool:
        """The printed text is one test's name printed twice, glued: a digit at its end belongs to the name."""
        key = norm_name(text)
        return bool(key) and bool(self._printed_twice(key))

    # ---- units (the package's one converter) -------------------------------------------------------------
    def canonical_units(self, printed: str) -> list[str]:
        return self.kb.units.canonical_units(printed)

    def is_unit(self, printed: str, *, misread: bool = False) -> bool:
        return self.kb.units.is_unit(printed, misread=misread)

    def resolve_unit(self, printed: str, indicator: Indicator, *, misread: bool = False) -> tuple[str, float] | None:
        """(canonical unit of the printed text, factor to the indicator's canonical unit), or None. ``misread``:
        also try the text with the OCR misreadings of units.yaml undone ('g/1' → g/L)."""
        return self.kb.units.resolve(printed, indicator, misread=misread)


@functools.lru_cache(maxsize=4)
def _wrap(kb: Knowledge) -> KnowledgeBase:
    return KnowledgeBase(kb)


def load_knowledge(directory: Path | str | None = None) -> KnowledgeBase:
    """The shared knowledge (loaded once per process). ``directory``: a knowledge root, or its indicators/ folder
    (the older setting); None = the package's default (repo checkout, or /app/knowledge in the image)."""
    d = Path(directory) if directory else None
    if d is not None and d.name == "indicators" and (d.parent / "index.yaml").exists():
        d = d.parent
    return _wrap(get_knowledge(d))
