"""A BRIN index on ``outbox.created_at`` for the retention that deletes sent rows after ``outbox_retention_h``
(scheduler.prune_outbox): rows are written in created_at order, so a block range index finds the old pages, and it
has no entry per row for a relay's "sent" mark to add at a peak (0005 dropped the B-tree on published_at for that).

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_created_brin', 'outbox', ['created_at'], unique=False, schema='reminders',
                    postgresql_using='brin')


def downgrade() -> None:
    op.drop_index('ix_outbox_created_brin', table_name='outbox', schema='reminders')
