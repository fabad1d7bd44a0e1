"""Patients of a practice, and the personal "Meine Termine" links that show a patient their appointments."""

from datetime import date, datetime

from sqlalchemy import (
    DDL,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.patients.collation import name_sort_key, searchable
from app.platform.database import UTCDateTime, make_sqlite_search_index, utcnow
from app.platform.extensions import db


def _sort_name_default(context):
    """``sort_name`` of a row inserted without one, from the row's names."""
    values = context.get_current_parameters()
    return name_sort_key(values.get("last_name"), values.get("first_name"))


class Patient(db.Model):
    """A patient's master data. ``booking_system_id`` and ``booking_email`` link the record to the booking tool;
    archiving removes those links and hides the record, it never touches the booking tool's data.
    ``search_text`` is a lower-cased digest of the searchable fields (kept by ``refresh_search_text``), indexed
    with trigrams on PostgreSQL so that substring search stays fast."""

    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("practice_id", "booking_system_id", name="uq_patients_practice_id_booking_system_id"),
        Index("ix_patients_practice_id_email_normalized", "practice_id", "email_normalized"),
        # The list shows active patients sorted by name or birth date: partial indexes in exactly that order
        # serve the page (ORDER BY ... LIMIT) and the count without touching archived rows.
        Index("ix_patients_active_sort_name", "practice_id", "sort_name", "id",
              postgresql_where=text("archived_at IS NULL")).ddl_if(dialect="postgresql"),
        Index("ix_patients_active_birth_date", "practice_id", "birth_date", "id",
              postgresql_where=text("archived_at IS NULL")).ddl_if(dialect="postgresql"),
        # SQLite's planner walks the sort index for every search, and a walk that reads each patient's row for
        # ``search_text`` takes 60 ms through 50,000 patients. Holding ``search_text`` in the index makes the walk
        # read the index alone (13 ms). PostgreSQL chooses a plan by statistics and does not need the copy.
        Index("ix_patients_active_sort_name_search", "practice_id", "sort_name", "id", "search_text",
              sqlite_where=text("archived_at IS NULL")).ddl_if(dialect="sqlite"),
        Index("ix_patients_active_birth_date_search", "practice_id", "birth_date", "id", "search_text",
              sqlite_where=text("archived_at IS NULL")).ddl_if(dialect="sqlite"),
        Index("ix_patients_practice_id_therapist_id", "practice_id", "therapist_id"),
        # Calls are matched to patients by phone number (E.164).
        Index("ix_patients_practice_id_phone", "practice_id", "phone"),
        # The records merged into a patient (their history shows on the survivor's record).
        Index("ix_patients_merged_into_id", "merged_into_id"),
        Index(
            "ix_patients_search_text_trgm", "search_text",
            postgresql_using="gin", postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    email_normalized: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    birth_date: Mapped[date | None] = mapped_column(Date)
    therapist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    booking_system_id: Mapped[str | None] = mapped_column(String(64))
    booking_email: Mapped[str | None] = mapped_column(String(254))
    # Where the record came from: manual, import, booking, calcom.
    source: Mapped[str] = mapped_column(String(16), default="manual")
    search_text: Mapped[str] = mapped_column(Text, default="")
    # The German phone-book key of "last name, first name" (app.patients.collation), compared byte by byte on both
    # databases; the list and the API sort by it. Filled on insert from the names (also by bulk inserts that do
    # not name it) and by refresh_search_text on changes.
    sort_name: Mapped[str] = mapped_column(
        Text().with_variant(Text(collation="C"), "postgresql"),
        default=_sort_name_default, server_default="",
    )
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when an admin merged this record into another (app.patients.merge); the record is then archived. A plain
    # id like the audit log's patient_id: adding a foreign key would make SQLite rebuild the table.
    merged_into_id: Mapped[int | None] = mapped_column(Integer)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)

    practice = relationship("Practice")
    therapist = relationship("User")

    @property
    def full_name(self):
        """First and last name."""
        return f"{self.first_name} {self.last_name}".strip()

    def refresh_search_text(self):
        """Recompute ``search_text`` and ``sort_name`` from the searchable fields (call after changing any of
        them)."""
        self.search_text = build_search_text(self.first_name, self.last_name, self.email, self.phone,
                                             self.birth_date, self.booking_system_id)
        self.sort_name = name_sort_key(self.last_name, self.first_name)

    def __repr__(self):
        return f"<Patient {self.id} {self.full_name}>"


def build_search_text(first_name, last_name, email, phone, birth_date, booking_system_id):
    """The text that search words (folded with ``collation.search_key``) are matched against: names, email and
    booking id in their phone-book spelling and search key (``collation.searchable``: "Müller" is found as
    "Muller", "Mueller" and "Müller"), phone digits (international and national form) and birth date (ISO and
    German form)."""
    parts = [first_name or "", last_name or "", email or "", booking_system_id or ""]
    if phone:
        digits = phone.lstrip("+")
        parts += [digits, "0" + digits[2:] if len(digits) > 2 else digits]
    if birth_date:
        parts += [birth_date.isoformat(), birth_date.strftime("%d.%m.%Y")]
    return searchable(" ".join(part for part in parts if part))


# SQLite: an FTS5 trigram index over search_text (PostgreSQL uses the GIN trigram index declared above).
SQLITE_SEARCH_INDEX = "patients_search"
make_sqlite_search_index(Patient.__table__, "search_text", SQLITE_SEARCH_INDEX)

# The trigram index needs the pg_trgm extension; db.create_all (tests) installs it as the migration does.
event.listen(
    Patient.__table__, "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)


class PatientAccessLink(db.Model):
    """A personal, expiring, revocable link that shows one patient their upcoming appointments without an account
    ("Meine Termine"). The URL carries a signed token naming this row; revoking sets ``revoked_at``."""

    __tablename__ = "patient_access_links"
    __table_args__ = (Index("ix_patient_access_links_patient_id", "patient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A random value in the signed token, so a token cannot be forged from the row id alone.
    nonce: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    patient = relationship("Patient")
    created_by = relationship("User")
