"""What the scheduling settings page shows and accepts, section by section: appointment types, rooms and devices,
therapists' working hours and absences. Each section lists its rows and has an add form whose fields carry the API's
names, so the page and the API check input with the same rules (``app.scheduling.api``'s value functions)."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.accounts.models import User
from app.platform.extensions import db
from app.scheduling.api.catalogue import resource_values, type_values
from app.scheduling.api.hours import absence_values, working_values
from app.scheduling.engine.calendar import zone_of
from app.scheduling.hours import ABSENCE_REASONS, Absence, WorkingHours
from app.scheduling.labels import ABSENCE_REASON_LABELS
from app.scheduling.models import AppointmentType, Resource

WEEKDAY_LABELS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"),
                  _l("Sunday"))
INTEGER_FIELDS = {"duration", "slot_step", "buffer_after_room", "buffer_after_doctor", "location", "capacity",
                  "doctor", "weekday"}


@dataclass(frozen=True)
class Field:
    """One input of an add form: API name, label, input type (text, number, time, date, datetime-local, select,
    checkbox) and, for selects, a function of the practice giving (value, label) options."""

    name: str
    label: object
    kind: str = "text"
    options: object = None
    required: bool = True


@dataclass(frozen=True)
class Section:
    """A section of the page: its rows, columns, add form, how a form becomes an API body, and who changes it."""

    key: str
    title: object
    model: type
    columns: tuple
    fields: tuple
    values: object
    permission: str
    owner: str | None = None


def _therapists(practice):
    """(id, name) of the practice's active therapists, by name."""
    return [(user.id, user.name) for user in db.session.scalars(select(User).where(
        User.practice_id == practice.id, User.active.is_(True), User.role == "therapist").order_by(User.name))]


def _locations(practice):
    """(id, name) of the practice's locations."""
    return [(location.id, location.name) for location in practice.locations]


def _devices(practice):
    """The device choice of the type form: none, or one active resource (with its location)."""
    return [("", _l("No device"))] + [(r.id, f"{r.name} ({r.location.name})") for r in db.session.scalars(
        select(Resource).where(Resource.practice_id == practice.id, Resource.active.is_(True)).order_by(Resource.name))]


def _names(model):
    """A function naming a row of ``model`` by id ("–" for none)."""
    def name_of(row_id):
        """The name of the row ``row_id``."""
        row = db.session.get(model, row_id) if row_id else None
        return row.name if row is not None else "–"
    return name_of


def _local(practice, value):
    """A UTC instant as TT.MM.JJJJ HH:MM in the practice's zone."""
    return value.astimezone(zone_of(practice.timezone)).strftime("%d.%m.%Y %H:%M")


def _type_body(form):
    """The API body of the type form: a room of any kind ``room`` and optionally one named device."""
    needs = [{"kind": "room", "count": 1, "mode": "any"}] if form.get("needs_room") else []
    if form.get("device"):
        needs.append({"resource": form["device"]})
    body = {key: value for key, value in form.items() if key not in ("needs_room", "device")}
    return {**body, "requirements": needs}


def _requirements_text(row):
    """What a type needs, in one line ("1 × room, Stoßwellengerät")."""
    parts = [f"{need.count} × {need.kind}" if need.kind else _names(Resource)(need.resource_id)
             for need in row.requirements]
    return ", ".join(parts) or "–"


SECTIONS = (
    Section("types", _l("Appointment types"), AppointmentType, (
        (_l("Name"), lambda row, practice: row.name),
        (_l("Duration"), lambda row, practice: f"{row.duration_minutes} min"),
        (_l("Needs"), lambda row, practice: _requirements_text(row)),
        (_l("Active"), lambda row, practice: _l("yes") if row.active else _l("no")),
    ), (
        Field("name", _l("Name")), Field("duration", _l("Duration (minutes)"), "number"),
        Field("needs_room", _l("Needs a treatment room"), "checkbox", required=False),
        Field("device", _l("Needs this device"), "select", _devices, required=False),
    ), lambda practice, form: type_values(practice, _type_body(form), None), "scheduling.manage"),
    Section("resources", _l("Rooms and devices"), Resource, (
        (_l("Name"), lambda row, practice: row.name),
        (_l("Kind"), lambda row, practice: row.kind),
        (_l("Location"), lambda row, practice: row.location.name),
        (_l("Places"), lambda row, practice: row.capacity),
    ), (
        Field("name", _l("Name")), Field("kind", _l("Kind (room, device, …)")),
        Field("location", _l("Location"), "select", _locations), Field("capacity", _l("Places"), "number"),
    ), lambda practice, form: resource_values(practice, form, None), "scheduling.manage"),
    Section("hours", _l("Working hours"), WorkingHours, (
        (_l("Therapist"), lambda row, practice: row.therapist.name),
        (_l("Location"), lambda row, practice: row.location.name),
        (_l("Weekday"), lambda row, practice: WEEKDAY_LABELS[row.weekday]),
        (_l("Time"), lambda row, practice: f"{row.start_time:%H:%M}–{row.end_time:%H:%M}"),
        (_l("Valid from"), lambda row, practice: row.valid_from.strftime("%d.%m.%Y")),
    ), (
        Field("doctor", _l("Therapist"), "select", _therapists),
        Field("location", _l("Location"), "select", _locations),
        Field("weekday", _l("Weekday"), "select", lambda practice: list(enumerate(WEEKDAY_LABELS))),
        Field("start_time", _l("From"), "time"), Field("end_time", _l("Until"), "time"),
        Field("valid_from", _l("Valid from"), "date"),
    ), lambda practice, form: working_values(practice, form, None), "scheduling.manage", "therapist_id"),
    Section("absences", _l("Absences"), Absence, (
        (_l("Therapist"), lambda row, practice: row.therapist.name),
        (_l("From"), lambda row, practice: _local(practice, row.starts_at)),
        (_l("Until"), lambda row, practice: _local(practice, row.ends_at)),
        (_l("Reason"), lambda row, practice: ABSENCE_REASON_LABELS.get(row.reason, row.reason)),
    ), (
        Field("doctor", _l("Therapist"), "select", _therapists),
        Field("start_time", _l("From"), "datetime-local"), Field("end_time", _l("Until"), "datetime-local"),
        Field("reason", _l("Reason"), "select", lambda practice: [(r, ABSENCE_REASON_LABELS[r])
                                                                    for r in ABSENCE_REASONS]),
    ), lambda practice, form: absence_values(practice, form, None), "scheduling.hours", "therapist_id"),
)
SECTION_BY_KEY = {section.key: section for section in SECTIONS}


def form_body(section, form):
    """The submitted form as an API body: whole numbers where the API wants them, empty fields left out."""
    body = {}
    for field in section.fields:
        value = form.get(field.name, "").strip()
        if field.kind == "checkbox":
            body[field.name] = bool(value)
        elif value:
            body[field.name] = int(value) if field.name in INTEGER_FIELDS and value.lstrip("-").isdigit() else value
    if section.key == "resources":
        body.setdefault("capacity", 1)
    return body
