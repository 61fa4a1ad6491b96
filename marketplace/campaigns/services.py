"""The rules of campaigns and pledges (without their money side).

Functions flush and never commit. Every state change goes through CAMPAIGN_MACHINE or
PLEDGE_MACHINE and lands in the audit log. Units of limited variants are reserved by one
conditional UPDATE each, so concurrent pledges can never oversell.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from designs import services as design_services
from designs.models import Design, DesignState
from marketplace.accounts.models import User
from marketplace.kernel import signals
from marketplace.kernel.audit import apply_transition, record_about
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.errors import ServiceError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_, is_country, money
from marketplace.kernel.locks import lock_row
from marketplace.kernel.mail import queue_mail
from marketplace.kernel.pagecache import forget_after_commit
from marketplace.kernel.queues import enqueue_after_commit
from marketplace.kernel.urls import external_url

from .models import (
    CAMPAIGN_MACHINE,
    CURRENCIES,
    MAX_EXTRA_IMAGES,
    MAX_UNITS_PER_PLEDGE,
    PLEDGE_MACHINE,
    SHIPPING_ZONES,
    UNCHARGED_PLEDGE_STATES,
    Campaign,
    CampaignFaq,
    CampaignImage,
    CampaignState,
    CampaignUpdate,
    CampaignVariant,
    Pledge,
    PledgeState,
)

MIN_DAYS, MAX_DAYS = 1, 60
MAX_VARIANTS = 20
MAX_FAQS = 20
#: One parcel's shipping, at most (minor units): a typo's guard, not a business rule.
MAX_SHIPPING_CENTS = 100_000
#: How far after the deadline a delivery may be promised.
MAX_DELIVERY_MONTHS = 24
_MONEY_RE = re.compile(r"^\d{1,7}([.,]\d{1,2})?$")


class CampaignError(ServiceError):
    pass


class SoldOut(CampaignError):
    status = 409


# --- parsing ----------------------------------------------------------------------------------


def parse_money(text: str) -> int:
    """'25', '25.5' or '25,50' -> 2550 minor units; never through a float."""
    text = (text or "").strip().replace(" ", "")
    if not _MONEY_RE.match(text):
        raise CampaignError(_("“%(text)s” is not an amount: write it like 25.00.", text=text))
    try:
        cents = int((Decimal(text.replace(",", ".")) * 100).to_integral_exact())
    except InvalidOperation:
        raise CampaignError(
            _("“%(text)s” is not an amount: write it like 25.00.", text=text)
        ) from None
    return cents


def parse_variants(text: str) -> list[tuple[str, int | None]]:
    """One variant per line (or comma): ``M`` for unlimited, ``M: 50`` for 50 units at most."""
    variants: list[tuple[str, int | None]] = []
    for raw in re.split(r"[\n,]", text or ""):
        raw = raw.strip()
        if not raw:
            continue
        label, _colon, limit_text = raw.partition(":")
        label = " ".join(label.split())
        if not label or len(label) > 40:
            raise CampaignError(_("“%(line)s”: a variant label has 1 to 40 characters.", line=raw))
        limit = None
        if limit_text.strip():
            if not limit_text.strip().isdigit() or int(limit_text) < 1:
                raise CampaignError(
                    _("“%(line)s”: the limit after the colon is a whole number ≥ 1.", line=raw)
                )
            limit = int(limit_text)
        if label.lower() in (v.lower() for v, _limit in variants):
            raise CampaignError(_("The variant “%(label)s” is listed twice.", label=label))
        variants.append((label, limit))
    if not variants:
        raise CampaignError(_("List at least one variant (a size, a colour, or “One size”)."))
    if len(variants) > MAX_VARIANTS:
        raise CampaignError(_("Offer at most %(max)s variants.", max=MAX_VARIANTS))
    return variants


def parse_faq(text: str) -> list[tuple[str, str]]:
    """Questions and answers, one block each, blocks separated by a blank line: the block's
    first line is the question, the lines after it its answer (Markdown)."""
    faqs: list[tuple[str, str]] = []
    for block in re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n").strip()):
        if not block.strip():
            continue
        question, _newline, answer = block.strip().partition("\n")
        question, answer = " ".join(question.split()), answer.strip()
        if not answer:
            raise CampaignError(
                _(
                    "“%(question)s” has no answer: write it on the lines under the question.",
                    question=question[:80],
                )
            )
        if len(question) > 200 or len(answer) > 2000:
            raise CampaignError(
                _(
                    "“%(question)s”: a question has at most 200 characters and its answer 2,000.",
                    question=question[:80],
                )
            )
        faqs.append((question, answer))
    if len(faqs) > MAX_FAQS:
        raise CampaignError(_("Keep the FAQ to %(max)s questions at most.", max=MAX_FAQS))
    return faqs


# --- state machines ---------------------------------------------------------------------------


def transition(
    campaign: Campaign, event: str, actor: User | None, reason: str | None = None, **data
) -> bool:
    moved = apply_transition(
        CAMPAIGN_MACHINE,
        campaign,
        event,
        actor=actor,
        reason=reason,
        **data,
    )
    if moved:
        # The design's page says where its campaign is: its cached copies are now wrong.
        forget_after_commit(f"design:{campaign.design_id}")
        forget_page(campaign.id)
    return moved


def forget_page(campaign_id: int) -> None:
    """What every reader of the campaign's page shares changed (its state, timeline, updates,
    reviews...): the kept copies go once the change is committed. (Its counters are read on
    every request: a pledge needs no forgetting.)"""
    forget_after_commit(f"campaign:{campaign_id}")


def pledge_transition(
    pledge: Pledge, event: str, actor: User | None, reason: str | None = None, **data
) -> bool:
    moved = apply_transition(
        PLEDGE_MACHINE,
        pledge,
        event,
        actor=actor,
        reason=reason,
        campaign_id=pledge.campaign_id,
        **data,
    )
    if moved:
        # What is kept about the backer (the banner asking for a paid pledge's address)
        # follows their pledges.
        forget_after_commit(backer_tag(pledge.backer_id))
    return moved


def backer_tag(backer_id: int) -> str:
    """The page-cache tag of what is kept about a backer's pledges."""
    return f"backer:{backer_id}"


