"""Personal "Meine Termine" links: a patient opens their upcoming appointments without an account.

A link is a PatientAccessLink row plus a token signed with the app's SECRET_KEY that names the row and its random
nonce. The token proves it was issued here; the row decides whether it still works (expiry after
PATIENT_LINK_DAYS, revocation, archived patient). Archiving a patient revokes all their links for good, so a
restored patient's old links stay dead and staff create a new one. Creating, revoking and e-mailing a link is
audited."""

import hmac
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from app.patients.models import Patient, PatientAccessLink
from app.platform.audit.service import record
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.mail.service import mail_link, mail_locale, queue_mail

LINK_SIGNING_SALT = "praxis-hub.patient-access-link"
MAIL_KIND = "patients.access_link"
LINKS_SHOWN = 20


def _serializer():
    """Signs and checks link tokens with SECRET_KEY; the salt keeps them apart from other signed values."""
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=LINK_SIGNING_SALT)


def link_token(link):
    """The URL token of ``link`` (the same every time, so an active link can be copied again)."""
    return _serializer().dumps({"link": link.id, "nonce": link.nonce})


def link_status(link, now):
    """``active``, ``expired`` or ``revoked``."""
    if link.revoked_at is not None:
        return "revoked"
    return "expired" if link.expires_at <= now else "active"


def _audit(action, actor, link, **meta):
    """Add an audit entry about ``link`` with its expiry and ``meta`` (the caller commits)."""
    record(action, actor, practice_id=link.practice_id, object_type="patient_access_link", object_id=link.id,
           patient_id=link.patient_id, meta={"expires_at": link.expires_at.isoformat(), **meta})


def create_link(actor, patient, now):
    """A new link for ``patient`` valid for PATIENT_LINK_DAYS from ``now``; archived patients get none.

    ``patient`` may have been read before somebody else archived it. So the archive mark is read again after the
    link's row is written, with the patient's row locked: by then this transaction holds SQLite's write lock, or on
    PostgreSQL waits for an archive in progress, and an archive that comes later revokes this link (see
    revoke_active_links). Either way no link outlives the archive."""
    if patient.archived_at is not None:
        raise ServiceError(_("Archived patients cannot get a link."))
    link = PatientAccessLink(
        practice_id=patient.practice_id, patient_id=patient.id,
        created_by_id=actor.user.id if actor.user is not None else None, nonce=secrets.token_hex(16),
        expires_at=now + timedelta(days=current_app.config["PATIENT_LINK_DAYS"]),
    )
    db.session.add(link)
    db.session.flush()
    archived_at = db.session.scalar(select(Patient.archived_at).where(Patient.id == patient.id).with_for_update())
    if archived_at is not None:
        db.session.rollback()
        raise ServiceError(_("Archived patients cannot get a link."))
    _audit("patient_access_link.create", actor, link)
    db.session.commit()
    return link


def revoke_link(actor, patient, link_id, now):
    """Revoke one of ``patient``'s links so it stops working at once; None when the patient has no such link."""
    link = db.session.scalar(select(PatientAccessLink).where(
        PatientAccessLink.id == link_id, PatientAccessLink.patient_id == patient.id,
        PatientAccessLink.practice_id == patient.practice_id))
    if link is None:
        return None
    if link.revoked_at is None:
        link.revoked_at = now
        _audit("patient_access_link.revoke", actor, link)
        db.session.commit()
    return link


def send_link_mail(actor, patient, link_id, now):
    """E-mail one of ``patient``'s active links to the patient's own address (in the practice's language), audited
    on the link; returns the mail, or None when the patient has no such link. Raises ServiceError when the patient
    has no e-mail address or the link no longer works."""
    link = db.session.scalar(select(PatientAccessLink).where(
        PatientAccessLink.id == link_id, PatientAccessLink.patient_id == patient.id,
        PatientAccessLink.practice_id == patient.practice_id))
    if link is None:
        return None
    if not patient.email:
        raise ServiceError(_("The patient has no e-mail address. Add one in the master data first."))
    if link_status(link, now) != "active" or patient.archived_at is not None:
        raise ServiceError(_("This link no longer works. Create a new one."))
    message = queue_mail(
        kind=MAIL_KIND, recipient=patient.email, template="patient_link", practice_id=patient.practice_id,
        locale=mail_locale(),
        context={"name": patient.full_name, "practice_name": patient.practice.name, "valid_until": link.expires_at,
                 "link": mail_link("portal.show", token=link_token(link))},
    )
    _audit("patient_access_link.mail", actor, link, mail=message.id)
    db.session.commit()
    return message


def revoke_active_links(actor, patient, now, reason):
    """Revoke every link of ``patient`` that still works, each audited as a revocation with ``reason`` (the action
    that caused it, e.g. ``patient.archive``), in the caller's transaction (the caller commits). Call it after the
    change that caused it is flushed, so a link created at the same moment is either seen here or refused by
    create_link. Returns the revoked links."""
    links = db.session.scalars(select(PatientAccessLink).where(
        PatientAccessLink.patient_id == patient.id, PatientAccessLink.practice_id == patient.practice_id,
        PatientAccessLink.revoked_at.is_(None), PatientAccessLink.expires_at > now)).all()
    for link in links:
        link.revoked_at = now
        _audit("patient_access_link.revoke", actor, link, reason=reason)
    return links


def patient_links(patient, limit=LINKS_SHOWN):
    """The patient's links, newest first."""
    query = (
        select(PatientAccessLink)
        .where(PatientAccessLink.patient_id == patient.id, PatientAccessLink.practice_id == patient.practice_id)
        .order_by(PatientAccessLink.created_at.desc(), PatientAccessLink.id.desc())
        .limit(limit)
    )
    return db.session.scalars(query).all()


def open_link(token, now):
    """The active link a token names, with its last use set to ``now``; None for a forged or malformed token, an
    unknown, expired or revoked link, or an archived patient (the caller does not say which)."""
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("link"), int) \
            or not isinstance(payload.get("nonce"), str):
        return None
    link = db.session.get(PatientAccessLink, payload["link"])
    if link is None or not hmac.compare_digest(link.nonce, payload["nonce"]) or link_status(link, now) != "active" \
            or link.patient.archived_at is not None:
        return None
    link.last_used_at = now
    db.session.commit()
    return link
