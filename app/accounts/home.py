"""The home page's panels: what a signed-in person sees first, built from panels the domains register.

The accounts domain owns the page (``dashboard.index``) but knows no domain above it, so it cannot ask for today's
appointments, failed webhook events or the hub's health itself. Each domain registers its panels instead, from its
``init_app``, exactly like a patient tab (app.patients.tabs) or a navigation entry::

    from app.accounts.home import register_home_panel

    register_home_panel(app, "open_calls", permission="calls.manage", template="home/_open_calls.html",
                        context=open_calls_panel, order=30)

The contract, for whoever adds a panel (the calls inbox's "Offene Anrufe" and "Zu prüfende Patienten", the
practice's calendar, the patient-flow board):

- ``name`` is unique; registering a name again replaces the panel (so a later module, say the calendar, can take
  over "today" from the appointment cache by registering the same name).
- ``permission`` is the permission code a user needs (app.platform.security.permissions), or None for every
  signed-in user. It is checked before ``context`` is called; a role without it never runs the panel's queries.
- ``context(user)`` returns the panel's data (any object, passed to the template as ``panel``) or None to hide the
  panel (nothing to show, or not meant for this user's scope: a therapist's "own" scope, say). It must read with a
  fixed number of statements however many rows it shows (bounded, indexed queries, related rows loaded with the
  first query): the page is everybody's first request of the day, and a test counts its statements. It must never
  call a provider: health comes from stored rows. It reads only the user's practice.
- ``template`` renders one panel: an ``<article>`` whose ``id`` is ``home-<name with dashes>``; it receives
  ``panel`` (what ``context`` returned) and ``panel_name``. Every item links to the page where it is handled.
- ``order`` sorts the panels, ascending: 10-29 the day (appointments, arrivals), 30-49 what needs a person
  (calls, flagged patients, reviews), 50-69 the hub's health and events, 70+ the rest.
"""

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from app.platform.security.permissions import has_permission

HOME_PANELS = "praxis.home_panels"


@dataclass(frozen=True)
class HomePanel:
    """A registered panel (see the module docstring for the contract)."""

    name: str
    permission: str | None
    template: str
    context: Callable
    order: int

    @property
    def dom_id(self):
        """The id of the panel's root element (``home-<name>``, kebab-case)."""
        return "home-" + self.name.replace("_", "-")


def register_home_panel(app, name, *, permission, template, context, order=100):
    """Show the panel ``name`` on the home page to users with ``permission`` (None: everybody signed in), rendered
    with ``template`` from what ``context(user)`` returns (None hides it), at position ``order`` (ascending)."""
    app.extensions.setdefault(HOME_PANELS, {})[name] = HomePanel(name, permission, template, context, order)


def registered_panels(app=None):
    """Every registered panel in page order."""
    panels = (app or current_app).extensions.get(HOME_PANELS, {}).values()
    return sorted(panels, key=lambda panel: (panel.order, panel.name))


def home_panels(user):
    """The panels ``user`` sees, in order, each as (panel, data): those whose permission the user has and whose
    context returned something."""
    shown = []
    for panel in registered_panels():
        if panel.permission is not None and not has_permission(user, panel.permission):
            continue
        data = panel.context(user)
        if data is not None:
            shown.append((panel, data))
    return shown
