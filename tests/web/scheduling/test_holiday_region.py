"""The practice's Bundesland/Kanton for public holidays: chosen in the practice settings from the holidays
package's subdivisions (named in German), checked against the practice's country inline and on save, audited, and
used by the scheduling engine."""

from datetime import date

from sqlalchemy import select

from app.platform.audit.models import AuditEntry
from app.scheduling.availability import holiday_region
from app.scheduling.engine.calendar import public_holidays
from app.tenancy.settings import holiday_regions
from tests.helpers import htmx


def form(**changes):
    data = {"timezone": "Europe/Berlin", "default_therapist_id": "", "booking_url_template": "",
            "holiday_region": ""}
    data.update(changes)
    return data


def test_regions_are_the_packages_subdivisions_named_in_german():
    german = dict(holiday_regions("DE"))
    assert german["BY"] == "Bayern" and german["NW"] == "Nordrhein-Westfalen" and len(german) >= 16
    swiss = dict(holiday_regions("CH"))
    assert swiss["GE"] == "Genf" and swiss["VS"] == "Wallis" and swiss["ZH"] == "Zürich" and len(swiss) >= 26
    assert holiday_regions("XX") == ()


def test_page_offers_the_laender_of_the_practice_country(client, auth):
    auth.login()
    html = client.get("/settings/").get_data(as_text=True)
    assert 'name="holiday_region"' in html and '<option value="BY">Bayern</option>' in html
    assert "Nur bundesweite Feiertage" in html and ">Genf<" not in html


def test_saving_a_land_is_audited_and_used_for_holidays(client, auth, practice, db):
    auth.login()
    response = client.post("/settings/", data=form(holiday_region="BY"))
    assert response.status_code == 303
    db.session.refresh(practice)
    assert practice.settings["holiday_region"] == "BY"
    assert holiday_region(practice) == ("DE", "BY")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "practice.settings.update"))
    assert entry.meta == {"keys": ["holiday_region"]}
    assert '<option selected value="BY">' in client.get("/settings/").get_data(as_text=True)
    client.post("/settings/", data=form())
    db.session.refresh(practice)
    assert "holiday_region" not in practice.settings


def test_swiss_practice_chooses_a_kanton(client, auth, practice, db):
    practice.country = "CH"
    db.session.commit()
    auth.login()
    assert client.post("/settings/", data=form(timezone="Europe/Zurich", holiday_region="GE")).status_code == 303
    db.session.refresh(practice)
    assert holiday_region(practice) == ("CH", "GE")
    assert date(2027, 9, 9) in public_holidays("CH", "GE", [date(2027, 9, 9)])  # Jeûne genevois


def test_unknown_or_foreign_region_is_refused_beside_the_field(client, auth, practice, db):
    auth.login()
    response = client.post("/settings/", data=form(holiday_region="GE"))  # a Kanton, but the practice is German
    assert response.status_code == 422
    assert "Bitte wählen Sie ein Bundesland oder einen Kanton aus der Liste." in response.get_data(as_text=True)
    db.session.refresh(practice)
    assert "holiday_region" not in (practice.settings or {})
    inline = client.post("/settings/validate/holiday_region", data={"holiday_region": "XX"}, headers=htmx())
    assert inline.status_code == 422 and "Bundesland" in inline.get_data(as_text=True)
    assert client.post("/settings/validate/holiday_region", data={"holiday_region": "BE"},
                       headers=htmx()).status_code == 200


def test_only_admins_change_the_region(client, auth):
    auth.login(role="assistant")
    assert client.post("/settings/", data=form(holiday_region="BY")).status_code == 403
