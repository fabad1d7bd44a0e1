"""The JSON API: bearer tokens, /api/me, /api/health and JSON errors."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import create_app
from app.accounts.models import ApiToken
from app.platform.database import utcnow
from config import TestConfig
from tests.helpers import bearer


def test_me_returns_user_practice_and_permissions(client, make_user, make_token, practice):
    """GET /api/me describes the token's user."""
    user = make_user(role="therapist")
    response = client.get("/api/me", headers=bearer(make_token(user)))
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["email"] == user.email and body["user"]["role"] == "therapist"
    assert body["practice"]["slug"] == practice.slug
    assert body["permissions"]["patients.read"] == "own"
    assert "users.manage" not in body["permissions"]


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_me_without_valid_token_is_401_json(client, header):
    """Missing or wrong tokens get a JSON 401 with a code."""
    response = client.get("/api/me", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_refused(client, make_user, make_token, db):
    """A token past its expiry is refused."""
    user = make_user()
    plaintext = make_token(user)
    token = db.session.scalar(select(ApiToken))
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/me", headers=bearer(plaintext)).status_code == 401


def test_token_of_deactivated_user_is_refused(client, make_user, make_token, db):
    """Deactivating a user disables their tokens too."""
    user = make_user()
    plaintext = make_token(user)
    user.active = False
    db.session.commit()
    assert client.get("/api/me", headers=bearer(plaintext)).status_code == 401


def test_token_use_records_last_used(client, make_user, make_token, db):
    """Using a token stamps last_used_at."""
    plaintext = make_token(make_user())
    client.get("/api/me", headers=bearer(plaintext))
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken)).last_used_at is not None


def test_session_cookie_does_not_authenticate_the_api(client, auth):
    """The API only accepts tokens, so it can be exempt from CSRF safely."""
    auth.login()
    assert client.get("/api/me").status_code == 401


def test_unknown_api_route_is_json_404(client):
    """Errors under /api are JSON."""
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": "not_found", "message": response.get_json()["error"]["message"]}}


def test_health_ok(client):
    """The health check answers 200 when the database does."""
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_health_503_when_database_is_down(tmp_path):
    """The health check answers 503 when the database cannot be reached."""
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/db.sqlite3")
    response = app.test_client().get("/api/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
