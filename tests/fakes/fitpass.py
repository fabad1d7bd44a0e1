"""A fake Fitpass check-in API (contracts/PROVIDERS.md §3a) on a real HTTP server; see tests.fakes.access_common
for the scenarios and control endpoints.

``POST /api/partner-user/sport-partners/addcheck-in/``: the ``X-Fitpass-Signature`` must be the hex HMAC-SHA256 of
the raw body with ``secret`` (else 401); ``sport_partner`` must be ``sport_partner`` (else 400 with status code 101).
A member's ``status`` is "ok" (201, access granted), "reception" (201, ``machine_grant_access`` false: first visit,
go to reception) or a refusal code 102–107 (400); an unknown code is 100."""

import hashlib
import hmac

from tests.fakes.access_common import AccessFake, json_response

DEFAULT_SECRET = "fp_partner_secret_test"
SPORT_PARTNER = 4711
PARTNER_USER = 99
CHECKIN_PATH = "/api/partner-user/sport-partners/addcheck-in/"

MESSAGES = {
    100: ("Unknown member", "Mitglied unbekannt. Bitte an der Rezeption melden."),
    101: ("Unknown sport partner", "Partner unbekannt."),
    102: ("User inactive", "Mitglied ist inaktiv."),
    103: ("No subscription", "Kein aktives Abonnement."),
    104: ("Subscription invalid", "Abonnement ungültig."),
    105: ("Subscription ended", "Abonnement abgelaufen."),
    106: ("Sport partner inactive", "Partner ist inaktiv."),
    107: ("Second check-in today", "Heute bereits eingecheckt."),
}

# Demo and test members: one per answer the contract knows (codes are made up).
DEMO_MEMBERS = {
    "FP-7Q2K9D4M": {"first": "Lea", "last": "Brunner", "status": "ok"},
    "FP-3H8W1C6X": {"first": "Marco", "last": "Keller", "status": "ok"},
    "FP-RECEPT01": {"first": "Nina", "last": "Frei", "status": "reception"},
    "FP-INACTV02": {"first": "Jonas", "last": "Meier", "status": 102},
    "FP-NOSUBS03": {"first": "Sara", "last": "Huber", "status": 103},
    "FP-INVALD04": {"first": "Luca", "last": "Graf", "status": 104},
    "FP-ENDED005": {"first": "Mia", "last": "Weber", "status": 105},
    "FP-PINACT06": {"first": "Tim", "last": "Roth", "status": 106},
    "FP-TWICE007": {"first": "Eva", "last": "Baumann", "status": 107},
}


class FitpassFake(AccessFake):
    """The fake; ``secret`` is the partner secret it checks signatures with."""

    name = "fitpass"

    def __init__(self, port=0, members=None, *, secret=DEFAULT_SECRET, **kwargs):
        """Seed the members (default: DEMO_MEMBERS)."""
        super().__init__(port, DEMO_MEMBERS if members is None else members, **kwargs)
        self.secret = secret

    def answer(self, request):
        """The check-in endpoint (anything else is 404)."""
        if request.method != "POST" or request.path != CHECKIN_PATH:
            return json_response({"detail": "Not found."}, 404)
        raw = request.get_data()
        expected = hmac.new(self.secret.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Fitpass-Signature", "")):
            return json_response({"message": "Invalid signature", "error": True, "data": None}, 401)
        body = request.get_json(silent=True, force=True)
        if not isinstance(body, dict) or not isinstance(body.get("current_checkin_code"), str):
            return json_response({"message": "Bad request", "error": True, "data": None}, 422)
        if body.get("sport_partner") != SPORT_PARTNER:
            return _refusal(101)
        member = self.member(body["current_checkin_code"])
        if member is None:
            return _refusal(100)
        status = member["status"]
        if status in MESSAGES:
            return _refusal(status)
        user = {"id": abs(hash(body["current_checkin_code"])) % 100000, "firstname": member["first"],
                "lastname": member["last"], "city": "Zürich", "avatar": None}
        granted = status == "ok"
        message = ("Willkommen! Viel Spass beim Training." if granted
                   else "Erster Besuch: bitte an der Rezeption melden.")
        return json_response({"message": "Success", "error": False,
                              "data": {"machine_grant_access": granted, "machine_message": message,
                                       "status_code": 201, "user": user}}, 201)


def _refusal(code):
    """A 400 refusal with ``data.status_code`` ``code``."""
    english, german = MESSAGES[code]
    return json_response({"message": english, "error": True,
                          "data": {"machine_grant_access": False, "machine_message": german, "status_code": code}},
                         400)
