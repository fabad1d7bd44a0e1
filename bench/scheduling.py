"""Benchmark: the scheduling engine with 15 therapists, 10 resources, 2 locations and 200,000 appointments (issue
18: slot suggestions over 4 weeks p95 < 100 ms, "next free" over 90 days p95 < 300 ms, a conflict check on save
< 10 ms; cost grows with the window searched, not with the table).

Fills a database built by the migrations with one practice (2 locations, 15 therapists working Monday to Friday
08:00-18:00, per location 4 rooms and a shockwave device), three appointment types and 200,000 local appointments
(each with its occupancy rows: therapist and room) from two years back to three months ahead, about 80 % of each
working day booked; one therapist is fully booked for the next 60 days. Then times, calling the services as the
API views do (no HTTP):

  - suggest: the next 50 slots of "Krankengymnastik" with any therapist at any location over 4 weeks,
  - next free: the next slot of the fully booked therapist within 90 days,
  - check: the conflict check of one booking (the calendar read and the check, no write),

and, as the baseline in the same run, one indexed read (the therapist's appointments of one day). Prints median
and p95 of each and the ratio to the baseline. On PostgreSQL a freshly filled database is measured before
autovacuum gathered planner statistics (as after a big import): the reads must take their indexes without them;
run again on the kept database (or ANALYZE it) to measure with statistics.

  .venv/bin/python bench/scheduling.py                         (temp SQLite file, deleted afterwards)
  .venv/bin/python bench/scheduling.py --db /tmp/sched.sqlite3 (kept, reused when filled with the same size)
  DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/praxis_bench .venv/bin/python bench/scheduling.py
Options: --appointments N, --repeats N.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from app.accounts.models import User
from app.appointments.models import Appointment
from app.platform.database import bulk_insert, reserve_ids
from app.platform.extensions import db
from app.scheduling.availability import load_calendar
from app.scheduling.engine.conflicts import Candidate, check
from app.scheduling.engine.slots import spans_for
from app.scheduling.finder import SlotSearch, find_slots
from app.scheduling.hours import OpeningHours, WorkingHours
from app.scheduling.models import AppointmentDetail, AppointmentType, Occupancy, Resource, TypeRequirement
from app.scheduling.resolve import buffers_of
from app.tenancy.models import Location, Practice
from config import TestConfig

ZONE = ZoneInfo("Europe/Berlin")
THERAPISTS, ROOMS_PER_LOCATION = 15, 4
SLOTS_PER_DAY = 20  # half hours from 08:00 to 18:00
BATCH = 20_000


def reset_schema():
    """Drop everything and build the schema with the migrations (every head: what production runs)."""
    db.drop_all()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("DROP TABLE IF EXISTS patients_search")
    upgrade(revision="heads")


def setup_practice(now):
    """The practice, locations, therapists, resources, types and hours; returns (practice, therapists, rooms,
    locations, the type)."""
    practice = Practice(name="Bench-Praxis", slug="bench", settings={"holiday_region": "BY"})
    db.session.add(practice)
    db.session.flush()
    locations = [Location(practice_id=practice.id, name=f"Standort {n}") for n in (1, 2)]
    db.session.add_all(locations)
    db.session.flush()
    therapists = [User(practice_id=practice.id, email=f"t{n}@bench.test", name=f"Therapeut {n}", role="therapist")
                  for n in range(THERAPISTS)]
    db.session.add_all(therapists)
    rooms = {}
    for location in locations:
        rooms[location.id] = [Resource(practice_id=practice.id, location_id=location.id, kind="room",
                                       name=f"Raum {n}") for n in range(ROOMS_PER_LOCATION)]
        db.session.add_all(rooms[location.id])
        db.session.add(Resource(practice_id=practice.id, location_id=location.id, kind="device", name="Stoßwelle"))
    kg = AppointmentType(practice_id=practice.id, name="Krankengymnastik", duration_minutes=30,
                         slot_step_minutes=15, requirements=[TypeRequirement(kind="room", count=1)])
    db.session.add(kg)
    db.session.flush()
    start = (now - timedelta(days=800)).date()
    for index, therapist in enumerate(therapists):
        location = locations[index % 2]
        for weekday in range(5):
            db.session.add(WorkingHours(practice_id=practice.id, therapist_id=therapist.id, location_id=location.id,
                                        weekday=weekday, start_time=clock(8), end_time=clock(18), valid_from=start))
    for location in locations:
        for weekday in range(5):
            db.session.add(OpeningHours(practice_id=practice.id, location_id=location.id, weekday=weekday,
                                        start_time=clock(7), end_time=clock(19), valid_from=start))
    db.session.commit()
    return practice, therapists, rooms, locations, kg


def fill(practice, therapists, rooms, locations, kg, count, now, rng):
    """``count`` local appointments with their occupancy rows, ending three months ahead: in every half hour of a
    working day each room of a location is taken (80 %) by one of the location's therapists free then, so no room
    and no therapist is ever booked twice; therapist 0 gets a room first in every half hour of the next 60 days
    (fully booked)."""
    per_day = len(locations) * SLOTS_PER_DAY * ROOMS_PER_LOCATION * 0.8
    day = now.date() + timedelta(days=90) - timedelta(days=int(count / per_day * 7 / 5) + 7)
    staff = {location.id: [index for index in range(THERAPISTS) if locations[index % 2] is location]
             for location in locations}
    appointments, details, occupancy = [], [], []
    while len(appointments) < count:
        day += timedelta(days=1)
        if day.weekday() >= 5:
            continue
        full = now.date() <= day <= now.date() + timedelta(days=60)
        for location in locations:
            for slot in range(SLOTS_PER_DAY):
                start = datetime.combine(day, clock(8), ZONE).astimezone(UTC) + timedelta(minutes=30 * slot)
                end = start + timedelta(minutes=30)
                free = list(staff[location.id])
                rng.shuffle(free)
                if full and 0 in free:
                    free.remove(0)
                    free.insert(0, 0)
                for number, room in enumerate(rooms[location.id]):
                    if not free or len(appointments) >= count or (rng.random() > 0.8 and not (full and number == 0
                                                                                            and free[0] == 0)):
                        continue
                    index = free.pop(0)
                    appointments.append({
                        "practice_id": practice.id, "source": "local", "external_id": f"b-{len(appointments)}",
                        "starts_at": start, "ends_at": end, "therapist_id": therapists[index].id,
                        "therapist_name": therapists[index].name, "service_name": kg.name, "status": "scheduled",
                        "attendee_name": "", "synced_at": now, "created_at": now})
                    details.append((kg.id, location.id))
                    occupancy.append((therapists[index].id, room.id, start, end))
    connection = db.session.connection()
    ids = reserve_ids(connection, Appointment.__table__, len(appointments))
    for row, new_id in zip(appointments, ids, strict=True):
        row["id"] = new_id
    for first in range(0, len(appointments), BATCH):
        bulk_insert(connection, Appointment.__table__, appointments[first:first + BATCH])
    bulk_insert(connection, AppointmentDetail.__table__, [
        {"appointment_id": new_id, "practice_id": practice.id, "type_id": type_id, "location_id": location_id,
         "notes": ""} for new_id, (type_id, location_id) in zip(ids, details, strict=True)])
    rows = []
    for new_id, (therapist_id, room_id, start, end) in zip(ids, occupancy, strict=True):
        rows.append({"practice_id": practice.id, "appointment_id": new_id, "therapist_id": therapist_id,
                     "resource_id": None, "starts_at": start, "ends_at": end, "exclusive": True})
        rows.append({"practice_id": practice.id, "appointment_id": new_id, "therapist_id": None,
                     "resource_id": room_id, "starts_at": start, "ends_at": end, "exclusive": True})
    for first in range(0, len(rows), BATCH):
        bulk_insert(connection, Occupancy.__table__, rows[first:first + BATCH])
    db.session.commit()


def timed(action, repeats):
    """(median, p95) in milliseconds of ``action()`` after one warm-up call."""
    action()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
        db.session.rollback()
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def measure(repeats, now):
    """Time the three operations and the baseline; print them with their ratios."""
    practice = db.session.scalar(select(Practice).where(Practice.slug == "bench"))
    kg = db.session.scalar(select(AppointmentType).where(AppointmentType.practice_id == practice.id))
    therapists = db.session.scalars(select(User).where(User.practice_id == practice.id).order_by(User.id)).all()
    location = db.session.scalar(select(Location).where(Location.practice_id == practice.id).order_by(Location.id))
    monday = now.date() + timedelta(days=7 - now.weekday())
    probe_start = datetime.combine(monday, clock(12, 15), ZONE).astimezone(UTC)
    room = db.session.scalar(select(Resource.id).where(Resource.location_id == location.id, Resource.kind == "room"))

    def baseline():
        db.session.scalars(select(Appointment.id).where(
            Appointment.practice_id == practice.id, Appointment.starts_at >= probe_start,
            Appointment.starts_at < probe_start + timedelta(days=1))).all()

    def suggest_4_weeks():
        find_slots(practice, SlotSearch(type_id=kg.id, start=now, end=now + timedelta(days=28), limit=50), now=now)

    def next_free_90_days():
        find_slots(practice, SlotSearch(type_id=kg.id, therapist_id=therapists[0].id, start=now,
                                        end=now + timedelta(days=90), limit=1), now=now)

    def conflict_check():
        end = probe_start + timedelta(minutes=30)
        calendar = load_calendar(practice, therapist_ids=[therapists[2].id], location_ids=[location.id],
                                 resource_ids=[room], start=probe_start, end=end)
        check(Candidate(probe_start, end, therapists[2].id, location.id,
                        spans_for(probe_start, end, therapists[2].id, (room,), buffers_of(kg))), calendar)

    base = timed(baseline, repeats)
    print(f"baseline (one indexed read of a day): median {base[0]:.2f} ms, p95 {base[1]:.2f} ms")
    for name, action, budget in (("suggest 50 slots over 4 weeks", suggest_4_weeks, 100),
                                 ("next free within 90 days (60 days full)", next_free_90_days, 300),
                                 ("conflict check on save", conflict_check, 10)):
        median, p95 = timed(action, repeats)
        print(f"{name}: median {median:.1f} ms, p95 {p95:.1f} ms (budget {budget} ms), "
              f"ratio to baseline {p95 / max(base[1], 0.001):.1f}")


def main():
    """Parse the options, fill (or reuse) the database and measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--db", help="SQLite file to fill and keep")
    args = parser.parse_args()
    temp = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        path = args.db or os.path.join(tempfile.mkdtemp(), "scheduling.sqlite3")
        temp = None if args.db else path
        url = f"sqlite:///{path}"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    now = datetime(2027, 5, 3, 7, 0, tzinfo=UTC)  # a Monday morning, fixed so runs compare
    with app.app_context():
        filled = False
        try:
            filled = db.session.scalar(select(func.count()).select_from(Appointment)) == args.appointments
        except Exception:  # noqa: BLE001 (no schema yet)
            db.session.rollback()
        if not filled:
            started = time.perf_counter()
            reset_schema()
            practice, therapists, rooms, locations, kg = setup_practice(now)
            fill(practice, therapists, rooms, locations, kg, args.appointments, now, random.Random(18))
            print(f"filled {args.appointments} appointments in {time.perf_counter() - started:.0f} s")
        measure(args.repeats, now)
    if temp:
        os.remove(temp)


if __name__ == "__main__":
    main()
