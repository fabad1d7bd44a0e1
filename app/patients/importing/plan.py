"""Patient import, the plan: what each validated row becomes against the practice's patients, without writing
anything. The preview, the background commit (which plans again against the database as it is then), the API
import and the booking tool's webhook all plan with these rules.

What a row becomes (its *action*):

- ``create``: no existing patient matches.
- ``link``: an existing patient matches by booking id, else by email (ignoring case), every field of the row is
  already on the record, but the record lacks the row's booking link: the import sets ``booking_system_id`` and
  ``booking_email``.
- ``update``: a patient matches and some field differs. A non-empty cell overwrites; an empty cell never blanks out
  stored data. For a patient linked to the booking tool whose practice email deliberately differs from the booking
  email, a booking-id match changes only ``booking_email``.
- ``unchanged``: a patient matches and nothing would change. Importing the same file twice gives only these.
- ``flagged``: never merged automatically; the admin links, creates or skips it. Flagged are rows that match no
  patient by booking id or email but have the same first name, last name (both ignoring case) and birth date as an
  existing patient; rows whose email match is an *archived* patient (linking restores that patient); rows whose
  email belongs to a patient with another first name (a family sharing one address) or to several patients; and
  rows without any email or booking id that resemble an existing patient but differ from it.
- ``invalid``: a field breaks a rule, the row repeats the booking id or email of an earlier row ("duplicate of row
  N"), or the row's booking id and email point at two different patients. The reason names the row and the problem.

Matching is done in memory: the practice's patients are read in one query into dictionaries (by booking id, by
email, by name and birth date), so the number of statements does not grow with the number of rows. Another
practice's patients are never read. A record merged into another is matched as the record it was merged into
(see PatientIndex), so an import never restores a merged record.
"""

from flask_babel import gettext as _
from sqlalchemy import select

from app.patients.duplicates import candidate_select, email_keys
from app.patients.duplicates import identity_key as _identity
from app.patients.fields import phone_needs_check
from app.patients.importing.headers import field_labels
from app.patients.models import Patient
from app.platform.extensions import db

ACTIONS = ("create", "link", "update", "unchanged", "flagged", "invalid")
# The count of valid rows whose phone number could not be normalised and is kept as entered ("Check phone number").
PHONE_CHECK = "phone_check"
VALUE_FIELDS = ("first_name", "last_name", "email", "phone", "birth_date")
_PATIENTS = Patient.__table__.c
# Outcome of a row once applied, by planned action (flagged rows go by their resolution).
_OUTCOME_OF_ACTION = {"create": "created", "link": "linked", "update": "updated", "unchanged": "unchanged",
                      "invalid": "invalid"}


class PatientIndex:
    """The practice's patients (archived ones included), read in ONE query, by booking id, by email (the
    normalised email and the booking email) and by name and birth date.

    A record merged into another (``merged_into_id``) is never a match itself: its keys lead to the record it was
    merged into (following further merges), so a row with a merged record's email or name updates the survivor
    and never restores the merged record; the merged record's email then counts as known (it does not replace the
    survivor's)."""

    # The table's columns, not the model's: a Core select skips the ORM's statement handling; the rows read alike.
    COLUMNS = tuple(_PATIENTS[name] for name in ("id", *VALUE_FIELDS, "email_normalized", "booking_system_id",
                                                 "booking_email", "archived_at", "merged_into_id"))
    # Merges chained deeper than this are not followed (a merge refuses a merged survivor, so chains stay short).
    MAX_MERGE_DEPTH = 20

    def __init__(self, practice_id, record=None):
        """Load the index for one practice; nothing of another practice is read. ``record`` (one record's fields)
        narrows it to the patients that record can match (duplicates.candidate_select), for a single event;
        the survivors of merged candidates are then read with one more query per merge level."""
        query, parameters = (select(*self.COLUMNS).where(_PATIENTS.practice_id == practice_id), {}) \
            if record is None else candidate_select(self.COLUMNS, practice_id, record)
        patients = db.session.execute(query, parameters).all()
        by_id = {patient.id: patient for patient in patients}
        if record is not None:
            self._load_survivors(practice_id, by_id)
        self.by_booking, self.by_email, self.by_identity = {}, {}, {}
        self.merged_emails = {}  # survivor id -> the emails of the records merged into it
        merged = []
        for patient in patients:
            if patient.merged_into_id is not None:
                merged.append(patient)
                continue
            if patient.booking_system_id:
                self.by_booking[patient.booking_system_id] = patient
            for key in email_keys(patient):
                self.by_email.setdefault(key, []).append(patient)
            self.by_identity.setdefault(_identity(patient.first_name, patient.last_name, patient.birth_date),
                                        []).append(patient)
        for patient in merged:
            survivor = self._survivor(patient, by_id)
            if survivor is not None:
                self._add_keys_of(patient, survivor)

    def _load_survivors(self, practice_id, by_id):
        """Read the records that loaded merged records were merged into, level by level, into ``by_id``."""
        for _level in range(self.MAX_MERGE_DEPTH):
            missing = {patient.merged_into_id for patient in by_id.values()} - by_id.keys() - {None}
            found = db.session.execute(select(*self.COLUMNS).where(
                _PATIENTS.practice_id == practice_id, _PATIENTS.id.in_(missing))).all() if missing else []
            if not found:
                return
            by_id.update((patient.id, patient) for patient in found)

    def _survivor(self, patient, by_id):
        """The record ``patient`` lives on in: the end of its chain of merges; None when that is not loaded."""
        for _level in range(self.MAX_MERGE_DEPTH):
            patient = by_id.get(patient.merged_into_id)
            if patient is None or patient.merged_into_id is None:
                return patient
        return None

    def _add_keys_of(self, merged, survivor):
        """Let a merged record's booking id, emails and identity lead to its survivor (once per list)."""
        if merged.booking_system_id and merged.booking_system_id not in self.by_booking:
            self.by_booking[merged.booking_system_id] = survivor
        self.merged_emails.setdefault(survivor.id, set()).update(email_keys(merged))
        identity = _identity(merged.first_name, merged.last_name, merged.birth_date)
        for found in (*(self.by_email.setdefault(key, []) for key in email_keys(merged)),
                      self.by_identity.setdefault(identity, [])):
            if all(patient.id != survivor.id for patient in found):
                found.append(survivor)


