"""Pre-order campaigns, their variants and updates, and the pledges backers make on them.

The money side of a pledge (Stripe customer, saved card, charges) lives in ``payments``,
which builds on these tables; nothing here talks to Stripe.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from flask_babel import gettext
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from designs.models import Design
from marketplace.accounts.models import User
from marketplace.kernel.dbtypes import StateEnum, UTCDateTime, enum_column, utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_, country_name
from marketplace.kernel.statemachine import StateMachine

CURRENCIES = ("EUR", "USD", "GBP")
MAX_UNITS_PER_PLEDGE = 10
#: Extra product images an operator may add beside the generated mockup.
MAX_EXTRA_IMAGES = 5

#: Where a parcel goes, seen from the country a campaign ships from. Each campaign prices
#: every zone; a backer pays one zone's price per pledge (one parcel), on top of the units.
SHIPPING_ZONES = ("domestic", "eu", "world")
_ZONE_LABELS = {
    "eu": N_("European Union"),
    "world": N_("Rest of the world"),
}
#: The European Union's member states (ISO 3166-1 alpha-2), for the "eu" zone.
EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)


def zone_of(country: str, ships_from: str) -> str:
    """The shipping zone of an address in ``country``, for parcels sent from ``ships_from``."""
    country = (country or "").upper()
    if country == ships_from.upper():
        return "domestic"
    if country in EU_COUNTRIES and ships_from.upper() in EU_COUNTRIES:
        return "eu"
    return "world"


def zone_label(zone: str, ships_from: str) -> str:
    """ "France", "European Union", "Rest of the world": in the reader's language."""
    if zone == "domestic":
        return country_name(ships_from)
    return gettext(_ZONE_LABELS[zone])


