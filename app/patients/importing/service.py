"""Patient import: a CSV upload (or a JSON array through the API) becomes a dry-run report per row, and then, in the
background, new, linked and updated patients.

The flow for a file: ``create_csv_import`` checks and stores the upload and guesses the column mapping;
``preview_import`` reads every row with the admin's mapping, validates it with the shared field rules
(``patient_fields``) and plans it against the practice's patients without writing any patient; the admin resolves
flagged rows (``resolve_flagged_row``) and queues the import (``queue_import``); the worker calls
``run_import_job``, which plans again against the database as it is then and writes in batches.

What a row becomes (its *action*):

- ``create``: no existing patient matches.
- ``link``: an existing patient matches by booking id, else by email (ignoring case), every field of the row is
  already on the record, but the record lacks the row's booking link: the import sets ``booking_system_id`` and
  ``booking_email``.
- ``update``: a patient matches and some field differs. A non-empty cell overwrites; an empty cell never blanks out
  stored data. For a patient linked to the booking tool whose practice email deliberately differs from the booking
  email, a booking-id match changes only ``booking_email``.
- ``unchanged``: a patient matches and nothing would change. Importing the same file twice gives only these.
- ``flagged``: never merged automatically; the admin links, creates or skips it. Flagged are rows that match no
  patient by booking id or email but have the same first name, last name (both ignoring case) and birth date as an
  existing patient; rows whose email match is an *archived* patient (linking restores that patient); rows whose
  email belongs to a patient with another first name (a family sharing one address) or to several patients; and
  rows without any email or booking id that resemble an existing patient but differ from it.
- ``invalid``: a field breaks a rule, the row repeats the booking id or email of an earlier row ("duplicate of row
  N"), or the row's booking id and email point at two different patients. The reason names the row and the problem.

Row numbers are those a spreadsheet shows: the header is row 1, the first patient row 2 (a quoted cell with line
breaks still counts as one row). For the API they are positions in the array, starting at 1.

Matching is done in memory: the practice's patients are read in one query into dictionaries (by booking id, by
email, by name and birth date), and rows are written with executemany statements in batches, so the number of
statements does not grow with the number of rows. Another practice's patients are never read. The field rules are
the expensive part (about 170 µs a row); large files are validated by helper processes (see _validate_all).
"""

import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import Text, cast, delete, func, or_, select, update

from app.patients.fields import PATIENT_FIELDS, validate_patient_fields
from app.patients.importing.models import PatientImportJob, PatientImportRow
from app.patients.models import SQLITE_SEARCH_INDEX, Patient, build_search_text
from app.platform.audit.service import record
from app.platform.database import bulk_insert, bulk_search_indexing, bulk_update, reserve_ids, utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.actor import Actor
from app.tenancy.models import Practice
from app.tenancy.settings import default_therapist_id

__all__ = [
    "PATIENT_FIELDS", "ImportFileError", "create_csv_import", "guess_mapping", "import_records", "import_report",
    "preview_import", "problem_rows_csv", "queue_import", "resolve_flagged_row", "run_import_job",
]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
# Rows per executemany statement. The background commit also commits and reports progress per batch, sized for
# about PROGRESS_STEPS steps within MIN_BATCH_SIZE..MAX_BATCH_SIZE rows.
BATCH_SIZE = 5000
MIN_BATCH_SIZE, MAX_BATCH_SIZE, PROGRESS_STEPS = 1000, 5000, 20
REPORT_ROW_LIMIT = 1000
ACTIONS = ("create", "link", "update", "unchanged", "flagged", "invalid")
RESOLUTIONS = ("link", "create", "skip")
PROBLEM_ACTIONS = ("flagged", "invalid")
PROBLEM_OUTCOMES = ("skipped", "invalid")
REQUIRED_FIELDS = ("first_name", "last_name")
_VALUE_FIELDS = ("first_name", "last_name", "email", "phone", "birth_date")
# Outcome of a row once applied, by planned action (flagged rows go by their resolution).
_OUTCOME_OF_ACTION = {"create": "created", "link": "linked", "update": "updated", "unchanged": "unchanged",
                      "invalid": "invalid"}
_OUTCOME_OF_RESOLUTION = {"create": "created", "link": "linked", "skip": "skipped"}

# Signatures of files that are certainly not CSV text, with the kind of file for the message.
_BINARY_SIGNATURES = (
    (b"PK\x03\x04", "workbook"),  # xlsx, ods, numbers, zip
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "workbook"),  # xls (OLE2)
    (b"%PDF", "binary"),
    (b"\x1f\x8b", "binary"),  # gzip
    (b"\x89PNG", "binary"),
    (b"\xff\xd8\xff", "binary"),  # JPEG
    (b"\xff\xfe", "utf16"),
    (b"\xfe\xff", "utf16"),
)
# Characters that never occur in a text file (tab, line feed and carriage return are allowed).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Header synonyms after _header_key (lower case, umlauts spelled out, no spaces or punctuation).
# Rank 0: the whole header is the synonym; rank 1: the header starts with a long synonym ("Telefon privat");
# rank 2: weak synonyms used only when nothing better names the field ("Name" for the last name).
_SYNONYMS = {
    "first_name": ("vorname", "vornamen", "rufname", "vname", "firstname", "first", "givenname", "forename"),
    "last_name": ("nachname", "familienname", "zuname", "nname", "lastname", "last", "surname", "familyname"),
    "email": ("email", "emailadresse", "mail", "mailadresse", "epost", "emailaddress", "mailaddress"),
    "phone": ("telefon", "telefonnummer", "telefonnr", "tel", "telnr", "handy", "handynummer", "handynr", "mobil",
              "mobilnummer", "mobilnr", "mobiltelefon", "mobilfunk", "rufnummer", "festnetz", "phone",
              "phonenumber", "mobile", "mobilephone", "mobilenumber", "cell", "cellphone", "telephone"),
    "birth_date": ("geburtsdatum", "geburtstag", "gebdatum", "gebdat", "geboren", "geb", "gebam", "birthdate",
                   "dateofbirth", "dob", "birthday", "born"),
    "booking_system_id": ("patientenid", "patientid", "id", "patientennummer", "patientennr", "patnr", "patid",
                          "bookingid", "bookingsystemid", "buchungsid", "externeid", "externalid", "kundennummer",
                          "kundennr", "kundenid", "klientennummer", "klientennr", "customerid", "clientid"),
}
_WEAK_SYNONYMS = {"last_name": ("name", "patientenname", "patient")}
_PREFIX_MIN_LENGTH = 5


class ImportFileError(ServiceError):
    """An uploaded file that cannot be imported at all (too large, empty, not text, not a CSV, no patient rows,
    no name columns); the message says what to do. Nothing is stored when it is raised."""

    def __init__(self, message, field="file", code="invalid_file"):
        super().__init__(message, field=field, code=code)


# --------------------------------------------------------------------------------------------------------------
# Column mapping


def _header_key(header):
    """A header reduced for comparison: lower case, umlauts spelled out (ä → ae), accents dropped, only letters
    and digits kept, so "E-Mail", "e mail" and "EMAIL" compare equal."""
    text = unicodedata.normalize("NFC", (header or "").strip().lower())
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(umlaut, spelled)
    text = unicodedata.normalize("NFKD", text)
    return "".join(char for char in text if char.isascii() and char.isalnum())


def _header_rank(key, field_name):
    """How well a reduced header names ``field_name`` (0 best, see _SYNONYMS), or None when it does not."""
    synonyms = _SYNONYMS.get(field_name, ())
    if key in synonyms:
        return 0
    if any(len(synonym) >= _PREFIX_MIN_LENGTH and key.startswith(synonym) for synonym in synonyms):
        return 1
    if key in _WEAK_SYNONYMS.get(field_name, ()):
        return 2
    return None


