"""The demo data of `make run`: every stage of the pipeline, loaded twice without doubling."""

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.kernel.extensions import db


def test_seed_demo_covers_every_stage_and_is_idempotent(app, ctx, stripe_server):
    from designs.models import Design
    from dev.demo import seed_demo_command
    from marketplace.campaigns.models import Campaign
    from marketplace.production.models import ProductionRun

    runner = app.test_cli_runner()
    first = runner.invoke(seed_demo_command)
    assert first.exit_code == 0, first.output
    assert "operator@example.com" in first.output
    second = runner.invoke(seed_demo_command)
    assert "designs: already there" in second.output and "campaigns: already there" in second.output
    assert "production runs: 2 created" in first.output
    assert "production runs: already there" in second.output
    assert "designer profiles: 2 created" in first.output
    assert "designer profiles: already there" in second.output
    assert "ratings: 11 created" in first.output and "ratings: already there" in second.output
    with ctx():
        design_states = set(db.session.scalars(sa.select(Design.state)))
        campaign_states = set(db.session.scalars(sa.select(Campaign.state)))
        assert {s.value for s in design_states} >= {
            "draft",
            "submitted",
            "declined",
            "voting",
            "shortlisted",
            "not_selected",
            "selected",
            "campaign",
        }
        # The funded one is settling: a worker charges its pledges (against localstripe).
        # Two more were charged at seeding and are made: one in production, one delivered.
        assert {s.value for s in campaign_states} == {
            "live",
            "settling",
            "failed",
            "in_production",
            "delivered",
        }
        # Every campaign page has what a backer decides on, the mockup first among the pictures.
        for campaign in db.session.scalars(sa.select(Campaign)):
            assert campaign.story and campaign.risks and campaign.faqs and campaign.delivery_month
            assert [i.is_mockup for i in campaign.images] == [True]
            assert campaign.shipping_world_cents > campaign.shipping_domestic_cents > 0
        run_states = {r.state.value for r in db.session.scalars(sa.select(ProductionRun))}
        assert run_states == {"in_production", "delivered"}
        # The delivered tee is rated badly enough, by enough backers, for the console to
        # suggest a redesign; Ben's own order is left for a newcomer to rate.
        from marketplace.reviews import queries as reviews
        from marketplace.reviews.models import Rating

        rated = db.session.scalar(sa.select(Rating.design_id).limit(1))
        summary = reviews.summaries([rated])[rated]
        assert summary.count >= 10 and summary.average < app.config.get("REDESIGN_BELOW", 3.0)
        # Most raters answered "would you recommend Cocréa", in every band of the net
        # promoter score, so the operators' KPI has something to show: (4 - 3) / 9 = +11.
        answers = db.session.scalars(sa.select(Rating.recommend)).all()
        bands = {
            "promoters": sum(1 for a in answers if a is not None and a >= 9),
            "passives": sum(1 for a in answers if a in (7, 8)),
            "detractors": sum(1 for a in answers if a is not None and a <= 6),
            "skipped": answers.count(None),
        }
        assert bands == {"promoters": 4, "passives": 2, "detractors": 3, "skipped": 2}
        ben = db.session.scalar(sa.select(User.id).where(User.email == "ben@example.com"))
        assert not db.session.scalar(sa.select(sa.func.count()).where(Rating.user_id == ben))
        # Logging in as a demo backer shows pledges: on the live campaign and on a made one.
        from marketplace.campaigns.models import Pledge

        ben_pledges = db.session.execute(
            sa.select(Campaign.state)
            .join(Pledge, Pledge.campaign_id == Campaign.id)
            .join(User, User.id == Pledge.backer_id)
            .where(User.email == "ben@example.com")
        ).scalars()
        assert {"live", "in_production"} <= {s.value for s in ben_pledges}
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(User).where(User.email == "ada@example.com")
            )
            == 1
        )
        # The KPI dashboard has figures from the start, and a target the ratings miss.
        from marketplace.kpis import indicators
        from marketplace.kpis.models import KpiTarget

        assert "KPI rollups:" in first.output
        impact = indicators.impact()
        assert impact.participants > 0 and impact.ratings == 11
        assert db.session.get(KpiTarget, "satisfaction").value == 400


def test_the_demo_designers_have_a_profile_with_a_picture(app, ctx, client, upload_dir):
    from dev.demo.accounts import seed_accounts
    from dev.demo.profiles import seed_designer_profiles
    from marketplace.accounts.services import get_user_by_email

    with ctx():
        seed_accounts()
        assert seed_designer_profiles() == 2
        db.session.commit()
        assert seed_designer_profiles() == 0
        ada = get_user_by_email("ada@example.com")
        ada_id, key, links = ada.id, ada.avatar_key, list(ada.links)
        assert ada.bio.startswith("Illustrator in Lyon.")
    assert links == ["https://ada.example.com/portfolio", "https://shop.example.com/ada"]
    page = client.get(f"/designs/by/{ada_id}").get_data(as_text=True)
    assert "Illustrator in Lyon." in page and 'href="https://shop.example.com/ada"' in page
    with client.get(f"/designs/by/{ada_id}/avatar/{key}/large") as resp:
        assert (resp.status_code, resp.mimetype) == (200, "image/webp")
