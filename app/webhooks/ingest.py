"""The webhook pipeline: verify, dedupe, store, apply; retry and replay.

A request without a valid signature is only counted (app.webhooks.rejections: one row per endpoint, reason and
minute), so nobody can grow the database by sending them. A signed request becomes exactly one row in the
append-only ``webhook_events``: ``rejected`` (a body that cannot be read: not JSON as app.platform.json_input reads
it, or not an event, or a field out of range; answered 400 with the reason, the payload kept encrypted),
``duplicate`` (its dedup key was seen before) or ``accepted`` (payload stored encrypted with a redacted preview).
An accepted event is applied in the same transaction as it is stored. If applying fails, that transaction is rolled
back and the event is stored again on its own with an ``error`` attempt, the worker retries it with backoff
(WEBHOOK_RETRY_DELAYS) and the sender gets 202. The answer is only built after the commit, so a 2xx always means the
event is stored. (A rollback and a second insert cost less on the rare failure than a savepoint on every event.)

Dedup is exact under concurrency: a partial unique index over (endpoint, delivery id) of accepted events makes the
second of two concurrent deliveries fail at its insert (on PostgreSQL it waits for the first to commit); its
transaction is rolled back and it is stored as a duplicate instead.

The hot path is the event insert, the domain upsert(s), the attempt insert and the commit: the endpoint, its
secrets and its practice come from this process's copy, and every event insert is fenced against a stale copy
(app.webhooks.receiving). An event that is one booking-tool appointment does all of it on the fast path
(app.webhooks.fast_path: one statement on PostgreSQL), and on PostgreSQL a new patient of the booking tool too
(app.webhooks.fast_patient), falling back to this general path whenever that fails."""

from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from app.appointments.service import Ignored, apply_record, upsert_in_one_statement
from app.platform.audit.service import record
from app.platform.database import sqlite_writer, utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.jobs.queue import enqueue
from app.platform.json_input import UnreadableJSON, load_json
from app.platform.security.actor import Actor
from app.platform.security.crypto import decrypt_secret, encrypt_secret
from app.providers.events import PatientRecord, PayloadError, SignatureError
from app.providers.registry import webhook_source
from app.tenancy.models import Practice
from app.webhooks import fast_path, fast_patient
from app.webhooks.failures import stored_error
from app.webhooks.models import (
    ACCEPTED,
    DUPLICATE,
    ERROR,
    IGNORED,
    PROCESSED,
    RECEIPT,
    REJECTED,
    REPLAY,
    RETRY,
    WebhookEvent,
    WebhookEventAttempt,
)
from app.webhooks.receiving import (
    StaleEndpoint,
    attach_practice,
    event_values,
    forget_receiving_endpoint,
    insert_event,
    read_endpoint,
    receiving_secrets,
)
from app.webhooks.redaction import preview
from app.webhooks.rejections import INVALID_SIGNATURE, count_rejection

RETRY_JOB = "webhook_retry"
MAX_REASON = WebhookEvent.__table__.c.reject_reason.type.length  # 255
# Constant Core statements, so SQLAlchemy compiles each once and never rebuilds them per event.
_INSERT_ATTEMPT = insert(WebhookEventAttempt.__table__)


@dataclass
class Receipt:
    """The answer to a delivery: HTTP status and JSON body (``status`` and, where useful, ``reason``)."""

    status: int
    body: dict
    headers: dict = field(default_factory=dict)


def reject(endpoint, status, reason, remote_addr=None, now=None):
    """Count a request refused before its body was read (app.webhooks.rejections; never the body) and build its
    answer."""
    count_rejection(endpoint, reason, remote_addr, now or utcnow())
    return Receipt(status, {"status": "rejected", "reason": reason})


