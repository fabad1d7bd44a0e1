"""Every page as every role in both languages, checked for what a practice should never read (issue 17, item 11):
a dotted code ("patients.read", "calcom.booking_created"), a Python dict or list, an ISO timestamp, or an English
word on a German page.

The pages are found in ``app.url_map``: every GET rule outside /static and /api, its URL arguments filled from the
demo data (app.demo.load_demo plus the events, calls, runs and audit entries added below): an ``any(...)``
argument in each of its values, ``provider`` as each integration, ``token`` as a real "Meine Termine" link, and
``<name>_id`` as the lowest id of the demo practice's rows in the table named after it. A new page is swept
without touching this file; a page whose arguments cannot be filled fails the test, so it is never skipped
silently. Answers that are not HTML (downloads, JSON) and refusals (403, 404, redirects) are not checked; an
answer of 500 fails. What is checked is the visible text: scripts, styles, attributes (hidden inputs with them)
and the one place meant to show raw data (the indented redacted payload of an event, ``pre.payload-json``) are
removed first."""

import html
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import url_for
from sqlalchemy import inspect, select, text

from app.access.models import Membership
from app.accounts.models import User
from app.appointments.models import Call
from app.demo import DEMO_PASSWORD, load_demo
from app.integrations.models import SyncRun
from app.patients.importing.models import PatientImportJob
from app.patients.links import create_link, link_token
from app.patients.models import Patient
from app.patients.reviews.service import hold_for_review
from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.extensions import db as database
from app.platform.security.actor import Actor
from app.providers.registry import ACCESS_PROVIDERS, INTEGRATIONS
from app.tenancy.models import Practice
from app.webhooks.redaction import preview
from tests.webhook_factories import make_endpoint, make_event

ROLES = {"admin": "admin@demo.test", "assistant": "empfang@demo.test", "therapist": "therapeut@demo.test",
         "billing": "abrechnung@demo.test"}
LANGUAGES = ("de", "en")
CONTRACTS = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"

# Words of an English UI that are not also German words (so "Name", "Status", "Filter", "Detail", "Start",
# "Export", "Import", "Service", "Team" and "Link" are not listed).
_ENGLISH_TEXT = """
the and of with from not yes save cancel delete edit new search settings error failed processed accepted receipt
pending ignored duplicate rejected created updated user users patients appointment appointments event events page
next previous back open close email phone date time source type sign password role active disabled enabled none
never today show all changes history call calls booked cancelled scheduled unknown retry received endpoint secret
payload view opened record records running queued succeeded therapist billing assistant outcome triggered attempt
attempts please enter choose file upload rows row valid invalid matched unmatched summary sentiment done
mark assign inbox review reviews merge outbox sent subject recipient body reason wrong locked hours minutes
seconds yesterday tomorrow week month year until only changed by what when who which there here this that
"""
ENGLISH_WORDS = frozenset(_ENGLISH_TEXT.split())
# Proper names and loan words a German page may carry.
ALLOWED_WORDS = {"Cal", "com", "Retell", "ai", "Fitpass", "Friction", "Wellhub", "E-Mail", "Webhook", "Webhooks",
                 "Dashboard", "Hub", "API", "Token", "Praxis", "Secret"}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"https?://\S+")
_DOTTED = re.compile(r"(?<![\w.@/-])([a-z][a-z0-9_]+(?:\.[a-z][a-z0-9_]*)+)(?![\w/-])")
_HOST_OR_FILE = {"com", "de", "test", "org", "net", "io", "ai", "example", "local", "csv", "json", "txt", "pdf"}
_PYTHON = re.compile(r"[{\[]\s*'[^']*'\s*[:,\]}]|\{\}|\[\]")
_PLACEHOLDER = re.compile(r"\{\w+\}")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_WORD = re.compile(r"[A-Za-zÄÖÜäöüß]+(?:-[A-Za-zÄÖÜäöüß]+)*")
_INVISIBLE = re.compile(r"<(script|style|template)\b.*?</\1>|<pre class=\"payload-json\".*?</pre>|<!--.*?-->",
                        re.S | re.I)


