"""A fake Cal.com API v2: a real HTTP server on 127.0.0.1 speaking the contract of contracts/calcom/CALCOM.md, so
the client is tested over real sockets (timeouts, dropped connections, headers) and not against mocks.

What it models: the success envelope and both error shapes (§1), the API-key check (401), ``cal-api-version``
routing (a missing or wrong version finds no route, like the legacy controller's 404 for ``GET /v2/slots``), the
``X-RateLimit-*-Default`` headers on every answer and a 429 without ``Retry-After``, event types with
``bookingUrl`` (§4), slots as ``{start[, end]}`` objects keyed by day and reservations (§2), bookings addressed by
uid with ``reschedule``/``cancel`` sub-resources and ``take``/``skip`` pagination (§3), webhooks with UUID ids and
409 on a duplicate ``subscriberUrl`` (§5), and ``/v2/me`` (§6). State is in memory.

Scenarios (``set_scenario(name, times=None)``; ``times`` answers, then back to "ok"): "ok"; "401"; "409" (the
plain ``booking_conflict_error`` on booking creation, the envelope elsewhere); "429"; "500" (plain shape);
"slow" (the request is processed, then the answer waits ``slow_seconds``: the ambiguous timeout); "html" (200
text/html, as from a proxy); "bad_shape" (200 JSON without the envelope); "down" (the connection is closed
without an answer). ``stop()`` gives a refused connection instead.

Another process (a browser test, the demo) drives it over HTTP: ``POST /__fake/scenario`` with
``{"scenario": …, "times": …, "slow_seconds": …}``, ``GET /__fake/requests``, ``POST /__fake/reset`` (scenario
"ok", empty request log, state as last seeded) and ``POST /__fake/seed`` (``{"demo": true}`` or the ``seed``
arguments). Start it as a process with ``python -m tests.fakes.calcom --port 0 --demo``: the first line printed
is ``CALCOM_FAKE_URL=http://127.0.0.1:<port>`` (``python -m tests.fakes`` runs it beside the Retell fake). With
``--demo`` it also accepts ``SANDBOX_API_KEY``."""

import argparse
import contextlib
import copy
import json
import math
import signal
import socket
import sys
import threading
import time
import uuid
from collections import namedtuple
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from http import HTTPStatus
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

RecordedRequest = namedtuple("RecordedRequest", "method path query headers json")
RecordedRequest.__doc__ = """One request as the fake received it: ``query`` is a flat dict (first value of each name),
``headers`` a dict with lower-case names, ``json`` the parsed body or None."""

SCENARIOS = ("ok", "401", "409", "429", "500", "slow", "html", "bad_shape", "down")
DEFAULT_KEYS = frozenset({"cal_test_valid"})
# The key the sandbox demo (``python -m tests.fakes --seed-demo``, or this module's ``--demo``) accepts as well,
# documented in the README.
SANDBOX_API_KEY = "cal_sandbox_demo"
# The cal-api-version each versioned resource answers to (CALCOM.md §1); other versions find no route here.
VERSIONS = {"event-types": "2024-06-14", "slots": "2024-09-04", "bookings": "2024-08-13"}
RATE_LIMIT = 120
RATE_WINDOW_SECONDS = 60
MAX_TAKE = 250
WEBHOOK_TRIGGERS = frozenset({
    "BOOKING_CREATED", "BOOKING_PAYMENT_INITIATED", "BOOKING_PAID", "BOOKING_RESCHEDULED", "BOOKING_REQUESTED",
    "BOOKING_CANCELLED", "BOOKING_REJECTED", "BOOKING_NO_SHOW_UPDATED", "FORM_SUBMITTED", "FORM_SUBMITTED_NO_EVENT",
    "MEETING_ENDED", "MEETING_STARTED", "RECORDING_READY", "INSTANT_MEETING", "RECORDING_TRANSCRIPTION_GENERATED",
    "AFTER_HOSTS_CAL_VIDEO_NO_SHOW", "AFTER_GUESTS_CAL_VIDEO_NO_SHOW", "OOO_CREATED", "DELEGATION_CREDENTIAL_ERROR",
})
# Opening hours of the fake calendar, in the profile's time zone, Monday to Friday.
OPEN_HOUR, CLOSE_HOUR = 8, 18
MAX_SLOT_DAYS = 62
LIVE = ("accepted", "pending")

DEFAULT_PROFILE = {
    "id": 1, "username": "praxis-am-see", "email": "termine@praxis-am-see.example", "name": "Praxis am See",
    "avatarUrl": None, "bio": None, "timeFormat": 24, "defaultScheduleId": 1, "weekStart": "Monday",
    "timeZone": "Europe/Berlin", "organizationId": None,
}


class _QuietHandler(WSGIRequestHandler):
    """The request handler without werkzeug's access log on stderr (the fake keeps its own request log)."""

    def log_request(self, code="-", size="-"):
        """Log nothing."""

    def log(self, type, message, *args):
        """Log nothing (errors surface as answers or in the test that caused them)."""


class _Answer(Exception):
    """Raised inside a handler to answer at once with ``response`` (an error)."""

    def __init__(self, response):
        """Keep the response to send."""
        super().__init__(response.status)
        self.response = response


