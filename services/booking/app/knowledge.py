"""The one place the booking service reads medical knowledge: the department taxonomy (the ids nlp triage
returns), through the shared loader ``zhenxi_knowledge``."""
from __future__ import annotations

from pathlib import Path

from zhenxi_knowledge import get_knowledge
from zhenxi_knowledge.models import Department

__all__ = ["Department", "load_departments"]


def load_departments(knowledge_dir: Path) -> dict[str, Department]:
    departments = dict(get_knowledge(knowledge_dir).departments)
    if not departments:
        raise ValueError("the department taxonomy is empty")
    return departments
