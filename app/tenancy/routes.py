"""Practice settings: default therapist, booking page URL template, time zone, and the practice's locations."""

from flask import Blueprint, abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from app.platform.extensions import db
from app.platform.htmx import mutation_response, toast, validate_attrs, wants_fragment
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required
from app.tenancy import locations as location_service
from app.tenancy.forms import LocationForm, PracticeSettingsForm
from app.tenancy.locations import LOCATION_FIELDS, LocationInUseError, LocationValidationError
from app.tenancy.settings import (
    SETTINGS_FIELDS,
    SettingsValidationError,
    current_settings,
    holiday_regions,
    practice_therapists,
    time_zones,
    update_settings,
    validate_settings,
)

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.context_processor
def _helpers():
    """``validate_attrs(name)``: htmx attributes that check a settings field with the service's rules on change;
    ``location_validate_attrs(field, location)``: the same for a field of the add form or of ``location``'s edit
    form; ``time_zones``: the suggestions for the time zone field."""

    def location_validate_attrs(field, location=None):
        return validate_attrs(url_for("settings.validate_location_field", field=field.short_name,
                                      location_id=location.id if location is not None else None))

    return {"validate_attrs": lambda name: validate_attrs(url_for("settings.validate_field", field=name)),
            "location_validate_attrs": location_validate_attrs, "time_zones": time_zones}


def _form(**data):
    """The settings form with the practice's therapists to choose from."""
    form = PracticeSettingsForm(**data)
    form.default_therapist_id.choices = [SelectChoice("", _("No default therapist"))] + [
        SelectChoice(str(therapist.id), therapist.name) for therapist in practice_therapists(current_user.practice_id)
    ]
    form.holiday_region.choices = [SelectChoice("", _("Nationwide public holidays only"))] + [
        SelectChoice(code, name) for code, name in holiday_regions(current_user.practice.country or "DE")]
    return form


def _settings_form(**kwargs):
    """The settings form filled with the saved values (``formdata=None`` when the request posted another form)."""
    saved = current_settings(current_user.practice)
    return _form(timezone=saved["timezone"], default_therapist_id=str(saved["default_therapist_id"] or ""),
                 booking_url_template=saved["booking_url_template"] or "",
                 holiday_region=saved["holiday_region"] or "", **kwargs)


def _location_form(location=None, **kwargs):
    """The add form (prefix ``location``) or ``location``'s edit form (prefix ``location-<id>``)."""
    return LocationForm(prefix="location" if location is None else f"location-{location.id}", **kwargs)


def _practice_location_or_404(location_id):
    """A location of the current practice; another practice's location is indistinguishable from a missing one."""
    location = location_service.get_location(current_user.practice_id, location_id)
    if location is None:
        abort(404)
    return location


def _locations_context(**context):
    """What templates/settings/_locations.html needs: the locations, the add form, and optionally ``edit_form``
    with the ``editing`` location and an ``error`` to show."""
    context.setdefault("add_form", _location_form(formdata=None))
    return {"locations": location_service.practice_locations(current_user.practice_id), "edit_form": None,
            "editing": None, "error": None, **context}


def _locations_response(status=200, **context):
    """Fragment #locations for htmx; otherwise the whole settings page, showing the same section."""
    if wants_fragment("locations"):
        return make_response(render_template("settings/_locations.html", **_locations_context(**context)), status)
    page = render_template("settings/index.html", form=_settings_form(formdata=None), **_locations_context(**context))
    return make_response(page, status)


def _location_saved(message):
    """After a change: the fresh #locations fragment with a toast and a ``locations-changed`` event for widgets
    that show locations (htmx), else 303 back to the section with a flash."""
    return mutation_response(_locations_response, message, redirect_to=url_for("settings.index", _anchor="locations"),
                             events=("locations-changed",), target="locations")


def _add_errors(form, error):
    """Put a LocationValidationError's messages next to the form's fields."""
    for name, message in error.errors.items():
        getattr(form, name).errors.append(message)


@bp.route("/", methods=["GET", "POST"])
@permission_required("integrations.manage")
def index():
    """Page: the practice settings and locations; settings are saved as a whole (303 back here) or re-shown with
    every error (422)."""
    form = _settings_form()
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
    return render_template("settings/index.html", form=form, **_locations_context()), 422 if form.errors else 200


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


@bp.get("/locations")
@permission_required("integrations.manage")
def locations():
    """Fragment #locations: the list with the add form (e.g. when an edit is cancelled); otherwise the settings page
    at that section."""
    if not wants_fragment("locations"):
        return redirect(url_for("settings.index", _anchor="locations"))
    return _locations_response()


@bp.post("/locations")
@permission_required("integrations.manage")
def create_location():
    """Fragment #locations (303 to the page without htmx): add a location; 422 with the errors beside the fields."""
    form = _location_form()
    if form.validate_on_submit():
        try:
            location = location_service.create_location(current_actor(), current_user.practice_id, form.name.data,
                                                        form.address.data)
        except LocationValidationError as error:
            _add_errors(form, error)
        else:
            return _location_saved(_("Location “%(name)s” added.", name=location.name))
    return _locations_response(422, add_form=form)


@bp.get("/locations/<int:location_id>/edit")
@permission_required("integrations.manage")
def edit_location(location_id):
    """Fragment #locations (or the settings page) with the location's row turned into its edit form."""
    location = _practice_location_or_404(location_id)
    return _locations_response(edit_form=_location_form(location, formdata=None, obj=location), editing=location)


@bp.post("/locations/<int:location_id>")
@permission_required("integrations.manage")
def update_location(location_id):
    """Fragment #locations (303 to the page without htmx): rename a location or change its address; 422 with the
    errors beside the fields of its row."""
    location = _practice_location_or_404(location_id)
    form = _location_form(location)
    if form.validate_on_submit():
        try:
            changed = location_service.update_location(current_actor(), location, form.name.data, form.address.data)
        except LocationValidationError as error:
            _add_errors(form, error)
        else:
            return _location_saved(_("Location “%(name)s” saved.", name=location.name) if changed
                                   else _("Nothing changed."))
    return _locations_response(422, edit_form=form, editing=location)


@bp.post("/locations/validate/<field>")
@bp.post("/locations/<int:location_id>/validate/<field>")
@permission_required("integrations.manage")
def validate_location_field(field, location_id=None):
    """Fragment #field-location[-<id>]-<name>: one field of the add form (or of a location's edit form) checked
    with the service's rules when it changes."""
    if field not in LOCATION_FIELDS:
        abort(404)
    location = _practice_location_or_404(location_id) if location_id is not None else None
    bound = getattr(_location_form(location), field)
    try:
        location_service.check_location(current_user.practice_id, {field: bound.data}, location=location,
                                        fields=(field,))
    except LocationValidationError as error:
        bound.errors = [error.errors[field]]
    else:
        bound.errors = []
    return (render_template("settings/_location_field.html", field=bound, location=location),
            422 if bound.errors else 200)


@bp.post("/locations/<int:location_id>/delete")
@permission_required("integrations.manage")
def delete_location(location_id):
    """Fragment #locations (303 to the page without htmx): delete a location; refused with 422, the reason in the
    section and a toast, while anything still refers to it."""
    location = _practice_location_or_404(location_id)
    name = location.name
    try:
        location_service.delete_location(current_actor(), location)
    except LocationInUseError as error:
        return toast(_locations_response(422, error=error.message), error.message, level="error")
    return _location_saved(_("Location “%(name)s” deleted.", name=name))
