"""ocr's view of the shared knowledge package (``zhenxi_knowledge``): the only place in this service that touches
medical knowledge. The package loads, validates, normalises units and flags; what stays here is OCR-specific:
matching a printed (possibly misread or truncated) indicator name to a code."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process
from zhenxi_knowledge import Indicator, Knowledge, Range, get_knowledge, norm_name, norm_text, norm_unit

__all__ = ["Indicator", "KnowledgeBase", "NameMatch", "Range", "load_knowledge", "norm_name", "norm_text",
           "norm_unit", "simplified"]

_CJK = re.compile(r"[\u4e00-\u9fff]")
# how a sediment / stool microscopy row names its method before the finding
_METHOD_PREFIX = re.compile(r"^(?:镜检|显微镜检查|沉渣)[:：]?(.+)$")


@functools.lru_cache(maxsize=4096)
def simplified(text: str) -> str:
    """Text in the simplified spelling the sheets print: the recogniser's charset holds traditional forms too and
    now and then returns one ('顏色', '黃色', '陰性', '未見'). Text without CJK characters is returned as it is."""
    if not _CJK.search(text):
        return text
    import zhconv

    return zhconv.convert(text, "zh-cn")


def _outer_paren_split(key: str) -> list[str]:
    """'脂蛋白(a)(lp(a))' → ['脂蛋白(a)', 'lp(a)']: the last balanced bracket group at the end, and the rest."""
    if not key.endswith(")"):
        return []
    depth = 0
    for i in range(len(key) - 1, -1, -1):
        if key[i] == ")":
            depth += 1
        elif key[i] == "(":
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

    # ---- names -------------------------------------------------------------------------------------------
    def match_name(self, text: str, *, allow_fuzzy: bool = True) -> list[NameMatch]:
        """Candidate indicators for a printed name, best first. Empty when nothing plausible. A name not matched
        exactly is tried again in its simplified spelling: the recogniser's charset holds traditional forms and now
        and then returns one ('顏色' for 颜色), and a sheet may be printed in traditional characters."""
        found = self._match_name(text, allow_fuzzy=allow_fuzzy)
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
            splits = [(key[:i], key[i:]) for i in range(1, len(key))]
            outer = _outer_paren_split(key)
            if len(outer) == 2:
                splits.append((outer[0], outer[1]))
            for a, b in splits:
                wb = dict(self.name_index.get(b, ()))
                for code, w in self.name_index.get(a, ()):
                    if code in wb:
                        add(code, 0.95 * min(w, wb[code]), "part")
        if not found:
            # a method word before the name ('镜检管型', '镜检:虫卵'): the name is what follows. Scored below the
            # confident 0.95: '镜检红细胞' reads as the blood count here, and must not count as a blood row when the
            # sheet's panels are voted (the urine / stool sheet then takes it as its sediment or stool finding)
            m = _METHOD_PREFIX.match(key)
            if m:
                for code, w in self.name_index.get(m.group(1), ()):
                    add(code, 0.9 * w, "part")
        if not found:
            # "白细胞计数(WBC)", "WBC 白细胞计数", "钾(K)": try the parts.
            parts = [p for p in re.split(r"[()\[\]（）【】/]", key) if p] + _outer_paren_split(key)
            m = re.match(r"^([a-z0-9#%\-\.]+)([\u4e00-\u9fff].*)$", key) or re.match(
                r"^([\u4e00-\u9fff][^a-z]*?)([a-z][a-z0-9#%\-\.]*)$", key)
            if m:
                parts += [m.group(1), m.group(2)]
            for p in parts:
                if p == key:
                    continue
                for code, w in self.name_index.get(p, ()):
                    add(code, 0.95 * w, "part")
        if not found and len(_CJK.findall(key)) >= 3:
            # Truncated names ("嗜酸性粒细胞百"): a prefix of exactly the known names of few indicators.
            for k in self._long_keys:
                if k.startswith(key) and len(key) >= 0.5 * len(k):
                    for code, w in self.name_index[k]:
                        add(code, 0.85 * w * (0.6 + 0.4 * len(key) / len(k)), "prefix")
        if not found and allow_fuzzy and len(key) >= 4:
            # one wrong character in a 4-character Chinese name scores 75
            cutoff = 74 if len(_CJK.findall(key)) >= 4 else 80
            for k, score, _ in process.extract(key, self._long_keys, scorer=fuzz.ratio, limit=5, score_cutoff=cutoff):
                for code, w in self.name_index[k]:
                    add(code, w * score / 100 * 0.9, "fuzzy")
        return sorted(found.values(), key=lambda m: -m.score)

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
