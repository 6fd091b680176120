"""Tables of the ``report`` schema. Only this service reads or writes them.

A report has one row per section (lab, xray, symptoms), so a section can fail, be retried and be filled in
on its own. Personal inputs (symptom text, medications, age) are stored encrypted; uploads live encrypted in
the upload store and are referenced here by their content address."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (BigInteger, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String,
                        func)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from zhenxi_common.outbox import outbox_tables

SCHEMA = "report"
metadata = MetaData(schema=SCHEMA)


class Base(DeclarativeBase):
    metadata = metadata


outbox, inbox = outbox_tables(metadata)


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_user_created", "user_id", "created_at", "id"),
                      Index("ix_reports_status", "status"))

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # pending -> running -> completed; a retry sets it back to pending.
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    lang: Mapped[str] = mapped_column(String(2), nullable=False, default="zh")
    inputs_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # sex, age, medications, symptoms
    body: Mapped[dict | None] = mapped_column(JSONB, nullable=True)          # the composed report (no images)
    urgency: Mapped[str | None] = mapped_column(String(16), nullable=True)
    critical: Mapped[bool] = mapped_column(default=False, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)   # times work was claimed
    completions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    report_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now(), nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Section(Base):
    __tablename__ = "sections"

    report_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("reports.id", ondelete="CASCADE"),
                                                 primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)   # lab | xray | symptoms
    # pending | running | done | unavailable
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    reason: Mapped[dict | None] = mapped_column(JSONB, nullable=True)
    result: Mapped[dict | None] = mapped_column(JSONB, nullable=True)
    runs: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now(), nullable=False)


class Upload(Base):
    """A stored file: an input (lab photo, X-ray) or an image derived from one (heatmap, mask overlay)."""
    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_user_sha", "user_id", "sha256"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("reports.id", ondelete="CASCADE"),
                                                 nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)     # lab | xray | derived
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    label: Mapped[str | None] = mapped_column(String(64), nullable=True)  # derived: heatmap:<finding> | mask:<organ>
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class IndicatorValue(Base):
    """One indicator value of a completed report, kept for the user's trends."""
    __tablename__ = "indicator_values"
    __table_args__ = (Index("ix_indicator_values_user_code", "user_id", "code", "taken_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    report_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("reports.id", ondelete="CASCADE"),
                                                 nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    code: Mapped[str] = mapped_column(String(64), nullable=False)
    value: Mapped[float] = mapped_column(Float, nullable=False)
    unit: Mapped[str | None] = mapped_column(String(32), nullable=True)
    flag: Mapped[str | None] = mapped_column(String(4), nullable=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
