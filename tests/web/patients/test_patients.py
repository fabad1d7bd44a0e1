"""Patients in the browser-facing views: search, scoping, create and edit with the shared rules, the record and
its tabs, archive and restore, and the booking link."""

from datetime import date

import pytest
from sqlalchemy import select

from app.patients.models import Patient
from tests.helpers import audit_actions, bearer, htmx


def test_search_by_name_email_phone_birth_date_and_booking_id(client, auth, make_patient):
    """Each searchable field finds the patient, in German and ISO date form and with a national phone number."""
    auth.login(role="assistant")
    anna = make_patient(first_name="Anna", last_name="Amsel", email="anna@example.test", phone="+491701234567",
                        birth_date=date(1980, 3, 12), booking_system_id="BK-77")
    make_patient(first_name="Bernd", last_name="Bussard", birth_date=date(1990, 1, 1))
    for term in ("amsel", "Anna Ams", "ANNA@EXAMPLE", "0170 1234567", "+49 170", "12.03.1980", "1980-03-12", "bk-77"):
        html = client.get("/patients/", query_string={"q": term}, headers=htmx("patients-table")).get_data(as_text=True)
        assert f'id="patient-row-{anna.id}"' in html, term
        assert "Bussard" not in html, term
    assert ">0170 1234567</td>" in html  # stored as E.164, shown as a person in Germany writes it


def test_search_fragment_and_page(client, auth, make_patient):
    """Active search gets the #patients-table fragment; the same URL without htmx is a page."""
    auth.login()
    make_patient(last_name="Zander")
    fragment = client.get("/patients/?q=zand", headers=htmx("patients-table"))
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="patients-table"')
    assert "HX-Target" in fragment.headers["Vary"]
    assert "<html" in client.get("/patients/?q=zand").get_data(as_text=True)


def test_search_treats_wildcards_literally(client, auth, make_patient):
    """% and _ in a search are characters, not wildcards."""
    auth.login()
    make_patient(last_name="Meier")
    html = client.get("/patients/?q=%25", headers=htmx("patients-table")).get_data(as_text=True)
    assert "Meier" not in html


def test_sort_and_paginate(app, client, auth, make_patient):
    """Sorting by birth date descending and the second page work together."""
    auth.login()
    for year in range(1950, 1950 + app.config["PATIENTS_PAGE_SIZE"] + 3):
        make_patient(last_name=f"P{year}", birth_date=date(year, 1, 1))
    html = client.get("/patients/?sort=birth_date&desc=1&page=2").get_data(as_text=True)
    assert "P1950" in html and "P1977" not in html


@pytest.mark.parametrize("term", ["treff", "tr"])
def test_search_results_are_sorted_paged_and_counted(app, client, auth, english, make_patient, term):
    """A search with more matches than a page (through the trigram index, and with a two-letter word that is
    matched without it) counts every match, sorts them all, and pages through them; non-matches never appear."""
    auth.login()
    size = app.config["PATIENTS_PAGE_SIZE"]
    for year in range(1950, 1950 + size + 5):
        make_patient(last_name=f"Treffer{year}", birth_date=date(year, 1, 1))
    make_patient(last_name="Anders", birth_date=date(2000, 1, 1))
    query = {"q": term, "sort": "birth_date", "desc": "1"}
    first = client.get("/patients/", query_string=query, headers=htmx("patients-table")).get_data(as_text=True)
    second = client.get("/patients/", query_string=dict(query, page=2),
                        headers=htmx("patients-table")).get_data(as_text=True)
    assert f"{size + 5} patients" in first and f"{size + 5} patients" in second
    assert first.index(f"Treffer{1949 + size + 5}") < first.index(f"Treffer{1950 + 5}")
    assert "Treffer1954" not in first and "Anders" not in first
    assert second.index("Treffer1954") < second.index("Treffer1950") and f"Treffer{1950 + 5}" not in second
    beyond = client.get("/patients/", query_string=dict(query, page=9), headers=htmx("patients-table"))
    assert f"{size + 5} patients" in beyond.get_data(as_text=True) and "Treffer" not in beyond.get_data(as_text=True)


