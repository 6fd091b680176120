"""Chest X-ray latency and throughput on this machine (ONNX Runtime, CPU unless CUDA is present).

Prints p50/p95 per stage at batch 1 (full analysis of the bundled NIH fixture: decode, window, chest network,
detector, post-processing incl. heatmap + mask PNGs), then p50/p95 latency and throughput at concurrency 1, 4, 16
with dynamic batching on and off, through the stages the API's AnalysisService runs (prepare in a worker thread,
``XrayAnalyzer.run_models``, finish with overlays at the input's size). Each configuration is run ``--repeats``
times in alternating order (the machine is shared: load drifts); the load average is printed beside every row.
Run: .venv/bin/python bench/xray_speed.py [--threads 0] [--n 40] [--repeats 2]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVC = ROOT / "services" / "xray"
sys.path.insert(0, str(SVC))

import numpy as np  # noqa: E402


def pct(v, q):
    return float(np.percentile(v, q))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0,
                    help="ONNX Runtime intra-op threads per session (0 = the service default: every core on CPU)")
    ap.add_argument("--instances", type=int, default=0, help="batches run at once (0 = auto: 1 on CUDA, else cores)")
    ap.add_argument("--n", type=int, default=40, help="requests per latency run")
    ap.add_argument("--requests", type=int, default=48, help="requests per throughput run")
    ap.add_argument("--max-batch", type=int, default=8)
    ap.add_argument("--wait-ms", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=2, help="runs per (concurrency, batching) row")
    ap.add_argument("--models-dir", type=Path, default=None, help="another models folder (e.g. a baseline copy)")
    ap.add_argument("--latency-only", action="store_true", help="only the batch-1 stage latencies")
    args = ap.parse_args()
    from app.analyzer import AnalyzerConfig, XrayAnalyzer
    from app.inference import providers

    extra = {"models_dir": args.models_dir} if args.models_dir else {}
    a = XrayAnalyzer(AnalyzerConfig(threads=args.threads, instances=args.instances, max_batch=args.max_batch,
                                    max_wait_ms=args.wait_ms, **extra))
    golden = sorted((SVC / "models" / "golden").glob("*.png"))[0]
    data = golden.read_bytes()
    print(f"providers {providers()}, threads {a.threads}, instances {a.instances}, max batch {args.max_batch}, "
          f"cpu count {os.cpu_count()}, load avg {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for _ in range(3):
        a.analyze(data, golden.name, "image/png")

    stages: dict[str, list[float]] = {}
    cpu0 = time.process_time()
    for _ in range(args.n):
        t0 = time.perf_counter()
        out = a.analyze(data, golden.name, "image/png")
        total = (time.perf_counter() - t0) * 1e3
        for k, v in out["timings_ms"].items():
            if k != "batch_size":
                stages.setdefault(k, []).append(v)
        stages.setdefault("total", []).append(total)
    print(f"\n== Latency at batch 1, {args.n} runs (ms)")
    print(f"{'stage':<14}{'p50':>8}{'p95':>8}")
    for k, v in stages.items():
        print(f"{k:<14}{pct(v, 50):8.1f}{pct(v, 95):8.1f}")
    print(f"CPU time per analysis {(time.process_time() - cpu0) * 1e3 / args.n:.1f} ms (all threads); "
          f"load avg {' '.join(f'{x:.2f}' for x in os.getloadavg())}; detector views {len(getattr(a.detector, 'views', [0]))}, "
          f"chest views {1 + len(getattr(a.chest, 'tta_views', []))}")
    if args.latency_only:
        return

    async def run(concurrency: int, batching: bool) -> tuple[float, list[float]]:
        a.batching = batching
        sem = asyncio.Semaphore(concurrency)
        lat: list[float] = []

        async def one():
            async with sem:
                t = time.perf_counter()
                p = await asyncio.to_thread(a.prepare, data, golden.name, "image/png")
                raw = await a.run_models(p)
                await asyncio.to_thread(a.finish, p, raw, None, None, (p.image.width, p.image.height))
                lat.append((time.perf_counter() - t) * 1e3)
        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(args.requests)))
        wall = time.perf_counter() - t0
        await a.aclose()
        return args.requests / wall, lat

    print(f"\n== Concurrent requests: {args.requests} per run, {args.repeats} runs per row in alternating order "
          f"(images/s = median over runs; latency percentiles over all runs' requests)")
    print(f"{'concurrency':<12}{'batching':<10}{'images/s':>10}{'p50 ms':>9}{'p95 ms':>9}   load avg (1 min) per run")
    summary = {}
    for c in (1, 4, 16):
        res: dict[bool, tuple[list[float], list[float], list[float]]] = {False: ([], [], []), True: ([], [], [])}
        for r in range(args.repeats):
            for batching in ((False, True) if r % 2 == 0 else (True, False)):
                tput, lat = asyncio.run(run(c, batching))
                res[batching][0].append(tput)
                res[batching][1].extend(lat)
                res[batching][2].append(os.getloadavg()[0])
        for batching in (False, True):
            tputs, lat, loads = res[batching]
            summary[(c, batching)] = float(np.median(tputs))
            print(f"{c:<12}{'on' if batching else 'off':<10}{np.median(tputs):>10.2f}{pct(lat, 50):>9.1f}"
                  f"{pct(lat, 95):>9.1f}   {' '.join(f'{x:.2f}' for x in loads)}")
    print(f"batches run {a.batcher.batches_run}, mean batch {a.batcher.items_run / max(1, a.batcher.batches_run):.2f}")
    wins = sum(summary[(c, True)] > summary[(c, False)] for c in (1, 4, 16))
    print(f"batching faster at {wins} of 3 concurrencies "
          + ", ".join(f"c={c}: x{summary[(c, True)] / summary[(c, False)]:.2f}" for c in (1, 4, 16)))
    from app.analyzer import default_batching
    print(f"service default here (XRAY_BATCHING unset): batching {'on' if default_batching() else 'off'}")


if __name__ == "__main__":
    main()
