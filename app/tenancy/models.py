"""Tenancy: a practice (the tenant) and its locations. Every row that belongs to a practice carries practice_id."""

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

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
    # Raised with every change of the practice (see _count_change), so a copy kept per process (the webhook
    # receiver's, app.webhooks.endpoints) can check in its own write that it still holds the current practice.
    config_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    locations = relationship("Location", back_populates="practice", order_by="Location.name")

    def __repr__(self):
        return f"<Practice {self.slug}>"


@event.listens_for(Practice, "before_update")
def _count_change(mapper, connection, target):
    """Raise ``config_version`` when a flush changes the practice's own columns (not for a practice that is only
    marked dirty, which flushes without a change)."""
    session = object_session(target)
    if session is not None and session.is_modified(target, include_collections=False):
        target.config_version = (target.config_version or 0) + 1


class Location(db.Model):
    """A site of a practice; access providers are configured per location."""

    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("practice_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")

    practice = relationship("Practice", back_populates="locations")
