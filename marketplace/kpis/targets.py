"""What operators aim for, and how far each figure is from it."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from marketplace.kernel.audit import record_about
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.errors import ServiceError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import number

from . import rollup
from .dashboard import BY_KEY
from .models import KpiTarget

KINDS = ("change", "at_least")
#: Bounds of a target, in hundredths: a change of -100 % to +1,000 %; a level by unit.
_CHANGE_RANGE = (-10_000, 100_000)
_LEVEL_RANGE = {
    "count": (0, 100_000_000),
    "percent": (0, 10_000),
    "stars": (100, 500),
    "score": (-10_000, 10_000),
}


@dataclass(frozen=True)
class Progress:
    indicator: str
    kind: str
    #: The target as entered, in the indicator's unit (15.0 for +15 %, 4.2 for 4.2 stars).
    value: float
    #: What the figure must reach this period, and what it is (None: no data yet).
    required: float | None
    current: float | None
    #: None when it cannot be told: no figure yet, or no previous one to grow from.
    on_track: bool | None


def set_target(indicator: str, kind: str, hundredths: int, *, actor) -> KpiTarget:
    """Set (or replace) the target of one indicator, audited."""
    found = BY_KEY.get(indicator)
    if found is None:
        raise ServiceError(_("Choose an indicator from the list."))
    if kind not in KINDS:
        raise ServiceError(_("Choose what kind of target it is."))
    low, high = _CHANGE_RANGE if kind == "change" else _LEVEL_RANGE[found.unit]
    if not low <= hundredths <= high:
        raise ServiceError(
            _(
                "This target is out of range: between %(low)s and %(high)s.",
                low=number(low / 100),
                high=number(high / 100),
            )
        )
    target = db.session.get(KpiTarget, indicator)
    if target is None:
        target = KpiTarget(indicator=indicator)
        db.session.add(target)
    target.kind, target.value = kind, hundredths
    target.set_by_id, target.set_at = actor.id, utcnow()
    _changed()
    record_about(
        "kpi_target.set",
        ("kpi_target", None),
        actor=actor,
        indicator=indicator,
        kind=kind,
        value=hundredths,
    )
    db.session.flush()
    return target


def clear_target(indicator: str, *, actor) -> bool:
    target = db.session.get(KpiTarget, indicator)
    if target is None:
        return False
    db.session.delete(target)
    _changed()
    record_about("kpi_target.clear", ("kpi_target", None), actor=actor, indicator=indicator)
    db.session.flush()
    return True


def _changed() -> None:
    # Pages showing the targets name this version: a change gives them a new copy.
    rollup.bookkeeping().targets_version += 1


def all_targets() -> list[KpiTarget]:
    return list(db.session.scalars(sa.select(KpiTarget)))


def progress(target: KpiTarget, snapshot: dict) -> Progress:
    """The target against a dashboard snapshot (``dashboard.compute``'s)."""
    current = snapshot["current"]["values"].get(target.indicator)
    value = target.value / 100
    if target.kind == "change":
        previous = snapshot["before"]["values"].get(target.indicator)
        # Growing from nothing has no percentage: the first period sets the baseline.
        required = None if not previous else previous + abs(previous) * value / 100
    else:
        required = value
    on_track = None if current is None or required is None else current >= required
    return Progress(target.indicator, target.kind, value, required, current, on_track)


def progress_all(snapshot: dict, targets: list[KpiTarget] | None = None) -> list[Progress]:
    """Every target's progress, in the dashboard's order (``targets``: already loaded)."""
    order = {key: i for i, key in enumerate(BY_KEY)}
    targets = sorted(
        all_targets() if targets is None else targets,
        key=lambda t: order.get(t.indicator, len(order)),
    )
    return [progress(t, snapshot) for t in targets if t.indicator in BY_KEY]
