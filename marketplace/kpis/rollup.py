"""Keeping the KPI rollups: what happened each day, who took part, how far each day's designs
have gone. ``roll_up`` is incremental (it rewrites the last ``LOOKBACK_DAYS`` days), ``rebuild``
starts from the first day anything happened; both leave the same rows for the same data.

A day's figures are counted on the day each thing happened (a charge on the day it succeeded,
a refund on the day it went through), so an old day does not move when something happens
later. What can still change an old day (a card saved the day after its pledge, a rating of an
order delivered weeks ago) is caught by the lookback; ``flask kpis rebuild`` catches anything
older. The cohort funnel and the accounts' first days depend on the whole history and are
rewritten by every run: one grouped query each.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import sqlalchemy as sa

from designs.models import Comment, Design, DesignState, Vote
from marketplace.campaigns.models import Campaign, CampaignState, Pledge
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.locks import lock_row
from marketplace.kernel.models import AuditEvent
from marketplace.production.models import Order
from marketplace.reviews.models import Rating
from payments.models import (
    AttemptStatus,
    ChargeAttempt,
    LedgerEntry,
    LedgerKind,
    Refund,
    RefundStatus,
)

from .models import (
    BACKER,
    COMMENTER,
    DESIGNER,
    RATER,
    SCORER,
    KpiAccount,
    KpiActivity,
    KpiCohort,
    KpiDay,
    KpiMoney,
    KpiRollup,
)

#: Days before the last one rolled up that every run rewrites: a rating arrives up to three
#: weeks after its order's delivery (the ask at 14 days, the reminder a week later).
LOOKBACK_DAYS = 35

_ROLLUP_ID = 1

D = DesignState
#: States a design is in once it passed the quality check.
_APPROVED = (D.VOTING, D.SCORED, D.SHORTLISTED, D.NOT_SELECTED, D.SELECTED, D.CAMPAIGN)
C = CampaignState
_FUNDED = (C.FUNDED, C.SETTLING, C.SETTLED, C.IN_PRODUCTION, C.SHIPPED, C.DELIVERED)


def day_of(column):
    """The UTC day of a timestamp column, in SQL (timestamps are stored as naive UTC, and
    ``date()`` is the same function on PostgreSQL and SQLite)."""
    return sa.func.date(column, type_=sa.Date)


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _during(column, first: dt.date, last: dt.date):
    return sa.and_(column >= _start_of(first), column < _start_of(last + dt.timedelta(days=1)))


def bookkeeping() -> KpiRollup:
    """The bookkeeping row, locked until commit (two runs, or a run and a target change, take
    turns)."""
    state = lock_row(KpiRollup, _ROLLUP_ID)
    if state is None:
        db.session.add(KpiRollup(id=_ROLLUP_ID, generation=0))
        db.session.flush()
        state = lock_row(KpiRollup, _ROLLUP_ID)
    return state


def roll_up(today: dt.date | None = None) -> tuple[dt.date, dt.date] | None:
    """Rewrite the days since ``LOOKBACK_DAYS`` before the last run, through today (all of
    them on the first run). Returns the days rewritten, or None when nothing ever happened.
    The caller commits."""
    today = today or utcnow().date()
    state = bookkeeping()
    if state.rolled_through is None:
        first = first_activity_day()
    else:
        first = min(state.rolled_through, today) - dt.timedelta(days=LOOKBACK_DAYS)
    return _rewrite(state, first, today)


def rebuild(today: dt.date | None = None) -> tuple[dt.date, dt.date] | None:
    """Every rollup row from scratch (after a fix to a definition, or a restore)."""
    today = today or utcnow().date()
    state = bookkeeping()
    db.session.execute(sa.delete(KpiDay))
    db.session.execute(sa.delete(KpiMoney))
    db.session.execute(sa.delete(KpiActivity))
    return _rewrite(state, first_activity_day(), today)


def first_activity_day() -> dt.date | None:
    """The first day anything the KPIs count happened."""
    firsts = [
        db.session.scalar(sa.select(sa.func.min(column)))
        for column in (
            Design.submitted_at,
            Vote.created_at,
            Comment.created_at,
            Pledge.created_at,
            Rating.created_at,
            LedgerEntry.created_at,
        )
    ]
    known = [first for first in firsts if first is not None]
    return min(known).date() if known else None


def _rewrite(state: KpiRollup, first: dt.date | None, last: dt.date):
    state.generation += 1
    state.rolled_at = utcnow()
    if first is None or first > last:
        _rewrite_history()
        return None
    db.session.execute(sa.delete(KpiDay).where(KpiDay.day.between(first, last)))
    db.session.execute(sa.delete(KpiMoney).where(KpiMoney.day.between(first, last)))
    db.session.execute(sa.delete(KpiActivity).where(KpiActivity.day.between(first, last)))
    _insert_activity(first, last)
    db.session.add_all(KpiDay(day=day, **figures) for day, figures in _days(first, last).items())
    db.session.add_all(
        KpiMoney(day=day, currency=currency, **figures)
        for (day, currency), figures in _money(first, last).items()
    )
    _rewrite_history()
    state.rolled_through = last
    db.session.flush()
    return first, last


def _insert_activity(first: dt.date, last: dt.date) -> None:
    """One row per account and day it took part, from every kind of participation, in one
    INSERT ... SELECT (a year of votes is too many rows to bring into Python)."""

    def took_part(account, at, role, *where):
        return sa.select(
            account.label("account_id"), day_of(at).label("day"), sa.literal(role).label("role")
        ).where(_during(at, first, last), *where)

    source = sa.union(
        took_part(Design.designer_id, Design.submitted_at, DESIGNER),
        took_part(Vote.user_id, Vote.created_at, SCORER),
        took_part(Comment.author_id, Comment.created_at, COMMENTER),
        # A backer is someone whose card was saved: a pledge left at the card step is not one.
        took_part(
            Pledge.backer_id, Pledge.created_at, BACKER, Pledge.payment_method_id.is_not(None)
        ),
        took_part(Rating.user_id, Rating.created_at, RATER),
    ).subquery()
    # UNION (not UNION ALL) leaves one row per account, day and role, so the sum is the bits.
    db.session.execute(
        sa.insert(KpiActivity).from_select(
            ["day", "account_id", "roles"],
            sa.select(source.c.day, source.c.account_id, sa.func.sum(source.c.role)).group_by(
                source.c.day, source.c.account_id
            ),
        )
    )


def _days(first: dt.date, last: dt.date) -> dict[dt.date, dict[str, int]]:
    days: dict[dt.date, dict[str, int]] = defaultdict(dict)

    def add(query, *names):
        for day, *values in db.session.execute(query):
            for name, value in zip(names, values, strict=True):
                days[_as_date(day)][name] = int(value or 0)

    add(
        sa.select(KpiActivity.day, sa.func.count())
        .where(KpiActivity.day.between(first, last))
        .group_by(KpiActivity.day),
        "participants",
    )
    rated = day_of(Rating.created_at)
    add(
        sa.select(
            rated,
            sa.func.count(),
            sa.func.sum(Rating.score),
            sa.func.sum(sa.case((Rating.score >= 4, 1), else_=0)),
            sa.func.count(Rating.recommend),
            sa.func.sum(sa.case((Rating.recommend >= 9, 1), else_=0)),
            sa.func.sum(sa.case((Rating.recommend <= 6, 1), else_=0)),
        )
        .where(_during(Rating.created_at, first, last))
        .group_by(rated),
        "ratings",
        "rating_points",
        "top_ratings",
        "nps_answers",
        "promoters",
        "detractors",
    )
    delivered = day_of(Order.delivered_at)
    add(
        sa.select(delivered, sa.func.count(), sa.func.count(Rating.id))
        .outerjoin(Rating, Rating.order_id == Order.id)
        .where(_during(Order.delivered_at, first, last))
        .group_by(delivered),
        "delivered_orders",
        "rated_orders",
    )
    shipped = day_of(Order.shipped_at)
    add(
        sa.select(shipped, sa.func.sum(Pledge.quantity))
        .join(Pledge, Pledge.id == Order.pledge_id)
        .where(_during(Order.shipped_at, first, last))
        .group_by(shipped),
        "units_made",
    )
    return days


def _money(first: dt.date, last: dt.date) -> dict[tuple[dt.date, str], dict[str, int]]:
    money: dict[tuple[dt.date, str], dict[str, int]] = defaultdict(dict)

    def add(name, at, currency, amount, *where):
        day = day_of(at)
        query = (
            sa.select(day, currency, sa.func.sum(amount))
            .where(_during(at, first, last), *where)
            .group_by(day, currency)
        )
        for row_day, row_currency, total in db.session.execute(query):
            money[(_as_date(row_day), row_currency)][name] = int(total or 0)

    add(
        "pledged_cents",
        Pledge.created_at,
        Pledge.currency,
        Pledge.amount_cents,
        Pledge.payment_method_id.is_not(None),
    )
    add(
        "collected_cents",
        ChargeAttempt.finished_at,
        ChargeAttempt.currency,
        ChargeAttempt.amount_cents,
        ChargeAttempt.status == AttemptStatus.SUCCEEDED,
    )
    add(
        "refunded_cents",
        Refund.finished_at,
        Refund.currency,
        Refund.amount_cents,
        Refund.status == RefundStatus.SUCCEEDED,
    )
    add(
        "royalties_booked_cents",
        LedgerEntry.created_at,
        LedgerEntry.currency,
        LedgerEntry.amount_cents,
        LedgerEntry.kind.in_((LedgerKind.ROYALTY, LedgerKind.REVERSAL)),
    )
    # Payouts are negative entries of the designer's account: paid is their opposite.
    add(
        "royalties_paid_cents",
        LedgerEntry.created_at,
        LedgerEntry.currency,
        -LedgerEntry.amount_cents,
        LedgerEntry.kind == LedgerKind.PAYOUT,
    )
    return money


def _rewrite_history() -> None:
    """The two tables that depend on all of history: first days, and the cohort funnel."""
    db.session.execute(sa.delete(KpiAccount))
    backed_on = sa.case((KpiActivity.roles.op("&")(BACKER) != 0, KpiActivity.day))
    db.session.execute(
        sa.insert(KpiAccount).from_select(
            ["account_id", "first_day", "first_backed_day"],
            sa.select(
                KpiActivity.account_id, sa.func.min(KpiActivity.day), sa.func.min(backed_on)
            ).group_by(KpiActivity.account_id),
        )
    )
    db.session.execute(sa.delete(KpiCohort))
    db.session.add_all(KpiCohort(day=day, **figures) for day, figures in _cohorts().items())


def _audited(subject_type: str, subject_id, action: str):
    """Whether the audit log holds ``action`` for the row ``subject_id`` names (in SQL)."""
    return (
        sa.select(AuditEvent.id)
        .where(
            AuditEvent.subject_type == subject_type,
            AuditEvent.subject_id == subject_id,
            AuditEvent.action == action,
        )
        .exists()
    )


def _cohorts() -> dict[dt.date, dict[str, int]]:
    # A design rejected after the shortlist is "not selected", as is one never shortlisted:
    # its audit line tells them apart.
    was_shortlisted = _audited("design", Design.id, "design.shortlist")
    # A campaign cancelled after its goal was met (during production, say) was funded.
    was_funded = _audited("campaign", Campaign.id, "campaign.fund")

    def count(condition):
        return sa.func.sum(sa.case((condition, 1), else_=0))

    submitted = day_of(Design.submitted_at)
    query = (
        sa.select(
            submitted,
            sa.func.count(),
            count(Design.redesign_of_id.is_not(None)),
            count(Design.state.in_(_APPROVED)),
            count(
                Design.state.in_((D.SHORTLISTED, D.SELECTED, D.CAMPAIGN))
                | ((Design.state == D.NOT_SELECTED) & was_shortlisted)
            ),
            count(Design.state.in_((D.SELECTED, D.CAMPAIGN))),
            count(Campaign.id.is_not(None)),
            count(Campaign.state.in_(_FUNDED) | ((Campaign.state == C.CANCELLED) & was_funded)),
            count(Campaign.state.in_((C.SHIPPED, C.DELIVERED))),
            count(Campaign.state == C.DELIVERED),
        )
        .outerjoin(Campaign, Campaign.design_id == Design.id)
        .where(Design.submitted_at.is_not(None))
        .group_by(submitted)
    )
    names = (
        "submitted",
        "redesigns",
        "approved",
        "shortlisted",
        "selected",
        "campaign",
        "funded",
        "produced",
        "delivered",
    )
    return {
        _as_date(day): dict(zip(names, (int(v or 0) for v in values), strict=True))
        for day, *values in db.session.execute(query)
    }


def _as_date(value) -> dt.date:
    # SQLite's date() is a string wherever SQLAlchemy did not type the column.
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
