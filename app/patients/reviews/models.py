"""The review list's table: one row per patient that a sync or webhook created, until an admin decides on it."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.platform.database import UTCDateTime, utcnow
from app.platform.extensions import db

PENDING, ACCEPTED, LINKED, IGNORED = "pending", "accepted", "linked", "ignored"
STATUSES = (PENDING, ACCEPTED, LINKED, IGNORED)


class PatientReview(db.Model):
    """A patient created from outside (``source``: ``calcom`` for a Cal.com attendee, ``booking`` for the booking
    tool), held for an admin: ``pending`` until accepted (kept as created), linked to an existing patient (the
    created record's appointments and calls moved there, the record archived) or ignored (archived). Who decided
    and when is kept; the decision is audited as well."""

    __tablename__ = "patient_reviews"
    __table_args__ = (
        UniqueConstraint("patient_id", name="uq_patient_reviews_patient_id"),
        # The list and the navigation's count: a practice's reviews by status, newest first.
        Index("ix_patient_reviews_practice_id_status_created_at", "practice_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    linked_patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    patient = relationship("Patient", foreign_keys=[patient_id])
    linked_patient = relationship("Patient", foreign_keys=[linked_patient_id])
    decided_by = relationship("User")

    def __repr__(self):
        return f"<PatientReview {self.id} patient {self.patient_id} {self.status}>"
