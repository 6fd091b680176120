"""Request and response models: the public contract of the tips service."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .content import SLUG_PATTERN

Lang = Literal["zh-CN", "en"]


def _no_nul(v: str) -> str:
    if "\x00" in v:
        raise ValueError("text must not contain NUL characters")
    return v


Text = Annotated[str, AfterValidator(_no_nul)]
Tag = Annotated[str, Field(min_length=1, max_length=60), AfterValidator(_no_nul)]
Code = Annotated[str, Field(min_length=1, max_length=60)]


class Caller(BaseModel):
    user_id: str
    role: str


class ServiceInfo(BaseModel):
    service: str
    version: str
    caller: Caller


class CategoryOut(BaseModel):
    id: str
    name: str
    name_en: str


class ReferenceOut(BaseModel):
    id: str
    title: str
    publisher: str | None = None
    year: int | None = None
    url: str | None = None


class LinksOut(BaseModel):
    indicators: list[str] = []
    findings: list[str] = []
    conditions: list[str] = []
    drug_classes: list[str] = []


class ImageVariantOut(BaseModel):
    width: int
    height: int
    format: Literal["webp", "jpeg"]
    url: str


class ImageOut(BaseModel):
    id: uuid.UUID
    width: int
    height: int
    alt: str
    variants: list[ImageVariantOut]


class TipSummary(BaseModel):
    id: uuid.UUID
    slug: str
    lang: str
    category: str
    category_name: str
    title: str
    summary: str
    tags: list[str]
    links: LinksOut
    view_count: int
    favorite_count: int
    favorited: bool = False
    published_at: datetime | None


class TipOut(TipSummary):
    body_html: str
    references: list[ReferenceOut]
    images: list[ImageOut]


class AdminTipOut(TipOut):
    status: Literal["draft", "published"]
    source: Literal["seed", "admin"]
    tags_source: str
    body_markdown: str
    updated_at: datetime


class TipPage(BaseModel):
    items: list[TipSummary]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page.")


class AdminTipPage(BaseModel):
    items: list[AdminTipOut]
    next_cursor: str | None = None


class FavoriteOut(BaseModel):
    tip_id: uuid.UUID
    created_at: datetime
    tip: TipSummary


class FavoritePage(BaseModel):
    items: list[FavoriteOut]
    next_cursor: str | None = None


class ReasonOut(BaseModel):
    kind: Literal["indicator", "finding", "condition", "drug_class", "collaborative", "popular", "general"]
    code: str | None = None
    text: str
    text_en: str


class RecommendationOut(BaseModel):
    tip: TipSummary
    score: float
    source: Literal["content", "collaborative", "popular"]
    reason: ReasonOut


class RecommendationsOut(BaseModel):
    items: list[RecommendationOut]
    cold_start: bool


class TipCreate(BaseModel):
    """A new tip, saved as a draft. Tags and links left out are filled in by auto-tagging (jieba against the
    knowledge lexicon)."""
    model_config = ConfigDict(extra="forbid")
    slug: str | None = Field(None, pattern=SLUG_PATTERN)
    lang: Lang = "zh-CN"
    category: str = Field(min_length=1, max_length=20)
    title: Text = Field(min_length=2, max_length=120)
    summary: Text = Field(min_length=2, max_length=300)
    body: Text = Field(min_length=1, max_length=20_000, description="Markdown; rendered to sanitised HTML.")
    tags: list[Tag] | None = Field(None, max_length=20)
    indicators: list[Code] | None = Field(None, max_length=30)
    findings: list[Code] | None = Field(None, max_length=14)
    conditions: list[Code] | None = Field(None, max_length=30)
    drug_classes: list[Code] | None = Field(None, max_length=30)
    references: list[Code] = Field(default_factory=list, max_length=20,
                                  description="Reference ids from the catalogue (GET /v1/references).")
    general: bool = False


class TipUpdate(BaseModel):
    """Fields to change; the others stay. ``tags: []`` clears the tags; admin-set tags are kept on later edits."""
    model_config = ConfigDict(extra="forbid")
    lang: Lang | None = None
    category: str | None = Field(None, min_length=1, max_length=20)
    title: Text | None = Field(None, min_length=2, max_length=120)
    summary: Text | None = Field(None, min_length=2, max_length=300)
    body: Text | None = Field(None, min_length=1, max_length=20_000)
    tags: list[Tag] | None = Field(None, max_length=20)
    indicators: list[Code] | None = Field(None, max_length=30)
    findings: list[Code] | None = Field(None, max_length=14)
    conditions: list[Code] | None = Field(None, max_length=30)
    drug_classes: list[Code] | None = Field(None, max_length=30)
    references: list[Code] | None = Field(None, max_length=20)
    general: bool | None = None


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: Text = Field(min_length=1, max_length=20_000)
    title: Text = Field("", max_length=120)
    lang: Lang = "zh-CN"


class PreviewOut(BaseModel):
    body_html: str
    auto_tags: list[str]
    suggested_links: LinksOut