def receive(endpoint, body: bytes, headers, remote_addr=None, now=None) -> Receipt:
    """Verify, dedupe, store and apply one delivery to ``endpoint`` (see the module docstring). A request handled
    with a stale copy of the endpoint (its signature fails, or a fence) is handled again with the endpoint as
    stored now: 404 when it is gone or disabled."""
    try:
        return _receive(endpoint, body, headers, remote_addr, now)
    except StaleEndpoint:
        db.session.rollback()
        forget_receiving_endpoint(endpoint.source, endpoint.public_id)
        current = read_endpoint(endpoint.source, endpoint.public_id)
        if current is None:
            return Receipt(404, {"status": "rejected", "reason": "unknown or disabled webhook endpoint"})
        return _receive(current, body, headers, remote_addr, now)


def _receive(endpoint, body, headers, remote_addr, now):
    """receive() with one copy of the endpoint; raises StaleEndpoint when that copy turns out stale."""
    now = now or utcnow()
    source = webhook_source(endpoint.source)
    try:
        version = source.verify(body, headers, receiving_secrets(endpoint, now), now)
    except SignatureError as error:
        if endpoint.cached:  # perhaps signed with a secret this process has not seen yet
            raise StaleEndpoint from error
        return reject(endpoint, 401, INVALID_SIGNATURE.format(reason=error), remote_addr, now)
    payload = None
    try:
        payload = load_json(body)
        if not isinstance(payload, dict):
            raise PayloadError("the body must be a JSON object")
        parsed = source.parse(payload, headers)
        delivery_id = source.delivery_id(body, headers, payload)
    except UnreadableJSON as error:
        return _store_unreadable(endpoint, body, None, f"malformed JSON: {error}", version, remote_addr, now)
    except PayloadError as error:
        return _store_unreadable(endpoint, body, payload, f"malformed event: {error}", version, remote_addr, now)
    except Exception as error:  # a source's parser failed on a signed body: keep it and say so, never a 5xx
        current_app.logger.exception("webhook %s: the %s parser failed", endpoint.public_id, endpoint.source)
        return _store_unreadable(endpoint, body, payload, f"unreadable event: {type(error).__name__}", version,
                                 remote_addr, now)

    values = event_values(endpoint, version, now, remote_addr, delivery_id=delivery_id[:128],
                           event_type=parsed.event_type[:64], payload=encrypt_secret(body.decode("utf-8")),
                           preview=preview(payload), outcome=ACCEPTED)
    stored = None
    if _one_record(endpoint, parsed):
        stored = fast_path.store_and_apply(endpoint, parsed.records[0], values)
    elif _one_patient(parsed):
        stored = fast_patient.store_and_create_patient(endpoint, parsed.records[0], values)
    if stored is None:
        with sqlite_writer(db.engine):
            stored = _store_and_apply(endpoint, parsed, values)
    if isinstance(stored, Receipt):
        return stored
    event_id, outcome, error = stored
    if outcome == ERROR:
        current_app.logger.warning("webhook event %s stored but not applied: %s", event_id, error)
        return Receipt(202, {"status": "accepted", "event_id": event_id,
                             "reason": "stored, but applying it failed; it will be retried"})
    return Receipt(200, {"status": outcome, "event_id": event_id})


def _one_record(endpoint, parsed):
    """Whether the event is one record that app.webhooks.fast_path applies: an appointment of the endpoint's own
    source applied by the upsert alone."""
    return (not parsed.ignored and len(parsed.records) == 1 and upsert_in_one_statement(parsed.records[0])
            and parsed.records[0].source == endpoint.source)


def _one_patient(parsed):
    """Whether the event is one new patient of the booking tool on PostgreSQL, which app.webhooks.fast_patient
    creates in one statement when the import's rules create it. Only ``patient.created``: an update would nearly
    always be planned twice, there and again on the general path."""
    return (parsed.event_type == "patient.created" and not parsed.ignored and len(parsed.records) == 1
            and isinstance(parsed.records[0], PatientRecord) and db.engine.dialect.name == "postgresql")


