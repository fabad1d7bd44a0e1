"""Syncs of the Integration Hub against the provider fakes: what a Cal.com or Retell sync puts into the practice's
data, mappings an admin corrected, one run at a time, failures with backoff and pause, and the scheduler."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.appointments.models import Appointment, Call
from app.integrations import mappings as integration_mappings
from app.integrations import scheduler
from app.integrations import sync as sync_service
from app.integrations.models import (
    MAP_EVENT_TYPE,
    MAP_USER,
    OK,
    PAUSED,
    UNREACHABLE,
    IntegrationMapping,
    IntegrationMetric,
    SyncRun,
)
from app.integrations.service import status_cards
from app.patients.models import Patient
from app.platform.audit.models import AuditEntry
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db as _db
from app.platform.jobs.models import Job
from app.platform.jobs.worker import Schedule
from app.platform.security.actor import Actor
from app.providers.calcom.client import CalcomClient
from tests.fakes.calcom import CalcomFake
from tests.fakes.calcom import demo_seed as calcom_seed
from tests.fakes.retell import RetellFake
from tests.fakes.retell import demo_seed as retell_seed
from tests.helpers import at_once
from tests.hub_support import (
    CALCOM_KEY,
    config_of,
    connect,
    file_database,
    health_of,
    hub_overrides,
    run_jobs,
)

SEED_TIME = datetime.now(UTC)
CALCOM_SEED = calcom_seed(SEED_TIME)
ANNA = "anna.becker@praxis-am-see.example"
JONAS = "jonas.wolf@praxis-am-see.example"


@pytest.fixture(scope="module")
def calcom_server():
    """One Cal.com fake for the module (reseeded for each test)."""
    with CalcomFake(**CALCOM_SEED) as server:
        yield server


@pytest.fixture(scope="module")
def retell_server():
    """One Retell fake for the module (reseeded for each test)."""
    with RetellFake(**retell_seed(SEED_TIME)) as server:
        yield server


@pytest.fixture
def calcom(calcom_server):
    """The Cal.com fake with the demo practice's event types and bookings, answering normally."""
    calcom_server.seed(**CALCOM_SEED)
    calcom_server.reset()
    return calcom_server


@pytest.fixture
def retell(retell_server):
    """The Retell fake with the demo practice's agents and calls, answering normally."""
    retell_server.seed(**retell_seed(SEED_TIME))
    retell_server.reset()
    return retell_server


@pytest.fixture
def app_overrides(calcom_server, retell_server, tmp_path, request):
    """The hub talks to the fakes; a test may add settings with indirect parametrization, and ``"file_db"`` in
    them switches SQLite to a database file for tests with threads."""
    extra = dict(getattr(request, "param", {}))
    if extra.pop("file_db", False):
        extra.update(file_database(tmp_path))
    return hub_overrides(calcom_server, retell_server, **extra)


pytestmark = pytest.mark.usefixtures("english_messages")


@pytest.fixture
def admin(make_user):
    """The practice's admin, who connects the providers."""
    return make_user(role="admin")


def _sync(app, practice, provider, trigger="manual"):
    """Queue a sync, run it with the worker, and return the run as stored."""
    run, created = sync_service.request_sync(practice.id, provider, trigger)
    assert created
    run_jobs(app)
    _db.session.expire_all()
    return _db.session.get(SyncRun, run.id)


def _appointment(external_id):
    """The cached Cal.com appointment with ``external_id``."""
    _db.session.expire_all()
    return _db.session.scalar(select(Appointment).where(Appointment.source == "calcom",
                                                        Appointment.external_id == external_id))


def _count(model, *conditions):
    """How many rows of ``model`` match."""
    return _db.session.scalar(select(func.count()).select_from(model).where(*conditions))


def _mapping(kind, external_id):
    """The Cal.com mapping of ``kind`` for ``external_id``."""
    return _db.session.scalar(select(IntegrationMapping).where(
        IntegrationMapping.kind == kind, IntegrationMapping.external_id == external_id))


