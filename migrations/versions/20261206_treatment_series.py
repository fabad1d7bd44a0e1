"""scheduling: treatment series as a record of their own

A prescription (Heilmittelverordnung) booked through ``POST /api/series/`` becomes a ``treatment_series`` row
(patient, type, therapist, location, units prescribed, per week, prescription date, validity), and each booked
appointment's details point to it with the unit's number, unique per series, so a practice sees "unit 3 of 10",
lists a patient's series and finds the appointments that belong to one.

Revision ID: a21series001
Revises: a20access001
Create Date: 2026-12-06 13:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a21series001'
down_revision = 'a20access001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('treatment_series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('type_id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('per_week', sa.Integer(), nullable=False),
    sa.Column('prescription_date', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('units > 0', name=op.f('ck_treatment_series_units_positive')),
    sa.CheckConstraint('per_week > 0', name=op.f('ck_treatment_series_per_week_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_treatment_series_created_by_id_users')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_treatment_series_location_id_locations')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_treatment_series_patient_id_patients')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'],
                            name=op.f('fk_treatment_series_practice_id_practices')),
    sa.ForeignKeyConstraint(['therapist_id'], ['users.id'], name=op.f('fk_treatment_series_therapist_id_users')),
    sa.ForeignKeyConstraint(['type_id'], ['appointment_types.id'],
                            name=op.f('fk_treatment_series_type_id_appointment_types')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment_series'))
    )
    with op.batch_alter_table('treatment_series', schema=None) as batch_op:
        batch_op.create_index('ix_treatment_series_practice_id_patient_id', ['practice_id', 'patient_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_treatment_series_therapist_id'), ['therapist_id'], unique=False)
    with op.batch_alter_table('appointment_details', schema=None) as batch_op:
        batch_op.add_column(sa.Column('series_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('unit_number', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_appointment_details_series_id_treatment_series'),
                                    'treatment_series', ['series_id'], ['id'])
        batch_op.create_unique_constraint('uq_appointment_details_series_id_unit_number',
                                          ['series_id', 'unit_number'])
        batch_op.create_check_constraint(op.f('ck_appointment_details_series_unit_together'),
                                         '(series_id IS NULL) = (unit_number IS NULL)')


def downgrade():
    with op.batch_alter_table('appointment_details', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_appointment_details_series_unit_together'), type_='check')
        batch_op.drop_constraint('uq_appointment_details_series_id_unit_number', type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_appointment_details_series_id_treatment_series'),
                                 type_='foreignkey')
        batch_op.drop_column('unit_number')
        batch_op.drop_column('series_id')
    with op.batch_alter_table('treatment_series', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_treatment_series_therapist_id'))
        batch_op.drop_index('ix_treatment_series_practice_id_patient_id')
    op.drop_table('treatment_series')
