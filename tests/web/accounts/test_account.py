"""Own password change and personal API tokens."""

import re
from datetime import date, timedelta

from sqlalchemy import select

from app.accounts.models import ApiToken
from tests.helpers import PASSWORD, audit_actions, bearer, htmx


def test_change_own_password(client, auth, db):
    """A user changes their password with the current one; the new one works, the old one does not."""
    user = auth.login(role="therapist")
    response = client.post("/account/password", data={"current_password": PASSWORD, "password": "ein neues Passwort",
                                                      "confirm": "ein neues Passwort"})
    assert response.status_code == 303
    assert client.get("/account/").status_code == 200  # this session continues
    assert "user.password_change" in audit_actions(db, user_id=user.id)
    auth.logout()
    assert client.post("/auth/login", data={"email": user.email, "password": PASSWORD}).status_code == 422
    assert client.post("/auth/login", data={"email": user.email, "password": "ein neues Passwort"}).status_code == 303


def test_change_password_errors(client, auth):
    """Wrong current password, mismatch and a short password each give 422 and change nothing."""
    auth.login()
    client.post("/auth/language", data={"lang": "en"})
    for data, message in [
        ({"current_password": "wrong", "password": "ein neues Passwort", "confirm": "ein neues Passwort"},
         "current password is wrong"),
        ({"current_password": PASSWORD, "password": "ein neues Passwort", "confirm": "anders"}, "do not match"),
        ({"current_password": PASSWORD, "password": "kurz", "confirm": "kurz"}, "at least 10"),
    ]:
        response = client.post("/account/password", data=data)
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)


def test_create_token_shows_it_once_and_stores_only_the_hash(client, auth, db):
    """The new token appears once in the fragment; the database holds its SHA-256 and prefix only."""
    user = auth.login()
    response = client.post("/account/tokens", data={"name": "Buchungstool"}, headers=htmx("api-tokens"))
    assert response.status_code == 200
    assert '"toast"' in response.headers["HX-Trigger"]
    plaintext = re.search(r'value="(phk_[^"]+)"', response.get_data(as_text=True)).group(1)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.token_hash == ApiToken.hash_token(plaintext) and plaintext not in token.token_hash
    assert plaintext.startswith(token.prefix)
    assert plaintext not in client.get("/account/").get_data(as_text=True)
    assert client.get("/api/me", headers=bearer(plaintext)).status_code == 200
    assert "token.create" in audit_actions(db, user_id=user.id)


def test_token_validation(client, auth):
    """A token needs a name and a future expiry date."""
    auth.login()
    assert client.post("/account/tokens", data={"name": ""}, headers=htmx("api-tokens")).status_code == 422
    past = (date.today() - timedelta(days=2)).isoformat()
    response = client.post("/account/tokens", data={"name": "alt", "expires_on": past}, headers=htmx("api-tokens"))
    assert response.status_code == 422


def test_revoke_token(client, auth, make_token, db):
    """A revoked token stops working at once; revocation is audited."""
    user = auth.login()
    plaintext = make_token(user)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    response = client.post(f"/account/tokens/{token.id}/revoke", headers=htmx("api-tokens"))
    assert response.status_code == 200
    assert client.get("/api/me", headers=bearer(plaintext)).status_code == 401
    assert "token.revoke" in audit_actions(db, user_id=user.id)


def test_cannot_revoke_someone_elses_token(client, auth, make_user, make_token, other_practice, db):
    """Another user's token (same or other practice) answers 404."""
    auth.login()
    for owner in (make_user(), make_user(practice=other_practice)):
        make_token(owner)
        token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == owner.id))
        assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 404


def test_non_admin_sees_no_token_section(client, auth):
    """Without api_tokens.manage or access.validate (door-terminal tokens) the account page shows only the password
    form."""
    auth.login(role="therapist")
    assert 'id="api-tokens"' not in client.get("/account/").get_data(as_text=True)
