"""Enabling access providers at a location (``access.manage``): validated settings, the secret encrypted with a
hint, one provider once per location (the database's unique constraint decides a race), audited."""

from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.access import adapters
from app.access.models import REENTRY_LIMITS, AccessProvider
from app.platform.audit.service import record
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.crypto import encrypt_secret
from app.providers.base import clean_api_key
from app.tenancy.models import Location

MIN_TIMEOUT_MS, MAX_TIMEOUT_MS = 100, 30000
MAX_ID = 2**31 - 1


def practice_locations(practice_id):
    """The practice's locations by name."""
    return db.session.scalars(select(Location).where(Location.practice_id == practice_id)
                              .order_by(Location.name)).all()


def get_location(practice_id, location_id):
    """The practice's location ``location_id``, or None (another practice's id is unknown here)."""
    return db.session.scalar(select(Location).where(Location.id == location_id, Location.practice_id == practice_id))


def location_providers(location):
    """{provider name: AccessProvider} configured at ``location`` (enabled or not)."""
    rows = db.session.scalars(select(AccessProvider).where(AccessProvider.location_id == location.id)).all()
    return {row.provider: row for row in rows}


def enabled_by_location(practice_id):
    """{location id: [provider names enabled there]} for the practice, in one query."""
    rows = db.session.execute(select(AccessProvider.location_id, AccessProvider.provider).where(
        AccessProvider.practice_id == practice_id, AccessProvider.active.is_(True))
        .order_by(AccessProvider.provider)).all()
    result = {}
    for location_id, provider in rows:
        result.setdefault(location_id, []).append(provider)
    return result


def _base_url(value, default):
    """An http(s) base URL without a trailing slash; the provider's default when empty."""
    url = (value or "").strip().rstrip("/") or default
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
        raise ServiceError(_l("Enter the provider's address starting with https://."), field="base_url")
    return url


def _whole(value, low, high, field, message):
    """``value`` as an int within ``low``..``high``, else ServiceError(message) for ``field``."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise ServiceError(message, field=field)
    return number


def validated_settings(provider, data, existing=None):
    """The column values for ``data`` (a dict as a form or the API sends it), checked; ServiceError naming the field
    otherwise. The secret may be left empty when one is stored already (it is kept)."""
    module = adapters.adapter(provider)
    unit = data.get("reentry_unit") or "hours"
    if unit not in REENTRY_LIMITS:
        raise ServiceError(_l("Choose hours or days for the re-entry window."), field="reentry_unit")
    low, high = REENTRY_LIMITS[unit]
    values = {
        "base_url": _base_url(data.get("base_url"), module.DEFAULT_BASE_URL),
        "timeout_ms": _whole(data.get("timeout_ms"), MIN_TIMEOUT_MS, MAX_TIMEOUT_MS, "timeout_ms",
                             _l("Enter a timeout between 100 and 30000 milliseconds.")),
        "reentry_unit": unit,
        "reentry_value": _whole(data.get("reentry_value"), low, high, "reentry_value",
                                _l("Re-entry window: %(low)d to %(high)d %(unit)s.", low=low, high=high,
                                   unit=_l("hours") if unit == "hours" else _l("days"))),
        "staff_must_confirm": bool(data.get("staff_must_confirm")),
        "active": bool(data.get("active", True)),
        "settings": {key: _whole(data.get(key), 1, MAX_ID, key, _l("Enter the %(label)s as a whole number.",
                                                                    label=label))
                     for key, label in module.ID_FIELDS},
    }
    secret = (data.get("secret") or "").strip()
    if module.SECRET_LABEL is not None:
        if secret:
            try:
                secret = clean_api_key(secret)
            except ValueError as error:
                raise ServiceError(str(error), field="secret") from None
            values["secret"], values["secret_hint"] = encrypt_secret(secret), secret[-4:]
        elif existing is None or not existing.secret:
            raise ServiceError(_l("Enter the %(label)s.", label=module.SECRET_LABEL), field="secret")
    return values


def save_provider(actor, location, provider, data):
    """Enable or change ``provider`` at ``location`` with ``data``; returns the AccessProvider. Audited as
    access.provider.update (never with the secret)."""
    if provider not in adapters.ACCESS_PROVIDERS:
        raise ServiceError(_l("Choose one of the access providers."), field="provider")
    config = location_providers(location).get(provider)
    values = validated_settings(provider, data, config)
    created = config is None
    if created:
        config = AccessProvider(practice_id=location.practice_id, location_id=location.id, provider=provider)
        db.session.add(config)
    for key, value in values.items():
        setattr(config, key, value)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ServiceError(_l("This provider was just enabled at this location by someone else. Reload the page."),
                           field="provider") from None
    record("access.provider.update", actor, practice_id=location.practice_id, object_type="access_provider",
           object_id=config.id, meta={"provider": provider, "location": location.id, "created": created,
                                      "secret_changed": "secret" in values, "active": config.active})
    db.session.commit()
    return config
