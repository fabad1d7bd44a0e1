"""Unit tests of the shared patient field rules that have no form of their own: how a stored phone number is shown."""

import pytest

from app.patients.fields import format_phone, normalise_phone


@pytest.mark.parametrize(("stored", "country", "shown"), [
    ("+491701112233", "DE", "0170 1112233"),
    ("+4930123456", "DE", "030 123456"),
    ("+43123456789", "DE", "+43 1 23456789"),
    ("+43123456789", "AT", "01 23456789"),
    ("+41441234567", "DE", "+41 44 123 45 67"),
    ("", "DE", ""),
    (None, "DE", ""),
    ("not a number", "DE", "not a number"),
])
def test_a_stored_number_is_shown_nationally_at_home_and_internationally_abroad(stored, country, shown):
    assert format_phone(stored, country) == shown


@pytest.mark.parametrize("typed", ["0170 1112233", "+49 (170) 111 22 33", "0170/1112233", "0049 170 1112233"])
def test_what_is_shown_reads_back_as_the_same_number(typed):
    stored = normalise_phone(typed, "DE")
    assert normalise_phone(format_phone(stored, "DE"), "DE") == stored == "+491701112233"
