"""Every figure of the dashboard for one period, next to the period before it, as plain data
(the page, the CSV and the console's off-track list read the same), cached in Redis until the
rollups change."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from marketplace.kernel.extensions import db
from marketplace.kernel.pagecache import remembered

from . import indicators as ind
from .models import KpiRollup

#: The periods the dashboard offers as links, in days; the rollup job computes their figures
#: as soon as it has run, so that nobody waits for them.
PRESETS = (7, 30, 90, 365)

#: A cached dashboard is dropped by the next rollup (its generation changes); this only
#: bounds how long unused ones stay in Redis.
CACHE_SECONDS = 3600


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str
    definition: str
    #: count, percent, stars or score: how the value is written and targets are entered.
    unit: str
    #: The seeds' five (and money and production apart).
    group: str


INDICATORS = (
    Indicator(
        "participants",
        _l("Participants"),
        _l(
            "Distinct accounts that submitted a design, scored, commented, pledged with a saved "
            "card or rated a product in the period."
        ),
        "count",
        "participants",
    ),
    Indicator(
        "new_participants",
        _l("New participants"),
        _l("Participants who took part for the first time in the period."),
        "count",
        "participants",
    ),
    Indicator(
        "ideas",
        _l("Ideas generated"),
        _l("Designs submitted in the period, redesigns included."),
        "count",
        "ideas",
    ),
    Indicator(
        "conversion",
        _l("Idea conversion"),
        _l(
            "Share of the designs submitted in the period whose campaign has reached its goal "
            "by now: ideas turned into products."
        ),
        "percent",
        "conversion",
    ),
    Indicator(
        "satisfaction",
        _l("Satisfaction"),
        _l("Average score (1 to 5 stars) of the ratings written in the period."),
        "stars",
        "satisfaction",
    ),
    Indicator(
        "top_ratings",
        _l("Rated 4 or 5 stars"),
        _l("Share of the period's ratings that gave 4 or 5 stars."),
        "percent",
        "satisfaction",
    ),
    Indicator(
        "nps",
        _l("Net promoter score"),
        _l(
            'Among the period\'s answers to "would you recommend us" (0 to 10): the share '
            "of 9s and 10s minus the share of 0s to 6s, from -100 to 100."
        ),
        "score",
        "satisfaction",
    ),
    Indicator(
        "response_rate",
        _l("Response rate"),
        _l("Share of the orders delivered in the period that their backer has rated."),
        "percent",
        "satisfaction",
    ),
    Indicator(
        "returning",
        _l("Returning participants"),
        _l("Share of the period's participants who had taken part before it."),
        "percent",
        "loyalty",
    ),
    Indicator(
        "returning_backers",
        _l("Returning backers"),
        _l("Share of the period's backers who had backed a campaign before it."),
        "percent",
        "loyalty",
    ),
    Indicator(
        "backed_again",
        _l("Backed again within 90 days"),
        _l(
            "Share of the period's backers who pledged again within 90 days of their first "
            "pledge in the period (a recent period has had less time)."
        ),
        "percent",
        "loyalty",
    ),
    Indicator(
        "units_made",
        _l("Units made"),
        _l("Units in the orders shipped in the period."),
        "count",
        "production",
    ),
)
BY_KEY = {i.key: i for i in INDICATORS}


def _ratio(r: ind.Ratio) -> dict:
    return {"n": r.numerator, "of": r.denominator, "percent": r.percent}


def _figures(period: ind.Period) -> dict:
    """One period's figures, as JSON-ready data."""
    counts = ind.activity_counts(period)
    people = ind.participants(period, counts)
    funnel = ind.funnel(period)
    ideas = ind.ideas(period)
    happy = ind.satisfaction(period)
    loyal = ind.loyalty(period, counts)
    units = ind.units_made(period)
    return {
        "values": {
            "participants": people.total,
            "new_participants": people.new,
            "ideas": ideas.total,
            "conversion": funnel.conversion.percent,
            "satisfaction": happy.average,
            "top_ratings": happy.top.percent,
            "nps": happy.nps,
            "response_rate": happy.response.percent,
            "returning": loyal.returning.percent,
            "returning_backers": loyal.returning_backers.percent,
            "backed_again": loyal.backed_again.percent,
            "units_made": units,
        },
        "ratios": {
            "conversion": _ratio(funnel.conversion),
            "top_ratings": _ratio(happy.top),
            "response_rate": _ratio(happy.response),
            "returning": _ratio(loyal.returning),
            "returning_backers": _ratio(loyal.returning_backers),
            "backed_again": _ratio(loyal.backed_again),
        },
        "roles": people.by_role,
        "returning_count": people.returning,
        "redesigns": ideas.redesigns,
        "ideas_per_week": ideas.per_week,
        "ratings": happy.ratings,
        "nps_answers": {
            "answers": happy.answers,
            "promoters": happy.promoters,
            "detractors": happy.detractors,
        },
        "funnel": [
            {"step": step, "count": count, "rate": rate.percent}
            for (step, count), rate in zip(funnel.steps, funnel.rates(), strict=True)
        ],
        "money": ind.money(period),
    }


