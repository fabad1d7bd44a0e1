"""Patient import, the lookups of the import pages: one import of a practice, one row of an import, and the
practice's recent imports. Each is scoped to its practice or import, so ids of other practices cannot be probed."""

from sqlalchemy import select

from app.patients.importing.models import PatientImportJob, PatientImportRow
from app.platform.extensions import db


def practice_job(practice_id, job_id):
    """Import ``job_id`` of practice ``practice_id``; None when it does not exist or belongs to another practice."""
    job = db.session.get(PatientImportJob, job_id)
    return job if job is not None and job.practice_id == practice_id else None


def job_row(job, row_id):
    """Row ``row_id`` of import ``job``; None when it does not exist or belongs to another import."""
    row = db.session.get(PatientImportRow, row_id)
    return row if row is not None and row.job_id == job.id else None


def recent_imports(practice_id, limit):
    """The practice's last ``limit`` imports, newest first (the list on the upload page)."""
    return db.session.scalars(
        select(PatientImportJob)
        .where(PatientImportJob.practice_id == practice_id)
        .order_by(PatientImportJob.created_at.desc(), PatientImportJob.id.desc())
        .limit(limit)
    ).all()
