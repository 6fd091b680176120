"""nlp's view of the shared knowledge package (``zhenxi_knowledge``): loaded and validated once per process by the
package, which owns the models, the cross-reference checks and ``knowledge_version``. nlp modules import the
names they need from here, so the package is the only reader of knowledge/."""
from __future__ import annotations

from pathlib import Path

from zhenxi_knowledge import (URGENCY_ORDER, Condition, CriticalReading, Department, DepartmentCues, Indicator,
                              Interpretation, Knowledge, KnowledgeError, MedicationClass, Pattern, Range, Reading,
                              RedFlag, Symptom, default_root, get_knowledge, max_urgency)
from zhenxi_knowledge.models import Composition, Context, IndicatorRef, RedFlagRule

KnowledgeBase = Knowledge
Disease = Condition

__all__ = ["URGENCY_ORDER", "Composition", "Condition", "Context", "CriticalReading", "Department", "DepartmentCues",
           "Disease", "Indicator", "IndicatorRef", "Interpretation", "KnowledgeBase", "KnowledgeError",
           "MedicationClass", "Pattern", "Range", "Reading", "RedFlag", "RedFlagRule", "Symptom", "default_root",
           "load_knowledge", "max_urgency"]


def load_knowledge(root: str | Path | None = None) -> Knowledge:
    """The shared knowledge base (cached per root; ``root`` overrides the folder for tests)."""
    return get_knowledge(root)
