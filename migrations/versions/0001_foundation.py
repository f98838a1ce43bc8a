"""foundation

Revision ID: 0001
Revises: 
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('banks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_banks')),
    sa.UniqueConstraint('code', name=op.f('uq_banks_code'))
    )
    op.create_table('grade_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('imported_by', sa.String(length=64), nullable=False),
    sa.Column('started_at', app.db.UtcDateTime(), nullable=False),
    sa.Column('finished_at', app.db.UtcDateTime(), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grade_imports'))
    )
    op.create_table('outbox_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(), nullable=False),
    sa.Column('dispatched_at', app.db.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_events'))
    )
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_events_type'), ['type'], unique=False)

    op.create_table('signing_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('private_key', sa.LargeBinary(), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(), nullable=False),
    sa.Column('retired_at', app.db.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_signing_keys'))
    )
    op.create_table('taxpayers',
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=True),
    sa.Column('industry_code', sa.String(length=8), nullable=True),
    sa.Column('registered_on', sa.Date(), nullable=True),
    sa.Column('size_class', sa.String(length=8), nullable=True),
    sa.Column('grade', sa.String(length=1), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('grade_year', sa.Integer(), nullable=True),
    sa.Column('grade_changed_at', app.db.UtcDateTime(), nullable=True),
    sa.Column('created_at', app.db.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('uscc', name=op.f('pk_taxpayers'))
    )
    with op.batch_alter_table('taxpayers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_taxpayers_industry_code'), ['industry_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_taxpayers_region_code'), ['region_code'], unique=False)

    op.create_table('grade_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('grade', sa.String(length=1), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=True),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.Column('effective_at', app.db.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['grade_imports.id'], name=op.f('fk_grade_records_import_id_grade_imports')),
    sa.ForeignKeyConstraint(['uscc'], ['taxpayers.uscc'], name=op.f('fk_grade_records_uscc_taxpayers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grade_records'))
    )
    with op.batch_alter_table('grade_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grade_records_import_id'), ['import_id'], unique=False)
        batch_op.create_index('ix_grade_records_uscc_effective', ['uscc', 'effective_at'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=True),
    sa.Column('bank_id', sa.Integer(), nullable=True),
    sa.Column('county_code', sa.String(length=12), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_users_bank_id_banks')),
    sa.ForeignKeyConstraint(['uscc'], ['taxpayers.uscc'], name=op.f('fk_users_uscc_taxpayers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_bank_id'), ['bank_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_uscc'), ['uscc'], unique=False)

    op.create_table('verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clerk_id', sa.Integer(), nullable=False),
    sa.Column('clerk_username', sa.String(length=64), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=True),
    sa.Column('jti', sa.String(length=64), nullable=True),
    sa.Column('valid', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('grade', sa.String(length=1), nullable=True),
    sa.Column('color', sa.String(length=8), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=True),
    sa.Column('verified_at', app.db.UtcDateTime(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_verifications_bank_id_banks')),
    sa.ForeignKeyConstraint(['clerk_id'], ['users.id'], name=op.f('fk_verifications_clerk_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verifications'))
    )
    with op.batch_alter_table('verifications', schema=None) as batch_op:
        batch_op.create_index('ix_verifications_bank_at', ['bank_id', 'verified_at'], unique=False)
        batch_op.create_index('ix_verifications_uscc_at', ['uscc', 'verified_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('verifications', schema=None) as batch_op:
        batch_op.drop_index('ix_verifications_uscc_at')
        batch_op.drop_index('ix_verifications_bank_at')

    op.drop_table('verifications')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_uscc'))
        batch_op.drop_index(batch_op.f('ix_users_bank_id'))

    op.drop_table('users')
    with op.batch_alter_table('grade_records', schema=None) as batch_op:
        batch_op.drop_index('ix_grade_records_uscc_effective')
        batch_op.drop_index(batch_op.f('ix_grade_records_import_id'))

    op.drop_table('grade_records')
    with op.batch_alter_table('taxpayers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_taxpayers_region_code'))
        batch_op.drop_index(batch_op.f('ix_taxpayers_industry_code'))

    op.drop_table('taxpayers')
    op.drop_table('signing_keys')
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_events_type'))

    op.drop_table('outbox_events')
    op.drop_table('grade_imports')
    op.drop_table('banks')
