"""The check-in use case: a scanned code at a location becomes one decision in the normalised vocabulary, logged.

detect → provider enabled here? → double scan within a second? (app.access.scans: one decision across workers) →
membership → re-entry window (inside: granted as re-entry without asking the provider) → provider validation within
the configured timeout → decision.

No database transaction is held across the provider call: the double-scan claim and everything the call needs are
taken and read in one short transaction that ends before the call; the log row is written afterwards in a short
transaction of its own, which also settles the claim (a re-entry takes the claim and writes its row in one). A
provider that does not answer usably fails closed (``error_timeout``, ``error_provider_unreachable``), and staff
may override any decision with a reason (a row of its own, audited)."""

import time
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, exists, select
from sqlalchemy.orm import aliased, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from app.access import adapters, member_codes, scans
from app.access.arrivals import mark_arrival
from app.access.models import (
    ALLOW_REENTRY,
    DAYS,
    DENY_UNKNOWN_CODE,
    ERROR_PROVIDER_UNREACHABLE,
    ERROR_TIMEOUT,
    GRANTING,
    OVERRIDE_CONFIRM,
    OVERRIDE_DENY,
    OVERRIDES,
    AccessProvider,
    Checkin,
    Membership,
)
from app.integrations.metrics import record_call
from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.crypto import decrypt_secret
from app.providers.base import ProviderError, ProviderTimeout

# What the desk reads for each decision; the provider's own message is shown beside it.
REASONS = {
    "allow": _l("Access granted."),
    "allow_reentry": _l("Re-entry within the window: granted without asking the provider."),
    "deny_unknown_code": _l("Unknown QR code."),
    "deny_unknown_member": _l("The provider does not know this member."),
    "deny_expired": _l("The membership or subscription has expired."),
    "deny_limit_reached": _l("The member has used up their visits (e.g. already checked in today)."),
    "deny_not_checked_in_app": _l("The member has not checked in in the provider's app yet."),
    "deny_inactive": _l("The membership or the partner account is inactive."),
    "error_provider_unreachable": _l("The provider cannot be reached. Entry is refused unless staff let the "
                                     "person in."),
    "error_timeout": _l("The provider did not answer in time. Entry is refused unless staff let the person in."),
}
NOT_ENABLED = _l("This provider is not enabled at this location.")


@dataclass(frozen=True)
class CheckinOutcome:
    """What the desk (or a door terminal) gets back: the logged row, whether it repeats a scan of the last second
    (no new row, the same decision), and the person's previous visit here before this one."""

    checkin: Checkin
    duplicate: bool = False
    last_visit: object = None

    @property
    def reason(self):
        """The sentence for the decision (and why an override was made)."""
        return REASONS.get(self.checkin.decision, "")


@dataclass(frozen=True)
class _Rules:
    """What a check-in needs of the location's provider settings, copied while they are loaded (the claim's commit
    expires the ORM object; reading these again would cost a query each)."""

    provider: str
    base_url: str
    settings: dict
    secret: str | None
    timeout_ms: int
    window: timedelta
    confirm: bool


def enabled_provider(location, provider):
    """The rules of the active provider ``provider`` at ``location``, or None."""
    if provider is None:
        return None
    config = db.session.scalar(select(AccessProvider).where(
        AccessProvider.location_id == location.id, AccessProvider.provider == provider,
        AccessProvider.active.is_(True)))
    if config is None:
        return None
    window = timedelta(days=config.reentry_value) if config.reentry_unit == DAYS else timedelta(
        hours=config.reentry_value)
    return _Rules(config.provider, config.base_url, dict(config.settings or {}), config.secret, config.timeout_ms,
                  window, config.staff_must_confirm)


def _of_code(location_id, detected):
    """Conditions selecting the log rows of this code at this location."""
    return (Checkin.location_id == location_id, Checkin.provider == detected.provider,
            Checkin.external_id == detected.external_id)


@cache
def _open_entry_statement():
    """The query of ``_open_entry``, built once: aliasing the log table anew for each scan cost more (2-3 ms) than
    running the query."""
    turned_back = aliased(Checkin)
    return (select(Checkin)
            .where(Checkin.location_id == bindparam("location_id"), Checkin.provider == bindparam("provider"),
                   Checkin.external_id == bindparam("external_id"), Checkin.created_at > bindparam("since"),
                   Checkin.granted.is_(True), Checkin.reentry_of_id.is_(None),
                   ~exists().where(and_(turned_back.overrides_id == Checkin.id,
                                        turned_back.override == OVERRIDE_DENY)))
            .order_by(Checkin.created_at.desc(), Checkin.id.desc()).limit(1))