def _store_unreadable(endpoint, body, payload, reason, version, remote_addr, now):
    """Store a signed body that cannot be read as one ``rejected`` event with ``reason``, its payload encrypted
    (bytes that are not UTF-8 kept as backslash escapes) and, when it was JSON, its redacted preview; answer 400.
    Nothing the sender signed is lost, and only a holder of the secret can add such rows. A reason longer than the
    column (it may quote a value) is shortened, in the answer as in the log."""
    reason = reason if len(reason) <= MAX_REASON else reason[:MAX_REASON - 1] + "…"
    values = event_values(endpoint, version, now, remote_addr, outcome=REJECTED, reject_reason=reason,
                           payload=encrypt_secret(body.decode("utf-8", "backslashreplace")),
                           preview=preview(payload) if payload is not None else None)
    with sqlite_writer(db.engine):
        insert_event(values)
        db.session.commit()
    return Receipt(400, {"status": "rejected", "reason": reason})


def _store_and_apply(endpoint, parsed, values):
    """The write transaction of a delivery: insert the event, apply it, append the attempt, commit. Returns
    (event id, outcome, error), or the duplicate's Receipt."""
    try:
        event_id = insert_event(values)
    except IntegrityError:
        db.session.rollback()
        return _store_duplicate(endpoint, values)
    started = utcnow()
    outcome, detail, error = _apply(attach_practice(endpoint), parsed, Actor(practice_id=endpoint.practice_id))
    if outcome == ERROR:
        # Nothing of the failed apply may stay: roll it back and store the event alone, with the error.
        db.session.rollback()
        try:
            event_id = insert_event(values)
        except IntegrityError:  # a concurrent delivery of the same event got in first
            db.session.rollback()
            return _store_duplicate(endpoint, values)
    _record_attempt(event_id, endpoint.practice_id, 1, RECEIPT, started, outcome, detail, error, retries_done=0)
    db.session.commit()
    return event_id, outcome, error


def _store_duplicate(endpoint, values):
    """Log a delivery whose dedup key was already accepted (in a fresh transaction) and answer 200. The
    duplicate keeps the preview but never a second copy of the payload."""
    original = db.session.scalar(select(WebhookEvent.id).where(
        WebhookEvent.endpoint_id == endpoint.id, WebhookEvent.delivery_id == values["delivery_id"],
        WebhookEvent.outcome == ACCEPTED))
    insert_event({**values, "payload": None, "outcome": DUPLICATE, "original_event_id": original})
    db.session.commit()
    return Receipt(200, {"status": "duplicate", "event_id": original})


def _apply(practice, parsed, actor):
    """Apply a parsed event's records in the current transaction; returns (outcome, detail, error). On an error
    the caller rolls the transaction back, so a half-applied event never stays."""
    if parsed.ignored:
        return IGNORED, parsed.ignored, None
    done, ignored = [], []
    try:
        for item in parsed.records:
            try:
                done.append(apply_record(actor, practice, item))
            except Ignored as reason:
                ignored.append(str(reason))
        db.session.flush()  # rows added through the session are written here, so their errors are caught here
    except Exception as error:  # whatever goes wrong while applying, the event itself must not be lost
        return ERROR, None, stored_error(error)  # a code and ids: it is stored and logged, so never a value
    if not done:
        return IGNORED, "; ".join(ignored) or "nothing to apply", None
    return PROCESSED, "; ".join(done + ignored), None


