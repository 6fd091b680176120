"""Partial index on the release time of unsent outbox rows: the relay's claim at a peak reads only the rows whose
time has come, in due order, and stops at its batch size (not every unsent row, sorted, per pass).

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_release', 'outbox', [sa.text('coalesce(not_before, created_at)')], unique=False,
                    schema='reminders', postgresql_where=sa.text('published_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_outbox_release', table_name='outbox', schema='reminders')