@pytest.mark.parametrize("term", ["treff", "tr"])
def test_search_counts_up_to_the_limit_and_pages_on(app, client, auth, english, make_patient, make_user, make_token,
                                                    term):
    """Past PATIENTS_SEARCH_COUNT_LIMIT the list says "more than", still in sort order, and offers the next page,
    which counts on to its own end; the JSON API counts exactly."""
    auth.login()
    size = app.config["PATIENTS_PAGE_SIZE"]
    app.config["PATIENTS_SEARCH_COUNT_LIMIT"] = 5  # below a page: the first page counts to its own end
    for number in range(size + 5):
        make_patient(last_name=f"Treffer{number:02d}")
    make_patient(last_name="Anders")
    first = client.get("/patients/", query_string={"q": term}, headers=htmx("patients-table")).get_data(as_text=True)
    assert f"More than {size} patients" in first and "Page 1 of more than 1" in first
    assert first.index("Treffer00") < first.index(f"Treffer{size - 1}") and f"Treffer{size}" not in first
    assert 'rel="next">Next</a>' in first and "Anders" not in first
    second = client.get("/patients/", query_string={"q": term, "page": 2},
                        headers=htmx("patients-table")).get_data(as_text=True)
    assert f"{size + 5} patients" in second and "Page 2 of 2" in second and 'rel="prev">Previous</a>' in second
    assert f"Treffer{size}" in second and f"Treffer{size - 1}" not in second
    token = make_token(make_user(role="billing"))
    assert client.get("/api/patients", query_string={"q": term}, headers=bearer(token)).get_json()["count"] == size + 5


@pytest.mark.parametrize("term", ["", "nach"])
def test_list_reads_the_therapists_with_the_page(client, auth, make_user, make_patient, sql_statements, term):
    """The list shows each patient's therapist without a query per therapist: a page with patients of four
    therapists sends as many statements as a page with patients of one."""
    auth.login()
    therapists = [make_user(role="therapist", name=f"Therapeutin {number}") for number in range(4)]
    counts = []
    for count in (1, 4):
        for therapist in therapists[:count]:
            make_patient(therapist_id=therapist.id)
        with sql_statements() as sent:
            html = client.get("/patients/", query_string={"q": term},
                              headers=htmx("patients-table")).get_data(as_text=True)
        assert all(therapist.name in html for therapist in therapists[:count])
        counts.append(len(sent))
    assert counts[0] == counts[1], counts


def test_therapist_sees_only_own_patients(client, auth, make_user, make_patient):
    """A therapist lists and opens only patients assigned to them; others answer 404."""
    therapist = auth.login(role="therapist")
    colleague = make_user(role="therapist")
    own = make_patient(last_name="Eigene", therapist_id=therapist.id)
    other = make_patient(last_name="Fremde", therapist_id=colleague.id)
    html = client.get("/patients/").get_data(as_text=True)
    assert "Eigene" in html and "Fremde" not in html
    assert client.get(f"/patients/{own.id}").status_code == 200
    assert client.get(f"/patients/{other.id}").status_code == 404


def test_other_practice_patients_are_invisible(client, auth, make_patient, other_practice):
    """Another practice's patient never appears and answers 404."""
    auth.login()
    stranger = make_patient(practice=other_practice, last_name="Ausland")
    assert "Ausland" not in client.get("/patients/?q=ausland").get_data(as_text=True)
    for url in (f"/patients/{stranger.id}", f"/patients/{stranger.id}/edit", f"/patients/{stranger.id}/verlauf"):
        assert client.get(url).status_code == 404
    assert client.post(f"/patients/{stranger.id}/archive").status_code == 404


