"""Form shapes for campaigns and pledges; the rules live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    MonthField,
    MultipleFileField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from .models import CURRENCIES, MAX_UNITS_PER_PLEDGE

_amount = [DataRequired(_l("Enter an amount, like 25.00.")), Length(max=12)]
_shipping = [InputRequired(_l("Enter an amount, like 4.50 (0 for free).")), Length(max=12)]


class CampaignForm(FlaskForm):
    product_name = StringField(_l("Product name"), validators=[DataRequired(), Length(3, 80)])
    unit_price = StringField(_l("Unit price"), validators=_amount)
    currency = SelectField(_l("Currency"), choices=[SelectChoice(c, c) for c in CURRENCIES])
    goal_units = IntegerField(
        _l("Goal (units)"),
        validators=[
            InputRequired(_l("Enter the minimum production run.")),
            NumberRange(1, 100_000),
        ],
    )
    variants = TextAreaField(
        _l("Variants"),
        validators=[DataRequired(_l("List at least one variant."))],
        description=_l("One per line. Add a limit after a colon: “M: 50”. No limit: just “M”."),
    )
    production_cost = StringField(_l("Production cost per unit"), validators=_amount)
    royalty = StringField(_l("Designer royalty per unit"), validators=_amount)
    platform = StringField(_l("Platform share per unit"), validators=_amount)
    starts_at = DateTimeLocalField(
        _l("Starts (UTC)"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()]
    )
    deadline = DateTimeLocalField(
        _l("Deadline (UTC)"),
        format="%Y-%m-%dT%H:%M",
        validators=[InputRequired()],
        description=_l("1 to 60 days after the start. Cards are charged then, if the goal is met."),
    )
    story = TextAreaField(
        _l("Story"),
        render_kw={"rows": 10},
        validators=[DataRequired(_l("Tell backers the product's story.")), Length(max=20_000)],
        description=_l(
            "What it is, who made it, how it is made. Markdown: **bold**, *italics*, "
            "## headings, lists, links."
        ),
    )
    risks = TextAreaField(
        _l("Risks and challenges"),
        validators=[
            DataRequired(_l("Say what could delay or change the product.")),
            Length(max=5_000),
        ],
        description=_l("What could delay or change the product, and what you will do then."),
    )
    faq = TextAreaField(
        _l("FAQ"),
        validators=[Length(max=50_000)],
        description=_l(
            "One question per block: the question on its first line, the answer under it; "
            "a blank line between blocks."
        ),
    )
    delivery_month = MonthField(
        _l("Estimated delivery"),
        validators=[InputRequired(_l("Give the month the products should reach backers."))],
    )
    ships_from = StringField(
        _l("Ships from (country code)"),
        default="FR",
        validators=[DataRequired(), Length(2, 2)],
        description=_l("Two letters, like FR: it decides which addresses are domestic."),
    )
    shipping_domestic = StringField(_l("Shipping, domestic"), default="0", validators=_shipping)
    shipping_eu = StringField(_l("Shipping, European Union"), default="0", validators=_shipping)
    shipping_world = StringField(
        _l("Shipping, rest of the world"), default="0", validators=_shipping
    )
    images = MultipleFileField(
        _l("Product images"), render_kw={"accept": "image/png,image/jpeg,image/webp"}
    )
    submit = SubmitField(_l("Open the campaign"))


class PledgeForm(FlaskForm):
    variant_id = SelectField(_l("Variant"), coerce=int, validate_choice=False)
    quantity = IntegerField(
        _l("Quantity"),
        default=1,
        validators=[
            InputRequired(_l("How many?")),
            NumberRange(1, MAX_UNITS_PER_PLEDGE, _l("From %(min)s to %(max)s.")),
        ],
    )
    shipping_zone = SelectField(_l("Ship to"), validate_choice=False, default="domestic")
    #: Made when the form is shown; the same form submitted twice makes one pledge.
    idempotency_key = HiddenField()
    submit = SubmitField(_l("Pledge"))


class ChangePledgeForm(FlaskForm):
    variant_id = SelectField(_l("Variant"), coerce=int, validate_choice=False)
    quantity = IntegerField(
        _l("Quantity"), validators=[InputRequired(), NumberRange(1, MAX_UNITS_PER_PLEDGE)]
    )
    shipping_zone = SelectField(_l("Ship to"), validate_choice=False)
    submit = SubmitField(_l("Save changes"))


class CancelCampaignForm(FlaskForm):
    reason = TextAreaField(
        _l("Public reason"), validators=[DataRequired(_l("Give a reason.")), Length(10, 1000)]
    )
    submit = SubmitField(_l("Cancel the campaign"))


class DeadlineForm(FlaskForm):
    deadline = DateTimeLocalField(
        _l("New deadline (UTC)"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()]
    )
    submit = SubmitField(_l("Move the deadline"))


class UpdateForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(3, 120)])
    body = TextAreaField(_l("Text"), validators=[DataRequired(), Length(max=5000)])
    backers_only = BooleanField(_l("Backers only"))
    submit = SubmitField(_l("Post update"))
