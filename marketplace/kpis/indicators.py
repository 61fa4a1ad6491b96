"""The indicators, each one function of a period, read from the rollups only.

Shares are ``Ratio``s (numerator and denominator kept, so a test can check both and a page can
say "12 of 40"), changes are relative to the previous period of the same length.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement

from marketplace.kernel.extensions import db

from .models import BACKER, ROLES, KpiAccount, KpiActivity, KpiCohort, KpiDay, KpiMoney

#: "Backed again within" this many days.
BACK_AGAIN_DAYS = 90
#: Periods up to this long are drawn day by day, longer ones week by week.
DAILY_UP_TO = 31
#: The funnel's steps, in order.
FUNNEL_STEPS = (
    "submitted",
    "approved",
    "shortlisted",
    "selected",
    "campaign",
    "funded",
    "delivered",
)
MONEY_FIELDS = (
    "pledged_cents",
    "collected_cents",
    "refunded_cents",
    "royalties_booked_cents",
    "royalties_paid_cents",
)


@dataclass(frozen=True)
class Period:
    """Whole UTC days, both ends included."""

    start: dt.date
    end: dt.date

    @classmethod
    def last(cls, days: int, today: dt.date) -> Period:
        return cls(today - dt.timedelta(days=days - 1), today)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        return Period(self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1))

    @property
    def bucket_days(self) -> int:
        """Days for a short period, weeks (counted from its first day) for a longer one."""
        return 1 if self.days <= DAILY_UP_TO else 7

    def buckets(self) -> list[Period]:
        size = self.bucket_days
        out, start = [], self.start
        while start <= self.end:
            end = min(start + dt.timedelta(days=size - 1), self.end)
            out.append(Period(start, end))
            start = end + dt.timedelta(days=1)
        return out


@dataclass(frozen=True)
class Ratio:
    numerator: int
    denominator: int

    @property
    def percent(self) -> float | None:
        """None when there is nothing to divide by (no rating, nobody asked): not 0 %."""
        return 100 * self.numerator / self.denominator if self.denominator else None


def change(current: float | None, previous: float | None) -> float | None:
    """Relative change in percent, or None without a previous value to compare with."""
    if current is None or not previous:
        return None
    return 100 * (current - previous) / abs(previous)


def _in(column, period: Period):
    return column.between(period.start, period.end)


def _has(role: int) -> ColumnElement:
    return KpiActivity.roles.op("&")(role) != 0


def _distinct_if(condition) -> ColumnElement:
    return sa.func.count(sa.distinct(sa.case((condition, KpiActivity.account_id))))


# --- Participants -----------------------------------------------------------------------


@dataclass(frozen=True)
class Participants:
    total: int
    #: Accounts that did each thing in the period (one account may do several).
    by_role: dict[str, int]
    #: Took part for the first time in the period; the others had taken part before it.
    new: int

    @property
    def returning(self) -> int:
        return self.total - self.new


def activity_counts(period: Period) -> dict[str, int]:
    """The distinct accounts of a period's activity that ``participants`` and ``loyalty``
    both read, in one scan of it (a year of activity is most of the dashboard's cost)."""
    row = db.session.execute(
        sa.select(
            sa.func.count(sa.distinct(KpiActivity.account_id)),
            _distinct_if(KpiAccount.first_day >= period.start),
            _distinct_if(_has(BACKER) & (KpiAccount.first_backed_day < period.start)),
            *(_distinct_if(_has(bit)) for bit in ROLES.values()),
        )
        .join(KpiAccount, KpiAccount.account_id == KpiActivity.account_id)
        .where(_in(KpiActivity.day, period))
    ).one()
    total, new, returning_backers, *roles = (int(v or 0) for v in row)
    return {
        "total": total,
        "new": new,
        "returning_backers": returning_backers,
        **dict(zip(ROLES, roles, strict=True)),
    }


def participants(period: Period, counts: dict[str, int] | None = None) -> Participants:
    """Distinct accounts that submitted, scored, commented, pledged (card saved) or rated.
    ``counts``: ``activity_counts(period)``, when the caller has them already."""
    c = counts or activity_counts(period)
    return Participants(total=c["total"], by_role={r: c[r] for r in ROLES}, new=c["new"])


# --- Ideas and conversion ---------------------------------------------------------------


@dataclass(frozen=True)
class Ideas:
    total: int
    redesigns: int
    days: int

    @property
    def per_week(self) -> float:
        return 7 * self.total / self.days


def _cohort_sums(period: Period) -> dict[str, int]:
    names = (*FUNNEL_STEPS, "redesigns", "produced")
    row = db.session.execute(
        sa.select(*(sa.func.coalesce(sa.func.sum(getattr(KpiCohort, n)), 0) for n in names)).where(
            _in(KpiCohort.day, period)
        )
    ).one()
    return dict(zip(names, (int(v) for v in row), strict=True))


def ideas(period: Period) -> Ideas:
    """Designs submitted in the period, redesigns included."""
    sums = _cohort_sums(period)
    return Ideas(total=sums["submitted"], redesigns=sums["redesigns"], days=period.days)


@dataclass(frozen=True)
class Funnel:
    #: (step, designs of the cohort that reached it), submitted first.
    steps: list[tuple[str, int]]

    def rates(self) -> list[Ratio]:
        """Each step against the one before (the first against itself)."""
        out, before = [], None
        for _step, count in self.steps:
            out.append(Ratio(count, before if before is not None else count))
            before = count
        return out

    @property
    def conversion(self) -> Ratio:
        """Ideas implemented: the cohort's designs whose campaign reached its goal."""
        counts = dict(self.steps)
        return Ratio(counts["funded"], counts["submitted"])


def funnel(period: Period) -> Funnel:
    """Designs submitted in the period and how far each has gone by now."""
    sums = _cohort_sums(period)
    return Funnel(steps=[(step, sums[step]) for step in FUNNEL_STEPS])


def cohorts(period: Period) -> list[tuple[dt.date, Funnel]]:
    """The funnel by month of submission, for the months the period touches."""
    by_month: dict[dt.date, dict[str, int]] = {}
    month = period.start.replace(day=1)
    while month <= period.end:
        by_month[month] = dict.fromkeys(FUNNEL_STEPS, 0)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    rows = db.session.execute(
        sa.select(KpiCohort.day, *(getattr(KpiCohort, n) for n in FUNNEL_STEPS)).where(
            _in(KpiCohort.day, period)
        )
    )
    for day, *counts in rows:
        sums = by_month[day.replace(day=1)]
        for name, count in zip(FUNNEL_STEPS, counts, strict=True):
            sums[name] += count
    return [
        (month, Funnel(steps=[(step, sums[step]) for step in FUNNEL_STEPS]))
        for month, sums in by_month.items()
    ]


# --- Satisfaction -----------------------------------------------------------------------


@dataclass(frozen=True)
class Satisfaction:
    ratings: int
    points: int
    #: Ratings of 4 or 5 stars among ``ratings``.
    top: Ratio
    #: "Would you recommend us" answers: promoters (9-10) and detractors (0-6).
    answers: int
    promoters: int
    detractors: int
    #: Orders delivered in the period that their backer has rated.
    response: Ratio

    @property
    def average(self) -> float | None:
        return self.points / self.ratings if self.ratings else None

    @property
    def nps(self) -> float | None:
        """Net promoter score, -100 to 100: promoters' share minus detractors'."""
        if not self.answers:
            return None
        return 100 * (self.promoters - self.detractors) / self.answers


def _day_sums(period: Period, *names: str) -> dict[str, int]:
    row = db.session.execute(
        sa.select(*(sa.func.coalesce(sa.func.sum(getattr(KpiDay, n)), 0) for n in names)).where(
            _in(KpiDay.day, period)
        )
    ).one()
    return dict(zip(names, (int(v) for v in row), strict=True))


def satisfaction(period: Period) -> Satisfaction:
    """Ratings written in the period, and the response to the period's deliveries."""
    s = _day_sums(
        period,
        "ratings",
        "rating_points",
        "top_ratings",
        "nps_answers",
        "promoters",
        "detractors",
        "delivered_orders",
        "rated_orders",
    )
    return Satisfaction(
        ratings=s["ratings"],
        points=s["rating_points"],
        top=Ratio(s["top_ratings"], s["ratings"]),
        answers=s["nps_answers"],
        promoters=s["promoters"],
        detractors=s["detractors"],
        response=Ratio(s["rated_orders"], s["delivered_orders"]),
    )


# --- Loyalty ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Loyalty:
    #: The period's participants who had taken part before it.
    returning: Ratio
    #: The period's backers who had backed before it.
    returning_backers: Ratio
    #: The period's backers who backed again within ``BACK_AGAIN_DAYS`` of their first
    #: pledge in the period (pledges up to now: a recent period has had less time).
    backed_again: Ratio


class _days_after(ColumnElement):
    """``day + n days`` in SQL, which PostgreSQL and SQLite spell differently."""

    inherit_cache = True
    type = sa.Date()

    def __init__(self, day, days: int):
        self.day = day
        self.days = days


@compiles(_days_after)
def _days_after_default(element, compiler, **kw):
    return f"({compiler.process(element.day, **kw)} + {int(element.days)})"


@compiles(_days_after, "sqlite")
def _days_after_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.day, **kw)}, '+{int(element.days)} days')"


