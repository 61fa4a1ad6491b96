"""A campaign's product pictures on disk: the mockup made from the design and the pictures an
operator uploads, stored and validated like artwork (designs.images), and never left behind
by a campaign that did not open."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flask import current_app
from flask_babel import gettext as _

from designs import images
from designs.models import Design

from .mockups import store_mockup
from .models import MAX_EXTRA_IMAGES
from .services import CampaignError, ProductImage


@contextlib.contextmanager
def product_images(design: Design, form) -> Iterator[list[ProductImage]]:
    """Store the mockup and the uploaded pictures of ``form.images``, and yield them for the
    campaign to record. Whatever fails inside the block (a broken rule, the commit), the
    stored files are deleted before the error goes on, so a refused campaign leaves no file.

    A refused picture raises CampaignError naming its file, with the status artwork gets
    (413 too large, 422 otherwise)."""
    upload_dir = current_app.config["UPLOAD_DIR"]
    uploads = images.chosen_files(form.images.data)
    if len(uploads) > MAX_EXTRA_IMAGES:
        raise CampaignError(_("Add at most %(max)s product images.", max=MAX_EXTRA_IMAGES))
    mockup = store_mockup(
        images.artwork_path(upload_dir, design.artwork_key, "detail"),
        form.product_name.data,
        upload_dir,
    )
    try:
        with images.stored_uploads(
            uploads, upload_dir, current_app.config["ARTWORK_MAX_PIXELS"], CampaignError
        ) as pictures:
            yield [ProductImage(mockup.key, mockup.width, mockup.height, is_mockup=True)] + [
                ProductImage(p.key, p.width, p.height) for p in pictures
            ]
    except BaseException:
        images.delete_artwork(upload_dir, mockup.key)
        raise


def image_path(key: str, size: str) -> str:
    return images.artwork_path(current_app.config["UPLOAD_DIR"], key, size)
