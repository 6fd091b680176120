"""Plans, occurrences, deliveries, devices, consents, calendar tokens and the sync change log.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

from app.models import CalendarToken, Change, Consent, Delivery, Device, Occurrence, Plan

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = [Plan, Occurrence, Delivery, Device, Consent, CalendarToken, Change]


def upgrade() -> None:
    bind = op.get_bind()
    for model in TABLES:
        model.__table__.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for model in reversed(TABLES):
        model.__table__.drop(bind)