def loyalty(period: Period, counts: dict[str, int] | None = None) -> Loyalty:
    """``counts``: ``activity_counts(period)``, when the caller has them already."""
    in_period = _in(KpiActivity.day, period)
    c = counts or activity_counts(period)
    total, backers = c["total"], c["backer"]
    returning, returning_backers = total - c["new"], c["returning_backers"]

    first_backing = (
        sa.select(
            KpiActivity.account_id.label("account_id"),
            sa.func.min(KpiActivity.day).label("day"),
        )
        .where(in_period, _has(BACKER))
        .group_by(KpiActivity.account_id)
        .subquery()
    )
    later = sa.orm.aliased(KpiActivity)
    again = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(first_backing)
        .where(
            sa.select(later.account_id)
            .where(
                later.account_id == first_backing.c.account_id,
                later.roles.op("&")(BACKER) != 0,
                later.day > first_backing.c.day,
                later.day <= _days_after(first_backing.c.day, BACK_AGAIN_DAYS),
            )
            .exists()
        )
    )
    return Loyalty(
        returning=Ratio(returning, total),
        returning_backers=Ratio(returning_backers, backers),
        backed_again=Ratio(int(again or 0), backers),
    )


# --- Money and production ---------------------------------------------------------------


def money(period: Period) -> dict[str, dict[str, int]]:
    """Per currency: pledged, collected, refunded, royalties booked and paid, minor units."""
    rows = db.session.execute(
        sa.select(KpiMoney.currency, *(sa.func.sum(getattr(KpiMoney, f)) for f in MONEY_FIELDS))
        .where(_in(KpiMoney.day, period))
        .group_by(KpiMoney.currency)
        .order_by(KpiMoney.currency)
    )
    return {
        currency: dict(zip(MONEY_FIELDS, (int(v or 0) for v in values), strict=True))
        for currency, *values in rows
    }


