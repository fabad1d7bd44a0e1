"""The status card of a provider as a practice reads it in the German UI: Cal.com's 429 shows as rate-limited with
the clock time of the worker's next attempt in the practice's time zone (and the date when it is not today), and
an answer of the wrong shape is explained in German."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.platform.database import utcnow
from tests.helpers import htmx
from tests.hub_support import CALCOM_KEY, config_of, health_of

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def calcom(calcom_server):
    """The Cal.com fake, answering normally, with an empty request log."""
    calcom_server.reset()
    yield calcom_server
    calcom_server.reset()


@pytest.fixture
def app_overrides(calcom_server):
    """The hub talks to the fake, without retries and with a short timeout."""
    return {"CALCOM_API_URL": calcom_server.url, "PROVIDER_MAX_RETRIES": 0, "PROVIDER_TIMEOUT_SECONDS": 1}


@pytest.fixture
def admin(auth, practice, db):
    """A signed-in admin (German UI, the default) of a practice in Tokyo, whose clock is 7 to 9 hours ahead of
    UTC and Berlin, so a time in the wrong zone shows."""
    practice.timezone = "Asia/Tokyo"
    db.session.commit()
    return auth.login()


def _save(client, **fields):
    """Save Cal.com's settings through htmx, as the tab's form does (automatic sync off)."""
    data = {"api_key": CALCOM_KEY, "sync_interval_minutes": "60", **fields}
    return client.post("/integrations/calcom", data=data, headers=htmx("hub-settings-calcom"))


def _card(client):
    """The status region as its 30-second poll gets it."""
    return client.get("/integrations/status", headers=htmx("hub-status")).get_data(as_text=True)


def _tokyo(day, hour, minute):
    """``day`` (a date in Tokyo) at hour:minute Tokyo time, as an aware UTC datetime."""
    return datetime.combine(day, time(hour, minute), TOKYO).astimezone(ZoneInfo("UTC"))


def _retry_line(html):
    """The text of the card's "next attempt" line."""
    start = html.index('id="hub-retry-calcom">') + len('id="hub-retry-calcom">')
    return html[start:html.index("</p>", start)].strip()


def test_a_429_shows_rate_limited_with_the_next_attempt_in_the_practice_s_time(client, admin, calcom, db,
                                                                                practice):
    """Cal.com answers the key check with 429: the settings are saved, the card says „Anfragelimit“ (not „nicht
    erreichbar“) and when the worker tries again: HH:MM in Tokyo today, with TT.MM.JJJJ on another day, the
    earlier of the next probe and sync, or the next check when none is planned."""
    calcom.set_scenario("429")
    assert _save(client).status_code == 200
    assert health_of(practice, "calcom").state == "rate_limited"

    html = _card(client)
    assert 'data-state="rate_limited"' in html and "nicht erreichbar" not in html
    assert 'id="hub-state-calcom">Anfragelimit</span>' in html
    saved_probe = config_of(practice, "calcom").next_probe_at.astimezone(TOKYO)
    assert _retry_line(html).startswith("Anfragelimit erreicht, nächster Versuch ")
    assert saved_probe.strftime("%H:%M") in _retry_line(html)

    today = utcnow().astimezone(TOKYO).date()
    config = config_of(practice, "calcom")
    config.next_probe_at = _tokyo(today, 14, 35)
    db.session.commit()
    assert _retry_line(_card(client)) == "Anfragelimit erreicht, nächster Versuch um 14:35"

    tomorrow = today + timedelta(days=1)
    config = config_of(practice, "calcom")
    config.next_probe_at = _tokyo(tomorrow, 9, 5)
    db.session.commit()
    assert _retry_line(_card(client)) == (
        f"Anfragelimit erreicht, nächster Versuch am {tomorrow:%d.%m.%Y} um 09:05")

    config = config_of(practice, "calcom")
    config.sync_enabled, config.next_sync_at = True, _tokyo(today, 8, 0)
    db.session.commit()
    assert _retry_line(_card(client)) == "Anfragelimit erreicht, nächster Versuch um 08:00"

    config = config_of(practice, "calcom")
    config.sync_enabled, config.next_probe_at = False, None
    db.session.commit()
    assert _retry_line(_card(client)) == "Anfragelimit erreicht, nächster Versuch bei der nächsten Prüfung"


def test_the_english_card_says_rate_limited_retrying_at(client, admin, calcom, db, practice):
    """The same card in English: "Rate-limited, retrying at 2:35 PM" (Tokyo time)."""
    client.post("/auth/language", data={"lang": "en"})
    calcom.set_scenario("429")
    _save(client)
    config = config_of(practice, "calcom")
    config.next_probe_at = _tokyo(utcnow().astimezone(TOKYO).date(), 14, 35)
    db.session.commit()

    html = _card(client)

    assert 'id="hub-state-calcom">rate-limited</span>' in html
    assert _retry_line(html) == "Rate-limited, retrying at 2:35\u202fPM"
    # The key works; the provider only asks us to wait: the card does not say the connection failed.
    assert "<strong>Connected</strong>" in html and "the last check failed" not in html


def test_an_answer_of_the_wrong_shape_is_explained_in_german(client, admin, calcom, db, practice):
    """A 200 from Cal.com that is not its documented shape: the key check says in German what was expected, with
    the answer's field names as Cal.com spells them; nothing is saved."""
    calcom.set_scenario("bad_shape")

    response = _save(client)

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert ("Cal.com hat eine Antwort gesendet, die der Hub nicht versteht: die Antwort sollte ein Objekt mit "
            "&#34;status&#34;: &#34;success&#34; und &#34;data&#34; sein.") in html
    assert "does not understand" not in html and "should be" not in html
    assert config_of(practice, "calcom") is None
