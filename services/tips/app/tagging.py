"""Chinese + English text handling with jieba: keyword extraction against the knowledge lexicon (auto-tags and
suggested links for a tip), and the word lists that feed Postgres full-text search (Postgres has no Chinese
parser, so text is segmented here and indexed with the ``simple`` configuration)."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import jieba
import jieba.analyse

from .knowledge import Term, Vocabulary

jieba.setLogLevel(logging.WARNING)
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


class Tagger:
    """One jieba tokenizer per vocabulary, with every knowledge name and alias added as a word."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self.tokenizer = jieba.Tokenizer()
        self.lexicon: dict[str, list[Term]] = {}
        for term in vocab.terms():
            for surface in (term.name, term.name_en, *term.aliases):
                if surface and _usable(surface):
                    key = surface.strip().lower()
                    bucket = self.lexicon.setdefault(key, [])
                    if term not in bucket:
                        bucket.append(term)
                    if _HAN.search(surface):
                        self.tokenizer.add_word(surface.strip(), freq=50_000, tag="kb")
        self._tfidf = jieba.analyse.TFIDF()
        self._tfidf.tokenizer = self.tokenizer
        self._tfidf.postokenizer = jieba.posseg.POSTokenizer(self.tokenizer)

    def _matches(self, text: str) -> list[Term]:
        """Lexicon terms named in ``text``: jieba keywords first (weighted), then any remaining exact word."""
        found: list[Term] = []
        keywords = self._tfidf.extract_tags(text, topK=40)
        words = keywords + [w for w in self.tokenizer.cut(text) if w not in keywords]
        for w in words:
            for term in self.lexicon.get(w.strip().lower(), ()):
                if term not in found:
                    found.append(term)
        return found

    def auto_tags(self, text: str, lang: str = "zh-CN", limit: int = 8) -> AutoTags:
        out = AutoTags()
        for term in self._matches(text):
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
