"""Access tables: the providers enabled at each location, the memberships that link a person to a provider's member
id, and the append-only check-in log (DESIGN.md §3, issue 19).

A membership is never deleted: unlinking stamps ``unlinked_at``, so the check-ins that name it keep their meaning.
The two "exactly one" rules (an external id belongs to one person; a person has one membership per provider) are
partial unique indexes over the linked rows, so the database refuses a second link even under concurrency."""

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.platform.database import UTCDateTime, make_append_only, utcnow
from app.platform.extensions import db

# The normalised decision vocabulary (issue 19 item 4), the same for every provider.
ALLOW = "allow"
ALLOW_REENTRY = "allow_reentry"
DENY_UNKNOWN_CODE = "deny_unknown_code"
DENY_UNKNOWN_MEMBER = "deny_unknown_member"
DENY_EXPIRED = "deny_expired"
DENY_LIMIT_REACHED = "deny_limit_reached"
DENY_NOT_CHECKED_IN_APP = "deny_not_checked_in_app"
DENY_INACTIVE = "deny_inactive"
ERROR_PROVIDER_UNREACHABLE = "error_provider_unreachable"
ERROR_TIMEOUT = "error_timeout"
DECISIONS = (ALLOW, ALLOW_REENTRY, DENY_UNKNOWN_CODE, DENY_UNKNOWN_MEMBER, DENY_EXPIRED, DENY_LIMIT_REACHED,
             DENY_NOT_CHECKED_IN_APP, DENY_INACTIVE, ERROR_PROVIDER_UNREACHABLE, ERROR_TIMEOUT)
GRANTING = frozenset({ALLOW, ALLOW_REENTRY})

# How a staff member changed a decision: let in after all, turn away after all, or confirm a grant that the
# location's "staff must confirm" setting held back.
OVERRIDE_GRANT = "grant"
OVERRIDE_DENY = "deny"
OVERRIDE_CONFIRM = "confirm"
OVERRIDES = (OVERRIDE_GRANT, OVERRIDE_DENY, OVERRIDE_CONFIRM)

# The unit of a location's re-entry window and its allowed range.
HOURS = "hours"
DAYS = "days"
REENTRY_LIMITS = {HOURS: (1, 24), DAYS: (1, 7)}


class AccessProvider(db.Model):
    """One provider enabled at one location. ``secret`` holds the provider credential that must stay secret (the
    Fitpass partner secret, the Wellhub API token) encrypted, with its last four characters in ``secret_hint``;
    ``settings`` holds the provider's non-secret ids (sport partner, partner id, gym id). ``timeout_ms`` bounds the
    provider call of a check-in; ``reentry_value``/``reentry_unit`` is the re-entry window; with
    ``staff_must_confirm`` every grant waits for a person at the desk."""

    __tablename__ = "access_providers"
    __table_args__ = (
        UniqueConstraint("location_id", "provider", name="uq_access_providers_location_id_provider"),
        Index("ix_access_providers_practice_id", "practice_id"),
        CheckConstraint("reentry_unit IN ('hours', 'days')", name="reentry_unit"),
        CheckConstraint("timeout_ms BETWEEN 100 AND 30000", name="timeout_ms"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    provider: Mapped[str] = mapped_column(String(16))
    base_url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str | None] = mapped_column(Text, info={"encrypted": True})
    secret_hint: Mapped[str | None] = mapped_column(String(8))
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    timeout_ms: Mapped[int] = mapped_column(Integer, default=1000)
    reentry_value: Mapped[int] = mapped_column(Integer, default=3)
    reentry_unit: Mapped[str] = mapped_column(String(8), default=HOURS)
    staff_must_confirm: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)

    location = relationship("Location")


