"""Benchmark: webhook ingestion throughput under gunicorn (budget: at least half of a bare "verify HMAC and insert
one row" endpoint on the same server, DESIGN.md §8).

Builds a fresh database with the migrations (`flask db upgrade`), a practice with two therapists and a booking-tool
endpoint, then starts gunicorn on bench/webhooks_app.py: the real app plus the bare baseline route POST /bench/bare
(same process, same database, same workers and threads). Warm-up: patient.created events for the patients and
appointment.created events for a first set of appointments, through the real receiver. Then N signed events are
sent by C concurrent senders (threads, one requests.Session each) three times: to the bare route, to the real
receiver POST /api/webhooks/booking/<public_id>, and to the bare route again (its two runs are averaged, to cancel
drift). The real events are a realistic mix, each with its own webhook-id so every one is applied: 70 %
appointment.created (new appointments of the known patients), 25 % appointment.updated (each of a different
appointment from the warm-up, newer than the stored update), 5 % patient.created. Each request is signed just
before it is sent (the same cost on both routes).

Prints events/s, p50 and p99 latency and the number of non-2xx answers of each run, the ratio real / bare, and
checks afterwards that every event was stored as accepted and applied (processed). Exits non-zero when any request
failed or any event is missing. The senders share the machine with the server, so absolute figures are modest;
the ratio is the figure to read.

Run: .venv/bin/python bench/webhooks.py [-n 2000] [-c 16] [--workers 1] [--threads 8]
     (a temp-file SQLite database in WAL mode by default; for PostgreSQL give a dedicated database, never `test`:
     DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/praxis_bench .venv/bin/python bench/webhooks.py
     -- its tables are dropped and re-created)
"""

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests
from sqlalchemy import func, select, text
from standardwebhooks.webhooks import Webhook

from app import create_app
from app.accounts.models import User
from app.platform.extensions import db
from app.platform.security.actor import Actor
from app.tenancy.models import Practice
from app.webhooks.endpoints import create_endpoint
from app.webhooks.models import ACCEPTED, PROCESSED, WebhookEvent, WebhookEventAttempt
from bench.webhooks_app import BARE_EVENTS
from config import Config

SECRET_KEY = "bench-secret-key-" + "x" * 32
ENCRYPTION_KEY = "q2nqZ0fM3o0hG8m0m3wT0Yl5sSx0p8Jb1m7T3d0G9kU="  # a fixed Fernet key, for benchmarks only
THERAPISTS = ["Dr. Maria Weber", "Jonas Keller"]
SERVICES = ["Physiotherapie", "Manuelle Therapie", "Lymphdrainage", "Krankengymnastik"]
FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hanna", "Jonas", "Lena"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Koch"]
PATIENTS = 200
WARM_APPOINTMENTS = 1000  # created in the warm-up; the timed updates each change a different one of them
BARE_WARMUP = 200


def compact(payload):
    """JSON text as senders send it (no whitespace, non-ASCII kept)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


class Events:
    """Builds the booking tool's events: distinct webhook-ids and appointment ids, plausible data."""

    def __init__(self, rng):
        self.rng = rng
        self.counter = 0
        self.appointments = 0
        self.patients = 0
        self.base = datetime.now(UTC).replace(microsecond=0)

    def _envelope(self, event_type, data):
        self.counter += 1
        msg_id = f"msg_bench_{self.counter:07d}"
        occurred = (self.base + timedelta(seconds=self.counter)).isoformat()
        return msg_id, compact({"id": msg_id, "type": event_type, "occurred_at": occurred, "data": data})

    def patient_created(self):
        """A new patient of the booking tool."""
        number = self.patients
        self.patients += 1
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        return self._envelope("patient.created", {
            "patient_id": f"BP-{number:06d}", "first_name": first, "last_name": last,
            "email": f"{first}.{last}.{number}@example.test".lower(), "phone": f"0170 {number:07d}",
            "birth_date": (datetime(1950, 1, 1) + timedelta(days=self.rng.randrange(25000))).date().isoformat()})

    def _appointment(self, number, version, status="scheduled"):
        start = (self.base + timedelta(days=1 + number % 90, hours=number % 9)).astimezone(
            UTC).replace(minute=0, second=0)
        return {"appointment_id": f"BA-{number:07d}", "patient_id": f"BP-{number % PATIENTS:06d}",
                "start": start.isoformat(), "duration_minutes": self.rng.choice((30, 45, 60)),
                "therapist_name": THERAPISTS[number % len(THERAPISTS)], "service_name": self.rng.choice(SERVICES),
                "status": status, "updated_at": (self.base + timedelta(minutes=version)).isoformat()}

    def appointment_created(self):
        """A new appointment of one of the known patients."""
        number = self.appointments
        self.appointments += 1
        return self._envelope("appointment.created", self._appointment(number, 0))

    def appointment_updated(self, number, version):
        """A later version of appointment ``number`` (moved, or confirmed)."""
        return self._envelope("appointment.updated",
                              self._appointment(number, version, self.rng.choice(("scheduled", "confirmed"))))