def units_made(period: Period) -> int:
    return _day_sums(period, "units_made")["units_made"]


# --- Series for the charts --------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    period: Period
    participants: int
    #: Of them, those who had taken part before the bucket's first day.
    returning: int
    ideas: int
    redesigns: int
    ratings: int
    rating_points: int
    nps_answers: int
    promoters: int
    detractors: int
    units_made: int
    #: Per currency, as ``money`` gives it.
    money: dict[str, dict[str, int]]

    @property
    def average_rating(self) -> float | None:
        return self.rating_points / self.ratings if self.ratings else None

    @property
    def returning_share(self) -> float | None:
        return 100 * self.returning / self.participants if self.participants else None

    @property
    def nps(self) -> float | None:
        if not self.nps_answers:
            return None
        return 100 * (self.promoters - self.detractors) / self.nps_answers


def _bucket_of(column, buckets: list[Period]):
    """The index of the bucket a day falls in, in SQL: one grouped query for every bucket."""
    return sa.case(
        *((column <= b.end, i) for i, b in enumerate(buckets[:-1])), else_=len(buckets) - 1
    )


def series(period: Period) -> list[Bucket]:
    """The period day by day (or week by week), for the charts and their tables: four
    queries, whatever the period's length."""
    buckets = period.buckets()
    active = (
        sa.select(
            _bucket_of(KpiActivity.day, buckets).label("bucket"),
            KpiActivity.account_id.label("account_id"),
            KpiAccount.first_day.label("first_day"),
        )
        .join(KpiAccount, KpiAccount.account_id == KpiActivity.account_id)
        .where(_in(KpiActivity.day, period))
        .subquery()
    )
    # Returning in a bucket: had taken part before the bucket's first day.
    bucket_start = sa.case(
        *((active.c.bucket == i, sa.literal(b.start, sa.Date)) for i, b in enumerate(buckets))
    )
    people = {
        bucket: (int(total), int(returning or 0))
        for bucket, total, returning in db.session.execute(
            sa.select(
                active.c.bucket,
                sa.func.count(sa.distinct(active.c.account_id)),
                sa.func.count(
                    sa.distinct(sa.case((active.c.first_day < bucket_start, active.c.account_id)))
                ),
            ).group_by(active.c.bucket)
        )
    }

    def index(day: dt.date) -> int:
        return (day - period.start).days // period.bucket_days

    sums: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    day_fields = (
        "ratings",
        "rating_points",
        "nps_answers",
        "promoters",
        "detractors",
        "units_made",
    )
    for row in db.session.execute(
        sa.select(KpiDay.day, *(getattr(KpiDay, f) for f in day_fields)).where(
            _in(KpiDay.day, period)
        )
    ):
        for name, value in zip(day_fields, row[1:], strict=True):
            sums[index(row[0])][name] += value
    for day, submitted, redesigns in db.session.execute(
        sa.select(KpiCohort.day, KpiCohort.submitted, KpiCohort.redesigns).where(
            _in(KpiCohort.day, period)
        )
    ):
        sums[index(day)]["ideas"] += submitted
        sums[index(day)]["redesigns"] += redesigns
    cash: dict[int, dict[str, dict[str, int]]] = defaultdict(dict)
    for day, currency, *values in db.session.execute(
        sa.select(
            KpiMoney.day, KpiMoney.currency, *(getattr(KpiMoney, f) for f in MONEY_FIELDS)
        ).where(_in(KpiMoney.day, period))
    ):
        into = cash[index(day)].setdefault(currency, dict.fromkeys(MONEY_FIELDS, 0))
        for name, value in zip(MONEY_FIELDS, values, strict=True):
            into[name] += value
    return [
        Bucket(
            period=b,
            participants=people.get(i, (0, 0))[0],
            returning=people.get(i, (0, 0))[1],
            ideas=sums[i]["ideas"],
            redesigns=sums[i]["redesigns"],
            ratings=sums[i]["ratings"],
            rating_points=sums[i]["rating_points"],
            nps_answers=sums[i]["nps_answers"],
            promoters=sums[i]["promoters"],
            detractors=sums[i]["detractors"],
            units_made=sums[i]["units_made"],
            money=dict(sorted(cash[i].items())),
        )
        for i, b in enumerate(buckets)
    ]


