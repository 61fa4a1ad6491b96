"""Each indicator on the hand-built history of ``conftest.py``: the expected figures are
worked out here from the cast's days, not read back from the code."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from marketplace.kernel.errors import ServiceError
from marketplace.kernel.extensions import db
from marketplace.kpis import dashboard, rollup, targets
from marketplace.kpis import indicators as ind
from marketplace.kpis.indicators import Period, Ratio
from marketplace.kpis.models import (
    KpiAccount,
    KpiActivity,
    KpiCohort,
    KpiDay,
    KpiMoney,
    KpiTarget,
)

from .conftest import TODAY

JUNE = Period(dt.date(2026, 6, 1), dt.date(2026, 6, 30))
MAY = Period(dt.date(2026, 5, 2), dt.date(2026, 5, 31))
JANUARY = Period(dt.date(2026, 1, 1), dt.date(2026, 1, 31))
HALF_YEAR = Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30))


@pytest.fixture
def rolled(story, ctx):
    with ctx():
        rollup.rebuild(today=TODAY)
        db.session.commit()
    with ctx():
        yield story


def test_periods_and_the_one_before():
    assert Period.last(30, TODAY) == JUNE
    # The previous period has the same length and ends the day before.
    assert JUNE.previous() == MAY
    assert JUNE.days == MAY.days == 30
    assert [b.start.day for b in JUNE.buckets()] == list(range(1, 31))
    quarter = Period(dt.date(2026, 4, 2), TODAY)
    weeks = quarter.buckets()
    assert len(weeks) == 13  # 90 days: 12 whole weeks and a last one of 6 days
    assert weeks[-1] == Period(dt.date(2026, 6, 25), TODAY)


def test_participants_split_by_role_and_into_new_and_returning(rolled):
    june = ind.participants(JUNE)
    # Ada (designs), Bo (scored and commented), Cy and Dee (backed), Fay and Gus (rated); Eve
    # stopped at the card step, Hal did nothing in June.
    assert june.total == 6
    assert june.by_role == {
        "designer": 1,
        "scorer": 1,
        "commenter": 1,
        "backer": 2,
        "rater": 2,
    }
    # Only Dee took part for the first time in June.
    assert (june.new, june.returning) == (1, 5)
    may = ind.participants(MAY)
    # Ada (d1), Bo (first vote: new) and Cy (rating).
    assert (may.total, may.new, may.returning) == (3, 1, 2)
    assert ind.change(june.total, may.total) == pytest.approx(100.0)


def test_ideas_count_redesigns_and_weekly_pace(rolled):
    june = ind.ideas(JUNE)
    assert (june.total, june.redesigns) == (3, 1)
    assert june.per_week == pytest.approx(7 * 3 / 30)
    assert ind.ideas(MAY).total == 1
    assert ind.change(june.total, ind.ideas(MAY).total) == pytest.approx(200.0)


def test_idea_conversion_funnel_with_each_steps_rate(rolled):
    june = ind.funnel(JUNE)
    # d2 is open for scoring, d3 was shortlisted then not selected, d4 declined.
    assert june.steps == [
        ("submitted", 3),
        ("approved", 2),
        ("shortlisted", 1),
        ("selected", 0),
        ("campaign", 0),
        ("funded", 0),
        ("delivered", 0),
    ]
    assert june.rates() == [
        Ratio(3, 3),
        Ratio(2, 3),
        Ratio(1, 2),
        Ratio(0, 1),
        Ratio(0, 0),
        Ratio(0, 0),
        Ratio(0, 0),
    ]
    assert june.rates()[4].percent is None  # no step before it: no rate, not 0 %
    half = ind.funnel(HALF_YEAR)
    # d0 went all the way; d1's campaign is live.
    assert [count for _step, count in half.steps] == [5, 4, 3, 2, 2, 1, 1]
    assert half.conversion == Ratio(1, 5)
    assert half.conversion.percent == pytest.approx(20.0)


def test_the_funnel_by_cohort_month(rolled):
    months = ind.cohorts(HALF_YEAR)
    assert [m for m, _f in months] == [dt.date(2026, n, 1) for n in range(1, 7)]
    counts = {m.month: [c for _s, c in f.steps] for m, f in months}
    assert counts == {
        1: [1, 1, 1, 1, 1, 1, 1],
        2: [0] * 7,
        3: [0] * 7,
        4: [0] * 7,
        5: [1, 1, 1, 1, 1, 0, 0],
        6: [3, 2, 1, 0, 0, 0, 0],
    }
    may = dict(months)[dt.date(2026, 5, 1)]
    assert may.rates()[5] == Ratio(0, 1)  # campaign opened, not funded yet


def test_satisfaction_average_top_ratings_nps_and_response(rolled):
    june = ind.satisfaction(JUNE)
    # Fay 5 stars (would recommend: 10), Gus 3 stars (6).
    assert (june.ratings, june.points) == (2, 8)
    assert june.average == pytest.approx(4.0)
    assert june.top == Ratio(1, 2)
    assert (june.answers, june.promoters, june.detractors) == (2, 1, 1)
    assert june.nps == pytest.approx(0.0)
    # Fay's, Gus's and Hal's orders were delivered in June; Hal has not rated.
    assert june.response == Ratio(2, 3)
    may = ind.satisfaction(MAY)
    # Cy: 4 stars, would recommend 3 (a detractor).
    assert may.average == pytest.approx(4.0)
    assert may.nps == pytest.approx(-100.0)
    assert may.response == Ratio(1, 1)
    # From -100 to 0: +100 % of the distance from zero, whatever the sign.
    assert ind.change(june.nps, may.nps) == pytest.approx(100.0)
    assert ind.change(june.average, may.average) == pytest.approx(0.0)


def test_loyalty_returning_people_and_backers_and_backing_again(rolled):
    june = ind.loyalty(JUNE)
    assert june.returning == Ratio(5, 6)
    # Cy had backed in January; Dee backs for the first time.
    assert june.returning_backers == Ratio(1, 2)
    assert june.backed_again == Ratio(0, 2)
    january = ind.loyalty(JANUARY)
    assert january.returning == Ratio(0, 5)
    assert january.returning_backers == Ratio(0, 4)
    # Hal backed again 38 days after 01-22 and Gus 80 days after 01-20; Cy's next pledge
    # came 140 days later, Fay never pledged again.
    assert january.backed_again == Ratio(2, 4)


def test_money_per_currency_and_units_made(rolled):
    # Cy's and Dee's June pledges (€10.00 each; Eve saved no card); Gus's Y pledge charged
    # 06-29; Hal's refund; Ada's €7.00 royalty less €1.00 reversed; €4.00 paid out.
    assert ind.money(JUNE) == {
        "EUR": {
            "pledged_cents": 2000,
            "collected_cents": 1000,
            "refunded_cents": 1000,
            "royalties_booked_cents": 600,
            "royalties_paid_cents": 400,
        }
    }
    assert ind.money(JANUARY)["EUR"]["pledged_cents"] == 5000  # Fay's 2 units, 3 others
    assert ind.money(JANUARY)["EUR"]["collected_cents"] == 5000
    assert ind.units_made(MAY) == 5  # four orders shipped 05-20, Fay's of 2 units
    assert ind.units_made(JUNE) == 0


def test_series_day_by_day_and_week_by_week(rolled):
    days = ind.series(JUNE)
    assert len(days) == 30
    on = {b.period.start.day: b for b in days}
    assert (on[5].participants, on[5].ideas, on[5].redesigns) == (1, 1, 1)  # Ada's d2
    assert (on[6].participants, on[6].ideas) == (1, 0)  # Bo, once for two things
    assert (on[6].returning, on[15].returning) == (1, 0)  # Bo came back; Dee's first day
    assert on[6].returning_share == pytest.approx(100.0)
    assert on[2].returning_share is None
    assert on[25].average_rating == pytest.approx(5.0)
    assert on[25].nps == pytest.approx(100.0)
    assert on[10].money["EUR"]["pledged_cents"] == 1000
    assert on[11].money == {}
    weeks = ind.series(Period(dt.date(2026, 4, 2), TODAY))
    # 06-04..06-10: Ada, Bo and Cy; 06-25..06-30: Fay and Gus.
    assert weeks[9].period == Period(dt.date(2026, 6, 4), dt.date(2026, 6, 10))
    assert (weeks[9].participants, weeks[9].ideas) == (3, 1)
    assert weeks[9].returning == 3  # Ada, Bo and Cy had all taken part before 06-04
    assert (weeks[12].participants, weeks[12].ratings, weeks[12].rating_points) == (2, 2, 8)
    assert (
        sum(w.participants for w in weeks)
        >= ind.participants(Period(dt.date(2026, 4, 2), TODAY)).total
    )


def test_the_public_impact_counts_everything(rolled):
    impact = ind.impact()
    assert impact.designs_submitted == 5
    assert impact.designs_produced == 1
    # Everyone but Eve (no card saved) and the operator.
    assert impact.participants == 7
    assert impact.backers == 5  # Fay, Gus, Cy, Hal, Dee
    assert impact.units_made == 5
    assert impact.royalties == {"EUR": (600, 400)}
    assert impact.average_rating == pytest.approx(12 / 3)


def _tables():
    return {
        model.__tablename__: sorted(
            tuple(getattr(row, c.key) for c in model.__table__.columns)
            for row in db.session.scalars(sa.select(model))
        )
        for model in (KpiDay, KpiMoney, KpiActivity, KpiAccount, KpiCohort)
    }


def test_rolling_up_twice_or_rebuilding_gives_the_same_rows(story, ctx):
    with ctx():
        # Incremental: a first run in mid-June, then the end of June, then once more.
        rollup.roll_up(today=dt.date(2026, 6, 15))
        db.session.commit()
        rollup.roll_up(today=TODAY)
        db.session.commit()
        once = _tables()
        rollup.roll_up(today=TODAY)
        db.session.commit()
        assert _tables() == once
        rollup.rebuild(today=TODAY)
        db.session.commit()
        assert _tables() == once
        assert len(once["kpi_activity"]) == 18  # one row per account and active day
        assert ind.participants(JUNE).total == 6


def test_an_incremental_run_rewrites_only_the_lookback(story, ctx):
    with ctx():
        rollup.roll_up(today=TODAY)
        db.session.commit()
        # A day long past, rewritten by hand, stays as it is: the next run starts
        # LOOKBACK_DAYS before the last day rolled up.
        db.session.get(KpiDay, dt.date(2026, 1, 20)).participants = 99
        db.session.commit()
        first, last = rollup.roll_up(today=TODAY)
        db.session.commit()
        assert (first, last) == (TODAY - dt.timedelta(days=rollup.LOOKBACK_DAYS), TODAY)
        assert db.session.get(KpiDay, dt.date(2026, 1, 20)).participants == 99
        rollup.rebuild(today=TODAY)
        db.session.commit()
        assert db.session.get(KpiDay, dt.date(2026, 1, 20)).participants == 2  # Fay and Gus


def test_the_dashboard_compares_with_the_previous_period(rolled):
    snapshot = dashboard.compute(JUNE, pivot=dt.date(2026, 6, 1))
    assert snapshot["period"] == {"start": "2026-06-01", "end": "2026-06-30", "days": 30}
    assert snapshot["previous"]["start"] == "2026-05-02"
    assert snapshot["current"]["values"]["participants"] == 6
    assert snapshot["before"]["values"]["participants"] == 3
    assert snapshot["changes"]["participants"] == pytest.approx(100.0)
    assert snapshot["changes"]["ideas"] == pytest.approx(200.0)
    # 0 % of May's designs funded so far: no change can be given from nothing.
    assert snapshot["changes"]["conversion"] is None
    assert snapshot["current"]["values"]["response_rate"] == pytest.approx(200 / 3)
    # The before/after comparison on 06-01: May 2-31 against June.
    assert snapshot["pivot"]["before"]["start"] == "2026-05-02"
    assert snapshot["pivot"]["after"]["returning"] == {
        "n": 5,
        "of": 6,
        "percent": pytest.approx(500 / 6),
    }


def test_targets_show_progress_from_the_previous_period_or_to_a_level(rolled, make_user):
    from marketplace.accounts.models import User

    operator = db.session.get(User, make_user("boss@example.com", operator=True))
    targets.set_target("satisfaction", "change", 1500, actor=operator)  # +15 %
    targets.set_target("participants", "at_least", 500, actor=operator)  # 5 people
    targets.set_target("nps", "change", 1000, actor=operator)  # +10 %
    targets.set_target("conversion", "change", 1500, actor=operator)
    snapshot = dashboard.compute(JUNE)
    progress = {p.indicator: p for p in targets.progress_all(snapshot)}
    # 4.0 stars in May: +15 % needs 4.6; June has 4.0.
    assert progress["satisfaction"].required == pytest.approx(4.6)
    assert progress["satisfaction"].on_track is False
    assert progress["participants"].on_track is True
    # From -100, +10 % of the distance is -90: June's 0 is above it.
    assert progress["nps"].required == pytest.approx(-90.0)
    assert progress["nps"].on_track is True
    # Growth from 0 % cannot be told.
    assert progress["conversion"].on_track is None
    with pytest.raises(ServiceError):
        targets.set_target("satisfaction", "at_least", 600, actor=operator)  # 6 stars
    with pytest.raises(ServiceError):
        targets.set_target("made-up", "change", 100, actor=operator)
    targets.set_target("satisfaction", "at_least", 420, actor=operator)  # replaces it
    assert db.session.get(KpiTarget, "satisfaction").kind == "at_least"
    assert targets.clear_target("satisfaction", actor=operator)
    assert db.session.get(KpiTarget, "satisfaction") is None


def test_the_cron_job_rolls_up_through_today_and_computes_the_presets(app, story, ctx):
    from marketplace.kernel.queues import redis_connection
    from marketplace.kpis.jobs import roll_up_kpis

    with ctx():
        message = roll_up_kpis()
    assert message.startswith("rolled up 2026-01-10 to ")
    with ctx():
        assert ind.participants(JUNE).total == 6
        # The four periods the dashboard links to wait in the cache for the first reader.
        from marketplace.kernel.dbtypes import utcnow

        today = utcnow().date()
        cached = {key.decode() for key in redis_connection(app).keys("kpis:*")}
        assert len(cached) == len(dashboard.PRESETS) == 4
        year = Period.last(365, today)
        assert any(f":{year.start}:{year.end}:" in key for key in cached)


def test_nothing_to_roll_up_on_a_fresh_install(ctx):
    from marketplace.kpis.jobs import roll_up_kpis

    with ctx():
        assert roll_up_kpis() == "nothing to roll up yet"
        assert ind.impact().participants == 0
