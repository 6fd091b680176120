"""Dynamic batching: concurrent requests are gathered for up to ``max_wait_ms`` (or until ``max_batch``) and run
as one batch in a worker thread, off the event loop. At most ``instances`` batches run at once (Triton's
instance count): on a GPU one instance keeps the device busy; on CPU one single-threaded instance per core uses
every core without the oversubscription of one thread pool per request. While batches run, the next one gathers.
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Generic, Sequence, TypeVar

import anyio.to_thread

T = TypeVar("T")
R = TypeVar("R")


class DynamicBatcher(Generic[T, R]):
    def __init__(self, fn: Callable[[Sequence[T]], Sequence[R]], max_batch: int = 8, max_wait_ms: float = 5.0,
                 instances: int = 1):
        if max_batch < 1 or instances < 1:
            raise ValueError("max_batch and instances must be >= 1")
        self.instances = instances
        self.fn = fn
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self._queue: asyncio.Queue[tuple[T, asyncio.Future]] | None = None
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._running: set[asyncio.Task] = set()
        self.batches_run = 0
        self.items_run = 0

    def _ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop = loop
            self._queue = asyncio.Queue()
            self._slots = asyncio.Semaphore(self.instances)
            self._task = loop.create_task(self._worker(), name="xray-dynamic-batcher")

    async def submit(self, item: T) -> R:
        self._ensure_started()
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((item, fut))  # type: ignore[union-attr]
        return await fut

    async def _worker(self) -> None:
        q = self._queue
        assert q is not None
        slots = self._slots
        assert slots is not None
        while True:
            # Take a free instance first: while every instance is busy, requests pile up in the queue and the next
            # batch picks them up at once.
            await slots.acquire()
            first = await q.get()
            batch = [first]
            deadline = asyncio.get_running_loop().time() + self.max_wait
            while len(batch) < self.max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(q.get(), timeout))
                except asyncio.TimeoutError:
                    break
            live = [(item, fut) for item, fut in batch if not fut.cancelled()]
            if not live:
                slots.release()
                continue
            task = asyncio.get_running_loop().create_task(self._run(live))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, live: list[tuple[T, asyncio.Future]]) -> None:
        try:
            results: Sequence[Any] = await anyio.to_thread.run_sync(self.fn, [item for item, _ in live])
        except Exception as exc:  # delivered to every waiter of this batch, which re-raises it
            for _, fut in live:
                if not fut.done():
                    fut.set_exception(exc)
            return
        finally:
            self._slots.release()  # type: ignore[union-attr]
        self.batches_run += 1
        self.items_run += len(live)
        for (_, fut), res in zip(live, results):
            if not fut.done():
                fut.set_result(res)

    async def aclose(self) -> None:
        for task in list(self._running):
            task.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
