"""Form shapes for ratings; the rules live in services and photos."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from .models import REVIEW_MAX_CHARS
from .services import REPLY_MAX_CHARS

_SCORE_NEEDED = _l("Choose a score from 1 to 5 stars.")
_RECOMMEND_RANGE = _l("Choose how likely you are to recommend Cocréa from 0 to 10, or skip it.")
#: The 0-10 scale of "would you recommend us" (the service and the database check it too).
RECOMMEND_CHOICES = [SelectChoice(n, str(n)) for n in range(11)]


def optional_int(value):
    """A skipped question ("" or nothing) is None; anything else must be a whole number
    (a ValueError gives the field's message)."""
    if value is None or value == "":
        return None
    return int(value)


class RatingForm(FlaskForm):
    score = RadioField(
        _l("Your score"),
        coerce=int,
        choices=[SelectChoice(n, str(n)) for n in range(5, 0, -1)],
        validate_choice=False,
        validators=[InputRequired(_SCORE_NEEDED), AnyOf(range(1, 6), message=_SCORE_NEEDED)],
    )
    recommend = RadioField(
        _l("How likely are you to recommend Cocréa to a friend? (optional)"),
        coerce=optional_int,
        choices=RECOMMEND_CHOICES,
        # The choices are checked by AnyOf below, which lets "skipped" (None) through.
        validate_choice=False,
        invalid_value_message=_RECOMMEND_RANGE,
        validators=[AnyOf([None, *range(11)], message=_RECOMMEND_RANGE)],
        description=_l("Private: only the Cocréa team sees it, and only in totals."),
    )
    review = TextAreaField(
        _l("Your review (optional)"),
        validators=[
            Length(max=REVIEW_MAX_CHARS, message=_l("A review has at most 5,000 characters."))
        ],
        description=_l(
            "What you liked, what could be better: other backers and the designer read it."
        ),
    )
    photos = MultipleFileField(
        _l("Photos (optional)"),
        render_kw={"accept": "image/png,image/jpeg,image/webp"},
    )
    remove_photos = SelectMultipleField(
        _l("Remove these photos"),
        coerce=int,
        choices=[],
        validate_choice=False,
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )
    #: "1" when the form edits the rating shown; a new rating's form sent twice is refused.
    editing = HiddenField()
    submit = SubmitField(_l("Save my rating"))


class ReplyForm(FlaskForm):
    body = TextAreaField(
        _l("Your public answer"),
        validators=[
            DataRequired(_l("Write your answer first.")),
            Length(max=REPLY_MAX_CHARS, message=_l("An answer has at most 2,000 characters.")),
        ],
    )
    submit = SubmitField(_l("Answer"))
