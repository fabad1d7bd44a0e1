"""Cal.com in the Integration Hub: its settings, key check, health probe, booking sync, webhook registration, the
proxy's allowed reads and what its tab and card show, on top of app.providers.calcom.client (see
app.providers.registry for the interface).

Cal.com delivers webhooks at most once (CALCOM.md §7), so the sync re-reads every booking of the window (one day
back, 90 days ahead): a booking whose webhook never arrived is healed by the next sync."""

import re
from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, URLField

from app.providers.calcom.client import BOOKING_TRIGGERS, CalcomClient, appointment_record
from app.providers.events import KeyCheck, MappingKey, ProbeResult, SyncBatch, SyncItem
from app.providers.proxy import Operation, iso_date, positive_int, time_zone, to_json
from app.providers.registry import (
    BOOKING_ACTIVITY,
    UNMATCHED_APPOINTMENTS,
    CardFact,
    OptionList,
    SettingField,
    WebhookRegistration,
)

LABEL = _l("Cal.com")
SANDBOX_LABEL = _l("Cal.com (Sandbox)")
WEBHOOK_SOURCE = "calcom"
PREREQUISITES = ("location", "therapist")
# Cal.com signs with a secret the hub generates and registers (register_webhook below), not with the API key.
KEY_SIGNS_WEBHOOKS = False
WEBHOOK_TEMPLATE = "hub/_webhook_calcom.html"
CARD_FACTS = (CardFact("event_type_count", _l("Event types"), "event-types"),)
# Its users and event types map to therapists and services; the tab lets an admin correct them.
MAPPINGS = True
HEALTH_CHECKS = (BOOKING_ACTIVITY, UNMATCHED_APPOINTMENTS)
SYNC_CONFIG = {"days_back": "CALCOM_SYNC_DAYS_BACK", "days_ahead": "CALCOM_SYNC_DAYS_AHEAD"}
SYNC_FACTS = {"event_types": "event_type_count"}
COUNT_LABELS = {"event_types": _l("event types"), "bookings": _l("bookings")}

_TEAM_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


def _clean_team_slug(raw):
    """A team slug as in the team's URL (lower-cased), or None when empty."""
    slug = (raw or "").strip().lower()
    if slug and not _TEAM_SLUG.fullmatch(slug):
        raise ValueError(_("A team slug has lower-case letters, digits and hyphens, as in the team's URL."))
    return slug or None


def _clean_event_type(raw):
    """The default event type's id as a number, or None when none is chosen."""
    event_type = str(raw or "").strip()
    if event_type and not event_type.isdigit():
        raise ValueError(_("Choose one of the practice's Cal.com event types."))
    return int(event_type) if event_type else None


def _event_type_choice(item):
    """One event type of the proxy's list as the default event type's (value, label)."""
    value = str(item["id"])
    return value, _("%(title)s (%(minutes)s min)", title=item.get("title") or item.get("slug") or value,
                    minutes=item.get("length_in_minutes") or "?")


# The team slug, the default event type (chosen from the account's event types) and the booking page that the
# "Termin buchen" button on a patient's record opens (a setting of the practice itself).
SETTINGS = (
    SettingField(
        "team_slug", StringField(_l("Team slug (optional)"), render_kw={
            "autocomplete": "off", "spellcheck": "false", "placeholder": "praxis-am-see", "maxlength": 100}),
        clean=_clean_team_slug, summary_label=_l("Team slug")),
    SettingField(
        "default_event_type_id", SelectField(_l("Default event type"), validate_choice=False, default=""),
        clean=_clean_event_type, options=OptionList("event-types", _event_type_choice, mapping_kind="event_type")),
    SettingField(
        "booking_url_template", URLField(_l("Booking page URL"), render_kw={
            "autocomplete": "off", "placeholder": "https://cal.com/praxis/erstgespraech?name={name}"}),
        practice_setting=True,
        help=_l("The page where patients book, opened by the “Book appointment” button on a patient’s record. "
                "These placeholders are replaced by the patient’s data: {name}, {email}, {first_name}, "
                "{last_name}. Without placeholders (a plain Cal.com link) name and email are added as query "
                "parameters. Leave empty to hide the button.")),
)


def build_client(base_url, api_key, *, on_call, timeout, max_retries, deadline):
    """A Cal.com v2 client with the hub's timeouts and retries; ``on_call`` collects each call's metric;
    ``deadline`` ends a web request's budget (None for the worker)."""
    return CalcomClient(base_url, api_key, timeout=(3.05, timeout), max_retries=max_retries, on_call=on_call,
                        deadline=deadline)


def check_key(client):
    """``GET /v2/me``: the cheapest call that proves a key (CALCOM.md §6)."""
    profile = client.me()
    account = f"{profile.name} ({profile.username})" if profile.name else profile.username
    return KeyCheck(account=account or profile.email or "", facts={"username": profile.username})