def test_calcom_sync_fills_the_appointment_cache(app, calcom, practice, admin, make_user, make_patient):
    """A sync brings every booking of the window into the cache: a known attendee is linked to the existing
    patient by email, an unknown one becomes a new patient marked as coming from Cal.com, the host becomes the
    therapist with that email, the event type's title is the service, and the run and the card show the counts."""
    anna = make_user(role="therapist", email="Anna.Becker@Praxis-am-See.example", name="Anna Becker")
    lena = make_patient(first_name="Lena", last_name="Müller", email="Lena.Mueller@example.com")
    connect(admin, "calcom")

    run = _sync(app, practice, "calcom")

    assert run.status == "succeeded" and run.error is None
    assert run.records == 6 and run.details == {"event_types": 4, "bookings": 6, "applied": 6}
    first = _appointment("demo-bk-erst-mueller")
    assert first.patient_id == lena.id and first.therapist_id == anna.id
    assert first.service_name == "Erstgespräch" and first.status == "scheduled"
    physio = _appointment("demo-bk-physio-schneider")
    created = _db.session.get(Patient, physio.patient_id)
    assert (created.first_name, created.last_name, created.email) == ("Peter", "Schneider",
                                                                       "peter.schneider@example.com")
    assert created.source == "calcom"
    assert physio.therapist_id is None and physio.therapist_name == "Jonas Wolf"
    assert physio.service_name == "Physiotherapie"
    assert _appointment("demo-bk-erst-wagner").status == "cancelled"
    assert _appointment("demo-bk-physio-weber").status == "pending"
    assert _count(Patient, Patient.email_normalized == "lena.mueller@example.com") == 1
    [card] = [card for card in status_cards(practice.id) if card.provider == "calcom"]
    assert card.health.state == OK and card.health.event_type_count == 4
    assert card.health.last_sync_status == "succeeded" and card.health.last_sync_records == 6


def test_a_mapping_correction_applies_after_the_next_sync_and_survives_later_ones(app, calcom, practice, admin,
                                                                                 make_user):
    """An admin maps the Cal.com host Jonas Wolf (no user with his email) to a therapist and renames an event
    type's service: the next sync applies both to the cached appointments, and further syncs keep them."""
    bernd = make_user(role="therapist", name="Bernd Kraus")
    connect(admin, "calcom")
    _sync(app, practice, "calcom")
    host = _mapping(MAP_USER, JONAS)
    event_type = _mapping(MAP_EVENT_TYPE, "102")
    assert host.user_id is None and event_type.service_name == "Physiotherapie"

    actor = Actor(user=admin)
    integration_mappings.correct(actor, practice.id, host.id, user_id=str(bernd.id))
    integration_mappings.correct(actor, practice.id, event_type.id, service_name="  Krankengymnastik (KG) ")

    for _round in range(2):
        _sync(app, practice, "calcom")
        for uid in ("demo-bk-physio-schneider", "demo-bk-physio-weber"):
            appointment = _appointment(uid)
            assert appointment.therapist_id == bernd.id
            assert appointment.service_name == "Krankengymnastik (KG)"
        assert _appointment("demo-bk-lymph-hoffmann").therapist_id == bernd.id
        assert _appointment("demo-bk-erst-mueller").service_name == "Erstgespräch"
        assert _mapping(MAP_USER, JONAS).manual and _mapping(MAP_EVENT_TYPE, "102").manual


def test_a_mapping_correction_to_a_user_of_another_practice_is_refused(app, calcom, practice, other_practice,
                                                                        admin, make_user):
    """The therapist of a correction must belong to the practice; another practice's user is refused."""
    stranger = make_user(role="therapist", practice=other_practice)
    connect(admin, "calcom")
    _sync(app, practice, "calcom")
    host = _mapping(MAP_USER, JONAS)
    with pytest.raises(ServiceError, match="choose a therapist of this practice"):
        integration_mappings.correct(Actor(user=admin), practice.id, host.id, user_id=stranger.id)
    assert _mapping(MAP_USER, JONAS).user_id is None


def _snapshot():
    """Everything a sync writes, except when it wrote it."""
    _db.session.expire_all()
    appointments = sorted(
        (row.external_id, row.patient_id, row.therapist_id, row.therapist_name, row.service_name, row.status,
         row.starts_at, row.ends_at, row.attendee_email, row.source_updated_at)
        for row in _db.session.scalars(select(Appointment)))
    patients = sorted((row.id, row.first_name, row.last_name, row.email) for row in _db.session.scalars(
        select(Patient)))
    mappings = sorted((row.kind, row.external_id, row.user_id, row.service_name, row.manual)
                      for row in _db.session.scalars(select(IntegrationMapping)))
    return appointments, patients, mappings, _count(AuditEntry)


def test_a_second_sync_changes_nothing(app, calcom, practice, admin):
    """Syncing again without changes at Cal.com leaves the cache, the patients and the mappings as they were
    (no duplicate patients, no extra audit entries)."""
    connect(admin, "calcom")
    _sync(app, practice, "calcom")
    before = _snapshot()
    assert len(before[0]) == 6

    again = _sync(app, practice, "calcom")

    assert again.status == "succeeded" and again.records == 6
    assert _snapshot() == before


