"""The patients domain's home-page panels (app.accounts.home): patients whose data a person should check (a phone
number kept as entered: "Telefonnummer prüfen") for the front desk and admins, and imports whose flagged rows await
an admin's decision (files, and records the booking tool sent that resemble an existing patient).

Each panel is two bounded statements (the first rows and the count), never one per patient."""

from dataclasses import dataclass

from sqlalchemy import func, select

from app.accounts.home import register_home_panel
from app.patients.importing.models import PatientImportJob, PatientImportRow
from app.patients.models import Patient
from app.platform.extensions import db

SHOWN = 8
# A phone in E.164 (what app.patients.fields stores when it could normalise it); anything else is kept as typed.
E164_PATTERN = r"^\+[1-9][0-9]{1,14}$"


@dataclass(frozen=True)
class ListPanel:
    """The first ``items`` of a list and how many there are in all."""

    items: list
    total: int


def _phone_to_check():
    """The SQL condition for a stored phone that is not E.164 (REGEXP on SQLite, ~ on PostgreSQL)."""
    return Patient.phone.is_not(None) & (Patient.phone != "") & ~Patient.phone.regexp_match(E164_PATTERN)


def phone_check_panel(user):
    """Panel "phone_check": the practice's active patients whose phone number needs checking, oldest change first
    (they have waited longest); None when there are none."""
    condition = (Patient.practice_id == user.practice_id, Patient.archived_at.is_(None), _phone_to_check())
    total = db.session.scalar(select(func.count()).select_from(Patient).where(*condition))
    if not total:
        return None
    items = db.session.scalars(select(Patient).where(*condition).order_by(Patient.updated_at, Patient.id)
                               .limit(SHOWN)).all()
    return ListPanel(items, total)


def import_reviews_panel(user):
    """Panel "import_reviews": the practice's previewed imports with flagged rows still awaiting a decision (link,
    create or skip), newest first, with how many rows wait in each; None when nothing waits."""
    query = (
        select(PatientImportJob, func.count(PatientImportRow.id))
        .join(PatientImportRow, PatientImportRow.job_id == PatientImportJob.id)
        .where(PatientImportJob.practice_id == user.practice_id, PatientImportJob.status == "previewed",
               PatientImportRow.action == "flagged", PatientImportRow.resolution.is_(None))
        .group_by(PatientImportJob.id)
        .order_by(PatientImportJob.created_at.desc(), PatientImportJob.id.desc())
    )
    rows = db.session.execute(query.limit(SHOWN + 1)).all()
    if not rows:
        return None
    total = sum(count for _job, count in rows[:SHOWN])
    return ListPanel(rows[:SHOWN], total)


def register_panels(app):
    """Register the patients domain's home panels."""
    register_home_panel(app, "phone_check", permission="patients.write", template="home/_phone_check.html",
                        context=phone_check_panel, order=35)
    register_home_panel(app, "import_reviews", permission="patients.import", template="home/_import_reviews.html",
                        context=import_reviews_panel, order=45)
