"""What the Integration Hub's tab of an access provider lists about the access domain (app.integrations.access_tab):
the locations where the provider is set up, with their settings and their check-ins of the last day. Installed in
the hub by init_app, because the hub sits below this domain and does not read its tables."""

from flask_babel import ngettext
from sqlalchemy import Integer, case, func, select

from app.access.models import DAYS, AccessProvider, Checkin
from app.integrations.access_tab import AccessLocation
from app.platform.extensions import db
from app.tenancy.models import Location


def _reentry(config):
    """The re-entry window in words ("3 hours", "2 days")."""
    if config.reentry_unit == DAYS:
        return ngettext("%(num)d day", "%(num)d days", config.reentry_value)
    return ngettext("%(num)d hour", "%(num)d hours", config.reentry_value)


def hub_locations(practice_id, provider, since):
    """[AccessLocation] of ``provider`` at the practice's locations, by location name: two queries (the settings
    with their locations, and the check-ins since ``since`` grouped by location)."""
    configs = db.session.execute(
        select(AccessProvider, Location.name).join(Location, Location.id == AccessProvider.location_id)
        .where(AccessProvider.practice_id == practice_id, AccessProvider.provider == provider)
        .order_by(Location.name)).all()
    if not configs:
        return []
    counts = {row.location_id: row for row in db.session.execute(
        select(Checkin.location_id, func.count().label("total"),
               func.sum(case((Checkin.granted.is_(True), 1), else_=0)).cast(Integer).label("granted"),
               func.max(Checkin.created_at).label("last"))
        .where(Checkin.practice_id == practice_id, Checkin.provider == provider, Checkin.created_at >= since,
               Checkin.overrides_id.is_(None))
        .group_by(Checkin.location_id))}
    result = []
    for config, name in configs:
        seen = counts.get(config.location_id)
        result.append(AccessLocation(
            location_id=config.location_id, name=name, active=config.active, timeout_ms=config.timeout_ms,
            reentry=_reentry(config), staff_must_confirm=config.staff_must_confirm,
            checkins_24h=seen.total if seen else 0, granted_24h=(seen.granted or 0) if seen else 0,
            last_checkin_at=seen.last if seen else None))
    return result
