"""Typed, frozen models of every knowledge file. Unknown keys are rejected everywhere (``extra="forbid"``), so a
typo in the YAML fails the load instead of being silently ignored."""
from __future__ import annotations

import string
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .ranges import Range as PlainRange

Urgency = Literal["routine", "soon", "urgent", "emergency"]
URGENCY_ORDER: dict[str, int] = {"routine": 0, "soon": 1, "urgent": 2, "emergency": 3}
Sex = Literal["male", "female"]


def max_urgency(*levels: str | None) -> str:
    """The most urgent of the known levels given ("routine" when none); unknown words are ignored."""
    present = [lv for lv in levels if lv in URGENCY_ORDER]
    return max(present, key=URGENCY_ORDER.__getitem__) if present else "routine"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- indicators -------------------------------------------------------------------------------------------------
class Range(Model):
    low: float | None = None
    high: float | None = None

    def plain(self) -> PlainRange:
        return PlainRange(self.low, self.high)


class AgeRange(Range):
    """A reference range for an age band (years, min inclusive, max exclusive), optionally for one sex."""
    min_age: float = 0
    max_age: float = 200
    sex: Sex | None = None


class LinearConversion(Model):
    slope: float
    intercept: float


class Indicator(Model):
    code: str
    panel: str
    loinc: str | None = None
    name: str
    name_en: str
    aliases: tuple[str, ...] = ()
    misreadings: tuple[str, ...] = ()
    kind: Literal["quantitative", "qualitative", "text"] = "quantitative"
    unit: str | None = None
    units: dict[str, float] = Field(default_factory=dict)
    decimals: int = 2
    ref: Range | None = None
    ref_male: Range | None = None
    ref_female: Range | None = None
    ref_ages: tuple[AgeRange, ...] = ()
    ref_text: str | None = None
    ref_source: str | None = None
    critical: Range | None = None
    normal: tuple[str, ...] = ()
    # other words a sheet prints as this test's result (kind text: 稀便, 黄绿色, 微浑); not normal, and no scale
    findings: tuple[str, ...] = ()
    scale: tuple[str, ...] = ()
    # HbA1c: IFCC mmol/mol → NGSP % master equation (not a plain factor)
    ifcc_mmol_mol: LinearConversion | None = None
    # assays report this test in units that no factor converts (CK-MB: mass ng/mL or activity U/L): with no unit
    # printed, the default range (in ``unit``) cannot be told to fit, and no flag or critical value comes from it
    unit_needed: bool = False

    @field_validator("aliases", "misreadings", "normal", "findings", "scale", mode="before")
    @classmethod
    def _strings(cls, v: Any) -> Any:
        return tuple(str(x) for x in v) if v is not None else ()

    def default_range(self, sex: str | None = None, age_years: float | None = None) -> Range | None:
        """The default range for this person: an age band when one matches, else the adult range by sex; with sex
        unknown, the union of both sexes (flags nobody wrongly)."""
        if age_years is not None:
            for band in self.ref_ages:
                if band.min_age <= age_years < band.max_age and (band.sex is None or band.sex == sex):
                    return Range(low=band.low, high=band.high)
        if sex == "male" and self.ref_male:
            return self.ref_male
        if sex == "female" and self.ref_female:
            return self.ref_female
        if self.ref:
            return self.ref
        if self.ref_male and self.ref_female:
            lows = [r.low for r in (self.ref_male, self.ref_female)]
            highs = [r.high for r in (self.ref_male, self.ref_female)]
            return Range(low=None if None in lows else min(lows), high=None if None in highs else max(highs))
        return self.ref_male or self.ref_female


class IndicatorIndex(Model):
    version: str
    updated: str | None = None
    units_file: str = "units.yaml"
    panel_files: tuple[str, ...]


class UnitMisreading(Model):
    find: str  # regular expression over the NFKC-normalised printed unit
    replace: str  # re.sub replacement
    note: str


class UnitsFile(Model):
    version: str
    units: dict[str, tuple[str, ...]]
    ucum: dict[str, str] = {}  # canonical unit → UCUM code
    misreadings: tuple[UnitMisreading, ...] = ()  # how OCR mangles unit spellings


class PanelFile(Model):
    version: str | None = None
    panel: str
    panel_name: str
    panel_name_en: str
    indicators: dict[str, dict[str, Any]]


class Panel(Model):
    id: str
    name: str
    name_en: str


# ---- interpretations ----------------------------------------------------------------------------------------------
class Reading(Model):
    """What one direction (high / low / positive) of an indicator usually means."""
    meaning: str
    meaning_en: str
    causes: str
    causes_en: str
    advice: str
    advice_en: str
    urgency: Urgency = "soon"
    tags: tuple[str, ...] = ()


