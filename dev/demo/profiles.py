"""The demo designers' public profiles: a bio, links and a generated picture each, so that a
designer's page shows what a real one would."""

from __future__ import annotations

import io
import math

from flask import current_app
from PIL import Image, ImageDraw

from designs import images
from marketplace.accounts import services as accounts
from marketplace.accounts.services import get_user_by_email

#: (email, bio, links, (background, sun, sea) colours of the picture).
PROFILES = [
    (
        "ada@example.com",
        "Illustrator in Lyon. I draw maps of imaginary cities and the machines that run them.\n"
        "Most of my work starts as pencil on squared paper.",
        ["https://ada.example.com/portfolio", "https://shop.example.com/ada"],
        ((250, 236, 214), (222, 92, 60), (44, 62, 120)),
    ),
    (
        "hokusai@example.com",
        "Printmaker. Waves, mountains and the weather between them, carved in wood then "
        "scanned.\nNew prints every season.",
        ["https://hokusai.example.org/"],
        ((232, 240, 246), (236, 184, 64), (30, 88, 140)),
    ),
]


def picture(colours, size: int = 512) -> bytes:
    """A small landscape: a sun over rows of waves, in the designer's colours (PNG)."""
    background, sun, sea = colours
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    r = size // 5
    draw.ellipse(
        (size // 2 - r, size // 4 - r // 2, size // 2 + r, size // 4 + r * 3 // 2), fill=sun
    )
    for row in range(6):
        top = size // 2 + row * size // 12
        shade = tuple(max(0, c - row * 12) for c in sea)
        points = [(0, size)]
        for x in range(0, size + 1, 8):
            points.append((x, top + math.sin((x / size) * 4 * math.pi + row) * size / 40))
        points.append((size, size))
        draw.polygon(points, fill=shade)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def seed_designer_profiles() -> int:
    """Fill in the demo designers' profiles once; returns how many were filled in (0 when
    they already were, so that seeding twice changes nothing)."""
    upload_dir = current_app.config["UPLOAD_DIR"]
    filled = 0
    for email, bio, links, colours in PROFILES:
        designer = get_user_by_email(email)
        if designer is None or designer.avatar_key is not None or designer.bio:
            continue
        accounts.update_designer_profile(designer, bio, links)
        accounts.replace_avatar(
            designer, images.store_avatar(io.BytesIO(picture(colours)), upload_dir)
        )
        filled += 1
    return filled
