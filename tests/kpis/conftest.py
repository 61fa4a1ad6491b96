"""A hand-built history for the KPI tests: who did what on which day of 2026, written straight
to the database with its dates, so that every expected figure can be worked out by hand.

The cast (UTC days):

- Ada designs: d0 on 01-10 (its campaign X delivered), d1 on 05-10 (campaign Y, live),
  d2 on 06-05 (a redesign of d0, open for scoring), d3 on 06-20 (shortlisted, then not
  selected), d4 on 06-21 (declined).
- Campaign X: Fay (01-20, 2 units), Gus (01-20), Cy (01-21) and Hal (01-22) pledged with
  saved cards; their orders shipped 05-20; Cy's delivered 05-25, Fay's 06-20, Gus's 06-22,
  Hal's 06-23. Hal's pledge was refunded 06-28.
- Ratings: Cy 4 stars, would recommend 3, on 05-28; Fay 5 stars / 10 on 06-25; Gus 3 / 6
  on 06-26. Hal never rated.
- Campaign Y: Hal pledged 03-01, Gus 04-10 (charged 06-29), Cy 06-10, Dee 06-15; Eve stopped
  at the card step on 06-16 (no card saved: not a backer).
- Bo scored d1 on 05-12, and scored and commented d2 on 06-06.
- Ada's royalty of €7.00 booked 06-12, €1.00 of it reversed 06-28, €4.00 paid out 06-30.
"""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
import sqlalchemy as sa

from designs.models import Comment, Design, DesignState, Vote
from marketplace.campaigns.models import Campaign, CampaignState, CampaignVariant, PledgeState
from marketplace.kernel.audit import record_about
from marketplace.kernel.extensions import db
from marketplace.production.models import Order, OrderState, ProductionRun, RunState
from marketplace.reviews.models import Rating
from payments.models import (
    AttemptStatus,
    ChargeAttempt,
    LedgerEntry,
    LedgerKind,
    Refund,
    RefundStatus,
)
from tests.helpers import campaign_terms, pledge_row

TODAY = dt.date(2026, 6, 30)


