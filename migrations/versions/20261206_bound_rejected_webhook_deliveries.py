"""bound rejected webhook deliveries

Requests refused before their body was read (no valid signature, not JSON, too large) are counted per endpoint,
reason and minute in webhook_rejections instead of being one append-only webhook_events row each. The rows such
requests left in webhook_events (rejected, verified by no secret) are folded into those counts and removed: the
only deletion ever made in the event log, with its trigger set aside for that one statement inside this migration.
A downgrade drops the counts; it cannot turn them back into one row per request.

Revision ID: fdaf35ee39fd
Revises: 0008
Create Date: 2026-12-06 07:09:43.415684

"""
import sqlalchemy as sa
from alembic import op

from app.platform.database import append_only_statements


# revision identifiers, used by Alembic.
revision = 'fdaf35ee39fd'
down_revision = '0008'
branch_labels = None
depends_on = None

UNSIGNED_REJECTED = "outcome = 'rejected' AND secret_version IS NULL"


def upgrade():
    op.create_table('webhook_rejections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('minute', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_remote_addr', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_webhook_rejections_endpoint_id_webhook_endpoints')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_webhook_rejections_practice_id_practices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_rejections')),
    sa.UniqueConstraint('endpoint_id', 'minute', 'reason', name='uq_webhook_rejections_endpoint_id_minute_reason')
    )
    with op.batch_alter_table('webhook_rejections', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_rejections_practice_id_minute', ['practice_id', 'minute'], unique=False)
    _fold_unsigned_rejections_into_counts()


def _fold_unsigned_rejections_into_counts():
    """Count the existing unsigned rejected events per endpoint, reason and minute, then delete them. The minute is
    written as each database stores a timestamp column (SQLite: the text SQLAlchemy writes)."""
    bind = op.get_bind()
    dialect = bind.dialect.name
    minute = ("date_trunc('minute', received_at)" if dialect == "postgresql"
              else "strftime('%Y-%m-%d %H:%M:00.000000', received_at)")
    reason = "substr(coalesce(reject_reason, ''), 1, 255)"
    bind.exec_driver_sql(
        "INSERT INTO webhook_rejections (practice_id, endpoint_id, source, minute, reason, count, last_at, "
        f"last_remote_addr) SELECT practice_id, endpoint_id, source, {minute}, {reason}, count(*), max(received_at), "
        f"max(remote_addr) FROM webhook_events WHERE {UNSIGNED_REJECTED} "
        f"GROUP BY practice_id, endpoint_id, source, {minute}, {reason}"
    )
    if dialect == "postgresql":
        bind.exec_driver_sql("ALTER TABLE webhook_events DISABLE TRIGGER webhook_events_no_change")
        bind.exec_driver_sql(f"DELETE FROM webhook_events WHERE {UNSIGNED_REJECTED}")
        bind.exec_driver_sql("ALTER TABLE webhook_events ENABLE TRIGGER webhook_events_no_change")
    else:
        bind.exec_driver_sql("DROP TRIGGER webhook_events_no_delete")
        bind.exec_driver_sql(f"DELETE FROM webhook_events WHERE {UNSIGNED_REJECTED}")
        for statement in append_only_statements('webhook_events', dialect):  # IF NOT EXISTS: adds the one dropped
            bind.exec_driver_sql(statement)


def downgrade():
    with op.batch_alter_table('webhook_rejections', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_rejections_practice_id_minute')

    op.drop_table('webhook_rejections')
