"""The home page per role (issue 17 item 6): panels registered by the domains, shown by permission and scope, each
item linking to where it is handled, and a fixed number of statements however many rows the panels list."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.accounts.home import register_home_panel, registered_panels
from app.appointments.home import ARRIVALS, day_bounds, register_arrivals
from app.integrations.models import ProviderHealth
from app.platform.database import utcnow
from tests.appointment_data import add_appointment, add_event

BERLIN = ZoneInfo("Europe/Berlin")


def _today_at(hour, minute=0):
    """Today (in the practice's zone, Berlin) at ``hour:minute``, as a UTC instant."""
    day = utcnow().astimezone(BERLIN).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def _page(client):
    """The home page's HTML."""
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_every_domain_registers_its_panels(app):
    """The domains plug their panels into the home page from their init_app, in the documented order."""
    names = [panel.name for panel in registered_panels(app)]
    assert names[:3] == ["today", "my_day", "next_appointments"]
    assert {"phone_check", "import_reviews", "hub_health", "failed_events", "recent_activity"} <= set(names)


def test_no_permission_codes_or_role_code_on_the_page(client, auth):
    """The page no longer lists permission codes (it greets the person and shows their role's panels)."""
    auth.login("assistant")
    html = _page(client)
    assert "patients.read" not in html and "dashboard-permissions" not in html
    assert 'id="home-today"' in html


def test_front_desk_sees_todays_appointments_of_every_therapist_and_source(client, auth, make_patient, practice,
                                                                        make_user):
    """Today's appointments of all therapists and sources, in the practice's zone, each linking to the record's
    Termine tab; yesterday's and tomorrow's are not listed."""
    therapist = make_user("therapist", name="Thea Therapie")
    anna = make_patient(first_name="Anna", last_name="Heute")
    bert = make_patient(first_name="Bert", last_name="Auchheute")
    add_appointment(practice, anna, _today_at(0, 30), therapist_id=therapist.id)
    add_appointment(practice, bert, _today_at(23, 15), source="calcom", therapist_name="Extern Ext")
    add_appointment(practice, None, _today_at(12), attendee_name="Unbekannte Anruferin")
    add_appointment(practice, anna, _today_at(0, 30) - timedelta(hours=1), external_id="yesterday")
    add_appointment(practice, bert, _today_at(23, 15) + timedelta(hours=1), external_id="tomorrow")
    auth.login("assistant")
    html = _page(client)
    assert html.count('id="home-today-') == 3 + 1  # three rows and the table
    assert f'href="/patients/{anna.id}/termine"' in html and f'href="/patients/{bert.id}/termine"' in html
    assert "Thea Therapie" in html and "Extern Ext" in html and "Unbekannte Anruferin" in html
    assert "00:30" in html and "23:15" in html
    assert 'href="/patients/?q=Unbekannte+Anruferin"' in html  # an unmatched attendee: find or create them
    assert 'id="home-my-day"' not in html and 'id="home-hub-health"' not in html


def test_day_bounds_follow_the_practice_zone_on_a_dst_switch():
    """The day of 29 March 2026 in Berlin is 23 hours long (clocks go forward)."""
    _day, start, end = day_bounds(BERLIN, datetime(2026, 3, 29, 12, tzinfo=UTC))
    assert start == datetime(2026, 3, 28, 23, tzinfo=UTC) and end - start == timedelta(hours=23)


def test_therapist_sees_their_day_and_their_patients_next_appointments(client, auth, make_patient, practice,
                                                                       make_user):
    """A therapist sees only their own appointments today and the next appointment of each own patient; not the
    practice's day, not another therapist's patients."""
    me = make_user("therapist")
    colleague = make_user("therapist")
    mine = make_patient(first_name="Mia", last_name="Meine", therapist_id=me.id)
    theirs = make_patient(first_name="Tom", last_name="Fremd", therapist_id=colleague.id)
    add_appointment(practice, mine, _today_at(0, 5), therapist_id=me.id)  # already over: not "next"
    add_appointment(practice, theirs, _today_at(23, 55), therapist_id=colleague.id)
    soon = add_appointment(practice, mine, utcnow() + timedelta(days=3), therapist_id=colleague.id)
    add_appointment(practice, mine, utcnow() + timedelta(days=9), therapist_id=me.id)
    add_appointment(practice, theirs, utcnow() + timedelta(days=2), therapist_id=colleague.id)
    auth.login(user=me)
    html = _page(client)
    assert 'id="home-today"' not in html
    assert 'id="home-my-day"' in html and "Tom Fremd" not in html
    assert html.count('id="home-next-appointments-') == 1 + 1  # one patient's next appointment, and the table
    assert f'id="home-next-appointments-{soon.id}"' in html


def test_admin_sees_hub_health_failed_events_and_reviews(client, auth, practice, db, make_patient):
    """Stored health (never a provider call), failed webhook events linking to their detail, patients whose phone
    needs checking (linking to the form) and recent activity."""
    db.session.add(ProviderHealth(practice_id=practice.id, provider="calcom", state="auth_failed",
                                  reason="API-Schlüssel abgelehnt"))
    db.session.commit()
    failed = add_event(practice, utcnow(), attempt="error")
    add_event(practice, utcnow(), attempt="processed")
    messy = make_patient(first_name="Petra", last_name="Prüfen", phone="0151 1112223")
    make_patient(first_name="Nora", last_name="Normal", phone="+4915111122233")
    auth.login("admin")
    html = _page(client)
    assert 'id="home-failed-events"' in html and f'href="/webhooks/events/{failed.id}"' in html
    assert 'id="home-phone-check"' in html and f'href="/patients/{messy.id}/edit"' in html
    assert "Nora Normal" not in html
    assert 'id="home-recent-activity"' in html


@pytest.mark.parametrize("role", ["billing", "therapist"])
def test_roles_without_the_permission_do_not_run_admin_panels(client, auth, role, make_patient):
    """Billing and therapists see no hub health, failed events or phone checks (their permission is missing)."""
    make_patient(phone="0151 1112223")
    auth.login(role)
    html = _page(client)
    for panel in ("home-hub-health", "home-failed-events", "home-phone-check", "home-recent-activity"):
        assert f'id="{panel}"' not in html


def test_billing_sees_the_practice_day(client, auth):
    """Billing may read all appointments, so it sees the practice's day (read-only)."""
    auth.login("billing")
    assert 'id="home-today"' in _page(client)


def test_a_panel_context_returning_none_hides_it(app, client, auth):
    """The contract: context(user) returning None hides the panel; a panel without permission shows to all."""
    register_home_panel(app, "nothing", permission=None, template="home/_recent_activity.html",
                        context=lambda user: None, order=1)
    auth.login("billing")
    assert 'id="home-nothing"' not in _page(client)


def test_arrivals_show_when_a_lookup_is_registered(app, client, auth, practice, make_patient):
    """The arrival hook: with a lookup the day shows who has arrived and how many are expected."""
    patient = make_patient()
    first = add_appointment(practice, patient, _today_at(0, 5))
    add_appointment(practice, patient, _today_at(0, 10))
    arrived_at = _today_at(0, 1)
    asked = []

    def lookup(practice_id, appointment_ids):
        asked.append((practice_id, sorted(appointment_ids)))
        return {first.id: arrived_at}

    register_arrivals(app, lookup)
    try:
        auth.login("assistant")
        html = _page(client)
    finally:
        app.extensions.pop(ARRIVALS)
    assert asked == [(practice.id, sorted([first.id, first.id + 1]))]
    assert "1 arrived, 1 expected" in html or "1 angekommen, 1 erwartet" in html


def test_home_page_statements_do_not_grow_with_rows(client, auth, practice, make_patient, make_user,
                                                    sql_statements):
    """The admin's home costs the same number of statements with 2 or 30 appointments, events and patients."""
    admin = auth.login("admin")
    therapist = make_user("therapist")

    def add_rows(count):
        for _index in range(count):
            patient = make_patient(phone="0151 1112223", therapist_id=therapist.id)
            add_appointment(practice, patient, _today_at(1), therapist_id=therapist.id)
            add_event(practice, utcnow(), attempt="error")

    def statements(user):
        with sql_statements() as sent:
            assert client.get("/").status_code == 200
        return len(sent)

    add_rows(2)
    few = statements(admin)
    add_rows(28)
    assert statements(admin) == few
    auth.logout()
    auth.login(user=therapist)
    few_own = statements(therapist)
    add_rows(10)
    assert statements(therapist) == few_own


def test_permission_is_checked_before_the_panel_reads_anything(app, client, auth):
    """A role without the panel's permission never runs its context (so never its queries)."""
    called = []
    register_home_panel(app, "admins_only", permission="users.manage", template="home/_recent_activity.html",
                        context=lambda user: called.append(user) or None, order=1)
    auth.login("assistant")
    _page(client)
    assert called == []


def test_registering_a_name_again_replaces_the_panel(app, client, auth, practice, make_patient):
    """A later module (the practice's calendar, say) takes over "today" by registering the same name."""
    original = next(panel for panel in registered_panels(app) if panel.name == "today")
    register_home_panel(app, "today", permission="appointments.read", template="home/_recent_activity.html",
                        context=lambda user: None, order=original.order)
    add_appointment(practice, make_patient(), _today_at(0, 1))
    auth.login("assistant")
    assert 'id="home-today"' not in _page(client)
    assert [panel.name for panel in registered_panels(app)].count("today") == 1
