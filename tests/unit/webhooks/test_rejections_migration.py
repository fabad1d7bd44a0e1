"""The migration that bounds rejected deliveries: the unsigned rejected events already in the log become counts per
endpoint, reason and minute (which the receiver then goes on incrementing), everything signed stays, and the event
log is append-only again afterwards; on SQLite and on PostgreSQL."""

from datetime import UTC, datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from app import create_app
from app.platform.extensions import db
from app.platform.security.crypto import encrypt_secret
from app.webhooks.models import WebhookEndpoint, WebhookEvent, WebhookRejection
from app.webhooks.rejections import count_rejection
from config import TestConfig

WRONG = "invalid signature: no matching signature"
NOT_JSON = "the body must be JSON (Content-Type: application/json)"


@pytest.fixture
def app_before(tmp_path):
    """An app whose database is migrated up to the revision before (temp-file SQLite, or TEST_DATABASE_URL)."""
    overrides = {}
    if TestConfig.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
        overrides["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path}/fold.sqlite3"
    app = create_app(TestConfig, **overrides)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade(revision="0008")
        yield app
        db.session.remove()
        downgrade(revision="base")


def _at(minute, second):
    return datetime(2030, 5, 4, 10, minute, second, 250_000, tzinfo=UTC)


def _event(endpoint, received_at, outcome="rejected", reason=WRONG, secret_version=None, remote_addr=None):
    return WebhookEvent(practice_id=endpoint.practice_id, endpoint_id=endpoint.id, source=endpoint.source,
                        received_at=received_at, outcome=outcome, reject_reason=reason,
                        secret_version=secret_version, remote_addr=remote_addr,
                        payload=encrypt_secret("{}") if secret_version else None)


def test_unsigned_rejected_events_become_counts_and_signed_ones_stay(app_before):
    # The practice as the schema of 0008 has it (the model has gained columns since).
    practice_id = db.session.execute(text(
        "INSERT INTO practices (name, slug, timezone, country, settings, created_at) "
        "VALUES ('Fold', 'fold', 'Europe/Berlin', 'DE', '{}', CURRENT_TIMESTAMP) RETURNING id")).scalar_one()
    calcom, booking = (WebhookEndpoint(practice_id=practice_id, source=source, public_id=f"fold-{source}",
                                       secret=encrypt_secret("s"), secret_version=1, active=True)
                       for source in ("calcom", "booking"))
    db.session.add_all([calcom, booking])
    db.session.flush()
    db.session.add_all([
        _event(calcom, _at(15, 5), remote_addr="203.0.113.1"), _event(calcom, _at(15, 40), remote_addr="203.0.113.9"),
        _event(calcom, _at(15, 59), remote_addr="203.0.113.5"), _event(calcom, _at(15, 30), reason=NOT_JSON),
        _event(calcom, _at(16, 1)), _event(booking, _at(15, 10)),
        _event(calcom, _at(15, 20), reason="malformed event: payload.uid", secret_version=1),
        _event(calcom, _at(15, 21), outcome="accepted", reason=None, secret_version=1),
    ])
    db.session.commit()

    upgrade()

    counts = {(row.endpoint_id, row.minute, row.reason): (row.count, row.last_at, row.last_remote_addr)
              for row in db.session.scalars(select(WebhookRejection))}
    minute = datetime(2030, 5, 4, 10, 15, tzinfo=UTC)
    assert counts == {
        (calcom.id, minute, WRONG): (3, _at(15, 59), "203.0.113.9"),
        (calcom.id, minute, NOT_JSON): (1, _at(15, 30), None),
        (calcom.id, minute.replace(minute=16), WRONG): (1, _at(16, 1), None),
        (booking.id, minute, WRONG): (1, _at(15, 10), None),
    }
    kept = db.session.execute(select(WebhookEvent.outcome, WebhookEvent.reject_reason)
                              .order_by(WebhookEvent.id)).all()
    assert kept == [("rejected", "malformed event: payload.uid"), ("accepted", None)]
    db.session.commit()
    # The receiver counts on from the folded rows: same minute and reason, same row.
    count_rejection(db.session.get(WebhookEndpoint, calcom.id), WRONG, "198.51.100.2", _at(15, 59))
    assert db.session.scalar(select(WebhookRejection.count).where(
        WebhookRejection.endpoint_id == calcom.id, WebhookRejection.minute == minute,
        WebhookRejection.reason == WRONG)) == 4
    for statement in ("DELETE FROM webhook_events", "UPDATE webhook_events SET outcome = 'accepted'"):
        with pytest.raises(DatabaseError, match="append-only"), db.engine.begin() as connection:
            connection.execute(text(statement))