def test_create_patient_normalises_and_audits(client, auth, db, practice):
    """Phone becomes E.164 in the practice's country, the German birth date is read; creation is audited."""
    admin = auth.login(role="assistant")
    response = client.post("/patients/new", data={"first_name": " Clara ", "last_name": "Cello",
                                                  "email": "Clara@Example.TEST", "phone": "030 1234567",
                                                  "birth_date": "05.06.1975"})
    assert response.status_code == 303
    patient = db.session.scalar(select(Patient))
    assert (patient.first_name, patient.phone, patient.birth_date) == ("Clara", "+49301234567", date(1975, 6, 5))
    assert patient.email_normalized == "clara@example.test"
    assert response.headers["Location"] == f"/patients/{patient.id}"
    assert "patient.create" in audit_actions(db, user_id=admin.id)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("email", "kein-at", "not a valid email address"),
        ("birth_date", "31.02.1980", "not a real date"),
        ("birth_date", "01.01.2999", "in the future"),
        ("birth_date", "gestern", "DD.MM.YYYY"),
        ("first_name", "", "This field is required"),
    ],
)
def test_create_patient_validation(client, auth, db, english, field, value, message):
    """Each rule answers 422 with its message next to the field, and nothing is saved."""
    auth.login()
    data = {"first_name": "Dora", "last_name": "Dach", field: value}
    response = client.post("/patients/new", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and f'id="field-{field}"' in html and 'aria-invalid="true"' in html
    assert db.session.scalar(select(Patient)) is None


def test_inline_validation_of_a_field(client, auth, english):
    """Leaving the email field validates it alone: 422 with the message, 200 when it is fixed."""
    auth.login()
    bad = client.post("/patients/validate/email", data={"email": "kein-at"}, headers=htmx("field-email"))
    assert bad.status_code == 422 and "not a valid email address" in bad.get_data(as_text=True)
    assert bad.get_data(as_text=True).lstrip().startswith('<div id="field-email"')
    good = client.post("/patients/validate/email", data={"email": "dora@example.test"}, headers=htmx("field-email"))
    assert good.status_code == 200 and "aria-invalid" not in good.get_data(as_text=True)
    assert client.post("/patients/validate/therapist_id", data={}).status_code == 404


def test_edit_patient(client, auth, make_patient, db):
    """Editing changes the data and audits which fields changed (not their values)."""
    admin = auth.login()
    patient = make_patient(first_name="Emil", last_name="Eich")
    response = client.post(f"/patients/{patient.id}/edit", data={"first_name": "Emil", "last_name": "Eiche",
                                                                 "phone": "+43 664 1234567"})
    assert response.status_code == 303
    db.session.refresh(patient)
    assert patient.last_name == "Eiche" and patient.phone == "+436641234567"
    entry_meta = [e.meta for e in patient_entries(db, patient, "patient.update")]
    assert entry_meta == [{"fields": ["last_name", "phone"]}]
    assert admin


def patient_entries(db, patient, action):
    """Audit entries of one action about a patient."""
    from app.platform.audit.models import AuditEntry

    query = select(AuditEntry).where(AuditEntry.patient_id == patient.id, AuditEntry.action == action)
    return db.session.scalars(query).all()


def test_record_view_is_audited_and_tabs_are_fragments(client, auth, make_patient, db):
    """Opening the record writes patient.view; switching tabs returns #patient-tab and writes nothing more."""
    auth.login()
    patient = make_patient()
    page = client.get(f"/patients/{patient.id}")
    assert page.status_code == 200 and 'id="patient-tab"' in page.get_data(as_text=True)
    assert len(patient_entries(db, patient, "patient.view")) == 1
    for tab, marker in [("termine", "appointments-empty"), ("anrufe", "calls-empty"),
                        ("mitgliedschaften", "memberships-empty"), ("verlauf", "history-table")]:
        fragment = client.get(f"/patients/{patient.id}/{tab}", headers=htmx("patient-tab"))
        text = fragment.get_data(as_text=True)
        assert text.lstrip().startswith("<section id=\"patient-tab\"") and marker in text, tab
    assert len(patient_entries(db, patient, "patient.view")) == 1
    assert "<td>Akte geöffnet</td>" in text  # the history names what happened
    assert client.get(f"/patients/{patient.id}/nonsense").status_code == 404


def test_archive_removes_links_and_restore_needs_admin(client, auth, make_user, make_patient, db):
    """Archiving hides the patient and drops the booking link; only an admin restores."""
    auth.login(role="assistant")
    patient = make_patient(last_name="Archiv", booking_system_id="B-1", booking_email="a@example.test")
    assert client.post(f"/patients/{patient.id}/archive").status_code == 303
    db.session.refresh(patient)
    assert patient.archived_at is not None and patient.booking_system_id is None and patient.booking_email is None
    assert "Archiv" not in client.get("/patients/", headers=htmx("patients-table")).get_data(as_text=True)
    assert "Archiv" in client.get("/patients/?archived=1", headers=htmx("patients-table")).get_data(as_text=True)
    assert client.post(f"/patients/{patient.id}/restore").status_code == 403
    auth.logout()
    auth.login(role="admin")
    assert client.post(f"/patients/{patient.id}/restore").status_code == 303
    db.session.refresh(patient)
    assert patient.archived_at is None
    assert [e.meta for e in patient_entries(db, patient, "patient.archive")] == [{"booking_system_id": "B-1"}]


def test_archive_revokes_meine_termine_links_for_good(client, auth, make_patient, db):
    """A "Meine Termine" link that works stops working when the patient is archived, and a restore does not bring
    it back: each active link is revoked with the archive and audited as revoked because of it; an expired link is
    left as it was. After the restore, staff create a new link, which works."""
    from app.patients.links import link_token
    from app.patients.models import PatientAccessLink

    auth.login(role="assistant")
    patient = make_patient(first_name="Rita", last_name="Rückkehr")
    for _ in range(2):
        assert client.post(f"/patients/{patient.id}/meine-termine", headers=htmx("patient-links")).status_code == 200
    first, second = db.session.scalars(select(PatientAccessLink).order_by(PatientAccessLink.id)).all()
    expired = PatientAccessLink(practice_id=patient.practice_id, patient_id=patient.id, nonce="e" * 32,
                                expires_at=first.expires_at.replace(year=2000))
    db.session.add(expired)
    db.session.commit()
    paths = [f"/meine-termine/{link_token(link)}" for link in (first, second)]
    assert [client.get(path).status_code for path in paths] == [200, 200]

    assert client.post(f"/patients/{patient.id}/archive").status_code == 303
    assert [client.get(path).status_code for path in paths] == [404, 404]
    auth.logout()
    auth.login(role="admin")
    assert client.post(f"/patients/{patient.id}/restore").status_code == 303
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).archived_at is None
    assert [client.get(path).status_code for path in paths] == [404, 404], "a restore must not revive old links"

    assert db.session.get(PatientAccessLink, expired.id).revoked_at is None
    revocations = patient_entries(db, patient, "patient_access_link.revoke")
    assert sorted((entry.object_id, entry.meta["reason"]) for entry in revocations) == [
        (str(first.id), "patient.archive"), (str(second.id), "patient.archive")]
    fragment = client.get(f"/patients/{patient.id}/termine", headers=htmx("patient-tab")).get_data(as_text=True)
    assert fragment.count('data-status="revoked"') == 2 and 'id="create-access-link"' in fragment

    assert client.post(f"/patients/{patient.id}/meine-termine", headers=htmx("patient-links")).status_code == 200
    newest = db.session.scalars(select(PatientAccessLink).order_by(PatientAccessLink.id.desc())).first()
    assert client.get(f"/meine-termine/{link_token(newest)}").status_code == 200


