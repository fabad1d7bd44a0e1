"""``flask demo``: the practice "Praxis am Park" with its staff, and a second practice to show tenant isolation.
Idempotent: running it again adds what is missing and changes nothing else. Demo passwords exist only here."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from app.access.sandbox import load_sandbox_access
from app.accounts.models import User
from app.appointments.models import Appointment, Call
from app.patients.models import Patient
from app.platform.database import utcnow
from app.platform.extensions import db
from app.platform.security.passwords import hash_password
from app.scheduling.demo import load_scheduling_demo
from app.tenancy.models import Location, Practice

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


# Appointments of the demo patients as the booking tool sent them: (id, patient booking id, days from today,
# hour, minutes, therapist email, service, status).
APPOINTMENTS = {
    "demo": (
        ("DEMO-A-001", "DEMO-001", -14, 9, 45, "therapeut@demo.test", "Physiotherapie", "completed"),
        ("DEMO-A-002", "DEMO-001", 2, 10, 45, "therapeut@demo.test", "Physiotherapie", "scheduled"),
        ("DEMO-A-003", "DEMO-001", 9, 10, 45, "therapeut@demo.test", "Physiotherapie", "cancelled"),
        ("DEMO-A-004", "DEMO-001", 16, 10, 45, "therapeut@demo.test", "Physiotherapie", "scheduled"),
        ("DEMO-A-005", "DEMO-003", 1, 14, 60, "therapeutin@demo.test", "Manuelle Therapie", "scheduled"),
        ("DEMO-A-006", "DEMO-005", 3, 8, 30, "therapeutin@demo.test", "Erstgespräch", "scheduled"),
    ),
}


# Calls the voice agent took: (call id, caller, hours ago, seconds, summary, sentiment). The first caller is no
# patient yet, so the calls inbox shows it highlighted.
CALLS = {
    "demo": (
        ("demo-call-001", "+491709998877", 2, 94,
         "Anruferin verschiebt ihren Termin von Donnerstag auf Dienstag, 9 Uhr.", "Neutral"),
        ("demo-call-002", "+491701112233", 5, 61, "Frau Becker fragt, ob sie zur Physiotherapie ein Handtuch "
         "mitbringen soll.", "Positive"),
        ("demo-call-003", "+491522334455", 26, 132, "Frau Hoffmann beschwert sich über die lange Wartezeit am "
         "Telefon und bittet um Rückruf.", "Negative"),
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
        db.session.flush()
        created += _load_appointments(practice, APPOINTMENTS.get(spec["slug"], ()))
        created += _load_calls(practice, CALLS.get(spec["slug"], ()))
        db.session.flush()
        created += load_sandbox_access(practice)
        created += load_scheduling_demo(practice)
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


def _load_appointments(practice, appointments):
    """Add the demo appointments that are missing (matched by id), dated relative to today in the practice's zone."""
    existing = set(db.session.scalars(select(Appointment.external_id).where(Appointment.practice_id == practice.id)))
    patients = dict(db.session.execute(
        select(Patient.booking_system_id, Patient.id).where(Patient.practice_id == practice.id)).all())
    users = {user.email: user for user in db.session.scalars(select(User).where(User.practice_id == practice.id))}
    zone, today, now = ZoneInfo(practice.timezone), date.today(), utcnow()
    created = 0
    for external_id, patient, days, hour, minutes, therapist, service, status in appointments:
        if external_id in existing:
            continue
        starts_at = datetime.combine(today + timedelta(days=days), time(hour), zone)
        user = users.get(therapist)
        db.session.add(Appointment(
            practice_id=practice.id, patient_id=patients.get(patient), patient_external_id=patient, source="booking",
            external_id=external_id, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes),
            therapist_name=user.name if user else "", therapist_id=user.id if user else None, service_name=service,
            status=status, source_updated_at=now, synced_at=now,
        ))
        created += 1
    return created


def _load_calls(practice, calls):
    """Add the demo calls that are missing (matched by id), matched to patients by phone as the Retell sync does."""
    existing = set(db.session.scalars(select(Call.external_id).where(Call.practice_id == practice.id)))
    patients = dict(db.session.execute(
        select(Patient.phone, Patient.id).where(Patient.practice_id == practice.id, Patient.phone.is_not(None))).all())
    now = utcnow()
    created = 0
    for external_id, number, hours_ago, seconds, summary, sentiment in calls:
        if external_id in existing:
            continue
        started_at = now - timedelta(hours=hours_ago)
        db.session.add(Call(
            practice_id=practice.id, patient_id=patients.get(number), source="retell", external_id=external_id,
            direction="inbound", from_number=number, to_number="+4930555000", status="ended", started_at=started_at,
            ended_at=started_at + timedelta(seconds=seconds), duration_ms=seconds * 1000, summary=summary,
            sentiment=sentiment, stage=3,
        ))
        created += 1
    return created


@click.command("demo")
@click.option("--reset", is_flag=True, help="Drop every table, migrate afresh and load the demo data again.")
def demo_command(reset):
    """Load the demo practices and users (idempotent); --reset rebuilds the whole database first."""
    if reset:
        if current_app.config["ENV_NAME"] == "production":
            raise click.ClickException("--reset drops the whole database and is refused in production.")
        downgrade(revision="base")
        upgrade()
    created = load_demo()
    click.echo(f"Demo data ready ({created} records created). Sign in as admin@demo.test / {DEMO_PASSWORD}.")


def init_app(app):
    """Register ``flask demo``."""
    app.cli.add_command(demo_command)
