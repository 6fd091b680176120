"""Consultations and their messages (Q&A history, one owner per consultation).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from app.models import SCHEMA

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consultations",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_consultations_user_updated", "consultations", ["user_id", "updated_at"], schema=SCHEMA)
    op.create_table(
        "messages",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("consultation_id", UUID(as_uuid=True),
                  sa.ForeignKey(f"{SCHEMA}.consultations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32)),
        sa.Column("urgency", sa.String(16)),
        sa.Column("sources", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("departments", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("knowledge_version", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_messages_consultation_created", "messages", ["consultation_id", "created_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("messages", schema=SCHEMA)
    op.drop_table("consultations", schema=SCHEMA)
