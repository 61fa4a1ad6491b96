"""Form shapes for designs; the rules live in services and images."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    URLField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length

from marketplace.accounts.services import BIO_MAX_LENGTH, link_problem, tidy_bio
from marketplace.kernel.i18n import number

from .images import DEFAULT_MAX_PIXELS, MAX_BYTES, MAX_SIDE
from .models import DECLINE_REASONS, NOT_SELECTED_REASONS


def artwork_hint(max_pixels: int = DEFAULT_MAX_PIXELS) -> str:
    """What the artwork field accepts; the views give it the configured pixel budget."""
    return _(
        "PNG, JPEG or WebP; at most %(megabytes)s MB, %(side)s pixels a side and "
        "%(megapixels)s megapixels in all.",
        megabytes=number(MAX_BYTES // (1024 * 1024)),
        side=number(MAX_SIDE),
        megapixels=number(max_pixels / 1_000_000),
    )


#: The hint of the form's class, written when shown (the views replace it with the configured
#: budget's).
_ARTWORK_HINT = LazyString(artwork_hint)


class DesignForm(FlaskForm):
    title = StringField(
        _l("Title"), validators=[DataRequired(_l("Give your design a title.")), Length(3, 80)]
    )
    description = TextAreaField(
        _l("Description"),
        validators=[Length(max=2000, message=_l("Use at most 2,000 characters."))],
        description=_l("Plain text; line breaks are kept."),
    )
    product_id = SelectField(
        _l("Product"), coerce=int, validators=[InputRequired(_l("Choose a product."))]
    )
    variants = StringField(
        _l("Variants you propose"),
        description=_l("Separated by commas, e.g. S, M, L, XL or Black, White."),
        validators=[Length(max=600)],
    )
    tags = StringField(
        _l("Tags"), description=_l("Up to 5, separated by commas."), validators=[Length(max=200)]
    )
    artwork = FileField(
        _l("Artwork"),
        description=_ARTWORK_HINT,
    )
    #: Asked of redesigns only (the page shows it then; the service requires it).
    what_changed = TextAreaField(
        _l("What your redesign changes"),
        validators=[Length(max=2000, message=_l("Use at most 2,000 characters."))],
        description=_l(
            "Shown publicly beside your redesign: what you changed from the original, and why."
        ),
    )
    submit = SubmitField(_l("Save draft"))

    #: Set by the edit view for a redesign's draft (a new one knows it from its hidden field).
    is_redesign = False

    def validate_what_changed(self, field) -> None:
        """Asked here too, so that a redesign's missing words are shown beside their field
        (the service's rule, ``services.WHAT_CHANGED_MIN``)."""
        if self.is_redesign and len((field.data or "").strip()) < 10:
            raise ValidationError(
                _(
                    "Say what your redesign changes, in %(least)s to %(most)s characters.",
                    least=number(10),
                    most=number(2000),
                )
            )


class NewDesignForm(DesignForm):
    artwork = FileField(
        _l("Artwork"),
        validators=[FileRequired(_l("Choose the image of your design."))],
        description=_ARTWORK_HINT,
    )
    #: The design this one redesigns, when it is a redesign.
    redesign_of = HiddenField()

    @property
    def is_redesign(self) -> bool:
        return bool(self.redesign_of.data)


def _profile_link(form, field) -> None:
    """The accounts rule for a profile link, asked here too so that its reason is shown next
    to the link it is about."""
    if field.data and (problem := link_problem(field.data)) is not None:
        raise ValidationError(problem)


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _link(label) -> URLField:
    return URLField(
        label,
        validators=[_profile_link],
        filters=[_strip],
        render_kw={"placeholder": "https://", "inputmode": "url"},
    )


class DesignerProfileForm(FlaskForm):
    """What a designer's public page says about them (their designs are listed by the page)."""

    avatar = FileField(_l("Profile picture"), description=_ARTWORK_HINT)
    remove_avatar = BooleanField(_l("Remove my picture (your initials are shown instead)"))
    bio = TextAreaField(
        _l("About you"),
        filters=[tidy_bio],
        validators=[
            Length(max=BIO_MAX_LENGTH, message=_l("Use at most %(max)d characters.")),
        ],
        description=_l(
            "Plain text, at most %(max)d characters; line breaks are kept.", max=BIO_MAX_LENGTH
        ),
    )
    link1 = _link(_l("Link"))
    link2 = _link(_l("Second link"))
    link3 = _link(_l("Third link"))
    submit = SubmitField(_l("Save profile"))

    @property
    def links(self) -> list[str]:
        return [field.data or "" for field in (self.link1, self.link2, self.link3)]


class SubmitDesignForm(FlaskForm):
    """Submission by a designer who accepted the current designer terms: they grant the
    licence, so it is not asked again for each design."""

    submit = SubmitField(_l("Submit for review"))


class SubmitDesignUnderNewTermsForm(SubmitDesignForm):
    """Submission by a designer who accepted an earlier version of the terms: the new
    version is accepted here, once, for this design and the next ones."""

    accept_terms = BooleanField(
        _l(
            "I accept the licence terms: I keep the copyright and grant Cocréa a non-exclusive "
            "licence to produce this design if it is selected."
        ),
        validators=[DataRequired(_l("Accept the licence terms to submit."))],
    )


class CommentForm(FlaskForm):
    body = TextAreaField(
        _l("Your comment"),
        validators=[DataRequired(_l("Write something first.")), Length(max=1000)],
    )
    submit = SubmitField(_l("Post comment"))


class DeclineForm(FlaskForm):
    reason = SelectField(
        _l("Reason"), choices=[SelectChoice(k, _l(v)) for k, v in DECLINE_REASONS.items()]
    )
    message = TextAreaField(_l("Message to the designer (public)"), validators=[Length(max=1000)])
    submit = SubmitField(_l("Decline"))


class RejectForm(FlaskForm):
    reason = SelectField(
        _l("Reason"), choices=[SelectChoice(k, _l(v)) for k, v in NOT_SELECTED_REASONS.items()]
    )
    message = TextAreaField(_l("Public explanation"), validators=[Length(max=1000)])
    submit = SubmitField(_l("Not selected"))


class OperatorReasonForm(FlaskForm):
    """An operator's decision outside the usual rules (closing scoring early, shortlisting a
    design short of votes): why, in their words, kept in the audit log and the timeline."""

    reason = TextAreaField(
        _l("Reason (shown on the design's timeline)"),
        validators=[DataRequired(), Length(10, 500)],
    )
    submit = SubmitField(_l("Confirm"))


class ProductForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(2, 60)])
    variant_hint = StringField(_l("Suggested variants"), validators=[Length(max=200)])
    submit = SubmitField(_l("Add product"))
