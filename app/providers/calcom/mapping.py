"""Cal.com bookings as the hub's appointment records: the status mapping, ``appointment_record``, and the booking
triggers a practice's webhook subscribes to.

The sync (app.providers.calcom.integration) reads bookings through the API, while app.providers.calcom.webhooks
receives them as webhook payloads; both must end in the same AppointmentRecord, so this mapping mirrors the
webhooks' and sits apart from the HTTP client."""

from app.providers.calcom.models import SOURCE
from app.providers.events import CANCELLED, PENDING, REJECTED, RESCHEDULED, SCHEDULED, AppointmentRecord

# The booking triggers a practice's webhook subscribes to: exactly those app.providers.calcom.webhooks applies.
BOOKING_TRIGGERS = ("BOOKING_CREATED", "BOOKING_REQUESTED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED",
                    "BOOKING_REJECTED")
# Booking status (lowercase in API v2) -> appointment status; a booking with rescheduledToUid is RESCHEDULED.
STATUS_MAP = {"accepted": SCHEDULED, "pending": PENDING, "cancelled": CANCELLED, "rejected": REJECTED}


def appointment_record(booking, event_type_titles=None):
    """The AppointmentRecord of an API booking, mapped as the webhooks map theirs (app.providers.calcom.webhooks):
    the first attendee is the patient, the first host the therapist; the service is the event type's title when
    ``event_type_titles`` (id -> title) knows it, else the booking title. A booking moved elsewhere
    (``rescheduled_to_uid``) is RESCHEDULED; one moved here names its predecessor in ``replaces_external_id``.
    ``source_updated_at`` is ``updatedAt``, or ``createdAt`` for a booking never changed."""
    status = RESCHEDULED if booking.rescheduled_to_uid else STATUS_MAP[booking.status]
    attendee = booking.attendees[0] if booking.attendees else None
    host = booking.hosts[0] if booking.hosts else None
    title = (event_type_titles or {}).get(booking.event_type_id) if booking.event_type_id is not None else None
    return AppointmentRecord(
        source=SOURCE,
        external_id=booking.uid,
        starts_at=booking.start,
        ends_at=booking.end,
        status=status,
        attendee_name=attendee.name if attendee else "",
        attendee_email=attendee.email if attendee else None,
        therapist_name=host.name if host else "",
        therapist_email=host.email if host else None,
        service_name=title or booking.title,
        source_updated_at=booking.updated_at or booking.created_at,
        replaces_external_id=booking.rescheduled_from_uid,
    )
