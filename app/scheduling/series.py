"""Proposing a treatment series against availability: each unit at the same therapist and wall-clock time where
possible, otherwise the first free slot that day (or in the days after), with the conflicts of the preferred time,
alternatives and the prescription's warnings. Booking the accepted units goes through ``booking.book_all``."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import gettext as _

from app.platform.database import utcnow
from app.scheduling import resolve
from app.scheduling.availability import load_calendar
from app.scheduling.engine.calendar import exists_locally, zone_of
from app.scheduling.engine.conflicts import Candidate, check
from app.scheduling.engine.series import MAX_PER_WEEK, MAX_UNITS, SeriesRules, unit_dates, warnings_for
from app.scheduling.engine.slots import Slot, SlotQuery, pick_resources, spans_for, suggest

LOOK_AHEAD_DAYS = 6
ALTERNATIVES = 3


@dataclass
class SeriesRequest:
    """A prescription to plan: ids as sent, dates parsed."""

    type_id: object
    location_id: object
    units: int
    per_week: int
    first_date: date
    therapist_id: object = None
    patient_id: object = None
    preferred_time: time | None = None
    prescription_date: date | None = None
    valid_until: date | None = None


@dataclass
class UnitProposal:
    """One proposed unit: the slot (or None when nothing was free), whether it left the preferred time, the
    conflicts at the preferred time, other free slots that day and the prescription's warnings."""

    index: int
    slot: object
    moved: bool
    conflicts: list = field(default_factory=list)
    alternatives: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def _preferred(calendar, zone, on, at, therapist_id, location_id, requirements, appointment_type, patient_id):
    """(the slot at ``at`` on ``on`` with the therapist when it is free, else None; its conflicts)."""
    naive = datetime.combine(on, at)
    if not exists_locally(naive, zone):
        return None, []
    start = naive.replace(tzinfo=zone).astimezone(UTC)
    end = start + timedelta(minutes=appointment_type.duration_minutes)
    buffers = resolve.buffers_of(appointment_type)
    resources = pick_resources(requirements, calendar, start, end, buffers, fill_busy=True)
    candidate = Candidate(start, end, therapist_id, location_id,
                          spans_for(start, end, therapist_id, resources, buffers), patient_id)
    conflicts = check(candidate, calendar)
    if conflicts:
        return None, conflicts
    return Slot(start, end, therapist_id, location_id, resources), []


def propose(practice, request, now=None):
    """The UnitProposals of ``request``; SchedulingError on bad input."""
    now = now or utcnow()
    if not 1 <= request.units <= MAX_UNITS:
        raise resolve.SchedulingError(_("A series has 1 to %(max)d units.", max=MAX_UNITS), "units")
    if not 1 <= request.per_week <= MAX_PER_WEEK:
        raise resolve.SchedulingError(_("per_week is 1 to %(max)d.", max=MAX_PER_WEEK), "per_week")
    appointment_type = resolve.get_type(practice, request.type_id)
    location = resolve.get_location(practice, request.location_id)
    patient = resolve.get_patient_of(practice, request.patient_id)
    if request.therapist_id is not None:
        therapists = [resolve.get_therapist(practice, request.therapist_id)]
        resolve.check_qualified(appointment_type, therapists[0])
    else:
        therapists = resolve.qualified_therapists(practice, appointment_type)
    if not therapists:
        raise resolve.SchedulingError(_("No active therapist gives “%(type)s”.", type=appointment_type.name), "type")
    zone, rules = zone_of(practice.timezone), SeriesRules.from_settings(practice.settings)
    dates = unit_dates(request.first_date, request.units, request.per_week)
    requirements = resolve.resolve_requirements(practice, appointment_type, [location.id])
    window_start = max(datetime.combine(dates[0], time.min, zone).astimezone(UTC), now)
    window_end = datetime.combine(dates[-1] + timedelta(days=LOOK_AHEAD_DAYS + 1), time.min, zone).astimezone(UTC)
    calendar = load_calendar(
        practice, therapist_ids=[t.id for t in therapists], location_ids=[location.id],
        resource_ids=[rid for need in requirements[location.id] for rid in need.candidates],
        start=window_start - timedelta(hours=12), end=window_end + timedelta(hours=12),
        patient_id=patient.id if patient else None)
    at, therapist_id = request.preferred_time, therapists[0].id
    proposals, taken = [], []
    for index, on in enumerate(dates):
        slot, conflicts = (None, [])
        if at is not None:
            slot, conflicts = _preferred(calendar, zone, on, at, therapist_id, location.id,
                                         requirements[location.id], appointment_type,
                                         patient.id if patient else None)
        alternatives = []
        if slot is None:
            alternatives = _alternatives(calendar, zone, on, appointment_type, therapists, therapist_id, location,
                                         requirements, patient, now, taken)
            slot = alternatives[0] if alternatives else None
        if slot is not None:
            taken.append(slot)
            if at is None:  # the first unit found sets the time and therapist the others keep
                at, therapist_id = slot.start.astimezone(zone).time(), slot.therapist_id
        proposals.append(UnitProposal(index, slot, moved=bool(conflicts),
                                      conflicts=conflicts, alternatives=alternatives[1:]))
    latest_start = (request.prescription_date or request.first_date) + timedelta(days=rules.days_until_first_unit)
    found = [proposal.slot.start.astimezone(zone).date() if proposal.slot else on
             for proposal, on in zip(proposals, dates, strict=True)]
    for proposal, notes in zip(proposals, warnings_for(found, request.per_week, latest_start, request.valid_until,
                                                       rules), strict=True):
        proposal.warnings = notes + ([] if proposal.slot else [_("No free slot within a week of this date.")])
    return proposals


def _alternatives(calendar, zone, on, appointment_type, therapists, therapist_id, location, requirements, patient,
                  now, taken):
    """Free slots on ``on`` (the preferred therapist first), else in the days after; none already proposed."""
    ordered = (therapist_id, *(t.id for t in therapists if t.id != therapist_id))
    for days in ((0, 1), (1, LOOK_AHEAD_DAYS + 1)):
        start = max(datetime.combine(on + timedelta(days=days[0]), time.min, zone).astimezone(UTC),
                    now + timedelta(minutes=appointment_type.min_notice_minutes))
        end = datetime.combine(on + timedelta(days=days[1]), time.min, zone).astimezone(UTC)
        if end <= start:
            continue
        query = SlotQuery(duration=appointment_type.duration_minutes, step=appointment_type.slot_step_minutes,
                          earliest=start, latest=end, therapist_ids=ordered, location_ids=(location.id,),
                          requirements=requirements, buffers=resolve.buffers_of(appointment_type),
                          patient_id=patient.id if patient else None, limit=20)
        slots, _reasons = suggest(query, calendar)
        slots = [slot for slot in slots if not any(slot.start < other.end and other.start < slot.end
                                                   for other in taken)]
        slots.sort(key=lambda slot: (slot.therapist_id != therapist_id, slot.start))
        if slots:
            return slots[:ALTERNATIVES + 1]
    return []
