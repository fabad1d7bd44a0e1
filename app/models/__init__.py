"""Models, one module per aggregate, re-exported here."""

from app.accounts.models import ApiToken, User
from app.appointments.models import Appointment, Call
from app.integrations.models import IntegrationConfig, IntegrationMapping, IntegrationMetric, ProviderHealth, SyncRun
from app.patients.importing.models import PatientImportJob, PatientImportRow
from app.patients.models import Patient, PatientAccessLink
from app.platform.audit.models import AuditEntry
from app.platform.jobs.models import Job
from app.tenancy.models import Location, Practice
from app.webhooks.models import WebhookEndpoint, WebhookEvent, WebhookEventAttempt

__all__ = [
    "ApiToken", "Appointment", "AuditEntry", "Call", "IntegrationConfig", "IntegrationMapping", "IntegrationMetric",
    "Job", "Location", "Patient", "PatientAccessLink", "PatientImportJob", "PatientImportRow", "Practice",
    "ProviderHealth", "SyncRun", "User", "WebhookEndpoint", "WebhookEvent", "WebhookEventAttempt",
]
