"""User management: list, create (with password or invite link), edit role and status, reset password (the link
is e-mailed to the user, as "Passwort vergessen?" does, and shown once to the admin)."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.accounts.forms import UserCreateForm, UserEditForm
from app.accounts.invites import send_invite
from app.accounts.service import create_user, email_taken, practice_user, practice_users, reset_password, update_user
from app.platform.audit.labels import register_action_labels
from app.platform.audit.service import record
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.htmx import fragment_response, mutation_response, validate_attrs, wants_fragment
from app.platform.mail.models import HELD
from app.platform.mail.service import mail_link, mail_locale, queue_mail
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required

bp = Blueprint("users", __name__, url_prefix="/users")

RESET_MAIL_KIND = "accounts.admin_reset"
bp.record_once(lambda _state: register_action_labels({"user.reset_mail_sent": _l("Password reset link e-mailed")}))


@bp.context_processor
def _inline_validation():
    """``validate_attrs(name)``: the htmx attributes that validate a create-form field when it changes."""
    return {"validate_attrs": lambda name: validate_attrs(url_for("users.validate_field", field=name))}


def _practice_user_or_404(user_id):
    """A user of the current practice; another practice's user is indistinguishable from a missing one."""
    user = practice_user(current_user.practice_id, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/")
@permission_required("users.manage")
def index():
    """Page (or #users-table fragment): the practice's users."""
    users = practice_users(current_user.practice_id)
    if wants_fragment("users-table"):
        return render_template("users/_table.html", users=users)
    return render_template("users/index.html", users=users)


@bp.route("/new", methods=["GET", "POST"])
@permission_required("users.manage")
def new():
    """Page: create a user; afterwards show the invite link once (or redirect when a password was set)."""
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            user, invite = create_user(current_actor(), email=form.email.data, name=form.name.data,
                                       role=form.role.data, password=form.password.data or None)
        except ServiceError as error:
            getattr(form, error.field or "email").errors.append(error.message)
        else:
            if invite:
                mail = send_invite(current_actor(), user, invite)
                flash(_("The invitation was e-mailed to %(email)s.", email=user.email) if mail.status != HELD else
                      _("The invitation e-mail waits in the outbox (no mail server is set up)."), "info")
                return render_template("users/invite_link.html", user=user, invite=invite, created=True)
            return redirect(url_for("users.index"), code=303)
    return render_template("users/new.html", form=form), 422 if form.errors else 200


@bp.post("/validate/<field>")
@permission_required("users.manage")
def validate_field(field):
    """Fragment: one field of the create form, validated as it is left (#field-<name>)."""
    form = UserCreateForm()
    if field not in ("name", "email"):
        abort(404)
    form.validate()
    bound = getattr(form, field)
    errors = [error for error in bound.errors]
    if field == "email" and not errors and email_taken(bound.data or ""):
        errors.append(_("A user with this email address already exists."))
    bound.errors = errors
    return render_template("users/_field.html", field=bound, form=form), 422 if errors else 200


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@permission_required("users.manage")
def edit(user_id):
    """Page: change a user's name, role and active flag."""
    user = _practice_user_or_404(user_id)
    form = UserEditForm(obj=user)
    if form.validate_on_submit():
        try:
            update_user(current_actor(), user, name=form.name.data, role=form.role.data, active=form.active.data)
        except ServiceError as error:
            getattr(form, error.field or "role").errors.append(error.message)
        else:
            return redirect(url_for("users.index"), code=303)
    return render_template("users/edit.html", form=form, user=user), 422 if form.errors else 200


@bp.post("/<int:user_id>/active")
@permission_required("users.manage")
def toggle_active(user_id):
    """Fragment #user-row-<id>: activate or deactivate a user from the list (htmx), with a toast."""
    user = _practice_user_or_404(user_id)
    try:
        update_user(current_actor(), user, name=user.name, role=user.role, active=not user.active)
    except ServiceError as error:
        return fragment_response(render_template("users/_row.html", user=user), error.message, level="error",
                                 status=422)
    message = _("%(name)s can sign in again.", name=user.name) if user.active else _(
        "%(name)s can no longer sign in.", name=user.name)
    return mutation_response(lambda: render_template("users/_row.html", user=user), message,
                             redirect_to=url_for("users.index"), events=("users-changed",))


@bp.post("/<int:user_id>/reset-password")
@permission_required("users.manage")
def reset(user_id):
    """Page: invalidate a user's password, e-mail them a one-time link to set a new one (through the outbox, like
    "Passwort vergessen?") and show the same link once, for when the mail does not arrive."""
    user = _practice_user_or_404(user_id)
    invite = reset_password(current_actor(), user)
    mail = _send_reset_mail(user, invite)
    flash(_("The link was e-mailed to %(email)s.", email=user.email) if mail.status != HELD else
          _("The e-mail with the link waits in the outbox (no mail server is set up)."), "info")
    return render_template("users/invite_link.html", user=user, invite=invite, created=False)


def _send_reset_mail(user, token):
    """Write the "your password was reset" mail with the link of ``token`` in the user's language, audited as
    user.reset_mail_sent; commits. Returns the mail (its status says whether it goes out or waits in the outbox)."""
    actor = current_actor()
    message = queue_mail(
        kind=RESET_MAIL_KIND, recipient=user.email, template="password_reset_admin", practice_id=user.practice_id,
        locale=mail_locale(user.locale),
        context={"name": user.name, "practice_name": user.practice.name, "admin_name": actor.user.name,
                 "hours": current_app.config["AUTH_INVITE_MAX_AGE_HOURS"],
                 "link": mail_link("auth.invite", token=token)},
    )
    record("user.reset_mail_sent", actor, object_type="user", object_id=user.id, meta={"mail": message.id})
    db.session.commit()
    return message