def guess_mapping(headers: list[str]) -> dict[str, str | None]:
    """Guess which column holds which patient field from German and English headers ("Vorname" / "First name",
    "Telefon" / "Handy" / "Mobil", "Geburtsdatum", "Patienten-ID" / "ID", ...), ignoring case, spaces, umlauts
    and punctuation. Every field of PATIENT_FIELDS gets a header or None; a header is used at most once, the best
    match wins and among equal matches the leftmost column."""
    candidates = []
    for position, header in enumerate(headers):
        key = _header_key(header)
        for field_name in PATIENT_FIELDS:
            rank = _header_rank(key, field_name)
            if rank is not None:
                candidates.append((rank, position, field_name, header))
    mapping = dict.fromkeys(PATIENT_FIELDS)
    used = set()
    for _rank, _position, field_name, header in sorted(candidates, key=lambda item: item[:2]):
        if mapping[field_name] is None and header not in used:
            mapping[field_name] = header
            used.add(header)
    return mapping


def _field_labels():
    """Translated names of the patient fields, for messages about the mapping and API rows."""
    return {
        "first_name": _("First name"), "last_name": _("Last name"), "email": _("Email"), "phone": _("Phone"),
        "birth_date": _("Birth date"), "booking_system_id": _("Patient ID"),
    }


def _check_mapping(mapping, headers):
    """Validate an admin's mapping (field -> header or None) against the file's headers and return it complete.
    Raises ServiceError(field="mapping") for unknown fields or headers, a header used twice, or missing names."""
    if not isinstance(mapping, dict):
        raise ServiceError(_("Please choose a column for each field."), field="mapping")
    unknown = sorted(set(mapping) - set(PATIENT_FIELDS))
    if unknown:
        raise ServiceError(_("Unknown field: %(field)s.", field=", ".join(unknown)), field="mapping")
    complete = {}
    used = {}
    labels = _field_labels()
    for field_name in PATIENT_FIELDS:
        header = mapping.get(field_name) or None
        if header is not None and header not in headers:
            raise ServiceError(_("The file has no column “%(header)s”.", header=header), field="mapping")
        if header is not None and header in used:
            raise ServiceError(
                _("Column “%(header)s” is chosen for both %(first)s and %(second)s.", header=header,
                  first=labels[used[header]], second=labels[field_name]),
                field="mapping",
            )
        if header is not None:
            used[header] = field_name
        complete[field_name] = header
    missing = [labels[name] for name in REQUIRED_FIELDS if complete[name] is None]
    if missing:
        raise ServiceError(_("Please choose a column for: %(fields)s.", fields=", ".join(missing)), field="mapping")
    return complete


# --------------------------------------------------------------------------------------------------------------
# Reading the file


def _max_bytes():
    """The upload limit: PATIENT_IMPORT_MAX_BYTES, 20 MB when the setting is missing."""
    return int(current_app.config.get("PATIENT_IMPORT_MAX_BYTES") or DEFAULT_MAX_BYTES)


def format_size(size):
    """A byte count for a message: "20 MB", "512 KB" or "900 bytes"."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    if size >= 1024:
        return f"{size / 1024:g} KB"
    return f"{size} bytes"


def _decode(content):
    """Decode an upload as UTF-8 (with or without BOM), else Windows-1252. Returns (text, encoding name).
    Known binary formats (Excel, zip, PDF, images, UTF-16) and bytes that decode to control characters are
    refused with an ImportFileError, so a binary file never turns into garbage rows."""
    for signature, kind in _BINARY_SIGNATURES:
        if content.startswith(signature):
            if kind == "workbook":
                raise ImportFileError(_("This is an Excel or other spreadsheet workbook, not a CSV file. In Excel "
                                        "choose “Save as” → “CSV UTF-8” and upload that file."), code="not_csv")
            if kind == "utf16":
                raise ImportFileError(_("The file is saved as UTF-16, which cannot be read. Save it as “CSV "
                                        "UTF-8” and upload it again."), code="undecodable")
            raise ImportFileError(_("This is not a CSV file. Export the patient list as CSV (separated by "
                                    "semicolons or commas) and upload that file."), code="not_csv")
    try:
        text, encoding = content.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        try:
            text, encoding = content.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError as error:
            raise ImportFileError(
                _("The file cannot be read as text (byte %(position)d is neither UTF-8 nor Windows-1252). Save it "
                  "as “CSV UTF-8” and upload it again.", position=error.start + 1),
                code="undecodable",
            ) from None
    control = _CONTROL_CHARS.search(text)
    if control is not None:
        line = text.count("\n", 0, control.start()) + 1
        raise ImportFileError(
            _("The file contains characters that are not text (line %(line)d), so it is not a CSV file or it is "
              "damaged. Save it as “CSV UTF-8” and upload it again.", line=line),
            code="undecodable",
        )
    return text, encoding


def _sniff_delimiter(text):
    """``;`` or ``,``: whichever occurs more often outside quotes in the header row (``;`` on a tie, as German
    Excel writes it); None when the header row has neither (a single column)."""
    counts = {";": 0, ",": 0}
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "\r\n":
            break
        elif not quoted and char in counts:
            counts[char] += 1
    if not any(counts.values()):
        return None
    return ";" if counts[";"] >= counts[","] else ","


@dataclass
class _Table:
    """A parsed CSV file: its encoding and delimiter, the unique headers, and the data rows as (row number,
    cells), blank rows left out."""

    encoding: str
    delimiter: str
    headers: list
    rows: list


def _unique_headers(cells):
    """Headers stripped, trailing empty ones dropped, empty ones named "Column N" and repeats numbered
    ("E-Mail", "E-Mail (2)"), so every cell of a row has a distinct key in ``raw``."""
    headers = [" ".join((cell or "").split()) for cell in cells]
    while headers and not headers[-1]:
        headers.pop()
    unique, seen = [], {}
    for position, header in enumerate(headers, start=1):
        header = header or _("Column %(n)d", n=position)
        seen[header] = seen.get(header, 0) + 1
        unique.append(header if seen[header] == 1 else f"{header} ({seen[header]})")
    return unique


def _parse_csv(content):
    """Check and parse an uploaded file into a _Table, or raise ImportFileError with a message a person can act on:
    too large, empty, not text, not a CSV, header only. (The name columns are checked by the caller.)"""
    limit = _max_bytes()
    if len(content) > limit:
        raise ImportFileError(_("The file is larger than the limit of %(limit)s (it has %(size)s).",
                                limit=format_size(limit), size=format_size(len(content))), code="too_large")
    if not content.strip(b" \t\r\n\xef\xbb\xbf"):
        raise ImportFileError(_("The file is empty."), code="empty")
    text, encoding = _decode(content)
    if not text.strip():
        raise ImportFileError(_("The file is empty."), code="empty")
    delimiter = _sniff_delimiter(text.lstrip("\r\n"))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter or ";")
    headers, rows = None, []
    try:
        for number, cells in enumerate(reader, start=1):
            if not any(cell.strip() for cell in cells):
                continue
            if headers is None:
                headers = _unique_headers(cells)
            else:
                rows.append((number, cells))
    except csv.Error as error:
        raise ImportFileError(_("The file is not a valid CSV file (row %(row)d: %(error)s).",
                                row=reader.line_num, error=str(error)), code="not_csv") from None
    if not headers:
        raise ImportFileError(_("The file is empty."), code="empty")
    if delimiter is None and not any(guess_mapping(headers).values()):
        raise ImportFileError(_("This is not a CSV file: its first row has no column separator (“;” or “,”) and "
                                "no known column name such as “Vorname” or “Nachname”."), code="not_csv")
    if not rows:
        raise ImportFileError(_("The file has a header row but no patient rows."), code="no_rows")
    return _Table(encoding=encoding, delimiter=delimiter or ";", headers=headers, rows=rows)


# --------------------------------------------------------------------------------------------------------------
# Rows: validation with the shared field rules


@dataclass(slots=True)
class _Row:
    """One row on its way through an import: raw cells, validated values, the plan and, once applied, the
    outcome. ``values`` holds Python values (dates) and is None when a field broke a rule."""

    number: int
    raw: dict
    data: dict
    values: dict | None
    reason: str | None = None
    action: str = ""
    patient_id: int | None = None
    resolution: str | None = None
    outcome: str | None = None
    db_id: int | None = None
    target: object = None
    changes: dict = field(default_factory=dict)
    operation: str | None = None  # "create" or "update" when the row writes a patient


def _row_from_result(number, raw, result, labels):
    """Build a row's _Row from its validation result (values, errors): normalised ``data`` (dates in ISO form;
    with an ``errors`` entry per broken field) and, for a valid row, ``values``."""
    values, errors = result
    data = {name: _json_value(values.get(name)) for name in PATIENT_FIELDS}
    if not errors:
        return _Row(number=number, raw=raw, data=data, values=values)
    data["errors"] = dict(errors)
    reason = " ".join(f"{labels.get(name, name)}: {message}" for name, message in errors.items())
    return _Row(number=number, raw=raw, data=data, values=None, reason=reason, action="invalid")


# The shared field rules cost about 110 µs a row (email_validator and phonenumbers), most of the time of a large
# import. Files of PATIENT_IMPORT_PARALLEL_MIN_ROWS rows or more (default 10,000) are therefore validated by
# several processes: PATIENT_IMPORT_PROCESSES (default: the number of CPUs, at most 4; 1 turns this off). Each
# helper is a fresh interpreter running _VALIDATION_PROGRAM (subprocess, not multiprocessing: it inherits no
# database connection or thread, and never re-imports the caller's main module); rows go in and results come out
# as JSON through temporary files, and it translates messages into the caller's language with its own Flask-Babel app.
# This process validates the first share meanwhile; a helper that fails is replaced by validating its share here.
DEFAULT_PARALLEL_MIN_ROWS = 10_000
_MAX_PROCESSES = 4
_ROWS_PER_PROCESS = 5_000
_VALIDATION_PROGRAM = """
import json, sys
from datetime import date
from flask import Flask
from flask_babel import Babel, force_locale
from app.patients.fields import validate_patient_fields
job = json.load(sys.stdin)
app = Flask("patient_import_validation")
app.config["BABEL_TRANSLATION_DIRECTORIES"] = job["translations"]
Babel(app)
today = date.fromisoformat(job["today"])
results = []
with app.app_context(), force_locale(job["locale"]):
    for fields in job["rows"]:
        result = validate_patient_fields(fields, country=job["country"], today=today)
        values = {k: v.isoformat() if isinstance(v, date) else v for k, v in result.values.items()}
        results.append([values, result.errors])
