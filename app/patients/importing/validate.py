"""Patient import, validating rows: every row's fields go through the shared field rules (app.patients.fields,
the same as the patient form and the API), and each row becomes a Row that carries it through planning and
writing.

The field rules are the expensive part of an import (about 170 µs a row), so large files are validated by helper
processes (see _validate_all and validate_helper); the result is the same row for row as validating here.
"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _

from app.patients.fields import PATIENT_FIELDS, validate_patient_fields
from app.patients.importing.headers import field_labels


@dataclass(slots=True)
class Row:
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
    """Build a row's Row from its validation result (values, errors): normalised ``data`` (dates in ISO form;
    with an ``errors`` entry per broken field) and, for a valid row, ``values``."""
    values, errors = result
    data = {name: values.get(name) for name in PATIENT_FIELDS}
    if data["birth_date"] is not None:  # the one field whose value is not JSON already (a date)
        data["birth_date"] = _json_value(data["birth_date"])
    if not errors:
        return Row(number=number, raw=raw, data=data, values=values)
    data["errors"] = dict(errors)
    reason = " ".join(f"{labels.get(name, name)}: {message}" for name, message in errors.items())
    return Row(number=number, raw=raw, data=data, values=None, reason=reason, action="invalid")


# The shared field rules cost about 110 µs a row (email_validator and phonenumbers), most of the time of a large
# import. Files of PATIENT_IMPORT_PARALLEL_MIN_ROWS rows or more (default 10,000) are therefore validated by
# several processes: PATIENT_IMPORT_PROCESSES (default: the number of CPUs, at most 4; 1 turns this off). Each
# helper is a fresh interpreter running validate_helper (subprocess, not multiprocessing: it inherits no
# database connection or thread, and never re-imports the caller's main module); rows go in and results come out
# as JSON through temporary files, and it translates messages into the caller's language with its own Flask-Babel app.
# This process validates the first share meanwhile; a helper that fails is replaced by validating its share here.
DEFAULT_PARALLEL_MIN_ROWS = 10_000
_MAX_PROCESSES = 4
_ROWS_PER_PROCESS = 5_000
_HELPER_TIMEOUT_SECONDS = 600
# Run by this interpreter as a file, from the repository root (see _ValidationHelper and validate_helper).
_HELPER_COMMAND = (sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "validate_helper.py"))


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
                self.process = subprocess.Popen(  # noqa: S603 (a fixed module run by this interpreter)
                    _HELPER_COMMAND, stdin=stdin, stdout=self.stdout,
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


def _json_safe(value):
    """A value as JSON can store it (for ``raw``): API input already is; anything else becomes text."""
    return json.loads(json.dumps(value, default=str))


def _json_value(value):
    """A value as it is stored in ``PatientImportRow.data`` (dates as ISO strings)."""
    return value.isoformat() if isinstance(value, date) else value


def values_from_data(data):
    """The Python values of a stored, valid row (the inverse of _json_value for the birth date)."""
    values = {name: data.get(name) for name in PATIENT_FIELDS}
    if values["birth_date"]:
        values["birth_date"] = date.fromisoformat(values["birth_date"])
    return values


def csv_rows(table, mapping, country):
    """The Rows of a parsed file (a decode.Table) under ``mapping``: raw cells by header, field texts by the mapped
    columns. A row with more non-empty cells than the header has is invalid (a value with an unquoted delimiter
    would otherwise shift every later cell into the wrong column)."""
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
            rows.append(Row(number=number, raw=raw, data={"errors": {"row": reason}}, values=None, reason=reason,
                             action="invalid"))
            continue
        pending.append((len(rows), number, raw, {name: cells[position] for name, position in positions}))
        rows.append(None)
    results = _validate_all([fields for _index, _number, _raw, fields in pending], country)
    for (index, number, raw, _fields), result in zip(pending, results, strict=True):
        rows[index] = _row_from_result(number, raw, result, labels)
    return rows


def api_rows(records, country):
    """The Rows of an API call: each record a dict with the PATIENT_FIELDS keys (``patient_id`` is accepted for
    ``booking_system_id``); numbers are read as text, other non-text values and non-dict items are invalid."""
    labels = field_labels()
    rows = []
    for number, item in enumerate(records, start=1):
        if not isinstance(item, dict):
            reason = _("Not a JSON object with patient fields.")
            rows.append(Row(number=number, raw={"value": _json_safe(item)}, data={"errors": {"row": reason}},
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
