"""name patients in import rows without a foreign key

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 20:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    # The import rows are the import's log and name their patient by id, as the audit log does: a foreign key
    # locked every named patient row while an import wrote its outcomes.
    with op.batch_alter_table('patient_import_rows', schema=None) as batch_op:
        batch_op.drop_constraint('fk_patient_import_rows_patient_id_patients', type_='foreignkey')


def downgrade():
    with op.batch_alter_table('patient_import_rows', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_patient_import_rows_patient_id_patients', 'patients', ['patient_id'], ['id'])
