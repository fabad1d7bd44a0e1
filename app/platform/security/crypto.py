"""Secrets at rest: MultiFernet over APP_ENCRYPTION_KEYS, and key rotation.

A column holds an encrypted secret when it is declared with ``info={"encrypted": True}``; rotation finds every
such column, so a new provider table is covered by declaring its secret columns, without touching this module."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import select, update

from app.platform.extensions import db

BATCH_SIZE = 500


def _fernet():
    """MultiFernet over APP_ENCRYPTION_KEYS (comma-separated, newest first); the newest key encrypts."""
    return _multi_fernet(current_app.config["APP_ENCRYPTION_KEYS"])


@lru_cache(maxsize=8)
def _multi_fernet(setting):
    """The MultiFernet of one APP_ENCRYPTION_KEYS value, built once per process (the webhook receiver encrypts
    every payload: decoding the keys each time was a tenth of the encryption, issue 16)."""
    return MultiFernet([Fernet(key.strip()) for key in setting.split(",") if key.strip()])


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


def encrypt_secret(plaintext: str) -> str:
    """Encrypt a secret for storage; the result is ASCII."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt_secret(ciphertext: str) -> str:
    """Decrypt a stored secret with whichever configured key encrypted it."""
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("stored secret cannot be decrypted with APP_ENCRYPTION_KEYS") from None


def rotate_secret(ciphertext: str) -> str:
    """Re-encrypt a stored secret under the newest key."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("stored secret cannot be decrypted with APP_ENCRYPTION_KEYS") from None


def encrypted_columns(metadata=None):
    """(table, column) pairs of every column declared as holding an encrypted secret."""
    metadata = metadata if metadata is not None else db.metadata
    return [
        (table, column)
        for table in metadata.sorted_tables
        for column in table.columns
        if column.info.get("encrypted")
    ]


def rotate_all_secrets(metadata=None):
    """Re-encrypt every stored secret under the newest key, in batches, one transaction per batch.
    Returns the number of values re-encrypted. Safe to run while the app serves: old keys stay configured
    until the operator removes them after this finishes."""
    rotated = 0
    for table, column in encrypted_columns(metadata):
        key = next(iter(table.primary_key.columns))
        last_key = None
        while True:
            query = select(key, column).where(column.is_not(None)).order_by(key).limit(BATCH_SIZE)
            if last_key is not None:
                query = query.where(key > last_key)
            rows = db.session.execute(query).all()
            if not rows:
                break
            for row_key, ciphertext in rows:
                db.session.execute(update(table).where(key == row_key).values({column.name: rotate_secret(ciphertext)}))
                rotated += 1
            db.session.commit()
            last_key = rows[-1][0]
    return rotated
