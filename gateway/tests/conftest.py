import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import asyncpg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from zhenxi_common.testing import free_port, running_service

ROOT = Path(__file__).resolve().parents[2]


class WechatContract(BaseHTTPRequestHandler):
    """A local stand-in for WeChat's ``/sns/jscode2session`` (an outside system), speaking its contract:
    codes are single-use; bad ones get errcode 40029, reused ones 40163."""

    codes = {"code-alice-1": "oAlice123", "code-alice-2": "oAlice123", "code-bob": "oBob456"}
    used: set[str] = set()

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path != "/sns/jscode2session":
            self.send_response(404)
            self.end_headers()
            return
        code = q.get("js_code", "")
        if q.get("appid") != "wx-test-app" or q.get("secret") != "wx-test-secret":
            body = {"errcode": 40013, "errmsg": "invalid appid"}
        elif code in self.used:
            body = {"errcode": 40163, "errmsg": "code been used"}
        elif code in self.codes:
            self.used.add(code)
            body = {"openid": self.codes[code], "session_key": "sk-" + code}
        else:
            body = {"errcode": 40029, "errmsg": "invalid code"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="session")
def wechat_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), WechatContract)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def tips_url(zx_env):
    import os

    with running_service(ROOT / "services" / "tips", free_port(), dict(os.environ)) as url:
        yield url


def make_settings(tips_url: str, wechat_url: str, **overrides):
    from app.config import Settings

    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    base = dict(tips_url=tips_url, ocr_url=dead, xray_url=dead, nlp_url=dead, report_url=dead,
                reminders_url=dead, booking_url=dead, wechat_api_base=wechat_url,
                wechat_appid="wx-test-app", wechat_secret="wx-test-secret")
    base.update(overrides)
    return Settings(**base)


@pytest.fixture(scope="session")
def gateway(zx_env, tips_url, wechat_server):
    from app.main import create_app

    settings = make_settings(tips_url, wechat_server, rate_limit_auth_per_ip=100_000, rate_limit_per_ip=100_000,
                             rate_limit_per_user=100_000)
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def make_gateway(zx_env, tips_url, wechat_server):
    """A gateway with its own settings (e.g. tiny limits) and its own Redis namespace."""
    import secrets

    from app.main import create_app

    clients = []

    def _make(client: tuple[str, int] = ("testclient", 50000), **overrides):
        overrides.setdefault("redis_key_prefix", f"{zx_env['REDIS_KEY_PREFIX']}{secrets.token_hex(3)}:")
        upstream = overrides.pop("tips_url", tips_url)
        c = TestClient(create_app(make_settings(upstream, wechat_server, **overrides)), client=client)
        c.__enter__()
        clients.append(c)
        return c

    yield _make
    for c in clients:
        c.__exit__(None, None, None)


class _Recorder(BaseHTTPRequestHandler):
    """Sits between the gateway and the real tips service: records the headers the gateway sent (as a raw list,
    so duplicates show) and relays the request to tips unchanged."""

    target = ""
    seen: list[list[tuple[str, str]]] = []

    def log_message(self, *args) -> None:
        pass

    def _relay(self) -> None:
        import httpx

        self.seen.append([(k.lower(), v) for k, v in self.headers.items()])
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in ("host", "content-length")]
        r = httpx.request(self.command, self.target + self.path, headers=headers, content=body, timeout=10)
        self.send_response(r.status_code)
        for k, v in r.headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(r.content)))
        self.end_headers()
        self.wfile.write(r.content)

    do_GET = do_POST = do_PUT = do_DELETE = _relay  # noqa: N815


@pytest.fixture
def header_recorder(tips_url):
    """(url, seen): point a gateway's ``tips_url`` at ``url`` to see exactly what it forwards to tips."""
    handler = type("Recorder", (_Recorder,), {"target": tips_url, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.seen
    server.shutdown()


def sql(zx_env, query: str, *args):
    async def run():
        url = make_url(zx_env["DATABASE_URL"]).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


_counter = iter(range(10**6))


def new_user(gateway, role: str | None = None, zx_env=None, password: str = "correct horse battery"):
    """Register (and optionally promote) a fresh account; returns (username, tokens)."""
    username = f"user{next(_counter)}_{id(gateway) % 1000}"
    assert gateway.post("/api/auth/register", json={"username": username, "password": password}).status_code == 201
    if role:
        sql(zx_env, "UPDATE gateway.users SET role=$1 WHERE username=$2", role, username)
    tokens = gateway.post("/api/auth/login", json={"username": username, "password": password}).json()
    return username, tokens


def bearer(tokens) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}
