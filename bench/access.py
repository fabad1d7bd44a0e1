"""Benchmark: a door's check-in and re-entry as production runs them, and the statistics page (issue 19's speed
budgets: a check-in whose provider answers in 200 ms under 350 ms end to end at p95, the hub's own share under
150 ms; a re-entry decision under 30 ms; the statistics page over 1,000,000 check-ins under 200 ms).

Door part, nothing switched off: a database built by the migrations (`flask db upgrade`), gunicorn started as the
README's Production section starts it (APP_ENV=production, --workers 1 on SQLite, 2 on PostgreSQL, --threads 4),
the rate limiter ON (API_RATE_LIMIT raised so that it never refuses the bench: it still runs and costs what it
costs), a door-terminal API token limited to ``access.validate``, and the Fitpass fake (tests.fakes.fitpass, a real
HTTP server in this process) answering after a fixed ``--provider-ms``. One door sends its requests one after the
other on a keep-alive connection, alternating in the same run:

- the baseline ``POST /bench/door`` (this module's route on the same server): the same Fitpass call through the
  same adapter (app.providers.fitpass.access.validate), and nothing else: no token, no log, no database;
- ``POST /api/access/checkins`` with a new member's code: the hub's whole check-in;
- after the double-scan window, the same codes again: re-entries, decided without the provider, against the
  baseline ``POST /bench/bare`` (one ``SELECT 1``, the floor of a request that touches the database).

Printed: p50 and p95 of each in ms, the check-in's ratio to the door baseline and the re-entry's to the bare route,
and the hub's own share of a check-in, end to end minus the fake's fixed delay (what the hub adds on top of the
provider: HTTP, gunicorn, the token, the limiter, the claim, the reads, the log row and its roll-up). Exits
non-zero when a request fails or a decision is not the expected one.

Statistics part (in-process, as before): ``GET /access/stats`` over ``--checkins`` logged check-ins (inserted in
bulk, rolled up with ``flask access rollup``'s app.access.rollup.rebuild) against the same page over an empty log.
``--checkins 0`` skips it.

Run: .venv/bin/python bench/access.py [--scans 100] [--provider-ms 200] [--checkins 1000000]
     (a temp-file SQLite by default; for PostgreSQL give a dedicated database, never `test`:
     DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/praxis_access .venv/bin/python bench/access.py
     -- its tables are dropped and re-created)."""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from flask import jsonify, request  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from app import create_app  # noqa: E402
from app.access.models import AccessProvider, Checkin  # noqa: E402
from app.access.rollup import rebuild  # noqa: E402
from app.accounts.models import User  # noqa: E402
from app.accounts.tokens import create_token  # noqa: E402
from app.platform.database import utcnow  # noqa: E402
from app.platform.extensions import csrf, db  # noqa: E402
from app.platform.security.actor import Actor  # noqa: E402
from app.platform.security.crypto import encrypt_secret  # noqa: E402
from app.platform.security.guard import public  # noqa: E402
from app.platform.security.passwords import hash_password  # noqa: E402
from app.providers.fitpass import access as fitpass_access  # noqa: E402
from app.tenancy.models import Location, Practice  # noqa: E402
from bench.webhooks import ENCRYPTION_KEY, SECRET_KEY, free_port, start_server, stop_server  # noqa: E402
from config import Config, TestConfig  # noqa: E402
from tests.fakes.fitpass import DEFAULT_SECRET, PARTNER_USER, SPORT_PARTNER, FitpassFake  # noqa: E402

SETTINGS = {"sport_partner": SPORT_PARTNER, "user_id": PARTNER_USER}
BENCH_RATE_LIMIT = "10000000 per minute"


def create_bench_app():
    """The real app (create_app(), configured from the environment) with the two baseline routes."""
    app = create_app()

    @public
    def door():
        """JSON: the Fitpass call of ``{"code"}`` through the adapter, as a bare proxy would make it."""
        verdict = fitpass_access.validate(os.environ["BENCH_FITPASS_URL"], DEFAULT_SECRET, SETTINGS,
                                          (request.get_json()["code"], None), timeout_seconds=2)
        return jsonify(decision=verdict["decision"])

    @public
    def bare():
        """JSON: one ``SELECT 1``."""
        db.session.execute(text("SELECT 1"))
        return jsonify(ok=True)

    app.add_url_rule("/bench/door", "bench_door", csrf.exempt(door), methods=["POST"])
    app.add_url_rule("/bench/bare", "bench_bare", csrf.exempt(bare), methods=["POST"])
    return app


