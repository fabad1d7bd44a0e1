"""Patient import, the validation helper process: run as ``python -m app.patients.importing.validate_helper`` by
validate._ValidationHelper to validate one share of a large file while the importing process validates another.

It reads its job as JSON on stdin (rows, country, today, locale, translation directories), runs the shared field
rules on every row in the caller's language with a Flask-Babel app of its own, and writes ``[values, errors]`` per
row as JSON on stdout (dates as ISO strings); a failure shows as a non-zero exit with the error on stderr. A
module rather than a program in a string, so that it is read, linted and imported like the rest of the code.
"""

import json
import sys
from datetime import date

from flask import Flask
from flask_babel import Babel, force_locale

from app.patients.fields import validate_patient_fields


def main():
    """Validate the job's rows from stdin and write their results to stdout."""
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
