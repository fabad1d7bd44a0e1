"""When people and places are available: opening hours per location, working hours per therapist, breaks,
absences, closures and holidays the practice opens on. Hours are wall-clock times in the practice's zone with a
validity range, so a changed plan never rewrites the past; absences and closures are UTC ranges."""

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.platform.database import UTCDateTime, utcnow
from app.platform.extensions import db

VACATION, SICKNESS, TRAINING = "vacation", "sickness", "training"
ABSENCE_REASONS = (VACATION, SICKNESS, TRAINING)


class WeeklyHours:
    """The columns opening and working hours share: a practice's interval on a weekday (0 = Monday), from
    ``start_time`` to ``end_time`` (wall-clock), valid from a date until an optional last day."""

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_time = mapped_column(Time, nullable=False)
    end_time = mapped_column(Time, nullable=False)
    valid_from = mapped_column(Date, nullable=False)
    valid_to = mapped_column(Date)


class OpeningHours(WeeklyHours, db.Model):
    """One interval a location is open on a weekday (0 = Monday), valid from a date until an optional last day.
    Several rows make several intervals a day."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        CheckConstraint("end_time > start_time", name="ends_after_start"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        Index("ix_opening_hours_location_id_weekday", "location_id", "weekday"),
    )

    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))

    location = relationship("Location")


class WorkingHours(WeeklyHours, db.Model):
    """One interval a therapist works at a location on a weekday, valid from a date until an optional last day."""

    __tablename__ = "working_hours"
    __table_args__ = (
        CheckConstraint("end_time > start_time", name="ends_after_start"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        Index("ix_working_hours_therapist_id_weekday", "therapist_id", "weekday"),
    )

    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))

    therapist = relationship("User")
    location = relationship("Location")


class Break(db.Model):
    """A therapist's break: every given weekday, or once on a given date (exactly one of the two)."""

    __tablename__ = "therapist_breaks"
    __table_args__ = (
        CheckConstraint("end_time > start_time", name="ends_after_start"),
        CheckConstraint("(weekday IS NULL) <> (day IS NULL)", name="weekday_or_day"),
        Index("ix_therapist_breaks_therapist_id", "therapist_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    weekday: Mapped[int | None] = mapped_column(Integer)
    day = mapped_column(Date)
    start_time = mapped_column(Time, nullable=False)
    end_time = mapped_column(Time, nullable=False)

    therapist = relationship("User")


class Absence(db.Model):
    """A therapist away over a UTC range for a reason (vacation, sickness, training), with an optional substitute."""

    __tablename__ = "absences"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_absences_therapist_id_starts_at", "therapist_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_at = mapped_column(UTCDateTime, nullable=False)
    ends_at = mapped_column(UTCDateTime, nullable=False)
    reason: Mapped[str] = mapped_column(String(16))
    substitute_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    therapist = relationship("User", foreign_keys=[therapist_id])
    substitute = relationship("User", foreign_keys=[substitute_id])


class Closure(db.Model):
    """The whole practice, one location or one resource closed over a UTC range (renovation, maintenance)."""

    __tablename__ = "closures"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("location_id IS NULL OR resource_id IS NULL", name="location_or_resource"),
        Index("ix_closures_practice_id_starts_at", "practice_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resources.id"))
    starts_at = mapped_column(UTCDateTime, nullable=False)
    ends_at = mapped_column(UTCDateTime, nullable=False)
    note: Mapped[str] = mapped_column(String(500), default="")


class HolidayOpening(db.Model):
    """A public holiday on which the practice opens on purpose (its usual hours then apply)."""

    __tablename__ = "holiday_openings"
    __table_args__ = (UniqueConstraint("practice_id", "day", name="uq_holiday_openings_practice_id_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    day = mapped_column(Date, nullable=False)
