"""The cached health of the integration behind an appointment source, for the Termine tab's warning (registered
with app.appointments.reading, which reads it in the tab's one query)."""

from sqlalchemy import select

from app.integrations.models import AUTH_FAILED, PAUSED, RATE_LIMITED, UNREACHABLE, ProviderHealth

# States in which the cached appointments of a source cannot be refreshed.
UNAVAILABLE_STATES = (UNREACHABLE, RATE_LIMITED, AUTH_FAILED, PAUSED)


def provider_state(practice_id, source):
    """A scalar subquery: the cached health state of the integration behind ``source`` (null when none)."""
    return (
        select(ProviderHealth.state)
        .where(ProviderHealth.practice_id == practice_id, ProviderHealth.provider == source)
        .scalar_subquery()
    )
