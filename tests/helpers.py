"""Small helpers shared by tests (fixtures live in conftest.py)."""

import threading

from sqlalchemy import select

from app.platform.audit.models import AuditEntry
from app.platform.extensions import db

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


def at_once(app, count, action):
    """Run ``action()`` in ``count`` threads released together by a barrier, each in its own app context and
    session, and return their results. An exception in any thread fails the test with every thread's error (a
    thread's exception would otherwise only be printed)."""
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run():
        with app.app_context():
            try:
                barrier.wait()
                results.append(action())
            except Exception as error:
                errors.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [], errors
    return results
