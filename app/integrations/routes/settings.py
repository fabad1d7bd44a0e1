"""A provider's settings: saving them (checked with the provider first), the inline check of a typed key, and the
list of the provider's own objects a setting is chosen from (event types, agents: its OptionList hook)."""

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from app.integrations import proxy
from app.integrations import service as integrations
from app.integrations.clients import label, provider_module
from app.integrations.forms import settings_form_class
from app.integrations.routes.blueprint import bp
from app.integrations.routes.context import placeholder_choices, provider_context, settings_form
from app.integrations.service import IntegrationValidationError
from app.platform.extensions import db
from app.platform.htmx import fragment_response, mutation_response, wants_fragment
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required


def _add_errors(form, errors):
    """Put the service's messages next to their fields (or above the form for a field it does not show)."""
    for name, message in errors.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


@bp.post("/<integration:provider>")
@permission_required("integrations.manage")
def save(provider):
    """Fragment #hub-settings-<provider> (or 303 to the tab): validate with the provider, encrypt, save, start a
    sync when automatic sync is on, then a toast and a status refresh. Invalid input: 422 with every message and
    the typed values (never the key); nothing is saved."""
    form = settings_form(provider, posted=True)
    if form.validate_on_submit():
        try:
            outcome = integrations.save(current_actor(), current_user.practice, provider, form.data)
        except IntegrationValidationError as error:
            db.session.rollback()
            _add_errors(form, error.errors)
        else:
            return _settings_saved(provider, outcome)
    if not wants_fragment(f"hub-settings-{provider}"):
        return render_template("hub/provider.html", **provider_context(provider, form=form)), 422
    return fragment_response(render_template("hub/_settings.html", **provider_context(provider, form=form)),
                             _("Nothing was saved. Please correct the marked fields."), level="error", status=422)


def _settings_saved(provider, outcome):
    """The answer to a successful save: the fresh settings fragment with a toast (a warning when the provider
    could not be reached) and events that refresh the status, the runs and the webhook section."""
    if not outcome.changed:
        message = _("Nothing changed.")
    elif outcome.sync_queued:
        message = _("Settings saved. A sync has been queued.")
    else:
        message = _("Settings saved.")
    return mutation_response(
        lambda: render_template("hub/_settings.html", **provider_context(provider, warning=outcome.warning)),
        outcome.warning or message, redirect_to=url_for("hub.provider", provider=provider),
        level="warning" if outcome.warning else "success", target=f"hub-settings-{provider}",
        events=("hub-status-changed", "hub-settings-saved", "hub-runs-changed"))


@bp.post("/<integration:provider>/check-key")
@permission_required("integrations.manage")
def check_key(provider):
    """Fragment #hub-key-check: the typed key checked with the provider when the field changes (its cheapest call
    that proves a key); nothing is saved. The input itself is not re-rendered, so the typed key stays in the field
    and never travels back in a response."""
    form = settings_form(provider, posted=True)
    raw = form.api_key.data or ""
    result = integrations.check_key(current_user.practice_id, provider, raw) if raw.strip() else None
    status = 422 if result is not None and not result.ok else 200
    return render_template("hub/_key_check.html", key_result=result), status


@bp.get("/<integration:provider>/options")
@permission_required("integrations.manage")
def options(provider):
    """Fragment #field-<name> of the setting chosen from the provider's objects (e.g. the default event type or
    agent): its select with the provider's list, loaded through the outbound proxy (cached) when the tab shows the
    form; a clear message in place of the list when the proxy cannot answer. ``?selected=`` keeps the current
    choice. 404 for a provider without such a setting."""
    form = settings_form_class(provider_module(provider))(formdata=None)
    setting = form.options_setting
    if setting is None:
        abort(404)
    field = form[setting.name]
    if not wants_fragment(f"field-{field.name}"):
        return redirect(url_for("hub.provider", provider=provider))
    field.data = request.args.get("selected", "")
    try:
        result = proxy.fetch(current_user.practice_id, provider, setting.options.operation, {})
    except proxy.ProxyError as error:
        field.choices = placeholder_choices(field.data)
        field.errors = [error.message]
    else:
        field.choices = _option_choices(provider, setting.options, result.data, field.data)
    return render_template("hub/_options.html", field=field)


def _option_choices(provider, option_list, items, selected):
    """The select's choices from the proxy's list (each item turned into a choice by the provider's hook); a
    current choice the provider no longer offers is kept and marked, so saving the form never drops it silently."""
    choices = [SelectChoice("", _("None"))]
    for item in items:
        value, text = option_list.choice(item)
        choices.append(SelectChoice(value, text))
    if selected and selected not in {choice.value for choice in choices}:
        choices.append(SelectChoice(selected, _("#%(id)s (no longer offered by %(provider)s)", id=selected,
                                                provider=label(provider))))
    return choices
