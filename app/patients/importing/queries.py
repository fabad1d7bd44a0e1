"""Patient import, the lookups of the import pages: one import of a practice, one row of an import, the practice's
recent imports, and the progress poll's import read with the session's user. Each is scoped to its practice or
import, so ids of other practices cannot be probed."""

from sqlalchemy import and_, select

from app.accounts.models import User
from app.accounts.service import session_user_clause
from app.patients.importing.models import PatientImportJob, PatientImportRow
from app.platform.extensions import db


def practice_job(practice_id, job_id):
    """Import ``job_id`` of practice ``practice_id``; None when it does not exist or belongs to another practice."""
    job = db.session.get(PatientImportJob, job_id)
    return job if job is not None and job.practice_id == practice_id else None


def session_job(session_id, job_id):
    """The progress poll's one statement: the user of ``session_id`` (accounts' session check: that user, active, at
    that session version) and import ``job_id`` when it belongs to that user's practice (else None); (None, None)
    once the session has ended. The user is read fresh, with its role, on every poll, so a deactivation, a new
    session version (logout, password change) or a new role applies to the next poll. Only reads: it runs as the
    poll's user loader (guard.session_read), before anything may ask who the user is."""
    clause = session_user_clause(session_id)
    if clause is None:
        return None, None
    same_practice = and_(PatientImportJob.id == job_id, PatientImportJob.practice_id == User.practice_id)
    found = db.session.execute(select(User, PatientImportJob).outerjoin(PatientImportJob, same_practice)
                               .where(clause)).first()
    return (found[0], found[1]) if found is not None else (None, None)


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
