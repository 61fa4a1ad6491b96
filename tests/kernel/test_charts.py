"""The dashboard's server-drawn charts: the geometry worked out by hand, the accessible and
CSP-safe markup, and the edge cases (gaps, empty or all-zero data, a funnel that dries up)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from marketplace.kernel import charts
from marketplace.kernel.charts import (
    Series,
    bar_chart,
    funnel_chart,
    line_chart,
    nice_ceiling,
    shown_labels,
    step_rate,
    ticks,
)

NS = "{http://www.w3.org/2000/svg}"


def parse(markup: Markup) -> ET.Element:
    """The chart as XML: parsing fails on anything not well-formed."""
    return ET.fromstring(str(markup))  # noqa: S314 (our own output, the very thing under test)


def find(root: ET.Element, path: str) -> list[ET.Element]:
    return root.findall(path.replace("svg:", NS))


def line(values, labels=None, **kwargs):
    labels = labels if labels is not None else [f"d{i}" for i in range(len(values))]
    kwargs.setdefault("title", "Pledges")
    kwargs.setdefault("description", "Pledges per day")
    kwargs.setdefault("id_prefix", "chart-test")
    return parse(line_chart([Series("This month", values)], labels=labels, **kwargs))


def points(polyline: ET.Element) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in polyline.get("points").split()]


# --- the y axis ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 1),
        (-3, 1),
        (1, 1),
        (1.5, 2),
        (2, 2),
        (2.1, 2.5),
        (3, 5),
        (7, 10),
        (10, 10),
        (12, 20),
        (230, 250),
        (0.3, 0.5),
        (0.07, 0.1),
        (0.025, 0.025),
        (123_456, 200_000),
    ],
)
def test_nice_ceiling_rounds_up_to_1_2_2_5_or_5_times_a_power_of_ten(value, expected):
    assert nice_ceiling(value) == expected
    # Whole results come back as int, so that str() labels an axis "10", not "10.0".
    assert isinstance(nice_ceiling(value), int) == isinstance(expected, int)


@pytest.mark.parametrize(
    ("top", "whole", "expected"),
    [
        (10, False, [0, 2.5, 5, 7.5, 10]),  # step nice_ceiling(10 / 4) = 2.5
        (10, True, [0, 5, 10]),  # no gridline at 2.5 ideas
        (7, True, [0, 2, 4, 6, 8]),  # 7 / 4 = 1.75 -> 2, four steps reach 8
        (230, True, [0, 100, 200, 300]),  # 57.5 -> 100, three steps reach 300
        (200, True, [0, 50, 100, 150, 200]),
        (0.62, False, [0, 0.2, 0.4, 0.6, 0.8]),  # 0.155 -> 0.2; no 0.6000000000000001
        (3, True, [0, 1, 2, 3]),
        (0, False, [0, 0.25, 0.5, 0.75, 1]),  # nothing to draw: a 0..1 axis
        (0, True, [0, 1]),
        (125_000, True, [0, 50_000, 100_000, 150_000]),  # cents: 31,250 -> 50,000
    ],
)
def test_ticks_climb_from_zero_in_nice_steps(top, whole, expected):
    assert ticks(top, whole=whole) == expected


def test_ticks_give_four_or_five_gridlines_for_any_maximum():
    for top in [0.01, 0.3, 1, 4.4, 9, 17, 64, 99, 101, 999, 4321, 70_001]:
        values = ticks(top)
        assert values[0] == 0 and values[-1] >= top
        assert len(values) in (4, 5), (top, values)


# --- line chart: geometry worked out by hand -------------------------------------------------


def test_points_of_a_small_line_chart_sit_where_the_axis_puts_them():
    svg = line([0, 5, 10], width=640, height=220)
    # The padding the module documents: the plot runs from y 24 down to 220 - 28 = 192 (one
    # series: no legend row above it) and ends at x 640 - 12 = 628.
    assert charts.Padding(top=24, right=12, bottom=28, left=12) == charts.PADDING
    # Whole values up to 10: steps of nice_ceiling(10 / 4) = 2.5 are not whole, so 5: the
    # axis is 0, 5, 10 and its top is 10. Its widest label, "10", is taken as 2 characters of
    # 0.6 x 22 units (the largest font): 26.4, and the plot starts 6 further, at 32.4.
    # Three points over 628 - 32.4 = 595.6 units: 297.8 apart.
    # y = 192 - value / 10 * (192 - 24): 192, 192 - 84 = 108, 24.
    (polyline,) = find(svg, ".//svg:polyline")
    assert points(polyline) == [(32.4, 192), (330.2, 108), (628, 24)]
    markers = find(svg, ".//svg:circle")
    assert [(float(m.get("cx")), float(m.get("cy"))) for m in markers] == points(polyline)
    grid = find(svg, ".//svg:g[@class='chart-grid']/svg:line")
    assert [(float(g.get("x1")), float(g.get("y1"))) for g in grid] == [
        (32.4, 192),
        (32.4, 108),
        (32.4, 24),
    ]
    # Each y label ends 6 units left of the plot, centred on its gridline.
    labels = find(svg, ".//svg:g[@class='chart-y-labels']/svg:text")
    assert [(t.text, t.get("x"), t.get("y"), t.get("text-anchor")) for t in labels] == [
        ("0", "26.4", "192", "end"),
        ("5", "26.4", "108", "end"),
        ("10", "26.4", "24", "end"),
    ]


def test_wider_y_labels_move_the_plot_in():
    (polyline,) = find(line([0, 10], value_format=lambda v: f"{v:02}/10"), ".//svg:polyline")
    # "05/10" and its like: 5 x 13.2 + 6 = 72.
    assert points(polyline) == [(72, 192), (628, 24)]


def test_coordinates_keep_one_decimal():
    # The axis 0..4 has labels of one character: the plot starts at 13.2 + 6 = 19.2. Four
    # points over 608.8 units are 202.9333... apart: 222.1333... and 425.0666..., written
    # 222.1 and 425.1.
    (polyline,) = find(line([1, 2, 3, 4]), ".//svg:polyline")
    assert [x for x, _y in points(polyline)] == [19.2, 222.1, 425.1, 628]
    number = re.compile(r"-?\d+(\.\d)?")
    for svg in (line([1.234, 2.345, 3.456]), parse(bar_chart([1, 2, 3], **_bar_args(3)))):
        for element in svg.iter():
            for name in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "width", "height"):
                if element.get(name) is not None and element.get(name) != "100%":
                    assert number.fullmatch(element.get(name)), (name, element.get(name))
            for pair in (element.get("points") or "").split():
                assert all(number.fullmatch(n) for n in pair.split(","))


def test_a_gap_breaks_the_line_in_two():
    svg = line([4, 8, None, 2, 6])
    first, second = find(svg, ".//svg:polyline")
    # Axis 0..8 (8 / 4 = 2 -> step 2, four steps), labels of one character: the plot starts
    # at 19.2, and 5 points over 608.8 units are 152.2 apart.
    # y = 192 - v / 8 * 168: 4 -> 108, 8 -> 24, 2 -> 150, 6 -> 66.
    assert ticks(8, whole=True) == [0, 2, 4, 6, 8]
    assert points(first) == [(19.2, 108), (171.4, 24)]
    assert points(second) == [(475.8, 150), (628, 66)]
    assert len(find(svg, ".//svg:circle")) == 4


def test_markers_with_their_tooltip_up_to_31_points_only():
    svg = line(list(range(31)), value_format=lambda v: f"{v} €")
    markers = find(svg, ".//svg:circle")
    assert len(markers) == 31
    assert markers[30].find(f"{NS}title").text == "d30: 30 €"

    assert find(line(list(range(32))), ".//svg:circle") == []


def test_a_point_alone_between_gaps_keeps_its_marker_on_a_long_chart():
    values = [1] * 10 + [None, 5, None] + [1] * 30
    svg = line(values)
    assert len(find(svg, ".//svg:polyline")) == 2  # no one-point polyline: it draws nothing
    (marker,) = find(svg, ".//svg:circle")
    assert marker.find(f"{NS}title").text == "d11: 5"


def test_three_series_each_have_their_class_and_a_legend():
    svg = parse(
        line_chart(
            [Series("This month", [1, 2]), Series("Last month", [2, 3]), Series("Goal", [4, 4])],
            labels=["Nov 1", "Nov 2"],
            title="t",
            description="d",
            id_prefix="c",
        )
    )
    groups = find(svg, ".//svg:g[svg:polyline]")
    assert [g.get("class") for g in groups] == [
        "chart-series chart-series-0",
        "chart-series chart-series-1",
        "chart-series chart-series-2",
    ]
    legend = find(svg, ".//svg:g[@class='chart-legend']/svg:g")
    assert [item.find(f"{NS}text").text for item in legend] == ["This month", "Last month", "Goal"]
    # The legend takes one row above the plot: its top is 24 + 26 = 50, so the goal of 4
    # (the axis's top: 4 / 4 = 1 per step; labels of one character, the plot starting at
    # 19.2) is drawn at y 50.
    (goal,) = find(groups[2], "svg:polyline")
    assert points(goal) == [(19.2, 50), (628, 50)]
    # With several lines a tooltip names its series.
    assert groups[1].findall(f"{NS}circle/{NS}title")[-1].text == "Last month, Nov 2: 3"

    with pytest.raises(ValueError, match="at most 3"):
        line_chart(
            [Series(str(i), [1]) for i in range(4)],
            labels=["a"],
            title="t",
            description="d",
            id_prefix="c",
        )


def test_a_legend_too_wide_for_one_row_wraps():
    names = ["A fairly long series name", "Another long series name", "Third"]
    svg = parse(
        line_chart(
            [Series(name, [1, 2]) for name in names],
            labels=["a", "b"],
            title="t",
            description="d",
            id_prefix="c",
        )
    )
    texts = find(svg, ".//svg:g[@class='chart-legend']//svg:text")
    # 25 characters at 22 units x 0.6 = 330 units, with swatch and gaps 376: a second name as
    # long does not fit in the 616 units after it, so it starts a second row 26 units lower.
    assert [(float(t.get("x")), float(t.get("y"))) for t in texts][:2] == [(42, 20), (42, 46)]


def test_at_most_eight_x_labels_evenly_spaced():
    assert shown_labels(8) == list(range(8))
    assert shown_labels(31) == [0, 5, 10, 15, 20, 25, 30]  # every 5th day of a month
    assert shown_labels(9) == [0, 2, 4, 6, 8]
    for count in range(1, 400):
        shown = shown_labels(count)
        assert 1 <= len(shown) <= 8 and shown[0] == 0
        assert len({b - a for a, b in zip(shown, shown[1:], strict=False)}) <= 1

    svg = line(list(range(90)), labels=[f"Day {i}" for i in range(90)])
    texts = find(svg, ".//svg:g[@class='chart-x-labels']/svg:text")
    assert [t.text for t in texts] == [f"Day {i}" for i in range(0, 90, 13)]
    # Every other one makes way on narrow screens, where charts.css enlarges the text.
    assert [t.get("class") for t in texts] == [None, "chart-x-label-minor"] * 3 + [None]


def test_edge_labels_stay_inside_the_chart():
    svg = line([1, 2, 3], labels=["2026-11-02", "2026-11-03", "2026-11-04"])
    anchors = [
        (t.get("text-anchor"), float(t.get("x")))
        for t in find(svg, ".//svg:g[@class='chart-x-labels']/svg:text")
    ]
    # Plot from 19.2 (axis 0..3) to 628: the first label would run left of the chart if
    # centred (10 x 13.2 / 2 = 66 > 19.2), the last right of it (628 + 66 > 640).
    assert anchors == [("start", 19.2), ("middle", 323.6), ("end", 628)]


def test_series_and_labels_must_match():
    with pytest.raises(ValueError, match="one value per label"):
        line([1, 2], labels=["a"])
    with pytest.raises(ValueError, match="from 0 up"):
        line([1, -2])
    with pytest.raises(ValueError):
        line([1, float("nan")])


# --- bar chart -------------------------------------------------------------------------------


def _bar_args(count, **kwargs):
    return {
        "labels": [f"W{i}" for i in range(count)],
        "title": "Ideas per week",
        "description": "Designs submitted each week",
        "id_prefix": "ideas",
        **kwargs,
    }


def test_bars_of_a_small_chart_worked_out_by_hand():
    svg = parse(
        bar_chart([0, 5, None, 10], **_bar_args(4, width=484, value_format=lambda v: f"{v:02}/10"))
    )
    bars = find(svg, ".//svg:rect")
    # The axis is 0..10 (whole values), its labels "00/10" to "10/10": 5 x 13.2 + 6 = 72, so
    # the plot runs from 72 to 484 - 12 = 472. Four slots of 400 / 4 = 100 units; a bar fills
    # 70 % of its slot and is centred in it, 15 from the slot's left: 87, 187, (287), 387.
    # A bar is v / 10 * 168 tall, standing on y 192. The third slot has no figure: no bar.
    assert [tuple(float(b.get(k)) for k in ("x", "y", "width", "height")) for b in bars] == [
        (87, 192, 70, 0),
        (187, 108, 70, 84),
        (387, 24, 70, 168),
    ]
    assert [b.find(f"{NS}title").text for b in bars] == ["W0: 00/10", "W1: 05/10", "W3: 10/10"]


def test_many_narrow_bars_keep_their_labels_apart_and_inside():
    labels = [f"Week {i}" for i in range(52)]
    svg = parse(bar_chart(list(range(52)), **_bar_args(52, labels=labels)))
    texts = find(svg, ".//svg:g[@class='chart-x-labels']/svg:text")
    # Axis: 51 / 4 = 12.75 -> steps of 20, up to 60; labels of 2 characters, so the plot runs
    # from 32.4 to 628 and a slot is 595.6 / 52 = 11.45 units. "Week 51", 7 x 0.6 x 13 = 54.6
    # units wide, keeps 1.5 x 54.6 + 6 = 87.9 units from the next label: 8 slots.
    assert [t.text for t in texts] == [f"Week {i}" for i in range(0, 52, 8)]
    # "Week 0" centred on its slot (32.4 + 5.7 = 38.1) would start left of the chart (taken
    # as 6 x 0.6 x 22 = 79 units wide, its size on a phone), so it starts at its bar's left
    # edge instead: 70 % of the slot is 8.02 units, (11.45 - 8.02) / 2 = 1.72 into the slot.
    assert (texts[0].get("text-anchor"), texts[0].get("x")) == ("start", "34.1")
    # The middle ones are centred on their bar: slot 24's centre is 32.4 + 24.5 x 11.45.
    assert (texts[3].get("text-anchor"), texts[3].get("x")) == ("middle", "313")


# --- funnel ----------------------------------------------------------------------------------


def test_funnel_bars_and_rates_worked_out_by_hand():
    svg = parse(
        funnel_chart(
            [("Accounts", 200), ("Voted", 50), ("Scored", 0), ("Pledged", 0)],
            title="Funnel",
            description="From account to pledge",
            id_prefix="funnel",
            value_format=lambda n: f"{n:,}",
        )
    )
    steps = find(svg, ".//svg:g[@class='chart-funnel-step']")
    # 616 units for the first step's 200: 50 is a quarter of it, 154 units.
    widths = [float(s.find(f"{NS}rect[@class='chart-funnel-bar']").get("width")) for s in steps]
    assert widths == [616, 154, 0, 0]
    counts = [s.find(f"{NS}text[@class='chart-funnel-count']").text for s in steps]
    assert counts == ["200", "50", "0", "0"]
    rates = [getattr(s.find(f"{NS}text[@class='chart-funnel-rate']"), "text", None) for s in steps]
    # 50 of 200 went on: 25 %; 0 of 50: 0 %; nobody of nobody: 0 %, not a division by zero.
    assert rates == [
        None,
        "25% of the step before",
        "0% of the step before",
        "0% of the step before",
    ]
    assert svg.get("viewBox") == f"0 0 640 {8 + 4 * charts.FUNNEL_ROW}"


def test_step_rates_are_whole_percents_rounded_down():
    assert step_rate(50, 200) == 25
    assert step_rate(2, 3) == 66  # 66.67 %: not yet two thirds rounded up
    assert step_rate(199, 200) == 99  # one in two hundred did not go on
    assert step_rate(29, 100) == 29  # 29 / 100 * 100 is 28.999... in floats
    assert step_rate(0, 0) == 0


def test_funnel_rates_use_the_callers_format():
    svg = parse(
        funnel_chart(
            [("a", 8), ("b", 5)],
            title="t",
            description="d",
            id_prefix="f",
            rate_format=lambda n: f"{n}\u202f%",
        )
    )
    assert find(svg, ".//svg:text[@class='chart-funnel-rate']")[0].text == (
        "62\u202f% of the step before"  # 5 * 100 // 8
    )


def test_a_funnel_of_zeros_or_of_nothing_draws_without_dividing_by_zero():
    svg = parse(funnel_chart([("a", 0), ("b", 0)], title="t", description="d", id_prefix="f"))
    assert [float(r.get("width")) for r in find(svg, ".//svg:rect[@class='chart-funnel-bar']")] == [
        0,
        0,
    ]
    empty = parse(funnel_chart([], title="t", description="d", id_prefix="f"))
    assert find(empty, ".//svg:rect") == [] and empty.get("viewBox") == "0 0 640 96"


def test_a_step_above_the_first_is_measured_against_the_largest():
    svg = parse(funnel_chart([("a", 50), ("b", 100)], title="t", description="d", id_prefix="f"))
    widths = [float(r.get("width")) for r in find(svg, ".//svg:rect[@class='chart-funnel-bar']")]
    assert widths == [308, 616]


# --- empty and all-zero ----------------------------------------------------------------------


@pytest.mark.parametrize("values", [[], [0, 0, 0], [None, None]])
def test_empty_or_zero_data_draw_an_empty_chart_on_a_0_to_1_axis(values):
    svg = line(values)
    labels = [t.text for t in find(svg, ".//svg:g[@class='chart-y-labels']/svg:text")]
    assert labels == ["0", "1"]
    for polyline in find(svg, ".//svg:polyline"):
        assert {y for _x, y in points(polyline)} == {192}  # on the baseline

    bars = parse(bar_chart(values, **_bar_args(len(values))))
    assert {r.get("height") for r in find(bars, ".//svg:rect")} <= {"0"}


def test_no_series_at_all_is_an_empty_chart():
    svg = parse(line_chart([], labels=[], title="t", description="d", id_prefix="c"))
    assert find(svg, ".//svg:polyline") == [] and find(svg, ".//svg:circle") == []
    assert len(find(svg, ".//svg:g[@class='chart-grid']/svg:line")) == 2


# --- markup: escaping, accessibility, CSP ----------------------------------------------------

SCRIPT = '<script>alert("x")</script>'


def all_charts(text=SCRIPT, prefix="chart-a"):
    return [
        line_chart(
            [Series(text, [1, None, 3]), Series("other", [2, 2, 2]), Series("goal", [3, 3, 3])],
            labels=[text, "b", text],
            title=text,
            description=text,
            id_prefix=prefix,
            value_format=lambda v: f"{v}{text}",
        ),
        bar_chart(
            [1, 2],
            labels=[text, "b"],
            title=text,
            description=text,
            id_prefix=prefix,
            value_format=lambda v: f"{v}{text}",
        ),
        funnel_chart(
            [(text, 2), ("b", 1)],
            title=text,
            description=text,
            id_prefix=prefix,
            value_format=lambda v: f"{v}{text}",
            rate_format=lambda r: f"{r}{text}",
        ),
    ]


def test_every_text_is_escaped():
    for markup in all_charts():
        assert isinstance(markup, Markup)
        assert "<script" not in markup and "&lt;script&gt;" in markup
        svg = parse(markup)
        texts = [e.text for e in svg.iter() if e.text]
        assert SCRIPT in texts  # the reader sees what was written, as text
        assert all(e.tag.removeprefix(NS) != "script" for e in svg.iter())


def test_no_style_attribute_nor_style_element():
    for markup in all_charts():
        for element in parse(markup).iter():
            assert "style" not in element.attrib, element.tag
            assert element.tag != f"{NS}style"


def test_a_chart_is_one_labelled_image_that_scales():
    for markup in all_charts("Pledges", prefix="kpi-pledges"):
        svg = parse(markup)
        assert svg.tag == f"{NS}svg"
        assert svg.get("role") == "img"
        assert "aria-hidden" not in svg.attrib
        assert svg.get("width") == "100%" and "height" not in svg.attrib
        assert re.fullmatch(r"0 0 \d+ \d+", svg.get("viewBox"))
        assert svg.get("preserveAspectRatio") == "xMidYMid meet"
        assert svg.get("aria-labelledby") == "kpi-pledges-title kpi-pledges-desc"
        title, desc = list(svg)[:2]
        assert (title.tag, title.get("id")) == (f"{NS}title", "kpi-pledges-title")
        assert (desc.tag, desc.get("id")) == (f"{NS}desc", "kpi-pledges-desc")
        assert title.text == desc.text == "Pledges"


def test_two_charts_on_a_page_have_their_own_ids():
    ids = [
        element.get("id")
        for prefix in ("chart-a", "chart-b")
        for markup in all_charts(prefix=prefix)[:1]
        for element in parse(markup).iter()
        if element.get("id")
    ]
    assert ids == ["chart-a-title", "chart-a-desc", "chart-b-title", "chart-b-desc"]
    # The same arguments draw the same chart: nothing is counted between calls (requests).
    assert all_charts() == all_charts()


@pytest.mark.parametrize("prefix", ["", "1chart", "a b", 'x"y', "<p>"])
def test_an_id_prefix_that_is_no_id_is_refused(prefix):
    with pytest.raises(ValueError, match="cannot start an id"):
        line_chart([], labels=[], title="t", description="d", id_prefix=prefix)


def test_charts_css_styles_the_classes_the_charts_use():
    from tests.helpers import ROOT

    css = (ROOT / "static" / "css" / "charts.css").read_text()
    emitted = {
        cls
        for markup in all_charts("x")
        for element in parse(markup).iter()
        for cls in (element.get("class") or "").split()
    }
    # No rule for a class the charts never carry (a typo would leave a chart unstyled)...
    assert set(re.findall(r"\.(chart[\w-]*)", css)) <= emitted
    # ...and a rule for each class that carries the look.
    for cls in (
        "chart",
        "chart-series-0",
        "chart-series-1",
        "chart-series-2",
        "chart-marker",
        "chart-bar",
        "chart-gridline",
        "chart-baseline",
        "chart-x-label-minor",
        "chart-funnel-bar",
        "chart-funnel-track",
        "chart-funnel-rate",
    ):
        assert re.search(rf"\.{cls}(?![\w-])", css), cls
