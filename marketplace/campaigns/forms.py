"""Form shapes for campaigns and pledges; the rules live in services."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from .models import CURRENCIES, MAX_UNITS_PER_PLEDGE

_amount = [DataRequired("Enter an amount, like 25.00."), Length(max=12)]


class CampaignForm(FlaskForm):
    product_name = StringField("Product name", validators=[DataRequired(), Length(3, 80)])
    unit_price = StringField("Unit price", validators=_amount)
    currency = SelectField("Currency", choices=[SelectChoice(c, c) for c in CURRENCIES])
    goal_units = IntegerField(
        "Goal (units)",
        validators=[InputRequired("Enter the minimum production run."), NumberRange(1, 100_000)],
    )
    variants = TextAreaField(
        "Variants",
        validators=[DataRequired("List at least one variant.")],
        description="One per line. Add a limit after a colon: “M: 50”. No limit: just “M”.",
    )
    production_cost = StringField("Production cost per unit", validators=_amount)
    royalty = StringField("Designer royalty per unit", validators=_amount)
    platform = StringField("Platform share per unit", validators=_amount)
    starts_at = DateTimeLocalField(
        "Starts (UTC)", format="%Y-%m-%dT%H:%M", validators=[InputRequired()]
    )
    deadline = DateTimeLocalField(
        "Deadline (UTC)",
        format="%Y-%m-%dT%H:%M",
        validators=[InputRequired()],
        description="1 to 60 days after the start. Cards are charged then, if the goal is met.",
    )
    submit = SubmitField("Open the campaign")


class PledgeForm(FlaskForm):
    variant_id = SelectField("Variant", coerce=int, validate_choice=False)
    quantity = IntegerField(
        "Quantity",
        default=1,
        validators=[
            InputRequired("How many?"),
            NumberRange(1, MAX_UNITS_PER_PLEDGE, f"From 1 to {MAX_UNITS_PER_PLEDGE}."),
        ],
    )
    #: Made when the form is shown; the same form submitted twice makes one pledge.
    idempotency_key = HiddenField()
    submit = SubmitField("Pledge")


class ChangePledgeForm(FlaskForm):
    variant_id = SelectField("Variant", coerce=int, validate_choice=False)
    quantity = IntegerField(
        "Quantity", validators=[InputRequired(), NumberRange(1, MAX_UNITS_PER_PLEDGE)]
    )
    submit = SubmitField("Save changes")


class CancelCampaignForm(FlaskForm):
    reason = TextAreaField(
        "Public reason", validators=[DataRequired("Give a reason."), Length(10, 1000)]
    )
    submit = SubmitField("Cancel the campaign")


class DeadlineForm(FlaskForm):
    deadline = DateTimeLocalField(
        "New deadline (UTC)", format="%Y-%m-%dT%H:%M", validators=[InputRequired()]
    )
    submit = SubmitField("Move the deadline")


class UpdateForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(3, 120)])
    body = TextAreaField("Text", validators=[DataRequired(), Length(max=5000)])
    backers_only = BooleanField("Backers only")
    submit = SubmitField("Post update")
