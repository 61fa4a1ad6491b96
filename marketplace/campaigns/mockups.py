"""The product picture of a campaign: the design's artwork printed on a drawing of the product.

Backers decide on the thing they will receive, not on a flat artwork, so a campaign opens with
a mockup made here with Pillow: a template per kind of product (t-shirt, poster, mug, tote
bag; a framed print for anything else), the artwork fitted into the template's print area.
The result is stored like an upload (designs.images), so it is served and deleted the same
way. Templates are drawn from shapes rather than photographs so that the repository carries
no image whose licence would need checking, and so that any artwork size fits.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from designs import images

SIDE = 1200
_BACKGROUND = (241, 238, 233)
_SHADOW = (0, 0, 0, 70)

#: Print area: (left, top, right, bottom) in a SIDE × SIDE canvas.
Box = tuple[int, int, int, int]


def make_mockup(artwork: Image.Image, product_name: str) -> Image.Image:
    """The artwork on the product that ``product_name`` names ("Orbit T-shirt" -> a tee)."""
    draw_template = _template_for(product_name)
    canvas = Image.new("RGB", (SIDE, SIDE), _BACKGROUND)
    product = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0))
    box = draw_template(ImageDraw.Draw(product))
    _drop_shadow(canvas, product)
    canvas.paste(product, (0, 0), product)
    _print(canvas, artwork, box)
    return canvas


def store_mockup(artwork_path: str, product_name: str, upload_dir: str) -> images.StoredArtwork:
    """Make the mockup from a stored artwork and store it; the caller records (or deletes) it."""
    with Image.open(artwork_path) as source:
        source.load()
        mockup = make_mockup(source, product_name)
    return images.store_image(mockup, "PNG", upload_dir)


def _template_for(product_name: str) -> Callable[[ImageDraw.ImageDraw], Box]:
    name = product_name.lower()
    for words, template in _TEMPLATES:
        if any(word in name for word in words):
            return template
    return _framed_print


def _drop_shadow(canvas: Image.Image, product: Image.Image) -> None:
    alpha = product.getchannel("A")
    shadow = Image.new("RGBA", product.size, _SHADOW)
    shadow.putalpha(alpha.point(lambda a: a * _SHADOW[3] // 255))
    shadow = shadow.filter(ImageFilter.GaussianBlur(18))
    canvas.paste(shadow, (14, 22), shadow)


def _print(canvas: Image.Image, artwork: Image.Image, box: Box) -> None:
    """Fit the artwork into the print area, centred, keeping its proportions."""
    left, top, right, bottom = box
    art = artwork.convert("RGBA")
    art = ImageOps.contain(art, (right - left, bottom - top), Image.Resampling.LANCZOS)
    x = left + (right - left - art.width) // 2
    y = top + (bottom - top - art.height) // 2
    canvas.paste(art, (x, y), art)


def _tshirt(draw: ImageDraw.ImageDraw) -> Box:
    body = [
        (410, 170),
        (500, 215),
        (600, 230),
        (700, 215),
        (790, 170),  # collar
        (1040, 300),
        (960, 500),
        (860, 450),  # right sleeve
        (860, 1060),
        (340, 1060),  # hem
        (340, 450),
        (240, 500),
        (160, 300),  # left sleeve
    ]
    draw.polygon(body, fill=(252, 252, 250), outline=(205, 202, 196), width=4)
    draw.arc((495, 140, 705, 260), 20, 160, fill=(205, 202, 196), width=6)
    return (440, 330, 760, 720)


def _poster(draw: ImageDraw.ImageDraw) -> Box:
    draw.rectangle((270, 110, 930, 1090), fill=(40, 38, 36))
    draw.rectangle((300, 140, 900, 1060), fill=(250, 249, 246))
    return (350, 190, 850, 1010)


def _framed_print(draw: ImageDraw.ImageDraw) -> Box:
    draw.rectangle((200, 200, 1000, 1000), fill=(120, 92, 62))
    draw.rectangle((240, 240, 960, 960), fill=(250, 249, 246))
    return (300, 300, 900, 900)


def _mug(draw: ImageDraw.ImageDraw) -> Box:
    draw.ellipse((780, 430, 1010, 780), outline=(235, 235, 232), width=48)
    draw.rounded_rectangle((250, 300, 860, 980), radius=40, fill=(252, 252, 250))
    draw.ellipse((250, 270, 860, 340), fill=(226, 224, 219))
    return (300, 420, 810, 880)


def _tote(draw: ImageDraw.ImageDraw) -> Box:
    draw.arc((380, 90, 620, 520), 180, 360, fill=(214, 198, 168), width=26)
    draw.arc((580, 90, 820, 520), 180, 360, fill=(214, 198, 168), width=26)
    draw.rectangle((260, 300, 940, 1080), fill=(232, 220, 196))
    return (350, 420, 850, 960)


_TEMPLATES: tuple[tuple[tuple[str, ...], Callable[[ImageDraw.ImageDraw], Box]], ...] = (
    (("shirt", "tee", "hoodie", "sweat"), _tshirt),
    (("poster", "affiche"), _poster),
    (("mug", "tasse", "cup"), _mug),
    (("tote", "bag", "sac"), _tote),
)
