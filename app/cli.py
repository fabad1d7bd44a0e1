"""Flask CLI commands: demo data, users, API tokens, webhook endpoints, key rotation, the background worker."""

import json
import logging

import click
from cryptography.fernet import Fernet
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.models import Practice, User
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.actor import Actor
from app.platform.security.permissions import ROLES

users_cli = AppGroup("users", help="Manage user accounts.")
tokens_cli = AppGroup("tokens", help="Manage personal API tokens.")
webhooks_cli = AppGroup("webhooks", help="Manage webhook endpoints.")
crypto_cli = AppGroup("crypto", help="Encryption keys for secrets at rest.")
hub_cli = AppGroup("hub", help="Integration hub: the background worker.")

CLI_ACTOR_AGENT = "flask-cli"


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


@users_cli.command("create")
@click.option("--practice", "slug", required=True, help="Practice slug, e.g. demo.")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), default="admin", show_default=True)
@click.password_option(help="Initial password (prompted when not given).")
def create_user_command(slug, email, name, role, password):
    """Create a user in a practice with an initial password."""
    from app.services.accounts import create_user

    practice = _practice(slug)
    actor = Actor(user_agent=CLI_ACTOR_AGENT, practice_id=practice.id)
    try:
        user, _invite = create_user(actor, email=email, name=name, role=role, password=password)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created {user.email} ({user.role}) in {practice.slug}.")


@tokens_cli.command("create")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--name", required=True, help="What the token is for, e.g. 'booking tool'.")
def create_token_command(email, name):
    """Create a personal API token and print it, alone, on stdout (it is not shown again)."""
    from app.services.accounts import normalise_email
    from app.services.api_tokens import create_token

    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    try:
        _token, plaintext = create_token(Actor(user, user_agent=CLI_ACTOR_AGENT), user, name)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(plaintext)


@webhooks_cli.command("create")
@click.option("--practice", "slug", required=True, help="Practice slug, e.g. demo.")
@click.option("--source", required=True, help="booking, calcom or retell.")
@click.option("--secret", help="The signing secret (generated when not given; required for retell: its API key).")
def create_webhook_command(slug, source, secret):
    """Create a practice's webhook endpoint for a source and print {"url", "secret"} as one JSON object on stdout
    (the secret is not shown again); errors go to stderr."""
    from app.services.webhook_endpoints import create_endpoint, endpoint_url

    practice = _practice(slug)
    actor = Actor(user_agent=CLI_ACTOR_AGENT, practice_id=practice.id)
    try:
        endpoint, secret = create_endpoint(actor, source, secret)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(json.dumps({"url": endpoint_url(endpoint), "secret": secret}))


@crypto_cli.command("rotate-keys")
def rotate_keys_command():
    """Re-encrypt every stored secret under the newest key of APP_ENCRYPTION_KEYS."""
    from app.platform.security.crypto import rotate_all_secrets

    count = rotate_all_secrets()
    click.echo(f"Re-encrypted {count} secrets under the newest key.")


@crypto_cli.command("generate-key")
def generate_key_command():
    """Print a new Fernet key to put first in APP_ENCRYPTION_KEYS."""
    click.echo(Fernet.generate_key().decode())


@hub_cli.command("worker")
@click.option("--once", is_flag=True, help="Run every job that is due, then exit (for tests and cron).")
@click.option("--worker-id", help="Name recorded on the jobs this worker claims (default: hostname:pid).")
def worker_command(once, worker_id):
    """Run the background worker: claim queued jobs and run them until SIGTERM or Ctrl-C (the job in hand is
    finished first). Run one worker on SQLite; on PostgreSQL any number, on any number of hosts."""
    from app.platform.jobs.worker import default_worker_id, run_worker

    current_app.logger  # noqa: B018 (attaches Flask's stderr handler when logging is not configured)
    for name in ("app.platform.jobs.worker", "app.platform.jobs.queue"):
        logging.getLogger(name).setLevel(logging.INFO)
    worker_id = worker_id or default_worker_id()
    processed = run_worker(current_app._get_current_object(), worker_id, once=once)
    click.echo(f"Worker {worker_id} ran {processed} jobs.")


def _practice(slug):
    practice = db.session.scalar(select(Practice).where(Practice.slug == slug))
    if practice is None:
        raise click.ClickException(f"No practice with slug {slug!r}.")
    return practice


def init_app(app):
    """Register the command groups."""
    app.cli.add_command(demo_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(webhooks_cli)
    app.cli.add_command(crypto_cli)
    app.cli.add_command(hub_cli)
