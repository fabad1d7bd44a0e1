"""The page that shows a membership's Praxis Hub member code (app.access.member_codes) as text and as a QR image,
to print for a course member or show on a phone. Showing a code is audited: it opens the door like a key."""

from flask import Blueprint, abort, render_template, url_for
from flask_login import current_user

from app.access.adapters import provider_label
from app.access.member_codes import member_code, qr_svg
from app.access.memberships import get_membership
from app.patients.service import get_patient
from app.platform.audit.service import record
from app.platform.extensions import db
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required

bp = Blueprint("access_codes", __name__, url_prefix="/access")


@bp.get("/memberships/<int:membership_id>/code")
@permission_required("access.validate")
def show_code(membership_id):
    """Page: the member code of a linked membership of the practice (404 for another practice's, an unlinked one
    or one of a patient the user may not see); audited."""
    membership = get_membership(current_user.practice_id, membership_id) or abort(404)
    patient = get_patient(current_user, membership.patient_id) if membership.patient_id else None
    if membership.patient_id and patient is None:
        abort(404)
    code = member_code(membership)
    record("access.member_code.show", current_actor(), object_type="access_membership", object_id=membership.id,
           patient_id=membership.patient_id)
    db.session.commit()
    back = url_for("patients.detail", patient_id=patient.id, tab="mitgliedschaften") if patient else \
        url_for("access.checkin")
    return render_template("access/member_code.html", membership=membership, code=code, qr=qr_svg(code),
                           provider=provider_label(membership.provider), back=back)
