"""The outbound client against a real local HTTP server: retries idempotent calls, never retries POST, and
opens its circuit after repeated failures."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from zhenxi_common.errors import UpstreamUnavailableError
from zhenxi_common.http import make_breakers, make_http_client


class Flaky(BaseHTTPRequestHandler):
    plan: list[int] = []
    hits: list[str] = []

    def log_message(self, *a):
        pass

    def _answer(self):
        self.hits.append(self.command)
        status = self.plan.pop(0) if self.plan else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = _answer


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    Flaky.plan, Flaky.hits = [], []
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


async def test_get_is_retried_on_503(server):
    Flaky.plan = [503, 503, 200]
    async with make_http_client(server, name="flaky") as c:
        r = await c.get("/x")
    assert r.status_code == 200 and Flaky.hits == ["GET"] * 3


async def test_post_is_not_retried(server):
    Flaky.plan = [503, 200]
    async with make_http_client(server, name="flaky") as c:
        r = await c.post("/x", content=b"{}")
    assert r.status_code == 503 and Flaky.hits == ["POST"]


async def test_breaker_opens_after_repeated_failures():
    breakers = make_breakers(threshold=2, ttl_s=60)
    async with make_http_client("http://127.0.0.1:9", name="dead", breakers=breakers, attempts=1) as c:
        for _ in range(2):
            with pytest.raises(httpx.TransportError):
                await c.get("/x")
        with pytest.raises(UpstreamUnavailableError):
            await c.get("/x")
