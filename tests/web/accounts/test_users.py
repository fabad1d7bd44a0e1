"""User management by admins: list, create, inline validation, edit role and status, reset password."""

import pytest
from sqlalchemy import select

from app.accounts.models import User
from tests.helpers import PASSWORD, audit_actions, htmx


def test_list_shows_only_own_practice(client, auth, make_user, other_practice):
    """The list holds this practice's users and nobody from another practice."""
    auth.login()
    colleague = make_user(role="therapist", name="Kollegin Kim")
    stranger = make_user(role="admin", practice=other_practice, name="Fremder Fritz")
    html = client.get("/users/").get_data(as_text=True)
    assert colleague.name in html and stranger.name not in html


def test_list_fragment_and_page_vary_on_htmx_headers(client, auth):
    """The same URL gives the #users-table fragment to htmx and a page otherwise, with Vary set."""
    auth.login()
    fragment = client.get("/users/", headers=htmx("users-table"))
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and text.lstrip().startswith('<div id="users-table"')
    assert "HX-Request" in fragment.headers["Vary"] and "HX-Target" in fragment.headers["Vary"]
    page = client.get("/users/")
    assert "<html" in page.get_data(as_text=True)
    assert "HX-Request" in page.headers["Vary"]


def test_create_user_with_password_then_sign_in(client, auth, db):
    """A user created with an initial password can sign in with it; creation is audited."""
    admin = auth.login()
    response = client.post("/users/new", data={"name": "Neo Neu", "email": "Neo@Example.test", "role": "billing",
                                               "password": "ein sicheres Passwort"})
    assert response.status_code == 303
    user = db.session.scalar(select(User).where(User.email == "neo@example.test"))
    assert user.practice_id == admin.practice_id and user.role == "billing"
    assert "user.create" in audit_actions(db, user_id=admin.id)
    auth.logout()
    login = client.post("/auth/login", data={"email": "neo@example.test", "password": "ein sicheres Passwort"})
    assert login.status_code == 303


@pytest.mark.parametrize(
    "data,message",
    [
        ({"name": "", "email": "a@example.test", "role": "admin"}, "This field is required."),
        ({"name": "A", "email": "not-an-email", "role": "admin"}, "valid email"),
        ({"name": "A", "email": "a@example.test", "role": "superuser"}, "Not a valid choice"),
        ({"name": "A", "email": "a@example.test", "role": "admin", "password": "short"}, "at least 10"),
    ],
)
def test_create_user_validation(client, auth, db, data, message):
    """Invalid input answers 422 with the reason next to the field and creates nobody."""
    auth.login()
    client.post("/auth/language", data={"lang": "en"})
    before = db.session.scalar(select(User.id).order_by(User.id.desc()))
    response = client.post("/users/new", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert db.session.scalar(select(User.id).order_by(User.id.desc())) == before


def test_create_user_with_taken_email_is_refused(client, auth, make_user, other_practice):
    """Emails are sign-in names: one used in any practice cannot be reused."""
    auth.login()
    taken = make_user(practice=other_practice)
    response = client.post("/users/new", data={"name": "X", "email": taken.email, "role": "admin"})
    assert response.status_code == 422


def test_inline_validation_returns_the_field_row(client, auth, make_user):
    """Leaving the email field validates just that field: 422 with the error, 200 once it is fixed."""
    auth.login()
    client.post("/auth/language", data={"lang": "en"})
    bad = client.post("/users/validate/email", data={"email": "nope"}, headers=htmx("field-email"))
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert text.lstrip().startswith('<div id="field-email"') and "valid email" in text
    taken = make_user()
    dup = client.post("/users/validate/email", data={"email": taken.email}, headers=htmx("field-email"))
    assert dup.status_code == 422 and "already exists" in dup.get_data(as_text=True)
    good = client.post("/users/validate/email", data={"email": "frei@example.test"}, headers=htmx("field-email"))
    assert good.status_code == 200 and "aria-invalid" not in good.get_data(as_text=True)
    assert client.post("/users/validate/role", data={}).status_code == 404


def test_change_role_is_audited(client, auth, make_user, db):
    """Changing a role writes user.role_change with from and to."""
    admin = auth.login()
    user = make_user(role="assistant")
    response = client.post(f"/users/{user.id}/edit", data={"name": user.name, "role": "billing", "active": "y"})
    assert response.status_code == 303
    db.session.refresh(user)
    assert user.role == "billing"
    assert "user.role_change" in audit_actions(db, user_id=admin.id)


def test_last_admin_cannot_demote_themselves(client, auth, db):
    """The practice keeps at least one active admin."""
    admin = auth.login()
    response = client.post(f"/users/{admin.id}/edit", data={"name": admin.name, "role": "therapist", "active": "y"})
    assert response.status_code == 422
    db.session.refresh(admin)
    assert admin.role == "admin"


def test_deactivate_from_list_with_htmx(client, auth, make_user, db):
    """The row button deactivates a user: the row comes back, a toast and users-changed are triggered."""
    auth.login()
    user = make_user(role="therapist")
    response = client.post(f"/users/{user.id}/active", headers=htmx(f"user-row-{user.id}"))
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip().startswith(f'<tr id="user-row-{user.id}"')
    assert '"toast"' in response.headers["HX-Trigger"] and "users-changed" in response.headers["HX-Trigger"]
    db.session.refresh(user)
    assert not user.active


def test_deactivated_user_session_ends(app, make_user, db):
    """A user who is signed in stops being signed in as soon as an admin deactivates them."""
    admin_client, user_client = app.test_client(), app.test_client()
    admin = make_user()
    user = make_user(role="assistant")
    admin_client.post("/auth/login", data={"email": admin.email, "password": PASSWORD})
    user_client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert user_client.get("/").status_code == 200
    admin_client.post(f"/users/{user.id}/active", headers=htmx(f"user-row-{user.id}"))
    assert user_client.get("/").status_code == 302
    assert user_client.post("/auth/login", data={"email": user.email, "password": PASSWORD}).status_code == 422


def test_reset_password_gives_new_link_and_unlocks(client, auth, make_user, db):
    """Reset invalidates the old password, clears a lockout and shows a one-time link."""
    auth.login()
    user = make_user(role="therapist", failed_logins=3)
    response = client.post(f"/users/{user.id}/reset-password")
    assert response.status_code == 200
    assert "/auth/invite/" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.password_hash is None and user.failed_logins == 0


def test_other_practice_user_answers_404(client, auth, make_user, other_practice):
    """Records of another practice are indistinguishable from missing ones."""
    auth.login()
    stranger = make_user(practice=other_practice)
    assert client.get(f"/users/{stranger.id}/edit").status_code == 404
    assert client.post(f"/users/{stranger.id}/active").status_code == 404
    assert client.post(f"/users/{stranger.id}/reset-password").status_code == 404
