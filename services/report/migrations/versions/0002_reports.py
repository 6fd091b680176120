"""Reports, their sections, stored uploads and indicator values (for trends).

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
        "reports",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("inputs_enc", sa.LargeBinary, nullable=False),
        sa.Column("body", JSONB, nullable=True),
        sa.Column("urgency", sa.String(16), nullable=True),
        sa.Column("critical", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("completions", sa.Integer, nullable=False),
        sa.Column("report_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.create_index("ix_reports_user_created", "reports", ["user_id", "created_at", "id"], schema=SCHEMA)
    op.create_index("ix_reports_status", "reports", ["status"], schema=SCHEMA)
    op.create_table(
        "sections",
        sa.Column("report_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.reports.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", JSONB, nullable=True),
        sa.Column("result", JSONB, nullable=True),
        sa.Column("runs", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "uploads",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("report_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.reports.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("label", sa.String(64), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_uploads_report_id", "uploads", ["report_id"], schema=SCHEMA)
    op.create_index("ix_uploads_user_sha", "uploads", ["user_id", "sha256"], schema=SCHEMA)
    op.create_table(
        "indicator_values",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("report_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.reports.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("unit", sa.String(32), nullable=True),
        sa.Column("flag", sa.String(4), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_indicator_values_report_id", "indicator_values", ["report_id"], schema=SCHEMA)
    op.create_index("ix_indicator_values_user_code", "indicator_values", ["user_id", "code", "taken_at"],
                    schema=SCHEMA)


def downgrade() -> None:
    for t in ("indicator_values", "uploads", "sections", "reports"):
        op.drop_table(t, schema=SCHEMA)
