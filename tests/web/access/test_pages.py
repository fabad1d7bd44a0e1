"""The check-in log, the provider settings per location, and the record's Mitgliedschaften tab."""

import pytest
from sqlalchemy import select

from app.access.checkins import check_in
from app.access.memberships import link_membership
from app.access.models import AccessProvider
from app.platform.security.crypto import decrypt_secret
from tests.helpers import audit_actions, htmx


def access_audit(db):
    """The access actions in the audit log (sign-ins left out)."""
    return [action for action in audit_actions(db) if action.startswith("access.")]


@pytest.mark.parametrize("role, status", [("admin", 200), ("assistant", 200), ("therapist", 403), ("billing", 403)])
def test_log_by_role(client, auth, role, status):
    auth.login(role)
    assert client.get("/access/log").status_code == status


def test_log_filters_and_fragment(client, auth, location, make_location, enable, desk):
    enable(location)
    other = make_location("Studio Nord")
    check_in(desk, location, "FP-7Q2K9D4M")
    check_in(desk, other, "garbage")
    auth.login("assistant")
    page = client.get("/access/log").get_data(as_text=True)
    assert "<html" in page and page.count('id="checkin-row-') == 2
    fragment = client.get(f"/access/log?location={location.id}", headers=htmx("checkin-log")).get_data(as_text=True)
    assert "<html" not in fragment and fragment.count('id="checkin-row-') == 1 and "Lea Brunner" in fragment
    denied = client.get("/access/log?decision=deny_unknown_code").get_data(as_text=True)
    assert denied.count('id="checkin-row-') == 1 and "Lea Brunner" not in denied
    bad = client.get("/access/log?date_from=2026-12-06&date_to=2026-12-01").get_data(as_text=True)
    assert 'id="checkin-log-empty"' in bad


def test_log_pages(client, auth, location, enable, desk, db):
    enable(location)
    for number in range(55):
        check_in(desk, location, f"garbage {number}")
    auth.login("assistant")
    first = client.get("/access/log").get_data(as_text=True)
    assert first.count('id="checkin-row-') == 50 and 'rel="next"' in first
    assert client.get("/access/log?page=2").get_data(as_text=True).count('id="checkin-row-') == 5


@pytest.mark.parametrize("role, status", [("admin", 200), ("assistant", 403), ("billing", 403)])
def test_settings_by_role(client, auth, location, role, status):
    auth.login(role)
    assert client.get("/access/settings").status_code == status


def settings_data(location, provider="fitpass", **changes):
    prefix = f"p{location.id}-{provider}-"
    data = {"active": "y", "base_url": "https://fitpass.example.test", "timeout_ms": "800", "reentry_value": "3",
            "reentry_unit": "hours", "sport_partner": "4711", "user_id": "99", "secret": "fp_secret_1234"}
    data.update(changes)
    return {prefix + key: value for key, value in data.items() if value is not None}


def test_enable_a_provider_stores_the_secret_encrypted(client, auth, location, db):
    auth.login("admin")
    response = client.post(f"/access/settings/{location.id}/fitpass", data=settings_data(location),
                           headers=htmx(f"provider-{location.id}-fitpass"))
    assert response.status_code == 200 and "HX-Trigger" in response.headers
    body = response.get_data(as_text=True)
    assert "fp_secret_1234" not in body and "1234" in body  # only the hint
    config = db.session.scalar(select(AccessProvider))
    assert config.secret != "fp_secret_1234" and decrypt_secret(config.secret) == "fp_secret_1234"
    assert (config.settings, config.timeout_ms) == ({"sport_partner": 4711, "user_id": 99}, 800)
    assert access_audit(db) == ["access.provider.update"]
    # Saving again without a secret keeps the stored one.
    client.post(f"/access/settings/{location.id}/fitpass", data=settings_data(location, secret="", timeout_ms="900"),
                headers=htmx(f"provider-{location.id}-fitpass"))
    db.session.refresh(config)
    assert decrypt_secret(config.secret) == "fp_secret_1234" and config.timeout_ms == 900


@pytest.mark.parametrize("changes", [{"secret": ""}, {"timeout_ms": "50"}, {"reentry_value": "0"},
                                     {"reentry_value": "8", "reentry_unit": "days"}, {"sport_partner": "abc"},
                                     {"base_url": "ftp://x"}, {"secret": "two words"}])
def test_invalid_settings_are_422(client, auth, location, db, changes):
    auth.login("admin")
    response = client.post(f"/access/settings/{location.id}/fitpass", data=settings_data(location, **changes),
                           headers=htmx(f"provider-{location.id}-fitpass"))
    assert response.status_code == 422
    assert db.session.scalar(select(AccessProvider)) is None


def test_settings_of_another_practice_or_provider_are_404(client, auth, location, make_user, other_practice):
    auth.login("admin", user=make_user(role="admin", practice=other_practice))
    assert client.post(f"/access/settings/{location.id}/fitpass", data=settings_data(location)).status_code == 404
    auth.login("admin")
    assert client.post(f"/access/settings/{location.id}/nope", data={}).status_code == 404


def test_memberships_tab_lists_and_unlinks(client, auth, db, desk, make_patient, location, enable):
    enable(location)
    patient = make_patient()
    membership = link_membership(desk, patient.practice_id, "fitpass", "FP-7Q2K9D4M", patient_id=patient.id)
    check_in(desk, location, "FP-7Q2K9D4M")
    auth.login("assistant")
    tab = client.get(f"/patients/{patient.id}/mitgliedschaften",
                     headers=htmx("patient-memberships")).get_data(as_text=True)
    assert 'id="membership-row-' in tab and "FP-7Q2K9D4M" in tab
    response = client.post(f"/access/memberships/{membership.id}/unlink", headers=htmx("patient-memberships"))
    assert response.status_code == 200 and 'id="memberships-empty"' in response.get_data(as_text=True)
    assert "access.membership.unlink" in access_audit(db)


@pytest.mark.parametrize("role, status", [("admin", 200), ("assistant", 200), ("billing", 200), ("therapist", 403)])
def test_stats_by_role_and_csv(client, auth, location, enable, desk, role, status):
    enable(location)
    check_in(desk, location, "FP-7Q2K9D4M")
    auth.login(role)
    page = client.get("/access/stats")
    assert page.status_code == status
    if status == 200:
        body = page.get_data(as_text=True)
        assert 'id="stats-1"' in body and "<svg" in body and "Studio Mitte" in body
        csv = client.get("/access/stats.csv")
        assert csv.mimetype == "text/csv" and "Studio Mitte;Fitpass" in csv.get_data(as_text=True)
