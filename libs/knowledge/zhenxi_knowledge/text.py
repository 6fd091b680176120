"""Text normalisation shared by every reader: names, units, free text. One place, so OCR output, API input
and the YAML meet on the same keys."""
from __future__ import annotations

import re
import unicodedata

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_SEQ_PREFIX = re.compile(r"^(?:\d{1,3}[\.、)\]:：]|\d{1,3}(?=[\u4e00-\u9fff]))")
_DECORATION = re.compile(r"[\s\*★☆△▲▼●○◆◇■□:：_|\"'`“”‘’]+")


def nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


def norm_text(s: str) -> str:
    """NFKC (full-width → ASCII, µ → μ), lower-case, no spaces."""
    return re.sub(r"\s+", "", nfkc(s)).lower()


def norm_name(s: str) -> str:
    """An indicator name as printed: also drops sequence numbers ("12.", "3、") and decoration (*, ★, spaces)."""
    t = nfkc(s).strip()
    t = _SEQ_PREFIX.sub("", t)
    t = _DECORATION.sub("", t)
    return t.lower()


def norm_unit(s: str) -> str:
    """A unit spelling: superscripts become ^n, a leading multiplication sign and spaces vanish, u → μ."""
    t = s.strip()
    t = re.sub(r"([⁰¹²³⁴⁵⁶⁷⁸⁹]+)", lambda m: "^" + m.group(1).translate(_SUPERSCRIPTS), t)
    t = nfkc(t)
    t = t.replace("µ", "μ")
    t = re.sub(r"\s+", "", t)
    t = re.sub(r"^[×xX\*]", "", t)
    t = re.sub(r"^10[\*eE~]", "10^", t)
    # (the micro prefix as 'u'; before 'mol' in any case the sheet's font or the recogniser gave it, 'uMol/L',
    # 'UMOL/L': only there may a capital U be micro, elsewhere it is the enzyme unit, 'UL' for U/L is no μL)
    t = re.sub(r"^(?:u(?=(?i:mol)|(?:g|l|iu|u|kat|m)\b|g/|l|iu|u/|kat)|U(?=(?i:mol)))", "μ", t)
    return t.replace("／", "/")
