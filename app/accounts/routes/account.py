"""Own account: change password, sign out on all other devices, create and revoke personal API tokens. Who may
manage API tokens creates any token; who may only check people in (an assistant) creates and revokes tokens limited
to a check-in terminal."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from app.accounts.forms import ApiTokenCreateForm, PasswordChangeForm
from app.accounts.models import TERMINAL_SCOPE
from app.accounts.service import change_own_password, end_other_sessions
from app.accounts.tokens import create_token, own_token, revoke_token, user_tokens
from app.platform.errors import ServiceError
from app.platform.htmx import fragment_response, is_htmx
from app.platform.security.actor import current_actor
from app.platform.security.guard import login_only, permission_required
from app.platform.security.permissions import has_permission

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(password_form=None, token_form=None, new_token=None, status=200):
    """Render the account page with both forms."""
    tokens = user_tokens(current_user) if _may_have_tokens() else []
    return render_template(
        "account/index.html",
        password_form=password_form or PasswordChangeForm(formdata=None),
        token_form=token_form or ApiTokenCreateForm(formdata=None),
        tokens=tokens,
        new_token=new_token,
    ), status


@bp.get("/")
@login_only
def index():
    """Page: own account with the password form and (with api_tokens.manage) the token list."""
    return _page()


@bp.post("/password")
@login_only
def password():
    """Page: change one's own password; other sessions end, this one continues (303 back to the account)."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            user = change_own_password(current_user._get_current_object(), form.current_password.data,
                                       form.password.data, current_actor())
        except ServiceError as error:
            getattr(form, error.field or "password").errors.append(error.message)
        else:
            login_user(user)
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("account.index"), code=303)
    return _page(password_form=form, status=422)


@bp.post("/sessions/end-others")
@login_only
def sign_out_other_devices():
    """End every other session of the user (a forgotten or lost device, a copied cookie) and keep this one, which
    is signed in again under the new session version; 303 back to the account."""
    user = current_user._get_current_object()
    end_other_sessions(current_actor(), user)
    login_user(user)
    flash(_("You have been signed out on all other devices."), "success")
    return redirect(url_for("account.index"), code=303)


def _may_have_tokens():
    """True when the user may create tokens: any (api_tokens.manage) or a check-in terminal's (access.validate)."""
    return has_permission(current_user, "api_tokens.manage") or has_permission(current_user, TERMINAL_SCOPE)


def _tokens_response(token_form=None, new_token=None, status=200, message=None):
    """The #api-tokens fragment for htmx (with a toast), else the whole account page."""
    if not is_htmx():
        return _page(token_form=token_form, new_token=new_token, status=status)
    body = render_template("account/_tokens.html", tokens=user_tokens(current_user),
                           token_form=token_form or ApiTokenCreateForm(formdata=None), new_token=new_token)
    return fragment_response(body, message, status=status)


def _create(form, scope):
    """Create the token the form describes (limited to ``scope`` when given) and answer with the fragment."""
    if form.validate_on_submit():
        try:
            _token, plaintext = create_token(current_actor(), current_user, form.name.data, form.expires_on.data,
                                             scope=scope)
        except ServiceError as error:
            getattr(form, error.field or "name").errors.append(error.message)
        else:
            return _tokens_response(new_token=plaintext,
                                    message=_("Token created. Copy it now: it is not shown again."))
    return _tokens_response(token_form=form, status=422)


@bp.post("/tokens")
@permission_required("api_tokens.manage")
def create_api_token():
    """Fragment #api-tokens: create a token (limited to a check-in terminal when ticked) and show its value once."""
    form = ApiTokenCreateForm()
    return _create(form, TERMINAL_SCOPE if form.terminal_only.data else None)


@bp.post("/terminal-tokens")
@permission_required(TERMINAL_SCOPE)
def create_terminal_token():
    """Fragment #api-tokens: create a token limited to a check-in terminal (for who may check people in but not
    manage API tokens) and show its value once."""
    return _create(ApiTokenCreateForm(), TERMINAL_SCOPE)


def _revoke(token):
    """Revoke ``token`` (already checked to be the user's) and answer with the fragment."""
    revoke_token(current_actor(), token)
    return _tokens_response(message=_("Token “%(name)s” revoked.", name=token.name))


@bp.post("/tokens/<int:token_id>/revoke")
@permission_required("api_tokens.manage")
def revoke_api_token(token_id):
    """Fragment #api-tokens: revoke one of one's own tokens."""
    token = own_token(current_user, token_id)
    if token is None:
        abort(404)
    return _revoke(token)


@bp.post("/terminal-tokens/<int:token_id>/revoke")
@permission_required(TERMINAL_SCOPE)
def revoke_terminal_token(token_id):
    """Fragment #api-tokens: revoke one of one's own check-in terminal tokens (any other token is 404 here)."""
    token = own_token(current_user, token_id)
    if token is None or token.scope != TERMINAL_SCOPE:
        abort(404)
    return _revoke(token)
