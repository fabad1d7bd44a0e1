"""Benchmark: the webhook receiver measured as production runs it (issue 16: at least 0.7 of a bare endpoint and
1,000 events/s on two cores).

Unlike bench/webhooks.py, nothing is switched off: gunicorn is started as the README's Production section starts it
(APP_ENV=production, --workers 2 (1 on SQLite) and --threads 8 by default), the rate limiter is ON (on Redis when
RATELIMIT_STORAGE_URI is set, else on memory://), and the load comes from `wrk`, a C load generator that costs the
shared cores little. WEBHOOK_RATE_LIMIT is raised to 10,000,000 per minute for the run, or the real limit
(100/min per endpoint) would refuse nearly all bench traffic: the limiter still runs and costs what it costs.

The database and the practice are built as in bench/webhooks.py (migrations, two therapists, a booking endpoint,
200 patients and 1,000 appointments through the real receiver as warm-up; on PostgreSQL then ANALYZEd, as
autovacuum would have). Then, alternately, the bare route
POST /bench/bare (bench/webhooks_app.py: verify HMAC, insert one row) and the real receiver
POST /api/webhooks/booking/<public_id> are loaded for D seconds each, R rounds, on the same server. Each phase
gets its own file of pre-signed requests (signed just before the phase; a fresh webhook-id each, so every real
event is applied: 70 % appointment.created, 25 % appointment.updated, 5 % patient.created), which a Lua script
(written next to it) hands out to wrk's threads, one request per line. A phase that uses up its file fails the run
(raise --pool).

Prints per phase events/s, p50, p99, CPU ms per request of the gunicorn workers and, when PostgreSQL runs on this
machine, of its server processes (both from /proc), the non-2xx count;
the workers' resident memory at the end (run long phases, e.g. -d 75, to see it after 50,000 events); then the
ratio real / bare (sums over the rounds) and the stored-event check: every real request answered 2xx is stored once
as accepted and applied (at least the 2xx answers, at most the requests sent: wrk stops with up to one request per
connection in flight), no duplicates, and the bare table likewise. Exits non-zero when a request
failed or the check fails.

wrk: /usr/bin/wrk (Debian/Ubuntu: `apt-get install wrk`). Without it, or with --python, a Python load generator
sends the same pre-signed files (threads with one keep-alive http.client connection each, as many as
--connections); it shares the cores with the server, so its figures are lower and its ratio less reliable.

Run: .venv/bin/python bench/webhooks_wrk.py [-d 10] [--rounds 2] [--workers 2] [--threads 8] [--connections 16]
     (a temp-file SQLite by default; for PostgreSQL + Redis give a dedicated database and Redis database, never
     `test`: DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/praxis_bench16
     RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/5 .venv/bin/python bench/webhooks_wrk.py -- its tables are
     dropped and re-created). On SQLite run --workers 1 (see the README: a second worker only adds lock waits).
"""

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from app import create_app
from app.platform.extensions import db
from app.webhooks.models import ACCEPTED, PROCESSED, WebhookEvent, WebhookEventAttempt
from bench.webhooks import (
    BARE_WARMUP,
    ENCRYPTION_KEY,
    PATIENTS,
    SECRET_KEY,
    WARM_APPOINTMENTS,
    Events,
    free_port,
    real_items,
    reset_database,
    send_all,
    setup,
    signed_headers,
    start_server,
    stop_server,
)
from bench.webhooks_app import BARE_EVENTS
from config import Config

BENCH_RATE_LIMIT = "10000000 per minute"
# Hands the pre-signed requests of the file in args[1] to wrk's threads (line i to thread i mod args[2]); counts
# what each thread sent and prints the phase's figures as one JSON line from done().
LUA = r"""
local threads, counter = {}, 1
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  requests, sent = {}, 0
  local n, count = 0, tonumber(args[2])
  for line in io.lines(args[1]) do
    if n % count == id - 1 then
      local path, msg, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      table.insert(requests, wrk.format("POST", path, {["Content-Type"] = "application/json",
        ["webhook-id"] = msg, ["webhook-timestamp"] = ts, ["webhook-signature"] = sig}, body))
    end
    n = n + 1
  end
end
function request()
  sent = sent + 1
  return requests[(sent - 1) % #requests + 1]
end
function done(summary, latency, requests)
  local total_sent, pool = 0, 0
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    pool = pool + #thread:get("requests")
  end
  local e = summary.errors
  io.write(string.format('WRK-JSON {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "sent": %d, "pool": %d}\n', summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99), total_sent, pool))
end
"""


