"""Finding practices."""

from sqlalchemy import select

from app.platform.extensions import db
from app.tenancy.models import Practice


def practice_by_slug(slug):
    """The practice with ``slug``, or None."""
    return db.session.scalar(select(Practice).where(Practice.slug == slug))
