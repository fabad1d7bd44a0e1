"""`flask webhooks create`: one JSON object on stdout, errors on stderr with a non-zero exit."""

import json

import pytest
from sqlalchemy import select

from app.platform.audit.models import AuditEntry
from app.platform.database import utcnow
from app.webhooks.endpoints import valid_secrets
from app.webhooks.models import WebhookEndpoint


def _create(runner, *args):
    """Invoke ``flask webhooks create`` with ``args``."""
    return runner.invoke(args=["webhooks", "create", *args])


def test_create_prints_url_and_secret_as_json(runner, db, practice, app):
    """stdout is exactly one JSON object whose URL and secret belong to the new endpoint; the creation is audited
    for the practice."""
    result = _create(runner, "--practice", practice.slug, "--source", "booking")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    output = json.loads(result.stdout)
    assert set(output) == {"url", "secret"} and result.stdout == json.dumps(output) + "\n"
    endpoint = db.session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.practice_id == practice.id))
    assert output["url"] == f"{app.config['SERVED_BASE_URL']}/api/webhooks/booking/{endpoint.public_id}"
    assert output["secret"].startswith("whsec_")
    assert valid_secrets(endpoint, utcnow()) == [(1, output["secret"])]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "webhook.endpoint.create"))
    assert entry.practice_id == practice.id and entry.object_id == str(endpoint.id) and entry.user_id is None


def test_create_with_given_secret(runner, db, practice):
    """--secret is used as is (Retell's API key here) and printed back in the JSON."""
    result = _create(runner, "--practice", practice.slug, "--source", "retell", "--secret", "key_retell_123")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["secret"] == "key_retell_123"
    endpoint = db.session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.source == "retell"))
    assert valid_secrets(endpoint, utcnow()) == [(1, "key_retell_123")]


@pytest.mark.parametrize(("args", "message"), [
    (["--practice", "nope", "--source", "booking"], "No practice"),
    (["--practice", "test", "--source", "stripe"], "stripe"),
    (["--practice", "test", "--source", "retell"], "Error: "),
    (["--practice", "test", "--source", "booking", "--secret", "not a secret"], "Error: "),
])
def test_create_errors_go_to_stderr(runner, db, practice, args, message):
    """Unknown practice, unknown source, Retell without its API key and an unusable secret: exit 1, the reason on
    stderr (in the default language, German, hence only "Error: " for the service's messages), nothing on stdout,
    no endpoint."""
    result = _create(runner, *args)
    assert result.exit_code == 1
    assert result.stdout == "" and message in result.stderr
    assert db.session.scalar(select(WebhookEndpoint)) is None


def test_second_endpoint_for_a_source_is_refused(runner, db, practice):
    """A practice has one endpoint per source: the second create fails and the first keeps its secret."""
    first = json.loads(_create(runner, "--practice", practice.slug, "--source", "calcom").stdout)
    again = _create(runner, "--practice", practice.slug, "--source", "calcom")
    assert again.exit_code == 1 and again.stdout == "" and "calcom" in again.stderr
    endpoint = db.session.scalar(select(WebhookEndpoint))
    assert valid_secrets(endpoint, utcnow()) == [(1, first["secret"])]
