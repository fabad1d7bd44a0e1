"""The integrations domain's home-page panel (app.accounts.home): the hub's health for admins, one line per
provider from the stored health rows (the same single statement as the hub's status cards), never a provider
call. Providers that are not configured are left out; a practice without any sees a pointer to the hub."""

from dataclasses import dataclass

from app.accounts.home import register_home_panel
from app.integrations.models import OK, RATE_LIMITED
from app.integrations.routes.blueprint import STATE_BADGES, STATE_LABELS
from app.integrations.service import status_cards


@dataclass(frozen=True)
class HubHealth:
    """The configured providers' cards and how many of them need attention (not OK)."""

    cards: list

    @property
    def problems(self):
        """The cards whose provider is not OK (rate-limited only asks us to wait, so it is not a problem)."""
        return [card for card in self.cards if card.health.state not in (OK, RATE_LIMITED)]

    @staticmethod
    def state_label(state):
        """The readable name of a health state."""
        return STATE_LABELS.get(state, state)

    @staticmethod
    def state_badge(state):
        """The badge class of a health state."""
        return STATE_BADGES.get(state, "badge-muted")


def hub_health_panel(user):
    """Panel "hub_health": the stored health of each configured provider of the user's practice."""
    return HubHealth([card for card in status_cards(user.practice_id) if card.configured])


def register_panels(app):
    """Register the integrations domain's home panel."""
    register_home_panel(app, "hub_health", permission="integrations.manage", template="home/_hub_health.html",
                        context=hub_health_panel, order=50)
