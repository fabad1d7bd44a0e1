"""What the scheduling settings page shows and accepts, section by section: appointment types, rooms and devices,
opening hours, therapists' working hours, breaks and absences, and closures. Each section lists its rows and has a
form (to add, or to edit a row) whose fields carry the API's names, so the page and the API check input with the
same rules (``app.scheduling.api``'s value and JSON functions); an edit merges the form into the row's API form."""

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.accounts.models import User
from app.platform.extensions import db
from app.scheduling.api.catalogue import resource_json, resource_values, type_json, type_values
from app.scheduling.api.common import day, iso, unknown_fields
from app.scheduling.api.hours import (
    absence_json,
    absence_values,
    break_json,
    break_values,
    closure_json,
    closure_values,
    opening_json,
    opening_values,
    working_json,
    working_values,
)
from app.scheduling.availability import holiday_region
from app.scheduling.collisions import scope_of
from app.scheduling.engine.calendar import public_holidays, zone_of
from app.scheduling.hours import ABSENCE_REASONS, Absence, Break, Closure, HolidayOpening, OpeningHours, WorkingHours
from app.scheduling.labels import ABSENCE_REASON_LABELS, resource_kind_label
from app.scheduling.models import AppointmentType, Resource
from app.scheduling.resolve import SchedulingError
from app.tenancy.models import Location

WEEKDAY_LABELS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"),
                  _l("Sunday"))
INTEGER_FIELDS = {"duration", "slot_step", "buffer_after_room", "buffer_after_doctor", "location", "capacity",
                  "doctor", "weekday", "resource", "substitute", "min_notice", "horizon_days"}


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
    """A section of the page: its rows, columns, form, how a form becomes an API body (``values(practice, body,
    row)``), the row's API form (``to_json``), who changes it (``permission``; with an ``owner`` column a
    therapist changes their own rows too), whether deleting deactivates rows in use (``deactivate``) and which
    owner's appointments a change can make collide (``affects(row)``: keyword arguments of rule_collisions)."""

    key: str
    title: object
    model: type
    columns: tuple
    fields: tuple
    values: object
    to_json: object
    permission: str
    owner: str | None = None
    deactivate: bool = False
    affects: object = None

    @property
    def arg(self):
        """The URL argument naming a row: the table's name in the singular with ``_id`` (``absence_id``)."""
        return f"{self.model.__tablename__.removesuffix('s')}_id"


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


def _resources(practice):
    """The closure's resource choice: none (the practice or a location), or one resource."""
    return [("", _l("None"))] + [(r.id, f"{r.name} ({r.location.name})") for r in db.session.scalars(
        select(Resource).where(Resource.practice_id == practice.id).order_by(Resource.name))]


def _type_body(form):
    """The API body of the type form: a room of any kind ``room`` and optionally one named device, after the
    needs the form does not show (kept from the edited type in ``requirements``)."""
    needs = list(form.get("requirements") or [])
    needs += [{"kind": "room", "count": 1, "mode": "any"}] if form.get("needs_room") else []
    if form.get("device"):
        needs.append({"resource": form["device"]})
    body = {key: value for key, value in form.items() if key not in ("needs_room", "device")}
    return {**body, "requirements": needs}


def holiday_opening_values(practice, body, row):
    """Checked columns of a holiday the practice opens on: a date that is a public holiday of its region, once."""
    unknown_fields(body, {"id", "date"})
    on = day(body, "date")
    country, region = holiday_region(practice)
    if on not in public_holidays(country, region, [on]):
        raise SchedulingError(_("%(day)s is no public holiday in the practice's federal state or canton.",
                                day=on.strftime("%d.%m.%Y")), "date")
    duplicate = db.session.scalar(select(HolidayOpening.id).where(HolidayOpening.practice_id == practice.id,
                                                                  HolidayOpening.day == on))
    if duplicate is not None and (row is None or duplicate != row.id):
        raise SchedulingError(_("The practice already opens on %(day)s.", day=on.strftime("%d.%m.%Y")), "date")
    return {"day": on}


