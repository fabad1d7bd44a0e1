"""The rules for patient fields, shared by the form, the JSON API and the import so they can never disagree:
names are required, emails must be well-formed, phones become E.164 in the practice's country where they can (and are
kept as entered, marked for checking, where they cannot: a practice's data is messy and a phone number is never worth
refusing a patient for), birth dates are read in German or ISO form and may not lie in the future."""

import re
from dataclasses import dataclass, field
from datetime import date

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

PATIENT_FIELDS = ("first_name", "last_name", "email", "phone", "birth_date", "booking_system_id")
_GERMAN_DATE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})\s*$")
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")
EARLIEST_BIRTH_YEAR = 1900
PHONE_MAX_LENGTH = 20  # the length of the column patients.phone
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class FieldError(ValueError):
    """A field value that breaks a rule; the message says what to change (and may quote the value, for the person
    who typed it). ``code`` names the rule without the value, for what is stored or logged: too_long,
    invalid_email, invalid_phone, not_a_date, not_a_real_date, future_date, too_early (and "required" in
    PatientInput.problems for a missing name)."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def clean_text(value, max_length):
    """Strip surrounding whitespace and collapse inner runs; None for empty."""
    text = " ".join(str(value or "").split())
    if len(text) > max_length:
        raise FieldError(_("At most %(n)d characters.", n=max_length), "too_long")
    return text or None


def normalise_email(value):
    """A syntactically valid email, lower-cased domain kept as typed for display; None for empty."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return validate_email(text, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError:
        raise FieldError(_("“%(value)s” is not a valid email address.", value=text), "invalid_email") from None


