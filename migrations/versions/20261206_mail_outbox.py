"""mail outbox

The e-mails the app writes (invites, password-reset links, patients' "Meine Termine" links), stored in the
transaction of the change that causes them and delivered by the worker, or kept for the outbox page when no mail
server is configured. Bodies are encrypted at rest like other secrets.

Revision ID: a17mail00001
Revises: a17calls0001
Create Date: 2026-12-06 09:30:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a17mail00001'
down_revision = 'a17calls0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mail_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_mail_messages_practice_id_practices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_messages'))
    )
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.create_index('ix_mail_messages_practice_id_created_at', ['practice_id', 'created_at'], unique=False)
        batch_op.create_index('ix_mail_messages_recipient_kind_created_at', ['recipient', 'kind', 'created_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_mail_messages_recipient_kind_created_at')
        batch_op.drop_index('ix_mail_messages_practice_id_created_at')
    op.drop_table('mail_messages')
