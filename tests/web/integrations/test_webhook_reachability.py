"""The hub never registers a webhook URL a real provider cannot reach (a loopback, private or unroutable address,
as a local `make run` has): it says what to set instead and calls nobody. The sandbox, whose fakes run beside the
app, registers any address."""

import pytest

from app.integrations import sync
from app.integrations.models import OK
from app.integrations.reachability import unreachable_from_internet
from app.webhooks.endpoints import practice_endpoints
from tests.helpers import htmx
from tests.hub_support import connect, hub_overrides


@pytest.mark.parametrize(("url", "unreachable"), [
    ("http://127.0.0.1:5000/api/webhooks/calcom/x", True),
    ("http://127.8.9.10/api/webhooks/calcom/x", True),
    ("http://[::1]:5000/api/webhooks/calcom/x", True),
    ("http://localhost:5000/api/webhooks/calcom/x", True),
    ("http://app.localhost/api/webhooks/calcom/x", True),
    ("http://0.0.0.0:5000/api/webhooks/calcom/x", True),
    ("http://10.1.2.3/api/webhooks/calcom/x", True),
    ("http://172.16.0.5/api/webhooks/calcom/x", True),
    ("http://192.168.178.20:8000/api/webhooks/calcom/x", True),
    ("http://169.254.1.1/api/webhooks/calcom/x", True),
    ("http://[fd00::1]/api/webhooks/calcom/x", True),
    ("http://praxis-hub:5000/api/webhooks/calcom/x", True),
    ("http://praxis.local/api/webhooks/calcom/x", True),
    ("https://hub.praxis-beispiel.de/api/webhooks/calcom/x", False),
    ("https://93.184.216.34/api/webhooks/calcom/x", False),
    ("https://[2606:4700::1111]/api/webhooks/calcom/x", False),
])
def test_which_addresses_the_internet_cannot_reach(url, unreachable):
    """Loopback, private, link-local and unspecified addresses and non-public names are unreachable; public
    names and addresses are not."""
    assert unreachable_from_internet(url) is unreachable


@pytest.fixture
def hub_sandbox():
    """Whether HUB_SANDBOX is on (a test parametrizes this to True)."""
    return False


@pytest.fixture
def calcom(calcom_server):
    """The Cal.com fake with an empty request log."""
    calcom_server.reset()
    yield calcom_server
    calcom_server.reset()


@pytest.fixture
def app_overrides(calcom, retell_server, hub_sandbox):
    """The hub talks to the fakes (also as the sandbox), with no PUBLIC_BASE_URL: URLs are the page's own
    address, http://localhost in the test client."""
    return hub_overrides(calcom, retell_server, PUBLIC_BASE_URL="", HUB_SANDBOX=hub_sandbox,
                         SANDBOX_CALCOM_URL=calcom.url, SANDBOX_RETELL_URL=retell_server.url)


@pytest.fixture
def connected(client, auth):
    """A signed-in admin (German UI) whose practice has Cal.com connected."""
    user = auth.login()
    client.post("/auth/language", data={"lang": "de"})
    connect(user, "calcom")
    return user


def test_a_loopback_url_is_not_registered_with_the_real_provider(client, connected, calcom, practice):
    """Registering http://localhost/... with (real) Cal.com is refused in German with what to set; Cal.com is
    not called and no endpoint is created."""
    calls = calcom.request_count("/v2/webhooks")
    response = client.post("/integrations/calcom/webhook", headers=htmx("hub-webhook-calcom"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Cal.com kann diese Adresse nicht erreichen: http://localhost/api/webhooks/calcom/" in html
    assert "Setzen Sie PUBLIC_BASE_URL auf die öffentliche Adresse der Praxis Hub." in html
    assert calcom.request_count("/v2/webhooks") == calls
    assert "calcom" not in practice_endpoints(practice.id)


@pytest.mark.parametrize("hub_sandbox", [True])
def test_the_sandbox_registers_a_loopback_url(client, connected, calcom, practice):
    """The sandbox's fake runs on this machine: it is given the loopback URL and the endpoint is created."""
    response = client.post("/integrations/calcom/webhook", headers=htmx("hub-webhook-calcom"))
    assert response.status_code == 200, response.get_data(as_text=True)
    endpoint = practice_endpoints(practice.id)["calcom"]
    assert f"http://localhost/api/webhooks/calcom/{endpoint.public_id}" in response.get_data(as_text=True)


@pytest.mark.parametrize("hub_sandbox", [True])
def test_the_workers_probe_finds_the_webhook_at_the_address_it_was_registered_under(client, connected, practice):
    """The worker has no request: its probe compares Cal.com's webhooks with the address the page registered
    (http://localhost here), not with where `make run` serves, so a good registration is not reported missing."""
    assert client.post("/integrations/calcom/webhook", headers=htmx("hub-webhook-calcom")).status_code == 200
    row = sync.probe(practice.id, "calcom")
    assert row.webhook_registered is True and row.state == OK, row.reason


def test_a_public_url_is_registered_with_the_real_provider(app, client, connected, calcom, practice):
    """With PUBLIC_BASE_URL set to a public address the registration goes through."""
    app.config["PUBLIC_BASE_URL"] = "https://hub.praxis-beispiel.de"
    response = client.post("/integrations/calcom/webhook", headers=htmx("hub-webhook-calcom"))
    assert response.status_code == 200, response.get_data(as_text=True)
    endpoint = practice_endpoints(practice.id)["calcom"]
    url = f"https://hub.praxis-beispiel.de/api/webhooks/calcom/{endpoint.public_id}"
    assert [item["subscriberUrl"] for item in calcom.webhooks.values()] == [url]
