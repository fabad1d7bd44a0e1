"""The access pages: the check-in desk (scan, result card, override, link), the check-in log, the providers of
each location, and unlinking a membership from the patient record."""

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import format_percent
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from app.access import adapters
from app.access.checkins import REASONS, CheckinOutcome, check_in, get_checkin, override
from app.access.forms import LinkForm, LogFilterForm, OverrideForm, ScanForm, provider_form_class
from app.access.log import checkin_page, recent_checkins
from app.access.memberships import (
    NOT_LINKABLE,
    get_membership,
    link_from_checkin,
    patient_memberships,
    unlink_membership,
)
from app.access.sandbox import DEMO_CODES
from app.access.setup import enabled_by_location, get_location, location_providers, practice_locations, save_provider
from app.access.stats import access_stats
from app.access.stats_view import stats_rows, trend_chart
from app.patients.service import get_patient, search_patients
from app.platform.csv_export import spreadsheet_csv
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.htmx import fragment_response, mutation_response, wants_fragment
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required

bp = Blueprint("access", __name__, url_prefix="/access")

LOG_PAGE_SIZE = 50


def _desk_locations():
    """The practice's locations that have a provider enabled (the desk can only check in there)."""
    enabled = enabled_by_location(current_user.practice_id)
    return [location for location in practice_locations(current_user.practice_id) if location.id in enabled]


def _render_desk(form, outcome=None, status=200, error=None, message=None, linked=None):
    """The desk region (#checkin-desk): the scan form with a fresh, focused input, the result card of ``outcome``
    (with the membership just ``linked``, if any) and an ``error`` or ``message`` line above it."""
    location = get_location(current_user.practice_id, form.location_id.data) if form.location_id.data else None
    row = outcome.checkin if outcome else None
    linkable = bool(row and row.provider and row.external_id and row.decision not in NOT_LINKABLE)
    context = {"form": form, "outcome": outcome, "error": error, "message": message, "linked": linked,
               "linkable": linkable, "link_form": LinkForm(formdata=None),
               "override_form": OverrideForm(formdata=None), "reasons": REASONS,
               "recent": recent_checkins(current_user.practice_id, location.id) if location else [],
               "provider_label": adapters.provider_label}
    if wants_fragment("checkin-desk"):
        return fragment_response(render_template("access/_desk.html", **context), status=status)
    return render_template("access/checkin.html", **context), status


def _scan_form(formdata=None):
    """The scan form with the desk's locations as choices; the code is always blank again."""
    form = ScanForm(formdata=formdata)
    locations = _desk_locations()
    form.location_id.choices = [SelectChoice(location.id, location.name) for location in locations]
    if form.location_id.data is None and locations:
        form.location_id.data = request.args.get("location", type=int) or locations[0].id
    return form


@bp.get("/checkin")
@permission_required("access.validate")
def checkin():
    """Page: the check-in desk (a scanner types the code and Enter into the focused field)."""
    return _render_desk(_scan_form())


@bp.get("/sandbox-codes")
@permission_required("access.validate")
def sandbox_codes():
    """Page: the codes of the sandbox fakes' demo members, to try the desk (404 outside the sandbox)."""
    if not current_app.config.get("HUB_SANDBOX"):
        abort(404)
    return render_template("access/sandbox_codes.html", codes=DEMO_CODES)


@bp.post("/checkin")
@permission_required("access.validate")
def scan():
    """Fragment #checkin-desk (or the page): decide on the scanned code and show the result card."""
    form = _scan_form(request.form)
    if not form.validate():
        return _render_desk(form, status=422)
    location = get_location(current_user.practice_id, form.location_id.data) or abort(404)
    outcome = check_in(current_actor(), location, form.code.data, device=form.device.data)
    form.code.data = ""
    return _render_desk(form, outcome)


def _checkin_or_404(checkin_id):
    """The practice's check-in, else 404."""
    return get_checkin(current_user.practice_id, checkin_id) or abort(404)


@bp.post("/checkins/<int:checkin_id>/override")
@permission_required("access.validate")
def override_checkin(checkin_id):
    """Fragment #checkin-desk: staff let the person in, turn them away, or confirm a grant (audited)."""
    original = _checkin_or_404(checkin_id)
    form = _scan_form(formdata=None)
    form.location_id.data = original.location_id
    overridden = OverrideForm(request.form)
    try:
        row = override(current_actor(), original, overridden.override.data, overridden.reason.data)
    except ServiceError as error:
        return _render_desk(form, CheckinOutcome(original), status=422, error=error.message)
    return _render_desk(form, CheckinOutcome(row))


@bp.post("/checkins/<int:checkin_id>/link")
@permission_required("access.validate")
def link(checkin_id):
    """Fragment #checkin-desk: link the member just validated to the confirmed person (audited)."""
    original = _checkin_or_404(checkin_id)
    form = _scan_form(formdata=None)
    form.location_id.data = original.location_id
    linked = LinkForm(request.form)
    patient_id = int(linked.patient_id.data) if (linked.patient_id.data or "").isdigit() else None
    try:
        membership = link_from_checkin(current_actor(), original, patient_id=patient_id,
                                       member_name=linked.member_name.data)
    except ServiceError as error:
        return _render_desk(form, CheckinOutcome(original), status=422, error=error.message)
    return _render_desk(form, CheckinOutcome(original), linked=membership,
                        message=_("Membership linked to %(name)s.", name=membership.person_name))


