"""Operators' forms for settlement: shape only."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length


class RefundForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason (the backer reads it)"),
        validators=[DataRequired(_l("Give a reason.")), Length(10, 500)],
    )
    submit = SubmitField(_l("Refund"))


class PayoutForm(FlaskForm):
    amount = StringField(_l("Amount"), validators=[DataRequired(), Length(max=12)])
    currency = StringField(_l("Currency"), validators=[DataRequired(), Length(3, 3)])
    reference = StringField(_l("Transfer reference"), validators=[DataRequired(), Length(3, 120)])
    submit = SubmitField(_l("Record the payout"))
