"""The appointment cache from every source (the booking tool, Cal.com, later local ones) and the voice-agent call
log: applying records to it, reading it for the record's Termine and Anrufe tabs, the JSON API and the patient's
own "Meine Termine" page."""


def init_app(app):
    """Register the "Meine Termine" blueprint, the API endpoints, the record's Termine and Anrufe tabs, and that an
    appointment with a therapist makes the patient the therapist's own."""
    from app.appointments import api  # noqa: F401 (attaches the endpoints to the /api blueprint)
    from app.appointments.routes import bp
    from app.appointments.service import has_appointment_with
    from app.appointments.tabs import appointments_context, calls_context
    from app.patients.service import register_ownership
    from app.patients.tabs import register_patient_tab

    app.register_blueprint(bp)
    register_ownership(app, has_appointment_with)
    register_patient_tab(app, "termine", appointments_context,
                         fragment=("patient-appointments", "patients/_appointments.html"))
    register_patient_tab(app, "anrufe", calls_context)
