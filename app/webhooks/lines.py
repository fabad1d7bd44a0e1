"""The event log in plain words (issue 17, item 9): one line per event ("Termin am 07.12. 14:00 abgesagt – L. B.",
"Neu im Buchungstool: M. K.") and the patient it concerns, for a whole page of events at once.

A line is built from what the log already stores and may show: the event type and the redacted preview (names
already shortened to initials, numbers masked), never from the encrypted payload. A preview longer than its limit
is cut ("…"), so it is read as text (the quoted key/value pairs it contains), not parsed as JSON. The patient is
found through the ids the preview keeps (the appointment's, the call's, the booking tool's patient id), with one
query per kind of id for the whole page, never one per event."""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, tuple_

from app.appointments.models import Appointment, Call
from app.patients.models import Patient
from app.platform.extensions import db
from app.platform.formatting import day_time_for_people

# What each event type is, in words (the types of the booking tool's contract, Cal.com's triggers and Retell's
# call events; DESIGN.md §5). A type not listed here is named "Other event" rather than shown as its code.
EVENT_TYPE_LABELS = {
    "patient.created": _l("New patient"),
    "patient.updated": _l("Patient data changed"),
    "appointment.created": _l("Appointment booked"),
    "appointment.updated": _l("Appointment changed"),
    "appointment.cancelled": _l("Appointment cancelled"),
    "BOOKING_CREATED": _l("Appointment booked"),
    "BOOKING_REQUESTED": _l("Appointment requested"),
    "BOOKING_RESCHEDULED": _l("Appointment moved"),
    "BOOKING_CANCELLED": _l("Appointment cancelled"),
    "BOOKING_REJECTED": _l("Appointment request declined"),
    "PING": _l("Connection test"),
    "call_started": _l("Call started"),
    "call_ended": _l("Call ended"),
    "call_analyzed": _l("Call evaluated"),
}
# The sentence of an appointment event, by type; %(when)s is the day and time, %(name)s the attendee's initials.
APPOINTMENT_LINES = {
    "appointment.created": _l("Appointment on %(when)s booked"),
    "BOOKING_CREATED": _l("Appointment on %(when)s booked"),
    "BOOKING_REQUESTED": _l("Appointment on %(when)s requested"),
    "appointment.updated": _l("Appointment on %(when)s changed"),
    "BOOKING_RESCHEDULED": _l("Appointment moved to %(when)s"),
    "appointment.cancelled": _l("Appointment on %(when)s cancelled"),
    "BOOKING_CANCELLED": _l("Appointment on %(when)s cancelled"),
    "BOOKING_REJECTED": _l("Appointment request for %(when)s declined"),
}
PATIENT_LINES = {
    "patient.created": _l("New in the booking tool: %(name)s"),
    "patient.updated": _l("Patient data changed in the booking tool: %(name)s"),
}
CALL_LINES = {
    "call_started": _l("Call with %(number)s started"),
    "call_ended": _l("Call with %(number)s ended"),
    "call_analyzed": _l("Call with %(number)s evaluated"),
}

# What an event's outcome at receipt and its attempts' outcomes and triggers are, in words.
OUTCOME_LABELS = {
    "accepted": _l("accepted"),
    "duplicate": _l("duplicate"),
    "rejected": _l("rejected"),
    "processed": _l("processed"),
    "ignored": _l("ignored"),
    "error": _l("error"),
}
TRIGGER_LABELS = {
    "receipt": _l("on receipt"),
    "retry": _l("automatic retry"),
    "replay": _l("applied again by a user"),
}

# A quoted key with a string or number value, anywhere in the (possibly cut) preview.
_PAIR = re.compile(r'"([A-Za-z_]+)"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?)')


@dataclass(frozen=True)
class EventLine:
    """An event in words and the id of the patient it concerns (None when none matched)."""

    text: str
    patient_id: int | None = None


def event_type_label(event_type):
    """The name of an event type in words; "Other event" for an unknown one, "—" for none."""
    if not event_type:
        return "—"
    return EVENT_TYPE_LABELS.get(event_type, _l("Other event"))


def _scalars(text):
    """{key: first value} of the quoted string and number pairs in ``text``, at any depth."""
    found = {}
    for key, raw in _PAIR.findall(text or ""):
        found.setdefault(key, json.loads(raw))
    return found


def _after(text, key):
    """The pairs of ``text`` from the key ``key`` on (the first attendee's, say), or {} without it."""
    start = (text or "").find(f'"{key}"')
    return _scalars(text[start:]) if start >= 0 else {}


