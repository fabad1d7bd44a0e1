"""Commands still waiting for their domain packages: ``flask demo`` and ``flask webhooks create``."""

import json

import click
from flask import current_app
from flask.cli import AppGroup

from app.accounts.cli import practice_option_value
from app.platform.errors import ServiceError
from app.platform.security.actor import cli_actor

webhooks_cli = AppGroup("webhooks", help="Manage webhook endpoints.")


@click.command("demo")
@click.option("--reset", is_flag=True, help="Drop every table, migrate afresh and load the demo data again.")
def demo_command(reset):
    """Load the demo practices and users (idempotent); --reset rebuilds the whole database first."""
    from flask_migrate import downgrade, upgrade

    from app.services.demo import DEMO_PASSWORD, load_demo

    if reset:
        if current_app.config["ENV_NAME"] == "production":
            raise click.ClickException("--reset drops the whole database and is refused in production.")
        downgrade(revision="base")
        upgrade()
    created = load_demo()
    click.echo(f"Demo data ready ({created} records created). Sign in as admin@demo.test / {DEMO_PASSWORD}.")


@webhooks_cli.command("create")
@click.option("--practice", "slug", required=True, help="Practice slug, e.g. demo.")
@click.option("--source", required=True, help="booking, calcom or retell.")
@click.option("--secret", help="The signing secret (generated when not given; required for retell: its API key).")
def create_webhook_command(slug, source, secret):
    """Create a practice's webhook endpoint for a source and print {"url", "secret"} as one JSON object on stdout
    (the secret is not shown again); errors go to stderr."""
    from app.services.webhook_endpoints import create_endpoint, endpoint_url

    practice = practice_option_value(slug)
    try:
        endpoint, secret = create_endpoint(cli_actor(practice_id=practice.id), source, secret)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(json.dumps({"url": endpoint_url(endpoint), "secret": secret}))


def init_app(app):
    """Register the command groups."""
    app.cli.add_command(demo_command)
    app.cli.add_command(webhooks_cli)
