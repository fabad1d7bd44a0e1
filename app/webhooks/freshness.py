"""When a source was last heard from through its webhooks, for the Termine tab's freshness warning (registered
with app.appointments.reading, which reads it in the tab's one query)."""

from sqlalchemy import exists, select

from app.webhooks.models import ACCEPTED, IGNORED, PROCESSED, WebhookEvent, WebhookEventAttempt


def last_applied_event_at(practice_id, source):
    """A scalar subquery: when the newest accepted event of ``source`` was received that an attempt applied
    (processed) or deliberately skipped (ignored). Walks the (practice_id, source, received_at) index backwards and
    stops at the first such event."""
    applied = exists().where(WebhookEventAttempt.event_id == WebhookEvent.id,
                             WebhookEventAttempt.outcome.in_((PROCESSED, IGNORED)))
    return (
        select(WebhookEvent.received_at)
        .where(WebhookEvent.practice_id == practice_id, WebhookEvent.source == source,
               WebhookEvent.outcome == ACCEPTED, applied)
        .order_by(WebhookEvent.received_at.desc())
        .limit(1)
        .scalar_subquery()
    )