def _open_entry(location_id, detected, since):
    """The entry (a granted check-in that is not itself a re-entry and that staff did not turn back) of this
    code at this location after ``since``, newest first, or None."""
    return db.session.scalar(_open_entry_statement(), {
        "location_id": location_id, "provider": detected.provider, "external_id": detected.external_id,
        "since": since})


def _last_visit(location_id, detected, before_id):
    """When this code last passed at this location (a granted row older than ``before_id``), or None."""
    return db.session.scalar(
        select(Checkin.created_at).where(*_of_code(location_id, detected), Checkin.granted.is_(True),
                                         Checkin.id < before_id)
        .order_by(Checkin.id.desc()).limit(1))


@cache
def _membership_statement():
    """The query of ``_membership``, built once, with the patient whose name the desk shows in the same statement."""
    return select(Membership).options(joinedload(Membership.patient)).where(
        Membership.practice_id == bindparam("practice_id"), Membership.provider == bindparam("provider"),
        Membership.external_id == bindparam("external_id"), Membership.unlinked_at.is_(None))


def _membership(practice_id, detected):
    """The linked membership of this code's member, or None."""
    return db.session.scalar(_membership_statement(), {
        "practice_id": practice_id, "provider": detected.provider, "external_id": detected.external_id})


_COLUMNS = tuple(column.key for column in Checkin.__table__.columns)  # the attributes are named as the columns


def _write(scope, detected, started, claim=None, **values):
    """Append one log row in a short transaction of its own (settling ``claim`` with it) and return it.
    ``scope``: the practice, location and user ids, read before any commit (so no expired object is reloaded)."""
    row = Checkin(provider=detected.provider, code_kind=detected.kind, external_id=detected.external_id, **scope,
                  **values)
    row.processing_ms = int((time.monotonic() - started) * 1000)
    db.session.add(row)
    mark_arrival(row)  # a granted patient's appointment today: arrived, in this same transaction
    db.session.flush()
    if claim is not None:
        scans.settle(claim, row)
    # The row's columns are what was just written: keep them loaded across the commit instead of reading the row
    # back (the commit expires it, and the desk and the API read it at once).
    written = {key: getattr(row, key) for key in _COLUMNS}
    db.session.commit()
    for key, value in written.items():
        set_committed_value(row, key, value)
    return row


def _outcome(scope, detected, row, duplicate=False):
    """The outcome of ``row`` with the previous visit."""
    last = _last_visit(scope["location_id"], detected, row.id) if detected.external_id else None
    return CheckinOutcome(row, duplicate, last)


def check_in(actor, location, text, *, device=None, now=None, session=None):
    """Decide on a scanned ``text`` at ``location`` (of the actor's practice; the caller checked that) and log it.
    ``session``: a requests session for the provider call (tests); ``now``: the time of the scan (tests)."""
    started = time.monotonic()
    device = (device or "").strip()[:100] or None
    detected = adapters.resolve_member_code(adapters.detect(text), location.practice_id)
    scope = {"practice_id": location.practice_id, "location_id": location.id,
             "user_id": actor.user.id if actor.user is not None else None}
    rules = enabled_provider(location, detected.provider)
    if rules is None:
        message = str(NOT_ENABLED) if detected.provider else None
        return _outcome(scope, detected, _write(scope, detected, started, decision=DENY_UNKNOWN_CODE,
                                                provider_message=message, device=device))
    stamp = {"created_at": now} if now else {}  # the log row's time: the given one, else when it is written
    now = now or utcnow()
    claim, earlier = scans.claim(scope["practice_id"], scope["location_id"], detected, now,
                                 timedelta(milliseconds=rules.timeout_ms))
    if claim is None:  # the same scan a moment ago (maybe in another worker): its decision stands
        return _outcome(scope, detected, db.session.get(Checkin, earlier), duplicate=True)
    membership = _membership(scope["practice_id"], detected)
    common = {"membership_id": membership.id if membership else None,
              "member_name": membership.person_name if membership else None, "device": device, **stamp}
    entry = _open_entry(scope["location_id"], detected, now - rules.window)
    if entry is not None:
        row = _write(scope, detected, started, claim, decision=ALLOW_REENTRY, reentry_of_id=entry.id,
                     granted=not rules.confirm, awaiting_confirmation=rules.confirm, **common)
        return _outcome(scope, detected, row)
    metrics = []
    call = _provider_call(rules, detected, session, metrics.append)
    db.session.commit()  # end the claim's and the reads' transaction: nothing is held during the call
    verdict = call()
    for metric in metrics:  # written with the log row, in its transaction: the hub's health and metrics
        record_call(scope["practice_id"], metric)
    granted = verdict["decision"] in GRANTING
    if not common["member_name"]:
        common["member_name"] = (verdict.get("member_name") or "")[:200] or None
    row = _write(scope, detected, started, claim, decision=verdict["decision"], provider_code=verdict.get("code"),
                 provider_message=(verdict.get("message") or "")[:500] or None,
                 granted=granted and not rules.confirm, awaiting_confirmation=granted and rules.confirm, **common)
    return _outcome(scope, detected, row)