def percentile(samples, share):
    """The ``share`` percentile (nearest rank) of ``samples``."""
    ordered = sorted(samples)
    return ordered[max(int(len(ordered) * share + 0.999999) - 1, 0)]


def line(name, samples, baseline=None):
    """One printed figure: p50 and p95 in ms, and the ratio of p95s to ``baseline`` (name, samples)."""
    text_ = f"{name:38s} p50 {statistics.median(samples):7.1f} ms   p95 {percentile(samples, 0.95):7.1f} ms"
    if baseline is not None:
        text_ += f"   ratio {percentile(samples, 0.95) / percentile(baseline[1], 0.95):5.2f} to {baseline[0]}"
    print(text_)


def reset_database(url, env, fresh):
    """Drop what a previous run left (unless the database is a ``fresh`` temp file) and migrate (to every head:
    branches that the next merge joins are built too)."""
    if not fresh:
        app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=SECRET_KEY,
                         APP_ENCRYPTION_KEYS=ENCRYPTION_KEY)
        with app.app_context():
            db.drop_all()
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            db.engine.dispose()
    subprocess.run([str(ROOT / ".venv/bin/flask"), "db", "upgrade", "heads"], cwd=ROOT, env=env,  # noqa: S603
                   check=True, capture_output=True)


def setup(url, fake_url):
    """The practice, a location with Fitpass enabled against the fake, a door terminal's token; returns
    (location id, token)."""
    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=SECRET_KEY, APP_ENCRYPTION_KEYS=ENCRYPTION_KEY)
    with app.app_context():
        practice = Practice(slug="bench", name="Bench", timezone="Europe/Berlin", settings={})
        db.session.add(practice)
        db.session.flush()
        location = Location(practice_id=practice.id, name="Studio", address="")
        user = User(practice_id=practice.id, email="door@bench.test", name="Tür", role="assistant")
        db.session.add_all([location, user])
        db.session.flush()
        db.session.add(AccessProvider(practice_id=practice.id, location_id=location.id, provider="fitpass",
                                      base_url=fake_url, secret=encrypt_secret(DEFAULT_SECRET),
                                      secret_hint=DEFAULT_SECRET[-4:], settings=SETTINGS, timeout_ms=2000))
        db.session.commit()
        token = create_token(Actor(user), user, "Tür 1", scope="access.validate")[1]
        location_id = location.id
        db.session.remove()
        db.engine.dispose()
    return location_id, token


def timed_post(session, url, expect, **kwargs):
    """POST and return (ms, JSON body); fails the run on any other status or an unexpected decision."""
    started = time.perf_counter()
    response = session.post(url, timeout=10, **kwargs)
    elapsed = (time.perf_counter() - started) * 1000
    body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else None
    if response.status_code != 200 or (expect and (body or {}).get("decision") != expect):
        raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
    return elapsed, body


