"""Model registry, analysis results (non-identifying) and fine-tuning jobs.

The committed ONNX files are registered by the service at start-up (``app.registry.seed_bundled``), not here:
registering copies blobs into the model store, which the migration container may not mount.

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


def _ts(name: str, nullable: bool = False, default: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     server_default=sa.func.now() if default else None)


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("metrics", JSONB, nullable=False),
        sa.Column("meta", JSONB, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        _ts("created_at", default=True),
        _ts("promoted_at", nullable=True),
        sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
        sa.UniqueConstraint("sha256", name="uq_model_versions_sha256"),
        sa.CheckConstraint("status IN ('staged', 'active', 'retired')", name="ck_model_versions_status"),
        schema=SCHEMA,
    )
    op.create_index("uq_model_versions_one_active", "model_versions", ["name"], unique=True, schema=SCHEMA,
                    postgresql_where=sa.text("status = 'active'"))

    op.create_table(
        "model_activations",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=True),
        _ts("activated_at", default=True),
        _ts("rolled_back_at", nullable=True),
        schema=SCHEMA,
    )
    op.create_index("ix_model_activations_name", "model_activations", ["name"], schema=SCHEMA)

    op.create_table(
        "analyses",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        _ts("created_at", default=True),
        sa.Column("model_version", JSONB, nullable=False),
        sa.Column("image", JSONB, nullable=False),
        sa.Column("gate", JSONB, nullable=False),
        sa.Column("abnormal", JSONB, nullable=False),
        sa.Column("findings", JSONB, nullable=False),
        sa.Column("detections", JSONB, nullable=False),
        sa.Column("measurements", JSONB, nullable=False),
        sa.Column("classifications", JSONB, nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_analyses_user_id", "analyses", ["user_id"], schema=SCHEMA)
    op.create_index("ix_analyses_created_at", "analyses", ["created_at"], schema=SCHEMA)

    op.create_table(
        "training_jobs",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("model_name", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("params", JSONB, nullable=False),
        sa.Column("dataset", JSONB, nullable=False),
        sa.Column("upload_sha256", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("progress", JSONB, nullable=False),
        sa.Column("result", JSONB, nullable=True),
        sa.Column("error", JSONB, nullable=True),
        _ts("created_at", default=True),
        _ts("started_at", nullable=True),
        _ts("heartbeat_at", nullable=True),
        _ts("finished_at", nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="ck_training_jobs_status"),
        schema=SCHEMA,
    )
    op.create_index("ix_training_jobs_created_by", "training_jobs", ["created_by"], schema=SCHEMA)

    op.create_table(
        "training_job_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("job_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.training_jobs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("data", JSONB, nullable=False),
        _ts("created_at", default=True),
        schema=SCHEMA,
    )
    op.create_index("ix_training_job_events_job_id", "training_job_events", ["job_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("training_job_events", schema=SCHEMA)
    op.drop_table("training_jobs", schema=SCHEMA)
    op.drop_table("analyses", schema=SCHEMA)
    op.drop_table("model_activations", schema=SCHEMA)
    op.drop_table("model_versions", schema=SCHEMA)
