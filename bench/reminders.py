"""Reminder firing under load: two real reminders-service replicas (uvicorn, scheduler on, outbox relay to NATS
JetStream) over a table of active plans and their occurrences; one replica is killed (SIGKILL) mid-run and
restarted.

Lateness, defined: a reminder has fired when its ``reminder.due.v1`` is durably in JetStream — every channel (SSE,
webhooks, WeChat) delivers from there. Its time is the stream's own per-message timestamp (when the server stored
it), read back after the run; lateness = that - due time. The earlier definition (arrival at a NATS subscriber in
this process, which also timed this process's own queueing) is printed beside it.

Prints the scale used, the dose-time model, the lateness p50/p99/max overall and per peak, the stages of each peak
(claimed+staged ahead, stored -> outbox marked sent, stored -> seen by the subscriber), the relays' own wall time
per stage (from /metrics), fires per second, CPU seconds per 1,000 fires of the replica processes, of their Postgres
backends and of the (shared) nats-server, the load average, duplicates (stored in the stream, and extra publishes
on the wire) and misses. Nothing is asserted.
Run: ./zhenxi bench reminders [--plans 100000 --peaks 3 --kill-before 1 --lookahead 10]

Dose-time model (stated, synthetic): every plan has 4 doses a day, one per slot — morning (07:00 35 %, 08:00 45 %,
09:00 20 % of plans), noon (11:00 30 %, 12:00 70 %), evening (18:00 40 %, 19:00 40 %, 20:00 20 %), bedtime
(21:00 20 %, 22:00 80 %); inside its hour a dose is set on the hour (55 %), on the half hour (25 %) or at another minute (20 %), always at
second :00 as reminder apps store it. 100k plans give 400k occurrences a day; the busiest instants are 22:00:00 (~43k),
12:00:00 (~39k) and 08:00:00 (~25k).
The measured run replays the busiest instants (--peaks, biggest first) in real time: every dose of the model due
from --pre s before to --post s after each instant, the windows one after another; all the other occurrences of the
day sit in the table, not yet due. Replica A is SIGKILLed --kill-before s before the first (biggest) peak, so it
dies holding the reminders it claimed ahead, and is restarted --down s later."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ROOT / "services" / "reminders"
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "libs" / "common"))
sys.path.insert(0, str(SERVICE))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import nats  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from zhenxi_cli import infra  # noqa: E402
from zhenxi_cli.up import platform_env  # noqa: E402
from zhenxi_common.bus import stream_name_for  # noqa: E402
from zhenxi_common.testing import free_port, migrate  # noqa: E402


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def dsn(url: str, database: str | None = None) -> str:
    u = make_url(url).set(drivername="postgresql")
    if database:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


class Replica:
    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name, self.env = name, env
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--no-access-log", "--log-level", "warning"],
            cwd=SERVICE, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 90) -> float:
        t = time.monotonic()
        while time.monotonic() - t < timeout:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                    return time.monotonic() - t
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


SLOTS = (((7, .35), (8, .45), (9, .20)), ((11, .30), (12, .70)), ((18, .40), (19, .40), (20, .20)), ((21, .20), (22, .80)))


def dose_times(rng: random.Random, per_day: int) -> list[int]:
    """Local seconds-of-day of one plan's doses under the model in the module docstring."""
    out = []
    for slot in SLOTS[:per_day]:
        hour = rng.choices([h for h, _ in slot], [w for _, w in slot])[0]
        u = rng.random()
        minute = 0 if u < .55 else 30 if u < .80 else rng.choice([m for m in range(60) if m not in (0, 30)])
        out.append(hour * 3600 + minute * 60)
    return out


