"""The Cal.com default event type by its name, not its id (issue 17, item 11): the name a sync recorded in the
mappings is shown to the front desk (read-only settings) and as the admin's current choice before Cal.com's list
loads; without a recorded name the id is named as a number."""

import pytest

from app.integrations.models import IntegrationConfig, IntegrationMapping


@pytest.fixture
def calcom_settings(db, practice):
    """Cal.com connected without a key (no list can load), default event type 102, named by an earlier sync."""
    db.session.add(IntegrationConfig(practice_id=practice.id, provider="calcom", active=True,
                                     settings={"default_event_type_id": 102}))
    db.session.add(IntegrationMapping(practice_id=practice.id, provider="calcom", kind="event_type",
                                      external_id="102", external_name="Erstgespräch"))
    db.session.commit()


def test_front_desk_reads_the_event_type_by_name(client, auth, calcom_settings):
    auth.login("assistant")
    html = client.get("/integrations/calcom").get_data(as_text=True)
    facts = html.split('id="hub-settings-facts-calcom"', 1)[1].split("</dl>", 1)[0]
    assert "<dd>Erstgespräch</dd>" in facts and "102" not in facts


def test_admin_sees_the_current_choice_by_name(client, auth, calcom_settings, db):
    auth.login("admin")
    html = client.get("/integrations/calcom").get_data(as_text=True)
    assert '<option selected value="102">Erstgespräch</option>' in html
    db.session.query(IntegrationMapping).delete()
    db.session.commit()
    html = client.get("/integrations/calcom").get_data(as_text=True)
    assert '<option selected value="102">Nr. 102 (aktuelle Auswahl)</option>' in html
