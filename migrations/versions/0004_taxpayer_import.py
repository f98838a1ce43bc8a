"""taxpayers.changed_by_import_id: the import whose push re-match covers the row (profile changes too);
taxpayers.status_version: the order of status writes, so a late cache write cannot undo a newer one

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('taxpayers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('changed_by_import_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('status_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.create_index(batch_op.f('ix_taxpayers_changed_by_import_id'), ['changed_by_import_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_taxpayers_changed_by_import_id_grade_imports'), 'grade_imports',
                                    ['changed_by_import_id'], ['id'])
    # rows an earlier import created or re-graded keep being covered by that import's re-match
    op.execute("UPDATE taxpayers SET changed_by_import_id = (SELECT MAX(r.import_id) FROM grade_records r "
               "WHERE r.uscc = taxpayers.uscc)")


def downgrade() -> None:
    with op.batch_alter_table('taxpayers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_taxpayers_changed_by_import_id_grade_imports'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_taxpayers_changed_by_import_id'))
        batch_op.drop_column('status_version')
        batch_op.drop_column('changed_by_import_id')