sys.stdout.write(json.dumps(results))  # one C-encoded string; json.dump to a stream encodes in pure Python
"""


def _validate_chunk(fields_list, country, today):
    """Run the shared field rules on field dicts; (values, errors) per dict."""
    results = []
    for fields in fields_list:
        result = validate_patient_fields(fields, country=country, today=today)
        results.append((result.values, result.errors))
    return results


def _validation_processes(count):
    """How many processes validate ``count`` rows: 1 below the threshold or when turned off."""
    if count < int(current_app.config.get("PATIENT_IMPORT_PARALLEL_MIN_ROWS", DEFAULT_PARALLEL_MIN_ROWS)):
        return 1
    configured = current_app.config.get("PATIENT_IMPORT_PROCESSES")
    processes = int(configured) if configured else min(os.cpu_count() or 1, _MAX_PROCESSES)
    return max(1, min(processes, count // _ROWS_PER_PROCESS))


def _validate_all(fields_list, country):
    """Validate every row's field dict with the shared rules: in this process, or for large files spread over
    helper processes (see the note above)."""
    today = date.today()
    processes = _validation_processes(len(fields_list))
    if processes == 1:
        return _validate_chunk(fields_list, country, today)
    size = -(-len(fields_list) // processes)
    chunks = [fields_list[start:start + size] for start in range(0, len(fields_list), size)]
    with contextlib.ExitStack() as stack:
        helpers = [stack.enter_context(_ValidationHelper(chunk, country, today)) for chunk in chunks[1:]]
        results = _validate_chunk(chunks[0], country, today)
        for helper, chunk in zip(helpers, chunks[1:], strict=True):
            results.extend(helper.results() or _validate_chunk(chunk, country, today))
    return results


class _ValidationHelper:
    """One helper process validating a share of the rows (see the note above _validate_chunk). It starts at once;
    ``results()`` waits for it and returns None when it failed; leaving it as a context manager stops it if it still
    runs and removes its files.

    Its rows, its results and its error output go through temporary files, not pipes: a pipe would have to be fed
    and drained by a thread of this process, and that thread needs the GIL for every few kilobytes while this
    process validates its own share, which starved the helper of input until this process was done (measured: 11.5
    s for 100,000 rows with one helper, against 6.6 s through files)."""

    def __init__(self, fields_list, country, today):
        """Write the helper's job to a file and start it."""
        self.output = None
        self.failure = None
        self.logger = current_app.logger
        job = {"rows": fields_list, "country": country, "today": today.isoformat(),
               "locale": str(get_locale() or current_app.config.get("BABEL_DEFAULT_LOCALE", "de")),
               "translations": current_app.config.get("BABEL_TRANSLATION_DIRECTORIES", "translations")}
        root = os.path.dirname(current_app.root_path)
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root,
                                                                                 os.environ.get("PYTHONPATH"))))}
        self.stdout = tempfile.TemporaryFile()  # noqa: SIM115 (closed by __exit__)
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by __exit__)
        with tempfile.TemporaryFile() as stdin:
            stdin.write(json.dumps(job).encode())
            stdin.seek(0)
            try:
                self.process = subprocess.Popen(  # noqa: S603 (a fixed program run by this interpreter)
                    [sys.executable, "-c", _VALIDATION_PROGRAM], stdin=stdin, stdout=self.stdout,
                    stderr=self.stderr, cwd=root, env=environment,
                )
            except OSError as error:
                self.process, self.failure = None, str(error)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        """Stop a helper that is still running (this process failed meanwhile) and remove its files."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stdout.close()
        self.stderr.close()

    def _wait(self):
        """Wait for the helper and keep its output, or the reason it failed."""
        try:
            self.process.wait(timeout=_HELPER_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired as error:
            self.process.kill()
            self.process.wait()
            self.failure = str(error)
            return
        if self.process.returncode != 0:
            self.stderr.seek(0)
            self.failure = self.stderr.read().decode(errors="replace")[-2000:]
            return
        self.stdout.seek(0)
        self.output = self.stdout.read()

    def results(self):
        """The helper's (values, errors) per row, or None (logged) when it failed."""
        if self.process is not None:
            self._wait()
        if self.output is None:
            self.logger.warning("patient import: a validation helper failed, validating here: %s", self.failure)
            return None
        results = []
        for values, errors in json.loads(self.output):
            if values.get("birth_date"):
                values["birth_date"] = date.fromisoformat(values["birth_date"])
            results.append((values, errors))
        return results


_HELPER_TIMEOUT_SECONDS = 600


def _json_safe(value):
    """A value as JSON can store it (for ``raw``): API input already is; anything else becomes text."""
    return json.loads(json.dumps(value, default=str))


def _json_value(value):
    """A value as it is stored in ``PatientImportRow.data`` (dates as ISO strings)."""
    return value.isoformat() if isinstance(value, date) else value


def _values_from_data(data):
    """The Python values of a stored, valid row (the inverse of _json_value for the birth date)."""
    values = {name: data.get(name) for name in PATIENT_FIELDS}
    if values["birth_date"]:
        values["birth_date"] = date.fromisoformat(values["birth_date"])
    return values


