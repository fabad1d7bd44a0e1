"""The calls inbox pages: who may open them, another practice's calls answer 404, the list (unmatched highlighted,
sentiment in German, the open count in the navigation), done and open again (htmx swaps the inbox and the count),
assigning to a found patient and to a new one prefilled with the caller's number."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.appointments.models import Call
from app.patients.models import Patient
from app.platform.database import utcnow
from tests.helpers import audit_actions, htmx


def stored(db, model, key):
    """The row as the database holds it now (the requests ran in sessions of their own)."""
    db.session.expire_all()
    return db.session.get(model, key)


def add_call(db, practice, patient=None, hours_ago=1, **fields):
    """A call of ``practice`` (unmatched without ``patient``), ``hours_ago`` hours ago."""
    fields.setdefault("external_id", f"call-{practice.id}-{hours_ago}")
    fields.setdefault("direction", "inbound")
    call = Call(practice_id=practice.id, patient_id=patient.id if patient else None,
                started_at=utcnow() - timedelta(hours=hours_ago), **fields)
    db.session.add(call)
    db.session.commit()
    return call


def nav_count(html):
    """The open count shown in the navigation."""
    return int(re.search(r'id="nav-count-calls-index"[^>]*>(\d+)<', html).group(1))


@pytest.mark.parametrize("role", ["therapist", "billing"])
def test_roles_without_calls_manage_are_refused_and_see_no_entry(client, auth, db, practice, role):
    """Therapists and billing neither open the inbox nor see it in the navigation."""
    auth.login(role)
    call = add_call(db, practice)
    assert client.get("/calls/").status_code == 403
    assert client.post(f"/calls/{call.id}/done").status_code == 403
    assert 'href="/calls/"' not in client.get("/patients/").get_data(as_text=True)


def test_another_practices_call_is_not_found(client, auth, db, other_practice, make_patient):
    """Ids of another practice's calls answer 404 everywhere and change nothing."""
    auth.login("assistant")
    call = add_call(db, other_practice)
    patient = make_patient()
    for method, url, data in (("get", f"/calls/{call.id}", None), ("post", f"/calls/{call.id}/done", {}),
                              ("post", f"/calls/{call.id}/assign", {"patient_id": patient.id}),
                              ("get", f"/calls/{call.id}/patient/new", None)):
        assert getattr(client, method)(url, data=data).status_code == 404
    assert stored(db, Call, call.id).done_at is None and stored(db, Call, call.id).patient_id is None


def test_inbox_lists_calls_newest_first_highlights_unmatched_and_speaks_german(client, auth, db, practice,
                                                                              make_patient, sql_statements):
    """The front desk sees every call, newest first; the one without a patient is highlighted and labelled; the
    sentiment is a German word; the navigation counts the open calls; the page's statements do not grow per row."""
    auth.login("assistant")
    lena = make_patient(first_name="Lena", last_name="Becker")
    unknown = add_call(db, practice, hours_ago=1, from_number="+491709998877", sentiment="Neutral",
                       summary="Anruferin verschiebt ihren Termin von Donnerstag auf Dienstag, 9 Uhr.")
    known = add_call(db, practice, lena, hours_ago=2, from_number="+491701112233", sentiment="Negative")
    add_call(db, practice, lena, hours_ago=3, done_at=utcnow())

    html = client.get("/calls/").get_data(as_text=True)

    rows = re.findall(r'<tr id="call-row-(\d+)" class="([^"]*)"', html)
    assert [int(row[0]) for row in rows][:2] == [unknown.id, known.id] and len(rows) == 3
    assert rows[0][1] == "call-unmatched" and rows[1][1] == "" and rows[2][1] == "call-done"
    unknown_row = html.split(f'id="call-row-{unknown.id}"')[1].split("</tr>")[0]
    assert "Ohne Patient:in" in unknown_row and "0170 9998877" in unknown_row and "Dienstag, 9 Uhr" in unknown_row
    assert ">Neutral<" in unknown_row
    assert "Negativ" in html and "Lena Becker" in html
    assert nav_count(html) == 2

    for number in range(10):
        add_call(db, practice, hours_ago=10 + number)
    with sql_statements() as few:
        client.get("/calls/")
    with sql_statements() as many:
        client.get("/calls/")
    assert len(few) == len(many) and len(many) < 12


