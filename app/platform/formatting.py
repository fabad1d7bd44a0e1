"""One format for people: dates, times and date inputs the same way on every page, in the user's language and the
practice's time zone (issue 17, item 12).

German shows dates as TT.MM.JJJJ ("07.12.2026") and times as "14:00"; English shows them the English way
("Dec 7, 2026", "2:00 PM"). Babel's own "short" date has a two-digit year and its "medium" time has seconds, so the
named formats are not used on their own: every template goes through the filters registered here
(``|date``, ``|datetime``, ``|time``, ``|day_time``) or the ``format_datetime`` global, which maps "short" and
"medium" onto the same one format. Datetimes are stored in UTC and shown in the practice's zone (Flask-Babel's
timezone selector, app.platform.i18n)."""

import re
from datetime import date, datetime

from flask_babel import format_date, format_time, get_locale
from flask_babel import format_datetime as babel_format_datetime
from flask_babel import lazy_gettext as _l
from wtforms import Field
from wtforms.widgets import TextInput

# Patterns of the short "day and time" (the event log's "Termin am 07.12. 14:00 abgesagt") per language.
DAY_TIME_PATTERNS = {"de": "dd.MM. HH:mm", "en": "MMM d, h:mm a"}
# How a date is typed into a form, per language: (Babel pattern to show it, placeholder, regex with day, month and
# year groups). English uses the American order of the "en" locale, so typed and shown dates agree.
DATE_INPUT = {
    "de": ("dd.MM.yyyy", _l("DD.MM.YYYY"), re.compile(r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})$")),
    "en": ("MM/dd/yyyy", _l("MM/DD/YYYY"), re.compile(r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})$")),
}
_ISO_DATE = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})$")


def _language():
    """The current language's code ("de" or "en"), German when unknown."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in DATE_INPUT else "de"


def date_for_people(value, empty=""):
    """A date (or the day of a datetime, in the practice's zone): "07.12.2026" / "Dec 7, 2026"; ``empty`` for
    None."""
    if value is None:
        return empty
    return format_date(value, "medium")


def datetime_for_people(value, empty=""):
    """A moment in the practice's zone: "07.12.2026, 14:00" / "Dec 7, 2026, 2:00 PM"; ``empty`` for None."""
    if value is None:
        return empty
    return f"{format_date(value, 'medium')}, {format_time(value, 'short')}"


def time_for_people(value, empty=""):
    """The time of day in the practice's zone: "14:00" / "2:00 PM"; ``empty`` for None."""
    if value is None:
        return empty
    return format_time(value, "short")


def day_time_for_people(value, empty=""):
    """Day and time without the year, for short lines: "07.12. 14:00" / "Dec 7, 2:00 PM"; ``empty`` for None."""
    if value is None:
        return empty
    return babel_format_datetime(value, DAY_TIME_PATTERNS[_language()])


def format_datetime(value=None, format="medium", rebase=True):  # noqa: A002 (Flask-Babel's signature)
    """Flask-Babel's ``format_datetime`` for templates, with its named formats "short" and "medium" both mapped to
    the one format of ``datetime_for_people`` (a four-digit year, no seconds); explicit patterns ("HH:mm") and
    "long"/"full" are Babel's own. ``rebase=False`` keeps a value that is already in the wanted zone."""
    if value is None:
        return ""
    if format in ("short", "medium"):
        if not rebase:
            return f"{format_date(value, 'medium', rebase=False)}, {format_time(value, 'short', rebase=False)}"
        return datetime_for_people(value)
    return babel_format_datetime(value, format, rebase=rebase)


def date_input_value(value):
    """A date as it is typed into a form in the current language ("07.12.2026" / "12/07/2026"); "" for None.
    Edit forms fill their date fields with it, so what is shown is what is accepted back."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, DATE_INPUT[_language()][0], rebase=False)


def date_input_placeholder():
    """The placeholder of a date input in the current language ("TT.MM.JJJJ" / "MM/DD/YYYY")."""
    return str(DATE_INPUT[_language()][1])


def parse_date_input(text):
    """The date typed as ``text`` in the current language's form (or as ISO YYYY-MM-DD, which links and the
    browser may send); None for an empty text. Raises ValueError with a message a person can act on."""
    text = (text or "").strip()
    if not text:
        return None
    match = DATE_INPUT[_language()][2].match(text) or _ISO_DATE.match(text)
    if match is None:
        raise ValueError(str(_l("Please enter the date as %(format)s, for example %(example)s.",
                                format=date_input_placeholder(), example=date_input_value(date(2026, 12, 7)))))
    try:
        return date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        raise ValueError(str(_l("%(text)s is not a date in the calendar.", text=text))) from None


def typed_date_as_iso(text):
    """``text`` as YYYY-MM-DD when it is a date typed in the current language's form (or ISO), else unchanged, so
    a check that reads German and ISO dates (the patient fields, shared with the import) also reads the English
    form and still gives its own message for anything else."""
    try:
        parsed = parse_date_input(text)
    except ValueError:
        return text
    return parsed.isoformat() if parsed else text


class DateInput(TextInput):
    """A text input for a date in the current language, with its format as placeholder (a browser date picker
    would show the browser's format, not the practice's)."""

    def __call__(self, field, **kwargs):
        """The input with ``inputmode`` and the placeholder set, unless the template sets them."""
        kwargs.setdefault("placeholder", date_input_placeholder())
        kwargs.setdefault("inputmode", "numeric")
        kwargs.setdefault("autocomplete", "off")
        return super().__call__(field, **kwargs)


class LocalDateField(Field):
    """A date typed as people write it (TT.MM.JJJJ in German, MM/DD/YYYY in English, ISO accepted too); shown
    back the same way. An impossible date ("31.02.2026") or another format is a field error that says how to
    write it."""

    widget = DateInput()

    def _value(self):
        """The text shown in the input: what was typed (after an error), else the date in the language's form."""
        if self.raw_data:
            return self.raw_data[0]
        return date_input_value(self.data)

    def process_formdata(self, valuelist):
        """Parse the typed text; a ValueError becomes the field's error when the form is validated."""
        if not valuelist:
            return
        self.data = None
        self.data = parse_date_input(valuelist[0])


def init_app(app):
    """Register the filters (``|date``, ``|datetime``, ``|time``, ``|day_time``, ``|date_input``) and the
    ``format_datetime`` and ``date_input_placeholder`` globals for every template."""
    app.add_template_filter(date_for_people, "date")
    app.add_template_filter(datetime_for_people, "datetime")
    app.add_template_filter(time_for_people, "time")
    app.add_template_filter(day_time_for_people, "day_time")
    app.add_template_filter(date_input_value, "date_input")
    app.jinja_env.globals["format_datetime"] = format_datetime
    app.jinja_env.globals["date_input_placeholder"] = date_input_placeholder
