"""Patient import, the derived columns of many patients at once: ``search_text`` and ``sort_name``, exactly as
``models.build_search_text`` and ``collation.name_sort_key`` compute them for one patient, but about ten times
faster, which an import of 100,000 rows needs (the two took half of its commit phase).

Both are folded with the German phone-book rules of app.patients.collation, which walk every character through
Unicode decomposition. Here the work is done once per distinct *part* (a name, an email, a date) instead of once
per patient and twice per text: the folding acts on each part separately (parts are joined by spaces, which no
rule crosses), so a text's folding is the folding of its parts joined by spaces. Names repeat a lot in a
practice's file and are looked up in a cache; parts in plain ASCII (emails, digits, dates, most booking ids) only
need lower-casing, and their search key drops the e of ae, oe and ue as collation.search_key does.
tests/unit/patients/test_import_speed_derive.py checks the equality against the originals.
"""

import re
from functools import lru_cache

from app.patients.collation import NAME_SEPARATOR, search_key, sort_key, transliterate

# collation.search_key's rule: the e of ae, oe, ue (applied there after transliterating).
_DIGRAPHS = re.compile("(?<=[aou])e")
# Distinct names (and other non-ASCII parts) kept; a practice has far fewer.
_CACHE_SIZE = 1 << 16


@lru_cache(maxsize=_CACHE_SIZE)
def _folded_unicode(part):
    """(phone-book spelling, search key) of a part with non-ASCII characters, by collation's own functions."""
    spelled = transliterate(part)
    return spelled, search_key(spelled)


def _folded(part):
    """(phone-book spelling, search key) of one part: for ASCII, lower case and the digraph rule (what
    collation.transliterate and search_key come to for ASCII text); otherwise from the cache."""
    if part.isascii():
        spelled = part.lower()
        return spelled, _DIGRAPHS.sub("", spelled)
    return _folded_unicode(part)


def search_text(first_name, last_name, email, phone, birth_date, booking_system_id):
    """``models.build_search_text`` of these values (see the module docstring). The parts of a normalised phone
    (+4917…) and of a birth date hold only digits, "-" and ".": folding leaves them as they are, so they skip it."""
    parts = [first_name, last_name, email, booking_system_id]
    plain = []
    if phone:
        digits = phone.lstrip("+")
        (plain if digits.isascii() and digits.isdigit() else parts).extend(
            (digits, "0" + digits[2:] if len(digits) > 2 else digits))
    if birth_date:
        iso = birth_date.isoformat()
        plain += [iso, f"{iso[8:10]}.{iso[5:7]}.{iso[:4]}"]
    spelled, keys = [], []
    for part in parts:
        if part:
            spelling, key = _folded(part)
            spelled.append(spelling)
            keys.append(key)
    spelled += plain
    keys += plain
    spelled_text, key_text = " ".join(spelled), " ".join(keys)
    return spelled_text if key_text == spelled_text else f"{spelled_text} {key_text}"


_name_key = lru_cache(maxsize=_CACHE_SIZE)(sort_key)


def sort_name(last_name, first_name):
    """``collation.name_sort_key`` of these names, each distinct name's key computed once (cached)."""
    return f"{_name_key(last_name)}{NAME_SEPARATOR}{_name_key(first_name)}"
