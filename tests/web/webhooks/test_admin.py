"""Webhook endpoint cards (create, secret shown once, rotate, disable/enable), the event log (status, filters,
paging, polling) and an event's detail (attempts, audited payload reveal, replay)."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.patients.models import Patient
from app.platform.audit.models import AuditEntry
from app.platform.database import utcnow
from app.webhooks.endpoints import valid_secrets
from app.webhooks.models import WebhookEndpoint
from tests.helpers import PASSWORD, audit_actions, htmx
from tests.webhook_factories import make_endpoint, make_event


@pytest.fixture
def admin(client, auth):
    """A signed-in admin, with the English UI so messages can be checked."""
    user = auth.login()
    client.post("/auth/language", data={"lang": "en"})
    return user


def _shown_secret(html, source="booking"):
    """The secret shown once in a card, or None."""
    match = re.search(rf'value="([^"]+)" id="webhook-secret-{source}"', html)
    return match.group(1) if match else None


def _endpoint(db, practice, source="booking"):
    """The practice's stored endpoint for ``source``."""
    db.session.expire_all()
    return db.session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.practice_id == practice.id,
                                                           WebhookEndpoint.source == source))


def test_endpoints_page_has_a_card_per_source(client, admin):
    """Without endpoints each source offers "Create endpoint"; Retell asks for its API key."""
    page = client.get("/webhooks/").get_data(as_text=True)
    for source in ("booking", "calcom", "retell"):
        assert f'id="webhook-card-{source}"' in page and f'id="webhook-create-{source}"' in page
    assert page.count("Create endpoint") == 3
    assert "Retell API key" in page and 'name="create-retell-secret"' in page
    assert "optional: a secure one is generated" in page


