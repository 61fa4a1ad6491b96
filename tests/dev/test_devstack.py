"""`make run`'s stack: it comes up, a worker that dies is started again, and stopping it
stops everything it started, whichever way it is stopped."""

import contextlib
import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from dev.services import answers_200, free_port


def _table() -> dict[int, tuple[str, int, int]]:
    """Every process as pid: (state, parent pid, process group), from Linux's /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        found[int(entry.name)] = (fields[0], int(fields[1]), int(fields[2]))
    return found


def _children_of(pid: int, table: dict | None = None) -> set[int]:
    """Every live descendant of ``pid`` (Linux /proc, or ``table`` read from it)."""
    table = _table() if table is None else table
    parents = {p: parent for p, (state, parent, _) in table.items() if state != "Z"}
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _groups_under(pid: int) -> tuple[set[int], set[int]]:
    """The live descendants of ``pid`` and their process groups, from one look at /proc."""
    table = _table()
    found = _children_of(pid, table)
    return found, {table[p][2] for p in found}


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _in_groups(groups: set[int]) -> list[int]:
    """The live processes of these process groups."""
    return [pid for pid, (state, _, group) in _table().items() if state != "Z" and group in groups]


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout:.0f}s")


@dataclass
class Stack:
    proc: subprocess.Popen
    port: int
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def text(self) -> str:
        return "".join(self.output)

    def workers(self) -> set[int]:
        """The `flask worker` processes that are the stack's children (a work horse left by
        a killed worker is handed to the stack too, running the same command)."""
        return {
            pid
            for pid, (state, parent, _) in _table().items()
            if parent == self.proc.pid and state != "Z" and "worker" in _cmdline(pid)
        }


@contextlib.contextmanager
def running_stack(tmp_path, redis_url):
    # These tests use no app, so the suite's per-test flush does not reach them: without
    # this, each stack would meet the queues, cron lock and Stripe call slots of the last.
    redis.Redis.from_url(redis_url).flushdb()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STRIPE_", "MARKETPLACE_", "DATABASE_", "FLASK_"))
    }
    port = free_port()
    env.update(
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite3'}",
        UPLOAD_DIR=str(tmp_path / "uploads"),
        REDIS_URL=redis_url,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "dev.stack"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so that only our signal reaches it, as from `kill`
    )
    stack = Stack(proc, port)
    ready = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            stack.output.append(line)
            if "Cocréa is running at" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen: set[int] = set()
    try:
        assert ready.wait(180), "the stack did not come up:\n" + "".join(stack.output[-40:])
        _wait_for(lambda: "Press Ctrl-C" in stack.text(), 10, "the banner")
        yield stack
    finally:
        seen = _children_of(proc.pid)
        # Whatever a failure left of the stack's process group must not outlive the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in seen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
        reader.join(10)  # EOF once every process holding the pipe is gone
        proc.stdout.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_stopping_the_stack_stops_everything_it_started(tmp_path, redis_url, signum):
    with running_stack(tmp_path, redis_url) as stack:
        started, groups = _groups_under(stack.proc.pid)
        assert len(started) >= 4  # web app, worker, cron, localstripe (and their children)

        stack.proc.send_signal(signum)
        assert stack.proc.wait(60) == 128 + signum
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [pid for pid in started if _alive(pid)] == []
        assert _in_groups(groups) == []


def test_a_killed_worker_is_started_again_and_stopping_leaves_nothing(tmp_path, redis_url):
    """The worker is killed outright (as the OOM killer would): the stack starts another
    while the web app goes on answering, and RQ's scheduler process that the dead worker
    had forked does not linger. Stopping the stack then leaves no process of any group it
    started. Its banner's dev mail link opens the outbox, and only with the token."""
    with running_stack(tmp_path, redis_url) as stack:
        (worker,) = _wait_for(stack.workers, 30, "a worker")
        # RQ's scheduler runs in a process the worker forks once it holds the lock.
        scheduler = _wait_for(
            lambda: _children_of(worker), 60, "the worker's scheduler process"
        ).pop()
        _, groups = _groups_under(stack.proc.pid)
        forked = _children_of(worker)  # its scheduler, and its horse if it has a job

        os.kill(worker, signal.SIGKILL)
        (again,) = _wait_for(lambda: stack.workers() - {worker} - forked, 30, "a new worker")
        restarted = "The worker exited with code -9; starting it again in 1 s."
        _wait_for(lambda: restarted in stack.text(), 10, "the restart logged")
        assert answers_200(stack.url + "healthz", 5)
        _wait_for(lambda: not _alive(scheduler), 15, "the dead worker's scheduler gone")
        assert stack.proc.poll() is None

        link = re.search(r"listed at (\S+/dev/mail\?token=\S+)", stack.text()).group(1)
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        with browser.open(link, timeout=10) as resp:  # noqa: S310 (loopback)
            assert resp.status == 200 and "Outgoing mail" in resp.read().decode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(stack.url + "dev/mail", timeout=10)  # noqa: S310
        refused.value.close()
        assert refused.value.code == 404

        started, more_groups = _groups_under(stack.proc.pid)
        started |= {worker, scheduler}
        groups |= more_groups
        stack.proc.send_signal(signal.SIGTERM)
        assert stack.proc.wait(60) == 128 + signal.SIGTERM
        _wait_for(lambda: not any(_alive(pid) for pid in started), 30, "every process gone")
        assert _in_groups(groups) == []


def test_the_seeding_and_the_first_charges_print_no_webhook_failure(tmp_path, redis_url):
    """localstripe is told where to post its events once the web app answers: the banner
    and what follows carry no "webhook ... failed" line (seeding used to cause a screenful,
    posted to an app not started yet), and the worker's charges of the demo's funded
    campaign are delivered to /webhooks/stripe."""
    with running_stack(tmp_path, redis_url) as stack:
        _wait_for(lambda: "successfully delivered" in stack.text(), 90, "a webhook delivered")
        time.sleep(2)  # localstripe posts each event a second after it
        failed = [line for line in stack.output if re.search(r'webhook ".*" failed', line)]
        assert failed == []
