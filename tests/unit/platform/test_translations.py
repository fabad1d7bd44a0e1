"""The German catalogue covers every translatable string in the source, without fuzzy entries or broken placeholders.

The messages are extracted afresh from app/ and templates/ (same babel.cfg and keywords as the documented
``pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs '.* __pycache__'`` command), so adding a
``_()`` string without translating it makes this test fail. Refresh the catalogue with::

    .venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs '.* __pycache__' \
        --project "Praxis Hub" --copyright-holder "Praxis Hub" -o translations/messages.pot .
    .venv/bin/pybabel update -i translations/messages.pot -d translations
"""

import fnmatch
import os
import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
BABEL_CFG = ROOT / "babel.cfg"
GERMAN_PO = ROOT / "translations" / "de" / "LC_MESSAGES" / "messages.po"
EXTRA_KEYWORDS = ("_l", "lazy_gettext")
# Babel's default directory filter also skips folders starting with "_" (templates/_partials, templates/_macros),
# so the documented command passes --ignore-dirs '.* __pycache__'; this mirrors it.
IGNORED_DIRS = (".*", "__pycache__")
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa]")


def _keep_directory(path):
    """False for directories the extraction must not descend into (.venv, .git, __pycache__ ...)."""
    name = os.path.basename(path)
    return not any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED_DIRS)


def extract_source_messages():
    """Every translatable message in the source as {(msgid, context): [\"file:line\", ...]}.

    ``msgid`` is a string, or a (singular, plural) tuple for ngettext."""
    with BABEL_CFG.open(encoding="utf-8") as fileobj:
        method_map, options_map = parse_mapping_cfg(fileobj, filename=str(BABEL_CFG))
    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update(parse_keywords(EXTRA_KEYWORDS))
    messages = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords, directory_filter=_keep_directory
    ):
        msgid = tuple(message) if isinstance(message, (list, tuple)) else message
        if not msgid or (isinstance(msgid, tuple) and not msgid[0]):
            continue
        messages.setdefault((msgid, context), []).append(f"{filename}:{lineno}")
    return messages


def read_german_catalog():
    """The German catalogue as committed in translations/."""
    with GERMAN_PO.open("rb") as fileobj:
        return read_po(fileobj, locale="de")


def _placeholders(text):
    """The sorted ``%(name)s``-style placeholders of ``text`` (with their conversion, e.g. ``%(n)d``)."""
    return sorted(match.group(0) for match in PLACEHOLDER.finditer(text or ""))


def _translations(message):
    """The msgstr forms of a catalogue entry as a tuple (one element for a non-plural entry)."""
    return tuple(message.string) if isinstance(message.string, (list, tuple)) else (message.string,)


def test_extraction_finds_the_source_strings():
    """The extraction sees Python, templates and the underscore template folders (guards the test itself)."""
    messages = extract_source_messages()
    locations = [location for found in messages.values() for location in found]
    assert len(messages) > 50
    assert any(location.startswith("app/") for location in locations)
    assert any(location.startswith("templates/") for location in locations)
    assert any(location.startswith("templates/_partials/") for location in locations)
    assert not any(".venv" in location for location in locations)


def test_every_source_string_has_a_german_translation():
    """Each msgid extracted from app/ and templates/ has a non-empty German msgstr (all plural forms)."""
    catalog = read_german_catalog()
    missing = []
    for (msgid, context), locations in sorted(extract_source_messages().items(), key=lambda item: str(item[0])):
        entry = catalog.get(msgid, context)
        if entry is None or not all(form and form.strip() for form in _translations(entry)):
            missing.append(f"{msgid!r} ({', '.join(locations)})")
    assert not missing, (
        f"{len(missing)} source string(s) lack a German translation in {GERMAN_PO.relative_to(ROOT)} "
        "(re-extract, run pybabel update and translate):\n" + "\n".join(missing)
    )


def test_no_german_entry_is_fuzzy():
    """Fuzzy entries are ignored by pybabel compile, so they would show up in English."""
    fuzzy = [repr(message.id) for message in read_german_catalog() if message.id and message.fuzzy]
    assert not fuzzy, "Fuzzy entries in the German catalogue:\n" + "\n".join(fuzzy)


def test_german_placeholders_match_the_msgid():
    """Each msgstr has exactly the ``%(name)s`` placeholders of its msgid (plural form i against msgid form i)."""
    mismatched = []
    for message in read_german_catalog():
        if not message.id:
            continue
        ids = tuple(message.id) if isinstance(message.id, (list, tuple)) else (message.id,)
        for index, form in enumerate(_translations(message)):
            if not form:
                continue
            expected = _placeholders(ids[min(index, len(ids) - 1)])
            if _placeholders(form) != expected:
                label = f"msgstr[{index}]" if message.pluralizable else "msgstr"
                mismatched.append(f"{message.id!r}: {label} {form!r} has {_placeholders(form)}, expected {expected}")
    assert not mismatched, "Placeholders differ between msgid and msgstr:\n" + "\n".join(mismatched)
