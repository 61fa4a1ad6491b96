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
    """The files really chosen in a multiple file field (browsers send an empty part)."""
    return [f for f in files or () if getattr(f, "filename", "")]


@contextlib.contextmanager
def stored_photos(uploads: list) -> Iterator[list[str]]:
    """Store the uploads and yield their keys. Whatever fails inside the block (a refused
    photo, a broken rule, the commit), the files stored are deleted before the error goes
    on. A refused photo raises ReviewError naming its file, with artwork's status (413 too
    large, 422 otherwise)."""
    if len(uploads) > MAX_PHOTOS:
        raise ReviewError(_("A rating has at most %(most)s photos.", most=MAX_PHOTOS))
    upload_dir = current_app.config["UPLOAD_DIR"]
    keys: list[str] = []
    try:
        for upload in uploads:
            try:
                picture = images.store_artwork(
                    upload.stream, upload_dir, max_pixels=current_app.config["ARTWORK_MAX_PIXELS"]
                )
            except images.ArtworkError as exc:
                raise ReviewError(
                    _("“%(name)s”: %(reason)s", name=upload.filename[:80], reason=exc.message),
                    exc.status,
                ) from None
            keys.append(picture.key)
        yield keys
    except BaseException:
        delete(keys)
        raise


def delete(keys: Iterable[str]) -> None:
    upload_dir = current_app.config["UPLOAD_DIR"]
    for key in keys:
        images.delete_artwork(upload_dir, key)


def path(key: str, size: str) -> str:
    return images.artwork_path(current_app.config["UPLOAD_DIR"], key, size)
