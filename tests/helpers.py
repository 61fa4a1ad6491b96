"""Helpers shared by tests: image bytes, files on disk."""

from __future__ import annotations

import io
import os

from PIL import Image


def png_bytes(width: int = 64, height: int = 64, colour=(200, 60, 90, 255)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def files_under(path: str) -> list[str]:
    return [os.path.join(d, f) for d, _, names in os.walk(path) for f in names]