def probe(client, settings, webhook_url):
    """Key and connectivity (``me``), the number of event types, and whether our webhook is still registered at
    Cal.com, active, pointing at ``webhook_url`` with our booking triggers. A registration that went missing or
    points elsewhere is a problem (state ``degraded``); no registration yet is only a fact for the card."""
    client.me()
    event_types = client.list_event_types()
    facts = {"event_type_count": len(event_types)}
    problems = []
    registered_id = settings.get("webhook_id")
    if webhook_url:
        ours = [hook for hook in client.list_webhooks() if hook.subscriber_url == webhook_url]
        healthy = [hook for hook in ours if hook.active and set(BOOKING_TRIGGERS) <= set(hook.triggers)]
        facts["webhook_registered"] = bool(healthy)
        if registered_id and not healthy:
            if ours:
                problems.append(_l("The webhook registered at Cal.com is inactive or misses booking triggers."))
            else:
                problems.append(_l("The webhook registered at Cal.com no longer exists or points elsewhere; "
                                   "register it again."))
    return ProbeResult(facts=facts, problems=tuple(str(problem) for problem in problems))


def sync(client, settings, now, since=None):
    """Event types and the bookings from ``CALCOM_SYNC_DAYS_BACK`` days back to ``CALCOM_SYNC_DAYS_AHEAD`` ahead
    (``settings["days_back"]``/``["days_ahead"]``), paginated, as appointment records with their host (→ a
    therapist) and event type (→ a service) for the admin-correctable mappings."""
    event_types = client.list_event_types()
    titles = {event_type.id: event_type.title for event_type in event_types}
    seen = {("event_type", str(event_type.id)): MappingKey("event_type", str(event_type.id), event_type.title)
            for event_type in event_types}
    items = []
    after = now - timedelta(days=settings.get("days_back", 1))
    before = now + timedelta(days=settings.get("days_ahead", 90))
    for booking in client.iter_bookings(after_start=after, before_end=before):
        record = appointment_record(booking, event_type_titles=titles)
        mappings = []
        if booking.hosts:
            host = booking.hosts[0]
            key = MappingKey("user", (host.email or str(host.id)).lower(), host.name or "", host.email)
            seen.setdefault(("user", key.external_id), key)
            mappings.append(key)
        if booking.event_type_id is not None:
            key = seen.get(("event_type", str(booking.event_type_id))) or MappingKey(
                "event_type", str(booking.event_type_id), booking.event_type_slug or "")
            seen.setdefault(("event_type", key.external_id), key)
            mappings.append(key)
        items.append(SyncItem(record=record, mappings=tuple(mappings)))
    return SyncBatch(items=tuple(items), seen=tuple(seen.values()),
                     counts={"event_types": len(event_types), "bookings": len(items)})


def register_webhook(client, subscriber_url, secret):
    """Make Cal.com post our booking triggers to ``subscriber_url``, signed with ``secret``; returns the webhook
    id. Webhooks are unique per user and URL (409 on a duplicate, CALCOM.md §5), so an existing registration for
    our URL is updated with the new secret instead of created twice."""
    for hook in client.list_webhooks():
        if hook.subscriber_url == subscriber_url:
            updated = client.update_webhook(hook.id, secret=secret, triggers=list(BOOKING_TRIGGERS), active=True)
            return updated.id
    created = client.create_webhook(subscriber_url, list(BOOKING_TRIGGERS), secret, active=True)
    return created.id


WEBHOOK_REGISTRATION = WebhookRegistration(
    register=register_webhook, registered=_l("Webhook registered at Cal.com: %(url)s"),
    refused=_l("Cal.com did not accept the webhook: %(reason)s"))


def _event_types(client):
    """The account's event types for a picker: id, title, slug, length and booking page."""
    return [{"id": event_type.id, "title": event_type.title, "slug": event_type.slug,
             "length_in_minutes": event_type.length_in_minutes, "booking_url": event_type.booking_url}
            for event_type in client.list_event_types() if not event_type.hidden]


def _slots(client, event_type_id, start, end, time_zone=None):
    """Free slots of an event type between two days, keyed by day."""
    if end < start:
        raise ValueError("end: must not be before start")
    if (end - start).days > 31:
        raise ValueError("end: at most 31 days after start")
    return to_json(client.get_slots(event_type_id, start, end, time_zone=time_zone))


PROXY_OPERATIONS = {
    "event-types": Operation(call=_event_types, ttl=300),
    "slots": Operation(call=_slots, params={"event_type_id": positive_int, "start": iso_date, "end": iso_date,
                                            "time_zone": time_zone},
                       required=("event_type_id", "start", "end"), ttl=60),
}
