"""Production runs from a settled campaign (settled for real, against localstripe): the
quantities are the paid pledges', dropped and refunded ones never make it; the manufacturer's
CSV; each step mailed; cancelling refunds everyone; the designer's royalty to the cent."""

import csv
import datetime as dt
import html
import io

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxMail
from marketplace.production import services as production
from marketplace.production.models import Order, OrderState, ProductionRun, RunState, Survey
from payments import jobs, ledger, refunds
from payments.models import LedgerEntry, LedgerKind
from tests.helpers import add_pledges, close_and_settle, count_queries, csrf_token, login_as, post

SHIP_DATE = (utcnow() + dt.timedelta(days=30)).date()


@pytest.fixture
def settled(app, ctx, make_user, make_campaign, stripe_server, run_jobs):
    """A settled campaign (price €25, royalty €3 a unit): ada S×2 and ben M×1 and cy M×3
    paid, dan's L×1 dropped after a declined card, eve's S×1 paid then refunded."""
    designer = make_user("designer@example.com", designer=True, name="Dee Signer")
    campaign_id = make_campaign(goal=3, price=2500, designer_id=designer)
    names = ["ada", "ben", "cy", "dan", "eve"]
    users = {n: make_user(f"{n}@example.com", name=n.title()) for n in names}
    operator = make_user("ops@example.com", operator=True)
    ids = add_pledges(
        ctx,
        campaign_id,
        [
            (users["ada"], "S", 2, "visa"),
            (users["ben"], "M", 1, "visa"),
            (users["cy"], "M", 3, "visa"),
            (users["dan"], "L", 1, "declined_at_charge"),
            (users["eve"], "S", 1, "visa"),
        ],
    )
    pledges = dict(zip(names, ids, strict=True))
    close_and_settle(ctx, run_jobs, campaign_id)
    with ctx():
        closed = db.session.get(Campaign, campaign_id).closed_at
        jobs.sweep_settlements(now=closed + dt.timedelta(days=8))  # dan's pledge is dropped
        refunds.request_refund(pledges["eve"], db.session.get(User, operator), "Asked to cancel")
        db.session.commit()
    run_jobs(("settlement",))
    with ctx():
        assert db.session.get(Campaign, campaign_id).state == CampaignState.SETTLED
        assert db.session.get(Pledge, pledges["dan"]).state == PledgeState.DROPPED
        assert db.session.get(Pledge, pledges["eve"]).state == PledgeState.REFUNDED
    return {
        "campaign": campaign_id,
        "pledges": pledges,
        "users": users,
        "designer": designer,
        "operator": operator,
    }


def launch(ctx, story) -> int:
    with ctx():
        run = production.launch_run(
            story["campaign"],
            db.session.get(User, story["operator"]),
            manufacturer="Atelier Lyon",
            reference="Q-2211",
            expected_ship_date=SHIP_DATE,
        )
        db.session.commit()
        return run.id


def test_a_run_makes_exactly_the_paid_pledges_and_books_the_royalty(ctx, settled):
    run_id = launch(ctx, settled)
    with ctx():
        run = db.session.get(ProductionRun, run_id)
        assert {line.variant.label: line.quantity for line in run.lines} == {"S": 2, "M": 4}
        in_run = set(db.session.scalars(sa.select(Order.pledge_id).where(Order.run_id == run_id)))
        paid = settled["pledges"]
        assert in_run == {paid["ada"], paid["ben"], paid["cy"]}  # not dan (dropped), not eve
        assert db.session.get(Campaign, settled["campaign"]).state == CampaignState.IN_PRODUCTION
        # 6 paid units x €3.00 of royalty each.
        assert ledger.balances(settled["designer"]) == {"EUR": 1800}
        entry = db.session.scalar(sa.select(LedgerEntry))
        assert (entry.kind, entry.run_id) == (LedgerKind.ROYALTY, run_id)
        kinds = db.session.scalars(
            sa.select(OutboxMail.kind).where(OutboxMail.kind == "run_update")
        )
        assert len(kinds.all()) == 3  # one per backer in the run


