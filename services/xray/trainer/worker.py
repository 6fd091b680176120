"""The optional fine-tuning worker: pulls jobs from the JetStream work queue, trains, and registers the result as
a STAGED model version through the same validation as an upload (``app.registry.register_candidate``).

Run from ``services/xray`` with the training venv (torch is never installed in the service image):

    ../../.venv-train/bin/python -m trainer.worker            # forever
    ../../.venv-train/bin/python -m trainer.worker --once     # one job, then exit

It reads the same settings as the service (DATABASE_URL, NATS_URL, REDIS_URL, XRAY_MODEL_STORE, ...). Several
workers may run: the work queue hands each job to one of them. A worker that dies mid-job leaves the message
unacknowledged; it is redelivered after ``XRAY_TRAINING_ACK_WAIT_S`` and the job is claimed again once its
heartbeat is that old.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import nats
from nats.js.api import ConsumerConfig
from sqlalchemy import func, update

from zhenxi_common.db import make_engine, make_sessionmaker
from zhenxi_common.cache import make_redis
from zhenxi_common.errors import ServiceError
from zhenxi_common.logs import configure_logging

from app.config import Settings
from app.jobs import ZipLimits, claim_job, ensure_work_queue, finish_job, inspect_zip, progress_channel, record_event
from app.jobs import upload_path
from app.models import TrainingJob, outbox
from app.registry import ModelStore, ModelTooLargeError, register_candidate

log = logging.getLogger("xray.trainer")
DURABLE = "xray-trainer"


class Worker:
    def __init__(self, settings: Settings, threads: int, backbone: str):
        self.settings = settings
        self.threads = threads
        self.backbone = backbone
        self.store = ModelStore(settings.model_store)
        self.engine = make_engine(settings.database_url, 2)
        self.sessionmaker = make_sessionmaker(self.engine, outbox)
        self.redis = make_redis(settings.redis_url)
        self.nc = None
        self.js = None
        self.sub = None

    async def connect(self):
        self.nc = await nats.connect(self.settings.nats_url, name="xray-trainer", max_reconnect_attempts=-1)
        self.js = self.nc.jetstream(timeout=10)
        await ensure_work_queue(self.js, self.settings)
        self.sub = await self.js.pull_subscribe(
            self.settings.work_queue_subject, durable=DURABLE, stream=self.settings.work_queue_stream,
            config=ConsumerConfig(ack_wait=self.settings.training_ack_wait_s, max_deliver=5))
        return self.sub

    async def close(self) -> None:
        if self.sub is not None:  # an idle pull subscription would hold drain() for its full timeout
            with contextlib.suppress(Exception):
                await self.sub.unsubscribe()
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.drain()
        await self.redis.aclose()
        await self.engine.dispose()

    async def _event(self, job_id: uuid.UUID, kind: str, data: dict) -> None:
        async with self.sessionmaker() as s, s.begin():
            await record_event(s, job_id, kind, data)
        with contextlib.suppress(Exception):  # the wake-up is an optimisation; SSE also polls Postgres
            await self.redis.publish(progress_channel(self.settings, str(job_id)), b"1")

    async def handle(self, msg) -> None:
        try:
            job_id = uuid.UUID(json.loads(msg.data)["job_id"])
        except (ValueError, KeyError, TypeError):
            log.error("dropping malformed job message")
            await msg.term()
            return
        async with self.sessionmaker() as s, s.begin():
            job = await claim_job(s, job_id, stale_after_s=self.settings.training_ack_wait_s)
        if job is None:  # done already, or another worker holds it
            await msg.ack()
            return
        with contextlib.suppress(Exception):
            await self.redis.publish(progress_channel(self.settings, str(job_id)), b"1")
        keepalive = asyncio.create_task(self._keepalive(msg, job_id))
        work = Path(tempfile.mkdtemp(prefix="xray-train-"))  # local scratch, not the shared store
        result = error = None
        try:
            result = await self._run(job, work)
        except ServiceError as e:
            error = {"code": e.code, "message": e.message, "details": e.details}
        except Exception as e:  # noqa: BLE001 - any failure of a training run ends the job as failed, with a reason
            log.exception("training job failed", extra={"job_id": str(job_id)})
            error = {"code": "training_failed", "message": "训练失败。 Training failed.",
                     "details": {"error": type(e).__name__, "reason": str(e)[:300]}}
        finally:
            keepalive.cancel()
            shutil.rmtree(work, ignore_errors=True)
        async with self.sessionmaker() as s, s.begin():
            await finish_job(s, job_id, result=result, error=error)
        with contextlib.suppress(Exception):
            await self.redis.publish(progress_channel(self.settings, str(job_id)), b"1")
        upload_path(self.store, job_id).unlink(missing_ok=True)  # the images are not kept after the job
        await msg.ack()
        log.info("training job finished", extra={"job_id": str(job_id), "ok": error is None})

    async def _keepalive(self, msg, job_id: uuid.UUID) -> None:
        while True:
            await asyncio.sleep(min(30.0, self.settings.training_ack_wait_s / 3))
            with contextlib.suppress(Exception):
                await msg.in_progress()
            with contextlib.suppress(Exception):
                async with self.sessionmaker() as s, s.begin():
                    await s.execute(update(TrainingJob).where(TrainingJob.id == job_id)
                                    .values(heartbeat_at=func.now()))

    async def _run(self, job: TrainingJob, work: Path) -> dict:
        from trainer.finetune import train

        s = self.settings
        zip_path = upload_path(self.store, job.id)
        if not zip_path.is_file():
            raise FileNotFoundError("the uploaded training data is no longer in the model store")
        # Checked again: the file sat on a shared volume between the request and now.
        dataset = await asyncio.to_thread(inspect_zip, zip_path, ZipLimits.from_settings(s))
        loop = asyncio.get_running_loop()

        def progress(data: dict) -> None:
            kind = "progress" if "epoch" in data else "status"
            asyncio.run_coroutine_threadsafe(self._event(job.id, kind, data), loop).result(timeout=60)

        res = await asyncio.to_thread(train, zip_path, dataset.classes, job.params, work, progress,
                                      s.max_training_image_bytes, self.threads, self.backbone)
        await self._event(job.id, "status", {"stage": "validating"})
        version = job.version or f"ft-{job.created_at:%Y%m%d%H%M%S}-{str(job.id)[:8]}"
        with open(res.onnx_path, "rb") as f:
            blob = await asyncio.to_thread(self.store.write_stream, f, s.max_model_bytes,
                                           lambda n: ModelTooLargeError(details={"max_bytes": s.max_model_bytes}))
        metrics = {**res.metrics, "training_job_id": str(job.id)}
        async with self.sessionmaker() as session, session.begin():
            row = await register_candidate(session, self.store, s, name=job.model_name, task="classification",
                                           version=version, blob=blob, source="training", actor=job.created_by,
                                           metadata={"labels": res.classes}, metrics=metrics)
            out = {"model_name": row.name, "version": row.version, "sha256": row.sha256, "status": row.status,
                   "metrics": {k: v for k, v in res.metrics.items() if k != "history"}}
        return out

    async def run(self, once: bool) -> None:
        sub = await self.connect()
        log.info("trainer worker ready", extra={"subject": self.settings.work_queue_subject})
        while True:
            try:
                msgs = await sub.fetch(1, timeout=5)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for msg in msgs:
                await self.handle(msg)
            if once and msgs:
                return


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="trainer.worker", description="Zhenxi x-ray fine-tuning worker")
    ap.add_argument("--once", action="store_true", help="process one job, then exit")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("XRAY_TRAINER_THREADS", "2")))
    ap.add_argument("--backbone", choices=("auto", "chest", "imagenet"),
                    default=os.environ.get("XRAY_TRAINER_BACKBONE", "auto"))
    ap.add_argument("--nice", type=int, default=10, help="lower the CPU priority (shared machines)")
    args = ap.parse_args(argv)
    if args.nice:
        with contextlib.suppress(OSError):
            os.nice(args.nice)
    settings = Settings()
    configure_logging("xray-trainer", settings.log_level)
    worker = Worker(settings, args.threads, args.backbone)

    async def go() -> None:
        try:
            await worker.run(args.once)
        finally:
            await worker.close()

    asyncio.run(go())
    return 0


if __name__ == "__main__":
    sys.exit(main())
