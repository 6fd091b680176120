"""Symptom analysis: symptoms (with negation, history, severity), duration, red flags, candidate conditions,
top departments and urgency. Red flags are checked first and always win: they mean ``emergency``."""
from __future__ import annotations

import math
import re
from typing import Any

from .errors import EmptyTextError, TextTooLongError
from .knowledge import KnowledgeBase, max_urgency
from .emergency import SemanticEmergency
from .lexicon import Lexicon, TextFacts, has_words, language, normalize
from .router import LearnedRouter, RoutingHints

MAX_TEXT_CHARS = 2000
_URGENCY_UP = {"routine": "soon", "soon": "urgent", "urgent": "urgent", "emergency": "emergency"}
_LATIN = re.compile(r"[a-z0-9][a-z0-9 .\-]*")
SEMANTIC_FLAG = "rf_possible_emergency"
# Department kinds whose patients go to 儿科 (children, unless the department says otherwise) or 产科 (pregnancy).
# Q&A intents whose words mark a general question about a condition (context.yaml `intents`).
_GENERAL_INTENTS = ("meaning", "symptoms", "self_care", "general")


def check_text(text: str | None, max_chars: int = MAX_TEXT_CHARS) -> str:
    if text is None or not text.strip():
        raise EmptyTextError()
    if len(text) > max_chars:
        raise TextTooLongError(details={"max_chars": max_chars, "length": len(text)})
    return text


