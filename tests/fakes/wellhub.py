"""A fake Wellhub Access Control API (``POST /access/v1/validate``, contracts/PROVIDERS.md §4) on a real HTTP
server; see tests.fakes.access_common for the scenarios and control endpoints.

Needs ``Authorization: Bearer <token>`` (401 otherwise) and ``X-Gym-Id`` equal to ``GYM_ID`` (403 otherwise).
A member (keyed by the 13-digit Wellhub id) has a ``status``: "ok" (checked in in the app: 200 with the user and
``validated_at``), "canceled" or "expired" (400); an id without a pending app check-in is 404
``checkin.validation.notfound``. Error bodies are arrays of ``{"key", "message"}``."""

from datetime import UTC, datetime

from tests.fakes.access_common import AccessFake, json_response

DEFAULT_TOKEN = "wh_token_test"
GYM_ID = 5150

DEMO_MEMBERS = {
    "1234567890123": {"first": "Paula", "last": "Lang", "status": "ok"},
    "2345678901234": {"first": "Felix", "last": "Sommer", "status": "canceled"},
    "3456789012345": {"first": "Greta", "last": "Winter", "status": "expired"},
}
_REFUSALS = {
    "canceled": (400, "checkin.validation.canceled", "The check-in was canceled."),
    "expired": (400, "checkin.validation.expired", "The check-in has expired."),
}


class WellhubFake(AccessFake):
    """The fake; ``token`` is the bearer token it accepts."""

    name = "wellhub"

    def __init__(self, port=0, members=None, *, token=DEFAULT_TOKEN, **kwargs):
        """Seed the members (default: DEMO_MEMBERS)."""
        super().__init__(port, DEMO_MEMBERS if members is None else members, **kwargs)
        self.token = token

    def answer(self, request):
        """The validate endpoint (anything else is 404)."""
        if request.method != "POST" or request.path != "/access/v1/validate":
            return json_response([{"key": "not_found", "message": "Not found"}], 404)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return json_response([{"key": "unauthorized", "message": "Invalid token"}], 401)
        if request.headers.get("X-Gym-Id") != str(GYM_ID):
            return json_response([{"key": "forbidden", "message": "Gym not allowed"}], 403)
        body = request.get_json(silent=True, force=True)
        gympass_id = body.get("gympass_id") if isinstance(body, dict) else None
        member = self.member(str(gympass_id))
        if member is None:
            return json_response([{"key": "checkin.validation.notfound",
                                   "message": "No check-in found for this user."}], 404)
        if member["status"] in _REFUSALS:
            status, key, message = _REFUSALS[member["status"]]
            return json_response([{"key": key, "message": message}], status)
        return json_response({"metadata": {"total": 1, "errors": 0},
                              "results": {"user": {"gympass_id": gympass_id, "first_name": member["first"],
                                                   "last_name": member["last"]},
                                          "validated_at": datetime.now(UTC).isoformat()}})