class Membership(db.Model):
    """A person's membership at a provider: a patient, or a course member without a record (``member_name``),
    linked to the provider's ``external_id`` (Fitpass check-in code, Friction user id, Wellhub id)."""

    __tablename__ = "access_memberships"
    __table_args__ = (
        Index("uq_access_memberships_practice_id_provider_external_id", "practice_id", "provider", "external_id",
              unique=True, sqlite_where=text("unlinked_at IS NULL"), postgresql_where=text("unlinked_at IS NULL")),
        Index("uq_access_memberships_patient_id_provider", "patient_id", "provider", unique=True,
              sqlite_where=text("unlinked_at IS NULL"), postgresql_where=text("unlinked_at IS NULL")),
        CheckConstraint("patient_id IS NOT NULL OR member_name IS NOT NULL", name="person"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    provider: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    member_name: Mapped[str | None] = mapped_column(String(200))
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    unlinked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    patient = relationship("Patient")

    @property
    def person_name(self):
        """The name the desk sees: the patient's full name, or the member's name."""
        if self.patient is not None:
            return f"{self.patient.first_name} {self.patient.last_name}"
        return self.member_name or ""


class Checkin(db.Model):
    """One scan at a location and what was decided (append-only: the database rejects UPDATE and DELETE).

    ``external_id`` is the member id the code carried (never a Friction security code); ``code_kind`` what the code
    was; ``provider_code`` and ``provider_message`` the provider's own answer (redacted). ``granted`` is whether the
    person may pass after this row: a staff override (``override``, ``override_by_id``, ``override_reason``) is a
    row of its own that points at the check-in it changes (``overrides_id``). ``reentry_of_id`` is the entry a
    re-entry belongs to."""

    __tablename__ = "access_checkins"
    __table_args__ = (
        Index("ix_access_checkins_practice_id_created_at", "practice_id", "created_at"),
        Index("ix_access_checkins_location_id_created_at", "location_id", "created_at"),
        Index("ix_access_checkins_external", "location_id", "provider", "external_id", "created_at"),
        Index("ix_access_checkins_membership_id_created_at", "membership_id", "created_at"),
        Index("ix_access_checkins_overrides_id", "overrides_id"),
        Index("ix_access_checkins_practice_id_decision_created_at", "practice_id", "decision", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    provider: Mapped[str | None] = mapped_column(String(16))
    code_kind: Mapped[str] = mapped_column(String(24))
    external_id: Mapped[str | None] = mapped_column(String(128))
    membership_id: Mapped[int | None] = mapped_column(ForeignKey("access_memberships.id"))
    member_name: Mapped[str | None] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(default=False)
    awaiting_confirmation: Mapped[bool] = mapped_column(default=False)
    provider_code: Mapped[str | None] = mapped_column(String(64))
    provider_message: Mapped[str | None] = mapped_column(String(500))
    override: Mapped[str | None] = mapped_column(String(8))
    override_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    override_reason: Mapped[str | None] = mapped_column(String(500))
    overrides_id: Mapped[int | None] = mapped_column(ForeignKey("access_checkins.id"))
    reentry_of_id: Mapped[int | None] = mapped_column(ForeignKey("access_checkins.id"))
    device: Mapped[str | None] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    processing_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    location = relationship("Location")
    membership = relationship("Membership")
    override_by = relationship("User", foreign_keys=[override_by_id])


make_append_only(Checkin.__table__)


class CheckinDay(db.Model):
    """The daily roll-up of the check-in log (app.access.rollup), so the statistics read a few hundred rows
    whatever the log holds: per practice, location, provider ('' for codes of no provider) and the practice's
    calendar day, one counter per ``metric`` and ``key``: ``decision`` (key: the decision; ``total_ms`` sums its
    processing times), ``hour`` (key: the hour of the day, "00"-"23") and ``latency`` (key: a histogram bucket's
    upper bound in ms, "inf" beyond the last). Staff overrides are not counted (each scan counts once)."""

    __tablename__ = "access_checkin_days"
    __table_args__ = (Index("ix_access_checkin_days_practice_id_day", "practice_id", "day"),)

    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    day = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    total_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class ScanClaim(db.Model):
    """Who is deciding on a code at a location right now, so a double scan gets one provider call and one decision
    across threads and worker processes (app.access.scans). One row per location and code ``fingerprint`` (a hash of
    the detected code, never the code), re-used scan after scan: taken with ``token`` by one INSERT … ON CONFLICT DO
    UPDATE that only succeeds when the previous decision is older than the double-scan window or its holder is
    past ``expires_at`` (a worker that died mid-call); settled with the log row it produced (``checkin_id``,
    ``settled_at`` = the row's time) in that row's transaction."""

    __tablename__ = "access_scan_claims"

    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    token: Mapped[str] = mapped_column(String(32))
    claimed_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checkin_id: Mapped[int | None] = mapped_column(ForeignKey("access_checkins.id"))
