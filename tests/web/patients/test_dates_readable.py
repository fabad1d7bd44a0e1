"""Dates and phones as people write them (issue 17, item 12): the patient list and record show TT.MM.JJJJ in German
and the English form in English, phones in national form; the edit form shows and accepts the language's form and
says clearly when a date is wrong."""

from datetime import date

import pytest

from app.patients.models import Patient


@pytest.fixture
def mia(make_patient):
    return make_patient(first_name="Mia", last_name="Hoffmann", birth_date=date(1992, 7, 21), phone="+491701112233")


def test_list_and_record_follow_the_language(client, auth, mia):
    auth.login()
    german = client.get("/patients/").get_data(as_text=True)
    assert "21.07.1992" in german and "0170 1112233" in german
    assert "21.07.1992" in client.get(f"/patients/{mia.id}").get_data(as_text=True)
    client.post("/auth/language", data={"lang": "en"})
    assert "Jul 21, 1992" in client.get("/patients/").get_data(as_text=True)
    assert "Jul 21, 1992" in client.get(f"/patients/{mia.id}").get_data(as_text=True)


def test_the_edit_form_shows_and_accepts_german_dates(client, auth, mia, db):
    auth.login()
    form = client.get(f"/patients/{mia.id}/edit").get_data(as_text=True)
    assert 'value="21.07.1992"' in form and 'placeholder="TT.MM.JJJJ"' in form
    wrong = client.post(f"/patients/{mia.id}/edit", data={"first_name": "Mia", "last_name": "Hoffmann",
                                                         "birth_date": "31.02.1992"})
    assert wrong.status_code == 422 and "„31.02.1992“" in wrong.get_data(as_text=True)
    saved = client.post(f"/patients/{mia.id}/edit", data={"first_name": "Mia", "last_name": "Hoffmann",
                                                         "birth_date": "22.07.1992"})
    assert saved.status_code == 303
    db.session.expire_all()
    assert db.session.get(Patient, mia.id).birth_date == date(1992, 7, 22)


def test_the_edit_form_speaks_english_dates_in_english(client, auth, mia, db):
    auth.login()
    client.post("/auth/language", data={"lang": "en"})
    form = client.get(f"/patients/{mia.id}/edit").get_data(as_text=True)
    assert 'value="07/21/1992"' in form and 'placeholder="MM/DD/YYYY"' in form
    checked = client.post("/patients/validate/birth_date", data={"birth_date": "07/23/1992"})
    assert checked.status_code == 200
    saved = client.post(f"/patients/{mia.id}/edit", data={"first_name": "Mia", "last_name": "Hoffmann",
                                                         "birth_date": "07/23/1992"})
    assert saved.status_code == 303
    db.session.expire_all()
    assert db.session.get(Patient, mia.id).birth_date == date(1992, 7, 23)
