"""`make run`'s stack: it comes up, and stopping it stops everything it started, whichever
way it is stopped."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dev.services import free_port


def _children_of(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":  # a zombie has already exited
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_stopping_the_stack_stops_everything_it_started(tmp_path, redis_url, signum):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STRIPE_", "MARKETPLACE_", "DATABASE_", "FLASK_"))
    }
    env.update(
        PORT=str(free_port()),
        DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite3'}",
        UPLOAD_DIR=str(tmp_path / "uploads"),
        REDIS_URL=redis_url,
    )
    stack = subprocess.Popen(
        [sys.executable, "-m", "dev.stack"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so that only our signal reaches it, as from `kill`
    )
    ready = threading.Event()
    output: list[str] = []

    def read() -> None:
        for line in stack.stdout:
            output.append(line)
            if "Cocréa is running at" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(180), "the stack did not come up:\n" + "".join(output[-40:])
        started = _children_of(stack.pid)
        assert len(started) >= 4  # web app, worker, cron, localstripe (and their children)

        stack.send_signal(signum)
        assert stack.wait(60) == 128 + signum
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [pid for pid in started if _alive(pid)] == []
    finally:
        # Whatever a failure left of the stack's process group must not outlive the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(stack.pid, signal.SIGKILL)
        stack.wait()
        reader.join(10)  # EOF once every process holding the pipe is gone
        stack.stdout.close()
