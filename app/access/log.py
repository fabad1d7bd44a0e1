"""Reading the check-in log: filtered, newest first, paged; every filter is served by an index of the log."""

from sqlalchemy import false, select
from sqlalchemy.orm import joinedload

from app.access.models import Checkin, Membership
from app.platform.database import within_days
from app.platform.extensions import db
from app.platform.pagination import paginate

LOG_OPTIONS = (joinedload(Checkin.location), joinedload(Checkin.membership).joinedload(Membership.patient),
               joinedload(Checkin.override_by))


def checkin_query(practice, *, location=None, provider=None, decision=None, date_from=None, date_to=None):
    """A select of the practice's check-ins, newest first; dates are days in the practice's zone."""
    query = select(Checkin).where(Checkin.practice_id == practice.id,
                                  *within_days(Checkin.created_at, practice.timezone, date_from, date_to))
    if location:
        query = query.where(Checkin.location_id == int(location))
    if provider:
        query = query.where(Checkin.provider == provider)
    if decision:
        query = query.where(Checkin.decision == decision)
    return query


def checkin_page(practice, filters, per_page):
    """The page ``?page=`` of the practice's check-ins filtered by ``filters`` (``checkin_query``'s keywords); None
    (an invalid filter form) gives an empty page so the form shows its errors above an empty table."""
    query = checkin_query(practice, **filters) if filters is not None else checkin_query(practice).where(false())
    return paginate(query, per_page, Checkin.id, order_by=(Checkin.created_at.desc(), Checkin.id.desc()),
                    options=LOG_OPTIONS)


def recent_checkins(practice_id, location_id, limit=5):
    """The last ``limit`` check-ins at a location (the desk's short history)."""
    return db.session.scalars(select(Checkin).where(Checkin.practice_id == practice_id,
                                                    Checkin.location_id == location_id)
                              .options(*LOG_OPTIONS).order_by(Checkin.id.desc()).limit(limit)).all()