def at(month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


@pytest.fixture
def story(app, ctx, make_user, make_design):
    people = {
        name: make_user(f"{name}@example.com", name=name.title(), designer=name == "ada")
        for name in ("ada", "bo", "cy", "dee", "eve", "fay", "gus", "hal", "ops")
    }
    states = {
        "d0": DesignState.CAMPAIGN,
        "d1": DesignState.CAMPAIGN,
        "d2": DesignState.VOTING,
        "d3": DesignState.NOT_SELECTED,
        "d4": DesignState.DECLINED,
    }
    designs = {name: make_design(people["ada"], state=state) for name, state in states.items()}
    with ctx():
        submitted = {
            "d0": at(1, 10),
            "d1": at(5, 10),
            "d2": at(6, 5),
            "d3": at(6, 20),
            "d4": at(6, 21),
        }
        for name, when in submitted.items():
            design = db.session.get(Design, designs[name])
            design.submitted_at = design.created_at = when
        db.session.get(Design, designs["d2"]).redesign_of_id = designs["d0"]
        record_about("design.shortlist", ("design", designs["d3"]), actor=None)
        record_about("design.reject", ("design", designs["d3"]), actor=None)

        def campaign(design: str, state: CampaignState) -> Campaign:
            c = Campaign(
                design_id=designs[design],
                product_name="Tee",
                state=state,
                goal_units=2,
                **campaign_terms(1000),
                starts_at=at(1, 15),
                deadline=at(1, 30),
                created_by_id=people["ops"],
                variants=[CampaignVariant(label="M", position=0)],
            )
            db.session.add(c)
            db.session.flush()
            return c

        x = campaign("d0", CampaignState.DELIVERED)
        y = campaign("d1", CampaignState.LIVE)

        def pledge(c: Campaign, who: str, when: dt.datetime, quantity: int = 1, card: bool = True):
            p = pledge_row(
                c,
                c.variants[0],
                people[who],
                quantity,
                state=PledgeState.COLLECTED if card else PledgeState.PENDING_CARD,
                idempotency_key=secrets.token_urlsafe(24),
                payment_method_id="pm_card_visa" if card else None,
            )
            p.created_at = when
            db.session.add(p)
            db.session.flush()
            return p

        x_pledges = {
            "fay": pledge(x, "fay", at(1, 20), quantity=2),
            "gus": pledge(x, "gus", at(1, 20)),
            "cy": pledge(x, "cy", at(1, 21)),
            "hal": pledge(x, "hal", at(1, 22)),
        }
        pledge(y, "hal", at(3, 1))
        y_gus = pledge(y, "gus", at(4, 10))
        pledge(y, "cy", at(6, 10))
        pledge(y, "dee", at(6, 15))
        pledge(y, "eve", at(6, 16), card=False)

        run = ProductionRun(
            campaign_id=x.id,
            state=RunState.DELIVERED,
            manufacturer="Atelier",
            reference="R-1",
            expected_ship_date=dt.date(2026, 5, 15),
            created_by_id=people["ops"],
        )
        db.session.add(run)
        db.session.flush()
        delivered = {"cy": at(5, 25), "fay": at(6, 20), "gus": at(6, 22), "hal": at(6, 23)}
        orders = {}
        for who, p in x_pledges.items():
            orders[who] = Order(
                run_id=run.id,
                pledge_id=p.id,
                state=OrderState.DELIVERED,
                shipped_at=at(5, 20),
                delivered_at=delivered[who],
            )
            db.session.add(orders[who])
        db.session.flush()
        for who, score, recommend, when in (
            ("cy", 4, 3, at(5, 28)),
            ("fay", 5, 10, at(6, 25)),
            ("gus", 3, 6, at(6, 26)),
        ):
            db.session.add(
                Rating(
                    order_id=orders[who].id,
                    user_id=people[who],
                    campaign_id=x.id,
                    design_id=designs["d0"],
                    score=score,
                    recommend=recommend,
                    created_at=when,
                    updated_at=when,
                )
            )

        def attempt(p, when, status=AttemptStatus.SUCCEEDED):
            a = ChargeAttempt(
                pledge_id=p.id,
                number=1,
                trigger="settlement",
                idempotency_key=secrets.token_urlsafe(24),
                amount_cents=p.amount_cents,
                currency=p.currency,
                payment_method_id="pm_card_visa",
                status=status,
                finished_at=when,
            )
            db.session.add(a)
            db.session.flush()
            return a

        for p in x_pledges.values():
            attempt(p, at(1, 31))
        attempt(y_gus, at(6, 29))
        hal = x_pledges["hal"]
        db.session.add(
            Refund(
                pledge_id=hal.id,
                attempt_id=db.session.scalar(
                    sa.select(ChargeAttempt.id).where(ChargeAttempt.pledge_id == hal.id)
                ),
                amount_cents=hal.amount_cents,
                currency="EUR",
                reason="Arrived damaged",
                requested_by_id=people["ops"],
                idempotency_key=secrets.token_urlsafe(24),
                status=RefundStatus.SUCCEEDED,
                finished_at=at(6, 28),
            )
        )
        royalty = LedgerEntry(
            designer_id=people["ada"],
            kind=LedgerKind.ROYALTY,
            amount_cents=700,
            currency="EUR",
            campaign_id=x.id,
            run_id=run.id,
            note="Run R-1",
            created_at=at(6, 12),
        )
        db.session.add(royalty)
        db.session.flush()
        db.session.add_all(
            [
                LedgerEntry(
                    designer_id=people["ada"],
                    kind=LedgerKind.REVERSAL,
                    amount_cents=-100,
                    currency="EUR",
                    reverses_id=royalty.id,
                    note="Hal's refund",
                    created_at=at(6, 28),
                ),
                LedgerEntry(
                    designer_id=people["ada"],
                    kind=LedgerKind.PAYOUT,
                    amount_cents=-400,
                    currency="EUR",
                    payout_reference="BANK-1",
                    note="Payout",
                    created_at=at(6, 30),
                ),
            ]
        )
        db.session.add_all(
            [
                Vote(design_id=designs["d1"], user_id=people["bo"], score=4, created_at=at(5, 12)),
                Vote(design_id=designs["d2"], user_id=people["bo"], score=5, created_at=at(6, 6)),
                Comment(
                    design_id=designs["d2"],
                    author_id=people["bo"],
                    body="Nice",
                    created_at=at(6, 6),
                ),
            ]
        )
        db.session.commit()
    return {"people": people, "designs": designs}
