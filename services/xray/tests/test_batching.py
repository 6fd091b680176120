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
