"""Double scans, decided once across threads and worker processes (issue 19, Bad input: "a replayed code within a
second (double scan: one decision)").

A scanner that fires twice, or a member who holds the code to two readers, sends the same code to the same location
twice within a moment, possibly to two gunicorn workers. Exactly one scan may ask the provider and decide; the other
answers with that decision ("the same scan"). The database arbitrates: ``claim`` is one INSERT … ON CONFLICT DO
UPDATE … WHERE … RETURNING on the location's row for the code (app.access.models.ScanClaim), atomic on PostgreSQL
(the conflicting row is locked) and on SQLite (a single writer). The claim is committed before the provider call,
so no transaction stays open across it (a re-entry, which asks no provider, commits it with its log row). The
winner settles the claim with its log row, in that row's transaction.

A scan that loses while the first still waits for the provider waits for that outcome (reading the claim row every
POLL_SECONDS) instead of answering "being checked": a door needs a decision to show, the first scan's decision
comes within the provider timeout anyway, and both requests then open (or keep shut) the same door for the same
reason. The wait is bounded: a holder that has not settled by its ``expires_at`` (its provider timeout plus GRACE: a
worker that died mid-call) is taken over by the waiting scan, which then decides itself."""

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, select, text, update

from app.access.models import ScanClaim
from app.platform.database import UTCDateTime, utcnow
from app.platform.extensions import db

# Two scans of the same code at the same location within this time are one scan (a scanner that fires twice).
DOUBLE_SCAN = timedelta(seconds=1)
# How long past its provider timeout a claim's holder may take to write its decision before it counts as gone.
GRACE = timedelta(seconds=2)
POLL_SECONDS = 0.02

_table = ScanClaim.__table__


@dataclass(frozen=True)
class Claim:
    """The right of this scan to decide on its code at its location (until settled or taken over)."""

    location_id: int
    fingerprint: str
    token: str


def fingerprint(detected):
    """A hash of the detected code (provider, kind, member id and secret part): two scans of one code match, the
    code itself (a Friction security code) is never stored."""
    parts = (detected.provider or "", detected.kind, detected.external_id or "", detected.secret_part or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


# The claim, as SQL that PostgreSQL and SQLite (3.35+) both run: take the row when there is none, when its last
# decision is older than ``window_start`` (a NULL ``settled_at`` compares as not older) or when its holder is past
# its expiry at ``clock``; RETURNING the token says whether it was taken. Plain text, because SQLAlchemy never caches
# its dialects' ON CONFLICT constructs: built with them, every scan paid for compiling the statement anew.
_TAKE = text(
    "INSERT INTO access_scan_claims (location_id, fingerprint, practice_id, token, claimed_at, expires_at) "
    "VALUES (:location_id, :fingerprint, :practice_id, :token, :claimed_at, :expires_at) "
    "ON CONFLICT (location_id, fingerprint) DO UPDATE SET practice_id = excluded.practice_id, "
    "token = excluded.token, claimed_at = excluded.claimed_at, expires_at = excluded.expires_at, "
    "settled_at = NULL, checkin_id = NULL "
    "WHERE access_scan_claims.settled_at <= :window_start "
    "OR (access_scan_claims.settled_at IS NULL AND access_scan_claims.expires_at <= :clock) "
    "RETURNING token"
).bindparams(*(bindparam(name, type_=UTCDateTime()) for name in ("claimed_at", "expires_at", "window_start", "clock")))
_DECIDED = select(_table.c.checkin_id).where(_table.c.location_id == bindparam("location_id"),
                                             _table.c.fingerprint == bindparam("fingerprint"))
_SETTLE = update(_table).where(
    _table.c.location_id == bindparam("key_location"), _table.c.fingerprint == bindparam("key_fingerprint"),
    _table.c.token == bindparam("key_token")).values(settled_at=bindparam("settled_at"),
                                                     checkin_id=bindparam("checkin_id"))


def claim(practice_id, location_id, detected, now, hold):
    """Take the decision on ``detected`` at the location, or learn the decision of the same scan a moment ago.
    Returns ``(Claim, None)`` when this scan decides: the claim is taken in the session's open transaction, which
    the caller commits before it calls the provider (a re-entry commits with its log row: one commit), and must
    ``settle``. Returns ``(None, checkin id)`` when it repeats a scan decided within DOUBLE_SCAN (committed).
    ``now``: the scan's time; ``hold``: the provider timeout."""
    key = {"location_id": location_id, "fingerprint": fingerprint(detected)}
    token = secrets.token_hex(16)
    while True:
        clock = utcnow()
        taken = db.session.execute(_TAKE, {
            **key, "practice_id": practice_id, "token": token, "claimed_at": now, "expires_at": clock + hold + GRACE,
            "window_start": now - DOUBLE_SCAN, "clock": clock}).scalar()
        if taken == token:
            return Claim(token=token, **key), None
        decided = db.session.scalar(_DECIDED, key)
        db.session.commit()  # release the row (and SQLite's write lock) while waiting
        if decided is not None:
            return None, decided
        time.sleep(POLL_SECONDS)  # the first scan is still with the provider: wait for its decision


def settle(claim_, row):
    """Record that the flushed log row ``row`` is the claim's decision, in the caller's (the row's) transaction.
    A claim taken over meanwhile (this scan outlived its expiry) is left to its new holder."""
    db.session.execute(_SETTLE, {"key_location": claim_.location_id, "key_fingerprint": claim_.fingerprint,
                                 "key_token": claim_.token, "settled_at": row.created_at, "checkin_id": row.id})
