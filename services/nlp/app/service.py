"""The nlp domain service: one object holding the knowledge base and everything derived from it.
No FastAPI here; the API, the CLI and the benchmark all call these methods."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from .consult import Answer, Consultant
from .emergency import MODEL_PATH as EMERGENCY_MODEL, SemanticEmergency
from .errors import MissingQueryError, UnknownFindingError
from .interpret import Interpreter
from .knowledge import KnowledgeBase, load_knowledge
from .lexicon import Lexicon
from .llm import AnswerWriter, OpenAICompatibleWriter, Turn
from .retrieval import DenseEncoder, Retriever
from .router import MODEL_PATH as ROUTER_MODEL, LearnedRouter, RouterModelError, RoutingHints
from .triage import Triage, check_text

log = logging.getLogger("zhenxi.nlp")

class NlpService:
    def __init__(self, kb: KnowledgeBase, *, dense: bool = True, dense_threads: int = 1,
                 cache_dir: Path | None = None, writer: AnswerWriter | None = None,
                 emergency_model: Path | None = EMERGENCY_MODEL, router_model: Path | None = ROUTER_MODEL) -> None:
        self.kb = kb
        self._cache_dir = cache_dir
        self.lexicon = Lexicon(kb)
        self.interpreter = Interpreter(kb)
        encoder = None
        if dense:
            try:
                encoder = DenseEncoder(threads=dense_threads)
            except (ImportError, OSError, ValueError) as exc:  # wheel missing or damaged: keep serving with BM25
                log.warning("dense retrieval unavailable, using BM25 only: %s", exc)
        semantic = None
        if encoder is not None and emergency_model is not None and Path(emergency_model).exists():
            semantic = SemanticEmergency(encoder, Path(emergency_model))
        elif dense:
            log.warning("semantic emergency detector unavailable; red flags come from the rules only")
        router = None
        if encoder is not None and router_model is not None:
            try:  # loaded once, checksum verified; without it departments come from the rules alone
                router = LearnedRouter(encoder, Path(router_model))
            except RouterModelError as exc:
                log.warning("learned department router unavailable: %s", exc)
        self.triage = Triage(kb, self.lexicon, semantic, router, RoutingHints(kb, self.interpreter))
        self.retriever = Retriever(kb, self.lexicon, encoder, cache_dir)
        self.consultant = Consultant(kb, self.triage, self.retriever, writer)
        self._finding_lookup = {k.lower(): k for k in kb.findings}
        self._finding_lookup.update({k.lower().replace("_", " "): k for k in kb.findings})
        self._finding_lookup.update({f.name: k for k, f in kb.findings.items()})

    @classmethod
    def create(cls, settings: Any | None = None) -> "NlpService":
        if settings is None:
            from .config import Settings

            settings = Settings()
        os.environ.setdefault("OMP_NUM_THREADS", str(settings.dense_threads))
        writer = None
        if settings.llm_url:
            writer = OpenAICompatibleWriter(settings.llm_url, settings.llm_model, settings.llm_api_key,
                                            settings.llm_timeout_s)
        return cls(load_knowledge(settings.knowledge_dir), dense=settings.dense_retrieval,
                   dense_threads=settings.dense_threads, cache_dir=settings.cache_dir, writer=writer)

    @property
    def version(self) -> str:
        return self.kb.version

    # ---- capabilities ----
    def analyze_symptoms(self, text: str, lang: str | None = None) -> dict[str, Any]:
        return self.triage.analyze(text, lang)

    def interpret(self, indicators: list[dict[str, Any]], sex: str | None = None, age: float | None = None,
                  medications: list[str] | None = None, lang: str = "zh") -> dict[str, Any]:
        return self.interpreter.interpret(indicators, sex=sex, age=age, medications=medications, lang=lang)

    def answer(self, question: str, history: list[Turn] | None = None) -> Answer:
        return self.consultant.answer(question, history)

    def resolve_finding(self, finding: str) -> str:
        key = finding.strip()
        hit = self._finding_lookup.get(key.lower()) or self._finding_lookup.get(key)
        if hit is None:
            raise UnknownFindingError(details={"finding": finding[:100], "allowed": list(self.kb.findings)})
        return hit

    def diseases(self, finding: str | None = None, q: str | None = None, limit: int = 20,
                 lang: str = "zh") -> dict[str, Any]:
        if not (finding and finding.strip()) and not (q and q.strip()):
            raise MissingQueryError()
        candidates = list(self.kb.diseases.values())
        label = None
        if finding and finding.strip():
            label = self.resolve_finding(finding)
            candidates = sorted((d for d in candidates if label in d.findings),
                                key=lambda d: (d.findings.index(label), d.id))
        if q and q.strip():
            check_text(q, 500)
            ranked = [h.doc_id.split(":", 1)[1] for h in self.retriever.search(q, k=50, kinds={"disease"})]
            allowed = {d.id for d in candidates}
            candidates = [self.kb.diseases[i] for i in ranked if i in allowed]
        return {"knowledge_version": self.kb.version, "finding": label,
                "finding_name": self.kb.findings[label].name if label else None,
                "query": q, "count": min(len(candidates), limit),
                "diseases": [self.disease_entry(d.id, lang) for d in candidates[:limit]]}

    def disease_entry(self, disease_id: str, lang: str = "zh") -> dict[str, Any]:
        d = self.kb.diseases[disease_id]
        en = lang == "en"
        dep = self.kb.departments[d.department]
        return {
            "id": d.id, "name": d.name, "name_en": d.name_en, "aliases": list(d.aliases),
            "description": d.description_en if en else d.description,
            "symptoms": [{"id": s, "name": self.kb.symptoms[s].en_name if en else self.kb.symptoms[s].name}
                         for s in d.symptoms],
            "indicators": [{"code": r.code, "direction": r.direction} for r in d.indicators],
            "findings": list(d.findings),
            "department": {"id": dep.id, "name": dep.name_en if en else dep.name},
            "urgency": d.urgency,
            "self_care": d.self_care_en if en else d.self_care,
            "see_doctor": d.see_doctor_en if en else d.see_doctor,
            "treatment": d.treatment_en if en else d.treatment,
            "source": {"id": f"disease:{d.id}", "knowledge_version": self.kb.version},
        }
