"""Patients: list with active search, the record with tabs (appointments, calls), create, edit, archive, restore,
the booking link, and the patient's personal "Meine Termine" links."""

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from app.accounts.service import practice_therapists
from app.patients.fields import phone_needs_check, validate_patient_fields
from app.patients.forms import BookingLinkForm, PatientForm
from app.patients.links import create_link, link_status, link_token, patient_links, revoke_link, send_link_mail
from app.patients.reviews.models import PENDING, PatientReview
from app.patients.reviews.service import SOURCE_LABELS
from app.patients.service import (
    PatientValidationError,
    archive_patient,
    create_patient,
    get_patient,
    link_booking,
    record_view,
    restore_patient,
    search_patients,
    unlink_booking,
    update_patient,
)
from app.patients.tabs import patient_tab
from app.platform.audit.history import patient_history
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.formatting import date_input_value, typed_date_as_iso
from app.platform.htmx import hx_trigger, mutation_response, redirect_response, validate_attrs, wants_fragment
from app.platform.mail.models import HELD
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required
from app.platform.security.permissions import OWN, permission_scope

bp = Blueprint("patients", __name__, url_prefix="/patients")

TABS = ("stammdaten", "termine", "anrufe", "mitgliedschaften", "verlauf")
INLINE_FIELDS = ("first_name", "last_name", "email", "phone", "birth_date")


@bp.context_processor
def _helpers():
    """``validate_attrs(name)``: htmx attributes that validate a patient field when it is left;
    ``access_link_url(link)`` and ``link_status(link, now)`` for the "Meine Termine" links."""

    def access_link_url(link):
        return url_for("portal.show", token=link_token(link), _external=True)

    return {"validate_attrs": lambda name: validate_attrs(url_for("patients.validate_field", field=name), "focusout"),
            "TABS": TABS, "access_link_url": access_link_url,
            "link_status": link_status}


def _patient_or_404(patient_id):
    """A patient the current user may read; anything else is 404 so ids cannot be probed."""
    patient = get_patient(current_user, patient_id)
    if patient is None:
        abort(404)
    return patient


def _list_args():
    """The list's query parameters: search text, archived filter, sort, direction, page."""
    args = request.args
    return {
        "q": args.get("q", "").strip()[:200],
        "archived": args.get("archived") == "1",
        "sort": args.get("sort", "name"),
        "desc": args.get("desc") == "1",
    }


def _pending_reviews(patient_ids):
    """{patient id: its pending PatientReview} for those of ``patient_ids`` that a sync or webhook created and that
    wait on the review list ("Zu prüfen"): one query for a whole page of the list."""
    if not patient_ids:
        return {}
    reviews = db.session.scalars(select(PatientReview).where(
        PatientReview.practice_id == current_user.practice_id, PatientReview.status == PENDING,
        PatientReview.patient_id.in_(patient_ids)))
    return {review.patient_id: review for review in reviews}


@bp.get("/")
@permission_required("patients.read")
def index():
    """Page (or #patients-table fragment for the active search): patients, searched, sorted and paged; the ones
    waiting on the review list are marked."""
    filters = _list_args()
    search = search_patients(current_user, filters["q"], filters["archived"], filters["sort"], filters["desc"])
    page = search.page(current_app.config["PATIENTS_PAGE_SIZE"], current_app.config["PATIENTS_SEARCH_COUNT_LIMIT"])
    context = {"page": page, "filters": filters, "pending_reviews": _pending_reviews([p.id for p in page.items]),
               "own_only": permission_scope(current_user, "patients.read") == OWN}
    if wants_fragment("patients-table"):
        return render_template("patients/_table.html", **context)
    return render_template("patients/index.html", **context)


def _therapist_choices(form):
    """Fill the therapist select with the practice's therapists."""
    form.therapist_id.choices = [SelectChoice("", _("No therapist"))] + [
        SelectChoice(str(t.id), t.name) for t in practice_therapists(current_user.practice_id)
    ]


def _form_data(form):
    """The raw patient fields of a submitted form, for the shared validation; a birth date typed as the language
    writes dates (MM/DD/YYYY in English) goes on as YYYY-MM-DD, anything else as typed for the shared rules."""
    data = {name: getattr(form, name).data for name in INLINE_FIELDS}
    data["birth_date"] = typed_date_as_iso(data["birth_date"])
    return data


def _therapist_id(form):
    return int(form.therapist_id.data) if form.therapist_id.data else None


def _duplicate_reason(form):
    """The reason given with "create/save anyway" ("" when the button was pressed without one), or None when the
    form was submitted the ordinary way (likely duplicates then stop it)."""
    return (form.duplicate_reason.data or "") if form.save_anyway.data else None


