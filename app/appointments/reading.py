"""Reading a patient's cached appointments and calls for the record's tabs, the API and the patient's own page.

The cache is filled by the webhook pipeline (app.appointments.service); here it is only read. Each source's "last
synchronised" time tells staff how fresh the cache is: when a source has not been heard from for
APPOINTMENTS_STALE_HOURS the list stays visible with a warning. Every read is a bounded, indexed query (the
patient's appointments by (patient_id, starts_at) with LIMIT, one query for all sync times), so the tab stays fast
with millions of appointments in the table. ``now`` is a parameter so tests can place the clock."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import exists, func, literal, select
from sqlalchemy.orm import joinedload

from app.appointments.models import Appointment, Call
from app.platform.extensions import db
from app.providers.events import INACTIVE_STATUSES

# Outside systems whose appointments are cached (local appointments need no synchronising).
SYNCED_SOURCES = ("booking", "calcom")
PAGE_SIZE = 20
CALLS_SHOWN = 50

# How fresh a source is, as other domains know it: the webhooks domain knows when a source's last event was applied,
# the integrations domain the cached health of its integration. They register scalar-subquery builders here
# (register_last_heard, register_provider_state), so the tab's one query reads both without importing them.
SOURCE_SIGNALS = "praxis.appointment_source_signals"


def register_last_heard(app, build):
    """Add ``build(practice_id, source)``: a scalar subquery of when ``source`` was last heard from (or null)."""
    _signals(app)["last_heard"].append(build)


def register_provider_state(app, build, unavailable_states):
    """Set ``build(practice_id, source)``: a scalar subquery of the cached health state of the integration behind
    ``source`` (or null); in ``unavailable_states`` its cached appointments cannot be refreshed."""
    _signals(app)["provider_state"] = (build, tuple(unavailable_states))


def _signals(app):
    """The registered source signals of ``app``."""
    return app.extensions.setdefault(SOURCE_SIGNALS, {"last_heard": [], "provider_state": None})


@dataclass(frozen=True)
class SourceSync:
    """When ``source`` was last heard from for this practice (None: never), whether that is too long ago, and the
    cached health state of the source's integration (None for sources the hub does not probe, the booking tool).
    ``warn`` says the list may be out of date: heard from too long ago, or the provider cannot be reached now."""

    source: str
    synced_at: datetime | None
    stale: bool
    provider_state: str | None = None
    # True while the integration is unreachable, refuses its key or is paused.
    unavailable: bool = False

    @property
    def warn(self):
        """True when the Termine tab should warn about this source."""
        return self.stale or self.unavailable


@dataclass(frozen=True)
class AppointmentPage:
    """One page of a patient's appointments (upcoming ascending, or past descending) with the sync state of each
    source that concerns the patient; ``has_cached`` says whether any appointment of the patient is cached at all
    (so an empty page can tell "none upcoming" from "none known"). ``zone`` is the practice's time zone."""

    appointments: list
    past: bool
    page: int
    has_more: bool
    syncs: list
    has_cached: bool
    zone: ZoneInfo

    @property
    def stale_syncs(self):
        """The sources whose cache may be out of date (too old, or their provider unavailable now)."""
        return [sync for sync in self.syncs if sync.warn]

    @property
    def stale(self):
        """True when any source that concerns the patient may be out of date."""
        return bool(self.stale_syncs)

    @property
    def synced_at(self):
        """The oldest sync time of the sources that concern the patient: the cache is at least this fresh."""
        times = [sync.synced_at for sync in self.syncs if sync.synced_at is not None]
        return min(times) if times else None


def practice_zone(practice):
    """The practice's time zone (times are stored in UTC and shown in this zone)."""
    return ZoneInfo(practice.timezone)


def is_stale(synced_at, now, hours=None):
    """True when ``synced_at`` is older than ``hours`` (default APPOINTMENTS_STALE_HOURS) before ``now``; never
    heard from (None) is not "stale": there is nothing cached to warn about."""
    if synced_at is None:
        return False
    hours = current_app.config["APPOINTMENTS_STALE_HOURS"] if hours is None else hours
    return now - synced_at > timedelta(hours=hours)


