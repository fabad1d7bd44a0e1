"""E2E fixtures (STYLE.md 7.4): a session-scoped live server on a temp-file SQLite with the demo data, and
pytest-playwright pointed at the system Chromium, so ``playwright install`` never downloads a browser.

Without a Chromium every e2e test is skipped for one reason, printed once (in the report header when pytest is
pointed at tests/e2e, else at the end of the run); with ``REQUIRE_E2E=1`` (CI) the tests fail instead. The ``e2e``
marker is registered in pyproject.toml."""

import os
import shutil
import threading
from contextlib import contextmanager
from types import SimpleNamespace
from uuid import uuid4

import pytest
from flask_babel import force_locale, gettext, ngettext
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.serving import make_server

from app import create_app
from app.accounts.models import User
from app.demo import DEMO_PASSWORD, load_demo
from app.platform.extensions import db
from app.platform.jobs.worker import run_worker
from app.platform.security.passwords import hash_password
from app.tenancy.models import Practice
from config import TestConfig

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NO_CHROMIUM = "e2e: SKIPPED, no Chromium found (install Debian's chromium or set CHROMIUM_PATH)"
REQUIRED_BUT_NO_CHROMIUM = (
    "e2e: FAILED, REQUIRE_E2E=1 but no Chromium found (install Debian's chromium or set CHROMIUM_PATH)"
)
# Password of the users the fixtures create (long enough for AUTH_MIN_PASSWORD_LENGTH).
E2E_PASSWORD = "e2e-passwort-123"
# Set once pytest_report_header has printed the status line, so the summary does not repeat it.
_HEADER_SHOWN = pytest.StashKey[bool]()


def find_chromium():
    """The Chromium to drive: ``CHROMIUM_PATH`` or ``chromium`` on PATH, when it is an executable file."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    return None


def e2e_required():
    """True when a missing browser must fail the run (CI sets REQUIRE_E2E=1)."""
    return os.environ.get("REQUIRE_E2E", "").strip().lower() in {"1", "true", "yes", "on"}


def _missing_reason():
    """The one skip/fail line for a run without a usable Chromium."""
    line = REQUIRED_BUT_NO_CHROMIUM if e2e_required() else NO_CHROMIUM
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        line += f"; CHROMIUM_PATH={configured} is not an executable file"
    return line


def _status_line():
    """One line saying whether, and with which browser, the e2e tests run."""
    path = find_chromium()
    return f"e2e: Chromium at {path}" if path else _missing_reason()


def pytest_report_header(config):
    """Say at the top of the run whether the e2e tests run (shown when this conftest is loaded at start-up)."""
    config.stash[_HEADER_SHOWN] = True
    return _status_line()


def pytest_terminal_summary(terminalreporter, config):
    """Fallback for runs that load this conftest only during collection (too late for the header)."""
    if not config.stash.get(_HEADER_SHOWN, False) and not find_chromium():
        terminalreporter.write_line(_status_line())


@pytest.fixture(scope="session", autouse=True)
def chromium_path():
    """Path of the Chromium executable; skips (or with REQUIRE_E2E=1 fails) every e2e test when there is none."""
    path = find_chromium()
    if path is None:
        if e2e_required():
            pytest.fail(_missing_reason(), pytrace=False)
        pytest.skip(_missing_reason())
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, chromium_path):
    """pytest-playwright's launch options plus the system Chromium and flags for headless containers."""
    args = [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS]
    return {**browser_type_launch_args, "executable_path": chromium_path, "args": args}


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    """The app behind the live server: CSRF on, limiter off, its own temp-file SQLite (never TEST_DATABASE_URL)
    filled with the demo data. Tests may use ``with live_app.app_context():`` to prepare data."""
    db_file = tmp_path_factory.mktemp("e2e-db") / "praxis-hub-e2e.sqlite3"
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_file}",
        WTF_CSRF_ENABLED=True,
        RATELIMIT_ENABLED=False,
    )
    with app.app_context():
        db.create_all()
        load_demo()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app):
    """Serve ``live_app`` on a free local port in a daemon thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


class LiveWorker:
    """``run_worker(app, "e2e-worker", poll_seconds=0.2, stop=event)`` in a daemon thread. ``paused()`` stops it
    for a ``with`` block, so a test can look at a queued job before the worker takes it; an exception that ended
    the worker is kept in ``errors``."""

    def __init__(self, app, worker_id="e2e-worker", poll_seconds=0.2):
        self.app, self.worker_id, self.poll_seconds = app, worker_id, poll_seconds
        self.errors = []
        self.stop_event = self.thread = None

    def _run(self, stop):
        try:
            run_worker(self.app, self.worker_id, poll_seconds=self.poll_seconds, stop=stop)
        except BaseException as error:  # raised at teardown: a dead worker would otherwise only show as a timeout
            self.errors.append(error)

    def start(self):
        """Start the worker thread."""
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(self.stop_event,), name=self.worker_id, daemon=True)
        self.thread.start()

    def stop(self):
        """Ask the worker to stop (it finishes the job in hand) and wait for it."""
        self.stop_event.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the e2e worker did not stop within 30 s"

    @contextmanager
    def paused(self):
        """No job is claimed inside the block; the worker starts again when it ends."""
        self.stop()
        try:
            yield self
        finally:
            self.start()


@pytest.fixture(scope="session")
def live_worker(live_app):
    """The background worker of ``live_app`` (``flask hub worker`` in production), claiming jobs every 0.2 s in a
    daemon thread, so that a queued import runs while the browser watches (see LiveWorker). Stopped and joined at
    the end of the session, where an exception that ended it early is raised. run_worker installs no signal
    handlers outside the main thread, so nothing needs patching."""
    worker = LiveWorker(live_app)
    worker.start()
    yield worker
    worker.stop()
    if worker.errors:
        raise worker.errors[0]


@pytest.fixture(scope="session")
def base_url(chromium_path, live_server):
    """pytest-base-url's fixture, overridden so ``page.goto("/users/")`` reaches the live server. Depends on
    ``chromium_path`` so that a run without a browser skips before starting the server."""
    return live_server


@pytest.fixture(scope="session")
def translate(live_app):
    """``translate(message, locale="de", **variables)``: the text the app's catalogue shows for ``message``;
    with ``plural=`` and ``num=``, the form the catalogue picks for that number."""

    def translate_message(message, locale="de", plural=None, num=None, **variables):
        with live_app.test_request_context(), force_locale(locale):
            if plural is not None:
                return ngettext(message, plural, num, **variables)
            return gettext(message, **variables)

    return translate_message


@pytest.fixture(scope="session")
def german_catalogue(translate):
    """True when a compiled German catalogue exists (until then the German UI shows the English source text)."""
    return translate("Sign in", "de") != "Sign in"


@pytest.fixture
def sign_in(page):
    """``sign_in(email, password=DEMO_PASSWORD)``: fill and submit the login form as a person would."""

    def submit_login(email, password=DEMO_PASSWORD):
        page.goto("/auth/login")
        form = page.locator("#login-form")
        form.locator("[name=email]").fill(email)
        form.locator("[name=password]").fill(password)
        form.locator("button[type=submit]").click()

    return submit_login


@pytest.fixture
def make_live_user(live_app):
    """``make_live_user(role="therapist", password=E2E_PASSWORD)``: a fresh user of the demo practice, created
    directly in the live server's database, so lockout tests never lock a demo user used elsewhere."""

    def create(role="therapist", password=E2E_PASSWORD):
        suffix = uuid4().hex[:10]
        email = f"e2e-{suffix}@demo.test"
        name = f"E2E Person {suffix}"
        with live_app.app_context():
            practice = db.session.scalar(select(Practice).where(Practice.slug == "demo"))
            db.session.add(User(practice_id=practice.id, email=email, name=name, role=role, active=True,
                                password_hash=hash_password(password)))
            db.session.commit()
            db.session.remove()
        return SimpleNamespace(email=email, name=name, password=password, role=role)

    return create


