"""The Retell.ai REST client: the practice's voice agents and its calls, read with the practice's Retell API key.

Facts from contracts/PROVIDERS.md §1c: base URL ``https://api.retellai.com``, ``Authorization: Bearer <key>``,
errors as ``{"status": "error", "message": …}``. Two generations of the list endpoints exist:

- current (retell-sdk ≥ 5.60): ``POST /v2/list-agents`` and ``POST /v3/list-calls``, both answering
  ``{items, has_more, pagination_key}``;
- legacy (retell-sdk ≤ 5.50): ``GET /list-agents`` and ``POST /v2/list-calls``, both answering a bare JSON array.

Whether the server still answers the legacy paths is unknown, so the client calls the current endpoint first, as
the contract advises, and falls back to the legacy one only when the current one is missing there (404, or 405 from
a router that knows the path under another method) on the *first* page. The fallback is remembered for the life of
the client, so a server that only speaks the old API costs one extra request per client, not per call. Both
response shapes are accepted from either endpoint, since a bare array and ``{items: …}`` are easy to tell apart;
anything else is a ProviderBadResponse naming the shape that was expected.

``since`` becomes the current endpoint's typed filter ``start_timestamp: {op: "ge", type: "number", value: ms}``
(the number form of the typed filters the contract describes; retell-sdk's filter types list ``eq, ne, gt, ge, lt,
le`` besides the ``bt`` range) and the legacy endpoint's ``start_timestamp: {lower_threshold: ms}``.

The list endpoints are reads sent as POST, so they are retried like GETs (``retry=True``). A 409 is not retried
(the SDK does, as every generated SDK does for lock conflicts; our base client leaves 4xx to the caller)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from flask_babel import gettext as _

from app.providers.base import ProviderBadResponse, ProviderClient, ProviderNotFound, ProviderRequestError
from app.providers.events import PayloadError
from app.providers.retell.webhooks import EPOCH, call_record

BASE_URL = "https://api.retellai.com"

# Largest page the list endpoints accept (legacy list-agents and list-calls: 1..1000).
MAX_PAGE_SIZE = 1000
# Pages followed before a list is considered endless (a server repeating itself must not loop us forever).
MAX_PAGES = 100
# Call states of a call that is over: without a ``call_analysis`` yet it is at the webhook's stage 2 (call_ended).
FINISHED_CALL_STATES = frozenset({"ended", "error", "not_connected"})

# Statuses meaning "this endpoint does not exist on this server", which trigger the legacy fallback.
_MISSING_ENDPOINT = (404, 405)
_ITEMS_SHAPE = 'a JSON array or an object with an "items" array'


@dataclass(frozen=True)
class Agent:
    """One Retell voice agent, one row per agent (the newest version when the server lists several).
    ``version`` and ``voice_id`` are None from the current list endpoint, which does not carry them (get_agent
    does); ``last_modified`` is an aware UTC datetime."""

    agent_id: str
    agent_name: str | None = None
    version: int | None = None
    voice_id: str | None = None
    last_modified: datetime | None = None


class RetellClient(ProviderClient):
    """Reads agents and calls from the Retell REST API (see the module docstring for the endpoint choice)."""

    provider = "retell"
    label = "Retell.ai"

    def __init__(self, base_url, api_key, *, page_size=MAX_PAGE_SIZE, **options):
        """As ProviderClient (``BASE_URL`` is Retell's public API); ``page_size`` is the ``limit`` asked for per
        page (at most 1000), smaller only in tests of the pagination."""
        super().__init__(base_url, api_key, **options)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self.page_size = page_size
        self._legacy_agents = False
        self._legacy_calls = False

    def count_records(self, action, body):
        """The number of rows in a list answer of either shape, for the call metric."""
        if isinstance(body, list):
            return len(body)
        if isinstance(body, dict) and isinstance(body.get("items"), list):
            return len(body["items"])
        return None

    def list_agents(self):
        """All agents of the account, one per agent id (the newest version), in the server's order. Follows
        ``pagination_key`` on the current endpoint and the agent id/version keys on the legacy one."""
        if not self._legacy_agents:
            try:
                return _newest_per_agent(self._list_agents_current())
            except ProviderRequestError as error:
                if error.status_code not in _MISSING_ENDPOINT:
                    raise
                self._legacy_agents = True
        return _newest_per_agent(self._list_agents_legacy())

    def get_agent(self, agent_id, version=None):
        """One agent (its newest version, or ``version``). Retell answers an unknown id with 422 "Cannot find
        requested asset under given api key" rather than 404 (its OpenAPI lists no 404), so both become
        ProviderNotFound."""
        params = {"version": version} if version is not None else None
        try:
            body = self.request("GET", f"/get-agent/{quote(agent_id, safe='')}", action="agents.get", params=params,
                                expect=(200,))
        except ProviderRequestError as error:
            if error.status_code != 422:
                raise
            raise ProviderNotFound(f"{self.label} has no agent {agent_id!r} under this API key (HTTP 422): "
                                   f"{error.provider_message}", status_code=422, provider=self.provider,
                                   provider_message=error.provider_message) from None
        if not isinstance(body, dict):
            raise self._bad_shape("get agent", "expected a JSON object (the agent)")
        return self._agent(body, "agent", "get agent")

    def list_calls(self, since=None, limit=None):
        """The newest calls first, all of them or at most ``limit``, optionally only those started at or after
        ``since`` (an aware datetime), as CallRecords mapped exactly like the webhook's call object. The stage
        follows what the call object already holds: 3 with a ``call_analysis``, 2 once the call is over, 1 while it
        runs, so a later webhook of a higher stage still completes the record and an earlier one cannot undo it."""
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1 (or None for all calls)")
        since_ms = None
        if since is not None:
            if since.tzinfo is None:
                raise ValueError("since must be an aware datetime")
            since_ms = (since.astimezone(UTC) - EPOCH) // timedelta(milliseconds=1)
        if not self._legacy_calls:
            try:
                return self._list_calls(since_ms, limit, legacy=False)
            except ProviderRequestError as error:
                if error.status_code not in _MISSING_ENDPOINT:
                    raise
                self._legacy_calls = True
        return self._list_calls(since_ms, limit, legacy=True)

    def _list_agents_current(self):
        """The agent rows of ``POST /v2/list-agents`` (``limit`` and ``pagination_key`` in the query, an empty
        filter as body), following ``has_more``/``pagination_key``."""
        agents, params = [], {"limit": self.page_size}
        for _page_number in range(MAX_PAGES):
            body = self.request("POST", "/v2/list-agents", action="agents.list", params=params, json={},
                                retry=True, expect=(200,))
            items, key = self._page(body, "list agents")
            agents.extend(self._agent(item, f"items[{len(agents) + index}]", "list agents")
                          for index, item in enumerate(items))
            if key is None:
                return agents
            if key == params.get("pagination_key"):
                raise self._bad_shape("list agents", "expected a new pagination_key on each page")
            params = {"limit": self.page_size, "pagination_key": key}
        raise self._bad_shape("list agents", f"expected the last page within {MAX_PAGES} pages")

    def _list_agents_legacy(self):
        """The agent versions of ``GET /list-agents``. A bare array has no pagination key: a full page may have
        more behind it, and the next page starts after the last row's agent id and version (both exclusive)."""
        agents, params = [], {"limit": self.page_size}
        for _page_number in range(MAX_PAGES):
            body = self.request("GET", "/list-agents", action="agents.list", params=params, expect=(200,))
            items, key = self._page(body, "list agents")
            page = [self._agent(item, f"items[{len(agents) + index}]", "list agents")
                    for index, item in enumerate(items)]
            agents.extend(page)
            following = {"limit": self.page_size}
            if key is not None:
                following["pagination_key"] = key
            elif len(page) >= self.page_size:
                following["pagination_key"] = page[-1].agent_id
                if page[-1].version is not None:
                    following["pagination_key_version"] = page[-1].version
            else:
                return agents
            if following == params:
                raise self._bad_shape("list agents", "expected a new pagination_key on each page")
            params = following
        raise self._bad_shape("list agents", f"expected the last page within {MAX_PAGES} pages")

    def _list_calls(self, since_ms, limit, legacy):
        """Calls from ``POST /v3/list-calls`` (typed filters) or, ``legacy``, ``POST /v2/list-calls`` (threshold
        filters), newest first, following the pagination key (the current endpoint's ``pagination_key``, or the
        last call id of a full legacy page, exclusive) until the last page or ``limit`` calls."""
        path = "/v2/list-calls" if legacy else "/v3/list-calls"
        request = {"sort_order": "descending"}
        if since_ms is not None:
            request["filter_criteria"] = {"start_timestamp": (
                {"lower_threshold": since_ms} if legacy else {"op": "ge", "type": "number", "value": since_ms})}
        records = []
        for _page_number in range(MAX_PAGES):
            page_size = self.page_size if limit is None else min(limit - len(records), self.page_size)
            body = self.request("POST", path, action="calls.list", json={**request, "limit": page_size},
                                retry=True, expect=(200,))
            items, key = self._page(body, "list calls")
            records.extend(self._call(item, len(records) + index) for index, item in enumerate(items[:page_size]))
            if key is None and isinstance(body, list) and items and len(items) >= page_size:
                key = records[-1].external_id
            if key is None or (limit is not None and len(records) >= limit):
                return records
            if key == request.get("pagination_key"):
                raise self._bad_shape("list calls", "expected a new pagination_key on each page")
            request["pagination_key"] = key
        raise self._bad_shape("list calls", f"expected the last page within {MAX_PAGES} pages")

    def _page(self, body, what):
        """(items, next pagination key or None) of a list answer: a bare array (no key) or
        ``{items: [...], has_more: bool, pagination_key: str | null}``."""
        if isinstance(body, list):
            return body, None
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise self._bad_shape(what, f"expected {_ITEMS_SHAPE}")
        has_more = body.get("has_more", False)
        if not isinstance(has_more, bool):
            raise self._bad_shape(what, 'has_more: expected true or false')
        if not has_more:
            return body["items"], None
        key = body.get("pagination_key")
        if not isinstance(key, str) or not key:
            raise self._bad_shape(what, 'pagination_key: expected a string when has_more is true')
        return body["items"], key

    def _agent(self, data, path, what):
        """An Agent from an agent object of either endpoint (``last_modification_timestamp`` in full agents,
        ``user_modified_timestamp`` in the current list's rows); unknown keys are ignored."""
        if not isinstance(data, dict):
            raise self._bad_shape(what, f"{path}: expected an object")
        agent_id = data.get("agent_id")
        if not isinstance(agent_id, str) or not agent_id:
            raise self._bad_shape(what, f"{path}.agent_id: expected a non-empty string")
        for key in ("agent_name", "voice_id"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise self._bad_shape(what, f"{path}.{key}: expected a string or null")
        for key in ("version", "last_modification_timestamp", "user_modified_timestamp"):
            value = data.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise self._bad_shape(what, f"{path}.{key}: expected a non-negative integer or null")
        modified = data.get("last_modification_timestamp")
        if modified is None:
            modified = data.get("user_modified_timestamp")
        try:
            last_modified = EPOCH + timedelta(milliseconds=modified) if modified is not None else None
        except OverflowError:
            raise self._bad_shape(what, f"{path}: expected a modification time in Unix milliseconds") from None
        return Agent(agent_id=agent_id, agent_name=data.get("agent_name"), version=data.get("version"),
                     voice_id=data.get("voice_id"), last_modified=last_modified)

    def _call(self, data, index):
        """The CallRecord of the call object at ``items[index]``, through the webhook's own mapping (its field
        paths, ``call.<key>``, are renamed ``items[index].<key>``). A null ``call_analysis`` (the SDK model's
        default) counts as absent; the webhook parser, which never sees one, would refuse it."""
        if not isinstance(data, dict):
            raise self._bad_shape("list calls", f"items[{index}]: expected an object")
        if "call_analysis" in data and data["call_analysis"] is None:
            data = {key: value for key, value in data.items() if key != "call_analysis"}
        if isinstance(data.get("call_analysis"), dict):
            stage = 3
        elif data.get("call_status") in FINISHED_CALL_STATES:
            stage = 2
        else:
            stage = 1
        try:
            return call_record(data, stage)
        except PayloadError as error:
            reason = str(error).removeprefix("call.")
            raise self._bad_shape("list calls", f"items[{index}].{reason}") from None

    def _bad_shape(self, what, detail):
        """The ProviderBadResponse for a 2xx answer of ``what`` that is not the documented shape, in the reader's
        language; ``detail`` names the field and what was expected there, a technical detail for whoever looks
        into it, given as the client found it."""
        return ProviderBadResponse(_("%(label)s answered %(what)s with an unexpected shape: %(detail)s.",
                                     label=self.label, what=what, detail=detail),
                                   status_code=200, provider=self.provider)


def _newest_per_agent(agents):
    """One Agent per id, keeping the first position and the highest version (the legacy list has every
    version of an agent)."""
    newest = {}
    for agent in agents:
        kept = newest.get(agent.agent_id)
        if kept is None or (agent.version or 0) > (kept.version or 0):
            newest[agent.agent_id] = agent
    return list(newest.values())
