"""Roles and their permissions: the single source of truth for who may do what (DESIGN.md §4). Views and API
endpoints check permissions, never role names."""

from flask_babel import lazy_gettext as _l

ALL, OWN = "all", "own"

# Values are permission -> scope ("own" = own patients).
ROLE_PERMISSIONS = {
    "admin": {
        "patients.read": ALL, "patients.write": ALL, "patients.import": ALL, "patients.link": ALL,
        "patients.restore": ALL, "appointments.read": ALL, "appointments.book": ALL,
        "integrations.view": ALL, "integrations.manage": ALL, "webhooks.manage": ALL, "users.manage": ALL,
        "audit.read": ALL, "webhooks.log": ALL, "payload.reveal": ALL,
        "access.validate": ALL, "access.manage": ALL, "access.stats": ALL,
        "api_tokens.manage": ALL, "appointments.override": ALL, "scheduling.manage": ALL, "scheduling.hours": ALL,
        "calls.manage": ALL, "patients.merge": ALL, "mail.outbox": ALL,
    },
    "assistant": {
        "patients.read": ALL, "patients.write": ALL, "appointments.read": ALL, "appointments.book": ALL,
        "integrations.view": ALL, "access.validate": ALL, "access.stats": ALL, "appointments.override": ALL,
        "scheduling.hours": ALL, "calls.manage": ALL,
    },
    "therapist": {"patients.read": OWN, "appointments.read": OWN, "appointments.book": ALL, "scheduling.hours": OWN},
    "billing": {"patients.read": ALL, "appointments.read": ALL, "access.stats": ALL},
}
ROLES = tuple(ROLE_PERMISSIONS)
PERMISSIONS = tuple(sorted({perm for perms in ROLE_PERMISSIONS.values() for perm in perms}))

ROLE_LABELS = {
    "admin": _l("Admin"),
    "assistant": _l("Front desk / assistant"),
    "therapist": _l("Therapist"),
    "billing": _l("Billing"),
}


def has_permission(user, permission) -> bool:
    """True when ``user`` is signed in, active and their role grants ``permission`` (in any scope)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return permission in ROLE_PERMISSIONS.get(user.role, {})


def permission_scope(user, permission):
    """``"all"``, ``"own"`` or None: how far ``permission`` reaches for ``user``."""
    if not has_permission(user, permission):
        return None
    return ROLE_PERMISSIONS[user.role][permission]
