"""The redacted preview of webhook payloads (app.webhooks.redaction): PHI masked by key name, everything needed
for debugging kept, applied to the providers' own example payloads."""

import copy
import json
from pathlib import Path

import pytest

from app.platform.json_input import MAX_DEPTH, load_json
from app.webhooks.redaction import mask_email, mask_name, mask_phone, preview, redact

CONTRACTS = Path(__file__).parents[2] / "fixtures" / "contracts"


def contract_json(relative):
    """A contract file, parsed."""
    return json.loads((CONTRACTS / relative).read_text(encoding="utf-8"))


PATIENT_EVENT = {
    "id": "evt_1",
    "type": "patient.created",
    "occurred_at": "2025-03-01T10:00:00+01:00",
    "data": {
        "patient_id": "P-1001",
        "first_name": "Lena",
        "last_name": "Becker",
        "email": "lena.becker@example.com",
        "phone": "+49 151 23456723",
        "birth_date": "1988-04-12",
    },
}


def test_redact_booking_patient_event():
    """Names keep initials, email and phone are masked, the birth date is hidden; type, ids and times stay."""
    assert redact(PATIENT_EVENT) == {
        "id": "evt_1",
        "type": "patient.created",
        "occurred_at": "2025-03-01T10:00:00+01:00",
        "data": {
            "patient_id": "P-1001",
            "first_name": "L.",
            "last_name": "B.",
            "email": "l***@example.com",
            "phone": "+49 *** **23",
            "birth_date": "***",
        },
    }


def test_redact_booking_appointment_event():
    """Appointment ids, times, status and service stay visible; the therapist's name is shortened."""
    event = {
        "id": "evt_2",
        "type": "appointment.cancelled",
        "data": {"appointment_id": "A-5001", "patient_id": "P-1001", "start": "2025-03-10T09:00:00+01:00",
                 "duration_minutes": 50, "therapist_name": "Maria Keller", "service_name": "Physiotherapie",
                 "status": "cancelled", "updated_at": "2025-03-01T09:59:30+01:00"},
    }
    redacted = redact(event)
    assert redacted["data"] == event["data"] | {"therapist_name": "M. K."}
    assert redacted["type"] == "appointment.cancelled"


def test_redact_does_not_change_the_original():
    """The payload passed in is left as it was (the full payload is still stored, encrypted)."""
    original = copy.deepcopy(PATIENT_EVENT)
    redact(PATIENT_EVENT)
    assert original == PATIENT_EVENT


def test_redact_calcom_booking():
    """A Cal.com booking keeps its trigger, uid, times, status and event type title; people, free text,
    booking-form answers and the video password are masked or hidden."""
    redacted = redact(contract_json("calcom/webhooks/BOOKING_CREATED.json"))
    payload = redacted["payload"]
    assert redacted["triggerEvent"] == "BOOKING_CREATED"
    assert (payload["uid"], payload["status"], payload["startTime"], payload["eventTitle"]) == (
        "unique-booking-id", "ACCEPTED", "2024-01-01T10:00:00Z", "Strategy Session")
    assert payload["attendees"][0] | {"language": None} == {
        "email": "g***@example.com", "name": "G. U.", "firstName": "G.", "lastName": "U.", "timeZone": "UTC",
        "language": None, "utcOffset": 0,
    }
    assert (payload["organizer"]["name"], payload["organizer"]["email"]) == ("O. N.", "o***@example.com")
    assert payload["title"] == "***"
    assert payload["responses"] == "***"
    assert payload["videoCallData"]["password"] == "***"
    assert payload["location"] == "***"


def test_redact_calcom_reschedule_and_cancel_keep_what_links_bookings():
    """The uids linking a reschedule stay; cancellation reasons (free text) are hidden."""
    rescheduled = redact(contract_json("calcom/webhooks/BOOKING_RESCHEDULED.json"))["payload"]
    assert (rescheduled["uid"], rescheduled["rescheduleUid"]) == ("new-booking-unique-id", "previous-booking-unique-id")
    cancelled = redact(contract_json("calcom/webhooks/BOOKING_CANCELLED.json"))["payload"]
    assert cancelled["cancellationReason"] == "***"
    assert cancelled["additionalNotes"] == "***"
    assert cancelled["description"] == "***"


def test_redact_retell_call():
    """A Retell call keeps its ids, times, status and sentiment; numbers are masked, transcript, recording,
    summary and dynamic variables hidden."""
    redacted = redact(contract_json("retell/webhook_call_analyzed.synthetic.json"))
    call = redacted["call"]
    assert redacted["event"] == "call_analyzed"
    assert (call["call_id"], call["call_status"], call["start_timestamp"], call["duration_ms"]) == (
        "call_synthetic_000000000000001", "ended", 1735689600000, 62000)
    assert (call["from_number"], call["to_number"]) == ("+12 *** **01", "+12 *** **02")
    for key in ("transcript", "transcript_object", "recording_url", "public_log_url", "retell_llm_dynamic_variables",
                "collected_dynamic_variables"):
        assert call[key] == "***", key
    assert call["call_analysis"] == {"call_summary": "***", "user_sentiment": "Neutral", "call_successful": True,
                                     "in_voicemail": False, "custom_analysis_data": "***"}