class CampaignState(StateEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    FUNDED = "funded"
    FAILED = "failed"
    SETTLING = "settling"
    SETTLED = "settled"
    IN_PRODUCTION = "in_production"
    SHIPPED = "shipped"
    #: Its production run reached the backers (the run's "delivered" step moves it here).
    DELIVERED = "delivered"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        # In the reader's language: read where it is shown (a page, a message, a mail).
        return gettext(_CAMPAIGN_LABELS[self.value])


_CAMPAIGN_LABELS = {
    "scheduled": N_("scheduled"),
    "live": N_("live"),
    "funded": N_("funded"),
    "failed": N_("failed"),
    "settling": N_("settling"),
    "settled": N_("settled"),
    "in_production": N_("in production"),
    "shipped": N_("shipped"),
    "delivered": N_("delivered"),
    "cancelled": N_("cancelled"),
}


CAMPAIGN_MACHINE = StateMachine.from_table(
    "campaign",
    CampaignState,
    """
    scheduled      start    live
    scheduled      cancel   cancelled
    live           fund     funded
    live           fail     failed
    live           cancel   cancelled
    funded         settle   settling
    settling       settled  settled
    settled        produce  in_production
    settled        cancel   cancelled
    in_production  ship     shipped
    in_production  cancel   cancelled
    shipped        deliver  delivered
    """,
)


class PledgeState(StateEnum):
    PENDING_CARD = "pending_card"
    ACTIVE = "active"
    CANCELLED = "cancelled"
    CHARGING = "charging"
    COLLECTED = "collected"
    ERRORED = "errored"
    ACTION_REQUIRED = "action_required"
    DROPPED = "dropped"
    REFUNDED = "refunded"

    @property
    def label(self) -> str:
        return gettext(_PLEDGE_LABELS[self.value])


_PLEDGE_LABELS = {
    "pending_card": N_("pending card"),
    "active": N_("active"),
    "cancelled": N_("cancelled"),
    "charging": N_("charging"),
    "collected": N_("collected"),
    "errored": N_("errored"),
    "action_required": N_("action required"),
    "dropped": N_("dropped"),
    "refunded": N_("refunded"),
}


P = PledgeState
PLEDGE_MACHINE = StateMachine.from_table(
    "pledge",
    PledgeState,
    """
    pending_card     card_saved      active
    pending_card     cancel          cancelled
    active           cancel          cancelled
    active           charge          charging
    charging         succeed         collected
    charging         fail            errored
    charging         require_action  action_required
    errored          charge          charging
    errored          drop            dropped
    action_required  charge          charging
    action_required  succeed         collected
    action_required  fail            errored
    action_required  drop            dropped
    collected        refund          refunded
    """,
)
#: Pledges whose units count towards the goal.
COUNTED_PLEDGE_STATES = (P.ACTIVE, P.CHARGING, P.COLLECTED, P.ERRORED, P.ACTION_REQUIRED)
#: Pledges not charged yet: the backer may change or cancel them while the campaign takes
#: pledges, and a campaign that fails or is cancelled releases them.
UNCHARGED_PLEDGE_STATES = (P.PENDING_CARD, P.ACTIVE)


class CampaignFigures:
    """What a campaign's columns and variants say: its shipping, money raised, share of the
    goal and whether it takes pledges. Shared by the row (``Campaign``) and by what its page
    reads on every request (``queries.CampaignNow``), so that both follow the same rules."""

    state: CampaignState
    unit_price_cents: int
    goal_units: int
    deadline: dt.datetime
    variants: Sequence[VariantFigures]

    def shipping_cents(self, zone: str) -> int:
        return getattr(self, f"shipping_{zone}_cents")

    @property
    def shipping_rates(self) -> list[tuple[str, int]]:
        """(zone, price) for every zone, in SHIPPING_ZONES order."""
        return [(zone, self.shipping_cents(zone)) for zone in SHIPPING_ZONES]

    @property
    def pledged_cents(self) -> int:
        """The money the counted units stand for, at the unit price (shipping apart)."""
        return self.pledged_units * self.unit_price_cents

    @property
    def goal_cents(self) -> int:
        return self.goal_units * self.unit_price_cents

    @property
    def pledged_units(self) -> int:
        return sum(v.reserved_units for v in self.variants)

    @property
    def percent_funded(self) -> int:
        return int(100 * self.pledged_units / self.goal_units)

    @property
    def is_open_for_pledges(self) -> bool:
        """Live and before its deadline: the close job may run a little late, and a pledge
        made after the deadline must not slip in meanwhile."""
        return self.state == CampaignState.LIVE and utcnow() < self.deadline


class VariantFigures:
    """What a variant's limit and reserved units say (``CampaignVariant``, and
    ``queries.VariantNow`` on the campaign page)."""

    unit_limit: int | None
    reserved_units: int

    @property
    def units_left(self) -> int | None:
        return None if self.unit_limit is None else self.unit_limit - self.reserved_units


class Campaign(CampaignFigures, db.Model):
    __tablename__ = "campaigns"
    __audit_type__ = "campaign"
    __table_args__ = (
        sa.CheckConstraint("unit_price_cents > 0", name="unit_price_positive"),
        sa.CheckConstraint("goal_units > 0", name="goal_positive"),
        sa.CheckConstraint(
            "production_cost_cents + royalty_cents + platform_cents = unit_price_cents",
            name="breakdown_adds_up",
        ),
        sa.CheckConstraint("deadline > starts_at", name="deadline_after_start"),
        sa.CheckConstraint(
            "shipping_domestic_cents >= 0 AND shipping_eu_cents >= 0 AND shipping_world_cents >= 0",
            name="shipping_not_negative",
        ),
        sa.Index("ix_campaigns_state_deadline", "state", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: One campaign per design.
    design_id: Mapped[int] = mapped_column(sa.ForeignKey("designs.id"), unique=True)
    product_name: Mapped[str] = mapped_column(sa.String(80))
    state: Mapped[CampaignState] = mapped_column(
        enum_column(CampaignState), default=CampaignState.SCHEDULED
    )
    #: Money in minor units of ``currency``.
    unit_price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3))
    #: The minimum production run: nobody is charged below it.
    goal_units: Mapped[int]
    #: What a unit's price pays for, shown to backers; the three add up to the price.
    production_cost_cents: Mapped[int]
    royalty_cents: Mapped[int]
    platform_cents: Mapped[int]
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    deadline: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Public reason when an operator cancels.
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)

    #: What backers read before deciding, in Markdown (rendered sanitised: kernel.text).
    #: Campaigns opened before these existed have none, and their pages leave them out.
    story: Mapped[str | None] = mapped_column(sa.Text)
    risks: Mapped[str | None] = mapped_column(sa.Text)
    #: The month the rewards are expected to reach backers (stored as its first day).
    delivery_month: Mapped[dt.date | None] = mapped_column(sa.Date)
    #: ISO country code the parcels leave from: it decides which zone an address is in.
    ships_from: Mapped[str] = mapped_column(sa.String(2), default="FR", server_default="FR")
    #: One parcel's shipping per zone, in minor units of ``currency``, added to each pledge.
    shipping_domestic_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    shipping_eu_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    shipping_world_cents: Mapped[int] = mapped_column(default=0, server_default="0")

    design: Mapped[Design] = relationship()
    variants: Mapped[list[CampaignVariant]] = relationship(
        back_populates="campaign", order_by="CampaignVariant.position", cascade="all, delete-orphan"
    )
    images: Mapped[list[CampaignImage]] = relationship(
        back_populates="campaign", order_by="CampaignImage.position", cascade="all, delete-orphan"
    )
    faqs: Mapped[list[CampaignFaq]] = relationship(
        order_by="CampaignFaq.position", cascade="all, delete-orphan"
    )


