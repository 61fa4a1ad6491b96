"""Form shapes for surveys and production runs; the rules live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class SurveyForm(FlaskForm):
    full_name = StringField(_l("Name on the parcel"), validators=[DataRequired(), Length(2, 120)])
    address_line1 = StringField(_l("Street address"), validators=[DataRequired(), Length(3, 200)])
    address_line2 = StringField(_l("Address line 2"), validators=[Optional(), Length(max=200)])
    postal_code = StringField(_l("Postal code"), validators=[DataRequired(), Length(2, 20)])
    city = StringField(_l("City"), validators=[DataRequired(), Length(1, 100)])
    country = StringField(
        _l("Country code"), validators=[DataRequired(), Length(2, 2)], description="FR, DE, GB…"
    )
    phone = StringField(_l("Phone (for the carrier)"), validators=[Optional(), Length(max=40)])
    variant_confirmed = BooleanField(_l("This is the variant and quantity I want"))
    submit = SubmitField(_l("Save my shipping details"))


class LaunchRunForm(FlaskForm):
    manufacturer = StringField(_l("Manufacturer"), validators=[DataRequired(), Length(2, 120)])
    reference = StringField(
        _l("Manufacturer's reference"), validators=[DataRequired(), Length(1, 80)]
    )
    expected_ship_date = DateField(_l("Expected ship date"), validators=[DataRequired()])
    submit = SubmitField(_l("Launch the production run"))


class StepForm(FlaskForm):
    event = HiddenField(validators=[DataRequired()])


class TrackingForm(FlaskForm):
    lines = TextAreaField(
        _l("Orders shipped"),
        validators=[DataRequired()],
        description=_l("One per line: order number, comma, tracking reference."),
    )
    submit = SubmitField(_l("Mark shipped"))


class ShipOneForm(FlaskForm):
    tracking = StringField(_l("Tracking reference"), validators=[DataRequired(), Length(1, 80)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Public reason"), validators=[DataRequired(), Length(10, 1000)])
    submit = SubmitField(_l("Cancel the run and refund everyone"))
