"""Practice settings: time zone, default therapist for patients the booking tool creates, the booking page URL
template with which staff open the practice's booking page for a patient, and the Bundesland/Kanton whose public
holidays close the practice. Validated as a whole and saved in one
commit, so a form with one bad value changes nothing."""

import re
from functools import cache
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit
from zoneinfo import available_timezones

import holidays
from flask import current_app
from flask_babel import gettext as _

from app.platform.audit.service import record
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.validators import check_fields

# Settings keys in Practice.settings (the time zone has its own column).
DEFAULT_THERAPIST = "default_therapist_id"
BOOKING_URL_TEMPLATE = "booking_url_template"
HOLIDAY_REGION = "holiday_region"  # the Bundesland/Kanton whose public holidays close the practice
SETTINGS_FIELDS = ("timezone", DEFAULT_THERAPIST, BOOKING_URL_TEMPLATE, HOLIDAY_REGION)
# German names of subdivisions the holidays package names in French or Italian, or not at all.
REGION_NAMES = {("CH", "GE"): "Genf", ("CH", "NE"): "Neuenburg", ("CH", "TI"): "Tessin", ("CH", "VD"): "Waadt",
                ("CH", "VS"): "Wallis", ("CH", "SG"): "St. Gallen", ("CH", "Stadt Zurich"): "Zürich (Stadt)",
                ("DE", "Augsburg"): "Augsburg (Bayern)"}

# What a booking URL template may contain in braces; each is replaced by the patient's URL-encoded value.
PLACEHOLDERS = ("name", "email", "first_name", "last_name")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
MAX_URL_LENGTH = 2000


class SettingsValidationError(ServiceError):
    """Invalid settings; ``errors`` maps field names to messages."""

    def __init__(self, errors):
        super().__init__(next(iter(errors.values())), field=next(iter(errors)), code="validation_failed")
        self.errors = errors


STAFF_DIRECTORY = "praxis.staff_directory"


def use_staff_directory(app, *, therapists, is_therapist):
    """Plug in who a practice's staff are, for the default therapist setting: ``therapists(practice_id)`` lists
    the active therapists (with ``id`` and ``name``, by name), ``is_therapist(practice_id, user_id)`` says whether
    a user is one of them. The accounts domain supplies both; practices sit below accounts and never import it."""
    app.extensions[STAFF_DIRECTORY] = (therapists, is_therapist)


def practice_therapists(practice_id):
    """The practice's active therapists, by name, for the therapist choices."""
    therapists, _is_therapist = current_app.extensions[STAFF_DIRECTORY]
    return therapists(practice_id)


def _is_therapist(practice_id, user_id):
    """True when ``user_id`` is an active therapist of the practice."""
    _therapists, is_therapist = current_app.extensions[STAFF_DIRECTORY]
    return is_therapist(practice_id, user_id)


@cache
def time_zones():
    """The IANA time zone names this system knows, sorted (for the form's suggestions and the validation)."""
    return tuple(sorted(available_timezones()))


@cache
def holiday_regions(country):
    """(code, German name) of the Länder/Kantone the ``holidays`` package knows for ``country`` (DE, AT, CH, ...),
    by name; empty for a country it does not know."""
    try:
        calendar = holidays.country_holidays(country)
    except NotImplementedError:
        return ()
    names = {}
    for alias, code in calendar.subdivisions_aliases.items():
        names.setdefault(code, alias)
    return tuple(sorted(((code, REGION_NAMES.get((country, code)) or names.get(code, code))
                         for code in calendar.subdivisions), key=lambda item: item[1]))


def check_holiday_region(practice, value):
    """The Bundesland/Kanton code (None for nationwide holidays only); raises ServiceError unless the holidays
    package knows it for the practice's country."""
    if value in (None, ""):
        return None
    if value not in dict(holiday_regions(practice.country or "DE")):
        raise ServiceError(_("Please choose a federal state or canton from the list."), field=HOLIDAY_REGION)
    return value


def chosen_default_therapist_id(practice):
    """The default therapist the practice chose, as stored, or None: not checked, for a statement that checks it
    itself (app.accounts.service.active_therapist_id). Everything else asks default_therapist_id."""
    return (practice.settings or {}).get(DEFAULT_THERAPIST) or None


def default_therapist_id(practice):
    """The id of the practice's default therapist for new patients, or None when none is set or the stored user is
    no longer an active therapist of this practice (so a deleted or demoted user is never assigned)."""
    therapist_id = chosen_default_therapist_id(practice)
    if not therapist_id or not _is_therapist(practice.id, therapist_id):
        return None
    return therapist_id


def booking_url_template(practice):
    """The practice's booking page URL template, or None when the practice has not set one."""
    return (practice.settings or {}).get(BOOKING_URL_TEMPLATE) or None


