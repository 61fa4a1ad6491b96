"""What a backer decides on: the story, pictures, delivery month, shipping per zone, risks,
FAQ and money raised; the operator's form that sets them, its validation, and shipping in
the amount a pledge will be charged."""

import html
import io
import os

import pytest
import sqlalchemy as sa

from designs.models import DesignState
from marketplace.campaigns.models import Campaign, CampaignImage, Pledge
from marketplace.kernel.extensions import db
from tests.campaigns.test_campaigns import campaign_form
from tests.helpers import csrf_token, files_under, png_bytes, post

HOSTILE_STORY = """## Our story

A **bold** lighthouse.

<script>alert("story")</script>
<img src="x" onerror="alert('img')">
<a href="javascript:alert('link')">click</a>
<a href="https://example.com/" onclick="alert('click')">our workshop</a>
<iframe src="https://evil.example/"></iframe>
<p style="background:url(javascript:alert(1))" onmouseover="alert('hover')">hover</p>
<svg onload="alert('svg')"></svg>
<form action="https://evil.example/"><input name="card"></form>
"""


@pytest.fixture
def operator(make_user, auth):
    user_id = make_user("staff@example.com", operator=True, name="Staff")
    auth.login("staff@example.com")
    return user_id


def open_with(client, design_id, files=(), **overrides):
    path = f"/operator/campaigns/new/{design_id}"
    data = {"csrf_token": csrf_token(client, path), **campaign_form(**overrides)}
    if files:
        data["images"] = list(files)
    return client.post(path, data=data, content_type="multipart/form-data")


def artwork_files(app) -> set[str]:
    return set(files_under(os.path.join(app.config["UPLOAD_DIR"], "artwork")))


def only_campaign(ctx) -> Campaign | None:
    with ctx():
        campaign = db.session.scalar(sa.select(Campaign))
        if campaign is not None:
            db.session.expunge(campaign)
        return campaign


def test_the_page_shows_what_backers_decide_on(app, client, ctx, operator, make_design):
    design_id = make_design(state=DesignState.SELECTED)
    resp = open_with(
        client,
        design_id,
        files=[(io.BytesIO(png_bytes(90, 60)), "workshop.png")],
        faq="When am I charged?\nOnly if the goal is reached.\n\nIs it organic?\nYes, *all* of it.",
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with ctx():
        campaign = db.session.scalar(sa.select(Campaign))
        assert (
            campaign.shipping_domestic_cents,
            campaign.shipping_eu_cents,
            campaign.shipping_world_cents,
        ) == (450, 900, 1500)
        assert [(f.question, f.answer) for f in campaign.faqs] == [
            ("When am I charged?", "Only if the goal is reached."),
            ("Is it organic?", "Yes, *all* of it."),
        ]
        pictures = [(i.is_mockup, i.width, i.height) for i in campaign.images]
        assert pictures == [(True, 1200, 1200), (False, 90, 60)]
        campaign_id, image_ids = campaign.id, [i.id for i in campaign.images]
        delivery = campaign.delivery_month

    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    page = client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert "A lighthouse, printed in two colours on organic cotton." in page
    assert "Blank stock may arrive two weeks late" in page
    assert "<summary>Is it organic?</summary>" in page and "<em>all</em>" in page
    assert delivery.strftime("%B %Y") in page
    for price in ("€4.50", "€9.00", "€15.00"):
        assert price in page
    assert "France" in page and "European Union" in page and "Rest of the world" in page
    # Money raised in currency, beside the units: nothing pledged yet of 100 × €25.00.
    assert "<strong>€0.00</strong> pledged of a €2,500.00 goal" in page
    for image_id in image_ids:
        assert f"/campaigns/{campaign_id}/images/{image_id}/detail" in page
        with client.get(f"/campaigns/{campaign_id}/images/{image_id}/detail") as picture:
            assert picture.status_code == 200 and picture.mimetype == "image/webp"
    assert client.get(f"/campaigns/{campaign_id}/images/{image_ids[0]}/huge").status_code == 404
    assert client.get(f"/campaigns/{campaign_id + 1}/images/{image_ids[0]}/detail").status_code == (
        404
    )


def test_a_hostile_story_keeps_its_formatting_and_loses_everything_that_runs(
    client, ctx, operator, make_design
):
    design_id = make_design(state=DesignState.SELECTED)
    resp = open_with(
        client,
        design_id,
        story=HOSTILE_STORY,
        risks=HOSTILE_STORY,
        # An answer is one block: no blank line in it.
        faq="Safe?\n" + HOSTILE_STORY.replace("\n\n", "\n"),
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    campaign = only_campaign(ctx)
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    body = page[page.index('id="story"') : page.index('id="updates"')]
    assert "<h3>Our story</h3>" in body and "<strong>bold</strong>" in body
    assert 'href="https://example.com/" rel="nofollow noopener noreferrer"' in body
    lowered = body.lower()
    for forbidden in (
        "<script",
        "onerror",
        "onclick",
        "onmouseover",
        "onload",
        "javascript:",
        "<iframe",
        "<img",
        "<svg",
        "<form",
        "<input",
        "style=",
    ):
        assert forbidden not in lowered, forbidden


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"story": ""}, "Tell backers the product's story."),
        ({"story": "Too short."}, "Tell the product's story in 20 to 20,000 characters."),
        ({"risks": ""}, "Say what could delay or change the product."),
        ({"ships_from": "ZZ"}, "Give the country parcels leave from as its two-letter code."),
        ({"shipping_eu": "-1"}, "“-1” is not an amount: write it like 25.00."),
        ({"shipping_world": "lots"}, "“lots” is not an amount: write it like 25.00."),
        ({"shipping_domestic": "1500.00"}, "Shipping costs from 0 to €1,000.00 per parcel."),
        ({"delivery_month": "2020-01"}, "The estimated delivery is from the deadline"),
        ({"delivery_month": "soon"}, "Not a valid date value."),
        ({"faq": "A question without an answer?"}, "has no answer"),
    ],
)
def test_a_refused_page_keeps_the_input_and_saves_nothing(
    app, client, ctx, operator, make_design, overrides, message
):
    design_id = make_design(state=DesignState.SELECTED)
    before = artwork_files(app)
    resp = open_with(client, design_id, product_name="Kept lighthouse tee", **overrides)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert message in html.unescape(page)
    assert 'value="Kept lighthouse tee"' in page
    assert only_campaign(ctx) is None
    assert artwork_files(app) == before  # no mockup left behind


