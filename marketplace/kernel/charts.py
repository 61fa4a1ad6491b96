"""Charts drawn on the server as SVG: no script, no CDN, nothing the CSP has to allow.

The KPI dashboard (issue #18) shows each figure as a chart with a table of the same numbers
beside it, for screen readers and for anyone who wants the figures. A chart is one ``<svg>``
with ``role="img"``, labelled by its own ``<title>`` and ``<desc>``; the CSP allows no
``style`` attribute nor ``<style>`` element, so the markup carries classes only and
``static/css/charts.css`` draws them. Every text in the markup is escaped.

In a view::

    from flask_babel import format_currency, gettext as _
    from marketplace.kernel.charts import Series, funnel_chart, line_chart

    pledged = line_chart(
        [
            Series(_("This month"), [12000, 15000, None, 9000]),
            Series(_("Last month"), [10000, 11000, 13000, 12500]),
        ],
        labels=["Nov 1", "Nov 2", "Nov 3", "Nov 4"],
        title=_("Pledged per day"),
        description=_("Amount pledged each day this month, against last month."),
        value_format=lambda cents: format_currency(cents / 100, "EUR"),
        id_prefix="chart-pledged",
    )
    funnel = funnel_chart(
        [(_("Accounts"), 200), (_("Voted"), 50), (_("Pledged"), 0)],
        title=_("From account to pledge"),
        description=_("How many accounts went on to vote, then to pledge."),
        id_prefix="chart-funnel",
    )

then ``{{ pledged }}`` in the template (a ``Markup``: Jinja does not escape it again), with
``css/charts.css`` among the page's stylesheets and the figures' ``<table>`` next to it. The
value format also labels the y axis, and the plot starts right of its widest label: a format
without cents keeps that margin small.

Text is sized in the chart's own units, so it grows and shrinks with the chart:
``charts.css`` enlarges it on narrow screens, and the layout here (the legend's rows, how many
x labels) leaves room for that larger size.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from flask_babel import gettext as _
from markupsafe import Markup

Number = int | float
Formatter = Callable[[Number], str]


@dataclass(frozen=True)
class Series:
    """One line of a line chart: a value per x label, None where there is none (a gap)."""

    name: str
    values: Sequence[Number | None]


@dataclass(frozen=True)
class Padding:
    top: float
    right: float
    bottom: float
    left: float


#: Room between the chart's edge and its plot: the x labels sit in the bottom padding. On the
#: left the plot starts further in when its y labels need more room (``_Plot``).
PADDING = Padding(top=24, right=12, bottom=28, left=12)
#: Between a y label's end and the plot.
LABEL_GAP = 6
#: Height of one row of the legend, drawn above the plot when a chart has several series.
LEGEND_ROW = 26
#: An x axis reads at a glance with this many labels at most; long labels get fewer, kept
#: apart by their width (``_x_labels``).
MAX_X_LABELS = 8
#: Beyond this many points a marker per point is a smudge; the line alone reads better.
MAX_MARKED_POINTS = 31
#: Current period, previous period, target: more lines than that cannot be told apart.
MAX_SERIES = 3
#: Share of its slot a bar fills, the rest being the gap to its neighbours.
BAR_FILL = 0.7
#: Rows of a funnel: the label and the count on one line, the rate under them, then the bar.
FUNNEL_ROW = 88
FUNNEL_BAR_HEIGHT = 18

#: The font sizes charts.css gives chart text, wide screens first (in the chart's units), and
#: the width of an average character in ems: the layout estimates text widths with them,
#: erring wide.
_FONT = 13
_LARGEST_FONT = 22
_CHAR_WIDTH = 0.6
_SWATCH = 24

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_NICE = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5))
_SVG = "http://www.w3.org/2000/svg"


# --- y-axis maths ----------------------------------------------------------------------------


def nice_ceiling(value: Number) -> Number:
    """The smallest of 1, 2, 2.5 and 5 times a power of ten that is at least ``value``
    (1 for zero or less): 7 -> 10, 230 -> 250, 0.3 -> 0.5. An int when it is whole, so that
    ``str`` labels it "10", not "10.0"."""
    return _number(_nice(_decimal(value)))


def ticks(max_value: Number, count: int = 4, *, whole: bool = False) -> list[Number]:
    """The y axis's gridline values, from 0 to a round top at or above ``max_value``.

    The step is ``nice_ceiling(max_value / count)``, so there are at most ``count`` steps and,
    nice numbers being at most twice apart, more than ``count / 2``: 4 or 5 gridlines with the
    default. ``whole`` keeps the steps whole numbers (counts of ideas, amounts in cents): no
    "2.5 ideas" gridline. Zero, or nothing to draw, gives a 0..1 axis."""
    if count < 1:
        raise ValueError("ticks need at least one step")
    top = _decimal(max_value)
    if top <= 0:
        top = Decimal(1)
    step = _nice(top / count)
    if whole and step != step.to_integral_value():
        step = Decimal(1) if step < 1 else Decimal(5)  # 0.x -> 1; 2.5 -> 5
    steps = max(1, int((top / step).to_integral_value(rounding=ROUND_CEILING)))
    return [_number(step * i) for i in range(steps + 1)]


def _nice(value: Decimal) -> Decimal:
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()  # value is in [10^exponent, 10^(exponent + 1))
    for mantissa in _NICE:
        if mantissa.scaleb(exponent) >= value:
            return mantissa.scaleb(exponent)
    return Decimal(1).scaleb(exponent + 1)


def _decimal(value: Number) -> Decimal:
    """Exactly the number the caller wrote (``repr`` of a float is its shortest spelling), so
    that 0.3 is nice-ceiled to 0.5 and not to a neighbour of 0.30000000000000004."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot chart {value!r}")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _number(value: Decimal) -> Number:
    return int(value) if value == value.to_integral_value() else float(value)


