"""Forms of the calls inbox. A new patient for a call is entered with the patients domain's own form
(app.patients.forms.PatientForm), so the fields and their rules are the same as on the patients page."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired


class CallAssignForm(FlaskForm):
    """Assign a call to an existing patient (chosen from the search's results)."""

    patient_id = IntegerField(_l("Patient"), validators=[InputRequired(_l("Please choose a patient."))])
