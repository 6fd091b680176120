"""The shared indicator knowledge base (knowledge/indicators/*.yaml): loading, name and unit look-up.

Pure and cached: ``load_knowledge()`` reads the YAML once per directory. Matching works on normalised text
(full-width → half-width, case-folded, spaces removed) so that OCR output and printed spellings meet."""
from __future__ import annotations

import functools
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

CONTAINER_KNOWLEDGE_DIR = Path("/app/knowledge")
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_SEQ_PREFIX = re.compile(r"^(?:\d{1,3}[\.、)\]:：]|\d{1,3}(?=[\u4e00-\u9fff]))")
_DECORATION = re.compile(r"[\s\*★☆△▲▼●○◆◇■□:：_|\"'`“”‘’]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def norm_text(s: str) -> str:
    """NFKC (full-width → ASCII, µ → μ), lower-case, no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s)).lower()


def norm_name(s: str) -> str:
    """Normalised indicator name: also drops sequence numbers ("12.", "3、") and decoration (*, ★, spaces)."""
    t = unicodedata.normalize("NFKC", s).strip()
    t = _SEQ_PREFIX.sub("", t)
    t = _DECORATION.sub("", t)
    return t.lower()


def norm_unit(s: str) -> str:
    """Normalised unit spelling: superscripts become ^n, multiplication signs and spaces vanish, u → μ."""
    t = s.strip()
    t = re.sub(r"([⁰¹²³⁴⁵⁶⁷⁸⁹]+)", lambda m: "^" + m.group(1).translate(_SUPERSCRIPTS), t)
    t = unicodedata.normalize("NFKC", t)
    t = t.replace("μ", "μ").replace("µ", "μ")
    t = re.sub(r"\s+", "", t)
    t = re.sub(r"^[×xX\*]", "", t)
    t = re.sub(r"^10[\*eE~]", "10^", t)
    t = re.sub(r"^u(?=(mol|g|l|iu|u|kat|m)\b|mol|g/|l|iu|u/|kat)", "μ", t)
    t = t.replace("／", "/")
    return t


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
class Range:
    low: float | None = None
    high: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {"low": self.low, "high": self.high}


@dataclass(frozen=True)
class Indicator:
    code: str
    panel: str
    name: str
    name_en: str
    loinc: str | None
    kind: str  # quantitative | qualitative | text
    unit: str | None
    units: dict[str, float]
    decimals: int
    aliases: tuple[str, ...]
    misreadings: tuple[str, ...]
    ref: Range | None
    ref_male: Range | None
    ref_female: Range | None
    ref_text: str | None
    critical: Range | None
    normal: tuple[str, ...]
    scale: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def default_range(self, sex: str | None) -> Range | None:
        """Adult default by sex; with sex unknown, the union of both sexes (flags nobody wrongly)."""
        if sex == "male" and self.ref_male:
            return self.ref_male
        if sex == "female" and self.ref_female:
            return self.ref_female
        if self.ref:
            return self.ref
        if self.ref_male and self.ref_female:
            lows = [r.low for r in (self.ref_male, self.ref_female)]
            highs = [r.high for r in (self.ref_male, self.ref_female)]
            return Range(None if None in lows else min(lows), None if None in highs else max(highs))
        return self.ref_male or self.ref_female


@dataclass(frozen=True)
class NameMatch:
    indicator: Indicator
    score: float  # 0..1
    how: str  # exact | part | prefix | fuzzy


def _range(d: Any) -> Range | None:
    if not d:
        return None
    return Range(None if d.get("low") is None else float(d["low"]), None if d.get("high") is None else float(d["high"]))


class KnowledgeBase:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        index = yaml.safe_load((directory / "index.yaml").read_text(encoding="utf-8"))
        self.version: str = str(index["version"])
        units_doc = yaml.safe_load((directory / index.get("units_file", "units.yaml")).read_text(encoding="utf-8"))
        self.unit_aliases: dict[str, list[str]] = {}
        self.unit_aliases_ci: dict[str, list[str]] = {}
        for canonical, aliases in units_doc["units"].items():
            for alias in [canonical, *aliases]:
                key = norm_unit(alias)
                for table, k in ((self.unit_aliases, key), (self.unit_aliases_ci, key.casefold())):
                    bucket = table.setdefault(k, [])
                    if canonical not in bucket:
                        bucket.append(canonical)
        self.indicators: dict[str, Indicator] = {}
        self.panels: dict[str, dict[str, str]] = {}
        for fname in index["panel_files"]:
            doc = yaml.safe_load((directory / fname).read_text(encoding="utf-8"))
            panel = doc["panel"]
            self.panels[panel] = {"name": doc.get("panel_name", panel), "name_en": doc.get("panel_name_en", panel)}
            for code, d in doc["indicators"].items():
                code = str(code)
                if code in self.indicators:
                    raise ValueError(f"duplicate indicator code {code!r} in {fname}")
                known = {"loinc", "name", "name_en", "aliases", "misreadings", "kind", "unit", "units", "decimals",
                         "ref", "ref_male", "ref_female", "ref_text", "ref_source", "critical", "normal", "scale"}
                self.indicators[code] = Indicator(
                    code=code, panel=panel, name=d["name"], name_en=d["name_en"], loinc=d.get("loinc"),
                    kind=d.get("kind", "quantitative"), unit=d.get("unit"),
                    units={str(k): float(v) for k, v in (d.get("units") or {}).items()},
                    decimals=int(d.get("decimals", 2)),
                    aliases=tuple(str(a) for a in d.get("aliases") or ()),
                    misreadings=tuple(str(a) for a in d.get("misreadings") or ()),
                    ref=_range(d.get("ref")), ref_male=_range(d.get("ref_male")),
                    ref_female=_range(d.get("ref_female")), ref_text=d.get("ref_text"),
                    critical=_range(d.get("critical")),
                    normal=tuple(str(a) for a in d.get("normal") or ()),
                    scale=tuple(str(a) for a in d.get("scale") or ()),
                    extra={k: v for k, v in d.items() if k not in known},
                )
        self._build_name_index()

    def _build_name_index(self) -> None:
        # key -> list of (code, weight); earlier panels first (index.yaml order settles clashes).
        self.name_index: dict[str, list[tuple[str, float]]] = {}
        for code, ind in self.indicators.items():
            entries = [(ind.name, 1.0), (code, 1.0), *((a, 1.0) for a in ind.aliases),
                       *((m, 0.9) for m in ind.misreadings)]
            for text, weight in entries:
                key = norm_name(text)
                if not key:
                    continue
                bucket = self.name_index.setdefault(key, [])
                if all(c != code for c, _ in bucket):
                    bucket.append((code, weight))
        # Fuzzy / prefix search only over keys long enough to be distinctive.
        self._long_keys = [k for k in self.name_index if len(k) >= 4 or len(_CJK.findall(k)) >= 3]

    # ---- names -------------------------------------------------------------------------------------------
    def match_name(self, text: str, *, allow_fuzzy: bool = True) -> list[NameMatch]:
        """Candidate indicators for a printed name, best first. Empty when nothing plausible."""
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

    # ---- units -------------------------------------------------------------------------------------------
    def canonical_units(self, printed: str) -> list[str]:
        """Canonical spellings a printed unit may stand for (possibly several: 'IU/L' is U/L or IU/L)."""
        key = norm_unit(printed)
        if not key:
            return []
        return list(self.unit_aliases.get(key) or self.unit_aliases_ci.get(key.casefold()) or [])

    def is_unit(self, printed: str) -> bool:
        return bool(self.canonical_units(printed))

    def resolve_unit(self, printed: str, indicator: Indicator) -> tuple[str, float] | None:
        """(canonical unit of the printed text, factor to the indicator's canonical unit), or None."""
        for cand in self.canonical_units(printed):
            if cand in indicator.units:
                return cand, indicator.units[cand]
        # case-insensitive second chance ('G/L' printed for 10^9/L, 'mmol/l' ...)
        key = norm_unit(printed).casefold()
        for cand in self.unit_aliases_ci.get(key, ()):
            if cand in indicator.units:
                return cand, indicator.units[cand]
        return None


def default_knowledge_dir() -> Path:
    """knowledge/indicators: $OCR_KNOWLEDGE_DIR, else the repo's knowledge/ above this file, else /app/knowledge."""
    env = os.environ.get("OCR_KNOWLEDGE_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / "knowledge" / "indicators"
        if (cand / "index.yaml").exists():
            return cand
    return CONTAINER_KNOWLEDGE_DIR / "indicators"


@functools.lru_cache(maxsize=4)
def _load(directory: str) -> KnowledgeBase:
    kb = KnowledgeBase(Path(directory))
    # The whole knowledge/ tree is loaded and validated by the shared zhenxi_knowledge package (typed models,
    # cross-references); its version string is the one every service reports. The name/unit indexes the OCR
    # needs for matching printed text stay here until they move into that package.
    from zhenxi_knowledge import get_knowledge

    root = Path(directory).parent
    if (root / "index.yaml").exists():
        kb.version = get_knowledge(root).version
    return kb


def load_knowledge(directory: Path | str | None = None) -> KnowledgeBase:
    d = Path(directory) if directory else default_knowledge_dir()
    if d.name != "indicators" and (d / "indicators" / "index.yaml").exists():
        d = d / "indicators"
    return _load(str(d.resolve()))