def write_phase(path, url_path, secret, items):
    """The phase's request file: one pre-signed request per line (path, webhook-id, timestamp, signature, body)."""
    webhook = Webhook(secret)
    with open(path, "w", encoding="utf-8") as out:
        for msg_id, body in items:
            headers = signed_headers(webhook, msg_id, body)
            out.write(f"{url_path}\t{msg_id}\t{headers['webhook-timestamp']}\t{headers['webhook-signature']}\t{body}\n")


def worker_cpu_seconds(arbiter_pid):
    """User + system CPU seconds of the gunicorn workers (children of the arbiter), from /proc."""
    total = 0
    children = Path(f"/proc/{arbiter_pid}/task/{arbiter_pid}/children").read_text().split()
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds(url):
    """User + system CPU seconds of this machine's PostgreSQL server processes, the ones that ended included (the
    postmaster's reaped children: a connection opened and closed per request shows here), from /proc; 0 when
    the database (``url``) is SQLite (in the workers' own CPU) or runs elsewhere."""
    if not url.startswith("postgresql"):
        return 0
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat.rpartition(")")[2].split()
        if name == "postgres":
            total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


def worker_rss_mb(arbiter_pid):
    """Resident memory of each gunicorn worker in MB (VmRSS from /proc), for the memory after many events."""
    sizes = []
    for pid in Path(f"/proc/{arbiter_pid}/task/{arbiter_pid}/children").read_text().split():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        kilobytes = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        sizes.append(kilobytes / 1024)
    return sizes


def run_wrk(base, request_file, lua_file, args):
    """Load the server with wrk from ``request_file`` for args.duration seconds; returns the figures as a dict."""
    command = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{args.duration}s",
               "--timeout", "30s", "-s", str(lua_file), base, "--", str(request_file), str(args.wrk_threads)]
    result = subprocess.run(command, capture_output=True, text=True)  # noqa: S603 (fixed program)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr[-2000:]}")
    line = next(line for line in result.stdout.splitlines() if line.startswith("WRK-JSON "))
    return json.loads(line.removeprefix("WRK-JSON "))


