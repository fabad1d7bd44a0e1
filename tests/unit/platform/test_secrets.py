"""Secrets at rest: MultiFernet encryption, key rotation and the embedded key files."""

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from app import create_app
from app.platform.security.crypto import (
    SecretDecryptionError,
    decrypt_secret,
    encrypt_secret,
    encrypted_columns,
    rotate_all_secrets,
)
from config import Config, TestConfig


def test_round_trip_and_ciphertext_hides_the_secret(app):
    """A secret comes back unchanged and is not readable in its stored form."""
    stored = encrypt_secret("whsec_geheim")
    assert "geheim" not in stored
    assert decrypt_secret(stored) == "whsec_geheim"


def test_wrong_key_raises_a_clear_error(app):
    """Ciphertext from an unknown key is refused, never returned as garbage."""
    foreign = Fernet(Fernet.generate_key()).encrypt(b"x").decode()
    with pytest.raises(SecretDecryptionError):
        decrypt_secret(foreign)


def test_rotation_re_encrypts_every_declared_column(app, db):
    """rotate-keys finds columns declared encrypted and re-encrypts them under the newest key."""
    old_key = app.config["APP_ENCRYPTION_KEYS"]
    metadata = MetaData()
    table = Table("rotation_probe", metadata, Column("id", Integer, primary_key=True),
                  Column("secret", String, info={"encrypted": True}), Column("plain", String))
    metadata.create_all(db.engine)
    try:
        db.session.execute(insert(table), [{"id": i, "secret": encrypt_secret(f"s{i}"), "plain": "p"}
                                           for i in range(1, 1203)] + [{"id": 2000, "secret": None, "plain": "p"}])
        db.session.commit()
        assert [c.name for _t, c in encrypted_columns(metadata)] == ["secret"]
        new_key = Fernet.generate_key().decode()
        app.config["APP_ENCRYPTION_KEYS"] = f"{new_key},{old_key}"
        assert rotate_all_secrets(metadata) == 1202
        app.config["APP_ENCRYPTION_KEYS"] = new_key  # the old key can now be removed
        values = db.session.execute(select(table.c.secret).order_by(table.c.id)).scalars().all()
        assert [decrypt_secret(v) for v in values[:-1]] == [f"s{i}" for i in range(1, 1203)]
        assert values[-1] is None
    finally:
        app.config["APP_ENCRYPTION_KEYS"] = old_key
        db.session.rollback()
        metadata.drop_all(db.engine)


def test_embedded_default_generates_keys_once(tmp_path, monkeypatch):
    """Without configured keys, keys are generated into the instance folder and reused on the next start."""
    monkeypatch.setattr("app.BASE_DIR", tmp_path)
    first = create_app(Config, SECRET_KEY=None, APP_ENCRYPTION_KEYS=None, SQLALCHEMY_DATABASE_URI="sqlite://")
    second = create_app(Config, SECRET_KEY=None, APP_ENCRYPTION_KEYS=None, SQLALCHEMY_DATABASE_URI="sqlite://")
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert first.config["APP_ENCRYPTION_KEYS"] == second.config["APP_ENCRYPTION_KEYS"]
    assert (tmp_path / "instance" / "encryption.keys").stat().st_mode & 0o077 == 0
    Fernet(first.config["APP_ENCRYPTION_KEYS"])  # a valid key


def test_test_config_key_is_valid():
    """The fixed test key is a real Fernet key."""
    Fernet(TestConfig.APP_ENCRYPTION_KEYS)
