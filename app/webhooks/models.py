"""Inbound webhooks: the endpoints outside systems post to, the append-only event log and its attempts."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.platform.database import UTCDateTime, make_append_only, utcnow
from app.platform.extensions import db

# Outcome of an event at receipt.
ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"
RECEIPT_OUTCOMES = (ACCEPTED, DUPLICATE, REJECTED)

# Outcome of an attempt to apply an accepted event.
PROCESSED = "processed"
IGNORED = "ignored"
ERROR = "error"
ATTEMPT_OUTCOMES = (PROCESSED, IGNORED, ERROR)

# What started an attempt.
RECEIPT = "receipt"
RETRY = "retry"
REPLAY = "replay"


class WebhookEndpoint(db.Model):
    """Where one source of one practice posts its events: ``/api/webhooks/<source>/<public_id>``. The secret is
    stored encrypted; after a rotation the previous secret stays valid until ``previous_valid_until``.
    ``secret_version`` counts rotations so the log can say which secret verified an event."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (UniqueConstraint("practice_id", "source", name="uq_webhook_endpoints_practice_id_source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    # booking, calcom or retell
    source: Mapped[str] = mapped_column(String(16))
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    secret: Mapped[str] = mapped_column(Text, info={"encrypted": True})
    secret_version: Mapped[int] = mapped_column(Integer, default=1)
    previous_secret: Mapped[str | None] = mapped_column(Text, info={"encrypted": True})
    previous_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(default=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    practice = relationship("Practice")

    def __repr__(self):
        return f"<WebhookEndpoint {self.source} {self.public_id}>"


class WebhookEvent(db.Model):
    """One signed request that reached an endpoint, as it arrived (append-only). Accepted events keep the payload
    encrypted and a redacted preview; a signed body that cannot be read is ``rejected`` with the reason, its payload
    also kept encrypted (nothing the sender signed is lost). Requests refused before that (no valid signature, not
    JSON, too large) are counted in WebhookRejection instead. The current status of an accepted event is its latest
    attempt."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_practice_id_received_at", "practice_id", "received_at"),
        Index("ix_webhook_events_practice_id_source_received_at", "practice_id", "source", "received_at"),
        Index("ix_webhook_events_practice_id_outcome_received_at", "practice_id", "outcome", "received_at"),
        # Dedup: one accepted event per (endpoint, delivery id). Concurrent deliveries of the same event collide
        # here, in the database, so exactly one of them is applied; duplicates and rejections are not constrained.
        Index("uq_webhook_events_endpoint_id_delivery_id_accepted", "endpoint_id", "delivery_id", unique=True,
              sqlite_where=text("outcome = 'accepted'"), postgresql_where=text("outcome = 'accepted'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    source: Mapped[str] = mapped_column(String(16))
    delivery_id: Mapped[str | None] = mapped_column(String(128))
    event_type: Mapped[str | None] = mapped_column(String(64))
    received_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # The secret_version of the endpoint secret that verified the signature (null when none did).
    secret_version: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[str | None] = mapped_column(Text, info={"encrypted": True})
    preview: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    reject_reason: Mapped[str | None] = mapped_column(String(255))
    # For a duplicate: the event first received with the same delivery id.
    original_event_id: Mapped[int | None] = mapped_column(Integer)
    remote_addr: Mapped[str | None] = mapped_column(String(64))

    endpoint = relationship("WebhookEndpoint")
    attempts = relationship("WebhookEventAttempt", order_by="WebhookEventAttempt.number", viewonly=True)

    def __repr__(self):
        return f"<WebhookEvent {self.id} {self.source} {self.event_type} {self.outcome}>"


class WebhookEventAttempt(db.Model):
    """One attempt to apply an accepted event (append-only): at receipt, by the worker's retry, or a replay by a
    user. ``next_retry_at`` is set when an error will be retried; an error without it means the event failed."""

    __tablename__ = "webhook_event_attempts"
    __table_args__ = (
        UniqueConstraint("event_id", "number", name="uq_webhook_event_attempts_event_id_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"))
    number: Mapped[int] = mapped_column(Integer)
    started_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    finished_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    outcome: Mapped[str] = mapped_column(String(16))
    # What was done or why nothing was ("appointment booking:A-1 created", "older than the stored update").
    detail: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    triggered_by: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")


class WebhookRejection(db.Model):
    """Requests an endpoint refused before reading them (no valid signature, not JSON, too large), counted per
    endpoint, reason and minute: the receiver increments one row (an upsert on the unique key) instead of adding one
    per request. Anyone who knows an endpoint's URL can send such requests, so they must not grow the database with
    their number; here they add at most one row per reason and minute, and the rows of an endpoint older than
    WEBHOOK_REJECTIONS_KEEP_DAYS are removed when it gets a new one. Not append-only, being a counter; whatever a
    sender signed is in WebhookEvent."""

    __tablename__ = "webhook_rejections"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "minute", "reason", name="uq_webhook_rejections_endpoint_id_minute_reason"),
        Index("ix_webhook_rejections_practice_id_minute", "practice_id", "minute"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    source: Mapped[str] = mapped_column(String(16))
    # The start of the minute (UTC) the requests came in.
    minute = mapped_column(UTCDateTime, nullable=False)
    # What the sender was answered (English, as in the JSON answer); the log shows it in the user's language.
    reason: Mapped[str] = mapped_column(String(255))
    count: Mapped[int] = mapped_column(Integer, default=1)
    last_at = mapped_column(UTCDateTime, nullable=False)
    last_remote_addr: Mapped[str | None] = mapped_column(String(64))

    endpoint = relationship("WebhookEndpoint")

    def __repr__(self):
        return f"<WebhookRejection {self.endpoint_id} {self.minute} {self.reason!r} x{self.count}>"


make_append_only(WebhookEvent.__table__)
make_append_only(WebhookEventAttempt.__table__)


class PublicUrlCheck(db.Model):
    """The last answer of our own health check at a configured public address (app.webhooks.public_url): one row
    per address, overwritten by each check. ``reason`` is a code from public_url.REASONS, shown to people in words;
    ``failing_since`` is when the current run of failures began."""

    __tablename__ = "public_url_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    base_url: Mapped[str] = mapped_column(String(500), unique=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column()
    reason: Mapped[str] = mapped_column(String(32))
    status_code: Mapped[int | None] = mapped_column(Integer)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
