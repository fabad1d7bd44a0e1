"""Unit tests of the shared patient field rules that have no form of their own: how a phone number is normalised,
kept as typed when it cannot be, and shown; and that an email is normalised exactly as email_validator does, though
the common form is checked without it."""

import pytest
from email_validator import EmailNotValidError, validate_email

from app.patients.fields import (
    PHONE_MAX_LENGTH,
    FieldError,
    clean_phone,
    format_phone,
    normalise_email,
    normalise_phone,
    phone_needs_check,
    validate_patient_fields,
)
from bench.patient_import import generate_rows


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


@pytest.mark.parametrize(("typed", "stored"), [
    ("0151 1112223", "+491511112223"),
    ("01522 334455", "+491522334455"),
    ("+49 1522 334455", "+491522334455"),
])
def test_mobile_numbers_the_library_does_not_know_yet_become_e164(typed, stored):
    """The three numbers of issue 17: their length fits a German mobile number, so they are normalised although
    the phone library's metadata does not list their range as valid."""
    assert normalise_phone(typed, "DE") == clean_phone(typed, "DE") == stored
    assert not phone_needs_check(stored)


@pytest.mark.parametrize(("typed", "stored"), [
    ("bitte zurückrufen", "bitte zurückrufen"),
    ("  0173  ", "0173"),  # a mobile prefix alone: too short for any German number
    ("12", "12"),
    ("1112223", "1112223"),  # a local number without its area code: its E.164 form would be a guess
    ("+49 170 1", "+49 170 1"),
    ("(0170) 1234567 mobil", "(0170) 1234567 mobil"),  # letters are not read as a keypad word
    ("0170\x00\t123\x7f", "0170 123"),
    ("Praxis anrufen, nicht Handy", "Praxis anrufen, nic…"),
    (4917012345, "4917012345"),
])
def test_what_cannot_be_normalised_is_kept_as_typed_and_marked(typed, stored):
    """Never a reason to refuse the patient: kept as typed (control characters removed, cut to the column) and
    marked for checking; the strict rule, used to match callers, still refuses it."""
    assert clean_phone(typed, "DE") == stored and len(stored) <= PHONE_MAX_LENGTH
    assert phone_needs_check(stored) and format_phone(stored, "DE") == stored
    with pytest.raises(FieldError):
        normalise_phone(typed, "DE")


def test_a_messy_phone_leaves_the_other_fields_valid():
    """The shared rules accept a patient whose phone cannot be normalised; empty stays empty."""
    result = validate_patient_fields({"first_name": "Mia", "last_name": "Morgen", "phone": "bitte zurückrufen"})
    assert result.ok and result.values["phone"] == "bitte zurückrufen"
    assert validate_patient_fields({"first_name": "A", "last_name": "B", "phone": "  "}).values["phone"] is None
    assert not phone_needs_check(None) and not phone_needs_check("")


@pytest.mark.parametrize(("stored", "shown"), [("+491511112223", "+49 1511112223"), ("0173", "0173")])
def test_a_number_in_an_unknown_range_is_shown_internationally_and_a_kept_one_as_stored(stored, shown):
    """A number without a national pattern in the library is shown in international form, not as bare digits;
    one kept as typed is shown exactly as stored."""
    assert format_phone(stored, "DE") == shown


LONG_LOCAL = "a" * 64
EMAILS = [
    "anna@web.de", "Anna.Maier@GMX.de", "ANNA@WEB.DE", "a+tag@gmail.com", "o'brien@t-online.de", "x_y-z@a-b.c-d.de",
    "Postmaster@Praxis.de", "INFO@praxis.de", "Abuse@praxis.de", "www@praxis.de",  # lower-cased by the library
    "a..b@web.de", ".a@web.de", "a.@web.de", "a@web..de", "a@.web.de", "a@web.de.", "a@-web.de", "a@web-.de",
    "a@web_de.de", "a@web", "a@localhost", "a@test", "a@x.test", "a@x.invalid", "a@x.local", "a@x.onion",
    "a@123", "a@1.2.3.4", "a@x.123", "a@[127.0.0.1]", "a@@web.de", "a@web.de@x.de", "@web.de", "a@", "a",
    "a@xn--mller-kva.de", "a@XN--MLLER-KVA.DE", "a@müller.de", "jörg@web.de", '"a b"@web.de', "Anna <anna@web.de>",
    "a b@web.de", "a@web.de ", f"{LONG_LOCAL}@web.de", f"{LONG_LOCAL}a@web.de",
    f"a@{'b' * 63}.de", f"a@{'b' * 64}.de", f"{LONG_LOCAL}@{'.'.join(['b' * 60] * 3)}.de",
    f"{LONG_LOCAL}@{'.'.join(['b' * 61] * 3)}.de", f"{LONG_LOCAL}@{'.'.join(['b' * 62] * 3)}.de",  # 253, 256 long
    f"{LONG_LOCAL}@{'.'.join(['b' * 40] * 4)}.xn--mller-kva.de",
]


def _library(text):
    """email_validator's normalised form of ``text`` (as normalise_email calls it), or None when it refuses it."""
    try:
        return validate_email(text.strip(), check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError:
        return None


def _ours(text):
    """normalise_email's result, or None when it refuses the address."""
    try:
        return normalise_email(text)
    except FieldError as error:
        assert error.code == "invalid_email"
        return None


@pytest.mark.parametrize("typed", EMAILS)
def test_an_email_is_normalised_exactly_as_email_validator_does(typed):
    """The common form is checked without the library's per-address work (its domain once per domain), with the
    same result for every kind of address: kept, lower-cased where the library does, or refused."""
    assert _ours(typed) == _library(typed)
    assert _ours(typed) == _library(typed), "the second time (domain known) too"


def test_the_bench_files_emails_are_normalised_as_email_validator_does():
    """Two thousand realistic addresses, with and without umlauts in the domain's spelling."""
    for email in [row[3] for row in generate_rows(2000)[1:] if row[3]]:
        assert _ours(email) == _library(email), email