@bp.get("/patients")
@permission_required("access.validate")
def patient_options():
    """Fragment #link-patient-options: the first patients matching ``q``, as the options of the link form."""
    patients = search_patients(current_user, request.args.get("q", "")[:100]).page(10).items
    return render_template("access/_patient_options.html", patients=patients)


@bp.get("/log")
@permission_required("access.validate")
def log():
    """Page: the check-in log with filters and paging; the #checkin-log fragment for htmx."""
    locations = practice_locations(current_user.practice_id)
    form = LogFilterForm(request.args, locations=locations, decision_labels=REASONS)
    filters = None
    if form.validate():
        filters = {key: form[key].data for key in ("location", "provider", "decision", "date_from", "date_to")}
    page = checkin_page(current_user.practice, filters, LOG_PAGE_SIZE)
    args = {key: value for key, value in request.args.items() if key != "page"}
    context = {"form": form, "page": page, "args": args, "reasons": REASONS,
               "provider_label": adapters.provider_label}
    if wants_fragment("checkin-log"):
        return render_template("access/_log.html", **context)
    return render_template("access/log.html", **context)


@bp.get("/stats")
@permission_required("access.stats")
def stats():
    """Page: check-in statistics per provider and location, with the 30-day trend."""
    groups, days = access_stats(current_user.practice, utcnow())
    return render_template("access/stats.html", groups=groups, days=days, reasons=REASONS,
                           provider_label=adapters.provider_label, chart=trend_chart, format_percent=format_percent)


@bp.get("/stats.csv")
@permission_required("access.stats")
def stats_csv():
    """CSV download of the statistics (one row per provider and location)."""
    groups, _days = access_stats(current_user.practice, utcnow())
    body = spreadsheet_csv(stats_rows(groups, REASONS, adapters.provider_label))
    return Response(body.encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=check-in-statistik.csv"})


@bp.get("/settings")
@permission_required("access.manage")
def settings():
    """Page: the access providers of every location, one settings form per location and provider."""
    locations = practice_locations(current_user.practice_id)
    cards = [(location, _provider_cards(location)) for location in locations]
    return render_template("access/settings.html", cards=cards, provider_label=adapters.provider_label,
                           default_url=_default_url)


def _default_url(name):
    """The provider's production API address, shown as the placeholder of an empty address field."""
    return adapters.adapter(name).DEFAULT_BASE_URL


def _provider_cards(location, posted=None):
    """(provider name, its form, its stored config or None) for every provider at ``location``; ``posted`` is the
    (provider, bound form) just submitted."""
    configs = location_providers(location)
    cards = []
    for name in adapters.provider_names():
        config = configs.get(name)
        if posted and posted[0] == name:
            form = posted[1]
        else:
            data = {"active": True} if config is None else {**(config.settings or {}), "active": config.active}
            form = provider_form_class(name)(formdata=None, obj=config, data=data,
                                             prefix=f"p{location.id}-{name}")
        cards.append((name, form, config))
    return cards


@bp.post("/settings/<int:location_id>/<provider>")
@permission_required("access.manage")
def save_settings(location_id, provider):
    """Fragment #provider-<location>-<provider> (or a redirect): enable or change a provider at a location."""
    location = get_location(current_user.practice_id, location_id) or abort(404)
    if provider not in adapters.ACCESS_PROVIDERS:
        abort(404)
    form = provider_form_class(provider)(request.form, prefix=f"p{location.id}-{provider}")
    target = f"provider-{location.id}-{provider}"
    if form.validate():
        try:
            config = save_provider(current_actor(), location, provider, form.data)
        except ServiceError as error:
            if error.field in form:
                form[error.field].errors.append(error.message)
            else:
                form.form_errors.append(error.message)
        else:
            return mutation_response(lambda: _render_card(location, provider, config, None), _("Saved."),
                                     redirect_to=url_for("access.settings"), target=target)
    return _render_card(location, provider, location_providers(location).get(provider), form), 422


def _render_card(location, provider, config, form):
    """One provider card of the settings page."""
    form = form or provider_form_class(provider)(formdata=None, obj=config,
                                                 data={**(config.settings or {}), "active": config.active},
                                                 prefix=f"p{location.id}-{provider}")
    return render_template("access/_provider_card.html", location=location, name=provider, form=form,
                           config=config, label=adapters.provider_label(provider), default_url=_default_url)


@bp.post("/memberships/<int:membership_id>/unlink")
@permission_required("access.validate")
def unlink(membership_id):
    """Fragment #patient-memberships (or a redirect): end a membership's link (audited)."""
    membership = get_membership(current_user.practice_id, membership_id) or abort(404)
    patient = get_patient(current_user, membership.patient_id) if membership.patient_id else None
    if membership.patient_id and patient is None:
        abort(404)
    unlink_membership(current_actor(), membership)
    redirect_to = url_for("patients.detail", patient_id=patient.id, tab="mitgliedschaften") if patient else \
        url_for("access.log")
    return mutation_response(lambda: render_template("access/_patient_memberships.html", patient=patient,
                                                     memberships=patient_memberships(patient) if patient else []),
                             _("Membership unlinked."), redirect_to=redirect_to)
