"""Tenancy: a practice (the tenant) and its locations. Every row that belongs to a practice carries practice_id."""

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.platform.database import UTCDateTime, utcnow
from app.platform.extensions import db


class Practice(db.Model):
    """A therapy or medical practice; the unit of tenant isolation."""

    __tablename__ = "practices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")
    # ISO 3166 country used to read national phone numbers (DE, AT, CH).
    country: Mapped[str] = mapped_column(String(2), default="DE", server_default="DE")
    # Practice-wide settings such as the default therapist or the booking page URL template.
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    locations = relationship("Location", back_populates="practice", order_by="Location.name")

    def __repr__(self):
        return f"<Practice {self.slug}>"


class Location(db.Model):
    """A site of a practice; access providers are configured per location."""

    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("practice_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")

    practice = relationship("Practice", back_populates="locations")
