"""Operators' forms for settlement: shape only."""

from flask_wtf import FlaskForm
from wtforms import SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length


class RefundForm(FlaskForm):
    reason = TextAreaField(
        "Reason (the backer reads it)",
        validators=[DataRequired("Give a reason."), Length(10, 500)],
    )
    submit = SubmitField("Refund")
