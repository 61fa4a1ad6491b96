"""``python -m bench.upload_memory``: what checking one uploaded artwork costs in memory and time.

An upload is decoded, cleaned and stored by ``designs.images.store_artwork``; its pixels, not
its bytes, set the cost: a 4 MB JPEG of 6000 × 6000 decodes to 144 MB (Pillow keeps RGB as
4 bytes a pixel). For each image below, a fresh Python process imports the module, reads the
file, then calls ``store_artwork`` on it into a temporary folder. It reports the wall time of
that call and its peak resident memory (``VmHWM`` in ``/proc/self/status``) before and after
it; the difference (**+MB**) is what the check itself cost, since nothing else runs there.

Images (built once, in a temporary folder, with Pillow):

- ``6000x6000 jpeg``: the issue's case, 36 MP;
- ``5000x5000 jpeg``: 25 MP, the largest the default pixel budget accepts;
- ``3000x3000 jpeg``: a normal large artwork, 9 MP;
- ``5999x5999 header, 320x240 data``: a 3 KB JPEG whose header claims far more pixels than
  its data carries.

``--parallel N`` also runs N uploads of the 6000 × 6000 and of the 5000 × 5000 JPEG at once in
one process (threads, as a threaded server would) and reports that process's peak.

``--before REV`` measures ``designs/images.py`` as it was at a git revision too (taken with
``git show`` into a temporary folder; the module depends on Pillow only), next to the
checkout's: ``python -m bench.upload_memory --before 844f36f`` compares with the code before
the pixel budget.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parent.parent

# Runs in the fresh process: argv = image path, number of parallel uploads.
_CHILD = r"""
import io, json, sys, tempfile, threading, time
from designs import images

def hwm_kb():
    # VmHWM belongs to this process's own address space; ru_maxrss would also count the
    # parent's memory at fork time, which the exec'd child inherits.
    with open("/proc/self/status") as fh:
        return int(next(line for line in fh if line.startswith("VmHWM")).split()[1])

path, parallel = sys.argv[1], int(sys.argv[2])
with open(path, "rb") as fh:
    data = fh.read()
before = hwm_kb()
results = []

def one():
    with tempfile.TemporaryDirectory() as upload_dir:
        started = time.perf_counter()
        try:
            stored = images.store_artwork(io.BytesIO(data), upload_dir)
            outcome = f"stored {stored.width}x{stored.height}"
        except images.ArtworkError as exc:
            outcome = f"refused ({exc.status}): {exc.message}"
        results.append((time.perf_counter() - started, outcome))

threads = [threading.Thread(target=one) for _ in range(parallel)]
started = time.perf_counter()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "each": results, "rss_before_kb": before,
                  "rss_peak_kb": hwm_kb()}))
"""


def _detailed(size: tuple[int, int]) -> Image.Image:
    """A picture with gradients and texture, so that it compresses as a photo would."""
    base = Image.radial_gradient("L").resize(size)
    noise = Image.effect_noise((size[0] // 4, size[1] // 4), 40).resize(size)
    texture = Image.blend(base, noise, 0.35).filter(ImageFilter.SMOOTH)
    return Image.merge("RGB", (texture, base, texture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))


def _claims_more_than_it_carries() -> bytes:
    """A 320 × 240 JPEG whose frame header is rewritten to 5999 × 5999."""
    buf = io.BytesIO()
    _detailed((320, 240)).save(buf, "JPEG", quality=85)
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")  # baseline frame header: length, precision, height, width
    data[sof + 5 : sof + 9] = (5999).to_bytes(2, "big") * 2
    return bytes(data)


def build_images(folder: Path) -> dict[str, Path]:
    paths = {}
    for side in (6000, 5000, 3000):
        path = folder / f"{side}.jpg"
        _detailed((side, side)).save(path, "JPEG", quality=85)
        paths[f"{side}x{side} jpeg"] = path
    path = folder / "claims.jpg"
    path.write_bytes(_claims_more_than_it_carries())
    paths["5999x5999 header, 320x240 data"] = path
    return paths


def code_at(revision: str, folder: Path) -> Path:
    """``designs/images.py`` at ``revision``, alone in a ``designs`` package under ``folder``."""
    source = subprocess.run(
        ["git", "show", f"{revision}:designs/images.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    package = folder / "designs"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "images.py").write_text(source)
    return folder


def measure(path: Path, code: Path, parallel: int = 1) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(parallel)],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def report(label: str, paths: dict[str, Path], code: Path, repeat: int, parallel: int) -> None:
    print(f"\n{label}")
    print(f"  {'image':32} {'file':>8} {'seconds':>8} {'peak MB':>8} {'+MB':>6}  outcome")
    for name, path in paths.items():
        runs = [measure(path, code) for _ in range(repeat)]
        seconds = statistics.median(r["seconds"] for r in runs)
        peak = max(r["rss_peak_kb"] for r in runs) / 1024
        added = max(r["rss_peak_kb"] - r["rss_before_kb"] for r in runs) / 1024
        size = path.stat().st_size / 1024 / 1024
        outcome = runs[0]["each"][0][1][:60]
        print(f"  {name:32} {size:6.2f}MB {seconds:8.2f} {peak:8.0f} {added:6.0f}  {outcome}")
    for name in ("6000x6000 jpeg", "5000x5000 jpeg") if parallel else ():
        run = measure(paths[name], code, parallel)
        added = (run["rss_peak_kb"] - run["rss_before_kb"]) / 1024
        print(
            f"  {parallel} × {name} at once (threads): {run['seconds']:.2f} s, "
            f"peak {run['rss_peak_kb'] / 1024:.0f} MB (+{added:.0f} MB)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per image (median time)")
    parser.add_argument("--parallel", type=int, default=0, help="also N uploads at once")
    parser.add_argument("--before", metavar="REV", help="also measure images.py at REV")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        paths = build_images(Path(tmp))
        if args.before:
            old = code_at(args.before, Path(tmp) / "before")
            label = f"before: designs/images.py at {args.before}"
            report(label, paths, old, args.repeat, args.parallel)
        report("this checkout", paths, ROOT, args.repeat, args.parallel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
