"""Requests an endpoint refused before reading them, counted: one row per endpoint, reason and minute.

A request without a valid signature (or not JSON, or too large) can come from anyone who knows the URL, at the
endpoint's rate limit or faster from many workers. Each one used to be a row of the append-only event log, so such
traffic grew the database without limit. Now it increments a counter (``INSERT ... ON CONFLICT DO UPDATE`` on the
unique (endpoint, minute, reason), the same statement on SQLite and PostgreSQL, atomic under concurrency on both),
and the endpoint's counts older than WEBHOOK_REJECTIONS_KEEP_DAYS go when a new row starts: at most a few rows per
minute per endpoint, kept for a bounded time, however many requests come.

The reasons are the English sentences the sender is answered; ``rejection_label`` gives them in the user's
language for the log."""

import re
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, bindparam, delete, false, func, select, text

from app.platform.database import UTCDateTime, sqlite_writer, within_days
from app.platform.extensions import db
from app.platform.pagination import Page
from app.webhooks.models import WebhookRejection

NOT_JSON = "the body must be JSON (Content-Type: application/json)"
TOO_LARGE = "the body is larger than {limit} bytes"
INVALID_SIGNATURE = "invalid signature: {reason}"

_TOO_LARGE = re.compile(r"the body is larger than ([0-9]+) bytes")
_SIGNATURE_PREFIX = INVALID_SIGNATURE.format(reason="")
# The reasons the sources' verify() give (SignatureError), in the user's language. A source whose reason is not
# listed here still shows it, in English.
SIGNATURE_LABELS = {
    "missing signature header": _l("the signature header is missing"),
    "missing signature headers": _l("the signature headers are missing"),
    "malformed signature header": _l("the signature header is malformed"),
    "malformed timestamp header": _l("the timestamp header is malformed"),
    "timestamp outside the 5-minute tolerance": _l("the timestamp is more than 5 minutes off"),
    "body is not UTF-8": _l("the body is not UTF-8 text"),
    "no matching signature": _l("it matches none of the endpoint's secrets"),
    "the Cal.com webhook has no secret set": _l("the Cal.com webhook has no secret set"),
}

_UPSERT = text(
    "INSERT INTO webhook_rejections (practice_id, endpoint_id, source, minute, reason, count, last_at, "
    "last_remote_addr) VALUES (:practice_id, :endpoint_id, :source, :minute, :reason, 1, :now, :remote_addr) "
    "ON CONFLICT (endpoint_id, minute, reason) DO UPDATE SET count = webhook_rejections.count + 1, "
    "last_at = excluded.last_at, last_remote_addr = excluded.last_remote_addr "
    "RETURNING count"
).bindparams(bindparam("minute", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime()))


def count_rejection(endpoint, reason, remote_addr, now):
    """Count one refused request to ``endpoint`` at ``now`` for ``reason`` and commit. The first of its minute
    and reason starts a row, and then the endpoint's rows older than WEBHOOK_REJECTIONS_KEEP_DAYS are deleted."""
    minute = now.replace(second=0, microsecond=0)
    with sqlite_writer(db.engine):
        count = db.session.execute(_UPSERT, {
            "practice_id": endpoint.practice_id, "endpoint_id": endpoint.id, "source": endpoint.source,
            "minute": minute, "reason": reason[:255], "now": now, "remote_addr": remote_addr,
        }).scalar_one()
        if count == 1:
            keep = timedelta(days=current_app.config["WEBHOOK_REJECTIONS_KEEP_DAYS"])
            db.session.execute(delete(WebhookRejection).where(WebhookRejection.endpoint_id == endpoint.id,
                                                              WebhookRejection.minute < minute - keep))
        db.session.commit()


def rejections_page(practice, filters, page, per_page):
    """Page ``page`` (from 1) of the practice's counted rejections, newest minute first, filtered by ``filters``
    (``source``, and ``date_from`` and ``date_to``: days in the practice's time zone); ``filters`` None (the filter
    form was invalid) gives an empty page."""
    query = select(WebhookRejection).where(WebhookRejection.practice_id == practice.id)
    if filters is None:
        query = query.where(false())
    else:
        if filters["source"]:
            query = query.where(WebhookRejection.source == filters["source"])
        query = query.where(*within_days(WebhookRejection.minute, practice.timezone, filters["date_from"],
                                         filters["date_to"]))
    page = max(page, 1)
    items = db.session.scalars(query.order_by(WebhookRejection.minute.desc(), WebhookRejection.id.desc())
                               .limit(per_page).offset((page - 1) * per_page)).all()
    total = db.session.scalar(query.with_only_columns(func.count(WebhookRejection.id)))
    return Page(page, per_page, items, total)


def rejected_since(practice, since):
    """How many requests to the practice's endpoints were refused (and counted) since ``since``."""
    return db.session.scalar(
        select(func.coalesce(func.sum(WebhookRejection.count), 0, type_=Integer()))
        .where(WebhookRejection.practice_id == practice.id, WebhookRejection.minute >= since))


def rejection_label(reason):
    """A stored reason in the user's language (the English reason when it is not one the receiver gives)."""
    if reason == NOT_JSON:
        return _("not JSON (the Content-Type is not application/json)")
    if match := _TOO_LARGE.fullmatch(reason):
        return _("larger than %(limit)s bytes", limit=match.group(1))
    if reason.startswith(_SIGNATURE_PREFIX):
        detail = reason.removeprefix(_SIGNATURE_PREFIX)
        return _("invalid signature: %(reason)s", reason=SIGNATURE_LABELS.get(detail, detail))
    return reason
