"""Sign-in, sign-out, invite links, "Passwort vergessen?" and the language switch."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms.validators import DataRequired, Length

from app.accounts.forms import LanguageForm, LoginForm, SetPasswordForm
from app.accounts.reset import request_password_reset, reset_password_with_token, user_for_reset
from app.accounts.service import (
    LoginFailed,
    authenticate,
    log_out,
    remember_locale,
    set_password_from_invite,
    user_for_invite,
)
from app.platform.errors import ServiceError
from app.platform.extensions import limiter
from app.platform.security.actor import current_actor
from app.platform.security.guard import is_safe_next, login_only, public

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _login_limit():
    return current_app.config["AUTH_LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def login():
    """Page: the sign-in form; on success redirect (303) to a local ``next`` or the dashboard."""
    form = LoginForm(next=request.args.get("next", ""))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("dashboard.index"))
    if form.validate_on_submit():
        try:
            user = authenticate(form.email.data, form.password.data, current_actor())
        except LoginFailed as error:
            # Under the password field, with the markup of every other field error (field-errors, aria-invalid):
            # the field to type again, and the message says nothing about which of the two was wrong.
            form.password.errors.append(error.message)
            return render_template("auth/login.html", form=form), 422
        login_user(user)
        target = form.next.data if is_safe_next(form.next.data) else url_for("dashboard.index")
        return redirect(target, code=303)
    status = 422 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_only
def logout():
    """Sign out (POST with CSRF, so a link cannot log someone out) and go to the login page. The session ends on the
    server (the user's session version moves on), so a copy of the cookie is worthless too; as the version is
    per user, the user's sessions on other devices end with it."""
    log_out(current_actor(), current_user._get_current_object())
    logout_user()
    flash(_("You have been signed out."), "info")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
def invite(token):
    """Page: set a password from an invite or reset link, then sign in."""
    try:
        user = user_for_invite(token)
    except ServiceError as error:
        return render_template("auth/invite_invalid.html", message=error.message), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user = set_password_from_invite(token, form.password.data, current_actor())
        except ServiceError as error:
            form.password.errors = [*form.password.errors, error.message]
        else:
            logout_user()
            login_user(user)
            flash(_("Your password has been set. Welcome!"), "success")
            return redirect(url_for("dashboard.index"), code=303)
    status = 422 if form.errors else 200
    return render_template("auth/invite.html", form=form, user=user), status


class ForgotPasswordForm(FlaskForm):
    """The address to send a password-reset link to."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username", "autofocus": True})


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def forgot_password():
    """Page: ask for a reset link by e-mail; the answer is the same whether or not the address has an account."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        request_password_reset(form.email.data, current_actor())
        return render_template("auth/forgot_password_sent.html")
    return render_template("auth/forgot_password.html", form=form), 422 if form.errors else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def reset_password(token):
    """Page: choose a new password with a reset link, then sign in with it (303 to the login page)."""
    try:
        user = user_for_reset(token)
    except ServiceError as error:
        return render_template("auth/invite_invalid.html", message=error.message), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            reset_password_with_token(token, form.password.data, current_actor())
        except ServiceError as error:
            form.password.errors = [*form.password.errors, error.message]
        else:
            logout_user()
            flash(_("Your new password is set. Please sign in with it."), "success")
            return redirect(url_for("auth.login"), code=303)
    return render_template("auth/reset_password.html", form=form, user=user), 422 if form.errors else 200


@bp.post("/language")
@public
def language():
    """Switch the interface language for this session (and remember it for a signed-in user)."""
    form = LanguageForm()
    if form.validate_on_submit():
        session["lang"] = form.lang.data
        if current_user.is_authenticated:
            remember_locale(current_user, form.lang.data)
    target = form.next.data if is_safe_next(form.next.data) else url_for("dashboard.index")
    return redirect(target, code=303)
