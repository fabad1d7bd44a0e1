"""The rules for patient fields, shared by the form, the JSON API and the import so they can never disagree:
names are required, emails must be well-formed, phones become E.164 in the practice's country where they can (and are
kept as entered, marked for checking, where they cannot: a practice's data is messy and a phone number is never worth
refusing a patient for), birth dates are read in German or ISO form and may not lie in the future."""

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES, EMAIL_MAX_LENGTH
from flask_babel import gettext as _

PATIENT_FIELDS = ("first_name", "last_name", "email", "phone", "birth_date", "booking_system_id")
_GERMAN_DATE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})\s*$")
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")
EARLIEST_BIRTH_YEAR = 1900
PHONE_MAX_LENGTH = 20  # the length of the column patients.phone
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# An address whose part before the @ is plain ASCII "dot-atom" text (RFC 5322, the form email_validator accepts
# unchanged) and whose domain is ASCII letters, digits, dots and hyphens: see normalise_email.
_ATEXT = r"[A-Za-z0-9_!#$%&'*+\-/=?^`{|}~]"
_PLAIN_EMAIL = re.compile(rf"({_ATEXT}+(?:\.{_ATEXT}+)*)@([A-Za-z0-9.\-]+)")
_MAILBOX_NAMES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)  # postmaster@…: lower-cased by email_validator
# Characters a phone number is commonly written with; text made only of them holds no letter (see normalise_phone).
_PHONE_CHARACTERS = re.compile(r"[0-9 +/().\-]*")
# Fixed line first: in DE and AT its lengths include the mobile ones, so one check usually decides.
_POSSIBLE_KINDS = (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)


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
    """A syntactically valid email, lower-cased domain kept as typed for display; None for empty.

    An import validates one address per row, and email_validator spends most of its time (about 20 µs an address)
    on the domain, which a practice's patients share (a few dozen providers). So an address of the common form (see
    _PLAIN_EMAIL) is checked as email_validator would: its local part is valid and kept as typed, its domain is
    validated once per domain (_email_domain), and the lengths are checked; any other address goes through
    email_validator as a whole. tests/unit/patients/test_fields.py holds both ways equal."""
    text = (value or "").strip()
    if not text:
        return None
    plain = _PLAIN_EMAIL.fullmatch(text)
    if plain is not None and plain.group(1).lower() not in _MAILBOX_NAMES:
        local, domain = plain.group(1), _email_domain(plain.group(2))
        if domain is None:
            raise FieldError(_("“%(value)s” is not a valid email address.", value=text), "invalid_email")
        normalized = f"{local}@{domain[0]}"
        if max(len(text), len(normalized.encode()), len(local) + 1 + len(domain[1])) <= EMAIL_MAX_LENGTH:
            return normalized
    try:
        return validate_email(text, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError:
        raise FieldError(_("“%(value)s” is not a valid email address.", value=text), "invalid_email") from None


@lru_cache(maxsize=4096)
def _email_domain(domain):
    """(normalised, ASCII) form of an email domain as email_validator validates it, or None when it refuses it. The
    library checks the domain apart from the local part, so a one-letter local part stands in for any other."""
    try:
        result = validate_email(f"x@{domain}", check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return None
    return result.domain, result.ascii_domain


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
    if _PHONE_CHARACTERS.fullmatch(text) or not any(character.isalpha() for character in text):
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
    # The length rules first: they only compare lengths, while is_valid_number runs the patterns of every kind of
    # number (10 µs a number, a third of a phone's validation), and most numbers pass the length rules.
    if all(phonenumbers.is_possible_number_for_type_with_reason(number, kind)
           != phonenumbers.ValidationResult.IS_POSSIBLE for kind in _POSSIBLE_KINDS) and not (
            phonenumbers.is_valid_number(number)):
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
    german = _GERMAN_DATE.match(text)
    iso = None if german else _ISO_DATE.match(text)
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


# The rule of each field: (name, function of the value, the country and today). Built once: an import validates
# 100,000 rows with them.
_FIELD_RULES = (
    ("first_name", lambda value, _country, _today: clean_text(value, 100)),
    ("last_name", lambda value, _country, _today: clean_text(value, 100)),
    ("email", lambda value, _country, _today: normalise_email(value)),
    ("phone", lambda value, country, _today: clean_phone(value, country)),
    ("birth_date", lambda value, _country, today: parse_birth_date(value, today)),
    ("booking_system_id", lambda value, _country, _today: clean_text(value, 64)),
)


def validate_patient_fields(data, country="DE", today=None, partial=False):
    """Validate a mapping of raw patient fields. With ``partial`` (PATCH), absent fields are left alone; otherwise
    first and last name are required."""
    result = PatientInput()
    values, today = result.values, today or date.today()
    for name, rule in _FIELD_RULES:
        if partial and name not in data:
            continue
        try:
            values[name] = rule(data.get(name), country, today)
        except FieldError as error:
            result.errors[name], result.problems[name] = str(error), error.code
    for name in ("first_name", "last_name"):
        if (not partial or name in data) and name not in result.errors and not values.get(name):
            result.errors[name], result.problems[name] = _("This field is required."), "required"
    return result
