"""Patient import, the validation helper process: run as ``python <this file>`` by validate._ValidationHelper to
validate one share of a large file while the importing process validates another.

It reads its job as JSON on stdin (rows, country, today, locale, translation directories), runs the shared field
rules on every row in the caller's language with a Flask-Babel app of its own, and writes ``[values, errors]`` per
row as JSON on stdout (dates as ISO strings); a failure shows as a non-zero exit with the error on stderr. A
module rather than a program in a string, so that it is read, linted and imported like the rest of the code.

The helper starts while the importing process waits for it, so it loads only what it needs: the field rules from
their own file (app/patients/fields.py imports nothing of the app), not through the app package, whose import (the
blueprints, models and migrations of every domain) took 0.6 s of the helper's 0.85 s start. That is also why it is
run as a file and not with ``-m``, which would import the packages around it first.
"""

import gc
import importlib.util
import json
import sys
from datetime import date
from pathlib import Path

from flask import Flask
from flask_babel import Babel, force_locale

FIELDS_FILE = Path(__file__).resolve().parents[1] / "fields.py"


def field_rules():
    """app.patients.fields, loaded from its file alone (see the module docstring)."""
    spec = importlib.util.spec_from_file_location("patient_import_field_rules", FIELDS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    """Validate the job's rows from stdin and write their results to stdout."""
    gc.disable()  # a short-lived process of acyclic rows: the collector's passes would find nothing (see service)
    validate_patient_fields = field_rules().validate_patient_fields
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


if __name__ == "__main__":
    main()
