"""The Integration Hub: each provider's configuration per practice, its cached health, its sync runs, the metrics of
every outbound call, and the admin-correctable mappings of provider objects (their users, event types) to ours."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.database import UTCDateTime, utcnow
from app.platform.extensions import db

# Health states (DESIGN.md §3), as shown on the status cards.
OK = "ok"
DEGRADED = "degraded"
AUTH_FAILED = "auth_failed"
UNREACHABLE = "unreachable"
RATE_LIMITED = "rate_limited"
PAUSED = "paused"
UNCONFIGURED = "unconfigured"
HEALTH_STATES = (OK, DEGRADED, AUTH_FAILED, UNREACHABLE, RATE_LIMITED, PAUSED, UNCONFIGURED)

# What started a sync run, and where it stands.
SCHEDULE = "schedule"
MANUAL = "manual"
WEBHOOK = "webhook"
SYNC_TRIGGERS = (SCHEDULE, MANUAL, WEBHOOK)
SYNC_QUEUED = "queued"
SYNC_RUNNING = "running"
SYNC_SUCCEEDED = "succeeded"
SYNC_FAILED = "failed"
SYNC_STATUSES = (SYNC_QUEUED, SYNC_RUNNING, SYNC_SUCCEEDED, SYNC_FAILED)

# The automatic sync intervals an admin can choose, in minutes.
SYNC_INTERVALS = (15, 30, 60, 1440)

# Kinds of provider objects mapped to ours.
MAP_USER = "user"
MAP_EVENT_TYPE = "event_type"


class IntegrationConfig(db.Model):
    """One provider's settings for a practice (or one of its locations). The API key is stored encrypted with a
    short hint (its last four characters) for "set, ends in …". A provider that signs its webhooks with the API
    key also gets the key as its webhook endpoint's secret, whose rotation keeps the previous key valid
    for a grace period (app.webhooks.endpoints). ``settings`` holds the provider's own choices (the fields of its
    SETTINGS hook, e.g. a default event type or agent) and the id of our webhook registration at the provider.
    ``next_sync_at`` and ``next_probe_at`` are when the worker's scheduler queues the next automatic sync and
    health probe (indexed: the scheduler reads the due ones). One row per (practice, location, provider); a
    practice-wide config (no location) has a partial unique index of its own, because NULLs never collide."""

    __tablename__ = "integration_configs"
    __table_args__ = (
        Index("uq_integration_configs_practice_id_provider", "practice_id", "provider", unique=True,
              sqlite_where=text("location_id IS NULL"), postgresql_where=text("location_id IS NULL")),
        Index("uq_integration_configs_practice_id_provider_location_id", "practice_id", "provider", "location_id",
              unique=True, sqlite_where=text("location_id IS NOT NULL"),
              postgresql_where=text("location_id IS NOT NULL")),
        Index("ix_integration_configs_next_sync_at", "next_sync_at"),
        Index("ix_integration_configs_next_probe_at", "next_probe_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    provider: Mapped[str] = mapped_column(String(32))
    api_key: Mapped[str | None] = mapped_column(Text, info={"encrypted": True})
    api_key_hint: Mapped[str | None] = mapped_column(String(8))
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    sync_enabled: Mapped[bool] = mapped_column(default=False)
    sync_interval_minutes: Mapped[int] = mapped_column(Integer, default=60)
    next_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the worker probes the provider next (connectivity, key, our webhook registration).
    next_probe_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(default=True)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    @property
    def configured(self):
        """True once an API key is stored."""
        return bool(self.api_key)

    def __repr__(self):
        return f"<IntegrationConfig {self.provider} practice={self.practice_id}>"


class ProviderHealth(db.Model):
    """The cached state of one provider for a practice, written by probes, syncs and saves, read by the status
    cards and ``/api/health/<provider>``. It carries everything a card shows (counts of event types and agents,
    the last sync and its records) so a poll is one indexed read and never a provider call."""

    __tablename__ = "provider_health"
    __table_args__ = (UniqueConstraint("practice_id", "provider", name="uq_provider_health_practice_id_provider"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    provider: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=UNCONFIGURED)
    # Why the state is what it is, for a person ("API key rejected", "paused after 10 failed syncs: …").
    reason: Mapped[str | None] = mapped_column(Text)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Provider facts for the card (its CARD_FACTS hook): event types, agents, whether our webhook is registered.
    event_type_count: Mapped[int | None] = mapped_column(Integer)
    agent_count: Mapped[int | None] = mapped_column(Integer)
    webhook_registered: Mapped[bool | None] = mapped_column()
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_status: Mapped[str | None] = mapped_column(String(16))
    last_sync_records: Mapped[int | None] = mapped_column(Integer)

    def __repr__(self):
        return f"<ProviderHealth {self.provider} {self.state}>"


class SyncRun(db.Model):
    """One sync of one provider for a practice: queued by the scheduler, "sync now" or a webhook, then run by the
    worker. At most one run per (practice, provider) is queued or running at a time; a partial unique index makes
    that exact under concurrency (a second "sync now" collides and is answered with the run already waiting)."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_practice_id_provider_queued_at", "practice_id", "provider", "queued_at"),
        Index("uq_sync_runs_practice_id_provider_pending", "practice_id", "provider", unique=True,
              sqlite_where=text("status IN ('queued', 'running')"),
              postgresql_where=text("status IN ('queued', 'running')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    provider: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=SYNC_QUEUED)
    queued_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    records: Mapped[int | None] = mapped_column(Integer)
    # What the run did, per kind of record, as the provider's sync counted it (e.g. {"calls": 12, "applied": 12}).
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    # The user who pressed "sync now" (null for the schedule and webhooks).
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def duration_seconds(self):
        """How long the run took, or None while it has not finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def __repr__(self):
        return f"<SyncRun {self.provider} {self.trigger} {self.status}>"


class IntegrationMetric(db.Model):
    """One outbound call or sync: provider, action (the client's name of the call, or ``sync``), success, duration,
    records and HTTP status. The hub's charts, error rates and response times are computed from these rows."""

    __tablename__ = "integration_metrics"
    __table_args__ = (
        Index("ix_integration_metrics_practice_id_provider_created_at", "practice_id", "provider", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    provider: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column()
    duration_ms: Mapped[int] = mapped_column(Integer)
    records: Mapped[int | None] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(255))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class IntegrationMapping(db.Model):
    """How one provider object maps to ours: a provider's user to a therapist (``user_id``), its event type to
    an appointment service (``service_name``). Syncs create the rows with an automatic match (email, title);
    ``manual`` marks a correction by an admin, which later syncs keep."""

    __tablename__ = "integration_mappings"
    __table_args__ = (
        UniqueConstraint("practice_id", "provider", "kind", "external_id",
                         name="uq_integration_mappings_practice_id_provider_kind_external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    provider: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    # The provider's name for it (user name and email, event type title), shown to the admin.
    external_name: Mapped[str] = mapped_column(String(300), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    service_name: Mapped[str | None] = mapped_column(String(200))
    manual: Mapped[bool] = mapped_column(default=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
