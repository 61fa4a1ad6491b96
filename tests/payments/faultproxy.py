"""A fault-injecting HTTP proxy in front of localstripe.

Why it exists: settlement's promise is "each pledge charged exactly once, whatever fails
when", and the failures that matter happen on the wire: Stripe answering 429 or 5xx, Stripe
acting and then answering 5xx, the answer never arriving (a read timeout, or a connection
dropped after Stripe acted). localstripe answers every request promptly and correctly, so it
cannot produce any of these; mocking the Stripe library instead would test our idea of how
the library fails rather than how it does. This proxy keeps the tests on real HTTP: the
official client, its ``requests`` session, its timeouts and its exception mapping all run as
in production, and only what comes back (or does not) is changed. The proxy also keeps
Stripe's idempotency promise, which localstripe ignores (see ``idempotency``), so that a
retried request meets what it would meet at Stripe.

Faults are chosen per request, by method and path (see :data:`CREATE`, :data:`CONFIRM`,
:data:`RETRIEVE`), either scripted ("the next N matching requests get this fault") or at
random (a probability per fault kind, drawn from a seeded RNG). Scripted rules win over random
ones. Everything injected is counted in :attr:`FaultProxy.injected`, and every request that
reached localstripe in :attr:`FaultProxy.forwarded`, so a test can show its faults happened.
It can also slow every request down (``delay_before``, ``delay_after``) and call back once
localstripe has answered and before the answer is passed on (``on_forwarded``), for tests
that kill the client at a chosen moment.
"""

from __future__ import annotations

import contextlib
import enum
import http.client
import json
import random
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from dev.services import free_port


class Fault(enum.StrEnum):
    #: Answered 429 without forwarding: Stripe refused, nothing happened.
    RATE_LIMITED = "429"
    #: Answered 500 without forwarding: Stripe failed before acting.
    ERROR = "500"
    #: Forwarded, then answered 500: Stripe acted but said it failed.
    ERROR_AFTER = "forward-then-500"
    #: Forwarded, then no answer for longer than the client waits: a timeout after acting.
    HANG_AFTER = "forward-then-hang"
    #: Not forwarded, no answer: a timeout before Stripe heard of it.
    HANG = "hang"
    #: Forwarded, then the connection closed with no answer: the response was lost.
    DROP_AFTER = "forward-then-drop"

    @property
    def forwards(self) -> bool:
        return self in (Fault.ERROR_AFTER, Fault.HANG_AFTER, Fault.DROP_AFTER)


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: re.Pattern

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self.path.fullmatch(path) is not None


#: The Stripe calls settlement makes: a charge is one create (confirmed at once); the list
#: finds an attempt's intent after an unknown outcome; confirm and retrieve serve intents
#: made unconfirmed (the two-step protocol), 3-D Secure and refusals.
CREATE = Route("create", "POST", re.compile(r"/v1/payment_intents"))
CONFIRM = Route("confirm", "POST", re.compile(r"/v1/payment_intents/[^/]+/confirm"))
RETRIEVE = Route("retrieve", "GET", re.compile(r"/v1/payment_intents/[^/]+"))
LIST = Route("list", "GET", re.compile(r"/v1/payment_intents"))
ROUTES = (CREATE, CONFIRM, RETRIEVE, LIST)


@dataclass
class _Scripted:
    route: Route
    fault: Fault
    remaining: int
    #: Fault each distinct path once at most (every intent's first confirm, say).
    once_per_path: bool = False
    seen: set[str] = field(default_factory=set)

    def take(self, method: str, path: str) -> tuple[Route, Fault] | None:
        if self.remaining <= 0 or not self.route.matches(method, path):
            return None
        if self.once_per_path:
            if path in self.seen:
                return None
            self.seen.add(path)
        self.remaining -= 1
        return self.route, self.fault


