"""What the xray service publishes and consumes.

Contracts only xray uses live here (the shared ``zhenxi_common.events`` keeps what other services read):
* ``ModelPromotedV1`` -- published on promotion/rollback, consumed by EVERY xray replica: each one has its own
  ephemeral ordered consumer (a shared durable would hand each event to a single replica). The event is only a
  trigger: the replica re-reads the active set from Postgres and swaps, so replays, reordering and missed events
  (the periodic reconcile) are all harmless.
* ``TrainingJobRequestedV1`` -- published when a fine-tuning job is accepted, consumed by ONE replica (shared
  durable, inbox-deduplicated): it puts the job on the JetStream work queue that trainer workers pull from.

Also published (through the outbox): ``zhenxi_common.events.XrayAnalyzedV1`` (ids and finding labels only), the
service's public result event.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from nats.js.api import DeliverPolicy

from zhenxi_common.aio import wait_set
from zhenxi_common.bus import EventBus
from zhenxi_common.events import Event

from .config import Settings
from .models import inbox

if TYPE_CHECKING:
    from .runtime import ModelRuntime


class ModelPromotedV1(Event):
    subject = "xray.model_promoted.v1"
    model_name: str
    version: str
    sha256: str


class TrainingJobRequestedV1(Event):
    subject = "xray.training_job_requested.v1"
    job_id: str


log = logging.getLogger("xray.events")

DISPATCH_DURABLE = "xray-training-dispatch"


class ModelWatcher:
    """Keeps this replica's served models equal to the registry's active set."""

    def __init__(self, bus: EventBus, runtime: ModelRuntime, settings: Settings):
        self.bus = bus
        self.runtime = runtime
        self.settings = settings
        self._sub = None
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self.events_seen = 0
        self.busy = False

    async def start(self) -> None:
        assert self.bus.js is not None
        # Subscribe before the first load, so a promotion in between is not missed.
        self._sub = await self.bus.js.subscribe(
            self.bus.wire_subject(ModelPromotedV1.subject), stream=self.bus.stream, cb=self._on_message,
            ordered_consumer=True, deliver_policy=DeliverPolicy.NEW)
        await self.runtime.reconcile()
        self._task = asyncio.create_task(self._loop(), name="xray-model-watcher")

    async def _on_message(self, msg) -> None:
        try:
            event = ModelPromotedV1.model_validate_json(msg.data)
        except ValueError:  # pydantic's ValidationError is a ValueError
            log.error("dropping malformed model event")
            return
        self.events_seen += 1
        log.info("model promoted", extra={"model": event.model_name, "version": event.version,
                                          "replica": self.settings.replica_id})
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            await wait_set(self._wake, self.settings.reconcile_interval_s)
            self.busy = True
            self._wake.clear()
            try:
                await self.runtime.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:  # the watcher must outlive a DB blip; the next wake or tick retries
                log.exception("model reconcile failed")
            finally:
                self.busy = False

    @property
    def idle(self) -> bool:
        """No promotion waiting to be applied and none being applied."""
        return not self._wake.is_set() and not self.busy

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()


def start_training_dispatch(bus: EventBus, sessionmaker, settings: Settings) -> None:
    """One shared durable consumer across replicas: each ``TrainingJobRequestedV1`` is handled once (inbox) and
    becomes a work-queue message for the trainer workers."""

    from .jobs import enqueue

    async def dispatch(session, event: TrainingJobRequestedV1) -> None:
        await enqueue(bus.js, settings, event.job_id)

    bus.consume(TrainingJobRequestedV1, DISPATCH_DURABLE, dispatch, sessionmaker, inbox)


async def setup_work_queue(bus: EventBus, settings: Settings) -> None:
    from .jobs import ensure_work_queue

    assert bus.js is not None
    await ensure_work_queue(bus.js, settings)
