"""Error pages by request kind, security headers, CSRF and the append-only audit page."""

import pytest
from flask import abort

from app.platform.security.guard import public
from tests.helpers import PASSWORD, htmx


@pytest.fixture
def failing_app(app):
    """The app with routes that raise each error (registered before the first request)."""

    def make(code):
        @public
        def view():
            if code == 500:
                raise RuntimeError("boom")
            abort(code)

        return view

    for code in (403, 404, 422, 429, 500):
        app.add_url_rule(f"/boom/{code}", f"boom_{code}", make(code))
        app.add_url_rule(f"/api/boom/{code}", f"api_boom_{code}", make(code))
    return app


@pytest.mark.parametrize("code", [403, 404, 422, 429, 500])
def test_error_as_page_fragment_and_json(failing_app, code):
    """Each error is a full page for browsers, a fragment plus toast for htmx and JSON under /api."""
    client = failing_app.test_client()
    page = client.get(f"/boom/{code}")
    assert page.status_code == code and "<html" in page.get_data(as_text=True)
    fragment = client.get(f"/boom/{code}", headers=htmx("main"))
    assert fragment.status_code == code
    assert fragment.get_data(as_text=True).startswith('<div id="error-message"')
    assert '"toast"' in fragment.headers["HX-Trigger"]
    api = client.get(f"/api/boom/{code}")
    assert api.status_code == code
    assert set(api.get_json()["error"]) == {"code", "message"}


def test_security_headers(client):
    """Every response carries the CSP without inline scripts, no framing, nosniff and a referrer policy."""
    response = client.get("/auth/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    html = response.get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html and "onclick" not in html


def test_session_cookie_flags(client, auth):
    """The session cookie is HttpOnly and SameSite=Lax."""
    auth.login()
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"


@pytest.mark.parametrize("app_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_csrf_required_for_posts(app, client, make_user):
    """With CSRF on, a POST without the token is 400; with the X-CSRFToken header (as htmx sends it) it works."""
    user = make_user()
    refused = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert refused.status_code == 400
    page = client.get("/auth/login").get_data(as_text=True)
    token = page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    accepted = client.post("/auth/login", data={"email": user.email, "password": PASSWORD},
                           headers={"X-CSRFToken": token})
    assert accepted.status_code == 303
    htmx_post = client.post("/account/tokens", data={"name": "x"}, headers=htmx("api-tokens"))
    assert htmx_post.status_code == 400
    assert '"toast"' in htmx_post.headers["HX-Trigger"]


def test_audit_page_filters_and_paginates(app, client, auth, make_user, db):
    """Admins filter the audit log by user, action and date, in pages."""
    from app.platform.audit.service import record
    from app.platform.security.actor import Actor

    admin = auth.login()
    other = make_user(role="therapist")
    for number in range(app.config["AUDIT_PAGE_SIZE"] + 5):
        record("user.update", Actor(other), object_type="user", object_id=number)
    db.session.commit()
    client.post("/auth/language", data={"lang": "en"})
    all_entries = client.get("/audit/").get_data(as_text=True)
    assert "Page 1 of 2" in all_entries
    only_admin = client.get(f"/audit/?user={admin.id}").get_data(as_text=True)
    assert "login.success" in only_admin and "user.update" not in only_admin.split('id="audit-table"')[1]
    assert ">Signed in</td>" in only_admin and ">User changed</option>" in only_admin  # named, no code shown
    fragment = client.get("/audit/?action=user.update&page=2", headers=htmx("audit-table"))
    assert fragment.get_data(as_text=True).startswith('<div id="audit-table"')
    assert "Page 2 of 2" in fragment.get_data(as_text=True)
    bad = client.get("/audit/?date_from=2026-05-02&date_to=2026-05-01")
    assert bad.status_code == 422 and "before the start date" in bad.get_data(as_text=True)


def test_audit_page_never_shows_other_practice(client, auth, make_user, other_practice, db):
    """Another practice's audit entries are not listed, even when filtering by that practice's user id."""
    from app.platform.audit.service import record
    from app.platform.security.actor import Actor

    auth.login()
    stranger = make_user(practice=other_practice)
    record("secret.reveal", Actor(stranger))
    db.session.commit()
    assert "secret.reveal" not in client.get("/audit/").get_data(as_text=True)
    assert client.get(f"/audit/?user={stranger.id}").status_code == 422
