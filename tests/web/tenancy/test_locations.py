"""Locations on the settings page (/settings/#locations): listed, added, edited and deleted by admins only, checked
inline with the same rules, audited, scoped to the practice, and never deleted while something refers to them."""

import json

import pytest
from sqlalchemy import select

from app.platform.audit.models import AuditEntry
from app.tenancy.models import Location
from tests.helpers import audit_actions, htmx


@pytest.fixture
def make_location(db, practice):
    """Factory: a location of ``practice`` (or of the practice given)."""

    def make(name="Praxis Mitte", address="Hauptstraße 1, 10115 Berlin", practice=practice):
        location = Location(practice_id=practice.id, name=name, address=address)
        db.session.add(location)
        db.session.commit()
        return location

    return make


def add(name="Praxis Mitte", address=""):
    """The add form's data (the form is prefixed ``location`` so its ids do not clash with an edited row)."""
    return {"location-name": name, "location-address": address}


def edit(location, name, address=""):
    """The data of ``location``'s edit form (prefixed ``location-<id>``)."""
    return {f"location-{location.id}-name": name, f"location-{location.id}-address": address}


def toast_of(response):
    """The toast an htmx response asks for, as (level, text)."""
    toast = json.loads(response.headers["HX-Trigger"])["toast"]
    return toast["level"], toast["text"]


def locations_of(db, practice):
    """(name, address) of the practice's locations, sorted by name."""
    query = select(Location.name, Location.address).where(Location.practice_id == practice.id)
    return sorted(db.session.execute(query).all())


def test_section_lists_only_this_practices_locations(client, auth, make_location, other_practice, english):
    """/settings/ has the #locations section the Integration Hub links to, listing name and address of this
    practice's locations only, with the add form."""
    make_location()
    make_location(name="Filiale Nord", address="")
    make_location(name="Fremde Praxis", practice=other_practice)
    auth.login()
    html = client.get("/settings/").get_data(as_text=True)
    section = html.split('<article id="locations"')[1]
    assert "Locations" in section and 'id="location-add-form"' in section
    assert "Praxis Mitte" in section and "Hauptstraße 1, 10115 Berlin" in section and "Filiale Nord" in section
    assert "Fremde Praxis" not in html
    assert section.index("Filiale Nord") < section.index("Praxis Mitte")


def test_empty_state(client, auth, english):
    """Without locations the section says so and offers the add form."""
    auth.login()
    html = client.get("/settings/").get_data(as_text=True)
    assert 'id="locations-empty"' in html and 'id="location-add-form"' in html


def test_add_with_htmx_returns_the_section_with_a_toast_and_audits(client, auth, practice, db, english):
    """Adding swaps #locations with the new row, asks for a success toast and a locations-changed event, and writes
    location.create by the admin."""
    auth.login()
    response = client.post("/settings/locations", data=add("  Praxis   Mitte ", " Hauptstraße 1 "),
                           headers=htmx("locations"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<article id="locations"') and "<html" not in html
    assert toast_of(response) == ("success", "Location “Praxis Mitte” added.")
    assert "locations-changed" in json.loads(response.headers["HX-Trigger"])
    assert locations_of(db, practice) == [("Praxis Mitte", "Hauptstraße 1")]
    location = db.session.scalar(select(Location))
    assert f'id="location-row-{location.id}"' in html
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "location.create"))
    assert (entry.practice_id, entry.user_id) == (practice.id, auth.user.id)
    assert (entry.object_type, entry.object_id, entry.meta) == ("location", str(location.id), {"name": "Praxis Mitte"})


def test_add_without_htmx_redirects_to_the_section(client, auth, practice, db, english):
    """A plain form post answers 303 to /settings/#locations and flashes the success there."""
    auth.login()
    response = client.post("/settings/locations", data=add())
    assert response.status_code == 303 and response.headers["Location"] == "/settings/#locations"
    assert "Location “Praxis Mitte” added." in client.get("/settings/").get_data(as_text=True)
    assert locations_of(db, practice) == [("Praxis Mitte", "")]


@pytest.mark.parametrize("name", ["Praxis Mitte", "praxis mitte", "  PRAXIS   MITTE  "])
def test_duplicate_name_is_refused_naming_the_clash(client, auth, make_location, practice, db, english, name):
    """A name another location of the practice already has (in any case or spacing) is refused with 422, a message
    naming the existing location, and nothing is saved or audited."""
    make_location()
    auth.login()
    response = client.post("/settings/locations", data=add(name), headers=htmx("locations"))
    assert response.status_code == 422
    field = response.get_data(as_text=True).split('id="field-location-name"')[1].split("</div>")[0]
    assert "There is already a location named “Praxis Mitte”." in field and 'aria-invalid="true"' in field
    assert locations_of(db, practice) == [("Praxis Mitte", "Hauptstraße 1, 10115 Berlin")]
    assert audit_actions(db, action="location.create") == []