def test_a_booking_whose_webhook_never_arrived_appears_after_a_sync(app, calcom, practice, admin):
    """Cal.com delivers webhooks at most once: a booking made while none arrived is in the cache after the next
    sync."""
    connect(admin, "calcom")
    _sync(app, practice, "calcom")
    late_start = datetime.fromisoformat(CALCOM_SEED["bookings"][0]["start"]) + timedelta(hours=4)
    calcom.seed(**{**CALCOM_SEED, "bookings": [*CALCOM_SEED["bookings"], {
        "uid": "late-booking", "eventTypeId": 103, "start": late_start.isoformat(),
        "attendee": {"name": "Ute Late", "email": "ute.late@example.com"}}]})
    assert _appointment("late-booking") is None

    run = _sync(app, practice, "calcom")

    late = _appointment("late-booking")
    assert late is not None and late.status == "scheduled" and late.service_name == "Manuelle Therapie"
    assert late.starts_at == late_start and run.records == 7


def test_a_booking_cancelled_at_calcom_becomes_cancelled(app, calcom, practice, admin):
    """A booking cancelled in Cal.com (and whose webhook was lost) is marked cancelled by the next sync; it stays
    in the cache."""
    connect(admin, "calcom")
    _sync(app, practice, "calcom")
    assert _appointment("demo-bk-mt-fischer").status == "scheduled"
    CalcomClient(calcom.url, CALCOM_KEY, max_retries=0).cancel_booking("demo-bk-mt-fischer", "Patientin krank")

    _sync(app, practice, "calcom")

    assert _appointment("demo-bk-mt-fischer").status == "cancelled"
    assert _count(Appointment) == 6


def test_retell_sync_stores_the_calls(app, retell, practice, admin, make_patient):
    """A Retell sync stores the account's recent calls in the call log, linked to the patient whose phone
    number called, and the card shows the records."""
    caller = make_patient(first_name="Rita", last_name="Ruf", phone="+49305550123")
    connect(admin, "retell")

    run = _sync(app, practice, "retell")

    assert run.status == "succeeded" and run.records == 5 and run.details == {"calls": 5, "applied": 5}
    _db.session.expire_all()
    calls = {call.external_id: call for call in _db.session.scalars(select(Call))}
    assert len(calls) == 5
    first = calls[f"call_demo_{1:024d}"]
    assert first.patient_id == caller.id and first.stage == 3 and first.summary.startswith("Anruferin")
    assert calls[f"call_demo_{5:024d}"].status == "ongoing"
    health = health_of(practice, "retell")
    assert health.state == OK and health.last_sync_records == 5 and health.agent_count == 2


def test_requesting_a_sync_twice_queues_one_run(app, calcom, practice, admin):
    """A second "sync now" while a run is waiting answers with that run instead of queueing another."""
    connect(admin, "calcom")
    first, created = sync_service.request_sync(practice.id, "calcom", "manual")
    second, created_again = sync_service.request_sync(practice.id, "calcom", "schedule")
    assert created and not created_again and second.id == first.id
    assert _count(SyncRun) == 1 and _count(Job, Job.kind == "integration_sync") == 1


def test_a_sync_without_a_key_is_refused(app, calcom, practice):
    """Syncing a provider that was never connected is refused with a message, and nothing is queued."""
    with pytest.raises(ServiceError, match="Connect Cal.com with an API key"):
        sync_service.request_sync(practice.id, "calcom", "manual")
    assert _count(SyncRun) == 0


@pytest.mark.parametrize("app_overrides", [{"file_db": True}], indirect=True)
def test_concurrent_sync_requests_queue_exactly_one_run(app, calcom, practice, admin):
    """Eight simultaneous "sync now" clicks (say, from several tabs) queue exactly one run, and every click is
    answered with that run."""
    connect(admin, "calcom")
    practice_id = practice.id

    def click():
        run, created = sync_service.request_sync(practice_id, "calcom", "manual")
        return run.id, created

    answers = at_once(app, 8, click)

    assert len(answers) == 8 and len({run_id for run_id, _created in answers}) == 1
    assert sum(created for _run_id, created in answers) == 1
    _db.session.expire_all()
    assert _count(SyncRun) == 1 and _count(Job, Job.kind == "integration_sync") == 1


