"""Small helpers shared by tests (fixtures live in conftest.py)."""

from sqlalchemy import select

from app.models import AuditEntry

PASSWORD = "correct horse battery"


def htmx(target=None, **extra):
    """Headers of an htmx request, optionally aimed at ``target``."""
    headers = {"HX-Request": "true", **extra}
    if target:
        headers["HX-Target"] = target
    return headers


def audit_actions(db, **filters):
    """The actions in the audit log (oldest first), optionally filtered by column values."""
    query = select(AuditEntry.action).order_by(AuditEntry.id)
    for column, value in filters.items():
        query = query.where(getattr(AuditEntry, column) == value)
    return list(db.session.scalars(query))


def bearer(token):
    """Authorization header for an API token."""
    return {"Authorization": f"Bearer {token}"}
