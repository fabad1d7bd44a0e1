"""Forms of the Integration Hub: one settings form per provider. They carry the fields, labels and CSRF; the rules
(key check, interval choices, slug and URL formats) live in app.integrations.service, which validates everything
before anything is saved, so the forms declare no validators of their own."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField, URLField

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

    # The field of the default object chosen from the provider's list (loaded through the proxy), and the
    # proxy operation that lists the choices; set by each provider's form.
    OPTIONS_FIELD = None
    OPTIONS_OPERATION = None

    api_key = PasswordField(_l("API key"), render_kw={
        "autocomplete": "off", "spellcheck": "false", "autocapitalize": "off", "data-reveal": True,
        "data-show-label": _l("Show"), "data-hide-label": _l("Hide"), "aria-describedby": "hub-key-help"})
    sync_enabled = BooleanField(_l("Automatic sync"))
    sync_interval_minutes = SelectField(_l("Sync interval"), choices=interval_choices, validate_choice=False,
                                        default="60")

    @property
    def options_field(self):
        """The bound field whose choices come from the provider."""
        return getattr(self, self.OPTIONS_FIELD)


class CalcomSettingsForm(ProviderSettingsForm):
    """Cal.com: key, team slug, default event type, automatic sync and the booking page for "Termin buchen"."""

    OPTIONS_FIELD = "default_event_type_id"
    OPTIONS_OPERATION = "event-types"

    team_slug = StringField(_l("Team slug (optional)"), render_kw={
        "autocomplete": "off", "spellcheck": "false", "placeholder": "praxis-am-see", "maxlength": 100})
    default_event_type_id = SelectField(_l("Default event type"), validate_choice=False, default="")
    booking_url_template = URLField(_l("Booking page URL"), render_kw={
        "autocomplete": "off", "placeholder": "https://cal.com/praxis/erstgespraech?name={name}"})


class RetellSettingsForm(ProviderSettingsForm):
    """Retell.ai: key, default agent and automatic sync (of the call log)."""

    OPTIONS_FIELD = "default_agent_id"
    OPTIONS_OPERATION = "agents"

    default_agent_id = SelectField(_l("Default agent"), validate_choice=False, default="")


SETTINGS_FORMS = {"calcom": CalcomSettingsForm, "retell": RetellSettingsForm}
