"""The import's commit stays linear and cheap, checked by counting (never by timing): the statements of the
commit do not grow with the rows of a batch, each distinct name is folded for search and sorting once (not once
or twice per row), and every new patient gets search text and sort key equal to the one-patient rules. The
garbage collector's full passes over the rows are paused while a step of the import runs, and only then."""

import gc
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.patients.collation import name_sort_key
from app.patients.importing import derive, service, write
from app.patients.importing.models import PatientImportRow
from app.patients.importing.service import create_csv_import, preview_import, run_import_job
from app.patients.models import Patient, build_search_text
from app.patients.service import search_patients
from app.platform.errors import ServiceError
from app.platform.security.actor import Actor
from bench.patient_import import generate_rows, to_csv


@pytest.fixture
def importer(db, make_user, make_practice):
    """Run a whole import of the bench's first ``count`` rows as an admin of a new practice; returns the job."""

    def run(count):
        actor = Actor(make_user(practice=make_practice()))
        job = create_csv_import(actor, "patienten.csv", to_csv(generate_rows(count)))
        preview_import(actor, job, job.mapping)
        assert job.counts["invalid"] == 0 and job.counts["flagged"] == 0, job.counts
        job.status = "queued"
        db.session.commit()
        run_import_job(SimpleNamespace(payload={"import_job_id": job.id}, practice_id=job.practice_id),
                       lambda done, total: None)
        return job

    return run


def _statements(importer, sql_statements, count):
    """The SQL statements (an executemany counts once) of an import of ``count`` rows, from upload to commit."""
    with sql_statements() as sent:
        job = importer(count)
    assert job.status == "succeeded" and job.counts["created"] == count
    return sent


def test_commit_statements_do_not_grow_with_the_rows_of_a_batch(importer, db, sql_statements):
    """An import of 150 rows and one of 900 (both one batch) send the same number of statements."""
    small = _statements(importer, sql_statements, 150)
    large = _statements(importer, sql_statements, 900)
    assert len(large) == len(small)


def test_each_distinct_name_is_folded_once(importer, db, monkeypatch):
    """Folding through Unicode decomposition happens once per distinct non-ASCII part (a name, an email with an
    umlaut), never for ASCII parts and never twice: 600 rows of the bench's 20 first and 27 last names fold a few
    dozen parts, and each name's sort key is computed once."""
    calls = []
    original = derive.transliterate
    monkeypatch.setattr(derive, "transliterate", lambda text: calls.append(text) or original(text))
    derive._folded_unicode.cache_clear()
    derive._name_key.cache_clear()
    importer(600)
    assert len(calls) == len(set(calls)) and len(calls) < 100
    assert all(not part.isascii() for part in calls)
    assert derive._name_key.cache_info().misses <= 20 + 27


def test_new_patients_get_the_search_text_and_sort_key_of_the_one_patient_rules(importer, db):
    """What the fast path stored equals build_search_text and name_sort_key for every imported patient."""
    importer(300)
    for patient in db.session.scalars(select(Patient)):
        assert patient.search_text == build_search_text(patient.first_name, patient.last_name, patient.email,
                                                        patient.phone, patient.birth_date,
                                                        patient.booking_system_id)
        assert patient.sort_name == name_sort_key(patient.last_name, patient.first_name)


@pytest.mark.parametrize("count", [3, write.BULK_MIN_ROWS])
def test_new_patients_are_found_by_the_search_however_they_were_written(importer, db, count):
    """Fewer new patients than BULK_MIN_ROWS are inserted as such (on SQLite the per-row trigger indexes each),
    more in bulk (the trigger set aside, the batch indexed at once): either way each is found by its email, and
    each import row names the patient made of it (the ids returned, or reserved, in the rows' order)."""
    job = importer(count)
    patients = db.session.scalars(select(Patient).where(Patient.practice_id == job.practice_id)).all()
    assert len(patients) == count
    by_id = {patient.id: patient for patient in patients}
    rows = db.session.scalars(select(PatientImportRow).where(PatientImportRow.job_id == job.id)).all()
    assert sorted(row.patient_id for row in rows) == sorted(by_id)
    for row in rows:
        patient = by_id[row.patient_id]
        assert {patient.first_name, patient.last_name} <= set(row.raw.values())
    with_email = [patient for patient in patients if patient.email]
    assert len(with_email) >= count // 2
    for patient in with_email:
        assert db.session.scalars(search_patients(job.user, patient.email).query).all() == [patient]


def test_the_garbage_collector_is_paused_while_a_step_plans_its_rows_and_only_then(importer, db, monkeypatch):
    """The preview and the commit plan their rows with the collector paused; it runs again afterwards, also after a
    step that failed, and a collector paused by someone else stays paused."""
    paused = []
    original = service.plan_rows
    monkeypatch.setattr(service, "plan_rows", lambda *args, **kwargs: paused.append(not gc.isenabled()) or original(
        *args, **kwargs))
    job = importer(50)
    assert paused == [True, True] and gc.isenabled()
    with pytest.raises(ServiceError):
        preview_import(Actor(job.user), job, job.mapping)  # a finished import can no longer be previewed
    assert gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(ServiceError):
            preview_import(Actor(job.user), job, job.mapping)
        assert not gc.isenabled()
    finally:
        gc.enable()
