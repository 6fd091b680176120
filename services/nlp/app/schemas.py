"""Public contract of the nlp service (requests and responses)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

Lang = Literal["zh", "en"]
Urgency = Literal["routine", "soon", "urgent", "emergency"]


class Caller(BaseModel):
    user_id: str
    role: str


class ServiceInfo(BaseModel):
    service: str
    version: str
    caller: Caller


class KnowledgeInfo(BaseModel):
    knowledge_version: str
    diseases: int
    symptoms: int
    indicators: int
    interpretations: int
    patterns: int
    departments: int
    retrieval_mode: str


class SourceRef(BaseModel):
    id: str
    knowledge_version: str


# ---- interpretations ----
class RangeIn(BaseModel):
    low: float | None = None
    high: float | None = None
    text: str | None = Field(None, max_length=64, description="the range as printed, read when low/high are absent")


class IndicatorIn(BaseModel):
    """One result, from OCR or typed by hand. ``code`` is the canonical code (WBC, HGB…) or a printed name.
    An indicator of ocr's ``LabReport`` is accepted as it is (its other fields are ignored)."""
    model_config = ConfigDict(populate_by_name=True)
    code: str | None = Field(None, max_length=64)
    name: str | None = Field(None, max_length=64)
    value: float | str | None = Field(None, description="number, or a qualitative result such as 阴性 / 2+")
    value_text: str | None = Field(None, max_length=64, description="the result as printed (used when value is "
                                                                     "null, as ocr sends qualitative results)")
    unit: str | None = Field(None, max_length=32)
    reference: str | RangeIn | None = Field(None, validation_alias=AliasChoices("reference", "reference_range", "ref"))
    flag: str | None = Field(None, max_length=16, description="the flag the sheet printed (↑, H, 偏高…): it decides "
                                                            "the flag; a disagreeing range is named beside it")

    @model_validator(mode="after")
    def _has_a_result(self) -> "IndicatorIn":
        if self.value is None:
            if not (self.value_text and self.value_text.strip()):
                raise ValueError("value (or value_text) is required")
            self.value = self.value_text
        return self


class ReportHeaderIn(BaseModel):
    """The header of an ocr ``LabReport``: sex and age are used when the request does not give them."""
    sex: Literal["male", "female"] | None = None
    age: float | None = Field(None, ge=0, le=130)


class InterpretationRequest(BaseModel):
    """Indicators to explain; ocr's ``LabReport`` JSON can be posted as it is."""
    indicators: list[IndicatorIn] = Field(..., min_length=1, max_length=300)
    sex: Literal["male", "female"] | None = None
    age: float | None = Field(None, ge=0, le=130)
    header: ReportHeaderIn | None = None
    medications: list[str] = Field(default_factory=list, max_length=50)
    lang: Lang = "zh"

    def items(self) -> list[dict[str, Any]]:
        """The indicators as the service takes them: a printed range as its low/high, else its text."""
        out = []
        for ind in self.indicators:
            item = ind.model_dump(exclude_none=True, exclude={"value_text"})
            if isinstance(item.get("reference"), dict):
                ref = {k: v for k, v in item["reference"].items() if v is not None}
                item["reference"] = ref if ("low" in ref or "high" in ref) else ref.get("text")
            out.append(item)
        return out

    def subject(self) -> tuple[str | None, float | None]:
        """(sex, age): the request's, else the report header's."""
        sex = self.sex or (self.header.sex if self.header else None)
        age = self.age if self.age is not None else (self.header.age if self.header else None)
        return sex, age


class Explanation(BaseModel):
    measures: str | None = None
    meaning: str | None = None
    text: str | None = None
    causes: str | None = None
    advice: str | None = None
    urgency: Urgency
    source: SourceRef | None
    related_conditions: list[dict[str, str]] = Field(default_factory=list)


class FlagDisagreement(BaseModel):
    """The printed flag (which decides ``flag``) against the value read against the range, when they point
    different ways; a critical value's HH/LL is ``from_range`` too."""
    printed: Literal["L", "N", "H", "LL", "HH"]
    from_range: Literal["L", "N", "H", "LL", "HH"]
    range_source: Literal["report", "knowledge"] | None = None


