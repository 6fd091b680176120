"""Booking under a rush, through the HTTP API of a real booking process (uvicorn, one worker) on real Postgres and
Redis, in a fresh database that the service seeds with the dev catalogue at start-up (ZHENXI_ENV=dev).

1. BENCH_PATIENTS (default 1,000) patients start at once for the 20 slots of one session: each holds, and a
   patient who got a hold confirms with real name, ID number and phone. Prints attempts handled per second, how
   many bookings were confirmed (must be exactly 20: 0 oversold, 0 lost), and what Postgres holds afterwards.
2. Search latency over the seeded catalogue (~150 doctors): a fixed mix of Chinese text, department, title and
   availability queries, sequential, p50/p95.
Run: ./zhenxi bench booking"""
from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "libs" / "common"))

from zhenxi_cli import infra  # noqa: E402
from zhenxi_cli.up import platform_env  # noqa: E402
from zhenxi_common.testing import free_port, migrate, signed  # noqa: E402

PATIENTS = int(os.environ.get("BENCH_PATIENTS", "1000"))
CAPACITY = 20
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "100"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))  # uvicorn worker processes (2 cores -> 2 workers)
SEARCHES = int(os.environ.get("BENCH_SEARCHES", "300"))
QUERIES = ["q=糖尿病", "q=高血压", "q=头痛", "q=儿童发热", "q=腰椎间盘突出", "q=肺结节", "q=擅长胃镜检查的医生",
           "department=cardiology", "department=pediatrics&available=true", "q=湿疹&title=主任医师",
           "department=endocrinology&q=甲状腺", "available=true", "q=幽门螺杆菌"]


def id_number(i: int) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    first17 = f"110101198{i % 10}0{1 + i % 9}1{i % 10}{i % 1000:03d}"
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights)) % 11]


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a process (Linux /proc), to report CPU cost per attempt apart from wall time on a
    shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def family(pid: int) -> list[int]:
    """``pid`` and its child processes (uvicorn's workers)."""
    out = [pid]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                out.append(int(proc.name))
    return out


def family_cpu(pid: int) -> float:
    total = 0.0
    for p in family(pid):
        try:
            total += cpu_seconds(p)
        except OSError:
            pass
    return total


@contextlib.contextmanager
def booking_service(env: dict[str, str], port: int):
    """The booking service under uvicorn with WORKERS processes (migrated first); yields (base URL, pid)."""
    migrate(ROOT / "services" / "booking", env)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--host",
                             "127.0.0.1", "--port", str(port), "--workers", str(WORKERS), "--no-access-log"],
                            cwd=ROOT / "services" / "booking", env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError("booking service exited")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("booking service not ready")
            time.sleep(0.3)
        # every worker must have finished start-up (the dev seed runs in the first one to get there)
        time.sleep(2)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


