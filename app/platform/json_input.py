"""Reading JSON that comes from outside (webhook bodies, API requests) so that its shape cannot hurt the app.

``json.loads`` alone lets a body do harm that has nothing to do with what it means: 1,000 nested arrays end in a
RecursionError (in the parser, or later in whatever walks the value, such as the redaction of a webhook preview),
an integer of more than 4,300 digits in a ValueError that is not a JSONDecodeError, ``1e999`` becomes infinity,
``"\\u0000"`` puts a NUL character into a string that PostgreSQL refuses to store in any text column, and
``"\\ud800"`` an unpaired surrogate that neither SQLite nor PostgreSQL can encode. ``load_json`` refuses all of
these before anything else sees the value, with an ``UnreadableJSON`` whose ``kind`` says which (callers choose
their own wording) and whose message is a short English reason (what the webhook receiver answers)."""

import json
import math
import re
from itertools import accumulate

# Deeper than any payload we read (Cal.com's bookings nest about 5 levels, the API's bodies 3), and far below
# Python's recursion limit, so code that walks a loaded value recursively is safe.
MAX_DEPTH = 32
# Characters of one number literal: room for any 64-bit integer or float as JSON writers print them.
MAX_NUMBER_LENGTH = 40

# UnreadableJSON.kind
NOT_UTF8 = "not_utf8"
SYNTAX = "syntax"
TOO_DEEP = "too_deep"
NUMBER = "number"
NUL = "nul"
SURROGATE = "surrogate"

# A JSON string literal (escapes included); what is left after removing them is structure and scalars.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# The escape \u0000 itself (an even number of backslashes before it, none of them escaping its own backslash).
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
# An escaped UTF-16 surrogate: a pair of them is one character, a lone one is not text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class UnreadableJSON(ValueError):
    """The input is not JSON this app reads; ``kind`` is one of the constants above, the message an English
    reason that names no value from the input."""

    def __init__(self, kind, reason):
        super().__init__(reason)
        self.kind = kind


def nesting_depth(text):
    """How deeply arrays and objects nest in the JSON ``text`` (0 for a scalar), counted without parsing: the
    brackets outside string literals, in order. Exact for valid JSON; for invalid JSON never less than what a parser
    would descend into before failing."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def load_json(data):
    """The value of the JSON ``data`` (UTF-8 bytes or text); UnreadableJSON when it is not UTF-8, not JSON (NaN
    and Infinity included), nests deeper than MAX_DEPTH, holds a number literal longer than MAX_NUMBER_LENGTH or
    beyond a float's range, or a string with the NUL character or an unpaired surrogate."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UnreadableJSON(NOT_UTF8, "not UTF-8 text") from None
    # Fewer opening brackets than the limit cannot nest deeper than it: most bodies skip the scan.
    if data.count("[") + data.count("{") > MAX_DEPTH and nesting_depth(data) > MAX_DEPTH:
        raise UnreadableJSON(TOO_DEEP, f"nested deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(data, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as error:
        raise UnreadableJSON(SYNTAX, f"{error.msg} at position {error.pos}") from None
    if "\\u0000" in data and _NUL_ESCAPE.search(data):
        raise UnreadableJSON(NUL, "a string holds the NUL character (\\u0000)")
    if "\\u" in data and _SURROGATE_ESCAPE.search(data):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise UnreadableJSON(SURROGATE, "a string holds an unpaired surrogate (\\ud800 to \\udfff)") from None
    return value


def _integer(literal):
    """An integer literal as int, unless it is too long (Python refuses more than 4,300 digits anyway)."""
    if len(literal) > MAX_NUMBER_LENGTH:
        raise UnreadableJSON(NUMBER, f"a number longer than {MAX_NUMBER_LENGTH} characters")
    return int(literal)


def _float(literal):
    """A fractional or exponent literal as float, unless it is too long or beyond a float's range (1e999)."""
    value = float(literal) if len(literal) <= MAX_NUMBER_LENGTH else math.inf
    if not math.isfinite(value):
        raise UnreadableJSON(NUMBER, f"a number longer than {MAX_NUMBER_LENGTH} characters or beyond the range "
                                     "of a 64-bit float")
    return value


def _constant(name):
    """NaN, Infinity and -Infinity, which Python's parser accepts but JSON does not have."""
    raise UnreadableJSON(SYNTAX, f"{name} is not JSON")
