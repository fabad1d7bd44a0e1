"""Friction (Apptive) as an access provider: its vCard QR code and its check-in call, answered in the normalised
decision vocabulary of app.access (contracts/PROVIDERS.md §3b; second-hand, so everything Friction means is here).

The member's QR code is a vCard 3.0 whose ``NOTE`` is the user id and whose ``ORG`` is a UUID security code. The
security code is the member's credential: it is sent to Friction and nowhere else (never logged, never stored).
Contract: ``POST {base}/checkin`` ``{"user_id", "partner_id", "security_code"}`` without an auth header; success
``{"success": true, "response": {firstname, lastname}}``, failure ``{"success": false, "error": {"code",
"message"}}``. "Doppelcheckin Schutz ist aktiv" means the member is already checked in today: information (a
re-entry), not a refusal."""

import quopri
import re
import time
import uuid

from flask_babel import lazy_gettext as _l

from app.providers.base import ProviderBadResponse, ProviderClient

LABEL = "Friction"
CODE_KIND = "friction_vcard"
DEFAULT_BASE_URL = "https://api.apptive.ch"
SECRET_LABEL = None  # the per-member security code is the credential
ID_FIELDS = (("partner_id", _l("Partner (door) id")),)

MAX_USER_ID = 128
_UNFOLD = re.compile(r"\r?\n[ \t]")
# A keyboard-wedge scanner set up to drop the code's line breaks (else each one would be an Enter that submits the
# desk's field early) types the vCard as one line: the two properties are then found by their names.
_ONE_LINE_ORG = re.compile(r"ORG(?:;[^:]*)?:\s*([0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12})")
_ONE_LINE_NOTE = re.compile(r"NOTE(?:;[^:]*)?:\s*(\S+?)\s*(?=END:VCARD|[A-Z]{2,}[;:]|$)")
_DOUBLE_CHECKIN = "doppelcheckin"
# error.code of a failure → decision; anything else is an unknown member (the code or the member is not valid).
ERROR_DECISIONS = {403: "deny_inactive", 410: "deny_expired", 429: "deny_limit_reached"}


def _property(lines, name):
    """The value of the vCard property ``name`` (parameters such as ``CHARSET`` or ``ENCODING`` allowed), or None."""
    for line in lines:
        head, colon, value = line.partition(":")
        if not colon:
            continue
        parts = head.split(";")
        if parts[0].strip().upper().split(".")[-1] != name:  # "item1.NOTE" groups are allowed
            continue
        params = {part.strip().upper() for part in parts[1:]}
        if "ENCODING=QUOTED-PRINTABLE" in params or "QUOTED-PRINTABLE" in params:
            value = quopri.decodestring(value.encode("latin-1", "replace")).decode("utf-8", "replace")
        return value.strip()
    return None


def parse_code(text):
    """(user id, security code) when ``text`` is a Friction member vCard, else None. Tolerates CRLF or LF, folded
    lines, a byte order mark, quoted-printable values, property groups, lower-case names and a vCard typed as one
    line (line breaks dropped or turned into spaces by the scanner); the security code
    must be a UUID (returned in its canonical form) and the user id printable text of at most 128 characters."""
    text = text.lstrip("\ufeff").strip()
    if not text[:11].upper().startswith("BEGIN:VCARD"):
        return None
    if "\n" not in text and "\r" not in text:
        org, note = _ONE_LINE_ORG.search(text), _ONE_LINE_NOTE.search(text)
        user_id, org = (note.group(1) if note else None), (org.group(1) if org else None)
    else:
        lines = _UNFOLD.sub("", text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
        user_id = _property(lines, "NOTE")
        org = _property(lines, "ORG")
    if not user_id or not org or len(user_id) > MAX_USER_ID or not user_id.isprintable():
        return None
    try:
        security_code = str(uuid.UUID(org.split(";")[0].strip()))
    except ValueError:
        return None
    return user_id, security_code


class FrictionClient(ProviderClient):
    """The check-in call; Friction has no API key, the security code authenticates the member."""

    provider = "friction"
    label = "Friction"

    def auth_headers(self):
        """No header token: the member's security code is in the body."""
        return {}

    def check_in(self, user_id, partner_id, security_code):
        """POST the check-in; the parsed answer (a failure may come with 200 or a 4xx status)."""
        return self.request("POST", "/checkin", action="checkin", retry=False, expect=(200, 400, 403, 404, 409),
                            json={"user_id": user_id, "partner_id": partner_id, "security_code": security_code})


def validate(base_url, secret, settings, scanned, *, timeout_seconds, session=None, on_call=None):
    """Check the member in at Friction; a dict ``decision``, ``code``, ``message`` (Friction's own) and
    ``member_name``. Raises ProviderError when there is no usable answer."""
    user_id, security_code = scanned
    client = FrictionClient(base_url, None, timeout=(timeout_seconds, timeout_seconds), max_retries=0,
                            session=session, on_call=on_call, deadline=time.monotonic() + timeout_seconds)
    body = client.check_in(user_id, settings.get("partner_id"), security_code)
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        raise ProviderBadResponse('Friction answered without "success".', provider="friction")
    if body["success"]:
        member = body.get("response") if isinstance(body.get("response"), dict) else {}
        name = " ".join(str(member.get(key) or "") for key in ("firstname", "lastname")).strip() or None
        return {"decision": "allow", "code": "success", "message": "", "member_name": name}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    message = str(error.get("message") or "").replace(security_code, "[code]")[:500]
    code = error.get("code")
    if _DOUBLE_CHECKIN in message.lower().replace("-", "").replace(" ", ""):
        decision = "allow_reentry"
    else:
        decision = ERROR_DECISIONS.get(code, "deny_unknown_member")
    return {"decision": decision, "code": str(code) if code is not None else None, "message": message,
            "member_name": None}
