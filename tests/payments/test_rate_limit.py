"""The rate limit every process shares for Stripe: calls take evenly spaced slots (Redis'
clock, one script), and a 429 holds every caller back. Lower bounds only: a slot can come
late on a busy machine, never early."""

import threading

from marketplace.kernel.queues import redis_connection
from payments import gateway


def redis_seconds(app) -> float:
    seconds, micros = redis_connection(app).time()
    return seconds + micros / 1_000_000


def test_calls_from_many_threads_are_spaced_not_bunched(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_RATE_LIMIT", 10)
    taken: list[float] = []

    def caller():
        with app.app_context():
            for _ in range(4):
                gateway._wait_for_turn()
                taken.append(redis_seconds(app))

    threads = [threading.Thread(target=caller) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    taken.sort()
    assert len(taken) == 20
    # 20 calls at 10 a second: the last at least 1.9 s after the first, and in no second
    # more than 10 of them.
    assert taken[-1] - taken[0] >= 1.9 * 0.98
    assert all(taken[i + 10] - taken[i] >= 0.98 for i in range(len(taken) - 10))


def test_a_429_holds_back_every_caller(app, ctx):
    with ctx():
        gateway._pause_everyone(0.4)
        paused_at = redis_seconds(app)
        gateway._wait_for_turn()
        assert redis_seconds(app) - paused_at >= 0.39