def _last_appointment_sync(patient, source):
    """A scalar subquery: the newest synced_at of the patient's appointments of ``source`` (a sync run may have
    refreshed them without an event)."""
    return (
        select(func.max(Appointment.synced_at))
        .where(Appointment.patient_id == patient.id, Appointment.source == source)
        .scalar_subquery()
    )


def sync_state(patient, now):
    """In one query: the sync state of each synced source that has been heard from for the patient's practice or
    has cached appointments of the patient (for each, the latest of the times the registered signals report and
    the newest synced_at of the patient's appointments from it, and its integration's health state), and whether
    anything is cached for the patient at all."""
    signals = _signals(current_app)
    state, unavailable_states = signals["provider_state"] or (lambda practice_id, source: literal(None), ())
    heard = signals["last_heard"]
    columns = [exists().where(Appointment.patient_id == patient.id)]
    for source in SYNCED_SOURCES:
        columns += [_last_appointment_sync(patient, source), state(patient.practice_id, source)]
        columns += [build(patient.practice_id, source) for build in heard]
    has_cached, *values = db.session.execute(select(*columns)).one()
    syncs, width = [], 2 + len(heard)
    for index, source in enumerate(SYNCED_SOURCES):
        last_sync, provider_state, *heard_at = values[width * index:width * (index + 1)]
        known = [value for value in (last_sync, *heard_at) if value is not None]
        if known:
            synced_at = max(known)
            syncs.append(SourceSync(source, synced_at, is_stale(synced_at, now), provider_state,
                                    provider_state in unavailable_states))
    return syncs, bool(has_cached)


def _appointments_query(patient, now, past):
    """The patient's appointments from ``now`` on (ascending) or before it (descending), therapist loaded with
    them; served by the (patient_id, starts_at) index. (No practice_id condition: the patient already belongs to
    the practice, and with one the planner may walk the practice's (practice_id, starts_at) index instead.)"""
    query = select(Appointment).options(joinedload(Appointment.therapist)).where(Appointment.patient_id == patient.id)
    if past:
        return query.where(Appointment.starts_at < now).order_by(Appointment.starts_at.desc(), Appointment.id.desc())
    return query.where(Appointment.starts_at >= now).order_by(Appointment.starts_at, Appointment.id)


def appointment_page(patient, now, past=False, page=1, page_size=PAGE_SIZE):
    """One page of the patient's upcoming (or, with ``past``, earlier) appointments and the sources' sync state."""
    page = max(page, 1)
    query = _appointments_query(patient, now, past).limit(page_size + 1).offset((page - 1) * page_size)
    rows = db.session.scalars(query).all()
    syncs, has_cached = sync_state(patient, now)
    return AppointmentPage(
        appointments=rows[:page_size], past=past, page=page, has_more=len(rows) > page_size, syncs=syncs,
        has_cached=has_cached, zone=practice_zone(patient.practice),
    )


def upcoming_for_patient_page(patient, now, limit=50):
    """The patient's upcoming appointments that still take place (cancelled, rescheduled and rejected ones left
    out), for the patient's own page."""
    query = _appointments_query(patient, now, past=False).where(Appointment.status.not_in(INACTIVE_STATUSES))
    return db.session.scalars(query.limit(limit)).all()


def therapist_label(appointment):
    """The therapist as staff know them: the matched user's name, else the name the source sent. A Cal.com host no
    therapist is mapped to is not one of the practice's therapists: "" (staff pages show "nicht zugeordnet")."""
    if appointment.therapist is not None:
        return appointment.therapist.name
    return "" if appointment.source == "calcom" else appointment.therapist_name


def patient_calls(patient, limit=CALLS_SHOWN):
    """The patient's voice-agent calls, newest first, from the (patient_id, started_at) index (transcripts stay
    encrypted and are not shown)."""
    query = (
        select(Call)
        .where(Call.patient_id == patient.id)
        .order_by(Call.started_at.desc().nulls_last(), Call.id.desc())
        .limit(limit)
    )
    return db.session.scalars(query).all()
