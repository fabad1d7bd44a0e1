"""Webhook endpoints of a practice: create one per source, rotate its secret (the previous one stays valid for a
while), disable and enable it, and the secrets that currently verify its events. A new or rotated secret is
returned once to the caller and then only ever stored encrypted."""

import secrets
from datetime import timedelta

from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import select

from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.crypto import decrypt_secret, encrypt_secret
from app.providers.registry import WEBHOOK_SOURCES, webhook_source
from app.webhooks.models import WebhookEndpoint


def generate_secret(source):
    """A fresh secret in the form the source expects (its ``generate_secret`` hook); ServiceError saying what to
    enter for a source whose secret the hub cannot make up (one that signs with its own API key)."""
    try:
        return webhook_source(source).generate_secret()
    except ValueError as error:
        raise ServiceError(str(error)) from None


def clean_secret(source, secret):
    """A secret typed or pasted by a person, stripped, or ServiceError saying what is wrong with it (the rules
    every secret follows here, then the source's own ``check_secret``)."""
    secret = (secret or "").strip()
    if not secret or any(character.isspace() for character in secret):
        raise ServiceError(_("The secret must not be empty or contain spaces or line breaks."))
    try:
        webhook_source(source).check_secret(secret)
    except ValueError as error:
        raise ServiceError(str(error)) from None
    return secret


def source_label(name):
    """The name people read for webhook source ``name`` (an unknown source, e.g. an old log entry, as stored)."""
    return webhook_source(name).LABEL if name in WEBHOOK_SOURCES else name


def public_base_url():
    """The address senders reach the app at, without a trailing slash: PUBLIC_BASE_URL when set, else the
    current request's own scheme and host (behind a trusted proxy the forwarded ones, applied by ProxyFix), else
    (the CLI, the worker) SERVED_BASE_URL, where `make run` serves."""
    base = current_app.config["PUBLIC_BASE_URL"]
    if not base:
        base = request.host_url if has_request_context() else current_app.config["SERVED_BASE_URL"]
    return base.rstrip("/")


def endpoint_url(endpoint, base=None):
    """The full URL the source posts to, built from ``base`` (the address a provider was given when the hub
    registered the endpoint there, as the worker's probe compares it) or else public_base_url."""
    return f"{(base or public_base_url()).rstrip('/')}/api/webhooks/{endpoint.source}/{endpoint.public_id}"


def practice_endpoints(practice_id):
    """The practice's endpoints by source."""
    rows = db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.practice_id == practice_id))
    return {endpoint.source: endpoint for endpoint in rows}


def get_endpoint(practice_id, endpoint_id):
    """The practice's endpoint with ``endpoint_id``, or None (another practice's endpoint is never found)."""
    return db.session.scalar(select(WebhookEndpoint).where(
        WebhookEndpoint.practice_id == practice_id, WebhookEndpoint.id == endpoint_id))


def new_public_id():
    """A fresh random public id, the endpoint's part of its URL."""
    return secrets.token_urlsafe(18)


def create_endpoint(actor, source, secret=None, *, commit=True, public_id=None):
    """Create the practice's endpoint for ``source`` with ``secret`` (generated when not given); returns
    (endpoint, secret). Each source has one endpoint per practice: a second one is refused. With ``commit=False``
    the change stays in the caller's transaction (the hub saves it together with the integration's settings).
    ``public_id`` (from new_public_id) is for a URL already given to the sender, as when the hub registers it."""
    if source not in WEBHOOK_SOURCES:
        raise ServiceError(_("Unknown webhook source %(source)s.", source=source))
    if source in practice_endpoints(actor.practice_id):
        raise ServiceError(_("This practice already has an endpoint for %(source)s; rotate its secret instead.",
                             source=source))
    secret = clean_secret(source, secret) if secret is not None else generate_secret(source)
    endpoint = WebhookEndpoint(practice_id=actor.practice_id, source=source, public_id=public_id or new_public_id(),
                               secret=encrypt_secret(secret), secret_version=1, active=True)
    db.session.add(endpoint)
    db.session.flush()
    record("webhook.endpoint.create", actor, object_type="webhook_endpoint", object_id=endpoint.id,
           meta={"source": source})
    if commit:
        db.session.commit()
    return endpoint, secret


def rotate_secret(actor, endpoint, secret=None, *, commit=True):
    """Give ``endpoint`` a new secret (generated when not given) and keep the current one valid for
    WEBHOOK_PREVIOUS_SECRET_HOURS, so the sender can switch without losing events; returns the new secret.
    ``commit=False`` leaves the change in the caller's transaction."""
    secret = clean_secret(endpoint.source, secret) if secret is not None else generate_secret(endpoint.source)
    now = utcnow()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_valid_until = now + timedelta(hours=current_app.config["WEBHOOK_PREVIOUS_SECRET_HOURS"])
    endpoint.secret = encrypt_secret(secret)
    endpoint.secret_version += 1
    endpoint.rotated_at = now
    record("webhook.secret.rotate", actor, object_type="webhook_endpoint", object_id=endpoint.id,
           meta={"source": endpoint.source, "secret_version": endpoint.secret_version})
    if commit:
        db.session.commit()
    return secret


def set_active(actor, endpoint, active):
    """Enable or disable ``endpoint``; a disabled endpoint answers 404 and stores nothing."""
    endpoint.active = active
    record("webhook.endpoint.enable" if active else "webhook.endpoint.disable", actor,
           object_type="webhook_endpoint", object_id=endpoint.id, meta={"source": endpoint.source})
    db.session.commit()


def valid_secrets(endpoint, now):
    """(secret_version, secret) pairs that verify events at ``now``: the current secret, then the previous one
    while it is still within its grace period."""
    pairs = [(endpoint.secret_version, decrypt_secret(endpoint.secret))]
    if endpoint.previous_secret and endpoint.previous_valid_until and endpoint.previous_valid_until > now:
        pairs.append((endpoint.secret_version - 1, decrypt_secret(endpoint.previous_secret)))
    return pairs
