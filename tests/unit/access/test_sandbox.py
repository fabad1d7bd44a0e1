"""The sandbox demo: with HUB_SANDBOX the demo location gets the three providers against the fakes and two demo
memberships, and the listed codes really are recognised; without it nothing is added."""

import pytest
from sqlalchemy import select

from app.access.adapters import detect
from app.access.models import AccessProvider, Membership
from app.access.sandbox import DEMO_CODES, load_sandbox_access
from app.demo import load_demo
from app.tenancy.models import Practice


@pytest.fixture
def app_overrides():
    return {"HUB_SANDBOX": True}


def test_demo_enables_providers_and_links_members_once(db):
    load_demo()
    practice = db.session.scalar(select(Practice).where(Practice.slug == "demo"))
    assert sorted(db.session.scalars(select(AccessProvider.provider).where(
        AccessProvider.practice_id == practice.id))) == ["fitpass", "friction", "wellhub"]
    assert len(db.session.scalars(select(Membership)).all()) == 2
    assert load_sandbox_access(practice) == 0  # idempotent


def test_every_listed_code_is_routed_to_a_provider():
    assert all(detect(code).provider for code, _meaning in DEMO_CODES)


def test_codes_page_only_in_the_sandbox(client, auth):
    auth.login("assistant")
    assert "FP-ENDED005" in client.get("/access/sandbox-codes").get_data(as_text=True)
    assert client.get("/access/checkin").status_code == 200


def test_the_fakes_runner_starts_an_access_fake_only_when_given_its_port():
    from tests.fakes.__main__ import build_fakes, parse_args

    names = [name for name, _fake in build_fakes(parse_args(["--fitpass-port", "0", "--wellhub-port", "0"]))]
    assert names == ["calcom", "retell", "fitpass", "wellhub"]