def door_bench(args, tmp):
    """Serve the app with gunicorn, run the door's requests and print the figures."""
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite3"
    sqlite = url.startswith("sqlite")
    workers = args.workers or (1 if sqlite else 2)
    members = {f"FP-BENCH{index:05d}": {"first": "Bench", "last": str(index), "status": "ok"}
               for index in range(args.scans * 2)}
    with FitpassFake(members=members, slow_seconds=args.provider_ms / 1000) as fake:
        fake.set_scenario("slow")
        env = {key: value for key, value in os.environ.items() if key != "TEST_DATABASE_URL"}
        env.update(APP_ENV="production", DATABASE_URL=url, RATELIMIT_ENABLED="true", SECRET_KEY=SECRET_KEY,
                   APP_ENCRYPTION_KEYS=ENCRYPTION_KEY, FLASK_APP="wsgi.py", PYTHONPATH=str(ROOT),
                   API_RATE_LIMIT=BENCH_RATE_LIMIT, SESSION_COOKIE_SECURE="false", BENCH_FITPASS_URL=fake.url)
        reset_database(url, env, fresh=sqlite)
        location_id, token = setup(url, fake.url)
        port = free_port()
        server = start_server(env, port, workers, args.threads, Path(tmp) / "gunicorn.log",
                              app_spec="bench.access:create_bench_app()")
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        auth = {"Authorization": f"Bearer {token}"}
        figures = {"door": [], "checkin": [], "share": [], "server": [], "reentry": [], "reentry_server": [],
                   "bare": []}
        try:
            for index in range(3):  # warm-up: connections, caches, the first compiled statements
                timed_post(session, f"{base}/bench/door", "allow", json={"code": f"FP-BENCH{args.scans + index:05d}"})
                timed_post(session, f"{base}/bench/bare", None)
            for index in range(args.scans):
                figures["door"].append(timed_post(session, f"{base}/bench/door", "allow",
                                                  json={"code": f"FP-BENCH{args.scans + index:05d}"})[0])
                elapsed, body = timed_post(session, f"{base}/api/access/checkins", "allow", headers=auth,
                                           json={"location": location_id, "code": f"FP-BENCH{index:05d}"})
                figures["checkin"].append(elapsed)
                figures["share"].append(elapsed - args.provider_ms)
                figures["server"].append(body["processing_ms"] - args.provider_ms)
            time.sleep(1.1)  # past the double-scan window of the last check-in
            for index in range(args.scans):
                figures["bare"].append(timed_post(session, f"{base}/bench/bare", None)[0])
                elapsed, body = timed_post(session, f"{base}/api/access/checkins", "allow_reentry", headers=auth,
                                           json={"location": location_id, "code": f"FP-BENCH{index:05d}"})
                figures["reentry"].append(elapsed)
                figures["reentry_server"].append(body["processing_ms"])
        finally:
            stop_server(server)
    print(f"gunicorn (APP_ENV=production) {workers} worker(s) x {args.threads} threads on "
          f"{'SQLite' if sqlite else 'PostgreSQL'}, limiter on; Fitpass fake answers after {args.provider_ms} ms; "
          f"{args.scans} of each, one door")
    line("baseline: bare Fitpass proxy", figures["door"])
    line("check-in end to end", figures["checkin"], ("the proxy", figures["door"]))
    line("  hub's own share (minus the fake's delay)", figures["share"])
    line("  of it inside check_in (processing_ms)", figures["server"])
    line("baseline: bare route (SELECT 1)", figures["bare"])
    line("re-entry decision end to end", figures["reentry"], ("the bare route", figures["bare"]))
    line("  of it inside check_in (processing_ms)", figures["reentry_server"])


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


def stats_bench(args, tmp):
    """The statistics page in-process over an empty log and over ``--checkins`` check-ins."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp}/stats.sqlite3"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.drop_all()
        db.create_all()
        practice = Practice(slug="bench", name="Bench", timezone="Europe/Berlin", settings={})
        db.session.add(practice)
        db.session.flush()
        location = Location(practice_id=practice.id, name="Studio")
        db.session.add_all([location, User(practice_id=practice.id, email="chef@bench.test", name="Chef",
                                           role="admin", password_hash=hash_password("bench-password-1"))])
        db.session.commit()
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
    line(f"statistics page, {args.checkins} check-ins", stats, ("the empty log", empty))
    print(f"  (page over the empty log: p95 {percentile(empty, 0.95):.1f} ms; roll-up rebuild {backfill:.1f} s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=100, help="check-ins and re-entries to time (default 100)")
    parser.add_argument("--provider-ms", type=int, default=200, help="how long the Fitpass fake takes (default 200)")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (default 1 on SQLite, 2 on PG)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    parser.add_argument("--checkins", type=int, default=1_000_000,
                        help="logged check-ins for the statistics page (default 1,000,000; 0 skips it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        door_bench(args, tmp)
        if args.checkins:
            stats_bench(args, tmp)


if __name__ == "__main__":
    main()
