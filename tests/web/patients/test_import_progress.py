"""The import's progress poll (every second while an import runs) is one statement: it reads the job together with
the session's user. That user is read fresh on every poll, so whatever ends a session or takes the import away
applies to the very next poll: a deactivation, a new session version (a logout or a password change elsewhere) and
a role without ``patients.import``; an import of another practice stays 404."""

import pytest
from sqlalchemy import update

from app.accounts.models import User
from app.patients.importing.models import PatientImportJob
from app.patients.importing.service import create_csv_import, preview_import
from app.platform.security.actor import Actor
from tests.helpers import htmx
from tests.web.patients.test_import import EXPORT, MAPPING


def poll(client, job_id):
    """One progress poll as htmx sends it."""
    return client.get(f"/patients/import/{job_id}/progress", headers=htmx("import-progress"))


def running_import(db, user):
    """The id of an import of ``user``'s practice that the worker is running (checked, 1 of 3 rows written)."""
    actor = Actor(user)
    job = create_csv_import(actor, "export.csv", EXPORT)
    preview_import(actor, job, MAPPING)
    job.status, job.progress_done = "running", 1
    db.session.commit()
    return job.id


@pytest.fixture
def admin(auth):
    """A signed-in admin."""
    return auth.login()


@pytest.fixture
def running(db, admin):
    """The id of an import of the signed-in admin's practice, running."""
    return running_import(db, admin)


def change_user(db, user, **values):
    """Change ``user`` in the database directly (as another admin's request or a script would), not through the
    signed-in client."""
    db.session.execute(update(User).where(User.id == user.id).values(**values))
    db.session.commit()


def test_a_poll_while_the_import_runs_is_one_statement(client, db, running, sql_statements):
    """The running import's poll answers its progress from one statement that reads the user and the job."""
    with sql_statements() as sent:
        response = poll(client, running)
    assert response.status_code == 200
    assert 'hx-trigger="load delay:1s"' in response.get_data(as_text=True)
    assert len(sent) == 1, sent
    assert "users" in sent[0] and "patient_import_jobs" in sent[0]


def test_a_deactivated_admin_is_signed_out_at_the_next_poll(client, db, admin, running):
    """Switching the account off (without a new session version) ends the session at the next poll: 401 with the
    login page for htmx to go to."""
    assert poll(client, running).status_code == 200
    change_user(db, admin, active=False)
    response = poll(client, running)
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/auth/login?next=")


def test_a_new_session_version_ends_the_poll_of_the_old_session(client, db, admin, running):
    """A logout elsewhere or a password change moves the session version on: the old session's next poll is 401."""
    change_user(db, admin, session_version=User.session_version + 1)
    response = poll(client, running)
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/auth/login?next=")


@pytest.mark.parametrize("role", ["assistant", "therapist", "billing"])
def test_a_role_without_the_import_permission_is_refused_at_the_next_poll(client, db, admin, running, role):
    """A role changed while the import runs applies to the next poll (403), while the user stays signed in."""
    change_user(db, admin, role=role)
    assert poll(client, running).status_code == 403
    assert client.get("/").status_code == 200


def test_an_import_of_another_practice_is_not_found(client, db, running, make_user, other_practice,
                                                    sql_statements):
    """The job is only joined within the user's practice: another practice's running import is 404 (never 403),
    from the same one statement."""
    theirs = running_import(db, make_user(practice=other_practice))
    with sql_statements() as sent:
        response = poll(client, theirs)
    assert response.status_code == 404 and len(sent) == 1
    assert db.session.get(PatientImportJob, theirs).status == "running"