def patient_name(patient):
    """A patient's full name for a message."""
    return f"{patient.first_name} {patient.last_name}".strip()


def _email_key(patient):
    """A stored patient's email, lower-cased, or ""."""
    return (patient.email_normalized or patient.email or "").lower()


def _overwrite_changes(values, target, merged_emails=frozenset()):
    """The changes a matched row makes: every non-empty value that differs from the record overwrites it; the
    booking link is set when missing. The email counts as known when it equals the practice email, the booking
    email or (``merged_emails``) an email of a record merged into this one, ignoring case; when the practice and
    booking emails differ on purpose, a booking-id row changes only the booking email."""
    changes = {name: values[name] for name in ("first_name", "last_name", "phone", "birth_date")
               if values[name] is not None and values[name] != getattr(target, name)}
    email, booking = values["email"], values["booking_system_id"]
    email_key = email.lower() if email else None
    booking_email_key = (target.booking_email or "").lower()
    separate = bool(booking_email_key) and booking_email_key != _email_key(target)
    keeps_own_email = separate and booking and booking == target.booking_system_id
    known = email_key in (_email_key(target), booking_email_key) or email_key in merged_emails
    if email_key and not known and not keeps_own_email:
        changes["email"] = email
    if booking and booking != target.booking_system_id:
        changes["booking_system_id"] = booking
        if email:
            changes["booking_email"] = email
    elif booking and email_key and email_key != booking_email_key:
        changes["booking_email"] = email
    return changes


def _fill_changes(values, target):
    """The changes of a flagged row the admin linked: the booking link, the booking email, and only those fields
    that are empty on the record (a linked row never overwrites what the practice has); an archived record is
    restored."""
    changes = {name: values[name] for name in VALUE_FIELDS
               if values[name] is not None and getattr(target, name) in (None, "")}
    if values["booking_system_id"] and values["booking_system_id"] != target.booking_system_id:
        changes["booking_system_id"] = values["booking_system_id"]
    email = values["email"]
    if values["booking_system_id"] and email and email.lower() != (target.booking_email or "").lower():
        changes["booking_email"] = email
    if target.archived_at is not None:
        changes["archived_at"] = None
    return changes


def _plan_texts():
    """Translated templates needed for many rows, looked up once per plan: a gettext call costs about 25 µs, too
    much to repeat for 100,000 rows. (``_()`` without variables returns the template unformatted.)"""
    return {
        "labels": field_labels(),
        "link": _("Links the record to patient ID %(booking)s."),
        "changes": _("Changes: %(fields)s."),
        "booking_email": _("booking email"),
    }


def _classify_changes(row, changes, texts):
    """Set the row's action from a match's changes: link (only the booking link is new), update or unchanged."""
    row.changes = changes
    if not changes:
        row.action = "unchanged"
    elif set(changes) <= {"booking_system_id", "booking_email"} and "booking_system_id" in changes:
        row.action = "link"
        row.reason = texts["link"] % {"booking": changes["booking_system_id"]}
    else:
        labels = texts["labels"]
        named = [labels[name] for name in changes if name in labels]
        if "booking_email" in changes and "email" not in changes:
            named.append(texts["booking_email"])
        row.action = "update"
        row.reason = texts["changes"] % {"fields": ", ".join(named)}