def _show_errors(form, error):
    """Put service errors next to their fields (unknown fields go to the first field)."""
    errors = error.errors if isinstance(error, PatientValidationError) else {error.field or "first_name": error.message}
    for name, message in errors.items():
        getattr(form, name, form.first_name).errors.append(message)


@bp.route("/new", methods=["GET", "POST"])
@permission_required("patients.write")
def new():
    """Page: create a patient; on success go to the new record (303). Likely duplicates stop it (422) and are
    listed in the form (#patient-duplicates) with "open" and "create anyway" with a reason."""
    form = PatientForm()
    _therapist_choices(form)
    duplicates = []
    if form.validate_on_submit():
        try:
            patient = create_patient(current_actor(), current_user.practice, _form_data(form), _therapist_id(form),
                                     check_duplicates=True, duplicate_reason=_duplicate_reason(form))
        except ServiceError as error:
            db.session.rollback()
            duplicates = getattr(error, "duplicates", [])
            _show_errors(form, error)
        else:
            return redirect(url_for("patients.detail", patient_id=patient.id), code=303)
    return render_template("patients/new.html", form=form, duplicates=duplicates), 422 if form.errors else 200


@bp.post("/validate/<field>")
@permission_required("patients.write")
def validate_field(field):
    """Fragment #field-<name>: one patient field checked with the shared rules as it is left."""
    if field not in INLINE_FIELDS:
        abort(404)
    form = PatientForm()
    result = validate_patient_fields({field: _form_data(form)[field]}, country=current_user.practice.country,
                                     partial=True)
    bound = getattr(form, field)
    bound.errors = [result.errors[field]] if field in result.errors else []
    if field == "phone" and phone_needs_check(result.values.get("phone")):
        # Not an error (the patient is saved all the same), but the front desk should know before saving.
        bound.description = _("Not a complete phone number: it is saved as typed and marked “Check phone number”.")
    response = make_response(render_template("patients/_field.html", field=bound), 422 if bound.errors else 200)
    # The form's duplicate panel (#patient-duplicates) listens for this and checks the record again: once per
    # field left, not on every key, and never when only the reason field changes.
    return hx_trigger(response, "patient-field-checked")


@bp.get("/<int:patient_id>", defaults={"tab": "stammdaten"})
@bp.get("/<int:patient_id>/<any(stammdaten, termine, anrufe, mitgliedschaften, verlauf):tab>")
@permission_required("patients.read")
def detail(patient_id, tab):
    """Page: the patient record with its tabs; the #patient-tab fragment when htmx switches tabs. Opening the
    record (the full page) is audited as patient.view. A patient waiting on the review list gets a banner."""
    patient = _patient_or_404(patient_id)
    context = {"patient": patient, "tab": tab, "link_form": BookingLinkForm(formdata=None, obj=patient)}
    if tab == "verlauf":
        context["changes_only"] = request.args.get("nur") == "aenderungen"
        context["history"] = patient_history(patient, changes_only=context["changes_only"])
    elif (registered := patient_tab(tab)) is not None:
        context.update(registered.context(patient))
        if registered.fragment and wants_fragment(registered.fragment[0]):
            return render_template(registered.fragment[1], **context)
    if wants_fragment("patient-tab"):
        return render_template("patients/_tab.html", **context)
    record_view(current_actor(), patient)
    return render_template("patients/detail.html", review=_pending_reviews([patient.id]).get(patient.id),
                           review_sources=SOURCE_LABELS, **context)


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
@permission_required("patients.write")
def edit(patient_id):
    """Page: edit a patient's master data; back to the record (303) when saved."""
    patient = _patient_or_404(patient_id)
    form = PatientForm(obj=patient, therapist_id=str(patient.therapist_id or ""))
    if not form.is_submitted():  # the stored date as the language writes it (``obj`` would give YYYY-MM-DD)
        form.birth_date.data = date_input_value(patient.birth_date)
    _therapist_choices(form)
    duplicates = []
    if form.validate_on_submit():
        try:
            update_patient(current_actor(), patient, _form_data(form), therapist_id=_therapist_id(form),
                           check_duplicates=True, duplicate_reason=_duplicate_reason(form))
        except ServiceError as error:
            db.session.rollback()
            duplicates = getattr(error, "duplicates", [])
            _show_errors(form, error)
        else:
            return redirect(url_for("patients.detail", patient_id=patient.id), code=303)
    return (render_template("patients/edit.html", form=form, patient=patient, duplicates=duplicates),
            422 if form.errors else 200)


