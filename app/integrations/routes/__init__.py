"""The Integration Hub (/integrations): the Übersicht tab with a status card and a 24-hour chart per provider, a
tab per provider (settings with an inline key check, its webhook, sync runs and, when its hooks ask for them, the
mappings), and the tab of each webhook source that has one of its own (its webhook card and event log).

``integrations.view`` may look at everything; changing anything needs ``integrations.manage``. Provider calls happen
only where a person asks for one (key check, save, webhook registration, the choices of a setting chosen from the
provider's objects); the status poll and the pages read cached rows and never call a provider.

One blueprint (``hub``, defined in blueprint.py with what all views share); its views live in one module per area,
imported here so that importing this package attaches them all."""

from app.integrations.routes import mappings, pages, runs, settings, webhooks  # noqa: F401 (attach the views)
from app.integrations.routes.blueprint import bp

__all__ = ["bp"]
