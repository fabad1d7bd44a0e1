"""Corrections of the mappings a provider's sync keeps (its users to therapists, its event types to services), one
row at a time, for a provider whose tab shows them (its MAPPINGS hook)."""

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.integrations import mappings, sync
from app.integrations.models import MANUAL, IntegrationMapping
from app.integrations.routes.blueprint import bp
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.htmx import mutation_response
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required


@bp.post("/mappings/<int:mapping_id>")
@permission_required("integrations.manage")
def update_mapping(mapping_id):
    """Fragment #hub-mapping-<id> (or 303 to the provider's tab): an admin's correction of one mapping (therapist
    of a provider's user, service name of an event type), then a sync so the appointments follow; 422 with the
    reason."""
    practice_id = current_user.practice_id
    try:
        mapping = mappings.correct(current_actor(), practice_id, mapping_id, user_id=request.form.get("user_id"),
                                   service_name=request.form.get("service_name"))
    except ServiceError as error:
        if error.code == "not_found":
            abort(404)
        db.session.rollback()
        return _mapping_answer(db.get_or_404(IntegrationMapping, mapping_id), error.message, "error", 422)
    try:
        sync.request_sync(practice_id, mapping.provider, MANUAL, user_id=current_user.id)
    except ServiceError:
        message = _("Mapping saved. It applies with the next sync.")
    else:
        message = _("Mapping saved. A sync has been queued to apply it to the appointments.")
    return _mapping_answer(mapping, message, "success", 200)


def _mapping_answer(mapping, message, level, status):
    """The mapping's row with a toast (its error beside the field on 422, a runs refresh on success), or a redirect
    to the provider's mappings with a flash message."""
    error = message if status == 422 else None
    return mutation_response(
        lambda: render_template("hub/_mapping_row.html", mapping=mapping, error=error,
                                therapists=mappings.therapists(current_user.practice_id)),
        message, level=level, status=status, target=f"hub-mapping-{mapping.id}",
        redirect_to=url_for("hub.provider", provider=mapping.provider, _anchor="hub-mappings"),
        events=("hub-runs-changed",) if status == 200 else ())
