"""cover SQLite's patient sort indexes with search_text

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 19:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_ACTIVE = sa.text("archived_at IS NULL")


def upgrade():
    # SQLite only: the sort indexes also hold search_text, so a search walking them never reads the table.
    # PostgreSQL keeps its indexes (its planner chooses by statistics).
    if op.get_bind().dialect.name != 'sqlite':
        return
    op.drop_index('ix_patients_active_name', table_name='patients')
    op.drop_index('ix_patients_active_birth_date', table_name='patients')
    op.create_index('ix_patients_active_name_search', 'patients',
                    ['practice_id', 'last_name', 'first_name', 'id', 'search_text'], sqlite_where=_ACTIVE)
    op.create_index('ix_patients_active_birth_date_search', 'patients',
                    ['practice_id', 'birth_date', 'id', 'search_text'], sqlite_where=_ACTIVE)


def downgrade():
    if op.get_bind().dialect.name != 'sqlite':
        return
    op.drop_index('ix_patients_active_birth_date_search', table_name='patients')
    op.drop_index('ix_patients_active_name_search', table_name='patients')
    op.create_index('ix_patients_active_name', 'patients',
                    ['practice_id', 'last_name', 'first_name', 'id'], sqlite_where=_ACTIVE)
    op.create_index('ix_patients_active_birth_date', 'patients', ['practice_id', 'birth_date', 'id'],
                    sqlite_where=_ACTIVE)
