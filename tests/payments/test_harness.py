"""The payment test bed itself: the official stripe library against a real localstripe."""

import os

import pytest
import stripe
from redis import Redis

from dev.services import redis_server
from payments import gateway


def test_gateway_creates_a_customer_on_localstripe(app, ctx, stripe_server):
    with ctx():
        customer_id = gateway.create_customer("backer@example.com", 42)
        assert customer_id.startswith("cus_")
        assert gateway.retrieve_customer_email(customer_id) == "backer@example.com"


def test_localstripe_is_emptied_between_tests(app, ctx, stripe_server):
    with ctx():
        customers = gateway.client().v1.customers.list()
        assert customers.data == []


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port``, read from the kernel's tables."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                local, _remote, state = line.split()[1:4]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


def test_localstripe_listens_on_loopback_only(stripe_server):
    port = int(stripe_server.rsplit(":", 1)[1])
    assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else


def test_localstripe_keeps_its_store_in_memory(app, ctx, stripe_server):
    pickle = "/tmp/localstripe.pickle"
    before = os.stat(pickle).st_mtime_ns if os.path.exists(pickle) else None
    with ctx():
        gateway.create_customer("memory@example.com", 1)
    after = os.stat(pickle).st_mtime_ns if os.path.exists(pickle) else None
    assert before == after


def test_gateway_calls_have_a_timeout(app, ctx):
    with ctx():
        http_client = gateway.client()._requestor._client
        assert isinstance(http_client, stripe.RequestsClient)
        config = app.config
        assert http_client._timeout == (
            config["STRIPE_CONNECT_TIMEOUT"],
            config["STRIPE_READ_TIMEOUT"],
        )


def test_make_run_can_start_its_own_redis_server():
    with redis_server() as url:
        conn = Redis.from_url(url)
        assert conn.ping()
        assert conn.config_get("bind")["bind"] == "127.0.0.1"
    with pytest.raises(Exception):  # noqa: B017 (any connection error: the server is gone)
        Redis.from_url(url, socket_connect_timeout=1).ping()