def visible_text(page):
    """The text a person sees: without scripts, styles, comments, the raw payload view, tags and attributes."""
    page = _INVISIBLE.sub(" ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def problems(page, language):
    """What is wrong in the visible text of ``page`` shown in ``language``."""
    seen = visible_text(page)
    plain = _PLACEHOLDER.sub(" ", _URL.sub(" ", _EMAIL.sub(" ", seen)))  # "{email}" in a URL template is no word
    found = [f"code {token!r}" for token in _DOTTED.findall(plain) if token.rsplit(".", 1)[-1] not in _HOST_OR_FILE]
    found += [f"Python value near {seen[max(m.start() - 30, 0):m.end() + 30]!r}" for m in _PYTHON.finditer(seen)]
    found += [f"ISO timestamp {m.group()!r}" for m in _ISO.finditer(seen)]
    if language == "de":
        found += sorted({f"English word {word!r}" for word in _WORD.findall(_DOTTED.sub(" ", plain))
                         if word.lower() in ENGLISH_WORDS and word not in ALLOWED_WORDS})
    return found


def add_sweep_data(db, app):
    """The demo data plus what makes every page show something: webhook events of each source (one matched to a
    patient, one failed, one refused), calls, a finished sync run, a "Meine Termine" link and audit entries with
    the details the app records. Returns the link's token."""
    load_demo()
    practice = db.session.scalar(select(Practice).where(Practice.slug == "demo"))
    admin = db.session.scalar(select(User).where(User.email == ROLES["admin"]))
    lena = db.session.scalar(select(Patient).where(Patient.booking_system_id == "DEMO-001"))
    db.session.add(Membership(practice_id=practice.id, provider="fitpass", external_id="FP-SWEEP001",
                              patient_id=lena.id))
    booking = make_endpoint(practice)
    calcom = make_endpoint(practice, source="calcom", secret="calcom-secret")
    retell = make_endpoint(practice, source="retell", secret="key_test_retell_0123456789")
    cancelled = {"id": "evt_1", "type": "appointment.cancelled", "occurred_at": "2026-12-01T10:00:00+01:00",
                 "data": {"appointment_id": "DEMO-A-003", "patient_id": "DEMO-001", "first_name": "Lena",
                          "last_name": "Becker", "start": "2026-12-07T14:00:00+01:00", "status": "cancelled"}}
    make_event(booking, event_type="appointment.cancelled", payload=cancelled, preview=preview(cancelled),
               attempts=[{"outcome": "processed", "detail": "appointment booking:DEMO-A-003: stored (cancelled)"}])
    make_event(booking, event_type="patient.created", preview='{"data":{"first_name":"M.","last_name":"K."}}',
               attempts=[{"outcome": "error", "error": "IntegrityError"}, {"outcome": "error"}])
    for name in ("BOOKING_CREATED", "PING"):
        payload = json.loads((CONTRACTS / "calcom" / "webhooks" / f"{name}.json").read_text())
        make_event(calcom, event_type=name, payload=payload, preview=preview(payload),
                   attempts=[{"outcome": "ignored" if name == "PING" else "processed", "detail": "ping"}])
    call = json.loads((CONTRACTS / "retell" / "webhook_call_started.synthetic.json").read_text())
    make_event(retell, event_type="call_started", payload=call, preview=preview(call),
               attempts=[{"outcome": "error", "next_retry_at": utcnow() + timedelta(minutes=5)}])
    make_event(booking, outcome="rejected", reject_reason="data.start: required", preview=None,
               event_type=None)
    make_event(booking, outcome="duplicate", payload=None)
    newcomer = Patient(practice_id=practice.id, first_name="Mara", last_name="Kühn", email="mara@example.test",
                       email_normalized="mara@example.test", source="calcom")
    newcomer.refresh_search_text()
    db.session.add(newcomer)
    db.session.flush()
    hold_for_review(practice.id, newcomer.id, "calcom")
    now = utcnow()
    db.session.add_all([
        Call(practice_id=practice.id, patient_id=lena.id, external_id="call-1", direction="inbound",
             from_number=lena.phone, status="ended", started_at=now - timedelta(hours=2), duration_ms=180_000,
             summary="Möchte den Termin verschieben.", sentiment="Neutral"),
        Call(practice_id=practice.id, external_id="call-2", direction="inbound", from_number="+4915100000000",
             status="ended", started_at=now - timedelta(hours=1), duration_ms=60_000),
    ])
    db.session.add(SyncRun(practice_id=practice.id, provider="calcom", trigger="manual", status="succeeded",
                           queued_at=now, started_at=now, finished_at=now, records=3, details={}))
    actor = Actor(admin)
    link = create_link(actor, lena, now)
    for action, fields in (
        ("login.failed", {"object_type": "user", "object_id": admin.id,
                          "meta": {"reason": "wrong_password", "failed_logins": 2}}),
        ("patient.view", {"object_type": "patient", "object_id": lena.id, "patient_id": lena.id}),
        ("patient.view", {"object_type": "patient", "object_id": lena.id, "patient_id": lena.id}),
        ("patient.update", {"object_type": "patient", "object_id": lena.id, "patient_id": lena.id,
                            "meta": {"fields": ["phone", "birth_date"]}}),
        ("patients.import", {"object_type": "patient_import", "object_id": 1,
                             "meta": {"origin": "api", "status": "succeeded", "valid_only": True,
                                      "counts": {"total": 31, "created": 20, "updated": 11}}}),
        ("user.role_change", {"object_type": "user", "object_id": admin.id,
                              "meta": {"from": "assistant", "to": "admin"}}),
        ("integration.update", {"object_type": "integration", "object_id": 1,
                                "meta": {"provider": "calcom", "changed": ["api_key", "sync_enabled"]}}),
        ("practice.settings.update", {"object_type": "practice", "object_id": practice.id,
                                      "meta": {"keys": ["timezone"]}}),
    ):
        record(action, actor, **fields)
    db.session.commit()
    return link_token(link)


def _table_for(argument, rule):
    """The table whose rows an ``<argument>`` of ``rule`` names: the one ending in the argument's plural (sharing
    a word with the URL when several do)."""
    stem = argument.removesuffix("_id")
    tables = [name for name in inspect(database.engine).get_table_names()
              if name == f"{stem}s" or name.endswith(f"_{stem}s")]
    words = set(re.findall(r"[a-z]+", rule.rule))
    tables.sort(key=lambda name: (not set(name.split("_")) & words, len(name)))
    return tables[0] if tables else None


def _lowest_ids(table, practice_id, choices):
    """For each partial choice of arguments, the lowest id in ``table`` of the practice's rows that agree with the
    arguments already chosen (an import row of the chosen import); None where there is none."""
    columns = {column["name"] for column in inspect(database.engine).get_columns(table)}
    found = []
    for chosen in choices:
        where = ["practice_id = :practice"] if "practice_id" in columns else []
        where += [f"{name} = :{name}" for name in chosen if name in columns]
        query = f"SELECT min(id) FROM {table}" + (" WHERE " + " AND ".join(where) if where else "")  # noqa: S608
        found.append(database.session.scalar(text(query), {"practice": practice_id, **chosen}))
    return found


def urls_of(rule, practice_id, token):
    """The URLs of ``rule`` with its arguments filled from the demo data (in the order they appear in the URL, so
    an inner id agrees with the outer one); None when one cannot be filled."""
    choices = [{}]
    for argument in re.findall(r"<(?:[^:>]+:)?([^>]+)>", rule.rule):
        converter = rule._converters.get(argument)
        if getattr(converter, "items", None):
            choices = [{**chosen, argument: value} for chosen in choices for value in sorted(converter.items)]
        elif argument == "provider":
            providers = ACCESS_PROVIDERS if "/access/" in rule.rule else INTEGRATIONS
            choices = [{**chosen, argument: value} for chosen in choices for value in sorted(providers)]
        elif argument == "token":
            choices = [{**chosen, argument: token} for chosen in choices]
        elif argument.endswith("_id") and (table := _table_for(argument, rule)):
            ids = _lowest_ids(table, practice_id, choices)
            if None in ids:
                return None
            choices = [{**chosen, argument: value} for chosen, value in zip(choices, ids, strict=True)]
        else:
            return None
    return [url_for(rule.endpoint, **chosen) for chosen in choices]


def add_data_through_pages(app):
    """What the admin and a visitor would add through the pages: an uploaded patient file, previewed with the
    mapping the import guessed (an import with its rows), and a password-reset mail in the outbox."""
    client = app.test_client()
    client.post("/auth/forgot-password", data={"email": ROLES["assistant"]})
    client.post("/auth/login", data={"email": ROLES["admin"], "password": DEMO_PASSWORD})
    upload = (CONTRACTS.parent / "patients_messy_utf8_bom.csv").read_bytes()
    uploaded = client.post("/patients/import", data={"file": (io.BytesIO(upload), "patienten.csv")},
                           content_type="multipart/form-data")
    job_url = uploaded.headers["Location"]
    job = database.session.get(PatientImportJob, int(job_url.rstrip("/").rsplit("/", 1)[-1]))
    client.post(job_url, data={name: column for name, column in job.mapping.items() if column})


def test_every_page_reads_as_words_for_every_role_in_both_languages(app, db):
    token = add_sweep_data(db, app)
    add_data_through_pages(app)
    practice_id = db.session.scalar(select(Practice.id).where(Practice.slug == "demo"))
    pages, unfilled = [], []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
            if "GET" not in rule.methods or rule.endpoint == "static" or rule.rule.startswith("/api"):
                continue
            urls = urls_of(rule, practice_id, token)
            if urls is None:
                unfilled.append(rule.rule)
            else:
                pages.extend(dict.fromkeys(urls))
    pages = list(dict.fromkeys(pages))
    failures, checked, refused, per_role = [], 0, 0, dict.fromkeys(ROLES, 0)
    for role, email in ROLES.items():
        for language in LANGUAGES:
            client = app.test_client()
            client.post("/auth/login", data={"email": email, "password": DEMO_PASSWORD})
            client.post("/auth/language", data={"lang": language})
            for url in pages:
                try:
                    response = client.get(url)
                except Exception as error:  # noqa: BLE001 (the testing app re-raises; one broken page, one line)
                    failures.append(f"{url} [{role}, {language}]: raised {error!r}")
                    continue
                if response.status_code >= 500:
                    failures.append(f"{url} [{role}, {language}]: answered {response.status_code}")
                    continue
                if response.status_code != 200 or response.mimetype != "text/html":
                    refused += 1
                    continue
                checked += 1
                per_role[role] += 1
                failures += [f"{url} [{role}, {language}]: {problem}"
                             for problem in problems(response.get_data(as_text=True), language)]
    print(f"\nPage sweep: {len(pages)} pages × {len(ROLES)} roles × {len(LANGUAGES)} languages = "
          f"{len(pages) * len(ROLES) * len(LANGUAGES)} requests; {checked} pages checked, {refused} refused or "
          f"not HTML (checked per role, both languages: {per_role}); {len(failures)} problems.")
    # The checks read the pages themselves: the English log read as German is full of English words.
    english = app.test_client()
    english.post("/auth/login", data={"email": ROLES["admin"], "password": DEMO_PASSWORD})
    english.post("/auth/language", data={"lang": "en"})
    assert len(problems(english.get("/webhooks/events").get_data(as_text=True), "de")) > 5
    assert not unfilled, f"pages whose URL arguments the demo data cannot fill: {unfilled}"
    assert len(pages) > 30 and min(per_role.values()) >= 10 and per_role["admin"] > len(pages)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("page", "language", "expected"), [
    ("<p>Berechtigung patients.read fehlt</p>", "de", ["code 'patients.read'"]),
    ("<td>calcom.booking_created</td>", "en", ["code 'calcom.booking_created'"]),
    ("<td>counts: {'total': 31}</td>", "en", ["Python value"]),
    ("<td>['a', 'b']</td>", "en", ["Python value"]),
    ("<td>2026-12-06T10:00:00</td><td>2026-12-06 10:00</td>", "en", ["ISO timestamp", "ISO timestamp"]),
    ("<p>Termin processed</p>", "de", ["English word 'processed'"]),
    ("<p>Termin processed</p>", "en", []),
    ('<p title="patients.read">Cal.com, Retell.ai, lena@praxis.example, <a href="/x.y">E-Mail</a></p>'
     '<script>var a = {"b": 1}; x.y()</script><input type="hidden" value="2026-12-06T10:00">'
     '<pre class="payload-json">{"status": "processed"}</pre>', "de", []),
])
def test_the_checks_find_what_they_should(page, language, expected):
    found = problems(page, language)
    assert len(found) == len(expected) and all(
        problem.startswith(start) for problem, start in zip(found, expected, strict=True)), found
