"""Views of the patients blueprint for two records of one person: the likely duplicates shown in the create and
edit forms while the front desk types, merging two records (admins: pick, preview, confirm) and undoing a merge
(admins: preview, confirm, see what went back)."""

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.patients.duplicates import find_duplicates
from app.patients.fields import validate_patient_fields
from app.patients.forms import MergeChoiceForm, MergeConfirmForm, PatientForm
from app.patients.merge import merge_patients, plan_merge
from app.patients.routes import INLINE_FIELDS, bp
from app.patients.service import IDENTIFYING_FIELDS, get_patient
from app.patients.unmerge import latest_unmerge, plan_unmerge, unmerge_patients
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.htmx import redirect_response, wants_fragment
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required


def _readable_or_404(patient_id):
    """A patient the current user may read; anything else is 404 so ids cannot be probed."""
    patient = get_patient(current_user, patient_id)
    if patient is None:
        abort(404)
    return patient


@bp.post("/duplicates", defaults={"patient_id": None})
@bp.post("/<int:patient_id>/duplicates")
@permission_required("patients.write")
def duplicates(patient_id):
    """Fragment: the contents of #patient-duplicates, the likely duplicates of the patient typed so far into the
    create form (or, with ``patient_id``, the edit form of that record: only once an identifying field differs from
    it)."""
    patient = _readable_or_404(patient_id) if patient_id is not None else None
    form = PatientForm()
    result = validate_patient_fields({name: getattr(form, name).data for name in INLINE_FIELDS},
                                     country=current_user.practice.country, partial=True)
    values = {name: value for name, value in result.values.items() if name not in result.errors}
    found = []
    if patient is None or any(values.get(name) != getattr(patient, name) for name in IDENTIFYING_FIELDS):
        found = find_duplicates(current_user.practice_id, values, patient.id if patient else None)
    return render_template("patients/_duplicates_found.html", form=form, duplicates=found, patient=patient)


def _identifying_values(patient):
    """A stored patient's fields as the duplicate rules read them."""
    return {name: getattr(patient, name) for name in IDENTIFYING_FIELDS}


@bp.get("/<int:patient_id>/merge")
@permission_required("patients.merge")
def merge(patient_id):
    """Page (or the #merge-preview fragment): merge this record with another, chosen by number or from its likely
    duplicates, keeping either; once chosen, the preview of what moves and the button that confirms it."""
    patient = _readable_or_404(patient_id)
    form = MergeChoiceForm(formdata=request.args if "other_id" in request.args else None)
    plan = None
    if "other_id" in request.args and form.validate():
        other = get_patient(current_user, form.other_id.data)
        if other is None:
            form.other_id.errors.append(_("There is no record with this number."))
        else:
            survivor, duplicate = (patient, other) if form.keep.data == "this" else (other, patient)
            plan = plan_merge(survivor, duplicate)
    confirm = MergeConfirmForm(formdata=None, survivor_id=plan.survivor.id, duplicate_id=plan.duplicate.id) \
        if plan is not None else None
    context = {"patient": patient, "form": form, "plan": plan, "confirm_form": confirm,
               "candidates": find_duplicates(patient.practice_id, _identifying_values(patient), patient.id)}
    status = 422 if form.errors else 200
    if wants_fragment("merge-preview"):
        return render_template("patients/_merge_preview.html", **context), status
    return render_template("patients/merge.html", **context), status


def _posted_id(value):
    """A record number from the confirm form; anything else is 404."""
    try:
        return int(value)
    except (TypeError, ValueError):
        abort(404)


@bp.post("/merge")
@permission_required("patients.merge")
def merge_confirm():
    """Merge the previewed pair and go to the record that stays (303, or HX-Redirect); when it cannot be merged
    (anymore), back to the preview with the reason."""
    form = MergeConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    survivor = _readable_or_404(_posted_id(form.survivor_id.data))
    duplicate = _readable_or_404(_posted_id(form.duplicate_id.data))
    try:
        merge_patients(current_actor(), survivor, duplicate)
    except ServiceError as error:
        db.session.rollback()
        return redirect_response(url_for("patients.merge", patient_id=survivor.id, other_id=duplicate.id),
                                 error.message, level="error")
    return redirect_response(url_for("patients.detail", patient_id=survivor.id),
                             _("The records have been merged. %(name)s (no. %(id)d) is archived.",
                               name=duplicate.full_name, id=duplicate.id))


@bp.get("/<int:patient_id>/merge/undo")
@permission_required("patients.merge")
def merge_undo(patient_id):
    """Page: undoing the merge of this (merged) record, with what goes back, what stays and the button that
    confirms it; once undone, what went back and what could not (from its audit entry); 404 for a record never
    merged."""
    patient = _readable_or_404(patient_id)
    if patient.merged_into_id is not None:
        return render_template("patients/merge_undo.html", patient=patient, plan=plan_unmerge(patient), done=False)
    outcome = latest_unmerge(patient)
    if outcome is None:
        abort(404)
    return render_template("patients/merge_undo.html", patient=patient, plan=outcome, done=True)


@bp.post("/<int:patient_id>/merge/undo")
@permission_required("patients.merge")
def merge_undo_confirm(patient_id):
    """Undo the merge of this record and show what went back (303, or HX-Redirect, to the undo page); when it
    cannot be undone (anymore), back to the record with the reason."""
    patient = _readable_or_404(patient_id)
    try:
        unmerge_patients(current_actor(), patient)
    except ServiceError as error:
        db.session.rollback()
        return redirect_response(url_for("patients.detail", patient_id=patient.id), error.message, level="error")
    return redirect_response(url_for("patients.merge_undo", patient_id=patient.id),
                             _("The merge has been undone. %(name)s (no. %(id)d) is a record of its own again.",
                               name=patient.full_name, id=patient.id))
