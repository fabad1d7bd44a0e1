"""Tabs that other domains add to the patient record (the appointments domain adds Termine and Anrufe). A tab
keeps its URL (``/patients/<id>/<name>``) and its part of ``patients/_tab.html``; what it shows comes from the
``context(patient)`` its domain registers, so the patients domain never imports the domains above it."""

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

PATIENT_TABS = "praxis.patient_tabs"


@dataclass(frozen=True)
class PatientTab:
    """A registered tab: ``context(patient)`` returns the template values it needs (it may abort with 403 when
    the user may not see it); ``fragment`` is the (target id, template) of a region of the tab that htmx may ask
    for alone, if any."""

    name: str
    context: Callable
    fragment: tuple[str, str] | None = None


def register_patient_tab(app, name, context, fragment=None):
    """Let the record's tab ``name`` show what ``context(patient)`` returns."""
    app.extensions.setdefault(PATIENT_TABS, {})[name] = PatientTab(name, context, fragment)


def patient_tab(name):
    """The registered tab ``name``, or None."""
    return current_app.extensions.get(PATIENT_TABS, {}).get(name)
