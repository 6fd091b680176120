"""pytest plugin shared by every service's tests (auto-loaded through the ``pytest11`` entry point).

Each test run gets its own database (migrated to head with the service's real Alembic migrations), its own NATS
stream (subject prefix) and its own Redis key prefix, all on the real servers named by DATABASE_URL, REDIS_URL
and NATS_URL (``./zhenxi test`` resolves those: env, local port, or embedded servers)."""
from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from .identity import GatewayIdentityAuth, Identity
from .migrations import DEFAULT_URL

TEST_SIGNING_KEY = "test-only-signing-key-0123456789abcdef"


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


async def _create_db(url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_admin_dsn(url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_db(url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_admin_dsn(url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _cleanup_brokers(nats_url: str, prefix: str, redis_url: str, redis_prefix: str) -> None:
    import nats
    from redis.asyncio import Redis

    from .bus import stream_name_for

    with contextlib.suppress(Exception):
        nc = await nats.connect(nats_url, connect_timeout=2)
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(stream_name_for(prefix))
        await nc.close()
    with contextlib.suppress(Exception):
        r = Redis.from_url(redis_url)
        keys = [k async for k in r.scan_iter(match=f"{redis_prefix}*", count=500)]
        if keys:
            await r.delete(*keys)
        await r.aclose()


def migrate(service_dir: Path, env: dict[str, str]) -> None:
    """Run the service's real Alembic migrations in a subprocess (each service's package is named ``app``)."""
    ini = service_dir / "alembic.ini"
    if not ini.exists():
        return
    proc = subprocess.run([sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"],
                          cwd=service_dir, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"migrations failed for {service_dir.name}:\n{proc.stdout}\n{proc.stderr}")


@contextlib.contextmanager
def isolated_env(label: str) -> Iterator[dict[str, str]]:
    """A database of its own (created empty; each service migrates it) and Redis/NATS namespaces of its own, on the
    same real servers. Yields the environment overrides and removes all three afterwards.

    One per test run (``zx_env``), and one more for a group of service processes that must not meet the run's
    other processes: two report services on one database claim each other's pending reports, and a report whose
    uploads live in the other service's directory then fails in a way no deployment can reach."""
    run_id = secrets.token_hex(4)
    base_url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    name = f"zxt_{label}_{run_id}".replace("-", "_")
    asyncio.run(_create_db(base_url, name))
    env = {
        "ZHENXI_ENV": "test",
        "DATABASE_URL": make_url(base_url).set(database=name).render_as_string(hide_password=False),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "NATS_URL": os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
        "INTERNAL_SIGNING_KEY": TEST_SIGNING_KEY,
        "JWT_SECRET": "test-only-jwt-secret-0123456789abcdef",
        "NATS_SUBJECT_PREFIX": f"zt{run_id}.",
        "REDIS_KEY_PREFIX": f"zt{run_id}:",
    }
    try:
        yield env
    finally:
        asyncio.run(_cleanup_brokers(env["NATS_URL"], env["NATS_SUBJECT_PREFIX"], env["REDIS_URL"],
                                     env["REDIS_KEY_PREFIX"]))
        asyncio.run(_drop_db(base_url, name))


@pytest.fixture(scope="session")
def zx_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """A fresh, migrated database plus isolated Redis/NATS namespaces for this test run; sets os.environ."""
    service_dir = Path(request.config.rootpath)
    with isolated_env(service_dir.name) as env:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            migrate(service_dir, dict(os.environ))
            yield env
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def signed(user_id: str = "user-1", role: str = "patient", scopes: tuple[str, ...] = (),
           via: str = "user") -> GatewayIdentityAuth:
    """httpx auth that signs requests exactly as the gateway does, for calling a service in tests."""
    key = os.environ.get("INTERNAL_SIGNING_KEY", TEST_SIGNING_KEY)
    return GatewayIdentityAuth(key, Identity(user_id=user_id, role=role, scopes=scopes, via=via))


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free right now and not handed out before in this process (the OS may offer a just-released port
    twice, and two services told to share one would answer for each other)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


@contextlib.contextmanager
def service_process(service_dir: Path, port: int, env: dict[str, str], timeout_s: float = 60.0,
                    migrate_first: bool = True) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start a real service process with uvicorn and wait for /readyz; yields its base URL and the process (for
    fault drills: signal it, kill it)."""
    if migrate_first:
        migrate(service_dir, env)
    # The log goes to a file, not a pipe: nobody reads a pipe while the service runs, and a service that fills
    # the pipe's buffer (64 KiB of log lines) blocks on its next write and stops answering.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--no-proxy-headers"],
        cwd=service_dir, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"{service_dir.name} exited: {log.read().decode(errors='replace')[-2000:]}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                r = httpx.get(f"{base}/readyz", timeout=1)
                if r.status_code == 200:
                    # Someone else answering on our port (it was taken before we bound it) is not "ready".
                    owner = r.json().get("service")
                    if owner not in (None, service_dir.name):
                        raise RuntimeError(f"port {port} is served by {owner!r}, not {service_dir.name!r}")
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service_dir.name} not ready after {timeout_s}s")
            time.sleep(0.2)
        yield base, proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)  # a drill may have left it stopped
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@contextlib.contextmanager
def running_service(service_dir: Path, port: int, env: dict[str, str], timeout_s: float = 60.0,
                    migrate_first: bool = True) -> Iterator[str]:
    """Start a real service process with uvicorn and wait for /readyz; yields its base URL."""
    with service_process(service_dir, port, env, timeout_s, migrate_first) as (base, _):
        yield base


class ServiceShapeContract:
    """The platform contract every service keeps. A service's tests subclass it and set ``service``;
    they need a ``client`` fixture (TestClient over the service's app)."""

    service: str = ""

    def test_liveness_and_readiness(self, client) -> None:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert {"database", "redis", "nats"} <= set(ready.json()["checks"])
        assert ready.json()["status"] == "ready"
        if self.service:
            assert ready.json()["service"] == self.service   # who answers on this port

    def test_metrics_count_requests(self, client) -> None:
        client.get("/v1/info", auth=signed("metrics-user"))
        body = client.get("/metrics").text
        assert (f'http_requests_total{{method="GET",route="/v1/info",service="{self.service}",status="200"}}'
                in body)

    def test_signed_identity_reaches_route(self, client) -> None:
        r = client.get("/v1/info", auth=signed("u-42", role="admin"))
        assert r.status_code == 200
        assert r.json()["service"] == self.service
        assert r.json()["caller"] == {"user_id": "u-42", "role": "admin"}
        assert r.headers["x-request-id"]

    def test_request_without_gateway_is_refused(self, client) -> None:
        r = client.get("/v1/info")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "gateway_required"

    def test_forged_signature_is_refused(self, client) -> None:
        good = client.get("/v1/info", auth=signed("u-1")).request.headers
        forged = {k: good[k] for k in ("x-zhenxi-identity", "x-zhenxi-timestamp")}
        forged["x-zhenxi-signature"] = "0" * 64
        r = client.get("/v1/info", headers=forged)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "gateway_signature_invalid"

    def test_signature_is_bound_to_path(self, client) -> None:
        r = client.get("/v1/info", auth=signed("u-1"))
        headers = {k: r.request.headers[k]
                   for k in ("x-zhenxi-identity", "x-zhenxi-timestamp", "x-zhenxi-signature")}
        assert client.get("/v1/info?x=1", headers=headers).status_code == 401

    def test_unknown_route_is_json_404(self, client) -> None:
        r = client.get("/v1/no-such-route", auth=signed())
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"