def _moment(value):
    """A start time from a preview (ISO 8601, or milliseconds since 1970 as Retell sends them), or None."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


# What the latest attempt's detail names (app.appointments.service): our patient, or the source's appointment or
# call id, which the preview may have lost when it was cut.
_DETAIL_PATIENT = re.compile(r"^patient (\d+):")
_DETAIL_APPOINTMENT = re.compile(r"^appointment (\w+):(\S+): ")
_DETAIL_CALL = re.compile(r"^call (\S+): ")


def _facts(event, detail):
    """What an event's preview and its latest attempt's ``detail`` say: the ids of what it concerns, the start
    time, the initials and the (masked) number."""
    fields = _scalars(event.preview)
    attendee = _after(event.preview, "attendees")
    name = attendee.get("name") or " ".join(
        part for part in (fields.get("first_name"), fields.get("last_name")) if isinstance(part, str)) or None
    outbound = fields.get("direction") == "outbound"
    appointment_id = fields.get("appointment_id") or fields.get("uid")
    call_id = fields.get("call_id")
    patient_id = None
    for part in (detail or "").split("; "):
        if match := _DETAIL_PATIENT.match(part):
            patient_id = int(match[1])
        elif (match := _DETAIL_APPOINTMENT.match(part)) and match[1] == event.source:
            appointment_id = appointment_id or match[2]
        elif match := _DETAIL_CALL.match(part):
            call_id = call_id or match[1]
    return {
        "patient_id": patient_id,
        "appointment_id": appointment_id,
        "call_id": call_id,
        "booking_patient_id": fields.get("patient_id"),
        "start": _moment(fields.get("start") or fields.get("startTime") or fields.get("start_timestamp")),
        "name": name,
        "number": fields.get("to_number" if outbound else "from_number"),
    }


def _text(event, facts):
    """The sentence for one event."""
    kind = event.event_type
    if kind in APPOINTMENT_LINES:
        when = day_time_for_people(facts["start"]) if facts["start"] else _l("an unknown date")
        text = str(APPOINTMENT_LINES[kind]) % {"when": when}
        return f"{text} – {facts['name']}" if facts["name"] else text
    if kind in PATIENT_LINES:
        return str(PATIENT_LINES[kind]) % {"name": facts["name"] or "—"}
    if kind in CALL_LINES:
        return str(CALL_LINES[kind]) % {"number": facts["number"] or _l("an unknown number")}
    if event.outcome == "rejected":
        return str(_l("Signed, but not readable"))
    return str(event_type_label(kind))


def event_lines(practice_id, rows):
    """{event id: EventLine} for log ``rows`` of one practice (app.webhooks.log: the event and its latest
    attempt's ``detail``): the sentence and the matched patient. Three queries at most (appointments, calls,
    patients by the booking tool's id), whatever the number of events."""
    events = [row.WebhookEvent for row in rows]
    facts = {row.WebhookEvent.id: _facts(row.WebhookEvent, row.detail) for row in rows}
    appointment_keys = {(event.source, facts[event.id]["appointment_id"]) for event in events
                        if isinstance(facts[event.id]["appointment_id"], str)}
    call_ids = {fact["call_id"] for fact in facts.values() if isinstance(fact["call_id"], str)}
    booking_ids = {fact["booking_patient_id"] for fact in facts.values()
                   if isinstance(fact["booking_patient_id"], str)}
    appointments = {(source, external_id): patient_id for source, external_id, patient_id in db.session.execute(
        select(Appointment.source, Appointment.external_id, Appointment.patient_id)
        .where(Appointment.practice_id == practice_id, Appointment.patient_id.is_not(None),
               tuple_(Appointment.source, Appointment.external_id).in_(sorted(appointment_keys)))
    )} if appointment_keys else {}
    calls = dict(db.session.execute(
        select(Call.external_id, Call.patient_id)
        .where(Call.practice_id == practice_id, Call.patient_id.is_not(None), Call.external_id.in_(call_ids))
    ).all()) if call_ids else {}
    patients = dict(db.session.execute(
        select(Patient.booking_system_id, Patient.id)
        .where(Patient.practice_id == practice_id, Patient.booking_system_id.in_(booking_ids))
    ).all()) if booking_ids else {}
    lines = {}
    for event in events:
        fact = facts[event.id]
        patient_id = (fact["patient_id"] or appointments.get((event.source, fact["appointment_id"]))
                      or calls.get(fact["call_id"]) or patients.get(fact["booking_patient_id"]))
        lines[event.id] = EventLine(_text(event, fact), patient_id)
    return lines


# What an attempt did (the short English texts app.appointments.service and the providers store), in words.
_DETAILS = (
    (re.compile(r"^patient (\d+|None): (\w+)$"), lambda m: _l("Patient: %(what)s", what=_word(m[2]))),
    (re.compile(r"^patient flagged for review in import \d+$"), lambda m: _l("Patient held for review")),
    (re.compile(r"^appointment \S+: stored \((\w+)\)$"),
     lambda m: _l("Appointment saved (%(status)s)", status=_word(m[1]))),
    (re.compile(r"^appointment \S+: older than the stored update$"),
     lambda m: _l("Appointment not changed: older than the saved state")),
    (re.compile(r"^\S+ marked rescheduled$"), lambda m: _l("the earlier appointment is marked as moved")),
    (re.compile(r"^\S+ not known here$"), lambda m: _l("the earlier appointment is not known here")),
    (re.compile(r"^call \S+: (created|updated) \(stage \d\)$"), lambda m: _l("Call %(what)s", what=_word(m[1]))),
    (re.compile(r"^call \S+: an earlier stage than the stored one$"),
     lambda m: _l("Call not changed: the saved state is newer")),
    (re.compile(r"^ping$"), lambda m: _l("Connection test, nothing to apply")),
    (re.compile(r"^(trigger|event|unknown event type) .+$"), lambda m: _l("An event type that is not applied")),
    (re.compile(r"^nothing to apply$"), lambda m: _l("Nothing to apply")),
)
_WORDS = {
    "created": _l("created"), "updated": _l("updated"), "linked": _l("linked"), "unchanged": _l("unchanged"),
    "skipped": _l("skipped"), "flagged": _l("held for review"), "scheduled": _l("booked"),
    "cancelled": _l("cancelled"), "rescheduled": _l("moved"), "completed": _l("took place"),
    "no_show": _l("not attended"), "pending": _l("requested"), "rejected": _l("declined"),
}


def _word(code):
    """A status or action word of a stored detail, in the user's language."""
    return _WORDS.get(code, code)


def describe_detail(detail):
    """What an attempt did, in words, from its stored ``detail`` (parts joined by "; "); a part no rule knows is
    shown as stored."""
    if not detail:
        return ""
    parts = []
    for part in detail.split("; "):
        for pattern, words in _DETAILS:
            match = pattern.match(part)
            if match:
                parts.append(str(words(match)))
                break
        else:
            parts.append(part)
    return "; ".join(parts)


# Why a signed event could not be read ("<field path>: <problem>", app.providers.fields), in words; the field is
# named as the sender's documentation names it (its last part), the problem by the rules below.
_PROBLEMS = (
    (re.compile(r"^required$"), lambda m: _l("missing")),
    (re.compile(r"^expected an? (?:JSON )?object$"), lambda m: _l("must be an object")),
    (re.compile(r"^expected a non-empty list$"), lambda m: _l("must be a list that is not empty")),
    (re.compile(r"^expected a (?:non-empty )?string(?: or an integer)?$"), lambda m: _l("must be a text")),
    (re.compile(r"^expected a date YYYY-MM-DD$"), lambda m: _l("must be a date (YYYY-MM-DD)")),
    (re.compile(r"^expected a non-negative integer$"), lambda m: _l("must be a whole number")),
    (re.compile(r"^expected true, false or null$"), lambda m: _l("must be true, false or null")),
    (re.compile(r"^longer than (\d+) characters$"), lambda m: _l("longer than %(num)s characters", num=m[1])),
    (re.compile(r"^holds a control character$"), lambda m: _l("holds a control character")),
)


# Why a body could not be read as JSON (app.platform.json_input, stored as "malformed JSON: <problem>").
_JSON_PROBLEMS = (
    (re.compile(r"^not UTF-8 text$"), lambda m: _l("not UTF-8 text")),
    (re.compile(r"^nested deeper than (\d+) levels$"), lambda m: _l("nested deeper than %(num)s levels", num=m[1])),
    (re.compile(r"^.+ at position (\d+)$"), lambda m: _l("syntax error at character %(num)s", num=m[1])),
    (re.compile(r"^a string holds .+$"), lambda m: _l("a text holds a character that is not allowed")),
    (re.compile(r"^a number longer than .+$"), lambda m: _l("a number is too long")),
    (re.compile(r"^.+ is not JSON$"), lambda m: _l("not JSON")),
)


def _first_rule(rules, text):
    """The words of the first of ``rules`` (pattern, words) that matches ``text``, or None."""
    for pattern, words in rules:
        if match := pattern.match(text):
            return words(match)
    return None


def describe_reject_reason(reason):
    """Why a signed event was rejected, in words ("Feld „start“: fehlt" for "data.start: required"); a reason no
    rule knows is shown as stored."""
    path, separator, problem = (reason or "").partition(": ")
    if not separator:
        return reason or ""
    if path == "malformed JSON":
        return str(_l("Not readable as JSON: %(problem)s", problem=_first_rule(_JSON_PROBLEMS, problem) or problem))
    field = re.sub(r"\[\d+\]", "", path.split(" ")[0]).rsplit(".", 1)[-1]
    return str(_l("Field “%(field)s”: %(problem)s", field=field,
                  problem=_first_rule(_PROBLEMS, problem) or problem))


def pretty_preview(preview):
    """The redacted preview indented for reading in the detail view; as stored when it was cut (not JSON)."""
    if not preview:
        return None
    try:
        return json.dumps(json.loads(preview), indent=2, ensure_ascii=False)
    except ValueError:
        return preview
