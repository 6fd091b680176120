"""The reminders outbox relay alone, draining a peak: CPU and wall per 1,000 fires, by process and by stage.

A fresh database (the service's real migrations) gets --rows ``reminder.due.v1`` outbox rows staged the way the
scheduler stages them (rendered payload, msg-id, ``not_before`` = one instant, already past), plus --behind rows staged
for later (the next peak, which a claim must not read). Then the service's own ``DrainingRelay``, built as
``app.main`` builds it (its own pool, ``synchronous_commit = off``, --batch x --depth lanes), drains them to a real
NATS JetStream stream, --repeat times (a fresh set of rows each time). It prints, per 1,000 fires: CPU seconds of
this process (the relay; nothing else runs in it), of its Postgres backends, of the nats-server (shared: an upper
bound), the relay's wall seconds per stage and the drain's wall time, with the load average. Wall time depends on
the machine's load; CPU per fire much less, so this is the number to compare code by (run old and new code
alternately with --service-dir). Nothing is asserted; the stream is checked to hold every message once.

Run: .venv/bin/python bench/reminders_drain.py [--rows 20000 --repeat 3 --service-dir /path/to/services/reminders]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "libs" / "common"))
sys.path.insert(0, str(ROOT / "bench"))

import asyncpg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from reminders import cpu_seconds, dsn, nats_server_pid  # noqa: E402
from zhenxi_cli import infra  # noqa: E402
from zhenxi_cli.up import platform_env  # noqa: E402
from zhenxi_common.testing import migrate  # noqa: E402


def backend_cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(p) or 0.0 for p in pids)


async def run(args: argparse.Namespace, env: dict[str, str]) -> None:
    service = (args.service_dir or ROOT / "services" / "reminders").resolve()
    sys.path.insert(0, str(service))
    run_id = secrets.token_hex(4)
    db = f"zxb_drain_{run_id}"
    prefix = f"zd{run_id}."
    admin = await asyncpg.connect(dsn(env["DATABASE_URL"], "postgres"))
    await admin.execute(f'CREATE DATABASE "{db}"')
    url = make_url(env["DATABASE_URL"]).set(database=db).render_as_string(hide_password=False)
    env.update({"DATABASE_URL": url, "NATS_SUBJECT_PREFIX": prefix, "ZHENXI_ENV": "dev"})
    os.environ.update(env)
    bus = None
    try:
        migrate(service, env)
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

        from app.models import outbox
        from app.relay import DrainingRelay, RelayStats
        from app.repository import event_id
        from app.scheduler import insert_outbox
        from zhenxi_common.bus import EventBus
        from zhenxi_common.events import ReminderDueV1

        try:   # built as app.main builds it (older code: synchronous_commit off only)
            from app.relay import RELAY_SESSION_SETTINGS as relay_settings
        except ImportError:
            relay_settings = {"synchronous_commit": "off"}
        engine = create_async_engine(url, pool_size=args.depth, max_overflow=0,
                                     connect_args={"server_settings": relay_settings})
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        stage_engine = create_async_engine(url, pool_size=1)
        stage_sessions = async_sessionmaker(stage_engine, expire_on_commit=False)

        async def stage_rows(n: int, at: datetime) -> None:
            for start in range(0, n, 5000):
                events = []
                for _ in range(min(5000, n - start)):
                    occ = uuid.uuid4()
                    events.append(ReminderDueV1(event_id=event_id(occ, "1"), occurred_at=at, user_id=f"u{start}",
                                                occurrence_id=str(occ), plan_id=str(uuid.uuid4()), kind="dose",
                                                due_at=at, attempt=1))
                async with stage_sessions() as s, s.begin():
                    await insert_outbox(s, events, [at] * len(events))

        bus = EventBus(env["NATS_URL"], prefix)
        await bus.connect()
        stats = RelayStats()
        relay = DrainingRelay(sessions, outbox, bus, batch_size=args.batch, depth=args.depth, stats=stats)
        npid = nats_server_pid(env["NATS_URL"])
        meter = await asyncpg.connect(dsn(url))
        own = await meter.fetchval("SELECT pg_backend_pid()")
        # connections opened up front, so every lane's backend is there to meter
        async with sessions() as s1, sessions() as s2, sessions() as s3, sessions() as s4:
            for s in (s1, s2, s3, s4)[:args.depth]:
                await s.connection()
        totals: list[dict[str, float]] = []
        for rep in range(args.repeat):
            past = datetime.now(UTC) - timedelta(seconds=1)
            await stage_rows(args.rows, past)
            if args.behind:
                await stage_rows(args.behind, datetime.now(UTC) + timedelta(hours=1 + rep))
            if args.analyze:   # off by default: ANALYZE reads every page and sets the hint bits the relay would set
                async with stage_sessions() as s, s.begin():
                    from sqlalchemy import text
                    await s.execute(text("ANALYZE reminders.outbox"))
            await asyncio.sleep(0.5)
            pids = [p for p in await meter.fetchval(
                "SELECT array_agg(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> $2", db, own)]
            before_stage = {k: v for k, v in _stages(stats).items()}
            pg0, nats0 = backend_cpu(pids), cpu_seconds(npid) if npid else 0.0
            cpu0, wall0 = time.process_time(), time.perf_counter()
            load0 = os.getloadavg()[0]
            sent = 0
            prof = None
            if args.profile:
                import cProfile
                prof = cProfile.Profile()
                prof.enable()
            while True:
                n = await relay.flush_once()
                sent += n
                if n < args.batch:
                    break
            if prof is not None:
                prof.disable()
                prof.dump_stats(f"{args.profile}.{rep}")
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
            pids = [p for p in await meter.fetchval(
                "SELECT array_agg(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> $2", db, own)]
            pg = backend_cpu(pids) - pg0
            nats_c = (cpu_seconds(npid) if npid else 0.0) - nats0
            st = {k: v - before_stage.get(k, 0.0) for k, v in _stages(stats).items()}
            k = 1000 / max(sent, 1)
            row = {"relay": cpu * k, "pg": pg * k, "nats": nats_c * k, "wall": wall * k,
                   **{f"w_{name}": v * k for name, v in st.items()}}
            totals.append(row)
            print(f"pass {rep + 1}: {sent} fires in {wall:.2f}s ({sent / wall:.0f}/s), load {load0:.1f}; CPU-s per "
                  f"1,000: relay {row['relay']:.4f}, Postgres {row['pg']:.4f}, NATS {row['nats']:.4f} = "
                  f"{row['relay'] + row['pg'] + row['nats']:.4f}; wall per 1,000 by stage: " + ", ".join(
                      f"{name} {v * k:.4f}" for name, v in st.items() if v > 0), flush=True)
        unsent = await meter.fetchval("SELECT count(*) FROM reminders.outbox WHERE published_at IS NULL "
                                      "AND not_before <= now()")
        info = await bus.js.stream_info(bus.stream)
        print(f"checks: {unsent} released rows unsent; stream holds {info.state.messages} messages for "
              f"{args.rows * args.repeat} fires")
        keys = totals[0].keys()
        med = {key: sorted(t[key] for t in totals)[len(totals) // 2] for key in keys}
        print(f"median of {len(totals)} passes ({service}): CPU-s per 1,000 relay {med['relay']:.4f} Postgres "
              f"{med['pg']:.4f} NATS {med['nats']:.4f} total {med['relay'] + med['pg'] + med['nats']:.4f}; wall per "
              f"1,000 {med['wall']:.4f}s; by stage " + ", ".join(
                  f"{key[2:]} {v:.4f}" for key, v in med.items() if key.startswith("w_") and v > 0))
        await meter.close()
        await engine.dispose()
        await stage_engine.dispose()
    finally:
        if bus is not None and bus.nc is not None:
            try:
                await bus.js.delete_stream(bus.stream)
            except Exception:  # noqa: BLE001 - best-effort cleanup
                pass
            await bus.nc.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


def _stages(stats) -> dict[str, float]:
    out = {}
    for metric in stats.stage.collect():
        for s in metric.samples:
            if s.name.endswith("_total"):
                out[s.labels["stage"]] = s.value
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=20_000, help="reminders released at one instant, per pass")
    p.add_argument("--behind", type=int, default=20_000, help="rows staged for later, per pass (not to be read)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--analyze", action="store_true", help="ANALYZE the outbox after staging")
    p.add_argument("--profile", default=None, help="write a cProfile of each drain to PROFILE.<pass>")
    p.add_argument("--service-dir", type=Path, default=None, help="another checkout's services/reminders")
    args = p.parse_args()
    with infra.resolve(log=lambda *_: None) as inf:
        asyncio.run(run(args, platform_env(inf)))


if __name__ == "__main__":
    main()
