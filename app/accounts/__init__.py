"""Users and API tokens: signing in (auth), user management (users), one's own account, the dashboard, and the
commands to create users and tokens. Installs who a session or token belongs to into the platform's guard and
who a practice's therapists are into the practice settings."""

from flask_babel import lazy_gettext as _l

from app.platform.audit.labels import (
    names_from,
    register_action_labels,
    register_audit_labels,
    register_object_names,
)
from app.platform.templating import add_navigation


def init_app(app):
    """Register the accounts blueprints, commands, navigation entries, audit labels and hooks."""
    from app.accounts import api  # noqa: F401 (attaches /api/me to the /api blueprint)
    from app.accounts.cli import tokens_cli, users_cli
    from app.accounts.routes import account, auth, dashboard, users
    from app.accounts.service import is_active_therapist, load_session_user, practice_therapists
    from app.accounts.tokens import authenticate_bearer
    from app.platform.security.guard import use_authentication
    from app.tenancy.settings import use_staff_directory

    for blueprint in (auth.bp, dashboard.bp, users.bp, account.bp):
        app.register_blueprint(blueprint)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    use_authentication(app, load_user=load_session_user, authenticate_token=authenticate_bearer)
    use_staff_directory(app, therapists=practice_therapists, is_therapist=is_active_therapist)
    add_navigation(app, 10, "dashboard.index", _l("Dashboard"))
    add_navigation(app, 30, "users.index", _l("Users"), "users.manage")
    add_navigation(app, 80, "account.index", _l("My account"))
    register_action_labels({
        "login.success": _l("Signed in"),
        "login.failed": _l("Sign-in failed"),
        "login.locked": _l("Sign-in locked after failed attempts"),
        "logout": _l("Signed out"),
        "logout.other_devices": _l("Signed out on all other devices"),
        "user.create": _l("User created"),
        "user.update": _l("User changed"),
        "user.role_change": _l("Role changed"),
        "user.activate": _l("User activated"),
        "user.deactivate": _l("User deactivated"),
        "user.password_change": _l("Password changed"),
        "user.password_reset": _l("Password reset"),
        "user.password_set": _l("Password set"),
        "user.invite_sent": _l("Invitation e-mailed"),
        "user.reset_requested": _l("New password requested (forgot password)"),
        "user.reset_completed": _l("New password set with an e-mailed link"),
        "token.create": _l("API token created"),
        "token.revoke": _l("API token revoked"),
    })
    register_audit_labels(
        objects={"user": _l("User"), "api_token": _l("API token")},
        meta={"failed_logins": _l("Failed attempts"), "email": _l("Email"), "role": _l("Role"),
              "invite": _l("Invitation")},
        values={"wrong_password": _l("wrong password"), "unknown_email": _l("unknown email address"),
                "locked": _l("account locked"), "inactive": _l("account deactivated")})
    from app.accounts.models import User

    register_object_names("user", names_from(User.id, User.name, User.practice_id))
