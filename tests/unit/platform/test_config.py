"""Configuration: production refuses to start without its secrets, naming what is missing."""

import pytest

from app import create_app
from config import ProdConfig, TestConfig, config_from_env


def test_production_refuses_to_start_without_settings():
    """Every missing variable is named in one message."""
    with pytest.raises(RuntimeError) as error:
        create_app(ProdConfig, SECRET_KEY=None, APP_ENCRYPTION_KEYS=None, SQLALCHEMY_DATABASE_URI=None)
    message = str(error.value)
    assert "SECRET_KEY" in message and "APP_ENCRYPTION_KEYS" in message and "DATABASE_URL" in message


def test_production_names_only_what_is_missing():
    """With two of three set, only the third is named."""
    with pytest.raises(RuntimeError, match="DATABASE_URL") as error:
        create_app(ProdConfig, SECRET_KEY="s" * 40, APP_ENCRYPTION_KEYS="k", SQLALCHEMY_DATABASE_URI=None)
    assert "SECRET_KEY" not in str(error.value)


def test_production_starts_with_settings_and_secure_cookies():
    """With everything set, production starts with secure cookies."""
    app = create_app(ProdConfig, SECRET_KEY="s" * 40, APP_ENCRYPTION_KEYS=TestConfig.APP_ENCRYPTION_KEYS,
                     SQLALCHEMY_DATABASE_URI="sqlite://")
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_unknown_app_env_is_refused(monkeypatch):
    """A typo in APP_ENV is an error, not a silent fallback."""
    monkeypatch.setenv("APP_ENV", "prodution")
    with pytest.raises(RuntimeError, match="prodution"):
        config_from_env()
