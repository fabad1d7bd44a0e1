"""Patient import, the column mapping: which column of a file holds which patient field.

``guess_mapping`` reads German and English headers the way practices name them, so that most files need no
manual mapping; ``check_mapping`` validates the mapping an admin chose before the rows are read with it. Kept apart
from reading the file: the admin's mapping is checked against the stored headers, and the API import uses the
field labels without any file.
"""

import unicodedata
import weakref

from flask_babel import get_translations
from flask_babel import gettext as _

from app.patients.fields import PATIENT_FIELDS
from app.platform.errors import ServiceError

REQUIRED_FIELDS = ("first_name", "last_name")

# Header synonyms after _header_key (lower case, umlauts spelled out, no spaces or punctuation).
# Rank 0: the whole header is the synonym; rank 1: the header starts with a long synonym ("Telefon privat");
# rank 2: weak synonyms used only when nothing better names the field ("Name" for the last name).
_SYNONYMS = {
    "first_name": ("vorname", "vornamen", "rufname", "vname", "firstname", "first", "givenname", "forename"),
    "last_name": ("nachname", "familienname", "zuname", "nname", "lastname", "last", "surname", "familyname"),
    "email": ("email", "emailadresse", "mail", "mailadresse", "epost", "emailaddress", "mailaddress"),
    "phone": ("telefon", "telefonnummer", "telefonnr", "tel", "telnr", "handy", "handynummer", "handynr", "mobil",
              "mobilnummer", "mobilnr", "mobiltelefon", "mobilfunk", "rufnummer", "festnetz", "phone",
              "phonenumber", "mobile", "mobilephone", "mobilenumber", "cell", "cellphone", "telephone"),
    "birth_date": ("geburtsdatum", "geburtstag", "gebdatum", "gebdat", "geboren", "geb", "gebam", "birthdate",
                   "dateofbirth", "dob", "birthday", "born"),
    "booking_system_id": ("patientenid", "patientid", "id", "patientennummer", "patientennr", "patnr", "patid",
                          "bookingid", "bookingsystemid", "buchungsid", "externeid", "externalid", "kundennummer",
                          "kundennr", "kundenid", "klientennummer", "klientennr", "customerid", "clientid"),
}
_WEAK_SYNONYMS = {"last_name": ("name", "patientenname", "patient")}
_PREFIX_MIN_LENGTH = 5


# field_labels by the translations they were made with (weak: gone with the catalogue).
_LABELS = weakref.WeakKeyDictionary()

def _header_key(header):
    """A header reduced for comparison: lower case, umlauts spelled out (ä → ae), accents dropped, only letters
    and digits kept, so "E-Mail", "e mail" and "EMAIL" compare equal."""
    text = unicodedata.normalize("NFC", (header or "").strip().lower())
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(umlaut, spelled)
    text = unicodedata.normalize("NFKD", text)
    return "".join(char for char in text if char.isascii() and char.isalnum())


def _header_rank(key, field_name):
    """How well a reduced header names ``field_name`` (0 best, see _SYNONYMS), or None when it does not."""
    synonyms = _SYNONYMS.get(field_name, ())
    if key in synonyms:
        return 0
    if any(len(synonym) >= _PREFIX_MIN_LENGTH and key.startswith(synonym) for synonym in synonyms):
        return 1
    if key in _WEAK_SYNONYMS.get(field_name, ()):
        return 2
    return None


def guess_mapping(headers: list[str]) -> dict[str, str | None]:
    """Guess which column holds which patient field from German and English headers ("Vorname" / "First name",
    "Telefon" / "Handy" / "Mobil", "Geburtsdatum", "Patienten-ID" / "ID", ...), ignoring case, spaces, umlauts
    and punctuation. Every field of PATIENT_FIELDS gets a header or None; a header is used at most once, the best
    match wins and among equal matches the leftmost column."""
    candidates = []
    for position, header in enumerate(headers):
        key = _header_key(header)
        for field_name in PATIENT_FIELDS:
            rank = _header_rank(key, field_name)
            if rank is not None:
                candidates.append((rank, position, field_name, header))
    mapping = dict.fromkeys(PATIENT_FIELDS)
    used = set()
    for _rank, _position, field_name, header in sorted(candidates, key=lambda item: item[:2]):
        if mapping[field_name] is None and header not in used:
            mapping[field_name] = header
            used.add(header)
    return mapping


def field_labels():
    """Translated names of the patient fields, for messages about the mapping and API rows (a copy: callers may
    change it). Translated once per catalogue (the translations object gettext would use) and kept while it lives:
    a gettext call costs about 25 µs, and a booking tool's new patient asked for these six twice (issue 16)."""
    translations = get_translations()
    labels = _LABELS.get(translations)
    if labels is None:
        labels = _LABELS[translations] = {
            "first_name": _("First name"), "last_name": _("Last name"), "email": _("Email"), "phone": _("Phone"),
            "birth_date": _("Birth date"), "booking_system_id": _("Patient ID"),
        }
    return dict(labels)


def check_mapping(mapping, headers):
    """Validate an admin's mapping (field -> header or None) against the file's headers and return it complete.
    Raises ServiceError(field="mapping") for unknown fields or headers, a header used twice, or missing names."""
    if not isinstance(mapping, dict):
        raise ServiceError(_("Please choose a column for each field."), field="mapping")
    unknown = sorted(set(mapping) - set(PATIENT_FIELDS))
    if unknown:
        raise ServiceError(_("Unknown field: %(field)s.", field=", ".join(unknown)), field="mapping")
    complete = {}
    used = {}
    labels = field_labels()
    for field_name in PATIENT_FIELDS:
        header = mapping.get(field_name) or None
        if header is not None and header not in headers:
            raise ServiceError(_("The file has no column “%(header)s”.", header=header), field="mapping")
        if header is not None and header in used:
            raise ServiceError(
                _("Column “%(header)s” is chosen for both %(first)s and %(second)s.", header=header,
                  first=labels[used[header]], second=labels[field_name]),
                field="mapping",
            )
        if header is not None:
            used[header] = field_name
        complete[field_name] = header
    missing = [labels[name] for name in REQUIRED_FIELDS if complete[name] is None]
    if missing:
        raise ServiceError(_("Please choose a column for: %(fields)s.", fields=", ".join(missing)), field="mapping")
    return complete