def test_another_practice_may_use_the_same_name(client, auth, make_location, other_practice, practice, db):
    """Names are unique per practice, not across practices."""
    make_location(practice=other_practice)
    auth.login()
    assert client.post("/settings/locations", data=add(), headers=htmx("locations")).status_code == 200
    assert locations_of(db, practice) == [("Praxis Mitte", "")]


@pytest.mark.parametrize(("data", "field", "message"), [
    (add(""), "name", "Please enter a name for the location."),
    (add("   "), "name", "Please enter a name for the location."),
    ({}, "name", "Please enter a name for the location."),
    (add("x" * 201), "name", "The name is too long (at most 200 characters)."),
    (add("Praxis Mitte", "x" * 501), "address", "The address is too long (at most 500 characters)."),
])
def test_invalid_values_are_refused(client, auth, practice, db, english, data, field, message):
    """Each invalid value is shown next to its field (422) and nothing is saved."""
    auth.login()
    response = client.post("/settings/locations", data=data, headers=htmx("locations"))
    assert response.status_code == 422
    errors = response.get_data(as_text=True).split(f'id="field-location-{field}"')[1].split("</div>")[0]
    assert message in errors and 'aria-invalid="true"' in errors
    assert locations_of(db, practice) == []
    assert audit_actions(db, action="location.create") == []


def test_longest_allowed_values_are_accepted(client, auth, practice, db):
    """200 characters of name and 500 of address are still fine."""
    auth.login()
    response = client.post("/settings/locations", data=add("n" * 200, "a" * 500), headers=htmx("locations"))
    assert response.status_code == 200
    assert locations_of(db, practice) == [("n" * 200, "a" * 500)]


def test_invalid_add_without_htmx_shows_the_whole_page_with_the_saved_settings(client, auth, english):
    """Without htmx an invalid add re-renders the settings page (422) with the error, and the settings form there
    still shows the saved values rather than the (absent) posted ones."""
    auth.login()
    response = client.post("/settings/locations", data=add(""))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="settings-form"' in html and 'value="Europe/Berlin"' in html
    assert "Please enter a name for the location." in html


@pytest.mark.parametrize(("url_field", "value", "status", "message"), [
    ("name", "Filiale Nord", 200, None),
    ("name", "praxis mitte", 422, "There is already a location named “Praxis Mitte”."),
    ("name", "", 422, "Please enter a name for the location."),
    ("address", "Nordstraße 2", 200, None),
    ("address", "x" * 501, 422, "The address is too long"),
])
def test_inline_validation_of_the_add_form(client, auth, make_location, english, url_field, value, status, message):
    """A field of the add form is checked with the same rules when it changes and only its wrapper comes back."""
    make_location()
    auth.login()
    response = client.post(f"/settings/locations/validate/{url_field}", data={f"location-{url_field}": value},
                           headers=htmx(f"field-location-{url_field}"))
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<div id="field-location-{url_field}"')
    assert (message in html) if message else "field-errors" not in html


def test_inline_validation_of_an_edit_form_allows_the_locations_own_name(client, auth, make_location, english):
    """In a location's edit form its own name is no clash, another location's name is."""
    mitte = make_location()
    make_location(name="Filiale Nord")
    auth.login()
    url = f"/settings/locations/{mitte.id}/validate/name"
    own = client.post(url, data={f"location-{mitte.id}-name": "PRAXIS MITTE"})
    assert own.status_code == 200
    assert own.get_data(as_text=True).lstrip().startswith(f'<div id="field-location-{mitte.id}-name"')
    taken = client.post(url, data={f"location-{mitte.id}-name": "Filiale Nord"})
    assert taken.status_code == 422 and "There is already a location named “Filiale Nord”." in taken.get_data(
        as_text=True)


def test_inline_validation_of_an_unknown_field_is_404(client, auth):
    """Only name and address can be checked."""
    auth.login()
    assert client.post("/settings/locations/validate/practice_id", data={}).status_code == 404


