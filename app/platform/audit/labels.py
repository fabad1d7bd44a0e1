"""What each audited action, object and detail means, in words, for the people who read the audit log and a
patient's history (issue 17, item 11: no raw codes on a page). Each domain registers the labels of what it records
in its ``init_app``: ``register_action_labels`` (action code -> name), ``register_audit_labels`` (the kinds of
object, the keys of an entry's details and the coded values found in them) and ``register_object_names`` (how to
name a page of objects of one kind in one query). A test checks that every action the app records is named."""

import re
from datetime import datetime

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.platform.extensions import db
from app.platform.formatting import datetime_for_people

# Action code -> lazy label; the code stays the filter key.
ACTION_LABELS = {}
# Object type ("user", "patient") -> lazy label.
OBJECT_LABELS = {}
# Key of an entry's details ("reason", "counts") -> lazy label.
META_LABELS = {}
# A coded value inside the details ("wrong_password", "first_name") -> lazy label.
VALUE_LABELS = {}
# Object type -> names(practice_id, ids) returning {id (str): name}, one query for all ids of a page.
OBJECT_NAMES = {}
# Details that only repeat what the row shows elsewhere or are internal ids nobody reads.
HIDDEN_META = {"patient_id", "user_id", "for_user", "webhook_id", "therapist_id"}

_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def action_label(action):
    """The readable name of an audit action; the code itself for an action without one (say, from an older
    release: a test checks that every action the app records has a name)."""
    return ACTION_LABELS.get(action, action)


def register_action_labels(labels):
    """Name the actions of ``labels`` (action code -> lazy string)."""
    ACTION_LABELS.update(labels)


def register_audit_labels(*, objects=None, meta=None, values=None):
    """Name kinds of ``objects`` (type -> label), the ``meta`` keys of entries' details (key -> label) and coded
    ``values`` found in them (value -> label)."""
    OBJECT_LABELS.update(objects or {})
    META_LABELS.update(meta or {})
    VALUE_LABELS.update(values or {})


def register_object_names(object_type, names):
    """Let the audit log name objects of ``object_type``: ``names(practice_id, ids) -> {id: name}`` (one query for
    the ids of a whole page)."""
    OBJECT_NAMES[object_type] = names


def names_from(id_column, name, practice_column):
    """An ``register_object_names`` reader for a table: {id as text: ``name``} of the practice's rows with the
    given ids, in one query (ids that are not numbers are left out)."""

    def names(practice_id, ids):
        numbers = [int(value) for value in ids if str(value).isdigit()]
        if not numbers:
            return {}
        rows = db.session.execute(select(id_column, name).where(practice_column == practice_id,
                                                                  id_column.in_(numbers)))
        return {str(row_id): row_name for row_id, row_name in rows}

    return names


def object_label(object_type):
    """The name of a kind of object ("Benutzer" for "user"); the type made readable without a label."""
    label = OBJECT_LABELS.get(object_type)
    return label if label is not None else (object_type or "").replace("_", " ")


def object_names(practice_id, entries):
    """{(object type, object id): name} for the objects of ``entries`` whose domain registered how to name them:
    one query per kind of object, however many entries there are."""
    wanted = {}
    for entry in entries:
        if entry.object_type in OBJECT_NAMES and entry.object_id:
            wanted.setdefault(entry.object_type, set()).add(entry.object_id)
    names = {}
    for object_type, ids in wanted.items():
        for object_id, name in OBJECT_NAMES[object_type](practice_id, sorted(ids)).items():
            names[(object_type, str(object_id))] = name
    return names


def value_text(value):
    """One detail value as people read it: coded words by their label, moments in the practice's zone, numbers with
    the language's separators, yes/no, lists joined with commas and objects as "label: value" pairs."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(_l("yes") if value else _l("no"))
    if isinstance(value, int | float):
        return format_decimal(value)
    if isinstance(value, list | tuple | set):
        return ", ".join(value_text(item) for item in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{meta_label(key)}: {value_text(item)}" for key, item in value.items()) or "—"
    text = str(value)
    if text in VALUE_LABELS:
        return str(VALUE_LABELS[text])
    if text in ACTION_LABELS:
        return str(ACTION_LABELS[text])
    if _ISO_MOMENT.match(text):
        try:
            return datetime_for_people(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            return text
    return text


def meta_label(key):
    """The name of a detail's key; the key made readable without a label."""
    label = META_LABELS.get(key)
    return str(label) if label is not None else str(key).replace("_", " ")


def meta_items(meta):
    """The details of an entry as (label, text) pairs, without internal ids (see HIDDEN_META)."""
    return [(meta_label(key), value_text(value)) for key, value in (meta or {}).items() if key not in HIDDEN_META]


def init_app(app):
    """The labels every domain's entries share (kinds of change, outcomes, roles), and the template globals
    ``action_label``, ``object_label`` and ``meta_items``."""
    from app.platform.security.permissions import ROLE_LABELS

    register_audit_labels(values=ROLE_LABELS)
    register_audit_labels(
        meta={"reason": _l("Reason"), "status": _l("Status"), "counts": _l("Counts"), "fields": _l("Fields"),
              "changed": _l("Changed"), "keys": _l("Settings"), "name": _l("Name"), "origin": _l("Origin"),
              "source": _l("Source"), "provider": _l("Provider"), "error": _l("Error"), "from": _l("From"),
              "to": _l("To"), "minutes": _l("Minutes"), "outcome": _l("Outcome"), "attempt": _l("Attempt"),
              "event_type": _l("Event type"), "action": _l("Action"), "rows": _l("Rows"), "row": _l("Row"),
              "total": _l("total"), "previous": _l("Previous"), "expires_at": _l("Valid until"),
              "file_name": _l("File"), "bytes": _l("Bytes"), "sent": _l("Sent"), "enabled": _l("Enabled")},
        values={"succeeded": _l("succeeded"), "failed": _l("failed"), "running": _l("running"),
                "queued": _l("queued"), "processed": _l("processed"), "ignored": _l("ignored"),
                "error": _l("error"), "created": _l("created"), "updated": _l("updated"), "linked": _l("linked"),
                "skipped": _l("skipped"), "flagged": _l("flagged"), "api": _l("API"), "csv": _l("CSV file"),
                "webhook": _l("Webhook"), "sync": _l("Synchronisation")},
    )
    app.jinja_env.globals.update(action_label=action_label, object_label=object_label, meta_items=meta_items)
