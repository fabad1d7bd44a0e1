"""The role table in app.platform.security.permissions is DESIGN.md §4, exactly (plus api_tokens.manage,
patients.restore, patients.merge and mail.outbox for admins and calls.manage for admins and the front desk,
documented in the README)."""

from app.platform.security.permissions import ALL, OWN, ROLE_PERMISSIONS

# DESIGN.md §4, transcribed independently of the code: permission -> {role: scope}.
DESIGN_TABLE = {
    "patients.read": {"admin": ALL, "assistant": ALL, "therapist": OWN, "billing": ALL},
    "patients.write": {"admin": ALL, "assistant": ALL},
    "patients.import": {"admin": ALL},
    "patients.link": {"admin": ALL},
    "appointments.read": {"admin": ALL, "assistant": ALL, "therapist": OWN, "billing": ALL},
    "appointments.book": {"admin": ALL, "assistant": ALL, "therapist": ALL},
    "integrations.view": {"admin": ALL, "assistant": ALL},
    "integrations.manage": {"admin": ALL},
    "webhooks.manage": {"admin": ALL},
    "users.manage": {"admin": ALL},
    "audit.read": {"admin": ALL},
    "webhooks.log": {"admin": ALL},
    "payload.reveal": {"admin": ALL},
    "access.validate": {"admin": ALL, "assistant": ALL},
    "access.manage": {"admin": ALL},
    "access.stats": {"admin": ALL, "assistant": ALL, "billing": ALL},
    "api_tokens.manage": {"admin": ALL},
    "patients.restore": {"admin": ALL},
    "appointments.override": {"admin": ALL, "assistant": ALL},
    "scheduling.manage": {"admin": ALL},
    "scheduling.hours": {"admin": ALL, "assistant": ALL, "therapist": OWN},
    "calls.manage": {"admin": ALL, "assistant": ALL},
    "patients.merge": {"admin": ALL},
    "mail.outbox": {"admin": ALL},
}


def test_role_table_matches_design():
    """Each role has exactly the permissions, with the scopes, that the design grants."""
    for role, permissions in ROLE_PERMISSIONS.items():
        expected = {perm: roles[role] for perm, roles in DESIGN_TABLE.items() if role in roles}
        assert permissions == expected, role
