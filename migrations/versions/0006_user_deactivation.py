"""Accounts that can be deactivated and devices that can sign out: users.token_version (raised by a
deactivation or a sign-out everywhere; every process refuses the access tokens of a lower version of
the accounts raised lately, ``app.accounts.security.Revocations``), users.tokens_revoked_at,
users.deactivated_at, and refresh_sessions (one row per log-in, named by its refresh token)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('tokens_revoked_at', app.db.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('deactivated_at', app.db.UtcDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_tokens_revoked_at'), ['tokens_revoked_at'], unique=False)
    op.create_table(
        'refresh_sessions',
        sa.Column('jti', sa.String(length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', app.db.UtcDateTime(), nullable=False),
        sa.Column('ended_at', app.db.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_refresh_sessions_user_id_users')),
        sa.PrimaryKeyConstraint('jti', name=op.f('pk_refresh_sessions')),
    )
    with op.batch_alter_table('refresh_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refresh_sessions_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refresh_sessions_ended_at'), ['ended_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('refresh_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_sessions_ended_at'))
        batch_op.drop_index(batch_op.f('ix_refresh_sessions_user_id'))
    op.drop_table('refresh_sessions')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_tokens_revoked_at'))
        batch_op.drop_column('deactivated_at')
        batch_op.drop_column('tokens_revoked_at')
        batch_op.drop_column('token_version')
