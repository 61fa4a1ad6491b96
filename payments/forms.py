"""Operators' forms for settlement: shape only."""

from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length


class RefundForm(FlaskForm):
    reason = TextAreaField(
        "Reason (the backer reads it)",
        validators=[DataRequired("Give a reason."), Length(10, 500)],
    )
    submit = SubmitField("Refund")


class PayoutForm(FlaskForm):
    amount = StringField("Amount", validators=[DataRequired(), Length(max=12)])
    currency = StringField("Currency", validators=[DataRequired(), Length(3, 3)])
    reference = StringField("Transfer reference", validators=[DataRequired(), Length(3, 120)])
    submit = SubmitField("Record the payout")
