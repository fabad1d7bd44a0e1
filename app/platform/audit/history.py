"""A patient's history, the record's "Verlauf" tab (issue 17, item 10): the audit entries about the patient and the
changes other domains know of (appointments and calls from webhooks and syncs), newest first, in words.

Opening the record is audited every time, so "Akte geöffnet" would bury every change: the openings of one user on
one day (in the practice's zone) are one line with a count. ``changes_only`` leaves the openings out. Each part is
one query for the whole history (the audit entries with their users joined, and one per registered source), never
one per line. Domains above the patients domain add their changes with ``register_history_source`` in their
``init_app``, so neither the platform nor the patients domain imports them."""

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from flask_babel import gettext, to_user_timezone
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.platform.audit.labels import action_label, meta_items
from app.platform.audit.models import AuditEntry
from app.platform.extensions import db

HISTORY_SOURCES = "praxis.history_sources"
# Audit actions that read a record without changing it; grouped per user and day, hidden by "changes only".
VIEW_ACTIONS = ("patient.view",)


@dataclass
class HistoryItem:
    """One line of the history: when, who (None: the system, a webhook or a sync), what in words, and details as
    (label, text) pairs. ``count`` > 1 for grouped record openings (``at`` is then the latest of the day);
    ``kind`` is "view" for openings, else "change"."""

    at: datetime
    text: str
    user_name: str | None = None
    details: list = field(default_factory=list)
    count: int = 1
    kind: str = "change"
    origin: str | None = None


def register_history_source(app, source):
    """Add ``source(patient, limit) -> [HistoryItem]`` (changes to the patient known to another domain) to every
    patient's history."""
    app.extensions.setdefault(HISTORY_SOURCES, []).append(source)


def _audit_items(patient, changes_only, limit):
    """The audit entries about the patient as history lines, the record openings grouped per user and day."""
    query = (
        select(AuditEntry).options(joinedload(AuditEntry.user))
        .where(AuditEntry.practice_id == patient.practice_id, AuditEntry.patient_id == patient.id)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    if changes_only:
        query = query.where(AuditEntry.action.not_in(VIEW_ACTIONS))
    items, views = [], {}
    for entry in db.session.scalars(query):
        name = entry.user.name if entry.user else None
        if entry.action in VIEW_ACTIONS:
            day = to_user_timezone(entry.created_at).date()
            group = views.get((entry.user_id, day))
            if group is not None:
                group.count += 1  # entries come newest first: the group keeps the latest time of the day
                continue
            group = views[(entry.user_id, day)] = HistoryItem(entry.created_at, "", name, kind="view")
            items.append(group)
            continue
        items.append(HistoryItem(entry.created_at, str(action_label(entry.action)), name, meta_items(entry.meta)))
    for group in views.values():
        group.text = str(action_label("patient.view")) if group.count == 1 else gettext(
            "Record opened %(num)d times", num=group.count)
    return items


def patient_history(patient, *, changes_only=False, limit=200):
    """The patient's history, newest first, at most ``limit`` lines of each part: the audit entries (record
    openings grouped, or left out with ``changes_only``) and every registered source's changes."""
    items = _audit_items(patient, changes_only, limit)
    for source in current_app.extensions.get(HISTORY_SOURCES, ()):
        items.extend(source(patient, limit))
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]
