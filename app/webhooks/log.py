"""Reading the webhook event log: events with their current status, filtered and paged, and revealing an event's
full payload (audited). The status of an event is derived in the list query itself, from the event's receipt
outcome and its latest attempt, so the rows of a page are one query (plus a count) however many attempts there are."""

import json

from sqlalchemy import and_, case, false, func, literal, select
from sqlalchemy.orm import aliased

from app.platform.audit.service import record
from app.platform.database import within_days
from app.platform.extensions import db
from app.platform.json_input import UnreadableJSON, load_json
from app.platform.pagination import Page
from app.platform.security.crypto import decrypt_secret
from app.webhooks.models import (
    ACCEPTED,
    DUPLICATE,
    ERROR,
    IGNORED,
    PROCESSED,
    REJECTED,
    WebhookEvent,
    WebhookEventAttempt,
)

# Derived statuses. An accepted event is "pending" until its first attempt is recorded; an attempt that ended in an
# error is "retrying" while a retry is scheduled (next_retry_at set) and "failed" once none is.
PENDING = "pending"
RETRYING = "retrying"
FAILED = "failed"
STATUSES = (PROCESSED, IGNORED, RETRYING, FAILED, PENDING, DUPLICATE, REJECTED)

_latest = aliased(WebhookEventAttempt, name="latest_attempt")
# The id of an event's latest attempt: one seek on the unique (event_id, number) index per listed event.
_latest_id = (
    select(WebhookEventAttempt.id)
    .where(WebhookEventAttempt.event_id == WebhookEvent.id)
    .order_by(WebhookEventAttempt.number.desc())
    .limit(1)
    .correlate(WebhookEvent)
    .scalar_subquery()
)
_status = case(
    (WebhookEvent.outcome != ACCEPTED, WebhookEvent.outcome),
    (_latest.id.is_(None), literal(PENDING)),
    (and_(_latest.outcome == ERROR, _latest.next_retry_at.is_not(None)), literal(RETRYING)),
    (_latest.outcome == ERROR, literal(FAILED)),
    else_=_latest.outcome,
)


def log_query(practice, *, source=None, event_type=None, status=None, outcome=None, date_from=None, date_to=None):
    """A select of the practice's events, newest first, as rows (WebhookEvent, status, next_retry_at, and the
    latest attempt's detail, which names what it changed, for the plain line of app.webhooks.lines); filtered by
    source, event type, derived status, receipt outcome and a date range (days in the practice's time zone)."""
    query = (
        select(WebhookEvent, _status.label("status"), _latest.next_retry_at.label("next_retry_at"),
               _latest.detail.label("detail"))
        .outerjoin(_latest, _latest.id == _latest_id)
        .where(WebhookEvent.practice_id == practice.id)
    )
    if source:
        query = query.where(WebhookEvent.source == source)
    if event_type:
        query = query.where(WebhookEvent.event_type == event_type)
    if status:
        query = query.where(_status == status)
    if outcome:
        query = query.where(WebhookEvent.outcome == outcome)
    query = query.where(*within_days(WebhookEvent.received_at, practice.timezone, date_from, date_to))
    return query.order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())


def log_page(query, page, per_page):
    """Page ``page`` (from 1) of a ``log_query``: a Pagination whose items are its rows."""
    page = max(page, 1)
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    total = db.session.scalar(query.with_only_columns(func.count(WebhookEvent.id)).order_by(None))
    return Page(page, per_page, rows, total)


def filtered_log_page(practice, filters, page, per_page):
    """Page ``page`` of the practice's log filtered by ``filters`` (``log_query``'s keywords); ``filters`` None
    (the filter form was invalid) gives an empty page, so the form shows its errors above an empty table."""
    query = log_query(practice, **filters) if filters is not None else log_query(practice).where(false())
    return log_page(query, page, per_page)


def get_event_row(practice, event_id):
    """The practice's event ``event_id`` as a log row (event, status, next_retry_at, detail), or None; another
    practice's event is never found."""
    return db.session.execute(log_query(practice).where(WebhookEvent.id == event_id)).first()


def known_event_types(practice):
    """The distinct (source, event type) pairs received by a practice, for the filter dropdown."""
    query = select(WebhookEvent.source, WebhookEvent.event_type).where(
        WebhookEvent.practice_id == practice.id, WebhookEvent.event_type.is_not(None)).distinct()
    return sorted(db.session.execute(query).tuples())


def reveal_payload(actor, event):
    """The decrypted payload of ``event`` (pretty-printed when it is JSON the receiver could read, else as it
    came), recorded in the audit log as ``payload.reveal``; None for an event that kept no payload (duplicates)."""
    if not event.payload:
        return None
    payload = decrypt_secret(event.payload)
    record("payload.reveal", actor, object_type="webhook_event", object_id=event.id,
           meta={"source": event.source, "event_type": event.event_type})
    db.session.commit()
    try:
        return json.dumps(load_json(payload), indent=2, ensure_ascii=False, sort_keys=True)
    except UnreadableJSON:
        return payload

