"""Initial schema: the outbox and inbox every service carries.

Revision ID: 0001
Revises:
"""
from zhenxi_common.migrations import create_platform_tables, drop_platform_tables

from app.models import SCHEMA

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables(SCHEMA)


def downgrade() -> None:
    drop_platform_tables(SCHEMA)
