"""The rules of surveys, production runs and orders. Functions flush and never commit.

A run's quantities come from the collected pledges at launch (a dropped, refunded or
otherwise unpaid pledge is never in a run), each run state change goes through RUN_MACHINE
and the audit log, and backers are mailed at each step. The money side (royalties booked,
refunds when a run is cancelled) belongs to ``payments``, which receives this package's
signals (``marketplace.kernel.signals``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_pgettext, ngettext

from marketplace.accounts.models import User
from marketplace.campaigns import services as campaigns
from marketplace.campaigns.models import (
    SHIPPING_ZONES,
    Campaign,
    CampaignState,
    Pledge,
    PledgeState,
    zone_label,
    zone_of,
)
from marketplace.kernel import signals
from marketplace.kernel.audit import apply_transition, record_about
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.errors import ServiceError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import country_name
from marketplace.kernel.locks import lock_row
from marketplace.kernel.mail import queue_mail
from marketplace.kernel.pagecache import forget_after_commit
from marketplace.kernel.urls import external_url
from payments import ledger

from . import queries
from .models import (
    ORDER_MACHINE,
    RUN_MACHINE,
    Order,
    OrderState,
    ProductionRun,
    RunLine,
    RunState,
    Survey,
)

SURVEY_FIELDS = ("full_name", "address_line1", "address_line2", "postal_code", "city", "country")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


class ProductionError(ServiceError):
    pass


# --- surveys ----------------------------------------------------------------------------------


def request_survey(pledge: Pledge) -> Survey:
    """Ask the backer of a pledge just paid where to ship it (the receipt mail links here)."""
    existing = db.session.scalar(sa.select(Survey).where(Survey.pledge_id == pledge.id))
    if existing is not None:
        return existing
    survey = Survey(pledge_id=pledge.id, campaign_id=pledge.campaign_id, backer_id=pledge.backer_id)
    db.session.add(survey)
    db.session.flush()
    forget_after_commit(campaigns.backer_tag(pledge.backer_id))  # the banner asks for it
    return survey


def survey_for(pledge_id: int, user: User) -> Survey:
    survey = db.session.scalar(sa.select(Survey).where(Survey.pledge_id == pledge_id))
    if survey is None or survey.backer_id != user.id:
        raise ProductionError(_("No such survey."), 404)
    return survey


def can_answer(survey: Survey) -> bool:
    """Until the order leaves the manufacturer, the address can change."""
    order = db.session.scalar(sa.select(Order).where(Order.pledge_id == survey.pledge_id))
    return address_can_change(survey.pledge, order)


def address_can_change(pledge: Pledge, order: Order | None) -> bool:
    """``can_answer`` for a page that has already loaded the pledge's order (or knows it
    has none)."""
    return pledge.state == PledgeState.COLLECTED and (
        order is None or order.state == OrderState.PENDING
    )


def answer_survey(pledge_id: int, user: User, answers: dict, variant_confirmed: bool) -> Survey:
    survey = survey_for(pledge_id, user)
    if not can_answer(survey):
        raise ProductionError(_("Your order has shipped: its address can no longer change."), 409)
    if not variant_confirmed:
        raise ProductionError(
            _("Confirm the variant; to change it, write to us before the run is ordered.")
        )
    clean = {k: " ".join((answers.get(k) or "").split()) for k in SURVEY_FIELDS}
    clean["country"] = clean["country"].upper()
    clean["phone"] = " ".join((answers.get("phone") or "").split()) or None
    missing = [k for k in ("full_name", "address_line1", "postal_code", "city") if not clean[k]]
    if missing:
        raise ProductionError(_("Fill in your name, street address, postal code and city."))
    if not _COUNTRY_RE.match(clean["country"]):
        raise ProductionError(_("Give the country as its two-letter code, like FR or DE."))
    _check_paid_zone(survey.pledge, clean["country"])
    for key, value in clean.items():
        setattr(survey, key, value or None)
    first = survey.answered_at is None
    survey.answered_at = utcnow()
    forget_after_commit(campaigns.backer_tag(user.id))  # the banner asked for it
    record_about(
        "survey.answered" if first else "survey.updated",
        ("pledge", pledge_id),
        actor=user,
        campaign_id=survey.campaign_id,
    )
    return survey


def _check_paid_zone(pledge: Pledge, country: str) -> None:
    """The shipping paid covers the address: an address in a dearer zone than the one chosen
    at pledge time is refused (a cheaper one is fine)."""
    campaign = pledge.campaign
    zone = zone_of(country, campaign.ships_from)
    if SHIPPING_ZONES.index(zone) > SHIPPING_ZONES.index(pledge.shipping_zone):
        raise ProductionError(
            _(
                "Your pledge paid shipping to %(paid)s, and %(country)s is in the “%(zone)s” zone: "
                "give an address in %(paid)s, or write to us to pay the difference.",
                paid=zone_label(pledge.shipping_zone, campaign.ships_from),
                country=country_name(country),
                zone=zone_label(zone, campaign.ships_from),
            )
        )


def remind_surveys(
    *, now: dt.datetime | None = None, campaign_id: int | None = None, actor: User | None = None
) -> int:
    """Remind backers who have not answered: every 48 h (the sweep), or now for one
    campaign (an operator's button, still at most once an hour per backer)."""
    now = now or utcnow()
    gap = dt.timedelta(hours=1 if actor else current_app.config["SURVEY_REMINDER_HOURS"])
    query = queries.awaiting_address(sa.select(Survey).where(Survey.reminded_at <= now - gap))
    if campaign_id is not None:
        query = query.where(Survey.campaign_id == campaign_id)
    reminded = 0
    for survey in db.session.scalars(query.limit(1000)):
        survey.reminded_at = now
        _mail_survey(survey, "survey_reminder")
        reminded += 1
    if actor is not None:
        record_about("survey.reminded", ("campaign", campaign_id), actor=actor, reminded=reminded)
        campaigns.forget_page(campaign_id)  # an event of the campaign's public timeline
    return reminded


def _mail_survey(survey: Survey, kind: str) -> None:
    queue_mail(
        db.session.get(User, survey.backer_id),
        kind,
        pledge=survey.pledge,
        campaign=db.session.get(Campaign, survey.campaign_id),
        link=external_url("production.survey", pledge_id=survey.pledge_id),
    )


# --- production runs --------------------------------------------------------------------------


def collected_pledges(campaign_id: int) -> list[Pledge]:
    return db.session.scalars(
        sa.select(Pledge)
        .where(Pledge.campaign_id == campaign_id, Pledge.state == PledgeState.COLLECTED)
        .order_by(Pledge.id)
    ).all()


def planned_quantities(campaign: Campaign) -> list[tuple[int, str, int]]:
    """(variant id, label, units) from the collected pledges, in the campaign's order."""
    units = Counter()
    for pledge in collected_pledges(campaign.id):
        units[pledge.variant_id] += pledge.quantity
    return [(v.id, v.label, units[v.id]) for v in campaign.variants if units[v.id]]


def launch_run(
    campaign_id: int,
    operator: User,
    *,
    manufacturer: str,
    reference: str,
    expected_ship_date: dt.date,
    today: dt.date | None = None,
) -> ProductionRun:
    manufacturer = " ".join((manufacturer or "").split())
    reference = " ".join((reference or "").split())
    if not 2 <= len(manufacturer) <= 120 or not 1 <= len(reference) <= 80:
        raise ProductionError(_("Name the manufacturer (2-120 characters) and its reference."))
    if expected_ship_date <= (today or utcnow().date()):
        raise ProductionError(_("The expected ship date must be in the future."))
    campaign = lock_row(Campaign, campaign_id)
    if campaign is None:
        raise ProductionError(_("No such campaign."), 404)
    if db.session.scalar(
        sa.select(ProductionRun.id).where(ProductionRun.campaign_id == campaign.id)
    ):
        raise ProductionError(_("This campaign already has its production run."), 409)
    if campaign.state != CampaignState.SETTLED:
        raise ProductionError(
            _(
                "This campaign is %(state)s: a run starts from a settled campaign.",
                state=_(campaign.state.label),
            ),
            409,
        )
    pledges = collected_pledges(campaign.id)
    if not pledges:
        raise ProductionError(
            _("No pledge of this campaign is paid: there is nothing to make."), 409
        )
    run = ProductionRun(
        campaign_id=campaign.id,
        manufacturer=manufacturer,
        reference=reference,
        expected_ship_date=expected_ship_date,
        created_by_id=operator.id,
        lines=[
            RunLine(variant_id=variant_id, quantity=units, position=i)
            for i, (variant_id, _label, units) in enumerate(planned_quantities(campaign))
        ],
    )
    db.session.add(run)
    db.session.flush()
    for pledge in pledges:
        db.session.add(Order(run_id=run.id, pledge_id=pledge.id))
    db.session.flush()
    record_about(
        "production_run.launched",
        run,
        actor=operator,
        to_state=RunState.PLANNED.value,
        campaign_id=campaign.id,
        units=run.total_units,
        manufacturer=manufacturer,
    )
    # The run's events are on its campaign's public timeline (views.campaign_timeline).
    campaigns.forget_page(campaign.id)
    campaigns.transition(campaign, "produce", operator, run_id=run.id)
    signals.run_launched.send(run, actor=operator, campaign_id=campaign.id, units=run.total_units)
    _mail_backers(run, "run_update")
    return run


def lock_run(run_id: int) -> ProductionRun:
    run = lock_row(ProductionRun, run_id)
    if run is None:
        raise ProductionError(_("No such production run."), 404)
    return run


def move_run(run_id: int, operator: User, event: str) -> ProductionRun:
    """ordered, in production, shipped, delivered: one step at a time, backers mailed."""
    if event not in ("order", "start", "ship", "deliver"):
        raise ProductionError(_("Unknown step."), 400)
    run = lock_run(run_id)
    move = RUN_MACHINE.moves.get((run.state, event))
    if move is None:
        raise ProductionError(
            _("This run is %(state)s: it cannot take that step now.", state=_(run.state.label)),
            409,
        )
    if event == "ship":
        waiting = db.session.scalar(
            sa.select(sa.func.count()).where(
                Order.run_id == run.id, Order.state == OrderState.PENDING
            )
        )
        if waiting:
            raise ProductionError(
                ngettext(
                    "%(num)d order without a tracking reference yet: mark it shipped first.",
                    "%(num)d orders without a tracking reference yet: mark them shipped first.",
                    waiting,
                ),
                409,
            )
    apply_transition(
        RUN_MACHINE,
        run,
        event,
        actor=operator,
        campaign_id=run.campaign_id,
    )
    campaigns.forget_page(run.campaign_id)  # the step shows on the campaign's timeline
    campaign = db.session.get(Campaign, run.campaign_id)
    if event == "ship":
        campaigns.transition(campaign, "ship", operator, run_id=run.id)
    if event == "deliver":
        # The campaign's badge and pages follow the run to its end.
        campaigns.transition(campaign, "deliver", operator, run_id=run.id)
        now = utcnow()
        db.session.execute(
            sa.update(Order)
            .where(Order.run_id == run.id, Order.state.in_(ORDER_MACHINE.sources("deliver")))
            .values(state=ORDER_MACHINE.target("deliver"), delivered_at=now)
            .execution_options(synchronize_session=False)
        )
    _mail_backers(run, "run_update")
    return run


def parse_tracking(text: str) -> list[tuple[int, str]]:
    """Lines of ``order id, tracking reference`` (comma, semicolon or tab separated)."""
    entries = []
    for number, raw in enumerate((text or "").splitlines(), 1):
        if not raw.strip():
            continue
        parts = [p.strip() for p in re.split(r"[,;\t]", raw, maxsplit=1)]
        if len(parts) != 2 or not parts[0].isdigit() or not 1 <= len(parts[1]) <= 80:
            raise ProductionError(
                _(
                    "Line %(line)d: write the order number, a comma, then the tracking reference.",
                    line=number,
                )
            )
        entries.append((int(parts[0]), parts[1]))
    if not entries:
        raise ProductionError(_("Give at least one order number and tracking reference."))
    return entries


def ship_orders(run_id: int, operator: User, entries: list[tuple[int, str]]) -> int:
    """Mark orders shipped with their tracking references, all or none."""
    run = lock_run(run_id)
    if run.state not in (RunState.IN_PRODUCTION, RunState.SHIPPED):
        raise ProductionError(
            _("This run is %(state)s: nothing ships yet.", state=_(run.state.label)), 409
        )
    orders = {
        o.id: o
        for o in db.session.scalars(
            sa.select(Order).where(Order.run_id == run.id, Order.id.in_([e[0] for e in entries]))
        )
    }
    unknown = [str(order_id) for order_id, _ in entries if order_id not in orders]
    if unknown:
        raise ProductionError(
            _("Not orders of this run: %(orders)s.", orders=", ".join(unknown)), 422
        )
    now = utcnow()
    for order_id, tracking in entries:
        order = orders[order_id]
        if not ORDER_MACHINE.allows(order.state, "ship"):
            raise ProductionError(
                _("Order %(order)d is %(state)s.", order=order_id, state=_(order.state.value)),
                409,
            )
        # Shipping a shipped order again corrects its tracking reference.
        ORDER_MACHINE.apply(order, "ship")
        order.tracking_ref, order.shipped_at = tracking, now
        queue_mail(
            order.pledge.backer,
            "order_shipped",
            order=order,
            pledge=order.pledge,
            campaign=run.campaign,
            link=external_url("pledges.mine"),
        )
    record_about("production_run.orders_shipped", run, actor=operator, orders=len(entries))
    return len(entries)


def cancel_run(run_id: int, operator: User, reason: str) -> ProductionRun:
    """Cancel a run: its orders are cancelled, and the money side refunds the backers and
    reverses the royalty (``run_cancelled``)."""
    reason = (reason or "").strip()
    if not 10 <= len(reason) <= 1000:
        raise ProductionError(_("Give backers a public reason of 10 to 1,000 characters."))
    run = lock_run(run_id)
    if (run.state, "cancel") not in RUN_MACHINE.moves:
        raise ProductionError(
            _("This run is %(state)s: it can no longer be cancelled.", state=_(run.state.label)),
            409,
        )
    run.cancel_reason = reason
    apply_transition(
        RUN_MACHINE,
        run,
        "cancel",
        actor=operator,
        reason=reason,
        campaign_id=run.campaign_id,
    )
    campaigns.forget_page(run.campaign_id)  # the step shows on the campaign's timeline
    db.session.execute(
        sa.update(Order)
        .where(Order.run_id == run.id, Order.state.in_(ORDER_MACHINE.sources("cancel")))
        .values(state=ORDER_MACHINE.target("cancel"))
        .execution_options(synchronize_session=False)
    )
    signals.run_cancelled.send(run, actor=operator, campaign_id=run.campaign_id, reason=reason)
    return run


def withdraw_refunded_order(pledge: Pledge, *, actor: User | None) -> None:
    """Receives ``pledge_refunded``: the pledge's order leaves its run, and the royalty the
    run booked gives back the pledge's share."""
    order = cancel_order_of(pledge)
    if order is not None:
        ledger.reverse_pledge_share(pledge, order.run_id, actor)


def cancel_order_of(pledge: Pledge) -> Order | None:
    """A pledge refunded on its own leaves its run."""
    order = db.session.scalar(sa.select(Order).where(Order.pledge_id == pledge.id))
    if order is not None and ORDER_MACHINE.apply(order, "cancel"):
        record_about(
            "order.cancelled", ("production_run", order.run_id), actor=None, pledge_id=pledge.id
        )
        campaigns.forget_page(pledge.campaign_id)  # an event of the run, on the timeline
    return order


def _mail_backers(run: ProductionRun, kind: str) -> None:
    link = external_url("pledges.mine")
    backer_ids = db.session.scalars(
        sa.select(Pledge.backer_id)
        .join(Order, Order.pledge_id == Pledge.id)
        .where(Order.run_id == run.id, Order.state != OrderState.CANCELLED)
        .distinct()
    ).all()
    campaign = db.session.get(Campaign, run.campaign_id)
    for backer_id in backer_ids:
        queue_mail(db.session.get(User, backer_id), kind, run=run, campaign=campaign, link=link)


# --- the manufacturer's CSV -------------------------------------------------------------------

#: The columns, as the English header names them; the header row is written in the
#: language of the operator who downloads the file (the manufacturer reads it).
CSV_COLUMNS = [
    "order",
    "pledge",
    "backer",
    "email",
    "variant",
    "quantity",
    "ship_to_name",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "country",
    "phone",
    "address_confirmed",
    "order_state",
    "tracking",
]
#: Their headers for people, in their own context: a column named "backer" is not the
#: plural-counted "backer" of the pages.
_CSV_HEADERS = {
    "order": lazy_pgettext("orders CSV column", "order"),
    "pledge": lazy_pgettext("orders CSV column", "pledge"),
    "backer": lazy_pgettext("orders CSV column", "backer"),
    "email": lazy_pgettext("orders CSV column", "email"),
    "variant": lazy_pgettext("orders CSV column", "variant"),
    "quantity": lazy_pgettext("orders CSV column", "quantity"),
    "ship_to_name": lazy_pgettext("orders CSV column", "ship_to_name"),
    "address_line1": lazy_pgettext("orders CSV column", "address_line1"),
    "address_line2": lazy_pgettext("orders CSV column", "address_line2"),
    "postal_code": lazy_pgettext("orders CSV column", "postal_code"),
    "city": lazy_pgettext("orders CSV column", "city"),
    "country": lazy_pgettext("orders CSV column", "country"),
    "phone": lazy_pgettext("orders CSV column", "phone"),
    "address_confirmed": lazy_pgettext("orders CSV column", "address_confirmed"),
    "order_state": lazy_pgettext("orders CSV column", "order_state"),
    "tracking": lazy_pgettext("orders CSV column", "tracking"),
}


def orders_csv(rows: Iterable[tuple[Order, Pledge, Survey | None, User]]) -> str:
    """The order lines for the manufacturer, from ``queries.orders_to_make``, in the
    request's language (its header and words; names and addresses as typed). UTF-8 with a
    byte-order mark, so that Excel and LibreOffice open accented names correctly; cells that
    a spreadsheet would run as a formula are quoted with a leading apostrophe."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([str(_CSV_HEADERS[column]) for column in CSV_COLUMNS])
    confirmed, no_address = _("yes"), _("NO ADDRESS YET")
    for order, pledge, survey, user in rows:
        answered = survey is not None and survey.answered_at is not None
        writer.writerow(
            [
                _cell(v)
                for v in (
                    order.id,
                    pledge.id,
                    user.display_name,
                    user.email,
                    pledge.variant.label,
                    pledge.quantity,
                    survey.full_name if answered else "",
                    survey.address_line1 if answered else "",
                    (survey.address_line2 or "") if answered else "",
                    survey.postal_code if answered else "",
                    survey.city if answered else "",
                    survey.country if answered else "",
                    (survey.phone or "") if answered else "",
                    confirmed if answered else no_address,
                    _(order.state.value),
                    order.tracking_ref or "",
                )
            ]
        )
    return out.getvalue()


def _cell(value) -> str | int:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
