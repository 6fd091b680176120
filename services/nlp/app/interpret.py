"""Indicator interpretation: flag each result (report flag > printed range > knowledge range), explain the
abnormal ones, fire cross-indicator patterns, and derive urgency, departments and tips tags.

Pure and deterministic: the same request and knowledge version always give the same answer."""
from __future__ import annotations

import re
from typing import Any

from zhenxi_knowledge import ABNORMAL_FLAGS, CRITICAL_FLAGS, HIGH_FLAGS, LOW_FLAGS, parse_flag, same_direction

from .errors import NoIndicatorsError, UnknownIndicatorsError
from .knowledge import URGENCY_ORDER, CriticalReading, KnowledgeBase, Reading, max_urgency
from .rules import Facts


# The flags of a number against its range: what a printed mark and the value's own verdict are compared on.
NUMERIC_FLAGS = HIGH_FLAGS | LOW_FLAGS | {"N"}


class Interpreter:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.patterns = [(p, kb.pattern_rules[p.id]) for p in kb.patterns]
        kb.require_templates(*(f"interpretation.{k}" for k in (
            "all_normal", "some_abnormal", "missing", "minor_direction", "disclaimer", *(
                f"urgency.{u}" for u in URGENCY_ORDER))))

    def resolve(self, code: str | None, name: str | None) -> str | None:
        return self.kb.resolve_indicator(code, name)

    def medication_classes(self, meds: list[str]) -> list[str]:
        return self.kb.medication_classes(meds)

    # ---- one indicator ----
    def assess(self, item: dict[str, Any], code: str, sex: str | None, age: float | None = None) -> dict[str, Any]:
        """The flag comes from the knowledge package (printed flag > printed range > knowledge range; critical
        limits make it LL/HH); this only shapes the row."""
        ind = self.kb.indicators[code]
        raw_value, unit = item.get("value"), item.get("unit")
        a = self.kb.assess(code, raw_value, unit, sex=sex, age_years=age, printed_range=item.get("reference"),
                           printed_flag=item.get("flag"))
        reference = None
        if a.reference is not None:
            reference = {"low": a.reference["low"], "high": a.reference["high"],
                         "source": "report" if a.reference["source"] == "printed" else "knowledge"}
            if a.reference["source"] == "default":
                reference["unit"] = a.reference["unit"]
        out: dict[str, Any] = {"code": code, "name": ind.name, "name_en": ind.name_en, "value": raw_value,
                               "unit": unit or ind.unit, "flag": a.flag, "reference": reference,
                               "canonical_value": a.canonical_value}
        if a.reason:
            out["reason"] = a.reason
        # The sheet's printed flag decides (issue 9), but never silently: when the value read against the range
        # (printed, else the knowledge default) points another way (L/N/H), both are named. A value beyond a
        # critical limit (#10) is LL/HH whatever was printed; against a printed mark of the other way it is named too.
        printed = parse_flag(item.get("flag"))
        if printed in NUMERIC_FLAGS and a.from_range in NUMERIC_FLAGS and not same_direction(printed, a.from_range):
            out["flag_disagreement"] = {"printed": printed, "from_range": a.from_range,
                                        "range_source": reference["source"] if reference else None}
        return out

    # ---- the whole request ----
    def interpret(self, indicators: list[dict[str, Any]], sex: str | None = None, age: float | None = None,
                  medications: list[str] | None = None, lang: str = "zh") -> dict[str, Any]:
        if not indicators:
            raise NoIndicatorsError()
        version = self.kb.version
        en = lang == "en"
        results, unknown, seen = [], [], set()
        for item in indicators:
            code = self.resolve(item.get("code"), item.get("name"))
            if code is None:
                unknown.append({"code": item.get("code"), "name": item.get("name"), "reason": "unknown_indicator"})
                continue
            if code in seen:
                unknown.append({"code": item.get("code"), "name": item.get("name"), "reason": "duplicate_indicator"})
                continue
            seen.add(code)
            results.append(self.assess(item, code, sex, age))
        if not results:
            raise UnknownIndicatorsError(details={"unknown": unknown,
                                                  "hint": "use canonical codes such as WBC, HGB, GLU, ALT"})
        dept_scores: dict[str, float] = {}
        tags: set[str] = set()
        urgencies: list[str] = []
        for r in results:
            self._explain(r, en, version, dept_scores, tags, urgencies)
        med_classes = self.medication_classes(medications or [])
        facts = Facts(flags={r["code"]: r["flag"] for r in results if r["flag"] is not None},
                      values={r["code"]: r["canonical_value"] for r in results if r["canonical_value"] is not None},
                      sex=sex, age=age, medications=frozenset(med_classes))
        patterns = []
        for p, expr in self.patterns:
            if expr.eval(facts):
                patterns.append({
                    "id": p.id, "name": p.name_en if en else p.name,
                    "explanation": p.explanation_en if en else p.explanation,
                    "advice": p.advice_en if en else p.advice, "urgency": p.urgency,
                    "departments": list(p.departments), "tags": list(p.tags),
                    "source": {"id": f"pattern:{p.id}", "knowledge_version": version}})
                urgencies.append(p.urgency)
                tags.update(p.tags)
                for rank, d in enumerate(p.departments):
                    dept_scores[d] = dept_scores.get(d, 0) + 4 * (1 - 0.25 * rank) * (1 + URGENCY_ORDER[p.urgency])
        urgency = max_urgency(*urgencies) if urgencies else "routine"
        abnormal = [r for r in results if r["flag"] in ABNORMAL_FLAGS]
        if any(r["flag"] in CRITICAL_FLAGS for r in abnormal):
            tags.add("critical_value")
        if urgency == "emergency":  # a critical value or emergency pattern sends you to 急诊 first
            dept_scores["emergency"] = max(dept_scores.values(), default=0.0) + 10.0
        total = sum(dept_scores.values()) or 1.0
        departments = [{"id": d, "name": self.kb.departments[d].name_en if en else self.kb.departments[d].name,
                        "score": round(s / total, 3), "source": {"id": f"department:{d}", "knowledge_version": version}}
                       for d, s in sorted(dept_scores.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]
        return {
            "knowledge_version": version,
            "language": lang,
            "summary": self._summary(results, abnormal, urgency, lang),
            "urgency": urgency,
            "indicators": results,
            "patterns": patterns,
            "departments": departments,
            "tags": sorted(tags),
            "medication_classes": med_classes,
            "unknown_indicators": unknown,
            "disclaimer": self.kb.text("interpretation.disclaimer", lang),
        }

    def _explain(self, r: dict[str, Any], en: bool, version: str, dept_scores: dict[str, float],
                 tags: set[str], urgencies: list[str]) -> None:
        flag = r["flag"]
        r["explanation"] = None
        if flag not in ABNORMAL_FLAGS:
            return
        interp = self.kb.interpretations.get(r["code"])
        if interp is None:  # guarded by a test; keep serving if data lags behind
            r["explanation"] = {"text": self.kb.text("interpretation.missing", "en" if en else "zh"),
                                "urgency": "soon", "source": None}
            urgencies.append("soon")
            return
        direction = "high" if flag in HIGH_FLAGS else "low" if flag in LOW_FLAGS else "positive"
        reading: Reading | None = getattr(interp, direction) or (interp.high if direction == "positive" else None)
        if reading is None:
            text = self.kb.text("interpretation.minor_direction", "en" if en else "zh")
            r["explanation"] = {"measures": interp.measures_en if en else interp.measures, "meaning": text,
                                "causes": None, "advice": None, "urgency": "routine",
                                "source": {"id": f"interpretation:{r['code']}", "knowledge_version": version}}
            urgencies.append("routine")
            return
        urgency = reading.urgency
        advice = reading.advice_en if en else reading.advice
        if flag in CRITICAL_FLAGS:
            crit = interp.critical or CriticalReading()
            urgency = max_urgency(urgency, crit.urgency)
            advice = (crit.advice_en if en else crit.advice) + " " + advice
        r["explanation"] = {
            "measures": interp.measures_en if en else interp.measures,
            "meaning": reading.meaning_en if en else reading.meaning,
            "causes": reading.causes_en if en else reading.causes,
            "advice": advice, "urgency": urgency,
            "source": {"id": f"interpretation:{r['code']}#{direction}", "knowledge_version": version},
            "related_conditions": self._related(r["code"], direction, en),
        }
        urgencies.append(urgency)
        tags.update(reading.tags)
        tags.add(re.sub(r"[^a-z0-9]+", "_", r["code"].lower()).strip("_") + f"_{direction}")
        for rank, d in enumerate(interp.departments):
            dept_scores[d] = dept_scores.get(d, 0) + 3 * (1 - 0.3 * rank) * (1 + URGENCY_ORDER[urgency])

    def _related(self, code: str, direction: str, en: bool) -> list[dict[str, str]]:
        out = []
        for d in self.kb.diseases.values():
            if any(ref.code == code and ref.direction in (direction, "abnormal") for ref in d.indicators):
                out.append({"id": f"disease:{d.id}", "name": d.name_en if en else d.name})
        return out[:4]

    def _summary(self, results: list[dict], abnormal: list[dict], urgency: str, lang: str) -> str:
        if not abnormal:
            return self.kb.text("interpretation.all_normal", lang, count=len(results))
        names = (", " if lang == "en" else "、").join(r["code" if lang == "en" else "name"] for r in abnormal[:6])
        return self.kb.text("interpretation.some_abnormal", lang, count=len(results), abnormal=len(abnormal),
                            names=names, urgency=self.kb.text(f"interpretation.urgency.{urgency}", lang))
