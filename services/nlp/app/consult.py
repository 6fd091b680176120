"""Q&A answers composed from retrieved knowledge entries, in the question's language, with sources.
Order of decisions: unreadable -> red flags (escalate to 120) -> out of scope (decline) -> answer."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .knowledge import KnowledgeBase
from .lexicon import has_words, language, normalize
from .llm import AnswerWriter, Passage, Turn
from .retrieval import Hit, Retriever
from .triage import Triage, check_text

TEMPLATES = ("consult.disclaimer", "consult.not_understood", "consult.emergency", "consult.out_of_scope",
             "consult.department", "consult.level.routine", "consult.level.soon", "consult.level.urgent")


@dataclass
class Answer:
    kind: str  # answer | emergency | out_of_scope | not_understood
    language: str
    text: str
    urgency: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    departments: list[dict[str, Any]] = field(default_factory=list)
    writer: str = "template"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "language": self.language, "text": self.text, "urgency": self.urgency,
                "sources": self.sources, "departments": self.departments, "writer": self.writer}


class Consultant:
    def __init__(self, kb: KnowledgeBase, triage: Triage, retriever: Retriever,
                 writer: AnswerWriter | None = None) -> None:
        self.kb = kb
        self.triage = triage
        self.retriever = retriever
        self.writer = writer
        kb.require_templates(*TEMPLATES)  # the answers' fixed sentences: knowledge/templates
        ctx = kb.context
        self.intents = {k: [normalize(w) for w in v] for k, v in ctx.intents.items()}
        self.out_of_scope = [normalize(w) for w in ctx.out_of_scope]

    def answer(self, question: str, history: list[Turn] | None = None) -> Answer:
        check_text(question)
        history = history or []
        norm = normalize(question)
        lang = language(norm)
        if not has_words(norm):
            return Answer("not_understood", lang, self.kb.text("consult.not_understood", lang))
        tri = self.triage.analyze(question, lang=lang)
        if tri["red_flags"]:
            names = "；".join(r["name"] for r in tri["red_flags"]) if lang == "zh" else "; ".join(
                r["name"] for r in tri["red_flags"])
            head = self.kb.text("consult.emergency", lang, names=names)
            text = head + "\n" + " ".join(r["advice"] for r in tri["red_flags"])
            return Answer("emergency", lang, text, "emergency",
                          [{"id": r["source"]["id"], "title": r["name"], "knowledge_version": self.kb.version}
                           for r in tri["red_flags"]], tri["departments"])
        query = question
        hits = self.retriever.search(query, k=5)
        medical = tri["understood"] or any(h.alias_hit for h in hits)
        if not medical and history:
            previous = next((t.content for t in reversed(history) if t.role == "user"), None)
            if previous:  # a follow-up such as "怎么治？" borrows the topic of the last question
                query = previous + " " + question
                hits = self.retriever.search(query, k=5)
                medical = any(h.alias_hit for h in hits) or self.triage.analyze(previous, lang=lang)["understood"]
        flagged_off_topic = any(w in norm for w in self.out_of_scope)
        if not medical or not hits or (flagged_off_topic and not tri["symptoms"] and not any(h.alias_hit for h in hits)):
            return Answer("out_of_scope", lang, self.kb.text("consult.out_of_scope", lang))
        intents = [k for k, words in self.intents.items() if any(w in normalize(question) for w in words)]
        top = hits[:3]
        text = self._compose(top, intents, lang, norm, tri)
        sources = [{"id": h.doc_id, "title": self._title(h, lang), "knowledge_version": self.kb.version,
                    "score": h.score} for h in top]
        writer_name = "template"
        if self.writer is not None:
            passages = [Passage(h.doc_id, self._title(h, lang), self._entry_text(h, [], lang, norm)) for h in top]
            rewritten = self.writer.write(question, lang, passages, history, text)
            if rewritten:
                text, writer_name = rewritten + "\n" + self.kb.text("consult.disclaimer", lang), "llm"
        urgency = tri["urgency"] if tri["symptoms"] else None
        return Answer("answer", lang, text, urgency, sources, tri["departments"] if tri["symptoms"] else [],
                      writer_name)

    @staticmethod
    def _t(lang: str, zh: str, en: str) -> str:
        return en if lang == "en" else zh

    def _title(self, hit: Hit, lang: str) -> str:
        doc = self.retriever.by_id[hit.doc_id]
        return doc.title_en if lang == "en" else doc.title

    def _compose(self, hits: list[Hit], intents: list[str], lang: str, norm: str, tri: dict[str, Any]) -> str:
        main = hits[0]
        parts = [self._entry_text(main, intents, lang, norm)]
        others = [self._title(h, lang) for h in hits[1:]]
        if others:
            parts.append(self._t(lang, "相关内容：" + "、".join(others), "Related: " + ", ".join(others)))
        if tri["symptoms"] and tri["departments"]:
            dept = tri["departments"][0]["name"]
            key = f"consult.level.{tri['urgency']}"
            level = self.kb.text(key, lang) if key in self.kb.templates else ""
            parts.append(self.kb.text("consult.department", lang, department=dept, level=level))
        parts.append(self.kb.text("consult.disclaimer", lang))
        return "\n".join(parts)

    def _entry_text(self, hit: Hit, intents: list[str], lang: str, norm: str) -> str:
        kind, _, key = hit.doc_id.partition(":")
        en = lang == "en"
        if kind == "disease":
            d = self.kb.diseases[key]
            dept = self.kb.departments[d.department]
            syms = ("、" if not en else ", ").join(
                self.kb.symptoms[s].en_name if en else self.kb.symptoms[s].name for s in d.symptoms)
            sections = {
                "meaning": (d.description_en if en else d.description),
                "symptoms": self._t(lang, f"常见表现：{syms}。", f"Common symptoms: {syms}.") if syms else "",
                "department": self._t(lang, f"建议就诊科室：{dept.name}。", f"Department: {dept.name_en}."),
                "treatment": self._t(lang, f"治疗：{d.treatment}", f"Treatment: {d.treatment_en}"),
                "self_care": self._t(lang, f"自我护理：{d.self_care}", f"Self-care: {d.self_care_en}"),
                "see_doctor": self._t(lang, f"何时就医：{d.see_doctor}", f"When to see a doctor: {d.see_doctor_en}"),
            }
            chosen = [i for i in intents if i in sections and i != "meaning"]
            order = ["meaning", *chosen] if chosen else ["meaning", "symptoms", "department", "treatment", "see_doctor"]
            if chosen and "see_doctor" not in chosen:
                order.append("see_doctor")
            head = f"【{d.name_en if en else d.name}】"
            return head + "\n".join(sections[o] for o in order if sections[o])
        if kind == "interpretation":
            it = self.kb.interpretations[key]
            ind = self.kb.indicators[key]
            wants_high = any(w in norm for w in ("高", "high", "升", "超标", "阳性", "positive", "+"))
            wants_low = any(w in norm for w in ("低", "low", "降", "少"))
            lines = [f"【{(ind.name_en if en else ind.name)}（{key}）】{it.measures_en if en else it.measures}"]
            for label, reading, wanted in (("high", it.high, wants_high), ("low", it.low, wants_low),
                                           ("positive", it.positive, wants_high)):
                if reading is None or ((wants_high or wants_low) and not wanted):
                    continue
                name = self._t(lang, {"high": "偏高", "low": "偏低", "positive": "阳性"}[label], label.capitalize())
                lines.append(self._t(lang, f"{name}：{reading.meaning} 常见原因：{reading.causes} 建议：{reading.advice}",
                                     f"{name}: {reading.meaning_en} Common causes: {reading.causes_en} "
                                     f"Advice: {reading.advice_en}"))
            return "\n".join(lines)
        if kind == "pattern":
            p = next(p for p in self.kb.patterns if p.id == key)
            return self._t(lang, f"【{p.name}】{p.explanation} 建议：{p.advice}",
                           f"[{p.name_en}] {p.explanation_en} Advice: {p.advice_en}")
        dep = self.kb.departments[key]
        return self._t(lang, f"【{dep.name}】主要诊治：{dep.scope}", f"[{dep.name_en}] Sees: {dep.scope_en}")