def lock_campaign(campaign_id: int) -> Campaign | None:
    return lock_row(Campaign, campaign_id)


def lock_pledge(pledge_id: int) -> Pledge | None:
    return lock_row(Pledge, pledge_id)


def _locked_campaign(campaign_id: int) -> Campaign:
    campaign = lock_campaign(campaign_id)
    if campaign is None:
        raise CampaignError(_("No such campaign."), 404)
    return campaign


def _locked_own_pledge(pledge_id: int, backer: User) -> Pledge:
    """Another backer's pledge is as missing as one that does not exist."""
    pledge = lock_pledge(pledge_id)
    if pledge is None or pledge.backer_id != backer.id:
        raise CampaignError(_("No such pledge."), 404)
    return pledge


# --- scheduling -------------------------------------------------------------------------------


def _schedule(job: str, campaign: Campaign, at: dt.datetime) -> None:
    """Schedule a campaign's start or close under a fixed job id, replacing any earlier one:
    moving the deadline moves the job. The job itself re-checks the time, so a stale copy
    that still fires does nothing."""
    enqueue_after_commit(
        "settlement",
        f"marketplace.campaigns.jobs.{job}_campaign",
        campaign.id,
        at=at,
        job_id=f"{job}-campaign-{campaign.id}",
    )


# --- opening ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignTerms:
    """What an operator sets when opening a campaign: the product, its price and how the price
    splits, the goal, the variants and the dates. Shape only: ``open_campaign`` checks them."""

    product_name: str
    unit_price_cents: int
    currency: str
    goal_units: int
    #: (label, unit limit or None for unlimited), in the order shown to backers.
    variants: Sequence[tuple[str, int | None]]
    starts_at: dt.datetime
    deadline: dt.datetime
    production_cost_cents: int
    royalty_cents: int
    platform_cents: int
    #: What backers read: the story and the risks in Markdown, questions and answers.
    story: str
    risks: str
    faqs: Sequence[tuple[str, str]]
    delivery_month: dt.date
    ships_from: str
    #: One parcel's price per zone of SHIPPING_ZONES, in minor units.
    shipping_cents: dict[str, int]


@dataclass(frozen=True)
class ProductImage:
    """A stored product picture (designs.images), to be recorded with the campaign."""

    key: str
    width: int
    height: int
    is_mockup: bool = False


