"""The CSV writer every download of the app uses: which cells a spreadsheet could run as a formula get a leading
apostrophe (the OWASP rule), which stay as written, and the file's shape for Excel."""

import csv
import io

import pytest

from app.platform.csv_export import safe_cell, spreadsheet_csv


@pytest.mark.parametrize("text", [
    '=HYPERLINK("http://x")', "=1+1", "+1+cmd|' /C calc'!A0", "-2+3", "-A1", "@SUM(A1:A2)", "\t=1+1", "\r=1+1",
    "\tplain", "+", "-1+1e3", "=", "+49 170 1234567=",
])
def test_formula_starts_get_an_apostrophe(text):
    """Text starting with = + - @ TAB or CR that is not a plain number is shown as text, never run."""
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", [
    "+49 170 1234567", "-5", "+49 (0)30 / 123-45", "-1.5", "-", "Anna", "", "Straße 1 = Haus", " =1+1", "'=1+1",
    "Müller-Lüdenscheidt", "12.04.1985",
])
def test_plain_numbers_and_ordinary_text_stay_as_written(text):
    """Phone numbers and negative numbers (digits, spaces and ( ) . / - only) name no function, cell or command,
    so they stay readable; text that does not start with a formula character is untouched."""
    assert safe_cell(text) == text


@pytest.mark.parametrize(("value", "cell"), [
    (None, ""), (7, "7"), (-5, "-5"), (1.5, "1.5"), (True, "true"), (["=1+1"], '["=1+1"]'),
    ({"a": "ü"}, '{"a": "ü"}'),
])
def test_values_that_are_not_text(value, cell):
    """None is an empty cell; numbers, booleans, lists and objects are written as JSON (umlauts kept)."""
    assert safe_cell(value) == cell


def test_every_row_the_header_included_is_made_safe():
    """The header row goes through the same rule as every other row, and the file is what German Excel opens:
    BOM, ``;``, CRLF, with separators, quotes and line breaks inside a cell quoted."""
    text = spreadsheet_csv([["Zeile", '=HYPERLINK("http://x")', "@Name"],
                            [2, "a;b", 'sagt "hallo"\nzweite Zeile'],
                            [3, "-5", "=cmd"]])
    assert text.startswith('\ufeffZeile;"\'=HYPERLINK(""http://x"")";\'@Name\r\n')
    assert list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";")) == [
        ["Zeile", "'=HYPERLINK(\"http://x\")", "'@Name"],
        ["2", "a;b", 'sagt "hallo"\nzweite Zeile'],
        ["3", "-5", "'=cmd"],
    ]
    assert text.endswith("\r\n")


def test_rows_may_be_generators():
    """Rows and cells may be any iterables, so a caller can stream stored rows into the file."""
    rows = (iter((number, f"={number}")) for number in range(2))
    assert spreadsheet_csv(rows) == "\ufeff0;'=0\r\n1;'=1\r\n"
