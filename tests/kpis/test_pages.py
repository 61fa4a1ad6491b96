"""The dashboard, its CSV, targets and the console's off-track list, as operators use them;
and the public impact page."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent
from marketplace.kpis import rollup
from marketplace.kpis.models import KpiTarget
from tests.helpers import csrf_token

from .conftest import TODAY

JUNE = "from=2026-06-01&to=2026-06-30"


@pytest.fixture
def rolled(story, ctx):
    with ctx():
        rollup.rebuild(today=TODAY)
        db.session.commit()
    return story


@pytest.fixture
def operator(client, auth, make_user):
    make_user("boss@example.com", operator=True)
    auth.login("boss@example.com")


def _row(html: str, key: str) -> str:
    return html.split(f'id="kpi-row-{key}"')[1].split("</tr>")[0]


def test_the_dashboard_is_for_operators_only(client, auth, make_user):
    for path in ("/operator/kpis", "/operator/kpis.csv"):
        assert client.get(path).status_code == 302  # log in first
    make_user("member@example.com")
    auth.login("member@example.com")
    for path in ("/operator/kpis", "/operator/kpis.csv"):
        assert client.get(path).status_code == 403
    token = csrf_token(client, "/account/")
    for path in ("/operator/kpis/targets", "/operator/kpis/roll-up"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403


def test_each_figure_beside_its_definition_and_the_previous_period(client, operator, rolled):
    html = client.get(f"/operator/kpis?{JUNE}").get_data(as_text=True)
    participants = _row(html, "participants")
    assert "Distinct accounts that submitted a design" in participants
    assert "<strong>6</strong>" in participants  # this period
    assert ">3</td>" in participants  # May 2-31
    assert "+100.0" in participants
    assert "<strong>4.0 / 5</strong>" in _row(html, "satisfaction")
    assert "2 of 3" in _row(html, "response_rate")  # Hal has not rated
    assert "1 account submitted a design" in html
    assert "2 accounts rated a product" in html
    assert "1 account scored designs" in html
    # The funnel's table, with each step's rate against the one before.
    funnel = html.split('id="funnel-table"')[1].split("</table>")[0]
    assert 'Approved</th><td class="num">2</td><td class="num">66.7' in funnel
    assert "Month" in html and "June 2026" in html  # the cohort table


def test_a_period_that_makes_no_sense_is_refused_with_the_reason(client, operator):
    cases = {
        "from=2026-06-30&to=2026-06-01": "The first day comes after the last one.",
        "days=8": "Choose one of the periods offered.",
        "from=yesterday&to=2026-06-01": "is not a date",
        "from=2026-06-01": "Give both the first and the last day",
        "from=2020-01-01&to=2026-06-01": "at most three years",
        "from=2026-06-01&to=2099-01-01": "cannot end after today",
    }
    for query, message in cases.items():
        resp = client.get(f"/operator/kpis?{query}")
        assert resp.status_code == 400, query
        assert message in resp.get_data(as_text=True), query
        assert client.get(f"/operator/kpis.csv?{query}").status_code == 400
    assert client.get("/operator/kpis.csv?table=nope").status_code == 404


def test_the_csv_has_the_tables_columns(client, operator, rolled):
    resp = client.get(f"/operator/kpis.csv?{JUNE}")
    assert resp.mimetype == "text/csv"
    assert "kpis-series-2026-06-01-2026-06-30.csv" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows[0] == [
        "start",
        "end",
        "participants",
        "returning_percent",
        "ideas",
        "redesigns",
        "ratings",
        "average_rating",
        "nps",
        "units_made",
        "pledged_EUR",
        "collected_EUR",
        "refunded_EUR",
        "royalties_booked_EUR",
        "royalties_paid_EUR",
    ]
    assert len(rows) == 1 + 30
    by_day = {r[0]: r for r in rows[1:]}
    assert by_day["2026-06-10"][10] == "10.00"  # Cy's pledge
    assert by_day["2026-06-25"][6:9] == ["1", "5.00", "100.0"]  # Fay: 5 stars, a promoter
    assert by_day["2026-06-30"][14] == "4.00"  # the payout
    # Dee's first day (nobody returning), Bo's second (everyone), a day without anyone.
    assert [by_day[d][3] for d in ("2026-06-15", "2026-06-06", "2026-06-02")] == [
        "0.0",
        "100.0",
        "",
    ]
    funnel = list(
        csv.reader(
            io.StringIO(
                client.get(f"/operator/kpis.csv?table=funnel&{JUNE}").get_data(as_text=True)
            )
        )
    )
    assert funnel[0] == ["step", "designs", "rate_of_step_before"]
    assert funnel[1:3] == [["submitted", "3", "100.0"], ["approved", "2", "66.7"]]
    cohorts = list(
        csv.reader(
            io.StringIO(
                client.get(f"/operator/kpis.csv?table=cohorts&{JUNE}").get_data(as_text=True)
            )
        )
    )
    assert cohorts == [
        [
            "month",
            "submitted",
            "approved",
            "shortlisted",
            "selected",
            "campaign",
            "funded",
            "delivered",
        ],
        ["2026-06", "3", "2", "1", "0", "0", "0", "0"],
    ]


def test_an_operator_sets_a_target_and_the_console_shows_it_off_track(client, operator, ctx):
    page = f"/operator/kpis?{JUNE}"
    token = csrf_token(client, page)
    resp = client.post(
        f"/operator/kpis/targets?{JUNE}",
        data={"csrf_token": token, "indicator": "participants", "kind": "at_least", "value": "3"},
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("#targets")
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Target set for Participants." in html
    with ctx():
        target = db.session.get(KpiTarget, "participants")
        assert (target.kind, target.value) == ("at_least", 300)
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).where(AuditEvent.action == "kpi_target.set")
            )
            == 1
        )
    # Nobody took part in the last 30 days of this test database: 0 of the 3 aimed for.
    console = client.get("/operator/").get_data(as_text=True)
    off = console.split('id="off-track"')[1].split("</section>")[0]
    assert "1 target off track" in off
    assert "Participants" in off and "needs 3, is 0" in off
    # Removed: gone from the console.
    token = csrf_token(client, page)
    client.post(f"/operator/kpis/targets/participants/clear?{JUNE}", data={"csrf_token": token})
    assert 'id="off-track"' not in client.get("/operator/").get_data(as_text=True)


def test_a_target_that_cannot_be_kept_is_refused_and_nothing_is_saved(client, operator, ctx):
    token = csrf_token(client, "/operator/kpis")
    cases = {
        "abc": "Not a valid decimal value",
        "4.255": "at most two decimals",
        "7": "out of range",
    }
    for value, message in cases.items():
        resp = client.post(
            "/operator/kpis/targets",
            data={
                "csrf_token": token,
                "indicator": "satisfaction",
                "kind": "at_least",
                "value": value,
            },
        )
        assert resp.status_code == 422, value
        html = resp.get_data(as_text=True)
        assert message in html, value
        assert f'value="{value}"' in html  # what was typed is kept
    resp = client.post(
        "/operator/kpis/targets",
        data={"csrf_token": token, "indicator": "made-up", "kind": "change", "value": "5"},
    )
    assert resp.status_code == 422
    assert (
        client.post(
            "/operator/kpis/targets", data={"indicator": "ideas", "kind": "change", "value": "5"}
        ).status_code
        == 400
    )
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(KpiTarget)) == 0


def test_update_now_rolls_the_figures_up(client, operator, story):
    html = client.get(f"/operator/kpis?{JUNE}").get_data(as_text=True)
    assert "No figures yet" in html
    token = csrf_token(client, "/operator/kpis")
    resp = client.post(f"/operator/kpis/roll-up?{JUNE}", data={"csrf_token": token})
    assert resp.status_code == 302
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Figures brought up to date." in html
    assert "<strong>6</strong>" in _row(html, "participants")
    # Read again, without the message: the copy of the page from before the rollup is gone.
    again = client.get(f"/operator/kpis?{JUNE}").get_data(as_text=True)
    assert "No figures yet" not in again and "<strong>6</strong>" in _row(again, "participants")


def test_the_impact_page_shows_everyone_the_figures(client, rolled):
    resp = client.get("/impact")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    figures = html.split('id="impact-figures"')[1]

    def figure(name):
        return figures.split(f'data-figure="{name}"')[1].split("</div>")[0]

    assert ">5<" in figure("submitted") and "designs submitted" in figure("submitted")
    assert ">1<" in figure("produced")
    assert ">7<" in figure("participants")
    assert ">5<" in figure("backers")
    assert "€6.00" in figure("royalties") and "€4.00 paid out so far" in figure("royalties")
    assert "4.0 / 5" in figure("satisfaction") and "3 ratings" in figure("satisfaction")


def test_the_impact_page_before_anything_happened(client):
    html = client.get("/impact").get_data(as_text=True)
    assert "Nothing to count yet" in html


def test_the_dashboards_query_count_does_not_grow_with_the_data(
    app, client, operator, story, ctx, make_user
):
    from designs.models import Vote
    from marketplace.kernel.queues import redis_connection
    from tests.helpers import count_queries

    from .conftest import at

    path = "/operator/kpis?from=2026-01-01&to=2026-06-30"

    def queries() -> tuple[int, int]:
        """(computed, then cached): statements of a first request, then of a second."""
        with ctx():
            rollup.rebuild(today=TODAY)
            db.session.commit()
        redis_connection(app).flushdb()  # the session cookie is signed: nothing else kept
        client.get("/operator/")  # the session's CSRF token, which the page's copy is kept for
        counts = []
        for _ in range(2):
            with count_queries(app) as statements:
                assert client.get(path).status_code == 200
            counts.append(len(statements))
        return counts[0], counts[1]

    before = queries()
    # Forty more people, each scoring a design on a different day of the half-year.
    with ctx():
        design_id = story["designs"]["d2"]
    voters = [make_user(f"voter{i}@example.com") for i in range(40)]
    with ctx():
        for i, voter in enumerate(voters):
            db.session.add(
                Vote(
                    design_id=design_id,
                    user_id=voter,
                    score=3,
                    created_at=at(1 + i % 6, 1 + i % 28),
                )
            )
        db.session.commit()
    after = queries()
    assert after == before
    computed, cached = before
    # The operator's copy of the page is kept until the next rollup: their account and the
    # rollup's version are all a reload reads.
    assert cached == 2 < computed


def test_removing_the_target_of_no_indicator_is_a_404(client, operator):
    token = csrf_token(client, "/operator/kpis")
    assert (
        client.post("/operator/kpis/targets/made-up/clear", data={"csrf_token": token}).status_code
        == 404
    )
