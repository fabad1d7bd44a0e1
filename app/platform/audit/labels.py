"""What each audited action means, in words, for the people who read the audit log and a patient's history. Each
domain registers the labels of the actions it records (``register_action_labels`` in its ``init_app``); a test
checks that every action the app records is named."""

# Action code -> lazy label; the code stays the filter key and is shown beside the name in the audit log.
ACTION_LABELS = {}


def action_label(action):
    """The readable name of an audit action; the code itself for an action without one (say, from an older
    release)."""
    return ACTION_LABELS.get(action, action)


def register_action_labels(labels):
    """Name the actions of ``labels`` (action code -> lazy string)."""
    ACTION_LABELS.update(labels)
