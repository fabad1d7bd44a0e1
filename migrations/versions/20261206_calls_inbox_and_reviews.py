"""calls inbox and the review list of patients from outside

The calls inbox (issue 17, item 2) marks a call done by someone at a time (``calls.done_at``, ``calls.done_by_id``),
counts the open calls of a practice for the navigation through (practice_id, done_at) and lists them newest first
through (practice_id, started_at). ``patient_reviews`` (item 5) holds every patient a sync or webhook created until
an admin accepts, links or ignores it. Existing calls start open; patients created before this revision are not put
on the review list.

Revision ID: a17calls0001
Revises: a17pubur0001
Create Date: 2026-12-06 09:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a17calls0001"
down_revision = 'a17pubur0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("done_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("done_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_calls_done_by_id_users"), "users", ["done_by_id"], ["id"])
        batch_op.create_index("ix_calls_practice_id_started_at", ["practice_id", "started_at"], unique=False)
        batch_op.create_index("ix_calls_practice_id_done_at", ["practice_id", "done_at"], unique=False)

    op.create_table(
        "patient_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("linked_patient_id", sa.Integer(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_patient_reviews_decided_by_id_users")),
        sa.ForeignKeyConstraint(["linked_patient_id"], ["patients.id"],
                                name=op.f("fk_patient_reviews_linked_patient_id_patients")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_patient_reviews_patient_id_patients")),
        sa.ForeignKeyConstraint(["practice_id"], ["practices.id"],
                                name=op.f("fk_patient_reviews_practice_id_practices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_reviews")),
        sa.UniqueConstraint("patient_id", name="uq_patient_reviews_patient_id"),
    )
    with op.batch_alter_table("patient_reviews", schema=None) as batch_op:
        batch_op.create_index("ix_patient_reviews_practice_id_status_created_at",
                              ["practice_id", "status", "created_at"], unique=False)


def downgrade():
    with op.batch_alter_table("patient_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_reviews_practice_id_status_created_at")
    op.drop_table("patient_reviews")

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_practice_id_done_at")
        batch_op.drop_index("ix_calls_practice_id_started_at")
        batch_op.drop_constraint(batch_op.f("fk_calls_done_by_id_users"), type_="foreignkey")
        batch_op.drop_column("done_by_id")
        batch_op.drop_column("done_at")
