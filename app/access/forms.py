"""Forms of the access pages: the desk's scan, override and link forms, the log filter and the provider settings
(one form class per provider, built from the fields its adapter declares). The rules live in the services; the
forms carry fields, CSRF and labels."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    URLField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from app.access import adapters
from app.access.models import DAYS, DECISIONS, HOURS
from app.access.setup import MAX_ID, MAX_TIMEOUT_MS, MIN_TIMEOUT_MS


class ScanForm(FlaskForm):
    """What a keyboard-wedge scanner types (the code, then Enter) at the chosen location."""

    location_id = SelectField(_l("Location"), coerce=int)
    code = StringField(_l("Scan the member's QR code"), validators=[DataRequired(_l("Scan or type a code."))],
                       render_kw={"autofocus": True, "autocomplete": "off", "autocapitalize": "off",
                                  "spellcheck": "false", "inputmode": "text"})
    device = StringField(_l("Scanner or desk (optional)"), validators=[Optional(), Length(max=100)],
                         render_kw={"autocomplete": "off", "placeholder": _l("e.g. Empfang 1")})


class OverrideForm(FlaskForm):
    """Staff change a decision: the button pressed (grant, deny, confirm) and the reason."""

    override = StringField(validators=[DataRequired()])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=500)],
                         render_kw={"autocomplete": "off", "placeholder": _l("e.g. membership card shown")})


class LinkForm(FlaskForm):
    """Link the member just validated to a patient, or to a course member by name."""

    patient_id = SelectField(_l("Patient"), coerce=str, validate_choice=False, validators=[Optional()])
    member_name = StringField(_l("or name of a course member without a record"),
                              validators=[Optional(), Length(max=200)], render_kw={"autocomplete": "off"})


class LogFilterForm(FlaskForm):
    """Filters of the check-in log (a GET form: no CSRF token, bookmarkable)."""

    class Meta:
        csrf = False

    location = SelectField(_l("Location"), coerce=str, validators=[Optional()])
    provider = SelectField(_l("Provider"), validators=[Optional()])
    decision = SelectField(_l("Decision"), validators=[Optional()])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])

    def __init__(self, *args, locations=(), decision_labels=None, **kwargs):
        """Fill the choices: the practice's locations, the providers and the decisions."""
        super().__init__(*args, **kwargs)
        everything = [SelectChoice("", _l("All"))]
        self.location.choices = everything + [SelectChoice(str(location.id), location.name)
                                              for location in locations]
        self.provider.choices = everything + [SelectChoice(name, adapters.provider_label(name))
                                              for name in adapters.provider_names()]
        labels = decision_labels or {}
        self.decision.choices = everything + [SelectChoice(decision, labels.get(decision, decision))
                                              for decision in DECISIONS]

    def validate_date_to(self, field):
        """The range must not end before it starts."""
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))


class ProviderSettingsForm(FlaskForm):
    """The settings every access provider has; ``provider_form_class`` adds the provider's own."""

    active = BooleanField(_l("Enabled at this location"), default=True)
    base_url = URLField(_l("API address"), validators=[Optional(), Length(max=500)],
                        render_kw={"autocomplete": "off"})
    timeout_ms = IntegerField(_l("Timeout (milliseconds)"), default=1000,
                              validators=[InputRequired(_l("Enter a timeout.")),
                                          NumberRange(MIN_TIMEOUT_MS, MAX_TIMEOUT_MS)])
    reentry_value = IntegerField(_l("Re-entry window"), default=3,
                                 validators=[InputRequired(_l("Enter the re-entry window.")), NumberRange(1, 24)])
    reentry_unit = SelectField(_l("Unit"), choices=[SelectChoice(HOURS, _l("hours")),
                                                                SelectChoice(DAYS, _l("days"))], default=HOURS)
    staff_must_confirm = BooleanField(_l("Staff must confirm every grant"))


def provider_form_class(name):
    """The settings form of provider ``name``: the common fields, its secret (never rendered back) and its ids."""
    module = adapters.adapter(name)
    fields = {key: IntegerField(label, validators=[InputRequired(_l("Enter this id.")), NumberRange(1, MAX_ID)])
              for key, label in module.ID_FIELDS}
    if module.SECRET_LABEL is not None:
        fields["secret"] = PasswordField(module.SECRET_LABEL, validators=[Optional(), Length(max=500)],
                                         render_kw={"autocomplete": "new-password"})
    return type(f"{name.title()}SettingsForm", (ProviderSettingsForm,), fields)