def _holiday_name(row, practice):
    """The holiday's name in the practice's region."""
    country, region = holiday_region(practice)
    return public_holidays(country, region, [row.day]).get(row.day, "–")


def _type_form(row):
    """The type form's values of a type: its room need and its first named device."""
    devices = [need.resource_id for need in row.requirements if need.resource_id]
    return {"needs_room": any(need.kind == "room" for need in row.requirements),
            "device": devices[0] if devices else ""}


def _local_input(practice, value):
    """A UTC instant as a datetime-local input value in the practice's zone."""
    return value.astimezone(zone_of(practice.timezone)).strftime("%Y-%m-%dT%H:%M")


def _weekday_or_date(row, practice):
    """A break's day: the weekday or the date."""
    return WEEKDAY_LABELS[row.weekday] if row.weekday is not None else row.day.strftime("%d.%m.%Y")


def _validity(row, practice):
    """From–until of hours ("ab 01.01.2026" when open-ended)."""
    start = row.valid_from.strftime("%d.%m.%Y")
    return f"{start}–{row.valid_to:%d.%m.%Y}" if row.valid_to else _l("from %(day)s", day=start)


def _closure_scope(row, practice):
    """What a closure closes: a resource, a location or the whole practice."""
    if row.resource_id:
        return _names(Resource)(row.resource_id)
    return _names(Location)(row.location_id) if row.location_id else _l("Whole practice")