# --- charts ----------------------------------------------------------------------------------


def line_chart(
    series: Sequence[Series],
    *,
    labels: Sequence[str],
    title: str,
    description: str,
    id_prefix: str,
    value_format: Formatter = str,
    height: int = 220,
    width: int = 640,
) -> Markup:
    """Up to three lines over the same x labels (classes ``chart-series-0`` to ``2``: the
    current period, the previous one, a target). A None breaks its line; every point gets a
    marker with a tooltip while there are at most ``MAX_MARKED_POINTS`` of them, and a point
    alone between gaps always does, or it would not show at all."""
    if len(series) > MAX_SERIES:
        raise ValueError(f"a line chart draws at most {MAX_SERIES} series")
    for one in series:
        if len(one.values) != len(labels):
            raise ValueError(f"series {one.name!r} has not one value per label")
    axis = _axis([v for one in series for v in one.values])
    legend, legend_rows = (
        _legend(series, PADDING.left, width - PADDING.right) if len(series) > 1 else ([], 0)
    )
    plot = _Plot(width, height, legend_rows * LEGEND_ROW, axis, value_format)
    n = len(labels)
    xs = [plot.left + (i * plot.width / (n - 1) if n > 1 else plot.width / 2) for i in range(n)]
    lines = []
    for index, one in enumerate(series):
        parts = []
        for run in _runs(one.values):
            points = [(xs[i], plot.y(one.values[i])) for i in run]
            if len(run) > 1:
                parts.append(
                    _tag("polyline", {"points": " ".join(f"{_n(x)},{_n(y)}" for x, y in points)})
                )
            if n <= MAX_MARKED_POINTS or len(run) == 1:
                parts.extend(
                    _tag(
                        "circle",
                        {"class": "chart-marker", "cx": _n(x), "cy": _n(y), "r": "3.5"},
                        _tag(
                            "title",
                            {},
                            _tooltip(series, one, labels[i], value_format(one.values[i])),
                        ),
                    )
                    for i, (x, y) in zip(run, points, strict=True)
                )
        lines.append(_tag("g", {"class": f"chart-series chart-series-{index}"}, *parts))
    slots = [(x, x, x) for x in xs]
    spacing = plot.width / (n - 1) if n > 1 else plot.width
    return _svg(
        "chart-line",
        width,
        height,
        title,
        description,
        id_prefix,
        _grid(plot),
        *lines,
        _x_labels(plot, labels, slots, spacing),
        *legend,
    )


