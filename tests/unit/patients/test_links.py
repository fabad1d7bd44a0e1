"""Personal "Meine Termine" links when two people act at once: a link created by the front desk while an admin
archives the same patient never outlives the archive."""

import threading

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.patients.links import create_link, link_token, open_link
from app.patients.models import Patient, PatientAccessLink
from app.patients.service import archive_patient, restore_patient
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.actor import Actor
from tests.hub_support import file_database


@pytest.fixture
def app_overrides(tmp_path):
    """A database file on SQLite, so each thread has its own connection as in production."""
    return file_database(tmp_path)


def _in_thread(app, action, results, name):
    """Run ``action()`` in a thread with its own app context and session; its result or error lands in
    ``results[name]``."""
    def run():
        with app.app_context():
            try:
                results[name] = action()
            except Exception as error:  # reported by the test, not printed and lost
                results[name] = error
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_link_created_from_a_record_read_before_the_archive_is_refused(app, make_patient, make_user):
    """The assistant has the record open (read before the archive) and clicks "create link" just after an admin
    archived the patient in another request: the link is refused, so after a restore no link of the patient
    opens. Real threads, each with its own connection."""
    patient_id = make_patient(first_name="Gleich", last_name="Zeitig").id
    assistant_id, admin_id = make_user(role="assistant").id, make_user(role="admin").id
    record_open, archived = threading.Event(), threading.Event()
    results = {}

    def front_desk():
        """Read the record, wait while the admin archives it, then create a link from what was read."""
        patient = db.session.get(Patient, patient_id)
        assert patient.archived_at is None
        record_open.set()
        assert archived.wait(10)
        try:
            return create_link(Actor(db.session.get(User, assistant_id)), patient, utcnow())
        except ServiceError:
            return "refused"

    def admin():
        """Archive the patient once the assistant has the record open."""
        assert record_open.wait(10)
        archive_patient(Actor(db.session.get(User, admin_id)), db.session.get(Patient, patient_id))
        archived.set()
        return "archived"

    threads = [_in_thread(app, front_desk, results, "front_desk"), _in_thread(app, admin, results, "admin")]
    for thread in threads:
        thread.join(20)

    assert results == {"front_desk": "refused", "admin": "archived"}
    restore_patient(Actor(db.session.get(User, admin_id)), db.session.get(Patient, patient_id))
    links = db.session.scalars(select(PatientAccessLink).where(PatientAccessLink.patient_id == patient_id)).all()
    assert [open_link(link_token(link), utcnow()) for link in links] == []


def test_links_created_while_archiving_at_the_same_moment_are_all_revoked(app, make_patient, make_user):
    """Eight rounds of "create link" and "archive" released together: whichever comes first, after the archive
    and a restore no link of the patient opens (each created link was revoked with the archive or refused)."""
    assistant_id, admin_id = make_user(role="assistant").id, make_user(role="admin").id
    for _round in range(8):
        patient_id = make_patient().id
        start, results = threading.Barrier(2), {}

        def front_desk(patient_id=patient_id, start=start):
            """Create a link from a record read before the start signal."""
            patient = db.session.get(Patient, patient_id)
            start.wait(10)
            try:
                return create_link(Actor(db.session.get(User, assistant_id)), patient, utcnow()).id
            except ServiceError:
                return "refused"

        def admin(patient_id=patient_id, start=start):
            """Archive the patient at the start signal."""
            patient = db.session.get(Patient, patient_id)
            start.wait(10)
            archive_patient(Actor(db.session.get(User, admin_id)), patient)
            return "archived"

        threads = [_in_thread(app, front_desk, results, "front_desk"), _in_thread(app, admin, results, "admin")]
        for thread in threads:
            thread.join(20)
        assert results["admin"] == "archived" and not isinstance(results["front_desk"], Exception), results
        db.session.expire_all()
        restore_patient(Actor(db.session.get(User, admin_id)), db.session.get(Patient, patient_id))
        links = db.session.scalars(select(PatientAccessLink).where(PatientAccessLink.patient_id == patient_id)).all()
        assert [link.id for link in links if open_link(link_token(link), utcnow())] == [], results
