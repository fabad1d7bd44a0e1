"""A phone number that cannot be normalised never costs a patient: the form, the JSON API, the CSV import and the
booking tool's webhook keep it as typed, and the patient list, the record and the import report show it with
"Check phone number"."""

import csv
import io

from sqlalchemy import select

from app.patients.importing.service import run_import_job
from app.patients.models import Patient
from app.platform.jobs.queue import claim_next
from app.platform.security.actor import Actor
from app.webhooks.endpoints import create_endpoint
from tests.helpers import bearer, htmx
from tests.signers import booking_event, compact, sign_booking

MARK = "Check phone number"


def _patient(db, last_name):
    """The stored patient with ``last_name``."""
    return db.session.scalar(select(Patient).where(Patient.last_name == last_name))


def test_the_form_keeps_a_messy_phone_and_the_list_and_record_mark_it(client, auth, db, english):
    """A phone that is no number is stored as typed (control characters removed) and shown marked; a mobile
    number of a range the phone library does not know yet is stored in E.164 and not marked."""
    auth.login()
    messy = client.post("/patients/new", data={"first_name": "Mia", "last_name": "Morgen",
                                               "phone": "  bitte\x00 zurückrufen "})
    known = client.post("/patients/new", data={"first_name": "Nils", "last_name": "Neu", "phone": "0151 1112223"})
    assert messy.status_code == 303 and known.status_code == 303
    mia, nils = _patient(db, "Morgen"), _patient(db, "Neu")
    assert (mia.phone, nils.phone) == ("bitte zurückrufen", "+491511112223")

    record = client.get(f"/patients/{mia.id}").get_data(as_text=True)
    assert "bitte zurückrufen" in record and MARK in record
    assert MARK not in client.get(f"/patients/{nils.id}").get_data(as_text=True)
    listing = client.get("/patients/").get_data(as_text=True)
    assert listing.count(MARK) == 1
    row = listing.split(f'id="patient-row-{mia.id}"', 1)[1].split("</tr>", 1)[0]
    assert "bitte zurückrufen" in row and MARK in row


def test_leaving_the_phone_field_says_a_messy_phone_is_kept_not_refused(client, auth, english):
    """Inline validation answers 200 (no error) and says that the value is saved as typed and marked; a complete
    number gets no such note."""
    auth.login()
    messy = client.post("/patients/validate/phone", data={"phone": "0173"}, headers=htmx("field-phone"))
    html = messy.get_data(as_text=True)
    assert messy.status_code == 200 and 'aria-invalid' not in html and 'aria-describedby="phone-help"' in html
    assert "saved as typed and marked “Check phone number”" in html
    complete = client.post("/patients/validate/phone", data={"phone": "01522 334455"}, headers=htmx("field-phone"))
    assert complete.status_code == 200 and "phone-help" not in complete.get_data(as_text=True)


def test_editing_to_a_messy_phone_is_saved(client, auth, db, make_patient, english):
    """Changing a phone to something that cannot be normalised saves the edit instead of refusing it."""
    auth.login()
    patient = make_patient(last_name="Ostwald", phone="+491701234567")
    response = client.post(f"/patients/{patient.id}/edit", data={"first_name": patient.first_name,
                                                                "last_name": "Ostwald", "phone": "0173"})
    assert response.status_code == 303
    db.session.refresh(patient)
    assert patient.phone == "0173"


def test_the_api_creates_a_patient_with_a_messy_phone(client, make_user, make_token, db):
    """POST /api/patients answers 201 with the phone as typed; the three numbers of the issue become E.164."""
    token = make_token(make_user(role="assistant"))
    created = client.post("/api/patients", json={"first_name": "Paul", "last_name": "Pause",
                                                 "phone": "nur abends"}, headers=bearer(token))
    assert created.status_code == 201 and created.get_json()["phone"] == "nur abends"
    for number, last_name in (("0151 1112223", "Eins"), ("01522 334455", "Zwei"), ("+49 1522 334455", "Drei")):
        # "Drei" has Zwei's number once normalised: a likely duplicate, created on purpose
        anyway = {"create_anyway": True, "reason": "Geschwister, gleiche Nummer"} if last_name == "Drei" else {}
        response = client.post("/api/patients", json={"first_name": "Test", "last_name": last_name,
                                                      "phone": number, **anyway}, headers=bearer(token))
        assert response.status_code == 201, number
    assert [_patient(db, name).phone for name in ("Eins", "Zwei", "Drei")] == [
        "+491511112223", "+491522334455", "+491522334455"]


def _csv(rows):
    """File content as German Excel writes it (UTF-8 with BOM, ``;``)."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def test_the_import_creates_patients_with_messy_phones(client, auth, db, english):
    """A file whose phones cannot all be normalised is imported whole: no row is invalid for its phone, the messy
    phone is kept as typed, and the import report and the patient list mark it."""
    auth.login()
    content = _csv([["Vorname", "Nachname", "Handy"], ["Rita", "Ruf", "01522 334455"],
                    ["Sven", "Sonder", "Festnetz über Praxis"], ["Tom", "", "nur Mo"]])
    response = client.post("/patients/import", data={"file": (io.BytesIO(content), "export.csv")},
                           content_type="multipart/form-data")
    job_url = response.headers["Location"]
    mapping = {"first_name": "Vorname", "last_name": "Nachname", "phone": "Handy"}
    assert client.post(job_url, data=mapping).status_code == 303
    # two rows to look at: one lacks a last name, the other keeps its phone as typed ("Telefonnummer prüfen")
    report = client.get(job_url).get_data(as_text=True)
    assert report.count('id="import-row-') == 2 and "Last name" in report and "Handy" not in report.split(
        'id="import-rows"', 1)[1]
    assert "nur Mo" in report and MARK in report
    assert client.post(f"{job_url}/start", data={"valid_only": "y"}).status_code == 303
    run_import_job(claim_next("test-worker"), lambda done, total: None)

    assert (_patient(db, "Ruf").phone, _patient(db, "Sonder").phone) == ("+491522334455", "Festnetz über Praxis")
    listing = client.get("/patients/").get_data(as_text=True)
    assert listing.count(MARK) == 1 and "Festnetz über Praxis" in listing


def test_the_booking_tool_webhook_creates_a_patient_with_a_messy_phone(client, db, practice):
    """A signed patient.created event whose phone is no number is applied (2xx), the phone kept as sent."""
    endpoint, secret = create_endpoint(Actor(practice_id=practice.id), "booking")
    data = {"patient_id": "B-900", "first_name": "Wanda", "last_name": "Webhook", "email": "wanda@example.test",
            "phone": "Mo-Fr ab 17 Uhr", "birth_date": "1970-01-01"}
    body = compact(booking_event("patient.created", data, event_id="evt_phone"))
    response = client.post(f"/api/webhooks/booking/{endpoint.public_id}", data=body,
                           headers=sign_booking(secret, body, msg_id="msg_phone"))
    assert 200 <= response.status_code < 300
    assert _patient(db, "Webhook").phone == "Mo-Fr ab 17 Uhr"
