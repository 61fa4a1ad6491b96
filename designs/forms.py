"""Form shapes for designs; the rules live in services and images."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from .images import DEFAULT_MAX_PIXELS, MAX_BYTES, MAX_SIDE
from .models import DECLINE_REASONS, NOT_SELECTED_REASONS


def artwork_hint(max_pixels: int = DEFAULT_MAX_PIXELS) -> str:
    """What the artwork field accepts; the views give it the configured pixel budget."""
    return (
        f"PNG, JPEG or WebP; at most {MAX_BYTES // (1024 * 1024)} MB, {MAX_SIDE:,} pixels a "
        f"side and {max_pixels / 1_000_000:g} megapixels in all."
    )


class DesignForm(FlaskForm):
    title = StringField(
        "Title", validators=[DataRequired("Give your design a title."), Length(3, 80)]
    )
    description = TextAreaField(
        "Description",
        validators=[Length(max=2000, message="Use at most 2,000 characters.")],
        description="Plain text; line breaks are kept.",
    )
    product_id = SelectField("Product", coerce=int, validators=[InputRequired("Choose a product.")])
    variants = StringField(
        "Variants you propose",
        description="Separated by commas, e.g. S, M, L, XL or Black, White.",
        validators=[Length(max=600)],
    )
    tags = StringField(
        "Tags", description="Up to 5, separated by commas.", validators=[Length(max=200)]
    )
    artwork = FileField(
        "Artwork",
        description=artwork_hint(),
    )
    submit = SubmitField("Save draft")


class NewDesignForm(DesignForm):
    artwork = FileField(
        "Artwork",
        validators=[FileRequired("Choose the image of your design.")],
        description=artwork_hint(),
    )


class SubmitDesignForm(FlaskForm):
    accept_terms = BooleanField(
        "I accept the licence terms: I keep the copyright and grant Cocréa a non-exclusive "
        "licence to produce this design if it is selected.",
        validators=[DataRequired("Accept the licence terms to submit.")],
    )
    submit = SubmitField("Submit for review")


class VoteForm(FlaskForm):
    score = RadioField(
        "Your score",
        choices=[SelectChoice(n, str(n)) for n in range(6)],
        coerce=int,
        validators=[InputRequired("Choose a score from 0 to 5.")],
    )
    would_buy = BooleanField("I'd buy it")
    variant_id = SelectField(
        "Variant", coerce=int, validators=[Optional()], choices=[], validate_choice=False
    )
    submit = SubmitField("Save my score")


class CommentForm(FlaskForm):
    body = TextAreaField(
        "Your comment",
        validators=[DataRequired("Write something first."), Length(max=1000)],
    )
    submit = SubmitField("Post comment")


class DeclineForm(FlaskForm):
    reason = SelectField("Reason", choices=[SelectChoice(k, v) for k, v in DECLINE_REASONS.items()])
    message = TextAreaField("Message to the designer (public)", validators=[Length(max=1000)])
    submit = SubmitField("Decline")


class RejectForm(FlaskForm):
    reason = SelectField(
        "Reason", choices=[SelectChoice(k, v) for k, v in NOT_SELECTED_REASONS.items()]
    )
    message = TextAreaField("Public explanation", validators=[Length(max=1000)])
    submit = SubmitField("Not selected")


class ProductForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(2, 60)])
    variant_hint = StringField("Suggested variants", validators=[Length(max=200)])
    submit = SubmitField("Add product")
