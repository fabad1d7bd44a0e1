"""Patient import, reading the file: the size limit, the encoding (UTF-8 with or without BOM, else Windows-1252),
the delimiter and the CSV table itself.

Every problem with the file as a whole is raised here as an ImportFileError whose message says what to do, before
anything is stored, so that an admin hears about a workbook, a UTF-16 file or a damaged file at once and never
sees garbage rows.
"""

import csv
import io
import re
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _

from app.patients.importing.headers import guess_mapping
from app.platform.errors import ServiceError

DEFAULT_MAX_BYTES = 20 * 1024 * 1024

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


class ImportFileError(ServiceError):
    """An uploaded file that cannot be imported at all (too large, empty, not text, not a CSV, no patient rows,
    no name columns); the message says what to do. Nothing is stored when it is raised."""

    def __init__(self, message, field="file", code="invalid_file"):
        super().__init__(message, field=field, code=code)


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
class Table:
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


def parse_csv(content):
    """Check and parse an uploaded file into a Table, or raise ImportFileError with a message a person can act on:
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
            if not "".join(cells).strip():  # a blank row (one join is a third of a generator over the cells)
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
    return Table(encoding=encoding, delimiter=delimiter or ";", headers=headers, rows=rows)
