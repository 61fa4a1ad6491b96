"""What the benchmarks' entry points share: the error that fails a run, and the way a run
stops cleanly on Ctrl-C, SIGTERM or SIGHUP."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable


class BenchError(Exception):
    """Something broke (not a missed target): the run exits non-zero."""


def _interrupt(signum, frame):
    # So that the run's `finally` blocks stop what it started on SIGTERM / SIGHUP too.
    raise KeyboardInterrupt


def guarded(name: str, run: Callable[[], int], stopped: str) -> int:
    """``run()``'s exit status; a BenchError is a failed run (1), an interruption 130, once
    the run's own clean-up has stopped ``stopped``."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        return run()
    except BenchError as exc:
        print(f"{name}: FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted; {stopped} stopped", file=sys.stderr)
        return 130
