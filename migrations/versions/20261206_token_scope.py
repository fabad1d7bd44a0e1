"""api token scope

api_tokens.scope limits a token to the endpoints of one permission (a door terminal's token: access.validate only,
issue 19 item 9); NULL keeps a token's full user permissions, so existing tokens are unchanged.

Revision ID: a19tokens001
Revises: a19access001
Create Date: 2026-12-06 10:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a19tokens001'
down_revision = 'a19access001'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('api_tokens', sa.Column('scope', sa.String(length=32), nullable=True))


def downgrade():
    # A plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy would drop a referenced table.
    op.drop_column('api_tokens', 'scope')
