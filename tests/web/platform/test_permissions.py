"""Every route, every role: who gets through, who gets 403, and another practice's records answer 404.

The expected outcome is derived from each view's access declaration and the role table in
app.platform.security.permissions, and the test also fails when a route declares no access rule at all (the guard
refuses those, but the route is a bug)."""

import pytest
from sqlalchemy import select

from app.accounts.models import ApiToken
from app.integrations.models import IntegrationMapping, SyncRun
from app.patients.importing.models import PatientImportJob, PatientImportRow
from app.patients.models import Patient
from app.platform.database import utcnow
from app.platform.security.permissions import ROLE_PERMISSIONS, ROLES
from app.tenancy.models import Location
from tests.helpers import PASSWORD, bearer

# Routes that are not part of the walk, with the reason.
SKIPPED = {
    "static": "files",
    "auth.invite": "public, needs a signed token; covered in test_auth",
    "portal.show": "public, needs a signed token; covered in test_portal",
    "inbound.receive": "public, authenticated by the webhook signature; covered in test_webhook_receiver",
}


def _rules(app):
    """(rule, method, endpoint, access) for every route and method."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED:
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, rule.endpoint, getattr(view, "access", None)


def _url(rule, ids):
    """Build the rule's URL from sample ids (``ids`` maps argument name → value)."""
    return rule.build({name: ids[name] for name in rule.arguments})[1]


def _request(client, method, url, token):
    """Send ``method`` to ``url``, with the bearer token for API routes."""
    headers = bearer(token) if url.startswith("/api/") else {}
    return client.open(url, method=method, headers=headers, data={})


def _patient_records(db, practice, therapist):
    """A patient (assigned to ``therapist``, so a therapist may read it), an import and one of its rows."""
    patient = Patient(practice_id=practice.id, first_name="Walk", last_name="Patient", therapist_id=therapist.id)
    job = PatientImportJob(practice_id=practice.id, file_name="walk.csv", headers=["Vorname"], mapping={})
    db.session.add_all([patient, job])
    db.session.flush()
    row = PatientImportRow(job_id=job.id, row_number=2, action="flagged", raw={}, data={})
    db.session.add(row)
    db.session.commit()
    return {"patient_id": patient.id, "job_id": job.id, "row_id": row.id}


def _webhook_records(practice):
    """A webhook endpoint of the practice and an accepted event with a stored payload."""
    from tests.webhook_factories import make_endpoint, make_event

    endpoint = make_endpoint(practice)
    return {"endpoint_id": endpoint.id, "event_id": make_event(endpoint).id}


def _location_records(db, practice):
    """A location of the practice."""
    location = Location(practice_id=practice.id, name="Walk location")
    db.session.add(location)
    db.session.commit()
    return {"location_id": location.id}


def _integration_records(db, practice):
    """A Cal.com sync run and mapping of the practice."""
    run = SyncRun(practice_id=practice.id, provider="calcom", trigger="manual", status="succeeded",
                  queued_at=utcnow(), details={})
    mapping = IntegrationMapping(practice_id=practice.id, provider="calcom", kind="event_type", external_id="1",
                                 external_name="Walk", manual=False, updated_at=utcnow())
    db.session.add_all([run, mapping])
    db.session.commit()
    return {"run_id": run.id, "mapping_id": mapping.id}


# Route arguments that name no record of a practice (so another practice's "record" cannot be built from them).
NOT_RECORDS = {"field", "tab", "provider", "operation"}
NAMES = {"field": "email", "tab": "verlauf", "provider": "calcom", "operation": "event-types"}


def test_every_route_declares_access(app):
    """No route is left without @permission_required, @login_only or @public."""
    missing = [endpoint for _rule, _method, endpoint, access in _rules(app) if access is None]
    assert missing == []


@pytest.mark.parametrize("role", ROLES)
def test_route_walk(app, client, make_user, make_token, other_practice, role, db):
    """Each route lets exactly the roles with its permission through; other practices' records are 404."""
    user = make_user(role=role)
    make_token(user, name="revoked during the walk")
    own_token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == user.id))
    token = make_token(user, name="used by the walk")
    colleague = make_user(role="therapist")
    stranger = make_user(role="therapist", practice=other_practice)
    make_token(stranger)
    strangers_token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == stranger.id))
    own_ids = {"user_id": colleague.id, "token_id": own_token_id, **NAMES,
               **_patient_records(db, user.practice, therapist=user), **_webhook_records(user.practice),
               **_location_records(db, user.practice), **_integration_records(db, user.practice)}
    foreign_ids = {"user_id": stranger.id, "token_id": strangers_token_id, **NAMES,
                   **_patient_records(db, other_practice, therapist=stranger), **_webhook_records(other_practice),
                   **_location_records(db, other_practice), **_integration_records(db, other_practice)}
    assert client.post("/auth/login", data={"email": user.email, "password": PASSWORD}).status_code == 303

    problems = []
    for rule, method, endpoint, (kind, permission) in _rules(app):
        if endpoint == "auth.logout":
            continue  # would end the walk's session; covered in test_auth
        allowed = kind in ("public", "login") or permission in ROLE_PERMISSIONS[role]
        status = _request(client, method, _url(rule, own_ids), token).status_code
        if allowed and status in (401, 403) or status >= 500:
            problems.append(f"{method} {rule} → {status}, expected access for {role}")
        if not allowed and status != 403:
            problems.append(f"{method} {rule} → {status}, expected 403 for {role}")
        if allowed and set(rule.arguments) - NOT_RECORDS:
            foreign = _request(client, method, _url(rule, foreign_ids), token).status_code
            if foreign != 404:
                problems.append(f"{method} {rule} with another practice's record → {foreign}, expected 404")
    assert problems == []


def test_anonymous_walk(client):
    """Anonymous requests reach only public routes; pages redirect to login, the API answers 401."""
    problems = []
    for rule, method, _endpoint, (kind, _permission) in _rules(client.application):
        if kind == "public":
            continue
        url = _url(rule, {"user_id": 1, "token_id": 1, **NAMES, "patient_id": 1, "job_id": 1, "row_id": 1,
                          "endpoint_id": 1, "event_id": 1, "location_id": 1, "run_id": 1, "mapping_id": 1})
        status = _request(client, method, url, None).status_code
        expected = 401 if url.startswith("/api/") else 302
        if status != expected:
            problems.append(f"{method} {rule} → {status}, expected {expected}")
    assert problems == []
