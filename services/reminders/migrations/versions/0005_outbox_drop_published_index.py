"""Drop the platform's index on ``outbox.published_at``: every reader of unsent rows in this service goes through
``ix_outbox_release`` (partial: unsent rows only), and the index cost one more index entry per staged row and per
"sent" mark, in the relay's claim at a peak (``bench/reminders_drain.py``: Postgres CPU per 1,000 fires, see the
service README).

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_reminders_outbox_published_at', table_name='outbox', schema='reminders')


def downgrade() -> None:
    op.create_index('ix_reminders_outbox_published_at', 'outbox', ['published_at'], unique=False, schema='reminders')
