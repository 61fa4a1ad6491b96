"""Redesigns themselves: submitted linked to the original with what changed, judged like any
design, the original's backers and raters invited once each to score them, and a selected
redesign's campaign linking the original."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from designs import services as designs
from designs.models import Design, DesignState
from marketplace.accounts.models import User
from marketplace.campaigns import services as campaigns
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxMail
from marketplace.redesigns import services
from marketplace.redesigns.models import RedesignInvitation
from tests.helpers import csrf_token, files_under, login_as, multipart, png_bytes

WHAT_CHANGED = "Screen printed instead of transfer, so the colours last; two colours fewer."


def email_of(ctx, user_id: int) -> str:
    with ctx():
        return db.session.get(User, user_id).email


def post_redesign(client, original_id: int, product_id: int, **fields):
    data = {
        "csrf_token": csrf_token(client, f"/designs/new?redesign_of={original_id}"),
        "title": "Lasting sunset",
        "description": "The same sunset, printed to last.",
        "product_id": product_id,
        "variants": "S, M",
        "tags": "",
        "redesign_of": original_id,
        "what_changed": WHAT_CHANGED,
        **fields,
    }
    body, content_type = multipart(data, (png_bytes(), "art.png"))
    return client.post("/designs/new", data=body, content_type=content_type)


def redesigns_of(ctx, original_id: int) -> list[Design]:
    with ctx():
        return db.session.scalars(
            sa.select(Design).where(Design.redesign_of_id == original_id)
        ).all()


def test_a_designer_submits_a_redesign_linked_to_the_original(
    client, auth, ctx, make_produced, product_id, upload_dir
):
    produced = make_produced()
    login_as(client, auth, email_of(ctx, produced.designer_id))
    form = client.get(f"/designs/new?redesign_of={produced.design_id}").get_data(as_text=True)
    assert "A redesign of" in form and 'name="what_changed"' in form
    resp = post_redesign(client, produced.design_id, product_id)
    assert resp.status_code == 302
    [redesign] = redesigns_of(ctx, produced.design_id)
    assert redesign.what_changed == WHAT_CHANGED and redesign.state == DesignState.DRAFT

    # The same quality check as any design: submitted, then approved.
    with ctx():
        designs.submit(
            db.session.get(Design, redesign.id), db.session.get(User, redesign.designer_id)
        )
        designs.approve(redesign.id, db.session.get(User, produced.operator_id))
        db.session.commit()
    auth.logout()
    page = client.get(f"/designs/{redesign.id}").get_data(as_text=True)
    assert f'href="/designs/{produced.design_id}"' in page and WHAT_CHANGED in page
    original = client.get(f"/designs/{produced.design_id}").get_data(as_text=True)
    assert f'href="/designs/{redesign.id}"' in original and "Redesigns" in original


def test_a_redesign_without_what_changed_is_refused_and_nothing_is_stored(
    client, auth, ctx, make_produced, product_id, upload_dir
):
    produced = make_produced()
    login_as(client, auth, email_of(ctx, produced.designer_id))
    before = files_under(upload_dir)
    resp = post_redesign(client, produced.design_id, product_id, what_changed="   ")
    assert resp.status_code == 422
    assert "Say what your redesign changes" in resp.get_data(as_text=True)
    assert redesigns_of(ctx, produced.design_id) == []
    assert files_under(upload_dir) == before


def test_only_a_design_that_reached_its_campaign_can_be_redesigned(
    client, auth, ctx, make_user, make_design, product_id
):
    make_user("artist@example.com", designer=True)
    login_as(client, auth, "artist@example.com")
    scored = make_design(state=DesignState.SCORED)
    assert client.get(f"/designs/new?redesign_of={scored}").status_code == 409
    draft = make_design(state=DesignState.DRAFT)
    assert client.get(f"/designs/new?redesign_of={draft}").status_code == 404
    assert client.get("/designs/new?redesign_of=999999").status_code == 404
    assert post_redesign(client, scored, product_id).status_code == 409


def test_the_original_backers_and_raters_are_invited_once_each(
    ctx, make_user, make_produced, product_id
):
    # Ten backers, the first six rated; a backer of another campaign is not invited.
    produced = make_produced(scores=(1, 2, 2, 1, 2, 3), backers=10)
    make_produced(scores=(1,))
    redesigner = make_user("redesigner@example.com", designer=True)
    with ctx():
        operator = db.session.get(User, produced.operator_id)
        artwork = designs.Artwork("k" * 32, 64, 64, "PNG")
        redesign = designs.create_draft(
            db.session.get(User, redesigner),
            artwork,
            redesign_of_id=produced.design_id,
            title="Lasting sunset",
            description="",
            tags="",
            product_id=product_id,
            variants="S",
            what_changed=WHAT_CHANGED,
        )
        designs.submit(redesign, db.session.get(User, redesigner))
        designs.approve(redesign.id, operator)
        db.session.commit()
        # A second look (the signal sent again) invites nobody twice.
        assert services.invite_to_score(db.session.get(Design, redesign.id)) == 0
        db.session.commit()
        invited = set(
            db.session.scalars(
                sa.select(RedesignInvitation.user_id).where(
                    RedesignInvitation.design_id == redesign.id
                )
            )
        )
        assert invited == set(produced.backer_ids)
        mails = db.session.scalars(
            sa.select(OutboxMail).where(OutboxMail.kind == "redesign_invitation")
        ).all()
        assert sorted(m.user_id for m in mails) == sorted(produced.backer_ids)
        assert all(f"/designs/{redesign.id}" in m.body_text for m in mails)
        assert all(WHAT_CHANGED in m.body_text for m in mails)


def test_the_redesigner_and_operators_are_not_invited(ctx, make_user, make_produced, product_id):
    produced = make_produced(scores=(1, 2), backers=2)
    with ctx():
        # A backer of the original redesigns it: whoever redesigns is not invited to score
        # their own redesign; nor is an operator (operators do not score).
        redesigner_id = produced.backer_ids[0]
        person = db.session.get(User, redesigner_id)
        person.designer_terms_version = db.session.get(
            User, produced.designer_id
        ).designer_terms_version
        db.session.get(User, produced.backer_ids[1]).is_operator = True
        db.session.commit()
        redesign = designs.create_draft(
            person,
            designs.Artwork("k" * 32, 64, 64, "PNG"),
            redesign_of_id=produced.design_id,
            title="Lasting sunset",
            description="",
            tags="",
            product_id=product_id,
            variants="S",
            what_changed=WHAT_CHANGED,
        )
        designs.submit(redesign, person)
        designs.approve(redesign.id, db.session.get(User, produced.operator_id))
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RedesignInvitation)) == 0


def test_a_plain_design_approved_invites_nobody(ctx, make_design, make_user):
    design_id = make_design(state=DesignState.SUBMITTED)
    with ctx():
        designs.approve(design_id, db.session.get(User, make_user(operator=True)))
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RedesignInvitation)) == 0


def test_a_selected_redesigns_campaign_links_the_original_and_says_what_changed(
    client, ctx, make_produced, product_id
):
    produced = make_produced()
    with ctx():
        original = db.session.get(Design, produced.design_id)
        redesign = Design(
            designer_id=produced.designer_id,
            product_id=product_id,
            title="Lasting sunset",
            description="",
            state=DesignState.SELECTED,
            artwork_key=original.artwork_key,
            artwork_width=64,
            artwork_height=64,
            artwork_format="PNG",
            redesign_of_id=original.id,
            what_changed=WHAT_CHANGED,
        )
        db.session.add(redesign)
        db.session.flush()
        now = utcnow()
        # Opened the usual way.
        campaign = campaigns.open_campaign(
            redesign.id,
            db.session.get(User, produced.operator_id),
            campaigns.CampaignTerms(
                product_name="Lasting tee",
                unit_price_cents=2500,
                currency="EUR",
                goal_units=10,
                variants=[("S", None)],
                starts_at=now,
                deadline=now + dt.timedelta(days=20),
                production_cost_cents=1500,
                royalty_cents=500,
                platform_cents=500,
                story="A tee printed to last.",
                risks="Screen printing takes a week longer.",
                faqs=[],
                delivery_month=(now + dt.timedelta(days=60)).date().replace(day=1),
                ships_from="FR",
                shipping_cents={"domestic": 0, "eu": 0, "world": 0},
            ),
        )
        db.session.commit()
        campaign_id = campaign.id
    page = client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert "A redesign of" in page
    assert f'href="/designs/{produced.design_id}"' in page and WHAT_CHANGED in page
    plain = client.get(f"/campaigns/{produced.campaign_id}").get_data(as_text=True)
    assert "A redesign of" not in plain