def test_edit_shows_the_row_as_a_form(client, auth, make_location, english):
    """Edit swaps #locations with the location's row turned into a form holding its values; without htmx the
    settings page shows the same."""
    location = make_location()
    auth.login()
    html = client.get(f"/settings/locations/{location.id}/edit", headers=htmx("locations")).get_data(as_text=True)
    assert html.lstrip().startswith('<article id="locations"')
    assert f'id="location-edit-form-{location.id}"' in html
    assert f'name="location-{location.id}-name"' in html and 'value="Praxis Mitte"' in html
    assert 'value="Hauptstraße 1, 10115 Berlin"' in html
    page = client.get(f"/settings/locations/{location.id}/edit").get_data(as_text=True)
    assert 'id="settings-form"' in page and f'id="location-edit-form-{location.id}"' in page


def test_cancel_returns_the_plain_list(client, auth, make_location):
    """The list fragment (used by "Cancel") has no edit form; a plain GET goes to the page's section."""
    location = make_location()
    auth.login()
    html = client.get("/settings/locations", headers=htmx("locations")).get_data(as_text=True)
    assert f'id="location-row-{location.id}"' in html and "location-edit-form" not in html
    response = client.get("/settings/locations")
    assert response.status_code == 302 and response.headers["Location"] == "/settings/#locations"


def test_update_renames_and_audits_the_changed_keys(client, auth, make_location, practice, db, english):
    """Saving the edit form changes name and address, swaps the list back with a toast, and writes location.update
    with the changed keys and both names."""
    location = make_location()
    auth.login()
    response = client.post(f"/settings/locations/{location.id}", data=edit(location, "Praxis Zentrum", "Ring 5"),
                           headers=htmx("locations"))
    assert response.status_code == 200
    assert toast_of(response) == ("success", "Location “Praxis Zentrum” saved.")
    assert "location-edit-form" not in response.get_data(as_text=True)
    assert locations_of(db, practice) == [("Praxis Zentrum", "Ring 5")]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "location.update"))
    assert (entry.object_type, entry.object_id, entry.user_id) == ("location", str(location.id), auth.user.id)
    assert entry.meta == {"keys": ["address", "name"], "name": "Praxis Zentrum", "previous_name": "Praxis Mitte"}


def test_update_of_the_address_only_and_unchanged_saves(client, auth, make_location, db, english):
    """Changing only the address audits just that key; saving the same values again says so and audits nothing."""
    location = make_location()
    auth.login()
    client.post(f"/settings/locations/{location.id}", data=edit(location, "Praxis Mitte", ""))
    response = client.post(f"/settings/locations/{location.id}", data=edit(location, "Praxis Mitte", ""),
                           headers=htmx("locations"))
    assert toast_of(response) == ("success", "Nothing changed.")
    entries = db.session.scalars(select(AuditEntry.meta).where(AuditEntry.action == "location.update"))
    assert list(entries) == [{"keys": ["address"], "name": "Praxis Mitte"}]


def test_update_without_htmx_redirects_to_the_section(client, auth, make_location, practice, db):
    """A plain post of the edit form answers 303 to /settings/#locations."""
    location = make_location()
    auth.login()
    response = client.post(f"/settings/locations/{location.id}", data=edit(location, "Praxis Süd"))
    assert response.status_code == 303 and response.headers["Location"] == "/settings/#locations"
    assert locations_of(db, practice) == [("Praxis Süd", "")]


def test_update_to_a_taken_name_keeps_the_row_in_edit_mode(client, auth, make_location, practice, db, english):
    """Renaming to another location's name is refused with 422; the row stays a form showing the message."""
    location = make_location()
    make_location(name="Filiale Nord")
    auth.login()
    response = client.post(f"/settings/locations/{location.id}", data=edit(location, "filiale nord"),
                           headers=htmx("locations"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="location-edit-form-{location.id}"' in html
    field = html.split(f'id="field-location-{location.id}-name"')[1].split("</div>")[0]
    assert "There is already a location named “Filiale Nord”." in field
    assert [name for name, _ in locations_of(db, practice)] == ["Filiale Nord", "Praxis Mitte"]
    assert audit_actions(db, action="location.update") == []


def test_delete_removes_and_audits(client, auth, make_location, practice, db, english):
    """Deleting swaps the list without the row, with a toast, and writes location.delete with the name."""
    location = make_location()
    location_id = location.id
    auth.login()
    response = client.post(f"/settings/locations/{location_id}/delete", headers=htmx("locations"))
    assert response.status_code == 200
    assert toast_of(response) == ("success", "Location “Praxis Mitte” deleted.")
    assert f'id="location-row-{location_id}"' not in response.get_data(as_text=True)
    assert locations_of(db, practice) == []
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "location.delete"))
    assert (entry.object_id, entry.user_id) == (str(location_id), auth.user.id)
    assert entry.meta == {"name": "Praxis Mitte", "address": "Hauptstraße 1, 10115 Berlin"}


