"""Factories for designs: real artwork files, states set directly for test set-up."""

from __future__ import annotations

import datetime as dt
import io
import os

import pytest
import sqlalchemy as sa
from PIL import Image

from designs import images
from designs.models import Design, DesignState, DesignTag, DesignVariant, Product, Vote
from marketplace.dbtypes import utcnow
from marketplace.extensions import db


def png_bytes(width: int = 64, height: int = 64, colour=(200, 60, 90, 255)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def files_under(path: str) -> list[str]:
    return [os.path.join(d, f) for d, _, names in os.walk(path) for f in names]


@pytest.fixture
def upload_dir(app):
    """The app's upload folder, emptied for this test."""
    path = app.config["UPLOAD_DIR"]
    for file in files_under(path):
        os.remove(file)
    return path


@pytest.fixture
def product_id(app, ctx) -> int:
    with ctx():
        return db.session.scalar(sa.select(Product.id).where(Product.name == "T-shirt"))


@pytest.fixture
def make_design(app, ctx, make_user, product_id, upload_dir):
    """Create a design in any state; returns its id."""
    counter = iter(range(1, 100_000))
    artwork = png_bytes()

    def make(
        designer_id: int | None = None,
        *,
        state: DesignState = DesignState.VOTING,
        title: str | None = None,
        tags: tuple[str, ...] = (),
        variants: tuple[str, ...] = ("S", "M", "L"),
        closes_in: dt.timedelta = dt.timedelta(days=7),
        votes: tuple[tuple[int, int, bool], ...] = (),
        rank_score: float | None = None,
    ) -> int:
        n = next(counter)
        if designer_id is None:
            designer_id = make_user(f"designer{n}@example.com", designer=True, name=f"Designer {n}")
        stored = images.store_artwork(io.BytesIO(artwork), upload_dir)
        with ctx():
            now = utcnow()
            design = Design(
                designer_id=designer_id,
                product_id=product_id,
                title=title or f"Design number {n}",
                description="Line one\nLine two",
                state=state,
                artwork_key=stored.key,
                artwork_width=stored.width,
                artwork_height=stored.height,
                artwork_format=stored.format,
                tags=[DesignTag(tag=t) for t in tags],
                variants=[DesignVariant(label=v, position=i) for i, v in enumerate(variants)],
                rank_score=rank_score,
            )
            if state != DesignState.DRAFT:
                design.terms_version = app.config["DESIGNER_TERMS_VERSION"]
                design.submitted_at = now
            if state not in (DesignState.DRAFT, DesignState.SUBMITTED, DesignState.DECLINED):
                design.voting_opens_at = now - dt.timedelta(days=1)
                design.voting_closes_at = now + closes_in
            db.session.add(design)
            db.session.flush()
            for user_id, score, would_buy in votes:
                db.session.add(
                    Vote(design_id=design.id, user_id=user_id, score=score, would_buy=would_buy)
                )
                design.vote_count += 1
                design.score_sum += score
                design.buy_count += int(would_buy)
            db.session.commit()
            return design.id

    return make
