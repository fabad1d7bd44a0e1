"""German sorting and umlaut-tolerant search of patient names, computed in Python so that SQLite and PostgreSQL
sort and find exactly alike.

Sorting follows the German phone book (DIN 5007, variant 2): ä → ae, ö → oe, ü → ue, ß → ss, case folded,
other accents stripped (é → e, ñ → n). The key is stored in ``patients.sort_name`` and compared byte by byte
(SQLite's BINARY collation, PostgreSQL's "C" collation on that column), so "König" sorts before "Krüger" and
"Schäfer" before "Schwarz" on both databases, whatever the PostgreSQL server's locale says.

Search has to work the other way as well: people type "Muller" for "Müller" (no umlaut on the keyboard) as
often as "Mueller". Both the stored text and every search word are therefore folded to the *search key*: the
phone-book spelling with the digraphs ae, oe and ue reduced to a, o and u. "Müller", "Mueller" and "Muller" all
become "muller" and find each other. (The reduction also turns "Manuel" into "manul"; since both sides are folded
alike, a search for "Manuel" still finds him.)
"""

import re
import unicodedata

# Letters that Unicode does not decompose into a base letter and a mark, spelled as a German reader would.
_LETTERS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe", "œ": "oe",
                          "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
_DIGRAPHS = re.compile("(?<=[aou])e")  # the e of ae, oe, ue
# In a sort key, spaces and hyphens between name parts count as one space, other punctuation (O'Brien, St.) as
# nothing; the key then orders by letters as the phone book does.
_SEPARATORS = re.compile(r"[\s\-_/]+")
_PUNCTUATION = re.compile(r"[^\w ]+")
# Between last and first name in the sort key: below every character a folded name can hold, so that "Meier, Anna"
# sorts before "Meier-Schmidt, Anna".
NAME_SEPARATOR = "\x1f"


def transliterate(text):
    """``text`` case-folded, with umlauts and ß spelled out (ä → ae, ß → ss) and other accents removed;
    punctuation and spacing are kept. The phone-book spelling of a text."""
    folded = unicodedata.normalize("NFC", text or "").casefold().translate(_LETTERS)
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def sort_key(text):
    """The phone-book key of one name: transliterated, separators as single spaces, other punctuation dropped."""
    spaced = _SEPARATORS.sub(" ", transliterate(text))
    return " ".join(_PUNCTUATION.sub("", spaced).split())


def name_sort_key(last_name, first_name):
    """The value of ``patients.sort_name``: last name, then first name, each as ``sort_key``."""
    return f"{sort_key(last_name)}{NAME_SEPARATOR}{sort_key(first_name)}"


def search_key(text):
    """The search key of a text (see the module docstring): transliterated, then ae/oe/ue reduced to a/o/u, so
    ä, ae and a (ö, oe, o; ü, ue, u) compare equal. Punctuation stays, so emails and dates are still found."""
    return _DIGRAPHS.sub("", transliterate(text))


def searchable(text):
    """What a patient's search text holds for ``text``: its phone-book spelling and, when it differs, its search
    key. The spelling keeps partial words findable across a digraph ("er" in "Bauer", whose key is "baur"); the
    key lets "Muller" find "Müller". The key is search_key of the spelling, which folds it once more; for the usual
    spelling in plain ASCII that second fold is only lower-casing, so it is done as such."""
    spelled = transliterate(text)
    key = _DIGRAPHS.sub("", spelled.lower()) if spelled.isascii() else search_key(spelled)
    return spelled if key == spelled else f"{spelled} {key}"
