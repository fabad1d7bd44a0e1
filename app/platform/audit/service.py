"""Writing and reading the audit log."""


from sqlalchemy import false, select

from app.platform.audit.models import AuditEntry
from app.platform.database import within_days
from app.platform.extensions import db
from app.platform.pagination import paginate


def record(action, actor, *, practice_id=None, object_type=None, object_id=None, patient_id=None, meta=None):
    """Add an audit entry for ``action`` by ``actor`` to the current transaction (the caller commits, so the
    entry and the change it describes land together or not at all)."""
    entry = AuditEntry(
        practice_id=practice_id if practice_id is not None else actor.practice_id,
        user_id=actor.user.id if actor.user is not None else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        patient_id=patient_id,
        meta=meta or {},
        ip=actor.ip,
        user_agent=actor.user_agent,
    )
    db.session.add(entry)
    return entry


def audit_query(practice, *, user_id=None, action=None, date_from=None, date_to=None):
    """A select of the practice's audit entries, newest first, filtered; dates are days in the practice's zone."""
    query = select(AuditEntry).where(AuditEntry.practice_id == practice.id,
                                     *within_days(AuditEntry.created_at, practice.timezone, date_from, date_to))
    if user_id:
        query = query.where(AuditEntry.user_id == user_id)
    if action:
        query = query.where(AuditEntry.action == action)
    return query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())


def audit_page(practice, filters, per_page):
    """The page ``?page=`` of the practice's entries filtered by ``filters`` (``audit_query``'s keywords); ``filters``
    None (the filter form was invalid) gives an empty page, so the form shows its errors above an empty table."""
    query = audit_query(practice, **filters) if filters is not None else audit_query(practice).where(false())
    return paginate(query, per_page, AuditEntry.id)


def latest_entries(practice, limit):
    """The practice's ``limit`` newest audit entries (the dashboard's recent activity)."""
    return db.session.scalars(audit_query(practice).limit(limit)).all()


def known_actions(practice):
    """The distinct actions recorded for a practice, for the filter dropdown."""
    query = select(AuditEntry.action).where(AuditEntry.practice_id == practice.id).distinct()
    return sorted(db.session.scalars(query))


def known_users(practice):
    """(id, name) of the people who appear in the practice's audit log, by name, for the filter dropdown. The
    user table is reached through the entries' relationship, so the audit log needs no import of the accounts
    domain."""
    user = AuditEntry.user.property.mapper.class_
    query = (select(user.id, user.name).select_from(AuditEntry).join(AuditEntry.user)
             .where(AuditEntry.practice_id == practice.id).distinct().order_by(user.name, user.id))
    return db.session.execute(query).all()