async def rush(base: str, sid: str) -> tuple[list[int], float]:
    # In flight at most CONNECTIONS at a time: httpcore's pool rescans every waiting request on each release, so
    # 1,000 requests queued inside the pool cost the load generator more CPU than the service spends.
    gate = asyncio.Semaphore(CONNECTIONS)

    async def patient(c: httpx.AsyncClient, i: int) -> int:
        async with gate:
            return await _patient(c, i)

    async def _patient(c: httpx.AsyncClient, i: int) -> int:
        user = f"rush-{i}"
        r = await c.post("/v1/holds", json={"session_id": sid}, auth=signed(user))
        if r.status_code != 201:
            return r.status_code
        r = await c.post("/v1/bookings", auth=signed(user), headers={"Idempotency-Key": f"rush-{i}"},
                         json={"hold_id": r.json()["id"],
                               "patient": {"name": "赵钱孙", "id_number": id_number(i), "phone": f"139{i:08d}"}})
        return r.status_code

    limits = httpx.Limits(max_connections=CONNECTIONS, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as c:
        t = time.perf_counter()
        codes = await asyncio.gather(*(patient(c, i) for i in range(PATIENTS)))
        return list(codes), time.perf_counter() - t


async def db_truth(dsn: str, sid: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        sid_u = uuid.UUID(sid)
        confirmed = await conn.fetchval("SELECT count(*) FROM booking.bookings WHERE session_id=$1 "
                                        "AND status='confirmed'", sid_u)
        distinct = await conn.fetchval("SELECT count(DISTINCT seq_no) FROM booking.bookings WHERE session_id=$1 "
                                       "AND status='confirmed'", sid_u)
        remaining = await conn.fetchval("SELECT remaining FROM booking.sessions WHERE id=$1", sid_u)
        return confirmed, distinct, remaining
    finally:
        await conn.close()


async def _admin_db(url: str, sql: str) -> None:
    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql", database="postgres")
                                 .render_as_string(hide_password=False))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    with infra.resolve(log=lambda *_: None) as inf:
        env = platform_env(inf)
        name = f"zxbench_booking_{secrets.token_hex(3)}"
        asyncio.run(_admin_db(env["DATABASE_URL"], f'CREATE DATABASE "{name}"'))
        db_url = make_url(env["DATABASE_URL"]).set(database=name).render_as_string(hide_password=False)
        run = secrets.token_hex(3)
        env.update({"ZHENXI_ENV": "dev", "DATABASE_URL": db_url, "REDIS_KEY_PREFIX": f"bench{run}:",
                    "NATS_SUBJECT_PREFIX": f"bench{run}.", "BOOKING_LOG_LEVEL": "WARNING"})
        os.environ["INTERNAL_SIGNING_KEY"] = env["INTERNAL_SIGNING_KEY"]
        global ADMIN
        ADMIN = signed("bench-admin", role="admin")  # signs with the key just set
        try:
            with booking_service(env, free_port()) as (base, pid):
                with httpx.Client(base_url=base, timeout=60) as c:
                    hospitals = c.get("/v1/hospitals", auth=ADMIN).json()
                    doctors, cursor = [], None
                    for _ in range(100):
                        page = c.get("/v1/doctors?limit=100" + (f"&cursor={cursor}" if cursor else ""),
                                     auth=ADMIN).json()
                        assert "items" in page, page
                        doctors += page["items"]
                        cursor = page["next_cursor"]
                        if not cursor:
                            break
                    day = (datetime.now(UTC) + timedelta(days=9)).date().isoformat()
                    s = c.post("/v1/admin/sessions", auth=ADMIN, json={
                        "doctor_id": doctors[0]["id"], "date": day, "period": "evening", "capacity": CAPACITY,
                        "fee": 100}).json()
                cpu0, client0 = family_cpu(pid), time.process_time()
                codes, wall = asyncio.run(rush(base, s["id"]))
                cpu, client_cpu = family_cpu(pid) - cpu0, time.process_time() - client0
                confirmed, distinct, remaining = asyncio.run(
                    db_truth(db_url.replace("postgresql+asyncpg://", "postgresql://"), s["id"]))
                lat: list[float] = []
                with httpx.Client(base_url=base, timeout=60) as c:
                    for q in QUERIES:  # warm-up
                        c.get(f"/v1/doctors?{q}", auth=ADMIN)
                    for i in range(SEARCHES):
                        q = QUERIES[i % len(QUERIES)]
                        t = time.perf_counter()
                        r = c.get(f"/v1/doctors?{q}", auth=ADMIN)
                        lat.append((time.perf_counter() - t) * 1000)
                        assert r.status_code == 200, r.text
        finally:
            asyncio.run(_admin_db(env["DATABASE_URL"].replace(name, "postgres"),
                                  f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    ok = codes.count(201)
    other = sorted({c for c in codes if c not in (201, 409)})
    print(f"booking benchmark on {os.cpu_count()} CPUs (shared machine; {WORKERS} uvicorn workers), catalogue: "
          f"{len(hospitals)} hospitals, {len(doctors)} doctors, "
          f"{len({d['department']['id'] for d in doctors})} departments (dev seed)")
    print(f"  rush: {PATIENTS} concurrent patients for {CAPACITY} slots, {CONNECTIONS} connections")
    print(f"    attempts handled   : {PATIENTS / wall:7.0f} /s   ({PATIENTS} in {wall:.2f} s; goal >= 500/s)")
    if cpu:
        print(f"    service CPU        : {cpu:.2f} s for the rush = {cpu / PATIENTS * 1000:.2f} ms per attempt "
              f"-> {PATIENTS / cpu:.0f} attempts per CPU-second (derived, not measured wall throughput)")
        print(f"    client CPU         : {client_cpu:.2f} s (the load generator itself, same machine)")
    load = os.getloadavg()[0]
    print(f"    machine load avg   : {load:.1f} on {os.cpu_count()} CPUs during the run")
    print(f"    confirmed (HTTP)   : {ok}   sold out (409): {codes.count(409)}   other: {other or 'none'}")
    print(f"    Postgres after     : {confirmed} confirmed, {distinct} distinct sequence numbers, "
          f"remaining {remaining}")
    print(f"    oversold {max(0, confirmed - CAPACITY)}, lost {max(0, CAPACITY - confirmed)}")
    print(f"  search: {SEARCHES} sequential queries over {len(QUERIES)} kinds: p50 {pct(lat, 50):.1f} ms   "
          f"p95 {pct(lat, 95):.1f} ms")


if __name__ == "__main__":
    main()
