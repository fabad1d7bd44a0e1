"""Practice settings: default therapist, booking page URL template, time zone."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from app.extensions import db
from app.security import current_actor, permission_required
from app.services.patients import practice_therapists
from app.services.practice_settings import (
    SETTINGS_FIELDS,
    SettingsValidationError,
    current_settings,
    time_zones,
    update_settings,
    validate_settings,
)
from app.settings.forms import PracticeSettingsForm

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.context_processor
def _helpers():
    """``validate_attrs(name)``: htmx attributes that check a settings field with the service's rules on change;
    ``time_zones``: the suggestions for the time zone field."""

    def validate_attrs(name):
        return {"hx-post": url_for("settings.validate_field", field=name), "hx-trigger": "change",
                "hx-target": "this", "hx-swap": "outerHTML", "hx-sync": "this:replace"}

    return {"validate_attrs": validate_attrs, "time_zones": time_zones}


def _form(**data):
    """The settings form with the practice's therapists to choose from."""
    form = PracticeSettingsForm(**data)
    form.default_therapist_id.choices = [SelectChoice("", _("No default therapist"))] + [
        SelectChoice(str(therapist.id), therapist.name) for therapist in practice_therapists(current_user.practice_id)
    ]
    return form


@bp.route("/", methods=["GET", "POST"])
@permission_required("integrations.manage")
def index():
    """Page: the practice settings; saved as a whole (303 back here) or re-shown with every error (422)."""
    saved = current_settings(current_user.practice)
    form = _form(timezone=saved["timezone"], default_therapist_id=str(saved["default_therapist_id"] or ""),
                 booking_url_template=saved["booking_url_template"] or "")
    if form.validate_on_submit():
        try:
            changed = update_settings(current_actor(), current_user.practice, form.data)
        except SettingsValidationError as error:
            db.session.rollback()
            for name, message in error.errors.items():
                getattr(form, name).errors.append(message)
        else:
            flash(_("Settings saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("settings.index"), code=303)
    return render_template("settings/index.html", form=form), 422 if form.errors else 200


@bp.post("/validate/<field>")
@permission_required("integrations.manage")
def validate_field(field):
    """Fragment #field-<name>: one settings field checked with the service's rules when it changes."""
    if field not in SETTINGS_FIELDS:
        abort(404)
    form = _form()
    bound = getattr(form, field)
    try:
        validate_settings(current_user.practice, {field: bound.data}, fields=(field,))
    except SettingsValidationError as error:
        bound.errors = [error.errors[field]]
    else:
        bound.errors = []
    return render_template("settings/_field.html", field=bound), 422 if bound.errors else 200
