"""scheduling: appointment types, resources, hours, absences, closures, local bookings

The practice's own scheduling (issue 18): appointment types with their resource requirements and therapists,
rooms and devices, opening and working hours, breaks, absences, closures, holidays opened on purpose, the details
of local appointments and ``appointment_resources``, one row per therapist or resource a local appointment holds.
On PostgreSQL two exclusion constraints (btree_gist) refuse overlapping rows of one therapist or one resource of
capacity 1, so no double booking can be committed whatever the timing.

Revision ID: a18sched0001
Revises: a17dups00001
Create Date: 2026-12-06 09:10:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a18sched0001'
down_revision = 'a17dups00001'
branch_labels = None
depends_on = None

EXCLUSIONS = {
    "ex_appointment_resources_therapist_overlap": "therapist_id",
    "ex_appointment_resources_resource_overlap": "resource_id",
}


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table('appointment_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('colour', sa.String(length=7), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('alternative_durations', sa.JSON(), nullable=False),
    sa.Column('room_buffer_before', sa.Integer(), nullable=False),
    sa.Column('room_buffer_after', sa.Integer(), nullable=False),
    sa.Column('therapist_buffer_before', sa.Integer(), nullable=False),
    sa.Column('therapist_buffer_after', sa.Integer(), nullable=False),
    sa.Column('slot_step_minutes', sa.Integer(), nullable=False),
    sa.Column('min_notice_minutes', sa.Integer(), nullable=False),
    sa.Column('horizon_days', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('duration_minutes > 0', name=op.f('ck_appointment_types_duration_positive')),
    sa.CheckConstraint('slot_step_minutes > 0', name=op.f('ck_appointment_types_slot_step_positive')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_appointment_types_practice_id_practices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_types')),
    sa.UniqueConstraint('practice_id', 'name', name='uq_appointment_types_practice_id_name')
    )
    with op.batch_alter_table('appointment_types', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_types_practice_id'), ['practice_id'], unique=False)

    op.create_table('holiday_openings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_holiday_openings_practice_id_practices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holiday_openings')),
    sa.UniqueConstraint('practice_id', 'day', name='uq_holiday_openings_practice_id_day')
    )
    op.create_table('absences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('substitute_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_absences_ends_after_start')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_absences_practice_id_practices')),
    sa.ForeignKeyConstraint(['substitute_id'], ['users.id'], name=op.f('fk_absences_substitute_id_users')),
    sa.ForeignKeyConstraint(['therapist_id'], ['users.id'], name=op.f('fk_absences_therapist_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_absences'))
    )
    with op.batch_alter_table('absences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_absences_practice_id'), ['practice_id'], unique=False)
        batch_op.create_index('ix_absences_therapist_id_starts_at', ['therapist_id', 'starts_at'], unique=False)

    op.create_table('appointment_type_therapists',
    sa.Column('type_id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['therapist_id'], ['users.id'], name=op.f('fk_appointment_type_therapists_therapist_id_users')),
    sa.ForeignKeyConstraint(['type_id'], ['appointment_types.id'], name=op.f('fk_appointment_type_therapists_type_id_appointment_types'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('type_id', 'therapist_id', name=op.f('pk_appointment_type_therapists'))
    )
    op.create_table('opening_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.CheckConstraint('end_time > start_time', name=op.f('ck_opening_hours_ends_after_start')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_opening_hours_weekday_range')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_opening_hours_location_id_locations')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_opening_hours_practice_id_practices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opening_hours'))
    )
    with op.batch_alter_table('opening_hours', schema=None) as batch_op:
        batch_op.create_index('ix_opening_hours_location_id_weekday', ['location_id', 'weekday'], unique=False)
        batch_op.create_index(batch_op.f('ix_opening_hours_practice_id'), ['practice_id'], unique=False)

    op.create_table('resources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_resources_capacity_positive')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_resources_location_id_locations')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_resources_practice_id_practices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resources')),
    sa.UniqueConstraint('location_id', 'name', name='uq_resources_location_id_name')
    )
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resources_practice_id'), ['practice_id'], unique=False)

    op.create_table('therapist_breaks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=True),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.CheckConstraint('(weekday IS NULL) <> (day IS NULL)', name=op.f('ck_therapist_breaks_weekday_or_day')),
    sa.CheckConstraint('end_time > start_time', name=op.f('ck_therapist_breaks_ends_after_start')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_therapist_breaks_practice_id_practices')),
    sa.ForeignKeyConstraint(['therapist_id'], ['users.id'], name=op.f('fk_therapist_breaks_therapist_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_therapist_breaks'))
    )
    with op.batch_alter_table('therapist_breaks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_therapist_breaks_practice_id'), ['practice_id'], unique=False)
        batch_op.create_index('ix_therapist_breaks_therapist_id', ['therapist_id'], unique=False)

    op.create_table('working_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.CheckConstraint('end_time > start_time', name=op.f('ck_working_hours_ends_after_start')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_working_hours_weekday_range')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_working_hours_location_id_locations')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_working_hours_practice_id_practices')),
    sa.ForeignKeyConstraint(['therapist_id'], ['users.id'], name=op.f('fk_working_hours_therapist_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_working_hours'))
    )
    with op.batch_alter_table('working_hours', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_working_hours_practice_id'), ['practice_id'], unique=False)
        batch_op.create_index('ix_working_hours_therapist_id_weekday', ['therapist_id', 'weekday'], unique=False)

    op.create_table('appointment_type_requirements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=True),
    sa.Column('resource_id', sa.Integer(), nullable=True),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.CheckConstraint('(kind IS NULL) <> (resource_id IS NULL)', name=op.f('ck_appointment_type_requirements_kind_or_resource')),
    sa.CheckConstraint('count > 0', name=op.f('ck_appointment_type_requirements_count_positive')),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_appointment_type_requirements_resource_id_resources')),
    sa.ForeignKeyConstraint(['type_id'], ['appointment_types.id'], name=op.f('fk_appointment_type_requirements_type_id_appointment_types'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_type_requirements'))
    )
    with op.batch_alter_table('appointment_type_requirements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_type_requirements_type_id'), ['type_id'], unique=False)

    op.create_table('closures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('resource_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_closures_ends_after_start')),
    sa.CheckConstraint('location_id IS NULL OR resource_id IS NULL', name=op.f('ck_closures_location_or_resource')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_closures_location_id_locations')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_closures_practice_id_practices')),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_closures_resource_id_resources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_closures'))
    )
    with op.batch_alter_table('closures', schema=None) as batch_op:
        batch_op.create_index('ix_closures_practice_id_starts_at', ['practice_id', 'starts_at'], unique=False)

    op.create_table('appointment_details',
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('type_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_appointment_details_appointment_id_appointments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_appointment_details_location_id_locations')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_appointment_details_practice_id_practices')),
    sa.ForeignKeyConstraint(['type_id'], ['appointment_types.id'], name=op.f('fk_appointment_details_type_id_appointment_types')),
    sa.PrimaryKeyConstraint('appointment_id', name=op.f('pk_appointment_details'))
    )
    with op.batch_alter_table('appointment_details', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_details_type_id'), ['type_id'], unique=False)

    op.create_table('appointment_resources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=True),
    sa.Column('resource_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('exclusive', sa.Boolean(), nullable=False),
    sa.CheckConstraint('(therapist_id IS NULL) <> (resource_id IS NULL)', name=op.f('ck_appointment_resources_therapist_or_resource')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_appointment_resources_ends_after_start')),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_appointment_resources_appointment_id_appointments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_appointment_resources_practice_id_practices')),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_appointment_resources_resource_id_resources')),
    sa.ForeignKeyConstraint(['therapist_id'], ['users.id'], name=op.f('fk_appointment_resources_therapist_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_resources'))
    )
    with op.batch_alter_table('appointment_resources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_resources_appointment_id'), ['appointment_id'], unique=False)
        batch_op.create_index('ix_appointment_resources_resource_id_starts_at', ['resource_id', 'starts_at'], unique=False)
        batch_op.create_index('ix_appointment_resources_therapist_id_starts_at', ['therapist_id', 'starts_at'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        for name, column in EXCLUSIONS.items():
            op.execute(
                f"ALTER TABLE appointment_resources ADD CONSTRAINT {name} EXCLUDE USING gist "
                f"({column} WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
                f"WHERE (exclusive AND {column} IS NOT NULL)"
            )


def downgrade():
    with op.batch_alter_table('appointment_resources', schema=None) as batch_op:
        batch_op.drop_index('ix_appointment_resources_therapist_id_starts_at')
        batch_op.drop_index('ix_appointment_resources_resource_id_starts_at')
        batch_op.drop_index(batch_op.f('ix_appointment_resources_appointment_id'))

    op.drop_table('appointment_resources')
    with op.batch_alter_table('appointment_details', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_details_type_id'))

    op.drop_table('appointment_details')
    with op.batch_alter_table('closures', schema=None) as batch_op:
        batch_op.drop_index('ix_closures_practice_id_starts_at')

    op.drop_table('closures')
    with op.batch_alter_table('appointment_type_requirements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_type_requirements_type_id'))

    op.drop_table('appointment_type_requirements')
    with op.batch_alter_table('working_hours', schema=None) as batch_op:
        batch_op.drop_index('ix_working_hours_therapist_id_weekday')
        batch_op.drop_index(batch_op.f('ix_working_hours_practice_id'))

    op.drop_table('working_hours')
    with op.batch_alter_table('therapist_breaks', schema=None) as batch_op:
        batch_op.drop_index('ix_therapist_breaks_therapist_id')
        batch_op.drop_index(batch_op.f('ix_therapist_breaks_practice_id'))

    op.drop_table('therapist_breaks')
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resources_practice_id'))

    op.drop_table('resources')
    with op.batch_alter_table('opening_hours', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opening_hours_practice_id'))
        batch_op.drop_index('ix_opening_hours_location_id_weekday')

    op.drop_table('opening_hours')
    op.drop_table('appointment_type_therapists')
    with op.batch_alter_table('absences', schema=None) as batch_op:
        batch_op.drop_index('ix_absences_therapist_id_starts_at')
        batch_op.drop_index(batch_op.f('ix_absences_practice_id'))

    op.drop_table('absences')
    op.drop_table('holiday_openings')
    with op.batch_alter_table('appointment_types', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_types_practice_id'))

    op.drop_table('appointment_types')
