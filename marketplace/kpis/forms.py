"""Form shapes of the dashboard; the rules live in ``targets``."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, RadioField, SelectChoice, SelectField, SubmitField
from wtforms.validators import InputRequired, NumberRange

from .dashboard import INDICATORS


class TargetForm(FlaskForm):
    indicator = SelectField(
        _l("Indicator"),
        choices=[SelectChoice(i.key, i.label) for i in INDICATORS],
        validators=[InputRequired(_l("Choose an indicator from the list."))],
    )
    kind = RadioField(
        _l("Target"),
        choices=[
            SelectChoice("change", _l("A change over the previous period, in %")),
            SelectChoice("at_least", _l("A level to reach (in the indicator's unit)")),
        ],
        default="change",
        validators=[InputRequired(_l("Choose what kind of target it is."))],
    )
    value = DecimalField(
        _l("Value"),
        places=None,
        validators=[
            InputRequired(_l("Write the target as a number, such as 15 or 4.2.")),
            NumberRange(min=-1_000_000, max=100_000_000),
        ],
        description=_l("For example 15 for +15 %, or 4.2 for 4.2 stars."),
        render_kw={"inputmode": "decimal", "step": "any"},
    )
    submit = SubmitField(_l("Set the target"))
