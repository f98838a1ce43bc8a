"""push: policies, deliveries, fan-out chunks, preferences, taxpayer tags, audit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('push_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('region_scope', sa.JSON(), nullable=False),
    sa.Column('valid_from', app.db.UtcDateTime(), nullable=False),
    sa.Column('valid_to', app.db.UtcDateTime(), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('critical', sa.Boolean(), nullable=False),
    sa.Column('rule', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source_key', sa.String(length=100), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(), nullable=False),
    sa.Column('updated_at', app.db.UtcDateTime(), nullable=False),
    sa.Column('published_at', app.db.UtcDateTime(), nullable=True),
    sa.Column('published_by', sa.String(length=64), nullable=True),
    sa.Column('plan_enqueued_at', app.db.UtcDateTime(), nullable=True),
    sa.Column('planned_at', app.db.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_policies')),
    sa.UniqueConstraint('source_key', name=op.f('uq_push_policies_source_key'))
    )
    with op.batch_alter_table('push_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_policies_status'), ['status'], unique=False)

    op.create_table('push_audit',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', app.db.UtcDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=True),
    sa.Column('uscc', sa.String(length=18), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['push_policies.id'], name=op.f('fk_push_audit_policy_id_push_policies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_audit'))
    )
    with op.batch_alter_table('push_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_audit_policy_id'), ['policy_id'], unique=False)

    op.create_table('push_chunks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('lo', sa.String(length=18), nullable=False),
    sa.Column('hi', sa.String(length=18), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('matched', sa.Integer(), nullable=True),
    sa.Column('enqueued_at', app.db.UtcDateTime(), nullable=False),
    sa.Column('done_at', app.db.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['policy_id'], ['push_policies.id'], name=op.f('fk_push_chunks_policy_id_push_policies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_chunks')),
    sa.UniqueConstraint('policy_id', 'scope', 'lo', name='uq_push_chunks_policy_scope_lo')
    )
    with op.batch_alter_table('push_chunks', schema=None) as batch_op:
        batch_op.create_index('ix_push_chunks_status_enqueued', ['status', 'enqueued_at'], unique=False)

    op.create_table('push_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('bypassed', sa.String(length=100), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('digest_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('matched_at', app.db.UtcDateTime(), nullable=False),
    sa.Column('due_at', app.db.UtcDateTime(), nullable=True),
    sa.Column('claimed_until', app.db.UtcDateTime(), nullable=True),
    sa.Column('queued_at', app.db.UtcDateTime(), nullable=True),
    sa.Column('sent_at', app.db.UtcDateTime(), nullable=True),
    sa.Column('delivered_at', app.db.UtcDateTime(), nullable=True),
    sa.Column('read_at', app.db.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['policy_id'], ['push_policies.id'], name=op.f('fk_push_deliveries_policy_id_push_policies')),
    sa.ForeignKeyConstraint(['uscc'], ['taxpayers.uscc'], name=op.f('fk_push_deliveries_uscc_taxpayers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_deliveries')),
    sa.UniqueConstraint('policy_id', 'uscc', 'channel', name='uq_push_deliveries_policy_taxpayer_channel')
    )
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_push_deliveries_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_push_deliveries_uscc_channel_queued', ['uscc', 'channel', 'queued_at'], unique=False)

    op.create_table('push_preferences',
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('opt_out_categories', sa.JSON(), nullable=False),
    sa.Column('opt_out_channels', sa.JSON(), nullable=False),
    sa.Column('quiet_hours', sa.String(length=11), nullable=True),
    sa.Column('daily_cap', sa.Integer(), nullable=True),
    sa.Column('updated_at', app.db.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['uscc'], ['taxpayers.uscc'], name=op.f('fk_push_preferences_uscc_taxpayers')),
    sa.PrimaryKeyConstraint('uscc', name=op.f('pk_push_preferences'))
    )
    op.create_table('taxpayer_tags',
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('tag', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['uscc'], ['taxpayers.uscc'], name=op.f('fk_taxpayer_tags_uscc_taxpayers')),
    sa.PrimaryKeyConstraint('uscc', 'tag', name=op.f('pk_taxpayer_tags'))
    )


def downgrade() -> None:
    op.drop_table('taxpayer_tags')
    op.drop_table('push_preferences')
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_push_deliveries_uscc_channel_queued')
        batch_op.drop_index('ix_push_deliveries_status_due')

    op.drop_table('push_deliveries')
    with op.batch_alter_table('push_chunks', schema=None) as batch_op:
        batch_op.drop_index('ix_push_chunks_status_enqueued')

    op.drop_table('push_chunks')
    with op.batch_alter_table('push_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_audit_policy_id'))

    op.drop_table('push_audit')
    with op.batch_alter_table('push_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_policies_status'))

    op.drop_table('push_policies')