def run_python(port, request_file, args):
    """The fallback load generator: --connections threads, each sending its share of the pre-signed file over one
    keep-alive connection until args.duration seconds have passed; returns the same figures as run_wrk."""
    lines = Path(request_file).read_text(encoding="utf-8").splitlines()
    latencies, counts, lock = [], {"requests": 0, "non2xx": 0, "socket_errors": 0, "sent": 0}, threading.Lock()
    deadline = time.perf_counter() + args.duration

    def sender(share):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, local = [], {"requests": 0, "non2xx": 0, "socket_errors": 0, "sent": 0}
        for line in share:
            if time.perf_counter() >= deadline:
                break
            path, msg_id, timestamp, signature, body = line.split("\t", 4)
            local["sent"] += 1
            start = time.perf_counter()
            try:
                connection.request("POST", path, body.encode(), {
                    "Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": timestamp,
                    "webhook-signature": signature})
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                local["socket_errors"] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append((time.perf_counter() - start) * 1e6)
            local["requests"] += 1
            local["non2xx"] += not 200 <= response.status < 300
        connection.close()
        with lock:
            latencies.extend(mine)
            for key, value in local.items():
                counts[key] += value

    threads = [threading.Thread(target=sender, args=(lines[index::args.connections],), daemon=True)
               for index in range(args.connections)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(latencies) or [0]
    return {**counts, "duration_us": (time.perf_counter() - start) * 1e6, "pool": len(lines),
            "p50_us": statistics.median(ordered), "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * .99))]}


def run(args, url, tmp):
    """Set up, serve, load and check; returns the process exit code."""
    env = {key: value for key, value in os.environ.items() if key not in ("TEST_DATABASE_URL",)}
    env.update(APP_ENV="production", DATABASE_URL=url, RATELIMIT_ENABLED="true", SECRET_KEY=SECRET_KEY,
               APP_ENCRYPTION_KEYS=ENCRYPTION_KEY, FLASK_APP="wsgi.py", PYTHONPATH=str(ROOT),
               WEBHOOK_RATE_LIMIT=BENCH_RATE_LIMIT, SESSION_COOKIE_SECURE="false")
    storage = env.get("RATELIMIT_STORAGE_URI", "memory://")
    reset_database(url, env, fresh=url.startswith(f"sqlite:///{tmp}"))
    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=SECRET_KEY, APP_ENCRYPTION_KEYS=ENCRYPTION_KEY)
    with app.app_context():
        public_id, secret = setup(app)
        db.session.remove()
    env["BENCH_WEBHOOK_SECRET"] = secret

    use_wrk = shutil.which("wrk") is not None and not args.python
    lua_file = Path(tmp) / "signed.lua"
    lua_file.write_text(LUA, encoding="utf-8")
    rng = random.Random(16)
    events = Events(rng)
    port = free_port()
    server = start_server(env, port, args.workers, args.threads, Path(tmp) / "gunicorn.log")
    base, real_path = f"http://127.0.0.1:{port}", f"/api/webhooks/booking/{public_id}"
    figures = {"bare": [], "real": []}
    try:
        warm = [events.patient_created() for _ in range(PATIENTS)]
        warm += [events.appointment_created() for _ in range(WARM_APPOINTMENTS)]
        failures = send_all(base + real_path, secret, warm[:PATIENTS], 8)[2]
        failures += send_all(base + real_path, secret, warm[PATIENTS:], 8)[2]
        failures += send_all(base + "/bench/bare", secret, [(f"warm_{n}", '{"warm":true}') for n in range(200)],
                             8)[2]
        if failures:
            print(f"warm-up failed: {failures[:5]}")
            return 1
        analyze_as_autovacuum_would(app)
        updates = rng.sample(range(WARM_APPOINTMENTS), k=WARM_APPOINTMENTS)
        print(f"gunicorn (APP_ENV=production): {args.workers} worker(s) x {args.threads} threads; limiter on "
              f"{storage.split(':')[0]}; load: " + (f"wrk, {args.wrk_threads} threads, {args.connections} connections"
                                                    if use_wrk else f"Python, {args.connections} connections")
              + f"; {args.duration} s per phase; database {url.split(':')[0]}")
        for round_number in range(1, args.rounds + 1):
            for kind in ("bare", "real"):
                if kind == "real":
                    items, path = real_items(events, rng, args.pool, updates), real_path
                else:
                    body = '{"type":"bench.bare","data":{}}'
                    items, path = [(f"bare{round_number}_{n:07d}", body) for n in range(args.pool)], "/bench/bare"
                request_file = Path(tmp) / f"{kind}{round_number}.tsv"
                write_phase(request_file, path, secret, items)
                cpu, database_cpu = worker_cpu_seconds(server.pid), database_cpu_seconds(url)
                result = run_wrk(base, request_file, lua_file, args) if use_wrk else run_python(port, request_file,
                                                                                                  args)
                result["cpu_s"] = worker_cpu_seconds(server.pid) - cpu
                result["database_cpu_s"] = database_cpu_seconds(url) - database_cpu
                figures[kind].append(result)
                report(f"{kind} round {round_number}", result)
                if result["sent"] > result["pool"]:
                    print(f"FAILED: the phase used up its {result['pool']} pre-signed requests; raise --pool")
                    return 1
        served = sum(result["requests"] for kind in figures for result in figures[kind])
        print(f"worker memory after {served + PATIENTS + WARM_APPOINTMENTS + BARE_WARMUP:,} requests: "
              + ", ".join(f"{size:.0f} MB" for size in worker_rss_mb(server.pid)) + " (VmRSS per worker)")
    finally:
        stop_server(server)
    return check(app, url, figures)


def analyze_as_autovacuum_would(app):
    """On PostgreSQL, ANALYZE the warmed-up tables once, as autovacuum does in production once a table has grown
    by a tenth. This machine's PostgreSQL runs with autovacuum off, and without statistics its generic plans read
    the practice's patients through the wrong index for every appointment event (a lookup by the unique booking id
    became a filter over all 1,000 patients: 0.3 ms of PostgreSQL per event, growing with the table). SQLite
    gathers no statistics in production either, so nothing is done there."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("ANALYZE")
        db.session.remove()


def report(name, result):
    """Print one phase's figures."""
    rate = result["requests"] / (result["duration_us"] / 1e6)
    cpu_ms = result["cpu_s"] * 1000 / max(result["requests"], 1)
    database_ms = result["database_cpu_s"] * 1000 / max(result["requests"], 1)
    print(f"{name:14s} {rate:8.0f} events/s   p50 {result['p50_us'] / 1000:7.1f} ms   "
          f"p99 {result['p99_us'] / 1000:7.1f} ms   CPU {cpu_ms:5.2f} ms/request"
          + (f" (+ PostgreSQL {database_ms:4.2f})" if database_ms else "")
          + f"   non-2xx {result['non2xx']}   socket errors {result['socket_errors']}")


def check(app, url, figures):
    """The ratio and the stored-event check; returns the exit code."""
    def total(kind, key):
        return sum(result[key] for result in figures[kind])

    def rate(kind):
        return total(kind, "requests") / (total(kind, "duration_us") / 1e6)

    ratio = rate("real") / rate("bare")
    print(f"real {rate('real'):.0f} events/s, bare {rate('bare'):.0f} events/s: ratio real / bare {ratio:.2f} "
          f"(issue 16: >= 0.7 and >= 1,000 events/s on PostgreSQL + Redis, >= 0.6 on SQLite)")
    with app.app_context():
        outcomes = dict(db.session.execute(select(WebhookEvent.outcome, func.count())
                                           .group_by(WebhookEvent.outcome)).all())
        attempts = dict(db.session.execute(select(WebhookEventAttempt.outcome, func.count())
                                           .group_by(WebhookEventAttempt.outcome)).all())
        bare_rows = db.session.scalar(select(func.count()).select_from(BARE_EVENTS))
        db.session.remove()
        if not url.startswith("sqlite"):
            db.engine.dispose()
    warm = PATIENTS + WARM_APPOINTMENTS
    accepted = outcomes.get(ACCEPTED, 0) - warm
    bare = bare_rows - 200
    failed = total("real", "non2xx") + total("real", "socket_errors") + total("bare", "non2xx") + total(
        "bare", "socket_errors")
    ok_real = total("real", "requests") - total("real", "non2xx")
    ok_bare = total("bare", "requests") - total("bare", "non2xx")
    stored_ok = (ok_real <= accepted <= total("real", "sent") and ok_bare <= bare <= total("bare", "sent")
                 and attempts.get(PROCESSED, 0) == accepted + warm and set(outcomes) == {ACCEPTED})
    print(f"stored: {accepted} accepted real events for {ok_real} 2xx answers ({total('real', 'sent')} sent), "
          f"event outcomes {outcomes}, attempts {attempts}; {bare} bare rows for {ok_bare} 2xx answers "
          f"({total('bare', 'sent')} sent): " + ("every 2xx stored once" if stored_ok else "MISMATCH"))
    if failed or not stored_ok:
        print("FAILED: " + ("some requests were not answered 2xx; " if failed else "")
              + ("the stored events do not match the answers" if not stored_ok else ""))
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-d", "--duration", type=int, default=10, help="seconds per phase (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="bare + real rounds, alternated (default 2)")
    parser.add_argument("--pool", type=int, default=None,
                        help="pre-signed requests per phase (default 2,500 per second of --duration)")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (default 2 on PostgreSQL, 1 on SQLite as the README says)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (default 8)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--python", action="store_true", help="use the Python load generator even if wrk exists")
    args = parser.parse_args()
    args.pool = args.pool or int(2500 * args.duration)
    if shutil.which("wrk") is None and not args.python:
        print("wrk not found (Debian/Ubuntu: apt-get install wrk); using the Python load generator")
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite3"
        args.workers = args.workers or (1 if url.startswith("sqlite") else 2)
        sys.exit(run(args, url, tmp))


if __name__ == "__main__":
    main()
