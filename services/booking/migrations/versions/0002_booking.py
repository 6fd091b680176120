"""Catalogue (hospitals, doctors, sessions), holds, bookings, idempotency keys, audit log, notifications.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID

from app.models import SCHEMA

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _created() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "hospitals",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("city", sa.String(50), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("his_base_url", sa.String(300)),
        _created(), schema=SCHEMA)
    op.create_table(
        "doctors",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("hospital_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.hospitals.id"), nullable=False),
        sa.Column("department_id", sa.String(50), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("title", sa.String(20), nullable=False),
        sa.Column("specialties", JSONB, nullable=False),
        sa.Column("bio", sa.Text, nullable=False),
        sa.Column("photo_url", sa.String(300)),
        sa.Column("external_ref", sa.String(100)),
        sa.Column("search_tokens", sa.Text, nullable=False),
        sa.Column("search_tsv", TSVECTOR, sa.Computed("to_tsvector('simple', search_tokens)", persisted=True)),
        _created(),
        sa.UniqueConstraint("hospital_id", "external_ref", name="uq_doctor_external_ref"),
        schema=SCHEMA)
    op.create_index("ix_doctors_hospital_id", "doctors", ["hospital_id"], schema=SCHEMA)
    op.create_index("ix_doctors_department_id", "doctors", ["department_id"], schema=SCHEMA)
    op.create_index("ix_doctors_search", "doctors", ["search_tsv"], postgresql_using="gin", schema=SCHEMA)
    op.create_table(
        "sessions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("doctor_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.doctors.id"), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("remaining", sa.Integer, nullable=False),
        sa.Column("fee_cents", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("external_ref", sa.String(100)),
        sa.Column("closed_reason", sa.String(200)),
        _created(),
        sa.UniqueConstraint("doctor_id", "date", "period", name="uq_session_doctor_date_period"),
        sa.CheckConstraint("remaining >= 0 AND remaining <= capacity", name="ck_session_remaining"),
        sa.CheckConstraint("capacity > 0", name="ck_session_capacity"),
        schema=SCHEMA)
    op.create_index("ix_sessions_doctor_id", "sessions", ["doctor_id"], schema=SCHEMA)
    op.create_index("ix_sessions_date", "sessions", ["date"], schema=SCHEMA)
    op.create_table(
        "holds",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("session_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.sessions.id"), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        _created(), schema=SCHEMA)
    op.create_index("ix_holds_session_id", "holds", ["session_id"], schema=SCHEMA)
    op.create_index("ix_holds_user_id", "holds", ["user_id"], schema=SCHEMA)
    op.create_index("ix_holds_active_expiry", "holds", ["expires_at"], schema=SCHEMA,
                    postgresql_where=sa.text("status = 'active'"))
    op.create_index("uq_hold_session_user_active", "holds", ["session_id", "user_id"], unique=True, schema=SCHEMA,
                    postgresql_where=sa.text("status = 'active'"))
    op.create_table(
        "bookings",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("session_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.sessions.id"), nullable=False),
        sa.Column("hold_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.holds.id"), nullable=False, unique=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("seq_no", sa.Integer, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("visit_date", sa.Date, nullable=False),
        sa.Column("key_id", sa.String(20), nullable=False),
        sa.Column("name_enc", sa.LargeBinary, nullable=False),
        sa.Column("id_number_enc", sa.LargeBinary, nullable=False),
        sa.Column("phone_enc", sa.LargeBinary, nullable=False),
        sa.Column("id_number_idx", sa.String(64), nullable=False),
        sa.Column("phone_idx", sa.String(64), nullable=False),
        sa.Column("verify_code", sa.String(12), nullable=False),
        sa.Column("external_ref", sa.String(100)),
        sa.Column("cancel_reason", sa.String(40)),
        _created(),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
        schema=SCHEMA)
    op.create_index("ix_bookings_session_id", "bookings", ["session_id"], schema=SCHEMA)
    op.create_index("ix_bookings_user_id", "bookings", ["user_id"], schema=SCHEMA)
    op.create_index("ix_bookings_id_number_idx", "bookings", ["id_number_idx"], schema=SCHEMA)
    op.create_index("ix_bookings_phone_idx", "bookings", ["phone_idx"], schema=SCHEMA)
    op.create_index("ix_booking_patient_day", "bookings", ["id_number_idx", "visit_date"], schema=SCHEMA)
    op.create_index("uq_booking_session_seq", "bookings", ["session_id", "seq_no"], unique=True, schema=SCHEMA,
                    postgresql_where=sa.text("status <> 'cancelled'"))
    op.create_index("ix_booking_session_patient", "bookings", ["session_id", "id_number_idx"], schema=SCHEMA)
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_mac", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", JSONB, nullable=False),
        _created(), schema=SCHEMA)
    op.create_table(
        "audit_log",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("actor_id", sa.String(128), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("target", JSONB, nullable=False),
        _created(), schema=SCHEMA)
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor_id"], schema=SCHEMA)
    op.create_table(
        "notifications",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("booking_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.bookings.id"), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        _created(), schema=SCHEMA)
    op.create_index("ix_notifications_user_id", "notifications", ["user_id"], schema=SCHEMA)


def downgrade() -> None:
    for table in ("notifications", "audit_log", "idempotency_keys", "bookings", "holds", "sessions", "doctors",
                  "hospitals"):
        op.drop_table(table, schema=SCHEMA)
