"""Benchmark: the Integration Hub's status poll and the outbound proxy's cached answer (issue: the poll costs one
indexed read and no outbound call; a cached proxy answer costs under 5 ms; DESIGN.md §8).

Builds a fresh database with the migrations and fills one practice the way a busy one looks after a month: an
admin, ten therapists, two locations, 500 patients with 5,000 appointments, 300,000 integration_metrics rows over the
last 30 days for both providers (Cal.com and Retell, about 3 % failed), and the sync_runs history of those 30 days
(Cal.com every 15 minutes, Retell every hour; a few failed). Then it starts the Cal.com and Retell fakes
(tests/fakes, real HTTP servers on 127.0.0.1) and saves both integrations with a valid key through
app.integrations.service.save (the key is checked with the fake, the health row written; PROVIDER_MAX_RETRIES=0),
and records a last sync on each health row. The rate limiter is on, as in production (the API limit raised so the
bench is never refused; its storage is Redis when CACHE_REDIS_URL is set). With the Flask test client (full stack,
no network) it then times, in rounds of one request each (so load changes on the machine touch all alike):

  - the status poll, the fragment the Übersicht tab asks for every 30 s (logged in as the admin, with the htmx
    headers), over N requests after a warm-up: median, p95, SQL statements per poll (a before_cursor_execute
    listener), the query plan of its reads, and the requests the fakes received (plus every request sent through
    `requests`) before and after all polls: the difference must be 0;
  - the proxy, GET /api/proxy/calcom/event-types and GET /api/proxy/calcom/slots?event_type_id=…&start=…&end=…
    with a bearer token: the first (uncached) call, then N cached answers (median, p95), and how many requests
    reached the fake: exactly 1 per distinct operation and parameters;
  - the baseline, in the same run on the same database: GET /api/me with the same token (token lookup, user and
    practice load, a small JSON answer: the cheapest authenticated request of the app). Each figure is printed
    with its ratio to the baseline.

Exits non-zero when a poll reached a provider, a cached answer did (or the first call did not), or a request failed.

Run: .venv/bin/python bench/hub.py [--repeats 200] [--metrics 300000] [--appointments 5000]
     (a temp-file SQLite database; the app cache in memory)
     DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/praxis_bench CACHE_REDIS_URL=redis://127.0.0.1:6379/1 \\
         .venv/bin/python bench/hub.py
     (a dedicated PostgreSQL database, never `test`: its tables are dropped and re-created, as by the other benches;
     the proxy cache in Redis, under the key prefix praxis-bench-hub:)
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

import requests.adapters
from flask import url_for
from sqlalchemy import event, func, insert, select

from app import create_app
from app.accounts.models import User
from app.accounts.tokens import create_token
from app.appointments.models import Appointment
from app.integrations import health
from app.integrations import service as integrations
from app.integrations.models import IntegrationMetric, SyncRun
from app.platform.extensions import cache, db
from app.platform.security.actor import Actor
from app.platform.security.passwords import hash_password
from app.tenancy.models import Location, Practice

# The patients, appointments and bulk insert of the appointments-tab bench: the same data, written once.
from bench.appointments_tab import bulk_insert, fill_appointments, fill_patients, migrate_fresh, p95
from config import TestConfig
from tests.fakes.calcom import DEFAULT_KEYS as CALCOM_KEYS
from tests.fakes.calcom import CalcomFake, demo_seed
from tests.fakes.retell import DEFAULT_API_KEY as RETELL_KEY
from tests.fakes.retell import RetellFake
from tests.fakes.retell import demo_seed as retell_demo_seed

# The calls each provider's client makes, weighted roughly as a month of syncs, probes and proxy reads does.
ACTIONS = {
    "calcom": ["bookings.list"] * 8 + ["event_types.list"] * 3 + ["me"] * 2 + ["slots.get"] * 4 + ["sync"],
    "retell": ["calls.list"] * 8 + ["agents.list"] * 4 + ["sync"],
}
SYNC_EVERY_MINUTES = {"calcom": 15, "retell": 60}
THERAPISTS = 10
PATIENTS = 500
DAYS = 30
BATCH = 20_000
PASSWORD = "bench-password"  # noqa: S105 (a bench user in a throwaway database)
CALCOM_KEY = next(iter(CALCOM_KEYS))
POLL_ENDPOINT = "hub.status"  # the #hub-status fragment the Übersicht tab polls
POLL_HEADERS = {"HX-Request": "true", "HX-Target": "hub-status"}
EVENT_TYPE_ID = 102  # "Physiotherapie" in the fake's demo seed


def fill_metrics(practice_id, count, rng, now):
    """``count`` metric rows spread evenly over the last DAYS days, two thirds Cal.com, about 3 % failed."""
    step = DAYS * 86400 / count
    rows = []
    for number in range(count):
        provider = "calcom" if number % 3 else "retell"
        success = rng.random() > 0.03
        rows.append({
            "practice_id": practice_id, "provider": provider, "action": rng.choice(ACTIONS[provider]),
            "success": success, "duration_ms": int(rng.lognormvariate(5.3, 0.5)),
            "records": rng.randrange(60) if success else None,
            "status_code": 200 if success else rng.choice((429, 500, 502, 503)),
            "error": None if success else "upstream answered with an error",
            "created_at": now - timedelta(seconds=(count - number) * step),
        })
        if len(rows) == BATCH:
            bulk_insert(IntegrationMetric.__table__, rows)
            rows = []
    bulk_insert(IntegrationMetric.__table__, rows)
    db.session.commit()


def fill_sync_runs(practice_id, rng, now):
    """The last DAYS days of scheduled syncs of both providers (all finished; about 2 % failed); returns the
    number of runs."""
    rows = []
    for provider, minutes in SYNC_EVERY_MINUTES.items():
        for number in range(DAYS * 24 * 60 // minutes, 0, -1):
            queued = now - timedelta(minutes=number * minutes)
            started = queued + timedelta(seconds=rng.randrange(1, 15))
            failed = rng.random() < 0.02
            records = None if failed else rng.randrange(40)
            rows.append({
                "practice_id": practice_id, "provider": provider, "trigger": "schedule",
                "status": "failed" if failed else "succeeded", "queued_at": queued, "started_at": started,
                "finished_at": started + timedelta(milliseconds=rng.randrange(300, 4000)), "records": records,
                "details": {} if failed else {"bookings" if provider == "calcom" else "calls": records},
                "error": "Cal.com cannot be reached: timed out" if failed else None,
            })
    db.session.execute(insert(SyncRun), rows)
    db.session.commit()
    return len(rows)


def fill(args, rng):
    """Build the schema and fill it (see the module docstring); returns (practice id, admin id)."""
    started = time.perf_counter()
    migrate_fresh()
    now = datetime.now(UTC)
    practice = Practice(slug="bench", name="Bench", timezone="Europe/Berlin", settings={})
    db.session.add(practice)
    db.session.commit()
    admin = User(practice_id=practice.id, email="admin@bench.test", name="Admin", role="admin",
                 password_hash=hash_password(PASSWORD))
    therapists = [User(practice_id=practice.id, email=f"t{index}@bench.test", name=f"Therapeut {index}",
                       role="therapist") for index in range(THERAPISTS)]
    db.session.add_all([admin, *therapists,
                        Location(practice_id=practice.id, name="Praxis am See", address="Seestraße 1"),
                        Location(practice_id=practice.id, name="Filiale Altstadt", address="Marktplatz 4")])
    db.session.commit()
    patient_ids = fill_patients(practice.id, [user.id for user in therapists], PATIENTS, rng, now)
    fill_appointments(practice.id, patient_ids, [(user.id, user.name) for user in therapists], args.appointments,
                      rng, now)
    print(f"  {PATIENTS} patients, {args.appointments} appointments ({time.perf_counter() - started:.0f} s)",
          flush=True)
    fill_metrics(practice.id, args.metrics, rng, now)
    print(f"  {args.metrics} integration metrics ({time.perf_counter() - started:.0f} s)", flush=True)
    runs = fill_sync_runs(practice.id, rng, now)
    print(f"  {runs} sync runs ({time.perf_counter() - started:.0f} s)", flush=True)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.exec_driver_sql("VACUUM ANALYZE")  # autovacuum's steady state
    print(f"  filled in {time.perf_counter() - started:.0f} s", flush=True)
    return practice.id, admin.id


def connect(practice_id, admin_id):
    """Save both integrations with a valid key (checked with the fakes, as the settings form does) and give each
    health row a last sync; returns the save outcomes."""
    practice, admin = db.session.get(Practice, practice_id), db.session.get(User, admin_id)
    actor = Actor(admin)
    outcomes = {
        "calcom": integrations.save(actor, practice, "calcom", {
            "api_key": CALCOM_KEY, "sync_enabled": "y", "sync_interval_minutes": "15", "team_slug": "praxis-am-see",
            "default_event_type_id": str(EVENT_TYPE_ID),
            "booking_url_template": "https://cal.example/praxis-am-see?name={name}"}),
        "retell": integrations.save(actor, practice, "retell", {
            "api_key": RETELL_KEY, "sync_enabled": "y", "sync_interval_minutes": "60"}),
    }
    for provider in outcomes:
        last = db.session.scalar(select(SyncRun).where(SyncRun.practice_id == practice_id,
                                                       SyncRun.provider == provider, SyncRun.status == "succeeded")
                                 .order_by(SyncRun.queued_at.desc()).limit(1))
        health.record_sync(practice_id, provider, status=last.status, records=last.records, now=last.finished_at)
    db.session.commit()
    return outcomes


class OutboundCounter:
    """Counts every HTTP request sent through ``requests`` in this process (the provider clients' transport),
    whatever its host: the proof that a request made no outbound call does not depend on which fake it would hit."""

    def __init__(self):
        self.count = 0
        self._original = requests.adapters.HTTPAdapter.send

    def __enter__(self):
        counter, original = self, self._original

        def send(adapter, request, *args, **kwargs):
            counter.count += 1
            return original(adapter, request, *args, **kwargs)

        requests.adapters.HTTPAdapter.send = send
        return self

    def __exit__(self, *exc_info):
        requests.adapters.HTTPAdapter.send = self._original


class StatementCounter:
    """Records the SQL statements (with their parameters) the engine executes while ``recording`` is on."""

    def __init__(self, engine):
        self.engine = engine
        self.statements = []
        self.recording = False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        if self.recording:
            self.statements.append((statement, parameters))

    def per_request(self, request, repeats):
        """(statements per ``request()`` averaged over ``repeats`` calls, the statements of the last one)."""
        total = 0
        for _ in range(repeats):
            self.statements, self.recording = [], True
            try:
                request()
            finally:
                self.recording = False
            total += len(self.statements)
        return total / repeats, self.statements


class Case:
    """One request the bench times: its URL and headers, its server times, the requests it caused at the
    providers (per provider) and through ``requests``, and its SQL statements."""

    def __init__(self, label, url, headers):
        self.label, self.url, self.headers = label, url, headers
        self.times, self.reached, self.sent, self.calls = [], {}, 0, 0
        self.sql_per_request, self.statements = 0, []

    def get(self, client, fakes, outbound, timed=False):
        """One GET (asserting 200), counting what it caused; returns the response."""
        before, sent = provider_requests(fakes), outbound.count
        start = time.perf_counter()
        response = client.get(self.url, headers=self.headers)
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, (self.url, response.status_code, response.get_data(as_text=True)[:300])
        if timed:
            self.times.append(elapsed)
        after = provider_requests(fakes)
        for name in fakes:
            self.reached[name] = self.reached.get(name, 0) + after[name] - before[name]
        self.sent += outbound.count - sent
        self.calls += 1
        return response

    @property
    def median(self):
        """Median server time in ms."""
        return statistics.median(self.times)

    def line(self, base):
        """The figures as one line, with the ratio of the median to ``base`` (the baseline's median)."""
        return (f"{self.label:44s} median {self.median:6.2f} ms   p95 {p95(self.times):6.2f} ms   "
                f"ratio {self.median / base:5.2f}   {self.sql_per_request:g} SQL per request")


def provider_requests(fakes):
    """Requests the fakes have received so far (their control requests excluded), per provider."""
    return {name: fake.request_count() for name, fake in fakes.items()}


def query_plans(engine, statements):
    """(statement, access lines of its query plan) for each statement (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on
    PostgreSQL), so the printout shows which index each read uses. On PostgreSQL sequential scans are switched off
    for the EXPLAIN: the tables read hold a handful of rows per practice, where the planner rightly prefers a scan,
    and the question is whether an index serves the read once they hold many."""
    plans = []
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        if engine.dialect.name == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                plans.append((statement, []))
                continue
            if engine.dialect.name == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                lines = [row[3] for row in cursor.fetchall()]
            else:
                cursor.execute("EXPLAIN " + statement, parameters)
                lines = [row[0].strip().removeprefix("->").strip() for row in cursor.fetchall()
                         if "Scan" in row[0] or "Join" in row[0] or "Loop" in row[0]]
            plans.append((statement, lines))
    finally:
        connection.rollback()
        connection.close()
    return plans


def poll_url(app):
    """The status poll's URL and headers (as htmx sends them from the Übersicht tab)."""
    with app.test_request_context():
        return url_for(POLL_ENDPOINT), POLL_HEADERS


def proxy_urls():
    """The proxied reads measured: Cal.com's event types, and its free slots of the next week for one type."""
    start = date.today() + timedelta(days=1)
    return {
        "event-types": "/api/proxy/calcom/event-types",
        "slots": f"/api/proxy/calcom/slots?event_type_id={EVENT_TYPE_ID}&start={start.isoformat()}"
                 f"&end={(start + timedelta(days=6)).isoformat()}&time_zone=Europe/Berlin",
    }


def measure(client, cases, fakes, outbound, sql, repeats):
    """Warm up, then time ``repeats`` rounds of one GET of each case in turn (so load changes on the machine
    touch baseline and cases alike), then count each case's SQL statements."""
    for case in cases:
        for _ in range(5):
            case.get(client, fakes, outbound)
    for _ in range(repeats):
        for case in cases:
            case.get(client, fakes, outbound, timed=True)
    for case in cases:
        case.sql_per_request, case.statements = sql.per_request(lambda case=case: case.get(client, fakes, outbound),
                                                                min(repeats, 20))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=5_000)
    parser.add_argument("--metrics", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    failures = []
    calcom = CalcomFake(**demo_seed()).start()
    retell = RetellFake(**retell_demo_seed()).start()
    fakes = {"calcom": calcom, "retell": retell}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, CALCOM_API_URL=calcom.url,
                             RETELL_API_URL=retell.url, HUB_SANDBOX=False, PROVIDER_MAX_RETRIES=0,
                             CACHE_KEY_PREFIX="praxis-bench-hub:", RATELIMIT_ENABLED=True,
                             RATELIMIT_STORAGE_URI=os.environ.get("CACHE_REDIS_URL") or "memory://",
                             RATELIMIT_KEY_PREFIX="praxis-bench-hub", API_RATE_LIMIT="1000000 per minute")
            with app.app_context():
                print(f"filling {url.split('@')[-1]} ...", flush=True)
                practice_id, admin_id = fill(args, random.Random(7))
                outcomes = connect(practice_id, admin_id)
                admin = db.session.get(User, admin_id)
                token = create_token(Actor(admin), admin, "bench")[1]
                cache.clear()  # only this bench's keys (CACHE_KEY_PREFIX)
                engine = db.engine
                counts = {name: db.session.scalar(select(func.count()).select_from(model))
                          for name, model in (("appointments", Appointment), ("metrics", IntegrationMetric),
                                              ("sync runs", SyncRun))}
                db.session.remove()
            # The requests run outside any app context, as in production: each gets its own context and session.
            sql = StatementCounter(engine)
            bearer = {"Authorization": f"Bearer {token}"}
            client = app.test_client()
            response = client.post("/auth/login", data={"email": "admin@bench.test", "password": PASSWORD})
            assert response.status_code == 303, response.status_code
            path, headers = poll_url(app)
            baseline = Case("baseline: GET /api/me (token)", "/api/me", bearer)
            poll = Case(f"status poll GET {path}", path, headers)
            proxies = {name: Case(f"proxy {name}, cached", proxy, bearer) for name, proxy in proxy_urls().items()}
            with OutboundCounter() as outbound:
                first = {}
                for name, case in proxies.items():  # the first call of each fills the cache
                    start = time.perf_counter()
                    body = case.get(client, fakes, outbound).get_json()
                    first[name] = (time.perf_counter() - start) * 1000
                    if body.get("cached") is not False:
                        failures.append(f"proxy {name}: the first call was answered from the cache")
                measure(client, [baseline, poll, *proxies.values()], fakes, outbound, sql, args.repeats)
                for name, case in proxies.items():
                    if case.get(client, fakes, outbound).get_json().get("cached") is not True:
                        failures.append(f"proxy {name}: the answer after {case.calls} calls was not cached")
            plans = query_plans(engine, poll.statements)
            fragment = client.get(path, headers=headers).get_data(as_text=True)
    finally:
        calcom.stop()
        retell.stop()
    report(args, url, app, counts, outcomes, baseline, poll, plans, fragment, proxies, first, failures)
    if failures:
        for failure in failures:
            print(f"FAILED: {failure}")
        sys.exit(1)


def report(args, url, app, counts, outcomes, baseline, poll, plans, fragment, proxies, first, failures):
    """Print the figures (and add to ``failures`` what broke a promise: zero outbound calls per poll, exactly one
    provider request per distinct proxied read)."""
    base = baseline.median
    print(f"database {url.split(':')[0]}, cache {app.config['CACHE_TYPE']}: {counts['appointments']} appointments, "
          f"{counts['metrics']} integration metrics, {counts['sync runs']} sync runs; both integrations saved "
          f"against the fakes ({', '.join(f'{name} {outcome.state}' for name, outcome in outcomes.items())}); "
          f"{args.repeats} rounds of one request each after a warm-up; load average {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} CPUs (absolute times follow the load; the ratios much less)")
    print(baseline.line(base))
    print(poll.line(base))
    reached = sum(poll.reached.values())
    print(f"  outbound calls during {poll.calls} polls: {reached} at the providers "
          f"({', '.join(f'{name} +{count}' for name, count in poll.reached.items())}), {poll.sent} sent through "
          f"`requests` ({'none, as required' if reached + poll.sent == 0 else 'MUST BE 0'}); fragment "
          f"{len(fragment)} bytes")
    if reached or poll.sent:
        failures.append(f"status poll: {poll.calls} polls caused {reached} provider requests ({poll.sent} sent)")
    if plans and url.startswith("postgresql"):
        print("  query plans (EXPLAIN with enable_seqscan off):")
    for statement, plan in plans:
        print(f"  SQL {' '.join(statement.split())[:100]} ...")
        for line in plan:
            print(f"      {line}")
    for name, case in proxies.items():
        reached = case.reached.get("calcom", 0)
        print(f"{'proxy ' + name + ', first call (uncached)':44s} {first[name]:6.2f} ms")
        print(case.line(base))
        print(f"  cached proxy answer: {case.median:.2f} ms (budget 5 ms: {'met' if case.median < 5 else 'NOT met'}); "
              f"Cal.com requests for {case.calls} calls: {reached} (expected exactly 1)")
        if reached != 1 or case.sent != 1:
            failures.append(f"proxy {name}: {reached} requests reached Cal.com ({case.sent} sent) for {case.calls} "
                            "calls of one operation with the same parameters (expected 1)")


if __name__ == "__main__":
    main()