def bar_chart(
    values: Sequence[Number | None],
    *,
    labels: Sequence[str],
    title: str,
    description: str,
    id_prefix: str,
    value_format: Formatter = str,
    height: int = 220,
    width: int = 640,
) -> Markup:
    """One vertical bar per label (the ideas submitted each week), with a tooltip each; None
    draws no bar (no figure for that slot, which is not a zero)."""
    if len(values) != len(labels):
        raise ValueError("a bar chart needs one value per label")
    axis = _axis(values)
    plot = _Plot(width, height, 0, axis, value_format)
    n = len(labels)
    slot = plot.width / n if n else 0
    bar = slot * BAR_FILL
    slots, bars = [], []
    for i, value in enumerate(values):
        x = plot.left + i * slot + (slot - bar) / 2
        slots.append((x, x + bar / 2, x + bar))
        if value is None:
            continue
        y = plot.y(value)
        bars.append(
            _tag(
                "rect",
                {
                    "class": "chart-bar",
                    "x": _n(x),
                    "y": _n(y),
                    "width": _n(bar),
                    "height": _n(plot.bottom - y),
                },
                _tag("title", {}, _tooltip([], None, labels[i], value_format(value))),
            )
        )
    return _svg(
        "chart-bar",
        width,
        height,
        title,
        description,
        id_prefix,
        _grid(plot),
        _tag("g", {"class": "chart-series chart-series-0"}, *bars),
        _x_labels(plot, labels, slots, slot),
    )


def funnel_chart(
    steps: Sequence[tuple[str, int]],
    *,
    title: str,
    description: str,
    id_prefix: str,
    value_format: Formatter = str,
    rate_format: Callable[[int], str] | None = None,
    width: int = 640,
) -> Markup:
    """Each step's bar as long as its count against the first step's, with its label, its
    count and, from the second step on, the share of the step before that reached it.

    Rates are whole percents rounded down (99.6 % is not yet everyone), 0 after a step of 0;
    ``rate_format`` writes them for the reader's locale (default "25 %" through the
    catalogue). A count above the first one's (a funnel fed wrong figures) still draws: the
    bars are then measured against the largest count, so none runs out of the chart."""
    if any(count < 0 for _label, count in steps):
        raise ValueError("a funnel counts people: no step can be negative")
    rate_format = rate_format or _percent
    left, right = PADDING.left, width - PADDING.right
    longest = max((count for _label, count in steps), default=0)
    scale = max(steps[0][1], longest) if steps else 0
    # An empty funnel keeps one row's height: a chart of no height would vanish.
    height = 8 + max(1, len(steps)) * FUNNEL_ROW
    rows = []
    previous = None
    for index, (label, count) in enumerate(steps):
        top = 8 + index * FUNNEL_ROW
        bar_top = top + 56
        length = (right - left) * count / scale if scale else 0
        parts = [
            _tag("text", {"class": "chart-funnel-label", "x": _n(left), "y": _n(top + 22)}, label),
            _tag(
                "text",
                {
                    "class": "chart-funnel-count",
                    "x": _n(right),
                    "y": _n(top + 22),
                    "text-anchor": "end",
                },
                value_format(count),
            ),
            _tag(
                "rect",
                {
                    "class": "chart-funnel-track",
                    "x": _n(left),
                    "y": _n(bar_top),
                    "width": _n(right - left),
                    "height": _n(FUNNEL_BAR_HEIGHT),
                },
            ),
            _tag(
                "rect",
                {
                    "class": "chart-funnel-bar",
                    "x": _n(left),
                    "y": _n(bar_top),
                    "width": _n(length),
                    "height": _n(FUNNEL_BAR_HEIGHT),
                },
            ),
        ]
        if previous is not None:
            rate = step_rate(count, previous)
            parts.append(
                _tag(
                    "text",
                    {
                        "class": "chart-funnel-rate",
                        "x": _n(left),
                        "y": _n(top + 46),
                    },
                    _("%(rate)s of the step before", rate=rate_format(rate)),
                )
            )
        rows.append(_tag("g", {"class": "chart-funnel-step"}, *parts))
        previous = count
    return _svg("chart-funnel", width, height, title, description, id_prefix, *rows)


def step_rate(count: int, previous: int) -> int:
    """The whole percent of the step before that reached this step, rounded down (integer
    arithmetic: no float rounds 29/100 to 28 %); 0 when the step before is 0."""
    return count * 100 // previous if previous else 0


