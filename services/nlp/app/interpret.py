"""Indicator interpretation: flag each result (report flag > printed range > knowledge range), explain the
abnormal ones, fire cross-indicator patterns, and derive urgency, departments and tips tags.

Pure and deterministic: the same request and knowledge version always give the same answer."""
from __future__ import annotations

import re
import unicodedata
from typing import Any

from .errors import NoIndicatorsError, UnknownIndicatorsError
from .knowledge import URGENCY_ORDER, CriticalReading, Indicator, KnowledgeBase, Range, Reading, max_urgency
from .rules import Facts, parse

_FLAG_HIGH = {"h", "high", "↑", "偏高", "高", "升高", "hh", "+", "a", "abnormal high", "↑↑"}
_FLAG_LOW = {"l", "low", "↓", "偏低", "低", "降低", "ll", "↓↓"}
_FLAG_NORMAL = {"n", "normal", "正常", "-", "阴性", "neg", "negative", ""}
_FLAG_POSITIVE = {"阳性", "pos", "positive", "p", "弱阳性", "+"}
_VALUE = re.compile(r"^\s*[<>≤≥]?\s*(-?\d+(?:\.\d+)?)\s*([↑↓]*|[hHlL])?\s*$")
_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:-|~|～|—|–|至|到)\s*(-?\d+(?:\.\d+)?)\s*$")
_ONE_SIDED = re.compile(r"^\s*([<>≤≥]|<=|>=)\s*(-?\d+(?:\.\d+)?)\s*$")
_POSITIVE_WORDS = ("阳性", "positive", "pos", "+")


def _unit_key(u: str) -> str:
    u = unicodedata.normalize("NFKC", u).replace(" ", "")
    for a, b in (("µ", "u"), ("μ", "u"), ("×", "x"), ("*", "x"), ("⁹", "^9"), ("¹²", "^12"), ("²", "2")):
        u = u.replace(a, b)
    return u.lower()


