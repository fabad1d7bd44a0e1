"""``flask webhooks create``: a practice's webhook endpoint from the server's shell."""

import json

import click
from flask.cli import AppGroup

from app.accounts.cli import practice_option_value
from app.platform.errors import ServiceError
from app.platform.security.actor import cli_actor
from app.webhooks.endpoints import create_endpoint, endpoint_url

webhooks_cli = AppGroup("webhooks", help="Manage webhook endpoints.")


@webhooks_cli.command("create")
@click.option("--practice", "slug", required=True, help="Practice slug, e.g. demo.")
@click.option("--source", required=True, help="booking, calcom or retell.")
@click.option("--secret", help="The signing secret (generated when not given; required for retell: its API key).")
def create_webhook_command(slug, source, secret):
    """Create a practice's webhook endpoint for a source and print {"url", "secret"} as one JSON object on stdout
    (the secret is not shown again); errors go to stderr."""
    practice = practice_option_value(slug)
    try:
        endpoint, secret = create_endpoint(cli_actor(practice_id=practice.id), source, secret)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(json.dumps({"url": endpoint_url(endpoint), "secret": secret}))
