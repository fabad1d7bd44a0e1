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
    "auth.reset_password": "public, needs a signed token; covered in test_password_reset",
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


def _call_and_review_records(db, practice, patient_id):
    """A voice-agent call and a patient held for review (a second patient, so the walk's own stays reviewed)."""
    from app.appointments.models import Call
    from app.patients.reviews.models import PatientReview

    synced = Patient(practice_id=practice.id, first_name="Walk", last_name="Synced", source="calcom")
    call = Call(practice_id=practice.id, source="retell", external_id=f"walk-{practice.id}", stage=1,
                from_number="+4915111122233", patient_id=patient_id)
    db.session.add_all([synced, call])
    db.session.flush()
    review = PatientReview(practice_id=practice.id, patient_id=synced.id, source="calcom")
    db.session.add(review)
    db.session.commit()
    return {"call_id": call.id, "review_id": review.id}


def _mail_records(db, practice):
    """A mail in the practice's outbox."""
    from app.platform.mail.service import queue_mail

    message = queue_mail(kind="accounts.invite", recipient="walk@example.test", template="invite", locale="de",
                         practice_id=practice.id, context={"name": "Walk", "practice_name": practice.name,
                                                          "inviter_name": "Admin", "hours": 72, "link": "http://x/"})
    db.session.commit()
    return {"message_id": message.id}


def _access_records(db, practice, location_id, patient_id):
    """A linked Fitpass membership and a check-in of it at the practice's location."""
    from app.access.models import Checkin, Membership

    membership = Membership(practice_id=practice.id, provider="fitpass", external_id=f"FP-WALK-{practice.id}",
                            patient_id=patient_id)
    db.session.add(membership)
    db.session.flush()
    checkin = Checkin(practice_id=practice.id, location_id=location_id, provider="fitpass", code_kind="fitpass",
                      external_id=membership.external_id, membership_id=membership.id, decision="allow",
                      granted=True)
    db.session.add(checkin)
    db.session.commit()
    return {"membership_id": membership.id, "checkin_id": checkin.id}


def _scheduling_records(db, practice, location_id, therapist):
    """One row of each scheduling setting of the practice, the therapist's where a setting is a therapist's."""
    from datetime import date, time, timedelta

    from app.scheduling.hours import Absence, Break, Closure, HolidayOpening, OpeningHours, WorkingHours
    from app.scheduling.models import AppointmentType, Resource

    start = utcnow() + timedelta(days=30)
    hours = {"weekday": 0, "start_time": time(8), "end_time": time(12), "valid_from": date(2026, 1, 1)}
    rows = {
        "appointment_type_id": AppointmentType(practice_id=practice.id, name="Walk", duration_minutes=30),
        "resource_id": Resource(practice_id=practice.id, location_id=location_id, kind="room", name="Walk"),
        "opening_hour_id": OpeningHours(practice_id=practice.id, location_id=location_id, **hours),
        "working_hour_id": WorkingHours(practice_id=practice.id, therapist_id=therapist.id, location_id=location_id,
                                        **hours),
        "therapist_break_id": Break(practice_id=practice.id, therapist_id=therapist.id, weekday=0,
                                    start_time=time(10), end_time=time(10, 15)),
        "absence_id": Absence(practice_id=practice.id, therapist_id=therapist.id, starts_at=start,
                              ends_at=start + timedelta(days=1), reason="vacation"),
        "closure_id": Closure(practice_id=practice.id, location_id=location_id, starts_at=start,
                              ends_at=start + timedelta(hours=2)),
        "holiday_opening_id": HolidayOpening(practice_id=practice.id, day=date(2026, 12, 26)),
    }
    db.session.add_all(rows.values())
    db.session.commit()
    return {name: row.id for name, row in rows.items()}


def _series_records(db, practice, ids, therapist):
    """A treatment series of the walk's patient, led by ``therapist`` (so a therapist may read it)."""
    from datetime import date

    from app.scheduling.models import TreatmentSeries

    series = TreatmentSeries(practice_id=practice.id, patient_id=ids["patient_id"],
                             type_id=ids["appointment_type_id"], therapist_id=therapist.id,
                             location_id=ids["location_id"], units=10, per_week=2,
                             prescription_date=date(2026, 12, 1))
    db.session.add(series)
    db.session.commit()
    return {"series_id": series.id}


def _records(db, practice, therapist):
    """Sample records of every domain for ``practice``, by the route argument that names them."""
    ids = {**_patient_records(db, practice, therapist=therapist), **_webhook_records(practice),
           **_location_records(db, practice), **_integration_records(db, practice), **_mail_records(db, practice)}
    ids.update(_call_and_review_records(db, practice, ids["patient_id"]))
    ids.update(_access_records(db, practice, ids["location_id"], ids["patient_id"]))
    ids.update(_scheduling_records(db, practice, ids["location_id"], therapist))
    ids.update(_series_records(db, practice, ids, therapist))
    return ids


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
    own_ids = {"user_id": colleague.id, "token_id": own_token_id, **NAMES, **_records(db, user.practice, user)}
    foreign_ids = {"user_id": stranger.id, "token_id": strangers_token_id, **NAMES,
                   **_records(db, other_practice, stranger)}
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
        if allowed and set(rule.arguments) - NOT_RECORDS - set(rule.defaults or {}):  # a default names none
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
        url = _url(rule, {name: NAMES.get(name, 1) for name in rule.arguments})
        status = _request(client, method, url, None).status_code
        expected = 401 if url.startswith("/api/") else 302
        if status != expected:
            problems.append(f"{method} {rule} → {status}, expected {expected}")
    assert problems == []