def _csv_rows(table, mapping, country):
    """The _Rows of a parsed file under ``mapping``: raw cells by header, field texts by the mapped columns.
    A row with more non-empty cells than the header has is invalid (a value with an unquoted delimiter would
    otherwise shift every later cell into the wrong column)."""
    headers = table.headers
    width = len(headers)
    positions = [(name, headers.index(header)) for name, header in mapping.items() if header]
    labels = {name: header for name, header in mapping.items() if header}
    rows, pending = [], []
    for number, cells in table.rows:
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        raw = dict(zip(headers, cells, strict=False))
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            extra = [cell for cell in cells[width:] if cell.strip()]
            raw[_("(extra cells)")] = table.delimiter.join(extra)
            reason = _("The row has more cells than the header (%(cells)d instead of %(columns)d); is a value "
                       "containing “%(delimiter)s” missing its quotes?", cells=len(cells), columns=width,
                       delimiter=table.delimiter)
            rows.append(_Row(number=number, raw=raw, data={"errors": {"row": reason}}, values=None, reason=reason,
                             action="invalid"))
            continue
        pending.append((len(rows), number, raw, {name: cells[position] for name, position in positions}))
        rows.append(None)
    results = _validate_all([fields for _index, _number, _raw, fields in pending], country)
    for (index, number, raw, _fields), result in zip(pending, results, strict=True):
        rows[index] = _row_from_result(number, raw, result, labels)
    return rows


def _api_rows(records, country):
    """The _Rows of an API call: each record a dict with the PATIENT_FIELDS keys (``patient_id`` is accepted for
    ``booking_system_id``); numbers are read as text, other non-text values and non-dict items are invalid."""
    labels = _field_labels()
    rows = []
    for number, item in enumerate(records, start=1):
        if not isinstance(item, dict):
            reason = _("Not a JSON object with patient fields.")
            rows.append(_Row(number=number, raw={"value": _json_safe(item)}, data={"errors": {"row": reason}},
                             values=None,
                             reason=reason, action="invalid"))
            continue
        fields, errors = {}, {}
        for name in PATIENT_FIELDS:
            value = item.get(name)
            if name == "booking_system_id" and value in (None, ""):
                value = item.get("patient_id")
            if isinstance(value, bool) or (value is not None and not isinstance(value, str | int | float)):
                errors[name] = _("Must be text.")
            else:
                fields[name] = None if value is None else str(value)
        row = _row_from_result(number, _json_safe(item), _validate_chunk([fields], country, date.today())[0],
                               labels)
        if errors:
            row.data.setdefault("errors", {}).update(errors)
            reason = " ".join(f"{labels[name]}: {message}" for name, message in errors.items())
            row.reason = f"{row.reason} {reason}" if row.reason else reason
            row.values, row.action = None, "invalid"
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------------------------
# Planning against the practice's patients (in memory)


def _identity(first_name, last_name, birth_date):
    """The key for "same person by name and birth date": names without case or extra spaces, and the date."""
    return (" ".join((first_name or "").split()).casefold(), " ".join((last_name or "").split()).casefold(),
            birth_date)


class _PatientIndex:
    """The practice's patients (archived ones included), read in ONE query, by booking id, by email (the
    normalised email and the booking email) and by name and birth date."""

    COLUMNS = (Patient.id, Patient.first_name, Patient.last_name, Patient.email, Patient.email_normalized,
               Patient.phone, Patient.birth_date, Patient.booking_system_id, Patient.booking_email,
               Patient.archived_at)

    def __init__(self, practice_id, candidates=None):
        """Load the index for one practice; nothing of another practice is read. ``candidates`` (a SQL condition)
        narrows it to the patients one record can match, for a single event instead of a whole file."""
        query = select(*self.COLUMNS).where(Patient.practice_id == practice_id)
        if candidates is not None:
            query = query.where(candidates)
        patients = db.session.execute(query).all()
        self.by_booking, self.by_email, self.by_identity = {}, {}, {}
        for patient in patients:
            if patient.booking_system_id:
                self.by_booking[patient.booking_system_id] = patient
            keys = {(patient.email_normalized or patient.email or "").lower(), (patient.booking_email or "").lower()}
            for key in keys - {""}:
                self.by_email.setdefault(key, []).append(patient)
            identity = _identity(patient.first_name, patient.last_name, patient.birth_date)
            self.by_identity.setdefault(identity, []).append(patient)


def _name(patient):
    """A patient's full name for a message."""
    return f"{patient.first_name} {patient.last_name}".strip()


def _email_key(patient):
    """A stored patient's email, lower-cased, or ""."""
    return (patient.email_normalized or patient.email or "").lower()


def _overwrite_changes(values, target):
    """The changes a matched row makes: every non-empty value that differs from the record overwrites it; the
    booking link is set when missing. The email counts as known when it equals the practice email or the booking
    email (ignoring case); when those two differ on purpose, a booking-id row changes only the booking email."""
    changes = {name: values[name] for name in ("first_name", "last_name", "phone", "birth_date")
               if values[name] is not None and values[name] != getattr(target, name)}
    email, booking = values["email"], values["booking_system_id"]
    email_key = email.lower() if email else None
    booking_email_key = (target.booking_email or "").lower()
    separate = bool(booking_email_key) and booking_email_key != _email_key(target)
    keeps_own_email = separate and booking and booking == target.booking_system_id
    if email_key and email_key not in (_email_key(target), booking_email_key) and not keeps_own_email:
        changes["email"] = email
    if booking and booking != target.booking_system_id:
        changes["booking_system_id"] = booking
        if email:
            changes["booking_email"] = email
    elif booking and email_key and email_key != booking_email_key:
        changes["booking_email"] = email
    return changes


def _fill_changes(values, target):
    """The changes of a flagged row the admin linked: the booking link, the booking email, and only those fields
    that are empty on the record (a linked row never overwrites what the practice has); an archived record is
    restored."""
    changes = {name: values[name] for name in _VALUE_FIELDS
               if values[name] is not None and getattr(target, name) in (None, "")}
    if values["booking_system_id"] and values["booking_system_id"] != target.booking_system_id:
        changes["booking_system_id"] = values["booking_system_id"]
    email = values["email"]
    if values["booking_system_id"] and email and email.lower() != (target.booking_email or "").lower():
        changes["booking_email"] = email
    if target.archived_at is not None:
        changes["archived_at"] = None
    return changes


def _plan_texts():
    """Translated templates needed for many rows, looked up once per plan: a gettext call costs about 25 µs, too
    much to repeat for 100,000 rows. (``_()`` without variables returns the template unformatted.)"""
    return {
        "labels": _field_labels(),
        "link": _("Links the record to patient ID %(booking)s."),
        "changes": _("Changes: %(fields)s."),
        "booking_email": _("booking email"),
    }


def _classify_changes(row, changes, texts):
    """Set the row's action from a match's changes: link (only the booking link is new), update or unchanged."""
    row.changes = changes
    if not changes:
        row.action = "unchanged"
    elif set(changes) <= {"booking_system_id", "booking_email"} and "booking_system_id" in changes:
        row.action = "link"
        row.reason = texts["link"] % {"booking": changes["booking_system_id"]}
    else:
        labels = texts["labels"]
        named = [labels[name] for name in changes if name in labels]
        if "booking_email" in changes and "email" not in changes:
            named.append(texts["booking_email"])
        row.action = "update"
        row.reason = texts["changes"] % {"fields": ", ".join(named)}


def _flag(row, patient, reason):
    """Mark a row flagged for the admin, with the patient it could be linked to (None when there is no single
    one)."""
    row.action, row.reason = "flagged", reason
    row.patient_id = patient.id if patient is not None else None
    row.target = patient


def _invalid(row, reason):
    """Mark a row invalid with its reason."""
    row.action, row.reason, row.target, row.patient_id = "invalid", reason, None, None


def _plan_matched(row, values, target, via_booking, texts):
    """Plan a row matched by booking id or email against ``target``: conflicts, archived and shared emails are
    checked first, then the changes decide link, update or unchanged."""
    booking = values["booking_system_id"]
    if target.archived_at is not None:
        _flag(row, target, _("Matches %(name)s (no. %(id)d), who is archived. Linking restores that record.",
                             name=_name(target), id=target.id))
        return
    if not via_booking and booking and target.booking_system_id and target.booking_system_id != booking:
        _invalid(row, _("The email address belongs to %(name)s (no. %(id)d), who is linked to patient ID "
                        "%(other)s, not %(booking)s.", name=_name(target), id=target.id,
                        other=target.booking_system_id, booking=booking))
        return
    row.patient_id, row.target = target.id, target
    _classify_changes(row, _overwrite_changes(values, target), texts)


