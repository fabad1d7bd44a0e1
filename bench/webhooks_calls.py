"""Benchmark: Python function calls per webhook event, the receiver's CPU work counted rather than timed.

bench/webhooks_wrk.py gives the figures the issue names (events/s under gunicorn and wrk), but on a shared 2-core
machine the same server's throughput drifts by a third within minutes, more than most single changes move it. A
function-call count does not drift: the same code on the same data makes the same calls. So this bench builds the
database and the practice as bench/webhooks.py does (migrations, two therapists, a booking endpoint, 200 patients and
1,000 appointments through the receiver as warm-up), then sends N events of the wrk bench's mix (70 %
appointment.created, 25 % appointment.updated, 5 % patient.created) and N requests of the bare route
(bench/webhooks_app.py: verify HMAC, insert one row) through the whole WSGI app in this process, each group under
cProfile, and prints the calls per request of each, the ratio real / bare, and the calls per event type. The rate
limiter is on (Redis with RATELIMIT_STORAGE_URI). Every request must be answered 200.

Compare two commits by running it in each tree (same database, same N). The call counts repeat exactly on
SQLite; on PostgreSQL they vary by a few calls per event (psycopg's wait loop is called as often as the socket is
not ready yet). The profiled milliseconds are printed for orientation only: cProfile inflates them several times.

Run: .venv/bin/python bench/webhooks_calls.py [-n 1000]
     (a temp-file SQLite by default; for PostgreSQL give a dedicated database, never `test`:
     DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/praxis_calls .venv/bin/python bench/webhooks_calls.py
     -- its tables are dropped and re-created)
"""

import argparse
import cProfile
import json
import os
import pstats
import random
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from standardwebhooks.webhooks import Webhook

from app import create_app
from app.platform.extensions import db
from bench.webhooks import (
    ENCRYPTION_KEY,
    PATIENTS,
    SECRET_KEY,
    WARM_APPOINTMENTS,
    Events,
    real_items,
    reset_database,
    setup,
    signed_headers,
)
from bench.webhooks_app import create_bench_app
from config import Config, ProdConfig

BENCH_RATE_LIMIT = "10000000 per minute"


def profiled(client, path, requests):
    """Send the (body, headers) ``requests`` to ``path`` under cProfile; returns (calls, seconds) per request."""
    profile = cProfile.Profile()
    statuses = []
    profile.enable()
    for body, headers in requests:
        statuses.append(client.post(path, data=body, headers=headers).status_code)
    profile.disable()
    if set(statuses) != {200}:
        raise SystemExit(f"FAILED: answers other than 200 to {path}: {sorted(set(statuses))}")
    stats = pstats.Stats(profile)
    return stats.total_calls / len(requests), stats.total_tt / len(requests)


def run(url, count, fresh):
    """Build, warm up, and count; prints the figures."""
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "APP_ENCRYPTION_KEYS": ENCRYPTION_KEY,
           "FLASK_APP": "wsgi.py", "PYTHONPATH": str(ROOT)}
    env.pop("TEST_DATABASE_URL", None)
    reset_database(url, env, fresh=fresh)
    settings = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET_KEY, "APP_ENCRYPTION_KEYS": ENCRYPTION_KEY}
    app = create_app(Config, **settings)
    with app.app_context():
        public_id, secret = setup(app)
        db.session.remove()
    # As production runs it (ProdConfig), the limiter on; the cookie is not Secure because the test client is
    # not on HTTPS (it sends no cookie anyway).
    served = create_bench_app(ProdConfig, secret, RATELIMIT_ENABLED=True, WEBHOOK_RATE_LIMIT=BENCH_RATE_LIMIT,
                              RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
                              SESSION_COOKIE_SECURE=False, **settings)
    client, webhook, rng = served.test_client(), Webhook(secret), random.Random(16)
    events, path = Events(rng), f"/api/webhooks/booking/{public_id}"

    def signed(items):
        return [(body, signed_headers(webhook, msg_id, body)) for msg_id, body in items]

    profiled(client, path, signed([events.patient_created() for _ in range(PATIENTS)]))
    profiled(client, path, signed([events.appointment_created() for _ in range(WARM_APPOINTMENTS)]))
    profiled(client, "/bench/bare", signed([(f"warm_{n}", '{"warm":true}') for n in range(200)]))

    items = real_items(events, rng, count, rng.sample(range(WARM_APPOINTMENTS), k=WARM_APPOINTMENTS))
    by_type = defaultdict(list)
    for msg_id, body in items:
        by_type[json.loads(body)["type"]].append((msg_id, body))
    bare_calls, bare_seconds = profiled(client, "/bench/bare",
                                        signed([(f"bare_{n:07d}", '{"type":"bench.bare","data":{}}')
                                                for n in range(count)]))
    real_calls, real_seconds = profiled(client, path, signed(items))
    print(f"{count} requests each through the WSGI app, cProfile; database {url.split(':')[0]}, limiter on "
          f"{served.config['RATELIMIT_STORAGE_URI'].split(':')[0]}")
    print(f"bare  {bare_calls:7.0f} calls per request   ({bare_seconds * 1000:.2f} ms profiled)")
    print(f"real  {real_calls:7.0f} calls per event     ({real_seconds * 1000:.2f} ms profiled)")
    for event_type in sorted(by_type):
        calls, _ = profiled(client, path, signed(_fresh(events, event_type, len(by_type[event_type]), rng)))
        print(f"      {calls:7.0f} calls per {event_type} ({len(by_type[event_type])} more events of this type)")
    print(f"ratio real / bare: {real_calls / bare_calls:.2f} calls (lower is better)")
    return 0


def _fresh(events, event_type, count, rng):
    """``count`` new events of ``event_type`` (updates of appointments of the warm-up, which are still there)."""
    if event_type == "patient.created":
        return [events.patient_created() for _ in range(count)]
    if event_type == "appointment.created":
        return [events.appointment_created() for _ in range(count)]
    numbers = rng.sample(range(WARM_APPOINTMENTS), min(count, WARM_APPOINTMENTS))
    return [events.appointment_updated(number, version=20) for number in numbers]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=1000, help="real events and bare requests (1000)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    if url:
        if url.rstrip("/").endswith("/test"):
            raise SystemExit("never the CI database `test`: give a dedicated one")
        return run(url, args.count, fresh=False)
    with tempfile.TemporaryDirectory(prefix="webhooks-calls-") as tmp:
        return run(f"sqlite:///{tmp}/bench.sqlite3", args.count, fresh=True)


if __name__ == "__main__":
    sys.exit(main())
