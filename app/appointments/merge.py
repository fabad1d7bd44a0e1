"""The appointments domain's part of merging two patient records (app.patients.merge): the duplicate's cached
appointments and voice-agent calls move to the record that stays, and back when the merge is undone."""

from flask_babel import lazy_gettext as _l

from app.appointments.models import Appointment, Call
from app.patients.merge import move_rows
from app.patients.unmerge import return_rows


def move_appointments_and_calls(survivor, duplicate, apply):
    """The merge step: the duplicate's appointments and calls (with ``apply``, moved to the survivor)."""
    return [move_rows(Appointment, "appointments", _l("Appointments"), survivor, duplicate, apply),
            move_rows(Call, "calls", _l("Calls"), survivor, duplicate, apply)]


def return_appointments_and_calls(survivor, duplicate, moved, apply):
    """The reverse step: the appointments and calls that moved, back to the duplicate where still the survivor's
    (with ``apply``)."""
    return [return_rows(Appointment, "appointments", _l("Appointments"), survivor, duplicate, moved, apply),
            return_rows(Call, "calls", _l("Calls"), survivor, duplicate, moved, apply)]
