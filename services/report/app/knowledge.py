"""Every read of the shared knowledge base happens here (templates and trend thresholds under
``knowledge/report/``), validated on load, so switching to the shared loader package is a few lines."""
from __future__ import annotations

import hashlib
import string
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


class Threshold(_Strict):
    relative: float | None = Field(None, gt=0)
    absolute: float | None = Field(None, gt=0)
    direction: Literal["rise", "fall", "both"] = "both"
    basis: str = ""

    @model_validator(mode="after")
    def _one(self) -> "Threshold":
        if (self.relative is None) == (self.absolute is None):
            raise ValueError("a trend threshold needs exactly one of relative / absolute")
        return self


class Trends(_Strict):
    version: str
    default: Threshold
    indicators: dict[str, Threshold]

    def for_code(self, code: str) -> tuple[str, Threshold]:
        if code in self.indicators:
            return f"trend_threshold:{code}", self.indicators[code]
        return "trend_threshold:default", self.default


class Words(_Strict):
    sections: dict[str, Text]
    urgency: dict[str, Text]
    direction: dict[str, Text]
    reasons: dict[str, Text]


Urgency = Literal["routine", "soon", "urgent", "emergency"]
URGENCY_ORDER = {"routine": 0, "soon": 1, "urgent": 2, "emergency": 3}


def max_urgency(*levels: str | None) -> str:
    present = [lv for lv in levels if lv in URGENCY_ORDER]
    return max(present, key=URGENCY_ORDER.__getitem__) if present else "routine"


class Finding(_Strict):
    zh: str
    en: str
    department: str
    urgency: Urgency

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


class XrayLimits(_Strict):
    ctr_enlarged_above: float
    positive_urgency: Urgency
    findings: dict[str, Finding]


class Templates(_Strict):
    version: str
    templates: dict[str, Text]
    words: Words
    xray: XrayLimits
    order: list[str]

    @model_validator(mode="after")
    def _complete(self) -> "Templates":
        missing = [t for t in self.order if t not in self.templates]
        if missing:
            raise ValueError(f"order names unknown templates: {missing}")
        for tid, text in self.templates.items():
            fields = {f for s in (text.zh, text.en) for _, f, _, _ in string.Formatter().parse(s) if f}
            zh = {f for _, f, _, _ in string.Formatter().parse(text.zh) if f}
            en = {f for _, f, _, _ in string.Formatter().parse(text.en) if f}
            if zh != en:
                raise ValueError(f"template {tid}: zh and en use different placeholders {sorted(fields)}")
        return self


class ReportKnowledge(BaseModel):
    model_config = ConfigDict(frozen=True)
    version: str
    templates: Templates
    trends: Trends
    departments: dict[str, Text]

    def rank(self, template_id: str) -> int:
        order = self.templates.order
        return order.index(template_id) if template_id in order else len(order)


@lru_cache(maxsize=4)
def load(knowledge_dir: Path) -> ReportKnowledge:
    folder = Path(knowledge_dir) / "report"
    digest = hashlib.sha256()
    data = {}
    departments = {d["id"]: d for d in yaml.safe_load(
        (Path(knowledge_dir) / "departments" / "departments.yaml").read_bytes())["departments"]}
    for name in ("templates.yaml", "trends.yaml"):
        raw = (folder / name).read_bytes()
        digest.update(name.encode() + b"\0" + raw)
        data[name] = yaml.safe_load(raw)
    templates = Templates.model_validate(data["templates.yaml"])
    unknown = sorted({f.department for f in templates.xray.findings.values()} - set(departments))
    if unknown:
        raise ValueError(f"knowledge/report names unknown departments: {unknown}")
    return ReportKnowledge(version=digest.hexdigest()[:12], templates=templates,
                           trends=Trends.model_validate(data["trends.yaml"]),
                           departments={k: Text(zh=v["name"], en=v["name_en"]) for k, v in departments.items()})