@pytest.mark.parametrize(
    ("relative", "secrets"),
    [
        ("calcom/webhooks/BOOKING_CREATED.json", ["Guest User", "guest@example.com", "Additional Guest",
                                                   "additional-guest@example.com", "Organizer Name",
                                                   "between Organizer and Guest", "redacted_token"]),
        ("calcom/webhooks/BOOKING_CANCELLED.json", ["Guest User", "guest@example.com", "no longer able to attend",
                                                     "meeting notes placeholder", "Original slot"]),
        ("calcom/webhooks/BOOKING_REJECTED.json", ["Guest User", "The organizer is no longer available"]),
        ("calcom/webhooks/PING.json", ["John Doe", "jdoe@example.com"]),
        ("retell/webhook_call_ended.docs-example.json", ["John Doe", "+12137771234", "+12137771235"]),
        ("retell/webhook_call_analyzed.synthetic.json", ["Grüezi", "Termin", "recording.wav", "+12135550101",
                                                         "appointment next week"]),
    ],
)
def test_preview_of_examples_leaks_no_phi(relative, secrets):
    """No name, address, number, note or transcript of the example payloads survives in the preview."""
    text = preview(contract_json(relative), limit=100_000)
    assert [secret for secret in secrets if secret in text] == []


@pytest.mark.parametrize("key", ["firstName", "FIRST-NAME", "first_name", "First_Name"])
def test_redact_matches_keys_in_any_spelling(key):
    """Key names match whatever their case and separators."""
    assert redact({"patient": {key: "Lena Marie"}}) == {"patient": {key: "L. M."}}


def test_redact_masks_inside_values_of_phi_keys_and_keeps_nulls():
    """Under a PHI key, lists and objects have every string masked; null stays null; other scalars pass."""
    assert redact({"guests": ["a@example.com", "bob@example.org"], "name": {"label": "x", "value": "Jo Doe"},
                   "email": None, "phone": None, "count": 3, "ok": True}) == {
        "guests": ["a***@example.com", "b***@example.org"], "name": {"label": "x.", "value": "J. D."},
        "email": None, "phone": None, "count": 3, "ok": True,
    }


def test_redact_lists_at_top_level_and_scalars():
    """Any JSON value can be redacted, not only objects."""
    assert redact([{"email": "x@y.z"}, "plain"]) == [{"email": "x***@y.z"}, "plain"]
    assert redact("text") == "text"
    assert redact(None) is None


@pytest.mark.parametrize(
    ("mask", "value", "expected"),
    [
        (mask_name, "Lena Becker", "L. B."),
        (mask_name, "  Anna-Lena   von Weber ", "A. v. W."),
        (mask_name, "", ""),
        (mask_email, "lena.becker@example.com", "l***@example.com"),
        (mask_email, "odd@name@example.com", "o***@example.com"),
        (mask_email, "not an address", "***"),
        (mask_email, "@example.com", "***"),
        (mask_phone, "+49 151 23456723", "+49 *** **23"),
        (mask_phone, "0151 2345 6723", "*** **23"),
        (mask_phone, "+41791234567", "+41 *** **67"),
        (mask_phone, "112", "***"),
        (mask_phone, "unknown", "***"),
    ],
)
def test_masks(mask, value, expected):
    """Each mask keeps only the documented hint of the value."""
    assert mask(value) == expected


def test_preview_is_compact_json_of_the_redacted_payload():
    """A short payload previews as compact JSON that parses back to the redacted payload, umlauts unescaped."""
    text = preview({"type": "patient.updated", "data": {"first_name": "Jürg", "city": "Zürich"}})
    assert text == '{"type":"patient.updated","data":{"first_name":"J.","city":"Zürich"}}'
    assert json.loads(text) == redact({"type": "patient.updated", "data": {"first_name": "Jürg", "city": "Zürich"}})


def test_preview_truncates_long_payloads():
    """A long payload is cut to ``limit`` characters, ending in "…"."""
    text = preview(contract_json("calcom/webhooks/BOOKING_CREATED.json"))
    assert len(text) == 600
    assert text.endswith("…")
    assert text.startswith('{"triggerEvent":"BOOKING_CREATED","createdAt":"2024-01-01T00:00:00.000Z"')
    assert len(preview(PATIENT_EVENT, limit=40)) == 40
    exact = preview(PATIENT_EVENT, limit=100_000)
    assert preview(PATIENT_EVENT, limit=len(exact)) == exact


def test_the_deepest_payload_the_receiver_reads_is_redacted():
    """The receiver reads bodies with app.platform.json_input, which refuses nesting past MAX_DEPTH (objects nested
    950 deep ended in a RecursionError here); redaction, which recurses, handles every depth up to it."""
    text = '{"a":' * (MAX_DEPTH - 1) + '{"email": "lena@example.com"}' + "}" * (MAX_DEPTH - 1)
    shown = preview(load_json(text), limit=100_000)
    assert "l***@example.com" in shown and "lena@" not in shown