class Interpreter:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.by_code_ci = {c.lower(): c for c in kb.indicators}
        self.by_name: dict[str, str] = {}
        for code, ind in kb.indicators.items():
            for name in (ind.name, ind.name_en, *ind.aliases):
                self.by_name.setdefault(self._name_key(name), code)
        self.unit_variants: dict[str, str] = {}
        units_file = kb.root / "indicators" / "units.yaml"
        if units_file.exists():
            import yaml

            for canonical, variants in (yaml.safe_load(units_file.read_text(encoding="utf-8"))["units"]).items():
                for v in (canonical, *variants):
                    self.unit_variants.setdefault(_unit_key(v), canonical)
        self.patterns = [(p, parse(p.when)) for p in kb.patterns]
        self.med_names = [(n.lower(), m.id) for m in kb.medications.values() for n in (m.name, m.name_en, *m.names)]

    @staticmethod
    def _name_key(name: str) -> str:
        return unicodedata.normalize("NFKC", name).replace(" ", "").lower()

    def resolve(self, code: str | None, name: str | None) -> str | None:
        for cand in (code, name):
            if not cand:
                continue
            if cand in self.kb.indicators:
                return cand
            hit = self.by_code_ci.get(cand.strip().lower()) or self.by_name.get(self._name_key(cand))
            if hit:
                return hit
        return None

    def medication_classes(self, meds: list[str]) -> list[str]:
        found = set()
        for med in meds:
            low = med.lower()
            found.update(mid for name, mid in self.med_names if name and name in low)
        return sorted(found)

    # ---- one indicator ----
    def _convert(self, ind: Indicator, value: float, unit: str | None) -> float | None:
        if not unit or ind.unit is None:
            return value
        canonical = self.unit_variants.get(_unit_key(unit))
        for key in filter(None, (canonical, unit)):
            if key in ind.units:
                return value * ind.units[key]
        if _unit_key(unit) == _unit_key(ind.unit):
            return value
        return None

    @staticmethod
    def _parse_reference(ref: Any) -> Range | None:
        if ref is None:
            return None
        if isinstance(ref, dict):
            return Range(low=ref.get("low"), high=ref.get("high"))
        text = unicodedata.normalize("NFKC", str(ref))
        m = _RANGE.match(text)
        if m:
            return Range(low=float(m.group(1)), high=float(m.group(2)))
        m = _ONE_SIDED.match(text)
        if m:
            return Range(high=float(m.group(2))) if m.group(1) in ("<", "≤", "<=") else Range(low=float(m.group(2)))
        return None

    @staticmethod
    def _compare(value: float, rng: Range | None) -> str | None:
        if rng is None:
            return None
        if rng.high is not None and value > rng.high:
            return "high"
        if rng.low is not None and value < rng.low:
            return "low"
        return "normal"

    def _qualitative(self, ind: Indicator, value: str) -> str:
        v = unicodedata.normalize("NFKC", value).strip().lower()
        normal = {unicodedata.normalize("NFKC", n).strip().lower() for n in ind.normal}
        if v in normal or v in ("阴性", "-", "neg", "negative", "正常", "normal"):
            return "normal"
        scale = [unicodedata.normalize("NFKC", s).lower() for s in ind.scale]
        if v in scale:
            return "normal" if scale.index(v) == 0 else "positive"
        if ind.kind == "text":
            return "positive"
        if any(w in v for w in _POSITIVE_WORDS) or re.fullmatch(r"\d\+|\++", v):
            return "positive"
        return "unknown"

    def assess(self, item: dict[str, Any], code: str, sex: str | None) -> dict[str, Any]:
        ind = self.kb.indicators[code]
        raw_value, unit, flag = item.get("value"), item.get("unit"), item.get("flag")
        out: dict[str, Any] = {"code": code, "name": ind.name, "name_en": ind.name_en, "value": raw_value,
                               "unit": unit or ind.unit, "status": "unknown", "reference": None,
                               "canonical_value": None}
        flag_key = unicodedata.normalize("NFKC", str(flag)).strip().lower() if flag is not None else None
        if ind.kind in ("qualitative", "text") and not isinstance(raw_value, (int, float)):
            out["status"] = self._qualitative(ind, str(raw_value))
            if flag_key in _FLAG_POSITIVE | _FLAG_HIGH - {"+"} and out["status"] == "normal":
                out["status"] = "positive"
            return out
        value: float | None
        if isinstance(raw_value, (int, float)) and not isinstance(raw_value, bool):
            value = float(raw_value)
        else:
            m = _VALUE.match(unicodedata.normalize("NFKC", str(raw_value)))
            value = float(m.group(1)) if m else None
            if m and m.group(2) and flag_key is None:
                flag_key = m.group(2).lower()
        if value is None:
            out["reason"] = "value_not_numeric"
            return out
        canonical = self._convert(ind, value, unit)
        out["canonical_value"] = canonical
        status = None
        if flag_key is not None and flag_key in _FLAG_HIGH | _FLAG_LOW | _FLAG_NORMAL:
            status = "high" if flag_key in _FLAG_HIGH else "low" if flag_key in _FLAG_LOW else "normal"
        printed = self._parse_reference(item.get("reference"))
        if printed is not None:
            out["reference"] = {"low": printed.low, "high": printed.high, "source": "report"}
            status = status or self._compare(value, printed)
        elif canonical is not None:
            kb_ref = ind.reference(sex)
            if kb_ref is not None:
                out["reference"] = {"low": kb_ref.low, "high": kb_ref.high, "source": "knowledge",
                                    "unit": ind.unit}
                status = status or self._compare(canonical, kb_ref)
        if status is None:
            out["reason"] = "unit_not_convertible" if canonical is None else "no_reference_range"
            return out
        if canonical is not None and ind.critical is not None:
            crit = ind.critical
            if crit.high is not None and canonical >= crit.high:
                status = "critical_high"
            elif crit.low is not None and canonical <= crit.low:
                status = "critical_low"
        out["status"] = status
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
            results.append(self.assess(item, code, sex))
        if not results:
            raise UnknownIndicatorsError(details={"unknown": unknown,
                                                  "hint": "use canonical codes such as WBC, HGB, GLU, ALT"})
        dept_scores: dict[str, float] = {}
        tags: set[str] = set()
        urgencies: list[str] = []
        for r in results:
            self._explain(r, en, version, dept_scores, tags, urgencies)
        med_classes = self.medication_classes(medications or [])
        facts = Facts(status={r["code"]: r["status"] for r in results if r["status"] != "unknown"},
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
        abnormal = [r for r in results if r["status"] not in ("normal", "unknown")]
        if any(r["status"].startswith("critical") for r in abnormal):
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
            "summary": self._summary(results, abnormal, urgency, en),
            "urgency": urgency,
            "indicators": results,
            "patterns": patterns,
            "departments": departments,
            "tags": sorted(tags),
            "medication_classes": med_classes,
            "unknown_indicators": unknown,
            "disclaimer": ("This explanation is for health education and does not replace a doctor's diagnosis."
                           if en else "以上解读仅供健康科普参考，不能替代医生的诊断。"),
        }

    def _explain(self, r: dict[str, Any], en: bool, version: str, dept_scores: dict[str, float],
                 tags: set[str], urgencies: list[str]) -> None:
        status = r["status"]
        r["explanation"] = None
        if status in ("normal", "unknown"):
            return
        interp = self.kb.interpretations.get(r["code"])
        if interp is None:  # guarded by a test; keep serving if data lags behind
            r["explanation"] = {"text": "暂无该指标的解读。" if not en else "No interpretation yet.",
                                "urgency": "soon", "source": None}
            urgencies.append("soon")
            return
        direction = "high" if status in ("high", "critical_high") else "low" if status in ("low", "critical_low") \
            else "positive"
        reading: Reading | None = getattr(interp, direction) or (interp.high if direction == "positive" else None)
        if reading is None:
            text = ("This result is slightly outside the usual range, which on its own rarely matters; "
                    "mention it at your next visit." if en else "该指标这一方向的轻度变化单独出现时临床意义通常不大，复诊时告诉医生即可。")
            r["explanation"] = {"measures": interp.measures_en if en else interp.measures, "meaning": text,
                                "causes": None, "advice": None, "urgency": "routine",
                                "source": {"id": f"interpretation:{r['code']}", "knowledge_version": version}}
            urgencies.append("routine")
            return
        urgency = reading.urgency
        advice = reading.advice_en if en else reading.advice
        if status.startswith("critical"):
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

    @staticmethod
    def _summary(results: list[dict], abnormal: list[dict], urgency: str, en: bool) -> str:
        words_zh = {"routine": "常规随访即可", "soon": "建议近期（数日内）就诊", "urgent": "建议今天就医",
                    "emergency": "请立即就医或拨打120"}
        words_en = {"routine": "routine follow-up", "soon": "see a doctor within a few days",
                    "urgent": "seek care today", "emergency": "seek emergency care now (call 120)"}
        if en:
            names = ", ".join(r["code"] for r in abnormal[:6])
            if not abnormal:
                return f"All {len(results)} recognised results are within the reference range."
            return f"{len(abnormal)} of {len(results)} results are outside the range ({names}); {words_en[urgency]}."
        names = "、".join(r["name"] for r in abnormal[:6])
        if not abnormal:
            return f"识别到的{len(results)}项指标均在参考范围内。"
        return f"{len(results)}项指标中有{len(abnormal)}项异常（{names}），{words_zh[urgency]}。"
