"""The review list (admins, ``patients.link``): patients a sync or webhook created, each accepted, linked to an
existing patient or ignored."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from app.accounts.service import practice_therapists
from app.patients.reviews.forms import ReviewAcceptForm, ReviewLinkForm
from app.patients.reviews.models import PENDING
from app.patients.reviews.service import (
    SOURCE_LABELS,
    accept,
    get_review,
    ignore,
    likely_matches,
    link,
    pending_count,
    review_page,
    search_candidates,
)
from app.patients.service import get_patient
from app.platform.errors import ServiceError
from app.platform.htmx import fragment_response, wants_fragment
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required
from app.platform.templating import nav_count_id

bp = Blueprint("patient_reviews", __name__, url_prefix="/patients/reviews")

PAGE_SIZE = 50
SEARCH_RESULTS = 10


@bp.context_processor
def _helpers():
    """The sources' names for every review template."""
    return {"source_labels": SOURCE_LABELS}


def _review_or_404(review_id):
    """The current practice's review; another practice's id is 404 like an unknown one."""
    review = get_review(current_user.practice_id, review_id)
    if review is None:
        abort(404)
    return review


def _list_context():
    """The list's page: pending reviews, or the decided ones with ``?decided=1``."""
    decided = request.values.get("decided") == "1"
    return {"page": review_page(current_user.practice_id, decided, PAGE_SIZE), "decided": decided}


def _accept_form():
    """The accept form with the practice's therapists to choose from."""
    form = ReviewAcceptForm()
    form.therapist_id.choices = [SelectChoice("", _("Keep as it is"))] + [
        SelectChoice(str(therapist.id), therapist.name) for therapist in practice_therapists(current_user.practice_id)]
    return form


@bp.get("/")
@permission_required("patients.link")
def index():
    """Page (or the #patient-reviews fragment when switching between pending and decided): the review list."""
    context = _list_context()
    if wants_fragment("patient-reviews"):
        return render_template("patients/reviews/_list.html", **context)
    return render_template("patients/reviews/index.html", **context)


@bp.get("/<int:review_id>")
@permission_required("patients.link")
def detail(review_id):
    """Page: one created patient with its likely matches, a search for any other patient, and the decisions."""
    review = _review_or_404(review_id)
    query = request.args.get("q", "").strip()[:200]
    results = _search(query)
    if wants_fragment("review-patient-results"):
        return render_template("patients/reviews/_patient_results.html", review=review, results=results,
                               query=query)
    return render_template("patients/reviews/detail.html", review=review, accept_form=_accept_form(),
                           matches=likely_matches(review) if review.status == PENDING else [], results=results,
                           query=query)


def _search(query):
    """The first active patients matching ``query``, or None without a query."""
    return search_candidates(current_user, query, SEARCH_RESULTS) if query else None


def _after_decision(message, *, error=False):
    """The answer to a decision: from the list (htmx), the list with the navigation's count swapped out of band;
    otherwise the list page (303) with the message flashed."""
    if wants_fragment("patient-reviews"):
        nav_item = {"count_id": nav_count_id("patient_reviews.index"), "count": pending_count(current_user)}
        body = render_template("patients/reviews/_list.html", **_list_context()) + render_template(
            "_partials/_nav_count.html", item=nav_item, oob=True)
        return fragment_response(body, message, level="error" if error else "success", status=422 if error else 200,
                                 events=() if error else ("patient-reviews-changed",))
    flash(message, "error" if error else "success")
    return redirect(url_for("patient_reviews.index"), code=303)


@bp.post("/<int:review_id>/accept")
@permission_required("patients.link")
def accept_review(review_id):
    """Keep the created patient (with the chosen therapist, if any)."""
    review = _review_or_404(review_id)
    form = _accept_form()
    if not form.validate_on_submit():
        return _after_decision(_("Please choose a therapist from the list."), error=True)
    try:
        accept(current_actor(), review, int(form.therapist_id.data) if form.therapist_id.data else None)
    except ServiceError as failure:
        return _after_decision(failure.message, error=True)
    return _after_decision(_("%(name)s is now an ordinary patient record.", name=review.patient.full_name))


@bp.post("/<int:review_id>/link")
@permission_required("patients.link")
def link_review(review_id):
    """Link the created patient to the chosen existing one; back to the list (303)."""
    review = _review_or_404(review_id)
    form = ReviewLinkForm()
    target = get_patient(current_user, form.patient_id.data) if form.validate_on_submit() else None
    if target is None:
        flash(_("Please choose a patient from the matches or the search."), "error")
        return redirect(url_for("patient_reviews.detail", review_id=review.id), code=303)
    try:
        link(current_actor(), review, target)
    except ServiceError as failure:
        flash(failure.message, "error")
        return redirect(url_for("patient_reviews.detail", review_id=review.id), code=303)
    flash(_("Linked to %(name)s: appointments and calls are now on that record; the created record is archived.",
            name=target.full_name), "success")
    return redirect(url_for("patient_reviews.index"), code=303)


@bp.post("/<int:review_id>/ignore")
@permission_required("patients.link")
def ignore_review(review_id):
    """Ignore the created patient: it is archived."""
    review = _review_or_404(review_id)
    try:
        ignore(current_actor(), review)
    except ServiceError as failure:
        return _after_decision(failure.message, error=True)
    return _after_decision(_("%(name)s was ignored and archived.", name=review.patient.full_name))