async def seed(conn: asyncpg.Connection, plans: int, per_day: int, times: list[list[int]], skip: set[tuple[int, int]],
               now: datetime) -> list[uuid.UUID]:
    """Plans and the day's occurrences not replayed in the measured windows (due later than the run)."""
    from app.crypto import FieldCipher
    blob = FieldCipher("bench").encrypt("二甲双胍")
    today = now.date()
    meals = json.dumps({"breakfast": "07:30", "lunch": "12:00", "dinner": "18:30", "sleep": "22:30", "wake": "07:00"})
    horizon = now + timedelta(days=14)
    plan_ids = [uuid.uuid4() for _ in range(plans)]
    await conn.copy_records_to_table(
        "plans", schema_name="reminders",
        columns=["id", "user_id", "version", "drug_enc", "drug_id", "drug_class", "dose", "unit", "route",
                 "start_date", "timezone", "schedule", "meal_times", "field_versions", "active", "expanded_until",
                 "created_at", "updated_at"],
        records=[(pid, f"bench-u{i // 2}", 1, blob, "metformin", "default", 1.0, "片", "oral", today,
                  "Asia/Shanghai", json.dumps({"kind": "times", "times_of_day": [
                      f"{t // 3600:02d}:{t % 3600 // 60:02d}" for t in times[i]]}), meals, "{}", True, horizon, now,
                  now) for i, pid in enumerate(plan_ids)])
    rows = []
    start = now + timedelta(hours=1)    # the rest of the day: due later than the run
    for i, pid in enumerate(plan_ids):
        for j, tod in enumerate(times[i]):
            if (i, j) in skip:
                continue
            due = start + timedelta(seconds=tod)
            rows.append((uuid.uuid4(), f"bench-u{i // 2}", pid, "dose", due, due.date(), "scheduled", 1, due, 0, now))
    await conn.copy_records_to_table(
        "occurrences", schema_name="reminders",
        columns=["id", "user_id", "plan_id", "kind", "due_at", "local_date", "state", "version", "next_fire_at",
                 "fire_count", "updated_at"], records=rows)
    await conn.execute("ANALYZE reminders.plans; ANALYZE reminders.occurrences")
    return plan_ids


