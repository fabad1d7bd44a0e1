"""What every access adapter (Fitpass, Friction, Wellhub) must do when its provider gives no usable answer: raise,
so the desk fails closed. One shape for the three, against each provider's fake: an answer slower than the
timeout, a 5xx, an HTML page, a connection cut without an answer, and nothing listening at all."""

import pytest

from app.providers.base import ProviderBadResponse, ProviderNotAnswering, ProviderUnreachable
from app.providers.fitpass import access as fitpass
from app.providers.friction import access as friction
from app.providers.wellhub import access as wellhub
from tests.fakes import fitpass as fitpass_fake
from tests.fakes import friction as friction_fake
from tests.fakes import wellhub as wellhub_fake

# provider: (its adapter, its fake, the secret, the settings, a code of a member the fake lets in)
PROVIDERS = {
    "fitpass": (fitpass, fitpass_fake.FitpassFake, fitpass_fake.DEFAULT_SECRET,
                {"sport_partner": fitpass_fake.SPORT_PARTNER, "user_id": fitpass_fake.PARTNER_USER}, "FP-7Q2K9D4M"),
    "friction": (friction, friction_fake.FrictionFake, None, {"partner_id": friction_fake.PARTNER_ID},
                 friction_fake.vcard("100234", friction_fake.DEMO_MEMBERS["100234"]["security_code"])),
    "wellhub": (wellhub, wellhub_fake.WellhubFake, wellhub_fake.DEFAULT_TOKEN, {"gym_id": wellhub_fake.GYM_ID},
                "1234567890123"),
}


@pytest.fixture(scope="module", params=list(PROVIDERS))
def provider(request):
    """(adapter, running fake, secret, settings, code) of each provider in turn."""
    adapter, fake_class, secret, settings, code = PROVIDERS[request.param]
    with fake_class(slow_seconds=1.0) as fake:
        yield adapter, fake, secret, settings, code


def check(provider, url=None, timeout=0.5):
    """Validate the provider's good code against its fake (or ``url``)."""
    adapter, fake, secret, settings, code = provider
    return adapter.validate(url or fake.url, secret, settings, adapter.parse_code(code), timeout_seconds=timeout)


@pytest.fixture(autouse=True)
def fresh(provider, app):
    """Each test starts with the fake answering normally."""
    provider[1].reset()


def test_the_good_code_is_let_in(provider):
    assert check(provider)["decision"] == "allow"


def test_slow_answer_past_the_timeout(provider):
    provider[1].set_scenario("slow", times=1)
    with pytest.raises(ProviderNotAnswering):
        check(provider, timeout=0.3)


@pytest.mark.parametrize("scenario, error", [("500", ProviderUnreachable), ("html", ProviderBadResponse),
                                             ("down", ProviderUnreachable)])
def test_failures_raise_so_the_desk_fails_closed(provider, scenario, error):
    provider[1].set_scenario(scenario, times=1)
    with pytest.raises(error):
        check(provider)


def test_nothing_listening_is_unreachable(provider):
    closed = type(provider[1])().start()
    url = closed.url
    closed.stop()
    with pytest.raises(ProviderUnreachable):
        check(provider, url=url)
