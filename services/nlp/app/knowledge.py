"""Load and validate the knowledge base (YAML under ``knowledge/``) into typed, cross-checked objects.

The version is a content hash of every file read, so two processes with the same files report the same
``knowledge_version`` and every statement we produce can be traced to the exact data it came from."""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

Urgency = Literal["routine", "soon", "urgent", "emergency"]
URGENCY_ORDER: dict[str, int] = {"routine": 0, "soon": 1, "urgent": 2, "emergency": 3}
XRAY_FINDINGS = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
                 "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia")
DEFAULT_ROOT = Path(__file__).resolve().parents[3] / "knowledge"


def max_urgency(*levels: str | None) -> str:
    present = [lv for lv in levels if lv]
    return max(present, key=URGENCY_ORDER.__getitem__) if present else "routine"


class KnowledgeError(ValueError):
    """The knowledge files are inconsistent; raised at load time so a broken KB never serves."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Department(_Model):
    id: str
    name: str
    name_en: str
    kind: Literal["internal", "surgical", "women_children", "specialty", "acute", "mental"]
    synonyms: tuple[str, ...] = ()
    scope: str
    scope_en: str
    # Where a question goes when the patient wants or had an operation (神经科 -> 神经外科).
    surgical_counterpart: str | None = None
    # Whether a child's problem here is seen in 儿科 first; default: internal and mental departments.
    children_to_pediatrics: bool | None = None


class DepartmentCues(_Model):
    """Words that point a question to a department without being symptoms: conditions, tests, procedures, drugs,
    situations (knowledge/departments/terms.yaml)."""
    strong: tuple[str, ...] = ()
    weak: tuple[str, ...] = ()
    en: tuple[str, ...] = ()


class Symptom(_Model):
    id: str
    name: str
    en_name: str
    terms: tuple[str, ...]
    en: tuple[str, ...] = ()
    dept: dict[str, float]
    urgency: Urgency = "routine"


class RedFlagRule(_Model):
    all: tuple[str, ...]
    # severe: one listed symptom graded severe (ordinary severity words in its own clause; a single-symptom rule
    # without a population needs a STRONG word); strong: one listed symptom with a strong word; moderate: none mild.
    severity: Literal["severe", "strong", "moderate"] | None = None
    population: Literal["child", "infant", "pregnant", "postpartum"] | None = None


class RedFlag(_Model):
    id: str
    name: str
    name_en: str
    when: tuple[RedFlagRule, ...]
    phrases: tuple[str, ...] = ()
    advice: str
    advice_en: str

    @field_validator("when", mode="before")
    @classmethod
    def _lists_are_rules(cls, v: Any) -> Any:
        return [{"all": item} if isinstance(item, list) else item for item in v]


class Composition(_Model):
    parts: tuple[str, ...]
    cues: tuple[str, ...]
    symptom: str


class Context(_Model):
    negation_cues: tuple[str, ...]
    negation_cues_en: tuple[str, ...]
    pseudo_negations: tuple[str, ...]
    scope_terminators: tuple[str, ...]
    scope_terminators_en: tuple[str, ...]
    history_cues: tuple[str, ...]
    severity: dict[Literal["severe", "strong", "mild"], tuple[str, ...]]
    populations: dict[Literal["child", "infant", "pregnant", "postpartum", "elderly"], tuple[str, ...]]
    intents: dict[str, tuple[str, ...]]
    out_of_scope: tuple[str, ...]
    compositions: tuple[Composition, ...] = ()
    # Figures of speech blanked out before any matching (笑死, 加班加到吐血, 想死你了).
    figurative: tuple[str, ...] = ()
    # Words that close an episode (现在没事了, 缓过来了): symptoms before them are past, not a current emergency.
    resolved_cues: tuple[str, ...] = ()
    # Word lists the triage rules read (context.yaml `routing`): surgery_intent, cancer_treatment, event_words,
    # present_time, pregnancy_ruled_out, not_indicator_codes.
    routing: dict[str, tuple[str, ...]] = {}


class IndicatorRef(_Model):
    code: str
    direction: Literal["high", "low", "positive", "abnormal"]


class Disease(_Model):
    id: str
    name: str
    name_en: str
    aliases: tuple[str, ...] = ()
    department: str
    urgency: Urgency
    symptoms: tuple[str, ...] = ()
    indicators: tuple[IndicatorRef, ...] = ()
    findings: tuple[str, ...] = ()
    description: str
    description_en: str
    self_care: str
    self_care_en: str
    see_doctor: str
    see_doctor_en: str
    treatment: str
    treatment_en: str

    @field_validator("indicators", mode="before")
    @classmethod
    def _parse_refs(cls, v: Any) -> Any:
        out = []
        for item in v or []:
            if isinstance(item, str):
                code, _, direction = item.rpartition(":")
                out.append({"code": code, "direction": direction})
            else:
                out.append(item)
        return out


class Range(_Model):
    low: float | None = None
    high: float | None = None


class Indicator(BaseModel):
    """One entry of the OCR-owned indicator KB; unknown keys are ignored (its README asks readers to)."""
    model_config = ConfigDict(extra="ignore", frozen=True)
    code: str
    panel: str
    name: str
    name_en: str
    aliases: tuple[str, ...] = ()
    kind: Literal["quantitative", "qualitative", "text"] = "quantitative"
    unit: str | None = None
    units: dict[str, float] = Field(default_factory=dict)
    decimals: int | None = None
    ref: Range | None = None
    ref_male: Range | None = None
    ref_female: Range | None = None
    critical: Range | None = None
    normal: tuple[str, ...] = ()
    scale: tuple[str, ...] = ()

    def reference(self, sex: str | None) -> Range | None:
        if sex == "male" and self.ref_male:
            return self.ref_male
        if sex == "female" and self.ref_female:
            return self.ref_female
        if self.ref:
            return self.ref
        if self.ref_male and self.ref_female:  # sex unknown: the union, so nobody is flagged wrongly
            lows = [r.low for r in (self.ref_male, self.ref_female) if r.low is not None]
            highs = [r.high for r in (self.ref_male, self.ref_female) if r.high is not None]
            return Range(low=min(lows) if len(lows) == 2 else None, high=max(highs) if len(highs) == 2 else None)
        return None


class Reading(_Model):
    """What one direction (high / low / positive) of an indicator usually means."""
    meaning: str
    meaning_en: str
    causes: str
    causes_en: str
    advice: str
    advice_en: str
    urgency: Urgency = "soon"
    tags: tuple[str, ...] = ()


class CriticalReading(_Model):
    advice: str = "该结果达到危急值，请今天就医或立即联系开单医生。"
    advice_en: str = "This result is at a critical level: seek medical care today or contact the ordering doctor now."
    urgency: Urgency = "urgent"


class Interpretation(_Model):
    code: str
    aliases: tuple[str, ...] = ()  # extra everyday names for search ("转氨酶"), on top of the indicator KB's
    measures: str
    measures_en: str
    departments: tuple[str, ...]
    high: Reading | None = None
    low: Reading | None = None
    positive: Reading | None = None
    critical: CriticalReading | None = None


class Pattern(_Model):
    id: str
    name: str
    name_en: str
    when: str
    explanation: str
    explanation_en: str
    advice: str
    advice_en: str
    urgency: Urgency = "soon"
    departments: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


class MedicationClass(_Model):
    id: str
    name: str
    name_en: str
    names: tuple[str, ...]


class KnowledgeBase:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._hash = hashlib.sha256()
        self.departments: dict[str, Department] = {}
        self.cues: dict[str, DepartmentCues] = {}
        self.symptoms: dict[str, Symptom] = {}
        self.red_flags: list[RedFlag] = []
        self.diseases: dict[str, Disease] = {}
        self.indicators: dict[str, Indicator] = {}
        self.interpretations: dict[str, Interpretation] = {}
        self.patterns: list[Pattern] = []
        self.medications: dict[str, MedicationClass] = {}
        self.context: Context
        self._load()
        self.version = self._hash.hexdigest()[:12]
        self._validate()

    # ---- loading ----
    def _read(self, path: Path) -> Any:
        raw = path.read_bytes()
        self._hash.update(str(path.relative_to(self.root)).encode() + b"\0" + raw + b"\0")
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise KnowledgeError(f"{path}: {exc}") from exc

    def _files(self, sub: str) -> list[Path]:
        return sorted((self.root / sub).glob("*.yaml"))

    def _load(self) -> None:
        try:
            for path in self._files("departments"):
                data = self._read(path)
                for d in data.get("departments", []):
                    self._put(self.departments, Department(**d), path)
                for dept, c in (data.get("cues") or {}).items():
                    self._put(self.cues, DepartmentCues(**(c or {})), path, key=dept)
            for path in self._files("symptoms"):
                data = self._read(path)
                for s in data.get("symptoms", []):
                    self._put(self.symptoms, Symptom(**s), path)
                self.red_flags += [RedFlag(**r) for r in data.get("red_flags", [])]
                if "negation_cues" in data:
                    self.context = Context(**{k: v for k, v in data.items() if k != "version"})
            for path in self._files("diseases"):
                for d in self._read(path)["diseases"]:
                    self._put(self.diseases, Disease(**d), path)
            self._load_indicators()
            for path in self._files("interpretations"):
                for code, entry in (self._read(path).get("interpretations") or {}).items():
                    self._put(self.interpretations, Interpretation(code=code, **entry), path, key=code)
            for path in self._files("patterns"):
                data = self._read(path)
                self.patterns += [Pattern(**p) for p in data.get("patterns", [])]
                for m in data.get("medications", []):
                    self._put(self.medications, MedicationClass(**m), path)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, KnowledgeError):
                raise
            raise KnowledgeError(f"invalid knowledge entry: {exc}") from exc

    def _load_indicators(self) -> None:
        index = self._read(self.root / "indicators" / "index.yaml")
        for name in index["panel_files"]:
            path = self.root / "indicators" / name
            if not path.exists():
                continue
            data = self._read(path)
            for code, entry in (data.get("indicators") or {}).items():
                if code not in self.indicators:  # index order settles clashes, as the OCR README says
                    self.indicators[code] = Indicator(code=code, panel=data["panel"], **entry)

    @staticmethod
    def _put(table: dict, item: Any, path: Path, key: str | None = None) -> None:
        key = key or item.id
        if key in table:
            raise KnowledgeError(f"{path}: duplicate id {key!r}")
        table[key] = item

    # ---- cross-checks ----
    def _validate(self) -> None:
        problems: list[str] = []
        depts = set(self.departments)
        for s in self.symptoms.values():
            problems += [f"symptom {s.id}: unknown department {d}" for d in s.dept if d not in depts]
        problems += [f"cues: unknown department {d}" for d in self.cues if d not in depts]
        problems += [f"department {d.id}: unknown surgical counterpart {d.surgical_counterpart}"
                     for d in self.departments.values()
                     if d.surgical_counterpart is not None and d.surgical_counterpart not in depts]
        for rf in self.red_flags:
            for rule in rf.when:
                problems += [f"red flag {rf.id}: unknown symptom {x}" for x in rule.all if x not in self.symptoms]
        for c in self.context.compositions:
            if c.symptom not in self.symptoms:
                problems.append(f"composition: unknown symptom {c.symptom}")
        for d in self.diseases.values():
            if d.department not in depts:
                problems.append(f"disease {d.id}: unknown department {d.department}")
            problems += [f"disease {d.id}: unknown symptom {x}" for x in d.symptoms if x not in self.symptoms]
            problems += [f"disease {d.id}: unknown indicator {r.code}" for r in d.indicators
                         if r.code not in self.indicators]
            problems += [f"disease {d.id}: unknown X-ray finding {f}" for f in d.findings if f not in XRAY_FINDINGS]
        for it in self.interpretations.values():
            if it.code not in self.indicators:
                problems.append(f"interpretation {it.code}: not an indicator code")
            problems += [f"interpretation {it.code}: unknown department {d}" for d in it.departments
                         if d not in depts]
            if not (it.high or it.low or it.positive):
                problems.append(f"interpretation {it.code}: needs at least one of high/low/positive")
        from .rules import RuleError, parse  # local import: rules has no dependency back on this module's state

        for p in self.patterns:
            problems += [f"pattern {p.id}: unknown department {d}" for d in p.departments if d not in depts]
            try:
                expr = parse(p.when)
            except RuleError as exc:
                problems.append(f"pattern {p.id}: {exc}")
                continue
            problems += [f"pattern {p.id}: unknown indicator {c}" for c in expr.codes() if c not in self.indicators]
            problems += [f"pattern {p.id}: unknown medication class {m}" for m in expr.medications()
                         if m not in self.medications]
        if problems:
            raise KnowledgeError("knowledge base is inconsistent:\n  " + "\n  ".join(problems))

    def missing_interpretations(self) -> list[str]:
        return sorted(set(self.indicators) - set(self.interpretations))


@functools.lru_cache(maxsize=4)
def load_knowledge(root: str | Path | None = None) -> KnowledgeBase:
    return KnowledgeBase(Path(root) if root else DEFAULT_ROOT)