def test_a_refused_picture_names_its_file_and_leaves_no_file(
    app, client, ctx, operator, make_design
):
    design_id = make_design(state=DesignState.SELECTED)
    before = artwork_files(app)
    resp = open_with(
        client,
        design_id,
        files=[
            (io.BytesIO(png_bytes(40, 40)), "fine.png"),
            (io.BytesIO(b"GIF89a not really"), "trick.png"),
        ],
    )
    assert resp.status_code == 422
    assert "“trick.png”: Only PNG, JPEG or WebP images are accepted." in resp.get_data(as_text=True)
    assert only_campaign(ctx) is None
    assert artwork_files(app) == before


def test_at_most_five_pictures(app, client, ctx, operator, make_design):
    design_id = make_design(state=DesignState.SELECTED)
    before = artwork_files(app)
    files = [(io.BytesIO(png_bytes(20 + i, 20)), f"p{i}.png") for i in range(6)]
    resp = open_with(client, design_id, files=files)
    assert resp.status_code == 422
    assert "Add at most 5 product images." in resp.get_data(as_text=True)
    assert artwork_files(app) == before
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CampaignImage)) == 0


# --- shipping in the pledge ---------------------------------------------------------------------


@pytest.fixture
def shipped_campaign(make_campaign, make_user, auth):
    campaign_id = make_campaign(price=2500, shipping=(450, 900, 1500))
    make_user("backer@example.com", name="Backer")
    auth.login("backer@example.com")
    return campaign_id


def pledge_on(client, ctx, campaign_id, **data):
    with ctx():
        variant_id = db.session.get(Campaign, campaign_id).variants[0].id
    page = f"/campaigns/{campaign_id}"
    return post(
        client,
        f"/campaigns/{campaign_id}/pledge",
        page,
        variant_id=variant_id,
        quantity="2",
        idempotency_key="k" * 24,
        **data,
    )


def test_the_pledge_form_prices_each_zone_and_the_pledge_carries_its_shipping(
    client, ctx, shipped_campaign
):
    page = client.get(f"/campaigns/{shipped_campaign}").get_data(as_text=True)
    assert '<option value="eu">European Union: €9.00</option>' in page
    resp = pledge_on(client, ctx, shipped_campaign, shipping_zone="eu")
    assert resp.status_code == 303, resp.get_data(as_text=True)
    with ctx():
        pledge = db.session.scalar(sa.select(Pledge))
        assert (pledge.shipping_zone, pledge.shipping_cents, pledge.amount_cents) == (
            "eu",
            900,
            2 * 2500 + 900,
        )
    page = client.get(f"/campaigns/{shipped_campaign}").get_data(as_text=True)
    assert "€50.00 + €9.00 shipping (European Union) = €59.00" in page


def test_an_unknown_zone_is_refused(client, ctx, shipped_campaign):
    resp = pledge_on(client, ctx, shipped_campaign, shipping_zone="moon")
    assert resp.status_code == 422
    assert "Choose where the parcel goes." in resp.get_data(as_text=True)
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Pledge)) == 0


def test_changing_the_zone_or_the_quantity_reprices_the_pledge(client, ctx, shipped_campaign):
    pledge_on(client, ctx, shipped_campaign, shipping_zone="domestic")
    with ctx():
        pledge = db.session.scalar(sa.select(Pledge))
        pledge_id, variant_id = pledge.id, pledge.variant_id
    resp = post(
        client,
        f"/pledges/{pledge_id}/change",
        "/pledges/",
        variant_id=variant_id,
        quantity="3",
        shipping_zone="world",
    )
    assert resp.status_code == 302
    with ctx():
        pledge = db.session.get(Pledge, pledge_id)
        assert (pledge.quantity, pledge.shipping_zone, pledge.amount_cents) == (
            3,
            "world",
            3 * 2500 + 1500,
        )
    # A form that does not name the zone (an older page) keeps the one chosen.
    post(
        client,
        f"/pledges/{pledge_id}/change",
        "/pledges/",
        variant_id=variant_id,
        quantity="1",
    )
    with ctx():
        pledge = db.session.get(Pledge, pledge_id)
        assert (pledge.shipping_zone, pledge.amount_cents) == ("world", 2500 + 1500)
