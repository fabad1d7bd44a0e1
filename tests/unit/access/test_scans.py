"""Double scans across threads and worker processes: the database decides which scan asks the provider, the other
scans answer with that decision; a claim whose holder died is taken over; the claim stores no code. Real threads
with a connection each, on a SQLite file or on PostgreSQL (TEST_DATABASE_URL)."""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from app.access import scans
from app.access.adapters import detect
from app.access.checkins import check_in
from app.access.models import Checkin, ScanClaim
from app.platform.database import utcnow
from app.platform.security.actor import Actor
from config import TestConfig
from tests.fakes.friction import DEMO_MEMBERS, vcard
from tests.helpers import at_once

GOOD = "FP-7Q2K9D4M"


@pytest.fixture
def app_overrides(tmp_path):
    """Threads need their own connections to one database: a file on SQLite (PostgreSQL when configured)."""
    if TestConfig.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
        return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/scans.sqlite3"}
    return {}


@pytest.fixture
def scan(db, make_user, location):
    """A function that checks ``code`` in at the location as a desk user, in the calling thread's own session,
    and returns (check-in id, duplicate, decision)."""
    from app.accounts.models import User
    from app.tenancy.models import Location

    user_id, location_id = make_user(role="assistant").id, location.id

    def run(code=GOOD):
        outcome = check_in(Actor(db.session.get(User, user_id)), db.session.get(Location, location_id), code)
        return outcome.checkin.id, outcome.duplicate, outcome.checkin.decision

    return run


def checkins(db):
    return db.session.scalar(select(func.count()).select_from(Checkin))


def test_concurrent_scans_make_one_provider_call_and_share_its_decision(app, db, location, enable, fitpass_server,
                                                                       scan):
    enable(location, timeout_ms=3000)
    fitpass_server.set_scenario("slow")  # 1.5 s: every scan arrives while the first is with the provider
    results = at_once(app, 4, scan)
    assert len(fitpass_server.requests) == 1
    assert {(checkin, decision) for checkin, _duplicate, decision in results} == {(results[0][0], "allow")}
    assert sorted(duplicate for _checkin, duplicate, _decision in results) == [False, True, True, True]
    assert checkins(db) == 1


def test_a_scan_during_the_first_ones_provider_call_waits_for_its_decision(app, db, location, enable,
                                                                          fitpass_server, scan):
    enable(location, timeout_ms=3000)
    fitpass_server.set_scenario("slow")
    first = []
    thread = threading.Thread(target=lambda: first.extend(at_once(app, 1, scan)))
    thread.start()
    for _ in range(300):  # until the first scan has claimed the code and is waiting for Fitpass
        if fitpass_server.requests:
            break
        time.sleep(0.01)
    second = at_once(app, 1, scan)
    thread.join()
    assert first[0][1] is False and second[0] == (first[0][0], True, "allow")
    assert len(fitpass_server.requests) == 1


def test_refusals_are_shared_too(app, db, location, enable, fitpass_server, scan):
    enable(location, timeout_ms=3000)
    fitpass_server.set_scenario("slow")
    results = at_once(app, 3, lambda: scan("FP-ENDED005"))
    assert {decision for _checkin, _duplicate, decision in results} == {"deny_expired"}
    assert len(fitpass_server.requests) == 1 and checkins(db) == 1


def test_a_claim_whose_holder_died_is_taken_over(db, location, enable, fitpass_server, scan):
    enable(location)
    detected = detect(GOOD)
    db.session.add(ScanClaim(location_id=location.id, fingerprint=scans.fingerprint(detected),
                             practice_id=location.practice_id, token="dead-worker", claimed_at=utcnow(),
                             expires_at=utcnow() - timedelta(milliseconds=1)))
    db.session.commit()
    checkin, duplicate, decision = scan()
    assert (duplicate, decision) == (False, "allow") and len(fitpass_server.requests) == 1
    claim = db.session.get(ScanClaim, (location.id, scans.fingerprint(detected)))
    db.session.refresh(claim)
    assert claim.checkin_id == checkin and claim.token != "dead-worker"


def test_the_window_is_a_second_after_the_decision(db, location, enable, desk, fitpass_server):
    enable(location, reentry_value=1)
    start = utcnow() - timedelta(hours=2)
    first = check_in(desk, location, GOOD, now=start).checkin
    assert check_in(desk, location, GOOD, now=start + timedelta(milliseconds=999)).duplicate
    again = check_in(desk, location, GOOD, now=start + timedelta(seconds=1))
    assert not again.duplicate and again.checkin.reentry_of_id == first.id


def test_another_code_or_location_is_another_scan(db, location, make_location, enable, desk, fitpass_server):
    enable(location)
    other = make_location("Studio Nord")
    enable(other)
    fitpass_server.reset()
    start = utcnow() - timedelta(minutes=1)
    assert not check_in(desk, location, GOOD, now=start).duplicate
    assert not check_in(desk, location, "FP-3H8W1C6X", now=start).duplicate
    assert not check_in(desk, other, GOOD, now=start).duplicate
    assert len(fitpass_server.requests) == 3


def test_the_claim_stores_no_code(db, location, enable, desk):
    enable(location, "friction")
    secret = DEMO_MEMBERS["100234"]["security_code"]
    check_in(desk, location, vcard("100234", secret))
    stored = repr(db.session.execute(text("SELECT * FROM access_scan_claims")).all())
    assert secret not in stored and "100234" not in stored