def _plan_row(row, index, texts):
    """Plan one valid row against the index (see the module docstring for the rules)."""
    values = row.values
    booking, email = values["booking_system_id"], values["email"]
    email_key = email.lower() if email else None
    first_key = _identity(values["first_name"], "", None)[0]
    by_booking = index.by_booking.get(booking) if booking else None
    by_email = index.by_email.get(email_key, []) if email_key else []
    if by_booking is not None:
        if by_email and all(patient.id != by_booking.id for patient in by_email):
            other = by_email[0]
            _invalid(row, _("Patient ID %(booking)s belongs to %(name)s (no. %(id)d), but the email address "
                            "belongs to %(other)s (no. %(other_id)d).", booking=booking, name=_name(by_booking),
                            id=by_booking.id, other=_name(other), other_id=other.id))
            return
        _plan_matched(row, values, by_booking, via_booking=True, texts=texts)
        return
    if by_email:
        same_name = [patient for patient in by_email if _identity(patient.first_name, "", None)[0] == first_key]
        active = [patient for patient in same_name if patient.archived_at is None]
        if len(active) == 1 or len(same_name) == 1:
            target = active[0] if len(active) == 1 else same_name[0]
            _plan_matched(row, values, target, via_booking=False, texts=texts)
        elif len(by_email) == 1:
            _flag(row, by_email[0], _("The email address belongs to %(name)s (no. %(id)d), whose first name "
                                      "differs (a shared address?).", name=_name(by_email[0]), id=by_email[0].id))
        else:
            _flag(row, None, _("%(count)d patients share this email address; none can be chosen automatically.",
                               count=len(same_name or by_email)))
        return
    identity = _identity(values["first_name"], values["last_name"], values["birth_date"])
    if booking or email:
        similar = index.by_identity.get(identity, []) if values["birth_date"] else []
        if len(similar) > 1:
            _flag(row, None, _("Same name and birth date as %(count)d existing patients.", count=len(similar)))
        elif similar:
            patient = similar[0]
            if patient.archived_at is not None:
                reason = _("Same name and birth date as %(name)s (no. %(id)d), who is archived. Linking restores "
                           "that record.", name=_name(patient), id=patient.id)
            elif booking and patient.booking_system_id and patient.booking_system_id != booking:
                # Linking is impossible (the patient holds another booking id): say so now, not at the commit.
                reason = _("%(name)s (no. %(id)d) is linked to patient ID %(other)s, not %(booking)s.",
                           name=_name(patient), id=patient.id, other=patient.booking_system_id, booking=booking)
            elif patient.email:
                reason = _("Same name and birth date as %(name)s (no. %(id)d), but another email address.",
                           name=_name(patient), id=patient.id)
            else:
                reason = _("Same name and birth date as %(name)s (no. %(id)d), but neither the email address nor "
                           "the patient ID matches.", name=_name(patient), id=patient.id)
            _flag(row, patient, reason)
        else:
            row.action = "create"
        return
    # No email and no booking id: only an identical record counts as the same patient; anything else is flagged.
    similar = index.by_identity.get(identity, [])
    if not similar:
        row.action = "create"
        return
    patient = similar[0]
    if len(similar) == 1 and patient.archived_at is None and not _overwrite_changes(values, patient):
        row.action, row.patient_id, row.target = "unchanged", patient.id, patient
        return
    if len(similar) > 1:
        _flag(row, None, _("Same name and birth date as %(count)d existing patients.", count=len(similar)))
    elif values["birth_date"]:
        _flag(row, patient, _("Same name and birth date as %(name)s (no. %(id)d); the row has no email address or "
                              "patient ID to confirm it is the same person.", name=_name(patient), id=patient.id))
    else:
        _flag(row, patient, _("Same name as %(name)s (no. %(id)d); the row has no email address, patient ID or "
                              "birth date to confirm it is the same person.", name=_name(patient), id=patient.id))


def _duplicate_reason(row, seen):
    """The "duplicate of row N" reason when an earlier valid row of the file has the same booking id or email
    (or, for rows with neither, the same name and birth date); registers this row's keys otherwise."""
    values = row.values
    keys = []
    if values["booking_system_id"]:
        keys.append(("booking", values["booking_system_id"]))
    if values["email"]:
        keys.append(("email", values["email"].lower()))
    if not keys:
        keys.append(("identity", _identity(values["first_name"], values["last_name"], values["birth_date"])))
    for key in keys:
        if key in seen:
            what = {"booking": _("same patient ID"), "email": _("same email address"),
                    "identity": _("same name and birth date")}[key[0]]
            return _("Duplicate of row %(row)d (%(what)s).", row=seen[key], what=what)
    for key in keys:
        seen[key] = row.number
    return None


def _plan(rows, index, final=False):
    """Plan every row (dry run; nothing is written). With ``final`` (the commit), flagged rows follow the admin's
    resolution: ``link`` needs the same patient as at the preview, unresolved rows are skipped; and every row gets
    the outcome it will have and the operation (create/update) that applies it."""
    seen, texts = {}, _plan_texts()
    for row in rows:
        previous_patient = row.patient_id
        row.changes, row.target, row.operation = {}, None, None
        if row.values is None:
            row.action, row.patient_id = "invalid", None
        else:
            row.action, row.reason, row.patient_id = "", None, None
            duplicate = _duplicate_reason(row, seen)
            if duplicate:
                _invalid(row, duplicate)
            else:
                _plan_row(row, index, texts)
        if final:
            _finalise(row, previous_patient)


def _finalise(row, previous_patient):
    """Decide the outcome and the operation of a planned row at commit time (see _plan). An admin's "skip" holds
    even when the row is no longer flagged; "create" and "link" give way to a match found since the preview."""
    if row.resolution == "skip" and row.action != "invalid":
        row.outcome, row.changes = "skipped", {}
        return
    if row.action != "flagged":
        row.outcome = _OUTCOME_OF_ACTION[row.action]
        row.operation = {"create": "create", "link": "update", "update": "update"}.get(row.action)
        return
    if row.resolution is None:
        row.outcome = "skipped"
        row.reason = _("%(reason)s Not resolved before the import, so nothing was changed.", reason=row.reason)
        return
    if row.resolution == "skip":
        row.outcome = "skipped"
        return
    if row.resolution == "create":
        row.outcome, row.operation = "created", "create"
        return
    target = row.target
    if target is None or target.id != previous_patient:
        row.outcome = "skipped"
        row.reason = _("The matching patient changed after the preview, so nothing was changed.")
        return
    booking = row.values["booking_system_id"]
    if booking and target.booking_system_id and target.booking_system_id != booking:
        row.outcome = "invalid"
        row.reason = _("%(name)s (no. %(id)d) is linked to patient ID %(other)s, not %(booking)s.",
                       name=_name(target), id=target.id, other=target.booking_system_id, booking=booking)
        return
    row.changes = _fill_changes(row.values, target)
    row.outcome, row.operation = "linked", ("update" if row.changes else None)


def _counts(rows, final=False):
    """The report counts: total and one per action; after the commit also the outcomes (created, linked, updated,
    skipped; unchanged and invalid mean the same in both)."""
    counts = {"total": len(rows), **dict.fromkeys(ACTIONS, 0)}
    for row in rows:
        counts[row.action] += 1
    if final:
        counts.update({"created": 0, "linked": 0, "updated": 0, "skipped": 0, "unchanged": 0, "invalid": 0})
        for row in rows:
            counts[row.outcome] += 1
    return counts


# --------------------------------------------------------------------------------------------------------------
# Writing


