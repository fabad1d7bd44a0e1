"""Forms of the webhooks blueprint: the secret of an endpoint and the event log filter."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, ValidationError
from wtforms.validators import Length, Optional

from app.platform.formatting import LocalDateField
from app.providers.registry import webhook_source

# Where a secret form is used; part of the field prefix, so each card's fields have their own ids.
CREATE, ROTATE = "create", "rotate"


class EndpointSecretForm(FlaskForm):
    """The secret of a new endpoint, or the new secret of a rotation. A source whose sender signs with a key of its
    own (its ``SECRET_ENTRY`` hook) needs that key entered, under the labels the source gives; the other sources
    get a generated secret when the field is left empty (and their rotation form shows no field at all)."""

    secret = PasswordField(validators=[Length(max=500)], render_kw={"autocomplete": "off"})

    def __init__(self, source, purpose, **kwargs):
        super().__init__(prefix=f"{purpose}-{source}", **kwargs)
        self.entry = webhook_source(source).SECRET_ENTRY
        self.requires_secret = self.entry is not None
        if self.requires_secret:
            self.secret.label.text = self.entry.create_label if purpose == CREATE else self.entry.rotate_label
        else:
            self.secret.label.text = _l("Secret (optional: a secure one is generated when left empty)")

    def validate_secret(self, field):
        """A secret the hub cannot generate must be entered."""
        if self.requires_secret and not (field.data or "").strip():
            raise ValidationError(self.entry.missing)


class WebhookLogFilterForm(FlaskForm):
    """Filter the event log by source, type, status and date range (a GET form: bookmarkable, no CSRF token)."""

    class Meta:
        csrf = False

    source = SelectField(_l("Source"), validators=[Optional()])
    event_type = SelectField(_l("Type"), validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()])
    date_from = LocalDateField(_l("From"), validators=[Optional()])
    date_to = LocalDateField(_l("To"), validators=[Optional()])

    def validate_date_to(self, field):
        """The range must not end before it starts."""
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))
