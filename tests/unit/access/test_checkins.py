"""The check-in use case: routing, the re-entry window at its edges, double scans, failing closed, overrides,
confirmation, and no database transaction held while the provider answers."""

from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from app.access.checkins import check_in, override
from app.access.memberships import link_membership
from app.access.models import Checkin
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db as _db
from tests.fakes.friction import DEMO_MEMBERS, vcard
from tests.helpers import audit_actions

GOOD = "FP-7Q2K9D4M"


def count(db):
    return db.session.scalar(select(func.count()).select_from(Checkin))


def test_unknown_code_is_logged_and_never_sent(db, location, enable, desk, fitpass_server, english_messages):
    enable(location)
    outcome = check_in(desk, location, "hello world", device="Empfang 1")
    row = outcome.checkin
    assert (row.decision, row.granted, row.provider, row.code_kind, row.device) == (
        "deny_unknown_code", False, None, "unknown", "Empfang 1")
    assert str(outcome.reason) == "Unknown QR code."
    assert fitpass_server.requests == []


def test_code_of_a_provider_not_enabled_here_is_refused_without_a_call(db, location, make_location, enable, desk,
                                                                      wellhub_server):
    enable(make_location("Studio Nord"), "wellhub")  # enabled elsewhere only
    row = check_in(desk, location, "1234567890123").checkin
    assert (row.decision, row.provider, row.granted) == ("deny_unknown_code", "wellhub", False)
    assert wellhub_server.requests == []


def test_a_valid_member_is_let_in_and_logged(db, location, enable, desk, fitpass_server):
    enable(location)
    row = check_in(desk, location, GOOD + "\n").checkin
    assert (row.decision, row.granted, row.provider_code, row.member_name) == ("allow", True, "201", "Lea Brunner")
    assert row.provider_message.startswith("Willkommen")
    assert row.processing_ms >= 0 and row.user_id == desk.user.id
    assert len(fitpass_server.requests) == 1


@pytest.mark.parametrize("code, decision", [("FP-ENDED005", "deny_expired"), ("FP-TWICE007", "deny_limit_reached"),
                                            ("FP-INACTV02", "deny_inactive")])
def test_refusals_keep_the_providers_message(db, location, enable, desk, code, decision):
    enable(location)
    row = check_in(desk, location, code).checkin
    assert (row.decision, row.granted) == (decision, False)
    assert row.provider_message


def test_friction_security_code_is_never_stored(db, location, enable, desk):
    enable(location, "friction")
    secret = DEMO_MEMBERS["100234"]["security_code"]
    row = check_in(desk, location, vcard("100234", secret)).checkin
    assert (row.decision, row.external_id, row.code_kind) == ("allow", "100234", "friction_vcard")
    stored = db.session.execute(text("SELECT * FROM access_checkins")).all()
    assert secret not in repr(stored)


def test_reentry_inside_the_window_does_not_ask_the_provider(db, location, enable, desk, fitpass_server):
    enable(location, reentry_value=3)
    start = utcnow() - timedelta(hours=5)
    first = check_in(desk, location, GOOD, now=start).checkin
    inside = check_in(desk, location, GOOD, now=start + timedelta(hours=3) - timedelta(seconds=1))
    assert (inside.checkin.decision, inside.checkin.granted, inside.checkin.reentry_of_id) == (
        "allow_reentry", True, first.id)
    assert inside.last_visit == first.created_at
    assert len(fitpass_server.requests) == 1
    at_edge = check_in(desk, location, GOOD, now=start + timedelta(hours=3)).checkin
    assert (at_edge.decision, at_edge.reentry_of_id) == ("allow", None)  # the window has ended: a new entry
    assert len(fitpass_server.requests) == 2


def test_reentry_window_in_days(db, location, enable, desk, fitpass_server):
    enable(location, reentry_value=2, reentry_unit="days")
    start = utcnow() - timedelta(days=3)
    check_in(desk, location, GOOD, now=start)
    assert check_in(desk, location, GOOD, now=start + timedelta(days=2) - timedelta(minutes=1)).checkin.decision == \
        "allow_reentry"
    assert len(fitpass_server.requests) == 1


def test_reentry_is_per_location(db, location, make_location, enable, desk, fitpass_server):
    other = make_location("Studio Nord")
    enable(location)
    enable(other)
    start = utcnow() - timedelta(minutes=10)
    check_in(desk, location, GOOD, now=start)
    assert check_in(desk, other, GOOD, now=start + timedelta(minutes=1)).checkin.decision == "allow"


