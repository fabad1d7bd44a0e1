"""What each audited action means, in words, for the people who read the audit log and a patient's history. Each
domain registers the labels of the actions it records (``register_action_labels`` in its ``init_app``); a test
checks that every action the app records is named."""

from flask_babel import lazy_gettext as _l

# What each recorded action means, for the people who read the audit log and a patient's history; the code stays
# the filter key and is shown beside the name in the audit log. A test checks that every action the app records
# is named here.
ACTION_LABELS = {
    "integration.update": _l("Integration settings changed"),
    "integration.mapping.update": _l("Integration mapping changed"),
    "integration.webhook.register": _l("Webhook registered with the provider"),
    "webhook.endpoint.create": _l("Webhook endpoint created"),
    "webhook.endpoint.enable": _l("Webhook endpoint enabled"),
    "webhook.endpoint.disable": _l("Webhook endpoint disabled"),
    "webhook.secret.rotate": _l("Webhook secret rotated"),
    "webhook.replay": _l("Webhook event replayed"),
    "payload.reveal": _l("Webhook payload revealed"),
}


def action_label(action):
    """The readable name of an audit action; the code itself for an action without one (say, from an older
    release)."""
    return ACTION_LABELS.get(action, action)


def register_action_labels(labels):
    """Name the actions of ``labels`` (action code -> lazy string)."""
    ACTION_LABELS.update(labels)
