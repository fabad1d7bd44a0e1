"""Demo data: the practice "Praxis am Park" with its staff, and a second practice to show tenant isolation.
Idempotent: running it again adds what is missing and changes nothing else. Demo passwords exist only here."""

from sqlalchemy import select

from app.extensions import db
from app.models import Location, Practice, User
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
    db.session.commit()
    return created
