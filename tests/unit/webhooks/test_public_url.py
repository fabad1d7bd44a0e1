"""Outside a request (``flask webhooks create``) webhook URLs are built from where `make run` serves (HOST and
PORT, which it exports) unless PUBLIC_BASE_URL is set."""

import json

import pytest

from config import served_base_url


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, "http://127.0.0.1:5000"),
    ({"HOST": "192.0.2.10", "PORT": "8080"}, "http://192.0.2.10:8080"),
    ({"HOST": "praxis.example.test", "PORT": "8000"}, "http://praxis.example.test:8000"),
    ({"HOST": "0.0.0.0", "PORT": "8080"}, "http://127.0.0.1:8080"),  # noqa: S104 (a HOST value, not a bind)
    ({"HOST": "::1"}, "http://[::1]:5000"),
    ({"HOST": " ", "PORT": ""}, "http://127.0.0.1:5000"),
])
def test_served_base_url_follows_host_and_port(environ, expected):
    """HOST and PORT as `make run` passes them; a wildcard host is reached at 127.0.0.1."""
    assert served_base_url(environ) == expected


@pytest.fixture
def app_overrides():
    """The app as `make run HOST=192.0.2.10 PORT=8080` configures it, without PUBLIC_BASE_URL."""
    return {"SERVED_BASE_URL": served_base_url({"HOST": "192.0.2.10", "PORT": "8080"}), "PUBLIC_BASE_URL": ""}


def _created_url(runner, practice):
    """The URL ``flask webhooks create`` prints for a new booking endpoint."""
    result = runner.invoke(args=["webhooks", "create", "--practice", practice.slug, "--source", "booking"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["url"]


def test_the_cli_prints_the_address_the_app_serves(runner, practice):
    """No request, no PUBLIC_BASE_URL: the URL is where the app actually listens, not a fixed 127.0.0.1:5000."""
    assert _created_url(runner, practice).startswith("http://192.0.2.10:8080/api/webhooks/booking/")


def test_public_base_url_wins_in_the_cli(app, runner, practice):
    """A set PUBLIC_BASE_URL is the address printed (a trailing slash is not doubled)."""
    app.config["PUBLIC_BASE_URL"] = "https://hub.praxis.example/"
    assert _created_url(runner, practice).startswith("https://hub.praxis.example/api/webhooks/booking/")