@pytest.mark.parametrize("scenario", ["500", "down"])
def test_a_failing_sync_is_recorded_and_backs_off(app, calcom, practice, admin, scenario):
    """When Cal.com fails, the run is marked failed with the reason, the card says unreachable, the cache keeps
    what the last good sync brought, and the next automatic try waits twice as long after each failure. (A
    "sync now" starts the count afresh, see the pause test.)"""
    connect(admin, "calcom")
    _sync(app, practice, "calcom")
    cached = _snapshot()
    calcom.set_scenario(scenario)
    base = app.config["SYNC_BACKOFF_BASE_SECONDS"]

    for failures in (1, 2, 3):
        run = _sync(app, practice, "calcom", trigger="schedule")
        assert run.status == "failed" and "Cal.com" in run.error
        assert ("server error" in run.error) if scenario == "500" else ("could not be reached" in run.error)
        config = config_of(practice, "calcom")
        assert config.next_sync_at - run.finished_at == timedelta(seconds=base * 2 ** (failures - 1))
        assert config.last_error == run.error
        health = health_of(practice, "calcom")
        assert health.state == UNREACHABLE and health.consecutive_failures == failures
        assert health.reason == run.error and health.last_sync_status == "failed"
    assert _snapshot() == cached


@pytest.mark.parametrize("app_overrides", [{"SYNC_PAUSE_AFTER_FAILURES": 3}], indirect=True)
def test_too_many_failures_pause_the_integration_until_sync_now(app, calcom, practice, admin):
    """After SYNC_PAUSE_AFTER_FAILURES failed syncs in a row the integration pauses itself with the reason on its
    card and the scheduler leaves it alone; "sync now" resumes it."""
    connect(admin, "calcom", sync_enabled="on")
    run_jobs(app)  # the sync queued by saving
    calcom.set_scenario("500")
    for _failure in range(3):
        _sync(app, practice, "calcom", trigger="schedule")

    health = health_of(practice, "calcom")
    assert health.state == PAUSED
    assert "Paused after 3 failed syncs in a row" in health.reason and "server error" in health.reason
    assert config_of(practice, "calcom").next_sync_at is None
    later = utcnow() + timedelta(days=1)
    assert scheduler.tick(later) == {"syncs": 0, "probes": 0, "metrics_pruned": 0}
    assert _count(SyncRun, SyncRun.status == "queued") == 0

    calcom.set_scenario("ok")
    run = _sync(app, practice, "calcom", trigger="manual")

    assert run.status == "succeeded"
    health = health_of(practice, "calcom")
    assert health.state == OK and health.consecutive_failures == 0 and health.reason is None
    assert config_of(practice, "calcom").next_sync_at is not None


@pytest.mark.parametrize("app_overrides", [{"SYNC_PAUSE_AFTER_FAILURES": 3}], indirect=True)
def test_failed_probes_do_not_count_as_failed_syncs(app, calcom, practice, admin):
    """An outage noticed by three probes and then by one sync is one failed sync: the integration is not paused
    and the sync is retried after the first backoff step, not a longer one."""
    connect(admin, "calcom")
    calcom.set_scenario("500")
    for _probe in range(3):
        sync_service.probe(practice.id, "calcom")

    run = _sync(app, practice, "calcom", trigger="schedule")

    assert health_of(practice, "calcom").state == UNREACHABLE
    config = config_of(practice, "calcom")
    assert config.next_sync_at - run.finished_at == timedelta(seconds=app.config["SYNC_BACKOFF_BASE_SECONDS"])


def test_the_scheduler_queues_due_syncs_and_probes_once(app, calcom, retell, practice, admin):
    """A tick queues the sync and the probes that are due; a second tick at the same moment (another worker)
    queues nothing more."""
    connect(admin, "calcom", sync_enabled="on")
    connect(admin, "retell")  # automatic sync off: probed, never synced by the schedule
    run_jobs(app)
    queued_before = _count(Job)
    due = utcnow() + timedelta(minutes=61)

    first = scheduler.tick(due)
    second = scheduler.tick(due)

    assert first["syncs"] == 1 and first["probes"] == 2
    assert second["syncs"] == 0 and second["probes"] == 0
    _db.session.expire_all()
    assert _count(Job) - queued_before == 3
    assert _count(Job, Job.kind == "integration_probe", Job.status == "queued") == 2
    [run] = _db.session.scalars(select(SyncRun).where(SyncRun.status == "queued")).all()
    assert run.provider == "calcom" and run.trigger == "schedule"


