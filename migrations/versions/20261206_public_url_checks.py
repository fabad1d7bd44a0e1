"""public url checks

The last answer of our own health check at the configured PUBLIC_BASE_URL, one row per address (issue 17 item 1):
the hub and the webhooks page warn while it fails.

Revision ID: a17pubur0001
Revises: a16fence0001
Create Date: 2026-12-06 09:30:00

"""
import sqlalchemy as sa
from alembic import op



# revision identifiers, used by Alembic.
revision = 'a17pubur0001'
down_revision = 'a16fence0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('public_url_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('base_url', sa.String(length=500), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_url_checks')),
    sa.UniqueConstraint('base_url', name=op.f('uq_public_url_checks_base_url'))
    )


def downgrade():
    op.drop_table('public_url_checks')
