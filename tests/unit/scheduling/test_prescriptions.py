"""Treatment series as records against the database: the series is stored with its booked units numbered in the
order of their start, in the same transaction as the bookings (nothing half-saved), a therapist reads the series
they lead or give a unit of, and the "unit n of N" of a page of appointments is read in one query."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.appointments.models import Appointment
from app.platform.security.actor import Actor
from app.scheduling import prescriptions
from app.scheduling.booking import BookingRequest, SeriesConflict, book
from app.scheduling.models import AppointmentDetail, TreatmentSeries
from app.scheduling.prescriptions import Prescription, book_series, readable_series, series_units_of
from app.scheduling.resolve import SchedulingError
from tests.unit.scheduling.setup import TUESDAY, build, local


@pytest.fixture
def s(practice, make_user):
    return build(practice, make_user)


def requests_for(s, weeks, therapist=None):
    return [BookingRequest(type_id=s.kg.id, therapist_id=(therapist or s.anna).id, location_id=s.location.id,
                           start=local(TUESDAY + timedelta(weeks=week), 9)) for week in weeks]


def prescription_for(s, patient, **changes):
    return Prescription(**{"patient_id": patient.id, "type_id": s.kg.id, "location_id": s.location.id,
                           "units": 6, "per_week": 1, "prescription_date": date(2037, 5, 1), **changes})


def count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_units_are_numbered_by_start_and_the_therapist_is_taken_from_them(db, s, make_patient):
    patient = make_patient()
    series, failures = book_series(Actor(s.anna), s.practice, prescription_for(s, patient),
                                   requests_for(s, (2, 0, 1)))
    assert failures == [] and series.therapist_id == s.anna.id and series.created_by_id == s.anna.id
    assert [(detail.unit_number, detail.appointment.starts_at) for detail in series.details] == [
        (1, local(TUESDAY, 9)), (2, local(TUESDAY + timedelta(weeks=1), 9)),
        (3, local(TUESDAY + timedelta(weeks=2), 9))]
    assert series_units_of(db.session.scalars(select(Appointment)).all()) == {
        detail.appointment_id: (detail.unit_number, 6) for detail in series.details}


def test_a_failure_while_recording_undoes_the_bookings(db, s, make_patient, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(prescriptions, "record", broken)
    with pytest.raises(RuntimeError):
        book_series(Actor(s.anna), s.practice, prescription_for(s, make_patient()), requests_for(s, (0, 1)))
    assert count(db, TreatmentSeries) == 0 and count(db, Appointment) == 0


def test_a_colliding_unit_books_nothing_and_records_no_series(db, s, make_patient):
    book(Actor(s.anna), s.practice, requests_for(s, (1,))[0])
    with pytest.raises(SeriesConflict):
        book_series(Actor(s.anna), s.practice, prescription_for(s, make_patient()), requests_for(s, (0, 1)))
    assert count(db, TreatmentSeries) == 0 and count(db, Appointment) == 1


def test_the_same_unit_number_cannot_be_given_twice(db, s, make_patient):
    series, _failures = book_series(Actor(s.anna), s.practice, prescription_for(s, make_patient()),
                                    requests_for(s, (0, 1)))
    first, second = series.details
    second.unit_number = first.unit_number
    with pytest.raises(IntegrityError, match="(?i)unique"):
        db.session.flush()
    db.session.rollback()


def test_more_units_than_prescribed_are_refused(db, s, make_patient):
    with pytest.raises(SchedulingError) as error:
        book_series(Actor(s.anna), s.practice, prescription_for(s, make_patient(), units=1), requests_for(s, (0, 1)))
    assert error.value.field == "units" and count(db, Appointment) == 0


def test_a_therapist_reads_the_series_they_lead_or_give_a_unit_of(db, s, make_patient, make_user):
    patient = make_patient()
    led, _ = book_series(Actor(s.anna), s.practice, prescription_for(s, patient), requests_for(s, (0,)))
    mixed, _ = book_series(Actor(s.ben), s.practice, prescription_for(s, patient, therapist_id=s.ben.id),
                           requests_for(s, (3,), therapist=s.anna) + requests_for(s, (4,), therapist=s.ben))
    others, _ = book_series(Actor(s.ben), s.practice, prescription_for(s, patient), requests_for(s, (5,), s.ben))
    assert mixed.therapist_id == s.ben.id
    visible = set(db.session.scalars(readable_series(s.anna, own_only=True).with_only_columns(TreatmentSeries.id)))
    assert visible == {led.id, mixed.id}
    everyone = set(db.session.scalars(readable_series(s.anna, own_only=False)
                                      .with_only_columns(TreatmentSeries.id)))
    assert everyone == {led.id, mixed.id, others.id}
    assert count(db, AppointmentDetail) == 4
