"""patient duplicates and German sorting

Patients get ``sort_name``, the German phone-book key of their name (app.patients.collation: König before
Krüger, Schäfer before Schwarz), compared byte by byte on both databases ("C" collation on PostgreSQL), and the
list's name index is rebuilt on it. ``merged_into_id`` marks a record an admin merged into another (a plain id,
like the audit log's patient_id: a foreign key would make SQLite rebuild the table and lose its search triggers).
Existing patients get their sort key, and their search text in the new umlaut-tolerant form ("Muller",
"Mueller" and "Müller" find each other), computed in Python in batches so both databases hold identical keys.

Revision ID: a17dups00001
Revises: a17mail00001
Create Date: 2026-12-06 09:00:00

"""
import sqlalchemy as sa
from alembic import op

from app.patients.collation import name_sort_key
from app.patients.models import build_search_text

# revision identifiers, used by Alembic.
revision = 'a17dups00001'
down_revision = 'a17mail00001'
branch_labels = None
depends_on = None

_ACTIVE = sa.text("archived_at IS NULL")
_BATCH = 2000
_PATIENTS = sa.table(
    'patients', sa.column('id', sa.Integer()), sa.column('first_name', sa.String()),
    sa.column('last_name', sa.String()), sa.column('email', sa.String()), sa.column('phone', sa.String()),
    sa.column('birth_date', sa.Date()), sa.column('booking_system_id', sa.String()),
    sa.column('search_text', sa.Text()), sa.column('sort_name', sa.Text()),
)


def _old_search_text(first_name, last_name, email, phone, birth_date, booking_system_id):
    """The search text as revision fdaf35ee39fd built it (lower-cased, umlauts kept), for the downgrade."""
    parts = [first_name or "", last_name or "", (email or "").lower(), booking_system_id or ""]
    if phone:
        digits = phone.lstrip("+")
        parts += [digits, "0" + digits[2:] if len(digits) > 2 else digits]
    if birth_date:
        parts += [birth_date.isoformat(), birth_date.strftime("%d.%m.%Y")]
    return " ".join(part.lower() for part in parts if part)


def _rewrite(values_of):
    """Rewrite every patient, in batches by id, with the column values ``values_of(row)`` returns."""
    connection = op.get_bind()
    columns = [_PATIENTS.c[name] for name in ('id', 'first_name', 'last_name', 'email', 'phone', 'birth_date',
                                              'booking_system_id')]
    last_id = 0
    while True:
        rows = connection.execute(sa.select(*columns).where(_PATIENTS.c.id > last_id).order_by(_PATIENTS.c.id)
                                  .limit(_BATCH)).all()
        if not rows:
            return
        updates = [{'row_id': row.id, **values_of(row)} for row in rows]
        names = [name for name in updates[0] if name != 'row_id']
        connection.execute(
            _PATIENTS.update().where(_PATIENTS.c.id == sa.bindparam('row_id'))
            .values({name: sa.bindparam(name) for name in names}), updates)
        last_id = rows[-1].id


def upgrade():
    dialect = op.get_bind().dialect.name
    op.add_column('patients', sa.Column('sort_name', sa.Text().with_variant(sa.Text(collation='C'), 'postgresql'),
                                        server_default='', nullable=False))
    op.add_column('patients', sa.Column('merged_into_id', sa.Integer(), nullable=True))
    _rewrite(lambda row: {
        'sort_name': name_sort_key(row.last_name, row.first_name),
        'search_text': build_search_text(row.first_name, row.last_name, row.email, row.phone, row.birth_date,
                                         row.booking_system_id),
    })
    op.create_index('ix_patients_merged_into_id', 'patients', ['merged_into_id'], unique=False)
    if dialect == 'postgresql':
        op.drop_index('ix_patients_active_name', table_name='patients')
        op.create_index('ix_patients_active_sort_name', 'patients', ['practice_id', 'sort_name', 'id'], unique=False,
                        postgresql_where=_ACTIVE)
    elif dialect == 'sqlite':
        op.drop_index('ix_patients_active_name_search', table_name='patients')
        op.create_index('ix_patients_active_sort_name_search', 'patients',
                        ['practice_id', 'sort_name', 'id', 'search_text'], unique=False, sqlite_where=_ACTIVE)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.drop_index('ix_patients_active_sort_name', table_name='patients')
        op.create_index('ix_patients_active_name', 'patients', ['practice_id', 'last_name', 'first_name', 'id'],
                        unique=False, postgresql_where=_ACTIVE)
    elif dialect == 'sqlite':
        op.drop_index('ix_patients_active_sort_name_search', table_name='patients')
        op.create_index('ix_patients_active_name_search', 'patients',
                        ['practice_id', 'last_name', 'first_name', 'id', 'search_text'], unique=False,
                        sqlite_where=_ACTIVE)
    op.drop_index('ix_patients_merged_into_id', table_name='patients')
    _rewrite(lambda row: {'search_text': _old_search_text(row.first_name, row.last_name, row.email, row.phone,
                                                          row.birth_date, row.booking_system_id)})
    op.drop_column('patients', 'merged_into_id')
    op.drop_column('patients', 'sort_name')
