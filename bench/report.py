"""Report service: end-to-end latency of one report with a lab photo, a chest X-ray and symptom text (real ocr,
xray, nlp and report processes on real Postgres, Redis and NATS), the orchestration overhead (report latency minus
its slowest section), and reports/min at concurrency 1, 4 and 8. Run: ./zhenxi bench report
BENCH_N (default 6) sets the number of sequential reports for latency; throughput sends 2 x concurrency reports
(BENCH_CONCURRENCY, default "1,4,8"). The report process's own CPU time per report is printed beside wall-clock:
unlike latency it does not grow with the machine's load. BENCH_PYSPY=FILE records the report process with py-spy
(if installed) during the sequential reports and writes a speedscope profile to FILE. BENCH_BASELINE=DIR runs a
second report process from DIR/services/report (e.g. `git archive main services/report knowledge libs | tar -x -C
DIR`) beside this one, each on a database of its own, and alternates the sequential reports between them: a
before/after comparison under the same load. BENCH_CONCURRENCY= (empty) skips the throughput runs."""
from __future__ import annotations

import asyncio
import contextlib
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
from zhenxi_common.testing import _create_db, _drop_db, free_port, service_process, signed  # noqa: E402

SAMPLES = ROOT / "services" / "report" / "samples"
LAB, CXR = SAMPLES / "lab_cbc_synthetic.jpg", SAMPLES / "cxr_nih_00000075_000.png"
N = int(os.environ.get("BENCH_N", "6"))
CONCURRENCY = (1, 4, 8)