def test_create_shows_the_generated_secret_once(client, admin, db, practice, app):
    """htmx: the card comes back with the URL, the status and the generated secret (shown only now); the stored
    secret is encrypted and verifies; the page never shows the secret again."""
    response = client.post("/webhooks/endpoints", data={"source": "booking"}, headers=htmx("webhook-card-booking"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<article id="webhook-card-booking"') and "<html" not in html
    assert json.loads(response.headers["HX-Trigger"])["toast"]["text"] == "Endpoint created."
    secret = _shown_secret(html)
    assert secret.startswith("whsec_") and "shown only now" in html
    endpoint = _endpoint(db, practice)
    assert secret not in endpoint.secret and valid_secrets(endpoint, utcnow()) == [(1, secret)]
    url = f"http://localhost/api/webhooks/booking/{endpoint.public_id}"  # the page's own address
    assert f'value="{url}"' in html and 'data-copy-target="webhook-url-booking"' in html
    assert 'data-copy-target="webhook-secret-booking"' in html
    assert "active" in html and "Secret: set, created" in html and "version 1" in html
    page = client.get("/webhooks/").get_data(as_text=True)
    assert secret not in page and 'id="webhook-secret-booking"' not in page
    assert url in page
    assert audit_actions(db, object_type="webhook_endpoint", object_id=str(endpoint.id)) == [
        "webhook.endpoint.create"]


def test_create_without_htmx_renders_the_page_with_the_secret(client, admin, db, practice):
    """A plain form POST gets the whole page with the secret (a redirect would lose it)."""
    response = client.post("/webhooks/endpoints", data={"source": "calcom"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html
    secret = _shown_secret(html, "calcom")
    assert valid_secrets(_endpoint(db, practice, "calcom"), utcnow()) == [(1, secret)]
    assert 'id="webhook-create-booking"' in html


def test_create_retell_needs_the_api_key(client, admin, db, practice):
    """Retell without its key is refused with 422; with it the endpoint is created and the key is not echoed."""
    refused = client.post("/webhooks/endpoints", data={"source": "retell"}, headers=htmx("webhook-card-retell"))
    assert refused.status_code == 422
    assert "Enter the Retell API key" in refused.get_data(as_text=True)
    assert _endpoint(db, practice, "retell") is None
    created = client.post("/webhooks/endpoints", data={"source": "retell", "create-retell-secret": "key_abc123"},
                          headers=htmx("webhook-card-retell"))
    assert created.status_code == 200
    assert "key_abc123" not in created.get_data(as_text=True)
    assert valid_secrets(_endpoint(db, practice, "retell"), utcnow()) == [(1, "key_abc123")]


def test_create_with_own_secret_and_invalid_input(client, admin, db, practice):
    """An entered booking secret must be a whsec_ secret; a valid one is stored and not echoed; a second endpoint
    for the source and an unknown source are refused."""
    bad = client.post("/webhooks/endpoints", data={"source": "booking", "create-booking-secret": "whsec_short"},
                      headers=htmx("webhook-card-booking"))
    assert bad.status_code == 422 and "whsec_" in bad.get_data(as_text=True)
    own = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    good = client.post("/webhooks/endpoints", data={"source": "booking", "create-booking-secret": own},
                       headers=htmx("webhook-card-booking"))
    assert good.status_code == 200 and own not in good.get_data(as_text=True)
    assert valid_secrets(_endpoint(db, practice), utcnow()) == [(1, own)]
    again = client.post("/webhooks/endpoints", data={"source": "booking"}, headers=htmx("webhook-card-booking"))
    assert again.status_code == 422 and "already has an endpoint" in again.headers["HX-Trigger"]
    assert client.post("/webhooks/endpoints", data={"source": "stripe"}).status_code == 400


@pytest.mark.parametrize("app_overrides", [{"WEBHOOK_PREVIOUS_SECRET_HOURS": 1}])
def test_a_single_hour_is_written_in_the_singular(client, admin, practice):
    """Counts in sentences use the language's plural rules: one hour, not "1 hours"."""
    endpoint = make_endpoint(practice)
    html = client.post(f"/webhooks/endpoints/{endpoint.id}/rotate",
                       headers=htmx("webhook-card-booking")).get_data(as_text=True)
    assert "stays valid for 1 hour, until" in html and "1 hours" not in html


def test_rotate_shows_the_new_secret_once_and_keeps_the_previous_valid(client, admin, db, practice, app):
    """Rotation returns the card with the new secret, version 2 and how long the previous secret stays valid;
    both secrets verify until then; it is audited; the page does not show the secret again."""
    endpoint = make_endpoint(practice)
    old = valid_secrets(endpoint, utcnow())[0][1]
    response = client.post(f"/webhooks/endpoints/{endpoint.id}/rotate", headers=htmx("webhook-card-booking"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    new = _shown_secret(html)
    assert new.startswith("whsec_") and new != old
    hours = app.config["WEBHOOK_PREVIOUS_SECRET_HOURS"]
    assert f"The previous secret stays valid for {hours} hours, until" in html
    assert "Secret: set, rotated" in html and "version 2" in html
    endpoint = _endpoint(db, practice)
    now = utcnow()
    assert valid_secrets(endpoint, now) == [(2, new), (1, old)]
    assert endpoint.previous_valid_until - now == pytest.approx(timedelta(hours=hours), abs=timedelta(minutes=1))
    assert valid_secrets(endpoint, now + timedelta(hours=hours, minutes=1)) == [(2, new)]
    assert audit_actions(db, object_type="webhook_endpoint") == ["webhook.secret.rotate"]
    page = client.get("/webhooks/").get_data(as_text=True)
    assert new not in page and old not in page and "stays valid" in page


def test_rotate_retell_needs_the_new_key(client, admin, db, practice):
    """Retell's rotation form asks for the new API key; without it nothing changes."""
    endpoint = make_endpoint(practice, source="retell", secret="key_old")
    assert 'name="rotate-retell-secret"' in client.get("/webhooks/").get_data(as_text=True)
    refused = client.post(f"/webhooks/endpoints/{endpoint.id}/rotate", headers=htmx("webhook-card-retell"))
    assert refused.status_code == 422 and "Enter the Retell API key" in refused.get_data(as_text=True)
    done = client.post(f"/webhooks/endpoints/{endpoint.id}/rotate", data={"rotate-retell-secret": "key_new"},
                       headers=htmx("webhook-card-retell"))
    assert done.status_code == 200 and "key_new" not in done.get_data(as_text=True)
    assert valid_secrets(_endpoint(db, practice, "retell"), utcnow()) == [(2, "key_new"), (1, "key_old")]


def test_disable_and_enable(client, admin, db, practice):
    """Disabling and enabling answer with the card (htmx) or 303 (plain form) and are audited."""
    endpoint = make_endpoint(practice)
    disabled = client.post(f"/webhooks/endpoints/{endpoint.id}/disable", headers=htmx("webhook-card-booking"))
    assert disabled.status_code == 200 and '"toast"' in disabled.headers["HX-Trigger"]
    html = disabled.get_data(as_text=True)
    assert 'id="webhook-status-booking">disabled' in html and "Enable" in html
    assert _endpoint(db, practice).active is False
    enabled = client.post(f"/webhooks/endpoints/{endpoint.id}/enable")
    assert enabled.status_code == 303 and enabled.headers["Location"] == "/webhooks/"
    assert _endpoint(db, practice).active is True
    assert audit_actions(db, object_type="webhook_endpoint") == ["webhook.endpoint.disable", "webhook.endpoint.enable"]


def test_another_practices_endpoint_is_404(client, admin, db, other_practice):
    """Rotating, disabling or enabling another practice's endpoint answers 404 and changes nothing."""
    foreign = make_endpoint(other_practice)
    for action in ("rotate", "disable", "enable"):
        assert client.post(f"/webhooks/endpoints/{foreign.id}/{action}").status_code == 404
    foreign = _endpoint(db, other_practice)
    assert foreign.secret_version == 1 and foreign.active


@pytest.mark.parametrize("app_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_card_forms_need_the_csrf_token(client, make_user, db, practice):
    """With CSRF on, a create or rotate without the token is refused with 400; with the header htmx sends (the
    token from <body hx-headers>) it works."""
    admin = make_user()
    login_page = client.get("/auth/login").get_data(as_text=True)
    token = login_page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    client.post("/auth/login", data={"email": admin.email, "password": PASSWORD}, headers={"X-CSRFToken": token})
    refused = client.post("/webhooks/endpoints", data={"source": "booking"}, headers=htmx("webhook-card-booking"))
    assert refused.status_code == 400 and _endpoint(db, practice) is None
    page = client.get("/webhooks/").get_data(as_text=True)
    token = page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    assert 'name="create-booking-csrf_token"' in page
    accepted = client.post("/webhooks/endpoints", data={"source": "booking"},
                           headers={**htmx("webhook-card-booking"), "X-CSRFToken": token})
    assert accepted.status_code == 200
    endpoint = _endpoint(db, practice)
    assert client.post(f"/webhooks/endpoints/{endpoint.id}/rotate").status_code == 400
    assert client.post(f"/webhooks/endpoints/{endpoint.id}/rotate", headers={"X-CSRFToken": token}).status_code == 200


@pytest.mark.parametrize("role", ["assistant", "therapist", "billing"])
def test_other_roles_are_refused(client, auth, db, practice, role):
    """Only admins manage endpoints, read the log, reveal payloads and replay: every other role gets 403 and no
    Webhooks entry in the navigation."""
    endpoint = make_endpoint(practice)
    event = make_event(endpoint)
    auth.login(role=role)
    assert client.get("/webhooks/").status_code == 403
    assert client.get("/webhooks/events").status_code == 403
    assert client.get(f"/webhooks/events/{event.id}").status_code == 403
    for url in ("/webhooks/endpoints", f"/webhooks/endpoints/{endpoint.id}/rotate",
                f"/webhooks/endpoints/{endpoint.id}/disable", f"/webhooks/endpoints/{endpoint.id}/enable",
                f"/webhooks/events/{event.id}/reveal", f"/webhooks/events/{event.id}/replay"):
        assert client.post(url, data={"source": "booking"}).status_code == 403, url
    assert _endpoint(db, practice).secret_version == 1
    assert 'href="/webhooks/events"' not in client.get("/").get_data(as_text=True)


def test_admin_sees_webhooks_in_the_navigation(client, admin):
    """The Webhooks entry leads admins to the event log."""
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<a href="/webhooks/events"[^>]*>Webhooks</a>', page)


def test_anonymous_htmx_request_is_sent_to_login(client):
    """An expired session answers htmx with 401 and HX-Redirect to the login page."""
    response = client.get("/webhooks/events", headers=htmx("webhook-events-table"))
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/auth/login")


def test_event_log_rows_and_statuses(client, admin, db, practice):
    """Each row shows time, source, the event as one plain line and the status in words (the redacted preview is
    in the detail only); the status comes from the receipt outcome or the latest attempt."""
    endpoint = make_endpoint(practice)
    retry_at = datetime(2030, 1, 2, 11, 0, tzinfo=UTC)
    events = {
        "processed": make_event(endpoint, attempts=[{"outcome": "error"}, {"outcome": "processed"}],
                                secret_version=3),
        "ignored": make_event(endpoint, attempts=[{"outcome": "ignored"}]),
        "retrying": make_event(endpoint, attempts=[{"outcome": "error", "next_retry_at": retry_at}]),
        "failed": make_event(endpoint, attempts=[{"outcome": "error", "next_retry_at": retry_at},
                                                 {"outcome": "error"}]),
        "duplicate": make_event(endpoint, outcome="duplicate"),
        "rejected": make_event(endpoint, outcome="rejected", reject_reason="signature mismatch",
                               preview=None),
    }
    html = client.get("/webhooks/events").get_data(as_text=True)

    def row(name):
        return re.search(rf'<tr id="webhook-event-{events[name].id}">(.*?)</tr>', html, re.S).group(1)

    assert ">processed<" in row("processed") and ">ignored<" in row("ignored")
    assert "error, retry at Jan 2, 2030, 12:00\u202fPM" in row("retrying")  # 11:00 UTC is 12:00 in Berlin
    assert ">failed<" in row("failed") and ">duplicate<" in row("duplicate")
    assert "rejected: signature mismatch" in row("rejected") and ">—<" in row("rejected")
    assert "New in the booking tool: E." in row("ignored")  # one plain line; the preview is in the detail only
    assert "&#34;first_name&#34;" not in html
    assert "Erika" not in html  # the payload never reaches the list
    assert "Booking tool" in row("ignored") and "patient.created" in row("ignored")
    assert "6 events" in html


def test_event_log_fragment_polls(client, admin, app):
    """The table is swapped alone for htmx (the filter form and the poll) and carries the poll interval for
    app.js; the full page has the filter form around it."""
    fragment = client.get("/webhooks/events?source=booking", headers=htmx("webhook-events-table"))
    html = fragment.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="webhook-events-table"') and "<html" not in html
    assert "HX-Target" in fragment.headers["Vary"]
    assert 'hx-trigger="poll"' in html
    assert f'data-poll-seconds="{app.config["WEBHOOK_LOG_POLL_SECONDS"]}"' in html
    assert 'hx-get="/webhooks/events?page=1&amp;source=booking"' in html
    page = client.get("/webhooks/events").get_data(as_text=True)
    assert "<html" in page and 'id="webhook-events-filter"' in page and 'id="webhook-events-table"' in page


def test_event_log_filters(client, admin, db, practice):
    """Source, type, status and date (days in the practice's zone) narrow the log; a reversed range is 422."""
    booking = make_endpoint(practice)
    calcom = make_endpoint(practice, source="calcom", secret="calcom-secret")
    created = make_event(booking, event_type="appointment.created", attempts=[{"outcome": "processed"}],
                         received_at=datetime(2025, 3, 1, 23, 30, tzinfo=UTC))
    cancelled = make_event(calcom, event_type="BOOKING_CANCELLED", attempts=[{"outcome": "error"}],
                           received_at=datetime(2025, 3, 1, 22, 30, tzinfo=UTC))

    def listed(query):
        html = client.get(f"/webhooks/events?{query}", headers=htmx("webhook-events-table")).get_data(as_text=True)
        return {int(number) for number in re.findall(r'id="webhook-event-(\d+)"', html)}

    assert listed("") == {created.id, cancelled.id}
    assert listed("source=calcom") == {cancelled.id}
    assert listed("event_type=appointment.created") == {created.id}
    assert listed("status=failed") == {cancelled.id}
    assert listed("status=processed&source=calcom") == set()
    assert listed("date_from=2025-03-02&date_to=2025-03-02") == {created.id}
    assert listed("date_to=2025-03-01") == {cancelled.id}
    page = client.get("/webhooks/events").get_data(as_text=True)
    assert '<option value="BOOKING_CANCELLED">' in page and '<option value="failed">failed</option>' in page
    reversed_range = client.get("/webhooks/events?date_from=2025-03-02&date_to=2025-03-01")
    assert reversed_range.status_code == 422 and "before the start date" in reversed_range.get_data(as_text=True)
    assert client.get("/webhooks/events?status=bogus").status_code == 422


@pytest.mark.parametrize("app_overrides", [{"WEBHOOK_LOG_PAGE_SIZE": 3}])
def test_event_log_pages_newest_first(client, admin, db, practice):
    """The newest WEBHOOK_LOG_PAGE_SIZE events come first, the rest on further pages, filters kept in the links."""
    endpoint = make_endpoint(practice)
    now = utcnow()
    events = [make_event(endpoint, received_at=now - timedelta(minutes=minutes)) for minutes in range(7)]
    first = client.get("/webhooks/events?source=booking").get_data(as_text=True)
    ids = [int(number) for number in re.findall(r'id="webhook-event-(\d+)"', first)]
    assert ids == [event.id for event in events[:3]]
    assert "Page 1 of 3" in first and 'href="/webhooks/events?page=2&amp;source=booking"' in first
    third = client.get("/webhooks/events?page=3&source=booking").get_data(as_text=True)
    assert re.findall(r'id="webhook-event-(\d+)"', third) == [str(events[6].id)]


def test_another_practices_events_stay_invisible(client, admin, db, other_practice):
    """Neither the log nor the detail, reveal or replay show another practice's event."""
    foreign = make_event(make_endpoint(other_practice), event_type="secret.type")
    assert "secret.type" not in client.get("/webhooks/events").get_data(as_text=True)
    assert client.get(f"/webhooks/events/{foreign.id}").status_code == 404
    assert client.post(f"/webhooks/events/{foreign.id}/reveal").status_code == 404
    assert client.post(f"/webhooks/events/{foreign.id}/replay").status_code == 404
    assert audit_actions(db, action="payload.reveal") == []


def test_event_detail(client, admin, db, practice, make_user):
    """The detail shows the event's fields, every attempt and the preview, but not the payload."""
    endpoint = make_endpoint(practice)
    replayer = make_user(name="Replay Person")
    event = make_event(endpoint, delivery_id="msg_2Lh9", secret_version=2, remote_addr="203.0.113.9",
                       payload={"data": {"first_name": "Erika", "email": "erika@example.test"}},
                       attempts=[{"outcome": "error", "error": "database locked",
                                  "next_retry_at": datetime(2030, 1, 2, 11, 0, tzinfo=UTC)},
                                 {"outcome": "processed", "detail": "patient 7 created", "triggered_by": "replay",
                                  "user_id": replayer.id}])
    html = client.get(f"/webhooks/events/{event.id}").get_data(as_text=True)
    for text in ("msg_2Lh9", "203.0.113.9", "version 2", "New in the booking tool: E.", "database locked",
                 "patient 7 created", "Replay Person", "applied again by a user", "on receipt",
                 "Jan 2, 2030, 12:00\u202fPM", ">processed<", "first_name&#34;: &#34;E."):
        assert text in html, text
    assert "erika@example.test" not in html and "Reveal payload" in html and "Replay" in html


def test_reveal_payload_is_audited(client, admin, db, practice):
    """Revealing shows the decrypted payload in #webhook-payload and writes payload.reveal for the event."""
    endpoint = make_endpoint(practice)
    event = make_event(endpoint, payload={"data": {"email": "erika@example.test"}})
    response = client.post(f"/webhooks/events/{event.id}/reveal", headers=htmx("webhook-payload"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="webhook-payload">')
    assert "erika@example.test" in html
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "payload.reveal"))
    assert (entry.object_type, entry.object_id, entry.user_id) == ("webhook_event", str(event.id), admin.id)
    page = client.post(f"/webhooks/events/{event.id}/reveal")
    assert "<html" in page.get_data(as_text=True) and "erika@example.test" in page.get_data(as_text=True)
    assert "erika@example.test" not in client.get(f"/webhooks/events/{event.id}").get_data(as_text=True)
    assert audit_actions(db, action="payload.reveal") == ["payload.reveal", "payload.reveal"]


def test_rejected_event_has_no_payload_to_reveal(client, admin, db, practice):
    """A rejected request kept no body: nothing to reveal, nothing audited, nothing to replay."""
    event = make_event(make_endpoint(practice), outcome="rejected", reject_reason="signature mismatch")
    detail = client.get(f"/webhooks/events/{event.id}").get_data(as_text=True)
    assert "No payload was stored" in detail and "Reveal payload" not in detail and 'id="webhook-replay"' not in detail
    response = client.post(f"/webhooks/events/{event.id}/reveal", headers=htmx("webhook-payload"))
    assert "No payload was stored" in response.get_data(as_text=True)
    assert audit_actions(db, action="payload.reveal") == []


def test_replay_applies_the_event_again(client, admin, db, practice):
    """Replay runs webhook_ingest.replay: a new attempt triggered by "replay" by this user, the attempts
    re-rendered with a toast, and the event's data applied."""
    endpoint = make_endpoint(practice)
    payload = {"id": "msg_replay", "type": "patient.created", "occurred_at": "2025-03-01T10:00:00+01:00",
               "data": {"patient_id": "B-42", "first_name": "Erika", "last_name": "Mustermann",
                        "email": "erika@example.test", "phone": "+4930123456", "birth_date": "1980-04-02"}}
    event = make_event(endpoint, payload=payload, delivery_id="msg_replay",
                       attempts=[{"outcome": "error", "error": "database locked"}])
    response = client.post(f"/webhooks/events/{event.id}/replay", headers=htmx("webhook-attempts"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="webhook-attempts">')
    assert json.loads(response.headers["HX-Trigger"])["toast"]["text"] == "Event applied again: processed."
    attempts = re.findall(r"<tr>\s*<td>(\d+)</td>", html)
    assert attempts == ["1", "2"] and admin.name in html
    patient = db.session.scalar(select(Patient).where(Patient.booking_system_id == "B-42"))
    assert patient is not None and patient.practice_id == practice.id
    assert audit_actions(db, object_type="webhook_event", object_id=str(event.id)) == ["webhook.replay"]


def test_replay_refused_for_a_duplicate(client, admin, db, practice):
    """A duplicate has nothing to apply: 422 with an error toast, no attempt; without htmx a 303 back."""
    event = make_event(make_endpoint(practice), outcome="duplicate", payload=None)
    response = client.post(f"/webhooks/events/{event.id}/replay", headers=htmx("webhook-attempts"))
    assert response.status_code == 422
    assert json.loads(response.headers["HX-Trigger"])["toast"]["level"] == "error"
    assert "No attempt to apply this event" in response.get_data(as_text=True)
    plain = client.post(f"/webhooks/events/{event.id}/replay")
    assert plain.status_code == 303 and plain.headers["Location"] == f"/webhooks/events/{event.id}"
