"""The page bench's load generators (``bench.run``): a row that rotates over several paths (the
KPI dashboard's periods) sends each of them, with the operator's cookie, and counts as a
failure any answer but a 200, with wrk's script and with the Python fallback alike."""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from random import Random

import pytest

from bench.run import USER_AGENT, Load, PythonLoad, Wrk, lua_script

PATHS = ["/operator/kpis?days=7", "/operator/kpis?days=30", "/operator/kpis?days=90"]
COOKIE = "session=operator"


@pytest.fixture
def server():
    """200 for the listed paths with the operator's cookie and the bench's User-Agent; a
    redirect to the login page otherwise, as the dashboard does."""
    seen: Counter[str] = Counter()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - http.server's name
            seen[self.path] += 1
            allowed = (
                self.headers.get("Cookie") == COOKIE
                and self.headers.get("User-Agent") == USER_AGENT
                and self.path in PATHS
            )
            body = b"Co-creation KPIs" if allowed else b""
            self.send_response(200 if allowed else 302)
            if not allowed:
                self.send_header("Location", "/account/login")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_python_fallback_picks_among_the_paths_with_the_cookie():
    load = Load(path="/operator/kpis", paths=PATHS, cookie=COOKIE)
    rng = Random(1)
    sent = [PythonLoad._request(load, rng) for _ in range(300)]
    assert {method for method, *_ in sent} == {"GET"}
    assert {path for _, path, _, _ in sent} == set(PATHS)
    assert all(headers["Cookie"] == COOKIE for *_, headers in sent)
    assert all(body is None for _, _, body, _ in sent)


def test_wrks_script_lists_every_path_and_counts_anything_but_200_as_bad():
    script = lua_script(Load(path="/operator/kpis", paths=PATHS, cookie=COOKIE))
    for path in PATHS:
        assert f'"{path}"' in script
    assert f'wrk.headers["Cookie"] = "{COOKIE}"' in script
    assert "if status ~= 200 then bad = bad + 1 end" in script


def test_the_python_fallback_sends_every_path_and_fails_the_redirects(server):
    base, seen = server
    good = PythonLoad().run(base, Load(path="/operator/kpis", paths=PATHS, cookie=COOKIE), 1)
    assert good.ok > 0 and good.errors == 0
    assert set(seen) == set(PATHS)
    # Without the operator's cookie every answer is the login redirect: all failures.
    seen.clear()
    bad = PythonLoad().run(base, Load(path="/operator/kpis", paths=PATHS), 1)
    assert bad.ok == 0 and bad.errors == sum(seen.values()) > 0


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_sends_every_path_and_fails_the_redirects(server, tmp_path):
    base, seen = server
    wrk = Wrk(shutil.which("wrk"), tmp_path)
    good = wrk.run(base, Load(path="/operator/kpis", paths=PATHS, cookie=COOKIE), 1)
    assert good.ok > 0 and good.errors == 0
    assert set(seen) == set(PATHS)
    seen.clear()
    bad = wrk.run(base, Load(path="/operator/kpis", paths=[*PATHS, "/elsewhere"], cookie=COOKIE), 1)
    # wrk stops counting at the deadline, with requests the server has seen still in flight.
    assert 0 < bad.errors <= seen["/elsewhere"]
    assert 0 < bad.ok <= sum(seen[p] for p in PATHS)


def test_side_by_side_alternates_the_two_rows_and_counts_each_over_its_own_slices(
    server, monkeypatch
):
    """Issue 19's targets are read with each row alternating with what it is compared with,
    so that a change of the machine's speed weighs on both: the slices interleave, and each
    row's req/s is its own requests over its own slices."""
    from bench import run

    monkeypatch.setattr(run, "SIDE_SLICES", 2)
    monkeypatch.setattr(run, "SIDE_SLICE_SECONDS", 1)
    monkeypatch.setattr(run, "WARMUP_SECONDS", 1)
    base, _seen = server
    order: list[str] = []

    class Recording(PythonLoad):
        def run(self, base, load, seconds):
            result = super().run(base, load, seconds)
            order.append(load.paths[0])
            return result

    a = Load(path="/operator/kpis", paths=PATHS[:1], cookie=COOKIE)
    b = Load(path="/operator/kpis", paths=PATHS[1:2], cookie=COOKIE)
    pair = run.side_by_side(Recording(), (base, a, "a"), (base, b, "b"), 60.0)
    # The warm-ups, then a, b, a, b.
    assert order == [PATHS[0], PATHS[1]] + [PATHS[0], PATHS[1]] * 2
    assert pair.rps > 0 and pair.compared_rps > 0 and pair.errors == 0
    assert pair.pct == round(100 * pair.rps / pair.compared_rps, 1)
    assert pair.verdict == ("PASS" if pair.pct >= 60 else "BELOW")
