"""designs.images: uploads are decoded, cleaned and stored, or refused leaving no file.

Every image is built here with Pillow or by hand; nothing depends on the project's conftest.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile, PngImagePlugin
from werkzeug.datastructures import FileStorage

from designs import images
from designs.images import (
    DEFAULT_MAX_PIXELS,
    MAX_BYTES,
    ArtworkError,
    StoredArtwork,
    artwork_path,
    delete_artwork,
    store_artwork,
)
from tests.helpers import (
    bomb_png,
    cut_and_closed,
    files_under,
    jpeg_bytes,
    with_frame_size,
)

# --------------------------------------------------------------------------- helpers


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def upload(data: bytes, filename: str = "artwork.png") -> FileStorage:
    """What Flask hands to the view: the filename and Content-Type are the client's word."""
    return FileStorage(stream=io.BytesIO(data), filename=filename, content_type="image/png")


def store(data: bytes, tmp_path: Path, filename: str = "artwork.png") -> StoredArtwork:
    return store_artwork(upload(data, filename).stream, str(tmp_path))


def gradient(mode: str, size: tuple[int, int]) -> Image.Image:
    """A non-uniform picture, so that rotations and resizes are actually exercised."""
    base = Image.linear_gradient("L").resize(size)
    if mode == "L":
        return base
    image = Image.merge("RGB", (base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), base))
    if mode == "RGBA":
        image.putalpha(base)
    return image


# --------------------------------------------------------------------------- valid uploads


@pytest.mark.parametrize(
    ("fmt", "mode", "ext"),
    [("PNG", "RGBA", "png"), ("JPEG", "RGB", "jpg"), ("WEBP", "RGBA", "webp")],
)
def test_valid_image_is_stored_with_its_derived_webps(tmp_path, fmt, mode, ext):
    data = encode(gradient(mode, (2000, 1000)), fmt)

    stored = store(data, tmp_path)

    assert (stored.width, stored.height, stored.format) == (2000, 1000, fmt)
    original = artwork_path(str(tmp_path), stored.key, "original")
    assert original == str(tmp_path / "artwork" / stored.key / f"original.{ext}")
    assert stored.byte_size == os.path.getsize(original)
    with Image.open(original) as image:
        assert (image.format, image.size, image.mode) == (fmt, (2000, 1000), mode)
    for name, expected in (("detail", (1200, 600)), ("gallery", (480, 240))):
        with Image.open(artwork_path(str(tmp_path), stored.key, name)) as image:
            assert (image.format, image.size, image.mode) == ("WEBP", expected, mode)
    assert sorted(Path(p).name for p in files_under(tmp_path)) == [
        "detail.webp",
        "gallery.webp",
        f"original.{ext}",
    ]


def test_png_alpha_survives_in_original_and_derived_images(tmp_path):
    image = Image.new("RGBA", (64, 64), (255, 0, 0, 255))
    image.paste((0, 0, 255, 0), (0, 0, 32, 64))  # left half fully transparent

    stored = store(encode(image, "PNG"), tmp_path)

    for size in ("original", "detail", "gallery"):
        with Image.open(artwork_path(str(tmp_path), stored.key, size)) as result:
            assert result.mode == "RGBA"
            assert result.getpixel((5, 30))[3] == 0
            assert result.getpixel((60, 30))[3] == 255


def test_small_image_is_not_upscaled(tmp_path):
    stored = store(encode(gradient("RGB", (300, 200)), "PNG"), tmp_path)

    for size in ("detail", "gallery"):
        with Image.open(artwork_path(str(tmp_path), stored.key, size)) as image:
            assert image.size == (300, 200)


def test_tall_image_fits_the_derived_square_by_its_height(tmp_path):
    stored = store(encode(gradient("L", (500, 2500)), "PNG"), tmp_path)

    with Image.open(artwork_path(str(tmp_path), stored.key, "gallery")) as image:
        assert image.size == (96, 480)
    with Image.open(artwork_path(str(tmp_path), stored.key, "detail")) as image:
        assert image.size == (240, 1200)


def test_key_is_random_and_url_safe_not_the_client_filename(tmp_path):
    data = encode(gradient("RGB", (40, 30)), "PNG")

    first = store(data, tmp_path, filename="../../evil.png")
    second = store(data, tmp_path, filename="../../evil.png")

    assert first.key != second.key
    for key in (first.key, second.key):
        assert "evil" not in key
        assert images._KEY_RE.fullmatch(key)


