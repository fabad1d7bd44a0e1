"""What the account forms tell a person before anything goes wrong: a new user starts with the least-privileged
role, every form where a password is chosen states the password rules up front, and a failed sign-in is shown like
every other field error."""

import re

import pytest
from sqlalchemy import select

from app.accounts.forms import least_privileged_role
from app.accounts.models import User
from app.platform.security.permissions import ALL, ROLE_PERMISSIONS
from tests.helpers import PASSWORD

RULES = "At least {n} characters, and not the email address of the account."


def selected_role(html):
    """The value of the preselected option of the role select."""
    select_html = html.split('name="role"', 1)[1].split("</select>", 1)[0]
    return re.findall(r'<option selected value="([a-z]+)"', select_html)


def test_the_least_privileged_role_is_the_therapist():
    """A therapist's permissions reach only their own patients and hours, except booking; billing reads every
    patient: the therapist reaches least far of all roles, though it holds one permission more than billing."""
    assert least_privileged_role() == "therapist"
    practice_wide = {role: sum(scope == ALL for scope in permissions.values())
                     for role, permissions in ROLE_PERMISSIONS.items()}
    assert practice_wide["therapist"] == min(practice_wide.values())
    assert sorted(practice_wide.values()).count(practice_wide["therapist"]) == 1


def test_the_create_form_preselects_the_least_privileged_role(client, auth, db, english):
    """The form opens with the therapist role chosen, and a post without a role creates a therapist."""
    auth.login()
    assert selected_role(client.get("/users/new").get_data(as_text=True)) == ["therapist"]
    response = client.post("/users/new", data={"name": "Olga Ohne", "email": "olga@example.test"})
    assert response.status_code == 200  # the invite link page
    assert db.session.scalar(select(User.role).where(User.email == "olga@example.test")) == "therapist"


def test_a_refused_create_form_keeps_the_chosen_role(client, auth, english):
    """After an error the form shows the role that was chosen, not the default again."""
    auth.login()
    response = client.post("/users/new", data={"name": "", "email": "x@example.test", "role": "admin"})
    assert response.status_code == 422 and selected_role(response.get_data(as_text=True)) == ["admin"]


def _password_help(html, field_id="password"):
    """The help text of a password field, checking that the input points at it."""
    assert re.search(rf'<input[^>]*aria-describedby="{field_id}-help"[^>]*id="{field_id}"', html), html
    return html.split(f'<small id="{field_id}-help" class="field-help">', 1)[1].split("</small>", 1)[0]


@pytest.mark.parametrize("minimum", [10, 14])
def test_every_form_that_chooses_a_password_states_the_rules(app, client, auth, english, minimum):
    """Creating a user with a password, changing one's own password and setting it from an invite link show the
    minimum length (AUTH_MIN_PASSWORD_LENGTH) and the email rule before anything is typed."""
    app.config["AUTH_MIN_PASSWORD_LENGTH"] = minimum
    rules = RULES.format(n=minimum)
    auth.login()
    assert _password_help(client.get("/users/new").get_data(as_text=True)) == rules
    assert _password_help(client.get("/account/").get_data(as_text=True)) == rules
    invite = client.post("/users/new", data={"name": "Ina Neu", "email": "ina@example.test", "role": "therapist"})
    link = invite.get_data(as_text=True).split('id="invite-url" aria-label="')[0].rsplit('value="', 1)[1]
    path = "/" + link.split('"')[0].split("/", 3)[3]
    auth.logout()
    client.post("/auth/language", data={"lang": "en"})
    page = client.get(path).get_data(as_text=True)
    assert _password_help(page) == rules
    assert 'id="password-errors"' not in page


def test_the_rules_stay_next_to_the_error(client, auth, english):
    """A refused password keeps the rules and adds the error; the input points at both."""
    auth.login()
    response = client.post("/account/password", data={"current_password": PASSWORD, "password": "kurz",
                                                      "confirm": "kurz"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'aria-describedby="password-help password-errors"' in html
    assert RULES.format(n=10) in html and "The password must have at least 10 characters." in html


def test_the_german_rules(client, auth):
    """The German interface states the rules in German."""
    auth.login()
    html = client.get("/account/").get_data(as_text=True)
    assert "Mindestens 10 Zeichen und nicht die E-Mail-Adresse des Kontos." in html


def test_a_failed_sign_in_is_shown_like_every_field_error(client, make_user, english):
    """The message sits under the password field in the markup of render_field: small.field-errors with an id the
    input's aria-describedby names, and aria-invalid on the input; no separate box above the form."""
    user = make_user()
    response = client.post("/auth/login", data={"email": user.email, "password": "falsches-passwort"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert ('<small id="password-errors" class="field-errors">Email or password is wrong, or the account is '
            "temporarily locked.</small>") in html
    password_input = re.search(r'<input[^>]*id="password"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in password_input and 'aria-describedby="password-errors"' in password_input
    assert 'class="form-errors"' not in html and 'id="form-errors"' not in html