def _new_patient(values, practice_id, therapist_id, source, now):
    """The column values of a new patient from a row (the booking email is the row's email when it has a booking
    id; the search text is kept in step)."""
    email = values["email"]
    return {
        "practice_id": practice_id, "first_name": values["first_name"], "last_name": values["last_name"],
        "email": email, "email_normalized": email.lower() if email else None, "phone": values["phone"],
        "birth_date": values["birth_date"], "therapist_id": therapist_id,
        "booking_system_id": values["booking_system_id"],
        "booking_email": email if values["booking_system_id"] else None, "source": source,
        "search_text": build_search_text(values["first_name"], values["last_name"], email, values["phone"],
                                         values["birth_date"], values["booking_system_id"]),
        "created_at": now, "updated_at": now,
    }


def _patient_update(row, now):
    """The UPDATE parameters of a matched row: its changes, the derived email and search text, and the time."""
    target, changes = row.target, dict(row.changes)
    if "email" in changes:
        changes["email_normalized"] = changes["email"].lower()
    merged = {name: changes.get(name, getattr(target, name)) for name in (*_VALUE_FIELDS, "booking_system_id")}
    changes["search_text"] = build_search_text(merged["first_name"], merged["last_name"], merged["email"],
                                               merged["phone"], merged["birth_date"], merged["booking_system_id"])
    return {"id": target.id, **changes, "updated_at": now}


def _apply(rows, practice_id, therapist_id, source):
    """Write one batch of planned rows: new patients with one bulk insert (bulk_insert: COPY on PostgreSQL) under
    ids reserved beforehand (reserve_ids), so each row knows its patient without reading the batch back; changed
    ones with executemany UPDATEs by primary key (grouped by the set of changed columns). The caller commits."""
    now = utcnow()
    creates = [row for row in rows if row.operation == "create"]
    if creates:
        new_patients = [_new_patient(row.values, practice_id, therapist_id, source, now) for row in creates]
        connection = db.session.connection()
        with bulk_search_indexing(connection, "patients", "search_text", SQLITE_SEARCH_INDEX):
            ids = reserve_ids(connection, Patient.__table__, len(creates))
            for row, patient, patient_id in zip(creates, new_patients, ids, strict=True):
                row.patient_id = patient["id"] = patient_id
            bulk_insert(connection, Patient.__table__, new_patients)
    updates = [_patient_update(row, now) for row in rows if row.operation == "update"]
    if updates:
        db.session.execute(update(Patient), updates)


_ROW_TABLE = PatientImportRow.__table__


def _row_values(job_id, row):
    """The PatientImportRow columns of a row."""
    return {"job_id": job_id, "row_number": row.number, "raw": row.raw, "data": row.data, "action": row.action,
            "reason": row.reason, "patient_id": row.patient_id, "resolution": row.resolution,
            "outcome": row.outcome}


def _insert_rows(job_id, rows):
    """Store rows as PatientImportRow in batches (bulk_insert: COPY on PostgreSQL)."""
    connection = db.session.connection()
    for start in range(0, len(rows), BATCH_SIZE):
        bulk_insert(connection, _ROW_TABLE, [_row_values(job_id, row) for row in rows[start:start + BATCH_SIZE]])


def _save_outcomes(rows):
    """Write the final action, reason, patient and outcome of a batch of stored rows, with one bulk update
    (bulk_update: one statement on PostgreSQL). One pass: each row is rewritten once."""
    bulk_update(db.session.connection(), _ROW_TABLE, [
        {"id": row.db_id, "action": row.action, "reason": row.reason, "patient_id": row.patient_id,
         "outcome": row.outcome} for row in rows
    ])


# --------------------------------------------------------------------------------------------------------------
# Public use cases


def _own_job(actor, job):
    """Refuse a job of another practice as "not found" (ids cannot be probed)."""
    if job is None or job.practice_id != actor.practice_id:
        raise ServiceError(_("This import does not exist."), code="not_found")
    return job


def create_csv_import(actor, file_name: str, content: bytes) -> PatientImportJob:
    """Check and store an uploaded CSV file with its encoding, delimiter, headers and a guessed column mapping
    (status "uploaded"), and audit the upload. The whole file is parsed now, so every problem with the file itself
    (size, empty, not text, not a CSV, no rows, no name columns) is reported at once as an ImportFileError and
    nothing is stored then. The file is kept in the job so that any worker host can read it."""
    content = bytes(content or b"")
    table = _parse_csv(content)
    mapping = guess_mapping(table.headers)
    labels = _field_labels()
    missing = [labels[name] for name in REQUIRED_FIELDS if mapping[name] is None]
    if missing:
        raise ImportFileError(
            _("The file has no column for %(fields)s. Name the columns for example “Vorname” and “Nachname” (or "
              "“First name” and “Last name”).", fields=" / ".join(missing)),
            code="missing_column",
        )
    name = os.path.basename((file_name or "").replace("\\", "/"))[:255] or "import.csv"
    job = PatientImportJob(
        practice_id=actor.practice_id, user_id=actor.user.id if actor.user is not None else None, origin="csv",
        file_name=name, content=content, encoding=table.encoding, delimiter=table.delimiter, headers=table.headers,
        mapping=mapping, status="uploaded", counts={"total": len(table.rows)}, progress_done=0, progress_total=0,
    )
    db.session.add(job)
    db.session.flush()
    record("patients.import_upload", actor, object_type="patient_import", object_id=job.id,
           meta={"file_name": name, "bytes": len(content), "rows": len(table.rows), "encoding": table.encoding,
                 "delimiter": table.delimiter})
    db.session.commit()
    return job


def preview_import(actor, job, mapping: dict[str, str | None]) -> PatientImportJob:
    """The dry run: read every row of the stored file with ``mapping`` (field -> header or None), validate it with
    the shared field rules and plan it against the practice's patients, without writing any patient. Replaces the
    job's rows (so earlier resolutions are dropped: a new mapping can change what a row means), sets the counts
    and status "previewed", and commits. Allowed while the job is uploaded or previewed."""
    _own_job(actor, job)
    if job.status not in ("uploaded", "previewed"):
        raise ServiceError(_("This import can no longer be changed."), code="wrong_status")
    mapping = _check_mapping(mapping, job.headers)
    practice = db.session.get(Practice, job.practice_id)
    rows = _csv_rows(_parse_csv(job.content), mapping, practice.country)
    _plan(rows, _PatientIndex(job.practice_id))
    db.session.execute(delete(PatientImportRow).where(PatientImportRow.job_id == job.id),
                       execution_options={"synchronize_session": False})
    _insert_rows(job.id, rows)
    job.mapping = mapping
    job.counts = _counts(rows)
    job.progress_total, job.progress_done = len(rows), 0
    job.status = "previewed"
    db.session.commit()
    return job


def resolve_flagged_row(actor, job, row: PatientImportRow, resolution: str) -> PatientImportRow:
    """Record the admin's decision for a flagged row before the commit: ``link`` (to the patient it resembles:
    sets the booking link, fills only empty fields, restores an archived record), ``create`` (a new patient anyway)
    or ``skip``. A decision can be changed until the import is queued. Audited with the row number and patient."""
    _own_job(actor, job)
    if row is None or row.job_id != job.id:
        raise ServiceError(_("This row does not belong to the import."), code="not_found")
    if job.status != "previewed":
        raise ServiceError(_("Rows can only be resolved after the preview and before the import starts."),
                           code="wrong_status")
    if row.action != "flagged":
        raise ServiceError(_("Only flagged rows need a decision."), code="not_flagged")
    if resolution not in RESOLUTIONS:
        raise ServiceError(_("Please choose link, create or skip."), field="resolution")
    if resolution == "link" and row.patient_id is None:
        raise ServiceError(_("There is no single patient to link this row to; create it or skip it."),
                           field="resolution")
    if resolution == "link":
        patient = db.session.get(Patient, row.patient_id)
        booking = row.data.get("booking_system_id")
        if booking and patient.booking_system_id and patient.booking_system_id != booking:
            raise ServiceError(_("%(name)s (no. %(id)d) is linked to patient ID %(other)s, not %(booking)s.",
                                 name=_name(patient), id=patient.id, other=patient.booking_system_id,
                                 booking=booking), field="resolution")
    row.resolution = resolution
    record("patients.import_resolve", actor, object_type="patient_import", object_id=job.id,
           patient_id=row.patient_id if resolution == "link" else None,
           meta={"row": row.row_number, "resolution": resolution, "patient_id": row.patient_id})
    db.session.commit()
    return row