def test_done_from_the_inbox_swaps_the_inbox_and_the_nav_count(client, auth, db, practice):
    """"Erledigt" answers htmx with the inbox under its filter and the navigation's count out of band, audited with
    who and when; "Wieder öffnen" brings it back."""
    user = auth.login("assistant")
    first = add_call(db, practice, hours_ago=1)
    add_call(db, practice, hours_ago=2)

    response = client.post(f"/calls/{first.id}/done", data={"show": "open"}, headers=htmx("calls-inbox"))

    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="calls-inbox">')
    assert f'id="call-row-{first.id}"' not in html  # the "open" filter no longer lists it
    assert re.search(r'id="nav-count-calls-index"[^>]*hx-swap-oob="true">1<', html)
    assert "toast" in response.headers["HX-Trigger"]
    call = stored(db, Call, first.id)
    assert call.done_by_id == user.id and call.done_at is not None
    assert audit_actions(db, object_type="call") == ["call.done"]

    response = client.post(f"/calls/{first.id}/reopen", data={"show": "all"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/calls/?show=all")
    assert stored(db, Call, first.id).done_at is None
    assert nav_count(client.get("/calls/").get_data(as_text=True)) == 2


def test_assign_to_a_found_patient(client, auth, db, practice, other_practice, make_patient):
    """The search finds the practice's patients (not another practice's); the chosen one gets the call; a patient
    id of another practice is refused with a message."""
    auth.login("assistant")
    call = add_call(db, practice, from_number="+491709998877")
    mine = make_patient(first_name="Greta", last_name="Gefunden")
    theirs = make_patient(practice=other_practice, first_name="Greta", last_name="Fremd")

    results = client.get(f"/calls/{call.id}/patients", query_string={"q": "Greta"},
                         headers=htmx("call-patient-results")).get_data(as_text=True)
    assert results.lstrip().startswith('<div id="call-patient-results">')
    assert "Greta Gefunden" in results and "Greta Fremd" not in results

    refused = client.post(f"/calls/{call.id}/assign", data={"patient_id": theirs.id}, follow_redirects=True)
    assert "Bitte wählen Sie eine Patient:in aus den Suchergebnissen aus." in refused.get_data(as_text=True)
    assert stored(db, Call, call.id).patient_id is None

    response = client.post(f"/calls/{call.id}/assign", data={"patient_id": mine.id})
    assert response.status_code == 303
    assert stored(db, Call, call.id).patient_id == mine.id
    assert "Greta Gefunden" in client.get(f"/calls/{call.id}").get_data(as_text=True)


def test_new_patient_from_a_call_is_prefilled_and_assigned(client, auth, db, practice):
    """The form starts with the caller's number; a missing name is refused (422) with the field's message; a valid
    submit creates the patient and assigns the call."""
    auth.login("assistant")
    call = add_call(db, practice, from_number="+491709998877")

    form = client.get(f"/calls/{call.id}/patient/new").get_data(as_text=True)
    assert 'value="0170 9998877"' in form

    refused = client.post(f"/calls/{call.id}/patient/new", data={"first_name": "Ina", "phone": "0170 9998877"})
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.get_data(as_text=True)

    response = client.post(f"/calls/{call.id}/patient/new",
                           data={"first_name": "Ina", "last_name": "Neu", "phone": "0170 9998877"})
    assert response.status_code == 303
    patient = db.session.scalar(select(Patient).where(Patient.last_name == "Neu"))
    assert patient.phone == "+491709998877" and stored(db, Call, call.id).patient_id == patient.id
    assert audit_actions(db, object_type="call") == ["call.assign"]


def test_home_page_shows_the_open_calls_panel_to_the_front_desk_only(client, auth, db, practice):
    """The front desk's home page has "Offene Anrufe" with the newest open call linking to it; billing's has not."""
    auth.login("assistant")
    call = add_call(db, practice, summary="Bitte um Rückruf wegen Rezept.")
    home = client.get("/").get_data(as_text=True)
    panel = home.split('id="home-open-calls"')[1].split("</article>")[0]
    assert "Offene Anrufe" in panel and f'href="/calls/{call.id}"' in panel and "Rückruf" in panel
    auth.logout()
    auth.login("billing")
    assert 'id="home-open-calls"' not in client.get("/").get_data(as_text=True)


def test_the_records_anrufe_tab_names_the_sentiment_in_german(client, auth, db, practice, make_patient):
    """The patient record's Anrufe tab shows the caller's mood as a German word, not Retell's English value."""
    auth.login("assistant")
    patient = make_patient()
    add_call(db, practice, patient, sentiment="Negative")
    html = client.get(f"/patients/{patient.id}/anrufe", headers=htmx("patient-tab")).get_data(as_text=True)
    assert "Negativ" in html and "Negative" not in html
