"""Benchmark: a patient's Termine tab with a million appointments in the database (issue: under 30 ms of server
time, DESIGN.md §8).

Fills a database built by the migrations with one practice (an admin and ten therapists), 20,000 patients,
1,000,000 appointments spread over them (about 50 each; three years back to one year ahead; booking tool and
Cal.com; scheduled, pending, completed, cancelled, no-show, rescheduled), 100,000 webhook events (mostly accepted,
with their attempts; some rejected and duplicate ones) so the "last synchronised" query has a log to search, and two
"Meine Termine" links of the measured patient. Then, logged in as the admin with the Flask test client, it times
the requests the browser sends, through the full stack (session, permissions, queries, templates):

  - the Termine tab fragment, GET /patients/<id>/termine with HX-Target: patient-tab (upcoming appointments),
  - the "Show past" toggle, GET /patients/<id>/termine?past=1 with HX-Target: patient-appointments,
  - its second page (?past=1&page=2, the "More" link),

for a patient with about 50 appointments. The baseline, in the same run on the same database, is the Stammdaten
tab of the same patient (same route, login and patient load; no appointments). Prints median and p95 server time
(test client, no network) over 50 requests after a warm-up, and each ratio to the baseline.

Filling takes a few minutes, so a filled database is kept and reused:
  .venv/bin/python bench/appointments_tab.py --db /tmp/praxis_termine.sqlite3    (SQLite file; reused if filled)
  .venv/bin/python bench/appointments_tab.py                                     (temp SQLite, deleted afterwards)
  DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/praxis_bench .venv/bin/python bench/appointments_tab.py
      (a dedicated PostgreSQL database, never `test`: its tables are dropped and re-created unless they already hold
      this bench's data; bench/webhooks.py drops them too)
Options: --refill (fill again even if filled), --appointments N, --patients N, --repeats N.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, inspect, select, text

from app import create_app
from app.accounts.models import User
from app.appointments.models import Appointment
from app.patients.models import Patient, PatientAccessLink, build_search_text
from app.platform.database import bulk_insert as insert_rows
from app.platform.extensions import db
from app.platform.security.actor import Actor
from app.platform.security.passwords import hash_password
from app.tenancy.models import Practice
from app.webhooks.endpoints import create_endpoint
from app.webhooks.models import WebhookEvent
from config import TestConfig

FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hanna", "Jonas", "Lena", "Mia", "Noah"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann"]
SERVICES = ["Physiotherapie", "Manuelle Therapie", "Lymphdrainage", "Krankengymnastik", "Massage", "Fango"]
PAST_STATUSES = ["completed"] * 14 + ["cancelled"] * 2 + ["no_show", "rescheduled", "scheduled", "rejected"]
FUTURE_STATUSES = ["scheduled"] * 16 + ["pending"] * 2 + ["cancelled", "rescheduled"]
THERAPISTS = 10
EVENTS = 100_000
BATCH = 20_000
PASSWORD = "bench-password"  # noqa: S105 (a bench user in a throwaway database)

FILL = Table("bench_fill", MetaData(), Column("patients", Integer), Column("appointments", Integer),
             Column("filled_at", String(40)))


def filled(args):
    """True when the database already holds this bench's data in the requested size."""
    if not inspect(db.engine).has_table("bench_fill"):
        return False
    row = db.session.execute(select(FILL.c.patients, FILL.c.appointments)).first()
    ready = row is not None and tuple(row) == (args.patients, args.appointments) and inspect(
        db.engine).has_table("appointments") and db.session.scalar(
        select(func.count()).select_from(Appointment)) == args.appointments  # another bench may have emptied it
    db.session.rollback()
    return ready


def migrate_fresh():
    """Drop whatever is there and build the schema with the migrations (what production runs)."""
    db.drop_all()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("DROP TABLE IF EXISTS patients_search")
    upgrade()


def reset_schema():
    """A migrated schema plus this bench's fill bookkeeping table."""
    FILL.drop(db.engine, checkfirst=True)
    migrate_fresh()
    FILL.create(db.engine)


def bulk_insert(table, rows):
    """Insert ``rows`` (dicts) into ``table`` in the session's transaction (the app's bulk path: COPY on
    PostgreSQL)."""
    insert_rows(db.session.connection(), table, rows)


def fill_patients(practice_id, therapist_ids, count, rng, now):
    """``count`` patients with booking ids BP-000000...; returns their ids in order."""
    rows = []
    for number in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}.{number}@example.test".lower()
        phone, birth = f"+49170{number:07d}", date(1940, 1, 1) + timedelta(days=rng.randrange(30000))
        booking = f"BP-{number:06d}"
        rows.append({"practice_id": practice_id, "first_name": first, "last_name": last, "email": email,
                     "email_normalized": email, "phone": phone, "birth_date": birth, "booking_system_id": booking,
                     "therapist_id": rng.choice(therapist_ids), "source": "booking", "created_at": now,
                     "updated_at": now, "search_text": build_search_text(first, last, email, phone, birth, booking)})
    for start in range(0, count, BATCH):
        db.session.execute(insert(Patient), rows[start:start + BATCH])
    db.session.commit()
    return list(db.session.scalars(select(Patient.id).where(Patient.practice_id == practice_id)
                                   .order_by(Patient.id)))


