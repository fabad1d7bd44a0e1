"""CSV files the app writes for people to open in a spreadsheet, made safe against formula injection.

A CSV the app hands out often holds text that somebody outside wrote: an uploaded file's headers and cells, a
reason quoting them. Excel, LibreOffice and Google Sheets run a cell as a formula when it starts with ``=``, ``+``,
``-`` or ``@``, and a leading tab or carriage return does not stop them; ``=HYPERLINK("http://…")`` or a DDE call
then runs on the machine of the admin who opened the file (CSV or formula injection). The OWASP rule, applied here
to **every** cell, the header row included: a cell that starts with ``=`` ``+`` ``-`` ``@`` TAB or CR gets a single
quote in front, which the spreadsheet shows as text. The one exception is a plain number such as a phone number
``+49 170 1234567`` or ``-5``: made of digits, spaces and ``( ) . / -`` only, it can name no function, cell or
command, so it stays as written and the admin can still read it. The csv module quotes separators, quotes and line
breaks inside a cell.

Every CSV the app writes goes through ``spreadsheet_csv``, so no caller can forget a cell.
"""

import csv
import io
import json
import re
from collections.abc import Iterable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?[\d ()./-]+$")


def safe_cell(value) -> str:
    """``value`` as the text of one cell that a spreadsheet shows and never runs: None is empty, other non-text
    values are written as JSON, and text starting with a formula character gets a leading apostrophe unless it is
    a plain number (see the module's docstring)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def spreadsheet_csv(rows: Iterable[Iterable]) -> str:
    """``rows`` (the header row first) as CSV text for Excel as German practices use it: a UTF-8 byte order mark,
    ``;`` between cells, CRLF line ends, and every cell, headers included, passed through ``safe_cell``. Encode the
    result as UTF-8."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()
