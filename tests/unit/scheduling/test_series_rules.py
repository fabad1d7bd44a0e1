"""The prescription rules of a treatment series on plain dates: spreading units over the week, and warnings for a
late first unit, units after the validity, long gaps and too many units in a week."""

from datetime import date, timedelta

from app.scheduling.engine.series import SeriesRules, unit_dates, warnings_for

MONDAY = date(2027, 5, 3)


def test_units_spread_over_the_week():
    assert unit_dates(MONDAY, 4, 2) == [MONDAY, MONDAY + timedelta(days=4), MONDAY + timedelta(days=7),
                                        MONDAY + timedelta(days=11)]
    assert unit_dates(MONDAY, 3, 1) == [MONDAY + timedelta(days=7 * week) for week in range(3)]
    assert len(set(unit_dates(MONDAY, 10, 5))) == 10


def test_rules_come_from_the_practice_settings():
    assert SeriesRules.from_settings({}) == SeriesRules(28, 14)
    assert SeriesRules.from_settings({"series": {"max_gap_days": 10}}) == SeriesRules(28, 10)


def test_warnings_for_a_prescription(english_messages):
    dates = [MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=2), MONDAY + timedelta(days=30)]
    notes = warnings_for(dates, 2, latest_start=MONDAY - timedelta(days=1), valid_until=MONDAY + timedelta(days=20),
                         rules=SeriesRules(28, 14))
    assert notes[0] == ["The first unit lies after the latest start date (02.05.2027)."]
    assert notes[1] == []
    assert notes[2] == ["More than 2 units in this week."]
    assert notes[3] == ["This unit lies after the prescription's validity (23.05.2027).",
                        "28 days after the previous unit; at most 14 are allowed."]