class CalcomFake:
    """The fake server. ``CalcomFake(port=0)`` picks a free port; use it as a context manager or call
    ``start()``/``stop()``. ``url`` is the base URL to give the client. Seed it through the constructor or
    ``seed(event_types=…, bookings=…, profile=…, webhooks=…)``; see ``demo_seed()`` for the shapes."""

    def __init__(self, port=0, valid_keys=DEFAULT_KEYS, *, host="127.0.0.1", slow_seconds=1.0,
                 rate_limit_reset=1.0, booking_site="https://cal.example", clock=None, on_request=None, **seed):
        """Configure the server (not started yet); ``clock()`` returns the aware "now" (default: the real time).
        ``on_request(recorded)`` is called with each API request as it arrives, in the server's thread, while the
        caller waits for the answer: a test looks there at what the app holds during a provider call."""
        self.host = host
        self.port = port
        self.valid_keys = frozenset(valid_keys)
        self.slow_seconds = slow_seconds
        self.rate_limit_reset = rate_limit_reset
        self.booking_site = booking_site.rstrip("/")
        self.clock = clock or (lambda: datetime.now(UTC))
        self.on_request = on_request
        self.requests = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server = None
        self._thread = None
        self._scenario, self._remaining = "ok", None
        self._window_start, self._window_count = time.monotonic(), 0
        self.seed(**seed)

    # Lifecycle.

    def start(self):
        """Serve in a daemon thread; returns self."""
        self._stopping.clear()
        self._server = make_server(self.host, self.port, self, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_port
        # A short poll interval makes stop() quick (serve_forever notices shutdown only between polls).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="calcom-fake", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and close the socket (later connections are refused); slow answers stop waiting."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self):
        """Start the server."""
        return self.start()

    def __exit__(self, *exc_info):
        """Stop the server."""
        self.stop()

    @property
    def url(self):
        """The base URL, e.g. http://127.0.0.1:54321 (paths start with /v2/)."""
        return f"http://{self.host}:{self.port}"

    # State and control.

    def seed(self, event_types=None, bookings=None, profile=None, webhooks=None):
        """Replace the state: the profile (merged over a default), event types (``title``, ``slug``,
        ``lengthInMinutes``, optional ``id`` and other fields), bookings (``start``, ``eventTypeId``, ``attendee``
        or ``attendees``, optional ``uid``, ``status``, ``hosts``, ``createdAt``, ``updatedAt``, …) and webhooks.
        ``reset()`` returns to this state."""
        with self._lock:
            self.profile = {**DEFAULT_PROFILE, **(profile or {})}
            self.event_types, self.bookings, self.webhooks, self.reservations = {}, {}, {}, {}
            self._next_id = {"event_type": 1, "booking": 1}
            for item in event_types or ():
                self._add_event_type(item)
            for item in bookings or ():
                self._add_booking(item)
            for item in webhooks or ():
                self._add_webhook(item)
            self._snapshot = copy.deepcopy(
                (self.profile, self.event_types, self.bookings, self.webhooks, self.reservations, self._next_id))

    def reset(self):
        """Scenario "ok", an empty request log and the state as last seeded."""
        with self._lock:
            self._scenario, self._remaining = "ok", None
            self.requests.clear()
            (self.profile, self.event_types, self.bookings, self.webhooks, self.reservations,
             self._next_id) = copy.deepcopy(self._snapshot)

    def set_scenario(self, name, times=None, *, slow_seconds=None):
        """Answer the next ``times`` requests (all, when None) according to scenario ``name``."""
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
        with self._lock:
            self._scenario, self._remaining = name, times
            if slow_seconds is not None:
                self.slow_seconds = float(slow_seconds)

    @property
    def scenario(self):
        """The scenario in force."""
        return self._scenario

    def request_count(self, path_prefix=None):
        """How many API requests arrived (those whose path starts with ``path_prefix``, when given)."""
        with self._lock:
            return sum(1 for item in self.requests if path_prefix is None or item.path.startswith(path_prefix))

    # WSGI.

    def __call__(self, environ, start_response):
        """The WSGI entry point: control endpoints, then the recorded API."""
        request = Request(environ)
        response = self._control(request) if request.path.startswith("/__fake/") else self._api(request, environ)
        return response(environ, start_response)

    def _control(self, request):
        """The /__fake/* endpoints for other processes."""
        body = request.get_json(silent=True) or {}
        if request.path == "/__fake/scenario" and request.method == "POST":
            try:
                self.set_scenario(body.get("scenario", "ok"), body.get("times"), slow_seconds=body.get("slow_seconds"))
            except ValueError as exc:
                return _json({"error": str(exc)}, 400)
            return _json({"scenario": self._scenario, "times": self._remaining})
        if request.path == "/__fake/requests" and request.method == "GET":
            with self._lock:
                return _json([item._asdict() for item in self.requests])
        if request.path == "/__fake/reset" and request.method == "POST":
            self.reset()
            return _json({"reset": True})
        if request.path == "/__fake/seed" and request.method == "POST":
            self.seed(**(demo_seed() if body.get("demo") else body))
            return _json({"seeded": True})
        return _json({"error": "unknown control endpoint"}, 404)

    def _api(self, request, environ):
        """Record the request, apply the scenario, and answer."""
        body = request.get_json(silent=True) if request.data else None
        recorded = RecordedRequest(request.method, request.path, request.args.to_dict(),
                                   {name.lower(): value for name, value in request.headers.items()}, body)
        if self.on_request is not None:
            self.on_request(recorded)
        with self._lock:
            self.requests.append(recorded)
            scenario = self._scenario
            if self._remaining is not None:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._scenario, self._remaining = "ok", None
        if scenario == "down":
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            raise ConnectionAbortedError("the fake is down")
        response = self._scenario_answer(scenario, request)
        if response is None:
            try:
                response = self._dispatch(request, body)
            except _Answer as answer:
                response = answer.response
        self._rate_headers(response, limited=scenario == "429")
        response.headers["X-Request-Id"] = request.headers.get("X-Request-Id", "unknown-request-id")
        if scenario == "slow":
            self._stopping.wait(self.slow_seconds)
        return response

    def _scenario_answer(self, scenario, request):
        """The forced answer of an error scenario, or None to answer normally."""
        if scenario == "401":
            return _error(request, 401, "UnauthorizedException",
                          "ApiAuthStrategy - api key - Your api key is not valid")
        if scenario == "409":
            if request.method == "POST" and request.path == "/v2/bookings":
                return _plain(409, "booking_conflict_error")
            message = ("Webhook with this subscriber url already exists for this user"
                       if request.path.startswith("/v2/webhooks") else "Conflict")
            return _error(request, 409, "ConflictException", message)
        if scenario == "429":
            return _error(request, 429, "ThrottlerException",
                          "CustomThrottlerGuard - Too many requests. Please try again later.")
        if scenario == "500":
            return _plain(500, "Internal server error")
        if scenario == "html":
            return Response("<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1><p>cloudflare</p></body></html>",
                            status=200, content_type="text/html; charset=utf-8")
        if scenario == "bad_shape":
            return _json({"result": "ok", "items": "unexpected"})
        return None

    def _rate_headers(self, response, *, limited):
        """The X-RateLimit-*-Default headers Cal.com puts on every answer (a 429 has no Retry-After)."""
        with self._lock:
            now = time.monotonic()
            if now - self._window_start >= RATE_WINDOW_SECONDS:
                self._window_start, self._window_count = now, 0
            self._window_count += 1
            remaining = 0 if limited else max(RATE_LIMIT - self._window_count, 0)
            reset = self.rate_limit_reset if limited else RATE_WINDOW_SECONDS - (now - self._window_start)
        response.headers["X-RateLimit-Limit-Default"] = str(RATE_LIMIT)
        response.headers["X-RateLimit-Remaining-Default"] = str(remaining)
        response.headers["X-RateLimit-Reset-Default"] = _number(reset)

    # Routing.

    def _dispatch(self, request, body):
        """Find the route (checking cal-api-version and the key) and run it."""
        parts = request.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "v2":
            raise _Answer(_not_found_route(request))
        resource, rest = parts[1], parts[2:]
        required = VERSIONS.get(resource)
        if required and request.headers.get("cal-api-version") != required:
            # The legacy 2024-04-15 controllers answer here in the real API; for GET /v2/slots there is no route.
            raise _Answer(_not_found_route(request))
        handler, args, auth_required = self._route(request.method, resource, rest)
        if handler is None:
            raise _Answer(_not_found_route(request))
        self._authenticate(request, auth_required)
        with self._lock:
            return handler(request, body, *args)

    def _route(self, method, resource, rest):
        """(handler, path arguments, whether a key is required) for a request; handler None when unknown."""
        table = {
            ("me", 0, "GET"): (self._me, True),
            ("event-types", 0, "GET"): (self._list_event_types, False),
            ("event-types", 0, "POST"): (self._create_event_type, True),
            ("event-types", 1, "GET"): (self._get_event_type, True),
            ("event-types", 1, "PATCH"): (self._update_event_type, True),
            ("event-types", 1, "DELETE"): (self._delete_event_type, True),
            ("slots", 0, "GET"): (self._slots, False),
            ("bookings", 0, "GET"): (self._list_bookings, True),
            ("bookings", 0, "POST"): (self._create_booking, False),
            ("bookings", 1, "GET"): (self._get_booking, False),
            ("webhooks", 0, "GET"): (self._list_webhooks, True),
            ("webhooks", 0, "POST"): (self._create_webhook, True),
            ("webhooks", 1, "GET"): (self._get_webhook, True),
            ("webhooks", 1, "PATCH"): (self._update_webhook, True),
            ("webhooks", 1, "DELETE"): (self._delete_webhook, True),
        }
        if resource == "slots" and rest[:1] == ["reservations"]:
            reservations = {(0, "POST"): self._reserve, (1, "GET"): self._get_reservation,
                            (1, "PATCH"): self._update_reservation, (1, "DELETE"): self._delete_reservation}
            handler = reservations.get((len(rest) - 1, method))
            return handler, rest[1:], False
        if resource == "bookings" and len(rest) == 2 and method == "POST" and rest[1] in ("reschedule", "cancel"):
            return (self._reschedule if rest[1] == "reschedule" else self._cancel), rest[:1], False
        handler, auth_required = table.get((resource, len(rest), method), (None, False))
        return handler, rest, auth_required

    def _authenticate(self, request, required):
        """401 for a wrong key, or for a missing one where the endpoint needs it."""
        header = request.headers.get("Authorization", "")
        if not header:
            if required:
                raise _Answer(_error(request, 401, "UnauthorizedException",
                                     "ApiAuthStrategy - No authentication method provided. Either pass an API key as "
                                     "'Bearer' header or OAuth client credentials as 'x-cal-secret-key' and "
                                     "'x-cal-client-id' headers"))
            return
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or token not in self.valid_keys:
            raise _Answer(_error(request, 401, "UnauthorizedException",
                                 "ApiAuthStrategy - api key - Your api key is not valid"))

    def _as_host(self, request):
        """Whether the request is authenticated (as the host: the fake has one user)."""
        return bool(request.headers.get("Authorization"))

    # /v2/me

    def _me(self, request, body):
        """GET /v2/me."""
        return _success(self.profile)

    # /v2/event-types

    def _add_event_type(self, fields):
        """Store an event type from seed or POST fields; returns its output."""
        event_type_id = int(fields.get("id") or self._next_id["event_type"])
        self._next_id["event_type"] = max(self._next_id["event_type"], event_type_id + 1)
        stored = {key: value for key, value in fields.items() if key != "id"}
        stored.setdefault("description", "")
        stored.setdefault("hidden", False)
        self.event_types[event_type_id] = stored
        return self._event_type_output(event_type_id)

    def _event_type_output(self, event_type_id):
        """An EventTypeOutput_2024_06_14."""
        stored = self.event_types[event_type_id]
        return {
            "id": event_type_id, "ownerId": self.profile["id"], "users": [self.profile["username"]],
            "locations": [], "bookingFields": [], "disableGuests": False, "recurrence": None, "metadata": {},
            "price": 0, "currency": "eur", "lockTimeZoneToggleOnBookingPage": False,
            "forwardParamsSuccessRedirect": True, "successRedirectUrl": None, "isInstantEvent": False,
            "scheduleId": None, "bookingRequiresAuthentication": False, **stored,
            "bookingUrl": f"{self.booking_site}/{self.profile['username']}/{stored['slug']}",
        }

    def _event_type(self, request, event_type_id):
        """The stored event type or a 404."""
        try:
            key = int(event_type_id)
        except (TypeError, ValueError):
            key = None
        if key not in self.event_types:
            raise _Answer(_error(request, 404, "NotFoundException", f"Event type with id={event_type_id} not found"))
        return key

    def _list_event_types(self, request, body):
        """GET /v2/event-types (the key owner's)."""
        return _success([self._event_type_output(key) for key in sorted(self.event_types)])

    def _get_event_type(self, request, body, event_type_id):
        """GET /v2/event-types/{id}."""
        return _success(self._event_type_output(self._event_type(request, event_type_id)))

    def _create_event_type(self, request, body):
        """POST /v2/event-types: title, slug and lengthInMinutes are required; slugs are unique per user."""
        body = _body(request, body)
        errors = _missing(body, {"title": str, "slug": str, "lengthInMinutes": (int, float)})
        if errors:
            raise _Answer(_validation_error(request, errors))
        self._unique_slug(request, body["slug"])
        return _success(self._add_event_type(body), 201)

    def _update_event_type(self, request, body, event_type_id):
        """PATCH /v2/event-types/{id}: the given fields."""
        key = self._event_type(request, event_type_id)
        body = _body(request, body)
        if "slug" in body and body["slug"] != self.event_types[key]["slug"]:
            self._unique_slug(request, body["slug"])
        self.event_types[key].update({name: value for name, value in body.items() if name != "id"})
        return _success(self._event_type_output(key))

    def _delete_event_type(self, request, body, event_type_id):
        """DELETE /v2/event-types/{id}: answers id, lengthInMinutes, title and slug."""
        key = self._event_type(request, event_type_id)
        stored = self.event_types.pop(key)
        return _success({"id": key, "lengthInMinutes": stored["lengthInMinutes"], "title": stored["title"],
                         "slug": stored["slug"]})

    def _unique_slug(self, request, slug):
        """409 (Prisma P2002) when the user already has an event type with ``slug``."""
        if any(stored["slug"] == slug for stored in self.event_types.values()):
            raise _Answer(_error(request, 409, "CONFLICT", "Unique constraint failed on the fields: (`userId`,`slug`)",
                                 details=None))

    # /v2/slots

    def _slots(self, request, body):
        """GET /v2/slots: free starts of an event type in the opening hours, keyed by day in ``timeZone``."""
        args = request.args
        if not args.get("start") or not args.get("end"):
            raise _Answer(_validation_error(request, ["start and end are required"]))
        event_type_id = self._slot_event_type(request, args)
        try:
            zone = ZoneInfo(args.get("timeZone") or "UTC")
            start, end = _range_time(args["start"], end=False), _range_time(args["end"], end=True)
        except (ValueError, ZoneInfoNotFoundError):
            raise _Answer(_validation_error(request, ["start, end and timeZone must be valid"])) from None
        length = timedelta(minutes=int(args.get("duration") or self.event_types[event_type_id]["lengthInMinutes"]))
        busy = self._busy(exclude_uid=args.get("bookingUidToReschedule"))
        now = self.clock()
        days = {}
        for slot in self._opening_starts(start, end, length):
            if slot < now or _overlaps(slot, slot + length, busy):
                continue
            local = slot.astimezone(zone)
            item = {"start": _iso(local)}
            if args.get("format") == "range":
                item["end"] = _iso((slot + length).astimezone(zone))
            days.setdefault(local.date().isoformat(), []).append(item)
        return _success(days)

    def _slot_event_type(self, request, args):
        """The event type of a slots query (by id, or by slug and username)."""
        if args.get("eventTypeId"):
            return self._event_type(request, args["eventTypeId"])
        slug = args.get("eventTypeSlug")
        for key, stored in self.event_types.items():
            if stored["slug"] == slug and args.get("username") == self.profile["username"]:
                return key
        raise _Answer(_error(request, 404, "NotFoundException", "Event type not found"))

    def _opening_starts(self, start, end, length):
        """Slot starts every ``length`` within opening hours (Mon-Fri, profile zone) between ``start`` and ``end``."""
        zone = ZoneInfo(self.profile["timeZone"])
        day = start.astimezone(zone).date()
        last = min(end.astimezone(zone).date(), day + timedelta(days=MAX_SLOT_DAYS))
        while day <= last:
            if day.weekday() < 5:
                slot = datetime.combine(day, day_time(OPEN_HOUR), zone)
                closing = datetime.combine(day, day_time(CLOSE_HOUR), zone)
                while slot + length <= closing:
                    if start <= slot and slot + length <= end:
                        yield slot.astimezone(UTC)
                    slot += length
            day += timedelta(days=1)

    def _busy(self, exclude_uid=None, exclude_reservation=None):
        """(start, end) of live bookings and unexpired reservations."""
        now = self.clock()
        busy = [(_parse(b["start"]), _parse(b["end"])) for uid, b in self.bookings.items()
                if b["status"] in LIVE and not b.get("rescheduledToUid") and uid != exclude_uid]
        busy += [(_parse(r["slotStart"]), _parse(r["slotEnd"])) for uid, r in self.reservations.items()
                 if _parse(r["reservationUntil"]) > now and uid != exclude_reservation]
        return busy

    def _reserve(self, request, body):
        """POST /v2/slots/reservations (201)."""
        return _success(self._store_reservation(request, body, str(uuid.uuid4())), 201)

    def _store_reservation(self, request, body, uid):
        """Validate a ReserveSlotInput_2024_09_04 and store the reservation under ``uid``."""
        body = _body(request, body)
        errors = _missing(body, {"eventTypeId": (int, float), "slotStart": str})
        if errors:
            raise _Answer(_validation_error(request, errors))
        if "reservationDuration" in body and not self._as_host(request):
            raise _Answer(_error(request, 401, "UnauthorizedException",
                                 "reservationDuration can only be set by authenticated requests"))
        key = self._event_type(request, body["eventTypeId"])
        start = _parse_or_400(request, body["slotStart"], "slotStart")
        duration = int(body.get("slotDuration") or self.event_types[key]["lengthInMinutes"])
        end = start + timedelta(minutes=duration)
        if _overlaps(start, end, self._busy(exclude_reservation=uid)):
            raise _Answer(_error(request, 422, "UnprocessableEntityException",
                                 "Can't reserve a slot if the event is already booked."))
        minutes = int(body.get("reservationDuration") or 5)
        reservation = {
            "eventTypeId": key, "slotStart": _iso(start), "slotEnd": _iso(end), "slotDuration": duration,
            "reservationUid": uid, "reservationDuration": minutes,
            "reservationUntil": _iso(self.clock() + timedelta(minutes=minutes)),
        }
        self.reservations[uid] = reservation
        return reservation

    def _get_reservation(self, request, body, uid):
        """GET /v2/slots/reservations/{uid}: the reservation, or null data."""
        return _success(self.reservations.get(uid))

    def _update_reservation(self, request, body, uid):
        """PATCH /v2/slots/reservations/{uid}: same body as reserving."""
        if uid not in self.reservations:
            raise _Answer(_error(request, 404, "NotFoundException", f"Reserved slot with uid={uid} not found"))
        return _success(self._store_reservation(request, body, uid))

    def _delete_reservation(self, request, body, uid):
        """DELETE /v2/slots/reservations/{uid}: ``{"status": "success"}`` only."""
        if self.reservations.pop(uid, None) is None:
            raise _Answer(_error(request, 404, "NotFoundException", f"Reserved slot with uid={uid} not found"))
        return _json({"status": "success"})

    # /v2/bookings

    def _add_booking(self, fields):
        """Store a booking from seed or POST fields (``start``, ``eventTypeId``, ``attendee``…); returns it."""
        key = int(fields["eventTypeId"])
        event_type = self.event_types[key]
        start = _parse(fields["start"]) if isinstance(fields["start"], str) else fields["start"].astimezone(UTC)
        length = int(fields.get("lengthInMinutes") or event_type["lengthInMinutes"])
        attendees = fields.get("attendees") or [fields["attendee"]]
        attendees = [{"name": person["name"], "email": person.get("email", ""),
                      "displayEmail": person.get("email", ""), "timeZone": person.get("timeZone", "Europe/Berlin"),
                      "language": person.get("language", "de"), "absent": False,
                      **({"phoneNumber": person["phoneNumber"]} if person.get("phoneNumber") else {})}
                     for person in attendees]
        hosts = fields.get("hosts") or [{"id": self.profile["id"], "name": self.profile["name"],
                                         "email": self.profile["email"], "username": self.profile["username"],
                                         "timeZone": self.profile["timeZone"]}]
        hosts = [{"displayEmail": host.get("email"), "id": self.profile["id"], "username": self.profile["username"],
                  "timeZone": self.profile["timeZone"], **host} for host in hosts]
        booking_id = int(fields.get("id") or self._next_id["booking"])
        self._next_id["booking"] = max(self._next_id["booking"], booking_id + 1)
        now = _iso(self.clock())
        uid = fields.get("uid") or uuid.uuid4().hex[:22]
        booking = {
            "id": booking_id, "uid": uid,
            "title": fields.get("title") or f"{event_type['title']} between {hosts[0]['name']} and "
                                             f"{attendees[0]['name']}",
            "description": fields.get("description", ""), "hosts": hosts, "status": fields.get("status", "accepted"),
            "start": _iso(start), "end": _iso(start + timedelta(minutes=length)), "duration": length,
            "eventTypeId": key, "eventType": {"id": key, "slug": event_type["slug"]},
            "location": _location_text(fields.get("location")), "absentHost": False,
            "createdAt": fields.get("createdAt", now), "updatedAt": fields.get("updatedAt", now),
            "attendees": attendees, "guests": fields.get("guests", []), "metadata": fields.get("metadata", {}),
            "bookingFieldsResponses": {"name": attendees[0]["name"], "email": attendees[0]["email"],
                                       **fields.get("bookingFieldsResponses", {})},
        }
        for name in ("rescheduledFromUid", "rescheduledToUid", "cancellationReason", "cancelledByEmail",
                     "reschedulingReason", "rescheduledByEmail"):
            if fields.get(name):
                booking[name] = fields[name]
        self.bookings[uid] = booking
        return booking

    def _booking(self, request, uid):
        """The stored booking or a 404."""
        if uid not in self.bookings:
            raise _Answer(_error(request, 404, "NotFoundException", f"Booking with uid={uid} was not found"))
        return self.bookings[uid]

    def _list_bookings(self, request, body):
        """GET /v2/bookings: filters, sorting, take/skip and the pagination object."""
        args = request.args
        try:
            take, skip = int(args.get("take", 100)), int(args.get("skip", 0))
        except ValueError:
            raise _Answer(_validation_error(request, ["take and skip must be numbers"])) from None
        if not 1 <= take <= MAX_TAKE or skip < 0:
            raise _Answer(_validation_error(request, [f"take must not be greater than {MAX_TAKE}"]))
        items = [booking for booking in self.bookings.values() if self._matches(request, booking, args)]
        order = next(((field, args[name]) for name, field in (("sortCreated", "createdAt"), ("sortStart", "start"),
                                                              ("sortEnd", "end"), ("sortUpdatedAt", "updatedAt"))
                      if name in args), ("start", "asc"))
        items.sort(key=lambda booking: (_parse(booking[order[0]]), booking["id"]), reverse=order[1] == "desc")
        page = items[skip:skip + take]
        total = len(items)
        pages = max(math.ceil(total / take), 1)
        pagination = {
            "totalItems": total, "remainingItems": max(total - skip - len(page), 0), "returnedItems": len(page),
            "itemsPerPage": take, "currentPage": skip // take + 1, "totalPages": pages,
            "hasNextPage": skip + len(page) < total, "hasPreviousPage": skip > 0,
        }
        return _json({"status": "success", "data": page, "pagination": pagination})

    def _matches(self, request, booking, args):
        """Whether ``booking`` passes the list filters in ``args``."""
        checks = {
            "attendeeEmail": lambda v: any(p["email"].lower() == v.lower() for p in booking["attendees"]),
            "attendeeName": lambda v: any(v.lower() in p["name"].lower() for p in booking["attendees"]),
            "bookingUid": lambda v: booking["uid"] == v,
            "eventTypeId": lambda v: str(booking["eventTypeId"]) == v,
            "afterStart": lambda v: _parse(booking["start"]) >= _parse_or_400(request, v, "afterStart"),
            "beforeEnd": lambda v: _parse(booking["end"]) <= _parse_or_400(request, v, "beforeEnd"),
            "afterUpdatedAt": lambda v: _parse(booking["updatedAt"]) >= _parse_or_400(request, v, "afterUpdatedAt"),
            "status": lambda v: self._status_filter(booking, v.split(",")),
        }
        return all(check(args[name]) for name, check in checks.items() if name in args)

    def _status_filter(self, booking, wanted):
        """The ``status`` list filter (upcoming, past, cancelled, unconfirmed)."""
        now = self.clock()
        kinds = {"upcoming": booking["status"] in LIVE and _parse(booking["end"]) >= now,
                 "past": _parse(booking["end"]) < now, "cancelled": booking["status"] in ("cancelled", "rejected"),
                 "unconfirmed": booking["status"] == "pending", "recurring": False}
        return any(kinds.get(kind, False) for kind in wanted)

    def _get_booking(self, request, body, uid):
        """GET /v2/bookings/{uid}."""
        return _success(self._booking(request, uid))

    def _create_booking(self, request, body):
        """POST /v2/bookings (201): validation, the event type, the past, and an occupied slot (400)."""
        body = _body(request, body)
        errors = _missing(body, {"start": str, "attendee": dict})
        attendee = body.get("attendee") if isinstance(body.get("attendee"), dict) else {}
        errors += [f"attendee.{name} must be a string" for name in ("name", "timeZone")
                   if not isinstance(attendee.get(name), str)]
        if errors:
            raise _Answer(_validation_error(request, errors))
        key = self._event_type(request, body.get("eventTypeId"))
        start = _parse_or_400(request, body["start"], "start")
        if start < self.clock():
            raise _Answer(_plain(400, "Attempting to book a meeting in the past."))
        length = int(body.get("lengthInMinutes") or self.event_types[key]["lengthInMinutes"])
        if _overlaps(start, start + timedelta(minutes=length), self._busy()):
            raise _Answer(_plain(400, "User either already has booking at this time or is not available"))
        booking = self._add_booking({**body, "eventTypeId": key, "start": start, "lengthInMinutes": length,
                                     "bookingFieldsResponses": body.get("bookingFieldsResponses", {})})
        return _success(booking, 201)

    def _reschedule(self, request, body, uid):
        """POST /v2/bookings/{uid}/reschedule (201): a new booking; the old one is cancelled and points to it."""
        old = self._booking(request, uid)
        body = _body(request, body)
        if not isinstance(body.get("start"), str):
            raise _Answer(_validation_error(request, ["start must be a valid ISO 8601 date string"]))
        if old.get("rescheduledToUid"):
            raise _Answer(_plain(400, f"Booking with uid={uid} was already rescheduled to "
                                      f"uid={old['rescheduledToUid']}"))
        if old["status"] in ("cancelled", "rejected"):
            raise _Answer(_plain(400, f"Booking with uid={uid} is cancelled and can't be rescheduled"))
        start = _parse_or_400(request, body["start"], "start")
        if _overlaps(start, start + timedelta(minutes=old["duration"]), self._busy(exclude_uid=uid)):
            raise _Answer(_plain(400, "User either already has booking at this time or is not available"))
        new = self._add_booking({
            "eventTypeId": old["eventTypeId"], "start": start, "lengthInMinutes": old["duration"],
            "attendees": old["attendees"], "hosts": old["hosts"], "title": old["title"], "rescheduledFromUid": uid,
            "reschedulingReason": body.get("reschedulingReason"), "rescheduledByEmail": body.get("rescheduledBy"),
        })
        old.update(status="cancelled", rescheduledToUid=new["uid"], updatedAt=_iso(self.clock()))
        return _success(new, 201)

    def _cancel(self, request, body, uid):
        """POST /v2/bookings/{uid}/cancel (200); the host must give a reason (400 in the plain shape otherwise)."""
        booking = self._booking(request, uid)
        body = _body(request, body)
        reason = body.get("cancellationReason")
        if booking["status"] == "cancelled":
            raise _Answer(_plain(400, "This booking has already been cancelled."))
        if self._as_host(request) and not (isinstance(reason, str) and reason.strip()):
            raise _Answer(_plain(400, "Cancellation reason is required when you are the host"))
        if _parse(booking["end"]) < self.clock():
            raise _Answer(_plain(400, "Cannot cancel a booking that has already ended"))
        booking.update(status="cancelled", cancellationReason=reason, cancelledByEmail=self.profile["email"],
                       updatedAt=_iso(self.clock()))
        return _success(booking)

    # /v2/webhooks

    def _add_webhook(self, fields):
        """Store a webhook; returns its output."""
        webhook_id = str(fields.get("id") or uuid.uuid4())
        webhook = {"id": webhook_id, "userId": self.profile["id"], "subscriberUrl": fields["subscriberUrl"],
                   "active": fields.get("active", True), "triggers": list(fields.get("triggers", [])),
                   "payloadTemplate": fields.get("payloadTemplate"), "secret": fields.get("secret")}
        self.webhooks[webhook_id] = webhook
        return webhook

    def _webhook(self, request, webhook_id):
        """The stored webhook or a 404."""
        if webhook_id not in self.webhooks:
            raise _Answer(_error(request, 404, "NotFoundException", f"Webhook with id {webhook_id} not found"))
        return self.webhooks[webhook_id]

    def _check_webhook_fields(self, request, body, *, creating):
        """400 for missing fields (on create), a triggers value that is not a list, or an unknown trigger."""
        errors = _missing(body, {"subscriberUrl": str, "active": bool, "triggers": list}) if creating else []
        triggers = body.get("triggers", [])
        if not isinstance(triggers, list):
            errors.append("triggers must be an array")
        elif set(triggers) - WEBHOOK_TRIGGERS:
            errors.append("each value in triggers must be one of the following values: "
                          + ", ".join(sorted(WEBHOOK_TRIGGERS)))
        if errors:
            raise _Answer(_validation_error(request, errors))

    def _list_webhooks(self, request, body):
        """GET /v2/webhooks?take=&skip= (no pagination object)."""
        take, skip = int(request.args.get("take", MAX_TAKE)), int(request.args.get("skip", 0))
        if not 1 <= take <= MAX_TAKE:
            raise _Answer(_validation_error(request, [f"take must not be greater than {MAX_TAKE}"]))
        return _success(list(self.webhooks.values())[skip:skip + take])

    def _create_webhook(self, request, body):
        """POST /v2/webhooks (201); 409 when the user has a webhook for the subscriberUrl."""
        body = _body(request, body)
        self._check_webhook_fields(request, body, creating=True)
        if any(item["subscriberUrl"] == body["subscriberUrl"] for item in self.webhooks.values()):
            raise _Answer(_error(request, 409, "ConflictException",
                                 "Webhook with this subscriber url already exists for this user"))
        return _success(self._add_webhook(body), 201)

    def _get_webhook(self, request, body, webhook_id):
        """GET /v2/webhooks/{id}."""
        return _success(self._webhook(request, webhook_id))

    def _update_webhook(self, request, body, webhook_id):
        """PATCH /v2/webhooks/{id}: the given fields."""
        webhook = self._webhook(request, webhook_id)
        body = _body(request, body)
        self._check_webhook_fields(request, body, creating=False)
        webhook.update({name: value for name, value in body.items()
                        if name in ("subscriberUrl", "active", "triggers", "secret", "payloadTemplate")})
        return _success(webhook)

    def _delete_webhook(self, request, body, webhook_id):
        """DELETE /v2/webhooks/{id}: the deleted webhook."""
        self._webhook(request, webhook_id)
        return _success(self.webhooks.pop(webhook_id))


# Answers.

def _json(payload, status=200):
    """A JSON response."""
    return Response(json.dumps(payload), status=status, content_type="application/json; charset=utf-8")


def _success(data, status=200):
    """The success envelope."""
    return _json({"status": "success", "data": data}, status)


def _error(request, status, code, message, details=""):
    """The Cal.com error envelope; ``details`` defaults to Nest's response object of an HttpException."""
    if details == "":
        details = {"message": message, "error": HTTPStatus(status).phrase, "statusCode": status}
    error = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return _json({"status": "error", "timestamp": _iso(datetime.now(UTC)), "path": request.full_path.rstrip("?"),
                  "error": error}, status)


def _plain(status, message):
    """Nest's default error shape, used for the booking engine's own errors."""
    return _json({"statusCode": status, "message": message}, status)


def _validation_error(request, errors):
    """A class-validator 400: "Bad Request Exception" with the errors in details."""
    return _error(request, 400, "BadRequestException", "Bad Request Exception",
                  details={"message": "Bad Request Exception", "error": "Bad Request", "statusCode": 400,
                           "errors": [{"constraints": {"invalid": text}} for text in errors]})


def _not_found_route(request):
    """Nest's answer for a route that does not exist (also what a missing cal-api-version leads to)."""
    return _error(request, 404, "NotFoundException", f"Cannot {request.method} {request.path}")


def _body(request, body):
    """The JSON object body, or a 400."""
    if not isinstance(body, dict):
        raise _Answer(_validation_error(request, ["the body must be a JSON object"]))
    return body


def _missing(body, fields):
    """Validation messages for required ``fields`` (name -> type) that are absent or ill-typed."""
    return [f"{name} must be given as {getattr(kind, '__name__', 'number')}" for name, kind in fields.items()
            if not isinstance(body.get(name), kind) or isinstance(body.get(name), bool) is not (kind is bool)]


def _location_text(location):
    """A booking's ``location`` as BookingOutput carries it: text (the phone, address or link), from the input
    object of CreateBookingInput; Cal Video by default."""
    if isinstance(location, str):
        return location
    if not isinstance(location, dict):
        return "integrations:daily"
    if location.get("type") == "integration":
        return "integrations:daily" if location.get("integration") == "cal-video" else \
            f"integrations:{location.get('integration')}"
    for key in ("phone", "address", "location", "link"):
        if isinstance(location.get(key), str):
            return location[key]
    return str(location.get("type", ""))


# Times.

def _parse(text):
    """An aware datetime in UTC from ISO text ("Z" accepted; a naive value is taken as UTC)."""
    parsed = datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _parse_or_400(request, text, name):
    """``_parse`` or a validation error naming the field."""
    try:
        return _parse(text)
    except (TypeError, ValueError):
        raise _Answer(_validation_error(request, [f"{name} must be a valid ISO 8601 date string"])) from None


def _range_time(text, *, end):
    """A slots range bound: a date alone means 00:00:00 (start) or 23:59:59 (end) UTC of that day."""
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime.combine(day, day_time(23, 59, 59) if end else day_time(0), UTC)
    return _parse(text)


def _iso(moment):
    """ISO 8601 with milliseconds, "Z" for UTC, the offset otherwise (as Cal.com writes times)."""
    text = moment.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _overlaps(start, end, busy):
    """Whether [start, end) overlaps any busy interval."""
    return any(start < busy_end and busy_start < end for busy_start, busy_end in busy)


def _number(value):
    """A header number: whole seconds without a fraction."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def demo_seed(now=None):
    """Plausible state for a German physiotherapy practice: four event types and six bookings on the next
    weekdays (one pending, one cancelled), with two therapists as hosts. Pass it as ``seed(**demo_seed())``."""
    zone = ZoneInfo("Europe/Berlin")
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    days = []
    day = today + timedelta(days=1)
    while len(days) < 4:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)

    def at(day_index, hour, minute=0):
        """A local time on the ``day_index``-th coming weekday, as ISO UTC."""
        return _iso(datetime.combine(days[day_index], day_time(hour, minute), zone).astimezone(UTC))

    anna = {"id": 11, "name": "Anna Becker", "email": "anna.becker@praxis-am-see.example", "username": "anna-becker",
            "timeZone": "Europe/Berlin"}
    jonas = {"id": 12, "name": "Jonas Wolf", "email": "jonas.wolf@praxis-am-see.example", "username": "jonas-wolf",
             "timeZone": "Europe/Berlin"}

    def patient(name, email):
        """An attendee in Berlin who speaks German."""
        return {"name": name, "email": email, "timeZone": "Europe/Berlin", "language": "de"}

    return {
        "profile": {"id": 1, "username": "praxis-am-see", "name": "Praxis am See",
                    "email": "termine@praxis-am-see.example", "timeZone": "Europe/Berlin"},
        "event_types": [
            {"id": 101, "title": "Erstgespräch", "slug": "erstgespraech", "lengthInMinutes": 30,
             "description": "Kennenlernen, Anamnese und Behandlungsplan."},
            {"id": 102, "title": "Physiotherapie", "slug": "physiotherapie", "lengthInMinutes": 45,
             "description": "Krankengymnastik nach ärztlicher Verordnung."},
            {"id": 103, "title": "Manuelle Therapie", "slug": "manuelle-therapie", "lengthInMinutes": 30},
            {"id": 104, "title": "Lymphdrainage", "slug": "lymphdrainage", "lengthInMinutes": 60, "hidden": True},
        ],
        "bookings": [
            {"uid": "demo-bk-erst-mueller", "eventTypeId": 101, "start": at(0, 9), "hosts": [anna],
             "attendee": patient("Lena Müller", "lena.mueller@example.com")},
            {"uid": "demo-bk-physio-schneider", "eventTypeId": 102, "start": at(0, 10, 30), "hosts": [jonas],
             "attendee": patient("Peter Schneider", "peter.schneider@example.com")},
            {"uid": "demo-bk-mt-fischer", "eventTypeId": 103, "start": at(1, 14), "hosts": [anna],
             "attendee": patient("Sabine Fischer", "sabine.fischer@example.com")},
            {"uid": "demo-bk-physio-weber", "eventTypeId": 102, "start": at(2, 8, 15), "hosts": [jonas],
             "status": "pending", "attendee": patient("Mehmet Yılmaz", "mehmet.yilmaz@example.com")},
            {"uid": "demo-bk-erst-wagner", "eventTypeId": 101, "start": at(2, 16), "hosts": [anna],
             "status": "cancelled", "cancellationReason": "Patientin ist erkrankt",
             "attendee": patient("Julia Wagner", "julia.wagner@example.com")},
            {"uid": "demo-bk-lymph-hoffmann", "eventTypeId": 104, "start": at(3, 11), "hosts": [jonas],
             "attendee": patient("Klaus Hoffmann", "klaus.hoffmann@example.com")},
        ],
    }


def main(argv=None):
    """Serve the fake until interrupted: ``python -m tests.fakes.calcom [--port N] [--demo] [--key K ...]``.
    The first line printed is ``CALCOM_FAKE_URL=<base url>``, for the process that started it."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--demo", action="store_true",
                        help="seed the demo practice (demo_seed()) and accept SANDBOX_API_KEY too")
    parser.add_argument("--key", action="append", dest="keys", help="an accepted API key (repeatable)")
    args = parser.parse_args(argv)
    keys = set(args.keys or DEFAULT_KEYS) | ({SANDBOX_API_KEY} if args.demo else set())
    fake = CalcomFake(port=args.port, valid_keys=keys, host=args.host, **(demo_seed() if args.demo else {}))
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with fake:
        print(f"CALCOM_FAKE_URL={fake.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
