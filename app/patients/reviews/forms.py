"""Forms of the review list."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.validators import InputRequired, Optional


class ReviewAcceptForm(FlaskForm):
    """Keep the patient, optionally choosing their therapist (the sync may have created them without one)."""

    therapist_id = SelectField(_l("Therapist"), coerce=str, validators=[Optional()])


class ReviewLinkForm(FlaskForm):
    """Link the created patient to an existing one (chosen from the likely matches or the search)."""

    patient_id = IntegerField(_l("Patient"), validators=[InputRequired(_l("Please choose a patient."))])
