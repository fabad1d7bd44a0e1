"""Words for the scheduling domain's stored codes, as a practice reads them."""

from flask_babel import lazy_gettext as _l

from app.scheduling.hours import SICKNESS, TRAINING, VACATION

ABSENCE_REASON_LABELS = {
    VACATION: _l("Vacation"),
    SICKNESS: _l("Sick leave"),
    TRAINING: _l("Further training"),
}


# Words for the resource kinds the hub itself uses (a practice may type other kinds, shown as typed).
RESOURCE_KIND_LABELS = {"room": _l("treatment room"), "device": _l("device"), "group_room": _l("group room")}


def resource_kind_label(kind):
    """The word for a resource kind (the kind itself when the practice named its own)."""
    label = RESOURCE_KIND_LABELS.get(kind)
    return str(label) if label is not None else kind


def absence_reason_label(reason):
    """The word for an absence reason (the code itself for an unknown one)."""
    label = ABSENCE_REASON_LABELS.get(reason)
    return str(label) if label is not None else reason


def register_labels():
    """Name the scheduling domain's audit actions, objects and details for the audit log."""
    from app.platform.audit.labels import register_action_labels, register_audit_labels

    actions = {
        "appointment.create": _l("Appointment booked"),
        "appointment.update": _l("Appointment changed"),
        "appointment.cancel": _l("Appointment cancelled"),
        "series.create": _l("Treatment series booked"),
    }
    kinds = {
        "appointment_type": (_l("Appointment type created"), _l("Appointment type changed"),
                             _l("Appointment type deactivated")),
        "resource": (_l("Room or device created"), _l("Room or device changed"), _l("Room or device deactivated")),
        "opening_hours": (_l("Opening hours added"), _l("Opening hours changed"), _l("Opening hours removed")),
        "working_hours": (_l("Working hours added"), _l("Working hours changed"), _l("Working hours removed")),
        "break": (_l("Break added"), _l("Break changed"), _l("Break removed")),
        "absence": (_l("Absence entered"), _l("Absence changed"), _l("Absence removed")),
        "closure": (_l("Closure entered"), _l("Closure changed"), _l("Closure removed")),
        "holiday_opening": (_l("Opening on a public holiday entered"), _l("Opening on a public holiday changed"),
                            _l("Opening on a public holiday removed")),
    }
    for kind, (created, changed, removed) in kinds.items():
        actions[f"{kind}.create"], actions[f"{kind}.update"] = created, changed
        actions[f"{kind}.deactivate" if kind in ("appointment_type", "resource") else f"{kind}.delete"] = removed
    actions.update({"appointment_type.delete": _l("Appointment type deleted"),
                    "appointment_type.activate": _l("Appointment type activated"),
                    "resource.delete": _l("Room or device deleted"),
                    "resource.activate": _l("Room or device activated")})
    register_action_labels(actions)
    register_audit_labels(
        objects={"appointment": _l("Appointment"), "treatment_series": _l("Treatment series"),
                 "appointment_type": _l("Appointment type"),
                 "resource": _l("Room or device"), "opening_hours": _l("Opening hours"),
                 "working_hours": _l("Working hours"), "break": _l("Break"), "absence": _l("Absence"),
                 "closure": _l("Closure"), "holiday_opening": _l("Opening on a public holiday")},
        meta={"override_reason": _l("Reason for the override"), "conflicts": _l("Conflicts booked over"),
              "starts_at": _l("Start"), "before": _l("Before"), "fields": _l("Fields"),
              "units_prescribed": _l("Units prescribed"), "units_booked": _l("Units booked")},
        values={"patient_busy": _l("Patient already booked"), "outside_working_hours": _l("Outside working hours"),
                "outside_opening_hours": _l("Outside opening hours"), "break": _l("Break"),
                "absence": _l("Absence"), "closure": _l("Closure"), "holiday": _l("Public holiday")})