def _flag(row, patient, reason):
    """Mark a row flagged for the admin, with the patient it could be linked to (None: no single one)."""
    row.action, row.reason = "flagged", reason
    row.patient_id = patient.id if patient is not None else None
    row.target = patient


def _invalid(row, reason):
    """Mark a row invalid with its reason."""
    row.action, row.reason, row.target, row.patient_id = "invalid", reason, None, None


def _plan_matched(row, values, target, via_booking, texts, index):
    """Plan a row matched by booking id or email against ``target``: conflicts, archived and shared emails are
    checked first, then the changes decide link, update or unchanged."""
    booking = values["booking_system_id"]
    if target.archived_at is not None:
        _flag(row, target, _("Matches %(name)s (no. %(id)d), who is archived. Linking restores that record.",
                             name=patient_name(target), id=target.id))
        return
    if not via_booking and booking and target.booking_system_id and target.booking_system_id != booking:
        _invalid(row, _("The email address belongs to %(name)s (no. %(id)d), who is linked to patient ID "
                        "%(other)s, not %(booking)s.", name=patient_name(target), id=target.id,
                        other=target.booking_system_id, booking=booking))
        return
    row.patient_id, row.target = target.id, target
    _classify_changes(row, _overwrite_changes(values, target, index.merged_emails.get(target.id, frozenset())),
                      texts)


def _plan_row(row, index, texts):
    """Plan one valid row against the index (see the module docstring for the rules)."""
    values = row.values
    booking, email = values["booking_system_id"], values["email"]
    email_key = email.lower() if email else None
    by_booking = index.by_booking.get(booking) if booking else None
    by_email = index.by_email.get(email_key, []) if email_key else []
    if by_booking is not None:
        if by_email and all(patient.id != by_booking.id for patient in by_email):
            other = by_email[0]
            _invalid(row, _("Patient ID %(booking)s belongs to %(name)s (no. %(id)d), but the email address "
                            "belongs to %(other)s (no. %(other_id)d).", booking=booking, name=patient_name(by_booking),
                            id=by_booking.id, other=patient_name(other), other_id=other.id))
            return
        _plan_matched(row, values, by_booking, via_booking=True, texts=texts, index=index)
        return
    if by_email:
        first_key = _identity(values["first_name"], "", None)[0]
        same_name = [patient for patient in by_email if _identity(patient.first_name, "", None)[0] == first_key]
        active = [patient for patient in same_name if patient.archived_at is None]
        if len(active) == 1 or len(same_name) == 1:
            target = active[0] if len(active) == 1 else same_name[0]
            _plan_matched(row, values, target, via_booking=False, texts=texts, index=index)
        elif len(by_email) == 1:
            _flag(row, by_email[0], _("The email address belongs to %(name)s (no. %(id)d), whose first name "
                                      "differs (a shared address?).", name=patient_name(by_email[0]),
                                      id=by_email[0].id))
        else:
            _flag(row, None, _("%(count)d patients share this email address; none can be chosen automatically.",
                               count=len(same_name or by_email)))
        return
    identity = _identity(values["first_name"], values["last_name"], values["birth_date"]) if index.by_identity else None
    if booking or email:
        similar = index.by_identity.get(identity, []) if values["birth_date"] and identity else []
        if len(similar) > 1:
            _flag(row, None, _("Same name and birth date as %(count)d existing patients.", count=len(similar)))
        elif similar:
            patient = similar[0]
            if patient.archived_at is not None:
                reason = _("Same name and birth date as %(name)s (no. %(id)d), who is archived. Linking restores "
                           "that record.", name=patient_name(patient), id=patient.id)
            elif booking and patient.booking_system_id and patient.booking_system_id != booking:
                # Linking is impossible (the patient holds another booking id): say so now, not at the commit.
                reason = _("%(name)s (no. %(id)d) is linked to patient ID %(other)s, not %(booking)s.",
                           name=patient_name(patient), id=patient.id, other=patient.booking_system_id, booking=booking)
            elif patient.email:
                reason = _("Same name and birth date as %(name)s (no. %(id)d), but another email address.",
                           name=patient_name(patient), id=patient.id)
            else:
                reason = _("Same name and birth date as %(name)s (no. %(id)d), but neither the email address nor "
                           "the patient ID matches.", name=patient_name(patient), id=patient.id)
            _flag(row, patient, reason)
        else:
            row.action = "create"
        return
    # No email and no booking id: only an identical record counts as the same patient; anything else is flagged.
    similar = index.by_identity.get(identity, [])
    if not similar:
        row.action = "create"
        return
    patient = similar[0]
    if len(similar) == 1 and patient.archived_at is None and not _overwrite_changes(
            values, patient, index.merged_emails.get(patient.id, frozenset())):
        row.action, row.patient_id, row.target = "unchanged", patient.id, patient
        return
    if len(similar) > 1:
        _flag(row, None, _("Same name and birth date as %(count)d existing patients.", count=len(similar)))
    elif values["birth_date"]:
        _flag(row, patient, _("Same name and birth date as %(name)s (no. %(id)d); the row has no email address or "
                              "patient ID to confirm it is the same person.", name=patient_name(patient),
                              id=patient.id))
    else:
        _flag(row, patient, _("Same name as %(name)s (no. %(id)d); the row has no email address, patient ID or "
                              "birth date to confirm it is the same person.", name=patient_name(patient),
                              id=patient.id))


