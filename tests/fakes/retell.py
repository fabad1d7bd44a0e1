"""A fake Retell.ai REST API: a real HTTP server on 127.0.0.1 (werkzeug, threaded, in a daemon thread) that speaks
the contract of contracts/PROVIDERS.md §1c, so the client is tested through real sockets, timeouts and status codes.

Endpoints (``Authorization: Bearer <key>``; a key outside ``valid_keys`` gets 401 ``{"status": "error", …}``):

- ``POST /v2/list-agents`` → ``{items, has_more, pagination_key}``, one row per agent (query ``limit``,
  ``pagination_key``); ``GET /list-agents`` → a bare array of every agent version (query ``limit``,
  ``pagination_key``, ``pagination_key_version``). With ``legacy=True`` only the legacy endpoints answer and the
  current ones are 404, as on a server that predates them; otherwise only the current ones answer.
- ``GET /get-agent/<agent_id>?version=`` → the agent (newest version by default); an unknown id is 422
  "Cannot find requested asset under given api key", as Retell answers (its OpenAPI has no 404).
- ``POST /v3/list-calls`` → ``{items, has_more, pagination_key}`` with typed ``start_timestamp`` filters
  (``{op, type, value}``); legacy ``POST /v2/list-calls`` → a bare array with ``{lower_threshold,
  upper_threshold}``. Newest first unless ``sort_order`` is ``ascending``; the pagination key is the last call id
  (exclusive).

Scenarios (``set_scenario(name, times=None)``; ``times`` requests, then back to "ok"; None = until changed):
"ok", "401", "409", "429" (with ``Retry-After: 1``), "500", "slow" (waits ``slow_seconds``, then answers normally),
"html" (200 text/html), "bad_shape" (200 JSON of no documented shape) and "down" (the connection is cut without an
answer, which the client sees as a connection error).

Control endpoints, no key needed, never affected by a scenario, and not in the request log, so a browser test or the
sandbox demo in another process can steer the fake (the same ones as tests.fakes.calcom): ``POST /__fake/scenario``
``{"scenario", "times", "slow_seconds"?}``, ``GET /__fake/requests``, ``POST /__fake/reset`` (scenario "ok", empty
log) and ``POST /__fake/seed`` (``{"demo": true}`` or ``{"agents", "calls"}``).

Seed the demo practice with ``RetellFake(**demo_seed())``. All phone numbers are fictional (+49 30 555 01xx); all
ids are made up."""

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from werkzeug.wrappers import Request, Response

from tests.fakes.server import FakeServer

DEFAULT_API_KEY = "key_test_valid"
DEFAULT_KEYS = frozenset({DEFAULT_API_KEY})
# The key the sandbox demo (`python -m tests.fakes --seed-demo`, behind `make run` with HUB_SANDBOX=1) accepts in
# addition to DEFAULT_API_KEY; enter it as the Retell API key in the hub's settings.
SANDBOX_API_KEY = "key_sandbox_demo"

SCENARIOS = ("ok", "401", "409", "429", "500", "slow", "html", "bad_shape", "down")
CONTROL_PREFIX = "/__fake/"
MAX_LIMIT = 1000
NOT_FOUND_ASSET = "Cannot find requested asset under given api key"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ERROR_ANSWERS = {
    "401": (401, "Invalid API key."),
    "409": (409, "Conflict: the resource is being modified. Try again."),
    "429": (429, "Rate limit exceeded, please retry later."),
    "500": (500, "Internal server error."),
}


class RecordedRequest(NamedTuple):
    """One API request as the fake received it: ``query`` is a dict of the first value of each parameter,
    ``headers`` a dict with lower-case names, ``json`` the parsed body (None when empty or not JSON)."""

    method: str
    path: str
    query: dict
    headers: dict
    json: object


