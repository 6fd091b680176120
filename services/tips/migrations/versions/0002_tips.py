"""Tips (draft/published, search vector), images and their variants, views, favourites, and each user's latest
report codes and medication plans (built from events).

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

EMPTY = sa.text("'{}'::varchar[]")


def _arr(name: str, n: int) -> sa.Column:
    return sa.Column(name, sa.ARRAY(sa.String(n)), nullable=False, server_default=EMPTY)


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     server_default=None if nullable else sa.func.now())


def upgrade() -> None:
    op.create_table(
        "tips",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("slug", sa.String(80), nullable=False, unique=True),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("summary", sa.String(300), nullable=False),
        sa.Column("body_md", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text, nullable=False),
        _arr("tags", 60),
        sa.Column("tags_source", sa.String(8), nullable=False),
        _arr("indicators", 40), _arr("findings", 40), _arr("conditions", 60), _arr("drug_classes", 60),
        sa.Column("references", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("general", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("seed_digest", sa.String(16)),
        sa.Column("edited", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("search", TSVECTOR, nullable=False),
        sa.Column("view_count", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("favorite_count", sa.Integer, nullable=False, server_default=sa.text("0")),
        _ts("created_at"), _ts("updated_at"), _ts("published_at", nullable=True),
        sa.CheckConstraint("status IN ('draft', 'published')", name="ck_tips_status"),
        sa.CheckConstraint("lang IN ('zh-CN', 'en')", name="ck_tips_lang"),
        schema=SCHEMA,
    )
    op.create_index("ix_tips_search", "tips", ["search"], postgresql_using="gin", schema=SCHEMA)
    op.create_index("ix_tips_browse", "tips", ["status", "published_at", "id"], schema=SCHEMA)
    op.create_table(
        "tip_images",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tip_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.tips.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("alt", sa.String(200), nullable=False, server_default=""),
        _ts("created_at"),
        schema=SCHEMA,
    )
    op.create_table(
        "tip_image_variants",
        sa.Column("image_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.tip_images.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("width", sa.Integer, primary_key=True),
        sa.Column("format", sa.String(5), primary_key=True),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("media_type", sa.String(20), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "tip_views",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("tip_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.tips.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("count", sa.Integer, nullable=False, server_default=sa.text("1")),
        _ts("last_viewed_at"),
        schema=SCHEMA,
    )
    op.create_table(
        "favorites",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("tip_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.tips.id", ondelete="CASCADE"),
                  primary_key=True),
        _ts("created_at"),
        schema=SCHEMA,
    )
    op.create_index("ix_favorites_user_created", "favorites", ["user_id", "created_at"], schema=SCHEMA)
    op.create_table(
        "user_reports",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("report_id", sa.String(128), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("collected_on", sa.Date),
        sa.Column("abnormal", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        _arr("findings", 40), _arr("conditions", 60),
        _ts("updated_at"),
        schema=SCHEMA,
    )
    op.create_table(
        "user_plans",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("plan_id", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        _arr("drug_classes", 60), _arr("drugs", 60),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        _ts("updated_at"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for name in ("user_plans", "user_reports", "favorites", "tip_views", "tip_image_variants", "tip_images", "tips"):
        op.drop_table(name, schema=SCHEMA)