def _duplicate_reason(row, seen):
    """The "duplicate of row N" reason when an earlier valid row of the file has the same booking id or email
    (or, for rows with neither, the same name and birth date); registers this row's keys otherwise."""
    values = row.values
    keys = []
    if values["booking_system_id"]:
        keys.append(("booking", values["booking_system_id"]))
    if values["email"]:
        keys.append(("email", values["email"].lower()))
    if not keys:
        keys.append(("identity", _identity(values["first_name"], values["last_name"], values["birth_date"])))
    for key in keys:
        if key in seen:
            what = {"booking": _("same patient ID"), "email": _("same email address"),
                    "identity": _("same name and birth date")}[key[0]]
            return _("Duplicate of row %(row)d (%(what)s).", row=seen[key], what=what)
    for key in keys:
        seen[key] = row.number
    return None


def plan_rows(rows, index, final=False):
    """Plan every row (dry run; nothing is written). With ``final`` (the commit), flagged rows follow the admin's
    resolution: ``link`` needs the same patient as at the preview, unresolved rows are skipped; and every row gets
    the outcome it will have and the operation (create/update) that applies it."""
    seen, texts = {}, _plan_texts()
    for row in rows:
        previous_patient = row.patient_id
        row.changes, row.target, row.operation = {}, None, None
        if row.values is None:
            row.action, row.patient_id = "invalid", None
        else:
            row.action, row.reason, row.patient_id = "", None, None
            duplicate = _duplicate_reason(row, seen)
            if duplicate:
                _invalid(row, duplicate)
            else:
                _plan_row(row, index, texts)
        if final:
            finalise(row, previous_patient)


def finalise(row, previous_patient):
    """Decide the outcome and the operation of a planned row at commit time (see plan_rows). An admin's "skip" holds
    even when the row is no longer flagged; "create" and "link" give way to a match found since the preview."""
    if row.resolution == "skip" and row.action != "invalid":
        row.outcome, row.changes = "skipped", {}
        return
    if row.action != "flagged":
        row.outcome = _OUTCOME_OF_ACTION[row.action]
        row.operation = {"create": "create", "link": "update", "update": "update"}.get(row.action)
        return
    if row.resolution is None:
        row.outcome = "skipped"
        row.reason = _("%(reason)s Not resolved before the import, so nothing was changed.", reason=row.reason)
        return
    if row.resolution == "skip":
        row.outcome = "skipped"
        return
    if row.resolution == "create":
        row.outcome, row.operation = "created", "create"
        return
    target = row.target
    if target is None or target.id != previous_patient:
        row.outcome = "skipped"
        row.reason = _("The matching patient changed after the preview, so nothing was changed.")
        return
    booking = row.values["booking_system_id"]
    if booking and target.booking_system_id and target.booking_system_id != booking:
        row.outcome = "invalid"
        row.reason = _("%(name)s (no. %(id)d) is linked to patient ID %(other)s, not %(booking)s.",
                       name=patient_name(target), id=target.id, other=target.booking_system_id, booking=booking)
        return
    row.changes = _fill_changes(row.values, target)
    row.outcome, row.operation = "linked", ("update" if row.changes else None)


def count_rows(rows, final=False):
    """The report counts: total and one per action; after the commit also the outcomes (created, linked, updated,
    skipped; unchanged and invalid mean the same in both); and, when there are any, the valid rows whose phone
    number was kept as entered (PHONE_CHECK)."""
    counts = {"total": len(rows), **dict.fromkeys(ACTIONS, 0)}
    for row in rows:
        counts[row.action] += 1
    if final:
        counts.update({"created": 0, "linked": 0, "updated": 0, "skipped": 0, "unchanged": 0, "invalid": 0})
        for row in rows:
            counts[row.outcome] += 1
    phone_check = sum(1 for row in rows if row.values is not None and (row.outcome or row.action) != "invalid"
                      and phone_needs_check(row.values["phone"]))
    if phone_check:
        counts[PHONE_CHECK] = phone_check
    return counts