def queue_import(actor, job, valid_only: bool) -> PatientImportJob:
    """Hand a previewed import to the worker (status "queued"). Refused while flagged rows await a decision, when
    invalid rows exist and the admin did not choose to import only the valid rows, and when no row is valid.
    A failed import may be queued again: the commit plans afresh, so rows written before the failure come out
    unchanged."""
    _own_job(actor, job)
    if job.status not in ("previewed", "failed"):
        raise ServiceError(_("Only a previewed import can be started."), code="wrong_status")
    counts = dict(db.session.execute(
        select(PatientImportRow.action, func.count()).where(PatientImportRow.job_id == job.id)
        .group_by(PatientImportRow.action)
    ).all())
    unresolved = db.session.scalar(
        select(func.count()).select_from(PatientImportRow)
        .where(PatientImportRow.job_id == job.id, PatientImportRow.action == "flagged",
               PatientImportRow.resolution.is_(None))
    )
    if unresolved:
        raise ServiceError(_("%(count)d flagged rows still need a decision: link, create or skip.",
                             count=unresolved), code="unresolved")
    invalid = counts.get("invalid", 0)
    if invalid and not valid_only:
        raise ServiceError(_("%(count)d rows are invalid. Correct the file and upload it again, or import only the "
                             "valid rows.", count=invalid), code="invalid_rows")
    if sum(counts.values()) - invalid == 0:
        raise ServiceError(_("There are no valid rows to import."), code="no_valid_rows")
    from app.platform.jobs.queue import enqueue

    job.valid_only = bool(valid_only)
    job.status, job.error, job.progress_done, job.finished_at = "queued", None, 0, None
    enqueue("patient_import", {"import_job_id": job.id}, practice_id=job.practice_id)
    record("patients.import_queue", actor, object_type="patient_import", object_id=job.id,
           meta={"valid_only": job.valid_only, "rows": sum(counts.values())})
    db.session.commit()
    return job


def _load_rows(job_id):
    """The stored rows of a previewed import (values rebuilt from ``data``, so nothing is validated twice).
    ``data`` is cast to text in SQL and decoded here, which is faster than the JSON type's per-row result processing
    (and the same on SQLite and PostgreSQL, whose driver would otherwise decode json itself)."""
    query = (
        select(_ROW_TABLE.c.id, _ROW_TABLE.c.row_number, cast(_ROW_TABLE.c.data, Text), _ROW_TABLE.c.action,
               _ROW_TABLE.c.reason, _ROW_TABLE.c.resolution, _ROW_TABLE.c.patient_id)
        .where(_ROW_TABLE.c.job_id == job_id).order_by(_ROW_TABLE.c.row_number)
    )
    rows = []
    for row_id, number, text, action, reason, resolution, patient_id in db.session.execute(query):
        data = json.loads(text) if text else {}
        valid = "errors" not in data
        rows.append(_Row(number=number, raw={}, data=data, values=_values_from_data(data) if valid else None,
                         reason=None if valid else reason, action=action, patient_id=patient_id,
                         resolution=resolution, db_id=row_id))
    return rows


