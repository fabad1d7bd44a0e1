"""One format for people (issue 17, item 12): dates TT.MM.JJJJ in German and the English way in English, times
in the practice's zone, date inputs that show and accept the language's form with a clear error otherwise."""

from datetime import UTC, date, datetime

import pytest
from flask_babel import force_locale
from werkzeug.datastructures import MultiDict

from app.platform.formatting import (
    LocalDateField,
    date_for_people,
    date_input_value,
    datetime_for_people,
    day_time_for_people,
    format_datetime,
    parse_date_input,
    time_for_people,
)

# 13:05 UTC on 7 December is 14:05 in Berlin (the default zone outside a practice's session).
MOMENT = datetime(2026, 12, 7, 13, 5, tzinfo=UTC)


@pytest.fixture
def request_context(app):
    with app.test_request_context():
        yield


@pytest.mark.parametrize(("language", "expected"), [
    ("de", ("07.12.2026", "07.12.2026, 14:05", "14:05", "07.12. 14:05")),
    ("en", ("Dec 7, 2026", "Dec 7, 2026, 2:05\u202fPM", "2:05\u202fPM", "Dec 7, 2:05 PM")),  # CLDR: narrow space
])
def test_dates_and_times_have_one_format_per_language(request_context, language, expected):
    with force_locale(language):
        shown = (date_for_people(date(2026, 12, 7)), datetime_for_people(MOMENT), time_for_people(MOMENT),
                 day_time_for_people(MOMENT))
        assert shown == expected
        # Babel's "short" would give a two-digit year and "medium" seconds; both are the one format here.
        assert format_datetime(MOMENT, "short") == format_datetime(MOMENT, "medium") == expected[1]


def test_empty_values_show_the_given_placeholder(request_context):
    assert date_for_people(None, "—") == datetime_for_people(None, "—") == "—"
    assert format_datetime(None) == "" and date_input_value(None) == ""


@pytest.mark.parametrize(("language", "typed", "expected"), [
    ("de", "07.12.2026", date(2026, 12, 7)),
    ("de", "7.3.2026", date(2026, 3, 7)),
    ("de", " 2026-12-07 ", date(2026, 12, 7)),
    ("en", "12/07/2026", date(2026, 12, 7)),
    ("en", "2026-12-07", date(2026, 12, 7)),
    ("de", "", None),
])
def test_date_inputs_accept_the_languages_form_and_iso(request_context, language, typed, expected):
    with force_locale(language):
        assert parse_date_input(typed) == expected


@pytest.mark.parametrize(("language", "typed", "message"), [
    ("de", "12/07/2026", "Bitte geben Sie das Datum als TT.MM.JJJJ ein, zum Beispiel 07.12.2026."),
    ("de", "31.02.2026", "31.02.2026 ist kein gültiges Datum."),
    ("en", "07.12.2026", "Please enter the date as MM/DD/YYYY, for example 12/07/2026."),
])
def test_a_wrong_date_says_how_to_write_it(request_context, language, typed, message):
    with force_locale(language), pytest.raises(ValueError, match=message.replace(".", r"\.")):
        parse_date_input(typed)


def test_local_date_field_shows_what_it_accepts(request_context):
    from wtforms import Form

    class DayForm(Form):
        day = LocalDateField("Day")

    with force_locale("de"):
        shown = DayForm(data={"day": date(2026, 12, 7)})
        assert 'value="07.12.2026"' in shown.day() and 'placeholder="TT.MM.JJJJ"' in shown.day()
        typed = DayForm(MultiDict({"day": "31.02.2026"}))
        assert not typed.validate() and typed.day.errors == ["31.02.2026 ist kein gültiges Datum."]
        assert 'value="31.02.2026"' in typed.day()  # what was typed stays, to be corrected
        assert DayForm(MultiDict({"day": "24.12.2026"})).day.data == date(2026, 12, 24)
    with force_locale("en"):
        assert 'value="12/07/2026"' in DayForm(data={"day": date(2026, 12, 7)}).day()