@dataclass
class _Random:
    routes: tuple[Route, ...]
    odds: dict[Fault, float]
    rng: random.Random

    def take(self, method: str, path: str) -> tuple[Route, Fault] | None:
        route = next((r for r in self.routes if r.matches(method, path)), None)
        if route is None:
            return None
        draw = self.rng.random()
        for fault, probability in self.odds.items():
            if draw < probability:
                return route, fault
            draw -= probability
        return None


#: Headers that describe one hop's connection, not the message: never passed on.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


class FaultProxy:
    """``with FaultProxy(upstream) as proxy:`` serves on ``proxy.url`` until the block ends."""

    def __init__(
        self, upstream: str, *, hang_seconds: float = 5.0, idempotency: bool = True
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname, parts.port or 80
        #: How long a hanging request is held: longer than the client's read timeout.
        self.hang_seconds = hang_seconds
        #: Keep Stripe's idempotency promise, which localstripe ignores: the first answer to a
        #: POST carrying an Idempotency-Key, once it reached Stripe, is the answer to every
        #: later request with that key ("including 500 errors", Stripe's docs say); the same
        #: key with other parameters is refused.
        self.idempotency = idempotency
        self._saved: dict[str, tuple[bytes | None, tuple]] = {}
        #: Seconds to wait before forwarding, and after localstripe answered, every request.
        self.delay_before = 0.0
        self.delay_after = 0.0
        #: Called as ``on_forwarded(route_name, client_port)`` once localstripe has answered a
        #: request and before the answer goes back ("" for a request outside :data:`ROUTES`):
        #: a test can act in that window, kill the client say.
        self.on_forwarded: Callable[[str, int], None] | None = None
        self.injected: Counter[tuple[str, Fault]] = Counter()
        self.forwarded: Counter[str] = Counter()
        #: Requests answered from a saved idempotent result instead of reaching localstripe.
        self.replayed: Counter[str] = Counter()
        #: When each request arrived (monotonic seconds), and the most ever being served at
        #: once: what the clients together asked of "Stripe", and how many they kept in flight.
        self.arrivals: list[float] = []
        #: The Idempotency-Key of each POST, in the order they arrived.
        self.keys: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._scripted: list[_Scripted] = []
        self._random: list[_Random] = []
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # --- programming ------------------------------------------------------------------------

    def script(
        self, route: Route, fault: Fault, times: int = 1, *, once_per_path: bool = False
    ) -> None:
        """The next ``times`` requests matching ``route`` get ``fault``."""
        with self._lock:
            self._scripted.append(_Scripted(route, fault, times, once_per_path))

    def randomly(self, routes: tuple[Route, ...], odds: dict[Fault, float], seed: int) -> None:
        """Each request matching one of ``routes`` gets each fault with its probability."""
        if sum(odds.values()) > 1:
            raise ValueError("the probabilities add up to more than 1")
        with self._lock:
            self._random.append(_Random(tuple(routes), dict(odds), random.Random(seed)))

    def clear(self) -> None:
        """No more faults (the counts stay)."""
        with self._lock:
            self._scripted.clear()
            self._random.clear()

    def count(self, route: Route | None = None, fault: Fault | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (name, kind), n in self.injected.items()
                if (route is None or name == route.name) and (fault is None or kind == fault)
            )

    def busiest_second(self, window: float = 1.0) -> int:
        """The most requests that arrived within any ``window`` seconds."""
        with self._lock:
            times = sorted(self.arrivals)
        most, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            most = max(most, end - start + 1)
        return most

    def _arrived(self, change: int) -> None:
        with self._lock:
            if change > 0:
                self.arrivals.append(time.monotonic())
            self.in_flight += change
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _choose(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in (*self._scripted, *self._random):
                taken = rule.take(method, path)
                if taken is not None:
                    route, fault = taken
                    self.injected[(route.name, fault)] += 1
                    return fault
            return None

    def _count(self, counter: Counter[str], method: str, path: str) -> str:
        with self._lock:
            for route in ROUTES:
                if route.matches(method, path):
                    counter[route.name] += 1
                    return route.name
        return ""

    def _save(self, key: str | None, body: bytes | None, answer: tuple) -> None:
        if key and self.idempotency:
            with self._lock:
                self._saved[key] = (body, answer)

    # --- serving ----------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        port = free_port()
        self._server = _Server(("127.0.0.1", port), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging requests
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # idle keep-alive connections would hold their threads
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _forward(
        self, method: str, path: str, headers, body: bytes | None, client_port: int
    ) -> tuple[tuple, bool]:
        """Stripe's answer, and whether Stripe acted on this very request (rather than
        answering from the saved result of an earlier one with the same idempotency key)."""
        if self.delay_before:
            time.sleep(self.delay_before)
        key = headers.get("Idempotency-Key") if method == "POST" and self.idempotency else None
        with self._lock:
            saved = self._saved.get(key) if key else None
        if saved is not None:
            saved_body, answer = saved
            if saved_body != body:
                return _answer(400, "idempotency_error", "Keys are for identical requests"), False
            self._count(self.replayed, method, urlsplit(path).path)
            return answer, False
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
        try:
            conn.request(
                method,
                path,
                body=body,
                headers={k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP},
            )
            resp = conn.getresponse()
            answer = (resp.status, resp.reason, resp.getheaders(), resp.read())
        finally:
            conn.close()
        self._save(key, body, answer)
        route_name = self._count(self.forwarded, method, urlsplit(path).path)
        if self.on_forwarded is not None:
            self.on_forwarded(route_name, client_port)
        if self.delay_after:
            time.sleep(self.delay_after)
        return answer, True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client that died (a killed worker) or gave up (a timeout) leaves a broken pipe
        # behind: that is the point, not an error of the proxy's.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


_REASONS = {400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error"}


def _answer(status: int, kind: str, message: str) -> tuple:
    """A Stripe error answer, as (status, reason, headers, body)."""
    body = json.dumps({"error": {"type": kind, "message": message}}).encode()
    return status, _REASONS[status], [("Content-Type", "application/json")], body


_RATE_LIMITED = _answer(429, "rate_limit_error", "Too many requests")
_SERVER_ERROR = _answer(500, "api_error", "Injected by the fault proxy")


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the client's session expects
        # Headers and body go out in two writes: with Nagle's algorithm the body would wait
        # for the client's delayed ACK (40 ms a request).
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            with proxy._lock:
                proxy._connections.add(self.connection)

        def finish(self) -> None:
            with proxy._lock:
                proxy._connections.discard(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

        def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
            pass  # the test output is no place for an access log

        def _relay(self) -> None:
            proxy._arrived(+1)
            try:
                self._relay_one()
            finally:
                proxy._arrived(-1)

        def _relay_one(self) -> None:
            if self.command == "POST" and self.headers.get("Idempotency-Key"):
                with proxy._lock:
                    proxy.keys.append(self.headers["Idempotency-Key"])
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            path = urlsplit(self.path).path
            fault = proxy._choose(self.command, path)
            answer = None
            if fault is None or fault.forwards:
                answer, acted = proxy._forward(
                    self.command, self.path, self.headers, body, self.client_address[1]
                )
                if fault == Fault.ERROR_AFTER and acted:
                    # Stripe's own failure after it acted: the one its idempotency keeps.
                    proxy._save(self.headers.get("Idempotency-Key"), body, _SERVER_ERROR)
            if fault in (Fault.HANG, Fault.HANG_AFTER):
                proxy._stopping.wait(proxy.hang_seconds)
                return self._drop()
            if fault == Fault.DROP_AFTER:
                return self._drop()
            if fault == Fault.RATE_LIMITED:
                answer = _RATE_LIMITED
            elif fault in (Fault.ERROR, Fault.ERROR_AFTER):
                answer = _SERVER_ERROR
            self._send(*answer)

        def _send(self, status: int, reason: str, headers, content: bytes) -> None:
            self.send_response(status, reason)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP and name.lower() not in ("date", "server"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def _drop(self) -> None:
            """Close the connection without a byte of answer."""
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        do_GET = do_POST = do_DELETE = _relay  # noqa: N815 (http.server's names)

    return Handler
