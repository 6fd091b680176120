"""Gateway overhead: the same request to the tips service directly (signed as the gateway would) and through the
gateway (JWT check, revoked-token and rate-limit lookups in Redis, header signing, streaming proxy).
Prints p50/p95 latency of each, the overhead, and requests/s at concurrency 16. Run: ./zhenxi bench gateway"""
from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "libs" / "common"))

from zhenxi_cli import infra  # noqa: E402
from zhenxi_cli.up import platform_env  # noqa: E402
from zhenxi_common.testing import free_port, running_service, signed  # noqa: E402

N = int(os.environ.get("BENCH_N", "2000"))
CONCURRENCY = 16


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def latency(client: httpx.Client, url: str, n: int, **kw) -> list[float]:
    for _ in range(50):  # warm-up
        client.get(url, **kw)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(url, **kw)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text
    return out


async def throughput(url: str, n: int, **kw) -> float:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CONCURRENCY)) as c:
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one() -> None:
            async with sem:
                r = await c.get(url, **kw)
                assert r.status_code == 200

        t = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - t)


def main() -> None:
    with infra.resolve(log=lambda *_: None) as inf:
        env = platform_env(inf)
        env.update({"ZHENXI_ENV": "dev", "REDIS_KEY_PREFIX": "bench:", "NATS_SUBJECT_PREFIX": "bench.",
                    "GATEWAY_RATE_LIMIT_PER_USER": "10000000", "GATEWAY_RATE_LIMIT_PER_IP": "10000000",
                    "LOG_LEVEL": "WARNING", "TIPS_LOG_LEVEL": "WARNING", "GATEWAY_LOG_LEVEL": "WARNING"})
        os.environ["INTERNAL_SIGNING_KEY"] = env["INTERNAL_SIGNING_KEY"]
        tips_port, gw_port = free_port(), free_port()
        env["GATEWAY_TIPS_URL"] = f"http://127.0.0.1:{tips_port}"
        with running_service(ROOT / "services" / "tips", tips_port, env) as tips, \
                running_service(ROOT / "gateway", gw_port, env) as gw:
            user = f"bench{int(time.time())}"
            httpx.post(f"{gw}/api/auth/register", json={"username": user, "password": "bench-password"})
            token = httpx.post(f"{gw}/api/auth/login",
                               json={"username": user, "password": "bench-password"}).json()["access_token"]
            me = httpx.get(f"{gw}/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
            auth = signed(me["user_id"], "patient")
            with httpx.Client() as c:
                direct = latency(c, f"{tips}/v1/info", N, auth=auth)
                via = latency(c, f"{gw}/api/tips/v1/info", N, headers={"Authorization": f"Bearer {token}"})
            rps_direct = asyncio.run(throughput(f"{tips}/v1/info", N, auth=auth))
            rps_via = asyncio.run(throughput(f"{gw}/api/tips/v1/info", N,
                                             headers={"Authorization": f"Bearer {token}"}))
    d50, d95, g50, g95 = pct(direct, 50), pct(direct, 95), pct(via, 50), pct(via, 95)
    print(f"gateway benchmark: {N} sequential GETs each, keep-alive; concurrency {CONCURRENCY} for throughput")
    print(f"  direct to service : p50 {d50:6.2f} ms   p95 {d95:6.2f} ms   {rps_direct:7.0f} req/s")
    print(f"  through gateway   : p50 {g50:6.2f} ms   p95 {g95:6.2f} ms   {rps_via:7.0f} req/s")
    print(f"  gateway overhead  : p50 {g50 - d50:6.2f} ms   p95 {g95 - d95:6.2f} ms   (goal: p50 <= 3 ms)")


if __name__ == "__main__":
    main()
