from __future__ import annotations

import asyncio
import threading

import pytest

from app.batching import DynamicBatcher


def test_concurrent_requests_are_batched_and_answered_in_order():
    seen: list[int] = []
    threads: set[int] = set()

    def square(xs):
        seen.append(len(xs))
        threads.add(threading.get_ident())
        return [x * x for x in xs]

    async def go():
        b = DynamicBatcher(square, max_batch=8, max_wait_ms=20)
        res = await asyncio.gather(*(b.submit(i) for i in range(20)))
        await b.aclose()
        return res

    assert asyncio.run(go()) == [i * i for i in range(20)]
    assert sum(seen) == 20 and max(seen) > 1 and max(seen) <= 8
    assert threading.get_ident() not in threads  # the model call ran off the event loop


def test_a_failing_batch_fails_its_waiters_and_the_batcher_keeps_working():
    def fn(xs):
        if "bad" in xs:
            raise ValueError("boom")
        return xs

    async def go():
        b = DynamicBatcher(fn, max_batch=4, max_wait_ms=1)
        with pytest.raises(ValueError):
            await b.submit("bad")
        ok = await b.submit("ok")
        await b.aclose()
        return ok

    assert asyncio.run(go()) == "ok"


def test_instances_bound_how_many_batches_run_at_once_and_queued_work_joins_the_next_batch():
    lock = threading.Lock()
    state = {"running": 0, "peak": 0}
    sizes: list[int] = []
    release = threading.Event()

    def slow(xs):
        with lock:
            state["running"] += 1
            state["peak"] = max(state["peak"], state["running"])
        release.wait(5)
        with lock:
            state["running"] -= 1
            sizes.append(len(xs))
        return xs

    async def go(instances: int):
        b = DynamicBatcher(slow, max_batch=4, max_wait_ms=1, instances=instances)
        first = []
        for i in range(instances):        # one-item batches, one after the other, until every instance is busy
            first.append(asyncio.ensure_future(b.submit(i)))
            await asyncio.sleep(0.15)
        later = [asyncio.ensure_future(b.submit(i)) for i in range(10, 14)]
        await asyncio.sleep(0.1)
        release.set()
        out = await asyncio.gather(*first, *later)
        await b.aclose()
        return out

    assert asyncio.run(go(2)) == [0, 1, 10, 11, 12, 13]
    assert state["peak"] == 2
    assert sorted(sizes) == [1, 1, 4]     # the four queued while both instances were busy ran as one batch
    release.clear()
    state["peak"] = 0
    sizes.clear()
    asyncio.run(go(1))
    assert state["peak"] == 1


def test_instances_must_be_positive():
    with pytest.raises(ValueError):
        DynamicBatcher(lambda xs: xs, instances=0)


def test_on_cpu_one_session_uses_every_core_unless_threads_are_set(monkeypatch):
    """Issue 17 ("Batching, honestly"): bench/xray_speed.py measured one session on both cores faster per film than
    single-threaded sessions, at the same throughput under concurrency, so that is the CPU default now; set threads
    keep the old split (one batch instance per core for 1-thread sessions)."""
    from app import analyzer as an
    monkeypatch.setattr(an, "providers", lambda: ["CPUExecutionProvider"])
    monkeypatch.setattr(an, "cpu_cores", lambda: 4)
    assert an.default_threads() == 4
    assert an.default_instances(4) == 1
    assert an.default_instances(1) == 4
    assert an.default_instances(3) == 1
    monkeypatch.setattr(an, "providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert an.default_threads() == 2 and an.default_instances(2) == 1


def test_the_default_analyzer_opens_its_sessions_with_the_default_threads():
    from app.analyzer import AnalyzerConfig, XrayAnalyzer, cpu_cores, default_instances
    a = XrayAnalyzer(AnalyzerConfig())
    assert a.threads == cpu_cores() and a.instances == default_instances(a.threads)
    for model in (a.chest, a.detector):
        assert model.session.get_session_options().intra_op_num_threads == cpu_cores()
    one = XrayAnalyzer(AnalyzerConfig(threads=1))
    assert one.chest.session.get_session_options().intra_op_num_threads == 1 and one.instances == cpu_cores()