def _percent(rate: int) -> str:
    return _("%(percent)s%%", percent=rate)


# --- building blocks -------------------------------------------------------------------------


class _Plot:
    """The rectangle the data are drawn in, in the chart's units, y growing downwards, and
    the y axis it is drawn against: ``axis`` its gridline values, ``tick_labels`` theirs.

    The y labels end ``LABEL_GAP`` left of the plot, which starts far enough in for the
    widest of them at the largest font size: the labels never cover the data, nor run out of
    the chart on a phone. (Keep axis formats short: whole euros, not cents.)"""

    def __init__(
        self,
        width: float,
        height: float,
        legend: float,
        axis: Sequence[Number],
        value_format: Formatter,
    ) -> None:
        self.axis = list(axis)
        self.tick_labels = [value_format(value) for value in axis]
        widest = max(_text_width(label) for label in self.tick_labels)
        self.left = max(PADDING.left, widest + LABEL_GAP)
        self.right = width - PADDING.right
        self.top = PADDING.top + legend
        self.bottom = height - PADDING.bottom
        if self.right <= self.left or self.bottom <= self.top:
            raise ValueError(f"a {width}x{height} chart leaves no room for its plot")
        self.width = self.right - self.left
        self.height = self.bottom - self.top

    def y(self, value: Number) -> float:
        return self.bottom - value / self.axis[-1] * self.height


def _axis(values: Sequence[Number | None]) -> list[Number]:
    present = [v for v in values if v is not None]
    for v in present:
        if not math.isfinite(v) or v < 0:
            # The axis starts at 0: a negative value would be drawn below the chart.
            raise ValueError(f"cannot chart {v!r}: the axis runs from 0 up")
    return ticks(max(present, default=0), whole=all(isinstance(v, int) for v in present))


def _runs(values: Sequence[Number | None]) -> list[list[int]]:
    """Indexes of the values between gaps, one list per unbroken stretch."""
    runs: list[list[int]] = []
    current: list[int] = []
    for i, value in enumerate(values):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(i)
    if current:
        runs.append(current)
    return runs


def shown_labels(count: int, min_step: int = 1) -> list[int]:
    """Indexes of the x labels drawn, at most ``MAX_X_LABELS``, evenly spaced from the first:
    every ``step``-th label, so that regular dates (every 5th day) stay regular, and at least
    every ``min_step``-th, so that long labels keep apart."""
    step = max(min_step, math.ceil((count - 1) / (MAX_X_LABELS - 1)) if count > 1 else 1)
    return list(range(0, count, step))


def _grid(plot: _Plot) -> Markup:
    """A gridline per value of the axis, and its label left of the plot, centred on it."""
    lines = [
        _tag(
            "line",
            {
                "class": "chart-baseline" if value == 0 else "chart-gridline",
                "x1": _n(plot.left),
                "y1": _n(plot.y(value)),
                "x2": _n(plot.right),
                "y2": _n(plot.y(value)),
            },
        )
        for value in plot.axis
    ]
    texts = [
        _tag(
            "text",
            {
                "x": _n(plot.left - LABEL_GAP),
                "y": _n(plot.y(value)),
                "dy": "0.35em",
                "text-anchor": "end",
            },
            label,
        )
        for value, label in zip(plot.axis, plot.tick_labels, strict=True)
    ]
    return _tag(
        "g",
        {"class": "chart-axis"},
        _tag("g", {"class": "chart-grid"}, *lines),
        _tag("g", {"class": "chart-y-labels"}, *texts),
    )


