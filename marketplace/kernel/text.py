"""Wording shared by the operators' command line, and formatted text made safe for pages."""

from __future__ import annotations

import functools
import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 backer', '15 backers', '0 orders': a count with its noun agreed, in English only.

    For the shell (``flask`` commands speak English to operators). Pages, flash messages and
    mail count with ``ngettext`` (``{% trans count=n %}`` in templates), which agrees the noun
    in the reader's language; the ``|counted`` filter stays for templates not yet moved."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


# --- formatted text --------------------------------------------------------------------------

#: What formatted text (a campaign's story, its risks, an FAQ answer) may keep once rendered:
#: structure and emphasis, links and nothing that runs or loads anything.
_ALLOWED_TAGS = frozenset(
    [
        "p",
        "br",
        "h3",
        "h4",
        "strong",
        "em",
        "b",
        "i",
        "ul",
        "ol",
        "li",
        "blockquote",
        "code",
        "pre",
        "hr",
        "a",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    ]
)
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


def formatted(text: str | None) -> Markup:
    """Markdown written by our team, as HTML that is safe to put in a page.

    Markdown lets raw HTML through, so the result is cleaned by an allow-list sanitiser
    (nh3, Ammonia's): no script, style, iframe, image or form survives, no event attribute,
    no ``javascript:`` or ``data:`` link; links get ``rel="nofollow noopener noreferrer"``.
    Headings become h3 and h4: the text sits in a section of the page titled by an h2."""
    if not text:
        return Markup("")
    html = re.sub(r"<(/?)h([1-6])\b", _sub_heading, _markdown().render(text))
    # The sanitiser's output is the only markup trusted here.
    return Markup(  # noqa: S704
        nh3.clean(
            html,
            tags=set(_ALLOWED_TAGS),
            attributes={tag: set(names) for tag, names in _ALLOWED_ATTRIBUTES.items()},
            url_schemes={"http", "https", "mailto"},
            link_rel="nofollow noopener noreferrer",
        )
    )


def _sub_heading(match: re.Match) -> str:
    return f"<{match[1]}h{3 if int(match[2]) <= 2 else 4}"


@functools.cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"linkify": False}).enable("table")
