"""Every message in the code and templates has a French translation in the repository's
catalogue: none missing, none marked fuzzy, and each keeps the placeholders of its English
original (a lost ``%(amount)s`` would show the wrong sentence, or fail to format)."""

from __future__ import annotations

import re

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.helpers import ROOT

CATALOGUE = ROOT / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "_l": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "lazy_pgettext": ((1, "c"), 2),
    "N_": None,
}
_PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]")


def extracted() -> dict[str, str | tuple[str, str]]:
    """The messages of the code and templates, as `make messages` extracts them (babel.cfg)."""
    method_map, options_map = [], {}
    section = None
    for line in (ROOT / "babel.cfg").read_text().splitlines():
        match = re.fullmatch(r"\[(\w+):\s*(.+)\]", line.strip())
        if match:
            section = match.group(2)
            method_map.append((section, match.group(1)))
            options_map[section] = {}
    messages = {}
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        key = message[0] if isinstance(message, tuple) else message
        if key:
            messages[(key, context) if context else key] = message
    return messages


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def problems(messages, catalogue) -> list[str]:
    """What keeps the catalogue from covering ``messages``, one line each."""
    found = []
    for key, message in sorted(messages.items(), key=lambda item: str(item[0])):
        # A message with a context (pgettext: "Order" the noun, "order" the column) is its
        # own entry.
        message_id, context = key if isinstance(key, tuple) else (key, None)
        entry = catalogue.get(message_id, context=context)
        if entry is None:
            found.append(f"not in the catalogue: {key!r}")
            continue
        if entry.fuzzy:
            found.append(f"fuzzy: {key!r}")
        translations = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        originals = message if isinstance(message, tuple) else (message,)
        if isinstance(message, tuple) != isinstance(entry.string, tuple) or (
            isinstance(message, tuple) and len(translations) != catalogue.num_plurals
        ):
            found.append(f"plural forms differ: {key!r}")
            continue
        if not all(translations):
            found.append(f"untranslated: {key!r}")
            continue
        wanted = set().union(*(placeholders(o) for o in originals))
        for text in translations:
            # A plural's singular may say "un" for %(num)d, as French often does.
            if placeholders(text) - wanted or (
                not isinstance(message, tuple) and placeholders(text) != wanted
            ):
                found.append(f"placeholders differ: {key!r} -> {text!r}")
    return found


def load_catalogue():
    with CATALOGUE.open("rb") as handle:
        return read_po(handle, locale="fr")


def test_every_message_has_a_french_translation():
    assert problems(extracted(), load_catalogue()) == []


def test_a_new_untranslated_message_fails_the_check():
    messages = {**extracted(), "A sentence nobody translated": "A sentence nobody translated"}
    assert problems(messages, load_catalogue()) == [
        "not in the catalogue: 'A sentence nobody translated'"
    ]


def test_a_fuzzy_or_empty_translation_or_a_lost_placeholder_fails_the_check():
    from babel.messages.catalog import Catalog

    catalogue = Catalog(locale="fr")
    catalogue.add("Saved.", "Enregistré.", flags=["fuzzy"])
    catalogue.add("Hello", "")
    catalogue.add("%(n)s left", "il en reste")
    # A plural given a single string, as a merge of a singular message once wrote it.
    catalogue.add(("backer", "backers"), ("contributeur", "contributeurs", "contributeurs"))
    catalogue.get("backer").string = "contributeur"
    messages = {m: m for m in ("Saved.", "Hello", "%(n)s left")}
    messages["backer"] = ("backer", "backers")
    assert problems(messages, catalogue) == [
        "placeholders differ: '%(n)s left' -> 'il en reste'",
        "untranslated: 'Hello'",
        "fuzzy: 'Saved.'",
        "plural forms differ: 'backer'",
    ]
