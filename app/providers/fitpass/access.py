"""Fitpass (CH) as an access provider: its QR code format and its check-in call, answered in the normalised decision
vocabulary of app.access (contracts/PROVIDERS.md §3a; second-hand, so everything Fitpass means is in this file).

Contract: ``POST {base}/api/partner-user/sport-partners/addcheck-in/`` (trailing slash), header
``X-Fitpass-Signature`` = lowercase hex HMAC-SHA256 of the compact JSON body with the partner secret, body
``{"current_checkin_code": "FP-…", "sport_partner": int, "user_id": int}``. 201 with ``data.machine_grant_access``
and a German ``machine_message``; 400 with ``data.status_code`` 100–107. The body is sent exactly as signed
(compact, keys in contract order), which is why this client sends bytes instead of handing ``json=`` to requests
(requests would add spaces after separators).

The member's code is treated as the member's id at Fitpass: a membership links the code. Should Fitpass turn out to
rotate ``current_checkin_code``, ``parse_code`` and ``external_id`` of the answer's ``data.user.id`` are the one
place to change."""

import hashlib
import hmac
import json
import re
import time

import requests
from flask_babel import lazy_gettext as _l

from app.providers.base import CallMetric, ProviderBadResponse, ProviderClient, ProviderError

LABEL = "Fitpass"
CODE_KIND = "fitpass"
DEFAULT_BASE_URL = "https://rest-fitpass-ch.herokuapp.com"
CHECKIN_PATH = "/api/partner-user/sport-partners/addcheck-in/"
SECRET_LABEL = _l("Partner secret (from Fitpass)")
ID_FIELDS = (("sport_partner", _l("Sport partner id")), ("user_id", _l("Partner account user id")))

_CODE = re.compile(r"FP-[A-Za-z0-9_-]{4,64}")

# data.status_code of a 400 answer → decision (PROVIDERS.md §3a).
STATUS_DECISIONS = {
    100: "deny_unknown_member",  # unknown member
    101: "deny_inactive",  # unknown partner (our sport partner id is wrong)
    102: "deny_inactive",  # user inactive
    103: "deny_expired",  # no subscription
    104: "deny_expired",  # subscription invalid
    105: "deny_expired",  # subscription ended
    106: "deny_inactive",  # partner inactive
    107: "deny_limit_reached",  # second check-in at this partner today
}


def parse_code(text):
    """(external id, None) when ``text`` is a Fitpass check-in code (``FP-`` and 4 to 64 letters, digits, ``-`` or
    ``_``), else None. Fitpass codes carry no secret part."""
    code = text.strip()
    return (code, None) if _CODE.fullmatch(code) else None


def signature(secret, body):
    """The ``X-Fitpass-Signature`` of ``body`` (bytes): hex HMAC-SHA256 keyed with the partner secret."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def compact_body(code, sport_partner, user_id):
    """The request body as signed and sent: compact JSON, keys in the contract's order."""
    payload = {"current_checkin_code": code, "sport_partner": sport_partner, "user_id": user_id}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class FitpassClient(ProviderClient):
    """The check-in call. Authenticated by the body's signature, not by a header token."""

    provider = "fitpass"
    label = "Fitpass"

    def auth_headers(self):
        """Fitpass signs the body instead; no token header."""
        return {}

    def add_checkin(self, code, sport_partner, user_id):
        """POST the check-in and return (HTTP status, parsed body). Transport failures and unusable answers raise
        the base's ProviderErrors; 201 and 400 are answers (a 400 is a refusal with a status code)."""
        body = compact_body(code, sport_partner, user_id)
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "X-Fitpass-Signature": signature(self.api_key, body)}
        timeout = self._attempt_timeout()
        started = time.monotonic()
        response, parsed = None, None
        try:
            response = self.session.post(self.base_url + CHECKIN_PATH, data=body, headers=headers, timeout=timeout,
                                         allow_redirects=False)
        except requests.RequestException as exc:
            error = self._transport_error(exc)
        else:
            parsed, error = self._interpret(response, expect=(201, 400))
        status = response.status_code if response is not None else None
        self._emit(CallMetric(self.provider, "checkin", error is None, int((time.monotonic() - started) * 1000),
                              status, error=type(error).__name__ if error else None))
        if error is not None:
            raise error
        return status, parsed


def validate(base_url, secret, settings, scanned, *, timeout_seconds, session=None, on_call=None):
    """Ask Fitpass to check the member in; a dict ``decision``, ``code``, ``message`` (Fitpass' own, German) and
    ``member_name``. Raises ProviderError when there is no usable answer (the caller decides: fail closed)."""
    external_id, _secret_part = scanned
    client = FitpassClient(base_url, secret, timeout=(timeout_seconds, timeout_seconds), max_retries=0,
                           session=session, on_call=on_call, deadline=time.monotonic() + timeout_seconds)
    status, body = client.add_checkin(external_id, settings.get("sport_partner"), settings.get("user_id"))
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise ProviderBadResponse("Fitpass answered without a data object.", status_code=status, provider="fitpass")
    message = client.redact(str(data.get("machine_message") or body.get("message") or ""))[:500]
    user = data.get("user") if isinstance(data.get("user"), dict) else {}
    name = " ".join(str(user.get(key) or "") for key in ("firstname", "lastname")).strip() or None
    if status == 201:
        decision = "allow" if data.get("machine_grant_access") is True else "deny_unknown_member"
        return {"decision": decision, "code": "201", "message": message, "member_name": name}
    code = data.get("status_code")
    if code not in STATUS_DECISIONS:
        raise ProviderError(f"Fitpass refused with an unknown status code {code!r}.", status_code=status,
                            provider="fitpass")
    return {"decision": STATUS_DECISIONS[code], "code": str(code), "message": message, "member_name": name}