def test_a_run_needs_a_settled_campaign_and_only_one(ctx, settled, make_campaign):
    launch(ctx, settled)
    with pytest.raises(production.ProductionError, match="already has"):
        launch(ctx, settled)
    live = make_campaign()
    with ctx(), pytest.raises(production.ProductionError, match="settled campaign"):
        production.launch_run(
            live,
            db.session.get(User, settled["operator"]),
            manufacturer="Atelier",
            reference="X",
            expected_ship_date=SHIP_DATE,
        )


def answer(client, auth, email, pledge_id, **overrides):
    login_as(client, auth, email)
    data = {
        "full_name": "Ada Lovelace",
        "address_line1": "12 rue de la Paix",
        "address_line2": "",
        "postal_code": "69001",
        "city": "Lyon",
        "country": "fr",
        "phone": "",
        "variant_confirmed": "y",
        **overrides,
    }
    data["csrf_token"] = csrf_token(client, f"/pledges/{pledge_id}/survey")
    return client.post(f"/pledges/{pledge_id}/survey", data=data)


def test_the_address_must_be_in_the_zone_whose_shipping_was_paid(client, auth, ctx, settled):
    """Ada's pledge paid shipping within France (the campaign ships from FR): a German
    address is refused, saying why; once her pledge covers the EU, it is accepted, and a
    US address still is not."""
    ada = settled["pledges"]["ada"]
    resp = answer(client, auth, "ada@example.com", ada, country="DE")
    assert resp.status_code == 422
    assert (
        "Your pledge paid shipping to France, and Germany is in the “European Union” zone: give an "
        "address in France, or write to us to pay the difference."
    ) in html.unescape(resp.get_data(as_text=True))
    with ctx():
        db.session.get(Pledge, ada).shipping_zone = "eu"
        db.session.commit()
    assert answer(client, auth, "ada@example.com", ada, country="DE").status_code == 302
    assert answer(client, auth, "ada@example.com", ada, country="US").status_code == 422
    assert answer(client, auth, "ada@example.com", ada, country="FR").status_code == 302


def test_the_kept_banner_follows_the_survey_asked_and_answered(
    app, client, auth, ctx, settled, monkeypatch
):
    """Every page of a member shows the banner: it is kept (no query on most pages), and
    asking for an address or answering it shows on the very next page."""
    monkeypatch.setitem(app.config, "PAGE_CACHE_TAGGED_SECONDS", 300)
    monkeypatch.setattr("marketplace.kernel.pagecache.CLOCK_SKEW_SECONDS", 0.0)
    ada = settled["pledges"]["ada"]
    with ctx():
        db.session.execute(sa.delete(Survey).where(Survey.pledge_id == ada))
        db.session.commit()
    login_as(client, auth, "ada@example.com")
    for _ in range(2):
        assert "Give your shipping address" not in client.get("/").get_data(as_text=True)
    with count_queries(app) as queries:
        client.get("/")
    assert not [q for q in queries if "surveys" in q]  # read back from Redis

    with ctx():
        production.request_survey(db.session.get(Pledge, ada))
        db.session.commit()
    assert "Give your shipping address" in client.get("/").get_data(as_text=True)
    assert "Give your shipping address" in client.get("/").get_data(as_text=True)
    assert answer(client, auth, "ada@example.com", ada).status_code == 302
    assert "Give your shipping address" not in client.get("/").get_data(as_text=True)


