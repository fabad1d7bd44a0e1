"""Use cases. Services take plain arguments (and an Actor), do database work, commit, and raise domain errors;
they never import request, flash or templates, so the CLI and the worker call the same code."""


class ServiceError(Exception):
    """A domain error with a message a person can act on; ``field`` names the form field it belongs to."""

    def __init__(self, message, field=None, code="invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


def check_fields(checks, data, fields):
    """Run ``checks[name](data.get(name))`` for each name in ``fields``: the cleaned values, and by field the
    message of each ServiceError raised, so a form shows every problem at once (the caller raises its validation
    error when there are any)."""
    values, errors = {}, {}
    for name in fields:
        try:
            values[name] = checks[name](data.get(name))
        except ServiceError as error:
            errors[name] = error.message
    return values, errors
