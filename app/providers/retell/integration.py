"""Retell.ai in the Integration Hub: its settings, key check (listing agents), health probe, call sync, the proxy's
allowed reads and what its tab and card show, on top of app.providers.retell.client (see app.providers.registry for
the interface). Retell signs its webhooks with the API key itself (PROVIDERS.md §1a), so the hub also makes the
key its webhook endpoint's secret."""

from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from app.providers.events import KeyCheck, ProbeResult, SyncBatch, SyncItem
from app.providers.proxy import Operation
from app.providers.registry import UNMATCHED_CALLS, CardFact, OptionList, SettingField
from app.providers.retell.client import RetellClient

LABEL = _l("Retell.ai")
SANDBOX_LABEL = _l("Retell.ai (Sandbox)")
WEBHOOK_SOURCE = "retell"
PREREQUISITES = ("location",)
KEY_SIGNS_WEBHOOKS = True
# Nothing to register: the admin enters our URL at Retell (hub/_webhook_retell.html says so).
WEBHOOK_REGISTRATION = None
WEBHOOK_TEMPLATE = "hub/_webhook_retell.html"
CARD_FACTS = (CardFact("agent_count", _l("Agents"), "agents"),)
MAPPINGS = False
HEALTH_CHECKS = (UNMATCHED_CALLS,)
SYNC_CONFIG = {}
SYNC_FACTS = {}
COUNT_LABELS = {"calls": _l("calls")}
# How far back the first sync reads calls; later syncs read from the last successful one (with an hour's overlap).
FIRST_SYNC_DAYS = 7


def _clean_agent(raw):
    """The default agent's id, or None when none is chosen."""
    agent = (raw or "").strip()
    if len(agent) > 128 or any(character.isspace() for character in agent):
        raise ValueError(_("Choose one of the account's Retell agents."))
    return agent or None


def _agent_choice(item):
    """One agent of the proxy's list as the default agent's (value, label)."""
    value = str(item["agent_id"])
    return value, item.get("agent_name") or value


# The default agent, chosen from the account's agents.
SETTINGS = (
    SettingField("default_agent_id", SelectField(_l("Default agent"), validate_choice=False, default=""),
                 clean=_clean_agent, options=OptionList("agents", _agent_choice)),
)


def build_client(base_url, api_key, *, on_call, timeout, max_retries, deadline):
    """A Retell client with the hub's timeouts and retries; ``on_call`` collects each call's metric;
    ``deadline`` ends a web request's budget (None for the worker)."""
    return RetellClient(base_url, api_key, timeout=(3.05, timeout), max_retries=max_retries, on_call=on_call,
                        deadline=deadline)


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
