"""scan claims: a double scan is decided once across worker processes (issue 19)

Revision ID: a20access001
Revises: a20sched0001
Create Date: 2026-12-06 12:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a20access001'
down_revision = 'a20sched0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('access_scan_claims',
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checkin_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['checkin_id'], ['access_checkins.id'],
                            name=op.f('fk_access_scan_claims_checkin_id_access_checkins')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'],
                            name=op.f('fk_access_scan_claims_location_id_locations')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'],
                            name=op.f('fk_access_scan_claims_practice_id_practices')),
    sa.PrimaryKeyConstraint('location_id', 'fingerprint', name=op.f('pk_access_scan_claims'))
    )
    with op.batch_alter_table('access_scan_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_scan_claims_practice_id'), ['practice_id'], unique=False)


def downgrade():
    with op.batch_alter_table('access_scan_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_scan_claims_practice_id'))
    op.drop_table('access_scan_claims')
