"""Outbox rows may carry ``not_before``: reminders claimed ahead of their due time go out at it, not earlier.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('outbox', sa.Column('not_before', sa.DateTime(timezone=True), nullable=True), schema='reminders')


def downgrade() -> None:
    op.drop_column('outbox', 'not_before', schema='reminders')