def test_the_survey_is_asked_answered_and_reminded(
    app, client, auth, ctx, settled, run_jobs, mailbox
):
    ada = settled["pledges"]["ada"]
    run_jobs(("mail",))
    receipt = mailbox.wait_for("ada@example.com", "Paid")
    assert f"/pledges/{ada}/survey" in mailbox.body(receipt)

    login_as(client, auth, "ada@example.com")
    home = client.get("/").get_data(as_text=True)
    assert "Give your shipping address" in home  # the banner
    assert answer(client, auth, "ada@example.com", ada, country="France").status_code == 422
    assert answer(client, auth, "ada@example.com", ada, variant_confirmed="").status_code == 422
    assert answer(client, auth, "ben@example.com", ada).status_code == 404  # not his pledge
    resp = answer(client, auth, "ada@example.com", ada)
    assert resp.status_code == 302
    with ctx():
        survey = db.session.scalar(sa.select(Survey).where(Survey.pledge_id == ada))
        assert (survey.city, survey.country, survey.answered_at is not None) == ("Lyon", "FR", True)
    assert "Give your shipping address" not in client.get("/").get_data(as_text=True)

    # The others are reminded every 48 h (the sweep), ada no more.
    with ctx():
        assert production.remind_surveys(now=utcnow() + dt.timedelta(hours=47)) == 0
        assert production.remind_surveys(now=utcnow() + dt.timedelta(hours=49)) == 2
        db.session.commit()
    with ctx():
        reminded = db.session.scalars(
            sa.select(OutboxMail.to_address).where(OutboxMail.kind == "survey_reminder")
        ).all()
    assert sorted(reminded) == ["ben@example.com", "cy@example.com"]
    run_jobs(("mail",))
    mailbox.wait_for("ben@example.com", "Where should we send")


def test_the_csv_has_the_order_lines_and_opens_in_a_spreadsheet(
    client, auth, ctx, settled, make_user
):
    answer(client, auth, "ada@example.com", settled["pledges"]["ada"], full_name="=HYPERLINK(1)")
    run_id = launch(ctx, settled)
    login_as(client, auth, "ops@example.com")
    resp = client.get(f"/operator/production/runs/{run_id}/orders.csv")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    raw = resp.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: spreadsheets read the accents right
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0]) == production.CSV_COLUMNS
    by_backer = {r["email"]: r for r in rows}
    assert set(by_backer) == {"ada@example.com", "ben@example.com", "cy@example.com"}
    ada = by_backer["ada@example.com"]
    assert (ada["variant"], ada["quantity"], ada["city"], ada["country"]) == (
        "S",
        "2",
        "Lyon",
        "FR",
    )
    assert ada["ship_to_name"] == "'=HYPERLINK(1)"  # never run as a formula
    assert by_backer["ben@example.com"]["address_confirmed"] == "NO ADDRESS YET"
    # Members never get it.
    login_as(client, auth, "ben@example.com")
    assert client.get(f"/operator/production/runs/{run_id}/orders.csv").status_code == 403


def step(client, run_id, event):
    token = csrf_token(client, f"/operator/production/runs/{run_id}")
    return client.post(
        f"/operator/production/runs/{run_id}/move", data={"csrf_token": token, "event": event}
    )


def test_the_run_moves_step_by_step_and_backers_follow(
    client, auth, ctx, settled, run_jobs, mailbox
):
    run_id = launch(ctx, settled)
    login_as(client, auth, "ops@example.com")
    assert step(client, run_id, "ship").status_code == 409  # planned: not yet
    assert step(client, run_id, "order").status_code == 302
    assert step(client, run_id, "start").status_code == 302
    assert step(client, run_id, "ship").status_code == 409  # orders have no tracking yet
    with ctx():
        orders = db.session.scalars(
            sa.select(Order).where(Order.run_id == run_id).order_by(Order.id)
        ).all()
    token = csrf_token(client, f"/operator/production/runs/{run_id}")
    bad = client.post(
        f"/operator/production/runs/{run_id}/ship-orders",
        data={"csrf_token": token, "lines": f"{orders[0].id}, TRK1\n999999, TRK9"},
    )
    assert bad.status_code == 422  # all or none
    with ctx():
        assert db.session.get(Order, orders[0].id).state == OrderState.PENDING
    bulk = "\n".join(f"{o.id}, TRK{o.id}" for o in orders[:2])
    resp = client.post(
        f"/operator/production/runs/{run_id}/ship-orders", data={"csrf_token": token, "lines": bulk}
    )
    assert resp.status_code == 302
    one = client.post(
        f"/operator/production/runs/{run_id}/orders/{orders[2].id}/ship",
        data={"csrf_token": token, "tracking": "COLIS-42"},
    )
    assert one.status_code == 302
    assert step(client, run_id, "ship").status_code == 302
    assert step(client, run_id, "deliver").status_code == 302
    with ctx():
        run = db.session.get(ProductionRun, run_id)
        assert run.state == RunState.DELIVERED
        # The campaign follows its run to the end: its badge says delivered, not shipped.
        assert db.session.get(Campaign, settled["campaign"]).state == CampaignState.DELIVERED
        assert {o.state for o in db.session.scalars(sa.select(Order))} == {OrderState.DELIVERED}
        moves = db.session.scalars(
            sa.select(OutboxMail.subject).where(OutboxMail.to_address == "cy@example.com")
        ).all()
    assert any("on its way" in s for s in moves)
    assert any("delivered" in s for s in moves)
    login_as(client, auth, "cy@example.com")
    page = client.get("/pledges/").get_data(as_text=True)
    assert "Tracking COLIS-42" in page
    assert "Paid and delivered." in page and "Delivered on " in page
    assert "goes into production" not in page
    # Shipped: the address can no longer change.
    assert answer(client, auth, "cy@example.com", settled["pledges"]["cy"]).status_code == 409


