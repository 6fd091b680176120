"""Tables of the ``tips`` schema. Only this service reads or writes them.

No personal data lives here: users appear only as the gateway's opaque ``user_id``; a user's report and plan
facts are knowledge codes (indicator, finding, condition, drug class), never values, names or images."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (ARRAY, Boolean, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, MetaData, String,
                        Text, func, text)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from zhenxi_common.outbox import outbox_tables

SCHEMA = "tips"
metadata = MetaData(schema=SCHEMA)


class Base(DeclarativeBase):
    metadata = metadata


outbox, inbox = outbox_tables(metadata)

_EMPTY = text("'{}'::varchar[]")


class Tip(Base):
    __tablename__ = "tips"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    lang: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(String(300))
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(60)), server_default=_EMPTY)
    tags_source: Mapped[str] = mapped_column(String(8))          # seed | auto | admin
    indicators: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default=_EMPTY)
    findings: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default=_EMPTY)
    conditions: Mapped[list[str]] = mapped_column(ARRAY(String(60)), server_default=_EMPTY)
    drug_classes: Mapped[list[str]] = mapped_column(ARRAY(String(60)), server_default=_EMPTY)
    references: Mapped[list[dict]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    general: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    status: Mapped[str] = mapped_column(String(10))               # draft | published
    source: Mapped[str] = mapped_column(String(8))                # seed | admin
    seed_digest: Mapped[str | None] = mapped_column(String(16))
    edited: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))  # an admin changed a seed tip
    search: Mapped[str] = mapped_column(TSVECTOR)
    view_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    favorite_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_tips_search", "search", postgresql_using="gin"),
        Index("ix_tips_browse", "status", "published_at", "id"),
    )


class TipImage(Base):
    __tablename__ = "tip_images"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    tip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.tips.id", ondelete="CASCADE"), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    alt: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TipImageVariant(Base):
    __tablename__ = "tip_image_variants"
    image_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.tip_images.id", ondelete="CASCADE"),
                                                primary_key=True)
    width: Mapped[int] = mapped_column(Integer, primary_key=True)
    format: Mapped[str] = mapped_column(String(5), primary_key=True)   # webp | jpeg
    height: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(20))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class TipView(Base):
    """Views per user and tip: the implicit feedback for collaborative filtering."""
    __tablename__ = "tip_views"
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.tips.id", ondelete="CASCADE"), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    last_viewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Favorite(Base):
    __tablename__ = "favorites"
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.tips.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_favorites_user_created", "user_id", "created_at"),)


class UserReport(Base):
    """The latest ``report.completed.v1`` per user, as knowledge codes (an older event never overwrites it)."""
    __tablename__ = "user_reports"
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    report_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    collected_on: Mapped[date | None] = mapped_column(Date)
    abnormal: Mapped[list[dict]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))   # [{code, flag}]
    findings: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default=_EMPTY)
    conditions: Mapped[list[str]] = mapped_column(ARRAY(String(60)), server_default=_EMPTY)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class UserPlan(Base):
    """One medication plan per ``plan.changed.v1`` plan id: its drug classes and drugs, and whether it is active."""
    __tablename__ = "user_plans"
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    drug_classes: Mapped[list[str]] = mapped_column(ARRAY(String(60)), server_default=_EMPTY)
    drugs: Mapped[list[str]] = mapped_column(ARRAY(String(60)), server_default=_EMPTY)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
