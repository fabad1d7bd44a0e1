"""The scheduling catalogue and local bookings: appointment types with their resource requirements and therapists,
rooms and devices, treatment series, the details of a local appointment and the rows of what it occupies
(DESIGN.md §3)."""

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.platform.database import UTCDateTime, utcnow
from app.platform.extensions import db

ROOM, DEVICE = "room", "device"
RESOURCE_KINDS = (ROOM, DEVICE)
ALL_OF, ANY_OF = "all", "any"
# The longest span one occupancy row may cover (duration plus buffers). Range reads look back this far, so they
# stay an indexed range scan on (owner, starts_at).
MAX_OCCUPANCY_MINUTES = 12 * 60


class AppointmentType(db.Model):
    """A kind of treatment the practice books: how long it takes, the buffers the room and the therapist need
    around it, the grid slots start on, how soon and how far ahead it can be booked. Deactivated, never deleted,
    once appointments use it."""

    __tablename__ = "appointment_types"
    __table_args__ = (
        UniqueConstraint("practice_id", "name", name="uq_appointment_types_practice_id_name"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("slot_step_minutes > 0", name="slot_step_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    colour: Mapped[str] = mapped_column(String(7), default="#3b82f6")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    # Other lengths a receptionist may choose for this type (e.g. [45, 60] for a 30-minute type).
    alternative_durations: Mapped[list] = mapped_column(JSON, default=list)
    room_buffer_before: Mapped[int] = mapped_column(Integer, default=0)
    room_buffer_after: Mapped[int] = mapped_column(Integer, default=0)
    therapist_buffer_before: Mapped[int] = mapped_column(Integer, default=0)
    therapist_buffer_after: Mapped[int] = mapped_column(Integer, default=0)
    slot_step_minutes: Mapped[int] = mapped_column(Integer, default=15)
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=0)
    horizon_days: Mapped[int] = mapped_column(Integer, default=180)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    requirements = relationship("TypeRequirement", cascade="all, delete-orphan", order_by="TypeRequirement.id")
    therapist_links = relationship("TypeTherapist", cascade="all, delete-orphan")

    @property
    def therapist_ids(self):
        """The users allowed to give this type; empty means every active therapist of the practice."""
        return sorted(link.therapist_id for link in self.therapist_links)

    def durations(self):
        """Every length this type may be booked with, the default first."""
        return [self.duration_minutes, *[d for d in self.alternative_durations if d != self.duration_minutes]]

    def __repr__(self):
        return f"<AppointmentType {self.name}>"


class TypeRequirement(db.Model):
    """One resource requirement of a type: a specific resource, or resources of a kind at the booked location,
    either ``count`` of any of them (``any``) or every one of them (``all``)."""

    __tablename__ = "appointment_type_requirements"
    __table_args__ = (
        CheckConstraint("(kind IS NULL) <> (resource_id IS NULL)", name="kind_or_resource"),
        CheckConstraint("count > 0", name="count_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("appointment_types.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str | None] = mapped_column(String(32))
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resources.id"))
    count: Mapped[int] = mapped_column(Integer, default=1)
    mode: Mapped[str] = mapped_column(String(8), default=ANY_OF)


class TypeTherapist(db.Model):
    """A therapist allowed to give an appointment type."""

    __tablename__ = "appointment_type_therapists"

    type_id: Mapped[int] = mapped_column(ForeignKey("appointment_types.id", ondelete="CASCADE"), primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class Resource(db.Model):
    """A room or device at a location. Capacity above 1 is a group room (Rückenschule); a therapist is always 1."""

    __tablename__ = "resources"
    __table_args__ = (
        UniqueConstraint("location_id", "name", name="uq_resources_location_id_name"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    location = relationship("Location")

    def __repr__(self):
        return f"<Resource {self.kind}:{self.name}>"


class TreatmentSeries(db.Model):
    """A prescription (Heilmittelverordnung) booked as a series: ``units`` prescribed at ``per_week`` for one
    patient, type and location. Its booked appointments point back here through their details, each with its unit
    number, so a practice sees "unit 3 of 10"."""

    __tablename__ = "treatment_series"
    __table_args__ = (
        CheckConstraint("units > 0", name="units_positive"),
        CheckConstraint("per_week > 0", name="per_week_positive"),
        Index("ix_treatment_series_practice_id_patient_id", "practice_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    type_id: Mapped[int] = mapped_column(ForeignKey("appointment_types.id"))
    therapist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    units: Mapped[int] = mapped_column(Integer)
    per_week: Mapped[int] = mapped_column(Integer)
    prescription_date = mapped_column(Date, nullable=False)
    valid_until = mapped_column(Date, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    details = relationship("AppointmentDetail", back_populates="series", order_by="AppointmentDetail.unit_number")

    def __repr__(self):
        return f"<TreatmentSeries {self.id}: {self.units} units>"


class AppointmentDetail(db.Model):
    """What a local appointment (``appointments.source = 'local'``) holds beyond the cache's columns: its type,
    location and notes, and for a unit of a treatment series the series and the unit's number in it."""

    __tablename__ = "appointment_details"
    __table_args__ = (
        UniqueConstraint("series_id", "unit_number", name="uq_appointment_details_series_id_unit_number"),
        CheckConstraint("(series_id IS NULL) = (unit_number IS NULL)", name="series_unit_together"),
    )

    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    type_id: Mapped[int] = mapped_column(ForeignKey("appointment_types.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    series_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_series.id"))
    unit_number: Mapped[int | None] = mapped_column(Integer)

    appointment = relationship("Appointment", backref=db.backref("detail", uselist=False))
    type = relationship("AppointmentType")
    series = relationship("TreatmentSeries", back_populates="details")


class Occupancy(db.Model):
    """One person or resource held by a local appointment over the half-open UTC range ``[starts_at, ends_at)``,
    buffers included. Only scheduled appointments have rows; cancelling removes them. ``exclusive`` rows (every
    therapist, resources of capacity 1) may not overlap: PostgreSQL refuses that itself with an exclusion
    constraint; SQLite bookings re-check inside one serialised write transaction."""

    __tablename__ = "appointment_resources"
    __table_args__ = (
        CheckConstraint("(therapist_id IS NULL) <> (resource_id IS NULL)", name="therapist_or_resource"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_appointment_resources_therapist_id_starts_at", "therapist_id", "starts_at"),
        Index("ix_appointment_resources_resource_id_starts_at", "resource_id", "starts_at"),
        ExcludeConstraint(
            ("therapist_id", "="), (func.tstzrange(text("starts_at"), text("ends_at"), "[)"), "&&"),
            name="ex_appointment_resources_therapist_overlap", using="gist",
            where=text("exclusive AND therapist_id IS NOT NULL"),
        ).ddl_if(dialect="postgresql"),
        ExcludeConstraint(
            ("resource_id", "="), (func.tstzrange(text("starts_at"), text("ends_at"), "[)"), "&&"),
            name="ex_appointment_resources_resource_overlap", using="gist",
            where=text("exclusive AND resource_id IS NOT NULL"),
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    therapist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resources.id"))
    starts_at = mapped_column(UTCDateTime, nullable=False)
    ends_at = mapped_column(UTCDateTime, nullable=False)
    exclusive: Mapped[bool] = mapped_column(Boolean, default=True)

    appointment = relationship("Appointment")


# The exclusion constraints compare integers with "=" inside a GiST index, which needs btree_gist.
event.listen(
    Occupancy.__table__, "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS btree_gist").execute_if(dialect="postgresql"),
)
