"""A rating's photos on disk: validated, re-encoded and stored like artwork
(``designs.images``), and never left behind by a rating that was not saved."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from flask import current_app
from flask_babel import gettext as _

from designs import images

from .models import MAX_PHOTOS
from .services import ReviewError

SIZES = ("gallery", "detail", "original")


def uploads_of(files) -> list:
    return images.chosen_files(files)


@contextlib.contextmanager
def stored_photos(uploads: list) -> Iterator[list[str]]:
    """Store the uploads and yield their keys; whatever fails inside the block, they are
    deleted before the error goes on (``designs.images.stored_uploads``). A refused photo
    raises ReviewError naming its file."""
    if len(uploads) > MAX_PHOTOS:
        raise ReviewError(_("A rating has at most %(most)s photos.", most=MAX_PHOTOS))
    with images.stored_uploads(
        uploads,
        current_app.config["UPLOAD_DIR"],
        current_app.config["ARTWORK_MAX_PIXELS"],
        ReviewError,
    ) as pictures:
        yield [picture.key for picture in pictures]


def delete(keys: Iterable[str]) -> None:
    upload_dir = current_app.config["UPLOAD_DIR"]
    for key in keys:
        images.delete_artwork(upload_dir, key)


def path(key: str, size: str) -> str:
    return images.artwork_path(current_app.config["UPLOAD_DIR"], key, size)