def open_campaign(
    design_id: int,
    operator: User,
    terms: CampaignTerms,
    images: Sequence[ProductImage] = (),
    *,
    now: dt.datetime | None = None,
) -> Campaign:
    """``images``: the mockup first, then the extra pictures, already stored; the caller
    deletes their files if this raises or the transaction does not commit."""
    now = now or utcnow()
    design = db.session.scalar(sa.select(Design).where(Design.id == design_id).with_for_update())
    if design is None:
        raise CampaignError(_("No such design."), 404)
    if design.state != DesignState.SELECTED:
        raise CampaignError(
            _(
                "This design is %(state)s: only selected designs open a campaign.",
                state=design.state.label,
            ),
            409,
        )
    product_name = " ".join((terms.product_name or "").split())
    if not 3 <= len(product_name) <= 80:
        raise CampaignError(_("The product name needs 3 to 80 characters."))
    if terms.currency not in CURRENCIES:
        raise CampaignError(
            _("Choose a currency among %(currencies)s.", currencies=", ".join(CURRENCIES))
        )
    if terms.unit_price_cents <= 0:
        raise CampaignError(_("The unit price must be more than zero."))
    if not 1 <= terms.goal_units <= 100_000:
        raise CampaignError(_("The goal is between 1 and 100,000 units."))
    parts = (terms.production_cost_cents, terms.royalty_cents, terms.platform_cents)
    if min(parts) < 0:
        raise CampaignError(_("The parts of the price cannot be negative."))
    if sum(parts) != terms.unit_price_cents:
        raise CampaignError(
            _("Production cost, designer royalty and platform share must add up to the unit price.")
        )
    if terms.starts_at < now - dt.timedelta(minutes=5):
        raise CampaignError(_("The start cannot be in the past."))
    _check_duration(terms.starts_at, terms.deadline)
    for label, limit in terms.variants:
        if limit is not None and limit < 1:
            raise CampaignError(_("The limit of %(label)s must be at least 1.", label=label))
    _check_page(terms)
    if sum(not image.is_mockup for image in images) > MAX_EXTRA_IMAGES:
        raise CampaignError(_("Add at most %(max)s product images.", max=MAX_EXTRA_IMAGES))
    campaign = Campaign(
        design=design,
        product_name=product_name,
        unit_price_cents=terms.unit_price_cents,
        currency=terms.currency,
        goal_units=terms.goal_units,
        production_cost_cents=terms.production_cost_cents,
        royalty_cents=terms.royalty_cents,
        platform_cents=terms.platform_cents,
        starts_at=terms.starts_at,
        deadline=terms.deadline,
        created_by_id=operator.id,
        variants=[
            CampaignVariant(label=label, unit_limit=limit, position=i)
            for i, (label, limit) in enumerate(terms.variants)
        ],
        story=terms.story.strip(),
        risks=terms.risks.strip(),
        faqs=[
            CampaignFaq(question=question, answer=answer, position=i)
            for i, (question, answer) in enumerate(terms.faqs)
        ],
        delivery_month=terms.delivery_month,
        ships_from=terms.ships_from.upper(),
        **{f"shipping_{zone}_cents": terms.shipping_cents[zone] for zone in SHIPPING_ZONES},
        images=[
            CampaignImage(
                image_key=image.key,
                width=image.width,
                height=image.height,
                is_mockup=image.is_mockup,
                position=i,
            )
            for i, image in enumerate(images)
        ],
    )
    db.session.add(campaign)
    db.session.flush()
    record_about(
        "campaign.opened",
        campaign,
        actor=operator,
        to_state=CampaignState.SCHEDULED.value,
        design_id=design.id,
    )
    forget_page(campaign.id)
    design_services.transition(design, "open_campaign", operator, campaign_id=campaign.id)
    if terms.starts_at <= now:
        transition(campaign, "start", operator)
    else:
        _schedule("start", campaign, terms.starts_at)
    _schedule("close", campaign, terms.deadline)
    queue_mail(
        design.designer,
        "campaign_opened",
        campaign=campaign,
        link=external_url("campaigns.show", campaign_id=campaign.id),
    )
    return campaign


