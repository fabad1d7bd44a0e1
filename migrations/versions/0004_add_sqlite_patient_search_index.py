"""add SQLite full-text trigram index for patient search

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 12:40:00

"""
from alembic import op

from app.platform.database import sqlite_search_index_statements

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    # PostgreSQL already has its GIN trigram index (0002); SQLite gets an FTS5 trigram index kept by triggers.
    if op.get_bind().dialect.name == 'sqlite':
        for statement in sqlite_search_index_statements('patients', 'search_text', 'patients_search'):
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        for suffix in ('insert', 'delete', 'update'):
            op.execute(f'DROP TRIGGER IF EXISTS patients_search_{suffix}')
        op.execute('DROP TABLE IF EXISTS patients_search')
