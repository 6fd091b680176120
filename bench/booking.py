"""Booking under a rush, through the HTTP API of a real booking process (uvicorn, BENCH_WORKERS workers) on real
Postgres and Redis, in a fresh database that the service seeds with the dev catalogue at start-up (ZHENXI_ENV=dev).

1. BENCH_PATIENTS (default 1,000) patients start at once for the 20 slots of one session: each holds, and a
   patient who got a hold confirms with real name, ID number and phone. BENCH_RUNS runs (default 3), each on its
   own session, after an unmeasured warm-up rush. Per run it prints attempts handled per second (wall clock) with
   the load average beside it, and the CPU each attempt cost the service, the load generator and the Postgres
   backends (process CPU time / attempts: the number that does not depend on what else the machine is doing),
   how many bookings were confirmed (must be exactly 20: 0 oversold, 0 lost) and what Postgres holds afterwards.
2. Search latency over the seeded catalogue (~150 doctors): a fixed mix of Chinese text, department, title and
   availability queries, sequential, p50/p95.
Run: ./zhenxi bench booking"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import httpx
import redis as redis_sync
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "libs" / "common"))

from zhenxi_cli import infra  # noqa: E402
from zhenxi_cli.up import platform_env  # noqa: E402
from zhenxi_common.identity import Identity, sign_headers  # noqa: E402
from zhenxi_common.testing import free_port, migrate, signed  # noqa: E402

PATIENTS = int(os.environ.get("BENCH_PATIENTS", "1000"))
CAPACITY = 20
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "100"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))  # uvicorn worker processes (2 cores -> 2 workers)
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "300"))  # patients of the unmeasured warm-up rush
WARMUP_CAPACITY = 5
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


class BackendCpu(threading.Thread):
    """Samples the CPU time of the Postgres backends serving database ``db`` (found by their process title) every
    0.1 s while a rush runs; a backend that starts and exits between two samples is missed, so this is a lower
    bound. Its own CPU is reported so that the caller can take it out of the load generator's."""

    def __init__(self, db: str) -> None:
        super().__init__(daemon=True)
        self.marker = f" {db} ".encode()
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop = threading.Event()
        self.own_cpu = 0.0
        self.scan(self.first)

    def scan(self, into: dict[int, float]) -> None:
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if self.marker in (proc / "cmdline").read_bytes() + b" ":
                    into[int(proc.name)] = cpu_seconds(int(proc.name))
            except OSError:
                continue

    def run(self) -> None:
        t0 = time.thread_time()
        while not self.stop.wait(0.1):
            self.scan(self.last)
        self.scan(self.last)
        self.own_cpu = time.thread_time() - t0

    def total(self) -> float:
        return sum(v - self.first.get(pid, 0.0) for pid, v in self.last.items())


def redis_cpu(r: "redis_sync.Redis") -> float:
    info = r.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def measure(base: str, pid: int, sid: str, label: str, db: str, redis: "redis_sync.Redis") -> dict:
    pg = BackendCpu(db)
    cpu0, client0, redis0 = family_cpu(pid), time.process_time(), redis_cpu(redis)
    pg.start()
    codes, wall = asyncio.run(rush(base, sid, PATIENTS, label))
    pg.stop.set()
    pg.join()
    service, redis_used = family_cpu(pid) - cpu0, redis_cpu(redis) - redis0
    client = time.process_time() - client0 - pg.own_cpu
    return {"label": label, "codes": codes, "wall": wall, "load": os.getloadavg()[0], "service": service,
            "client": client, "pg": pg.total(), "redis": redis_used}


def ms(cpu_seconds_total: float) -> float:
    """CPU seconds of a run -> milliseconds per attempt."""
    return cpu_seconds_total / PATIENTS * 1000


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


