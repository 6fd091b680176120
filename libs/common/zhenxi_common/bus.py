"""NATS JetStream: one stream per deployment (subjects ``<prefix>>``), publish with dedupe ids, and durable
pull consumers that hand each event to a handler inside a DB transaction with an inbox check."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError as JsNotFoundError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .events import Event
from .outbox import claim_inbox

log = logging.getLogger("zhenxi.bus")

Handler = Callable[[AsyncSession, Event], Awaitable[None]]


def stream_name_for(prefix: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9]", "_", prefix.strip(".")).upper()
    return "ZHENXI" if cleaned == "ZHENXI" else f"ZX_{cleaned}"


class EventBus:
    def __init__(self, url: str, subject_prefix: str = "zhenxi.") -> None:
        self.url = url
        self.prefix = subject_prefix
        self.stream = stream_name_for(subject_prefix)
        self.nc: NATS | None = None
        self.js: JetStreamContext | None = None
        self._tasks: list[asyncio.Task] = []
        self._subs: list = []

    async def connect(self) -> None:
        self.nc = await nats.connect(self.url, name="zhenxi", connect_timeout=3, max_reconnect_attempts=-1,
                                     allow_reconnect=True)
        self.js = self.nc.jetstream(timeout=5)
        await self.ensure_stream()

    async def ensure_stream(self) -> None:
        assert self.js is not None
        config = StreamConfig(name=self.stream, subjects=[f"{self.prefix}>"], duplicate_window=3600.0,
                              max_age=7 * 24 * 3600.0)
        try:
            await self.js.stream_info(self.stream)
        except JsNotFoundError:
            await self.js.add_stream(config)

    def wire_subject(self, subject: str) -> str:
        return f"{self.prefix}{subject}"

    async def publish_raw(self, subject: str, payload: dict[str, Any] | bytes, event_id: str) -> None:
        assert self.js is not None, "bus not connected"
        data = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
        await self.js.publish(self.wire_subject(subject), data, headers={"Nats-Msg-Id": event_id})

    async def ping(self, timeout: float = 1.0) -> bool:
        if self.nc is None or not self.nc.is_connected:
            return False
        await self.nc.flush(timeout=timeout)
        return True

    def consume(self, event_type: type[Event], durable: str, handler: Handler,
                sessionmaker: async_sessionmaker[AsyncSession], inbox: Table) -> None:
        """Start a durable pull consumer; each event is handled at most once per ``durable``."""
        self._tasks.append(asyncio.create_task(
            self._consume(event_type, durable, handler, sessionmaker, inbox), name=f"consume-{durable}"))

    async def _consume(self, event_type: type[Event], durable: str, handler: Handler,
                       sessionmaker: async_sessionmaker[AsyncSession], inbox: Table) -> None:
        assert self.js is not None
        sub = await self.js.pull_subscribe(self.wire_subject(event_type.subject), durable=durable,
                                           stream=self.stream)
        self._subs.append(sub)
        while True:
            try:
                msgs = await sub.fetch(10, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for msg in msgs:
                try:
                    # The consumer's own type: a service may consume contracts it keeps to itself.
                    event = event_type.model_validate_json(msg.data)
                except ValueError:  # pydantic's ValidationError is a ValueError
                    log.error("dropping malformed event", extra={"subject": msg.subject})
                    await msg.term()
                    continue
                try:
                    async with sessionmaker() as session, session.begin():
                        if await claim_inbox(session, inbox, event, durable):
                            await handler(session, event)
                    await msg.ack()
                except Exception:
                    log.exception("event handler failed; will be redelivered", extra={"subject": msg.subject})
                    await msg.nak(delay=2.0)

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        # Pull subscriptions are unsubscribed first: drain() would otherwise wait out its timeout on them.
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.drain()
