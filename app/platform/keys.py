"""Keys of the embedded default: when SECRET_KEY or APP_ENCRYPTION_KEYS are not set, a key is generated once
into the instance folder and read back on every later start, so sessions and encrypted secrets survive restarts.
Production (ProdConfig) never gets here: it refuses to start without both keys."""

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def _read_or_create(path: Path, make) -> str:
    """Return the key stored at ``path``, creating it atomically (O_EXCL) when missing so that several gunicorn
    workers starting at once agree on one key."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(make())
    return path.read_text().strip()


def ensure_instance_keys(app):
    """Fill SECRET_KEY and APP_ENCRYPTION_KEYS from files in the instance folder when not configured."""
    instance = Path(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        instance.mkdir(parents=True, exist_ok=True)
        app.config["SECRET_KEY"] = _read_or_create(instance / "secret_key", lambda: secrets.token_urlsafe(48))
    if not app.config.get("APP_ENCRYPTION_KEYS"):
        instance.mkdir(parents=True, exist_ok=True)
        app.config["APP_ENCRYPTION_KEYS"] = _read_or_create(
            instance / "encryption.keys", lambda: Fernet.generate_key().decode()
        )