def _provider_call(rules, detected, session=None, on_call=None):
    """A function that asks the provider about ``detected`` under ``rules`` and returns its verdict; no answer
    becomes an error decision (fail closed)."""
    if detected.kind == member_codes.CODE_KIND:  # the practice's own code, checked already: no provider call
        return adapters.member_code_verdict
    module = adapters.adapter(rules.provider)
    secret = decrypt_secret(rules.secret) if rules.secret else None
    scanned = (detected.external_id, detected.secret_part)

    def call():
        try:
            verdict = module.validate(rules.base_url, secret, rules.settings, scanned,
                                      timeout_seconds=rules.timeout_ms / 1000, session=session, on_call=on_call)
        except ProviderTimeout as error:
            return {"decision": ERROR_TIMEOUT, "code": "timeout", "message": error.message}
        except ProviderError as error:
            code = str(error.status_code) if error.status_code else type(error).__name__
            return {"decision": ERROR_PROVIDER_UNREACHABLE, "code": code[:64], "message": error.message}
        if verdict.get("decision") not in REASONS or verdict["decision"] == DENY_UNKNOWN_CODE:
            return {"decision": ERROR_PROVIDER_UNREACHABLE, "code": "bad_decision",
                    "message": "The provider adapter answered outside the vocabulary."}
        return verdict

    return call


def get_checkin(practice_id, checkin_id):
    """The check-in ``checkin_id`` of the practice, or None (another practice's id is unknown here)."""
    return db.session.scalar(select(Checkin).where(Checkin.id == checkin_id, Checkin.practice_id == practice_id))


def override(actor, checkin, kind, reason=""):
    """Staff change the decision of ``checkin``: let the person in after all ("grant"), turn them away after all
    ("deny"), both with a reason, or confirm a grant that waits for staff ("confirm"). Appends a row, audits it."""
    reason = (reason or "").strip()
    if kind not in OVERRIDES:
        raise ServiceError(_l("Choose whether to let the person in or turn them away."), field="override")
    if kind == OVERRIDE_CONFIRM and not checkin.awaiting_confirmation:
        raise ServiceError(_l("This check-in does not wait for a confirmation."), field="override")
    if kind != OVERRIDE_CONFIRM and not reason:
        raise ServiceError(_l("Please give a reason for overriding the decision."), field="reason")
    if len(reason) > 500:
        raise ServiceError(_l("The reason may be at most 500 characters long."), field="reason")
    row = Checkin(practice_id=checkin.practice_id, location_id=checkin.location_id, provider=checkin.provider,
                  code_kind=checkin.code_kind, external_id=checkin.external_id, membership_id=checkin.membership_id,
                  member_name=checkin.member_name, decision=checkin.decision, granted=kind != OVERRIDE_DENY,
                  provider_code=checkin.provider_code, provider_message=checkin.provider_message, override=kind,
                  override_by_id=actor.user.id if actor.user else None, override_reason=reason or None,
                  overrides_id=checkin.id, reentry_of_id=checkin.reentry_of_id, device=checkin.device,
                  user_id=actor.user.id if actor.user else None)
    db.session.add(row)
    db.session.flush()
    mark_arrival(row, actor)
    patient_id = checkin.membership.patient_id if checkin.membership else None
    record(f"access.checkin.{kind}", actor, practice_id=checkin.practice_id, object_type="access_checkin",
           object_id=row.id, patient_id=patient_id,
           meta={"checkin": checkin.id, "decision": checkin.decision, **({"reason": reason} if reason else {})})
    db.session.commit()
    return row
