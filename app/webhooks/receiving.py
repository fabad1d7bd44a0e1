"""What the webhook receiver keeps per process, and the one way it writes an event with it (issue 16).

Reading the endpoint, its secrets and its practice on every request cost a round trip per event, so the receiver
keeps a copy of each endpoint that received an event (per app: one per process in production, each test its
own), with its secrets decrypted once per secret version. A copy may go stale at any moment (a rotation, the end
of a grace period, a disabled endpoint, a changed practice), so it is never trusted to write: every event insert is
**fenced**. It inserts only while, in the database, the endpoint is active, the secret version that verified the
request is its current one (or, within its grace period, the one before) and the practice's ``config_version`` is
the copy's, all checked in the insert's own statement. When the fence holds an insert back, or a cached copy fails
to verify a signature (the sender may already use a new secret), the caller reads the endpoint again and handles
the request anew, so every change takes effect with the very next request."""

from dataclasses import dataclass, replace
from datetime import datetime

from flask import current_app
from sqlalchemy import Column, bindparam, cast, exists, insert, inspect, literal_column, or_, select
from sqlalchemy.orm import make_transient_to_detached

from app.platform.extensions import db
from app.platform.security.crypto import decrypt_secret
from app.providers.registry import webhook_source
from app.tenancy.models import Practice
from app.webhooks.models import WebhookEndpoint, WebhookEvent


class StaleEndpoint(Exception):
    """The copy of the endpoint a request was handled with is no longer current."""


@dataclass(frozen=True)
class ReceivingEndpoint:
    """What the receiver needs of an active endpoint: its ids, the secrets as stored (encrypted), and its
    practice's columns with their ``config_version``; ``cached`` is True for a copy served from this process's
    keep (see the module docstring)."""

    id: int
    practice_id: int
    source: str
    public_id: str
    secret_version: int
    secret: str
    previous_secret: str | None
    previous_valid_until: datetime | None
    practice_values: dict
    cached: bool = False


# The receiver's copies are kept per app (one per process in production; each test its own), in
# app.extensions[_RECEIVING]: (source, public id) -> ReceivingEndpoint, for the endpoints that received an event.
# Bounded: a full cache is emptied (entries are one read away), so a flood of different URLs cannot grow it.
_RECEIVING = "praxis_receiving_endpoints"
_RECEIVING_MAX = 4096


def _receiving():
    """This app's copies (see _RECEIVING)."""
    return current_app.extensions.setdefault(_RECEIVING, {})


def cached_receiving_endpoint(source, public_id):
    """This process's copy of an active endpoint, or None."""
    return _receiving().get((source, public_id))


def keep_receiving_endpoint(endpoint: ReceivingEndpoint):
    """Remember ``endpoint`` (read just now) for the next requests of this process."""
    copies = _receiving()
    if len(copies) >= _RECEIVING_MAX:
        copies.clear()
    copies[(endpoint.source, endpoint.public_id)] = replace(endpoint, cached=True)


def forget_receiving_endpoint(source, public_id):
    """Drop the copy of an endpoint that turned out stale (rotated, disabled, its practice changed)."""
    _receiving().pop((source, public_id), None)


# endpoint id -> (secret_version, secret, previous_secret as stored, their plaintexts). One entry per endpoint
# that received an event in this process; an entry is used only while the stored version and ciphertexts are
# still those it was made from.
_DECRYPTED = {}


def receiving_secrets(endpoint: ReceivingEndpoint, now):
    """valid_secrets() for the receiver: the same pairs, decrypted once per process and secret version instead of
    on every request (issue 16: Fernet on each event)."""
    stored = (endpoint.secret_version, endpoint.secret, endpoint.previous_secret)
    cached = _DECRYPTED.get(endpoint.id)
    if cached is None or cached[0] != stored:
        previous = decrypt_secret(endpoint.previous_secret) if endpoint.previous_secret else None
        cached = (stored, decrypt_secret(endpoint.secret), previous)
        _DECRYPTED[endpoint.id] = cached
    pairs = [(endpoint.secret_version, cached[1])]
    if cached[2] is not None and endpoint.previous_valid_until and endpoint.previous_valid_until > now:
        pairs.append((endpoint.secret_version - 1, cached[2]))
    return pairs


# The practice's mapped columns (attribute name, column), read with the endpoint to rebuild the practice.
_PRACTICE_COLUMNS = [(attr.key, attr.columns[0]) for attr in inspect(Practice).column_attrs
                     if isinstance(attr.columns[0], Column)]
_ENDPOINT = WebhookEndpoint.__table__.c
_PRACTICE = Practice.__table__.c
_FIND_ENDPOINT = (
    select(_ENDPOINT.id, _ENDPOINT.practice_id, _ENDPOINT.secret_version, _ENDPOINT.secret,
           _ENDPOINT.previous_secret, _ENDPOINT.previous_valid_until,
           *(column.label(f"p__{key}") for key, column in _PRACTICE_COLUMNS))
    .join_from(WebhookEndpoint.__table__, Practice.__table__, _PRACTICE.id == _ENDPOINT.practice_id)
    .where(_ENDPOINT.public_id == bindparam("public_id"), _ENDPOINT.source == bindparam("source"),
           _ENDPOINT.active.is_(True))
)
_EVENT = WebhookEvent.__table__.c
_EVENT_COLUMNS = ("practice_id", "endpoint_id", "source", "delivery_id", "event_type", "received_at",
                  "secret_version", "payload", "preview", "outcome", "remote_addr", "reject_reason",
                  "original_event_id")
