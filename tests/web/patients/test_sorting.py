"""German sorting and search in the patient list and the JSON API (issue 17, item 13)."""

import re

import pytest

from tests.helpers import bearer, htmx

NAMES = ["Schwarz", "Krüger", "Schäfer", "König", "Zimmer", "Abel"]
ORDER = ["Abel", "König", "Krüger", "Schäfer", "Schwarz", "Zimmer"]


@pytest.fixture
def patients(make_patient):
    return {name: make_patient(last_name=name, first_name="Eva").id for name in NAMES}


def _listed(html):
    return re.findall(r'<a href="/patients/\d+">([^,<]+), ', html)


def test_the_list_sorts_as_the_phone_book_both_ways(client, auth, patients):
    auth.login(role="assistant")
    assert _listed(client.get("/patients/").get_data(as_text=True)) == ORDER
    descending = client.get("/patients/?sort=name&desc=1", headers=htmx("patients-table")).get_data(as_text=True)
    assert _listed(descending) == list(reversed(ORDER))


def test_the_api_sorts_the_same_way(client, make_user, make_token, patients):
    token = make_token(make_user(role="admin"))
    body = client.get("/api/patients", headers=bearer(token)).get_json()
    assert [patient["last_name"] for patient in body["results"]] == ORDER


@pytest.mark.parametrize("typed", ["Muller", "Mueller", "Müller"])
def test_the_list_and_the_api_find_every_spelling(client, auth, make_user, make_token, make_patient, typed):
    expected = {make_patient(last_name=name, first_name="Ida").id for name in ("Müller", "Mueller", "Muller")}
    make_patient(last_name="Miller", first_name="Ida")
    auth.login(role="assistant")
    html = client.get("/patients/", query_string={"q": typed}, headers=htmx("patients-table")).get_data(as_text=True)
    assert {int(found) for found in re.findall(r'id="patient-row-(\d+)"', html)} == expected
    body = client.get("/api/patients", query_string={"q": typed}, headers=bearer(make_token(auth.user))).get_json()
    assert {patient["id"] for patient in body["results"]} == expected


@pytest.mark.parametrize(("sort", "expected"), [("-name", list(reversed(ORDER))), ("name", ORDER)])
def test_the_api_takes_a_sort_order(client, make_user, make_token, patients, sort, expected):
    token = make_token(make_user(role="admin"))
    body = client.get("/api/patients", query_string={"sort": sort}, headers=bearer(token)).get_json()
    assert [patient["last_name"] for patient in body["results"]] == expected


def test_an_unknown_sort_order_is_explained(client, make_user, make_token):
    token = make_token(make_user(role="admin"))
    response = client.get("/api/patients", query_string={"sort": "email"}, headers=bearer(token))
    assert response.status_code == 400 and "-birth_date" in response.get_json()["error"]["message"]
