"""Fixtures of the webhook tests."""

import pytest

from app.platform.security.actor import Actor
from app.webhooks import endpoints as webhook_endpoints


@pytest.fixture
def endpoints(db, practice):
    """The practice's three endpoints with their secrets: {source: (endpoint, secret)}."""
    actor = Actor(practice_id=practice.id)
    made = {source: webhook_endpoints.create_endpoint(actor, source) for source in ("booking", "calcom")}
    made["retell"] = webhook_endpoints.create_endpoint(actor, "retell", "key_test_retell_0123456789")
    return made