def test_delete_without_htmx_redirects_to_the_section(client, auth, make_location, practice, db):
    """A plain post of the delete button answers 303 to /settings/#locations."""
    location = make_location()
    auth.login()
    response = client.post(f"/settings/locations/{location.id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/settings/#locations"
    assert locations_of(db, practice) == []


def test_delete_is_refused_while_an_integration_config_refers_to_it(client, auth, make_location, practice, db,
                                                                     english):
    """A location that an integration's settings point at stays; the answer (422, inline and as an error toast)
    says why, and no deletion is audited. Once the reference is gone, deleting works."""
    from app.integrations.models import IntegrationConfig

    location = make_location()
    config = IntegrationConfig(practice_id=practice.id, location_id=location.id, provider="calcom")
    db.session.add(config)
    db.session.commit()
    auth.login()
    response = client.post(f"/settings/locations/{location.id}/delete", headers=htmx("locations"))
    assert response.status_code == 422
    message = ("“Praxis Mitte” cannot be deleted because it is still used by: integration settings (1). "
               "Change or remove those first.")
    assert toast_of(response) == ("error", message)
    html = response.get_data(as_text=True)
    assert 'id="locations-error"' in html and message in html and f'id="location-row-{location.id}"' in html
    assert locations_of(db, practice) == [("Praxis Mitte", "Hauptstraße 1, 10115 Berlin")]
    assert audit_actions(db, action="location.delete") == []

    db.session.delete(config)
    db.session.commit()
    assert client.post(f"/settings/locations/{location.id}/delete").status_code == 303
    assert locations_of(db, practice) == []


def _location_requests(location_id):
    """(method, url, data) of every location route, aimed at ``location_id``."""
    return [
        ("GET", "/settings/locations", None),
        ("POST", "/settings/locations", add("Neu")),
        ("POST", "/settings/locations/validate/name", add("Neu")),
        ("GET", f"/settings/locations/{location_id}/edit", None),
        ("POST", f"/settings/locations/{location_id}", {f"location-{location_id}-name": "Neu"}),
        ("POST", f"/settings/locations/{location_id}/validate/name", {f"location-{location_id}-name": "Neu"}),
        ("POST", f"/settings/locations/{location_id}/delete", None),
    ]


@pytest.mark.parametrize("role", ["assistant", "therapist", "billing"])
def test_other_roles_may_not(client, auth, make_location, practice, db, role):
    """Without integrations.manage (the settings page's permission) every location route answers 403, with and
    without htmx, and nothing changes."""
    location = make_location()
    auth.login(role=role)
    for method, url, data in _location_requests(location.id):
        for headers in ({}, htmx("locations")):
            assert client.open(url, method=method, data=data, headers=headers).status_code == 403, (method, url)
    assert locations_of(db, practice) == [("Praxis Mitte", "Hauptstraße 1, 10115 Berlin")]
    assert audit_actions(db, action="location.create") == []


def test_another_practices_location_is_404(client, auth, make_location, other_practice, db):
    """Edit, save, check and delete of another practice's location answer 404 and leave it untouched."""
    foreign = make_location(name="Fremd", address="Anderswo 1", practice=other_practice)
    auth.login()
    for method, url, data in _location_requests(foreign.id)[3:]:
        assert client.open(url, method=method, data=data, headers=htmx("locations")).status_code == 404, url
    assert locations_of(db, other_practice) == [("Fremd", "Anderswo 1")]
    assert audit_actions(db) == ["login.success"]


def test_names_are_escaped(client, auth, make_location):
    """A location name is text, never markup (also inside the delete confirmation)."""
    make_location(name='<img src=x onerror="alert(1)">')
    auth.login()
    html = client.get("/settings/").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_csrf_is_required(app, client, auth, make_location, practice, db):
    """With CSRF on, adding and deleting without the token are refused."""
    location = make_location()
    auth.login()
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/settings/locations", data=add("Neu")).status_code == 400
    assert client.post(f"/settings/locations/{location.id}/delete").status_code == 400
    assert locations_of(db, practice) == [("Praxis Mitte", "Hauptstraße 1, 10115 Berlin")]
