"""An import of the booking tool's patient export: the job (file, mapping, report, progress) and its rows."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.platform.database import UTCDateTime, utcnow
from app.platform.extensions import db


class PatientImportJob(db.Model):
    """One upload of a patient file: the file itself (so any worker host can read it), the column mapping, the
    dry-run report and, after the commit, the outcome. Per-row results live in ``patient_import_rows``."""

    __tablename__ = "patient_import_jobs"
    __table_args__ = (Index("ix_patient_import_jobs_practice_id_created_at", "practice_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # csv (an uploaded file) or api (POST /api/patients/import)
    origin: Mapped[str] = mapped_column(String(8), default="csv")
    file_name: Mapped[str] = mapped_column(String(255), default="")
    # Deferred: only the preview reads the file, while the progress poll and the worker's progress writes load
    # the job many times (each load of a 20 MB file would cost tens of milliseconds).
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    encoding: Mapped[str | None] = mapped_column(String(32))
    delimiter: Mapped[str | None] = mapped_column(String(1))
    headers: Mapped[list] = mapped_column(JSON, default=list)
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    # uploaded → previewed → queued → running → succeeded | failed
    status: Mapped[str] = mapped_column(String(16), default="uploaded")
    valid_only: Mapped[bool] = mapped_column(default=False)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")


class PatientImportRow(db.Model):
    """One row of an import: its normalised data, the planned action (create, link, update, unchanged, flagged,
    invalid) with the reason, the patient it concerns, and what finally happened."""

    __tablename__ = "patient_import_rows"
    __table_args__ = (
        UniqueConstraint("job_id", "row_number", name="uq_patient_import_rows_job_id_row_number"),
        Index("ix_patient_import_rows_job_id_action", "job_id", "action"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("patient_import_jobs.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    raw: Mapped[dict] = mapped_column(JSON, default=dict)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    # The patient the row concerned. A plain id, as in the audit log, not a foreign key: the rows are the import's
    # log, and a foreign key would lock every patient a row names (FOR KEY SHARE, a write to each patient's page):
    # 2.8 s of a 100,000-row import on PostgreSQL. Patients are archived, never deleted, so the id stays valid.
    patient_id: Mapped[int | None] = mapped_column(Integer)
    # For flagged rows: link, create or skip, chosen by an admin before the commit.
    resolution: Mapped[str | None] = mapped_column(String(8))
    # What the commit did: created, linked, updated, unchanged, skipped, invalid.
    outcome: Mapped[str | None] = mapped_column(String(16))
