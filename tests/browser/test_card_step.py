"""In Chromium, the card step against localstripe's stand-in Stripe.js: the page lists the test
cards, an expiry with a 4-digit year is taken, and every refusal (declined, incomplete number,
short CVC, past or malformed expiry, the network, the stand-in's own 400) reads as a sentence
of payments/cards.py, never "Bad request". Then card.js's expiry normaliser and error mapping
on their own, in the browser that runs them."""

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from marketplace.campaigns.models import Pledge, PledgeState
from marketplace.kernel.extensions import db
from payments.cards import CARD_ERRORS, TEST_CARDS
from tests.helpers import ROOT, login

pytestmark = [pytest.mark.browser]

CARD_JS = Path(ROOT) / "static" / "js" / "card.js"


def pledge(page, base, campaign_id, variant):
    page.goto(f"{base}/campaigns/{campaign_id}")
    page.get_by_label("Variant").select_option(label=variant)
    page.get_by_role("button", name="Pledge and save my card").click()
    page.wait_for_url(f"{base}/pledges/*/card")


def type_card(page, number, month, year="", cvc="123"):
    """Type into the stand-in's fields as a backer would, then save."""
    field = page.locator("#card-element")
    field.get_by_placeholder("number").fill(number)
    field.get_by_placeholder("exp_month").fill(month)
    field.get_by_placeholder("exp_year").fill(year)
    field.get_by_placeholder("cvc").fill(cvc)
    field.get_by_placeholder("postal_code").fill("69001")
    page.get_by_role("button", name="Save card").click()


def card_error(page) -> str:
    error = page.locator("#card-errors")
    error.wait_for(state="visible")
    text = error.inner_text()
    assert "Bad request" not in text
    return text


def pledge_states(ctx):
    with ctx():
        return db.session.scalars(sa.select(Pledge.state).order_by(Pledge.id)).all()


@pytest.fixture
def ben_on_a_campaign(page, live_server, make_user, make_campaign, stripe_server):
    """Ben, logged in, and a live campaign's id."""
    campaign_id = make_campaign(goal=4, price=3000)
    make_user("ben@example.com", name="Ben")
    login(page, live_server, "ben@example.com")
    return campaign_id


@pytest.mark.live_db
def test_test_cards_listed_a_4_digit_year_taken_and_a_decline_in_words(
    app, ctx, page, live_server, ben_on_a_campaign
):
    campaign_id = ben_on_a_campaign
    pledge(page, live_server, campaign_id, "S")
    listed = page.get_by_test_id("test-cards")
    assert listed.is_visible()
    for card in TEST_CARDS:
        row = listed.locator("div", has_text=card.spaced)
        assert row.is_visible()
        expect(row.get_by_text(card.what_it_does)).to_be_visible()

    # Declined when saved: a sentence, and the pledge still waits for a card.
    type_card(page, "4000000000000002", "12", "2030")
    assert card_error(page) == CARD_ERRORS["card_declined"]
    assert pledge_states(ctx) == [PledgeState.PENDING_CARD]

    # The same form, a good card and a 4-digit year.
    type_card(page, "4242 4242 4242 4242", "12", "2030")
    page.wait_for_url(live_server + "/pledges/")
    expect(page.get_by_text("Your pledge is in.")).to_be_visible()

    # Declined only at charge: saved now, the pledge active; the expiry typed whole.
    pledge(page, live_server, campaign_id, "M")
    type_card(page, "4000000000000341", "1/2031")
    page.wait_for_url(live_server + "/pledges/")
    expect(page.get_by_text("Visa •••• 0341")).to_be_visible()
    assert pledge_states(ctx) == [PledgeState.ACTIVE, PledgeState.ACTIVE]
    with ctx():
        assert db.session.scalars(sa.select(Pledge.card_summary).order_by(Pledge.id)).all() == [
            "Visa •••• 4242",
            "Visa •••• 0341",
        ]


@pytest.mark.live_db
def test_every_card_error_reads_as_a_sentence(
    app, ctx, page, live_server, stripe_server, ben_on_a_campaign
):
    pledge(page, live_server, ben_on_a_campaign, "S")

    type_card(page, "4242 4242", "12", "30")
    assert card_error(page) == CARD_ERRORS["incomplete_number"]
    type_card(page, "4242424242424242", "12", "30", cvc="12")
    assert card_error(page) == CARD_ERRORS["incomplete_cvc"]
    type_card(page, "4242424242424242", "01/20")
    assert card_error(page) == CARD_ERRORS["invalid_expiry_year_past"]
    type_card(page, "4242424242424242", "13/30")
    assert card_error(page) == CARD_ERRORS["invalid_expiry_month"]
    type_card(page, "4242424242424242", "12 2030 1")
    assert card_error(page) == CARD_ERRORS["incomplete_expiry"]

    # The network fails on the way to Stripe.
    confirm_url = f"{stripe_server}/v1/setup_intents/*/confirm"
    page.route(confirm_url, lambda route: route.abort())
    type_card(page, "4242424242424242", "12", "2030")
    assert card_error(page) == CARD_ERRORS["network"]
    page.unroute(confirm_url)

    # The stand-in's own 400s, had the card reached it unchecked: a 4-digit year given to
    # its year field (it puts "20" before it), and a 4-digit CVC, which it refuses bare.
    def tampered(**card):
        def handle(route):
            body = json.loads(route.request.post_data)
            body["payment_method_data"]["card"].update(card)
            route.continue_(post_data=json.dumps(body))

        return handle

    page.route(confirm_url, tampered(exp_year="202030"))
    type_card(page, "4242424242424242", "12", "2030")
    assert card_error(page) == CARD_ERRORS["invalid_expiry_year"]
    page.unroute(confirm_url)
    page.route(confirm_url, tampered(cvc="1234"))
    type_card(page, "4242424242424242", "12", "2030")
    assert card_error(page) == CARD_ERRORS["invalid_request"]
    page.unroute(confirm_url)

    assert pledge_states(ctx) == [PledgeState.PENDING_CARD]
    type_card(page, "4242424242424242", "12 / 2030")
    page.wait_for_url(live_server + "/pledges/")
    assert pledge_states(ctx) == [PledgeState.ACTIVE]


