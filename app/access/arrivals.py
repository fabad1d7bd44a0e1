"""When a check-in links to the practice (issue 19 item 8): a granted check-in of a patient who has an appointment
today marks that appointment arrived (``appointments.arrived_at``), shown in the record's Termine tab and on the
home page until the patient-flow board exists.

Called by app.access.checkins with the log row it is about to commit, so the arrival lands in the same short
transaction as the log row (never across the provider call). The appointment is the patient's nearest current or
upcoming one today (the practice's calendar day, any source, not cancelled, rescheduled or rejected). An arrival is
set once: a later scan (a re-entry, a second visit) never moves it, and a re-entry never marks a further
appointment for the visit its entry already marked. A staff member turning the person away after all clears the
arrival that check-in set."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select, update
from sqlalchemy.orm import aliased

from app.access.models import OVERRIDE_DENY, Membership
from app.accounts.models import User
from app.appointments.models import Appointment
from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.extensions import db
from app.platform.security.actor import Actor
from app.providers.events import INACTIVE_STATUSES
from app.tenancy.models import Practice


def _day_bounds(zone_name, moment):
    """The UTC start and end of the practice's calendar day of ``moment``."""
    zone = ZoneInfo(zone_name)
    day = moment.astimezone(zone).date()
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def _actor(row, actor):
    """Who the audit names: the given actor, else the user who scanned (a door terminal's token user)."""
    if actor is not None:
        return actor
    user = db.session.get(User, row.user_id) if row.user_id else None
    return Actor(user, practice_id=row.practice_id)


def mark_arrival(row, actor=None):
    """Record what the (not yet committed) check-in ``row`` means for today's appointments: a grant marks the
    patient's appointment arrived, a staff refusal clears the arrival of the check-in it overrides. Returns the
    appointment changed, or None. Adds its audit entry to the caller's transaction."""
    if row.override == OVERRIDE_DENY and row.overrides_id is not None:
        return _clear(row, actor)
    if not row.granted or row.membership_id is None:
        return None
    moment = row.created_at or utcnow()
    zone_name = db.session.scalar(select(Practice.timezone).where(Practice.id == row.practice_id))
    start, end = _day_bounds(zone_name, moment)
    patient = select(Membership.patient_id).where(Membership.id == row.membership_id).scalar_subquery()
    query = (select(Appointment)
             .where(Appointment.practice_id == row.practice_id, Appointment.patient_id == patient,
                    Appointment.starts_at >= start, Appointment.starts_at < end, Appointment.ends_at > moment,
                    Appointment.status.not_in(INACTIVE_STATUSES))
             .order_by(Appointment.starts_at, Appointment.id).limit(1))
    if row.reentry_of_id is not None:  # the visit's entry already marked its appointment: nothing more to mark
        marked = aliased(Appointment)
        query = query.where(~exists().where(marked.arrived_checkin_id == row.reentry_of_id))
    appointment = db.session.scalar(query)
    if appointment is None or appointment.arrived_at is not None:
        return None
    db.session.flush()  # the log row's id, for the appointment to name it
    changed = db.session.execute(
        update(Appointment).where(Appointment.id == appointment.id, Appointment.arrived_at.is_(None))
        .values(arrived_at=moment, arrived_checkin_id=row.id).execution_options(synchronize_session=False))
    if not changed.rowcount:  # another desk marked it a moment ago: theirs stands
        return None
    db.session.refresh(appointment, ["arrived_at", "arrived_checkin_id"])
    record("appointment.arrived", _actor(row, actor), practice_id=row.practice_id, object_type="appointment",
           object_id=appointment.id, patient_id=appointment.patient_id, meta={"checkin": row.id})
    return appointment


def _clear(row, actor):
    """Clear the arrival the overridden check-in set (the person was turned away after all)."""
    appointment = db.session.scalar(select(Appointment).where(
        Appointment.practice_id == row.practice_id, Appointment.arrived_checkin_id == row.overrides_id))
    if appointment is None:
        return None
    appointment.arrived_at = None
    appointment.arrived_checkin_id = None
    db.session.flush()
    record("appointment.arrival_cleared", _actor(row, actor), practice_id=row.practice_id,
           object_type="appointment", object_id=appointment.id, patient_id=appointment.patient_id,
           meta={"checkin": row.overrides_id})
    return appointment


def arrivals(practice_id, appointment_ids):
    """{appointment id: arrived at} of those of ``appointment_ids`` (of the practice) that have arrived, in one
    statement: the home page's day panels (app.appointments.home.register_arrivals)."""
    if not appointment_ids:
        return {}
    return dict(db.session.execute(select(Appointment.id, Appointment.arrived_at).where(
        Appointment.practice_id == practice_id, Appointment.id.in_(appointment_ids),
        Appointment.arrived_at.is_not(None))).all())
