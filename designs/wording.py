"""How design pages and mail word what the rules decided, in the reader's language: scores
written for the locale, and why a design went no further.

Decisions are stored as keys and numbers (the reason's key on the design, the scoring's
numbers in the audit log), never as sentences, so that each reader gets them in their own
language; these functions write them when a page or a mail is rendered.
"""

from __future__ import annotations

from babel.numbers import format_decimal
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from marketplace.kernel.i18n import DEFAULT_LANGUAGE

from .models import DECLINE_REASONS, NOT_SELECTED_REASONS


def fixed(value: float | None, places: int = 2) -> str:
    """A score with ``places`` decimals, written for the locale ("0.42", "0,42"); a dash
    when there is none."""
    if value is None:
        return "–"
    pattern = "0." + "0" * places if places else "0"
    return format_decimal(value, format=pattern, locale=get_locale() or DEFAULT_LANGUAGE)


def shortfall(reason: str, data: dict | None) -> str | None:
    """What an automatic turn-down missed, from the numbers recorded when scoring closed
    (``votes`` and ``min_votes``, or ``rank_score`` and ``min_rank``); None without them."""
    data = data or {}
    if reason == "too_few_votes" and "min_votes" in data:
        return ngettext(
            "%(num)d vote; the shortlist needs %(needed)d.",
            "%(num)d votes; the shortlist needs %(needed)d.",
            data["votes"],
            needed=data["min_votes"],
        )
    if reason == "below_bar" and "min_rank" in data:
        return _(
            "Rank score %(rank)s; the shortlist bar is %(bar)s.",
            rank=fixed(data["rank_score"]),
            bar=fixed(data["min_rank"]),
        )
    return None


def decision_line(reason: str, message: str | None = None, data: dict | None = None) -> str:
    """Why a design was declined or not selected: the listed reason, translated, then the
    operator's own words as typed (or, for an automatic decision, what it missed)."""
    reasons = {**NOT_SELECTED_REASONS, **DECLINE_REASONS}
    text = _(reasons[reason]) if reason in reasons else reason
    more = (message or "").strip() or shortfall(reason, data)
    return _("%(reason)s. %(more)s", reason=text, more=more) if more else text