class IndicatorOut(BaseModel):
    code: str
    name: str
    name_en: str
    value: float | str
    unit: str | None
    canonical_value: float | None
    flag: Literal["L", "N", "H", "LL", "HH", "POS", "NEG", "ABN"] | None = Field(
        description="the shared flag vocabulary (zhenxi_knowledge): LL/HH beyond critical limits, POS/NEG for "
                    "qualitative results, ABN abnormal without a direction; null when it cannot be judged (see reason)")
    reference: dict[str, Any] | None
    reason: str | None = None
    flag_disagreement: FlagDisagreement | None = Field(
        None, description="set when the request's printed flag (``flag`` of the indicator sent: the sheet's arrow) "
                          "and the value against the range disagree; the printed flag is kept (issue 9)")
    explanation: Explanation | None


class PatternOut(BaseModel):
    id: str
    name: str
    explanation: str
    advice: str
    urgency: Urgency
    departments: list[str]
    tags: list[str]
    source: SourceRef


class DepartmentOut(BaseModel):
    id: str
    name: str
    score: float
    source: SourceRef


class InterpretationResponse(BaseModel):
    knowledge_version: str
    language: Lang
    summary: str
    urgency: Urgency
    indicators: list[IndicatorOut]
    patterns: list[PatternOut]
    departments: list[DepartmentOut]
    tags: list[str]
    medication_classes: list[str]
    unknown_indicators: list[dict[str, Any]]
    disclaimer: str


# ---- symptoms ----
class SymptomAnalysisRequest(BaseModel):
    text: str
    lang: Lang | None = None


class SymptomOut(BaseModel):
    id: str
    name: str
    text: str
    severity: Literal["mild", "moderate", "severe"] | None = None
    historical: bool = False


class ConditionOut(BaseModel):
    id: str
    name: str
    score: float
    matched_symptoms: list[str]
    department: str
    source: SourceRef


class RedFlagOut(BaseModel):
    id: str
    name: str
    advice: str
    source: SourceRef


class SymptomAnalysisResponse(BaseModel):
    knowledge_version: str
    language: Lang
    understood: bool
    reason: str | None
    symptoms: list[SymptomOut]
    negated_symptoms: list[SymptomOut]
    duration: dict[str, Any] | None
    severity: Literal["mild", "moderate", "severe"] | None
    populations: list[str]
    age: float | None
    mentioned: dict[str, Any]
    conditions: list[ConditionOut]
    departments: list[DepartmentOut]
    urgency: Urgency
    red_flags: list[RedFlagOut]
    # red-flag rules that fired but were lifted because the text tells of a known condition (癫痫病史, 医生说是癫痫)
    # with nothing happening now: [{id, name, reason}]; absent when none was lifted
    red_flags_lifted: list[dict[str, Any]] | None = None
    advice: str
    # which evidence decided the first department (rules, model, both, red_flags), the model's and the rules'
    # top 3, the subject (a relative's age and sex), drugs and pasted lab values read (app/router.py)
    routing: dict[str, Any] | None = None


# ---- diseases ----
class DiseaseOut(BaseModel):
    id: str
    name: str
    name_en: str
    aliases: list[str]
    description: str
    symptoms: list[dict[str, str]]
    indicators: list[dict[str, str]]
    findings: list[str]
    department: dict[str, str]
    urgency: Urgency
    self_care: str
    see_doctor: str
    treatment: str
    source: SourceRef


class DiseaseList(BaseModel):
    knowledge_version: str
    finding: str | None
    finding_name: str | None
    query: str | None
    count: int
    diseases: list[DiseaseOut]


# ---- consultations ----
class ConsultationCreate(BaseModel):
    title: str | None = Field(None, max_length=100)
    question: str | None = Field(None, description="optional first question, answered right away")


class MessageCreate(BaseModel):
    content: str


class MessageOut(BaseModel):
    id: str
    role: Literal["user", "assistant"]
    content: str
    kind: str | None = None
    urgency: Urgency | None = None
    sources: list[dict[str, Any]] = Field(default_factory=list)
    departments: list[dict[str, Any]] = Field(default_factory=list)
    knowledge_version: str | None = None
    created_at: datetime


class ConsultationOut(BaseModel):
    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    messages: list[MessageOut] = Field(default_factory=list)


class ConsultationList(BaseModel):
    consultations: list[ConsultationOut]


class ExchangeOut(BaseModel):
    """A question and its answer."""
    consultation_id: str
    question: MessageOut
    answer: MessageOut
