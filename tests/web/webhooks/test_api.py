"""Admin JSON API: the webhook event log (filters, paging, never the payload) and rotating an endpoint's secret."""

from datetime import UTC, datetime, timedelta

import pytest

from app.platform.database import utcnow
from app.webhooks.endpoints import valid_secrets
from tests.helpers import audit_actions, bearer
from tests.webhook_factories import make_endpoint, make_event


@pytest.fixture
def admin_token(make_user, make_token):
    """An API token of an admin of ``practice``."""
    return make_token(make_user())


@pytest.fixture
def endpoint(db, practice):
    """The practice's booking endpoint."""
    return make_endpoint(practice)


def _events(client, token, query=""):
    """GET the event log with ``query``; returns the response."""
    return client.get(f"/api/admin/webhook-events{query}", headers=bearer(token))


def test_event_list_shape_and_no_payload(client, admin_token, endpoint, other_practice):
    """Each result carries what the log shows, with ISO times and the derived status, and never the payload;
    another practice's events are not listed."""
    retry_at = datetime(2030, 1, 2, 11, 0, tzinfo=UTC)
    retrying = make_event(endpoint, delivery_id="msg_1", secret_version=3,
                          attempts=[{"outcome": "error", "next_retry_at": retry_at}])
    rejected = make_event(endpoint, outcome="rejected", reject_reason="signature mismatch", preview=None)
    make_event(make_endpoint(other_practice))
    response = _events(client, admin_token)
    assert response.status_code == 200
    body = response.get_json()
    assert body["count"] == 2 and body["next"] is None and body["previous"] is None
    by_id = {result["id"]: result for result in body["results"]}
    assert by_id[retrying.id] == {
        "id": retrying.id, "received_at": retrying.received_at.isoformat(), "source": "booking",
        "event_type": "patient.created", "delivery_id": "msg_1", "outcome": "accepted", "status": "retrying",
        "next_retry_at": retry_at.isoformat(), "secret_version": 3, "preview": retrying.preview,
        "reject_reason": None,
    }
    assert by_id[rejected.id]["status"] == "rejected"
    assert by_id[rejected.id]["reject_reason"] == "signature mismatch"
    assert by_id[rejected.id]["secret_version"] is None
    assert "Erika" not in response.get_data(as_text=True) and "payload" not in by_id[retrying.id]


def test_event_list_filters(client, admin_token, db, practice, endpoint):
    """source, event_type, status, outcome, date_from and date_to narrow the list (days in the practice zone)."""
    calcom = make_endpoint(practice, source="calcom", secret="calcom-secret")
    late = make_event(endpoint, event_type="appointment.created", attempts=[{"outcome": "processed"}],
                      received_at=datetime(2025, 3, 1, 23, 30, tzinfo=UTC))
    early = make_event(calcom, event_type="BOOKING_CREATED", attempts=[{"outcome": "error"}],
                       received_at=datetime(2025, 3, 1, 22, 30, tzinfo=UTC))
    duplicate = make_event(calcom, outcome="duplicate", received_at=datetime(2025, 3, 1, 12, 0, tzinfo=UTC))

    def ids(query):
        return {result["id"] for result in _events(client, admin_token, query).get_json()["results"]}

    assert ids("") == {late.id, early.id, duplicate.id}
    assert ids("?source=calcom") == {early.id, duplicate.id}
    assert ids("?event_type=appointment.created") == {late.id}
    assert ids("?status=failed") == {early.id}
    assert ids("?outcome=duplicate") == {duplicate.id}
    assert ids("?date_from=2025-03-02") == {late.id}
    assert ids("?date_to=2025-03-01&source=calcom") == {early.id, duplicate.id}


@pytest.mark.parametrize("query", ["?source=stripe", "?status=broken", "?outcome=ok", "?date_from=yesterday",
                                   "?date_to=2025-13-01", "?page=x", "?per_page=many"])
def test_event_list_bad_parameters(client, admin_token, query):
    """An invalid filter or page answers 400 with a JSON error naming the problem."""
    response = _events(client, admin_token, query)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_parameter"


def test_event_list_pages(client, admin_token, endpoint):
    """Newest first, per_page at a time, with next/previous links that keep the filters."""
    now = utcnow()
    events = [make_event(endpoint, received_at=now - timedelta(minutes=minutes)) for minutes in range(5)]
    first = _events(client, admin_token, "?per_page=2&source=booking").get_json()
    assert [result["id"] for result in first["results"]] == [events[0].id, events[1].id]
    assert first["count"] == 5 and first["previous"] is None
    assert first["next"] == "http://localhost/api/admin/webhook-events?page=2&per_page=2&source=booking"
    last = client.get(first["next"].replace("?page=2", "?page=3"), headers=bearer(admin_token)).get_json()
    assert [result["id"] for result in last["results"]] == [events[4].id] and last["next"] is None
    assert last["previous"] == "http://localhost/api/admin/webhook-events?page=2&per_page=2&source=booking"