def real_items(events, rng, count, updates):
    """``count`` real events in the bench's mix; appointment.updated events each change a different warm-up
    appointment (from ``updates``, consumed) while any are left."""
    items = []
    for index in range(count):
        roll = index % 20
        if roll < 1:
            items.append(events.patient_created())
        elif roll < 6 and updates:
            items.append(events.appointment_updated(updates.pop(), version=10))
        else:
            items.append(events.appointment_created())
    rng.shuffle(items)
    return items


def signed_headers(webhook, msg_id, body):
    """Standard Webhooks headers of ``body``, signed now (the receivers allow 5 minutes of clock difference)."""
    now = datetime.now(UTC)
    return {"Content-Type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": webhook.sign(msg_id, now, body)}


def send_all(url, secret, items, concurrency):
    """POST every (webhook-id, body) item, signed just before it is sent, with ``concurrency`` threads; returns
    (seconds, latencies in ms, failures)."""
    webhook = Webhook(secret)
    latencies, failures, lock = [], [], threading.Lock()

    def sender(chunk):
        session = requests.Session()
        mine, bad = [], []
        for msg_id, body in chunk:
            headers = signed_headers(webhook, msg_id, body)
            start = time.perf_counter()
            try:
                response = session.post(url, data=body.encode(), headers=headers, timeout=60)
                status = response.status_code
            except requests.RequestException as error:
                status = f"{type(error).__name__}"
            mine.append((time.perf_counter() - start) * 1000)
            if not (isinstance(status, int) and 200 <= status < 300):
                bad.append((status, getattr(response, "text", "")[:200] if isinstance(status, int) else ""))
        session.close()
        with lock:
            latencies.extend(mine)
            failures.extend(bad)

    threads = [threading.Thread(target=sender, args=(items[index::concurrency],), daemon=True)
               for index in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies, failures


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reset_database(url, env, fresh):
    """Drop what a previous run left (unless the database is a ``fresh`` temp file) and migrate."""
    if not fresh:
        app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=SECRET_KEY,
                         APP_ENCRYPTION_KEYS=ENCRYPTION_KEY)
        with app.app_context():
            BARE_EVENTS.drop(db.engine, checkfirst=True)
            db.drop_all()
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP TABLE IF EXISTS bench_fill")  # bench/appointments_tab.py's marker
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            db.engine.dispose()
    flask = [str(ROOT / ".venv/bin/flask"), "db", "upgrade"]
    subprocess.run(flask, cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603 (fixed program)


def setup(app):
    """The practice, its therapists, the bench table and the booking endpoint; returns (public_id, secret)."""
    BARE_EVENTS.create(db.engine)
    practice = Practice(slug="bench", name="Bench", timezone="Europe/Berlin", settings={})
    db.session.add(practice)
    db.session.commit()
    users = [User(practice_id=practice.id, email=f"t{index}@bench.test", name=name, role="therapist")
             for index, name in enumerate(THERAPISTS)]
    db.session.add_all(users)
    db.session.commit()
    practice.settings = {"default_therapist_id": users[0].id}
    db.session.commit()
    endpoint, secret = create_endpoint(Actor(practice_id=practice.id), "booking")
    return endpoint.public_id, secret


def start_server(env, port, workers, threads, log_path, app_spec="bench.webhooks_app:create_bench_app()"):
    """gunicorn serving ``app_spec`` (the webhooks bench app by default); returns the process once /api/health
    answers."""
    command = [str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
               "--threads", str(threads), "--timeout", "120", "--error-logfile", str(log_path), app_spec]
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,  # noqa: S603 (fixed program)
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.2)
    stop_server(process)
    raise RuntimeError(f"gunicorn did not answer /api/health within 60 s:\n{log_path.read_text()[-3000:]}")


def stop_server(process):
    """Stop gunicorn gracefully (SIGTERM to the arbiter), killing it if it does not end within 30 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def report(name, count, seconds, latencies, failures):
    """Print one run's figures; returns its events/s."""
    rate = count / seconds
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{name:34s} {rate:8.0f} events/s   p50 {statistics.median(ordered):7.1f} ms   p99 {p99:7.1f} ms   "
          f"non-2xx {len(failures)}")
    for status, body in failures[:5]:
        print(f"    failed: {status} {body}")
    return rate