def _span(period: ind.Period) -> dict:
    return {"start": period.start.isoformat(), "end": period.end.isoformat(), "days": period.days}


def compute(period: ind.Period, pivot: dt.date | None = None) -> dict:
    """The whole dashboard: this period, the one before, the series, the cohorts, and (when
    ``pivot`` is given) loyalty over the same length before and after that day."""
    previous = period.previous()
    now, before = _figures(period), _figures(previous)
    snapshot = {
        "period": _span(period),
        "previous": _span(previous),
        "current": now,
        "before": before,
        "changes": {key: ind.change(now["values"][key], before["values"][key]) for key in BY_KEY},
        "series": _series(period),
        # The same buckets of the period before, drawn beside this one's.
        "series_before": _series(previous),
        "cohorts": [
            {
                "month": month.isoformat(),
                "steps": [
                    {"step": step, "count": count, "rate": rate.percent}
                    for (step, count), rate in zip(f.steps, f.rates(), strict=True)
                ],
            }
            for month, f in ind.cohorts(period)
        ],
        "pivot": None,
    }
    if pivot is not None:
        after = ind.Period(pivot, pivot + dt.timedelta(days=period.days - 1))
        earlier = after.previous()
        snapshot["pivot"] = {
            "day": pivot.isoformat(),
            "before": {**_span(earlier), **_loyalty(earlier)},
            "after": {**_span(after), **_loyalty(after)},
        }
    return snapshot


def _series(period: ind.Period) -> list[dict]:
    return [
        {
            **_span(b.period),
            "participants": b.participants,
            "returning": b.returning_share,
            "ideas": b.ideas,
            "redesigns": b.redesigns,
            "ratings": b.ratings,
            "average_rating": b.average_rating,
            "nps": b.nps,
            "units_made": b.units_made,
            "money": b.money,
        }
        for b in ind.series(period)
    ]


def _loyalty(period: ind.Period) -> dict:
    loyal = ind.loyalty(period)
    return {
        "returning": _ratio(loyal.returning),
        "returning_backers": _ratio(loyal.returning_backers),
        "backed_again": _ratio(loyal.backed_again),
    }


class Version(NamedTuple):
    """Which rollup the tables hold and when it ran (None: never), and which targets."""

    generation: int
    rolled_at: dt.datetime | None
    targets: int


def generation() -> Version:
    row = db.session.execute(
        sa.select(KpiRollup.generation, KpiRollup.rolled_at, KpiRollup.targets_version).where(
            KpiRollup.id == 1
        )
    ).one_or_none()
    return Version(*row) if row else Version(0, None, 0)


def cached(
    period: ind.Period, pivot: dt.date | None = None, version: Version | None = None
) -> dict:
    """``compute``, from Redis when this rollup's copy is there, with when that rollup ran
    (``rolled_at``, ISO). Without Redis the figures are computed each time: slower, never
    wrong."""
    gen, rolled_at, _targets = version or generation()
    # The time too: a database restored to an older generation must not meet its copies.
    stamp = rolled_at.timestamp() if rolled_at else 0
    key = f"kpis:{gen}:{stamp}:{period.start}:{period.end}:{pivot or ''}"

    def figures() -> str:
        snapshot = compute(period, pivot)
        snapshot["rolled_at"] = rolled_at.isoformat() if rolled_at else None
        return json.dumps(snapshot)

    return json.loads(remembered(key, figures, CACHE_SECONDS))


def warm(today: dt.date) -> int:
    """Compute and cache the preset periods' figures for the rollup just committed."""
    version = generation()
    for days in PRESETS:
        cached(ind.Period.last(days, today), version=version)
    return len(PRESETS)
