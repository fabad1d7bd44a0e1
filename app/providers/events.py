"""The domain events a provider's webhook is parsed into, and the errors of verification and parsing.

A provider package turns its own payloads into these plain records; the core (app.webhooks.ingest and
app.appointments.service) applies them without knowing which provider sent them."""

from dataclasses import dataclass, field
from datetime import date, datetime

# The statuses an appointment can have, in every source (providers map their own to these).
SCHEDULED = "scheduled"
CANCELLED = "cancelled"
RESCHEDULED = "rescheduled"
COMPLETED = "completed"
NO_SHOW = "no_show"
PENDING = "pending"
REJECTED = "rejected"
APPOINTMENT_STATUSES = (SCHEDULED, PENDING, CANCELLED, RESCHEDULED, REJECTED, COMPLETED, NO_SHOW)
# Statuses of appointments that no longer take place; they stay visible, marked as such.
INACTIVE_STATUSES = (CANCELLED, RESCHEDULED, REJECTED)


class SignatureError(Exception):
    """The request is not signed by any valid secret of the endpoint (missing, malformed, stale or wrong
    signature). The message is the reason logged for the rejected request; it never contains the body."""


class PayloadError(Exception):
    """The body is signed but is not an event we can read (missing or malformed fields). The message names the
    field and is sent back to the sender in the 400 answer."""


@dataclass(frozen=True)
class PatientRecord:
    """A patient as the booking tool knows them (``patient.created`` / ``patient.updated``)."""

    external_id: str
    first_name: str
    last_name: str
    email: str | None = None
    phone: str | None = None
    birth_date: date | None = None


@dataclass(frozen=True)
class AppointmentRecord:
    """An appointment as its source last described it. ``status`` is one of
    APPOINTMENT_STATUSES above. The patient is named by the source's patient id
    (``patient_external_id``, booking tool) or by the attendee (name, email; Cal.com). ``replaces_external_id`` is
    set by a reschedule: that appointment becomes ``rescheduled`` and this one is new."""

    source: str
    external_id: str
    starts_at: datetime
    ends_at: datetime
    status: str
    patient_external_id: str | None = None
    attendee_name: str = ""
    attendee_email: str | None = None
    therapist_name: str = ""
    therapist_email: str | None = None
    service_name: str = ""
    source_updated_at: datetime | None = None
    replaces_external_id: str | None = None


@dataclass(frozen=True)
class CallRecord:
    """A voice-agent call. ``stage`` orders the events of one call (1 started, 2 ended, 3 analyzed): a lower stage
    never overwrites what a higher one stored. Times are aware datetimes."""

    external_id: str
    stage: int
    agent_id: str | None = None
    direction: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    status: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_ms: int | None = None
    summary: str | None = None
    sentiment: str | None = None
    successful: bool | None = None
    disconnection_reason: str | None = None
    transcript: str | None = None


@dataclass(frozen=True)
class ParsedEvent:
    """What one webhook delivery means: its type, the records to apply, or why there is nothing to apply
    (``ignored``, e.g. Cal.com's PING)."""

    event_type: str
    records: tuple = field(default_factory=tuple)
    ignored: str | None = None


@dataclass(frozen=True)
class MappingKey:
    """A provider object that maps to one of ours and that an admin may correct: ``kind`` "user" (a Cal.com user
    → a therapist, matched by ``email``) or "event_type" (→ an appointment service, matched by name)."""

    kind: str
    external_id: str
    external_name: str = ""
    email: str | None = None


@dataclass(frozen=True)
class SyncItem:
    """One record a sync pulled (AppointmentRecord or CallRecord) and the mapped objects it refers to."""

    record: object
    mappings: tuple = ()


@dataclass(frozen=True)
class SyncBatch:
    """What one sync pulled: the items to apply, every mappable object seen (also those without bookings), and
    counts per kind for the run's record (e.g. {"event_types": 3, "bookings": 12})."""

    items: tuple = ()
    seen: tuple = ()
    counts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ProbeResult:
    """What a health probe found: provider facts for the status card (``event_type_count``, ``agent_count``,
    ``webhook_registered``) and problems that make the state ``degraded`` (sentences for the admin)."""

    facts: dict = field(default_factory=dict)
    problems: tuple = ()


@dataclass(frozen=True)
class KeyCheck:
    """A key the provider accepted, and whose account it is (shown next to the field)."""

    account: str
    facts: dict = field(default_factory=dict)
