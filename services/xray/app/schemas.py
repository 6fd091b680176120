"""The public contract of the xray service (request and response bodies)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DISCLAIMER = {
    "zh": "本结果由人工智能辅助生成，仅供临床决策参考，不构成诊断。请由医生结合病史和其他检查综合判断。",
    "en": ("These results are computer-generated decision support, not a diagnosis. A doctor must interpret them "
           "together with the history and other examinations."),
}


class Caller(BaseModel):
    user_id: str
    role: str


class ServiceInfo(BaseModel):
    service: str
    version: str
    caller: Caller


class Disclaimer(BaseModel):
    zh: str = DISCLAIMER["zh"]
    en: str = DISCLAIMER["en"]


class _Open(BaseModel):
    # Model outputs may gain fields (a new model version); clients must ignore what they do not know.
    model_config = ConfigDict(extra="allow")


class Finding(_Open):
    label: str
    probability: float
    threshold: float
    positive: bool


class Detection(_Open):
    label: str
    score: float
    box: list[float] = Field(description="x1, y1, x2, y2 in input-image pixels")


class Heatmap(BaseModel):
    label: str
    png_base64: str = Field(description="Overlay PNG at the input image's resolution")
    width: int
    height: int
    outside_lung_fraction: float | None = None
    attention_outside_lungs: bool | None = None


class Classification(BaseModel):
    model: str
    version: str
    probabilities: dict[str, float]
    top_label: str


class AnalysisSummary(BaseModel):
    """What is kept of an analysis: model outputs only, never the image or file metadata."""
    analysis_id: str
    created_at: datetime
    disclaimer: Disclaimer = Field(default_factory=Disclaimer)
    model_version: dict[str, Any]
    image: dict[str, Any]
    gate: dict[str, Any]
    abnormal: dict[str, Any]
    findings: list[Finding]
    detections: list[Detection]
    measurements: dict[str, Any]
    classifications: list[Classification] = []


class AnalysisOut(AnalysisSummary):
    heatmaps: list[Heatmap] = Field(description="One overlay per positive finding")
    masks: dict[str, str] = Field(description="Organ -> binary mask PNG (base64) at the input image's resolution")
    timings_ms: dict[str, Any] = {}


class AnalysisList(BaseModel):
    items: list[AnalysisSummary]


class SelftestOut(BaseModel):
    ok: bool
    problems: list[str]
    image: str | None = None
    model_version: dict[str, Any] = {}
    replica_id: str


class ModelVersionOut(BaseModel):
    name: str
    task: str
    version: str
    sha256: str
    size_bytes: int
    status: str
    source: str
    metrics: dict[str, Any]
    labels: list[str] | None = None
    signature: dict[str, Any] | None = None
    created_by: str | None = None
    created_at: datetime
    promoted_at: datetime | None = None
    download_url: str


class ModelList(BaseModel):
    items: list[ModelVersionOut]


class PromotionOut(BaseModel):
    name: str
    active_version: str
    sha256: str
    previous_version: str | None
    changed: bool


class ServedModels(BaseModel):
    replica_id: str
    analyzer_ready: bool
    swaps: int
    reconciles: int
    models: dict[str, dict[str, Any]]
    errors: dict[str, str]


class TrainingJobOut(BaseModel):
    id: str
    status: str
    model_name: str
    version: str | None
    params: dict[str, Any]
    dataset: dict[str, Any]
    progress: dict[str, Any]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    events_url: str


class TrainingJobList(BaseModel):
    items: list[TrainingJobOut]