def _check_page(terms: CampaignTerms) -> None:
    """What backers decide on: a story, the risks, when it arrives and what shipping costs."""
    if not 20 <= len(terms.story.strip()) <= 20_000:
        raise CampaignError(_("Tell the product's story in 20 to 20,000 characters."))
    if not 20 <= len(terms.risks.strip()) <= 5_000:
        raise CampaignError(
            _("Say what could delay or change the product, in 20 to 5,000 characters.")
        )
    if not is_country(terms.ships_from):
        raise CampaignError(_("Give the country parcels leave from as its two-letter code."))
    for zone in SHIPPING_ZONES:
        if not 0 <= terms.shipping_cents.get(zone, -1) <= MAX_SHIPPING_CENTS:
            raise CampaignError(
                _(
                    "Shipping costs from 0 to %(max)s per parcel.",
                    max=money(MAX_SHIPPING_CENTS, terms.currency),
                )
            )
    deadline_month = terms.deadline.date().replace(day=1)
    months_after = (terms.delivery_month.year - deadline_month.year) * 12 + (
        terms.delivery_month.month - deadline_month.month
    )
    if not 0 <= months_after <= MAX_DELIVERY_MONTHS:
        raise CampaignError(
            _(
                "The estimated delivery is from the deadline's month to %(max)s months after it.",
                max=MAX_DELIVERY_MONTHS,
            )
        )


def _check_duration(starts_at: dt.datetime, deadline: dt.datetime) -> None:
    length = deadline - starts_at
    if not dt.timedelta(days=MIN_DAYS) <= length <= dt.timedelta(days=MAX_DAYS):
        raise CampaignError(
            _(
                "A campaign lasts %(min)s to %(max)s days from its start.",
                min=MIN_DAYS,
                max=MAX_DAYS,
            )
        )


def move_deadline(
    campaign_id: int, operator: User, deadline: dt.datetime, now: dt.datetime | None = None
) -> Campaign:
    now = now or utcnow()
    campaign = _locked_campaign(campaign_id)
    if campaign.state not in (CampaignState.SCHEDULED, CampaignState.LIVE):
        raise CampaignError(
            _("This campaign is %(state)s: its deadline is final.", state=campaign.state.label),
            409,
        )
    if deadline <= now:
        raise CampaignError(_("The new deadline must be in the future."))
    _check_duration(campaign.starts_at, deadline)
    previous = campaign.deadline
    campaign.deadline = deadline
    record_about(
        "campaign.deadline_moved",
        campaign,
        actor=operator,
        previous=previous.isoformat(),
        deadline=deadline.isoformat(),
    )
    forget_page(campaign.id)
    _schedule("close", campaign, deadline)
    return campaign


