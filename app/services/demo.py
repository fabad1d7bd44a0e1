"""Demo data: the practice "Praxis am Park" with its staff, and a second practice to show tenant isolation.
Idempotent: running it again adds what is missing and changes nothing else. Demo passwords exist only here."""

from datetime import date

from sqlalchemy import select

from app.extensions import db
from app.models import Location, Patient, Practice, User
from app.security import hash_password

DEMO_PASSWORD = "praxis-demo"  # noqa: S105 (demo data only, documented in the README)

PRACTICES = (
    {
        "slug": "demo", "name": "Praxis am Park", "timezone": "Europe/Berlin", "country": "DE",
        "locations": (("Praxis am Park – Mitte", "Parkstraße 12, 10115 Berlin"),
                      ("Praxis am Park – Nord", "Seestraße 40, 13353 Berlin")),
        "users": (
            ("admin@demo.test", "Anna Admin", "admin"),
            ("empfang@demo.test", "Emil Empfang", "assistant"),
            ("therapeut@demo.test", "Thomas Therapeut", "therapist"),
            ("therapeutin@demo.test", "Theresa Therapeutin", "therapist"),
            ("abrechnung@demo.test", "Bea Abrechnung", "billing"),
        ),
    },
    {
        "slug": "zweite", "name": "Zweite Praxis", "timezone": "Europe/Vienna", "country": "AT",
        "locations": (("Zweite Praxis", "Ringstraße 1, 1010 Wien"),),
        "users": (("admin@zweite.test", "Zora Zweite", "admin"),),
    },
)

# (booking id, first name, last name, email, phone (E.164), birth date, therapist email) — fictitious people.
PATIENTS = {
    "demo": (
        ("DEMO-001", "Lena", "Becker", "lena.becker@example.test", "+491701112233", date(1985, 4, 12),
         "therapeut@demo.test"),
        ("DEMO-002", "Jonas", "Schulz", "jonas.schulz@example.test", "+4930123456", date(1978, 11, 3),
         "therapeut@demo.test"),
        ("DEMO-003", "Mia", "Hoffmann", "mia.hoffmann@example.test", "+491522334455", date(1992, 7, 21),
         "therapeutin@demo.test"),
        ("DEMO-004", "Paul", "Wagner", None, "+491609876543", date(1969, 1, 30), "therapeutin@demo.test"),
        ("DEMO-005", "Emma", "Fischer", "emma.fischer@example.test", None, date(2001, 9, 9), None),
        ("DEMO-006", "Felix", "Weber", "felix.weber@example.test", "+4989765432", date(1955, 2, 28),
         "therapeut@demo.test"),
    ),
    "zweite": (
        ("ZW-001", "Sophie", "Gruber", "sophie.gruber@example.test", "+436641234567", date(1988, 5, 5), None),
    ),
}


def load_demo():
    """Create the demo practices, locations and users that do not exist yet. Returns the number created."""
    created = 0
    password_hash = None
    for spec in PRACTICES:
        practice = db.session.scalar(select(Practice).where(Practice.slug == spec["slug"]))
        if practice is None:
            practice = Practice(slug=spec["slug"], name=spec["name"], timezone=spec["timezone"],
                                country=spec["country"], settings={})
            db.session.add(practice)
            db.session.flush()
            created += 1
        existing_locations = {location.name for location in practice.locations}
        for name, address in spec["locations"]:
            if name not in existing_locations:
                db.session.add(Location(practice_id=practice.id, name=name, address=address))
                created += 1
        for email, name, role in spec["users"]:
            if db.session.scalar(select(User.id).where(User.email == email)) is None:
                password_hash = password_hash or hash_password(DEMO_PASSWORD)
                db.session.add(User(practice_id=practice.id, email=email, name=name, role=role, active=True,
                                    password_hash=password_hash))
                created += 1
        created += _load_patients(practice, PATIENTS.get(spec["slug"], ()))
    db.session.commit()
    return created


def _load_patients(practice, patients):
    """Add the demo patients of a practice that are missing (matched by booking id)."""
    existing = set(db.session.scalars(select(Patient.booking_system_id).where(Patient.practice_id == practice.id)))
    therapists = dict(db.session.execute(select(User.email, User.id).where(User.practice_id == practice.id)).all())
    created = 0
    for booking_id, first, last, email, phone, birth, therapist in patients:
        if booking_id in existing:
            continue
        patient = Patient(practice_id=practice.id, first_name=first, last_name=last, email=email,
                          email_normalized=email.lower() if email else None, phone=phone, birth_date=birth,
                          therapist_id=therapists.get(therapist), booking_system_id=booking_id, booking_email=email,
                          source="booking")
        patient.refresh_search_text()
        db.session.add(patient)
        created += 1
    return created
