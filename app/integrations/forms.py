"""Forms of the Integration Hub: one settings form per provider, built from what every provider has (the key, the
automatic sync) and the provider's own fields (its SETTINGS hook). They carry the fields, labels and CSRF; the rules
(key check, interval choices, each setting's cleaning) live in app.integrations.service and the providers' hooks,
which validate everything before anything is saved, so the forms declare no validators of their own."""

from functools import cache

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField

from app.integrations.models import SYNC_INTERVALS

INTERVAL_LABELS = {
    15: _l("every 15 minutes"),
    30: _l("every 30 minutes"),
    60: _l("every hour"),
    1440: _l("once a day"),
}


def interval_choices():
    """The automatic sync intervals an admin can choose, with their labels."""
    return [SelectChoice(str(minutes), INTERVAL_LABELS.get(minutes, str(minutes))) for minutes in SYNC_INTERVALS]


class ProviderSettingsForm(FlaskForm):
    """What every provider's settings have: the API key (a password input that app.js gives a show/hide toggle;
    never filled in by the server) and the automatic sync with its interval. Select fields do not check their
    choices here: the service answers an interval outside the choices with a message a person can act on."""

    # The provider's own settings (app.providers.registry.SettingField), set by settings_form_class.
    SETTINGS = ()

    api_key = PasswordField(_l("API key"), render_kw={
        "autocomplete": "off", "spellcheck": "false", "autocapitalize": "off", "data-reveal": True,
        "data-show-label": _l("Show"), "data-hide-label": _l("Hide"), "aria-describedby": "hub-key-help"})
    sync_enabled = BooleanField(_l("Automatic sync"))
    sync_interval_minutes = SelectField(_l("Sync interval"), choices=interval_choices, validate_choice=False,
                                        default="60")

    @property
    def options_setting(self):
        """The setting whose choices come from the provider's own objects (loaded through the proxy), or None."""
        return next((setting for setting in self.SETTINGS if setting.options), None)

    @property
    def options_field(self):
        """The bound field of options_setting, or None."""
        setting = self.options_setting
        return self[setting.name] if setting else None


@cache
def settings_form_class(module):
    """The settings form of the integration ``module``: ProviderSettingsForm with the provider's own fields (built
    once per provider)."""
    fields = {setting.name: setting.field for setting in module.SETTINGS}
    return type(f"SettingsForm({module.__name__})", (ProviderSettingsForm,), {"SETTINGS": module.SETTINGS, **fields})