@pytest.mark.parametrize("app_overrides", [{"file_db": True}], indirect=True)
def test_workers_ticking_at_the_same_moment_queue_each_sync_and_probe_once(app, calcom, retell, practice, admin):
    """Four workers whose schedulers tick at the same moment queue the due sync and each due probe exactly once
    between them."""
    connect(admin, "calcom", sync_enabled="on")
    connect(admin, "retell")
    run_jobs(app)
    queued_before = _count(Job)
    due = utcnow() + timedelta(minutes=61)
    results = at_once(app, 4, lambda: scheduler.tick(due))

    assert sum(done["syncs"] for done in results) == 1 and sum(done["probes"] for done in results) == 2
    _db.session.expire_all()
    assert _count(Job) - queued_before == 3 and _count(SyncRun, SyncRun.status == "queued") == 1


def test_the_worker_ticks_the_scheduler_once_per_interval(app, calcom, practice, admin):
    """The worker's schedule ticks at once when it starts and not again before WORKER_SCHEDULE_SECONDS."""
    connect(admin, "calcom")
    config = config_of(practice, "calcom")
    config.next_probe_at = utcnow() - timedelta(seconds=1)
    _db.session.commit()
    schedule = Schedule(app)

    assert schedule.maybe_tick()["integrations"]["probes"] == 1
    assert schedule.maybe_tick() is None
    assert _count(Job, Job.kind == "integration_probe") == 1


def test_the_hourly_tick_prunes_metrics_older_than_the_window(app, practice):
    """Metrics older than INTEGRATION_METRICS_DAYS are deleted by the scheduler's hourly round; newer ones stay."""
    now = utcnow()
    days = app.config["INTEGRATION_METRICS_DAYS"]
    for age in (timedelta(days=days, hours=1), timedelta(days=days + 5), timedelta(days=days - 1), timedelta(0)):
        _db.session.add(IntegrationMetric(practice_id=practice.id, provider="calcom", action="me", success=True,
                                          duration_ms=10, created_at=now - age))
    _db.session.commit()

    assert scheduler.tick(now)["metrics_pruned"] == 0
    assert scheduler.tick(now, prune=True)["metrics_pruned"] == 2
    assert _count(IntegrationMetric) == 2


def test_every_call_and_every_sync_is_measured(app, calcom, practice, admin):
    """Each request the hub sends to Cal.com leaves one metric row, and each sync one more with its records and
    outcome; the key check made while saving is marked as such."""
    connect(admin, "calcom")
    assert calcom.request_count() == 1
    _sync(app, practice, "calcom")
    calcom.set_scenario("500")
    _sync(app, practice, "calcom")

    rows = _db.session.scalars(select(IntegrationMetric).order_by(IntegrationMetric.id)).all()
    calls = [row for row in rows if row.action != "sync"]
    assert len(calls) == calcom.request_count()
    assert [row.action for row in calls] == ["check:me", "event_types.list", "bookings.list", "event_types.list"]
    assert [row.success for row in calls] == [True, True, True, False] and calls[-1].status_code == 500
    assert calls[2].records == 6
    syncs = [row for row in rows if row.action == "sync"]
    assert [(row.success, row.records) for row in syncs] == [(True, 6), (False, None)]
    assert all(row.provider == "calcom" and row.practice_id == practice.id for row in rows)


def test_a_probe_stores_the_card_facts_and_skips_unconnected_providers(app, calcom, retell, practice, admin):
    """A probe of a connected provider stores the facts the card shows; a provider without a key is marked
    unconfigured without any call."""
    connect(admin, "calcom")
    requests_before = calcom.request_count()

    row = sync_service.probe(practice.id, "calcom")

    assert row.state == OK and row.event_type_count == 4 and row.latency_ms is not None
    assert calcom.request_count() - requests_before == 2
    assert sync_service.probe(practice.id, "retell").state == "unconfigured"
    assert retell.request_count() == 0


def test_a_run_left_behind_by_a_dead_worker_does_not_block_syncs(app, calcom, practice, admin):
    """A run whose job ended without recording it (its workers kept dying) is closed as failed with the reason
    when the next sync is asked for, instead of answering "already running" forever."""
    connect(admin, "calcom")
    stuck, _created = sync_service.request_sync(practice.id, "calcom", "manual")
    job = _db.session.get(Job, stuck.job_id)
    job.status, job.error, job.finished_at = "failed", "given up after 3 attempts", utcnow()
    stuck.status = "running"
    _db.session.commit()

    run, created = sync_service.request_sync(practice.id, "calcom", "manual")

    assert created and run.id != stuck.id
    _db.session.expire_all()
    closed = _db.session.get(SyncRun, stuck.id)
    assert closed.status == "failed" and "given up after 3 attempts" in closed.error
