"""What the access provider fakes (tests.fakes.fitpass, friction, wellhub) share: a real HTTP server on 127.0.0.1
(tests.fakes.server), a request log, transport scenarios and the control endpoints.

Members are seeded as ``{external id: {"first", "last", "status"}}``; ``status`` is the provider's own answer for
that member ("ok" or one of its refusal codes), so every refusal is reached by scanning the member who has it.

Scenarios (``set_scenario(name, times=None)``; ``times`` requests, then back to "ok"): "ok", "slow" (waits
``slow_seconds``, then answers normally), "500", "html" (200 text/html, a proxy's maintenance page) and "down" (the
connection is cut without an answer).

Control endpoints, never affected by a scenario and not logged: ``POST /__fake/scenario`` ``{"scenario", "times",
"slow_seconds"?}``, ``GET /__fake/requests``, ``POST /__fake/reset`` (scenario "ok", empty log) and
``POST /__fake/members`` (``{id: {"first", "last", "status"}}``, merged into the members)."""

import json
import socket
import threading
from typing import NamedTuple

from werkzeug.wrappers import Request, Response

from tests.fakes.server import FakeServer

SCENARIOS = ("ok", "slow", "500", "html", "down")
CONTROL_PREFIX = "/__fake/"


class RecordedRequest(NamedTuple):
    """One request as the fake received it: headers with lower-case names, the raw body and its parsed JSON."""

    method: str
    path: str
    headers: dict
    body: bytes
    json: object


def json_response(data, status=200):
    """A JSON response."""
    return Response(json.dumps(data, ensure_ascii=False), status=status, content_type="application/json")


class AccessFake(FakeServer):
    """Base of a provider fake; subclasses set ``name`` and implement ``answer(request)`` for the contract."""

    name = "access"

    def __init__(self, port=0, members=None, *, slow_seconds=2.0, host="127.0.0.1"):
        """Configure the fake; nothing listens before ``start``."""
        super().__init__(port, host=host)
        self._lock = threading.Lock()
        self.members = dict(members or {})
        self.slow_seconds = slow_seconds
        self._log = []
        self._scenario, self._times = "ok", None

    def set_scenario(self, name, times=None):
        """Answer the next ``times`` requests (all when None) with scenario ``name``."""
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
            raise ValueError("times must be a positive integer or None")
        with self._lock:
            self._scenario, self._times = name, times

    def reset(self):
        """Scenario "ok" and an empty request log (the members stay)."""
        with self._lock:
            self._scenario, self._times = "ok", None
            self._log.clear()

    @property
    def requests(self):
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def add_members(self, members):
        """Merge ``{id: {"first", "last", "status"}}`` into the members."""
        with self._lock:
            self.members.update(members)

    def member(self, external_id):
        """The member with ``external_id``, or None."""
        with self._lock:
            return self.members.get(external_id)

    def wsgi_app(self, environ, start_response):
        """Control endpoints, else log the request, apply the scenario and answer the contract."""
        request = Request(environ)
        if request.path.startswith(CONTROL_PREFIX):
            return self._control(request)(environ, start_response)
        raw = request.get_data()
        with self._lock:
            self._log.append(RecordedRequest(request.method, request.path,
                                             {key.lower(): value for key, value in request.headers.items()}, raw,
                                             request.get_json(silent=True, force=True)))
            scenario = self._scenario
            if self._times is not None:
                self._times -= 1
                if self._times == 0:
                    self._scenario, self._times = "ok", None
        return self._transport(request, scenario, environ)(environ, start_response)

    def _transport(self, request, scenario, environ):
        """The answer under ``scenario``: a failure, or (after a wait for "slow") the contract's answer."""
        if scenario == "down":
            environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
            return Response(b"", status=500)
        if scenario == "500":
            return Response("Internal Server Error", status=500, content_type="text/plain")
        if scenario == "html":
            return Response("<!doctype html><html><body><h1>Wartungsarbeiten</h1></body></html>",
                            content_type="text/html; charset=utf-8")
        if scenario == "slow":
            self._stopping.wait(self.slow_seconds)
        return self.answer(request)

    def answer(self, request):
        """The contract's answer to an API request (subclasses)."""
        raise NotImplementedError

    def _control(self, request):
        """The ``/__fake/`` endpoints that steer and inspect the fake from another process."""
        body = request.get_json(silent=True)
        if request.method == "POST" and request.path == "/__fake/scenario" and isinstance(body, dict):
            try:
                if body.get("slow_seconds") is not None:
                    self.slow_seconds = float(body["slow_seconds"])
                self.set_scenario(body.get("scenario"), body.get("times"))
            except (TypeError, ValueError) as error:
                return json_response({"error": str(error)}, 400)
            return json_response({"scenario": body["scenario"], "times": body.get("times")})
        if request.method == "GET" and request.path == "/__fake/requests":
            return json_response([{"method": entry.method, "path": entry.path, "json": entry.json}
                                  for entry in self.requests])
        if request.method == "POST" and request.path == "/__fake/reset":
            self.reset()
            return json_response({"scenario": "ok"})
        if request.method == "POST" and request.path == "/__fake/members" and isinstance(body, dict):
            self.add_members(body)
            return json_response({"members": len(self.members)})
        return json_response({"error": "unknown control request"}, 404)