def booking_url(template, patient):
    """The booking page URL for ``patient``: {name} {email} {first_name} {last_name} in ``template`` replaced by
    the URL-encoded values; a template without placeholders (a plain Cal.com link) gets ``name`` and ``email``
    query parameters, which Cal.com uses to prefill its form. The email is the one the booking tool knows, else
    the patient's. None without a template."""
    if not template:
        return None
    values = {
        "name": patient.full_name,
        "email": patient.booking_email or patient.email or "",
        "first_name": patient.first_name or "",
        "last_name": patient.last_name or "",
    }
    if _PLACEHOLDER.search(template):
        return _PLACEHOLDER.sub(lambda match: quote(values.get(match.group(1), ""), safe=""), template)
    parts = urlsplit(template)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(key, values[key]) for key in ("name", "email") if values[key]]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def check_booking_url_template(value):
    """The cleaned template (None when empty); raises ServiceError unless it is an http(s) URL whose braces name
    only known placeholders."""
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > MAX_URL_LENGTH:
        raise ServiceError(_("The URL is too long (at most %(n)d characters).", n=MAX_URL_LENGTH),
                           field=BOOKING_URL_TEMPLATE)
    unknown = sorted({name for name in _PLACEHOLDER.findall(value) if name not in PLACEHOLDERS})
    if unknown:
        raise ServiceError(
            _("Unknown placeholder %(names)s. Use {name}, {email}, {first_name} or {last_name}.",
              names=", ".join("{" + name + "}" for name in unknown)),
            field=BOOKING_URL_TEMPLATE,
        )
    sample = _PLACEHOLDER.sub("x", value)
    if "{" in sample or "}" in sample:
        raise ServiceError(_("Braces are only allowed around a placeholder, such as {name}."),
                           field=BOOKING_URL_TEMPLATE)
    parts = urlsplit(sample)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(char.isspace() for char in sample):
        raise ServiceError(_("Please enter a web address starting with https:// (or http://)."),
                           field=BOOKING_URL_TEMPLATE)
    return value


def check_timezone(value):
    """The time zone name; raises ServiceError unless it is a known IANA zone such as Europe/Berlin."""
    value = (value or "").strip()
    if value not in time_zones():
        raise ServiceError(_("“%(value)s” is not a known time zone. Use a name such as Europe/Berlin.", value=value),
                           field="timezone")
    return value


def check_default_therapist(practice, value):
    """The therapist's id (None for none); raises ServiceError unless it names an active therapist of the
    practice."""
    if value in (None, ""):
        return None
    try:
        therapist_id = int(value)
    except (TypeError, ValueError):
        therapist_id = None
    if therapist_id is None or not _is_therapist(practice.id, therapist_id):
        raise ServiceError(_("Please choose a therapist of this practice."), field=DEFAULT_THERAPIST)
    return therapist_id


def validate_settings(practice, data, fields=SETTINGS_FIELDS):
    """Check the given ``fields`` of ``data``; returns the cleaned values or raises SettingsValidationError with
    a message for every invalid field."""
    checks = {
        "timezone": check_timezone,
        DEFAULT_THERAPIST: lambda value: check_default_therapist(practice, value),
        BOOKING_URL_TEMPLATE: check_booking_url_template,
        HOLIDAY_REGION: lambda value: check_holiday_region(practice, value),
    }
    values, errors = check_fields(checks, data, fields)
    if errors:
        raise SettingsValidationError(errors)
    return values


def current_settings(practice):
    """The practice's settings as the form shows them."""
    settings = practice.settings or {}
    return {
        "timezone": practice.timezone,
        DEFAULT_THERAPIST: settings.get(DEFAULT_THERAPIST),
        BOOKING_URL_TEMPLATE: settings.get(BOOKING_URL_TEMPLATE),
        HOLIDAY_REGION: settings.get(HOLIDAY_REGION),
    }


def update_settings(actor, practice, data):
    """Validate every setting, then save them together and audit ``practice.settings.update`` with the names of
    the keys that changed (nothing is saved when any value is invalid). Returns the changed keys."""
    values = validate_settings(practice, data)
    before = current_settings(practice)
    changed = sorted(name for name, value in values.items() if before[name] != value)
    if not changed:
        return changed
    practice.timezone = values["timezone"]
    settings = dict(practice.settings or {})  # a new dict: the JSON column does not track in-place changes
    for name in (DEFAULT_THERAPIST, BOOKING_URL_TEMPLATE, HOLIDAY_REGION):
        if values[name] is None:
            settings.pop(name, None)
        else:
            settings[name] = values[name]
    practice.settings = settings
    record("practice.settings.update", actor, practice_id=practice.id, object_type="practice",
           object_id=practice.id, meta={"keys": changed})
    db.session.commit()
    return changed