# --- card.js's functions on their own ---------------------------------------------------------


@pytest.fixture
def card_js(browser):
    """A blank page running card.js (which does nothing without a card form), for calling
    its functions."""
    context = browser.new_context()
    blank = context.new_page()
    blank.add_script_tag(path=str(CARD_JS))
    try:
        yield blank
    finally:
        context.close()


# "today" is 15 January 2026 (months count from 0 in JavaScript).
TODAY = "new Date(2026, 0, 15)"


@pytest.mark.parametrize(
    ("month", "year", "expected"),
    [
        ("12 / 2030", "", {"month": "12", "year": "30"}),
        ("12/30", "", {"month": "12", "year": "30"}),
        ("1/2031", "", {"month": "01", "year": "31"}),
        ("12", "2030", {"month": "12", "year": "30"}),
        (" 7 ", "28", {"month": "07", "year": "28"}),
        ("12-2030", "", {"month": "12", "year": "30"}),
        ("1", "2026", {"month": "01", "year": "26"}),  # good until the end of this month
        ("12", "2025", {"error": "invalid_expiry_year_past"}),
        ("01/20", "", {"error": "invalid_expiry_year_past"}),
        ("13", "30", {"error": "invalid_expiry_month"}),
        ("0/30", "", {"error": "invalid_expiry_month"}),
        ("12", "2100", {"error": "invalid_expiry_year"}),
        ("12", "203", {"error": "incomplete_expiry"}),
        ("1230", "", {"error": "incomplete_expiry"}),
        ("12/", "", {"error": "incomplete_expiry"}),
        ("ab/cd", "", {"error": "incomplete_expiry"}),
        ("", "", {"error": "incomplete_expiry"}),
    ],
)
def test_normalise_expiry(card_js, month, year, expected):
    got = card_js.evaluate(
        f"([month, year]) => normaliseExpiry(month, year, {TODAY})", [month, year]
    )
    assert got == expected


#: The sentence table given to errorSentence maps each code to itself, to show which it chose.
IDENTITY = {code: code for code in CARD_ERRORS}


@pytest.mark.parametrize(
    ("error", "chosen"),
    [
        # The stand-in's 402 when a card is declined as it is saved.
        (
            "({type: 'invalid_request_error', code: 'card_declined',"
            " message: 'Your card was declined.'})",
            "card_declined",
        ),
        # Its bare 400, and its 400 naming a code.
        ("({type: 'invalid_request_error', message: 'Bad request'})", "invalid_request"),
        (
            "({type: 'invalid_request_error', code: 'invalid_expiry_year',"
            " message: 'Bad request'})",
            "invalid_expiry_year",
        ),
        # Its failed 3-D Secure dialog, which carries a message only.
        (
            "({message: 'The latest attempt to set up the payment method has failed because "
            "authentication failed.'})",
            "setup_intent_authentication_failure",
        ),
        # fetch failing under it: the stand-in hands back the TypeError itself.
        ("new TypeError('Failed to fetch')", "network"),
        # Real Stripe.js: a decline code wins over the code, validation errors by code.
        (
            "({type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds'})",
            "insufficient_funds",
        ),
        (
            "({type: 'card_error', code: 'card_declined', decline_code: 'a_new_reason'})",
            "card_declined",
        ),
        ("({type: 'validation_error', code: 'incomplete_number'})", "incomplete_number"),
        ("({type: 'card_error', code: 'incorrect_cvc'})", "incorrect_cvc"),
        ("({type: 'api_connection_error', message: 'Network error'})", "network"),
        ("({type: 'invalid_request_error', code: 'resource_missing'})", "default"),
        ("({type: 'card_error', code: 'a_code_yet_unknown'})", "default"),
        ("({code: 'toString'})", "default"),  # an inherited name is no code of ours
        ("null", "default"),
    ],
)
def test_error_sentence(card_js, error, chosen):
    assert card_js.evaluate(f"(sentences) => errorSentence({error}, sentences)", IDENTITY) == (
        chosen
    )
