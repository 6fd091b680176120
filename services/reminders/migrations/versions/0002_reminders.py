"""Plans, occurrences, deliveries, devices, consents, calendar tokens and the sync change log.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('token_hash'),
    schema='reminders'
    )
    op.create_index(op.f('ix_reminders_calendar_tokens_user_id'), 'calendar_tokens', ['user_id'], unique=False, schema='reminders')
    op.create_table('changes',
    sa.Column('seq', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('resource', sa.String(length=16), nullable=False),
    sa.Column('resource_id', sa.UUID(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    schema='reminders'
    )
    op.create_index('ix_changes_user_seq', 'changes', ['user_id', 'seq'], unique=False, schema='reminders')
    op.create_table('consents',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('grantee_id', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    schema='reminders'
    )
    op.create_index(op.f('ix_reminders_consents_grantee_id'), 'consents', ['grantee_id'], unique=False, schema='reminders')
    op.create_index(op.f('ix_reminders_consents_user_id'), 'consents', ['user_id'], unique=False, schema='reminders')
    op.create_table('devices',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('address_enc', sa.LargeBinary(), nullable=False),
    sa.Column('secret_enc', sa.LargeBinary(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    schema='reminders'
    )
    op.create_index(op.f('ix_reminders_devices_user_id'), 'devices', ['user_id'], unique=False, schema='reminders')
    op.create_table('plans',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('drug_enc', sa.LargeBinary(), nullable=False),
    sa.Column('drug_id', sa.String(length=64), nullable=True),
    sa.Column('drug_class', sa.String(length=64), nullable=True),
    sa.Column('dose', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=32), nullable=False),
    sa.Column('route', sa.String(length=32), nullable=False),
    sa.Column('notes_enc', sa.LargeBinary(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('total_count', sa.Integer(), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('schedule', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('meal_times', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('field_versions', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('stock', sa.Float(), nullable=True),
    sa.Column('refill_days_ahead', sa.Integer(), nullable=True),
    sa.Column('caregiver_enc', sa.LargeBinary(), nullable=True),
    sa.Column('caregiver_after_min', sa.Float(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('anchor_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expanded_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    schema='reminders'
    )
    op.create_index('ix_plans_expanded_until', 'plans', ['expanded_until'], unique=False, schema='reminders', postgresql_where=sa.text('active AND deleted_at IS NULL'))
    op.create_index(op.f('ix_reminders_plans_user_id'), 'plans', ['user_id'], unique=False, schema='reminders')
    op.create_table('occurrences',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('plan_id', sa.UUID(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('source_key', sa.String(length=200), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('next_fire_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fire_count', sa.Integer(), nullable=False),
    sa.Column('last_fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('caregiver_alerted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['reminders.plans.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_id', 'due_at', name='uq_occurrence_plan_due'),
    sa.UniqueConstraint('source_key', name='uq_occurrence_source'),
    schema='reminders'
    )
    op.create_index('ix_occurrences_next_fire', 'occurrences', ['next_fire_at'], unique=False, schema='reminders', postgresql_where=sa.text('next_fire_at IS NOT NULL'))
    op.create_index('ix_occurrences_open_due', 'occurrences', ['due_at'], unique=False, schema='reminders', postgresql_where=sa.text("state IN ('scheduled', 'due')"))
    op.create_index('ix_occurrences_user_due', 'occurrences', ['user_id', 'due_at'], unique=False, schema='reminders')
    op.create_table('deliveries',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('occurrence_id', sa.UUID(), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('device_id', sa.UUID(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['occurrence_id'], ['reminders.occurrences.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'channel', 'device_id', name='uq_delivery_once'),
    schema='reminders'
    )
    op.create_index(op.f('ix_reminders_deliveries_occurrence_id'), 'deliveries', ['occurrence_id'], unique=False, schema='reminders')


def downgrade() -> None:
    op.drop_index(op.f('ix_reminders_deliveries_occurrence_id'), table_name='deliveries', schema='reminders')
    op.drop_table('deliveries', schema='reminders')
    op.drop_index('ix_occurrences_user_due', table_name='occurrences', schema='reminders')
    op.drop_index('ix_occurrences_open_due', table_name='occurrences', schema='reminders', postgresql_where=sa.text("state IN ('scheduled', 'due')"))
    op.drop_index('ix_occurrences_next_fire', table_name='occurrences', schema='reminders', postgresql_where=sa.text('next_fire_at IS NOT NULL'))
    op.drop_table('occurrences', schema='reminders')
    op.drop_index(op.f('ix_reminders_plans_user_id'), table_name='plans', schema='reminders')
    op.drop_index('ix_plans_expanded_until', table_name='plans', schema='reminders', postgresql_where=sa.text('active AND deleted_at IS NULL'))
    op.drop_table('plans', schema='reminders')
    op.drop_index(op.f('ix_reminders_devices_user_id'), table_name='devices', schema='reminders')
    op.drop_table('devices', schema='reminders')
    op.drop_index(op.f('ix_reminders_consents_user_id'), table_name='consents', schema='reminders')
    op.drop_index(op.f('ix_reminders_consents_grantee_id'), table_name='consents', schema='reminders')
    op.drop_table('consents', schema='reminders')
    op.drop_index('ix_changes_user_seq', table_name='changes', schema='reminders')
    op.drop_table('changes', schema='reminders')
    op.drop_index(op.f('ix_reminders_calendar_tokens_user_id'), table_name='calendar_tokens', schema='reminders')
    op.drop_table('calendar_tokens', schema='reminders')
