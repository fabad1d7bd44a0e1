"""The calls inbox (front desk and admins, ``calls.manage``): the list, one call with its assignment, a new patient
from the caller's number, done and open again."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from app.accounts.service import practice_therapists
from app.appointments.calls.forms import CallAssignForm
from app.appointments.calls.service import (
    FILTER_LABELS,
    FILTERS,
    SENTIMENT_BADGES,
    assign_call,
    assign_new_patient,
    caller_number,
    find_patients,
    get_call,
    inbox_page,
    mark_done,
    new_patient_fields,
    open_count,
    reopen,
)
from app.appointments.reading import practice_zone
from app.patients.forms import PatientForm
from app.patients.service import PatientValidationError, get_patient
from app.platform.errors import ServiceError
from app.platform.htmx import fragment_response, wants_fragment
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required
from app.platform.security.permissions import has_permission
from app.platform.templating import nav_count_id

bp = Blueprint("calls", __name__, url_prefix="/calls")

PAGE_SIZE = 50
SEARCH_RESULTS = 10
PATIENT_FIELDS = ("first_name", "last_name", "email", "phone", "birth_date")


@bp.context_processor
def _helpers():
    """What every calls template uses: the practice's zone, the caller's number and the sentiment badges."""
    return {"zone": practice_zone(current_user.practice), "caller_number": caller_number,
            "sentiment_badges": SENTIMENT_BADGES, "filter_labels": FILTER_LABELS}


def _call_or_404(call_id):
    """The current practice's call; another practice's id is 404 like an unknown one."""
    call = get_call(current_user.practice_id, call_id)
    if call is None:
        abort(404)
    return call


def _show():
    """The inbox filter of the request (form or query), "all" when missing or unknown."""
    show = request.values.get("show", "all")
    return show if show in FILTERS else "all"


def _inbox_context(show):
    """The inbox's page under filter ``show``."""
    return {"page": inbox_page(current_user.practice_id, show, PAGE_SIZE), "show": show, "filters": FILTERS}


@bp.get("/")
@permission_required("calls.manage")
def index():
    """Page (or the #calls-inbox fragment when the filter changes): the practice's calls, newest first."""
    context = _inbox_context(_show())
    if wants_fragment("calls-inbox"):
        return render_template("calls/_inbox.html", **context)
    return render_template("calls/index.html", **context)


@bp.get("/<int:call_id>")
@permission_required("calls.manage")
def detail(call_id):
    """Page: one call with its summary and how to assign it to a patient."""
    call = _call_or_404(call_id)
    return render_template("calls/detail.html", call=call, form=CallAssignForm(), query="", results=None)


@bp.get("/<int:call_id>/patients")
@permission_required("calls.manage")
def search(call_id):
    """Fragment #call-patient-results (or the call page without JavaScript): patients matching ``?q=`` to assign
    the call to."""
    call = _call_or_404(call_id)
    query = request.args.get("q", "").strip()[:200]
    results = find_patients(current_user, query, SEARCH_RESULTS) if query else None
    if wants_fragment("call-patient-results"):
        return render_template("calls/_patient_results.html", call=call, query=query, results=results)
    return render_template("calls/detail.html", call=call, form=CallAssignForm(), query=query, results=results)


@bp.post("/<int:call_id>/assign")
@permission_required("calls.manage")
def assign(call_id):
    """Assign the call to the chosen patient; back to the call's page (303)."""
    call = _call_or_404(call_id)
    form = CallAssignForm()
    patient = get_patient(current_user, form.patient_id.data) if form.validate_on_submit() else None
    if patient is None or patient.archived_at is not None:
        flash(_("Please choose a patient from the search results."), "error")
        return redirect(url_for("calls.detail", call_id=call.id), code=303)
    assign_call(current_actor(), call, patient)
    flash(_("The call is now assigned to %(name)s.", name=patient.full_name), "success")
    return redirect(url_for("calls.detail", call_id=call.id), code=303)


@bp.route("/<int:call_id>/patient/new", methods=["GET", "POST"])
@permission_required("calls.manage")
def new_patient(call_id):
    """Page: a new patient for the call, prefilled with the caller's number; on success the call is assigned to
    them and the call's page shown (303)."""
    if not has_permission(current_user, "patients.write"):
        abort(403)
    call = _call_or_404(call_id)
    form = PatientForm(data=new_patient_fields(call, current_user.practice) if request.method == "GET" else None)
    form.therapist_id.choices = [SelectChoice("", _("No therapist"))] + [
        SelectChoice(str(therapist.id), therapist.name) for therapist in practice_therapists(current_user.practice_id)]
    if form.validate_on_submit():
        data = {name: getattr(form, name).data for name in PATIENT_FIELDS}
        therapist_id = int(form.therapist_id.data) if form.therapist_id.data else None
        try:
            patient = assign_new_patient(current_actor(), current_user.practice, call, data, therapist_id)
        except ServiceError as error:
            errors = error.errors if isinstance(error, PatientValidationError) else {error.field: error.message}
            for name, message in errors.items():
                getattr(form, name or "first_name", form.first_name).errors.append(message)
        else:
            flash(_("%(name)s was created and the call assigned to them.", name=patient.full_name), "success")
            return redirect(url_for("calls.detail", call_id=call.id), code=303)
    return render_template("calls/new_patient.html", call=call, form=form), 422 if form.errors else 200


def _after_change(call, message):
    """The answer to done / open again: from the inbox (htmx), the inbox under its filter with the navigation's
    count swapped out of band; otherwise back to where the button was (303) with the message flashed."""
    if wants_fragment("calls-inbox"):
        nav_item = {"count_id": nav_count_id("calls.index"), "count": open_count(current_user)}
        body = render_template("calls/_inbox.html", **_inbox_context(_show())) + render_template(
            "_partials/_nav_count.html", item=nav_item, oob=True)
        return fragment_response(body, message, events=("calls-changed",))
    flash(message, "success")
    target = url_for("calls.detail", call_id=call.id) if request.form.get("from") == "detail" else \
        url_for("calls.index", show=_show())
    return redirect(target, code=303)


@bp.post("/<int:call_id>/done")
@permission_required("calls.manage")
def done(call_id):
    """Mark the call done (who and when are kept); the inbox fragment, or a redirect."""
    call = mark_done(current_actor(), _call_or_404(call_id))
    return _after_change(call, _("Call marked done."))


@bp.post("/<int:call_id>/reopen")
@permission_required("calls.manage")
def reopen_call(call_id):
    """Open a done call again; the inbox fragment, or a redirect."""
    call = reopen(current_actor(), _call_or_404(call_id))
    return _after_change(call, _("The call is open again."))
