"""Fill the French catalogue from fragment catalogues: ``python -m dev.catalogue PARTS...``.

For wording translated in parts, side by side (each fragment holds the French of the
messages of one part of the product, as the first translation was written): this copies
every translated message of the fragments into translations/fr/LC_MESSAGES/messages.po, where
`make messages` has put the message, says where two fragments disagree, and lists the
messages of the catalogue still untranslated. The catalogue itself is the one source of the
French; fragments are only a way to write it in parallel.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

CATALOGUE = Path(__file__).resolve().parent.parent / "translations/fr/LC_MESSAGES/messages.po"


def main(parts: list[str]) -> int:
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle, locale="fr")
    filled = 0
    taken: dict[tuple, tuple[str, object]] = {}  # which fragment gave each message its French
    for part in parts:
        with open(part, "rb") as handle:
            fragment = read_po(handle, locale="fr")
        for message in fragment:
            if not message.id or not message.string or message.fuzzy:
                continue
            target = catalogue.get(message.id, context=message.context)
            if target is None:
                print(f"{part}: not in the catalogue (run make messages?): {message.id!r}")
                continue
            if isinstance(target.id, tuple) != isinstance(message.id, tuple):
                print(f"{part}: {message.id!r} is plural in one and not the other: skipped")
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if not all(strings):
                continue
            key = (message.id, message.context)
            if key in taken and taken[key][1] != message.string:
                print(
                    f"{part}: {message.id!r} is {message.string!r} here but "
                    f"{taken[key][1]!r} in {taken[key][0]}: the first is kept (or give each its "
                    "own context with pgettext)"
                )
                continue
            taken[key] = (part, message.string)
            target.string = message.string
            target.flags.discard("fuzzy")
            filled += 1
    with CATALOGUE.open("wb") as handle:
        write_po(handle, catalogue, omit_header=False, sort_output=True)
    missing = [
        m.id
        for m in catalogue
        if m.id and not (m.string if isinstance(m.string, str) else all(m.string))
    ]
    print(f"{filled} translations copied; {len(missing)} messages still untranslated")
    for message_id in missing[:50]:
        print("  untranslated:", repr(message_id))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
