"""Wellhub (Gympass) as an access provider: the 13-digit Wellhub id and the Access Control API's validation,
answered in the normalised decision vocabulary of app.access (contracts/PROVIDERS.md §4; the API is public).

Contract: ``POST {base}/access/v1/validate`` with ``Authorization: Bearer <token>`` and ``X-Gym-Id``, body
``{"gympass_id": "<13 digits>"}``. The member must have checked in in the Wellhub app first. 200 with the user and
``validated_at``; 404 ``checkin.validation.notfound`` (no check-in in the app); 400 ``checkin.validation.canceled``
or ``checkin.validation.expired``. Error bodies are an array of ``{"key", "message"}`` (also accepted inside
``{"errors": [...]}``)."""

import re
import time

from flask_babel import lazy_gettext as _l

from app.providers.base import ProviderBadResponse, ProviderClient

LABEL = "Wellhub"
CODE_KIND = "wellhub_id"
DEFAULT_BASE_URL = "https://api.partners.gympass.com"
SECRET_LABEL = _l("Access Control API token")
ID_FIELDS = (("gym_id", _l("Gym id")),)

_ID = re.compile(r"\d{13}")
# The error keys of the contract → decision; any other refusal is an unknown member.
KEY_DECISIONS = {
    "checkin.validation.notfound": "deny_not_checked_in_app",
    "checkin.validation.canceled": "deny_not_checked_in_app",
    "checkin.validation.expired": "deny_not_checked_in_app",
}


def parse_code(text):
    """(Wellhub id, None) when ``text`` is exactly 13 digits, else None."""
    code = text.strip()
    return (code, None) if _ID.fullmatch(code) and code.isascii() else None


class WellhubClient(ProviderClient):
    """The Access Control API with the gym's bearer token and id."""

    provider = "wellhub"
    label = "Wellhub"

    def __init__(self, base_url, api_key, *, gym_id, **kwargs):
        """``gym_id``: the gym's id, sent as ``X-Gym-Id``."""
        super().__init__(base_url, api_key, **kwargs)
        self.gym_id = gym_id

    def auth_headers(self):
        """Bearer token and the gym's id."""
        return {"Authorization": f"Bearer {self.api_key}", "X-Gym-Id": str(self.gym_id)}

    def validate(self, gympass_id):
        """POST the validation; the parsed answer of 200, 400 or 404 (the latter two are refusals)."""
        return self.request("POST", "/access/v1/validate", action="validate", retry=False, expect=(200, 400, 404),
                            json={"gympass_id": gympass_id})


def _errors(body):
    """The error objects of a refusal (a bare array, or ``{"errors": [...]}``)."""
    if isinstance(body, dict):
        body = body.get("errors")
    return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []


def validate(base_url, secret, settings, scanned, *, timeout_seconds, session=None, on_call=None):
    """Validate the member's app check-in at Wellhub; a dict ``decision``, ``code``, ``message`` and
    ``member_name``. Raises ProviderError when there is no usable answer."""
    gympass_id, _secret_part = scanned
    client = WellhubClient(base_url, secret, gym_id=settings.get("gym_id"),
                           timeout=(timeout_seconds, timeout_seconds), max_retries=0, session=session,
                           on_call=on_call, deadline=time.monotonic() + timeout_seconds)
    body = client.validate(gympass_id)
    errors = _errors(body)
    if errors:
        key = str(errors[0].get("key") or "")
        message = client.redact(str(errors[0].get("message") or ""))[:500]
        return {"decision": KEY_DECISIONS.get(key, "deny_unknown_member"), "code": key[:64] or None,
                "message": message, "member_name": None}
    results = body.get("results") if isinstance(body, dict) else None
    user = results.get("user") if isinstance(results, dict) else None
    if not isinstance(user, dict) or not results.get("validated_at"):
        raise ProviderBadResponse("Wellhub answered without the validated user.", provider="wellhub")
    name = " ".join(str(user.get(key) or "") for key in ("first_name", "last_name")).strip() or None
    return {"decision": "allow", "code": "validated", "message": "", "member_name": name}
