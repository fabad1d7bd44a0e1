"""Retell.ai in the Integration Hub: key check (listing agents), health probe, call sync and the proxy's allowed
reads, on top of app.providers.retell.client (see app.providers.registry for the interface). Retell signs its
webhooks with the API key itself (PROVIDERS.md §1a), so the hub also makes the key its webhook endpoint's secret."""

from datetime import timedelta

from flask_babel import lazy_gettext as _l

from app.providers.events import KeyCheck, ProbeResult, SyncBatch, SyncItem
from app.providers.proxy import Operation
from app.providers.retell.client import RetellClient

LABEL = _l("Retell.ai")
SANDBOX_LABEL = _l("Retell.ai (Sandbox)")
WEBHOOK_SOURCE = "retell"
PREREQUISITES = ("location",)
# How far back the first sync reads calls; later syncs read from the last successful one (with an hour's overlap).
FIRST_SYNC_DAYS = 7


def build_client(base_url, api_key, *, on_call, timeout, max_retries):
    """A Retell client with the hub's timeouts and retries; ``on_call`` records each call's metric."""
    return RetellClient(base_url, api_key, timeout=(3.05, timeout), max_retries=max_retries, on_call=on_call)


def check_key(client):
    """Listing agents proves the key and tells how many agents the account has."""
    agents = client.list_agents()
    return KeyCheck(account=str(_l("%(count)s agents", count=len(agents))), facts={"agent_count": len(agents)})


def probe(client, settings, webhook_url):
    """Key and connectivity by listing agents; the default agent missing from the list is a problem."""
    agents = client.list_agents()
    problems = []
    default_agent = settings.get("default_agent_id")
    if default_agent and default_agent not in {agent.agent_id for agent in agents}:
        problems.append(str(_l("The default agent no longer exists at Retell; choose another one.")))
    return ProbeResult(facts={"agent_count": len(agents)}, problems=tuple(problems))


def sync(client, settings, now, since=None):
    """The calls since the last successful sync (an hour's overlap, since calls are updated after they end), or
    of the last FIRST_SYNC_DAYS days the first time, as call records."""
    start = (since - timedelta(hours=1)) if since else now - timedelta(days=FIRST_SYNC_DAYS)
    calls = client.list_calls(since=start)
    return SyncBatch(items=tuple(SyncItem(record=call) for call in calls), counts={"calls": len(calls)})


def _agents(client):
    """The account's agents for a picker: id, name, version."""
    return [{"agent_id": agent.agent_id, "agent_name": agent.agent_name, "version": agent.version}
            for agent in client.list_agents()]


PROXY_OPERATIONS = {
    "agents": Operation(call=_agents, ttl=300),
}