def test_a_malformed_shipping_line_gives_the_run_page_again_with_what_was_typed(
    client, auth, ctx, settled
):
    run_id = launch(ctx, settled)
    login_as(client, auth, "ops@example.com")
    step(client, run_id, "order")
    step(client, run_id, "start")
    with ctx():
        orders = db.session.scalars(
            sa.select(Order).where(Order.run_id == run_id).order_by(Order.id)
        ).all()
    token = csrf_token(client, f"/operator/production/runs/{run_id}")
    typed = f"{orders[0].id}, TRK-FIRST\nnot a line"
    resp = client.post(
        f"/operator/production/runs/{run_id}/ship-orders",
        data={"csrf_token": token, "lines": typed},
    )
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert f"Production run #{run_id}" in page  # the run page, not an error page
    assert "Line 2: write the order number, a comma, then the tracking reference." in page
    assert f"{orders[0].id}, TRK-FIRST\nnot a line</textarea>" in page
    assert '<details class="card" open>' in page
    # An unknown order: all or none, said on the same form.
    resp = client.post(
        f"/operator/production/runs/{run_id}/ship-orders",
        data={"csrf_token": token, "lines": f"{orders[0].id}, TRK1\n999999, TRK9"},
    )
    assert resp.status_code == 422 and "Not orders of this run: 999999." in resp.text
    with ctx():
        assert db.session.get(Order, orders[0].id).state == OrderState.PENDING
    # A single order's tracking left empty: that row says so, the others stay blank.
    resp = client.post(
        f"/operator/production/runs/{run_id}/orders/{orders[1].id}/ship",
        data={"csrf_token": token, "tracking": " "},
    )
    assert resp.status_code == 422
    assert f'id="tracking-{orders[1].id}-error">Give the tracking reference' in resp.text
    # A cancel reason too short keeps the words typed.
    resp = client.post(
        f"/operator/production/runs/{run_id}/cancel",
        data={"csrf_token": token, "reason": "Too short"},
    )
    assert resp.status_code == 422
    assert "Give backers a public reason of at least 10 characters." in resp.text
    assert "Too short</textarea>" in resp.text
    with ctx():
        assert db.session.get(ProductionRun, run_id).state == RunState.IN_PRODUCTION


def test_cancelling_a_run_refunds_everyone_and_reverses_the_royalty(
    client, auth, ctx, settled, run_jobs
):
    run_id = launch(ctx, settled)
    login_as(client, auth, "ops@example.com")
    resp = post(
        client,
        f"/operator/production/runs/{run_id}/cancel",
        f"/operator/production/runs/{run_id}",
        reason="The factory burned down",
    )
    assert resp.status_code == 302
    run_jobs(("settlement",))
    run_jobs(("settlement",))
    with ctx():
        assert db.session.get(ProductionRun, run_id).state == RunState.CANCELLED
        assert db.session.get(Campaign, settled["campaign"]).state == CampaignState.CANCELLED
        paid = [settled["pledges"][n] for n in ("ada", "ben", "cy")]
        assert {db.session.get(Pledge, p).state for p in paid} == {PledgeState.REFUNDED}
        # Reversed once for the run; the refunds that follow find nothing left to reverse.
        assert ledger.balances(settled["designer"]) == {"EUR": 0}
        kinds = db.session.scalars(sa.select(LedgerEntry.kind).order_by(LedgerEntry.id)).all()
        assert kinds == [LedgerKind.ROYALTY, LedgerKind.REVERSAL]