def nats_server_pid(url: str) -> int | None:
    """The nats-server process listening on the NATS URL's port (from ``ss``), for its CPU time."""
    port = str(make_url(url.replace("nats://", "postgresql://")).port or 4222)
    try:
        out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for part in out.split("pid=")[1:]:
        return int(part.split(",")[0])
    return None


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process from /proc (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


async def stream_timestamps(js, stream: str, subject: str) -> dict[tuple[str, int], list[float]]:
    """Every ``reminder.due.v1`` the stream holds, read back after the run with the time JetStream stored it (the
    server's own per-message timestamp, carried in the consumer's ack subject): (occurrence, attempt) -> times."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
    sub = await js.pull_subscribe(subject, stream=stream, config=ConsumerConfig(
        ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, max_ack_pending=-1))
    out: dict[tuple[str, int], list[float]] = {}
    while True:
        try:
            msgs = await sub.fetch(2000, timeout=3.0)
        except (TimeoutError, nats.errors.TimeoutError):
            break
        for m in msgs:
            ev = json.loads(m.data)
            out.setdefault((ev["occurrence_id"], ev["attempt"]), []).append(m.metadata.timestamp.timestamp())
    await sub.unsubscribe()
    return out


def parse_relay_metrics(port: int) -> dict[str, float]:
    """The relay's own stage counters (seconds spent per stage, batches, messages) from a replica's /metrics."""
    out: dict[str, float] = {}
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return out
    for line in text.splitlines():
        if line.startswith("reminders_relay_"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def runqueue_wait_seconds(pid: int) -> float | None:
    """Seconds the process's threads spent runnable but waiting for a CPU (/proc/PID/task/*/schedstat, field 2):
    time lost to other work on the machine, not to our own."""
    try:
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[1])
        return total / 1e9
    except (OSError, IndexError, ValueError):
        return None


class CpuMeter:
    """CPU seconds used by the processes added (replicas, their Postgres backends, ...) since they were added,
    sampled from /proc (a killed incarnation keeps its last sample); ``read`` picks what is measured."""

    def __init__(self, read=cpu_seconds) -> None:
        self.read = read
        self.procs: dict[int, list[float]] = {}   # pid -> [baseline, last]

    def add(self, pid: int) -> None:
        c = self.read(pid)
        if c is not None:
            self.procs[pid] = [c, c]

    def sample(self) -> float:
        for pid, v in self.procs.items():
            c = self.read(pid)
            if c is not None:
                v[1] = c
        return sum(last - base for base, last in self.procs.values())


async def run(args: argparse.Namespace, env: dict[str, str]) -> None:
    rng = random.Random(args.seed)
    run_id = secrets.token_hex(4)
    db = f"zxb_reminders_{run_id}"
    prefix = f"zb{run_id}."
    admin = await asyncpg.connect(dsn(env["DATABASE_URL"], "postgres"))
    await admin.execute(f'CREATE DATABASE "{db}"')
    env.update({"DATABASE_URL": make_url(env["DATABASE_URL"]).set(database=db).render_as_string(
        hide_password=False), "NATS_SUBJECT_PREFIX": prefix, "REDIS_KEY_PREFIX": f"zb{run_id}:",
        "ZHENXI_ENV": "dev", "LOG_LEVEL": "WARNING", "REMINDERS_LOG_LEVEL": "WARNING",
        "REMINDERS_DELIVERIES_ENABLED": "false", "REMINDERS_SCHEDULER_POLL_S": str(args.poll),
        "REMINDERS_SCHEDULER_BATCH": str(args.batch), "REMINDERS_RELAY_BATCH": str(args.relay_batch),
        "REMINDERS_RELAY_DEPTH": str(args.relay_depth),
        "REMINDERS_DB_POOL_SIZE": str(args.pool), "REMINDERS_FIRE_LOOKAHEAD_S": str(args.lookahead)})
    # the model's day, and the instants replayed
    times = [dose_times(rng, args.per_day) for _ in range(args.plans)]
    per_instant: dict[int, int] = {}
    for ts in times:
        for t in ts:
            per_instant[t] = per_instant.get(t, 0) + 1
    peaks = sorted(per_instant, key=lambda t: -per_instant[t])[:args.peaks]
    window: dict[tuple[int, int], tuple[int, int]] = {}    # (plan, dose) -> (window index, offset from its peak)
    for i, ts in enumerate(times):
        for j, t in enumerate(ts):
            for w, pk in enumerate(peaks):
                if -args.pre <= t - pk <= args.post:
                    window[(i, j)] = (w, t - pk)
                    break
    replicas: list[Replica] = []
    nc = None
    cpu = CpuMeter()
    pg_cpu = CpuMeter()
    nats_cpu = CpuMeter()
    waits = CpuMeter(runqueue_wait_seconds)     # replicas and their backends: runnable, waiting for a CPU
    load_start = os.getloadavg()
    try:
        migrate(SERVICE, env)
        conn = await asyncpg.connect(dsn(env["DATABASE_URL"]))
        t = time.perf_counter()
        plan_ids = await seed(conn, args.plans, args.per_day, times, set(window), datetime.now(UTC))
        seed_s = time.perf_counter() - t

        seen: dict[tuple[str, int], list[float]] = {}
        heard: list[tuple[bytes, float]] = []     # raw, parsed after the windows: no JSON work here during a peak
        nc = await nats.connect(env["NATS_URL"])

        def hear(data: bytes) -> None:
            heard.append((data, time.time()))

        async def on_msg(msg) -> None:
            hear(msg.data)

        def parse_wire() -> None:
            while heard:
                data, arrived = heard.pop()
                ev = json.loads(data)
                seen.setdefault((ev["occurrence_id"], ev["attempt"]), []).append(arrived)
        sub = await nc.subscribe(f"{prefix}reminder.due.v1", cb=on_msg)
        try:
            # Read straight from the client's protocol parser, as the relay reads its acks (relay.py, BatchAcks): no
            # Msg, queue or task per message. The subscriber is the bench's own work on the replicas' cores, and the
            # arrival time is taken when the message is parsed, not when a callback task gets to it.
            from app.relay import _reply_routes
            _reply_routes(nc)[sub._id] = lambda subject, data, headers: hear(data)
        except ImportError:     # older service code (--service-dir): the callback above
            pass

        replicas = [Replica("A", env), Replica("B", env)]
        for r in replicas:
            r.start()
        ready = [r.wait_ready() for r in replicas]
        for r in replicas:
            cpu.add(r.proc.pid)

        # the windows follow each other from a few seconds from now; the peak of window w is at peak_times[w]
        span = args.pre + args.post + args.gap
        t0 = datetime.now(UTC) + timedelta(seconds=args.lead)
        peak_times = [t0 + timedelta(seconds=args.pre + w * span) for w in range(len(peaks))]
        due: dict[str, tuple[datetime, int]] = {}
        rows = []
        for (i, j), (w, off) in window.items():
            at = peak_times[w] + timedelta(seconds=off)
            oid = uuid.uuid4()
            due[str(oid)] = (at, w)
            rows.append((oid, f"bench-u{i // 2}", plan_ids[i], "dose", at, at.date(), "scheduled", 1, at, 0,
                         datetime.now(UTC)))
        await conn.copy_records_to_table(
            "occurrences", schema_name="reminders",
            columns=["id", "user_id", "plan_id", "kind", "due_at", "local_date", "state", "version",
                     "next_fire_at", "fire_count", "updated_at"], records=rows)
        staged_s = (t0 - datetime.now(UTC)).total_seconds()

        cpu_marks: list[tuple[float, float]] = []
        pg_marks: list[tuple[float, float]] = []     # CPU of this database's Postgres backends (the replicas')
        nats_marks: list[tuple[float, float]] = []   # CPU of the whole nats-server (shared: other users' work too)
        wait_marks: list[tuple[float, float]] = []   # run-queue wait of the replicas and their backends
        bench_marks: list[tuple[float, float]] = []  # this process (its subscriber, the meter): on the same cores

        if (npid := nats_server_pid(env["NATS_URL"])) is not None:
            nats_cpu.add(npid)
        meter_conn = await asyncpg.connect(dsn(env["DATABASE_URL"]))
        queries: dict[int, set[str]] = {}    # backend pid -> the statements seen running on it (which is which)
        own_pid = await meter_conn.fetchval("SELECT pg_backend_pid()")

        async def meter() -> None:
            while True:
                acts = await meter_conn.fetch(
                    "SELECT pid, backend_type, left(query, 60) AS q FROM pg_stat_activity WHERE datname = $1 "
                    "AND pid <> $2", db, own_pid)
                pids = [a["pid"] for a in acts]
                for a in acts:
                    queries.setdefault(a["pid"], set()).add(f'{a["backend_type"]}: {" ".join(a["q"].split())[:48]}')
                for pid in pids or []:
                    if pid not in pg_cpu.procs:
                        pg_cpu.add(pid)
                        waits.add(pid)
                for r in replicas:
                    if r.proc is not None and r.proc.pid not in waits.procs and r.proc.poll() is None:
                        waits.add(r.proc.pid)
                cpu_marks.append((time.time(), cpu.sample()))
                pg_marks.append((time.time(), pg_cpu.sample()))
                nats_marks.append((time.time(), nats_cpu.sample()))
                wait_marks.append((time.time(), waits.sample()))
                bench_marks.append((time.time(), time.process_time()))
                await asyncio.sleep(0.25)
        meter_task = asyncio.create_task(meter())
        await asyncio.sleep(max(0.0, (t0 - datetime.now(UTC)).total_seconds()))
        cpu_marks.append((time.time(), cpu.sample()))
        kill_at = peak_times[0] - timedelta(seconds=args.kill_before)
        await asyncio.sleep(max(0.0, (kill_at - datetime.now(UTC)).total_seconds()))
        cpu.sample()
        replicas[0].kill()
        killed_at = time.time()
        await asyncio.sleep(args.down)
        replicas[0].start()
        restart_ready = await asyncio.to_thread(replicas[0].wait_ready)
        cpu.add(replicas[0].proc.pid)
        end = t0 + timedelta(seconds=span * len(peaks))
        deadline = time.monotonic() + max(0.0, (end - datetime.now(UTC)).total_seconds()) + args.settle
        while time.monotonic() < deadline:
            if datetime.now(UTC) >= end and len(heard) + sum(map(len, seen.values())) >= len(due):
                parse_wire()
                if sum(1 for o in due if (o, 1) in seen) == len(due):
                    break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)
        parse_wire()
        meter_task.cancel()
        cpu_marks.append((time.time(), cpu.sample()))
        pg_marks.append((time.time(), pg_cpu.sample()))
        nats_marks.append((time.time(), nats_cpu.sample()))
        wait_marks.append((time.time(), waits.sample()))
        bench_marks.append((time.time(), time.process_time()))
        await meter_conn.close()
        load_end = os.getloadavg()

        claimed = await conn.fetch("SELECT id, due_at, last_fired_at, fire_count FROM reminders.occurrences "
                                   "WHERE id = ANY($1::uuid[])", list(due))
        staged = await conn.fetch("SELECT payload->>'occurrence_id' AS o, created_at, published_at "
                                  "FROM reminders.outbox "
                                  "WHERE subject = 'reminder.due.v1' AND (payload->>'attempt')::int = 1")
        unsent = await conn.fetchval("SELECT count(*) FROM reminders.outbox WHERE published_at IS NULL")
        outbox_rows = await conn.fetchval("SELECT count(*) FROM reminders.outbox")
        early = await conn.fetchval("SELECT count(*) FROM reminders.occurrences WHERE fire_count > 0 "
                                    "AND NOT (id = ANY($1::uuid[]))", list(due))
        js = nc.jetstream()
        stream_msgs = (await js.stream_info(stream_name_for(prefix))).state.messages
        stored = await stream_timestamps(js, stream_name_for(prefix), f"{prefix}reminder.due.v1")
        relay_stages = [parse_relay_metrics(r.port) for r in replicas]
        await conn.close()
    finally:
        for r in replicas:
            r.stop()
        if nc is not None:
            try:
                await nc.jetstream().delete_stream(stream_name_for(prefix))
            except Exception:  # noqa: BLE001 - best-effort cleanup
                pass
            await nc.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()

    def cpu_between(a: float, b: float, marks: list[tuple[float, float]] | None = None) -> float:
        marks = cpu_marks if marks is None else marks
        before = [c for t, c in marks if t <= a] or [marks[0][1]]
        after = [c for t, c in marks if t <= b] or [marks[-1][1]]
        return after[-1] - before[-1]

    # Lateness, defined: a reminder has fired when its reminder.due.v1 is durably in JetStream (every channel
    # delivers from there). Its time is the stream's own per-message timestamp, read back after the run; the old
    # definition (arrival at this process's NATS subscriber) is printed beside it.
    fired = {o: min(stored[(o, 1)]) for o in due if (o, 1) in stored}
    first = {o: min(seen[(o, 1)]) for o in due if (o, 1) in seen}
    late = {o: fired[o] - at.timestamp() for o, (at, _) in due.items() if o in fired}
    wire = {o: first[o] - at.timestamp() for o, (at, _) in due.items() if o in first}
    sent_at = {r["o"]: r["published_at"].timestamp() for r in staged if r["o"] in due and r["published_at"]}
    staged_at = {r["o"]: r["created_at"].timestamp() for r in staged if r["o"] in due}
    outage = (killed_at, killed_at + args.down + restart_ready)
    wire_dupes = sum(len(v) - 1 for v in seen.values())
    stream_dupes = sum(len(v) - 1 for v in stored.values())
    never_claimed = sum(1 for r in claimed if r["fire_count"] == 0)
    never_stored = sum(1 for o in due if (o, 1) not in stored)
    never_on_wire = sum(1 for o in due if (o, 1) not in seen)
    early_stored = sum(1 for o, x in late.items() if x < 0)
    early_wire = sum(1 for o, x in wire.items() if x < 0)
    print(f"scale: {args.plans} active plans x {args.per_day}/day = {sum(map(len, times))} occurrences/day stored; "
          f"dose-time model in the docstring (synthetic); busiest instants: " + ", ".join(
              f"{pk // 3600:02d}:{pk % 3600 // 60:02d} {per_instant[pk]}" for pk in peaks))
    print(f"measured: {len(due)} reminders = every dose from {args.pre}s before to {args.post}s after each of those "
          f"instants, replayed in real time, windows {span}s apart")
    print(f"setup: seeded in {seed_s:.1f}s; replicas ready in {', '.join(f'{x:.1f}s' for x in ready)}; window rows "
          f"stored {staged_s:.1f}s before the first; replica A SIGKILLed {args.kill_before}s before the first peak, "
          f"restarted after {args.down}s (ready again {restart_ready:.1f}s later); poll {args.poll}s, batch "
          f"{args.batch}, relay batch {args.relay_batch} x {args.relay_depth} lanes, DB pool {args.pool}, "
          f"look-ahead {args.lookahead}s (older code ignores what it lacks)")

    def line(name: str, xs: list[float]) -> None:
        if xs:
            print(f"{name:44s} p50 {pct(xs, 50):7.3f}s  p99 {pct(xs, 99):7.3f}s  max {max(xs):7.3f}s  (n={len(xs)})")
    print("lateness = due -> stored in JetStream (the stream's per-message timestamp); old = due -> at the bench's "
          "NATS subscriber")
    line("lateness (all)", list(late.values()))
    line("  old definition (all)", list(wire.values()))
    line("  due while A was down", [x for o, x in late.items() if outage[0] <= due[o][0].timestamp() <= outage[1]])
    total_cpu = cpu_marks[-1][1] - cpu_marks[0][1]
    total_pg = pg_marks[-1][1] - pg_marks[0][1] if pg_marks else float("nan")
    for w, pk in enumerate(peaks):
        win = [o for o, (_, ww) in due.items() if ww == w and o in fired]
        inst = [o for o in win if due[o][0] == peak_times[w]]
        print(f"peak {pk // 3600:02d}:{pk % 3600 // 60:02d} (window of {len(win)}, {len(inst)} due at :00)")
        line("  lateness, window", [late[o] for o in win])
        line("  lateness, its :00", [late[o] for o in inst])
        line("  old definition, its :00", [wire[o] for o in inst if o in wire])
        line("  stage: due -> claimed+staged (-: ahead)", [staged_at[o] - due[o][0].timestamp() for o in inst
                                                          if o in staged_at])
        # the outbox row's published_at: older code set it after the ack (the mark), newer code with the claim, just
        # before the send (committed only once the batch is acked)
        line("  stage: stored -> outbox published_at", [sent_at[o] - fired[o] for o in inst if o in sent_at])
        line("  stage: stored -> at the bench subscriber", [first[o] - fired[o] for o in inst if o in first])
        if inst:
            ws = peak_times[w].timestamp() - args.pre
            we = max(fired[o] for o in win)
            c = cpu_between(ws, we)
            pc = cpu_between(ws, we, pg_marks)
            nc_ = cpu_between(ws, we, nats_marks) if nats_marks else float("nan")
            wq = cpu_between(ws, we, wait_marks)
            bc = cpu_between(ws, we, bench_marks)
            drain = max(late[o] for o in inst)
            spill = " (its drain overlaps the next window)" if w + 1 < len(peaks) and we > ws + span else ""
            print(f"  drained in {drain:.2f}s ({len(inst) / max(drain, 1e-3):.0f}/s); first stored "
                  f"{min(late[o] for o in inst):+.3f}s; from the window's start to its last fire the replicas used "
                  f"{c:.1f} CPU-s = {1000 * c / max(len(win), 1):.3f} per 1,000 fires, their Postgres backends "
                  f"{pc:.1f} CPU-s = {1000 * pc / max(len(win), 1):.3f} per 1,000, the nats-server (shared, an upper "
                  f"bound) {nc_:.1f} CPU-s = {1000 * nc_ / max(len(win), 1):.3f} per 1,000; drain wall "
                  f"{we - ws:.1f}s{spill}; meanwhile the replicas and their backends waited {wq:.1f}s in total "
                  f"runnable for a CPU taken by other work, and this bench process (its subscriber and meter) used "
                  f"{bc:.1f} CPU-s = {1000 * bc / max(len(win), 1):.3f} per 1,000")
    for name, m in zip(("A (restarted)", "B"), relay_stages):
        if m:
            n = m.get("reminders_relay_messages_total", 0.0)
            stages = {k.split('stage="')[1].split('"')[0]: v for k, v in m.items()
                      if k.startswith("reminders_relay_stage_seconds_total")}
            print(f"relay {name}: {n:.0f} messages in {m.get('reminders_relay_batches_total', 0):.0f} batches; "
                  f"wall seconds per 1,000 by stage: " + ", ".join(
                      f"{k} {1000 * v / max(n, 1):.3f}" for k, v in stages.items() if k != "claim_empty")
                  + f"; claims that found nothing (idle polls, ends of drains) {stages.get('claim_empty', 0):.1f}s")
    arrivals = sorted(fired.values())
    wall = (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else float("nan")
    print(f"fires/s: {len(arrivals) / wall:.0f} from first to last stored ({len(arrivals)} in {wall:.1f}s)")
    print(f"CPU: replicas used {total_cpu:.1f} CPU-s over the measured run (incl. idle polling between windows) = "
          f"{1000 * total_cpu / max(len(arrivals), 1):.3f} CPU-s per 1,000 fires, their Postgres backends "
          f"{total_pg:.1f} CPU-s = {1000 * total_pg / max(len(arrivals), 1):.3f} per 1,000 (NATS is shared, not "
          f"counted); load average (1/5/15 min) "
          f"{' / '.join(f'{x:.1f}' for x in load_start)} at start, {' / '.join(f'{x:.1f}' for x in load_end)} at end "
          f"({os.cpu_count()} cores; Postgres, NATS, this process and other users' work share them)")
    print(f"duplicates: {stream_dupes} stored twice in the stream; {wire_dupes} extra publishes seen on the wire "
          f"(a relay that dies between publish and commit sends again; msg-id dedupe keeps one); stream holds "
          f"{stream_msgs} messages, {len(stored)} distinct reminder (occurrence, attempt); outbox rows {outbox_rows}")
    print(f"misses: {never_claimed} never claimed, {never_stored} never stored in the stream ({never_on_wire} never "
          f"seen by the subscriber), {unsent} outbox rows unsent; {early} not-yet-due occurrences fired; "
          f"early: {early_stored} stored before their due time ({early_wire} seen before it)")
    def busy(pid: int) -> str:
        seen_q = sorted(q for q in queries.get(pid, ()) if q.split(": ", 1)[-1].rstrip(";")
                        not in ("", "BEGIN", "COMMIT", "ROLLBACK"))
        return " | ".join(seen_q[:3])
    top = sorted(pg_cpu.procs.items(), key=lambda kv: kv[1][0] - kv[1][1])[:6]
    print("busiest Postgres backends over the run (CPU-s; statements seen on them): " + "; ".join(
        f"{last - base:.1f} [{busy(pid)}]" for pid, (base, last) in top))
    print("goal: p99 <= 1 s, duplicates 0, misses 0 (printed, not asserted).")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--plans", type=int, default=int(os.environ.get("BENCH_PLANS", 100_000)))
    p.add_argument("--per-day", type=int, default=4)
    p.add_argument("--peaks", type=int, default=int(os.environ.get("BENCH_PEAKS", 3)))
    p.add_argument("--pre", type=int, default=3, help="seconds of each peak's lead-in replayed")
    p.add_argument("--post", type=int, default=12, help="seconds after each peak replayed")
    p.add_argument("--gap", type=int, default=5, help="quiet seconds between windows")
    p.add_argument("--kill-before", type=float, default=1.0)
    p.add_argument("--down", type=float, default=2.0)
    p.add_argument("--lead", type=float, default=40.0, help="seconds between storing the window rows and the first window")
    p.add_argument("--settle", type=float, default=90.0)
    p.add_argument("--poll", type=float, default=0.1)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--relay-batch", type=int, default=2000, help="the service default (relay_batch)")
    p.add_argument("--relay-depth", type=int, default=4, help="relay batches in flight (old code ignores it)")
    p.add_argument("--pool", type=int, default=8, help="each replica's DB pool (as many again may overflow)")
    p.add_argument("--lookahead", type=float, default=30.0, help="scheduler look-ahead (0: claim at due time)")
    p.add_argument("--service-dir", type=Path, default=None, help="another checkout's services/reminders (before/after)")
    p.add_argument("--seed", type=int, default=14)
    args = p.parse_args()
    if args.service_dir:
        global SERVICE
        SERVICE = args.service_dir.resolve()
        sys.path.insert(0, str(SERVICE))
    with infra.resolve(log=lambda *_: None) as inf:
        asyncio.run(run(args, platform_env(inf)))


if __name__ == "__main__":
    main()
