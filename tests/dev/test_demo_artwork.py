"""The demo's artworks look like a catalogue: several styles, and no two pictures alike to the
eye (compared downscaled, as a visitor's glance over the gallery would), drawn the same on
every run."""

import io
import itertools

from PIL import Image, ImageChops, ImageStat

from dev.demo.artwork import STYLES, artwork, style_of
from dev.demo.designs import DESIGNS


def _demo_set() -> list[bytes]:
    """The pictures seed_designs draws, in its order."""
    return [artwork(n, title) for n, (title, *_) in enumerate(DESIGNS)]


def _thumbnail(png: bytes, side: int) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB").resize((side, side), Image.Resampling.BOX)


def _colour_distance(a: Image.Image, b: Image.Image) -> float:
    """Mean difference per pixel and channel, 0 (same) to 255."""
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def _difference_hash(png: bytes) -> list[bool]:
    """dHash: whether each of 8 x 8 cells is brighter than its right neighbour; near-identical
    pictures (one recoloured, one shifted a little) differ in few of these 64 bits."""
    grey = Image.open(io.BytesIO(png)).convert("L").resize((9, 8), Image.Resampling.BOX)
    px = grey.tobytes()
    return [px[r * 9 + c] > px[r * 9 + c + 1] for r in range(8) for c in range(8)]


def test_demo_artworks_differ_pairwise_to_the_eye():
    pngs = _demo_set()
    thumbs = [_thumbnail(png, 16) for png in pngs]
    hashes = [_difference_hash(png) for png in pngs]
    for i, j in itertools.combinations(range(len(pngs)), 2):
        names = f"{DESIGNS[i][0]!r} and {DESIGNS[j][0]!r}"
        # One template in other colours gave 2 to 5 here; distinct pictures give 45 and more.
        assert _colour_distance(thumbs[i], thumbs[j]) > 20, f"{names} look alike"
        # ... and 2 to 4 bits of 64; distinct pictures differ in 19 and more.
        assert sum(a != b for a, b in zip(hashes[i], hashes[j], strict=True)) >= 10, names


def test_the_demo_uses_every_style_and_draws_the_same_each_run():
    assert {style_of(n) for n in range(len(DESIGNS))} == set(STYLES)
    assert len(STYLES) >= 5
    assert artwork(3, "Coffee orbit") == artwork(3, "Coffee orbit")
    assert Image.open(io.BytesIO(artwork(3, "Coffee orbit"))).size == (800, 800)