def test_palette_png_with_transparency_is_stored_as_rgba(tmp_path):
    image = Image.new("P", (20, 20), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(0, (0, 0, 10, 20))
    data = encode(image, "PNG", transparency=0)

    stored = store(data, tmp_path)

    with Image.open(artwork_path(str(tmp_path), stored.key, "original")) as result:
        assert result.mode == "RGBA"
        assert "transparency" not in result.info
        assert result.getpixel((2, 2))[3] == 0
        assert result.getpixel((15, 2)) == (255, 0, 0, 255)


def test_sixteen_bit_greyscale_png_is_scaled_not_clipped(tmp_path):
    image = Image.new("I;16", (4, 1))
    for x, value in enumerate((0, 256 * 64, 256 * 128, 65535)):
        image.putpixel((x, 0), value)

    stored = store(encode(image, "PNG"), tmp_path)

    with Image.open(artwork_path(str(tmp_path), stored.key, "original")) as result:
        assert result.mode == "L"
        assert [result.getpixel((x, 0)) for x in range(4)] == [0, 64, 128, 255]


def test_cmyk_jpeg_is_stored_as_rgb(tmp_path):
    data = encode(Image.new("CMYK", (30, 20), (0, 255, 255, 0)), "JPEG")

    stored = store(data, tmp_path)

    with Image.open(artwork_path(str(tmp_path), stored.key, "original")) as result:
        assert (result.format, result.mode) == ("JPEG", "RGB")


# --------------------------------------------------------------------------- metadata


def test_jpeg_exif_and_gps_are_stripped_and_orientation_applied(tmp_path):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # "rotate 90° clockwise to display"
    exif[ExifTags.Base.Make] = "Acme Phone"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.0)
    camera = Image.new("RGB", (300, 200), "white")
    camera.paste((255, 0, 0), (0, 0, 30, 30))  # red mark in the top-left corner as shot
    data = encode(camera, "JPEG", exif=exif)
    with Image.open(io.BytesIO(data)) as check:  # the upload really carries GPS data
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)

    stored = store(data, tmp_path, filename="photo.jpg")

    assert (stored.width, stored.height) == (200, 300)
    for size in ("original", "detail", "gallery"):
        with Image.open(artwork_path(str(tmp_path), stored.key, size)) as result:
            assert result.size == (200, 300)
            assert not result.getexif()
            assert "exif" not in result.info
            assert "xmp" not in result.info
    with Image.open(artwork_path(str(tmp_path), stored.key, "original")) as result:
        red, green, _ = result.getpixel((190, 10))  # mark is now top-right
        assert red > 200 and green < 60