def _requirements_text(row):
    """What a type needs, in one line ("1 × room, Stoßwellengerät")."""
    parts = [f"{need.count} × {resource_kind_label(need.kind)}" if need.kind else _names(Resource)(need.resource_id)
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
        Field("min_notice", _l("Minimum notice (minutes)"), "number", required=False),
        Field("horizon_days", _l("Bookable up to (days ahead)"), "number", required=False),
    ), lambda practice, body, row: type_values(practice, _type_body(body), row), type_json, "scheduling.manage",
        deactivate=True),
    Section("resources", _l("Rooms and devices"), Resource, (
        (_l("Name"), lambda row, practice: row.name),
        (_l("Kind"), lambda row, practice: resource_kind_label(row.kind)),
        (_l("Location"), lambda row, practice: row.location.name),
        (_l("Places"), lambda row, practice: row.capacity),
    ), (
        Field("name", _l("Name")), Field("kind", _l("Kind (room, device, …)")),
        Field("location", _l("Location"), "select", _locations), Field("capacity", _l("Places"), "number"),
    ), resource_values, resource_json, "scheduling.manage", deactivate=True),
    Section("opening", _l("Opening hours"), OpeningHours, (
        (_l("Location"), lambda row, practice: row.location.name),
        (_l("Weekday"), lambda row, practice: WEEKDAY_LABELS[row.weekday]),
        (_l("Time"), lambda row, practice: f"{row.start_time:%H:%M}–{row.end_time:%H:%M}"),
        (_l("Valid"), _validity),
    ), (
        Field("location", _l("Location"), "select", _locations),
        Field("weekday", _l("Weekday"), "select", lambda practice: list(enumerate(WEEKDAY_LABELS))),
        Field("start_time", _l("From"), "time"), Field("end_time", _l("Until"), "time"),
        Field("valid_from", _l("Valid from"), "date"), Field("valid_to", _l("Valid until"), "date", required=False),
    ), opening_values, opening_json, "scheduling.manage", affects=scope_of),
    Section("hours", _l("Working hours"), WorkingHours, (
        (_l("Therapist"), lambda row, practice: row.therapist.name),
        (_l("Location"), lambda row, practice: row.location.name),
        (_l("Weekday"), lambda row, practice: WEEKDAY_LABELS[row.weekday]),
        (_l("Time"), lambda row, practice: f"{row.start_time:%H:%M}–{row.end_time:%H:%M}"),
        (_l("Valid"), _validity),
    ), (
        Field("doctor", _l("Therapist"), "select", _therapists),
        Field("location", _l("Location"), "select", _locations),
        Field("weekday", _l("Weekday"), "select", lambda practice: list(enumerate(WEEKDAY_LABELS))),
        Field("start_time", _l("From"), "time"), Field("end_time", _l("Until"), "time"),
        Field("valid_from", _l("Valid from"), "date"), Field("valid_to", _l("Valid until"), "date", required=False),
    ), working_values, working_json, "scheduling.hours", "therapist_id",
        affects=scope_of),
    Section("breaks", _l("Breaks"), Break, (
        (_l("Therapist"), lambda row, practice: row.therapist.name),
        (_l("Day"), _weekday_or_date),
        (_l("Time"), lambda row, practice: f"{row.start_time:%H:%M}–{row.end_time:%H:%M}"),
    ), (
        Field("doctor", _l("Therapist"), "select", _therapists),
        Field("weekday", _l("Every"), "select", lambda practice: [("", _l("– only on the date –"))]
              + list(enumerate(WEEKDAY_LABELS)), required=False),
        Field("date", _l("Or on the date"), "date", required=False),
        Field("start_time", _l("From"), "time"), Field("end_time", _l("Until"), "time"),
    ), break_values, break_json, "scheduling.hours", "therapist_id",
        affects=scope_of),
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
        Field("substitute", _l("Substitute"), "select", lambda practice: [("", _l("None"))] + _therapists(practice),
              required=False),
        Field("note", _l("Note"), required=False),
    ), absence_values, absence_json, "scheduling.hours", "therapist_id",
        affects=scope_of),
    Section("closures", _l("Closures"), Closure, (
        (_l("Closed"), _closure_scope),
        (_l("From"), lambda row, practice: _local(practice, row.starts_at)),
        (_l("Until"), lambda row, practice: _local(practice, row.ends_at)),
        (_l("Note"), lambda row, practice: row.note or "–"),
    ), (
        Field("location", _l("Location"), "select", lambda practice: [("", _l("Whole practice"))]
              + _locations(practice), required=False),
        Field("resource", _l("Or only this room or device"), "select", _resources, required=False),
        Field("start_time", _l("From"), "datetime-local"), Field("end_time", _l("Until"), "datetime-local"),
        Field("note", _l("Note"), required=False),
    ), closure_values, closure_json, "scheduling.manage",
        affects=scope_of),
    Section("holidays", _l("Public holidays the practice opens on"), HolidayOpening, (
        (_l("Date"), lambda row, practice: row.day.strftime("%d.%m.%Y")),
        (_l("Holiday"), _holiday_name),
    ), (
        Field("date", _l("Date"), "date"),
    ), holiday_opening_values, lambda row: {"id": row.id, "date": iso(row.day)}, "scheduling.manage",
        affects=scope_of),
)
SECTION_BY_KEY = {section.key: section for section in SECTIONS}


def row_form(section, row, practice):
    """The form values showing ``row`` for editing (strings, as a submitted form would hold them)."""
    values = section.to_json(row)
    if section.key == "types":
        values.update(_type_form(row))
    if section.key in ("absences", "closures"):
        values["start_time"], values["end_time"] = (_local_input(practice, row.starts_at),
                                                    _local_input(practice, row.ends_at))
    return {field.name: "" if values.get(field.name) in (None, False) else
            "1" if values.get(field.name) is True else str(values[field.name])[:5] if field.kind == "time"
            else str(values[field.name]) for field in section.fields}


def update_body(section, row, body):
    """The API body of an edit: the row's API form with the form's fields (given or emptied) replaced."""
    names = {field.name for field in section.fields}
    base = {key: value for key, value in section.to_json(row).items() if key not in names}
    if section.key == "types":
        shown = _type_form(row)
        base["requirements"] = [need for need in base["requirements"] if need["kind"] != "room"
                                and (need["resource"] is None or need["resource"] != shown["device"])]
    return {**base, **body}


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
