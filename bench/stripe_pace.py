"""Stripe's pace for ``bench.settle``: the fault proxy between the settlement workers and
localstripe, slowing every request down the way the real Stripe answers (about 0.3 s to
create a PaymentIntent, 0.6-1 s to confirm one, which goes to the card network) and counting
what the workers ask of it; and the arithmetic that turns those counts into the figures
issue 16 judges: Stripe calls per charge, the ceiling the rate limit leaves, and the busiest
second.

localstripe answers in a few milliseconds on loopback, so without the latency a worker that
charges one pledge at a time looks fast; at Stripe's pace it spends its time waiting, and only
charges in flight together reach what the rate limit allows.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from tests.payments.faultproxy import FaultProxy

#: The kinds of Stripe request the report counts, in its column order.
KINDS = ("create", "confirm", "retrieve", "list", "other")
#: Listen backlog: a worker with many threads opens many connections at once, and with
#: http.server's default of 5 the kernel drops the excess SYNs, which the client resends only
#: after a second: a pause the workers did not cause.
BACKLOG = 256
_INTENTS = "/v1/payment_intents"


def classify(method: str, path: str) -> str:
    """Which of :data:`KINDS` a request to Stripe is."""
    path = urlsplit(path).path.rstrip("/")
    if path == _INTENTS:
        return {"POST": "create", "GET": "list"}.get(method, "other")
    if path.startswith(_INTENTS + "/"):
        rest = path[len(_INTENTS) + 1 :]
        if method == "POST" and rest.endswith("/confirm") and rest.count("/") == 1:
            return "confirm"
        if method == "GET" and rest == "search":
            return "list"
        if method == "GET" and "/" not in rest:
            return "retrieve"
    return "other"


def confirms(method: str, path: str, body: bytes | None) -> bool:
    """Whether the request charges the card: a confirm, or a create with ``confirm=true``
    (one call per charge, as issue 16 asks)."""
    kind = classify(method, path)
    if kind == "confirm":
        return True
    if kind != "create" or not body:
        return False
    values = parse_qs(body.decode("utf-8", "replace")).get("confirm", [])
    return any(v.lower() == "true" for v in values)


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most of ``times`` (seconds) that fall within any ``window`` seconds (a half-open
    interval: two requests exactly ``window`` apart are in different windows)."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def tightest_span(times: list[float], count: int) -> float | None:
    """The shortest time in which ``count`` of ``times`` arrived (None if fewer did). With
    ``count`` = limit + 1, below a second means the limit was exceeded, and by how much: a
    few milliseconds is jitter between the limiter's clock and the arrival, half a second a
    burst."""
    ordered = sorted(times)
    if count < 1 or len(ordered) < count:
        return None
    return min(ordered[i + count - 1] - ordered[i] for i in range(len(ordered) - count + 1))


def per_second(times: list[float]) -> list[int]:
    """How many of ``times`` fell in each whole second since the start."""
    if not times:
        return []
    counts = [0] * (int(max(times)) + 1)
    for t in times:
        counts[int(t)] += 1
    return counts


@dataclass(frozen=True)
class Requests:
    """What the workers sent Stripe during one phase, as the proxy saw it."""

    by_kind: dict[str, int]
    #: Requests that charge a card (confirms, creates with ``confirm=true``).
    confirming: int
    #: Creates that confirmed in the same request.
    confirming_creates: int
    #: Answers that were not 2xx, by status code.
    refused: dict[str, int]
    #: Seconds since the phase started at which each request reached the proxy.
    arrivals: list[float]

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


class PaceProxy(FaultProxy):
    """The fault proxy, with no fault scripted: every request waits ``latency`` seconds (or
    ``confirm_latency`` for one that charges the card, when set) before it is passed on, and
    each is logged with the moment it arrived.

    The wait is the request's own thread sleeping, with no lock held (``ThreadingHTTPServer``
    gives each connection a thread), so requests overlap as they do at Stripe and the proxy
    adds latency, not a queue. It runs in the bench's process: its CPU is the bench's, not
    the workers'.
    """

    def __init__(self, upstream: str, *, latency: float = 0.0, confirm_latency=None) -> None:
        super().__init__(upstream)
        self.latency = latency
        self.confirm_latency = confirm_latency
        self._log_lock = threading.Lock()
        self._epoch = time.monotonic()
        self._log: list[tuple[float, str, bool]] = []
        self._refused: Counter[str] = Counter()

    def start(self) -> PaceProxy:
        super().start()
        # listen() again on a listening socket only changes its backlog.
        self._server.socket.listen(BACKLOG)
        return self

    def reset(self) -> None:
        """Start counting afresh: the phase begins now."""
        with self._log_lock:
            self._epoch = time.monotonic()
            self._log.clear()
            self._refused.clear()

    def requests(self) -> Requests:
        with self._log_lock:
            log, refused = list(self._log), dict(self._refused)
        by_kind = dict.fromkeys(KINDS, 0)
        by_kind.update(Counter(kind for _, kind, _ in log))
        return Requests(
            by_kind=by_kind,
            confirming=sum(1 for _, _, charges in log if charges),
            confirming_creates=sum(1 for _, kind, charges in log if charges and kind == "create"),
            refused=refused,
            arrivals=[t for t, _, _ in log],
        )

    def delay_for(self, charges: bool) -> float:
        if charges and self.confirm_latency is not None:
            return self.confirm_latency
        return self.latency

    def _forward(self, method, path, headers, body, client_port):
        kind = classify(method, path)
        charges = confirms(method, path, body)
        with self._log_lock:
            self._log.append((time.monotonic() - self._epoch, kind, charges))
        delay = self.delay_for(charges)
        if delay:
            time.sleep(delay)
        answer, acted = super()._forward(method, path, headers, body, client_port)
        if not 200 <= answer[0] < 300:
            with self._log_lock:
                self._refused[str(answer[0])] += 1
        return answer, acted


# --- the figures ------------------------------------------------------------------------------

#: Issue 16's targets.
TARGET_CEILING_PCT = 90.0
TARGET_CALLS_PER_CHARGE = 1.1
TARGET_CPU_MS = 12.0


def pace_figures(
    requests: Requests, charges: int, seconds: float, rate_limit: int, worker_cpu_s: float
) -> dict:
    """Charges/s next to the ceiling the rate limit leaves at the calls per charge counted,
    worker CPU per charge, the busiest second, each with its verdict."""
    rate = charges / seconds if seconds > 0 else 0.0
    per_charge = requests.total / charges if charges else None
    ceiling = rate_limit / per_charge if per_charge else None
    share = 100 * rate / ceiling if ceiling else None
    cpu_ms = 1000 * worker_cpu_s / charges if charges else None
    busiest = max_in_window(requests.arrivals)
    span = tightest_span(requests.arrivals, rate_limit + 1)
    return {
        "charges": charges,
        "seconds": round(seconds, 2),
        "charges_per_s": round(rate, 2),
        "stripe_calls": requests.total,
        "calls_by_kind": requests.by_kind,
        "confirming_calls": requests.confirming,
        "confirming_creates": requests.confirming_creates,
        "refused_answers": requests.refused,
        "calls_per_charge": round(per_charge, 3) if per_charge is not None else None,
        "calls_per_charge_result": verdict(per_charge, TARGET_CALLS_PER_CHARGE, False),
        "rate_limit": rate_limit,
        "ceiling_charges_per_s": round(ceiling, 2) if ceiling is not None else None,
        "ceiling_pct": round(share, 1) if share is not None else None,
        "ceiling_result": verdict(share, TARGET_CEILING_PCT),
        "worker_cpu_ms_per_charge": round(cpu_ms, 2) if cpu_ms is not None else None,
        "worker_cpu_result": verdict(cpu_ms, TARGET_CPU_MS, False),
        "max_calls_in_1s": busiest,
        "rate_limit_result": "OK" if busiest <= rate_limit else "OVER",
        "tightest_span_over_limit_s": round(span, 3) if span is not None else None,
        "calls_per_second": per_second(requests.arrivals),
    }


def verdict(value: float | None, target: float, higher_is_better: bool = True) -> str:
    if value is None:
        return "-"
    if higher_is_better:
        return "PASS" if value >= target else "BELOW"
    return "PASS" if value <= target else "ABOVE"