def test_a_pledge_refunded_after_the_launch_takes_its_royalty_share_back(ctx, settled, run_jobs):
    run_id = launch(ctx, settled)
    with ctx():
        operator = db.session.get(User, settled["operator"])
        refunds.request_refund(settled["pledges"]["cy"], operator, "Damaged on arrival")
        db.session.commit()
    run_jobs(("settlement",))
    with ctx():
        assert ledger.balances(settled["designer"]) == {"EUR": 1800 - 3 * 300}
        order = db.session.scalar(
            sa.select(Order).where(Order.pledge_id == settled["pledges"]["cy"])
        )
        assert (order.run_id, order.state) == (run_id, OrderState.CANCELLED)


def test_payouts_never_exceed_the_balance_and_entries_never_change(client, auth, ctx, settled):
    launch(ctx, settled)
    login_as(client, auth, "ops@example.com")
    token = csrf_token(client, "/operator/royalties/")
    url = f"/operator/royalties/{settled['designer']}/payout"
    too_much = client.post(
        url, data={"csrf_token": token, "amount": "18.01", "currency": "EUR", "reference": "VIR-1"}
    )
    assert too_much.status_code == 409
    # The royalties page again, what was typed kept on the designer's row, the reason beside.
    assert 'value="18.01"' in too_much.text and 'value="VIR-1"' in too_much.text
    assert 'class="field-error" role="alert"' in too_much.text
    ok = client.post(
        url, data={"csrf_token": token, "amount": "10.00", "currency": "EUR", "reference": "VIR-1"}
    )
    assert ok.status_code == 302
    with ctx():
        assert ledger.balances(settled["designer"]) == {"EUR": 800}
        entry = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.kind == "payout"))
        entry.amount_cents = -1
        with pytest.raises(ValueError, match="never changed"):
            db.session.flush()
        db.session.rollback()
    login_as(client, auth, "designer@example.com")
    page = client.get("/account/earnings").get_data(as_text=True)
    assert "€8.00" in page and "VIR-1" in page and "Royalty on production run" in page


def test_the_console_lists_work_with_its_age_and_the_audit_log_filters(
    client, auth, ctx, settled, make_design
):
    from designs.models import DesignState

    make_design(state=DesignState.SUBMITTED, title="Waiting for a check")
    login_as(client, auth, "ops@example.com")
    console = client.get("/operator/").get_data(as_text=True)
    assert "Quality check" in console and "Waiting for a check" in console
    assert "Production runs to launch" in console and "Test tee" in console
    assert "Surveys outstanding" in console and "3 backers without an address" in console
    assert "waiting " in console

    run_id = launch(ctx, settled)
    page = client.get("/operator/audit?subject_type=production_run").get_data(as_text=True)
    assert "<code>production_run.launched</code>" in page and "<code>campaign." not in page
    by_ops = client.get("/operator/audit?who=ops@example&operators_only=1").get_data(as_text=True)
    assert "<code>production_run.launched</code>" in by_ops
    assert "<code>pledge.succeed</code>" not in by_ops
    system = client.get("/operator/audit?who=system&action=pledge.").get_data(as_text=True)
    assert "<code>pledge.succeed</code>" in system
    assert "<code>production_run." not in system
    assert client.get("/operator/audit?since=yesterday").status_code == 400
    login_as(client, auth, "ada@example.com")
    assert client.get("/operator/audit").status_code == 403

    # The public timeline of the campaign shows the run and the decisions with reasons.
    public = client.get(f"/campaigns/{settled['campaign']}").get_data(as_text=True)
    for text in ("Funded: goal reached", "Payments settled", "Production planned"):
        assert text in public
    assert run_id