# Inserted only while the copy the request was verified with is current: the endpoint active, the secret version
# that verified the request its current one or, within its grace period, the one before, and the practice
# unchanged. (No FROM: the values are bound, the fence is the WHERE EXISTS.)
def _fence(prefix):
    """The fence's condition, its parameters named with ``prefix``."""
    return exists().where(
        _ENDPOINT.id == bindparam(f"{prefix}endpoint_id"), _ENDPOINT.active.is_(True),
        or_(_ENDPOINT.secret_version == bindparam(f"{prefix}secret_version"),
            (_ENDPOINT.secret_version == bindparam(f"{prefix}secret_version") + literal_column("1"))
            & (_ENDPOINT.previous_valid_until > bindparam(f"{prefix}received_at"))),
        _PRACTICE.id == _ENDPOINT.practice_id, _PRACTICE.config_version == bindparam(f"{prefix}practice_version"),
    )


def _fenced_insert(typed, prefix=""):
    """INSERT INTO webhook_events ... SELECT <bound values> WHERE <fence> RETURNING id, its parameters named with
    ``prefix`` (event_values()' keys). PostgreSQL needs each value cast to its column's type (in a SELECT list a
    parameter is not typed by the column it goes to); SQLite must not get them (its CAST to an unknown type name
    turns text into a number)."""
    values = [bindparam(f"{prefix}{name}", type_=_EVENT[name].type) for name in _EVENT_COLUMNS]
    if typed:
        values = [cast(value, _EVENT[name].type) for name, value in zip(_EVENT_COLUMNS, values, strict=True)]
    return (insert(WebhookEvent.__table__)
            .from_select(_EVENT_COLUMNS, select(*values).where(_fence(prefix)))
            .returning(_EVENT.id))


_INSERT_EVENT = {False: _fenced_insert(typed=False), True: _fenced_insert(typed=True)}


def fenced_event_insert(prefix):
    """The fenced event insert in PostgreSQL's form (see _fenced_insert) as a Core statement, for a fast path to
    build on (app.webhooks.fast_patient): its parameters are event_values()' keys with ``prefix``, so that none
    is taken for a column to SET by an UPDATE in the same statement (SQLAlchemy sets every column whose name is
    a key of the parameters)."""
    return _fenced_insert(typed=True, prefix=prefix)


def fenced_event_insert_sql(dialect, typed):
    """The fenced event insert (``typed``: PostgreSQL's form, see _fenced_insert) as SQL text for ``dialect``, with
    the same parameter names as event_values(), for the receiver's fast path (app.webhooks.fast_path)."""
    return str(_INSERT_EVENT[typed].compile(dialect=dialect))


def find_endpoint(source, public_id):
    """The active endpoint of ``source`` with ``public_id`` as a ReceivingEndpoint, or None (unknown, disabled or
    another source): this process's copy when it has one, else read in one constant Core statement (the endpoint
    and its practice's columns) and kept."""
    if webhook_source(source) is None:
        return None
    return cached_receiving_endpoint(source, public_id) or read_endpoint(source, public_id)


def read_endpoint(source, public_id):
    """The endpoint as stored now (see find_endpoint), or None."""
    row = db.session.execute(_FIND_ENDPOINT, {"public_id": public_id, "source": source}).first()
    if row is None:
        return None
    values = row._mapping
    endpoint = ReceivingEndpoint(
        id=row.id, practice_id=row.practice_id, source=source, public_id=public_id,
        secret_version=row.secret_version, secret=row.secret, previous_secret=row.previous_secret,
        previous_valid_until=row.previous_valid_until,
        practice_values={key: values[f"p__{key}"] for key, _column in _PRACTICE_COLUMNS})
    keep_receiving_endpoint(endpoint)
    return endpoint


def attach_practice(endpoint):
    """The endpoint's practice, attached to the session from its columns without a query (as if loaded: no
    pending changes, so merge() needs no SELECT), so applying an event finds it there."""
    practice = Practice(**endpoint.practice_values)
    make_transient_to_detached(practice)
    return db.session.merge(practice, load=False)


def event_values(endpoint, version, now, remote_addr, **columns):
    """The bound values of a fenced event insert: every column (None where not given) and the fence's own."""
    values = dict.fromkeys(_EVENT_COLUMNS)
    values.update(practice_id=endpoint.practice_id, endpoint_id=endpoint.id, source=endpoint.source,
                  received_at=now, secret_version=version, remote_addr=remote_addr,
                  practice_version=endpoint.practice_values["config_version"], **columns)
    return values


def insert_event(values):
    """Insert an event row through the fence (one statement) and return its id; StaleEndpoint when the fence
    holds it back. An accepted event whose (endpoint, delivery id) was accepted before violates the partial unique
    index and raises IntegrityError; on PostgreSQL a concurrent insert of the same key waits for the first
    transaction to end."""
    statement = _INSERT_EVENT[db.engine.dialect.name == "postgresql"]
    event_id = db.session.execute(statement, values).scalar()
    if event_id is None:
        raise StaleEndpoint
    return event_id
