"""The worker checks that PUBLIC_BASE_URL answers our own health check (app.webhooks.public_url), against real
local HTTP servers, and the hub and the webhooks page warn while it does not."""

import json
import threading
from datetime import timedelta

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from app.platform.database import utcnow
from app.webhooks.models import PublicUrlCheck
from app.webhooks.public_url import check_public_url

UNUSED_ADDRESS = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture
def server():
    """Start a local HTTP server answering every request with (status, body, content type); yields its base URL
    maker."""
    started = []

    def start(status, body, content_type="application/json"):
        def app(environ, start_response):
            return Response(body, status=status, content_type=content_type)(environ, start_response)

        http = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=http.serve_forever, daemon=True).start()
        started.append(http)
        return f"http://127.0.0.1:{http.server_port}"

    yield start
    for http in started:
        http.shutdown()


@pytest.fixture
def app_overrides():
    """The check on (the tests' config turns it off), every 5 minutes as in production."""
    return {"PUBLIC_URL_CHECK_SECONDS": 300}


def _check(app, base_url):
    app.config["PUBLIC_BASE_URL"] = base_url
    return check_public_url()


def test_zero_seconds_turns_the_check_off(app, db):
    app.config["PUBLIC_URL_CHECK_SECONDS"] = 0
    assert _check(app, UNUSED_ADDRESS) == {}
    assert db.session.query(PublicUrlCheck).count() == 0


def test_nothing_is_checked_without_a_configured_address(app, db):
    assert _check(app, "") == {}
    assert db.session.query(PublicUrlCheck).count() == 0


def test_our_own_health_answer_is_ok(app, db, server):
    base = server(200, json.dumps({"status": "ok", "database": "ok"}))
    assert _check(app, base) == {"public_url_checked": 1}
    check = db.session.query(PublicUrlCheck).one()
    assert (check.ok, check.reason, check.status_code, check.failing_since) == (True, "ok", 200, None)


@pytest.mark.parametrize(("status", "body", "content_type", "reason"), [
    (404, "<html>Not Found</html>", "text/html", "not_ours"),
    (200, "<html>Welcome to nginx</html>", "text/html", "not_ours"),
    (503, json.dumps({"status": "unavailable", "database": "unreachable"}), "application/json", "status"),
])
def test_an_answer_that_is_not_our_health_check_fails(app, db, server, status, body, content_type, reason):
    _check(app, server(status, body, content_type))
    check = db.session.query(PublicUrlCheck).one()
    assert (check.ok, check.reason, check.status_code) == (False, reason, status)


def test_nothing_listening_fails_and_keeps_when_it_began(app, db):
    _check(app, UNUSED_ADDRESS)
    check = db.session.query(PublicUrlCheck).one()
    assert (check.ok, check.reason) == (False, "unreachable")
    began = check.failing_since
    check.checked_at = utcnow() - timedelta(hours=1)  # due again
    db.session.commit()
    _check(app, UNUSED_ADDRESS)
    assert db.session.query(PublicUrlCheck).one().failing_since == began


def test_a_recent_check_is_not_repeated(app, db, server):
    base = server(200, json.dumps({"status": "ok"}))
    assert _check(app, base) == {"public_url_checked": 1}
    assert _check(app, base) == {}


def test_the_hub_and_the_webhooks_page_warn_while_it_fails(app, db, client, auth, server):
    auth.login("admin")
    _check(app, UNUSED_ADDRESS)
    for page in ("/integrations/", "/webhooks/"):
        html = client.get(page).get_data(as_text=True)
        assert 'id="public-url-warning"' in html, page
        assert "http://127.0.0.1:9" in html
        assert "Providers cannot deliver events there" not in html  # German by default
        assert "antwortet nicht auf unsere eigene Prüfung" in html

    check = db.session.query(PublicUrlCheck).one()
    check.checked_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    app.config["PUBLIC_BASE_URL"] = server(200, json.dumps({"status": "ok"}))
    check_public_url()
    assert 'id="public-url-warning"' not in client.get("/integrations/").get_data(as_text=True)
