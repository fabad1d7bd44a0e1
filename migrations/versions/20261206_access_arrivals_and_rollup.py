"""arrival time on appointments (set by a check-in) and the daily roll-up of the check-in log (issue 19)

Revision ID: a19arrive001
Revises: a19tokens001
Create Date: 2026-12-06 10:00:00

"""
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

    # Backfill: count the check-ins logged so far (grouped in the database, a few statements per practice).
    from app.access.rollup import rebuild

    rebuild(op.get_bind())


def downgrade():
    with op.batch_alter_table('access_checkin_days', schema=None) as batch_op:
        batch_op.drop_index('ix_access_checkin_days_practice_id_day')
    op.drop_table('access_checkin_days')
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_appointments_arrived_checkin_id_access_checkins'),
                                 type_='foreignkey')
        batch_op.drop_column('arrived_checkin_id')
        batch_op.drop_column('arrived_at')
