"""``flask users`` and ``flask tokens``: accounts and personal API tokens from the server's shell."""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.accounts.models import User
from app.accounts.service import create_user, normalise_email
from app.accounts.tokens import create_token
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.actor import cli_actor
from app.platform.security.permissions import ROLES
from app.tenancy.practices import practice_by_slug

users_cli = AppGroup("users", help="Manage user accounts.")
tokens_cli = AppGroup("tokens", help="Manage personal API tokens.")


def practice_option_value(slug):
    """The practice named by ``--practice SLUG``; a clear error when there is none."""
    practice = practice_by_slug(slug)
    if practice is None:
        raise click.ClickException(f"No practice with slug {slug!r}.")
    return practice


@users_cli.command("create")
@click.option("--practice", "slug", required=True, help="Practice slug, e.g. demo.")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), default="admin", show_default=True)
@click.password_option(help="Initial password (prompted when not given).")
def create_user_command(slug, email, name, role, password):
    """Create a user in a practice with an initial password."""
    practice = practice_option_value(slug)
    try:
        user, _invite = create_user(cli_actor(practice_id=practice.id), email=email, name=name, role=role,
                                    password=password)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created {user.email} ({user.role}) in {practice.slug}.")


@tokens_cli.command("create")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--name", required=True, help="What the token is for, e.g. 'booking tool'.")
def create_token_command(email, name):
    """Create a personal API token and print it, alone, on stdout (it is not shown again)."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    try:
        _token, plaintext = create_token(cli_actor(user), user, name)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(plaintext)
