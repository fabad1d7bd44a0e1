"""Whether a provider on the internet can reach a webhook URL of ours: a loopback, private or otherwise
unroutable address (the default of a local `make run`) registered with a real provider means its events never
arrive, so the hub refuses it with a sentence that says what to set. Decided from the URL alone, never by a
network call (no DNS lookup)."""

import ipaddress
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _

from app.platform.errors import ServiceError


def unreachable_from_internet(url):
    """True when ``url``'s host is one the internet cannot reach: localhost, a loopback, private, link-local or
    reserved IP address, or a name that is not a public DNS name (no dot, ``.localhost``, ``.local``,
    ``.internal``)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        pass
    return "." not in host or host == "localhost" or host.endswith((".localhost", ".local", ".internal"))


def check_reachable(provider_label, url):
    """ServiceError naming the provider and ``url`` when the provider could not reach ``url`` (see
    unreachable_from_internet). The sandbox (HUB_SANDBOX), whose fakes run beside the app, reaches any address."""
    if not current_app.config["HUB_SANDBOX"] and unreachable_from_internet(url):
        raise ServiceError(_("%(provider)s cannot reach this address: %(url)s. Set PUBLIC_BASE_URL to the public "
                             "address of Praxis Hub.", provider=provider_label, url=url))
