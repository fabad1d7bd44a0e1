"""Pagination that counts cheaply.

Flask-SQLAlchemy counts by wrapping the whole select (every column) in a subquery, which SQLite materialises:
130 ms for 50,000 patients against 5 ms for a direct ``count()``. And for a text search, a separate count repeats
the whole search; there the total comes with the page, as a ``count(*) OVER ()`` column, in one query."""

from flask import request
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func

from app.extensions import db


class Page(Pagination):
    """A Pagination whose items and total were fetched by ``paginate``."""

    def __init__(self, page, per_page, items, total):
        self._prefetched = (items, total)
        super().__init__(page=page, per_page=per_page, max_per_page=None, error_out=False, count=True)

    def _query_items(self):
        return self._prefetched[0]

    def _query_count(self):
        return self._prefetched[1]


def paginate(query, per_page, count_column, *, searching=False):
    """Page ``query`` (page number from ``?page=``). ``searching``: the filter is expensive (a text search), so
    count in the same query with a window function instead of running the filter twice."""
    try:
        page = max(int(request.args.get("page", 1)), 1)
    except ValueError:
        page = 1
    offset = (page - 1) * per_page
    if searching:
        rows = db.session.execute(
            query.add_columns(func.count().over().label("total")).limit(per_page).offset(offset)
        ).all()
        items = [row[0] for row in rows]
        total = rows[0].total if rows else _count(query, count_column) if page > 1 else 0
    else:
        items = db.session.scalars(query.limit(per_page).offset(offset)).all()
        total = _count(query, count_column)
    return Page(page, per_page, items, total)


def _count(query, count_column):
    """``SELECT count(column)`` over the query's filters (ordering dropped)."""
    return db.session.scalar(query.with_only_columns(func.count(count_column)).order_by(None))
