"""The webhook pipeline: verify, dedupe, store, apply; retry and replay.

A request to an endpoint becomes exactly one row in the append-only ``webhook_events``: ``rejected`` (bad
signature, malformed body; the body is not stored), ``duplicate`` (its dedup key was seen before) or ``accepted``
(payload stored encrypted with a redacted preview). An accepted event is applied in the same transaction, inside a
savepoint: if applying fails, the savepoint is rolled back but the event and an ``error`` attempt are committed,
the worker retries it with backoff (WEBHOOK_RETRY_DELAYS) and the sender gets 202. The answer is only built after
the commit, so a 2xx always means the event is stored.

Dedup is exact under concurrency: every accepted event inserts its key into ``webhook_deliveries`` (unique per
endpoint); of two concurrent deliveries the second insert fails (on PostgreSQL it waits for the first to commit),
its transaction is rolled back and it is stored as a duplicate instead."""

import json
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.database import utcnow
from app.extensions import db
from app.models import Practice, WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookEventAttempt
from app.models.webhooks import (
    ACCEPTED,
    DUPLICATE,
    ERROR,
    IGNORED,
    PROCESSED,
    RECEIPT,
    REJECTED,
    REPLAY,
    RETRY,
)
from app.providers.events import PayloadError, SignatureError
from app.providers.registry import webhook_source
from app.security import Actor, decrypt_secret, encrypt_secret
from app.services import ServiceError
from app.services.appointments import Ignored, apply_record
from app.services.audit import record
from app.services.jobs import enqueue
from app.services.redaction import preview
from app.services.webhook_endpoints import valid_secrets

RETRY_JOB = "webhook_retry"


@dataclass
class Receipt:
    """The answer to a delivery: HTTP status and JSON body (``status`` and, where useful, ``reason``)."""

    status: int
    body: dict
    headers: dict = field(default_factory=dict)


def find_endpoint(source, public_id):
    """The active endpoint of ``source`` with ``public_id``, or None (unknown, disabled or another source)."""
    if webhook_source(source) is None:
        return None
    return db.session.scalar(select(WebhookEndpoint).where(
        WebhookEndpoint.public_id == public_id, WebhookEndpoint.source == source,
        WebhookEndpoint.active.is_(True)))


def reject(endpoint, status, reason, remote_addr=None, secret_version=None, event_type=None):
    """Log a refused request as ``rejected`` (reason only, never the body) and build its answer."""
    db.session.add(WebhookEvent(
        practice_id=endpoint.practice_id, endpoint_id=endpoint.id, source=endpoint.source, outcome=REJECTED,
        reject_reason=reason[:255], remote_addr=remote_addr, secret_version=secret_version, event_type=event_type,
    ))
    db.session.commit()
    return Receipt(status, {"status": "rejected", "reason": reason})


def receive(endpoint, body: bytes, headers, remote_addr=None, now=None) -> Receipt:
    """Verify, dedupe, store and apply one delivery to ``endpoint`` (see the module docstring)."""
    now = now or utcnow()
    source = webhook_source(endpoint.source)
    try:
        version = source.verify(body, headers, valid_secrets(endpoint, now), now)
    except SignatureError as error:
        return reject(endpoint, 401, f"invalid signature: {error}", remote_addr)
    try:
        payload = json.loads(body.decode("utf-8"))
        if not isinstance(payload, dict):
            raise PayloadError("the body must be a JSON object")
        parsed = source.parse(payload, headers)
        delivery_id = source.delivery_id(body, headers, payload)
    except UnicodeDecodeError:
        return reject(endpoint, 400, "malformed body: not UTF-8 text", remote_addr, version)
    except json.JSONDecodeError as error:
        return reject(endpoint, 400, f"malformed JSON: {error.msg} at position {error.pos}", remote_addr, version)
    except PayloadError as error:
        return reject(endpoint, 400, f"malformed event: {error}", remote_addr, version)

    event = WebhookEvent(
        practice_id=endpoint.practice_id, endpoint_id=endpoint.id, source=endpoint.source,
        delivery_id=delivery_id[:128], event_type=parsed.event_type[:64], received_at=now, secret_version=version,
        payload=encrypt_secret(body.decode("utf-8")), preview=preview(payload), outcome=ACCEPTED,
        remote_addr=remote_addr,
    )
    db.session.add(event)
    try:
        db.session.flush()
        db.session.add(WebhookDelivery(endpoint_id=endpoint.id, delivery_id=delivery_id[:128], event_id=event.id))
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return _store_duplicate(endpoint, delivery_id[:128], parsed.event_type, version, payload, remote_addr)
    attempt = _attempt(event, parsed, RECEIPT)
    event_id, outcome, error = event.id, attempt.outcome, attempt.error
    db.session.commit()
    if outcome == ERROR:
        current_app.logger.warning("webhook event %s stored but not applied: %s", event_id, error)
        return Receipt(202, {"status": "accepted", "event_id": event_id,
                             "reason": "stored, but applying it failed; it will be retried"})
    return Receipt(200, {"status": outcome, "event_id": event_id})


