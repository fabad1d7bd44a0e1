"""The appointment cache (external appointments from the booking tool and Cal.com) and the Retell call log."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.platform.database import UTCDateTime, utcnow
from app.platform.extensions import db
from app.providers.events import INACTIVE_STATUSES, SCHEDULED


class Appointment(db.Model):
    """One appointment as an outside system (``source``) last told us about it. ``source_updated_at`` orders
    out-of-order events: an event older than the stored one never overwrites it. ``patient_id`` stays null while
    the attendee matches no patient; ``therapist_id`` is set when the therapist name or email matches a user."""

    __tablename__ = "appointments"
    __table_args__ = (
        UniqueConstraint("practice_id", "source", "external_id", name="uq_appointments_practice_id_source_external_id"),
        Index("ix_appointments_patient_id_starts_at", "patient_id", "starts_at"),
        Index("ix_appointments_practice_id_therapist_id", "practice_id", "therapist_id"),
        # "Own patients" of a therapist: the patients with an appointment with them, read from the index alone.
        Index("ix_appointments_therapist_id_patient_id", "therapist_id", "patient_id"),
        Index("ix_appointments_practice_id_starts_at", "practice_id", "starts_at"),
        # A therapist's appointments over a time range, whichever system booked them: what the scheduling engine
        # reads to know when a therapist is busy (one range per therapist, whatever the size of the table).
        Index("ix_appointments_therapist_id_starts_at", "therapist_id", "starts_at"),
        Index("ix_appointments_practice_id_patient_external_id", "practice_id", "patient_external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    # The source's id of the patient (booking tool), so an appointment that arrives before its patient is linked
    # when the patient does.
    patient_external_id: Mapped[str | None] = mapped_column(String(64))
    # booking, calcom or local
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    therapist_name: Mapped[str] = mapped_column(String(200), default="")
    therapist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    service_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default=SCHEDULED)
    # The attendee as the source names them, kept while no patient matches (and for the admin's review).
    attendee_name: Mapped[str] = mapped_column(String(200), default="")
    attendee_email: Mapped[str | None] = mapped_column(String(254))
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # When the patient arrived, set by the check-in that let them in (app.access.arrivals); null until then.
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_checkin_id: Mapped[int | None] = mapped_column(ForeignKey("access_checkins.id"))

    patient = relationship("Patient")
    therapist = relationship("User")

    @property
    def active(self):
        """False for cancelled, rescheduled and rejected appointments."""
        return self.status not in INACTIVE_STATUSES

    def __repr__(self):
        return f"<Appointment {self.source}:{self.external_id} {self.status}>"


class Call(db.Model):
    """One voice-agent call (Retell), linked to a patient by phone number in E.164. The transcript is PHI and is
    stored encrypted (MultiFernet, like provider secrets)."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("practice_id", "source", "external_id", name="uq_calls_practice_id_source_external_id"),
        Index("ix_calls_patient_id_started_at", "patient_id", "started_at"),
        Index("ix_calls_practice_id_from_number", "practice_id", "from_number"),
        # The calls inbox: newest first per practice, and the navigation's count of open calls (done_at IS NULL).
        Index("ix_calls_practice_id_started_at", "practice_id", "started_at"),
        Index("ix_calls_practice_id_done_at", "practice_id", "done_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    source: Mapped[str] = mapped_column(String(16), default="retell")
    external_id: Mapped[str] = mapped_column(String(128))
    agent_id: Mapped[str | None] = mapped_column(String(128))
    # inbound or outbound
    direction: Mapped[str | None] = mapped_column(String(16))
    from_number: Mapped[str | None] = mapped_column(String(32))
    to_number: Mapped[str | None] = mapped_column(String(32))
    # The provider's call status (registered, ongoing, ended, error).
    status: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str | None] = mapped_column(Text)
    sentiment: Mapped[str | None] = mapped_column(String(32))
    successful: Mapped[bool | None] = mapped_column()
    disconnection_reason: Mapped[str | None] = mapped_column(String(64))
    transcript: Mapped[str | None] = mapped_column(Text, info={"encrypted": True})
    # The newest provider event applied (call_started < call_ended < call_analyzed); older ones never overwrite.
    stage: Mapped[int] = mapped_column(Integer, default=0)
    # The calls inbox (app.appointments.calls): who marked the call done and when; open while done_at is null.
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)

    patient = relationship("Patient")
    done_by = relationship("User")

    def __repr__(self):
        return f"<Call {self.external_id} {self.status}>"