class CriticalReading(Model):
    advice: str = "该结果达到危急值，请今天就医或立即联系开单医生。"
    advice_en: str = "This result is at a critical level: seek medical care today or contact the ordering doctor now."
    urgency: Urgency = "urgent"


class Interpretation(Model):
    code: str
    aliases: tuple[str, ...] = ()
    measures: str
    measures_en: str
    departments: tuple[str, ...]
    high: Reading | None = None
    low: Reading | None = None
    positive: Reading | None = None
    critical: CriticalReading | None = None


# ---- findings, departments, symptoms, conditions ------------------------------------------------------------------
class Finding(Model):
    label: str
    name: str
    name_en: str
    plain: str
    plain_en: str


class Department(Model):
    id: str
    name: str
    name_en: str
    kind: Literal["internal", "surgical", "women_children", "specialty", "acute", "mental"]
    synonyms: tuple[str, ...] = ()
    scope: str
    scope_en: str
    surgical_counterpart: str | None = None
    children_to_pediatrics: bool | None = None


class DepartmentCues(Model):
    strong: tuple[str, ...] = ()
    weak: tuple[str, ...] = ()
    en: tuple[str, ...] = ()


class RoutingDepartments(Model):
    fallback: str
    emergency: str
    pediatrics: str
    obstetrics: str
    oncology: str
    prolonged_fever: str


class RoutingWeights(Model):
    severity: dict[Literal["severe", "moderate", "mild"], float]
    historical: float
    disease_named: float
    indicator_by_rank: tuple[float, ...]
    department_named: float
    prolonged_fever: float
    prolonged_fever_days: float
    condition: float
    surgery_share: float
    surgery_bonus: float
    surgery_internal_keep: float
    cancer_treatment: float
    pregnancy_keep: float
    pregnancy_share: float
    pregnancy_bonus: float
    child_keep: float
    child_share: float
    child_bonus: float
    postpartum: float
    emergency_margin: float
    child_condition_boost: float
    # 普通内科 beside the specialist for a common complaint told by its symptoms alone: its score = share x the best
    generalist_share: float = Field(default=0.0, ge=0.0, le=1.0)


DepartmentKind = Literal["internal", "surgical", "women_children", "specialty", "acute", "mental"]


class Routing(Model):
    """Department routing parameters (knowledge/departments/routing.yaml): targets, kinds and weights."""
    departments: RoutingDepartments
    children_kinds: tuple[DepartmentKind, ...]
    pregnancy_kinds: tuple[DepartmentKind, ...]
    weights: RoutingWeights
    # departments that give the chemotherapy for the cancers they own (血液科: 白血病, 淋巴瘤, 骨髓瘤): a named
    # condition of theirs keeps a cancer-treatment question with them instead of oncology
    own_cancer_treatment: tuple[str, ...] = ()


class RelativeGroup(Model):
    """Words naming one kind of relative (knowledge/routing/relatives.yaml): sex and adulthood when the word says."""
    relation: str
    sex: Literal["F", "M"] | None = None
    adult: bool | None = None
    words: tuple[str, ...] = Field(min_length=1)


class Relatives(Model):
    """Who a question is about: relatives' words, and child words that do not make the question about a child."""
    relatives: tuple[RelativeGroup, ...]
    not_about_a_child: tuple[str, ...] = ()


class Symptom(Model):
    id: str
    name: str
    en_name: str
    terms: tuple[str, ...]
    en: tuple[str, ...] = ()
    dept: dict[str, float]
    urgency: Urgency = "routine"


class RedFlagRule(Model):
    all: tuple[str, ...]
    severity: Literal["severe", "strong", "moderate"] | None = None
    population: Literal["child", "infant", "pregnant", "postpartum"] | None = None


class RedFlag(Model):
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


class Composition(Model):
    parts: tuple[str, ...]
    cues: tuple[str, ...]
    symptom: str


class Context(Model):
    version: str | None = None
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
    figurative: tuple[str, ...] = ()
    resolved_cues: tuple[str, ...] = ()
    routing: dict[str, tuple[str, ...]] = {}
    post_negations: tuple[str, ...] = ()
    chronic_cues: tuple[str, ...] = ()
    acute_cues: tuple[str, ...] = ()
    duration_words: dict[str, float] = {}


class IndicatorRef(Model):
    code: str
    direction: Literal["high", "low", "positive", "abnormal"]


class Condition(Model):
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


class Pattern(Model):
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


