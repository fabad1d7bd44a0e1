"""arrival time on appointments (set by a check-in) and the daily roll-up of the check-in log (issue 19)

Revision ID: a19arrive001
Revises: a19tokens001
Create Date: 2026-12-06 10:00:00

"""
from collections import defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a19arrive001'
down_revision = 'a19tokens001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('arrived_checkin_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_appointments_arrived_checkin_id_access_checkins'),
                                    'access_checkins', ['arrived_checkin_id'], ['id'])

    op.create_table('access_checkin_days',
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('metric', sa.String(length=8), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('total_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'],
                            name=op.f('fk_access_checkin_days_location_id_locations')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'],
                            name=op.f('fk_access_checkin_days_practice_id_practices')),
    sa.PrimaryKeyConstraint('practice_id', 'location_id', 'provider', 'day', 'metric', 'key',
                            name=op.f('pk_access_checkin_days'))
    )
    with op.batch_alter_table('access_checkin_days', schema=None) as batch_op:
        batch_op.create_index('ix_access_checkin_days_practice_id_day', ['practice_id', 'day'], unique=False)

    _backfill(op.get_bind())


# The roll-up's shape as this revision defines it (app.access.rollup counts new check-ins the same way; copied here
# so that the migration never changes when the app does): one counter per decision (with the summed processing
# time), per hour of the day and per processing-time bucket (upper bounds in ms, "inf" beyond the last), on the
# practice's calendar day. Staff overrides are not counted.
LATENCY_BOUNDS = (5, 10, 20, 30, 50, 75, 100, 150, 200, 250, 300, 350, 400, 500, 750, 1000, 1500, 2000, 3000, 5000,
                  10000, 30000)
CHUNK = 500

checkins = sa.table('access_checkins', sa.column('practice_id', sa.Integer), sa.column('location_id', sa.Integer),
                    sa.column('provider', sa.String), sa.column('decision', sa.String),
                    sa.column('processing_ms', sa.Integer), sa.column('override', sa.String),
                    sa.column('created_at', sa.DateTime(timezone=True)))
practices = sa.table('practices', sa.column('id', sa.Integer), sa.column('timezone', sa.String))
days = sa.table('access_checkin_days', sa.column('practice_id', sa.Integer), sa.column('location_id', sa.Integer),
                sa.column('provider', sa.String), sa.column('day', sa.Date), sa.column('metric', sa.String),
                sa.column('key', sa.String), sa.column('count', sa.BigInteger), sa.column('total_ms', sa.BigInteger))


def _backfill(bind):
    """Count the check-ins logged so far. The database groups them per practice, location, provider, UTC hour and
    decision (and processing-time bucket), a few thousand rows for a million check-ins; the UTC hours become the
    practice's calendar day and hour here with zoneinfo, because SQLite has no time zones (exact for zones whose
    offset is whole hours, as every zone a practice here uses); the counters are then inserted in chunks."""
    if bind.dialect.name == 'postgresql':
        hour = sa.func.date_trunc('hour', sa.func.timezone('UTC', checkins.c.created_at))
    else:
        hour = sa.func.strftime('%Y-%m-%d %H:00:00', checkins.c.created_at)
    hour = hour.label('hour')
    bucket = sa.case(*((checkins.c.processing_ms <= bound, str(bound)) for bound in LATENCY_BOUNDS),
                     else_='inf').label('bucket')
    zones = {pid: ZoneInfo(name) for pid, name in bind.execute(sa.select(practices.c.id, practices.c.timezone))}
    where = checkins.c.override.is_(None)
    scope = (checkins.c.practice_id, checkins.c.location_id, checkins.c.provider)
    totals = defaultdict(lambda: [0, 0])

    def add(practice_id, location_id, provider, utc_hour, metric, key, count, total_ms):
        if isinstance(utc_hour, str):
            utc_hour = datetime.fromisoformat(utc_hour)
        local = utc_hour.replace(tzinfo=UTC).astimezone(zones[practice_id])
        total = totals[(practice_id, location_id, provider or '', local.date(), metric,
                        f'{local.hour:02d}' if metric == 'hour' else key)]
        total[0] += count
        total[1] += total_ms

    for pid, lid, provider, utc_hour, decision, count, total_ms in bind.execute(
            sa.select(*scope, hour, checkins.c.decision, sa.func.count(), sa.func.sum(checkins.c.processing_ms))
            .where(where).group_by(*scope, hour, checkins.c.decision)):
        add(pid, lid, provider, utc_hour, 'decision', decision, count, total_ms or 0)
        add(pid, lid, provider, utc_hour, 'hour', None, count, 0)
    for pid, lid, provider, utc_hour, key, count in bind.execute(
            sa.select(*scope, hour, bucket, sa.func.count()).where(where).group_by(*scope, hour, bucket)):
        add(pid, lid, provider, utc_hour, 'latency', key, count, 0)
    names = ('practice_id', 'location_id', 'provider', 'day', 'metric', 'key')
    rows = [{**dict(zip(names, key, strict=True)), 'count': count, 'total_ms': total_ms}
            for key, (count, total_ms) in totals.items()]
    for start in range(0, len(rows), CHUNK):
        bind.execute(days.insert(), rows[start:start + CHUNK])


def downgrade():
    with op.batch_alter_table('access_checkin_days', schema=None) as batch_op:
        batch_op.drop_index('ix_access_checkin_days_practice_id_day')
    op.drop_table('access_checkin_days')
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_appointments_arrived_checkin_id_access_checkins'),
                                 type_='foreignkey')
        batch_op.drop_column('arrived_checkin_id')
        batch_op.drop_column('arrived_at')