class Triage:
    def __init__(self, kb: KnowledgeBase, lexicon: Lexicon, semantic: SemanticEmergency | None = None,
                 router: LearnedRouter | None = None, hints: RoutingHints | None = None) -> None:
        self.kb = kb
        self.lex = lexicon
        self.semantic = semantic
        self.router = router  # learned department ranking (router.py); never touches red flags
        self.hints = hints
        # where the rules send questions and what they weigh: knowledge/departments/routing.yaml
        if kb.routing is None:
            raise ValueError("knowledge/departments: no routing section")
        self.route = kb.routing.departments
        self.w = kb.routing.weights
        self.pregnancy_kinds = set(kb.routing.pregnancy_kinds)
        self.own_cancer_treatment = set(kb.routing.own_cancer_treatment)
        kb.require_templates("triage.not_understood", "triage.advice.routine", "triage.advice.soon",
                             "triage.advice.urgent")
        self.semantic_flag = next((rf for rf in kb.red_flags if rf.id == SEMANTIC_FLAG), None)
        self.disease_names = self._matcher({normalize(n): d.id for d in kb.diseases.values()
                                            for n in (d.name, d.name_en, *d.aliases) if len(normalize(n)) >= 2})
        ind_names: dict[str, str] = {}
        for code, ind in kb.indicators.items():
            interp = kb.interpretations.get(code)
            for n in (ind.name, *ind.aliases, *(interp.aliases if interp else ())):
                key = normalize(n)
                if len(key) >= 2 and re.search(r"[\u4e00-\u9fff]", key):
                    ind_names.setdefault(key, code)
        self.indicator_names = self._matcher(ind_names)
        codes = {normalize(c): c for c in kb.indicators if len(c) >= 2 and re.fullmatch(r"[A-Za-z][A-Za-z0-9\-]+", c)}
        self.indicator_codes = (re.compile(r"(?<![a-z0-9])(" + "|".join(map(re.escape, sorted(codes, key=len, reverse=True)))
                                           + r")(?![a-z0-9])"), codes)
        self.dept_names = self._matcher({normalize(n): d.id for d in kb.departments.values()
                                         for n in (d.name, *d.synonyms) if len(normalize(n)) >= 2
                                         and re.search(r"[\u4e00-\u9fff]", n)})
        # Department cues: strong 4, English 3, weak 2. One table per language; the longest term wins a position.
        zh_cues: dict[str, tuple[str, float]] = {}
        en_cues: dict[str, tuple[str, float]] = {}
        for dept, cue in kb.cues.items():
            for terms, weight, table in ((cue.strong, 4.0, zh_cues), (cue.weak, 2.0, zh_cues), (cue.en, 3.0, en_cues)):
                for t in terms:
                    key = normalize(t)
                    if len(key) >= 2 and table.get(key, ("", 0.0))[1] < weight:
                        table[key] = (dept, weight)
        self.cue_table = {**en_cues, **zh_cues}
        self.cue_zh = re.compile("|".join(map(re.escape, sorted(zh_cues, key=len, reverse=True))) or r"(?!x)x")
        self.cue_en = re.compile(r"(?<![a-z0-9])(" + ("|".join(map(re.escape, sorted(en_cues, key=len, reverse=True)))
                                                       or r"(?!x)x") + r")(?![a-z0-9])")
        self.flag_phrases = [(rf, [re.compile(p) for p in rf.phrases]) for rf in kb.red_flags]
        intents = kb.context.intents
        self.question_words = [normalize(w) for k in _GENERAL_INTENTS for w in intents.get(k, ())]
        self.follow_up_words = [normalize(w) for w in intents.get("follow_up", ())]
        self.informational_words = [normalize(w) for w in intents.get("informational", ())]
        routing = {k: tuple(normalize(w) for w in v) for k, v in kb.context.routing.items()}
        self.surgery_words = routing.get("surgery_intent", ())
        self.cancer_treatment_words = routing.get("cancer_treatment", ())
        self.event_words = routing.get("event_words", ())
        self.present_time_words = routing.get("present_time", ())
        self.not_indicator_codes = {w.upper() for w in kb.context.routing.get("not_indicator_codes", ())}
        # A known condition explaining a red flag's symptoms (癫痫病史 + an old seizure): context.yaml `routing`.
        self.known_flags = set(kb.context.routing.get("known_condition_flags", ()))
        self.known_terms = routing.get("known_condition_terms", ())
        self.known_diagnosed = routing.get("known_condition_diagnosed", ())
        self.known_care = routing.get("known_condition_care", ())
        self.ongoing_words = routing.get("ongoing_event", ())
        self.surgical_counterpart = {d.id: d.surgical_counterpart for d in kb.departments.values()
                                     if d.surgical_counterpart}
        self.child_departments = {d.id for d in kb.departments.values()
                                  if (d.children_to_pediatrics if d.children_to_pediatrics is not None
                                      else d.kind in kb.routing.children_kinds)}
        n = max(len(kb.diseases), 1)
        df: dict[str, int] = {}
        for d in kb.diseases.values():
            for s in set(d.symptoms):
                df[s] = df.get(s, 0) + 1
        self.idf = {s: math.log(1 + n / (1 + c)) for s, c in df.items()}

    @staticmethod
    def _matcher(table: dict[str, str]) -> tuple[re.Pattern[str], dict[str, str]]:
        """Longest key first. Latin keys match whole words only ("ED" must not fire inside "tired")."""
        keys = sorted(table, key=len, reverse=True)
        alts = [rf"(?<![a-z0-9]){re.escape(k)}(?![a-z0-9])" if _LATIN.fullmatch(k) else re.escape(k) for k in keys]
        return re.compile("|".join(alts) if alts else r"(?!x)x"), table

    @staticmethod
    def _find(matcher: tuple[re.Pattern[str], dict[str, str]], text: str, raw: str | None = None) -> list[str]:
        """Entries named in ``text``. A Latin name of at most 3 letters (AS, RA, CT) also has to appear in capitals
        in ``raw``: lower-case "as" or "ra" is English, not a diagnosis."""
        rx, table = matcher
        out: list[str] = []
        for m in rx.finditer(text):
            hit = m.group(1) if m.groups() else m.group(0)
            if raw is not None and _LATIN.fullmatch(hit) and len(hit) <= 3 and not re.search(
                    rf"(?<![A-Za-z0-9]){re.escape(hit.upper())}(?![A-Za-z0-9])", raw):
                continue
            key = table[hit]
            if key not in out:
                out.append(key)
        return out

    # ---- main entry ----
    def analyze(self, text: str, lang: str | None = None) -> dict[str, Any]:
        check_text(text)
        version = self.kb.version
        norm = normalize(text)
        lang = lang or language(norm)
        en = lang == "en"
        result: dict[str, Any] = {"knowledge_version": version, "language": lang, "understood": True,
                                  "reason": None, "symptoms": [], "negated_symptoms": [], "duration": None,
                                  "severity": None, "populations": [], "age": None,
                                  "mentioned": {"diseases": [], "indicators": [], "departments": []},
                                  "conditions": [], "departments": [], "urgency": "routine", "red_flags": [],
                                  "advice": ""}
        if not has_words(norm):
            return self._not_understood(result, "no_words", en)
        facts = self.lex.analyze(text)
        diseases = self._find(self.disease_names, facts.text, text)
        indicators = self._find(self.indicator_names, facts.text)
        rx, codes = self.indicator_codes
        for m in rx.finditer(facts.text):
            code = codes[m.group(1)]
            # CT and PA are imaging words far more often than calcitonin or prealbumin.
            if code not in indicators and code.upper() not in self.not_indicator_codes:
                indicators.append(code)
        named_depts = self._find(self.dept_names, facts.text)
        cues = self._cues(facts.text)
        result["mentioned"] = {
            "diseases": [self._ref("disease", d, self.kb.diseases[d], en) for d in diseases],
            "indicators": [{"code": c, "name": self.kb.indicators[c].name_en if en else self.kb.indicators[c].name}
                           for c in indicators],
            "departments": named_depts}
        self._describe_symptoms(facts, result, en)
        # Red flags first: a phrase (吃了二十片扑热息痛) can be an emergency without any lexicon symptom.
        informational = self._informational(facts)
        red_flags = [] if informational else self._red_flags(facts)
        red_flags, known = self._known_condition(facts, red_flags)
        if not red_flags:
            # A flag lifted for a known condition leaves the safety net on its strict threshold, as for other
            # texts the rules recognised as benign.
            red_flags = self._semantic_red_flag(facts, strict=informational or bool(known))
        cared_for = facts.populations & {"child", "infant", "pregnant", "postpartum"}
        learned = routing_ctx = None
        if self.router is not None or self.hints is not None:
            from .router import route_evidence
            learned, facts, routing_ctx = route_evidence(self, text, facts, indicators, result)
        if not (facts.present or diseases or indicators or named_depts or red_flags or cues or cared_for
                or (routing_ctx and routing_ctx.understood)):
            return self._not_understood(result, "no_medical_content", en)
        conditions = self._conditions(facts, diseases, en)
        result["conditions"] = conditions
        scores = self._department_scores(facts, diseases, indicators, named_depts, conditions, cues, learned)
        if routing_ctx is not None:
            scores = routing_ctx.finish(self, scores, red_flags,
                                        lambda: self._department_scores(facts, diseases, indicators, named_depts,
                                                                        conditions, cues, routing_ctx.rules_only))
        if red_flags:
            urgency = "emergency"
            scores[self.route.emergency] = max(scores.values(), default=0) + self.w.emergency_margin
        else:
            # Without a red flag the emergency department is not a suggestion, whatever the symptom weights say.
            scores.pop(self.route.emergency, None)
            scores = scores or {self.route.fallback: 1.0}
            urgency = self._urgency(facts, diseases, indicators)
        result["red_flags"] = [{"id": rf.id, "name": rf.name_en if en else rf.name,
                                "advice": rf.advice_en if en else rf.advice,
                                "source": {"id": f"red_flag:{rf.id}", "knowledge_version": version}}
                               for rf in red_flags]
        result["urgency"] = urgency
        if known and not red_flags:
            # Said, not hidden: which flags the known condition lifted (the symptom still counts as urgent).
            result["red_flags_lifted"] = [{"id": rf.id, "name": rf.name_en if en else rf.name,
                                           "reason": "known_condition"} for rf in known]
        result["departments"] = self._top(scores, en)
        if routing_ctx is not None:
            result["routing"] = routing_ctx.report(result["departments"], red_flags)
        result["advice"] = self._advice(result, en)
        return result

    def _not_understood(self, result: dict[str, Any], reason: str, en: bool) -> dict[str, Any]:
        result["understood"] = False
        result["reason"] = reason
        result["departments"] = self._top({self.route.fallback: 1.0}, en)
        result["advice"] = self.kb.text("triage.not_understood", "en" if en else "zh")
        return result

    def _ref(self, kind: str, key: str, entry: Any, en: bool) -> dict[str, Any]:
        return {"id": key, "name": entry.name_en if en else entry.name,
                "source": {"id": f"{kind}:{key}", "knowledge_version": self.kb.version}}

    def _describe_symptoms(self, facts: TextFacts, result: dict[str, Any], en: bool) -> None:
        seen: set[str] = set()
        negated: set[str] = set()
        sev_rank = {"mild": 0, "moderate": 1, "severe": 2}
        best: dict[str, dict[str, Any]] = {}
        for m in facts.mentions:
            s = self.kb.symptoms[m.symptom]
            if m.negated:
                if m.symptom not in negated:
                    negated.add(m.symptom)
                    result["negated_symptoms"].append({"id": s.id, "name": s.en_name if en else s.name,
                                                       "text": m.text})
                continue
            item = best.get(m.symptom)
            if item is None:
                item = {"id": s.id, "name": s.en_name if en else s.name, "text": m.text, "severity": m.severity,
                        "historical": m.historical}
                best[m.symptom] = item
                seen.add(m.symptom)
            else:
                if sev_rank[m.severity] > sev_rank[item["severity"]]:
                    item["severity"] = m.severity
                item["historical"] = item["historical"] and m.historical
        result["symptoms"] = list(best.values())
        # A symptom both stated and denied ("不发烧，昨天发烧") counts as present.
        result["negated_symptoms"] = [n for n in result["negated_symptoms"] if n["id"] not in seen]
        if facts.durations:
            d = max(facts.durations, key=lambda x: x.days)
            result["duration"] = {"text": d.text, "days": d.days}
        if best:
            result["severity"] = max((i["severity"] for i in best.values()), key=sev_rank.__getitem__)
        result["populations"] = sorted(facts.populations)
        result["age"] = facts.age

    def _condition_spans(self, text: str) -> list[tuple[int, int]]:
        return [(m.start(), m.end()) for m in self.disease_names[0].finditer(text)]

    def _general_question(self, facts: TextFacts, spans: list[tuple[int, int]], current: list[Any]) -> bool:
        """"心肌梗死有哪些早期症状？" / "一氧化碳中毒是怎么回事": a question about a named condition, with no
        symptom of the writer's own outside the condition names and nothing placing it in a current event."""
        text = facts.text
        if not spans or not any(w in text for w in self.question_words):
            return False
        if any(w in text for w in self.event_words):
            return False
        return all(any(m.start < b and a < m.end for a, b in spans) for m in current)

    def _red_flags(self, facts: TextFacts) -> list[Any]:
        spans = self._condition_spans(facts.text)
        current = [m for m in facts.current if not m.chronic]
        if self.follow_up_words and any(w in facts.text for w in self.follow_up_words):
            # "心梗放了支架，现在复查": a condition named next to follow-up words is history, not an event.
            current = [m for m in current if not any(m.start < b and a < m.end for a, b in spans)]
        if self._general_question(facts, spans, current):
            return []
        if any(m.symptom == "orthopnea" for m in current):
            # Breathless only when lying flat (垫两个枕头才能睡) is orthopnoea: heart failure, urgent but not 120.
            current = [m for m in current if m.symptom != "dyspnea" or m.strong]
        present = {m.symptom for m in current}
        severe = {m.symptom for m in current if m.severity == "severe"}
        strong = {m.symptom for m in current if m.strong}
        mild = {m.symptom for m in current if m.severity == "mild"} - {m.symptom for m in current
                                                                          if m.severity != "mild"}
        fired = []
        for rf, phrases in self.flag_phrases:
            hit = False
            for rule in rf.when:
                if not set(rule.all) <= present:
                    continue
                # One symptom "severe" on its own is an emergency only with a strong word (打滚, 湿透, 喷射);
                # 疼得厉害 / 很多 are enough in a composition or with a population (孕妇腹痛得厉害).
                single = len(rule.all) == 1 and not rule.population
                if rule.severity == "strong" or (rule.severity == "severe" and single):
                    if not set(rule.all) & strong:
                        continue
                elif rule.severity == "severe" and not (set(rule.all) & severe):
                    continue
                if rule.severity == "moderate" and set(rule.all) & mild:
                    continue
                if rule.population and rule.population not in facts.populations:
                    continue
                hit = True
                break
            if not hit:
                for rx in phrases:
                    for m in rx.finditer(facts.text):
                        cs, ce = next(((a, b) for a, b in self.lex._clauses(facts.text) if a <= m.start() < b),
                                      (0, len(facts.text)))
                        if not self.lex._negated(facts.text, cs, ce, m.start(), m.end(), []) \
                                and not self.lex._historical(facts.text, cs, ce, m.start(), m.end()):
                            hit = True
                            break
                    if hit:
                        break
            if hit:
                fired.append(rf)
        return fired

    def _known_condition(self, facts: TextFacts, fired: list[Any]) -> tuple[list[Any], list[Any]]:
        """癫痫病史 / 医生说是癫痫 / 哪家医院治癫痫好: a seizure or faint told as part of a condition the writer already
        knows (named, and diagnosed, recurring, or asked about for its care) is not an emergency now. Lifted only when
        every fired flag may be lifted and no word says it is happening now or dangerous in itself (还在抽, 一次接一次,
        没醒过来, 十分钟了, 发烧, 怀孕). Returns (flags kept, flags lifted)."""
        if not fired or not self.known_flags or any(rf.id not in self.known_flags for rf in fired):
            return fired, []
        text = facts.text
        if not any(w in text for w in self.known_terms):
            return fired, []
        if not (any(w in text for w in self.known_diagnosed) or any(w in text for w in self.known_care)):
            return fired, []
        if any(w in text for w in self.ongoing_words):
            return fired, []
        return [], fired

    def _informational(self, facts: TextFacts) -> bool:
        """怎么预防煤气中毒 / 小说里的人吐血 / just asking: a question about knowledge, prevention or fiction,
        with nothing placing it in a current event (现在, 刚才, 突然, 救命)."""
        text = facts.text
        return any(w in text for w in self.informational_words) and not any(w in text for w in self.present_time_words)

    def _semantic_red_flag(self, facts: TextFacts, strict: bool = False) -> list[Any]:
        """The safety net: wording close to emergencies the rules do not know. Not for a general question about a
        named condition (心梗有哪些症状), which the rules already recognise."""
        if self.semantic is None or self.semantic_flag is None:
            return []
        if facts.resolved and not [m for m in facts.current if not m.chronic]:
            return []  # "…passed in 10 min, fine now": the writer says it is over and names nothing ongoing
        spans = self._condition_spans(facts.text)
        if self._general_question(facts, spans, [m for m in facts.current if not m.chronic]):
            return []
        fired, _ = self.semantic.fires(facts.text, strict=strict or self._reassuring(facts))
        return [self.semantic_flag] if fired else []

    def _reassuring(self, facts: TextFacts) -> bool:
        """The rules understood the text and found it benign: a dangerous symptom is there only negated or in the
        past (没有胸痛, 去年中风过), or every current symptom is a mild, routine one (打呼噜, 累)."""
        symptoms = self.kb.symptoms
        discounted = any(symptoms[m.symptom].urgency == "emergency" and (m.negated or m.historical or m.chronic)
                         for m in facts.mentions)
        current = [m for m in facts.current if not m.chronic]
        routine = bool(current) and all(symptoms[m.symptom].urgency == "routine" and m.severity != "severe"
                                        for m in current)
        return discounted or routine

    def _conditions(self, facts: TextFacts, mentioned: list[str], en: bool) -> list[dict[str, Any]]:
        present = {m.symptom for m in facts.present}
        pops = facts.populations
        scored = []
        for d in self.kb.diseases.values():
            matched = [s for s in d.symptoms if s in present]
            weight = sum(self.idf.get(s, 1.0) for s in matched)
            # One common symptom (fever alone) says little; keep it only when it is specific.
            if d.id not in mentioned and (not matched or (len(matched) == 1 and weight < 2.5)):
                continue
            if d.department == self.route.obstetrics and "pregnant" not in pops and "postpartum" not in pops \
                    and d.id not in mentioned:
                continue
            score = weight / (1 + 0.15 * len(d.symptoms))
            if "child" in pops and d.department == self.route.pediatrics:
                score *= self.w.child_condition_boost
            if d.id in mentioned:
                score += 5.0
            scored.append((score, d, matched))
        scored.sort(key=lambda t: (-t[0], t[1].id))
        top = scored[:5]
        total = sum(s for s, _, _ in top) or 1.0
        return [{"id": d.id, "name": d.name_en if en else d.name, "score": round(s / total, 3),
                 "matched_symptoms": matched, "department": d.department,
                 "source": {"id": f"disease:{d.id}", "knowledge_version": self.kb.version}}
                for s, d, matched in top]

    def _cues(self, text: str) -> list[tuple[str, float]]:
        """Distinct department cues in the text, as (department, weight)."""
        seen: dict[str, tuple[str, float]] = {}
        for rx in (self.cue_zh, self.cue_en):
            for m in rx.finditer(text):
                seen.setdefault(m.group(0), self.cue_table[m.group(0)])
        return list(seen.values())

    def _department_scores(self, facts: TextFacts, diseases: list[str], indicators: list[str],
                           named_depts: list[str], conditions: list[dict[str, Any]],
                           cues: list[tuple[str, float]] = (),
                           learned: Any = None) -> dict[str, float]:
        scores: dict[str, float] = {}

        def add(dept: str, w: float) -> None:
            scores[dept] = scores.get(dept, 0.0) + w

        for dept, w in cues:
            add(dept, w)
        for dept, w in (learned.hints if learned else {}).items():  # drugs, pasted lab values (router.py)
            add(dept, w)

        counted: dict[str, float] = {}
        for m in facts.present:
            factor = self.w.severity[m.severity] * (self.w.historical if m.historical else 1.0)
            counted[m.symptom] = max(counted.get(m.symptom, 0.0), factor)
        for sid, factor in counted.items():
            for dept, w in self.kb.symptoms[sid].dept.items():
                add(dept, w * factor)
        for did in diseases:
            add(self.kb.diseases[did].department, self.w.disease_named)
        for code in indicators:
            interp = self.kb.interpretations.get(code)
            by_rank = self.w.indicator_by_rank
            for rank, dept in enumerate(interp.departments[:len(by_rank)] if interp else ()):
                add(dept, by_rank[rank])
        for dept in named_depts:
            add(dept, self.w.department_named)
        # A fever lasting a week or more is worked up as 发热待查 by 感染科.
        if "fever" in counted and facts.durations and \
                max(d.days for d in facts.durations) >= self.w.prolonged_fever_days:
            add(self.route.prolonged_fever, self.w.prolonged_fever)
        for c in conditions[:3]:
            add(c["department"], self.w.condition * c["score"])
        if learned and learned.model and not learned.after_moves:  # learned router (router.py, Evidence)
            learned.add_to(scores)
        # "医生建议手术" / "想开刀" / "做了手术": the surgical counterpart of the internal department takes over.
        if any(w in facts.text for w in self.surgery_words):
            for internal, surgical in self.surgical_counterpart.items():
                if scores.get(internal, 0.0) > 0:
                    add(surgical, self.w.surgery_share * scores[internal] + self.w.surgery_bonus)
                    scores[internal] *= self.w.surgery_internal_keep
        # Questions about cancer treatment (化疗, 放疗, 靶向药) belong to oncology whichever organ is named.
        if any(w in facts.text for w in self.cancer_treatment_words):
            # 淋巴瘤化疗: a department that treats its own cancers (routing.yaml own_cancer_treatment) keeps them
            own = [d for d in dict.fromkeys(self.kb.diseases[x].department for x in diseases)
                   if d in self.own_cancer_treatment]
            add(own[0] if own else self.route.oncology, self.w.cancer_treatment)
        kinds = {d.id: d.kind for d in self.kb.departments.values()}
        obstetrics, w = self.route.obstetrics, self.w
        if "pregnant" in facts.populations:
            moved = sum(v for d, v in scores.items() if kinds[d] in self.pregnancy_kinds and d != obstetrics)
            scores = {d: (v * w.pregnancy_keep if kinds[d] in self.pregnancy_kinds and d != obstetrics else v)
                      for d, v in scores.items()}
            add(obstetrics, w.pregnancy_share * moved + w.pregnancy_bonus)
        elif "child" in facts.populations:
            child = {d for d in scores if d in self.child_departments}
            moved = sum(v for d, v in scores.items() if d in child)
            scores = {d: (v * w.child_keep if d in child else v) for d, v in scores.items()}
            add(self.route.pediatrics, w.child_share * moved + w.child_bonus)
        elif "postpartum" in facts.populations:
            add(obstetrics, w.postpartum)
        if learned and learned.model and learned.after_moves:
            learned.add_to(scores)
        # 胃痛 / 咳嗽发烧 with nothing specific named (no condition, indicator, department, drug, lab value or strong
        # cue): 普通内科, the first stop for an undifferentiated complaint, is offered beside the specialist.
        share = self.w.generalist_share
        if share and facts.present and not (diseases or indicators or named_depts or (learned and learned.hints)) \
                and not any(w >= 4.0 for _, w in cues) \
                and not facts.populations & {"child", "infant", "pregnant", "postpartum"}:
            best = max(scores.values(), default=0.0)
            fallback = self.route.fallback
            if best > 0 and scores.get(fallback, 0.0) < share * best:
                scores[fallback] = share * best
        return {d: v for d, v in scores.items() if v > 0}

    def _top(self, scores: dict[str, float], en: bool) -> list[dict[str, Any]]:
        total = sum(scores.values()) or 1.0
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        return [{"id": d, "name": self.kb.departments[d].name_en if en else self.kb.departments[d].name,
                 "score": round(v / total, 3),
                 "source": {"id": f"department:{d}", "knowledge_version": self.kb.version}} for d, v in ranked]

    def _urgency(self, facts: TextFacts, diseases: list[str], indicators: list[str]) -> str:
        levels = []
        for m in facts.current:
            base = self.kb.symptoms[m.symptom].urgency
            # Emergency-level single symptoms are only emergencies through a red-flag rule.
            base = "urgent" if base == "emergency" else base
            levels.append(_URGENCY_UP[base] if m.severity == "severe" and base != "urgent" else base)
        if indicators:
            levels.append("soon")
        urgency = max_urgency(*levels) if levels else "routine"
        if diseases and not levels:
            urgency = "routine"
        long_standing = facts.durations and min(d.days for d in facts.durations) >= 60
        if urgency == "soon" and long_standing and not any(m.severity == "severe" for m in facts.current):
            urgency = "routine"
        return urgency

    def _advice(self, result: dict[str, Any], en: bool) -> str:
        if result["red_flags"]:
            return " ".join(r["advice"] for r in result["red_flags"])
        dept = result["departments"][0]["name"] if result["departments"] else ""
        return self.kb.text(f"triage.advice.{result['urgency']}", "en" if en else "zh", department=dept)
