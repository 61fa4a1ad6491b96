"""Validation, cleaning and storage of the one artwork image each design carries, and of
designers' avatars (their accounts hold only the key; the files are handled here, with the same
checks as artwork).

An upload is trusted only after Pillow has decoded every pixel of it: the filename and the
Content-Type come from the client and prove nothing. What is stored is never the uploaded
file itself but a fresh re-encoding of its pixels, so that nothing the designer's camera or
editor embedded (GPS position, serial numbers, editing history, ICC profiles, text chunks)
is ever published, and so that a file crafted to exploit an image parser in someone's
browser does not survive.

Layout on disk, one folder per upload so that deleting or cleaning up is one ``rmtree``::

    {upload_dir}/artwork/{key}/original.{png|jpg|webp}
    {upload_dir}/artwork/{key}/detail.webp
    {upload_dir}/artwork/{key}/gallery.webp
    {upload_dir}/avatars/{key}/large.webp   (square, 256 px)
    {upload_dir}/avatars/{key}/small.webp   (square, 64 px)

The module keeps no state: every call works on its own bytes, images and key folder, so
threads and gunicorn workers can store uploads concurrently.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import re
import secrets
import shutil
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from marketplace.kernel.i18n import N_, number

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024  # 10 MB
MAX_SIDE = 6000  # px, width and height
#: The default pixel budget (the app passes ARTWORK_MAX_PIXELS). Decoding costs 4 bytes per
#: pixel whatever the file's size (Pillow keeps RGB as RGBX), so 25 MP is about 100 MB per
#: upload being checked. It still admits print-quality art: 5,000 × 5,000 is 42 cm square at
#: 300 dpi, more than a T-shirt or an A3 poster (3,508 × 4,961) needs, and a 24 MP camera
#: (6,000 × 4,000) fits.
DEFAULT_MAX_PIXELS = 25_000_000
ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP"}
SIZES = {"gallery": 480, "detail": 1200}  # max width AND height of the derived WebP images
#: The sides of an avatar's square WebP images. No original is kept: a profile picture is
#: only ever shown this small.
AVATAR_SIZES = {"large": 256, "small": 64}

# Only these decoders are ever run on an upload: fewer parsers, less attack surface.
_OPEN_FORMATS = ("PNG", "JPEG", "WEBP")
_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
_KEY_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SIZE_NAMES = frozenset({"original", *SIZES})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
# PNG modes that are stored as they are; anything else is converted.
_PNG_MODES = frozenset({"1", "L", "LA", "RGB", "RGBA"})

# The reasons of a refusal, in English: ArtworkError translates them when raised.
_UNSUPPORTED = N_("Only PNG, JPEG or WebP images are accepted.")
_DAMAGED = N_("The image file is damaged or incomplete.")
_BOMB = N_(
    "The image is refused as a decompression bomb: it declares far more pixels "
    "than the largest accepted (%(side)s × %(side)s)."
)
_INCOMPLETE = N_(
    "The image file is damaged or incomplete: its data ends before the picture does (the "
    "bottom rows decode as blank grey). If that grey band really is part of your artwork, "
    "upload it as PNG."
)
# What a truncated or corrupt file raises somewhere inside Pillow's decoders.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)


class ArtworkError(Exception):
    """A refused upload: ``message`` is safe to show to the person, in their language (it is
    given in English, with its named placeholders' values, and translated here); ``status``
    is the HTTP status to answer (413 for too large, 422 for everything else)."""

    def __init__(self, message: str, status: int = 422, **values) -> None:
        message = _(message, **values)
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class StoredArtwork:
    key: str  # random and url-safe; never derived from the client's filename
    width: int  # of the stored original, after the EXIF orientation was applied
    height: int
    format: str  # "PNG" | "JPEG" | "WEBP": the format of the stored original
    byte_size: int  # size of the stored original file


def store_artwork(
    stream: IO[bytes], upload_dir: str, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> StoredArtwork:
    """Validate, clean and store one uploaded image; raise ArtworkError if it is refused.

    Everything that can refuse the upload runs before anything touches the disk, so a
    refused upload never creates a file. If writing fails half-way, the key's folder is
    removed before the error propagates: a failed upload leaves nothing behind.

    An image of more than ``max_pixels`` is refused from its header, before any pixel is
    decoded; an accepted one is held in memory once (plus the small derived images).
    """
    data = _read_limited(stream)
    image, fmt = _decode_clean(data, max_pixels)
    del data
    return store_image(image, fmt, upload_dir)


def chosen_files(files) -> list:
    """The files really chosen in a multiple file field (browsers send an empty part)."""
    return [f for f in files or () if getattr(f, "filename", "")]


@contextlib.contextmanager
def stored_uploads(
    uploads, upload_dir: str, max_pixels: int, error
) -> Iterator[list[StoredArtwork]]:
    """Store each upload like artwork and yield them. Whatever fails inside the block (a
    refused file, a broken rule, the commit), the files stored are deleted before the error
    goes on. A refused file raises ``error(message, status)`` naming it, with artwork's
    status (413 too large, 422 otherwise)."""
    stored: list[StoredArtwork] = []
    try:
        for upload in uploads:
            try:
                stored.append(store_artwork(upload.stream, upload_dir, max_pixels=max_pixels))
            except ArtworkError as exc:
                raise error(
                    _("“%(name)s”: %(reason)s", name=upload.filename[:80], reason=exc.message),
                    exc.status,
                ) from None
        yield stored
    except BaseException:
        for picture in stored:
            delete_artwork(upload_dir, picture.key)
        raise


def store_image(image: Image.Image, fmt: str, upload_dir: str) -> StoredArtwork:
    """Store an image made here (a campaign's mockup) with its derived sizes, in the same
    layout as an upload: served, replaced and deleted the same way."""
    derived = _derive_all(image)

    artwork_dir = os.path.join(upload_dir, "artwork")
    os.makedirs(artwork_dir, exist_ok=True)
    key, folder = _create_key_folder(artwork_dir)
    try:
        byte_size = _write_atomically(
            folder, f"original.{_EXTENSIONS[fmt]}", image, fmt, **_original_params(fmt)
        )
        for name, thumb in derived.items():
            _write_atomically(folder, f"{name}.webp", thumb, "WEBP", quality=82, method=4)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return StoredArtwork(
        key=key, width=image.width, height=image.height, format=fmt, byte_size=byte_size
    )


def delete_artwork(upload_dir: str, key: str) -> None:
    """Remove everything stored for ``key``; calling it for an absent key is not an error,
    so that deleting a design twice, or from two workers at once, is harmless."""
    _delete_folder(_key_folder(upload_dir, key))


def artwork_path(upload_dir: str, key: str, size: str) -> str:
    """The path of one stored image, ``size`` being "original", "detail" or "gallery".

    ``key`` usually arrives from a URL, so it is checked to be a plausible token before it
    is joined to a path: "../../etc" or "a/b" can never point outside ``upload_dir``.
    The original's extension depends on its format, hence the lookup; FileNotFoundError if
    there is no original for that key.
    """
    if size not in _SIZE_NAMES:
        raise ValueError(f"unknown artwork size {size!r}")
    folder = _key_folder(upload_dir, key)
    if size != "original":
        return os.path.join(folder, f"{size}.webp")
    for ext in _EXTENSIONS.values():
        path = os.path.join(folder, f"original.{ext}")
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"no original artwork stored for key {key!r}")


def store_avatar(
    stream: IO[bytes], upload_dir: str, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> str:
    """Validate an uploaded picture as artwork is (same limits, same refusals), crop it to
    its centred square and store it in the AVATAR_SIZES; returns its new random key. As with
    artwork, a refused upload touches no disk and a failed write leaves no folder."""
    data = _read_limited(stream)
    image, _fmt = _decode_clean(data, max_pixels)
    del data
    squares = _squares(image)
    del image

    avatars_dir = os.path.join(upload_dir, "avatars")
    os.makedirs(avatars_dir, exist_ok=True)
    key, folder = _create_key_folder(avatars_dir)
    try:
        for name, square in squares.items():
            _write_atomically(folder, f"{name}.webp", square, "WEBP", quality=85, method=4)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return key


def delete_avatar(upload_dir: str, key: str) -> None:
    """Remove an avatar's files; harmless for an absent key, as ``delete_artwork`` is."""
    _delete_folder(_key_folder(upload_dir, key, "avatars"))


def avatar_path(upload_dir: str, key: str, size: str) -> str:
    """The path of an avatar's image, ``size`` being one of AVATAR_SIZES; ``key`` is checked
    as ``artwork_path`` checks it."""
    if size not in AVATAR_SIZES:
        raise ValueError(f"unknown avatar size {size!r}")
    return os.path.join(_key_folder(upload_dir, key, "avatars"), f"{size}.webp")


# --------------------------------------------------------------------------- internals


def _read_limited(stream: IO[bytes]) -> bytes:
    """Read at most MAX_BYTES + 1 bytes: one byte more than allowed is enough to know the
    upload is too large without ever holding an arbitrarily large body in memory."""
    chunks: list[bytes] = []
    remaining = MAX_BYTES + 1
    while remaining > 0:
        chunk = stream.read(min(remaining, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    data = b"".join(chunks)
    if len(data) > MAX_BYTES:
        raise ArtworkError(
            N_("The image is larger than %(megabytes)s MB."),
            413,
            megabytes=number(MAX_BYTES // (1024 * 1024)),
        )
    if not data:
        raise ArtworkError(N_("The file is empty."))
    return data


def _decode_clean(data: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    """Decode ``data`` and return a metadata-free image with its format.

    Pillow reports a DecompressionBombWarning for images above Image.MAX_IMAGE_PIXELS;
    it is turned into an error here, locally, rather than by changing global settings
    that other code relies on. Other warnings (a slightly corrupt EXIF block is common in
    phone pictures) are recorded and logged instead of failing the upload.
    ``catch_warnings`` touches process-wide state, which a concurrent thread may disturb;
    the explicit checks of the header's size (MAX_SIDE, ``max_pixels``) are what really bound
    the memory spent on pixels, Pillow's threshold being the backstop behind them.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            result = _decode(data, max_pixels)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ArtworkError(_BOMB, side=number(MAX_SIDE)) from exc
    for warning in caught:
        log.info("Pillow warned while decoding an upload: %s", warning.message)
    return result


def _decode(data: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    try:
        opened = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except UnidentifiedImageError as exc:
        raise ArtworkError(_UNSUPPORTED) from exc
    except _DECODE_ERRORS as exc:  # recognised by its signature, but the header is broken
        raise ArtworkError(_DAMAGED) from exc
    with opened as src:
        # A multi-picture JPEG (MPO, as some cameras and phones write) is a JPEG whose
        # first picture is the photo: it is accepted and stored as a plain JPEG.
        fmt = "JPEG" if src.format == "MPO" else src.format
        if fmt not in ALLOWED_FORMATS:
            raise ArtworkError(_UNSUPPORTED)
        # The header alone gives the dimensions. Checking them before load() means a
        # small file that declares a huge canvas is refused before any memory is spent
        # on its pixels.
        width, height = src.size
        if width > MAX_SIDE or height > MAX_SIDE:
            raise ArtworkError(
                N_(
                    "The image is %(width)s × %(height)s pixels; the largest accepted is "
                    "%(side)s × %(side)s."
                ),
                width=number(width),
                height=number(height),
                side=number(MAX_SIDE),
            )
        if width * height > max_pixels:
            side = math.isqrt(max_pixels)
            raise ArtworkError(
                N_(
                    "The image is %(width)s × %(height)s pixels, %(pixels)s in all; the most "
                    "accepted is %(most)s pixels (%(megapixels)s megapixels, e.g. %(side)s × "
                    "%(side)s)."
                ),
                width=number(width),
                height=number(height),
                pixels=number(width * height),
                most=number(max_pixels),
                megapixels=number(max_pixels / 1_000_000),
                side=number(side),
            )
        try:
            # Decode every pixel now: a truncated file must be refused here, not served
            # half-grey later. LOAD_TRUNCATED_IMAGES is deliberately left off.
            src.load()
            if fmt == "JPEG" and _ends_in_missing_data(src):
                raise ArtworkError(_INCOMPLETE)
            ImageOps.exif_transpose(src, in_place=True)
            return _fresh_copy(src, _target_mode(src, fmt)), fmt
        except _DECODE_ERRORS as exc:
            raise ArtworkError(_DAMAGED) from exc


def _ends_in_missing_data(image: Image.Image) -> bool:
    """Whether the JPEG's data ran out before its last rows.

    libjpeg does not fail on a scan that ends early (a file whose header claims more pixels
    than its data carries, or one cut short and closed with an end marker): it warns, and
    decodes every missing block as all-zero coefficients, which is exactly mid-grey (128 in
    every channel; 127 in Adobe's inverted CMYK). Pillow drops libjpeg's warnings, so the
    trace left is in the pixels: the last 8 rows, one full row of blocks, uniformly that
    grey across the whole width. A cut within the last row of blocks is not seen, and
    artwork whose bottom edge really is flat #808080 is refused too (PNG carries it).
    """
    grey = 127 if image.mode == "CMYK" else 128
    width, height = image.size
    strip = image.crop((0, max(0, height - 8), width, height))
    extrema = strip.getextrema()
    bands = extrema if isinstance(extrema[0], tuple) else (extrema,)
    return all(band == (grey, grey) for band in bands)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def _target_mode(image: Image.Image, fmt: str) -> str:
    """The mode to store in: JPEG is always RGB; PNG keeps its common modes; anything
    exotic (CMYK, palette, 16-bit...) becomes RGB or RGBA so every browser shows it."""
    if fmt == "JPEG":
        return "RGB"
    if fmt == "PNG" and image.mode in _PNG_MODES and "transparency" not in image.info:
        return image.mode
    if fmt == "PNG" and image.mode.startswith("I;16"):
        return "L"
    return "RGBA" if _has_alpha(image) else "RGB"


def _fresh_copy(image: Image.Image, mode: str) -> Image.Image:
    """Only the pixels, in a brand-new image.

    Savers fall back on ``image.info`` for some metadata (PNG re-embeds the ICC profile
    found there, for instance), so clearing a few keys is not enough: a new image has no
    info, no EXIF and no palette history to leak. It is built around the decoded pixels
    rather than a copy of them: ``Image.new`` + ``paste`` would hold the picture twice, the
    largest memory cost of an upload. Pillow has no public call that wraps existing pixels
    in a new image; ``_new`` is what ``copy()`` and ``convert()`` use, and called on an empty
    image it copies an empty ``info``. (``mode`` is never "P" here, so no palette is carried.)
    """
    if image.mode.startswith("I;16") and mode == "L":
        # A plain convert() would clip every value above 255 to white: scale instead.
        pixels = image.convert("I").point(lambda value: value / 256).convert("L")
    elif image.mode != mode:
        pixels = image.convert(mode)  # also honours a tRNS colour key when going to RGBA
    else:
        pixels = image
    return Image.Image()._new(pixels.im)


def _derive_all(image: Image.Image) -> dict[str, Image.Image]:
    """The derived WebP images, largest first, each resized from the previous one: only
    the first resize reads the full picture (and with ``reducing_gap`` it first shrinks it
    by an integer factor, as ``thumbnail()`` does), so the others cost next to nothing."""
    derived: dict[str, Image.Image] = {}
    source = image
    for name, side in sorted(SIZES.items(), key=lambda item: -item[1]):
        derived[name] = source = _derive(source, side)
    return derived


def _derive(image: Image.Image, side: int) -> Image.Image:
    """A new image fitting within side × side, never enlarged. Unlike ``thumbnail()``,
    which works in place and so needs a full-size copy first, ``resize()`` only allocates
    the result; the mode is changed on that small result."""
    width, height = image.size
    scale = min(1.0, side / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    source = image.convert("L") if image.mode == "1" else image  # "1" would resize unfiltered
    thumb = source.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    return thumb.convert("RGBA" if _has_alpha(image) else "RGB")


def _squares(image: Image.Image) -> dict[str, Image.Image]:
    """The centred square of ``image`` in each of AVATAR_SIZES, never enlarged: the largest
    is resized from the crop box of the full picture (no full-size copy is made), each
    smaller one from the one before, as ``_derive_all`` does."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    box = (left, top, left + side, top + side)
    source = image.convert("L") if image.mode == "1" else image  # "1" would resize unfiltered
    mode = "RGBA" if _has_alpha(image) else "RGB"
    squares: dict[str, Image.Image] = {}
    for name, target in sorted(AVATAR_SIZES.items(), key=lambda item: -item[1]):
        target = min(target, side)
        source = source.resize(
            (target, target), Image.Resampling.LANCZOS, box=box, reducing_gap=2.0
        )
        box = (0, 0, target, target)
        side = target
        squares[name] = source.convert(mode)
    return squares


def _original_params(fmt: str) -> dict[str, object]:
    # No exif=, icc_profile= or pnginfo=: nothing but pixels is written.
    if fmt == "JPEG":
        # Not optimize=True: its second pass buffers the whole image's coefficients (40 MB
        # more at 25 MP, and twice the time) for a file about 12 % smaller.
        return {"quality": 92}
    if fmt == "WEBP":
        return {"quality": 90, "method": 4}
    return {}


def _create_key_folder(artwork_dir: str) -> tuple[str, str]:
    """Create the folder of a new random key. mkdir without exist_ok makes the folder
    ours alone, even with several workers; a collision (practically impossible with 144
    random bits) simply draws another key."""
    for _attempt in range(5):
        key = secrets.token_urlsafe(18)
        folder = os.path.join(artwork_dir, key)
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue
        return key, folder
    raise RuntimeError("could not allocate a fresh artwork key")


def _write_atomically(
    folder: str, name: str, image: Image.Image, fmt: str, **params: object
) -> int:
    """Write to a temporary name in the same folder, then os.replace() it into place, so
    that a reader never sees a half-written file. The folder belongs to this upload only,
    so a fixed temporary name cannot clash. Returns the number of bytes written."""
    tmp = os.path.join(folder, f".{name}.tmp")
    try:
        with open(tmp, "xb") as fh:
            image.save(fh, format=fmt, **params)
            fh.flush()
            os.fsync(fh.fileno())
            size = fh.tell()
        os.replace(tmp, os.path.join(folder, name))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return size


def _delete_folder(folder: str) -> None:
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        # Either it was never there, or a concurrent delete removed part of it under our
        # feet: finish whatever is left.
        shutil.rmtree(folder, ignore_errors=True)


def _key_folder(upload_dir: str, key: str, kind: str = "artwork") -> str:
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise ValueError(f"not a valid {kind} key")
    return os.path.join(upload_dir, kind, key)
