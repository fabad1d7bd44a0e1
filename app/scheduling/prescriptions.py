"""Treatment series as records of their own: booking a prescription's accepted units together with its
``treatment_series`` row in one transaction (nothing half-saved), the series a user may read, and the "unit n of
N" of appointments for the pages that list them."""

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import or_, select

from app.appointments.models import Appointment
from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.extensions import db
from app.scheduling import resolve
from app.scheduling.booking import book_all
from app.scheduling.engine.calendar import zone_of
from app.scheduling.engine.series import MAX_PER_WEEK, MAX_UNITS
from app.scheduling.models import AppointmentDetail, TreatmentSeries


@dataclass
class Prescription:
    """The series to record: ids as the client sent them; ``units`` prescribed (None: as many as are booked),
    ``prescription_date`` None for today in the practice's zone."""

    patient_id: object
    type_id: object
    location_id: object
    therapist_id: object = None
    units: int | None = None
    per_week: int = 1
    prescription_date: date | None = None
    valid_until: date | None = None
    notes: str = ""


def _checked(practice, prescription, requests):
    """The prescription's values checked: (patient, type, location, therapist or None, units, prescription date);
    SchedulingError on the first thing wrong."""
    patient = resolve.get_patient_of(practice, prescription.patient_id)
    if patient is None:
        raise resolve.SchedulingError(_("A series belongs to a patient: patient_id is required."), "patient_id")
    appointment_type = resolve.get_type(practice, prescription.type_id)
    location = resolve.get_location(practice, prescription.location_id)
    therapist = None
    if prescription.therapist_id is not None:
        therapist = resolve.get_therapist(practice, prescription.therapist_id)
    units = len(requests) if prescription.units is None else prescription.units
    if not 1 <= units <= MAX_UNITS:
        raise resolve.SchedulingError(_("A series has 1 to %(max)d units.", max=MAX_UNITS), "units_prescribed")
    if len(requests) > units:
        raise resolve.SchedulingError(_("Only %(units)d units are prescribed; fewer can be booked, not more.",
                                        units=units), "units")
    if not 1 <= prescription.per_week <= MAX_PER_WEEK:
        raise resolve.SchedulingError(_("per_week is 1 to %(max)d.", max=MAX_PER_WEEK), "per_week")
    prescribed = prescription.prescription_date or utcnow().astimezone(zone_of(practice.timezone)).date()
    if prescription.valid_until is not None and prescription.valid_until < prescribed:
        raise resolve.SchedulingError(_("The prescription cannot end before it was issued."), "valid_until")
    return patient, appointment_type, location, therapist, units, prescribed


def book_series(actor, practice, prescription, requests, *, can_override=False, partial=False):
    """Book the accepted units (``BookingRequest``s) of ``prescription`` and record the series, with each booked
    appointment linked as unit 1, 2, … in the order of their start, all in one transaction: when the booking fails
    no series row stays. Returns (series, failures as (index, conflicts)); errors as ``booking.book_all``."""
    patient, appointment_type, location, therapist, units, prescribed = _checked(practice, prescription, requests)
    if therapist is None and len({request.therapist_id for request in requests}) == 1:
        therapist = resolve.get_therapist(practice, requests[0].therapist_id)
    recorded = []

    def attach(booked):
        series = TreatmentSeries(
            practice_id=practice.id, patient_id=patient.id, type_id=appointment_type.id,
            therapist_id=therapist.id if therapist else None, location_id=location.id, units=units,
            per_week=prescription.per_week, prescription_date=prescribed, valid_until=prescription.valid_until,
            notes=prescription.notes or "", created_by_id=actor.user.id if actor and actor.user else None)
        db.session.add(series)
        db.session.flush()
        for number, appointment in enumerate(sorted(booked, key=lambda a: a.starts_at), start=1):
            appointment.detail.series_id, appointment.detail.unit_number = series.id, number
        db.session.flush()
        record("series.create", actor, practice_id=practice.id, object_type="treatment_series",
               object_id=series.id, patient_id=patient.id,
               meta={"units_prescribed": units, "units_booked": len(booked)})
        recorded.append(series)

    _booked, failures = book_all(actor, practice, requests, can_override=can_override, partial=partial,
                                 attach=attach)
    return recorded[0], failures


def readable_series(user, *, own_only):
    """The series ``user`` may read: the practice's; for a therapist (``own_only``) those they lead or give a unit
    of."""
    query = select(TreatmentSeries).where(TreatmentSeries.practice_id == user.practice_id)
    if own_only:
        treated = (select(AppointmentDetail.series_id).join(Appointment, Appointment.id ==
                                                            AppointmentDetail.appointment_id)
                   .where(Appointment.therapist_id == user.id, AppointmentDetail.series_id.is_not(None)))
        query = query.where(or_(TreatmentSeries.therapist_id == user.id, TreatmentSeries.id.in_(treated)))
    return query


def series_units_of(appointments):
    """``{appointment id: (unit number, units prescribed)}`` for those of ``appointments`` that are units of a
    series, read in one query (the patient's Termine tab shows "unit 3 of 10")."""
    ids = [appointment.id for appointment in appointments]
    if not ids:
        return {}
    rows = db.session.execute(
        select(AppointmentDetail.appointment_id, AppointmentDetail.unit_number, TreatmentSeries.units)
        .join(TreatmentSeries, TreatmentSeries.id == AppointmentDetail.series_id)
        .where(AppointmentDetail.appointment_id.in_(ids)))
    return {appointment_id: (unit, units) for appointment_id, unit, units in rows}
