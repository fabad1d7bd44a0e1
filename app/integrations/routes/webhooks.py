"""Webhooks in the hub: registering our endpoint at a provider that takes a registration (its
WEBHOOK_REGISTRATION hook), and the tab of each webhook source that has one of its own (its HUB_TEMPLATE hook; at
/integrations/<source>, endpoint ``hub.<source>``), with the source's webhook card and event log."""

from functools import partial

from flask import abort, render_template, url_for
from flask_login import current_user

from app.integrations import service as integrations
from app.integrations.clients import provider_module
from app.integrations.routes.blueprint import SOURCE_TABS, bp
from app.integrations.routes.context import provider_context
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.htmx import mutation_response
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required
from app.providers.registry import webhook_source
from app.webhooks.endpoints import endpoint_url, practice_endpoints
from app.webhooks.forms import CREATE, ROTATE, EndpointSecretForm


@bp.post("/<integration:provider>/webhook")
@permission_required("integrations.manage")
def register_webhook(provider):
    """Fragment #hub-webhook-<provider> (or 303 to the tab): register our webhook at the provider under a fresh
    secret; when the provider refuses, nothing changes and the section says why (422). 404 for a provider that
    takes no registration."""
    registration = provider_module(provider).WEBHOOK_REGISTRATION
    if registration is None:
        abort(404)
    try:
        url = integrations.register_webhook(current_actor(), current_user.practice, provider)
    except ServiceError as error:
        db.session.rollback()
        message, level, status = error.message, "error", 422
    else:
        message, level, status = str(registration.registered) % {"url": url}, "success", 200
    target = f"hub-webhook-{provider}"
    return mutation_response(
        lambda: _webhook_section(provider, message if status == 422 else None), message, level=level, status=status,
        redirect_to=url_for("hub.provider", provider=provider, _anchor=target), target=target,
        events=("hub-status-changed",))


def _webhook_section(provider, error):
    """The provider's webhook section (#hub-webhook-<provider>) with ``error`` (the provider's refusal) in it."""
    context = provider_context(provider)
    context["webhook"]["error"] = error
    return render_template("hub/_webhook.html", **context)


def source_tab(source):
    """Page: the tab of webhook source ``source`` (its HUB_TEMPLATE): the source's webhook card (with
    ``webhooks.manage``) and its event log (with ``webhooks.log``, loaded from the webhooks blueprint, which keeps
    polling it)."""
    endpoint = practice_endpoints(current_user.practice_id).get(source)
    card = {"source": source, "endpoint": endpoint, "url": endpoint_url(endpoint) if endpoint else None,
            "form": EndpointSecretForm(source, ROTATE if endpoint else CREATE, formdata=None),
            "new_secret": None, "now": utcnow()}
    return render_template(webhook_source(source).HUB_TEMPLATE, card=card, endpoint=endpoint)


# One page per source with a tab, at /integrations/<source> under the endpoint hub.<source>.
for _source in SOURCE_TABS:
    bp.add_url_rule(f"/{_source}", endpoint=_source,
                    view_func=permission_required("integrations.view")(partial(source_tab, _source)))
