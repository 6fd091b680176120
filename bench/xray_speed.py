"""Chest X-ray latency and throughput on this machine (ONNX Runtime, CPU unless CUDA is present).

Prints p50/p95 per stage at batch 1 (full analysis of the bundled NIH fixture: decode, window, chest network,
detector, post-processing incl. heatmap + mask PNGs), then throughput at concurrency 1, 4, 16 with and without
dynamic batching. Run: .venv/bin/python bench/xray_speed.py [--threads 2] [--n 40]
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
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads per instance")
    ap.add_argument("--instances", type=int, default=0, help="batches run at once (0 = auto: 1 on CUDA, else cores)")
    ap.add_argument("--n", type=int, default=40, help="requests per latency run")
    ap.add_argument("--requests", type=int, default=48, help="requests per throughput run")
    ap.add_argument("--max-batch", type=int, default=8)
    ap.add_argument("--wait-ms", type=float, default=5.0)
    args = ap.parse_args()
    from app.service import AnalyzerConfig, XrayAnalyzer
    from app.inference import providers

    a = XrayAnalyzer(AnalyzerConfig(threads=args.threads, instances=args.instances, max_batch=args.max_batch, max_wait_ms=args.wait_ms))
    golden = sorted((SVC / "models" / "golden").glob("*.png"))[0]
    data = golden.read_bytes()
    print(f"providers {providers()}, threads {args.threads}, instances {a.instances}, max batch {args.max_batch}, cpu count {os.cpu_count()}, "
          f"load avg {os.getloadavg()[0]:.2f}")
    for _ in range(3):
        a.analyze(data, golden.name, "image/png")

    stages: dict[str, list[float]] = {}
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

    async def run(concurrency: int, batching: bool) -> tuple[float, float]:
        sem = asyncio.Semaphore(concurrency)
        lat: list[float] = []

        async def one():
            async with sem:
                t = time.perf_counter()
                await a.analyze_async(data, golden.name, "image/png", batching=batching)
                lat.append(time.perf_counter() - t)
        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(args.requests)))
        wall = time.perf_counter() - t0
        await a.aclose()
        return args.requests / wall, pct(lat, 50) * 1e3

    print(f"\n== Throughput, {args.requests} requests (images/s, p50 latency ms)")
    print(f"{'concurrency':<12}{'no batching':>22}{'dynamic batching':>24}")
    for c in (1, 4, 16):
        nb = asyncio.run(run(c, False))
        b = asyncio.run(run(c, True))
        print(f"{c:<12}{nb[0]:>12.2f} ({nb[1]:6.0f} ms){b[0]:>14.2f} ({b[1]:6.0f} ms)   x{b[0] / nb[0]:.2f}")
    print(f"batches run {a.batcher.batches_run}, mean batch {a.batcher.items_run / max(1, a.batcher.batches_run):.2f}")


if __name__ == "__main__":
    main()
