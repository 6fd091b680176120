"""Tables of the ``xray`` schema. Only this service reads or writes them.

No table holds an image, a file name or a DICOM tag: analyses keep only the model outputs, keyed by user id."""
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, Index, Integer, MetaData,
                        String, UniqueConstraint, func, text)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from zhenxi_common.outbox import outbox_tables

SCHEMA = "xray"
metadata = MetaData(schema=SCHEMA)

MODEL_STATUSES = ("staged", "active", "retired")
MODEL_SOURCES = ("bundled", "upload", "training")
JOB_STATUSES = ("queued", "running", "succeeded", "failed")


class Base(DeclarativeBase):
    metadata = metadata


outbox, inbox = outbox_tables(metadata)


class ModelVersion(Base):
    """One registered ONNX file. Blobs are content-addressed in the model store by ``sha256``."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
        UniqueConstraint("sha256", name="uq_model_versions_sha256"),
        CheckConstraint("status IN ('staged', 'active', 'retired')", name="ck_model_versions_status"),
        # At most one active version per model name, enforced by the database.
        Index("uq_model_versions_one_active", "name", unique=True, postgresql_where=text("status = 'active'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="staged")
    source: Mapped[str] = mapped_column(String(16))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # sidecar (what the analyzer reads), assets {relative path: sha256}, signature, golden output shapes
    meta: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ModelActivation(Base):
    """Promotion history per model name, used as an undo stack by rollback."""

    __tablename__ = "model_activations"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))  # seed | promote
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    rolled_back_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Analysis(Base):
    """Non-identifying results of one analysis, visible only to the user who asked for it."""

    __tablename__ = "analyses"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    model_version: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    image: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # width, height, format only
    gate: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    abnormal: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    findings: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    detections: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    measurements: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    classifications: Mapped[list[Any]] = mapped_column(JSONB, default=list)


class TrainingJob(Base):
    __tablename__ = "training_jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="ck_training_jobs_status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    created_by: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    model_name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    dataset: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # class names and counts only
    upload_sha256: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # the latest progress event
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TrainingJobEvent(Base):
    """Progress of a job, in order; the id doubles as the Server-Sent Events id (resume with Last-Event-ID)."""

    __tablename__ = "training_job_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("training_jobs.id", ondelete="CASCADE"),
                                              index=True)
    kind: Mapped[str] = mapped_column(String(16))  # status | progress | result | error
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
