"""In French, no page shows English: every GET route of the URL map, as each role, rendered
for a reader whose language is French, must not contain English words in its visible text
(nor in the attributes people read: placeholders, labels for screen readers, titles, alt
texts). People's own content stays as written, so the world's content is written in French
here."""

from __future__ import annotations

import html
import re

import pytest

from designs.models import Comment, Design
from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign
from marketplace.kernel.extensions import db
from tests.fixtures.routes import ROLES, build, real_value, routes
from tests.helpers import login_as

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}

#: Words that are English and not French, matched as whole words, any case.
ENGLISH = [
    "the", "and", "your", "you", "with", "this", "that", "from", "have", "has", "will",
    "been", "what", "which", "who", "of", "to", "by", "is", "are", "not", "yet", "when",
    "log", "save", "cancel", "submit", "search", "next", "previous", "edit", "pledge",
    "pledges", "backer", "backers", "campaign", "campaigns", "deadline", "goal", "sign",
    "account", "password", "email", "days", "hours", "left", "open", "closed", "back",
]  # fmt: skip
# Identifiers (an audit action such as campaign.cancel, an address, a path) are not words.
_ENGLISH = re.compile(r"(?<![\w/@.-])(" + "|".join(ENGLISH) + r")(?![\w/@-]|\.\w)", re.IGNORECASE)
_READ_ATTRIBUTES = re.compile(r'\b(?:placeholder|aria-label|title|alt)="([^"]*)"')


def visible_text(page: str) -> str:
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    said = " ".join(_READ_ATTRIBUTES.findall(page))
    # Time zone names (America/New_York...) are identifiers, in the time zone list.
    page = re.sub(r"(?is)<select[^>]*time_zone.*?</select>", " ", page)
    text = re.sub(r"(?s)<[^>]+>", " ", page)
    return html.unescape(text + " " + said)


def english_in(page: str) -> list[str]:
    text = visible_text(page)
    return [
        text[max(0, m.start() - 30) : m.end() + 30].replace("\n", " ").strip()
        for m in _ENGLISH.finditer(text)
    ]


@pytest.fixture
def french_world(ctx, world):
    """The world of the route walk, its people reading French and its content written in it."""
    people, ids = world
    with ctx():
        for user in db.session.query(User):
            user.locale = "fr"
            user.display_name = "Camille"
        for design in db.session.query(Design):
            design.title, design.description = "Motif du matin", "Une ligne\nEt une autre"
        for campaign in db.session.query(Campaign):
            campaign.product_name = "T-shirt d’essai"
        for comment in db.session.query(Comment):
            comment.body = "Très belles lignes"
        db.session.commit()
    return people, ids


@pytest.mark.parametrize("role", ROLES)
def test_no_page_shows_english_to_a_french_reader(app, client, auth, french_world, role):
    _people, ids = french_world
    if role != "anonymous":
        login_as(client, auth, f"{role}@example.com")
    found, read = {}, 0
    for rule in routes(app):
        if "GET" not in rule.methods or rule.endpoint in ("main.language", "main.healthz"):
            continue
        real = {name: real_value(name, conv, ids) for name, conv in rule._converters.items()}
        path = build(rule, real)
        response = client.get(path, headers=FRENCH)
        # Error pages count (a member sees the operator pages' 403); a redirect's body does not
        # show in a browser.
        if 300 <= response.status_code < 400 or response.mimetype != "text/html":
            continue
        read += 1
        words = english_in(response.get_data(as_text=True))
        if words:
            found[path] = words[:5]
    assert read >= 14  # the pages were read, not skipped as redirects
    assert found == {}, "\n".join(f"{path}: {words}" for path, words in found.items())
