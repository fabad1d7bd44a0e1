"""The hub blueprint and what all its views and templates share: the URL converter of the provider part, the labels
of states, run statuses, triggers and counts, and the template helpers.

Every label a provider brings (its name, its counts, its webhook source) comes from its hooks in
app.providers.registry; nothing here names a provider."""

from flask import Blueprint, url_for
from flask_babel import format_decimal, format_percent, format_timedelta
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BaseConverter, ValidationError

from app.integrations.clients import label, provider_module, providers
from app.integrations.forms import INTERVAL_LABELS
from app.integrations.models import (
    AUTH_FAILED,
    DEGRADED,
    MANUAL,
    MAP_EVENT_TYPE,
    MAP_USER,
    OK,
    PAUSED,
    RATE_LIMITED,
    SCHEDULE,
    SYNC_FAILED,
    SYNC_QUEUED,
    SYNC_RUNNING,
    SYNC_SUCCEEDED,
    UNCONFIGURED,
    UNREACHABLE,
    WEBHOOK,
)
from app.platform.database import utcnow
from app.providers.registry import WEBHOOK_SOURCES, webhook_source
from app.webhooks.endpoints import source_label

bp = Blueprint("hub", __name__, url_prefix="/integrations")


class IntegrationConverter(BaseConverter):
    """The provider part of a hub URL (``<integration:provider>``): only a registered integration matches, so
    anything else is a 404 before the view. Asked at every match, so a provider registered later is found too."""

    def to_python(self, value):
        """``value`` when it names an integration; otherwise the rule does not match."""
        if value not in providers():
            raise ValidationError()
        return value


def _add_converter(state):
    """Make ``integration`` known to the app's URL map before the hub's rules are added (recorded first)."""
    state.app.url_map.converters["integration"] = IntegrationConverter


bp.record_once(_add_converter)


# The webhook sources with a tab of their own in the hub (their HUB_TEMPLATE hook), in registry order.
SOURCE_TABS = tuple(name for name in WEBHOOK_SOURCES if webhook_source(name).HUB_TEMPLATE)

STATE_LABELS = {
    OK: _l("OK"),
    DEGRADED: _l("degraded"),
    AUTH_FAILED: _l("key rejected"),
    UNREACHABLE: _l("unreachable"),
    RATE_LIMITED: _l("rate-limited"),
    PAUSED: _l("paused"),
    UNCONFIGURED: _l("not configured"),
}
STATE_BADGES = {OK: "badge-ok", DEGRADED: "badge-warn", AUTH_FAILED: "badge-error", UNREACHABLE: "badge-error",
                RATE_LIMITED: "badge-warn", PAUSED: "badge-warn", UNCONFIGURED: "badge-muted"}
RUN_STATUS_LABELS = {
    SYNC_QUEUED: _l("queued"),
    SYNC_RUNNING: _l("running"),
    SYNC_SUCCEEDED: _l("succeeded"),
    SYNC_FAILED: _l("failed"),
}
RUN_BADGES = {SYNC_QUEUED: "badge-muted", SYNC_RUNNING: "badge-muted", SYNC_SUCCEEDED: "badge-ok",
              SYNC_FAILED: "badge-error"}
TRIGGER_LABELS = {SCHEDULE: _l("schedule"), MANUAL: _l("sync now"), WEBHOOK: _l("webhook")}
# What every run counts besides the provider's own counts (its COUNT_LABELS hook).
APPLIED_LABELS = {"applied": _l("applied")}
MAPPING_KIND_LABELS = {MAP_USER: _l("User → therapist"), MAP_EVENT_TYPE: _l("Event type → service")}


def _relative_time(moment):
    """``moment`` relative to now in the user's language ("5 minutes ago", "in 1 hour"). Needs no time zone, so
    the status poll stays free of the practice lookup that absolute local times would cost."""
    if moment is None:
        return "—"
    return format_timedelta(moment - utcnow(), add_direction=True, granularity="minute")


def _detail_label(provider, name):
    """How a count ``name`` of one of ``provider``'s sync runs is named (as stored for a count nobody names)."""
    own = provider_module(provider).COUNT_LABELS if provider in providers() else {}
    return {**own, **APPLIED_LABELS}.get(name, name)


@bp.context_processor
def _helpers():
    """Labels and formatters for the hub templates: provider labels (with "(Sandbox)" while HUB_SANDBOX is on),
    the sources with a tab, states, run statuses, triggers, counts, relative times and numbers; and the htmx
    attributes of the key check (aborted when the form itself is submitted, the htmx docs' inline-validation
    pattern) and of the lazily loaded list of the provider's objects to choose from."""
    return {
        "hub_providers": providers(),
        "hub_source_tabs": SOURCE_TABS,
        "provider_label": label,
        "state_label": lambda state: STATE_LABELS.get(state, state),
        "state_badge": lambda state: STATE_BADGES.get(state, "badge-muted"),
        "run_status_label": lambda status: RUN_STATUS_LABELS.get(status, status),
        "run_badge": lambda status: RUN_BADGES.get(status, "badge-muted"),
        "trigger_label": lambda trigger: TRIGGER_LABELS.get(trigger, trigger),
        "detail_label": _detail_label,
        "mapping_kind_label": lambda kind: MAPPING_KIND_LABELS.get(kind, kind),
        "interval_label": lambda minutes: INTERVAL_LABELS.get(minutes, minutes),
        "relative_time": _relative_time,
        "source_label": source_label,
        "format_percent": format_percent,
        "format_decimal": format_decimal,
        "key_check_attrs": lambda provider: {
            "hx-post": url_for("hub.check_key", provider=provider), "hx-trigger": "change",
            "hx-target": "#hub-key-check", "hx-swap": "outerHTML", "hx-sync": "closest form:abort"},
        "options_attrs": lambda provider, selected: {
            "hx-get": url_for("hub.options", provider=provider, selected=selected or None), "hx-trigger": "load",
            "hx-target": "this", "hx-swap": "outerHTML"},
    }