def fill_appointments(practice_id, patient_ids, therapists, count, rng, now):
    """``count`` appointments over the patients, from three years back to one year ahead."""
    span = int(timedelta(days=4 * 365).total_seconds() // 900)  # quarter-hour slots
    first_slot = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=3 * 365)
    table = Appointment.__table__
    rows = []
    for number in range(count):
        patient_index = rng.randrange(len(patient_ids))
        starts_at = first_slot + timedelta(minutes=15 * rng.randrange(span))
        source = "booking" if number % 5 else "calcom"
        therapist_id, therapist_name = rng.choice(therapists) if rng.random() < 0.85 else (None, "Vertretung")
        past = starts_at < now
        rows.append({
            "practice_id": practice_id, "patient_id": patient_ids[patient_index],
            "patient_external_id": f"BP-{patient_index:06d}" if source == "booking" else None,
            "source": source, "external_id": f"{source[0].upper()}A-{number:08d}", "starts_at": starts_at,
            "ends_at": starts_at + timedelta(minutes=rng.choice((30, 45, 60))), "therapist_name": therapist_name,
            "therapist_id": therapist_id, "service_name": rng.choice(SERVICES),
            "status": rng.choice(PAST_STATUSES if past else FUTURE_STATUSES), "attendee_name": "",
            "attendee_email": None, "source_updated_at": min(starts_at, now) - timedelta(days=rng.randrange(30)),
            "synced_at": now - timedelta(minutes=rng.randrange(60 * 24 * 90)), "created_at": now,
        })
        if len(rows) == BATCH:
            bulk_insert(table, rows)
            rows = []
    bulk_insert(table, rows)
    db.session.commit()


def fill_events(practice_id, endpoints, rng, now):
    """EVENTS webhook events over the last 90 days (newest a few minutes ago): 95 % accepted with a processed (or
    ignored) attempt, the rest rejected or duplicates; append-only tables, so inserts only."""
    rows = []
    for number in range(EVENTS):
        source = "booking" if number % 5 else "calcom"
        received = now - timedelta(seconds=(EVENTS - number) * 77 + rng.randrange(60))
        roll = rng.random()
        outcome = "accepted" if roll < 0.95 else "rejected" if roll < 0.98 else "duplicate"
        rows.append({
            "practice_id": practice_id, "endpoint_id": endpoints[source], "source": source,
            "delivery_id": f"msg_{number:08d}" if outcome != "rejected" else None,
            "event_type": "appointment.updated", "received_at": received, "secret_version": 1,
            "payload": "gAAAAA-bench-not-a-real-token" if outcome == "accepted" else None,
            "preview": '{"type":"appointment.updated"}', "outcome": outcome,
            "reject_reason": "invalid signature: no matching signature" if outcome == "rejected" else None,
            "original_event_id": None, "remote_addr": "203.0.113.7",
        })
        if len(rows) == BATCH:
            bulk_insert(WebhookEvent.__table__, rows)
            rows = []
    bulk_insert(WebhookEvent.__table__, rows)
    db.session.execute(text(
        "INSERT INTO webhook_event_attempts (event_id, number, started_at, finished_at, outcome, detail, "
        "triggered_by) SELECT id, 1, received_at, received_at, CASE WHEN id % 10 = 0 THEN 'ignored' ELSE "
        "'processed' END, 'bench', 'receipt' FROM webhook_events WHERE outcome = 'accepted'"))
    db.session.commit()


def fill(args, rng):
    """Build the schema and fill it (see the module docstring)."""
    started = time.perf_counter()
    reset_schema()
    now = datetime.now(UTC)
    practice = Practice(slug="bench", name="Bench", timezone="Europe/Berlin",
                        settings={"booking_url_template": "https://booking.example.test/praxis?name={name}"})
    db.session.add(practice)
    db.session.commit()
    admin = User(practice_id=practice.id, email="admin@bench.test", name="Admin", role="admin",
                 password_hash=hash_password(PASSWORD))
    therapists = [User(practice_id=practice.id, email=f"t{index}@bench.test", name=f"Therapeut {index}",
                       role="therapist") for index in range(THERAPISTS)]
    db.session.add_all([admin, *therapists])
    db.session.commit()
    pairs = [(user.id, user.name) for user in therapists]
    patient_ids = fill_patients(practice.id, [user_id for user_id, _ in pairs], args.patients, rng, now)
    print(f"  {args.patients} patients ({time.perf_counter() - started:.0f} s)", flush=True)
    fill_appointments(practice.id, patient_ids, pairs, args.appointments, rng, now)
    print(f"  {args.appointments} appointments ({time.perf_counter() - started:.0f} s)", flush=True)
    actor = Actor(practice_id=practice.id)
    endpoints = {source: create_endpoint(actor, source)[0].id for source in ("booking", "calcom")}
    fill_events(practice.id, endpoints, rng, now)
    print(f"  {EVENTS} webhook events ({time.perf_counter() - started:.0f} s)", flush=True)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.exec_driver_sql("VACUUM ANALYZE")  # autovacuum's steady state
    db.session.execute(insert(FILL).values(patients=args.patients, appointments=args.appointments,
                                           filled_at=now.isoformat()))
    db.session.commit()
    print(f"  filled in {time.perf_counter() - started:.0f} s", flush=True)


