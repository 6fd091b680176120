"""The one place the booking service reads ``knowledge/``: the department taxonomy (the ids nlp triage returns).
When ``zhenxi_knowledge`` lands on main, this module switches to it and nothing else changes."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    name_en: str
    synonyms: tuple[str, ...]


def load_departments(knowledge_dir: Path) -> dict[str, Department]:
    data = yaml.safe_load((knowledge_dir / "departments" / "departments.yaml").read_text(encoding="utf-8"))
    out: dict[str, Department] = {}
    for entry in data["departments"]:
        out[entry["id"]] = Department(entry["id"], entry["name"], entry.get("name_en", entry["id"]),
                                      tuple(entry.get("synonyms", ())))
    if not out:
        raise ValueError("the department taxonomy is empty")
    return out