class MedicationClass(Model):
    """A class of medicines a pattern can test with ``taking(id)``; its names match the patient's list."""
    id: str
    name: str
    name_en: str
    names: tuple[str, ...]


# ---- drugs --------------------------------------------------------------------------------------------------------
MissedDoseAction = Literal["take_now", "skip", "take_now_shift_schedule", "ask_doctor", "as_needed"]


class Source(Model):
    title: str
    url: str | None = None


class MissedDoseRule(Model):
    id: str
    when: str
    action: MissedDoseAction
    advice: str
    advice_en: str


class DrugClass(Model):
    id: str
    name: str
    name_en: str
    group: Literal["antihypertensive", "antidiabetic", "lipid_lowering", "anticoagulant", "antiplatelet",
                   "antibiotic", "thyroid", "acid_suppressant", "respiratory", "analgesic", "other"]
    # the rules in order (the first whose condition holds applies; the last is `always`), or the name of a
    # shared rule set (``rule_sets`` in knowledge/drugs)
    missed_dose: tuple[MissedDoseRule, ...] | str
    never_double: bool = True
    note: str | None = None
    note_en: str | None = None
    sources: tuple[Source, ...]
    # the medication class of knowledge/patterns that `taking(...)` tests, when this class belongs to one
    pattern_class: str | None = None


class Drug(Model):
    id: str
    name: str
    name_en: str
    brands: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    class_id: str
    interval_hours: float | None = Field(None, gt=0, description="usual interval between doses; null: as needed "
                                                                 "or not a fixed schedule")
    as_needed: bool = False
    route: Literal["oral", "inhaled", "injection", "topical", "sublingual", "transdermal"] = "oral"

    @field_validator("brands", "aliases", mode="before")
    @classmethod
    def _strings(cls, v: Any) -> Any:
        return tuple(str(x) for x in v) if v is not None else ()


class MissedDoseAdvice(Model):
    class_id: str
    rule_id: str
    action: MissedDoseAction
    never_double: bool
    advice: str
    advice_en: str


# ---- other facts --------------------------------------------------------------------------------------------------
class ReportType(Model):
    """A lab report type and the header words that name it (ocr reads the sheet's title with these)."""
    id: str
    name: str
    name_en: str
    patterns: tuple[str, ...]
    # a composite report (生化) lists the panels it covers; otherwise `id` is a panel
    panels: tuple[str, ...] = ()


class Template(Model):
    """A bilingual text with named placeholders ({department}); ``fields`` lists them."""
    zh: str
    en: str
    fields: tuple[str, ...] = ()

    def render(self, lang: str = "zh", **values: Any) -> str:
        return (self.en if lang == "en" else self.zh).format(**values)


# ---- report service data (knowledge/report/): summary templates and trend thresholds ---------------------------------
class ReportText(Model):
    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


class TrendThreshold(Model):
    relative: float | None = Field(None, gt=0)
    absolute: float | None = Field(None, gt=0)
    direction: Literal["rise", "fall", "both"] = "both"
    basis: str = ""

    @model_validator(mode="after")
    def _one(self) -> "TrendThreshold":
        if (self.relative is None) == (self.absolute is None):
            raise ValueError("a trend threshold needs exactly one of relative / absolute")
        return self


class ReportTrends(Model):
    version: str
    default: TrendThreshold
    indicators: dict[str, TrendThreshold]

    def for_code(self, code: str) -> tuple[str, TrendThreshold]:
        if code in self.indicators:
            return f"trend_threshold:{code}", self.indicators[code]
        return "trend_threshold:default", self.default


class ReportWords(Model):
    sections: dict[str, ReportText]
    urgency: dict[str, ReportText]
    direction: dict[str, ReportText]
    reasons: dict[str, ReportText]


class FindingRoute(Model):
    department: str
    urgency: Urgency


class XrayLimits(Model):
    ctr_enlarged_above: float
    positive_urgency: Urgency
    findings: dict[str, FindingRoute]


class ReportTemplates(Model):
    version: str
    templates: dict[str, ReportText]
    words: ReportWords
    xray: XrayLimits
    order: list[str]

    @model_validator(mode="after")
    def _complete(self) -> "ReportTemplates":
        missing = [t for t in self.order if t not in self.templates]
        if missing:
            raise ValueError(f"order names unknown templates: {missing}")
        for tid, text in self.templates.items():
            zh = {f for _, f, _, _ in string.Formatter().parse(text.zh) if f}
            en = {f for _, f, _, _ in string.Formatter().parse(text.en) if f}
            if zh != en:
                raise ValueError(f"template {tid}: zh and en use different placeholders {sorted(zh | en)}")
        return self