def measured_patient():
    """The patient whose appointment count is nearest 50 among the first 500, with upcoming and past ones; adds
    two "Meine Termine" links to them (once)."""
    counts = db.session.execute(
        select(Appointment.patient_id, func.count()).where(Appointment.patient_id <= select(func.min(
            Patient.id)).scalar_subquery() + 500).group_by(Appointment.patient_id)).all()
    patient_id = min(counts, key=lambda row: (abs(row[1] - 50), row[0]))[0]
    patient = db.session.get(Patient, patient_id)
    if not db.session.scalar(select(func.count()).select_from(PatientAccessLink)
                             .where(PatientAccessLink.patient_id == patient_id)):
        now = datetime.now(UTC)
        admin = db.session.scalar(select(User).where(User.email == "admin@bench.test"))
        db.session.add_all([PatientAccessLink(practice_id=patient.practice_id, patient_id=patient_id,
                                              created_by_id=admin.id, nonce=f"{index:032x}",
                                              expires_at=now + timedelta(days=30 - 20 * index)) for index in range(2)])
        db.session.commit()
    return patient


def timings(client, url, headers, repeats):
    """Server times in ms of ``repeats`` GETs of ``url`` after a warm-up (the test client has no network)."""
    for _ in range(5):
        assert client.get(url, headers=headers).status_code == 200
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return times


def p95(values):
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLite file to fill and keep (reused when it already holds the data)")
    parser.add_argument("--refill", action="store_true", help="fill again even if the database is filled")
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--appointments", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if os.environ.get("DATABASE_URL"):
            url = os.environ["DATABASE_URL"]
        else:
            url = f"sqlite:///{Path(args.db).resolve() if args.db else Path(tmp) / 'bench.sqlite3'}"
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():
            if args.refill or not filled(args):
                print(f"filling {url.split('@')[-1]} ...", flush=True)
                fill(args, random.Random(7))
            else:
                print(f"reusing the filled database {url.split('@')[-1]}")
            total = db.session.scalar(select(func.count()).select_from(Appointment))
            patient = measured_patient()
            mine = db.session.scalar(select(func.count()).select_from(Appointment)
                                     .where(Appointment.patient_id == patient.id))
            upcoming = db.session.scalar(select(func.count()).select_from(Appointment).where(
                Appointment.patient_id == patient.id, Appointment.starts_at >= datetime.now(UTC)))
            patient_id = patient.id
            db.session.remove()

            client = app.test_client()
            client.post("/auth/login", data={"email": "admin@bench.test", "password": PASSWORD})
            tab = {"HX-Request": "true", "HX-Target": "patient-tab"}
            toggle = {"HX-Request": "true", "HX-Target": "patient-appointments"}
            base = f"/patients/{patient_id}"
            cases = {
                "baseline: Stammdaten tab": (base, tab),
                "Termine tab (upcoming)": (f"{base}/termine", tab),
                "Show past (?past=1)": (f"{base}/termine?past=1", toggle),
                "past, second page (?past=1&page=2)": (f"{base}/termine?past=1&page=2", toggle),
                "GET /api/health (for scale)": ("/api/health", {}),
            }
            results = {name: timings(client, path, headers, args.repeats) for name, (path, headers) in cases.items()}
            fragment = client.get(f"{base}/termine", headers=tab).get_data(as_text=True)
            db.session.remove()
    print(f"database {url.split(':')[0]}: {total} appointments; measured patient {patient_id} has {mine} "
          f"({upcoming} upcoming); {args.repeats} requests each after a warm-up")
    print(f"Termine fragment: {len(fragment)} bytes, {fragment.count('appointment-row-')} rows shown")
    baseline = statistics.median(results["baseline: Stammdaten tab"])
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:36s} median {median:6.1f} ms   p95 {p95(values):6.1f} ms   ratio {median / baseline:5.2f}")
    slowest = max(statistics.median(results[name]) for name in list(cases)[1:4])
    print(f"slowest Termine request: {slowest:.1f} ms median (budget 30 ms: {'met' if slowest < 30 else 'NOT met'})")


if __name__ == "__main__":
    main()