def start_due(campaign_id: int, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    campaign = lock_campaign(campaign_id)
    if campaign is None or campaign.state != CampaignState.SCHEDULED or now < campaign.starts_at:
        return False
    return transition(campaign, "start", None)


def close_due(campaign_id: int, now: dt.datetime | None = None) -> CampaignState | None:
    """At the deadline: funded when the counted units reach the goal, else failed and every
    pledge released. Returns which (funded or failed), or None when there was nothing to do.
    Charging a funded campaign is the settlement's work, started by ``campaign_funded``."""
    now = now or utcnow()
    campaign = lock_campaign(campaign_id)
    if campaign is None or campaign.state != CampaignState.LIVE or now < campaign.deadline:
        return None
    campaign.closed_at = now
    units = campaign.pledged_units
    if units >= campaign.goal_units:
        transition(campaign, "fund", None, units=units, goal=campaign.goal_units)
        # A pledge whose card was never saved did not count and will not be charged.
        for pledge in _pledges(campaign.id, (PledgeState.PENDING_CARD,)):
            _cancel(pledge, None, N_("No card was saved before the deadline"))
        mail_everyone(campaign, "campaign_funded")
        signals.campaign_funded.send(campaign)
        return CampaignState.FUNDED
    transition(campaign, "fail", None, units=units, goal=campaign.goal_units)
    _release_all(campaign, None, N_("The campaign did not reach its goal: nobody is charged."))
    mail_everyone(campaign, "campaign_failed")
    return campaign.state


def close_now(campaign_id: int, actor: User | None, now: dt.datetime | None = None):
    """Close a live campaign at once, as if its deadline were now (``flask campaigns close``)."""
    now = now or utcnow()
    campaign = _locked_campaign(campaign_id)
    if campaign.state != CampaignState.LIVE:
        raise CampaignError(
            _("This campaign is %(state)s, not live.", state=campaign.state.label), 409
        )
    if campaign.deadline > now:
        record_about(
            "campaign.closed_early", campaign, actor=actor, previous=campaign.deadline.isoformat()
        )
        forget_page(campaign.id)
        campaign.deadline = now
    return close_due(campaign_id, now=now)


def cancel_campaign(campaign_id: int, operator: User, reason: str) -> Campaign:
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise CampaignError(_("Give backers a reason of at least 10 characters: it is public."))
    campaign = _locked_campaign(campaign_id)
    if campaign.state not in (CampaignState.SCHEDULED, CampaignState.LIVE):
        raise CampaignError(
            _(
                "This campaign is %(state)s; once money is collected, cancelling goes "
                "through refunds.",
                state=campaign.state.label,
            ),
            409,
        )
    campaign.cancel_reason = reason
    transition(campaign, "cancel", operator, reason=reason)
    _release_all(campaign, operator, f"Campaign cancelled: {reason}")
    mail_everyone(campaign, "campaign_cancelled")
    return campaign


def _release_all(campaign: Campaign, actor: User | None, reason: str) -> None:
    """Cancel every pledge not yet charged and give back its units."""
    for pledge in _pledges(campaign.id, UNCHARGED_PLEDGE_STATES):
        _cancel(pledge, actor, reason)


def _pledges(campaign_id: int, states, batch: int = 500) -> Iterator[Pledge]:
    """Stream a campaign's pledges in id order, ``batch`` rows at a time."""
    last_id = 0
    while True:
        rows = db.session.scalars(
            sa.select(Pledge)
            .where(Pledge.campaign_id == campaign_id, Pledge.state.in_(states), Pledge.id > last_id)
            .order_by(Pledge.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


def mail_everyone(campaign: Campaign, kind: str) -> None:
    """The designer, and each backer once, in the same transaction as the change."""
    link = external_url("campaigns.show", campaign_id=campaign.id)
    queue_mail(campaign.design.designer, kind, campaign=campaign, link=link, role="designer")
    backer_ids = db.session.scalars(
        sa.select(Pledge.backer_id).where(Pledge.campaign_id == campaign.id).distinct()
    ).all()
    for backer_id in backer_ids:
        queue_mail(
            db.session.get(User, backer_id), kind, campaign=campaign, link=link, role="backer"
        )


# --- pledges ----------------------------------------------------------------------------------


def _open_for_pledges(campaign: Campaign) -> None:
    """Refuse when the campaign is closed: where a pledge cannot change, this tells the
    backer it is the campaign's doing before blaming the pledge's state."""
    if not campaign.is_open_for_pledges:
        raise CampaignError(_("This campaign is not taking pledges."), 409)


def _check_changeable(pledge: Pledge, campaign: Campaign, then: str | None = None) -> None:
    """``then``: the whole message for a pledge that cannot change (its state named)."""
    if not pledge.is_changeable:
        _open_for_pledges(campaign)
        raise CampaignError(then or _("This pledge is %(state)s.", state=pledge.state.label), 409)


def _variant_of(campaign: Campaign, variant_id: int) -> CampaignVariant:
    variant = next((v for v in campaign.variants if v.id == variant_id), None)
    if variant is None:
        raise CampaignError(_("Choose one of this campaign's variants."))
    return variant


def _check_quantity(quantity: int) -> None:
    if not 1 <= quantity <= MAX_UNITS_PER_PLEDGE:
        raise CampaignError(_("Pledge for 1 to %(max)s units.", max=MAX_UNITS_PER_PLEDGE))


def _check_share(
    backer_id: int, variant: CampaignVariant, quantity: int, besides: Pledge | None = None
) -> None:
    """One account may hold at most LIMITED_UNITS_PER_ACCOUNT units of a limited variant,
    across all its pledges, so that a single backer cannot take a whole limited edition.
    Counted under the variant's row lock where units are taken, so that two pledges of one
    backer activated at once cannot both pass."""
    if variant.unit_limit is None:
        return
    cap = current_app.config["LIMITED_UNITS_PER_ACCOUNT"]
    query = sa.select(sa.func.coalesce(sa.func.sum(Pledge.quantity), 0)).where(
        Pledge.backer_id == backer_id,
        Pledge.variant_id == variant.id,
        Pledge.state == PledgeState.ACTIVE,
    )
    if besides is not None:
        query = query.where(Pledge.id != besides.id)
    held = db.session.scalar(query)
    if held + quantity > cap:
        if held:
            message = _(
                "%(label)s is a limited edition: one backer can hold at most %(cap)s units "
                "of it. You hold %(held)s already.",
                label=variant.label,
                cap=cap,
                held=held,
            )
        else:
            message = _(
                "%(label)s is a limited edition: one backer can hold at most %(cap)s units of it.",
                label=variant.label,
                cap=cap,
            )
        raise CampaignError(message, 409)


def _check_zone(zone: str) -> None:
    if zone not in SHIPPING_ZONES:
        raise CampaignError(_("Choose where the parcel goes."))


def create_pledge(
    campaign_id: int,
    backer: User,
    variant_id: int,
    quantity: int,
    idempotency_key: str,
    shipping_zone: str = "domestic",
) -> tuple[Pledge, bool]:
    """A pledge waiting for its card. The same form submitted twice (same key) gives back the
    first pledge: returns (pledge, created)."""
    if not backer.is_verified:
        raise CampaignError(_("Confirm your email address before pledging."), 403)
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", idempotency_key or ""):
        raise CampaignError(_("This form is out of date: reload the page and try again."), 400)
    existing = _pledge_by_key(backer, idempotency_key)
    if existing is not None:
        return existing, False
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(_("No such campaign."), 404)
    _open_for_pledges(campaign)
    _check_quantity(quantity)
    _check_zone(shipping_zone)
    variant = _variant_of(campaign, variant_id)
    if variant.units_left is not None and variant.units_left < quantity:
        raise SoldOut(_sold_out_message(variant))
    _check_share(backer.id, variant, quantity)
    pledge = new_pledge(campaign, backer, variant, quantity, idempotency_key, shipping_zone)
    try:
        with db.session.begin_nested():
            db.session.add(pledge)
    except sa.exc.IntegrityError:
        # The same form, submitted twice at the same moment: the other request won.
        return _pledge_by_key(backer, idempotency_key), False
    record_about(
        "pledge.created",
        pledge,
        actor=backer,
        to_state=PledgeState.PENDING_CARD.value,
        campaign_id=campaign.id,
    )
    return pledge, True


def _pledge_by_key(backer: User, idempotency_key: str) -> Pledge | None:
    return db.session.scalar(
        sa.select(Pledge).where(
            Pledge.backer_id == backer.id, Pledge.idempotency_key == idempotency_key
        )
    )


def new_pledge(
    campaign: Campaign,
    backer: User,
    variant: CampaignVariant,
    quantity: int,
    idempotency_key: str,
    shipping_zone: str = "domestic",
) -> Pledge:
    """A pledge waiting for its card, at the campaign's price and shipping, in its currency;
    the caller adds it to the session."""
    pledge = Pledge(
        campaign_id=campaign.id,
        backer_id=backer.id,
        variant_id=variant.id,
        quantity=quantity,
        currency=campaign.currency,
        idempotency_key=idempotency_key,
    )
    _price(pledge, campaign, quantity, shipping_zone)
    return pledge


def _price(pledge: Pledge, campaign: Campaign, quantity: int, shipping_zone: str) -> None:
    """The amount settlement will charge: the units at the campaign's price, plus one
    parcel's shipping to the zone chosen."""
    shipping = campaign.shipping_cents(shipping_zone)
    pledge.shipping_zone, pledge.shipping_cents = shipping_zone, shipping
    pledge.amount_cents = campaign.unit_price_cents * quantity + shipping


def _sold_out_message(variant: CampaignVariant) -> str:
    left = variant.units_left or 0
    if left:
        return _("Only %(left)s of %(label)s left.", left=left, label=variant.label)
    return _("%(label)s is sold out.", label=variant.label)


def _reserve(variant_id: int, quantity: int) -> bool:
    """Take ``quantity`` units if they are left, in one statement: under concurrency the
    database serialises the updates of the row and re-checks the condition for each."""
    result = db.session.execute(
        sa.update(CampaignVariant)
        .where(
            CampaignVariant.id == variant_id,
            sa.or_(
                CampaignVariant.unit_limit.is_(None),
                CampaignVariant.reserved_units + quantity <= CampaignVariant.unit_limit,
            ),
        )
        .values(reserved_units=CampaignVariant.reserved_units + quantity)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _lock_variants(*variant_ids: int) -> None:
    """Lock the variant rows a change will update, lowest id first. Two backers swapping
    variants in opposite directions would otherwise each hold one row and wait for the
    other's: a deadlock. In one order, the second simply waits for the first."""
    db.session.execute(
        sa.select(CampaignVariant.id)
        .where(CampaignVariant.id.in_(sorted(set(variant_ids))))
        .order_by(CampaignVariant.id)
        .with_for_update()
    )


def release_units(pledge: Pledge) -> None:
    """Give back a pledge's units when it stops counting (dropped after a failed card)."""
    _release(pledge.variant_id, pledge.quantity)


def _release(variant_id: int, quantity: int) -> None:
    db.session.execute(
        sa.update(CampaignVariant)
        .where(CampaignVariant.id == variant_id)
        .values(reserved_units=CampaignVariant.reserved_units - quantity)
        .execution_options(synchronize_session=False)
    )


def activate_pledge(pledge: Pledge, actor: User, payment_method_id: str, card_summary: str) -> None:
    """The card is saved (the caller checked it with Stripe): count the pledge, if its units
    are still there."""
    campaign = db.session.get(Campaign, pledge.campaign_id)
    _check_changeable(pledge, campaign)
    if pledge.state == PledgeState.ACTIVE:
        pledge.payment_method_id, pledge.card_summary = payment_method_id, card_summary
        record_about("pledge.card_replaced", pledge, actor=actor)
        return
    _lock_variants(pledge.variant_id)
    _check_share(
        pledge.backer_id, db.session.get(CampaignVariant, pledge.variant_id), pledge.quantity
    )
    if not _reserve(pledge.variant_id, pledge.quantity):
        variant = db.session.get(CampaignVariant, pledge.variant_id)
        db.session.refresh(variant)
        raise SoldOut(
            _(
                "%(sold_out)s Choose another variant or fewer units.",
                sold_out=_sold_out_message(variant),
            )
        )
    pledge.payment_method_id, pledge.card_summary = payment_method_id, card_summary
    pledge_transition(pledge, "card_saved", actor)
    _expire_variants(campaign)
    queue_mail(
        pledge.backer,
        "pledge_confirmed",
        pledge=pledge,
        campaign=campaign,
        link=external_url("pledges.mine"),
    )


def _expire_variants(campaign: Campaign) -> None:
    for variant in campaign.variants:
        db.session.expire(variant, ["reserved_units"])


def change_pledge(
    pledge_id: int, actor: User, variant_id: int, quantity: int, shipping_zone: str | None = None
) -> Pledge:
    """``shipping_zone``: where the parcel now goes; None keeps the zone chosen before."""
    pledge = _locked_own_pledge(pledge_id, actor)
    campaign = db.session.get(Campaign, pledge.campaign_id)
    _check_changeable(
        pledge,
        campaign,
        then=_("This pledge is %(state)s: it can no longer change.", state=pledge.state.label),
    )
    _check_quantity(quantity)
    shipping_zone = shipping_zone or pledge.shipping_zone
    _check_zone(shipping_zone)
    variant = _variant_of(campaign, variant_id)
    if pledge.state == PledgeState.ACTIVE:
        _lock_variants(pledge.variant_id, variant.id)
    _check_share(pledge.backer_id, variant, quantity, besides=pledge)
    if pledge.state == PledgeState.ACTIVE:
        # Give back the old units and take the new ones together, or neither.
        savepoint = db.session.begin_nested()
        _release(pledge.variant_id, pledge.quantity)
        if not _reserve(variant.id, quantity):
            savepoint.rollback()
            db.session.refresh(variant)
            raise SoldOut(_sold_out_message(variant))
        savepoint.commit()
    previous = f"{pledge.quantity} × {pledge.variant.label}"
    previous_amount = pledge.amount_cents
    pledge.variant_id, pledge.quantity = variant.id, quantity
    _price(pledge, campaign, quantity, shipping_zone)
    record_about(
        "pledge.changed",
        pledge,
        actor=actor,
        previous=previous,
        now=f"{quantity} × {variant.label}",
        previous_amount_cents=previous_amount,
        amount_cents=pledge.amount_cents,
        shipping_zone=shipping_zone,
    )
    _expire_variants(campaign)
    db.session.expire(pledge, ["variant"])
    return pledge


def _cancel(pledge: Pledge, actor: User | None, reason: str) -> None:
    if pledge.state == PledgeState.ACTIVE:
        _release(pledge.variant_id, pledge.quantity)
    pledge_transition(pledge, "cancel", actor, reason=reason)


def cancel_pledge(pledge_id: int, actor: User) -> Pledge:
    pledge = _locked_own_pledge(pledge_id, actor)
    if pledge.state == PledgeState.CANCELLED:
        return pledge
    campaign = db.session.get(Campaign, pledge.campaign_id)
    _check_changeable(
        pledge,
        campaign,
        then=_(
            "This pledge is %(state)s: it can no longer be cancelled.", state=pledge.state.label
        ),
    )
    _cancel(pledge, actor, N_("Cancelled by the backer before the deadline"))
    _expire_variants(campaign)
    return pledge


# --- updates ----------------------------------------------------------------------------------


def can_post_update(campaign: Campaign, user) -> bool:
    return may_post_updates(campaign.design.designer_id, user)


def may_post_updates(designer_id: int, user) -> bool:
    """Our team and the campaign's designer (``designer_id``) post its updates."""
    return bool(user and user.is_authenticated and (user.is_operator or user.id == designer_id))


def post_update(
    campaign_id: int, author: User, title: str, body: str, backers_only: bool
) -> CampaignUpdate:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(_("No such campaign."), 404)
    if not can_post_update(campaign, author):
        raise CampaignError(_("Only the designer and our team post updates."), 403)
    title = " ".join((title or "").split())
    body = (body or "").replace("\r\n", "\n").strip()
    if not 3 <= len(title) <= 120 or not body or len(body) > 5000:
        raise CampaignError(
            _("An update needs a title (3-120 characters) and a text (up to 5,000).")
        )
    update = CampaignUpdate(
        campaign_id=campaign.id,
        author_id=author.id,
        title=title,
        body=body,
        backers_only=backers_only,
    )
    db.session.add(update)
    db.session.flush()
    record_about("campaign.update_posted", campaign, actor=author, update_id=update.id)
    forget_page(campaign.id)
    # Thousands of backers: the mails are written by a job, not in this request.
    enqueue_after_commit("mail", "marketplace.campaigns.jobs.mail_update", update.id)
    return update


def mail_update(update_id: int, batch: int = 200) -> int:
    """Write one outbox mail per backer, batch by batch, each batch committed with the cursor
    (the last backer id mailed): a job run twice, or resumed after a crash, mails nobody twice.
    Returns how many mails this run wrote."""
    update = db.session.get(CampaignUpdate, update_id)
    campaign = db.session.get(Campaign, update.campaign_id)
    link = external_url("campaigns.show", campaign_id=campaign.id) + f"#update-{update.id}"
    sent = 0
    while True:
        ids = db.session.scalars(
            sa.select(Pledge.backer_id)
            .where(
                Pledge.campaign_id == campaign.id,
                Pledge.counts,
                Pledge.backer_id > update.mailed_up_to,
            )
            .distinct()
            .order_by(Pledge.backer_id)
            .limit(batch)
        ).all()
        if not ids:
            return sent
        for user_id in ids:
            queue_mail(
                db.session.get(User, user_id),
                "campaign_update",
                update=update,
                campaign=campaign,
                link=link,
            )
        update.mailed_up_to = ids[-1]
        sent += len(ids)
        db.session.commit()


def due_campaigns(now: dt.datetime | None = None) -> tuple[list[int], list[int]]:
    """(scheduled ones due to start, live ones due to close): the cron sweep's work list."""
    now = now or utcnow()
    to_start = db.session.scalars(
        sa.select(Campaign.id).where(
            Campaign.state == CampaignState.SCHEDULED, Campaign.starts_at <= now
        )
    ).all()
    to_close = db.session.scalars(
        sa.select(Campaign.id).where(Campaign.state == CampaignState.LIVE, Campaign.deadline <= now)
    ).all()
    return list(to_start), list(to_close)
