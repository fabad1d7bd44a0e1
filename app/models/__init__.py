"""Models, one module per aggregate, re-exported here."""

from app.models.audit import AuditEntry
from app.models.jobs import Job
from app.models.patients import Patient, PatientImportJob, PatientImportRow
from app.models.tenancy import Location, Practice
from app.models.users import ApiToken, User

__all__ = [
    "ApiToken", "AuditEntry", "Job", "Location", "Patient", "PatientImportJob", "PatientImportRow", "Practice", "User",
]
