"""Every read of the knowledge base happens here. Departments, X-ray finding names and indicator codes come from
the shared loader (``zhenxi_knowledge``); the report's own data — summary templates and trend thresholds under
``knowledge/report/`` — is validated here against it (unknown department, finding or indicator refuses to load)."""
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


class FindingRoute(_Strict):
    department: str
    urgency: Urgency


class XrayLimits(_Strict):
    ctr_enlarged_above: float
    positive_urgency: Urgency
    findings: dict[str, FindingRoute]


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
    findings: dict[str, Text]

    def finding_name(self, label: str, lang: str) -> str:
        return self.findings[label].get(lang) if label in self.findings else label

    def rank(self, template_id: str) -> int:
        order = self.templates.order
        return order.index(template_id) if template_id in order else len(order)


@lru_cache(maxsize=4)
def load(knowledge_dir: Path) -> ReportKnowledge:
    from zhenxi_knowledge import get_knowledge

    kb = get_knowledge(knowledge_dir)
    folder = Path(knowledge_dir) / "report"
    digest = hashlib.sha256(kb.version.encode())
    data = {}
    for name in ("templates.yaml", "trends.yaml"):
        raw = (folder / name).read_bytes()
        digest.update(name.encode() + b"\0" + raw)
        data[name] = yaml.safe_load(raw)
    templates = Templates.model_validate(data["templates.yaml"])
    trends = Trends.model_validate(data["trends.yaml"])
    problems = [f"finding {k}: unknown department {f.department}" for k, f in templates.xray.findings.items()
                if f.department not in kb.departments]
    problems += [f"unknown X-ray finding {k}" for k in templates.xray.findings if k not in kb.findings]
    problems += [f"trends: unknown indicator {c}" for c in trends.indicators if c not in kb.indicators]
    if problems:
        raise ValueError("knowledge/report: " + "; ".join(problems))
    return ReportKnowledge(
        version=f"{kb.version}/report:{digest.hexdigest()[:8]}", templates=templates, trends=trends,
        departments={k: Text(zh=d.name, en=d.name_en) for k, d in kb.departments.items()},
        findings={k: Text(zh=f.name, en=f.name_en) for k, f in kb.findings.items()})
