"""The one unit normaliser and converter. ``units.yaml`` maps canonical spellings to printed ones; each indicator's
``units`` map gives the factor to its canonical unit (value_in_canonical = printed_value × factor)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .text import nfkc, norm_unit

if TYPE_CHECKING:
    from .models import Indicator


class UnitTable:
    def __init__(self, units: dict[str, list[str]], ucum: dict[str, str] | None = None,
                 misreadings: list[tuple[str, str]] | None = None) -> None:
        self.canonical: tuple[str, ...] = tuple(units)
        self.ucum: dict[str, str] = dict(ucum or {})  # canonical unit → UCUM code (FHIR)
        # (pattern, replacement): how OCR mangles printed units ('g/1' for g/L); data from units.yaml
        self.misreadings: tuple[tuple[re.Pattern[str], str], ...] = tuple(
            (re.compile(find), repl) for find, repl in (misreadings or ()))
        self._exact: dict[str, list[str]] = {}
        self._folded: dict[str, list[str]] = {}
        for canonical, aliases in units.items():
            for alias in [canonical, *aliases]:
                key = norm_unit(alias)
                for table, k in ((self._exact, key), (self._folded, key.casefold())):
                    bucket = table.setdefault(k, [])
                    if canonical not in bucket:
                        bucket.append(canonical)

    def canonical_units(self, printed: str) -> list[str]:
        """Canonical spellings a printed unit may stand for (possibly several: 'IU/L' is U/L or IU/L)."""
        key = norm_unit(printed)
        if not key:
            return []
        return list(self._exact.get(key) or self._folded.get(key.casefold()) or [])

    def is_unit(self, printed: str, *, misread: bool = False) -> bool:
        """A known unit spelling; with ``misread`` also one the OCR mangled (see ``fix_misread``)."""
        if self.canonical_units(printed):
            return True
        if misread:
            fixed = self.fix_misread(printed)
            return fixed != printed and bool(self.canonical_units(fixed))
        return False

    def fix_misread(self, printed: str) -> str:
        """The printed text with units.yaml's OCR misreadings undone ('g/1' → 'g/L', "10'9/L" → '10^9/L',
        'f1' → 'fL'); the text unchanged when no rule applies or it is already a unit."""
        if self.canonical_units(printed):
            return printed
        t = nfkc(printed).strip()
        for pattern, repl in self.misreadings:
            t = pattern.sub(repl, t)
        return t if t != nfkc(printed).strip() else printed

    def resolve(self, printed: str, indicator: "Indicator", *, misread: bool = False) -> tuple[str, float] | None:
        """(canonical unit of the printed text, factor to the indicator's canonical unit), or None. With
        ``misread`` an OCR-mangled spelling is tried once more after ``fix_misread``."""
        hit = self._resolve(printed, indicator)
        if hit is None and misread:
            fixed = self.fix_misread(printed)
            if fixed != printed:
                hit = self._resolve(fixed, indicator)
        return hit

    def _resolve(self, printed: str, indicator: "Indicator") -> tuple[str, float] | None:
        for cand in self.canonical_units(printed):
            if cand in indicator.units:
                return cand, indicator.units[cand]
        # case-insensitive second chance ('G/L' printed for 10^9/L, 'mmol/l' ...)
        for cand in self._folded.get(norm_unit(printed).casefold(), ()):
            if cand in indicator.units:
                return cand, indicator.units[cand]
        return None

    def convert(self, value: float, printed: str | None, indicator: "Indicator") -> float | None:
        """The value in the indicator's canonical unit; None when the unit is not one of the indicator's.
        No unit (or a dimensionless indicator) means the value is taken as canonical."""
        if not printed or indicator.unit is None:
            return value
        hit = self.resolve(printed, indicator)
        if hit is not None:
            return value * hit[1]
        if norm_unit(printed).casefold() == norm_unit(indicator.unit).casefold():
            return value
        return None
