"""Form shapes for redesign challenges; the rules live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectMultipleField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget


class OpenChallengeForm(FlaskForm):
    brief = TextAreaField(
        _l("Brief (public): why it is redesigned, what to aim for"),
        validators=[
            DataRequired(_l("Write the brief.")),
            Length(20, 4000, message=_l("Write a brief of 20 to 4,000 characters.")),
        ],
        render_kw={"rows": 4},
    )
    deadline = DateTimeLocalField(
        _l("Deadline for redesigns (UTC)"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()]
    )
    #: The choices are the design's reviews, filled in by the view.
    reviews = SelectMultipleField(
        _l("Reviews the brief draws on"),
        coerce=int,
        choices=[],
        validate_choice=False,
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )
    submit = SubmitField(_l("Open the challenge"))