def _store_duplicate(endpoint, delivery_id, event_type, version, payload, remote_addr):
    """Log a delivery whose dedup key was already accepted (in a fresh transaction) and answer 200."""
    original = db.session.scalar(select(WebhookDelivery.event_id).where(
        WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.delivery_id == delivery_id))
    db.session.add(WebhookEvent(
        practice_id=endpoint.practice_id, endpoint_id=endpoint.id, source=endpoint.source, delivery_id=delivery_id,
        event_type=event_type[:64], secret_version=version, preview=preview(payload), outcome=DUPLICATE,
        original_event_id=original, remote_addr=remote_addr,
    ))
    db.session.commit()
    return Receipt(200, {"status": "duplicate", "event_id": original})


def _apply(event, parsed, actor):
    """Apply a parsed event's records inside a savepoint; returns (outcome, detail, error). An error rolls back
    only what applying did, never the event itself."""
    if parsed.ignored:
        return IGNORED, parsed.ignored, None
    practice = db.session.get(Practice, event.practice_id)
    done, ignored = [], []
    try:
        with db.session.begin_nested():
            for item in parsed.records:
                try:
                    done.append(apply_record(actor, practice, item))
                except Ignored as reason:
                    ignored.append(str(reason))
    except Exception as error:  # whatever goes wrong while applying, the event itself must not be lost
        return ERROR, None, f"{type(error).__name__}: {error}"[:2000]
    if not done:
        return IGNORED, "; ".join(ignored) or "nothing to apply", None
    return PROCESSED, "; ".join(done + ignored), None


def _attempt(event, parsed, triggered_by, user=None):
    """Apply ``event`` and append its next attempt (the caller commits). An error schedules the next retry while
    retries are left; ``next_retry_at`` records when."""
    started = utcnow()
    actor = Actor(user=user, practice_id=event.practice_id)
    outcome, detail, error = _apply(event, parsed, actor)
    number = (db.session.scalar(select(func.max(WebhookEventAttempt.number))
                                .where(WebhookEventAttempt.event_id == event.id)) or 0) + 1
    next_retry_at = None
    if outcome == ERROR and triggered_by in (RECEIPT, RETRY):
        retries_done = db.session.scalar(select(func.count()).select_from(WebhookEventAttempt).where(
            WebhookEventAttempt.event_id == event.id, WebhookEventAttempt.triggered_by == RETRY)) or 0
        retries_done += triggered_by == RETRY
        delays = current_app.config["WEBHOOK_RETRY_DELAYS"]
        if retries_done < len(delays):
            next_retry_at = utcnow() + timedelta(seconds=delays[retries_done])
            enqueue(RETRY_JOB, {"event_id": event.id}, practice_id=event.practice_id, run_after=next_retry_at)
    attempt = WebhookEventAttempt(
        event_id=event.id, number=number, started_at=started, finished_at=utcnow(), outcome=outcome,
        detail=detail, error=error, triggered_by=triggered_by, user_id=user.id if user is not None else None,
        next_retry_at=next_retry_at,
    )
    db.session.add(attempt)
    db.session.flush()
    return attempt


def _parse_stored(event):
    """The parsed form of a stored accepted event (its payload decrypted)."""
    payload = json.loads(decrypt_secret(event.payload))
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
    _attempt(event, _parse_stored(event), RETRY)
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
    attempt = _attempt(event, _parse_stored(event), REPLAY, user=actor.user)
    record("webhook.replay", actor, object_type="webhook_event", object_id=event.id,
           meta={"attempt": attempt.number, "outcome": attempt.outcome})
    db.session.commit()
    return attempt
