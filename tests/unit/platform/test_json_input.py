"""Reading outside JSON: every shape that made json.loads (or what walks its value) fail with something other
than a readable refusal is an UnreadableJSON with its kind; everything within the bounds reads as json.loads would."""

import json

import pytest

from app.platform.json_input import (
    MAX_DEPTH,
    MAX_NUMBER_LENGTH,
    NOT_UTF8,
    NUL,
    NUMBER,
    SURROGATE,
    SYNTAX,
    TOO_DEEP,
    UnreadableJSON,
    load_json,
    nesting_depth,
)


@pytest.mark.parametrize(("text", "kind", "reason"), [
    ("9" * 5000, NUMBER, "a number longer than 40 characters"),  # json.loads: ValueError, not a JSONDecodeError
    ("-" + "1" * MAX_NUMBER_LENGTH, NUMBER, "a number longer than 40 characters"),
    ("[1e999]", NUMBER, "beyond the range of a 64-bit float"),  # json.loads: inf
    ("0." + "1" * 60, NUMBER, "a number longer than 40 characters"),
    ("[" * 1000 + "]" * 1000, TOO_DEEP, "nested deeper than 32 levels"),  # json.loads: RecursionError
    ('{"a":' * 950 + "1" + "}" * 950, TOO_DEEP, "nested deeper than 32 levels"),
    ("[" * 100_000, TOO_DEEP, "nested deeper than 32 levels"),
    ('{"a": "\\u0000"}', NUL, "the NUL character"),  # PostgreSQL refuses it in text columns
    ('{"\\u0000": 1}', NUL, "the NUL character"),
    ('["\\\\\\u0000"]', NUL, "the NUL character"),  # an escaped backslash, then the escape
    ('["\\ud800"]', SURROGATE, "an unpaired surrogate"),  # neither database can encode it
    ('["\\udc00\\ud800"]', SURROGATE, "an unpaired surrogate"),
    ("NaN", SYNTAX, "NaN is not JSON"),
    ("[-Infinity]", SYNTAX, "-Infinity is not JSON"),
    ('{"a": 1', SYNTAX, "Expecting ',' delimiter at position 7"),
    ("", SYNTAX, "Expecting value at position 0"),
])
def test_hostile_json_is_refused_with_its_kind_and_reason(text, kind, reason):
    with pytest.raises(UnreadableJSON) as refused:
        load_json(text.encode())
    assert refused.value.kind == kind and reason in str(refused.value)


def test_bytes_that_are_not_utf8_are_refused():
    with pytest.raises(UnreadableJSON) as refused:
        load_json(b'{"a": "\xff"}')
    assert (refused.value.kind, str(refused.value)) == (NOT_UTF8, "not UTF-8 text")


@pytest.mark.parametrize("text", [
    "[" * MAX_DEPTH + "]" * MAX_DEPTH,
    '{"a":' * MAX_DEPTH + "null" + "}" * MAX_DEPTH,
    '["' + "[" * 500 + '"]',  # brackets in a string are text, not nesting
    '["\\"[[[[", {"b": "]]"}]',
    "9" * MAX_NUMBER_LENGTH,
    "-" + "9" * (MAX_NUMBER_LENGTH - 1),
    "1.7976931348623157e+308",
    '["\\\\u0000"]',  # a backslash and "u0000": text, not NUL
    '["\\ud83d\\ude00", "😀"]',  # a surrogate pair is one character
    '{"x": [1, 2.5, true, null, "ä"]}',
])
def test_json_within_the_bounds_reads_as_json_loads_reads_it(text):
    assert load_json(text.encode()) == json.loads(text)


def test_the_depth_is_counted_like_a_parser_descends():
    assert nesting_depth("1") == 0
    assert nesting_depth('{"a": [1, {"b": []}], "c": "[[[["}') == 4
    assert nesting_depth('[[], [[]], "\\\\", "\\"{"]') == 3
