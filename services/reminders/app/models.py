"""Tables of the ``reminders`` schema. Only this service reads or writes them.

Personal fields (the drug as the patient typed it, notes, the caregiver, device addresses) are stored encrypted
(``*_enc`` columns, see ``crypto.py``); ids, times and states stay in the clear so the scheduler can query them."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, LargeBinary,
                        MetaData, String, UniqueConstraint, func, text)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from zhenxi_common.outbox import outbox_tables

SCHEMA = "reminders"
metadata = MetaData(schema=SCHEMA)


class Base(DeclarativeBase):
    metadata = metadata


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (Index("ix_plans_expanded_until", "expanded_until",
                            postgresql_where=text("active AND deleted_at IS NULL")),)
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    drug_enc: Mapped[bytes] = mapped_column(LargeBinary)
    drug_id: Mapped[str | None] = mapped_column(String(64))
    drug_class: Mapped[str | None] = mapped_column(String(64))
    dose: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    route: Mapped[str] = mapped_column(String(32))
    notes_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    total_count: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    schedule: Mapped[dict] = mapped_column(JSONB)
    meal_times: Mapped[dict] = mapped_column(JSONB)
    # The plan version at which each field last changed: a stale If-Match that touches only untouched fields
    # merges instead of conflicting (two offline devices lose nothing).
    field_versions: Mapped[dict] = mapped_column(JSONB, default=dict)
    stock: Mapped[float | None] = mapped_column(Float)
    refill_days_ahead: Mapped[int | None] = mapped_column(Integer)
    caregiver_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    caregiver_after_min: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Every-N-hours plans counted from the last dose taken: the instant the series is anchored on now.
    anchor_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expanded_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Occurrence(Base):
    """One due dose (kind ``dose``), a visit reminder (``visit``) or a refill reminder (``refill``).

    ``next_fire_at`` is the scheduler's queue: the next time a reminder must go out, NULL when nothing is left to
    send. ``fire_count`` counts reminders sent; each one's event id derives from (id, fire_count), so a reminder is
    one outbox row whatever happens to the replicas."""
    __tablename__ = "occurrences"
    __table_args__ = (
        UniqueConstraint("plan_id", "due_at", name="uq_occurrence_plan_due"),
        UniqueConstraint("source_key", name="uq_occurrence_source"),
        Index("ix_occurrences_next_fire", "next_fire_at", postgresql_where=text("next_fire_at IS NOT NULL")),
        Index("ix_occurrences_open_due", "due_at", postgresql_where=text("state IN ('scheduled', 'due')")),
        Index("ix_occurrences_user_due", "user_id", "due_at"),
    )
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[str] = mapped_column(String(64))
    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="dose")
    source_key: Mapped[str | None] = mapped_column(String(200))   # visits/refills: where it came from
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    local_date: Mapped[date] = mapped_column(Date)   # the patient's day this dose belongs to (plan's zone)
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    version: Mapped[int] = mapped_column(Integer, default=1)
    next_fire_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fire_count: Mapped[int] = mapped_column(Integer, default=0)
    last_fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    caregiver_alerted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Delivery(Base):
    __tablename__ = "deliveries"
    id: Mapped[uuid.UUID] = _id()
    occurrence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("occurrences.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    attempt: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))      # sse | webhook | wechat | caregiver
    device_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(16))       # sent | failed | refused
    detail: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (UniqueConstraint("event_id", "channel", "device_id", name="uq_delivery_once"),)


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))          # webhook | wechat
    address_enc: Mapped[bytes] = mapped_column(LargeBinary)   # URL or WeChat openid
    secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)   # webhooks: HMAC key for the signature header
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Consent(Base):
    """The patient lets ``grantee_id`` (a family member's user id) read their adherence; revocable."""
    __tablename__ = "consents"
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    grantee_id: Mapped[str] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(String(32), default="adherence")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CalendarToken(Base):
    __tablename__ = "calendar_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Change(Base):
    """The sync log: one row per write of a plan, occurrence, device or consent, tombstones included. The cursor
    a client holds is the last ``seq`` it saw."""
    __tablename__ = "changes"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(16))
    resource_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("ix_changes_user_seq", "user_id", "seq"),)


outbox, inbox = outbox_tables(metadata)
# A reminder claimed a few seconds ahead of its due time (see scheduler.py) is staged with ``not_before`` = the time
# it must go out; the relay publishes no row before its ``not_before`` (NULL: at once, like every other event).
from sqlalchemy import Column  # noqa: E402

outbox.append_column(Column("not_before", DateTime(timezone=True), nullable=True))
# The relay claims unsent rows in release order (not_before, or created_at for an event sent at once): this partial
# index lets a claim read only rows whose time has come, not the next peak's rows staged behind them (0004).
Index("ix_outbox_release", func.coalesce(outbox.c.not_before, outbox.c.created_at),
      postgresql_where=outbox.c.published_at.is_(None))
