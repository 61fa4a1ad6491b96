"""Generated artwork for the demo designs: several styles, each drawn and coloured from a seed,
so that the catalogue looks like one (not the same poster in six colours) and every run of the
demo draws the same pictures.

Each style draws with Pillow's primitives (shapes, lines, text), never pixel by pixel in
Python, so that the whole demo set takes a fraction of a second.
"""

from __future__ import annotations

import colorsys
import io
import math
from collections.abc import Callable
from random import Random

from PIL import Image, ImageDraw, ImageFont

Colour = tuple[int, int, int]


class Palette:
    """Colours that go together, from a seed: a background, an ink, and accents around a
    base hue (its neighbours and its complement)."""

    def __init__(self, rng: Random):
        hue = rng.random()
        dark = rng.random() < 0.4
        self.background = _hsv(hue, 0.25 + 0.3 * rng.random(), 0.15 if dark else 0.96)
        self.ink = _hsv(hue + 0.5, 0.3, 0.95 if dark else 0.14)
        spread = 0.05 + 0.1 * rng.random()
        self.accents = [
            _hsv(hue + offset, 0.55 + 0.4 * rng.random(), 0.65 + 0.3 * rng.random())
            for offset in (0.0, spread, -spread, 0.5, 0.5 + spread)
        ]

    def pick(self, rng: Random) -> Colour:
        return rng.choice(self.accents)


def _hsv(hue: float, saturation: float, value: float) -> Colour:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, min(saturation, 1.0), min(value, 1.0))
    return int(r * 255), int(g * 255), int(b * 255)


def _mix(a: Colour, b: Colour, t: float) -> Colour:
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b, strict=True))


def _gradient(draw: ImageDraw.ImageDraw, size: int, top: Colour, bottom: Colour) -> None:
    for y in range(0, size, 4):
        draw.rectangle([0, y, size, y + 4], fill=_mix(top, bottom, y / size))


# --- the styles -------------------------------------------------------------------------------


def geometric(draw: ImageDraw.ImageDraw, size: int, rng: Random, palette: Palette, text: str):
    """A grid of tiles, each a circle, a square, a triangle or a quarter disc."""
    cells = rng.choice((4, 5, 6, 8))
    step = size / cells
    for row in range(cells):
        for col in range(cells):
            x0, y0 = col * step, row * step
            x1, y1 = x0 + step, y0 + step
            if rng.random() < 0.5:
                draw.rectangle([x0, y0, x1, y1], fill=palette.pick(rng))
            fill = palette.pick(rng)
            shape = rng.randrange(4)
            pad = step * 0.12
            if shape == 0:
                draw.ellipse([x0 + pad, y0 + pad, x1 - pad, y1 - pad], fill=fill)
            elif shape == 1:
                draw.rectangle([x0 + 2 * pad, y0 + 2 * pad, x1 - 2 * pad, y1 - 2 * pad], fill=fill)
            elif shape == 2:
                corners = [(x0, y1), (x1, y1), (x1, y0), (x0, y0)]
                turn = rng.randrange(4)
                draw.polygon([corners[(turn + i) % 4] for i in range(3)], fill=fill)
            else:
                corner = rng.randrange(4)
                cx, cy = (x0, x1, x1, x0)[corner], (y0, y0, y1, y1)[corner]
                draw.pieslice(
                    [cx - step, cy - step, cx + step, cy + step],
                    corner * 90,
                    corner * 90 + 90,
                    fill=fill,
                )


def radial(draw: ImageDraw.ImageDraw, size: int, rng: Random, palette: Palette, text: str):
    """Concentric rings around an off-centre point, crossed by sunburst rays."""
    cx = size * (0.3 + 0.4 * rng.random())
    cy = size * (0.3 + 0.4 * rng.random())
    rays = rng.choice((0, 12, 18, 24))
    reach = size * 1.5
    for i in range(rays):
        if i % 2:
            continue
        a0 = 2 * math.pi * i / rays
        a1 = 2 * math.pi * (i + 1) / rays
        draw.polygon(
            [
                (cx, cy),
                (cx + reach * math.cos(a0), cy + reach * math.sin(a0)),
                (cx + reach * math.cos(a1), cy + reach * math.sin(a1)),
            ],
            fill=_mix(palette.background, palette.accents[3], 0.35),
        )
    rings = rng.randint(5, 11)
    outer = size * (0.35 + 0.25 * rng.random())
    for i in range(rings):
        r = outer * (1 - i / rings)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=palette.accents[i % 3 if i % 2 else 3])


def waves(draw: ImageDraw.ImageDraw, size: int, rng: Random, palette: Palette, text: str):
    """Bands of sine waves (or straight diagonal stripes), each band its own colour."""
    bands = rng.randint(6, 12)
    frequency = rng.uniform(1.0, 4.0)
    amplitude = size * rng.uniform(0.0, 0.06)
    tilt = rng.uniform(-0.4, 0.4)
    phase = rng.uniform(0, 2 * math.pi)
    for band in range(bands + 2, -1, -1):
        base = size * band / bands
        points = [
            (
                x,
                base
                + tilt * (x - size / 2)
                + amplitude * math.sin(phase + band * 0.6 + frequency * 2 * math.pi * x / size),
            )
            for x in range(0, size + 21, 20)
        ]
        draw.polygon([(0, -size), *points, (size, -size)], fill=palette.accents[band % 5])


