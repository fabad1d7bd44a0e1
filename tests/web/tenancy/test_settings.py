"""Practice settings: time zone, default therapist and booking page URL template, validated as a whole (nothing
half-saved), checked inline, audited, and open to admins only."""

import pytest
from sqlalchemy import select

from app.platform.audit.models import AuditEntry
from app.tenancy.settings import default_therapist_id
from tests.helpers import htmx


def form(**changes):
    """A complete, valid settings form with ``changes`` applied."""
    data = {"timezone": "Europe/Vienna", "default_therapist_id": "",
            "booking_url_template": "https://cal.com/praxis/erst?name={name}&email={email}"}
    data.update(changes)
    return data


def test_admin_opens_settings_from_the_navigation(client, auth):
    """Admins find "Settings" in the navigation and the page shows the current values."""
    auth.login()
    assert 'href="/settings/"' in client.get("/").get_data(as_text=True)
    html = client.get("/settings/").get_data(as_text=True)
    assert 'id="settings-form"' in html and 'value="Europe/Berlin"' in html
    assert '<option value="Europe/Vienna">' in html and "{first_name}" in html


@pytest.mark.parametrize("role", ["assistant", "therapist", "billing"])
def test_other_roles_may_not(client, auth, role):
    """Without integrations.manage: no navigation entry, 403 for the page, the save and the check."""
    auth.login(role=role)
    assert 'href="/settings/"' not in client.get("/").get_data(as_text=True)
    assert client.get("/settings/").status_code == 403
    assert client.post("/settings/", data=form()).status_code == 403
    assert client.post("/settings/validate/timezone", data={"timezone": "UTC"}).status_code == 403


def test_save_all_settings_and_audit_the_changed_keys(client, auth, make_user, practice, db):
    """A valid form saves every setting in one go (303) and the audit entry names the keys that changed."""
    auth.login()
    therapist = make_user(role="therapist")
    response = client.post("/settings/", data=form(default_therapist_id=str(therapist.id)))
    assert response.status_code == 303 and response.headers["Location"] == "/settings/"
    db.session.refresh(practice)
    assert practice.timezone == "Europe/Vienna"
    assert practice.settings == {"default_therapist_id": therapist.id,
                                 "booking_url_template": "https://cal.com/praxis/erst?name={name}&email={email}"}
    assert default_therapist_id(practice) == therapist.id
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "practice.settings.update"))
    assert entry.meta == {"keys": ["booking_url_template", "default_therapist_id", "timezone"]}
    assert (entry.practice_id, entry.user_id) == (practice.id, auth.user.id)


def test_clearing_removes_settings_and_unchanged_saves_audit_nothing(client, auth, practice, db):
    """Empty URL and no therapist remove those settings; saving the same values again writes no audit entry."""
    auth.login()
    client.post("/settings/", data=form())
    client.post("/settings/", data=form(booking_url_template=""))
    db.session.refresh(practice)
    assert practice.settings == {}
    client.post("/settings/", data=form(booking_url_template=""))
    entries = db.session.scalars(select(AuditEntry.meta).where(AuditEntry.action == "practice.settings.update"))
    assert list(entries) == [{"keys": ["booking_url_template", "timezone"]}, {"keys": ["booking_url_template"]}]


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"timezone": "Mars/Olympus"}, "timezone", "“Mars/Olympus” is not a known time zone."),
    ({"timezone": ""}, "timezone", "is not a known time zone."),
    ({"booking_url_template": "ftp://cal.com/praxis"}, "booking_url_template", "starting with https://"),
    ({"booking_url_template": "javascript:alert(1)"}, "booking_url_template", "starting with https://"),
    ({"booking_url_template": "cal.com/praxis"}, "booking_url_template", "starting with https://"),
    ({"booking_url_template": "https://cal.com/x?n={vorname}"}, "booking_url_template",
     "Unknown placeholder {vorname}."),
    ({"booking_url_template": "https://cal.com/x?n={name"}, "booking_url_template", "Braces are only allowed"),
    ({"booking_url_template": "https://cal.com/" + "x" * 2000}, "booking_url_template", "The URL is too long"),
    ({"default_therapist_id": "999999"}, "default_therapist_id", "Please choose a therapist of this practice."),
    ({"default_therapist_id": "abc"}, "default_therapist_id", "Please choose a therapist of this practice."),
])
def test_invalid_values_are_refused_and_nothing_is_saved(client, auth, practice, db, english, changes, field,
                                                         message):
    """Each invalid value is shown next to its field (422) and no setting changes, not even the valid ones."""
    auth.login()
    response = client.post("/settings/", data=form(**changes))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    errors = html.split(f'id="field-{field}"')[1].split("</div>")[0]
    assert message in errors and 'aria-invalid="true"' in errors
    db.session.refresh(practice)
    assert practice.timezone == "Europe/Berlin" and practice.settings == {}
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "practice.settings.update")) is None


@pytest.mark.parametrize("role", ["assistant", "admin"])
def test_default_therapist_must_be_a_therapist_of_this_practice(client, auth, make_user, other_practice, role,
                                                                english):
    """A non-therapist or another practice's therapist cannot become the default therapist."""
    auth.login()
    candidate = make_user(role=role) if role != "admin" else make_user(role="therapist", practice=other_practice)
    response = client.post("/settings/", data=form(default_therapist_id=str(candidate.id)))
    assert response.status_code == 422
    assert "Please choose a therapist of this practice." in response.get_data(as_text=True)


def test_default_therapist_id_ignores_users_no_longer_suitable(make_user, practice, db):
    """default_therapist_id (used for patients the booking tool creates) is None when the stored user was
    deactivated or is no longer a therapist, and when nothing is set."""
    assert default_therapist_id(practice) is None
    therapist = make_user(role="therapist")
    practice.settings = {"default_therapist_id": therapist.id}
    db.session.commit()
    assert default_therapist_id(practice) == therapist.id
    therapist.active = False
    db.session.commit()
    assert default_therapist_id(practice) is None


@pytest.mark.parametrize(("field", "value", "status", "message"), [
    ("timezone", "Europe/Zurich", 200, None),
    ("timezone", "Berlin", 422, "“Berlin” is not a known time zone."),
    ("booking_url_template", "https://cal.com/praxis", 200, None),
    ("booking_url_template", "http//cal.com", 422, "starting with https://"),
    ("default_therapist_id", "", 200, None),
])
def test_inline_validation(client, auth, english, field, value, status, message):
    """A field is checked with the same rules when it changes and only its wrapper comes back."""
    auth.login()
    response = client.post(f"/settings/validate/{field}", data={field: value}, headers=htmx(f"field-{field}"))
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<div id="field-{field}"')
    assert (message in html) if message else "field-errors" not in html


def test_inline_validation_of_an_unknown_field_is_404(client, auth):
    """Only the settings fields can be checked."""
    auth.login()
    assert client.post("/settings/validate/email", data={"email": "x"}).status_code == 404


def test_csrf_is_required(app, client, auth):
    """With CSRF on, a save without the token is refused."""
    auth.login()
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/settings/", data=form()).status_code == 400
