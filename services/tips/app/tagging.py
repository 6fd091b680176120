"""Chinese + English text handling with jieba: keyword extraction against the knowledge lexicon (auto-tags and
suggested links for a tip), and the word lists that feed Postgres full-text search (Postgres has no Chinese
parser, so text is segmented here and indexed with the ``simple`` configuration).

Keywords are ranked the way ``jieba.analyse.extract_tags`` ranks them (term frequency × jieba's own IDF table,
the median IDF for words it lacks), but only over knowledge-lexicon words, and without importing
``jieba.analyse``: that module pulls in the part-of-speech HMM tables and a second tokenizer (~130 MB) which
tagging never uses, and the service runs in a 384 MiB container."""
from __future__ import annotations

import logging
import re
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import jieba

from .knowledge import Term, Vocabulary

jieba.setLogLevel(logging.WARNING)
IDF_FILE = Path(jieba.__file__).resolve().parent / "analyse" / "idf.txt"
_HAN = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[\w\u4e00-\u9fff][\w\u4e00-\u9fff.+\-/()']*", re.UNICODE)


@dataclass
class AutoTags:
    tags: list[str] = field(default_factory=list)
    links: dict[str, list[str]] = field(default_factory=dict)   # kind -> ids


def _usable(surface: str) -> bool:
    s = surface.strip()
    if _HAN.search(s):
        return len(s) >= 2
    return len(s) >= 3 or (len(s) >= 2 and any(c.isdigit() for c in s))


def _idf(words: set[str]) -> tuple[dict[str, float], float]:
    """jieba's IDF for ``words`` only, and the median over the whole table (its default for unknown words)."""
    wanted: dict[str, float] = {}
    values = array("d")
    with IDF_FILE.open(encoding="utf-8") as fh:
        for line in fh:
            word, _, value = line.strip().rpartition(" ")
            if not word:
                continue
            v = float(value)
            values.append(v)
            if word.lower() in words:
                wanted[word.lower()] = v
    median = sorted(values)[len(values) // 2] if values else 10.0
    return wanted, median


class Tagger:
    """One jieba tokenizer per vocabulary, with every knowledge name and alias added as a word."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self.tokenizer = jieba.Tokenizer()
        self.lexicon: dict[str, list[Term]] = {}
        phrases: list[str] = []
        for term in vocab.terms():
            for surface in (term.name, term.name_en, *term.aliases):
                if not surface or not _usable(surface):
                    continue
                key = surface.strip().lower()
                bucket = self.lexicon.setdefault(key, [])
                if term not in bucket:
                    bucket.append(term)
                if _HAN.search(surface):
                    self.tokenizer.add_word(surface.strip(), freq=50_000, tag="kb")
                elif " " in key:
                    phrases.append(key)
        # English names of several words ("uric acid", "ldl cholesterol") are matched as phrases: jieba splits them.
        phrases.sort(key=len, reverse=True)
        self._phrases = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, phrases)) + r")(?![\w-])") \
            if phrases else None
        self._idf, self._median_idf = _idf(set(self.lexicon))

    def keywords(self, text: str) -> list[str]:
        """Lexicon words in ``text``, best first by TF-IDF."""
        tokens = [w.strip().lower() for w in self.tokenizer.cut(text) if w.strip()]
        counts = Counter(w for w in tokens if w in self.lexicon)
        if self._phrases is not None:
            counts.update(m.group(1) for m in self._phrases.finditer(text.lower()))
        total = max(1, len(tokens))
        return sorted(counts, key=lambda w: (-counts[w] * self._idf.get(w, self._median_idf) / total, w))

    def auto_tags(self, text: str, lang: str = "zh-CN", limit: int = 8) -> AutoTags:
        out = AutoTags()
        for word in self.keywords(text):
            for term in self.lexicon[word]:
                links = out.links.setdefault(term.kind, [])
                if term.id not in links:
                    links.append(term.id)
                label = term.display(lang)
                if label not in out.tags and len(out.tags) < limit:
                    out.tags.append(label)
        return out

    def words(self, text: str) -> list[str]:
        """Search words: jieba's search-mode segmentation, lower-cased, punctuation dropped."""
        return [w.lower() for w in self.tokenizer.cut_for_search(text) if _WORD.fullmatch(w.strip() or "-")]

    def query_words(self, q: str) -> list[str]:
        words = self.words(q)
        # A lone Chinese character (高, 的) matches almost everything; keep them only if nothing else is left.
        strong = [w for w in words if not (len(w) == 1 and _HAN.match(w))]
        return list(dict.fromkeys(strong or words))
