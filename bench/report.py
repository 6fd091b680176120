"""Report service: end-to-end latency of one report with a lab photo, a chest X-ray and symptom text (real ocr,
xray, nlp and report processes on real Postgres, Redis and NATS), the orchestration overhead (report latency minus
its slowest section), and reports/min at concurrency 1, 4 and 8. Run: ./zhenxi bench report
BENCH_N (default 6) sets the number of sequential reports for latency; throughput sends 2 x concurrency reports."""
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
from zhenxi_common.testing import _create_db, _drop_db, free_port, running_service, signed  # noqa: E402

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
    return ms, body["report"]["timings_ms"]


async def run(url: str) -> None:
    async with httpx.AsyncClient() as c:
        await one(c, url, "bench-warmup")            # models warm, connections open
        lat, over, slowest_name, parts = [], [], [], []
        for i in range(N):
            ms, timings = await one(c, url, f"bench-lat-{i}")
            slow = max(("lab", "xray", "symptoms"), key=lambda k: timings.get(k, 0))
            lat.append(ms)
            over.append(ms - timings[slow])
            slowest_name.append(slow)
            inside = sum(timings.get(k, 0) for k in ("queued", "prepare", "fan_out", "complete"))
            parts.append({"request+store+answer": ms - inside, "created->claimed": timings.get("queued", 0),
                          "claimed->fan-out": timings.get("prepare", 0),
                          "fan-out - slowest": timings["fan_out"] - timings[slow],
                          "compose+commit": timings.get("complete", 0)})
        print(f"report benchmark: lab photo + chest X-ray + symptoms per report; real ocr/xray/nlp/report "
              f"processes; {os.cpu_count()} CPU cores (shared with whatever else runs on the machine)")
        print(f"  end-to-end latency ({N} sequential, ?wait=true): p50 {pct(lat, 50):7.0f} ms   "
              f"p95 {pct(lat, 95):7.0f} ms")
        print(f"  orchestration overhead (latency - slowest section, here "
              f"{max(set(slowest_name), key=slowest_name.count)}): p50 {pct(over, 50):6.1f} ms   "
              f"p95 {pct(over, 95):6.1f} ms   (goal: p50 <= 30 ms)", flush=True)
        accept = []
        for i in range(N):   # the answer without waiting: parse, store encrypted, insert, 202
            t = time.perf_counter()
            r = await c.post(f"{url}/v1/reports", files=files(), data={"symptoms": "咳嗽三天"},
                             auth=signed(f"bench-accept-{i}"), timeout=600)
            accept.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 202, r.text[:300]
            while (await c.get(f"{url}/v1/reports/{r.json()['id']}", auth=signed(f"bench-accept-{i}"))
                   ).json()["status"] != "completed":
                await asyncio.sleep(0.5)
        print(f"  accept latency (202 without ?wait: multipart parse, encrypted store, insert): "
              f"p50 {pct(accept, 50):6.1f} ms   p95 {pct(accept, 95):6.1f} ms")
        print("    where (p50 ms): " + ", ".join(f"{k} {pct([p[k] for p in parts], 50):.1f}" for k in parts[0]),
              flush=True)
        for conc in [int(x) for x in os.environ.get("BENCH_CONCURRENCY", "1,4,8").split(",") if x]:
            n = 2 * conc
            t = time.perf_counter()
            await asyncio.gather(*(one(c, url, f"bench-c{conc}-{i}") for i in range(n)))
            rate = n / (time.perf_counter() - t) * 60
            print(f"  throughput at concurrency {conc}: {rate:6.1f} reports/min ({n} reports)", flush=True)


def main() -> None:
    with infra.resolve(log=lambda *_: None) as inf:
        env = platform_env(inf)
        name = f"zxbench_report_{int(time.time())}"
        asyncio.run(_create_db(env["DATABASE_URL"], name))
        base = env["DATABASE_URL"]
        from sqlalchemy.engine import make_url

        env.update({"ZHENXI_ENV": "dev", "DATABASE_URL": make_url(base).set(database=name).render_as_string(False),
                    "REDIS_KEY_PREFIX": "benchr:", "NATS_SUBJECT_PREFIX": "benchr.", "LOG_LEVEL": "WARNING",
                    "OCR_LOG_LEVEL": "WARNING", "XRAY_LOG_LEVEL": "WARNING", "NLP_LOG_LEVEL": "WARNING",
                    "REPORT_LOG_LEVEL": "WARNING", "REPORT_WORKER_CONCURRENCY": "8",
                    "REPORT_WAIT_TIMEOUT_S": "900", "REPORT_OCR_TIMEOUT_S": "300", "REPORT_XRAY_TIMEOUT_S": "300",
                    "REPORT_UPLOAD_DIR": str(ROOT / ".zhenxi" / "bench-report-uploads"),
                    "OMP_NUM_THREADS": "1"})
        os.environ["INTERNAL_SIGNING_KEY"] = env["INTERNAL_SIGNING_KEY"]
        ports = {s: free_port() for s in ("ocr", "xray", "nlp", "report")}
        for s in ("ocr", "xray", "nlp"):
            env[f"REPORT_{s.upper()}_URL"] = f"http://127.0.0.1:{ports[s]}"
        try:
            with contextlib.ExitStack() as stack:
                for s in ("ocr", "xray", "nlp", "report"):
                    url = stack.enter_context(running_service(ROOT / "services" / s, ports[s], env, timeout_s=240))
                asyncio.run(run(url))
        finally:
            asyncio.run(_drop_db(base, name))
            import shutil

            shutil.rmtree(ROOT / ".zhenxi" / "bench-report-uploads", ignore_errors=True)


if __name__ == "__main__":
    main()
