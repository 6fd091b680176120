"""The seed tips in ``services/tips/seed/``: read, validated, and checked against the knowledge vocabulary.

A malformed file, a duplicate slug, an unknown category or reference id stops the load (``ContentError``); links
that do not resolve are reported by ``unresolved_links`` (the seed test requires none)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .knowledge import Kind, Vocabulary

LANGS = ("zh-CN", "en")
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,79}$"


class ContentError(ValueError):
    """The seed content is malformed or inconsistent."""


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    name: str
    name_en: str


class Reference(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    title: str
    publisher: str
    year: int
    url: str | None = None


class Links(BaseModel):
    """Codes a tip is about, as knowledge ids."""
    model_config = ConfigDict(extra="forbid")
    indicators: list[str] = []
    findings: list[str] = []
    conditions: list[str] = []
    drug_classes: list[str] = []

    def by_kind(self) -> dict[Kind, list[str]]:
        return {"indicator": self.indicators, "finding": self.findings, "condition": self.conditions,
                "drug_class": self.drug_classes}


class SeedTip(Links):
    slug: str = Field(pattern=SLUG_PATTERN)
    lang: Literal["zh-CN", "en"]
    category: str
    title: str = Field(min_length=2, max_length=120)
    summary: str = Field(min_length=2, max_length=300)
    body: str = Field(min_length=10)
    tags: list[str] = []
    references: list[str] = Field(min_length=1)
    general: bool = False

    def digest(self) -> str:
        """Changes whenever the seed text changes, so a re-seed can update tips nobody edited by hand."""
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True, ensure_ascii=False).encode()
                              ).hexdigest()[:16]


@dataclass(frozen=True)
class Catalogue:
    categories: dict[str, Category]
    references: dict[str, Reference]
    tips: list[SeedTip]


SEED_DIR = Path(__file__).resolve().parents[1] / "seed"


def load_catalogue(folder: Path = SEED_DIR) -> Catalogue:
    refs_file = folder / "references.yaml"
    if not refs_file.is_file():
        raise ContentError(f"{refs_file}: missing")
    try:
        meta = yaml.safe_load(refs_file.read_text(encoding="utf-8")) or {}
        categories = {c.id: c for c in (Category(**c) for c in meta.get("categories") or [])}
        references = {r.id: r for r in (Reference(**r) for r in meta.get("references") or [])}
    except (yaml.YAMLError, ValidationError, TypeError) as exc:
        raise ContentError(f"{refs_file}: {exc}") from exc
    tips: list[SeedTip] = []
    seen: set[str] = set()
    for path in sorted(folder.glob("*.yaml")):
        if path == refs_file:
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if set(data) - {"version", "tips"}:
                raise ContentError(f"{path}: unknown top-level keys {sorted(set(data) - {'version', 'tips'})}")
            for raw in data.get("tips") or []:
                tip = SeedTip(**raw)
                if tip.slug in seen:
                    raise ContentError(f"{path}: duplicate slug {tip.slug!r}")
                if tip.category not in categories:
                    raise ContentError(f"{path}: {tip.slug}: unknown category {tip.category!r}")
                if missing := [r for r in tip.references if r not in references]:
                    raise ContentError(f"{path}: {tip.slug}: unknown references {missing}")
                seen.add(tip.slug)
                tips.append(tip)
        except (yaml.YAMLError, ValidationError, TypeError) as exc:
            raise ContentError(f"{path}: {exc}") from exc
    return Catalogue(categories, references, tips)


def unresolved_links(links: Links, vocab: Vocabulary) -> dict[str, list[str]]:
    """Links that are not in the knowledge base, by kind (empty when all resolve)."""
    out: dict[str, list[str]] = {}
    for kind, ids in links.by_kind().items():
        if bad := [i for i in ids if not vocab.has(kind, i)]:
            out[kind] = bad
    return out
