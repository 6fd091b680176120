"""Fault drills on real processes, printing what a caller sees (issue #11):

  freeze  a SIGSTOPped tips service behind the gateway: how long GET, POST, /api/health and /api/openapi.json take
          and what they answer;
  flood   wrong passwords for one account from one client, over a span that straddles a rate-limit window
          boundary, with and without a rotating X-Forwarded-For: how many reach the password check (401) and how
          many are refused (429);
  kill    two services under the local runner, one SIGKILLed: does the other keep serving, and is the dead one
          back (``--runner honcho`` runs the old honcho manager for comparison).

Run: ./zhenxi bench faults [freeze|flood|kill ...] [--runner supervisor|honcho]. Every wait is bounded."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "libs" / "common"))

from zhenxi_cli import infra  # noqa: E402
from zhenxi_cli.up import platform_env  # noqa: E402
from zhenxi_common.testing import free_port, running_service  # noqa: E402

CLIENT_TIMEOUT_S = 240.0


def _env(inf) -> dict[str, str]:
    env = platform_env(inf)
    tag = f"benchfault{os.getpid()}"
    env.update({"ZHENXI_ENV": "dev", "REDIS_KEY_PREFIX": f"{tag}:", "NATS_SUBJECT_PREFIX": f"{tag}.",
                "LOG_LEVEL": "WARNING"})
    return env


def _pid_on_port(port: int) -> int:
    """The uvicorn process serving ``port`` (found by its command line, bounded scan of /proc)."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmd = (d / "cmdline").read_bytes().split(b"\0")
            if b"uvicorn" in b" ".join(cmd) and str(port).encode() in cmd:
                return int(d.name)
    raise RuntimeError(f"no process serves port {port}")


async def _timed(client: httpx.AsyncClient, method: str, url: str, **kw) -> tuple[float, str]:
    t = time.perf_counter()
    try:
        r = await client.request(method, url, timeout=CLIENT_TIMEOUT_S, **kw)
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        what = f"{r.status_code} {(body.get('error') or {}).get('code') or body.get('status') or ''}".strip()
    except httpx.HTTPError as exc:
        what = f"client gave up: {type(exc).__name__}"
    return time.perf_counter() - t, what


