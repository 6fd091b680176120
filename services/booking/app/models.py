"""Tables of the ``booking`` schema. Only this service reads or writes them.

``sessions.remaining`` is the source of truth for free slots: a hold takes one with a conditional update, an
expired/released hold or a cancellation gives it back. Confirmed bookings carry a sequence number that is unique
per session among active bookings. Personal data is stored only as AES-GCM ciphertext plus HMAC blind indexes."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (CheckConstraint, Computed, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, MetaData,
                        String, Text, UniqueConstraint, func, text)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from zhenxi_common.outbox import outbox_tables

SCHEMA = "booking"
metadata = MetaData(schema=SCHEMA)


class Base(DeclarativeBase):
    metadata = metadata


outbox, inbox = outbox_tables(metadata)


def _uuid() -> uuid.UUID:
    return uuid.uuid4()


class Hospital(Base):
    __tablename__ = "hospitals"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    city: Mapped[str] = mapped_column(String(50))
    address: Mapped[str] = mapped_column(String(200), default="")
    level: Mapped[str] = mapped_column(String(20), default="")
    provider: Mapped[str] = mapped_column(String(20), default="local")   # local | his
    his_base_url: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Doctor(Base):
    __tablename__ = "doctors"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    hospital_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.hospitals.id"), index=True)
    department_id: Mapped[str] = mapped_column(String(50), index=True)
    name: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(20))
    specialties: Mapped[list[str]] = mapped_column(JSONB, default=list)
    bio: Mapped[str] = mapped_column(Text, default="")
    photo_url: Mapped[str | None] = mapped_column(String(300))
    external_ref: Mapped[str | None] = mapped_column(String(100))
    # jieba tokens of name + specialties + bio, space separated; ``search_tsv`` is generated from it.
    search_tokens: Mapped[str] = mapped_column(Text, default="")
    search_tsv = mapped_column(TSVECTOR, Computed("to_tsvector('simple', search_tokens)", persisted=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (UniqueConstraint("hospital_id", "external_ref", name="uq_doctor_external_ref"),
                      Index("ix_doctors_search", "search_tsv", postgresql_using="gin"))


class Session(Base):
    __tablename__ = "sessions"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.doctors.id"), index=True)
    date: Mapped[date] = mapped_column(Date)
    period: Mapped[str] = mapped_column(String(10))      # morning | afternoon | evening
    capacity: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer)
    fee_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="open")   # open | closed
    version: Mapped[int] = mapped_column(Integer, default=0)          # bumped on every change of remaining
    external_ref: Mapped[str | None] = mapped_column(String(100))
    closed_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        UniqueConstraint("doctor_id", "date", "period", name="uq_session_doctor_date_period"),
        CheckConstraint("remaining >= 0 AND remaining <= capacity", name="ck_session_remaining"),
        CheckConstraint("capacity > 0", name="ck_session_capacity"),
        Index("ix_sessions_date", "date"),
    )


class Hold(Base):
    __tablename__ = "holds"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.sessions.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | used | expired | released
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        Index("ix_holds_active_expiry", "expires_at", postgresql_where=text("status = 'active'")),
        Index("uq_hold_session_user_active", "session_id", "user_id", unique=True,
              postgresql_where=text("status = 'active'")),
    )


class Booking(Base):
    __tablename__ = "bookings"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.sessions.id"), index=True)
    hold_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.holds.id"), unique=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    seq_no: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="confirmed")  # confirmed | cancelled | attended | no_show
    visit_date: Mapped[date] = mapped_column(Date)
    # Personal data: ciphertext (nonce || AES-GCM output) with the key id that wrote it, and blind indexes.
    key_id: Mapped[str] = mapped_column(String(20))
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_idx: Mapped[str] = mapped_column(String(64), index=True)
    phone_idx: Mapped[str] = mapped_column(String(64), index=True)
    verify_code: Mapped[str] = mapped_column(String(12))
    external_ref: Mapped[str | None] = mapped_column(String(100))
    cancel_reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        # No sequence number is ever given twice in a session (a cancelled one may be given again).
        Index("uq_booking_session_seq", "session_id", "seq_no", unique=True,
              postgresql_where=text("status <> 'cancelled'")),
        Index("ix_booking_session_patient", "session_id", "id_number_idx"),
        Index("ix_booking_patient_day", "id_number_idx", "visit_date"),
    )


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_mac: Mapped[str] = mapped_column(String(64))   # HMAC of the body (it carries personal data)
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    actor_id: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[dict] = mapped_column(JSONB, default=dict)   # ids and which index was searched, never plaintext
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Notification(Base):
    __tablename__ = "notifications"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.bookings.id"))
    kind: Mapped[str] = mapped_column(String(30))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

