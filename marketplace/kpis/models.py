"""The rollup tables the KPIs read, and the operators' targets.

Every rollup row is a function of the product's own tables: the job deletes and rewrites the
days it covers, so running it twice, or rebuilding everything, gives the same rows. Days are
UTC days.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.kernel.dbtypes import UTCDateTime, utcnow
from marketplace.kernel.extensions import db

#: Bits of ``KpiActivity.roles``: what an account did on a day.
DESIGNER, SCORER, COMMENTER, BACKER, RATER = 1, 2, 4, 8, 16
ROLES = {
    "designer": DESIGNER,
    "scorer": SCORER,
    "commenter": COMMENTER,
    "backer": BACKER,
    "rater": RATER,
}


class KpiDay(db.Model):
    """What happened on one day, counted once it is over (today's row is rewritten by each
    run until tomorrow)."""

    __tablename__ = "kpi_days"

    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    #: Distinct accounts that took part that day (``KpiActivity`` holds who).
    participants: Mapped[int] = mapped_column(default=0)
    #: Ratings written that day, the sum of their scores, and those of 4 or 5 stars.
    ratings: Mapped[int] = mapped_column(default=0)
    rating_points: Mapped[int] = mapped_column(default=0)
    top_ratings: Mapped[int] = mapped_column(default=0)
    #: Answers to "would you recommend us" (0-10) that day: 9-10 promote, 0-6 detract.
    nps_answers: Mapped[int] = mapped_column(default=0)
    promoters: Mapped[int] = mapped_column(default=0)
    detractors: Mapped[int] = mapped_column(default=0)
    #: Orders delivered that day, and how many of them have been rated since.
    delivered_orders: Mapped[int] = mapped_column(default=0)
    rated_orders: Mapped[int] = mapped_column(default=0)
    #: Units in the orders shipped that day.
    units_made: Mapped[int] = mapped_column(default=0)


class KpiMoney(db.Model):
    """One day's money in one currency, in minor units (currencies are never added up)."""

    __tablename__ = "kpi_money"

    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    currency: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    #: Pledges made that day whose card was saved, whatever became of them since.
    pledged_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: Charges that succeeded that day, and refunds that went through.
    collected_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunded_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: Royalties booked that day (reversals taken off), and paid out to designers.
    royalties_booked_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    royalties_paid_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class KpiActivity(db.Model):
    """Who took part on which day, and how: one row per account and active day. Distinct
    participants over any period, split by role, come from here."""

    __tablename__ = "kpi_activity"
    __table_args__ = (sa.Index("ix_kpi_activity_account_id_day", "account_id", "day"),)

    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    account_id: Mapped[int] = mapped_column(primary_key=True)
    #: Sum of the role bits (``DESIGNER`` ... ``RATER``) of what the account did that day.
    roles: Mapped[int]


class KpiAccount(db.Model):
    """When each account first took part, and first backed: new against returning."""

    __tablename__ = "kpi_accounts"

    account_id: Mapped[int] = mapped_column(primary_key=True)
    first_day: Mapped[dt.date] = mapped_column(sa.Date)
    first_backed_day: Mapped[dt.date | None] = mapped_column(sa.Date)


class KpiCohort(db.Model):
    """The designs submitted on one day and how far they have gone since (rewritten by every
    run, as old designs move on): the idea-conversion funnel by cohort."""

    __tablename__ = "kpi_cohorts"

    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    #: The ideas generated that day, redesigns included (``redesigns`` of them).
    submitted: Mapped[int] = mapped_column(default=0)
    redesigns: Mapped[int] = mapped_column(default=0)
    #: Passed the quality check (opened for scoring).
    approved: Mapped[int] = mapped_column(default=0)
    shortlisted: Mapped[int] = mapped_column(default=0)
    selected: Mapped[int] = mapped_column(default=0)
    #: A campaign opened, then reached its goal, then its products reached the backers.
    campaign: Mapped[int] = mapped_column(default=0)
    funded: Mapped[int] = mapped_column(default=0)
    #: Shipped or delivered (the public "designs produced").
    produced: Mapped[int] = mapped_column(default=0)
    delivered: Mapped[int] = mapped_column(default=0)


class KpiRollup(db.Model):
    """The rollup's bookkeeping (one row): the job locks it, so two runs take turns."""

    __tablename__ = "kpi_rollups"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Days up to this one are in the tables; the next run starts ``LOOKBACK_DAYS`` before.
    rolled_through: Mapped[dt.date | None] = mapped_column(sa.Date)
    rolled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Bumped by every run: cached dashboards name the one they read.
    generation: Mapped[int] = mapped_column(default=0)
    #: Bumped by every change of a target: cached pages name the targets they show.
    targets_version: Mapped[int] = mapped_column(default=0, server_default="0")


class KpiTarget(db.Model):
    """What operators aim for on one indicator: a change over the previous period (``change``,
    e.g. +15 %) or a level to reach (``at_least``). ``value`` is in hundredths of the
    indicator's unit (1500 = 15 %, 420 = 4.2 stars, 2500 = 25 units)."""

    __tablename__ = "kpi_targets"
    __table_args__ = (sa.CheckConstraint("kind IN ('change', 'at_least')", name="kind_known"),)

    indicator: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    value: Mapped[int]
    set_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
