"""The hub overview's card for the practice's booking tool. The booking tool is not a provider the hub calls (it
only sends signed webhooks), so it has no health row; its card says whether its endpoint is set up and active and
when its last event arrived and was applied, read from the webhook tables in one statement."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.platform.extensions import db
from app.webhooks.freshness import last_applied_event_at
from app.webhooks.models import ACCEPTED, WebhookEndpoint, WebhookEvent

BOOKING = "booking"


@dataclass(frozen=True)
class BookingCard:
    """What the booking tool's card shows: ``state`` is "active", "disabled" or "not_set_up"."""

    state: str
    last_received_at: datetime | None
    last_applied_at: datetime | None


def booking_card(practice_id):
    """The booking tool's card of ``practice_id``, from one statement (endpoint state and the two event times)."""
    active = (select(WebhookEndpoint.active)
              .where(WebhookEndpoint.practice_id == practice_id, WebhookEndpoint.source == BOOKING)
              .order_by(WebhookEndpoint.active.desc()).limit(1).scalar_subquery())
    received = (select(func.max(WebhookEvent.received_at))
                .where(WebhookEvent.practice_id == practice_id, WebhookEvent.source == BOOKING,
                       WebhookEvent.outcome == ACCEPTED).scalar_subquery())
    endpoint_active, last_received, last_applied = db.session.execute(
        select(active, received, last_applied_event_at(practice_id, BOOKING))).one()
    state = "not_set_up" if endpoint_active is None else "active" if endpoint_active else "disabled"
    return BookingCard(state, last_received, last_applied)
