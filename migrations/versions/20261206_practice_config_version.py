"""practice config version

practices.config_version counts the changes of a practice (raised by the model on every flush that changes it).
The webhook receiver keeps each endpoint and its practice per process and fences every event insert on this
number, so a changed practice setting reaches the next event without a read per event (issue 16).

Revision ID: a16fence0001
Revises: fdaf35ee39fd
Create Date: 2026-12-06 09:10:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a16fence0001'
down_revision = 'fdaf35ee39fd'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('practices', sa.Column('config_version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    # A plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy would drop a referenced table.
    op.drop_column('practices', 'config_version')
