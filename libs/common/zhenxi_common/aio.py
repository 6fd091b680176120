"""Small asyncio helpers the services' background loops share."""
from __future__ import annotations

import asyncio


async def wait_set(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; True when it was set.

    Background loops sleep on this between passes. ``asyncio.wait_for(event.wait(), t)`` is not safe for that on
    Python 3.11: when a cancel arrives in the same step as the event is set, it returns the finished wait and the
    cancel is lost, so ``stop()`` (cancel, then await the task) waits forever. ``asyncio.timeout`` awaits in the
    caller's own task and tells its own expiry from a cancel that came from outside, which it always passes on."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
