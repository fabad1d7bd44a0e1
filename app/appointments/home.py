"""The appointments domain's home-page panels (app.accounts.home): the practice's day for the front desk (and for
billing, who may read it), a therapist's own day, and the next appointment of each of a therapist's patients.

Every panel is one bounded query (patient and therapist loaded with it), so the page costs the same with 5 or 500
appointments. "Today" is the practice's calendar day in its time zone, from every source in the cache.

Arrivals: appointments do not carry an arrival time yet; the patient-flow board (check-ins) will know it. It plugs
in with ``register_arrivals(app, lookup)``: ``lookup(practice_id, appointment_ids)`` answers, in ONE statement,
``{appointment_id: arrived_at}`` for the appointments that have arrived. With a lookup registered the day panels
show who has arrived and how many are still expected; without one they show no arrival column at all.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.accounts.home import register_home_panel
from app.appointments.models import Appointment
from app.appointments.reading import practice_zone
from app.patients.models import Patient
from app.patients.service import scoped_patients
from app.platform.database import utcnow
from app.platform.extensions import db
from app.platform.security.permissions import ALL, OWN, permission_scope
from app.providers.events import INACTIVE_STATUSES

# The most appointments a day panel lists (a busy practice has fewer in a day; the rest is one click away).
DAY_LIMIT = 100
NEXT_LIMIT = 15
ARRIVALS = "praxis.home_arrivals"


def register_arrivals(app, lookup):
    """Let the day panels show arrivals: ``lookup(practice_id, appointment_ids)`` returns {id: arrived_at} in
    one statement (see the module docstring)."""
    app.extensions[ARRIVALS] = lookup


@dataclass(frozen=True)
class DayPanel:
    """A list of appointments in the practice's zone, with arrival times when a lookup is registered
    (``arrivals`` is None without one), and whether the list was cut at its limit."""

    appointments: list
    zone: object
    day: object
    truncated: bool = False
    arrivals: dict | None = None
    therapists: list = field(default_factory=list)

    @property
    def tracks_arrivals(self):
        """True when arrival times are known (a lookup is registered)."""
        return self.arrivals is not None

    @property
    def expected(self):
        """How many appointments that still take place have not arrived yet."""
        return sum(1 for item in self.appointments if item.active and item.id not in (self.arrivals or {}))


def day_bounds(zone, now):
    """The UTC start and end of the calendar day of ``now`` in ``zone`` (23 or 25 hours on a DST switch day)."""
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return day, start.astimezone(now.tzinfo), end.astimezone(now.tzinfo)


def _arrivals(practice_id, appointments):
    """{appointment id: arrived at} from the registered lookup, or None when none is registered."""
    lookup = current_app.extensions.get(ARRIVALS)
    if lookup is None:
        return None
    return lookup(practice_id, [item.id for item in appointments]) if appointments else {}


def _day(user, condition=None, now=None):
    """The appointments of the user's practice on today's date in its zone (optionally narrowed), by time."""
    practice = user.practice
    zone = practice_zone(practice)
    day, start, end = day_bounds(zone, now or utcnow())
    query = (
        select(Appointment)
        .options(joinedload(Appointment.patient), joinedload(Appointment.therapist))
        .where(Appointment.practice_id == practice.id, Appointment.starts_at >= start, Appointment.starts_at < end)
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(DAY_LIMIT + 1)
    )
    if condition is not None:
        query = query.where(condition)
    rows = db.session.scalars(query).unique().all()
    shown = rows[:DAY_LIMIT]
    therapists = sorted({_therapist(item) for item in shown if _therapist(item)})
    return DayPanel(shown, zone, day, len(rows) > DAY_LIMIT, _arrivals(practice.id, shown), therapists)


def _therapist(appointment):
    """The therapist's name as staff know it (the matched user, else the source's name)."""
    return appointment.therapist.name if appointment.therapist is not None else appointment.therapist_name


def practice_day_panel(user):
    """Panel "today": every appointment of the practice today, across therapists and sources, for users who may
    read all appointments (front desk, admin, billing)."""
    if permission_scope(user, "appointments.read") != ALL:
        return None
    return _day(user)


def my_day_panel(user):
    """Panel "my_day": a therapist's own appointments today (their scope is their own patients)."""
    if permission_scope(user, "appointments.read") != OWN:
        return None
    return _day(user, Appointment.therapist_id == user.id)


def next_appointments_panel(user, now=None):
    """Panel "next_appointments": for a therapist, the next appointment (with anyone) of each of their own
    patients, soonest first; one query with a window function over the patients' upcoming appointments."""
    if permission_scope(user, "appointments.read") != OWN:
        return None
    now = now or utcnow()
    own = scoped_patients(user).with_only_columns(Patient.id).where(Patient.archived_at.is_(None))
    ranked = (
        select(Appointment.id, func.row_number().over(partition_by=Appointment.patient_id,
                                                      order_by=(Appointment.starts_at, Appointment.id)).label("rank"))
        .where(Appointment.practice_id == user.practice_id, Appointment.patient_id.in_(own),
               Appointment.starts_at >= now, Appointment.status.not_in(INACTIVE_STATUSES))
        .subquery()
    )
    query = (
        select(Appointment)
        .join(ranked, ranked.c.id == Appointment.id)
        .options(joinedload(Appointment.patient), joinedload(Appointment.therapist))
        .where(ranked.c.rank == 1)
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(NEXT_LIMIT)
    )
    rows = db.session.scalars(query).unique().all()
    return DayPanel(rows, practice_zone(user.practice), None)


def register_panels(app):
    """Register the appointments domain's home panels."""
    register_home_panel(app, "today", permission="appointments.read", template="home/_day.html",
                        context=practice_day_panel, order=10)
    register_home_panel(app, "my_day", permission="appointments.read", template="home/_day.html",
                        context=my_day_panel, order=11)
    register_home_panel(app, "next_appointments", permission="appointments.read",
                        template="home/_next_appointments.html", context=next_appointments_panel, order=20)
