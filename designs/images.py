"""Validation, cleaning and storage of the one artwork image each design carries.

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

The module keeps no state: every call works on its own bytes, images and key folder, so
threads and gunicorn workers can store uploads concurrently.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import secrets
import shutil
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024  # 10 MB
MAX_SIDE = 6000  # px, width and height
ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP"}
SIZES = {"gallery": 480, "detail": 1200}  # max width AND height of the derived WebP images

# Only these decoders are ever run on an upload: fewer parsers, less attack surface.
_OPEN_FORMATS = ("PNG", "JPEG", "WEBP")
_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
_KEY_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SIZE_NAMES = frozenset({"original", *SIZES})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
# PNG modes that are stored as they are; anything else is converted.
_PNG_MODES = frozenset({"1", "L", "LA", "RGB", "RGBA"})

_UNSUPPORTED = "Only PNG, JPEG or WebP images are accepted."
_DAMAGED = "The image file is damaged or incomplete."
_BOMB = (
    "The image is refused as a decompression bomb: it declares far more pixels "
    f"than the largest accepted ({MAX_SIDE:,} × {MAX_SIDE:,})."
)
# What a truncated or corrupt file raises somewhere inside Pillow's decoders.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)


class ArtworkError(Exception):
    """A refused upload: ``message`` is safe to show to the person, ``status`` is the HTTP
    status to answer (413 for too large, 422 for everything else)."""

    def __init__(self, message: str, status: int = 422) -> None:
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


def store_artwork(stream: IO[bytes], upload_dir: str) -> StoredArtwork:
    """Validate, clean and store one uploaded image; raise ArtworkError if it is refused.

    Everything that can refuse the upload runs before anything touches the disk, so a
    refused upload never creates a file. If writing fails half-way, the key's folder is
    removed before the error propagates: a failed upload leaves nothing behind.
    """
    data = _read_limited(stream)
    image, fmt = _decode_clean(data)
    del data
    derived = {name: _derive(image, side) for name, side in SIZES.items()}

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
    folder = _key_folder(upload_dir, key)
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        # Either it was never there, or a concurrent delete removed part of it under our
        # feet: finish whatever is left.
        shutil.rmtree(folder, ignore_errors=True)


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
        raise ArtworkError("The image is larger than 10 MB.", 413)
    if not data:
        raise ArtworkError("The file is empty.")
    return data


def _decode_clean(data: bytes) -> tuple[Image.Image, str]:
    """Decode ``data`` and return a metadata-free image with its format.

    Pillow reports a DecompressionBombWarning for images above Image.MAX_IMAGE_PIXELS;
    it is turned into an error here, locally, rather than by changing global settings
    that other code relies on. Other warnings (a slightly corrupt EXIF block is common in
    phone pictures) are recorded and logged instead of failing the upload.
    ``catch_warnings`` touches process-wide state, which a concurrent thread may disturb;
    the explicit MAX_SIDE check is what really bounds the memory spent on pixels, since
    MAX_SIDE × MAX_SIDE is well below Pillow's bomb threshold.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            result = _decode(data)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ArtworkError(_BOMB) from exc
    for warning in caught:
        log.info("Pillow warned while decoding an upload: %s", warning.message)
    return result


def _decode(data: bytes) -> tuple[Image.Image, str]:
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
                f"The image is {width:,} × {height:,} pixels; "
                f"the largest accepted is {MAX_SIDE:,} × {MAX_SIDE:,}."
            )
        try:
            # Decode every pixel now: a truncated file must be refused here, not served
            # half-grey later. LOAD_TRUNCATED_IMAGES is deliberately left off.
            src.load()
            ImageOps.exif_transpose(src, in_place=True)
            return _fresh_copy(src, _target_mode(src, fmt)), fmt
        except _DECODE_ERRORS as exc:
            raise ArtworkError(_DAMAGED) from exc


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
    """Copy only the pixels into a brand-new image.

    Savers fall back on ``image.info`` for some metadata (PNG re-embeds the ICC profile
    found there, for instance), so clearing a few keys is not enough: a new image has no
    info, no EXIF and no palette history to leak.
    """
    if image.mode.startswith("I;16") and mode == "L":
        # A plain convert() would clip every value above 255 to white: scale instead.
        pixels = image.convert("I").point(lambda value: value / 256).convert("L")
    elif image.mode != mode:
        pixels = image.convert(mode)  # also honours a tRNS colour key when going to RGBA
    else:
        pixels = image
    fresh = Image.new(mode, pixels.size)
    fresh.paste(pixels, (0, 0))
    return fresh


def _derive(image: Image.Image, side: int) -> Image.Image:
    """A copy fitting within side × side; thumbnail() never enlarges a small image."""
    thumb = image.convert("RGBA" if _has_alpha(image) else "RGB")
    thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
    return thumb


def _original_params(fmt: str) -> dict[str, object]:
    # No exif=, icc_profile= or pnginfo=: nothing but pixels is written.
    if fmt == "JPEG":
        return {"quality": 92, "optimize": True}
    if fmt == "WEBP":
        return {"quality": 90, "method": 4}
    return {}


def _create_key_folder(artwork_dir: str) -> tuple[str, str]:
    """Create the folder of a new random key. mkdir without exist_ok makes the folder
    ours alone, even with several workers; a collision (practically impossible with 144
    random bits) simply draws another key."""
    for _ in range(5):
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


def _key_folder(upload_dir: str, key: str) -> str:
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise ValueError("not a valid artwork key")
    return os.path.join(upload_dir, "artwork", key)