def pct(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def files():
    return [("lab", (LAB.name, LAB.read_bytes(), "image/jpeg")), ("xray", (CXR.name, CXR.read_bytes(), "image/png"))]


async def one(c: httpx.AsyncClient, url: str, user: str) -> tuple[float, dict]:
    t = time.perf_counter()
    r = await c.post(f"{url}/v1/reports?wait=true", files=files(), data={"symptoms": "咳嗽三天，有点发烧"},
                     auth=signed(user), timeout=600)
    ms = (time.perf_counter() - t) * 1000
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert all(s["status"] == "done" for s in body["sections"]), body["sections"]
    timings = dict(body["report"]["timings_ms"])
    for part in r.headers.get("server-timing", "").split(","):   # the request's own parts (newer services)
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            timings[f"http_{name}"] = float(dur)
    return ms, timings


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used so far (Linux /proc; the clock ticks per second from sysconf)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def breakdown(ms: float, timings: dict) -> dict[str, float]:
    """Where one report's overhead went (ms): the report's own timings and the rest of the request around them."""
    slow = max(("lab", "xray", "symptoms"), key=lambda k: timings.get(k, 0))
    inside = sum(timings.get(k, 0) for k in ("queued", "prepare", "fan_out", "complete"))
    out = {"request+store+answer": ms - inside, "created->claimed": timings.get("queued", 0),
           "claimed->fan-out": timings.get("prepare", 0), "fan-out - slowest": timings["fan_out"] - timings[slow],
           "compose+commit": timings.get("complete", 0)}
    if "http_wait" in timings:   # Server-Timing: the request's own parts, measured in the report process
        http = timings["http_create"] + timings["http_wait"] + timings["http_answer"]
        out.update({"outside the endpoint (HTTP, multipart parse)": ms - http,
                    "create (store+insert+commit)": timings["http_create"],
                    "claim + final commit + wake-up": timings["http_wait"] - inside + timings.get("queued", 0),
                    "answer (serialise)": timings["http_answer"]})
    return out


async def run(targets: list[tuple[str, str, int]]) -> None:
    """``targets``: (name, url, pid) of each report process; with a baseline, the sequential reports alternate
    between them, so both see the same load."""
    async with httpx.AsyncClient() as c:
        for name, url, _ in targets:
            await one(c, url, f"bench-warmup-{name}")            # models warm, connections open
        stats = {name: {"lat": [], "over": [], "slow": [], "parts": []} for name, _, _ in targets}
        url, report_pid = targets[0][1], targets[0][2]
        spy = None
        if os.environ.get("BENCH_PYSPY"):
            import shutil
            import subprocess

            exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            spy = subprocess.Popen([exe, "record", "-p", str(report_pid), "-r", "200", "-f", "speedscope", "-o",
                                    os.environ["BENCH_PYSPY"], "--nonblocking"], stdout=subprocess.DEVNULL)
            await asyncio.sleep(1.0)
        load_before = loadavg()
        cpu0 = {name: cpu_s(pid) for name, _, pid in targets}
        for i in range(N):
            for name, turl, _ in (targets if i % 2 == 0 else targets[::-1]):
                ms, timings = await one(c, turl, f"bench-lat-{name}-{i}")
                slow = max(("lab", "xray", "symptoms"), key=lambda k: timings.get(k, 0))
                st = stats[name]
                st["lat"].append(ms)
                st["over"].append(ms - timings[slow])
                st["slow"].append(slow)
                st["parts"].append(breakdown(ms, timings))
        cpu = {name: (cpu_s(pid) - cpu0[name]) / N * 1000 for name, _, pid in targets}
        if spy is not None:
            import signal

            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        print(f"report benchmark: lab photo + chest X-ray + symptoms per report; real ocr/xray/nlp/report "
              f"processes; {os.cpu_count()} CPU cores (shared with whatever else runs on the machine); "
              f"load average before {load_before}, after {loadavg()}")
        if len(targets) > 1:
            print(f"  {' and '.join(n for n, _, _ in targets)} report processes side by side (same ocr/xray/nlp, "
                  f"databases of their own), sequential reports alternating between them")
        for name, _, _ in targets:
            st = stats[name]
            tag = f"[{name}] " if len(targets) > 1 else ""
            print(f"  {tag}end-to-end latency ({N} sequential, ?wait=true): p50 {pct(st['lat'], 50):7.0f} ms   "
                  f"p95 {pct(st['lat'], 95):7.0f} ms")
            print(f"  {tag}orchestration overhead (latency - slowest section, here "
                  f"{max(set(st['slow']), key=st['slow'].count)}): p50 {pct(st['over'], 50):6.1f} ms   "
                  f"p95 {pct(st['over'], 95):6.1f} ms   (goal: p50 <= 30 ms)")
            print(f"  {tag}report process CPU time per report (its own work, load-independent): "
                  f"{cpu[name]:6.1f} ms")
            keys = list(st["parts"][0])
            print(f"    {tag}where (p50 ms): " + ", ".join(
                f"{k} {pct([p[k] for p in st['parts']], 50):.1f}" for k in keys[:5]), flush=True)
            if len(keys) > 5:   # the same request cut differently, from its Server-Timing header
                print(f"    {tag}the request (p50 ms, Server-Timing): " + ", ".join(
                    f"{k} {pct([p[k] for p in st['parts']], 50):.1f}" for k in keys[5:]), flush=True)
        for name, turl, _ in targets:
            accept = []
            for i in range(N):   # the answer without waiting: parse, store encrypted, insert, 202
                t = time.perf_counter()
                r = await c.post(f"{turl}/v1/reports", files=files(), data={"symptoms": "咳嗽三天"},
                                 auth=signed(f"bench-accept-{name}-{i}"), timeout=600)
                accept.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 202, r.text[:300]
                while (await c.get(f"{turl}/v1/reports/{r.json()['id']}", auth=signed(f"bench-accept-{name}-{i}"))
                       ).json()["status"] != "completed":
                    await asyncio.sleep(0.5)
            tag = f"[{name}] " if len(targets) > 1 else ""
            print(f"  {tag}accept latency (202 without ?wait: multipart parse, encrypted store, insert): "
                  f"p50 {pct(accept, 50):6.1f} ms   p95 {pct(accept, 95):6.1f} ms", flush=True)
        for conc in [int(x) for x in os.environ.get("BENCH_CONCURRENCY", "1,4,8").split(",") if x]:
            n = 2 * conc
            t = time.perf_counter()
            await asyncio.gather(*(one(c, url, f"bench-c{conc}-{i}") for i in range(n)))
            rate = n / (time.perf_counter() - t) * 60
            print(f"  throughput at concurrency {conc}: {rate:6.1f} reports/min ({n} reports)", flush=True)


def main() -> None:
    baseline = os.environ.get("BENCH_BASELINE")   # a checkout (or `git archive`) of the report service to compare
    with infra.resolve(log=lambda *_: None) as inf:
        env = platform_env(inf)
        base = env["DATABASE_URL"]
        from sqlalchemy.engine import make_url

        names = ["this"] + (["baseline"] if baseline else [])
        dbs = {n: f"zxbench_report_{n}_{int(time.time())}" for n in names}
        for db in dbs.values():
            asyncio.run(_create_db(base, db))
        env.update({"ZHENXI_ENV": "dev", "DATABASE_URL": make_url(base).set(database=dbs["this"]).render_as_string(False),
                    "REDIS_KEY_PREFIX": "benchr:", "NATS_SUBJECT_PREFIX": "benchr.", "LOG_LEVEL": "WARNING",
                    "OCR_LOG_LEVEL": "WARNING", "XRAY_LOG_LEVEL": "WARNING", "NLP_LOG_LEVEL": "WARNING",
                    "REPORT_LOG_LEVEL": "WARNING", "REPORT_WORKER_CONCURRENCY": "8",
                    "REPORT_WAIT_TIMEOUT_S": "900", "REPORT_OCR_TIMEOUT_S": "300", "REPORT_XRAY_TIMEOUT_S": "300",
                    "REPORT_UPLOAD_DIR": str(ROOT / ".zhenxi" / "bench-report-uploads"),
                    "OMP_NUM_THREADS": "1"})
        os.environ["INTERNAL_SIGNING_KEY"] = env["INTERNAL_SIGNING_KEY"]
        ports = {s: free_port() for s in ("ocr", "xray", "nlp", "report", "baseline")}
        for s in ("ocr", "xray", "nlp"):
            env[f"REPORT_{s.upper()}_URL"] = f"http://127.0.0.1:{ports[s]}"
        try:
            with contextlib.ExitStack() as stack:
                for s in ("ocr", "xray", "nlp", "report"):
                    url, proc = stack.enter_context(service_process(ROOT / "services" / s, ports[s], env,
                                                                    timeout_s=240))
                targets = [("this", url, proc.pid)]
                if baseline:
                    benv = dict(env, DATABASE_URL=make_url(base).set(database=dbs["baseline"]).render_as_string(False),
                                REPORT_UPLOAD_DIR=str(ROOT / ".zhenxi" / "bench-report-uploads-baseline"))
                    bdir = Path(baseline) / "services" / "report"
                    burl, bproc = stack.enter_context(service_process(bdir, ports["baseline"], benv, timeout_s=240))
                    targets.append(("baseline", burl, bproc.pid))
                asyncio.run(run(targets))
        finally:
            for db in dbs.values():
                asyncio.run(_drop_db(base, db))
            import shutil

            for d in ("bench-report-uploads", "bench-report-uploads-baseline"):
                shutil.rmtree(ROOT / ".zhenxi" / d, ignore_errors=True)


if __name__ == "__main__":
    main()
