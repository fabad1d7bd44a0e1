"""Benchmark: a patient CSV import of 10,000 and of 100,000 rows, end to end.

Times create_csv_import + preview_import + run_import_job (the worker handler, called directly) for each file on a
fresh database, and, as the baseline measured in the same run, a bare bulk insert (``bulk_insert``, the app's
fastest write path) of the same 100,000 patients, already validated. Prints both import times, their ratio (linear
growth means about 10) and the ratio of the 100,000-row import to the bare insert. Target: 100,000 rows < 30 s.

The data is deterministic and realistic for a German practice: German names with umlauts, about 85 % with an
email, 90 % with a phone (mobile and landline, written in various ways), birth dates as DD.MM.YYYY, DD.MM.YY or
YYYY-MM-DD, 70 % with a booking id, a free-text column with quoted semicolons; UTF-8 with BOM, semicolons.

Files of 10,000 rows and more are validated by helper processes (one per CPU, at most 4); ``--processes 1``
measures a single process. The machine's load average is printed with the figures: other work on the machine
slows every figure, which is why the ratios matter more than the seconds; the CPU seconds (this process and its
validation helpers; on PostgreSQL without the server's) are printed too, since they vary less with that load, and
on SQLite, where all the work is done in this process, so is the ratio of CPU seconds.

Run: .venv/bin/python bench/patient_import.py [--processes N]   (a temp-file SQLite; TEST_DATABASE_URL is honoured)
"""

import argparse
import csv
import io
import os
import random
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from app import create_app
from app.accounts.models import User
from app.patients.importing.service import create_csv_import, preview_import, run_import_job
from app.patients.models import SQLITE_SEARCH_INDEX, Patient
from app.platform.database import bulk_insert, bulk_search_indexing
from app.platform.extensions import db
from app.platform.security.actor import Actor
from app.tenancy.models import Practice
from config import TestConfig

FIRST_NAMES = ("Anna", "Lena", "Jörg", "Jürgen", "Sophie", "Lukas", "Maximilian", "Marie", "Günther", "Paul",
               "Hannah", "Felix", "Renée", "Ömer", "Zoë", "Karl-Heinz", "Ursula", "Björn", "Mia", "Leon")
LAST_NAMES = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
              "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
              "Schwarz", "Zimmermann", "Krüger", "Hofmann", "Hartmann", "Lange", "Weiß", "Groß", "Öztürk")
DOMAINS = ("web.de", "gmx.de", "t-online.de", "gmail.com", "posteo.de", "outlook.de")
AREA_CODES = ("030", "040", "089", "0221", "069", "0711", "0351", "0341")
MOBILE_PREFIXES = ("0151", "0160", "0170", "0171", "0176", "0157", "0162")
NOTES = ("", "", "", "Rezept liegt vor", "Allergie; Pollen", "bevorzugt Termine vormittags", "Kassenpatient",
         "Privat", 'Hinweis: "Rückruf"')
HEADER = ["Patienten-ID", "Vorname", "Nachname", "E-Mail", "Telefon", "Geburtsdatum", "Notiz"]


def _plain(text):
    """A name as it appears in an email address (ü -> ue, no spaces or accents)."""
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("é", "e"), ("ë", "e")):
        text = text.replace(umlaut, spelled)
    return text.lower().replace(" ", "").replace("-", "")


def generate_rows(count, seed=20240611):
    """``count`` deterministic patient rows (header first)."""
    rng = random.Random(seed)
    rows = [HEADER]
    first_day = date(1930, 1, 1)
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{_plain(first)}.{_plain(last)}{index}@{rng.choice(DOMAINS)}" if rng.random() < 0.85 else ""
        if rng.random() < 0.1:
            phone = ""
        elif rng.random() < 0.7:
            prefix = rng.choice(MOBILE_PREFIXES)
            number = rng.randrange(10_000_000, 99_999_999) if prefix.startswith("015") else rng.randrange(
                1_000_000, 9_999_999)
            phone = rng.choice((f"{prefix} {number}", f"+49 {prefix[1:]} {number}", f"{prefix}/{number}"))
        else:
            phone = f"{rng.choice(AREA_CODES)} {rng.randrange(100_000, 9_999_999)}"
        born = first_day + timedelta(days=rng.randrange(0, 365 * 90))
        style = rng.random()
        if style < 0.7:
            birth = born.strftime("%d.%m.%Y")
        elif style < 0.8 and born.year > 1935:
            birth = born.strftime("%d.%m.%y")
        else:
            birth = born.isoformat()
        booking = f"P-{index:07d}" if rng.random() < 0.7 else ""
        rows.append([booking, first, last, email, phone, birth, rng.choice(NOTES)])
    return rows