class CampaignImage(db.Model):
    """A product picture on the campaign page: the mockup made from the design (position 0)
    and up to MAX_EXTRA_IMAGES uploaded ones, stored like artwork (designs.images)."""

    __tablename__ = "campaign_images"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    #: Folder under UPLOAD_DIR/artwork, as for a design's artwork.
    image_key: Mapped[str] = mapped_column(sa.String(64))
    width: Mapped[int]
    height: Mapped[int]
    #: Made by the platform from the artwork, not uploaded.
    is_mockup: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    campaign: Mapped[Campaign] = relationship(back_populates="images")


class CampaignFaq(db.Model):
    __tablename__ = "campaign_faqs"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    question: Mapped[str] = mapped_column(sa.String(200))
    answer: Mapped[str] = mapped_column(sa.Text)


class CampaignVariant(VariantFigures, db.Model):
    """A size or colour on offer, with an optional limited quantity.

    ``reserved_units`` counts the units of counted pledges; it only moves through a
    conditional UPDATE, and the CHECK constraint is the last word on overselling.
    """

    __tablename__ = "campaign_variants"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "label"),
        sa.CheckConstraint("reserved_units >= 0", name="reserved_not_negative"),
        sa.CheckConstraint(
            "unit_limit IS NULL OR reserved_units <= unit_limit", name="never_oversold"
        ),
        sa.CheckConstraint("unit_limit IS NULL OR unit_limit > 0", name="limit_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(sa.String(40))
    position: Mapped[int] = mapped_column(default=0)
    #: None means unlimited.
    unit_limit: Mapped[int | None]
    reserved_units: Mapped[int] = mapped_column(default=0, server_default="0")

    campaign: Mapped[Campaign] = relationship(back_populates="variants")


class Pledge(db.Model):
    """One backer's pre-order of ``quantity`` units of one variant.

    A backer may hold several pledges on one campaign (one per variant they want, say); each
    is saved, changed, charged and refunded on its own.
    """

    __tablename__ = "pledges"
    __audit_type__ = "pledge"
    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint(
            "shipping_cents >= 0 AND shipping_cents < amount_cents", name="shipping_in_amount"
        ),
        sa.CheckConstraint(
            f"quantity >= 1 AND quantity <= {MAX_UNITS_PER_PLEDGE}", name="quantity_in_range"
        ),
        #: A form submitted twice carries the same key: one pledge.
        sa.UniqueConstraint("backer_id", "idempotency_key"),
        sa.Index("ix_pledges_campaign_id_state", "campaign_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id"))
    backer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    variant_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign_variants.id"))
    quantity: Mapped[int]
    #: Computed on the server: unit price × quantity + shipping, in the campaign's currency.
    #: It is what settlement charges.
    amount_cents: Mapped[int]
    #: The zone the parcel goes to and its price (part of ``amount_cents``), fixed when the
    #: pledge is made or changed.
    shipping_zone: Mapped[str] = mapped_column(
        sa.String(8), default="domestic", server_default="domestic"
    )
    shipping_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    currency: Mapped[str] = mapped_column(sa.String(3))
    state: Mapped[PledgeState] = mapped_column(
        enum_column(PledgeState), default=PledgeState.PENDING_CARD
    )
    idempotency_key: Mapped[str] = mapped_column(sa.String(64))
    #: The saved card (a Stripe PaymentMethod id) that settlement charges off-session.
    payment_method_id: Mapped[str | None] = mapped_column(sa.String(64))
    card_summary: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    campaign: Mapped[Campaign] = relationship()
    backer: Mapped[User] = relationship()
    variant: Mapped[CampaignVariant] = relationship()

    @property
    def units_cents(self) -> int:
        return self.amount_cents - self.shipping_cents

    @hybrid_property
    def counts(self) -> bool:
        """Its units count towards the goal (and its backer is a backer). A hybrid, so that
        queries filter with the same rule: ``where(Pledge.counts)``."""
        return self.state in COUNTED_PLEDGE_STATES

    @counts.inplace.expression
    @classmethod
    def _counts_expression(cls) -> sa.ColumnElement[bool]:
        return cls.state.in_(COUNTED_PLEDGE_STATES)

    @property
    def is_changeable(self) -> bool:
        """The backer may still change or cancel it, or save another card: it is not charged
        yet and its campaign still takes pledges."""
        return self.state in UNCHARGED_PLEDGE_STATES and self.campaign.is_open_for_pledges


class CampaignUpdate(db.Model):
    __tablename__ = "campaign_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id"), index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(sa.String(120))
    body: Mapped[str] = mapped_column(sa.Text)
    #: Backers-only updates are shown to (and mailed to) people with a counted pledge.
    backers_only: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The highest backer id already mailed: the mailing job resumes after it.
    mailed_up_to: Mapped[int] = mapped_column(default=0, server_default="0")

    author: Mapped[User] = relationship()
