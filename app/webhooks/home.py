"""The webhooks domain's home-page panel (app.accounts.home): events of the last DAYS days that could not be
applied and will not be retried on their own ("failed"), and how many wait for a retry, for the admins who read the
event log. Two statements (the counts by status, the newest failed events), read from the log's own status query
over the practice's (received_at) range only, so a long history costs the page nothing."""

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.accounts.home import register_home_panel
from app.platform.database import utcnow
from app.platform.extensions import db
from app.webhooks.endpoints import source_label
from app.webhooks.log import FAILED, RETRYING, log_query

SHOWN = 5
DAYS = 7


@dataclass(frozen=True)
class FailedEvents:
    """The newest failed events (rows of log_query: WebhookEvent, status, next retry) and the counts."""

    events: list
    failed: int
    retrying: int

    @staticmethod
    def source(name):
        """The readable name of an event's source."""
        return source_label(name)


def failed_events_panel(user):
    """Panel "failed_events": the practice's failed and retrying events of the last DAYS days; None when there
    are none."""
    practice = user.practice
    since = utcnow().astimezone(ZoneInfo(practice.timezone)).date() - timedelta(days=DAYS - 1)
    statuses = log_query(practice, date_from=since).order_by(None).subquery()
    counts = dict(db.session.execute(
        select(statuses.c.status, func.count()).where(statuses.c.status.in_((FAILED, RETRYING)))
        .group_by(statuses.c.status)
    ).all())
    if not counts:
        return None
    events = []
    if counts.get(FAILED):
        events = db.session.execute(log_query(practice, status=FAILED, date_from=since).limit(SHOWN)).all()
    return FailedEvents(events, counts.get(FAILED, 0), counts.get(RETRYING, 0))


def register_panels(app):
    """Register the webhooks domain's home panel."""
    register_home_panel(app, "failed_events", permission="webhooks.log", template="home/_failed_events.html",
                        context=failed_events_panel, order=55)
