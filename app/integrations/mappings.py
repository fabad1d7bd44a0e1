"""Mappings of provider objects to ours, kept per practice and provider (for a provider whose sync reports them):
a provider's user → a therapist (matched by email), its event type → an appointment service (its title). A sync
creates a mapping for every object it sees and fills the automatic match; an admin can correct any mapping, and a
corrected (``manual``) mapping is never overwritten by a sync. A correction applies to every cached appointment from
the next sync on (the hub queues one right away), because such a sync re-reads its whole booking window."""

from dataclasses import replace

from flask_babel import gettext as _
from sqlalchemy import func, insert, or_, select

from app.accounts.models import User
from app.integrations.models import MAP_EVENT_TYPE, MAP_USER, IntegrationMapping
from app.platform.audit.service import record as audit_record
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db

MAX_SERVICE_NAME = 200


def resolve(practice_id, provider, seen):
    """The practice's mappings of ``provider`` keyed by (kind, external id), after adding the objects in ``seen``
    (MappingKeys) that had none, with their automatic match. Two queries for any number of objects: the stored
    mappings, the practice's therapists by email or name (a host who is none of them stays unmapped, shown as
    "nicht zugeordnet"); then one bulk insert of the new ones."""
    stored = {
        (row.kind, row.external_id): row
        for row in db.session.scalars(select(IntegrationMapping).where(
            IntegrationMapping.practice_id == practice_id, IntegrationMapping.provider == provider))
    }
    emails = {key.email.lower() for key in seen if key.kind == MAP_USER and key.email}
    names = {key.external_name.strip().lower() for key in seen if key.kind == MAP_USER and key.external_name.strip()}
    users = {}
    if emails or names:
        for email, name, user_id in db.session.execute(
            select(func.lower(User.email), func.lower(User.name), User.id)
            .where(User.practice_id == practice_id, User.active, User.role == "therapist",
                   or_(func.lower(User.email).in_(emails), func.lower(User.name).in_(names)))
        ):
            users[("email", email)] = user_id
            users.setdefault(("name", name), user_id)
    now = utcnow()
    new_rows = []
    for key in seen:
        row = stored.get((key.kind, key.external_id))
        automatic = _automatic(key, users)
        if row is None:
            new_rows.append({"practice_id": practice_id, "provider": provider, "kind": key.kind,
                             "external_id": key.external_id[:128], "external_name": key.external_name[:300],
                             "manual": False, "updated_at": now, **automatic})
        elif not row.manual:
            row.external_name = key.external_name[:300] or row.external_name
            for name, value in automatic.items():
                setattr(row, name, value)
    if new_rows:
        db.session.execute(insert(IntegrationMapping), new_rows)
        return resolve(practice_id, provider, ())
    return stored


def _automatic(key, users):
    """The automatic match of one object: a therapist by email, else by name (as the appointment cache matches
    them), an event type's title as service name."""
    if key.kind == MAP_USER:
        user_id = users.get(("email", (key.email or "").lower()))
        user_id = user_id or users.get(("name", key.external_name.strip().lower()))
        return {"user_id": user_id, "service_name": None}
    return {"user_id": None, "service_name": key.external_name[:MAX_SERVICE_NAME] or None}


def apply(record, keys, resolved):
    """``record`` with its mapped service name, and the therapist id its user mapping names (None to let the
    cache match by email or name)."""
    therapist_id = None
    for key in keys:
        mapping = resolved.get((key.kind, key.external_id))
        if mapping is None:
            continue
        if key.kind == MAP_USER and mapping.user_id:
            therapist_id = mapping.user_id
        if key.kind == MAP_EVENT_TYPE and mapping.service_name:
            record = replace(record, service_name=mapping.service_name)
    return record, therapist_id


def practice_mappings(practice_id, provider):
    """The provider's mappings for the tab: users first, then event types, by name."""
    return db.session.scalars(
        select(IntegrationMapping)
        .where(IntegrationMapping.practice_id == practice_id, IntegrationMapping.provider == provider)
        .order_by(IntegrationMapping.kind.desc(), IntegrationMapping.external_name, IntegrationMapping.id)
    ).all()


def therapists(practice_id):
    """The practice's active therapists, for the user mapping's choices."""
    return db.session.scalars(select(User).where(
        User.practice_id == practice_id, User.role == "therapist", User.active).order_by(User.name)).all()


def correct(actor, practice_id, mapping_id, *, user_id=None, service_name=None):
    """An admin's correction of one mapping: the therapist of a user mapping (empty: none), the service name of
    an event type mapping (empty: back to the automatic title). Audited; commits. Returns the mapping."""
    mapping = db.session.scalar(select(IntegrationMapping).where(
        IntegrationMapping.practice_id == practice_id, IntegrationMapping.id == mapping_id))
    if mapping is None:
        raise ServiceError(_("This mapping does not exist."), code="not_found")
    if mapping.kind == MAP_USER:
        chosen = None
        if user_id not in (None, ""):
            chosen = next((user.id for user in therapists(practice_id) if str(user.id) == str(user_id)), None)
            if chosen is None:
                raise ServiceError(_("Please choose a therapist of this practice."), field="user_id")
        mapping.user_id = chosen
        mapping.manual = chosen is not None
    else:
        name = (service_name or "").strip()
        if len(name) > MAX_SERVICE_NAME:
            raise ServiceError(_("The service name is too long (at most %(n)d characters).", n=MAX_SERVICE_NAME),
                               field="service_name")
        mapping.service_name = name or mapping.external_name[:MAX_SERVICE_NAME]
        mapping.manual = bool(name)
    mapping.updated_at = utcnow()
    audit_record("integration.mapping.update", actor, practice_id=practice_id, object_type="integration_mapping",
                 object_id=mapping.id, meta={"provider": mapping.provider, "kind": mapping.kind,
                                             "user_id": mapping.user_id, "service_name": mapping.service_name})
    db.session.commit()
    return mapping