@bp.post("/<int:patient_id>/archive")
@permission_required("patients.write")
def archive(patient_id):
    """Archive a patient (links to external systems removed) and show the archived record (303)."""
    patient = _patient_or_404(patient_id)
    archive_patient(current_actor(), patient)
    return redirect_response(url_for("patients.detail", patient_id=patient.id),
                             _("%(name)s has been archived.", name=patient.full_name))


@bp.post("/<int:patient_id>/restore")
@permission_required("patients.restore")
def restore(patient_id):
    """Restore an archived patient (admin) and show the record (303); a merged record stays archived."""
    patient = _patient_or_404(patient_id)
    try:
        restore_patient(current_actor(), patient)
    except ServiceError as error:
        return redirect_response(url_for("patients.detail", patient_id=patient.id), error.message, level="error")
    return redirect_response(url_for("patients.detail", patient_id=patient.id),
                             _("%(name)s has been restored.", name=patient.full_name))


@bp.post("/<int:patient_id>/link")
@permission_required("patients.link")
def link(patient_id):
    """Fragment #patient-tab (Stammdaten): link the patient to a booking-tool id; 422 with the reason otherwise."""
    patient = _patient_or_404(patient_id)
    form = BookingLinkForm()
    status, message = 200, None
    if form.validate_on_submit():
        try:
            link_booking(current_actor(), patient, form.booking_system_id.data, form.booking_email.data)
            form, message = BookingLinkForm(formdata=None, obj=patient), _("Linked to the booking tool.")
        except ServiceError as error:
            db.session.rollback()
            getattr(form, error.field or "booking_system_id").errors.append(error.message)
            status = 422
    return _tab_response(patient, form, status, message)


@bp.post("/<int:patient_id>/unlink")
@permission_required("patients.link")
def unlink(patient_id):
    """Fragment #patient-tab (Stammdaten): remove the booking-tool link."""
    patient = _patient_or_404(patient_id)
    unlink_booking(current_actor(), patient)
    form = BookingLinkForm(formdata=None, obj=patient)
    return _tab_response(patient, form, 200, _("Link to the booking tool removed."))


@bp.post("/<int:patient_id>/meine-termine")
@permission_required("appointments.book")
def create_access_link(patient_id):
    """Fragment #patient-links: create a personal "Meine Termine" link for the patient and list it to copy."""
    patient = _patient_or_404(patient_id)
    try:
        link = create_link(current_actor(), patient, utcnow())
    except ServiceError as error:
        db.session.rollback()
        return _links_response(patient, error.message, level="error", status=422)
    return _links_response(patient, _("Link created. It is valid until %(date)s.",
                                      date=format_datetime(link.expires_at, "short")), new_link_id=link.id)


@bp.post("/<int:patient_id>/meine-termine/revoke")
@permission_required("appointments.book")
def revoke_access_link(patient_id):
    """Fragment #patient-links: revoke one of the patient's links (``link_id`` in the form); it stops working."""
    patient = _patient_or_404(patient_id)
    try:
        link_id = int(request.form.get("link_id", ""))
    except ValueError:
        abort(404)
    if revoke_link(current_actor(), patient, link_id, utcnow()) is None:
        abort(404)
    return _links_response(patient, _("Link revoked. It no longer opens the appointments."))


@bp.post("/<int:patient_id>/meine-termine/send")
@permission_required("appointments.book")
def mail_access_link(patient_id):
    """Fragment #patient-links: e-mail one of the patient's links (``link_id`` in the form) to the patient."""
    patient = _patient_or_404(patient_id)
    try:
        mail = send_link_mail(current_actor(), patient, int(request.form.get("link_id", "")), utcnow())
    except ValueError:
        abort(404)
    except ServiceError as error:
        return _links_response(patient, error.message, level="error", status=422)
    if mail is None:
        abort(404)
    return _links_response(patient, _("The link was e-mailed to %(email)s.", email=mail.recipient)
                           if mail.status != HELD else _("The e-mail waits in the outbox (no mail server is set up)."))


def _links_response(patient, message, level="success", status=200, new_link_id=None):
    """The #patient-links fragment with a toast for htmx, else back to the Termine tab (303) with a flash."""
    return mutation_response(
        lambda: render_template("patients/_links.html", patient=patient, access_links=patient_links(patient),
                                new_link_id=new_link_id, now=utcnow()),
        message, level=level, status=status,
        redirect_to=url_for("patients.detail", patient_id=patient.id, tab="termine"))


def _tab_response(patient, link_form, status, message):
    """The Stammdaten tab for htmx (with a toast), else a redirect to the record (with a flash)."""
    return mutation_response(
        lambda: render_template("patients/_tab.html", patient=patient, tab="stammdaten", link_form=link_form),
        message, status=status, redirect_to=url_for("patients.detail", patient_id=patient.id))