def test_rotate_returns_the_new_secret_once(client, admin_token, db, practice, endpoint, app):
    """Rotation answers the new secret, its version and until when the previous one stays valid; both verify
    until then, and it is audited."""
    old = valid_secrets(endpoint, utcnow())[0][1]
    response = client.post("/api/admin/webhook-secret/rotate", json={"endpoint_id": endpoint.id},
                           headers=bearer(admin_token))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"endpoint_id", "secret", "secret_version", "previous_valid_until"}
    assert body["endpoint_id"] == endpoint.id and body["secret_version"] == 2 and body["secret"].startswith("whsec_")
    until = datetime.fromisoformat(body["previous_valid_until"])
    hours = app.config["WEBHOOK_PREVIOUS_SECRET_HOURS"]
    assert until - utcnow() == pytest.approx(timedelta(hours=hours), abs=timedelta(minutes=1))
    db.session.refresh(endpoint)
    assert valid_secrets(endpoint, utcnow()) == [(2, body["secret"]), (1, old)]
    assert audit_actions(db, object_type="webhook_endpoint") == ["webhook.secret.rotate"]


def test_rotate_retell_takes_the_new_key(client, admin_token, db, practice):
    """Retell's secret is its API key: it must be given in the body (422 without it)."""
    retell = make_endpoint(practice, source="retell", secret="key_old")
    refused = client.post("/api/admin/webhook-secret/rotate", json={"endpoint_id": retell.id},
                          headers=bearer(admin_token))
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "validation_failed"
    done = client.post("/api/admin/webhook-secret/rotate", json={"endpoint_id": retell.id, "secret": "key_new"},
                       headers=bearer(admin_token))
    assert done.status_code == 200 and done.get_json()["secret"] == "key_new"


@pytest.mark.parametrize("body", [{}, {"endpoint_id": "1"}, {"endpoint_id": 1.0}, {"endpoint_id": True},
                                  {"endpoint_id": None}, {"endpoint_id": 1, "secret": 5}, []])
def test_rotate_bad_body(client, admin_token, db, endpoint, body):
    """A missing or ill-typed endpoint_id (or secret, or a body that is not an object) answers 400 with a JSON
    error, and nothing is rotated."""
    response = client.post("/api/admin/webhook-secret/rotate", json=body, headers=bearer(admin_token))
    assert response.status_code == 400
    assert response.get_json()["error"]["message"]
    db.session.refresh(endpoint)
    assert endpoint.secret_version == 1


def test_rotate_needs_json(client, admin_token, endpoint):
    """A form body is refused with 415."""
    response = client.post("/api/admin/webhook-secret/rotate", data={"endpoint_id": endpoint.id},
                           headers=bearer(admin_token))
    assert response.status_code == 415


def test_rotate_unknown_or_foreign_endpoint_is_404(client, admin_token, db, other_practice):
    """An unknown id and another practice's endpoint both answer 404; the foreign secret is unchanged."""
    foreign = make_endpoint(other_practice)
    for endpoint_id in (foreign.id, foreign.id + 100):
        response = client.post("/api/admin/webhook-secret/rotate", json={"endpoint_id": endpoint_id},
                               headers=bearer(admin_token))
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    db.session.refresh(foreign)
    assert foreign.secret_version == 1


@pytest.mark.parametrize("role", ["assistant", "therapist", "billing"])
def test_other_roles_are_refused(client, make_user, make_token, db, endpoint, role):
    """Only admins' tokens read the log or rotate secrets; others get 403."""
    token = make_token(make_user(role=role))
    assert _events(client, token).status_code == 403
    response = client.post("/api/admin/webhook-secret/rotate", json={"endpoint_id": endpoint.id},
                           headers=bearer(token))
    assert response.status_code == 403
    db.session.refresh(endpoint)
    assert endpoint.secret_version == 1


def test_without_token_is_401(client, endpoint):
    """No token, no access (JSON 401)."""
    assert client.get("/api/admin/webhook-events").status_code == 401
    assert client.post("/api/admin/webhook-secret/rotate", json={"endpoint_id": endpoint.id}).status_code == 401
