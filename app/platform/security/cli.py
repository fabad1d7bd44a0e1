"""``flask crypto``: keys for secrets at rest."""

import click
from cryptography.fernet import Fernet
from flask.cli import AppGroup

from app.platform.security.crypto import rotate_all_secrets

crypto_cli = AppGroup("crypto", help="Encryption keys for secrets at rest.")


@crypto_cli.command("rotate-keys")
def rotate_keys_command():
    """Re-encrypt every stored secret under the newest key of APP_ENCRYPTION_KEYS."""
    count = rotate_all_secrets()
    click.echo(f"Re-encrypted {count} secrets under the newest key.")


@crypto_cli.command("generate-key")
def generate_key_command():
    """Print a new Fernet key to put first in APP_ENCRYPTION_KEYS."""
    click.echo(Fernet.generate_key().decode())
