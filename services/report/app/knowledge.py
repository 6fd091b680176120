"""Every read of the knowledge base happens through the shared loader (``zhenxi_knowledge``), including the
report's own data under ``knowledge/report/`` (summary templates, trend thresholds), which the package validates
against departments, findings and indicators. This module only shapes what the report needs from it."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from zhenxi_knowledge import ReportTemplates, ReportText, ReportTrends


class ReportKnowledge(BaseModel):
    model_config = ConfigDict(frozen=True)
    version: str
    templates: ReportTemplates
    trends: ReportTrends
    departments: dict[str, ReportText]
    findings: dict[str, ReportText]
    indicators: dict[str, ReportText]

    def indicator_names(self, code: str) -> tuple[str, str]:
        """(zh, en) name of an indicator code; the code itself for one the knowledge base does not hold."""
        t = self.indicators.get(code)
        return (t.zh, t.en) if t else (code, code)

    def finding_name(self, label: str, lang: str) -> str:
        return self.findings[label].get(lang) if label in self.findings else label

    def rank(self, template_id: str) -> int:
        order = self.templates.order
        return order.index(template_id) if template_id in order else len(order)


@lru_cache(maxsize=4)
def load(knowledge_dir: Path) -> ReportKnowledge:
    from zhenxi_knowledge import KnowledgeError, get_knowledge

    kb = get_knowledge(knowledge_dir)
    if kb.report_templates is None or kb.report_trends is None:
        raise KnowledgeError(f"{knowledge_dir}: knowledge/report/templates.yaml and trends.yaml are required")
    return ReportKnowledge(
        version=kb.version, templates=kb.report_templates, trends=kb.report_trends,
        departments={k: ReportText(zh=d.name, en=d.name_en) for k, d in kb.departments.items()},
        findings={k: ReportText(zh=f.name, en=f.name_en) for k, f in kb.findings.items()},
        indicators={k: ReportText(zh=i.name, en=i.name_en) for k, i in kb.indicators.items()})
