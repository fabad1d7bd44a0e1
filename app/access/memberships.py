"""Memberships: linking a person (a patient, or a course member by name) to a provider's member id, once.

The database decides who wins when two desks link at the same moment: the partial unique indexes of
``access_memberships`` refuse the second row, and the loser is told who holds the id (by name only when the user
may see that patient). Linking and unlinking are audited."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.access import adapters
from app.access.models import DENY_UNKNOWN_CODE, DENY_UNKNOWN_MEMBER, Checkin, Membership
from app.patients.service import get_patient
from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db

# Decisions after which the scanned id is not known to be a member of the provider: nothing to link.
NOT_LINKABLE = frozenset({DENY_UNKNOWN_CODE, DENY_UNKNOWN_MEMBER, "error_provider_unreachable", "error_timeout"})


class MembershipTaken(ServiceError):
    """The link lost against an existing one; ``holder`` is the membership that holds the id or the person."""

    def __init__(self, message, holder):
        super().__init__(message, field="patient_id", code="conflict")
        self.holder = holder


def _holder_name(actor, membership):
    """Who holds ``membership``, as the acting user may learn it: the name when the user may see that patient
    (or for a name-only member), else "another patient"."""
    if membership.patient_id is None:
        return membership.member_name
    if actor.user is not None and get_patient(actor.user, membership.patient_id) is not None:
        return membership.person_name
    return str(_l("another patient"))


def _conflict(actor, practice_id, provider, external_id, patient_id):
    """The MembershipTaken for a refused link: the id is someone's already, or the patient has one already."""
    label = adapters.provider_label(provider)
    holder = db.session.scalar(select(Membership).where(
        Membership.practice_id == practice_id, Membership.provider == provider,
        Membership.external_id == external_id, Membership.unlinked_at.is_(None)))
    if holder is not None:
        return MembershipTaken(_l("This %(provider)s membership is already linked to %(name)s.", provider=label,
                                  name=_holder_name(actor, holder)), holder)
    holder = db.session.scalar(select(Membership).where(
        Membership.patient_id == patient_id, Membership.provider == provider, Membership.unlinked_at.is_(None)))
    return MembershipTaken(_l("This patient already has a %(provider)s membership. Unlink it first.",
                              provider=label), holder)


def link_membership(actor, practice_id, provider, external_id, *, patient_id=None, member_name=None):
    """Link ``external_id`` at ``provider`` to a patient of the practice the actor may see, or to a member by name;
    MembershipTaken when the id or the person is linked already, ServiceError for bad input."""
    if provider not in adapters.ACCESS_PROVIDERS:
        raise ServiceError(_l("Choose one of the access providers."), field="provider")
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > 128:
        raise ServiceError(_l("Enter the member's id at the provider (at most 128 characters)."),
                           field="external_id")
    member_name = (member_name or "").strip() or None
    if patient_id is not None:
        if actor.user is None or get_patient(actor.user, patient_id) is None:
            raise ServiceError(_l("Choose a patient of this practice."), field="patient_id")
        member_name = None
    elif member_name is None or len(member_name) > 200:
        raise ServiceError(_l("Choose a patient or enter the member's name (at most 200 characters)."),
                           field="member_name")
    membership = Membership(practice_id=practice_id, provider=provider, external_id=external_id,
                            patient_id=patient_id, member_name=member_name,
                            linked_by_id=actor.user.id if actor.user else None)
    db.session.add(membership)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise _conflict(actor, practice_id, provider, external_id, patient_id) from None
    record("access.membership.link", actor, practice_id=practice_id, object_type="access_membership",
           object_id=membership.id, patient_id=patient_id, meta={"provider": provider})
    db.session.commit()
    return membership


def link_from_checkin(actor, checkin, *, patient_id=None, member_name=None):
    """The desk's linking step: the member the provider just validated at ``checkin`` is the person confirmed."""
    if checkin.provider is None or not checkin.external_id or checkin.decision in NOT_LINKABLE:
        raise ServiceError(_l("Only a member the provider has recognised can be linked. Scan the code again."),
                           field="checkin")
    return link_membership(actor, checkin.practice_id, checkin.provider, checkin.external_id,
                           patient_id=patient_id, member_name=member_name)


def get_membership(practice_id, membership_id):
    """The practice's linked membership ``membership_id``, or None."""
    return db.session.scalar(select(Membership).where(
        Membership.id == membership_id, Membership.practice_id == practice_id, Membership.unlinked_at.is_(None)))


def unlink_membership(actor, membership):
    """End the link (the row stays for the check-ins that name it); audited."""
    membership.unlinked_at = utcnow()
    record("access.membership.unlink", actor, practice_id=membership.practice_id, object_type="access_membership",
           object_id=membership.id, patient_id=membership.patient_id, meta={"provider": membership.provider})
    db.session.commit()


def patient_memberships(patient):
    """The patient's linked memberships with their check-in count and last visit, as (membership, count, last)."""
    visits = (select(Checkin.membership_id, func.count().label("count"), func.max(Checkin.created_at).label("last"))
              .where(Checkin.membership_id.in_(select(Membership.id).where(Membership.patient_id == patient.id)),
                     Checkin.granted.is_(True))
              .group_by(Checkin.membership_id).subquery())
    rows = db.session.execute(
        select(Membership, visits.c.count, visits.c.last).outerjoin(visits, visits.c.membership_id == Membership.id)
        .where(Membership.patient_id == patient.id, Membership.practice_id == patient.practice_id,
               Membership.unlinked_at.is_(None))
        .order_by(Membership.provider)).all()
    return [(membership, count or 0, last) for membership, count, last in rows]


def membership_query(practice_id, provider=None):
    """A select of the practice's linked memberships (optionally of one provider), newest first."""
    query = select(Membership).where(Membership.practice_id == practice_id, Membership.unlinked_at.is_(None))
    if provider:
        query = query.where(Membership.provider == provider)
    return query.order_by(Membership.id.desc())