def badge(draw: ImageDraw.ImageDraw, size: int, rng: Random, palette: Palette, text: str):
    """A round typographic badge: the title's initials in a ring of dots, on stripes."""
    stripe = size // rng.choice((10, 14, 20))
    for i, x in enumerate(range(-size, size * 2, stripe * 2)):
        draw.polygon(
            [(x, 0), (x + stripe, 0), (x + stripe - size, size), (x - size, size)],
            fill=_mix(palette.background, palette.accents[i % 2], 0.25),
        )
    c = size / 2
    r = size * 0.36
    ring = [c - r, c - r, c + r, c + r]
    draw.ellipse(ring, fill=palette.accents[0], outline=palette.ink, width=8)
    inner = r * 0.82
    draw.ellipse([c - inner, c - inner, c + inner, c + inner], outline=palette.ink, width=3)
    dots = rng.choice((16, 24, 32))
    for i in range(dots):
        a = 2 * math.pi * i / dots
        x, y = c + r * 0.91 * math.cos(a), c + r * 0.91 * math.sin(a)
        draw.ellipse([x - 5, y - 5, x + 5, y + 5], fill=palette.ink)
    initials = "".join(w[0] for w in text.split() if w[:1].isalnum())[:3].upper() or "CO"
    font = ImageFont.load_default(size=int(size * (0.3 if len(initials) < 3 else 0.22)))
    draw.text((c, c), initials, fill=palette.ink, font=font, anchor="mm")
    stars = rng.randint(0, 5)
    for i in range(stars):
        x = c + (i - (stars - 1) / 2) * size * 0.06
        y = c + inner * 0.68
        draw.regular_polygon((x, y, size * 0.018), 5, fill=palette.ink)


def mosaic(draw: ImageDraw.ImageDraw, size: int, rng: Random, palette: Palette, text: str):
    """Tiles split along one diagonal or the other, like a quilt."""
    cells = rng.choice((8, 10, 12, 16))
    step = size / cells
    for row in range(cells):
        for col in range(cells):
            x0, y0 = col * step, row * step
            x1, y1 = x0 + step, y0 + step
            a, b = palette.pick(rng), palette.pick(rng)
            if rng.random() < 0.5:
                draw.polygon([(x0, y0), (x1, y0), (x0, y1)], fill=a)
                draw.polygon([(x1, y0), (x1, y1), (x0, y1)], fill=b)
            else:
                draw.polygon([(x0, y0), (x1, y0), (x1, y1)], fill=a)
                draw.polygon([(x0, y0), (x0, y1), (x1, y1)], fill=b)


def landscape(draw: ImageDraw.ImageDraw, size: int, rng: Random, palette: Palette, text: str):
    """A sky, a sun or a moon, and ridges of mountains fading into the distance."""
    sky_top, sky_bottom = palette.accents[3], palette.accents[1]
    _gradient(draw, size, sky_top, _mix(sky_bottom, (255, 255, 255), 0.3))
    r = size * rng.uniform(0.07, 0.16)
    sx, sy = size * rng.uniform(0.2, 0.8), size * rng.uniform(0.15, 0.45)
    glow = _mix(palette.accents[0], (255, 255, 255), 0.5)
    draw.ellipse([sx - r, sy - r, sx + r, sy + r], fill=glow)
    ridges = rng.randint(3, 5)
    for ridge in range(ridges):
        t = (ridge + 1) / ridges
        base = size * (0.45 + 0.4 * t)
        colour = _mix(sky_bottom, palette.ink, t * 0.9)
        points, x = [], 0.0
        while x <= size:
            points.append((x, base - size * 0.25 * (1 - t * 0.5) * rng.random()))
            x += size * rng.uniform(0.05, 0.15)
        points.append((size, base - size * 0.1 * rng.random()))
        draw.polygon([(0, size), *points, (size, size)], fill=colour)


#: name -> how it draws; the demo goes through them in turn, so that neighbours differ.
STYLES: dict[str, Callable] = {
    "geometric": geometric,
    "radial": radial,
    "waves": waves,
    "badge": badge,
    "mosaic": mosaic,
    "landscape": landscape,
}


def style_of(seed: int) -> str:
    return list(STYLES)[seed % len(STYLES)]


def artwork(seed: int, text: str = "", size: int = 800) -> bytes:
    """A PNG in the style ``style_of(seed)``, drawn and coloured from ``seed`` (the same seed
    draws the same picture); ``text`` is what a typographic style writes (the title)."""
    rng = Random(f"cocrea-demo-{seed}")
    palette = Palette(rng)
    img = Image.new("RGB", (size, size), palette.background)
    STYLES[style_of(seed)](ImageDraw.Draw(img), size, rng, palette, text)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
