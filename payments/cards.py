"""What the card step tells the backer: the stand-in's test cards, and every error the card
form can meet, as a sentence in the backer's language.

Both are read by the card form (``templates/payments/_card_form.html``, ``static/js/card.js``)
and by their tests; the README's table of test cards is checked against ``TEST_CARDS``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask_babel import gettext

from marketplace.kernel.i18n import N_


@dataclass(frozen=True)
class StandInCard:
    """A card number the local Stripe stand-in (localstripe) treats specially."""

    number: str
    #: What saving it in the card form does: ``saved``, ``declined``, or ``authentication``
    #: (the stand-in's 3-D Secure dialog, then saved once completed).
    when_saved: str
    #: What the off-session charge at the deadline does: ``paid``, ``declined``, or
    #: ``authentication`` (the backer confirms it from "My pledges"); None: never saved.
    when_charged: str | None
    what_it_does: str

    @property
    def spaced(self) -> str:
        """The number as printed on a card, in groups of four."""
        return " ".join(self.number[i : i + 4] for i in range(0, len(self.number), 4))


#: What each card really does in localstripe 1.15 (tests/payments/test_cards.py runs each
#: one through a SetupIntent and an off-session charge to check it). Real Stripe's test mode
#: differs: there, a card authenticated when saved is usually charged later without a
#: second authentication. Any expiry date to come and any 3-digit CVC will do.
TEST_CARDS = (
    StandInCard(
        "4242424242424242",
        "saved",
        "paid",
        N_("Success: saved now, and charged when the campaign is funded."),
    ),
    StandInCard(
        "4000000000000341",
        "saved",
        "declined",
        N_(
            "Declined at charge: saved now, declined when the campaign is funded; the pledge "
            "then waits in “My pledges” for another card."
        ),
    ),
    StandInCard(
        "4000000000000002",
        "declined",
        None,
        N_(
            "Declined when saved: the card form says the card was declined, and the pledge "
            "waits for another card."
        ),
    ),
    StandInCard(
        "4000002500003155",
        "authentication",
        "authentication",
        N_(
            "3-D Secure: saving it opens the bank's check (complete or fail it); when the "
            "campaign is funded the bank asks again, and the backer confirms the payment from "
            "“My pledges”."
        ),
    ),
    StandInCard(
        "4000002760003184",
        "authentication",
        "authentication",
        N_("3-D Secure, as the card above: the bank's check when saved and again at charge."),
    ),
)


def is_loopback(url: str | None) -> bool:
    """Whether ``url`` names this machine (localstripe in development and tests); Stripe's
    own API (no base set) is not."""
    if not url:
        return False
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def shows_test_cards(config: Mapping) -> bool:
    """The test cards are listed only where they do what the list says: with the local
    stand-in, never with Stripe itself (``STRIPE_TEST_CARDS`` decides, when set)."""
    setting = config.get("STRIPE_TEST_CARDS")
    if setting is not None:
        return bool(setting)
    return is_loopback(config.get("STRIPE_API_BASE"))


_DECLINED = N_("Your card was declined. Try another card, or ask your bank why.")
_NUMBER = N_("The card number is incomplete or not valid: check it and try again.")
_CVC = N_("The security code (CVC) is incomplete or not valid: check it on your card.")
_EXPIRY = N_("The expiry date is not valid: give its month and year, such as 12 / 2030.")
_EXPIRED = N_("This card's expiry date has passed: check it, or use another card.")
_REACH = N_(
    "We could not reach our payment provider: check your connection and try again. "
    "Nothing was saved."
)

#: Stripe's error and decline codes (stripe.com/docs/error-codes), and the card form's own
#: few, as the sentence the backer reads. card.js looks up ``decline_code``, then ``code``,
#: then falls back on ``default``; codes not listed here read as ``default``.
CARD_ERRORS = {
    # Declines, from the card form or the charge.
    "card_declined": _DECLINED,
    "generic_decline": _DECLINED,
    "do_not_honor": _DECLINED,
    "lost_card": _DECLINED,
    "stolen_card": _DECLINED,
    "fraudulent": _DECLINED,
    "insufficient_funds": N_(
        "Your card was declined: there is not enough money on it. Try another card."
    ),
    "card_not_supported": N_("This card does not accept this kind of payment: try another card."),
    # The card's details.
    "incomplete_number": _NUMBER,
    "invalid_number": _NUMBER,
    "incorrect_number": _NUMBER,
    "incomplete_cvc": _CVC,
    "invalid_cvc": _CVC,
    "incorrect_cvc": N_("The security code (CVC) is wrong: check it on your card."),
    "incomplete_expiry": _EXPIRY,
    "invalid_expiry_month": _EXPIRY,
    "invalid_expiry_year": _EXPIRY,
    "invalid_expiry_month_past": _EXPIRED,
    "invalid_expiry_year_past": _EXPIRED,
    "expired_card": _EXPIRED,
    "incomplete_zip": N_("Give the postal code of the card's billing address."),
    # Authentication (3-D Secure).
    "setup_intent_authentication_failure": N_(
        "Your bank's check was not completed, so the card is not saved. Try again, or use "
        "another card."
    ),
    "payment_intent_authentication_failure": N_(
        "The payment was not confirmed. Try again, or use another card."
    ),
    # Stripe, or the way to it.
    "processing_error": N_(
        "Your card could not be processed just now: try again in a moment. Nothing was saved."
    ),
    "rate_limit": _REACH,
    "api_connection_error": _REACH,
    # The card form's own.
    "network": _REACH,
    "unavailable": N_("The card form could not load: check your connection and reload the page."),
    "invalid_request": N_(
        "The card details were refused: check the number, the expiry date and the security code."
    ),
    "default": N_("Your card could not be saved: check its details, or try another card."),
}


def error_sentences() -> dict[str, str]:
    """``CARD_ERRORS`` in the reader's language, for the card form's script."""
    return {code: gettext(sentence) for code, sentence in CARD_ERRORS.items()}
