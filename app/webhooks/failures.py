"""What a failed attempt to apply a webhook event keeps, and how the event log reads it.

``webhook_event_attempts.error`` is stored for good (the table is append-only) and the same text goes to the
application log, so it holds no health data: a JSON object with a ``code`` and ids or field names only. A record
the domain refuses keeps its RecordRefused code and parameters (app.patients.importing.refusal); anything else
keeps the exception's class and where in our code it was raised, never its text (a database error quotes the
statement's parameters: names, emails, phones). The sentence an admin reads is built when the page is shown, from
that code and those ids, in the admin's language."""

import json
from dataclasses import dataclass

from flask_babel import gettext as _

from app.patients.importing.refusal import RecordRefused, refusal_message
from app.platform.errors import error_location

UNEXPECTED = "unexpected"


def stored_error(error):
    """The text an attempt stores (and the log shows) for ``error``: JSON with a code and ids, never a value."""
    if isinstance(error, RecordRefused):
        return json.dumps({"code": error.code, **error.params}, sort_keys=True)
    unexpected = {"code": UNEXPECTED, "type": type(error).__name__, "where": error_location(error)}
    return json.dumps(unexpected, sort_keys=True)


@dataclass(frozen=True)
class AttemptError:
    """An attempt's error as the event log shows it: the sentence and the patients it names (for links)."""

    message: str
    patient_ids: tuple = ()


def describe_error(stored):
    """The readable form of an attempt's stored ``error`` (see stored_error); an error stored before errors were
    codes, or with a code this version does not know, is shown as it was stored."""
    if not stored:
        return None
    try:
        error = json.loads(stored)
    except ValueError:
        return AttemptError(stored)
    if not isinstance(error, dict):
        return AttemptError(stored)
    code = error.pop("code", None)
    if code == UNEXPECTED:
        return AttemptError(_("An unexpected error occurred while applying the event (%(type)s). If it persists, "
                              "report it to support with the event number.", type=error.get("type", "?")))
    message = refusal_message(code, error)
    if message is None:
        return AttemptError(stored)
    ids = [error.get("patient_id"), error.get("other_patient_id"), *error.get("patient_ids", ())]
    return AttemptError(message, tuple(patient_id for patient_id in ids if isinstance(patient_id, int)))