def test_png_text_chunk_and_icc_profile_are_stripped(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe, 12 Secret Street")
    info.add_itxt("Comment", "made on my laptop", zip=True)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(gradient("RGB", (50, 40)), "PNG", pnginfo=info, icc_profile=icc)
    with Image.open(io.BytesIO(data)) as check:
        assert check.info["Author"] and check.info["icc_profile"]

    stored = store(data, tmp_path)

    for size in ("original", "detail", "gallery"):
        with Image.open(artwork_path(str(tmp_path), stored.key, size)) as result:
            assert "icc_profile" not in result.info
            assert "Author" not in result.info
            assert "Comment" not in result.info
            assert not getattr(result, "text", {})
            assert not result.getexif()


def test_webp_exif_and_xmp_are_stripped(tmp_path):
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Acme Phone"
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    data = encode(gradient("RGB", (50, 40)), "WEBP", exif=exif, xmp=xmp)
    with Image.open(io.BytesIO(data)) as check:
        assert check.info.get("exif") and check.info.get("xmp")

    stored = store(data, tmp_path)

    with Image.open(artwork_path(str(tmp_path), stored.key, "original")) as result:
        assert not result.getexif()
        assert "exif" not in result.info
        assert "xmp" not in result.info


# --------------------------------------------------------------------------- refused uploads


def truncated_png() -> bytes:
    data = encode(gradient("RGB", (400, 300)), "PNG", compress_level=0)
    return data[: len(data) // 2]


def truncated_jpeg() -> bytes:
    data = jpeg_bytes(400, 300)
    return data[: len(data) // 2]


SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)

# name: (build the uploaded bytes, expected status, expected wording)
REFUSED = {
    "text file named .png": (lambda: b"just notes, not a picture\n" * 20, 422, "PNG, JPEG or WebP"),
    "truncated png": (truncated_png, 422, "damaged or incomplete"),
    "truncated jpeg": (truncated_jpeg, 422, "damaged or incomplete"),
    "too wide": (lambda: encode(Image.new("L", (7000, 100)), "PNG"), 422, "6,000"),
    "svg": (lambda: SVG, 422, "PNG, JPEG or WebP"),
    "pdf": (lambda: b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n", 422, "PNG, JPEG or WebP"),
    "gif": (lambda: encode(Image.new("P", (10, 10)), "GIF"), 422, "PNG, JPEG or WebP"),
    "bmp": (lambda: encode(Image.new("RGB", (10, 10)), "BMP"), 422, "PNG, JPEG or WebP"),
    "empty": (lambda: b"", 422, "empty"),
    "11 MB": (
        lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * (11 * 1024 * 1024),
        413,
        "larger than 10 MB",
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_bad_upload_is_refused_and_leaves_no_file(tmp_path, case):
    build, status, wording = REFUSED[case]

    with pytest.raises(ArtworkError) as refused:
        store(build(), tmp_path, filename="artwork.png")

    assert refused.value.status == status
    assert wording in refused.value.message
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(
    "size",
    [(20000, 20000), (10000, 10000)],
    ids=["beyond Pillow's error threshold", "beyond Pillow's warning threshold"],
)
def test_decompression_bomb_is_refused_and_leaves_no_file(tmp_path, size):
    data = bomb_png(*size)
    assert len(data) < 100_000

    with pytest.raises(ArtworkError) as refused:
        store(data, tmp_path)

    assert refused.value.status == 422
    assert "decompression bomb" in refused.value.message
    assert files_under(tmp_path) == []


def test_bomb_check_does_not_change_pillow_global_limit(tmp_path):
    before = Image.MAX_IMAGE_PIXELS

    with pytest.raises(ArtworkError):
        store(bomb_png(10000, 10000), tmp_path)

    assert before == Image.MAX_IMAGE_PIXELS


def test_size_check_comes_before_decoding_even_when_the_bomb_limit_is_off(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)

    with pytest.raises(ArtworkError) as refused:
        store(bomb_png(20000, 20000), tmp_path)

    assert refused.value.status == 422
    assert "6,000" in refused.value.message


# --------------------------------------------------------------------------- the pixel budget


def test_default_budget_admits_print_quality_art():
    # 5,000 × 5,000 (42 cm square at 300 dpi), an A3 poster at 300 dpi, a 24 MP camera.
    for width, height in ((5000, 5000), (3508, 4961), (6000, 4000)):
        assert width * height <= DEFAULT_MAX_PIXELS


def test_six_thousand_square_jpeg_is_refused_from_its_header_before_decoding(tmp_path, monkeypatch):
    data = encode(Image.new("L", (6000, 6000), 90), "JPEG")  # 36 MP in half a MB
    assert len(data) < 1_000_000

    def no_decoding(image):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)

    with pytest.raises(ArtworkError) as refused:
        store(data, tmp_path, filename="big.jpg")

    assert refused.value.status == 422
    assert "6,000 × 6,000 pixels" in refused.value.message
    assert "25,000,000 pixels" in refused.value.message
    assert files_under(tmp_path) == []


def test_pixel_budget_is_the_callers_and_inclusive(tmp_path):
    data = encode(gradient("RGB", (1000, 1000)), "PNG")

    stored = store_artwork(upload(data).stream, str(tmp_path), max_pixels=1_000_000)
    assert (stored.width, stored.height) == (1000, 1000)

    with pytest.raises(ArtworkError) as refused:
        store_artwork(upload(data).stream, str(tmp_path / "other"), max_pixels=999_999)
    assert "999,999 pixels" in refused.value.message
    assert files_under(tmp_path / "other") == []


# --------------------------------------------------------------------------- data that ends early

# A JPEG whose data stops before its last rows: libjpeg decodes the missing part as flat
# grey instead of failing. name: (bytes, pixel budget for the test)
ENDS_EARLY = {
    # The file: 320 × 240 of data under a 5999 × 5999 header (a budget that lets it
    # through the size checks, to show the data check alone refuses it).
    "5999x5999 header over 320x240 data": (
        lambda: with_frame_size(jpeg_bytes(320, 240), 5999, 5999),
        40_000_000,
    ),
    "2000x1500 header over 320x240 data": (
        lambda: with_frame_size(jpeg_bytes(320, 240), 2000, 1500),
        DEFAULT_MAX_PIXELS,
    ),
    "baseline cut at 60 %, then closed": (
        lambda: cut_and_closed(jpeg_bytes(600, 400), 0.6),
        DEFAULT_MAX_PIXELS,
    ),
    "progressive cut in its first scan, then closed": (
        lambda: cut_and_closed(jpeg_bytes(600, 400, progressive=True), 0.06),
        DEFAULT_MAX_PIXELS,
    ),
    "greyscale cut, then closed": (
        lambda: cut_and_closed(encode(gradient("L", (600, 400)), "JPEG"), 0.5),
        DEFAULT_MAX_PIXELS,
    ),
    "CMYK cut, then closed": (
        lambda: cut_and_closed(encode(gradient("RGB", (600, 400)).convert("CMYK"), "JPEG"), 0.5),
        DEFAULT_MAX_PIXELS,
    ),
}


@pytest.mark.parametrize("case", ENDS_EARLY, ids=list(ENDS_EARLY))
def test_jpeg_whose_data_ends_before_the_picture_is_refused(tmp_path, case):
    build, budget = ENDS_EARLY[case]

    with pytest.raises(ArtworkError) as refused:
        store_artwork(upload(build()).stream, str(tmp_path), max_pixels=budget)

    assert refused.value.status == 422
    assert "damaged or incomplete" in refused.value.message
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(
    ("fmt", "colour", "width"),
    [
        ("PNG", (128, 128, 128), 1.0),  # only JPEG fills missing data with grey
        ("JPEG", (128, 128, 128), 0.5),  # grey on half of the last rows only
        ("JPEG", (127, 127, 127), 1.0),  # not libjpeg's grey
    ],
    ids=["png with a mid-grey bottom band", "jpeg half-grey bottom", "jpeg near-grey bottom"],
)
def test_complete_image_with_a_grey_bottom_edge_is_stored(tmp_path, fmt, colour, width):
    image = gradient("RGB", (600, 400))
    image.paste(colour, (0, 360, int(600 * width), 400))

    stored = store(encode(image, fmt), tmp_path)

    assert (stored.width, stored.height) == (600, 400)


def test_reading_stops_just_past_the_limit(tmp_path):
    stream = io.BytesIO(b"\x00" * (MAX_BYTES * 3))

    with pytest.raises(ArtworkError) as refused:
        store_artwork(stream, str(tmp_path))

    assert refused.value.status == 413
    assert stream.tell() == MAX_BYTES + 1


def test_failure_while_writing_removes_the_whole_key_folder(tmp_path, monkeypatch):
    real_replace = os.replace

    def replace_then_fail(src, dst):
        if str(dst).endswith("gallery.webp"):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(images.os, "replace", replace_then_fail)

    with pytest.raises(OSError, match="disk full"):
        store(encode(gradient("RGB", (60, 40)), "PNG"), tmp_path)

    assert files_under(tmp_path) == []
    assert list((tmp_path / "artwork").iterdir()) == []


# --------------------------------------------------------------------------- paths and deletion


@pytest.mark.parametrize(
    "key",
    ["../../etc", "a/b", "../../../../etc/passwd", "short", "x" * 65, "abc.def-ghijklmnop", ""],
)
def test_artwork_path_refuses_implausible_keys(tmp_path, key):
    with pytest.raises(ValueError):
        artwork_path(str(tmp_path), key, "detail")
    with pytest.raises(ValueError):
        delete_artwork(str(tmp_path), key)


def test_artwork_path_refuses_unknown_sizes(tmp_path):
    key = "A" * 24
    assert artwork_path(str(tmp_path), key, "gallery").endswith(f"{key}/gallery.webp")
    for size in ("thumbnail", "../original", "", "ORIGINAL"):
        with pytest.raises(ValueError):
            artwork_path(str(tmp_path), key, size)


def test_artwork_path_original_is_missing_for_unknown_key(tmp_path):
    with pytest.raises(FileNotFoundError):
        artwork_path(str(tmp_path), "B" * 24, "original")


def test_delete_artwork_removes_the_folder_and_is_idempotent(tmp_path):
    keep = store(encode(gradient("RGB", (40, 30)), "JPEG"), tmp_path)
    gone = store(encode(gradient("RGB", (40, 30)), "WEBP"), tmp_path)

    delete_artwork(str(tmp_path), gone.key)
    delete_artwork(str(tmp_path), gone.key)

    assert not (tmp_path / "artwork" / gone.key).exists()
    assert Path(artwork_path(str(tmp_path), keep.key, "original")).is_file()
