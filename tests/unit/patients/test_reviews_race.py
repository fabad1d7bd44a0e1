"""Two admins deciding the same review at the same moment: exactly one decision is taken, the other is told the
patient has already been reviewed (a conditional update of the pending row decides, on PostgreSQL's row lock)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.appointments.service import apply_appointment
from app.patients.reviews.models import PatientReview
from app.patients.reviews.service import accept, get_review, ignore
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.actor import Actor
from app.providers.events import SCHEDULED, AppointmentRecord
from tests.helpers import at_once
from tests.hub_support import file_database


@pytest.fixture
def app_overrides(tmp_path):
    """A database file on SQLite, so each thread has its own connection as in production."""
    return file_database(tmp_path)


def test_concurrent_decisions_take_exactly_one(app, practice, make_user):
    """Eight admins accept or ignore one review at once: one wins, seven are refused, the row says who won."""
    admins = [make_user(role="admin").id for _ in range(8)]
    start = utcnow() + timedelta(days=1)
    apply_appointment(Actor(practice_id=practice.id), practice, AppointmentRecord(
        source="calcom", external_id="race-1", starts_at=start, ends_at=start + timedelta(minutes=30),
        status=SCHEDULED, attendee_name="Rita Rennen", attendee_email="rita@example.com", source_updated_at=start))
    db.session.commit()
    review_id = db.session.scalar(select(PatientReview.id))
    turns = iter(enumerate(admins))

    def decide():
        number, admin_id = next(turns)
        admin = db.session.get(User, admin_id)
        review = get_review(practice.id, review_id)
        try:
            (accept if number % 2 else ignore)(Actor(admin), review)
        except ServiceError:
            return None
        return admin_id

    winners = [admin_id for admin_id in at_once(app, len(admins), decide) if admin_id]
    db.session.expire_all()
    assert len(winners) == 1 and db.session.get(PatientReview, review_id).decided_by_id == winners[0]
