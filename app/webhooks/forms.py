"""Forms of the webhooks blueprint: the secret of an endpoint and the event log filter."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, PasswordField, SelectField, ValidationError
from wtforms.validators import Length, Optional

# Where a secret form is used; part of the field prefix, so each card's fields have their own ids.
CREATE, ROTATE = "create", "rotate"


class EndpointSecretForm(FlaskForm):
    """The secret of a new endpoint, or the new secret of a rotation. Retell signs its webhooks with the practice's
    Retell API key, so for Retell the key must be entered; the other sources get a generated secret when the field
    is left empty (and their rotation form shows no field at all)."""

    secret = PasswordField(validators=[Length(max=500)], render_kw={"autocomplete": "off"})

    def __init__(self, source, purpose, **kwargs):
        super().__init__(prefix=f"{purpose}-{source}", **kwargs)
        self.requires_secret = source == "retell"
        if self.requires_secret:
            self.secret.label.text = _l("Retell API key") if purpose == CREATE else _l("New Retell API key")
        else:
            self.secret.label.text = _l("Secret (optional: a secure one is generated when left empty)")

    def validate_secret(self, field):
        """Retell cannot work without its API key."""
        if self.requires_secret and not (field.data or "").strip():
            raise ValidationError(_l("Enter the Retell API key: Retell signs its webhooks with it."))


class WebhookLogFilterForm(FlaskForm):
    """Filter the event log by source, type, status and date range (a GET form: bookmarkable, no CSRF token)."""

    class Meta:
        csrf = False

    source = SelectField(_l("Source"), validators=[Optional()])
    event_type = SelectField(_l("Type"), validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])

    def validate_date_to(self, field):
        """The range must not end before it starts."""
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))
