"""Registering our Cal.com webhook writes nothing until Cal.com has answered (no transaction waits for it), so two
admins pressing "register" at the same moment both reach Cal.com before either stores the endpoint. Real threads,
on a SQLite file: one registration is stored, the other is told to register again; nothing fails with a database
error, and the endpoint we keep is the one Cal.com posts to, with the secret Cal.com signs with."""

import threading

import pytest

from app.accounts.models import User
from app.integrations.service import register_webhook
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.actor import Actor
from app.platform.security.crypto import decrypt_secret
from app.webhooks.endpoints import endpoint_url, practice_endpoints
from tests.fakes.calcom import CalcomFake
from tests.fakes.retell import RetellFake
from tests.helpers import at_once
from tests.hub_support import CALCOM_KEY, connect, file_database, hub_overrides


@pytest.fixture
def calcom():
    """A Cal.com fake of this test alone (its hook must not outlive it)."""
    with CalcomFake(valid_keys={CALCOM_KEY}) as fake:
        yield fake


@pytest.fixture
def app_overrides(calcom, tmp_path):
    """The hub pointed at the fakes, on a SQLite file so each thread has its own connection."""
    with RetellFake() as retell:
        yield hub_overrides(calcom, retell, **file_database(tmp_path))


def test_two_admins_registering_at_once(app, calcom, practice, make_user, english_messages):
    """Both registrations list Cal.com's webhooks before either creates one (the fake holds the two lists until
    both have arrived), so both reach Cal.com under URLs of their own. One endpoint is stored; the other admin gets
    a message saying to register again; the stored endpoint's secret is the one of the Cal.com webhook posting to
    its URL."""
    admins = [make_user(role="admin"), make_user(role="admin")]
    connect(admins[0], "calcom")
    practice_id = practice.id
    both_listed = threading.Barrier(2, timeout=10)

    def hold_the_lists(recorded):
        if recorded.method == "GET" and recorded.path == "/v2/webhooks":
            both_listed.wait()

    calcom.on_request = hold_the_lists
    turns = iter([admin.id for admin in admins])
    lock = threading.Lock()

    def register():
        with lock:
            admin_id = next(turns)
        admin = db.session.get(User, admin_id)
        try:
            return register_webhook(Actor(user=admin), admin.practice, "calcom")
        except ServiceError as error:
            return error.message

    outcomes = at_once(app, 2, register)

    endpoint = practice_endpoints(practice_id)["calcom"]
    url = endpoint_url(endpoint)
    assert sorted(outcomes) == sorted([url, "The webhook endpoint was changed by someone else while it was being "
                                            "registered. Register it again."])
    [ours] = [hook for hook in calcom.webhooks.values() if hook["subscriberUrl"] == url]
    assert ours["secret"] == decrypt_secret(endpoint.secret) and endpoint.secret_version == 1
