"""access providers per location, memberships and the append-only check-in log (issue 19)

Revision ID: a19access001
Revises: a18sched0001
Create Date: 2026-12-06 09:00:00

"""
import sqlalchemy as sa
from alembic import op

from app.platform.database import append_only_statements

# revision identifiers, used by Alembic.
revision = 'a19access001'
down_revision = 'a18sched0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('access_providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('base_url', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.Text(), nullable=True),
    sa.Column('secret_hint', sa.String(length=8), nullable=True),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('timeout_ms', sa.Integer(), nullable=False),
    sa.Column('reentry_value', sa.Integer(), nullable=False),
    sa.Column('reentry_unit', sa.String(length=8), nullable=False),
    sa.Column('staff_must_confirm', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("reentry_unit IN ('hours', 'days')", name=op.f('ck_access_providers_reentry_unit')),
    sa.CheckConstraint('timeout_ms BETWEEN 100 AND 30000', name=op.f('ck_access_providers_timeout_ms')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_access_providers_location_id_locations')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_access_providers_practice_id_practices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_providers')),
    sa.UniqueConstraint('location_id', 'provider', name='uq_access_providers_location_id_provider')
    )
    with op.batch_alter_table('access_providers', schema=None) as batch_op:
        batch_op.create_index('ix_access_providers_practice_id', ['practice_id'], unique=False)

    op.create_table('access_memberships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('member_name', sa.String(length=200), nullable=True),
    sa.Column('linked_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('unlinked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('patient_id IS NOT NULL OR member_name IS NOT NULL', name=op.f('ck_access_memberships_person')),
    sa.ForeignKeyConstraint(['linked_by_id'], ['users.id'], name=op.f('fk_access_memberships_linked_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_access_memberships_patient_id_patients')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'],
                            name=op.f('fk_access_memberships_practice_id_practices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_memberships'))
    )
    with op.batch_alter_table('access_memberships', schema=None) as batch_op:
        # Linked rows only: an unlinked membership keeps its row for the log, and the id may be linked anew.
        batch_op.create_index('uq_access_memberships_practice_id_provider_external_id',
                              ['practice_id', 'provider', 'external_id'], unique=True,
                              sqlite_where=sa.text('unlinked_at IS NULL'),
                              postgresql_where=sa.text('unlinked_at IS NULL'))
        batch_op.create_index('uq_access_memberships_patient_id_provider', ['patient_id', 'provider'], unique=True,
                              sqlite_where=sa.text('unlinked_at IS NULL'),
                              postgresql_where=sa.text('unlinked_at IS NULL'))

    op.create_table('access_checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=True),
    sa.Column('code_kind', sa.String(length=24), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=True),
    sa.Column('membership_id', sa.Integer(), nullable=True),
    sa.Column('member_name', sa.String(length=200), nullable=True),
    sa.Column('decision', sa.String(length=32), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('awaiting_confirmation', sa.Boolean(), nullable=False),
    sa.Column('provider_code', sa.String(length=64), nullable=True),
    sa.Column('provider_message', sa.String(length=500), nullable=True),
    sa.Column('override', sa.String(length=8), nullable=True),
    sa.Column('override_by_id', sa.Integer(), nullable=True),
    sa.Column('override_reason', sa.String(length=500), nullable=True),
    sa.Column('overrides_id', sa.Integer(), nullable=True),
    sa.Column('reentry_of_id', sa.Integer(), nullable=True),
    sa.Column('device', sa.String(length=100), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('processing_ms', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_access_checkins_location_id_locations')),
    sa.ForeignKeyConstraint(['membership_id'], ['access_memberships.id'],
                            name=op.f('fk_access_checkins_membership_id_access_memberships')),
    sa.ForeignKeyConstraint(['override_by_id'], ['users.id'], name=op.f('fk_access_checkins_override_by_id_users')),
    sa.ForeignKeyConstraint(['overrides_id'], ['access_checkins.id'],
                            name=op.f('fk_access_checkins_overrides_id_access_checkins')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_access_checkins_practice_id_practices')),
    sa.ForeignKeyConstraint(['reentry_of_id'], ['access_checkins.id'],
                            name=op.f('fk_access_checkins_reentry_of_id_access_checkins')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_access_checkins_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_checkins'))
    )
    with op.batch_alter_table('access_checkins', schema=None) as batch_op:
        batch_op.create_index('ix_access_checkins_external', ['location_id', 'provider', 'external_id', 'created_at'],
                              unique=False)
        batch_op.create_index('ix_access_checkins_location_id_created_at', ['location_id', 'created_at'],
                              unique=False)
        batch_op.create_index('ix_access_checkins_membership_id_created_at', ['membership_id', 'created_at'],
                              unique=False)
        batch_op.create_index('ix_access_checkins_overrides_id', ['overrides_id'], unique=False)
        batch_op.create_index('ix_access_checkins_practice_id_created_at', ['practice_id', 'created_at'],
                              unique=False)
        batch_op.create_index('ix_access_checkins_practice_id_decision_created_at',
                              ['practice_id', 'decision', 'created_at'], unique=False)

    # The check-in log is append-only: the database itself rejects UPDATE and DELETE.
    for statement in append_only_statements('access_checkins', op.get_bind().dialect.name):
        op.execute(statement)


def downgrade():
    op.drop_table('access_checkins')  # its triggers go with it
    with op.batch_alter_table('access_memberships', schema=None) as batch_op:
        batch_op.drop_index('uq_access_memberships_patient_id_provider')
        batch_op.drop_index('uq_access_memberships_practice_id_provider_external_id')
    op.drop_table('access_memberships')
    with op.batch_alter_table('access_providers', schema=None) as batch_op:
        batch_op.drop_index('ix_access_providers_practice_id')
    op.drop_table('access_providers')
