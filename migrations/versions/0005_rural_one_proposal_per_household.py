"""rural_ratings: at most one rating in notice ('proposed') per household, a partial unique index;
the duplicate proposals an older release could write are withdrawn first

Two overlapping "rate all" runs of an older release could propose a household twice. For each
household with more than one 'proposed' rating the upgrade keeps the earliest (lowest id) and
withdraws the others as an officer's withdrawal does (state, decided_by, decided_at,
decision_note), then creates the index. The downgrade drops the index only: the duplicates the
upgrade withdrew stay withdrawn.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import app.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

IN_NOTICE = sa.text("state = 'proposed'")


def upgrade() -> None:
    op.execute(sa.text(
        "UPDATE rural_ratings SET state = 'withdrawn', decided_by = :by, decided_at = :at, decision_note = :note "
        "WHERE state = 'proposed' AND EXISTS (SELECT 1 FROM rural_ratings earlier "
        "WHERE earlier.household_id = rural_ratings.household_id AND earlier.state = 'proposed' "
        "AND earlier.id < rural_ratings.id)"
    ).bindparams(sa.bindparam('at', datetime.now(timezone.utc), type_=app.db.UtcDateTime()),
                 by='migration 0005', note='重复的公示评定，已由系统撤回（保留最早的一条）'))
    with op.batch_alter_table('rural_ratings', schema=None) as batch_op:
        batch_op.create_index('uq_rural_ratings_household_in_notice', ['household_id'], unique=True,
                              sqlite_where=IN_NOTICE, postgresql_where=IN_NOTICE)


def downgrade() -> None:
    with op.batch_alter_table('rural_ratings', schema=None) as batch_op:
        batch_op.drop_index('uq_rural_ratings_household_in_notice')