@pytest.fixture
def unique_email():
    """A fresh email address for a user created through the UI."""
    return f"neu-{uuid4().hex[:10]}@demo.test"


def click_nav(page, href):
    """Click the main navigation's link to ``href`` as a person would: opening the group ("Verwaltung") it is folded
    into first, when it is."""
    link = page.locator(f"#main-nav a[href='{href}']")
    group = page.locator("#main-nav details.dropdown", has=page.locator(f"a[href='{href}']"))
    if group.count() and not group.evaluate("details => details.open"):
        group.locator("summary").click()
    link.click()


def open_from_nav(page, base_url, sign_in, nav_href, link_id, expected_path):
    """Sign in as the demo admin, open ``nav_href`` from the main navigation and click ``#link_id`` there, as a
    person would; checks every URL on the way."""
    sign_in("admin@demo.test")
    expect(page).to_have_url(f"{base_url}/")
    click_nav(page, nav_href)
    expect(page).to_have_url(f"{base_url}{nav_href}")
    page.locator(f"#{link_id}").click()
    expect(page).to_have_url(f"{base_url}{expected_path}")


def scan_code(page, code):
    """Type ``code`` and Enter into the check-in desk's focused field, as a keyboard-wedge scanner does, and wait
    until the answer has settled: htmx focuses the fresh field's ``autofocus`` only when the swap settles (20 ms
    later), so typing elsewhere before that would land in the scan field."""
    field = page.get_by_label("QR-Code des Mitglieds scannen")
    expect(field).to_be_focused()
    page.locator("#checkin-desk").evaluate("desk => { desk.dataset.answered = 'no'; }")
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    page.wait_for_function("""() => {
        const desk = document.getElementById('checkin-desk');
        return desk && desk.dataset.answered !== 'no' && !document.querySelector('.htmx-settling, .htmx-request')
            && document.activeElement && document.activeElement.id === 'code';
    }""")
