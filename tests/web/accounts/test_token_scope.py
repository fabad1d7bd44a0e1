"""Tokens limited to a check-in terminal (issue 19 item 9): they call only the endpoints whose permission is
access.validate; an assistant, who may not manage API tokens, may create and revoke such tokens."""

import logging
import re

import pytest
from sqlalchemy import select

from app.accounts.models import TERMINAL_SCOPE, ApiToken
from app.accounts.tokens import create_token
from app.platform.errors import ServiceError
from app.platform.extensions import db as _db
from app.platform.security.actor import Actor
from tests.helpers import audit_actions, bearer, htmx
from tests.unit.access import conftest as access_fixtures

# The access tests' fixtures (fakes, a location, providers enabled there).
enable = access_fixtures.enable
fitpass_server = access_fixtures.fitpass_server
friction_server = access_fixtures.friction_server
location = access_fixtures.location
make_location = access_fixtures.make_location
wellhub_server = access_fixtures.wellhub_server


def _terminal_token(user, name="Tür Studio Mitte"):
    """A terminal token of ``user``; returns the plaintext."""
    return create_token(Actor(user), user, name, scope=TERMINAL_SCOPE)[1]


def _plaintext(response):
    """The new token's value in the tokens fragment."""
    return re.search(r'value="(phk_[^"]+)"', response.get_data(as_text=True)).group(1)


def test_terminal_token_checks_in_and_lists_locations(client, make_user, location, enable):
    enable(location)
    token = _terminal_token(make_user(role="admin"))
    response = client.post("/api/access/checkins", json={"location": location.id, "code": "FP-7Q2K9D4M"},
                           headers=bearer(token))
    assert response.status_code == 200 and response.get_json()["decision"] == "allow"
    listed = client.get("/api/locations/", headers=bearer(token)).get_json()
    assert [row["id"] for row in listed["results"]] == [location.id]


@pytest.mark.parametrize("method, path", [("get", "/api/me"), ("get", "/api/patients"),
                                          ("get", "/api/access/stats")])
def test_terminal_token_is_refused_elsewhere_with_a_clear_error(client, make_user, method, path):
    token = _terminal_token(make_user(role="admin"))
    response = getattr(client, method)(path, json={}, headers=bearer(token))
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["code"] == "token_scope" and "terminal" in error["message"].lower()


def test_unscoped_token_keeps_all_permissions(client, make_user, make_token):
    token = make_token(make_user(role="admin"))
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    assert client.get("/api/access/stats", headers=bearer(token)).status_code == 200


def test_terminal_token_of_another_practice_gets_404_and_is_logged(client, make_user, location, enable,
                                                                     other_practice, caplog):
    enable(location)
    token = _terminal_token(make_user(role="assistant", practice=other_practice))
    with caplog.at_level(logging.WARNING):
        response = client.post("/api/access/checkins", json={"location": location.id, "code": "FP-7Q2K9D4M"},
                               headers=bearer(token))
    assert response.status_code == 404
    assert "body" not in response.get_json() and "decision" not in response.get_json()
    assert any("location" in record.getMessage() and str(location.id) in record.getMessage()
               for record in caplog.records)


def test_terminal_scope_needs_access_validate(make_user):
    therapist = make_user(role="therapist")
    with pytest.raises(ServiceError):
        create_token(Actor(therapist), therapist, "Tür", scope=TERMINAL_SCOPE)
    admin = make_user(role="admin")
    with pytest.raises(ServiceError):
        create_token(Actor(admin), admin, "Tür", scope="patients.read")


def test_admin_ticks_terminal_only_on_the_account_page(client, auth, db):
    user = auth.login("admin")
    page = client.get("/account/").get_data(as_text=True)
    assert 'name="terminal_only"' in page
    response = client.post("/account/tokens", data={"name": "Tür 1", "terminal_only": "y"},
                           headers=htmx("api-tokens"))
    assert response.status_code == 200
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.scope == TERMINAL_SCOPE
    assert client.get("/api/me", headers=bearer(_plaintext(response))).status_code == 403
    assert "token.create" in audit_actions(db, user_id=user.id)


def test_assistant_creates_and_revokes_terminal_tokens_only(client, auth, db):
    user = auth.login("assistant")
    page = client.get("/account/").get_data(as_text=True)
    assert 'id="terminal-token-note"' in page and 'name="terminal_only"' not in page
    assert client.post("/account/tokens", data={"name": "voll"}, headers=htmx("api-tokens")).status_code == 403
    response = client.post("/account/terminal-tokens", data={"name": "Tür 2"}, headers=htmx("api-tokens"))
    assert response.status_code == 200
    plaintext = _plaintext(response)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.scope == TERMINAL_SCOPE
    assert client.post("/account/terminal-tokens", data={"name": ""}, headers=htmx("api-tokens")).status_code == 422
    assert client.post(f"/account/terminal-tokens/{token.id}/revoke", headers=htmx("api-tokens")).status_code == 200
    assert client.get("/api/locations/", headers=bearer(plaintext)).status_code == 401
    assert audit_actions(db, user_id=user.id)[-2:] == ["token.create", "token.revoke"]


def test_terminal_revoke_route_refuses_full_and_foreign_tokens(client, auth, make_user, make_token):
    auth.login("assistant")
    full = make_user(role="admin")
    make_token(full)
    foreign = _db.session.scalar(select(ApiToken).where(ApiToken.user_id == full.id))
    assert client.post(f"/account/terminal-tokens/{foreign.id}/revoke", headers=htmx("api-tokens")).status_code == 404


def test_therapist_sees_no_token_section(client, auth):
    auth.login("therapist")
    assert 'id="api-tokens"' not in client.get("/account/").get_data(as_text=True)
    assert client.post("/account/terminal-tokens", data={"name": "x"}, headers=htmx("api-tokens")).status_code == 403
