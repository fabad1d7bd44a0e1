"""Patient import from the booking tool's CSV export: upload, column mapping and dry-run report, resolution of
flagged rows, the background commit with a progress bar, and the report with its problem rows as CSV."""

from datetime import date

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField

from app.patients.fields import PATIENT_FIELDS
from app.patients.forms import ImportQueueForm, ImportUploadForm
from app.patients.importing.decode import format_size
from app.patients.importing.fix import RowFixError, decided_counts, fix_invalid_row, fixable_fields, row_cells
from app.patients.importing.queries import job_row, practice_job, recent_imports, session_job
from app.patients.importing.report import plan_problem_rows, problem_rows_csv, row_state_labels, unresolved_count
from app.patients.importing.samples import column_samples
from app.patients.importing.service import create_csv_import, preview_import, queue_import, resolve_flagged_row
from app.patients.routes import bp
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.htmx import fragment_response, redirect_response, wants_fragment
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required, session_data, session_read

PROBLEM_ROWS_SHOWN = 200
RECENT_IMPORTS = 20


def field_labels():
    """Translated labels of the importable fields."""
    return {
        "first_name": _("First name"), "last_name": _("Last name"), "email": _("Email"), "phone": _("Phone"),
        "birth_date": _("Birth date"), "booking_system_id": _("Booking tool patient id"),
    }


def mapping_form(job, formdata=None):
    """A form with one column choice per patient field, preset with the job's mapping."""
    labels = field_labels()
    choices = [SelectChoice("", _("— not imported —"))] + [SelectChoice(h, h) for h in job.headers]

    class MappingForm(FlaskForm):
        pass

    for name in PATIENT_FIELDS:
        setattr(MappingForm, name, SelectField(labels[name], choices=choices, default=job.mapping.get(name) or ""))
    return MappingForm(formdata=formdata)


def _job_or_404(job_id):
    """An import of the current practice; 404 for a missing one and for another practice's."""
    job = practice_job(current_user.practice_id, job_id)
    if job is None:
        abort(404)
    return job


def _imports_page(form, status=200):
    """The upload page with the practice's recent imports."""
    recent = recent_imports(current_user.practice_id, RECENT_IMPORTS)
    max_size = format_size(current_app.config["PATIENT_IMPORT_MAX_BYTES"])
    return render_template("patients/imports.html", form=form, recent=recent, max_size=max_size), status


@bp.context_processor
def _import_helpers():
    """``row_state_labels()`` for the import's counts and rows, and ``import_date(iso)``: a row's stored birth date
    as people write it (TT.MM.JJJJ in German), on the patients blueprint the import views share."""
    return {"row_state_labels": row_state_labels, "import_date": import_date}


def import_date(value):
    """A stored ISO date (``data["birth_date"]``) in the user's format; anything else as it is."""
    try:
        return format_date(date.fromisoformat(value), "medium") if value else ""
    except (TypeError, ValueError):
        return value


def _counts(job):
    """The counts the page shows: while previewed, as the decisions stand (they follow every decision and fix);
    afterwards the stored final counts."""
    return decided_counts(job) if job.status == "previewed" else dict(job.counts or {})


@bp.get("/import")
@permission_required("patients.import")
def imports():
    """Page: upload a CSV export and see the recent imports."""
    return _imports_page(ImportUploadForm())


@bp.post("/import")
@permission_required("patients.import")
def upload():
    """Store an uploaded file and go to its column mapping (303); 422 with the reason when the file is unusable."""
    form = ImportUploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            job = create_csv_import(current_actor(), upload.filename or "upload.csv", upload.read())
        except ServiceError as error:
            form.file.errors.append(error.message)
        else:
            return redirect(url_for("patients.import_detail", job_id=job.id), code=303)
    return _imports_page(form, 422)