def freeze(env: dict[str, str]) -> None:
    tips_port, gw_port = free_port(), free_port()
    env = {**env, "GATEWAY_TIPS_URL": f"http://127.0.0.1:{tips_port}"}
    with running_service(ROOT / "services" / "tips", tips_port, env) as tips, \
            running_service(ROOT / "gateway", gw_port, env) as gw:
        user = f"freeze{os.getpid()}"
        httpx.post(f"{gw}/api/auth/register", json={"username": user, "password": "bench-password"})
        token = httpx.post(f"{gw}/api/auth/login",
                           json={"username": user, "password": "bench-password"}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        pid = _pid_on_port(tips_port)
        os.kill(pid, signal.SIGSTOP)
        try:
            async def drill():
                async with httpx.AsyncClient() as c:
                    return await asyncio.gather(
                        _timed(c, "GET", f"{gw}/api/tips/v1/info", headers=auth),
                        _timed(c, "POST", f"{gw}/api/tips/v1/info", headers=auth, json={}),
                        _timed(c, "GET", f"{gw}/api/health"),
                        _timed(c, "GET", f"{gw}/api/openapi.json"))
            results = asyncio.run(drill())
        finally:
            os.kill(pid, signal.SIGCONT)
        del tips
    print("freeze: tips SIGSTOPped behind a real gateway (default settings), four calls at once")
    for label, (s, what) in zip(("GET /api/tips/v1/info", "POST /api/tips/v1/info", "GET /api/health",
                                 "GET /api/openapi.json"), results, strict=True):
        print(f"  {label:24s} {s:7.1f} s  -> {what}")


def flood(env: dict[str, str], window_s: int, span_s: float) -> None:
    gw_port = free_port()
    env = {**env, "GATEWAY_RATE_LIMIT_WINDOW_S": str(window_s)}
    with running_service(ROOT / "gateway", gw_port, env) as gw:
        for rotate in (False, True):
            user = f"flood{os.getpid()}{int(rotate)}"
            httpx.post(f"{gw}/api/auth/register", json={"username": user, "password": "the-real-password"})
            wrong = {"username": user, "password": "not-the-password"}
            counts = {"401": 0, "429": 0, "other": 0}
            # One attempt starts a window; the flood then runs from shortly before that window ends to after it.
            first = httpx.post(f"{gw}/api/auth/login", json=wrong, headers={"X-Forwarded-For": "10.0.0.1"}
                               if rotate else {})
            counts[str(first.status_code) if str(first.status_code) in counts else "other"] += 1
            time.sleep(max(0.0, window_s - span_s / 2))

            async def attack():
                async with httpx.AsyncClient(timeout=30) as c:
                    deadline = time.monotonic() + span_s
                    n = iter(range(10_000))

                    async def worker():
                        while time.monotonic() < deadline:
                            i = next(n)
                            headers = {"X-Forwarded-For": f"10.9.{i // 250}.{i % 250 + 1}"} if rotate else {}
                            r = await c.post(f"{gw}/api/auth/login", json=wrong, headers=headers)
                            key = str(r.status_code)
                            counts[key if key in counts else "other"] += 1
                    await asyncio.gather(*(worker() for _ in range(4)))
            asyncio.run(attack())
            real = httpx.post(f"{gw}/api/auth/login", json={"username": user, "password": "the-real-password"})
            print(f"flood ({'rotating X-Forwarded-For' if rotate else 'one client'}): window {window_s} s, "
                  f"{span_s:.0f} s of wrong passwords across the window boundary (+1 attempt that opened it): "
                  f"{counts['401']} reached the password check (401), {counts['429']} refused (429), "
                  f"{counts['other']} other; the real password right after: {real.status_code}"
                  f"{' ' + real.json()['error']['code'] if real.status_code != 200 else ''}")


CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
specs = json.loads(sys.argv[3])
if sys.argv[2] == "honcho":
    from honcho.manager import Manager
    from honcho.printer import Printer
    m = Manager(Printer(sys.stdout))
    for s in specs:
        m.add_process(s["name"], " ".join(s["cmd"]), env=s["env"], cwd=s["cwd"])
    m.loop()
    sys.exit(m.returncode or 0)
from zhenxi_cli.up import ProcessSpec, Supervisor
sys.exit(Supervisor([ProcessSpec(**s) for s in specs]).run())
"""


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def kill(env: dict[str, str], runner: str) -> None:
    ports = {"tips": free_port(), "booking": free_port()}
    specs = []
    for name, port in ports.items():
        d = ROOT / "services" / name
        subprocess.run([sys.executable, "-m", "alembic", "-c", str(d / "alembic.ini"), "upgrade", "head"],
                       cwd=d, env=env, check=True, capture_output=True)
        specs.append({"name": name, "cwd": str(d), "env": env,
                      "cmd": [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--host",
                              "127.0.0.1", "--port", str(port), "--no-access-log"]})
    urls = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
    log = open(f"/tmp/bench-faults-kill-{runner}.log", "w")  # noqa: SIM115
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(ROOT / "tools"), runner, json.dumps(specs)],
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not all(_ready(u) for u in urls.values()):
            if time.monotonic() > deadline or child.poll() is not None:
                raise RuntimeError("services did not start under the runner")
            time.sleep(0.3)
        victim = _pid_on_port(ports["tips"])
        os.kill(victim, signal.SIGKILL)
        t0 = time.monotonic()
        other_down_at = tips_back_at = None
        while time.monotonic() - t0 < 30 and (tips_back_at is None or other_down_at is None):
            now = time.monotonic() - t0
            if other_down_at is None and not _ready(urls["booking"]):
                other_down_at = now
            if tips_back_at is None and _ready(urls["tips"]):
                tips_back_at = now
            time.sleep(0.1)
        runner_alive = child.poll() is None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGINT)
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
        log.close()
    print(f"kill ({runner}): SIGKILL on tips under the runner, watched 30 s")
    print(f"  booking (untouched): {'stopped after %.1f s' % other_down_at if other_down_at is not None else 'kept serving'}")
    print(f"  tips (killed)      : {'back after %.1f s' % tips_back_at if tips_back_at is not None else 'not back'}")
    print(f"  runner             : {'still running' if runner_alive else 'exited'}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("drills", nargs="*", default=["freeze", "flood", "kill"])
    p.add_argument("--runner", default="supervisor", choices=["supervisor", "honcho"])
    p.add_argument("--window-s", type=int, default=20)
    p.add_argument("--span-s", type=float, default=14.0)
    a = p.parse_args()
    with infra.resolve(log=lambda *_: None) as inf:
        env = _env(inf)
        os.environ["INTERNAL_SIGNING_KEY"] = env["INTERNAL_SIGNING_KEY"]
        for drill in a.drills:
            if drill == "freeze":
                freeze(env)
            elif drill == "flood":
                flood(env, a.window_s, a.span_s)
            elif drill == "kill":
                kill(env, a.runner)


if __name__ == "__main__":
    main()
