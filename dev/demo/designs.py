"""Demo designs in every state, made through the same services as real ones (so the timeline,
audit log and scores are real), with generated artwork (``dev.demo.artwork``). Idempotent:
skipped when present."""

from __future__ import annotations

import datetime as dt
import io

import sqlalchemy as sa
from flask import current_app

from designs import images, services
from designs.models import Design, Product
from dev.demo.accounts import demo_operator
from dev.demo.artwork import artwork
from marketplace.accounts.models import User
from marketplace.accounts.services import get_user_by_email
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db

COMMUNITY = [f"member{n:02d}@example.com" for n in range(1, 13)]

DESIGNS = [
    # (title, designer, product, tags, variants, fate)
    ("Tide of Lyon", "ada@example.com", "T-shirt", "river, city", "S, M, L, XL", "voting"),
    ("Night owl", "hokusai@example.com", "Hoodie", "animals, night", "S, M, L", "voting"),
    ("Red sun rising", "hokusai@example.com", "Poster", "sun, japan", "A3, A2", "voting"),
    ("Coffee orbit", "ada@example.com", "Mug", "coffee, space", "White, Black", "voting"),
    (
        "Great wave, again",
        "hokusai@example.com",
        "T-shirt",
        "sea, waves",
        "S, M, L, XL",
        "shortlisted",
    ),
    ("Analytical engine", "ada@example.com", "Poster", "science, retro", "A3, A2", "selected"),
    ("Paper cranes", "hokusai@example.com", "T-shirt", "origami, birds", "S, M, L", "selected"),
    ("Solar sails", "ada@example.com", "Hoodie", "space", "S, M, L", "selected"),
    ("Tiny robots", "hokusai@example.com", "Mug", "robots", "White, Black", "selected"),
    # Made into products by the payments demo: one run in production, one delivered.
    ("Great wave", "hokusai@example.com", "T-shirt", "sea, japan", "S, M, L", "selected"),
    ("Lovelace notes", "ada@example.com", "Poster", "science, maths", "A3, A2", "selected"),
    ("Quiet harbour", "hokusai@example.com", "Tote bag", "sea", "Natural, Black", "not_selected"),
    ("Borrowed swoosh", "hokusai@example.com", "T-shirt", "sport", "S, M, L", "declined"),
    ("Bernoulli numbers", "ada@example.com", "Poster", "maths", "A3", "submitted"),
    ("Sketch in progress", "ada@example.com", "T-shirt", "wip", "M, L", "draft"),
]


def _community() -> list[User]:
    from dev.demo.accounts import DEMO_PASSWORD
    from marketplace.accounts.services import hash_password

    members, now = [], utcnow()
    password_hash = None
    for n, email in enumerate(COMMUNITY, start=1):
        user = get_user_by_email(email)
        if user is None:
            password_hash = password_hash or hash_password(DEMO_PASSWORD)
            user = User(
                email=email,
                display_name=f"Member {n:02d}",
                password_hash=password_hash,
                email_verified_at=now,
            )
            db.session.add(user)
        members.append(user)
    db.session.flush()
    return members


def seed_designs() -> int:
    """Create the demo designs that do not exist yet; returns how many were created."""
    if db.session.scalar(sa.select(Design.id).where(Design.title == DESIGNS[0][0])):
        return 0
    members = _community()
    operator = demo_operator()
    backers = [get_user_by_email(e) for e in ("ben@example.com", "chloe@example.com")] + members
    products = {p.name: p for p in db.session.scalars(sa.select(Product))}
    upload_dir = current_app.config["UPLOAD_DIR"]
    days = current_app.config["VOTING_DAYS"]
    created = 0
    for n, (title, designer_email, product, tags, variants, fate) in enumerate(DESIGNS):
        designer = get_user_by_email(designer_email)
        stored = images.store_artwork(io.BytesIO(artwork(n, title)), upload_dir)
        design = services.create_draft(
            designer,
            services.Artwork(stored.key, stored.width, stored.height, stored.format),
            title=title,
            description=f"{title}: a demo design.\nPrinted in two colours.",
            tags=tags,
            product_id=products[product].id,
            variants=variants,
        )
        created += 1
        if fate == "draft":
            continue
        services.submit(design, designer)
        if fate == "submitted":
            continue
        if fate == "declined":
            services.decline(
                design.id, operator, "ip_concern", "The logo belongs to a sportswear brand."
            )
            continue
        closed = fate in ("shortlisted", "selected", "not_selected")
        opened = utcnow() - dt.timedelta(days=days + 1 if closed else 1 + n % 3)
        services.approve(design.id, operator, now=opened)
        voters = backers if fate != "not_selected" else backers[:4]
        for i, voter in enumerate(voters):
            if (n + i) % 4 == 3 and not closed:
                continue  # not everyone has voted on everything yet
            score = 5 if fate in ("shortlisted", "selected") and i % 3 else 3 + (n + i) % 3
            buys = (n + i) % 2 == 0
            variant = design.variants[(n + i) % len(design.variants)].id if buys else None
            services.cast_vote(
                design.id, voter, score, buys, variant, now=opened + dt.timedelta(hours=i + 1)
            )
        if closed:
            services.close_voting(design.id, now=opened + dt.timedelta(days=days, seconds=1))
        if fate == "selected":
            services.select(design.id, operator)
    return created
