"""Every action the app writes to the audit log has a readable name, in German too."""

import re
from pathlib import Path

from flask_babel import force_locale

from app.platform.audit.labels import ACTION_LABELS, action_label

APP = Path(__file__).resolve().parents[3] / "app"
# A call that writes an audit entry (record, the services' _audit helpers, appointments' audit_record); every
# dotted string literal on its line is an action, which also catches `"a" if active else "b"`.
_AUDIT_CALL = re.compile(r"(?<![.\w])(?:record|_audit|audit_record)\(")  # not metrics.record
_ACTION = re.compile(r'"([a-z_]+(?:\.[a-z_]+)+|logout)"')


def recorded_actions():
    """The actions named at the app's audit calls."""
    found = set()
    for path in APP.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if _AUDIT_CALL.search(line):
                found.update(_ACTION.findall(line))
    return found


def test_every_recorded_action_has_a_label():
    actions = recorded_actions()
    assert {"patient.view", "login.success", "logout", "user.deactivate", "webhook.endpoint.disable"} <= actions
    assert actions - ACTION_LABELS.keys() == set()


def test_labels_are_translated_and_unknown_actions_show_their_code(app):
    with app.test_request_context(), force_locale("de"):
        assert str(action_label("patient.view")) == "Akte geöffnet"
        assert action_label("something.new") == "something.new"
