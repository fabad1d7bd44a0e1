"""The webhook-subscription part of the Cal.com client: list, create, change and delete the user's webhooks (the
subscriptions through which Cal.com calls the hub; receiving them is app.providers.calcom.webhooks).

Facts from contracts/calcom/CALCOM.md this module carries: /v2/webhooks needs no cal-api-version (§1); webhook ids
are UUID strings and triggers an array, whatever the OpenAPI document says (§5, §10); a second webhook for the same
subscriber URL is a 409, raised as WebhookExists."""

from app.providers.base import ProviderRequestError
from app.providers.calcom.api import MAX_TAKE, CalcomApi, _camel_fields
from app.providers.calcom.parsing import _list, _webhook

# Every trigger name Cal.com accepts (Prisma enum WebhookTriggerEvents, CALCOM.md §5). The OpenAPI example's
# BOOKING_CONFIRMED, BOOKING_COMPLETED, BOOKING_NO_SHOW and BOOKING_REOPENED do not exist.
WEBHOOK_TRIGGERS = frozenset({
    "BOOKING_CREATED", "BOOKING_PAYMENT_INITIATED", "BOOKING_PAID", "BOOKING_RESCHEDULED", "BOOKING_REQUESTED",
    "BOOKING_CANCELLED", "BOOKING_REJECTED", "BOOKING_NO_SHOW_UPDATED", "FORM_SUBMITTED", "FORM_SUBMITTED_NO_EVENT",
    "MEETING_ENDED", "MEETING_STARTED", "RECORDING_READY", "INSTANT_MEETING", "RECORDING_TRANSCRIPTION_GENERATED",
    "AFTER_HOSTS_CAL_VIDEO_NO_SHOW", "AFTER_GUESTS_CAL_VIDEO_NO_SHOW", "OOO_CREATED", "DELEGATION_CREDENTIAL_ERROR",
})


class WebhookExists(ProviderRequestError):
    """409 on webhook creation: this Cal.com user already has a webhook for the subscriber URL."""


class WebhookSubscriptionsApi(CalcomApi):
    """User-level webhooks (``/v2/webhooks``)."""

    def list_webhooks(self):
        """All of the user's webhooks (pages of 250 until a short one; the answer has no pagination object)."""
        webhooks, skip = [], 0
        while True:
            data = self._call("GET", "/v2/webhooks", action="webhooks.list", params={"take": MAX_TAKE, "skip": skip})
            items = _list(data, "data")
            webhooks += [_webhook(item, f"data[{skip + index}]") for index, item in enumerate(items)]
            if len(items) < MAX_TAKE:
                return webhooks
            skip += len(items)

    def create_webhook(self, subscriber_url, triggers, secret, active=True):
        """Subscribe ``subscriber_url`` to ``triggers``, signed with ``secret``. WebhookExists when the user
        already has a webhook for this URL; ValueError for a trigger name Cal.com does not know."""
        body = {"subscriberUrl": subscriber_url, "triggers": _triggers(triggers), "active": bool(active),
                "secret": secret}
        try:
            data = self._call("POST", "/v2/webhooks", action="webhooks.create", json=body)
        except ProviderRequestError as exc:
            if exc.status_code == 409:
                raise WebhookExists(
                    "Cal.com already has a webhook for this address. Remove it in Cal.com or keep using it.",
                    status_code=409, provider=self.provider, provider_message=exc.provider_message) from exc
            raise
        return _webhook(data, "data")

    def update_webhook(self, webhook_id, **fields):
        """Change the given fields (``subscriber_url``, ``triggers``, ``active``, ``secret``; camelCase works too)."""
        body = _camel_fields(fields)
        if "triggers" in body:
            body["triggers"] = _triggers(body["triggers"])
        data = self._call("PATCH", f"/v2/webhooks/{webhook_id}", action="webhooks.update", json=body)
        return _webhook(data, "data")

    def delete_webhook(self, webhook_id):
        """Delete a webhook; returns what it was."""
        data = self._call("DELETE", f"/v2/webhooks/{webhook_id}", action="webhooks.delete")
        return _webhook(data, "data")


def _triggers(triggers):
    """The trigger list, checked against the names Cal.com knows (an unknown one would be a 400)."""
    triggers = [triggers] if isinstance(triggers, str) else list(triggers)
    if not triggers:
        raise ValueError("A Cal.com webhook needs at least one trigger.")
    unknown = sorted(set(triggers) - WEBHOOK_TRIGGERS)
    if unknown:
        raise ValueError("Unknown Cal.com webhook triggers: " + ", ".join(unknown))
    return triggers
