"""The card step's test cards and error sentences (payments/cards.py): each listed card does
what the list says in the real localstripe, the README lists the same cards, the list shows
with the local stand-in only, and every error code the card form's script names has its
sentence."""

import json
import re
import secrets
from html import unescape
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from marketplace.campaigns.models import Pledge
from marketplace.kernel.extensions import db
from payments import cards, gateway
from tests.helpers import ROOT, variant_id

from .test_pledging import card_page, start_pledge


def save_like_the_card_form(stripe_url: str, setup, number: str) -> tuple[str, str | None]:
    """What the stand-in's Stripe.js does when the backer saves ``number``: confirm the
    SetupIntent with the card's details, and confirm it again once the backer completes the
    3-D Secure dialog. Returns what happened, and the saved card's PaymentMethod."""
    url = f"{stripe_url}/v1/setup_intents/{setup.id}/confirm"
    body = {
        "key": "pk_test_suite",
        "use_stripe_sdk": True,
        "client_secret": setup.client_secret,
        "payment_method_data": {
            "type": "card",
            "card": {"number": number, "exp_month": "12", "exp_year": "2030", "cvc": "123"},
        },
    }
    answer = requests.post(url, data=json.dumps(body), timeout=10)
    if answer.status_code == 402:
        assert answer.json()["error"]["code"] == "card_declined"
        return "declined", None
    assert answer.status_code == 200, answer.text
    outcome = "saved"
    if answer.json()["status"] == "requires_action":
        outcome = "authentication"
        body = {key: body[key] for key in ("key", "use_stripe_sdk", "client_secret")}
        answer = requests.post(url, data=json.dumps(body), timeout=10)
    assert answer.json()["status"] == "succeeded"
    return outcome, answer.json()["payment_method"]


CHARGE_OUTCOMES = {
    "succeeded": "paid",
    "requires_payment_method": "declined",
    "requires_action": "authentication",
}


@pytest.mark.parametrize("card", cards.TEST_CARDS, ids=lambda card: card.number)
def test_each_test_card_does_what_the_list_says(ctx, stripe_server, card):
    with ctx():
        customer = gateway.create_customer("backer@example.com", 1)
        setup = gateway.create_setup_intent(customer, 1)
        saved, payment_method = save_like_the_card_form(stripe_server, setup, card.number)
        assert saved == card.when_saved
        if payment_method is None:
            assert card.when_charged is None
            return
        intent = gateway.create_payment_intent(
            customer_id=customer,
            payment_method_id=payment_method,
            amount_cents=2500,
            currency="EUR",
            metadata={"pledge_id": "1"},
            idempotency_key=secrets.token_hex(8),
        )
        charged = gateway.confirm_payment_intent(intent.id)
    assert CHARGE_OUTCOMES[charged.status] == card.when_charged


def test_the_readme_lists_the_same_test_cards():
    readme = (Path(ROOT) / "README.md").read_text()
    section = readme.split("### Test cards", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `([\d ]+)` \| (.+) \|$", section, flags=re.MULTILINE)
    assert rows == [(card.spaced, card.what_it_does) for card in cards.TEST_CARDS]


@pytest.mark.parametrize(
    ("api_base", "shown"),
    [
        (None, False),  # Stripe itself
        ("https://api.stripe.com", False),
        ("http://stripe.internal.example:8420", False),
        ("http://10.0.0.8:8420", False),
        ("http://127.0.0.1:8420", True),
        ("http://127.0.0.53:8420", True),
        ("http://localhost:8420", True),
        ("http://[::1]:8420", True),
    ],
)
def test_test_cards_show_with_the_local_stand_in_only(api_base, shown):
    assert cards.shows_test_cards({"STRIPE_API_BASE": api_base}) is shown
    # The explicit setting wins either way.
    assert cards.shows_test_cards({"STRIPE_API_BASE": api_base, "STRIPE_TEST_CARDS": True})
    assert not cards.shows_test_cards({"STRIPE_API_BASE": api_base, "STRIPE_TEST_CARDS": False})


@pytest.fixture
def card_html(client, ctx, make_user, auth, make_campaign, stripe_server):
    """A backer's pending pledge; returns a function reading its card page."""
    make_user("backer@example.com", name="Backer")
    auth.login("backer@example.com")
    campaign_id = make_campaign(goal=10, price=2500)
    start_pledge(client, campaign_id, variant_id(ctx, campaign_id, "M"))
    with ctx():
        pledge_id = db.session.scalar(sa.select(Pledge.id))
    return lambda: card_page(client, pledge_id)[0]


def test_the_card_page_lists_the_test_cards_only_with_the_stand_in(app, card_html, monkeypatch):
    html = card_html()  # the suite's Stripe is localstripe, on loopback
    assert 'data-testid="test-cards"' in html
    for card in cards.TEST_CARDS:
        assert card.spaced in html
        assert card.what_it_does in unescape(html)

    monkeypatch.setitem(app.config, "STRIPE_TEST_CARDS", False)
    html = card_html()
    assert 'data-testid="test-cards"' not in html
    assert not any(card.spaced in html for card in cards.TEST_CARDS)
    assert 'id="card-element"' in html  # the card form itself stays


def test_the_card_form_carries_every_error_sentence(card_html):
    html = card_html()
    carried = json.loads(unescape(re.search(r"data-errors='([^']*)'", html).group(1)))
    assert carried == cards.CARD_ERRORS  # English here: the same sentences, translated


def test_every_code_the_card_script_names_has_a_sentence():
    """card.js names codes of its own checks and falls back on a few keys; each must be in
    CARD_ERRORS, or the backer would read nothing (or a bare "Bad request")."""
    script = (Path(ROOT) / "static" / "js" / "card.js").read_text()
    named = set(re.findall(r"sentences\.(\w+)", script))
    named |= set(re.findall(r'error: "(\w+)"', script))
    named |= set(re.findall(r'"(\w+_(?:number|cvc|expiry\w*))"', script))
    assert {"default", "network", "incomplete_number", "incomplete_cvc"} <= named
    assert named - set(cards.CARD_ERRORS) == set()
    assert all(sentence.endswith(".") for sentence in cards.CARD_ERRORS.values())