def _record_attempt(event_id, practice_id, number, triggered_by, started, outcome, detail, error, retries_done,
                    user_id=None):
    """Append attempt ``number`` of an event (one statement; the caller commits). An error at receipt or in a
    retry schedules the next retry while WEBHOOK_RETRY_DELAYS has one left (``retries_done`` so far) and records
    when in ``next_retry_at``; after the last one the event counts as failed."""
    next_retry_at = None
    delays = current_app.config["WEBHOOK_RETRY_DELAYS"]
    if outcome == ERROR and triggered_by in (RECEIPT, RETRY) and retries_done < len(delays):
        next_retry_at = utcnow() + timedelta(seconds=delays[retries_done])
        enqueue(RETRY_JOB, {"event_id": event_id}, practice_id=practice_id, run_after=next_retry_at)
    db.session.execute(_INSERT_ATTEMPT, {
        "event_id": event_id, "number": number, "started_at": started, "finished_at": utcnow(), "outcome": outcome,
        "detail": detail, "error": error, "triggered_by": triggered_by, "user_id": user_id,
        "next_retry_at": next_retry_at,
    })


def _reapply(event, triggered_by, user=None):
    """Apply a stored event again (retry or replay) and append the attempt; commits and returns it."""
    event_id, practice_id = event.id, event.practice_id
    parsed = _parse_stored(event)
    attempts = db.session.execute(
        select(func.max(WebhookEventAttempt.number),
               func.count().filter(WebhookEventAttempt.triggered_by == RETRY))
        .where(WebhookEventAttempt.event_id == event_id)
    ).one()
    number, retries_done = (attempts[0] or 0) + 1, attempts[1] + (triggered_by == RETRY)
    started = utcnow()
    actor = Actor(user=user, practice_id=practice_id)
    outcome, detail, error = _apply(db.session.get(Practice, practice_id), parsed, actor)
    if outcome == ERROR:
        db.session.rollback()
    _record_attempt(event_id, practice_id, number, triggered_by, started, outcome, detail, error, retries_done,
                    user_id=user.id if user is not None else None)
    return number


def _parse_stored(event):
    """The parsed form of a stored accepted event (its payload decrypted)."""
    payload = load_json(decrypt_secret(event.payload))
    return webhook_source(event.source).parse(payload, {})


def latest_attempt(event_id):
    """The newest attempt of an event, or None."""
    return db.session.scalar(select(WebhookEventAttempt).where(WebhookEventAttempt.event_id == event_id)
                             .order_by(WebhookEventAttempt.number.desc()).limit(1))


def run_retry_job(job, progress):
    """Worker handler for "webhook_retry": apply the event again unless it has been applied since (a replay, or
    an earlier retry); a new error schedules the next retry, and after the last one the event counts as failed."""
    event = db.session.get(WebhookEvent, (job.payload or {}).get("event_id"))
    if event is None or event.outcome != ACCEPTED or (job.practice_id and job.practice_id != event.practice_id):
        raise ServiceError(_("This webhook event does not exist."), code="not_found")
    latest = latest_attempt(event.id)
    if latest is not None and latest.outcome != ERROR:
        return
    _reapply(event, RETRY)
    db.session.commit()
    progress(1, 1)


def replay(actor, event):
    """Apply a stored accepted event again at a user's request (an admin after fixing the cause of an error); adds
    an attempt triggered by "replay" and an audit entry. Returns the attempt."""
    if event is None or event.practice_id != actor.practice_id:
        raise ServiceError(_("This webhook event does not exist."), code="not_found")
    if event.outcome != ACCEPTED or not event.payload:
        raise ServiceError(_("Only accepted events can be replayed; rejected and duplicate requests have no "
                             "stored payload."), code="not_replayable")
    event_id = event.id
    try:
        number = _reapply(event, REPLAY, user=actor.user)
    except PayloadError as error:
        raise ServiceError(_("The stored event can no longer be read: %(error)s", error=str(error)),
                           code="not_replayable") from error
    attempt = db.session.scalar(select(WebhookEventAttempt).where(
        WebhookEventAttempt.event_id == event_id, WebhookEventAttempt.number == number))
    record("webhook.replay", actor, object_type="webhook_event", object_id=event_id,
           meta={"attempt": number, "outcome": attempt.outcome})
    db.session.commit()
    return attempt
