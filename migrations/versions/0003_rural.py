"""rural credit: places, households, scorecards, ratings, objections, loans, imports

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rural_places',
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('parent_code', sa.String(length=12), nullable=True),
    sa.Column('county_code', sa.String(length=6), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['parent_code'], ['rural_places.code'], name=op.f('fk_rural_places_parent_code_rural_places')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_rural_places'))
    )
    with op.batch_alter_table('rural_places', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rural_places_county_code'), ['county_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_rural_places_parent_code'), ['parent_code'], unique=False)

    op.create_table('rural_scorecards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('county_code', sa.String(length=6), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rural_scorecards')),
    sa.UniqueConstraint('name', 'version', name='uq_rural_scorecards_name_version')
    )
    with op.batch_alter_table('rural_scorecards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rural_scorecards_county_code'), ['county_code'], unique=False)

    op.create_table('rural_households',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_code', sa.String(length=6), nullable=False),
    sa.Column('village_code', sa.String(length=12), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('head_name', sa.String(length=64), nullable=False),
    sa.Column('members', sa.Integer(), nullable=False),
    sa.Column('labourers', sa.Integer(), nullable=False),
    sa.Column('years_resident', sa.Integer(), nullable=False),
    sa.Column('health', sa.String(length=16), nullable=False),
    sa.Column('education', sa.String(length=16), nullable=False),
    sa.Column('land_area', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('housing', sa.String(length=16), nullable=False),
    sa.Column('assets', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('annual_income', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('operating_income', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('debts', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('deposits', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('production_type', sa.String(length=16), nullable=False),
    sa.Column('credit_record', sa.String(length=8), nullable=False),
    sa.Column('past_defaults', sa.Integer(), nullable=False),
    sa.Column('debt_evasion', sa.Boolean(), nullable=False),
    sa.Column('village_assessment', sa.String(length=8), nullable=False),
    sa.Column('honours', sa.Integer(), nullable=False),
    sa.Column('bad_records', sa.String(length=100), nullable=False),
    sa.Column('rating_id', sa.Integer(), nullable=True),
    sa.Column('grade', sa.String(length=3), nullable=True),
    sa.Column('score', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('limit_amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('rated_until', sa.Date(), nullable=True),
    sa.Column('filed_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(), nullable=False),
    sa.Column('updated_at', app.db.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_rural_households_bank_id_banks')),
    sa.ForeignKeyConstraint(['village_code'], ['rural_places.code'], name=op.f('fk_rural_households_village_code_rural_places')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rural_households')),
    sa.UniqueConstraint('id_number', name=op.f('uq_rural_households_id_number'))
    )
    with op.batch_alter_table('rural_households', schema=None) as batch_op:
        batch_op.create_index('ix_rural_households_county_village', ['county_code', 'village_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_rural_households_village_code'), ['village_code'], unique=False)

    op.create_table('rural_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('county_code', sa.String(length=6), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
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
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_rural_imports_bank_id_banks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rural_imports'))
    )
    with op.batch_alter_table('rural_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rural_imports_county_code'), ['county_code'], unique=False)

    op.create_table('rural_loans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('loan_no', sa.String(length=64), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('county_code', sa.String(length=6), nullable=False),
    sa.Column('village_code', sa.String(length=12), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('balance', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('days_overdue', sa.Integer(), nullable=False),
    sa.Column('overdue_since', sa.Date(), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('updated_at', app.db.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_rural_loans_bank_id_banks')),
    sa.ForeignKeyConstraint(['household_id'], ['rural_households.id'], name=op.f('fk_rural_loans_household_id_rural_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rural_loans')),
    sa.UniqueConstraint('bank_id', 'loan_no', name='uq_rural_loans_bank_loan_no')
    )
    with op.batch_alter_table('rural_loans', schema=None) as batch_op:
        batch_op.create_index('ix_rural_loans_county_village', ['county_code', 'village_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_rural_loans_household_id'), ['household_id'], unique=False)

    op.create_table('rural_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('county_code', sa.String(length=6), nullable=False),
    sa.Column('village_code', sa.String(length=12), nullable=False),
    sa.Column('scorecard_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('score', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('grade', sa.String(length=3), nullable=True),
    sa.Column('veto', sa.String(length=32), nullable=True),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('proposed_by', sa.String(length=64), nullable=False),
    sa.Column('proposed_at', app.db.UtcDateTime(), nullable=False),
    sa.Column('notice_ends_at', app.db.UtcDateTime(), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', app.db.UtcDateTime(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('limit_amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('limit_terms', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['household_id'], ['rural_households.id'], name=op.f('fk_rural_ratings_household_id_rural_households')),
    sa.ForeignKeyConstraint(['scorecard_id'], ['rural_scorecards.id'], name=op.f('fk_rural_ratings_scorecard_id_rural_scorecards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rural_ratings'))
    )
    with op.batch_alter_table('rural_ratings', schema=None) as batch_op:
        batch_op.create_index('ix_rural_ratings_county_state', ['county_code', 'state'], unique=False)
        batch_op.create_index('ix_rural_ratings_household_state', ['household_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_rural_ratings_village_code'), ['village_code'], unique=False)

    op.create_table('rural_objections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rating_id', sa.Integer(), nullable=False),
    sa.Column('raised_by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', app.db.UtcDateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=True),
    sa.Column('outcome_note', sa.Text(), nullable=True),
    sa.Column('resolved_by', sa.String(length=64), nullable=True),
    sa.Column('resolved_at', app.db.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['rating_id'], ['rural_ratings.id'], name=op.f('fk_rural_objections_rating_id_rural_ratings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rural_objections'))
    )
    with op.batch_alter_table('rural_objections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rural_objections_rating_id'), ['rating_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rural_objections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rural_objections_rating_id'))

    op.drop_table('rural_objections')
    with op.batch_alter_table('rural_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rural_ratings_village_code'))
        batch_op.drop_index('ix_rural_ratings_household_state')
        batch_op.drop_index('ix_rural_ratings_county_state')

    op.drop_table('rural_ratings')
    with op.batch_alter_table('rural_loans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rural_loans_household_id'))
        batch_op.drop_index('ix_rural_loans_county_village')

    op.drop_table('rural_loans')
    with op.batch_alter_table('rural_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rural_imports_county_code'))

    op.drop_table('rural_imports')
    with op.batch_alter_table('rural_households', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rural_households_village_code'))
        batch_op.drop_index('ix_rural_households_county_village')

    op.drop_table('rural_households')
    with op.batch_alter_table('rural_scorecards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rural_scorecards_county_code'))

    op.drop_table('rural_scorecards')
    with op.batch_alter_table('rural_places', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rural_places_parent_code'))
        batch_op.drop_index(batch_op.f('ix_rural_places_county_code'))

    op.drop_table('rural_places')
