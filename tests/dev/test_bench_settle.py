"""The settlement bench's instrument (``bench.stripe_pace``, ``bench.settle``): the proxy
delays Stripe's requests without queueing them and counts them by kind, the figures issue 16
judges come out of those counts, and the whole bench runs end to end on a small campaign, so
that the measurement the settlement work is judged by keeps working."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import make_url

from bench import stripe_pace
from bench.settle import CARD, STRIPE_KEY, stripe_client
from config import TestConfig
from tests.helpers import ROOT, card_method


def test_requests_are_sorted_into_the_kinds_the_report_counts():
    assert stripe_pace.classify("POST", "/v1/payment_intents") == "create"
    assert stripe_pace.classify("POST", "/v1/payment_intents/pi_1/confirm") == "confirm"
    assert stripe_pace.classify("GET", "/v1/payment_intents/pi_1?expand[]=x") == "retrieve"
    assert stripe_pace.classify("GET", "/v1/payment_intents?customer=cus_1") == "list"
    assert stripe_pace.classify("GET", "/v1/payment_intents/search?query=x") == "list"
    assert stripe_pace.classify("POST", "/v1/payment_intents/pi_1/cancel") == "other"
    assert stripe_pace.classify("POST", "/v1/customers") == "other"
    assert stripe_pace.classify("GET", "/v1/charges?payment_intent=pi_1") == "other"
    # Only a confirm, or a create that confirms in the same request, charges the card.
    assert stripe_pace.confirms("POST", "/v1/payment_intents", b"amount=1&confirm=true")
    assert not stripe_pace.confirms("POST", "/v1/payment_intents", b"amount=1")
    assert not stripe_pace.confirms("POST", "/v1/payment_intents", b"confirm=false")
    assert stripe_pace.confirms("POST", "/v1/payment_intents/pi_1/confirm", None)
    assert not stripe_pace.confirms("GET", "/v1/payment_intents/pi_1", None)


def test_the_busiest_second_is_found_anywhere_in_the_run():
    assert stripe_pace.max_in_window([]) == 0
    # 1.0 is a second after 0.0 and falls in the next window; 1.2's window holds four.
    assert stripe_pace.max_in_window([0.0, 0.5, 0.99, 1.0, 1.2]) == 4
    assert stripe_pace.max_in_window([n / 8 for n in range(80)]) == 8
    assert stripe_pace.max_in_window([3.0, 0.1, 3.5, 0.2]) == 2  # in any order
    # The shortest time in which so many arrived: under a second for limit + 1 is over it.
    assert stripe_pace.tightest_span([0.0, 0.5, 0.99, 1.0, 1.2], 4) == pytest.approx(0.7)
    assert stripe_pace.tightest_span([0.0, 0.5], 3) is None
    assert stripe_pace.per_second([0.1, 0.9, 2.5]) == [2, 0, 1]


def _requests(per_kind: dict[str, int], arrivals: list[float]) -> stripe_pace.Requests:
    by_kind = dict.fromkeys(stripe_pace.KINDS, 0) | per_kind
    return stripe_pace.Requests(
        by_kind=by_kind,
        confirming=per_kind.get("create", 0),
        confirming_creates=per_kind.get("create", 0),
        refused={},
        arrivals=arrivals,
    )


def test_the_ceiling_is_the_rate_limit_over_the_calls_counted_per_charge():
    # 100 charges in 5 s, one create each and 10 retrieves: 1.1 calls per charge, so a limit
    # of 25 calls/s allows 22.7 charges/s, and 20/s is 88 % of it.
    requests = _requests({"create": 100, "retrieve": 10}, [n / 8 for n in range(110)])
    figures = stripe_pace.pace_figures(requests, 100, 5.0, 25, worker_cpu_s=1.0)
    assert figures["charges_per_s"] == 20.0
    assert figures["stripe_calls"] == 110
    assert figures["calls_per_charge"] == 1.1
    assert figures["calls_per_charge_result"] == "PASS"
    assert figures["ceiling_charges_per_s"] == 22.73
    assert figures["ceiling_pct"] == 88.0
    assert figures["ceiling_result"] == "BELOW"
    assert figures["worker_cpu_ms_per_charge"] == 10.0
    assert figures["worker_cpu_result"] == "PASS"
    assert figures["max_calls_in_1s"] == 8
    assert figures["rate_limit_result"] == "OK"
    assert figures["tightest_span_over_limit_s"] == 3.125  # 26 requests, one per 1/8 s
    assert figures["calls_per_second"] == [8] * 13 + [6]

    # Today's shape: create then confirm, 2 calls per charge, bursts above the limit.
    burst = _requests({"create": 50, "confirm": 50}, [0.5] * 30 + [2.0 + n / 10 for n in range(70)])
    figures = stripe_pace.pace_figures(burst, 50, 5.0, 25, worker_cpu_s=2.0)
    assert figures["calls_per_charge"] == 2.0
    assert figures["calls_per_charge_result"] == "ABOVE"
    assert figures["ceiling_charges_per_s"] == 12.5
    assert figures["ceiling_pct"] == 80.0
    assert figures["worker_cpu_ms_per_charge"] == 40.0
    assert figures["worker_cpu_result"] == "ABOVE"
    assert figures["max_calls_in_1s"] == 30
    assert figures["rate_limit_result"] == "OVER"
    assert figures["tightest_span_over_limit_s"] == 0.0


def test_the_proxy_delays_each_request_counts_it_and_lets_them_overlap(stripe_server):
    with stripe_pace.PaceProxy(stripe_server, latency=0.1, confirm_latency=0.6) as proxy:
        client = stripe_client(proxy.url)
        customer = client.v1.customers.create(params={"email": "pace@example.com"})
        pm = card_method(client, CARD)
        client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
        proxy.reset()  # the phase starts here: what came before is not counted
        params = {
            "amount": 2500,
            "currency": "eur",
            "customer": customer.id,
            "payment_method": pm.id,
            "payment_method_types": ["card"],
        }
        pi = client.v1.payment_intents.create(params=params)
        started = time.monotonic()
        client.v1.payment_intents.confirm(pi.id, params={})
        confirm_seconds = time.monotonic() - started
        both = client.v1.payment_intents.create(
            params={**params, "confirm": True, "off_session": True}
        )
        assert both.status == "succeeded"
        started = time.monotonic()
        client.v1.payment_intents.retrieve(pi.id)
        retrieve_seconds = time.monotonic() - started
        client.v1.payment_intents.list(params={"customer": customer.id})

        # Sixteen requests at once, 0.5 s each: about half a second together, eight one
        # after the other.
        proxy.latency = 0.5

        def retrieve(_):
            request = urllib.request.Request(  # noqa: S310 (the proxy, on loopback)
                f"{proxy.url}/v1/payment_intents/{pi.id}",
                headers={"Authorization": f"Bearer {STRIPE_KEY}"},
            )
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (loopback)
                return answer.status

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            assert list(pool.map(retrieve, range(16))) == [200] * 16
        burst_seconds = time.monotonic() - started
        seen = proxy.requests()

    assert confirm_seconds >= 0.6
    assert 0.1 <= retrieve_seconds < 0.6
    assert burst_seconds < 4.0
    assert seen.by_kind == {"create": 2, "confirm": 1, "retrieve": 17, "list": 1, "other": 0}
    assert seen.total == 21
    assert (seen.confirming, seen.confirming_creates) == (2, 1)
    assert seen.refused == {}
    assert stripe_pace.max_in_window(seen.arrivals) >= 16


@pytest.mark.skipif(
    not TestConfig.SQLALCHEMY_DATABASE_URI,
    reason="the settlement bench needs PostgreSQL (TEST_DATABASE_URL)",
)
def test_the_whole_bench_settles_a_small_campaign_and_reports_it(tmp_path, redis_url):
    # A database of its own beside the suite's: the bench migrates it and empties its tables.
    suite = make_url(TestConfig.SQLALCHEMY_DATABASE_URI)
    database = suite.set(database=f"{suite.database}_bench_settle")
    out = tmp_path / "settlement.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    args = ["--workers", "1", "--pledges", "20", "--stripe-latency", "0.05"]
    args += ["--rate-limit", "25", "--concurrency", "4", "--no-memory", "--output", str(out)]
    args += ["--database-url", database.render_as_string(hide_password=False)]
    args += ["--redis-url", redis_url]
    done = subprocess.run(
        [sys.executable, "-m", "bench.settle", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Settlement at Stripe's pace" in done.stdout

    report = json.loads(out.read_text())
    assert report["complete"] is True
    assert report["mode"] == "stripe-pace"
    (row,) = report["stripe_pace"]
    assert (row["workers"], row["pledges"], row["latency_s"]) == (1, 20, 0.05)
    assert row["concurrency"] == 4
    assert row["charged_exactly_once"] is True
    assert row["errors"] == 0
    # Every charge went through the proxy, and the figures are what its counts make them.
    assert row["confirming_calls"] == 20
    assert row["stripe_calls"] == sum(row["calls_by_kind"].values()) >= 20
    assert row["calls_per_charge"] == round(row["stripe_calls"] / 20, 3)
    assert row["ceiling_charges_per_s"] == pytest.approx(25 / row["calls_per_charge"], abs=0.01)
    assert row["max_calls_in_1s"] <= 25
    assert row["worker_cpu_ms_per_charge"] > 0
    assert all(mb > 50 for mb in row["peak_rss_mb_per_worker"])
    (phase,) = report["phases"]
    assert phase["details"]["pledge_states"] == {"collected": 20}
