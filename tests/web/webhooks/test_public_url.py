"""The webhook URL an endpoint card shows: PUBLIC_BASE_URL when set, else the address the page itself was asked
at, and behind a trusted proxy (PROXY_FIX_X_FOR) the forwarded one, never forwarded headers from anyone else."""

import re

import pytest

from tests.helpers import PASSWORD
from tests.webhook_factories import make_endpoint

HOST = {"Host": "praxis.example.test:8000"}
FORWARDED = {**HOST, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "praxis.example.org"}


@pytest.fixture
def app_overrides(request):
    """No settings, unless a test passes some (indirect parametrization)."""
    return getattr(request, "param", {})


def _card_url(client, **kwargs):
    """The booking endpoint's URL as the endpoints page shows it."""
    response = client.get("/webhooks/", **kwargs)
    assert response.status_code == 200, response.headers
    return re.search(r'value="([^"]+)" id="webhook-url-booking"', response.get_data(as_text=True)).group(1)


@pytest.fixture
def endpoint(practice, client, make_user):
    """A booking endpoint of the practice, whose admin is signed in at the host the tests ask at."""
    user = make_user(role="admin")
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD}, headers=HOST)
    assert response.status_code == 303
    return make_endpoint(practice)


def test_the_url_is_the_address_the_page_was_asked_at(client, endpoint):
    """Without PUBLIC_BASE_URL the card shows the request's own scheme, host and port, not a fixed default."""
    url = _card_url(client, headers=HOST)
    assert url == f"http://praxis.example.test:8000/api/webhooks/booking/{endpoint.public_id}"


@pytest.mark.parametrize("app_overrides", [{"PROXY_FIX_X_FOR": 1}], indirect=True)
def test_behind_a_trusted_proxy_the_forwarded_address_is_used(client, endpoint):
    """With one trusted proxy its X-Forwarded-Proto and -Host make the URL the practice's public one."""
    assert _card_url(client, headers=FORWARDED) == (
        f"https://praxis.example.org/api/webhooks/booking/{endpoint.public_id}")


def test_forwarded_headers_are_ignored_without_a_trusted_proxy(client, endpoint):
    """Without PROXY_FIX_X_FOR anyone could send these headers: the URL stays the request's own address."""
    assert _card_url(client, headers=FORWARDED) == (
        f"http://praxis.example.test:8000/api/webhooks/booking/{endpoint.public_id}")


@pytest.mark.parametrize("app_overrides", [{"PROXY_FIX_X_FOR": 1, "PUBLIC_BASE_URL": "https://hub.praxis.example/"}],
                         indirect=True)
def test_public_base_url_wins(client, endpoint):
    """A set PUBLIC_BASE_URL (production behind a load balancer) wins over the request and forwarded headers."""
    assert _card_url(client, headers=FORWARDED) == (
        f"https://hub.praxis.example/api/webhooks/booking/{endpoint.public_id}")