class RetellFake(FakeServer):
    """The fake server. ``agents`` are full agent objects (several versions of one agent allowed), ``calls`` are
    call objects as Retell returns them; both may be changed between requests."""

    name = "retell"

    def __init__(self, port=0, valid_keys=DEFAULT_KEYS, agents=None, calls=None, *, legacy=False,
                 slow_seconds=2.0, host="127.0.0.1"):
        """Configure the fake; nothing listens before ``start``."""
        super().__init__(port, host=host)
        self._lock = threading.Lock()
        self.valid_keys = frozenset(valid_keys)
        self.seed(agents, calls)
        self.legacy = legacy
        self.slow_seconds = slow_seconds
        self._log = []
        self._scenario, self._times = "ok", None

    # Steering and inspection.

    def set_scenario(self, name, times=None):
        """Answer the next ``times`` API requests (all of them when None) with scenario ``name``."""
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
            raise ValueError("times must be a positive integer or None")
        with self._lock:
            self._scenario, self._times = name, times

    @property
    def scenario(self):
        """The scenario the next API request gets."""
        with self._lock:
            return self._scenario

    def reset(self):
        """Back to scenario "ok" with an empty request log (the data stays)."""
        with self._lock:
            self._scenario, self._times = "ok", None
            self._log.clear()

    @property
    def requests(self):
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def request_count(self, path_prefix=None):
        """How many API requests arrived (only those whose path starts with ``path_prefix``, when given)."""
        with self._lock:
            return sum(1 for entry in self._log if path_prefix is None or entry.path.startswith(path_prefix))

    def seed(self, agents=None, calls=None):
        """Replace the data: full agent objects (several versions of one agent allowed) and call objects."""
        with self._lock:
            self.agents, self.calls = list(agents or []), list(calls or [])

    # The WSGI application.

    def wsgi_app(self, environ, start_response):
        """Dispatch one request: control endpoints, else log it, apply the scenario and serve the contract."""
        request = Request(environ)
        if request.path.startswith(CONTROL_PREFIX):
            return self._control(request)(environ, start_response)
        body = request.get_json(silent=True)
        with self._lock:
            self._log.append(RecordedRequest(request.method, request.path, request.args.to_dict(),
                                             {name.lower(): value for name, value in request.headers.items()}, body))
            scenario = self._scenario
            if self._times is not None:
                self._times -= 1
                if self._times == 0:
                    self._scenario, self._times = "ok", None
        return self._answer(request, scenario, environ)(environ, start_response)

    def _answer(self, request, scenario, environ):
        """The response for an API request under ``scenario``."""
        if scenario == "down":
            # Cut the connection before any answer: the client gets a connection error (werkzeug ignores the
            # failed write of the response below, as it does for any client that went away).
            environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
            return Response(b"", status=500)
        if scenario in _ERROR_ANSWERS:
            status, message = _ERROR_ANSWERS[scenario]
            response = _error(status, message)
            if status == 429:
                response.headers["Retry-After"] = "1"
            return response
        if scenario == "html":
            return Response("<!doctype html><html><body><h1>Wartungsarbeiten</h1></body></html>", status=200,
                            content_type="text/html; charset=utf-8")
        if scenario == "bad_shape":
            return _json({"status": "ok", "data": {"results": []}})
        if scenario == "slow":
            self._stopping.wait(self.slow_seconds)
        if _bearer(request) not in self.valid_keys:
            return _error(401, "Invalid API key.")
        try:
            return self._route(request)
        except _BadRequest as error:
            return _error(400, str(error))

    def _route(self, request):
        """The contract's endpoints (see the module docstring)."""
        method, path = request.method, request.path
        if method == "POST" and path == "/v2/list-agents" and not self.legacy:
            return self._list_agents_current(request)
        if method == "GET" and path == "/list-agents" and self.legacy:
            return self._list_agents_legacy(request)
        if method == "GET" and path.startswith("/get-agent/"):
            return self._get_agent(request, path.removeprefix("/get-agent/"))
        if method == "POST" and path == "/v3/list-calls" and not self.legacy:
            return self._list_calls(request, legacy=False)
        if method == "POST" and path == "/v2/list-calls" and self.legacy:
            return self._list_calls(request, legacy=True)
        return _error(404, "Not Found")

    def _list_agents_current(self, request):
        """``POST /v2/list-agents``: one row per agent (its newest version), paginated by agent id."""
        _json_body(request, optional=True)
        limit = _limit(request.args.get("limit"), default=MAX_LIMIT)
        rows = [_agent_row(agent) for agent in _newest_versions(self.agents)]
        start = _after(rows, "agent_id", request.args.get("pagination_key"))
        page = rows[start:start + limit]
        has_more = start + limit < len(rows)
        return _json({"items": page, "has_more": has_more,
                      "pagination_key": page[-1]["agent_id"] if has_more and page else None})

    def _list_agents_legacy(self, request):
        """``GET /list-agents``: every agent version, a bare array, paginated by (agent id, version)."""
        limit = _limit(request.args.get("limit"), default=MAX_LIMIT)
        agents = list(self.agents)
        key, key_version = request.args.get("pagination_key"), request.args.get("pagination_key_version")
        start = 0
        if key:
            matches = [index for index, agent in enumerate(agents) if agent.get("agent_id") == key
                       and (key_version is None or str(agent.get("version")) == key_version)]
            if not matches:
                raise _BadRequest("Invalid pagination_key")
            start = matches[-1] + 1
        return _json(agents[start:start + limit])

    def _get_agent(self, request, agent_id):
        """``GET /get-agent/<id>``: the newest version, or the one asked for; 422 for an unknown id or version."""
        versions = [agent for agent in self.agents if agent.get("agent_id") == agent_id]
        wanted = request.args.get("version")
        if wanted is not None:
            versions = [agent for agent in versions if str(agent.get("version")) == wanted]
        if not versions:
            return _error(422, NOT_FOUND_ASSET)
        return _json(max(versions, key=lambda agent: agent.get("version") or 0))

    def _list_calls(self, request, legacy):
        """``POST /v3/list-calls`` (object answer, typed filters) or legacy ``POST /v2/list-calls`` (bare array,
        threshold filters)."""
        body = _json_body(request, optional=True) or {}
        limit = _limit(body.get("limit"), default=50)
        sort_order = body.get("sort_order", "descending")
        if sort_order not in ("ascending", "descending"):
            raise _BadRequest("sort_order must be ascending or descending")
        criteria = body.get("filter_criteria") or {}
        if not isinstance(criteria, dict):
            raise _BadRequest("filter_criteria must be an object")
        accept = _start_filter(criteria.get("start_timestamp"), legacy)
        calls = [call for call in self.calls if accept(call.get("start_timestamp") or 0)]
        calls.sort(key=lambda call: call.get("start_timestamp") or 0, reverse=sort_order == "descending")
        start = _after(calls, "call_id", body.get("pagination_key"))
        page = calls[start:start + limit]
        if legacy:
            return _json(page)
        has_more = start + limit < len(calls)
        return _json({"items": page, "has_more": has_more,
                      "pagination_key": page[-1]["call_id"] if has_more and page else None})

    def _control(self, request):
        """The ``/__fake/`` endpoints that steer and inspect the fake from another process."""
        if request.method == "POST" and request.path == "/__fake/scenario":
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                return _error(400, 'expected a JSON object {"scenario", "times"}')
            try:
                if body.get("slow_seconds") is not None:
                    self.slow_seconds = float(body["slow_seconds"])
                self.set_scenario(body.get("scenario"), body.get("times"))
            except (TypeError, ValueError) as error:
                return _error(400, str(error))
            return _json({"scenario": body["scenario"], "times": body.get("times")})
        if request.method == "GET" and request.path == "/__fake/requests":
            return _json([entry._asdict() for entry in self.requests])
        if request.method == "POST" and request.path == "/__fake/reset":
            self.reset()
            return _json({"scenario": "ok"})
        if request.method == "POST" and request.path == "/__fake/seed":
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                return _error(400, 'expected a JSON object {"demo": true} or {"agents", "calls"}')
            self.seed(**(demo_seed() if body.get("demo") else
                         {"agents": body.get("agents"), "calls": body.get("calls")}))
            return _json({"agents": len(self.agents), "calls": len(self.calls)})
        return _error(404, "Not Found")


