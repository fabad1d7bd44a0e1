"""The record's Mitgliedschaften tab (registered with the patients domain, app.patients.tabs): the patient's linked
memberships with their check-in count and last visit."""

from app.access.adapters import provider_label
from app.access.memberships import patient_memberships


def memberships_context(patient):
    """What the Mitgliedschaften tab shows (the record itself already checked that the user may see the patient)."""
    return {"memberships": patient_memberships(patient), "provider_label": provider_label}
