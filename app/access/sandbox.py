"""The access part of the sandbox demo (``make run`` with HUB_SANDBOX=1): the demo practice's first location gets
Fitpass, Friction and Wellhub enabled against the local fakes (``python -m tests.fakes``), two demo patients get
memberships, and the check-in page lists codes to scan, so a newcomer can check someone in within a minute.

The fakes' credentials and member codes are repeated here (the app never imports tests); they are public demo
values of local fakes."""

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.access.models import AccessProvider, Membership
from app.patients.models import Patient
from app.platform.extensions import db
from app.platform.security.crypto import encrypt_secret
from app.tenancy.models import Location

# provider -> (URL config key, default URL, secret, settings), as tests.fakes.<provider> accepts them.
PROVIDERS = {
    "fitpass": ("SANDBOX_FITPASS_URL", "http://127.0.0.1:8703", "fp_partner_secret_test",
                {"sport_partner": 4711, "user_id": 99}),
    "friction": ("SANDBOX_FRICTION_URL", "http://127.0.0.1:8704", None, {"partner_id": 321}),
    "wellhub": ("SANDBOX_WELLHUB_URL", "http://127.0.0.1:8705", "wh_token_test", {"gym_id": 5150}),
}
# Codes to try at the desk: (what to scan, what happens). The Friction vCard is in CRLF form, as a scanner types it.
DEMO_CODES = (
    ("FP-7Q2K9D4M", _l("Fitpass: admitted, not linked yet (link the member at the desk)")),
    ("FP-ENDED005", _l("Fitpass: subscription ended")),
    ("1234567890123", _l("Wellhub: checked in in the app; linked to Mia Hoffmann")),
    ("9999999999999", _l("Wellhub: no check-in in the app")),
    ("BEGIN:VCARD\r\nVERSION:3.0\r\nORG:3f2b8c1e-6a4d-4f5e-9b7a-1c2d3e4f5a6b\r\nNOTE:100234\r\nEND:VCARD",
     _l("Friction: admitted; linked to Jonas Schulz")),
)
# (provider, external id, patient's first and last name)
DEMO_MEMBERSHIPS = (("wellhub", "1234567890123", "Mia", "Hoffmann"), ("friction", "100234", "Jonas", "Schulz"))


def load_sandbox_access(practice):
    """Enable the providers at the practice's first location and link the demo memberships to the demo patients,
    where missing (only while HUB_SANDBOX is on). Returns the number of rows created."""
    if not current_app.config.get("HUB_SANDBOX"):
        return 0
    location = db.session.scalar(select(Location).where(Location.practice_id == practice.id)
                                 .order_by(Location.id).limit(1))
    if location is None:
        return 0
    created = 0
    enabled = set(db.session.scalars(select(AccessProvider.provider).where(
        AccessProvider.location_id == location.id)))
    for provider, (key, default, secret, settings) in PROVIDERS.items():
        if provider not in enabled:
            db.session.add(AccessProvider(
                practice_id=practice.id, location_id=location.id, provider=provider,
                base_url=current_app.config.get(key, default), secret=encrypt_secret(secret) if secret else None,
                secret_hint=secret[-4:] if secret else None, settings=settings, timeout_ms=1000))
            created += 1
    patients_by_name = {(first, last): patient_id for patient_id, first, last in db.session.execute(
        select(Patient.id, Patient.first_name, Patient.last_name).where(Patient.practice_id == practice.id))}
    linked = set(db.session.execute(select(Membership.provider, Membership.external_id).where(
        Membership.practice_id == practice.id, Membership.unlinked_at.is_(None))).tuples())
    for provider, external_id, first, last in DEMO_MEMBERSHIPS:
        patient_id = patients_by_name.get((first, last))
        if patient_id is not None and (provider, external_id) not in linked:
            db.session.add(Membership(practice_id=practice.id, provider=provider, external_id=external_id,
                                      patient_id=patient_id))
            created += 1
    return created