# --- The public impact ------------------------------------------------------------------


@dataclass(frozen=True)
class Impact:
    designs_submitted: int
    designs_produced: int
    participants: int
    backers: int
    units_made: int
    #: Per currency: royalties earned by designers (reversals taken off), and paid out.
    royalties: dict[str, tuple[int, int]]
    ratings: int
    rating_points: int

    @property
    def average_rating(self) -> float | None:
        return self.rating_points / self.ratings if self.ratings else None


def impact() -> Impact:
    """Everything since the start, for the public page."""
    cohorts_ = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(KpiCohort.submitted), 0),
            sa.func.coalesce(sa.func.sum(KpiCohort.produced), 0),
        )
    ).one()
    people = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(KpiAccount.first_backed_day))
    ).one()
    days = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(KpiDay.units_made), 0),
            sa.func.coalesce(sa.func.sum(KpiDay.ratings), 0),
            sa.func.coalesce(sa.func.sum(KpiDay.rating_points), 0),
        )
    ).one()
    royalties = db.session.execute(
        sa.select(
            KpiMoney.currency,
            sa.func.sum(KpiMoney.royalties_booked_cents),
            sa.func.sum(KpiMoney.royalties_paid_cents),
        )
        .group_by(KpiMoney.currency)
        .order_by(KpiMoney.currency)
    )
    return Impact(
        designs_submitted=int(cohorts_[0]),
        designs_produced=int(cohorts_[1]),
        participants=int(people[0]),
        backers=int(people[1]),
        units_made=int(days[0]),
        royalties={c: (int(b or 0), int(p or 0)) for c, b, p in royalties if (b or 0) or (p or 0)},
        ratings=int(days[1]),
        rating_points=int(days[2]),
    )