class _BadRequest(Exception):
    """A request the real API would refuse with 400; the message is the answer's ``message``."""


def _json(data, status=200):
    """A JSON response."""
    return Response(json.dumps(data, ensure_ascii=False), status=status, content_type="application/json")


def _error(status, message):
    """Retell's error body, ``{"status": "error", "message": …}``."""
    return _json({"status": "error", "message": message}, status=status)


def _bearer(request):
    """The bearer token of the request, or ""."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme == "Bearer" else ""


def _json_body(request, optional=False):
    """The parsed JSON body; 400 when it is not JSON (an empty body is allowed when ``optional``)."""
    if optional and not request.get_data():
        return None
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise _BadRequest("request body must be a JSON object")
    return body


def _limit(value, default):
    """``limit`` as the API validates it: 1..1000."""
    if value is None:
        return default
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise _BadRequest("limit must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise _BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def _after(rows, id_key, pagination_key):
    """The index after the row whose ``id_key`` is ``pagination_key`` (exclusive key); 0 without a key."""
    if not pagination_key:
        return 0
    for index, row in enumerate(rows):
        if row.get(id_key) == pagination_key:
            return index + 1
    raise _BadRequest("Invalid pagination_key")


def _start_filter(spec, legacy):
    """A predicate on a call's start time (ms) from the request's ``start_timestamp`` filter."""
    if spec is None:
        return lambda value: True
    if not isinstance(spec, dict):
        raise _BadRequest("filter_criteria.start_timestamp must be an object")
    if legacy:
        low, high = spec.get("lower_threshold"), spec.get("upper_threshold")
        return lambda value: (low is None or value >= low) and (high is None or value <= high)
    op, kind, target = spec.get("op"), spec.get("type"), spec.get("value")
    if kind == "range" and op == "bt" and isinstance(target, list) and len(target) == 2:
        return lambda value: target[0] <= value <= target[1]
    compare = {"eq": float.__eq__, "ne": float.__ne__, "gt": float.__gt__, "ge": float.__ge__,
               "lt": float.__lt__, "le": float.__le__}
    if kind == "number" and op in compare and isinstance(target, int | float):
        return lambda value: compare[op](float(value), float(target))
    raise _BadRequest("filter_criteria.start_timestamp: expected {op, type, value}")


def _newest_versions(agents):
    """The newest version of each agent, in the order the agents first appear."""
    newest = {}
    for agent in agents:
        kept = newest.get(agent["agent_id"])
        if kept is None or (agent.get("version") or 0) > (kept.get("version") or 0):
            newest[agent["agent_id"]] = agent
    return list(newest.values())


def _agent_row(agent):
    """The row of the current list endpoint for a full agent object."""
    return {"agent_id": agent["agent_id"], "agent_name": agent.get("agent_name"),
            "channel": agent.get("channel", "voice"), "is_suspended": agent.get("is_suspended", False),
            "tags": agent.get("tags", {}), "user_modified_timestamp": agent.get("last_modification_timestamp"),
            "is_transfer_agent": agent.get("is_transfer_agent", False)}


def demo_seed(now=None):
    """The demo practice's data around ``now`` (default: the real time), as ``RetellFake`` keyword arguments: the
    agents "Rezeption Praxis" and "Terminerinnerung" and a few calls of the last two days."""
    now = now or datetime.now(UTC)
    return {"agents": demo_agents(now), "calls": demo_calls(now)}


def _ms(moment):
    """Unix milliseconds of an aware datetime."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def demo_agents(now):
    """The demo practice's agents: the reception (two versions, as the legacy list shows them) and the
    appointment reminder."""
    base = {"language": "de-DE", "is_published": True, "webhook_url": None}
    return [
        {**base, "agent_id": "agent_demo_rezeption_000000001", "version": 1, "agent_name": "Rezeption Praxis",
         "voice_id": "11labs-Adrian", "last_modification_timestamp": _ms(now - timedelta(days=30)),
         "response_engine": {"type": "retell-llm", "llm_id": "llm_demo_rezeption_0000000001", "version": 1}},
        {**base, "agent_id": "agent_demo_rezeption_000000001", "version": 2, "agent_name": "Rezeption Praxis",
         "voice_id": "11labs-Adrian", "last_modification_timestamp": _ms(now - timedelta(days=3)),
         "response_engine": {"type": "retell-llm", "llm_id": "llm_demo_rezeption_0000000001", "version": 2}},
        {**base, "agent_id": "agent_demo_erinnerung_00000001", "version": 1, "agent_name": "Terminerinnerung",
         "voice_id": "11labs-Adrian", "last_modification_timestamp": _ms(now - timedelta(days=12)),
         "response_engine": {"type": "retell-llm", "llm_id": "llm_demo_erinnerung_000000001", "version": 1}},
    ]