def _x_labels(
    plot: _Plot,
    labels: Sequence[str],
    slots: Sequence[tuple[float, float, float]],
    spacing: float,
) -> Markup:
    """``slots`` gives each label's (left, centre, right) x, ``spacing`` the distance between
    two slots. A label is centred on its slot, unless it would then run out of the chart: it
    is then aligned on its slot's outer edge.

    Labels drawn are 1.5 widths of the widest apart (at the wide screens' font size), room
    enough for a centred label next to one aligned on the edge. Every other one is "minor",
    hidden on narrow screens: twice as far apart, the others have room for the larger text
    there (3 widths at 13 units against 1.5 at 22)."""
    texts = []
    edge = plot.right + PADDING.right
    widest = max((len(str(label)) for label in labels), default=0) * _CHAR_WIDTH * _FONT
    min_step = math.ceil((1.5 * widest + LABEL_GAP) / spacing) if spacing > 0 else 1
    for position, i in enumerate(shown_labels(len(labels), max(1, min_step))):
        left, centre, right = slots[i]
        half = _text_width(labels[i]) / 2
        if centre - half < 0:
            x, anchor = left, "start"
        elif centre + half > edge:
            x, anchor = right, "end"
        else:
            x, anchor = centre, "middle"
        texts.append(
            _tag(
                "text",
                {
                    "class": "chart-x-label-minor" if position % 2 else None,
                    "x": _n(x),
                    "y": _n(plot.bottom + 20),
                    "text-anchor": anchor,
                },
                labels[i],
            )
        )
    return _tag("g", {"class": "chart-x-labels"}, *texts)


def _legend(series: Sequence[Series], left: float, right: float) -> tuple[list[Markup], int]:
    """A swatch and a name per series, in rows as wide as the plot; a name is assumed as wide
    as it would be at the largest font size, so that no two meet on a narrow screen."""
    items = []
    x, row = left, 0
    for index, one in enumerate(series):
        advance = _SWATCH + 6 + _text_width(one.name) + 16
        if x > left and x + advance > right:
            x, row = left, row + 1
        baseline = row * LEGEND_ROW + 20
        items.append(
            _tag(
                "g",
                {"class": f"chart-legend-item chart-series chart-series-{index}"},
                _tag(
                    "line",
                    {
                        "x1": _n(x),
                        "y1": _n(baseline - 5),
                        "x2": _n(x + _SWATCH),
                        "y2": _n(baseline - 5),
                    },
                ),
                _tag("text", {"x": _n(x + _SWATCH + 6), "y": _n(baseline)}, one.name),
            )
        )
        x += advance
    return [_tag("g", {"class": "chart-legend"}, *items)], row + 1


def _text_width(text: str) -> float:
    """An estimate erring wide: the text at the largest size charts.css gives it."""
    return len(str(text)) * _CHAR_WIDTH * _LARGEST_FONT


def _tooltip(series: Sequence[Series], one: Series | None, label: str, value: str) -> str:
    if len(series) > 1 and one is not None:
        return _("%(series)s, %(label)s: %(value)s", series=one.name, label=label, value=value)
    return _("%(label)s: %(value)s", label=label, value=value)


def _svg(
    kind: str,
    width: int,
    height: int,
    title: str,
    description: str,
    id_prefix: str,
    *children: Markup,
) -> Markup:
    """The chart's outer element. It scales to its container's width (``viewBox`` and
    ``width="100%"``, the height following the ratio) and is announced as one image, named by
    its title and described by its description; the ids are the caller's, so two charts on a
    page never share one and nothing is counted across requests."""
    if not _ID.match(id_prefix):
        raise ValueError(
            f"{id_prefix!r} cannot start an id: a letter, then letters, digits, - or _"
        )
    return _tag(
        "svg",
        {
            "xmlns": _SVG,
            "class": f"chart {kind}",
            "viewBox": f"0 0 {width} {height}",
            "width": "100%",
            "preserveAspectRatio": "xMidYMid meet",
            "role": "img",
            "aria-labelledby": f"{id_prefix}-title {id_prefix}-desc",
        },
        _tag("title", {"id": f"{id_prefix}-title"}, title),
        _tag("desc", {"id": f"{id_prefix}-desc"}, description),
        *children,
    )


def _tag(name: str, attributes: dict[str, str | None], *children: Markup | str) -> Markup:
    """One element, its attribute values and text children escaped (``Markup.format`` and
    ``join`` escape whatever is not already Markup)."""
    attrs = Markup("").join(
        Markup(' {}="{}"').format(key, value)
        for key, value in attributes.items()
        if value is not None
    )
    if not children:
        return Markup("<{}{}/>").format(name, attrs)
    return Markup("<{0}{1}>{2}</{0}>").format(name, attrs, Markup("").join(children))


def _n(value: float) -> str:
    """A coordinate to one decimal, without a trailing ".0": the markup stays small."""
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text
