"""Fault drills on real processes (issue #11): a real gateway in front of a real tips service, on real Postgres,
Redis and NATS. A frozen (SIGSTOPped) service costs a caller one budget and a 504, not minutes; health and docs
answer beside it; and a forged X-Forwarded-For from a direct client gets no fresh rate-limit bucket.

Client timeouts below only keep a regression from hanging the suite; the assertions are on the answers."""
import contextlib
import json
import os
import signal
from pathlib import Path

import httpx
import pytest

from zhenxi_common.testing import free_port, running_service, service_process

ROOT = Path(__file__).resolve().parents[1]
HANG_GUARD_S = 30.0


@pytest.fixture(scope="module")
def stack(zx_env):
    env = dict(os.environ)
    tips_port, gw_port = free_port(), free_port()
    env.update({
        "GATEWAY_TIPS_URL": f"http://127.0.0.1:{tips_port}",
        "GATEWAY_UPSTREAM_BUDGETS_S": json.dumps({"*": 2.0, "GET": 1.0}),
        "GATEWAY_HEALTH_PROBE_TIMEOUT_S": "1.0",
        "GATEWAY_DOCS_FETCH_TIMEOUT_S": "1.0",
        "GATEWAY_RATE_LIMIT_AUTH_PER_IP": "3",
    })
    with service_process(ROOT / "services" / "tips", tips_port, env) as (tips, tips_proc), \
            running_service(ROOT / "gateway", gw_port, env) as gw:
        yield {"gateway": gw, "tips": tips, "tips_pid": tips_proc.pid}


def _login(gw: str, name: str) -> dict[str, str]:
    creds = {"username": name, "password": "fault-drill-password"}
    assert httpx.post(f"{gw}/api/auth/register", json=creds).status_code == 201
    tokens = httpx.post(f"{gw}/api/auth/login", json=creds).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@contextlib.contextmanager
def frozen(pid: int):
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_frozen_service_answers_504_within_its_budget(stack):
    gw = stack["gateway"]
    auth = _login(gw, "frozen_drill")
    assert httpx.get(f"{gw}/api/tips/v1/info", headers=auth).status_code == 200
    assert "/api/tips/v1/info" in httpx.get(f"{gw}/api/openapi.json").json()["paths"]
    with frozen(stack["tips_pid"]):
        for method in ("GET", "POST"):
            r = httpx.request(method, f"{gw}/api/tips/v1/info", headers=auth, json={} if method == "POST" else None,
                              timeout=HANG_GUARD_S)
            assert r.status_code == 504, (method, r.text)
            assert r.json()["error"]["code"] == "upstream_timeout"
            assert r.json()["error"]["details"]["budget_s"] == (1.0 if method == "GET" else 2.0)
        health = httpx.get(f"{gw}/api/health", timeout=HANG_GUARD_S)
        assert health.status_code == 503
        tips = health.json()["services"]["tips"]
        assert tips["status"] == "down" and tips["reason"] == "no answer within 1 s"
        spec = httpx.get(f"{gw}/api/openapi.json", timeout=HANG_GUARD_S)
        assert spec.status_code == 200
        assert "/api/tips/v1/info" in spec.json()["paths"]  # the last good copy
        assert spec.json()["x-zhenxi-services"]["tips"]["status"] == "stale"
    # Thawed, it serves again (the gateway kept no stale state about it beyond the breaker's count).
    r = httpx.get(f"{gw}/api/tips/v1/info", headers=auth, timeout=HANG_GUARD_S)
    assert r.status_code == 200, r.text


def test_forwarded_for_from_a_direct_client_gets_no_fresh_bucket(stack):
    """uvicorn's proxy-header rewriting would take X-Forwarded-For from a 127.0.0.1 peer as the client address;
    the gateway runs without it and decides itself (GATEWAY_TRUSTED_PROXIES is empty here)."""
    gw = stack["gateway"]
    codes = [httpx.post(f"{gw}/api/auth/login", json={"username": f"nobody{i}", "password": "guess-guess"},
                        headers={"X-Forwarded-For": f"10.9.9.{i}"}).status_code for i in range(6)]
    # The limit is 3 attempts per IP (the other drill's register and login may already have used some of them).
    assert codes.count(401) <= 3 and codes[3:] == [429, 429, 429], codes
