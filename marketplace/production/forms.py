"""Form shapes for surveys and production runs; the rules live in services."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class SurveyForm(FlaskForm):
    full_name = StringField("Name on the parcel", validators=[DataRequired(), Length(2, 120)])
    address_line1 = StringField("Street address", validators=[DataRequired(), Length(3, 200)])
    address_line2 = StringField("Address line 2", validators=[Optional(), Length(max=200)])
    postal_code = StringField("Postal code", validators=[DataRequired(), Length(2, 20)])
    city = StringField("City", validators=[DataRequired(), Length(1, 100)])
    country = StringField(
        "Country code", validators=[DataRequired(), Length(2, 2)], description="FR, DE, GB…"
    )
    phone = StringField("Phone (for the carrier)", validators=[Optional(), Length(max=40)])
    variant_confirmed = BooleanField("This is the variant and quantity I want")
    submit = SubmitField("Save my shipping details")


class LaunchRunForm(FlaskForm):
    manufacturer = StringField("Manufacturer", validators=[DataRequired(), Length(2, 120)])
    reference = StringField("Manufacturer's reference", validators=[DataRequired(), Length(1, 80)])
    expected_ship_date = DateField("Expected ship date", validators=[DataRequired()])
    submit = SubmitField("Launch the production run")


class StepForm(FlaskForm):
    event = HiddenField(validators=[DataRequired()])


class TrackingForm(FlaskForm):
    lines = TextAreaField(
        "Orders shipped",
        validators=[DataRequired()],
        description="One per line: order number, comma, tracking reference.",
    )
    submit = SubmitField("Mark shipped")


class ShipOneForm(FlaskForm):
    tracking = StringField("Tracking reference", validators=[DataRequired(), Length(1, 80)])


class ReasonForm(FlaskForm):
    reason = TextAreaField("Public reason", validators=[DataRequired(), Length(10, 1000)])
    submit = SubmitField("Cancel the run and refund everyone")