def to_csv(rows):
    """The rows as an Excel-style CSV file: UTF-8 with BOM, semicolons."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


class ImportJobStub:
    """What the worker hands to run_import_job: a payload and the practice."""

    def __init__(self, import_job):
        self.payload = {"import_job_id": import_job.id}
        self.practice_id = import_job.practice_id


def fresh_database():
    """Empty tables, one practice with an admin and a default therapist; returns the admin's Actor."""
    db.session.remove()
    db.drop_all()
    db.create_all()
    practice = Practice(slug="bench", name="Bench", timezone="Europe/Berlin", settings={})
    db.session.add(practice)
    db.session.commit()
    admin = User(practice_id=practice.id, email="admin@bench.test", name="Admin", role="admin")
    therapist = User(practice_id=practice.id, email="t@bench.test", name="Therapeutin", role="therapist")
    db.session.add_all([admin, therapist])
    db.session.commit()
    practice.settings = {"default_therapist_id": therapist.id}
    db.session.commit()
    return Actor(admin)


def cpu_seconds():
    """CPU seconds used so far by this process and its finished child processes (the validation helpers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def time_import(content):
    """Seconds for upload, preview and commit of ``content`` on a fresh database (and the CPU seconds of all three),
    and the final counts."""
    actor = fresh_database()
    cpu_started = cpu_seconds()
    started = time.perf_counter()
    job = create_csv_import(actor, "patienten.csv", content)
    uploaded = time.perf_counter()
    preview_import(actor, job, job.mapping)
    previewed = time.perf_counter()
    assert job.counts["invalid"] == 0 and job.counts["flagged"] == 0, job.counts
    job.status = "queued"
    db.session.commit()
    run_import_job(ImportJobStub(job), lambda done, total: None)
    finished = time.perf_counter()
    phases = {"upload": uploaded - started, "preview": previewed - uploaded, "commit": finished - previewed,
              "CPU": cpu_seconds() - cpu_started}
    return finished - started, phases, dict(job.counts)


def time_bulk_insert():
    """Seconds for a bare bulk insert of the patients now in the database into emptied tables: the app's fastest
    write path (bulk_insert: COPY on PostgreSQL; on SQLite executemany with the search index filled in one pass),
    in batches of 5,000 in one transaction, without reading, validating, matching or reporting anything. Every
    column the import filled is written again as the import wrote it (search_text and sort_name included), so both
    maintain the same indexes; only the derived values are not computed again."""
    columns = [column for column in Patient.__table__.columns if column.name != "id"]
    values = [dict(row._mapping) for row in db.session.execute(select(*columns))]
    assert all(value["sort_name"] and value["search_text"] for value in values), "the import left columns empty"
    fresh_database()
    cpu_started = cpu_seconds()
    started = time.perf_counter()
    connection = db.session.connection()
    for start in range(0, len(values), 5000):
        with bulk_search_indexing(connection, "patients", "search_text", SQLITE_SEARCH_INDEX):
            bulk_insert(connection, Patient.__table__, values[start:start + 5000])
    db.session.commit()
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    assert db.session.scalar(select(func.count()).select_from(Patient)) == len(values)
    return elapsed, cpu, len(values)


def main():
    """Run both imports and the baseline; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=None, help="validation processes (default: CPUs, max 4)")
    parser.add_argument("--rows", type=int, default=100_000,
                        help="rows of the large file (default 100,000; the small one has a tenth)")
    arguments = parser.parse_args()
    rows = generate_rows(arguments.rows)
    small, large = to_csv(rows[:arguments.rows // 10 + 1]), to_csv(rows)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite3"
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, PATIENT_IMPORT_PROCESSES=arguments.processes)
        with app.app_context():
            small_time, small_phases, small_counts = time_import(small)
            large_time, large_phases, large_counts = time_import(large)
            bulk_time, bulk_cpu, bulk_rows = time_bulk_insert()
            db.session.remove()
            db.drop_all()
    print(f"database: {url.split('://')[0]}   file sizes: {len(small) / 1e6:.1f} MB, {len(large) / 1e6:.1f} MB   "
          f"CPUs: {os.cpu_count()}   validation processes: {arguments.processes or 'default'}   "
          f"load average before/after: {load_before:.1f}/{os.getloadavg()[0]:.1f}")
    for label, seconds, phases, counts in ((f"{arguments.rows // 10:,} rows", small_time, small_phases, small_counts),
                                           (f"{arguments.rows:,} rows", large_time, large_phases, large_counts)):
        detail = ", ".join(f"{name} {value:.2f} s" for name, value in phases.items())
        print(f"import {label:>13}: {seconds:7.2f} s   ({detail}; created {counts['created']})")
    print(f"bare bulk insert of the same {bulk_rows:,} patients: {bulk_time:7.2f} s   (CPU {bulk_cpu:.2f} s)")
    # On PostgreSQL the server does most of the bare insert's work, so a ratio of this process's CPU says nothing.
    cpu_ratio = (f"   (CPU {large_phases['CPU'] / bulk_cpu:.2f})" if url.startswith("sqlite")
                 else "   (CPU: the server's is not counted, so no ratio)")
    print(f"ratio large import / small import:     {large_time / small_time:6.2f}   (linear = 10; CPU "
          f"{large_phases['CPU'] / small_phases['CPU']:.2f})")
    print(f"ratio large import / bare bulk insert: {large_time / bulk_time:6.2f}{cpu_ratio}")
    if arguments.rows == 100_000:
        print(f"target 100k import < 30 s:             {'met' if large_time < 30 else 'MISSED'}")


if __name__ == "__main__":
    main()