def _demo_call(now, number, agent, version, name, direction, caller, started_ago, seconds, status, reason=None,
               transcript=None, analysis=None):
    """One demo call object; ``caller`` is the patient's number, the practice's is +49 30 555 0100."""
    started = now - started_ago
    practice = "+49305550100"
    call = {"call_type": "phone_call", "call_id": f"call_demo_{number:024d}", "agent_id": agent,
            "agent_version": version, "agent_name": name, "call_status": status, "direction": direction,
            "from_number": caller if direction == "inbound" else practice,
            "to_number": practice if direction == "inbound" else caller,
            "start_timestamp": _ms(started), "data_storage_setting": "everything"}
    if status != "ongoing":
        call.update(end_timestamp=_ms(started + timedelta(seconds=seconds)), duration_ms=seconds * 1000,
                    disconnection_reason=reason)
    if transcript:
        call["transcript"] = transcript
    if analysis:
        call["call_analysis"] = analysis
    return call


def demo_calls(now):
    """A few calls of the demo practice in the last two days, covering every stage: analysed, ended without
    analysis yet, not connected, and one still running."""
    reception, reminder = "agent_demo_rezeption_000000001", "agent_demo_erinnerung_00000001"
    return [
        _demo_call(now, 1, reception, 2, "Rezeption Praxis", "inbound", "+49305550123", timedelta(hours=2), 94,
                   "ended", "user_hangup",
                   "Agent: Praxis am Park, Rezeption, guten Tag. Wie kann ich helfen?\n"
                   "User: Ich möchte meinen Termin am Donnerstag verschieben.\n"
                   "Agent: Gern. Passt Ihnen Dienstag nächste Woche um 9 Uhr?\nUser: Ja, das passt. Danke schön.\n",
                   {"call_summary": "Anruferin verschiebt ihren Termin von Donnerstag auf Dienstag, 9 Uhr.",
                    "user_sentiment": "Positive", "call_successful": True, "in_voicemail": False}),
        _demo_call(now, 2, reception, 2, "Rezeption Praxis", "inbound", "+49305550145",
                   timedelta(minutes=25), 41, "ended", "agent_hangup",
                   "Agent: Praxis am Park, Rezeption, guten Tag.\n"
                   "User: Haben Sie heute noch einen Termin für Krankengymnastik frei?\n"),
        _demo_call(now, 3, reminder, 1, "Terminerinnerung", "outbound", "+49305550167", timedelta(days=1), 0,
                   "not_connected", "dial_no_answer"),
        _demo_call(now, 4, reminder, 1, "Terminerinnerung", "outbound", "+49305550189",
                   timedelta(days=1, minutes=10), 52, "ended", "agent_hangup",
                   "Agent: Guten Tag, hier ist die Terminerinnerung der Praxis am Park für morgen, 14 Uhr.\n"
                   "User: Danke, ich komme.\n",
                   {"call_summary": "Patient bestätigt den Termin morgen um 14 Uhr.", "user_sentiment": "Neutral",
                    "call_successful": True, "in_voicemail": False}),
        _demo_call(now, 5, reception, 2, "Rezeption Praxis", "inbound", "+49305550101", timedelta(seconds=40), 0,
                   "ongoing"),
    ]