def run(args, url, tmp):
    """Set up, serve, send and check; returns the process exit code."""
    env = {key: value for key, value in os.environ.items() if key not in ("TEST_DATABASE_URL",)}
    env.update(APP_ENV="embedded", DATABASE_URL=url, RATELIMIT_ENABLED="false", SECRET_KEY=SECRET_KEY,
               APP_ENCRYPTION_KEYS=ENCRYPTION_KEY, FLASK_APP="wsgi.py", PYTHONPATH=str(ROOT))
    reset_database(url, env, fresh=url.startswith(f"sqlite:///{tmp}"))
    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=SECRET_KEY, APP_ENCRYPTION_KEYS=ENCRYPTION_KEY)
    with app.app_context():
        public_id, secret = setup(app)
        db.session.remove()
    env["BENCH_WEBHOOK_SECRET"] = secret

    rng = random.Random(11)
    events = Events(rng)
    port = free_port()
    server = start_server(env, port, args.workers, args.threads, Path(tmp) / "gunicorn.log")
    base = f"http://127.0.0.1:{port}"
    real_url, bare_url = f"{base}/api/webhooks/booking/{public_id}", f"{base}/bench/bare"
    try:
        warm = [events.patient_created() for _ in range(PATIENTS)]
        warm += [events.appointment_created() for _ in range(WARM_APPOINTMENTS)]
        _, _, failures = send_all(real_url, secret, warm[:PATIENTS], args.concurrency)
        _, _, more = send_all(real_url, secret, warm[PATIENTS:], args.concurrency)
        _, _, bare_failures = send_all(bare_url, secret, [(f"warm_{index}", '{"warm":true}')
                                                         for index in range(BARE_WARMUP)], args.concurrency)
        if failures or more or bare_failures:
            print(f"warm-up failed: {(failures + more + bare_failures)[:5]}")
            return 1

        count = args.events
        updates = rng.sample(range(WARM_APPOINTMENTS), k=min(WARM_APPOINTMENTS, count // 4))
        real = real_items(events, rng, count, updates)
        bare = [[(f"bare{run}_{index:07d}", body) for index, (_, body) in enumerate(real)] for run in (1, 2)]

        print(f"gunicorn: {args.workers} worker(s) x {args.threads} threads; {args.concurrency} concurrent senders; "
              f"{count} events per run; database {url.split(':')[0]}")
        rates, all_failures = {}, 0
        for name, target, items in (("bare (verify HMAC + insert), run 1", bare_url, bare[0]),
                                     ("real receiver", real_url, real),
                                     ("bare (verify HMAC + insert), run 2", bare_url, bare[1])):
            seconds, latencies, failures = send_all(target, secret, items, args.concurrency)
            rates[name] = report(name, count, seconds, latencies, failures)
            all_failures += len(failures)
    finally:
        stop_server(server)

    bare_rate = (rates["bare (verify HMAC + insert), run 1"] + rates["bare (verify HMAC + insert), run 2"]) / 2
    ratio = rates["real receiver"] / bare_rate
    print(f"ratio real / bare (mean of both bare runs): {ratio:.2f}   (budget >= 0.5: "
          f"{'met' if ratio >= 0.5 else 'NOT met'})")

    with app.app_context():
        accepted = db.session.scalar(select(func.count()).select_from(WebhookEvent)
                                     .where(WebhookEvent.outcome == ACCEPTED))
        outcomes = dict(db.session.execute(select(WebhookEventAttempt.outcome, func.count())
                                           .group_by(WebhookEventAttempt.outcome)).all())
        bare_rows = db.session.scalar(select(func.count()).select_from(BARE_EVENTS))
        appointments = db.session.scalar(text("SELECT count(*) FROM appointments"))
        db.session.remove()
        if not url.startswith("sqlite"):
            db.engine.dispose()
    expected = len(warm) + count
    print(f"accepted events stored: {accepted} (expected {expected}: {len(warm)} warm-up + {count} timed); "
          f"attempts by outcome {outcomes}; appointments {appointments}; bare rows {bare_rows} "
          f"(expected {BARE_WARMUP + 2 * count})")
    lost = accepted != expected or outcomes.get(PROCESSED, 0) != expected or bare_rows != BARE_WARMUP + 2 * count
    if all_failures or lost:
        print("FAILED: " + ("some requests were not answered 2xx; " if all_failures else "")
              + ("some events were lost or not applied" if lost else ""))
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--events", type=int, default=2000, help="events per timed run (default 2000)")
    parser.add_argument("-c", "--concurrency", type=int, default=16, help="concurrent senders (default 16)")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (default 1, as `make run`)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (default 8)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite3"
        sys.exit(run(args, url, tmp))


if __name__ == "__main__":
    main()
