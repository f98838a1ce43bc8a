"""users.token_version and users.deactivated_at: a deactivation raises the version, and every process
refuses the access tokens of a lower version of the accounts deactivated lately
(``app.accounts.security.Revocations``)

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
        batch_op.add_column(sa.Column('deactivated_at', app.db.UtcDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_deactivated_at'), ['deactivated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_deactivated_at'))
        batch_op.drop_column('deactivated_at')
        batch_op.drop_column('token_version')
