"""A fake Friction (Apptive) check-in API (contracts/PROVIDERS.md §3b) on a real HTTP server; see
tests.fakes.access_common for the scenarios and control endpoints.

``POST /checkin`` ``{"user_id", "partner_id", "security_code"}`` without auth. A member (keyed by user id) has a
``security_code`` and a ``status``: "ok" (``{"success": true, "response": {firstname, lastname}}``), "double"
(Doppelcheckin Schutz), "inactive" (error code 403) or "expired" (410). A wrong security code or an unknown user is
"QR Code ist ungültig oder kein Internet!" (400); a wrong partner id is 404. ``vcard(user_id, code)`` builds the
member's QR text."""

from tests.fakes.access_common import AccessFake, json_response

PARTNER_ID = 321

DEMO_MEMBERS = {
    "100234": {"first": "Anna", "last": "Zürcher", "status": "ok",
               "security_code": "3f2b8c1e-6a4d-4f5e-9b7a-1c2d3e4f5a6b"},
    "100235": {"first": "Beat", "last": "Schär", "status": "double",
               "security_code": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"},
    "100236": {"first": "Carla", "last": "Vogt", "status": "inactive",
               "security_code": "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e"},
    "100237": {"first": "Dario", "last": "Frey", "status": "expired",
               "security_code": "c3d4e5f6-a7b8-4c9d-8e1f-2a3b4c5d6e7f"},
}
_ERRORS = {
    "double": (400, "Doppelcheckin Schutz ist aktiv"),
    "inactive": (403, "Mitgliedschaft ist nicht aktiv"),
    "expired": (410, "Abo abgelaufen"),
}


def vcard(user_id, security_code, name="Muster;Max"):
    """The member's QR code text: a vCard 3.0 with CRLF line ends, ``NOTE`` the user id, ``ORG`` the code."""
    return "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", f"N:{name}", f"ORG:{security_code}", f"NOTE:{user_id}",
                        "END:VCARD"])


class FrictionFake(AccessFake):
    """The fake."""

    name = "friction"

    def __init__(self, port=0, members=None, **kwargs):
        """Seed the members (default: DEMO_MEMBERS)."""
        super().__init__(port, DEMO_MEMBERS if members is None else members, **kwargs)

    def answer(self, request):
        """The check-in endpoint (anything else is 404)."""
        if request.method != "POST" or request.path != "/checkin":
            return json_response({"success": False, "error": {"code": 404, "message": "Not found"}}, 404)
        body = request.get_json(silent=True, force=True)
        if not isinstance(body, dict):
            return _failure(400, "Ungültige Anfrage")
        if body.get("partner_id") != PARTNER_ID:
            return _failure(404, "Partner nicht gefunden")
        member = self.member(str(body.get("user_id")))
        if member is None or member["security_code"] != body.get("security_code"):
            return _failure(400, "QR Code ist ungültig oder kein Internet!")
        if member["status"] in _ERRORS:
            return _failure(*_ERRORS[member["status"]])
        return json_response({"success": True, "response": {"firstname": member["first"],
                                                              "lastname": member["last"]}})


def _failure(code, message):
    """Friction's failure body: HTTP 400 (404 for an unknown partner; 200 for the double check-in, which is
    information), the meaning in ``error.code``."""
    status = 200 if "Doppelcheckin" in message else 404 if code == 404 else 400
    return json_response({"success": False, "error": {"code": code, "message": message}}, status)