@bp.route("/import/<int:job_id>", methods=["GET", "POST"])
@permission_required("patients.import")
def import_detail(job_id):
    """Page: the column mapping and, once previewed, the dry-run report with flagged and invalid rows; after the
    start, the progress and the final report."""
    job = _job_or_404(job_id)
    samples = column_samples(job.content) if job.status in ("uploaded", "previewed") else {}
    form = mapping_form(job, request.form if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        mapping = {name: getattr(form, name).data or None for name in PATIENT_FIELDS}
        try:
            preview_import(current_actor(), job, mapping)
        except ServiceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
            status = 422
        else:
            return redirect(url_for("patients.import_detail", job_id=job.id), code=303)
    elif request.method == "POST":
        status = 422
    return render_template("patients/import_detail.html", job=job, form=form, samples=samples,
                           rows=plan_problem_rows(job, PROBLEM_ROWS_SHOWN), unresolved=unresolved_count(job),
                           counts=_counts(job), queue_form=ImportQueueForm(formdata=None),
                           labels=field_labels()), status


@bp.post("/import/<int:job_id>/rows/<int:row_id>/resolve")
@permission_required("patients.import")
def resolve_row(job_id, row_id):
    """Fragment #import-row-<id>: link, create or skip a flagged row; #import-summary refreshes through an event."""
    job = _job_or_404(job_id)
    row = job_row(job, row_id)
    if row is None:
        abort(404)
    resolution = request.form.get("resolution", "")
    try:
        resolve_flagged_row(current_actor(), job, row, resolution)
    except ServiceError as error:
        db.session.rollback()
        return fragment_response(render_template("patients/_import_row.html", job=job, row=row), error.message,
                                 level="error", status=422)
    return fragment_response(render_template("patients/_import_row.html", job=job, row=row),
                             events=("import-changed",))


@bp.get("/import/<int:job_id>/summary")
@permission_required("patients.import")
def import_summary(job_id):
    """Fragment #import-summary: counts and the start form (refreshed after each resolution)."""
    job = _job_or_404(job_id)
    return render_template("patients/_import_summary.html", job=job, unresolved=unresolved_count(job),
                           counts=_counts(job), queue_form=ImportQueueForm(formdata=None))


@bp.post("/import/<int:job_id>/start")
@permission_required("patients.import")
def start_import(job_id):
    """Queue the import for the worker and show its progress (303); 422 with the reason when it cannot start."""
    job = _job_or_404(job_id)
    form = ImportQueueForm()
    try:
        queue_import(current_actor(), job, valid_only=bool(form.valid_only.data))
    except ServiceError as error:
        db.session.rollback()
        body = render_template("patients/_import_summary.html", job=job, unresolved=unresolved_count(job),
                               counts=_counts(job), queue_form=form, error=error.message)
        return fragment_response(body, error.message, level="error", status=422)
    # The whole page changes (mapping and preview give way to the progress), so reload it rather than swap.
    return redirect_response(url_for("patients.import_detail", job_id=job.id))


def _read_progress(session_id):
    """The progress poll's user loader (session_read): the session's user and the import of the URL, read in one
    statement (queries.session_job)."""
    return session_job(session_id, request.view_args["job_id"])


@bp.get("/import/<int:job_id>/progress")
@permission_required("patients.import")
@session_read(_read_progress)
def import_progress(job_id):
    """Fragment #import-progress: polled every second while the import runs (the template drops the trigger when
    it ends; a 286 also tells htmx to stop). While it runs, a poll is one statement: the job is read together with
    the session's user; the last one also reads the report's rows."""
    job = session_data()
    if job is None:
        abort(404)
    finished = job.status in ("succeeded", "failed")
    rows = plan_problem_rows(job, PROBLEM_ROWS_SHOWN) if finished else []
    body = render_template("patients/_import_progress.html", job=job, rows=rows, counts=_counts(job))
    if finished and wants_fragment("import-progress"):
        return body, 286
    return body


@bp.get("/import/<int:job_id>/problems.csv")
@permission_required("patients.import")
def problems_csv(job_id):
    """Download: the problem rows (flagged, invalid, skipped) with their reasons, for Excel (UTF-8 BOM, ;)."""
    job = _job_or_404(job_id)
    name = f"import-{job.id}-problems.csv"
    return Response(problem_rows_csv(job), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})



def _row_or_404(job_id, row_id):
    """The import and one of its rows, of the current practice; 404 otherwise."""
    job = _job_or_404(job_id)
    row = job_row(job, row_id)
    if row is None:
        abort(404)
    return job, row


@bp.get("/import/<int:job_id>/rows/<int:row_id>")
@permission_required("patients.import")
def import_row(job_id, row_id):
    """Fragment #import-row-<id>: one row of the preview (the edit form's "Cancel" swaps it back)."""
    job, row = _row_or_404(job_id, row_id)
    return render_template("patients/_import_row.html", job=job, row=row)


@bp.get("/import/<int:job_id>/rows/<int:row_id>/edit")
@permission_required("patients.import")
def edit_import_row(job_id, row_id):
    """Fragment #import-row-<id>: the inline form to correct an invalid row, filled with the file's cells."""
    job, row = _row_or_404(job_id, row_id)
    if job.status != "previewed" or row.action != "invalid":
        abort(404)
    return render_template("patients/_import_row_edit.html", job=job, row=row, cells=row_cells(job, row),
                           fields=fixable_fields(job), labels=field_labels(), errors={})


@bp.post("/import/<int:job_id>/rows/<int:row_id>/edit")
@permission_required("patients.import")
def fix_import_row(job_id, row_id):
    """Fragment #import-row-<id>: correct an invalid row and show what it becomes now; the counts refresh through
    the ``import-changed`` event. 422 with the form and each field's message while a field is still wrong."""
    job, row = _row_or_404(job_id, row_id)
    fields = fixable_fields(job)
    cells = {name: request.form.get(name, "") for name in fields}
    try:
        fix_invalid_row(current_actor(), job, row, cells)
    except RowFixError as error:
        db.session.rollback()
        body = render_template("patients/_import_row_edit.html", job=job, row=row, cells=cells, fields=fields,
                               labels=field_labels(), errors=error.errors)
        return fragment_response(body, error.message, level="error", status=422)
    except ServiceError as error:
        db.session.rollback()
        return fragment_response(render_template("patients/_import_row.html", job=job, row=row), error.message,
                                 level="error", status=422)
    message = _("Row %(row)d corrected.", row=row.row_number)
    return fragment_response(render_template("patients/_import_row.html", job=job, row=row), message,
                             events=("import-changed",))
