"""Locations of a practice: list, add, rename or re-address, and delete them. Integrations (Cal.com, the access
providers) are configured per location, so a location that anything still refers to cannot be deleted. Every change
is audited in the same commit as the change itself."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.platform.audit.service import record
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.validators import check_fields
from app.tenancy.models import Location

LOCATION_FIELDS = ("name", "address")
MAX_NAME_LENGTH = 200
MAX_ADDRESS_LENGTH = 500

# What a person calls the rows of a table that refers to locations, for the "still in use" message. A table missing
# here is still found and counted (by its foreign key), it is only named less nicely.
_REFERENCE_LABELS = {
    "integration_configs": _l("integration settings"),
}


class LocationValidationError(ServiceError):
    """Invalid location data; ``errors`` maps field names to messages."""

    def __init__(self, errors):
        super().__init__(next(iter(errors.values())), field=next(iter(errors)), code="validation_failed")
        self.errors = errors


class LocationInUseError(ServiceError):
    """The location cannot be deleted because other records still refer to it."""

    def __init__(self, message):
        super().__init__(message, code="in_use")


def practice_locations(practice_id):
    """The practice's locations, sorted by name."""
    query = select(Location).where(Location.practice_id == practice_id).order_by(Location.name, Location.id)
    return list(db.session.scalars(query))


def get_location(practice_id, location_id):
    """The location ``location_id`` when it belongs to the practice, else None (another practice's location is
    indistinguishable from a missing one)."""
    location = db.session.get(Location, location_id)
    if location is None or location.practice_id != practice_id:
        return None
    return location


def _clash_message(name):
    """The message for a name another location of the practice already has."""
    return _("There is already a location named “%(name)s”. Please choose another name.", name=name)


def check_name(practice_id, value, location=None):
    """The cleaned name (surrounding and repeated spaces removed); raises ServiceError when it is empty, too long
    or already used by another location of the practice (compared without regard to case, so "Praxis Mitte" and
    "praxis mitte" cannot both exist)."""
    name = " ".join((value or "").split())
    if not name:
        raise ServiceError(_("Please enter a name for the location."), field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise ServiceError(_("The name is too long (at most %(n)d characters).", n=MAX_NAME_LENGTH), field="name")
    # A practice has a handful of locations; comparing in Python gives the same case folding on every database.
    for other in practice_locations(practice_id):
        if (location is None or other.id != location.id) and other.name.casefold() == name.casefold():
            raise ServiceError(_clash_message(other.name), field="name")
    return name


def check_address(value):
    """The cleaned address ("" for none); raises ServiceError when it is too long."""
    address = (value or "").strip()
    if len(address) > MAX_ADDRESS_LENGTH:
        raise ServiceError(_("The address is too long (at most %(n)d characters).", n=MAX_ADDRESS_LENGTH),
                           field="address")
    return address


def check_location(practice_id, data, *, location=None, fields=LOCATION_FIELDS):
    """Check the given ``fields`` of ``data`` for a new location, or for changes to ``location``; returns the
    cleaned values or raises LocationValidationError with a message for every invalid field."""
    checks = {
        "name": lambda value: check_name(practice_id, value, location),
        "address": check_address,
    }
    values, errors = check_fields(checks, data, fields)
    if errors:
        raise LocationValidationError(errors)
    return values


def create_location(actor, practice_id, name, address=""):
    """Add a location to the practice and audit ``location.create``; raises LocationValidationError (nothing is
    saved) when a value is invalid or the name is taken."""
    values = check_location(practice_id, {"name": name, "address": address})
    location = Location(practice_id=practice_id, **values)
    db.session.add(location)
    try:
        db.session.flush()  # the id, for the audit entry
    except IntegrityError:  # a concurrent request added the same name after the check
        db.session.rollback()
        raise LocationValidationError({"name": _clash_message(values["name"])}) from None
    record("location.create", actor, practice_id=practice_id, object_type="location", object_id=location.id,
           meta={"name": location.name})
    db.session.commit()
    return location


def update_location(actor, location, name, address=""):
    """Rename the location or change its address and audit ``location.update`` with the keys that changed
    (nothing is saved when a value is invalid, nothing is audited when nothing changed). Returns the changed keys."""
    values = check_location(location.practice_id, {"name": name, "address": address}, location=location)
    changed = sorted(key for key, value in values.items() if getattr(location, key) != value)
    if not changed:
        return changed
    meta = {"keys": changed, "name": values["name"]}
    if "name" in changed:
        meta["previous_name"] = location.name
    for key in changed:
        setattr(location, key, values[key])
    record("location.update", actor, practice_id=location.practice_id, object_type="location",
           object_id=location.id, meta=meta)
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent request took the name after the check
        db.session.rollback()
        raise LocationValidationError({"name": _clash_message(values["name"])}) from None
    return changed


def location_references(location):
    """What still refers to ``location``: a list of (label, count), one per table with a foreign key to
    ``locations.id`` and at least one row pointing at it. Found through the models' metadata, so a table that
    gains such a column later (integration settings, access providers) is covered without a change here."""
    references = []
    for table in db.metadata.sorted_tables:
        for foreign_key in table.foreign_keys:
            if table is Location.__table__ or not foreign_key.references(Location.__table__):
                continue
            count = db.session.scalar(
                select(func.count()).select_from(table).where(foreign_key.parent == location.id))
            if count:
                label = _REFERENCE_LABELS.get(table.name, table.name.replace("_", " "))
                references.append((str(label), count))
    return references


def _in_use_message(name, uses):
    """The message for a location that cannot be deleted, naming what refers to it."""
    return _("“%(name)s” cannot be deleted because it is still used by: %(uses)s. Change or remove those first.",
             name=name, uses=uses)


def delete_location(actor, location):
    """Delete the location and audit ``location.delete``; raises LocationInUseError (nothing is deleted) while
    any record still refers to it."""
    references = location_references(location)
    name = location.name
    if references:
        uses = ", ".join(f"{label} ({count})" for label, count in references)
        raise LocationInUseError(_in_use_message(name, uses))
    record("location.delete", actor, practice_id=location.practice_id, object_type="location",
           object_id=location.id, meta={"name": name, "address": location.address})
    db.session.delete(location)
    try:
        db.session.commit()
    except IntegrityError:  # something started referring to it after the check (the foreign key refused)
        db.session.rollback()
        raise LocationInUseError(_in_use_message(name, _("other records"))) from None