def normalise_phone(value, country="DE"):
    """The phone number in E.164 (+4917012345678), reading national numbers in ``country``; None for empty.

    A number is accepted when its length fits a mobile or landline number of its country (phonenumbers'
    "possible"), not only when it lies in a range the library's metadata already knows ("valid"): new mobile ranges
    and older 10-digit mobile numbers (0151 1112223, 01522 334455) are real and were refused by the stricter test.
    Refused, because their E.164 form would be a guess: text with letters (phonenumbers reads them as a keypad
    word, so "mobil" would become digits) and a national number typed without its national prefix (1112223 lacks
    its area code)."""
    text = str(value or "").strip()
    if not text:
        return None
    number = None
    if not any(character.isalpha() for character in text):
        try:
            number = phonenumbers.parse(text, country, keep_raw_input=True)
        except phonenumbers.NumberParseException:
            number = None
    if number is None or not _complete(number, text, country):
        raise FieldError(_("“%(value)s” is not a valid phone number.", value=text), "invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _complete(number, text, country):
    """Whether a parsed number is a whole number (one the library knows, or one with the length of a mobile or
    landline number of its country: the generic length rule would take "0173" for a number) and, when read as a
    national number, was typed with the country's national prefix (0 in DE, AT and CH)."""
    kinds = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
    if not phonenumbers.is_valid_number(number) and all(
            phonenumbers.is_possible_number_for_type_with_reason(number, kind)
            != phonenumbers.ValidationResult.IS_POSSIBLE for kind in kinds):
        return False
    if number.country_code_source != phonenumbers.CountryCodeSource.FROM_DEFAULT_COUNTRY:
        return True
    prefix = phonenumbers.ndd_prefix_for_region(country, True) or ""
    return "".join(character for character in text if character.isdigit()).startswith(prefix)


def clean_phone(value, country="DE"):
    """A patient's phone as stored: E.164 when it can be normalised, otherwise the text as entered (control
    characters removed, whitespace collapsed, cut to the column's PHONE_MAX_LENGTH with "…" as the last
    character when longer) so that no patient is refused for a phone number; None for empty. Such a value is
    shown with "Check phone number" (phone_needs_check)."""
    try:
        return normalise_phone(value, country)
    except FieldError:
        text = " ".join(_CONTROL_CHARACTERS.sub(" ", str(value)).split())
        if len(text) > PHONE_MAX_LENGTH:
            text = text[:PHONE_MAX_LENGTH - 1].rstrip() + "…"
        return text or None


def phone_needs_check(stored):
    """Whether a stored phone is one kept as entered (not E.164), which a person should check."""
    return bool(stored) and not _E164.match(stored)


def format_phone(stored, country="DE"):
    """A stored phone as a person reads it: an E.164 number in national form for the practice's own country
    (0170 1112233), in international form otherwise (+43 1 234567); a value kept as entered is shown as stored."""
    if not stored:
        return ""
    if phone_needs_check(stored):
        return stored
    try:
        number = phonenumbers.parse(stored, country)
    except phonenumbers.NumberParseException:
        return stored
    # A number in a range the library does not know yet has no national pattern: it is shown internationally.
    own = phonenumbers.is_valid_number(number) and phonenumbers.region_code_for_number(number) == country
    style = phonenumbers.PhoneNumberFormat.NATIONAL if own else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


def parse_birth_date(value, today=None):
    """A birth date from DD.MM.YYYY, DD.MM.YY or YYYY-MM-DD (a date object passes through); None for empty.
    Two-digit years are read as the most recent past year (05 → 2005, 85 → 1985)."""
    today = today or date.today()
    if isinstance(value, date):
        parsed = value
    else:
        text = (value or "").strip()
        if not text:
            return None
        parsed = _parse_date_text(text, today)
    if parsed > today:
        raise FieldError(_("The birth date lies in the future."), "future_date")
    if parsed.year < EARLIEST_BIRTH_YEAR:
        raise FieldError(_("The birth date is before %(year)d.", year=EARLIEST_BIRTH_YEAR), "too_early")
    return parsed


def _parse_date_text(text, today):
    """Read a German or ISO date, or raise FieldError naming the accepted forms."""
    german, iso = _GERMAN_DATE.match(text), _ISO_DATE.match(text)
    try:
        if german:
            day, month, year = (int(part) for part in german.groups())
            if len(german.group(3)) == 2:
                year += 2000 if 2000 + year <= today.year else 1900
            return date(year, month, day)
        if iso:
            year, month, day = (int(part) for part in iso.groups())
            return date(year, month, day)
    except ValueError:
        raise FieldError(_("“%(value)s” is not a real date.", value=text), "not_a_real_date") from None
    raise FieldError(_("“%(value)s” is not a date; use DD.MM.YYYY or YYYY-MM-DD.", value=text), "not_a_date")


@dataclass
class PatientInput:
    """Validated patient fields (only those that were given) and the errors of the others, by field: ``errors``
    the messages for the person who typed them (they may quote the value), ``problems`` the rule broken (a
    FieldError code, never a value) for what is stored or logged."""

    values: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    problems: dict = field(default_factory=dict)

    @property
    def ok(self):
        return not self.errors


def validate_patient_fields(data, country="DE", today=None, partial=False):
    """Validate a mapping of raw patient fields. With ``partial`` (PATCH), absent fields are left alone; otherwise
    first and last name are required."""
    result = PatientInput()
    rules = {
        "first_name": lambda v: clean_text(v, 100),
        "last_name": lambda v: clean_text(v, 100),
        "email": normalise_email,
        "phone": lambda v: clean_phone(v, country),
        "birth_date": lambda v: parse_birth_date(v, today),
        "booking_system_id": lambda v: clean_text(v, 64),
    }
    for name, rule in rules.items():
        if partial and name not in data:
            continue
        try:
            result.values[name] = rule(data.get(name))
        except FieldError as error:
            result.errors[name], result.problems[name] = str(error), error.code
    for name in ("first_name", "last_name"):
        if (not partial or name in data) and name not in result.errors and not result.values.get(name):
            result.errors[name], result.problems[name] = _("This field is required."), "required"
    return result
