"""What the hub's pages and fragments show, built for the templates and shared by the view modules: a provider's
settings form (filled with the saved values or bound to a post), its webhook section, its sync runs and the whole
provider tab. The provider's hooks decide what its tab holds (its own fields, its webhook partial, the mappings);
nothing here names a provider."""

from flask import render_template
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select, tuple_
from wtforms import SelectChoice

from app.integrations import mappings, sync
from app.integrations import service as integrations
from app.integrations.clients import get_config, provider_module
from app.integrations.forms import settings_form_class
from app.integrations.models import SYNC_QUEUED, SYNC_RUNNING, IntegrationMapping
from app.platform.database import utcnow
from app.platform.extensions import db
from app.webhooks.endpoints import endpoint_url, practice_endpoints

PENDING = (SYNC_QUEUED, SYNC_RUNNING)


def saved_values(provider, config):
    """The settings form's values from the stored config (and, for a practice setting, the practice's own)."""
    settings = dict(config.settings or {}) if config else {}
    values = {"sync_enabled": bool(config and config.sync_enabled),
              "sync_interval_minutes": str(config.sync_interval_minutes if config else 60)}
    for setting in provider_module(provider).SETTINGS:
        source = (current_user.practice.settings or {}) if setting.practice_setting else settings
        value = source.get(setting.name)
        values[setting.name] = "" if value is None else str(value)
    return values


def placeholder_choices(selected, name=None):
    """The choices of a setting chosen from the provider's objects before (or without) the provider's list: none,
    and the current choice (by its ``name`` when a sync has seen it) so a save never clears it unseen."""
    choices = [SelectChoice("", _("None"))]
    if selected:
        choices.append(SelectChoice(selected, name or _("no. %(id)s (current choice)", id=selected)))
    return choices


def chosen_names(provider, values):
    """{setting name: the name of the object chosen in it} for the provider's settings chosen from its objects
    (``values``: setting name -> saved value), as the mappings its syncs recorded name them: one query."""
    wanted = {setting.name: (setting.options.mapping_kind, str(values[setting.name]))
              for setting in provider_module(provider).SETTINGS
              if setting.options and setting.options.mapping_kind and values.get(setting.name)}
    if not wanted:
        return {}
    rows = db.session.execute(
        select(IntegrationMapping.kind, IntegrationMapping.external_id, IntegrationMapping.external_name)
        .where(IntegrationMapping.practice_id == current_user.practice_id, IntegrationMapping.provider == provider,
               tuple_(IntegrationMapping.kind, IntegrationMapping.external_id).in_(sorted(set(wanted.values())))))
    names = {(kind, external_id): name for kind, external_id, name in rows if name}
    return {setting: names[key] for setting, key in wanted.items() if key in names}


def settings_form(provider, config=None, posted=False):
    """The provider's settings form: bound to the posted data, or filled with the saved values."""
    form_class = settings_form_class(provider_module(provider))
    form = form_class() if posted else form_class(formdata=None, data=saved_values(provider, config))
    if form.options_field is not None:
        names = chosen_names(provider, {form.options_field.name: form.options_field.data})
        form.options_field.choices = placeholder_choices(form.options_field.data, names.get(form.options_field.name))
    return form


def webhook_context(provider, config):
    """The provider's webhook endpoint for its section: URL, previous-secret validity and the id of our
    registration at the provider (for a provider that takes one)."""
    endpoint = practice_endpoints(current_user.practice_id).get(provider_module(provider).WEBHOOK_SOURCE)
    return {"endpoint": endpoint, "url": endpoint_url(endpoint) if endpoint else None, "now": utcnow(),
            "webhook_id": (config.settings or {}).get("webhook_id") if config else None, "error": None}


def runs_context(provider, config=None):
    """What templates/hub/_runs.html needs: the last runs and whether one is still queued or running."""
    runs = sync.recent_runs(current_user.practice_id, provider)
    config = config or get_config(current_user.practice_id, provider)
    return {"provider": provider, "runs": runs, "pending": any(run.status in PENDING for run in runs),
            "configured": bool(config and config.api_key)}


def provider_context(provider, form=None, **extra):
    """Everything the provider tab and its fragments show; ``form`` replaces the saved-values form (to re-show
    what a person typed). ``hooks`` is the provider's integration module, whose hooks the templates ask."""
    practice_id = current_user.practice_id
    module = provider_module(provider)
    config = get_config(practice_id, provider)
    cards = [card for card in integrations.status_cards(practice_id) if card.provider == provider]
    context = {"provider": provider, "hooks": module, "integration": config, "cards": cards, "card": cards[0],
               "chosen_names": chosen_names(provider, (config.settings or {}) if config else {}),
               "only": provider, "form": form if form is not None else settings_form(provider, config),
               "warning": None, "webhook": webhook_context(provider, config), **runs_context(provider, config)}
    if module.MAPPINGS:
        context["mappings"] = mappings.practice_mappings(practice_id, provider)
        context["therapists"] = mappings.therapists(practice_id)
    context.update(extra)
    return context


def status_body(only=None, cards=None):
    """The #hub-status fragment: the status cards (read in one statement unless the poll brings them), all of them
    or only ``only``'s."""
    cards = integrations.status_cards(current_user.practice_id) if cards is None else cards
    cards = [card for card in cards if only in (None, card.provider)]
    return render_template("hub/_status.html", cards=cards, only=only)
