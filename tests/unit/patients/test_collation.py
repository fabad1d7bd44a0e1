"""German sorting and umlaut-tolerant search (issue 17, item 13): the keys themselves, and the database sorting and
finding with them (SQLite, or PostgreSQL through TEST_DATABASE_URL: both must give the same order)."""

import pytest

from app.patients.collation import name_sort_key, search_key, searchable, sort_key
from app.patients.service import search_patients


@pytest.mark.parametrize(("before", "after"), [
    ("König", "Krüger"),
    ("Schäfer", "Schwarz"),
    ("Müller", "Münch"),
    ("Mueller", "Mulder"),  # ü counts as ue: "mueller" < "mulder"
    ("Straßer", "Strasserova"),
    ("Meier", "Meier-Schmidt"),
    ("Ørsted", "Ott"),
    ("Ecke", "Éclat"),  # É is an E, not a letter after Z
])
def test_sort_key_orders_as_the_german_phone_book(before, after):
    assert sort_key(before) < sort_key(after)


@pytest.mark.parametrize(("name", "key"), [
    ("Müller", "mueller"), ("MÜLLER", "mueller"), ("Straße", "strasse"), ("José", "jose"), ("Çelik", "celik"),
    ("O'Brien", "obrien"), ("Meier-Schmidt", "meier schmidt"), ("  van  der Berg ", "van der berg"),
    ("Mu\u0308ller", "mueller"),  # a decomposed ü (as macOS writes it) folds like the composed one
])
def test_sort_key_spells_umlauts_out_and_drops_case_and_accents(name, key):
    assert sort_key(name) == key


def test_the_last_name_decides_before_the_first_name():
    """"Meier, Zoe" comes before "Meier-Schmidt, Anna": the separator sorts below every letter and space."""
    assert name_sort_key("Meier", "Zoe") < name_sort_key("Meier Schmidt", "Anna") < name_sort_key("Meiers", "A")


@pytest.mark.parametrize("typed", ["Müller", "Mueller", "Muller", "MÜLLER", "müller", "mueLLer"])
def test_search_key_makes_the_three_spellings_equal(typed):
    assert search_key(typed) == "muller"


def test_search_key_keeps_punctuation_for_emails_and_dates():
    assert search_key("Jörg.Mueller@Example.de") == "jorg.muller@example.de"
    assert search_key("07.12.1980") == "07.12.1980"


def test_searchable_holds_spelling_and_key_so_partial_words_still_match():
    """"Bauer" is stored as "bauer baur": "er" (part of the spelling) and "baur" (the key) both match."""
    assert searchable("Bauer") == "bauer baur"
    assert searchable("Schwarz") == "schwarz"


def _names(page):
    return [patient.last_name for patient in page.items]


def test_the_list_sorts_by_the_collation_key(app, make_user, make_patient):
    """König before Krüger, Schäfer before Schwarz, lower case among upper case, on the database in use."""
    user = make_user(role="admin")
    for last_name in ["Schwarz", "Krüger", "schäfer", "König", "Zander", "Öztürk", "Ober", "Abel"]:
        make_patient(last_name=last_name, first_name="Eva")
    with app.test_request_context("/patients/"):
        ascending = _names(search_patients(user, "").page(50))
        descending = _names(search_patients(user, "", descending=True).page(50))
    assert ascending == ["Abel", "König", "Krüger", "Ober", "Öztürk", "schäfer", "Schwarz", "Zander"]
    assert descending == list(reversed(ascending))


def test_first_names_break_ties_and_a_search_keeps_the_order(app, make_user, make_patient):
    user = make_user(role="admin")
    for first_name in ["Ülrike", "Uwe", "Ute", "Ada"]:
        make_patient(last_name="Mayer", first_name=first_name)
    with app.test_request_context("/patients/"):
        listed = [patient.first_name for patient in search_patients(user, "mayer").page(50).items]
    assert listed == ["Ada", "Ülrike", "Ute", "Uwe"]


@pytest.mark.parametrize("typed", ["Muller", "Mueller", "Müller", "müll", "MUEL", "mul"])
def test_muller_mueller_and_mueller_find_each_other(app, make_user, make_patient, typed):
    user = make_user(role="admin")
    expected = {make_patient(last_name=name, first_name="Hans").id for name in ("Müller", "Mueller", "Muller")}
    make_patient(last_name="Miller", first_name="Hans")
    with app.test_request_context("/patients/"):
        found = {patient.id for patient in search_patients(user, typed).page(50).items}
    assert found == expected


@pytest.mark.parametrize(("typed", "name"), [
    ("er", "Bauer"), ("baue", "Bauer"), ("Strasse", "Straße"), ("straß", "Strasser"), ("jose", "José"),
    ("Gör", "Goertz"), ("goertz", "Görtz"),
])
def test_partial_words_and_other_foldings_are_found(app, make_user, make_patient, typed, name):
    user = make_user(role="admin")
    wanted = make_patient(last_name=name, first_name="Kim").id
    make_patient(last_name="Wolf", first_name="Kim")
    with app.test_request_context("/patients/"):
        found = [patient.id for patient in search_patients(user, typed).page(50).items]
    assert found == [wanted]


def test_emails_with_umlaut_spellings_are_found_either_way(app, make_user, make_patient):
    user = make_user(role="admin")
    wanted = make_patient(last_name="Kern", email="joerg.mueller@example.de").id
    with app.test_request_context("/patients/"):
        for typed in ("jörg.müller@", "joerg.mueller@example.de", "jorg.muller"):
            assert [patient.id for patient in search_patients(user, typed).page(50).items] == [wanted], typed


def test_a_bulk_insert_without_sort_name_gets_one(app, db, practice):
    """Rows inserted without naming sort_name (other domains, benches) still get their key from the names."""
    from sqlalchemy import insert, select

    from app.patients.models import Patient
    from app.platform.database import utcnow

    now = utcnow()
    db.session.execute(insert(Patient), [
        {"practice_id": practice.id, "first_name": "Jörg", "last_name": "Größer", "search_text": "",
         "created_at": now, "updated_at": now},
    ])
    assert db.session.scalar(select(Patient.sort_name)) == name_sort_key("Größer", "Jörg")


def test_imported_and_updated_patients_get_their_sort_key(app, db, make_user, english_messages):
    """The import writes in bulk (COPY on PostgreSQL, which bypasses column defaults): it sets the key itself,
    on create and when a name changes."""
    from sqlalchemy import select

    from app.patients.importing.service import import_records
    from app.patients.models import Patient
    from app.platform.security.actor import Actor

    actor = Actor(make_user(role="admin"))
    import_records(actor, [{"first_name": "Jörg", "last_name": "Größer", "email": "j@example.de"}], dry_run=False)
    assert db.session.scalar(select(Patient.sort_name)) == name_sort_key("Größer", "Jörg")
    import_records(actor, [{"first_name": "Jörg", "last_name": "Ährens", "email": "j@example.de"}], dry_run=False)
    db.session.expire_all()
    assert db.session.scalar(select(Patient.sort_name)) == name_sort_key("Ährens", "Jörg")