def run_import_job(job, progress):
    """Worker handler for "patient_import": ``job.payload["import_job_id"]`` names the PatientImportJob.

    Plans every row again against the database as it is now (patients may have changed since the preview; the
    admin's resolutions are kept by row number), then writes in batches of 1,000 to 5,000 rows; each batch is
    committed with the job's progress and reported through ``progress(done, total)``. A row that has become
    invalid since the preview (say its booking id now belongs to another patient) is reported, not written. Ends
    with the final counts, status "succeeded" and an audit entry "patients.import" in the name of the admin who
    uploaded the file. On an exception the job is marked failed with the error and the exception re-raised; since
    every run plans afresh, running it again completes the rest without duplicates. A job that already succeeded
    is left alone. The worker's JobLost (a BaseException: another worker took the job over) passes through without
    marking the import failed."""
    import_job = db.session.get(PatientImportJob, (job.payload or {}).get("import_job_id"))
    worker_practice = getattr(job, "practice_id", None)
    if import_job is None or (worker_practice is not None and worker_practice != import_job.practice_id):
        raise ServiceError(_("This import does not exist."), code="not_found")
    if import_job.status == "succeeded":
        return import_job
    if import_job.status not in ("queued", "running", "failed"):
        raise ServiceError(_("This import has not been queued."), code="wrong_status")
    import_job_id = import_job.id
    actor = Actor(user=import_job.user, practice_id=import_job.practice_id)
    import_job.status, import_job.error = "running", None
    db.session.commit()
    try:
        practice = db.session.get(Practice, import_job.practice_id)
        practice_id, therapist_id = practice.id, default_therapist_id(practice)
        rows = _load_rows(import_job_id)
        _plan(rows, _PatientIndex(practice_id), final=True)
        total = len(rows)
        batch_size = max(MIN_BATCH_SIZE, min(MAX_BATCH_SIZE, total // PROGRESS_STEPS))
        import_job.progress_total, import_job.progress_done = total, 0
        db.session.commit()
        progress(0, total)
        for start in range(0, total, batch_size):
            batch = rows[start:start + batch_size]
            _apply(batch, practice_id, therapist_id, "import")
            _save_outcomes(batch)
            import_job.progress_done = start + len(batch)
            db.session.commit()
            progress(start + len(batch), total)
        counts = _counts(rows, final=True)
        import_job.counts, import_job.status, import_job.finished_at = counts, "succeeded", utcnow()
        record("patients.import", actor, object_type="patient_import", object_id=import_job_id,
               meta={"origin": "csv", "file_name": import_job.file_name, "valid_only": import_job.valid_only,
                     "status": "succeeded", "counts": counts})
        db.session.commit()
        return import_job
    except Exception as error:
        db.session.rollback()
        import_job = db.session.get(PatientImportJob, import_job_id)
        import_job.status, import_job.finished_at = "failed", utcnow()
        import_job.error = (str(error) or type(error).__name__)[:2000]
        record("patients.import", actor, object_type="patient_import", object_id=import_job_id,
               meta={"origin": "csv", "file_name": import_job.file_name, "status": "failed",
                     "error": type(error).__name__})
        db.session.commit()
        raise


def _report_row(row):
    """One problem row of a report."""
    return {"row": row.number, "action": row.action, "reason": row.reason, "patient_id": row.patient_id,
            "outcome": row.outcome, "resolution": row.resolution}


def _is_problem(row):
    """Flagged, invalid or skipped rows are the ones a person has to look at."""
    return row.action in PROBLEM_ACTIONS or row.outcome in PROBLEM_OUTCOMES


def import_records(actor, records: list, dry_run: bool, *, valid_only: bool = False) -> dict:
    """The JSON API import: ``records`` is a list of patient dicts (keys first_name, last_name, email, phone,
    birth_date, booking_system_id; ``patient_id`` is accepted for booking_system_id), planned with the same rules
    as a file. Rows are numbered from 1 in the order given.

    ``dry_run`` writes nothing at all (not even an audit entry) and answers with the plan. Otherwise the rows are
    applied at once in one transaction and the job is stored (origin "api") and audited as "patients.import";
    new patients get ``source="booking"``. As for files, nothing is written when a row is invalid unless
    ``valid_only`` is set (the report then has status "rejected"). Flagged rows are never applied through the API:
    they are reported (outcome "skipped") for an admin to link or create by hand, and the report's ``note`` says
    so. Returns the report (see import_report) with ``dry_run`` added."""
    if not isinstance(records, list):
        raise ServiceError(_("Send a JSON array of patients."), code="invalid", field="records")
    if not records:
        raise ServiceError(_("The list of patients is empty."), code="empty", field="records")
    practice = db.session.get(Practice, actor.practice_id)
    rows = _api_rows(records, practice.country)
    _plan(rows, _PatientIndex(practice.id))
    counts = _counts(rows)
    if dry_run or (counts["invalid"] and not valid_only):
        status = "dry_run" if dry_run else "rejected"
        problems = [row for row in rows if _is_problem(row)]
        report = {"id": None, "status": status, "counts": counts, "error": None,
                  "rows": [_report_row(row) for row in problems[:REPORT_ROW_LIMIT]],
                  "rows_truncated": len(problems) > REPORT_ROW_LIMIT, "dry_run": bool(dry_run)}
        if status == "rejected":
            report["error"] = _("%(count)d rows are invalid, so nothing was imported. Correct them, or import only "
                                "the valid rows.", count=counts["invalid"])
        if counts["flagged"]:
            report["note"] = _flagged_note(counts["flagged"])
        return report
    for row in rows:
        if row.action == "flagged":
            row.outcome = "skipped"
            row.reason = _("%(reason)s Not imported through the API; an admin decides.", reason=row.reason)
        else:
            _finalise(row, row.patient_id)
    headers = list(dict.fromkeys(key for item in records if isinstance(item, dict) for key in item))
    job = PatientImportJob(
        practice_id=practice.id, user_id=actor.user.id if actor.user is not None else None, origin="api",
        file_name="API", headers=headers, mapping={name: name for name in PATIENT_FIELDS}, status="running",
        valid_only=bool(valid_only), progress_total=len(rows),
    )
    db.session.add(job)
    db.session.flush()
    therapist_id = default_therapist_id(practice)
    for start in range(0, len(rows), BATCH_SIZE):
        _apply(rows[start:start + BATCH_SIZE], practice.id, therapist_id, "booking")
    _insert_rows(job.id, rows)
    job.counts = _counts(rows, final=True)
    job.status, job.progress_done, job.finished_at = "succeeded", len(rows), utcnow()
    record("patients.import", actor, object_type="patient_import", object_id=job.id,
           meta={"origin": "api", "valid_only": job.valid_only, "status": "succeeded", "counts": job.counts})
    db.session.commit()
    report = import_report(job)
    report["dry_run"] = False
    if counts["flagged"]:
        report["note"] = _flagged_note(counts["flagged"])
    return report


def _candidates(values):
    """The SQL condition for the patients one record can match: same booking id, same email, or (active) same
    birth date; each branch is served by an index, so one event never reads the whole practice."""
    branches = []
    if values["booking_system_id"]:
        branches.append(Patient.booking_system_id == values["booking_system_id"])
    if values["email"]:
        branches.append(Patient.email_normalized == values["email"].lower())
    if values["birth_date"]:
        branches.append((Patient.birth_date == values["birth_date"]) & Patient.archived_at.is_(None))
    else:
        # Without a birth date only an identical name can be the same person (see _plan_row).
        branches.append((Patient.last_name == values["last_name"]) & (Patient.first_name == values["first_name"]))
    return or_(*branches)


def apply_patient_record(actor, fields: dict, *, origin="webhook", label="") -> tuple[str, int | None, str | None]:
    """Apply one patient pushed by the booking tool (a webhook event) with exactly the rules of an import:
    create (with the practice's default therapist), link, update or unchanged. A record that is *flagged* (same
    name and birth date as a patient with another email, and the other cases the import flags) is never merged:
    it is stored as a one-row import of origin ``origin`` awaiting the admin's decision in the import review UI.
    An invalid record raises ServiceError with the reason. Adds to the current transaction (the caller commits).
    Returns (action, patient id or None, reason)."""
    practice = db.session.get(Practice, actor.practice_id)
    rows = _api_rows([fields], practice.country)
    row = rows[0]
    if row.values is None:
        raise ServiceError(row.reason or _("The patient is invalid."), code="invalid")
    _plan(rows, _PatientIndex(practice.id, _candidates(row.values)))
    if row.action == "invalid":
        raise ServiceError(row.reason, code="invalid")
    if row.action == "flagged":
        job = PatientImportJob(practice_id=practice.id, origin=origin, file_name=label or origin,
                               headers=list(fields), mapping={name: name for name in PATIENT_FIELDS},
                               status="previewed", counts=_counts(rows), progress_total=1)
        db.session.add(job)
        db.session.flush()
        _insert_rows(job.id, rows)
        record("patients.import_flagged", actor, object_type="patient_import", object_id=job.id,
               patient_id=row.patient_id, meta={"origin": origin, "reason": row.reason})
        return "flagged", row.patient_id, row.reason
    _finalise(row, row.patient_id)
    _apply(rows, practice.id, default_therapist_id(practice), "booking")
    if row.operation is not None:
        record("patient.create" if row.operation == "create" else "patient.update", actor, object_type="patient",
               object_id=row.patient_id, patient_id=row.patient_id, meta={"origin": origin, "action": row.action})
    return row.action, row.patient_id, row.reason


def _flagged_note(count):
    """The API report's note that flagged rows were not applied."""
    return _("%(count)d rows resemble an existing patient and were not imported; an admin must link or create "
             "them by hand.", count=count)


def _problem_rows_query(job):
    """A select of the job's flagged, invalid and skipped rows in row order."""
    return (
        select(PatientImportRow)
        .where(PatientImportRow.job_id == job.id,
               PatientImportRow.action.in_(PROBLEM_ACTIONS) | PatientImportRow.outcome.in_(PROBLEM_OUTCOMES))
        .order_by(PatientImportRow.row_number)
    )


def import_report(job) -> dict:
    """The report of an import for the UI and the API: id, status, counts, the error of a failed run, and the
    problem rows (flagged, invalid, skipped) with row number, action, reason, patient, resolution and outcome,
    at most REPORT_ROW_LIMIT of them (``rows_truncated`` says when there are more; the CSV has all)."""
    stored = db.session.scalars(_problem_rows_query(job).limit(REPORT_ROW_LIMIT + 1)).all()
    rows = [{"row": row.row_number, "action": row.action, "reason": row.reason, "patient_id": row.patient_id,
             "outcome": row.outcome, "resolution": row.resolution} for row in stored[:REPORT_ROW_LIMIT]]
    return {"id": job.id, "status": job.status, "counts": dict(job.counts or {}), "error": job.error,
            "rows": rows, "rows_truncated": len(stored) > REPORT_ROW_LIMIT}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?[\d ()./-]+$")


def _safe_cell(value):
    """A cell that a spreadsheet will not run as a formula: text starting with =, +, -, @ or a control character
    gets a leading apostrophe, except plain numbers such as "+49 170 1234567"."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def row_state_labels():
    """What a person reads for each row action and outcome (and "total" for the row count), in the current
    language: for the import's counts, its table and the problem-rows CSV, which never show the codes."""
    return {"total": _("rows"), "create": _("new"), "link": _("link"), "update": _("update"),
            "unchanged": _("unchanged"), "flagged": _("to check"), "invalid": _("invalid"), "created": _("created"),
            "linked": _("linked"), "updated": _("updated"), "skipped": _("skipped")}


def problem_rows_csv(job) -> str:
    """The flagged, invalid and skipped rows as CSV for Excel (semicolons, UTF-8 with BOM; encode the string as
    UTF-8): row number, action and outcome (as row_state_labels words), reason, then the row's raw cells under the
    file's headers."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    headers = list(job.headers or [])
    stored = db.session.scalars(_problem_rows_query(job)).all()
    extra = list(dict.fromkeys(key for row in stored for key in (row.raw or {}) if key not in headers))
    writer.writerow([_("Row"), _("Action"), _("Outcome"), _("Reason"), *headers, *extra])
    labels = row_state_labels()
    for row in stored:
        raw = row.raw or {}
        writer.writerow([row.row_number, labels[row.action], labels.get(row.outcome, ""), _safe_cell(row.reason),
                         *(_safe_cell(raw.get(header)) for header in (*headers, *extra))])
    return buffer.getvalue()
