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
    from app.appointments.merge import move_appointments_and_calls, return_appointments_and_calls
    from app.patients.merge import register_merge_step

    # a merged record's appointments and calls move along, and back when the merge is undone
    register_merge_step(app, move_appointments_and_calls, reverse=return_appointments_and_calls)
    from app.appointments.history import appointment_history
    from app.platform.audit.history import register_history_source

    register_history_source(app, appointment_history)  # appointments and calls in the record's Verlauf

    from app.appointments.calls import init_app as init_calls

    init_calls(app)
    from app.appointments.home import register_panels as register_home_panels

    register_home_panels(app)  # the day on the home page (app.accounts.home)