def test_a_double_scan_within_a_second_gives_one_decision(db, location, enable, desk, fitpass_server):
    enable(location)
    start = utcnow() - timedelta(minutes=1)
    first = check_in(desk, location, GOOD, now=start)
    second = check_in(desk, location, GOOD, now=start + timedelta(milliseconds=600))
    assert second.duplicate and second.checkin.id == first.checkin.id
    assert count(db) == 1 and len(fitpass_server.requests) == 1


@pytest.mark.parametrize("scenario, decision", [("down", "error_provider_unreachable"),
                                                ("500", "error_provider_unreachable"),
                                                ("html", "error_provider_unreachable"),
                                                ("slow", "error_timeout")])
def test_a_provider_that_fails_fails_closed(db, location, enable, desk, fitpass_server, scenario, decision):
    enable(location, timeout_ms=300)
    fitpass_server.set_scenario(scenario, times=1)
    row = check_in(desk, location, GOOD).checkin
    assert (row.decision, row.granted) == (decision, False)
    assert row.provider_message
    assert row.processing_ms < 1000


def test_no_transaction_is_held_while_the_provider_answers(db, location, enable, desk):
    enable(location)
    seen = []

    class Watching(requests.Session):
        def request(self, *args, **kwargs):
            seen.append(_db.session().in_transaction())
            return super().request(*args, **kwargs)

    check_in(desk, location, GOOD, session=Watching())
    assert seen == [False]


def test_override_needs_a_reason_and_is_audited(db, location, enable, desk, fitpass_server):
    enable(location)
    fitpass_server.set_scenario("down")
    denied = check_in(desk, location, GOOD).checkin
    with pytest.raises(ServiceError):
        override(desk, denied, "grant", "  ")
    granted = override(desk, denied, "grant", "Mitgliedskarte vorgezeigt")
    assert (granted.granted, granted.override, granted.overrides_id, granted.override_by_id) == (
        True, "grant", denied.id, desk.user.id)
    assert audit_actions(db) == ["access.checkin.grant"]
    # Let in by staff is an entry: the next scan within the window is a re-entry, still without the provider.
    fitpass_server.reset()
    assert check_in(desk, location, GOOD, now=utcnow() + timedelta(seconds=2)).checkin.decision == "allow_reentry"
    assert fitpass_server.requests == []


def test_turned_back_entry_is_no_entry(db, location, enable, desk, fitpass_server):
    enable(location)
    allowed = check_in(desk, location, GOOD).checkin
    override(desk, allowed, "deny", "Ausweis passt nicht")
    assert check_in(desk, location, GOOD, now=utcnow() + timedelta(seconds=2)).checkin.decision == "allow"
    assert len(fitpass_server.requests) == 2


def test_staff_must_confirm_holds_the_grant(db, location, enable, desk):
    enable(location, staff_must_confirm=True)
    row = check_in(desk, location, GOOD).checkin
    assert (row.decision, row.granted, row.awaiting_confirmation) == ("allow", False, True)
    with pytest.raises(ServiceError):
        override(desk, override(desk, row, "deny", "nein"), "confirm")
    confirmed = override(desk, row, "confirm")
    assert (confirmed.granted, confirmed.override) == (True, "confirm")


def test_a_linked_member_is_named_from_the_membership(db, location, enable, desk, make_patient):
    enable(location)
    patient = make_patient(first_name="Erika", last_name="Muster")
    membership = link_membership(desk, location.practice_id, "fitpass", GOOD, patient_id=patient.id)
    row = check_in(desk, location, GOOD).checkin
    assert (row.membership_id, row.member_name) == (membership.id, "Erika Muster")


def test_the_log_is_append_only(db, location, enable, desk):
    enable(location)
    row = check_in(desk, location, "garbage").checkin
    with pytest.raises(DatabaseError):
        db.session.execute(text("UPDATE access_checkins SET granted = true WHERE id = :id"), {"id": row.id})
    db.session.rollback()
    with pytest.raises(DatabaseError):
        db.session.execute(text("DELETE FROM access_checkins"))
    db.session.rollback()


def test_each_provider_call_leaves_a_metric_for_the_hub(db, location, enable, desk, fitpass_server):
    from app.integrations.models import IntegrationMetric

    enable(location)
    check_in(desk, location, GOOD)
    fitpass_server.set_scenario("500", times=1)
    check_in(desk, location, "FP-3H8W1C6X")
    check_in(desk, location, GOOD, now=utcnow() + timedelta(seconds=5))  # re-entry: no call, no metric
    metrics = db.session.execute(select(IntegrationMetric.provider, IntegrationMetric.action,
                                        IntegrationMetric.success, IntegrationMetric.status_code)
                                 .order_by(IntegrationMetric.id)).all()
    assert metrics == [("fitpass", "checkin", True, 201), ("fitpass", "checkin", False, 500)]
