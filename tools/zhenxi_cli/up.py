"""``zhenxi up``: infrastructure, migrations, then every service and the gateway under the local supervisor
(supervisor.py: one readable, prefixed log; a dead process is restarted with back-off and the others keep
running). Ctrl-C stops the processes, then the embedded servers."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import httpx
from . import infra
from .supervisor import ProcessSpec, Supervisor
from .web import ensure_web_deps
from .topology import ROOT, components

DEV_SECRETS = {"INTERNAL_SIGNING_KEY": "dev-insecure-change-me", "JWT_SECRET": "dev-insecure-change-me"}


def platform_env(inf: infra.Infra) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("ZHENXI_ENV", "dev")
    for k, v in DEV_SECRETS.items():
        env.setdefault(k, v)
    env.update(inf.env())
    for comp in components():
        if comp.name != "gateway":
            env.setdefault(f"GATEWAY_{comp.name.upper()}_URL", f"http://127.0.0.1:{comp.port}")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def migrate_all(env: dict[str, str]) -> None:
    for comp in components():
        ini = comp.directory / "alembic.ini"
        if not ini.exists():
            continue
        proc = subprocess.run([sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"],
                              cwd=comp.directory, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"zhenxi: migrations failed for {comp.name}:\n{proc.stderr[-3000:]}")
        print(f"zhenxi: migrated {comp.name}", flush=True)


def _wait_ready(started: float, stop: threading.Event, gateway_port: int) -> None:
    pending = {c.name: c.port for c in components()}
    while pending and not stop.is_set():
        for name, port in list(pending.items()):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    pending.pop(name)
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    if not pending:
        print(f"\nzhenxi: all {len(components())} processes ready in {time.monotonic() - started:.1f}s — "
              f"http://127.0.0.1:{gateway_port}  (API docs: /api/docs, health: /api/health). Ctrl-C stops.\n",
              flush=True)


def run(args) -> int:
    started = time.monotonic()
    ensure_web_deps()
    with infra.resolve() as inf:
        env = platform_env(inf)
        migrate_all(env)
        specs = []
        gateway_port = 8000
        for comp in components():
            host = "0.0.0.0" if comp.name == "gateway" and args.public else "127.0.0.1"
            if comp.name == "gateway":
                gateway_port = comp.port
            # --no-proxy-headers: the gateway decides itself whose X-Forwarded-For to believe.
            cmd = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--host", host,
                   "--port", str(comp.port), "--no-access-log", "--no-proxy-headers"]
            specs.append(ProcessSpec(comp.name, cmd, str(comp.directory), env))
        supervisor = Supervisor(specs)
        stop = threading.Event()
        waiter = threading.Thread(target=_wait_ready, args=(started, stop, gateway_port), daemon=True)
        waiter.start()
        try:
            code = supervisor.run()
        finally:
            stop.set()
        print("zhenxi: stopped all processes; stopping embedded servers", flush=True)
        return code
