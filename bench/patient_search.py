"""Benchmark: patient search with 50,000 patients (issue: under 50 ms of server time).

Fills a practice with N patients (plus as many in a second practice, which the search must skip), then times the
#patients-table fragment request (the active search as the browser sends it) for several typical searches, through
the full Flask stack (login session, scoping, count and page query, template). The baseline, measured in the same
run on the same server, is the same request for a booking-id lookup of one patient, answered from the unique index.
Prints the median server time per search and its ratio to the baseline.

Run: .venv/bin/python bench/patient_search.py [N]    (temp-file SQLite; TEST_DATABASE_URL for PostgreSQL)
"""

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from app import create_app
from app.accounts.models import User
from app.patients.models import Patient, build_search_text
from app.platform.extensions import db
from app.platform.security.passwords import hash_password
from app.tenancy.models import Practice
from config import TestConfig

FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hanna", "Jonas", "Lena", "Mia", "Noah", "Paul",
         "Sophie", "Tim", "Lea", "Lukas", "Marie", "Finn", "Lina"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
        "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Braun", "Zimmermann", "Hartmann"]
REPEATS = 30


def fill(practice_id, count, rng, prefix):
    """Insert ``count`` patients in bulk."""
    rows = []
    for number in range(count):
        first, last = rng.choice(FIRST), f"{rng.choice(LAST)}{number % 97}"
        email = f"{first}.{last}.{number}@example.test".lower()
        phone = f"+49170{number:07d}"
        birth = date(1940, 1, 1) + timedelta(days=rng.randrange(30000))
        booking = f"{prefix}-{number:06d}"
        rows.append({"practice_id": practice_id, "first_name": first, "last_name": last, "email": email,
                     "email_normalized": email, "phone": phone, "birth_date": birth, "booking_system_id": booking,
                     "source": "import",
                     "search_text": build_search_text(first, last, email, phone, birth, booking)})
        if len(rows) == 5000:
            db.session.execute(insert(Patient), rows)
            rows = []
    if rows:
        db.session.execute(insert(Patient), rows)
    db.session.commit()


def median_ms(client, query):
    """Median wall time of the search fragment request in ms (server side: the test client has no network)."""
    headers = {"HX-Request": "true", "HX-Target": "patients-table"}
    client.get("/patients/", query_string=query, headers=headers)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        response = client.get("/patients/", query_string=query, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return statistics.median(times)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite3"
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():
            db.drop_all()
            db.create_all()
            practice, other = Practice(slug="bench", name="Bench"), Practice(slug="other", name="Other")
            db.session.add_all([practice, other])
            db.session.commit()
            user = User(practice_id=practice.id, email="b@bench.test", name="B", role="assistant",
                        password_hash=hash_password("bench-password"))
            db.session.add(user)
            db.session.commit()
            fill(practice.id, count, rng, "BK")
            fill(other.id, count, rng, "OT")
            if db.engine.dialect.name == "postgresql":
                with db.engine.connect() as connection:
                    autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
                    autocommit.exec_driver_sql("VACUUM ANALYZE patients")  # autovacuum's steady state
            client = app.test_client()
            client.post("/auth/login", data={"email": "b@bench.test", "password": "bench-password"})
            baseline = median_ms(client, {"q": f"bk-{count // 2:06d}"})
            searches = {
                "one letter typed 'a'": {"q": "a"},
                "first letters typed 'ho'": {"q": "ho"},
                "two letters, no match 'qx'": {"q": "qx"},
                "no match, by birth date 'qx'": {"q": "qx", "sort": "birth_date"},
                "two letters, last in order 'zi'": {"q": "zi"},
                "last name prefix 'hoffm'": {"q": "hoffm"},
                "broad 'mann' (1 in 5 patients)": {"q": "mann"},
                "first + last 'lena becker1'": {"q": "lena becker1"},
                "email part 'mia.koch'": {"q": "mia.koch"},
                "German birth date '12.03.1980'": {"q": "12.03.1980"},
                "phone typed in groups '0170 00123'": {"q": "0170 00123"},
                "no filter, sorted by birth date": {"sort": "birth_date"},
            }
            results = {name: median_ms(client, query) for name, query in searches.items()}
            db.session.remove()  # end the open read transaction, or PostgreSQL's DROP waits for it forever
            db.drop_all()
    print(f"{count} patients in the practice (+{count} in another), database {url.split(':')[0]}")
    print(f"baseline, booking-id lookup: {baseline:7.1f} ms")
    for name, value in results.items():
        print(f"{name:34s} {value:7.1f} ms   ratio {value / baseline:5.2f}")
    print(f"slowest search: {max(results.values()):.1f} ms (budget 50 ms)")


if __name__ == "__main__":
    main()
