"""Redacted copies of webhook payloads for the event log, which admins read without the ``payload.reveal``
permission (DESIGN.md §4, "PHI in the event log").

Rules, by key name at any depth (keys compare case-insensitively, ignoring ``_`` and ``-``, so ``first_name``,
``firstName`` and ``FIRST-NAME`` are one key):

- names (``name``, ``first_name``, ``last_name``, ``full_name``, ``attendee_name``, ``patient_name``,
  ``customer_name``, ``therapist_name``) keep each word's first letter: "Lena Becker" → "L. B.";
- emails (``email``, ``attendee_email``, ``booking_email``, ``guests``, ``cancelledBy``, ``rescheduledBy`` …)
  keep the first character and the domain: "lena@example.com" → "l***@example.com";
- phone numbers (``phone``, ``phoneNumber``, ``attendeePhoneNumber``, ``from_number``, ``to_number``,
  ``smsReminderNumber`` …) keep the leading "+", two digits and the last two digits: "+49 *** **23";
- everything else that may carry health data or secrets is replaced by "***": birth dates, transcripts,
  recording and log URLs, free text (notes, descriptions, booking titles, which Cal.com builds from the people's
  names, reasons, summaries, locations), whole booking-form answers and dynamic variables (their keys are chosen
  freely, so no key rule could cover them), passwords and tokens.

Under a name, email or phone key, an object or list has its rule applied to every string inside it. ``null``
stays ``null`` so a missing value is still visible. Everything else (event types, ids, times, statuses, agent and
event-type names) is kept as it is: it is what someone debugging a delivery needs."""

import json
import re

HIDDEN = "***"


def _normalise(key):
    """The form keys are compared in: lower case, without ``_`` and ``-``."""
    return key.lower().replace("_", "").replace("-", "")


NAME_KEYS = {
    _normalise(key)
    for key in ("name", "first_name", "last_name", "full_name", "attendee_name", "patient_name", "customer_name",
                "therapist_name")
}
EMAIL_KEYS = {
    _normalise(key)
    for key in ("email", "email_address", "attendee_email", "patient_email", "booking_email", "therapist_email",
                "guests", "cancelledBy", "rescheduledBy", "customReplyToEmail")
}
PHONE_KEYS = {
    _normalise(key)
    for key in ("phone", "phone_number", "mobile", "attendeePhoneNumber", "smsReminderNumber", "from_number",
                "to_number")
}
HIDDEN_KEYS = {
    _normalise(key)
    for key in (
        # birth dates
        "birth_date", "date_of_birth", "dob",
        # call content (Retell)
        "transcript", "transcript_object", "transcript_with_tool_calls", "recording_url",
        "recording_multi_channel_url", "scrubbed_recording_url", "scrubbed_recording_multi_channel_url",
        "public_log_url", "call_summary", "custom_analysis_data", "retell_llm_dynamic_variables",
        "collected_dynamic_variables",
        # free text and booking-form answers (Cal.com)
        "notes", "additional_notes", "description", "title", "message", "comment", "summary", "location",
        "cancellation_reason", "rejection_reason", "reschedule_reason", "responses", "user_fields_responses",
        "custom_inputs",
        # secrets that may travel in a payload
        "password", "one_time_password", "token", "access_token", "secret",
    )
}


def redact(value):
    """A deep copy of the JSON value ``value`` with PHI redacted by key name (see the module docstring); objects
    and lists are rebuilt, so the original is never changed."""
    if isinstance(value, dict):
        return {key: _redact_item(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def preview(payload, limit=600):
    """The redacted payload as compact JSON of at most ``limit`` characters, cut with "…" when longer."""
    text = json.dumps(redact(payload), ensure_ascii=False, separators=(",", ":"))
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def _redact_item(key, item):
    """``item`` as it may be shown under ``key``."""
    if item is None:
        return None
    normalised = _normalise(key) if isinstance(key, str) else ""
    if normalised in HIDDEN_KEYS:
        return HIDDEN
    for keys, mask in ((NAME_KEYS, mask_name), (EMAIL_KEYS, mask_email), (PHONE_KEYS, mask_phone)):
        if normalised in keys:
            return _apply(item, mask)
    return redact(item)


def _apply(item, mask):
    """``mask`` applied to ``item`` and, inside objects and lists, to every value that is not null."""
    if isinstance(item, dict):
        return {key: _apply(value, mask) for key, value in item.items()}
    if isinstance(item, list):
        return [_apply(value, mask) for value in item]
    if item is None:
        return None
    return mask(str(item))


def mask_name(name):
    """Each word's first letter and a dot: "Lena Becker" → "L. B."."""
    return " ".join(f"{word[0]}." for word in name.split())


def mask_email(email):
    """The first character and the domain: "lena@example.com" → "l***@example.com"; "***" for anything that is
    not an address."""
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or not domain:
        return HIDDEN
    return f"{local[0]}***@{domain}"


def mask_phone(phone):
    """The leading "+" with two digits (the country code, mostly) and the last two digits: "+49 *** **23";
    "***" for numbers too short to mask that way."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 6:
        return HIDDEN
    prefix = f"+{digits[:2]} " if phone.strip().startswith("+") else ""
    return f"{prefix}*** **{digits[-2:]}"