async def rush(base: str, sid: str, patients: int = PATIENTS, tag: str = "rush") -> tuple[list[int], float]:
    """PATIENTS patients start together; each holds and, if it got a slot, confirms. One asyncio process with
    aiohttp: CONNECTIONS keep-alive connections, at most CONNECTIONS attempts in flight (a bounded pool; the other
    patients wait their turn in the semaphore rather than inside the HTTP client, whose queue costs CPU)."""
    key = os.environ["INTERNAL_SIGNING_KEY"]
    gate = asyncio.Semaphore(CONNECTIONS)
    hold_body = json.dumps({"session_id": sid}).encode()
    json_type = {"Content-Type": "application/json"}

    def auth(user: str, method: str, target: str) -> dict[str, str]:
        return sign_headers(key, Identity(user_id=user, role="patient"), method, target)

    async def patient(c: aiohttp.ClientSession, i: int) -> int:
        async with gate:
            user = f"{tag}-{i}"
            async with c.post("/v1/holds", data=hold_body, headers=auth(user, "POST", "/v1/holds") | json_type) as r:
                if r.status != 201:
                    await r.read()
                    return r.status
                hold = await r.json()
            body = {"hold_id": hold["id"],
                    "patient": {"name": "赵钱孙", "id_number": id_number(i), "phone": f"139{i:08d}"}}
            async with c.post("/v1/bookings", json=body, headers=auth(user, "POST", "/v1/bookings")
                              | {"Idempotency-Key": user}) as r:
                await r.read()
                return r.status

    # keep-alive shorter than uvicorn's 5 s, so a connection the server is closing is never reused
    connector = aiohttp.TCPConnector(limit=CONNECTIONS, keepalive_timeout=2)
    async with aiohttp.ClientSession(base_url=base, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=120)) as c:
        t = time.perf_counter()
        codes = await asyncio.gather(*(patient(c, i) for i in range(patients)))
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
                    "NATS_SUBJECT_PREFIX": f"bench{run}.", "BOOKING_LOG_LEVEL": "INFO"})
        os.environ["INTERNAL_SIGNING_KEY"] = env["INTERNAL_SIGNING_KEY"]
        global ADMIN
        ADMIN = signed("bench-admin", role="admin")  # signs with the key just set
        try:
            runs: list[dict] = []
            redis = redis_sync.Redis.from_url(env["REDIS_URL"])
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
                    def session(n: int, capacity: int) -> str:  # run n: its own doctor and visit day
                        day = (datetime.now(UTC) + timedelta(days=3 + n)).date().isoformat()
                        r = c.post("/v1/admin/sessions", auth=ADMIN, json={
                            "doctor_id": doctors[n]["id"], "date": day, "period": "evening", "capacity": capacity,
                            "fee": 100})
                        assert r.status_code == 201, r.text
                        return r.json()["id"]

                    sessions = [session(n, WARMUP_CAPACITY if n == 0 else CAPACITY) for n in range(RUNS + 1)]
                if WARMUP:  # not measured: pooled DB connections, prepared statements, Redis connections
                    asyncio.run(rush(base, sessions[0], WARMUP, "warm"))
                for n in range(1, RUNS + 1):
                    runs.append(measure(base, pid, sessions[n], f"run{n}", name, redis))
                    runs[-1]["truth"] = asyncio.run(
                        db_truth(db_url.replace("postgresql+asyncpg://", "postgresql://"), sessions[n]))
                # the losing path alone: the same rush again on a session that is already sold out
                lost = measure(base, pid, sessions[1], "again", name, redis)
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
    print(f"booking benchmark on {os.cpu_count()} CPUs, a machine shared with other jobs; catalogue: "
          f"{len(hospitals)} hospitals, {len(doctors)} doctors, "
          f"{len({d['department']['id'] for d in doctors})} departments (dev seed)")
    print(f"  setup: service = uvicorn (uvloop, httptools), {WORKERS} workers, access log on (JSON, INFO, to "
          f"/dev/null); load generator = one asyncio process, aiohttp, {CONNECTIONS} keep-alive connections, at "
          f"most {CONNECTIONS} attempts in flight; Postgres, Redis and NATS local (shared with other jobs)")
    print(f"  rush: {PATIENTS} patients start at once for the {CAPACITY} slots of one session (each holds; a "
          f"patient with a hold confirms); {RUNS} runs, each on its own session, after a warm-up rush of "
          f"{WARMUP} patients on another session (not measured)")
    print("    run   attempts/s (wall)  load avg   CPU ms per attempt: service  client  postgres  redis*   "
          "confirmed  409  other  oversold  lost")
    for r in runs:
        confirmed, distinct, remaining = r["truth"]
        bad = confirmed != CAPACITY or distinct != CAPACITY or remaining != 0
        print(f"    {r['label']:5s} {PATIENTS / r['wall']:8.0f}  ({r['wall']:5.2f} s) {r['load']:7.1f}   "
              f"{' ' * 20}{ms(r['service']):7.2f} {ms(r['client']):7.2f}  {ms(r['pg']):7.2f}  {ms(r['redis']):6.2f}"
              f"   {r['codes'].count(201):9d} {r['codes'].count(409):4d}  "
              f"{sorted({c for c in r['codes'] if c not in (201, 409)}) or '-'}  "
              f"{max(0, confirmed - CAPACITY):8d} {max(0, CAPACITY - confirmed):5d}"
              f"{'   POSTGRES DISAGREES: ' + str(r['truth']) if bad else ''}")
    print(f"    sold out (the losing path alone: {PATIENTS} more patients on run1's session, all refused from the "
          f"live count):")
    print(f"          {PATIENTS / lost['wall']:8.0f}  ({lost['wall']:5.2f} s) {lost['load']:7.1f}   {' ' * 20}"
          f"{ms(lost['service']):7.2f} {ms(lost['client']):7.2f}  {ms(lost['pg']):7.2f}  {ms(lost['redis']):6.2f}"
          f"   {lost['codes'].count(201):9d} {lost['codes'].count(409):4d}  "
          f"{sorted({c for c in lost['codes'] if c != 409}) or '-'}")
    med = statistics.median
    svc, cli, pg, rd = (med([r[k] for r in runs]) for k in ("service", "client", "pg", "redis"))
    print(f"    Postgres after each run: confirmed / distinct sequence numbers / remaining = "
          f"{', '.join('/'.join(map(str, r['truth'])) for r in runs)}")
    print(f"    wall attempts/s, median of {RUNS}: {med([PATIENTS / r['wall'] for r in runs]):.0f} (goal >= 500/s on "
          f"2 cores; load average {med([r['load'] for r in runs]):.1f} from other jobs on these 2 cores)")
    print(f"    CPU-based capacity (derived from the medians, not measured wall throughput):")
    print(f"      service alone            : {1000 / ms(svc):6.0f} attempts per CPU-second "
          f"-> {2000 / ms(svc):5.0f}/s on 2 idle cores")
    print(f"      service + client + postgres backends (+ redis*) on the same 2 idle cores: "
          f"{2000 / ms(svc + cli + pg):5.0f}/s ({2000 / ms(svc + cli + pg + rd):.0f}/s)")
    print("      * redis: CPU of the shared Redis server during the run, other jobs' use included (an upper bound)")
    print(f"  search: {SEARCHES} sequential queries over {len(QUERIES)} kinds: p50 {pct(lat, 50):.1f} ms   "
          f"p95 {pct(lat, 95):.1f} ms")


if __name__ == "__main__":
    main()
