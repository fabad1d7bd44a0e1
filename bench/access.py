"""Benchmark: a check-in end to end, a re-entry, and the statistics page (issue 19's speed budgets).

Against the Fitpass fake answering after ``--provider-ms`` (default 200) it prints, each as a p95 in ms:
the bare provider call (the baseline: tests.fakes' answer over a real socket), a check-in through
``POST /api/access/checkins`` and its ratio to the baseline (the hub's own share is the difference; budget: under
350 ms end to end, under 150 ms of our own), a re-entry decision (no provider call; budget under 30 ms), and the
statistics page (``GET /access/stats``, server time in-process) over ``--checkins`` logged check-ins (default
1,000,000; budget 200 ms) against the same page over an empty log, both in this run. The seeded rows are inserted in
bulk and rolled up with the migration's backfill (app.access.rollup.rebuild), whose time is printed too.
Run: .venv/bin/python bench/access.py [--scans 50] [--checkins 1000000] [--provider-ms 200]
(a temp-file SQLite; TEST_DATABASE_URL is honoured)."""

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text  # noqa: E402

from app import create_app  # noqa: E402
from app.access.checkins import check_in  # noqa: E402
from app.access.models import AccessProvider, Checkin  # noqa: E402
from app.access.rollup import rebuild  # noqa: E402
from app.accounts.models import User  # noqa: E402
from app.accounts.tokens import create_token  # noqa: E402
from app.platform.database import utcnow  # noqa: E402
from app.platform.extensions import db  # noqa: E402
from app.platform.security.actor import Actor  # noqa: E402
from app.platform.security.crypto import encrypt_secret  # noqa: E402
from app.platform.security.passwords import hash_password  # noqa: E402
from app.providers.fitpass import access as fitpass_access  # noqa: E402
from app.tenancy.models import Location, Practice  # noqa: E402
from config import TestConfig  # noqa: E402
from tests.fakes.fitpass import DEFAULT_SECRET, PARTNER_USER, SPORT_PARTNER, FitpassFake  # noqa: E402

SETTINGS = {"sport_partner": SPORT_PARTNER, "user_id": PARTNER_USER}


def p95(samples):
    """The 95th percentile (nearest rank) of ``samples`` in ms."""
    ordered = sorted(samples)
    return ordered[max(int(len(ordered) * 0.95 + 0.999999) - 1, 0)]


def timed(action, repeats):
    """Milliseconds of each of ``repeats`` calls of ``action(index)``."""
    samples = []
    for index in range(repeats):
        start = time.perf_counter()
        action(index)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def seed(practice, location, count):
    """``count`` logged check-ins over the last 60 days, inserted in chunks."""
    now = utcnow()
    decisions = ["allow"] * 8 + ["allow_reentry", "deny_expired", "error_timeout"]
    for start in range(0, count, 10000):
        rows = [{"practice_id": practice.id, "location_id": location.id, "provider": "fitpass",
                 "code_kind": "fitpass", "external_id": f"FP-S{index % 5000:05d}", "decision": (d := random.choice(
                     decisions)), "granted": d.startswith("allow"), "awaiting_confirmation": False,
                 "processing_ms": random.randint(20, 400), "created_at": now - timedelta(minutes=random.randint(
                     1, 60 * 24 * 60))} for index in range(start, min(start + 10000, count))]
        db.session.execute(insert(Checkin.__table__), rows)
        db.session.commit()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=50, help="check-ins and re-entries to time")
    parser.add_argument("--checkins", type=int, default=1_000_000, help="logged check-ins for the statistics page")
    parser.add_argument("--provider-ms", type=int, default=200, help="how long the Fitpass fake takes to answer")
    args = parser.parse_args()
    members = {f"FP-BENCH{index:05d}": {"first": "Bench", "last": str(index), "status": "ok"}
               for index in range(args.scans * 2)}
    with tempfile.TemporaryDirectory() as tmp, FitpassFake(members=members,
                                                         slow_seconds=args.provider_ms / 1000) as fake:
        fake.set_scenario("slow")
        url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite3"
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():
            db.drop_all()
            db.create_all()
            practice = Practice(slug="bench", name="Bench", timezone="Europe/Berlin", settings={})
            db.session.add(practice)
            db.session.flush()
            location = Location(practice_id=practice.id, name="Studio")
            user = User(practice_id=practice.id, email="desk@bench.test", name="Desk", role="assistant")
            manager = User(practice_id=practice.id, email="chef@bench.test", name="Chef", role="admin",
                           password_hash=hash_password("bench-password-1"))
            db.session.add_all([location, user, manager])
            db.session.flush()
            db.session.add(AccessProvider(practice_id=practice.id, location_id=location.id, provider="fitpass",
                                          base_url=fake.url, secret=encrypt_secret(DEFAULT_SECRET),
                                          settings=SETTINGS, timeout_ms=2000))
            db.session.commit()
            token = create_token(Actor(user), user, "door")[1]
            client = app.test_client()
            headers = {"Authorization": f"Bearer {token}"}

            provider = timed(lambda i: fitpass_access.validate(fake.url, DEFAULT_SECRET, SETTINGS,
                                                               (f"FP-BENCH{args.scans + i:05d}", None),
                                                               timeout_seconds=2), args.scans)
            scans = timed(lambda i: client.post("/api/access/checkins", headers=headers, json={
                "location": location.id, "code": f"FP-BENCH{i:05d}"}), args.scans)
            actor, later = Actor(user), utcnow() + timedelta(seconds=5)
            reentries = timed(lambda i: check_in(actor, location, f"FP-BENCH{i:05d}", now=later), args.scans)
            select_one = timed(lambda i: db.session.execute(text("SELECT 1")), args.scans)

            browser = app.test_client()
            response = browser.post("/auth/login", data={"email": "chef@bench.test", "password": "bench-password-1"})
            assert response.status_code == 303, "the bench's manager could not sign in"

            def stats_page(_index):
                assert browser.get("/access/stats").status_code == 200

            stats_page(0)  # warm up (templates, translations)
            empty = timed(stats_page, 10)
            seed(practice, location, args.checkins)
            started = time.perf_counter()
            rebuild(db.session.connection(), practice.id)
            db.session.commit()
            backfill = time.perf_counter() - started
            stats_page(0)
            stats = timed(stats_page, 10)

    print(f"provider call alone  p95 {p95(provider):7.1f} ms  (baseline, fake answers after {args.provider_ms} ms)")
    print(f"check-in end to end  p95 {p95(scans):7.1f} ms  ratio {p95(scans) / p95(provider):.2f} to the baseline;"
          f" the hub's own share {p95(scans) - p95(provider):.1f} ms")
    print(f"re-entry decision    p95 {p95(reentries):7.1f} ms  ratio {p95(reentries) / p95(select_one):.1f} to"
          f" SELECT 1 ({p95(select_one):.2f} ms)")
    print(f"statistics page, {args.checkins} check-ins  p95 {p95(stats):7.1f} ms  ratio "
          f"{p95(stats) / p95(empty):.2f} to the page over an empty log ({p95(empty):.1f} ms; budget 200 ms);"
          f" roll-up backfill {backfill:.1f} s")


if __name__ == "__main__":
    main()