def test_link_refuses_an_id_of_another_patient_naming_them(client, auth, make_patient, db, english):
    """Linking a booking id that another patient holds is refused with that patient's name."""
    auth.login()
    holder = make_patient(first_name="Hanna", last_name="Halter", booking_system_id="BK-1")
    patient = make_patient(first_name="Ida", last_name="Neu", email="ida@example.test")
    refused = client.post(f"/patients/{patient.id}/link", data={"booking_system_id": "BK-1"},
                          headers=htmx("patient-tab"))
    assert refused.status_code == 422
    assert "Hanna Halter" in refused.get_data(as_text=True) and str(holder.id) in refused.get_data(as_text=True)
    ok = client.post(f"/patients/{patient.id}/link", data={"booking_system_id": "BK-2"}, headers=htmx("patient-tab"))
    assert ok.status_code == 200 and '"toast"' in ok.headers["HX-Trigger"]
    db.session.refresh(patient)
    assert (patient.booking_system_id, patient.booking_email) == ("BK-2", "ida@example.test")
    # The link form shows the link as it now is, ready to be changed, next to the button that removes it.
    assert 'name="booking_system_id" type="text" value="BK-2"' in ok.get_data(as_text=True)
    unlinked = client.post(f"/patients/{patient.id}/unlink", headers=htmx("patient-tab"))
    assert unlinked.status_code == 200 and 'value="BK-2"' not in unlinked.get_data(as_text=True)
    db.session.refresh(patient)
    assert patient.booking_system_id is None


def test_assistant_cannot_link(client, auth, make_patient):
    """Linking needs patients.link (admins)."""
    auth.login(role="assistant")
    patient = make_patient()
    assert client.post(f"/patients/{patient.id}/link", data={"booking_system_id": "X"}).status_code == 403


def test_billing_reads_only(client, auth, make_patient):
    """Billing lists and opens patients but cannot create or edit."""
    auth.login(role="billing")
    patient = make_patient()
    assert client.get("/patients/").status_code == 200
    assert client.get(f"/patients/{patient.id}").status_code == 200
    assert client.get("/patients/new").status_code == 403
    assert client.post(f"/patients/{patient.id}/edit", data={}).status_code == 403
