"""Fine-tuning jobs: the uploaded zip (one folder per class) is checked before anything is stored, the job is kept
in Postgres and queued on a JetStream work queue for the trainer worker (``services/xray/trainer``), and its
progress is stored as ordered events that any replica can stream as Server-Sent Events.

Shared by the API and the worker; no FastAPI here.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import stat
import unicodedata
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from sqlalchemy import event, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zhenxi_common.errors import NotFoundError, ServiceError
from .events import TrainingJobRequestedV1
from zhenxi_common.outbox import add_event

from .config import Settings
from .imaging import Limits, load_image
from .models import ModelVersion, TrainingJob, TrainingJobEvent
from .registry import ModelStore, check_name

log = logging.getLogger("xray.jobs")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
TERMINAL = ("succeeded", "failed")
MAX_PIXELS = 40_000_000


# ------------------------------------------------------------------------------------------------------ errors
class TrainingZipTooLargeError(ServiceError):
    code = "training_zip_too_large"
    status = 413
    default_message = "训练数据压缩包过大。 The training zip is too large."


class ZipInvalidError(ServiceError):
    code = "zip_invalid"
    status = 422
    default_message = "这不是有效的 zip 文件。 The file is not a valid zip archive."


class ZipUnsafeError(ServiceError):
    code = "zip_unsafe_path"
    status = 422
    default_message = ("压缩包包含不安全的路径（绝对路径、“..”或链接）。 "
                       "The zip holds unsafe paths (absolute, '..' or links).")


class ZipBombError(ServiceError):
    code = "zip_bomb"
    status = 413
    default_message = "压缩包解压后过大或压缩比异常。 The zip expands too much (size or compression ratio)."


class ZipTooManyFilesError(ServiceError):
    code = "zip_too_many_files"
    status = 413
    default_message = "压缩包中的文件过多。 The zip holds too many files."


class DatasetLayoutError(ServiceError):
    code = "dataset_layout_invalid"
    status = 422
    default_message = ("压缩包应为每个类别一个文件夹，文件夹内为 PNG/JPEG 图像。 "
                       "The zip must hold one folder per class with PNG/JPEG images inside.")


class TooFewImagesError(ServiceError):
    code = "dataset_too_few_images"
    status = 422
    default_message = "有的类别图像太少。 Some classes have too few images."


class ImagesUnreadableError(ServiceError):
    code = "dataset_images_unreadable"
    status = 422
    default_message = "有些图像无法解码。 Some images cannot be decoded."


class DuplicateImagesError(ServiceError):
    code = "dataset_duplicate_images"
    status = 422
    default_message = "同一张图像出现在不同类别中。 The same image appears in more than one class."


class TrainingJobNotFoundError(NotFoundError):
    code = "training_job_not_found"
    default_message = "没有这个训练任务。 No such training job."


class TrainingParamsError(ServiceError):
    code = "training_params_invalid"
    status = 422
    default_message = "训练参数无效。 The training parameters are not valid."


# ------------------------------------------------------------------------------------------------------ zip checks
@dataclass
class ZipLimits:
    max_files: int = 5000
    max_uncompressed: int = 1024 * 1024 * 1024
    max_image_bytes: int = 20 * 1024 * 1024
    max_ratio: float = 200.0
    min_per_class: int = 10
    max_classes: int = 50

    @classmethod
    def from_settings(cls, s: Settings) -> "ZipLimits":
        return cls(s.max_training_files, s.max_training_uncompressed_bytes, s.max_training_image_bytes,
                   s.max_compression_ratio, s.min_images_per_class, s.max_classes)


@dataclass
class Dataset:
    classes: dict[str, list[str]]                    # class -> zip member names (duplicates removed)
    duplicates_dropped: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        # Class names and counts only: member file names may carry personal data and are not stored.
        return {"classes": {c: len(m) for c, m in self.classes.items()}, "images": sum(map(len, self.classes.values())),
                "duplicates_dropped": self.duplicates_dropped}


def _is_unsafe(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\\" in name:
        return "backslash"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute"
    if any(part == ".." for part in name.split("/")):
        return "parent_reference"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symlink"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return "control_character"
    return None


def _ignored(parts: tuple[str, ...]) -> bool:
    return parts[0] == "__MACOSX" or parts[-1].lower() in IGNORED_NAMES or any(p.startswith(".") for p in parts)


def _class_name(raw: str) -> str:
    name = unicodedata.normalize("NFC", raw).strip()
    if not 0 < len(name) <= 64:
        raise DatasetLayoutError("类别名须为 1 到 64 个字符。 Class names must be 1 to 64 characters.",
                                 details={"class": raw[:80]})
    return name


def training_limits(max_image_bytes: int) -> Limits:
    """Training images go through the analyses' decode path (``imaging.load_image``) with these limits: the same
    byte and pixel caps and errors; no minimum side (a fine-tuning set may hold small crops, which are resized to
    the network input anyway)."""
    return Limits(max_bytes=max_image_bytes, max_pixels=MAX_PIXELS, min_side=1)


def decode_member(data: bytes, name: str, max_image_bytes: int) -> np.ndarray:
    """One zip member -> float32 grayscale at its own size, or the ``ServiceError`` the analysis API would give."""
    return load_image(data, name, None, training_limits(max_image_bytes), allow_dicom=False).gray


def read_member(zf: zipfile.ZipFile, name: str, max_bytes: int) -> bytes:
    """Read one member with a hard cap, never trusting the sizes the archive declares."""
    with zf.open(name) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ZipBombError(details={"reason": "member_too_large", "max_bytes": max_bytes})
    return data


def inspect_zip(path: Path, limits: ZipLimits) -> Dataset:
    """Check a folder-per-class zip without extracting it: safety first (entries, sizes, ratios, paths), then
    layout, then every image decoded, then duplicates across classes, then enough images per class."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise ZipInvalidError(details={"reason": type(e).__name__}) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_files:
            raise ZipTooManyFilesError(details={"files": len(infos), "max_files": limits.max_files})
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_uncompressed:
            raise ZipBombError(details={"reason": "total_uncompressed_size", "bytes": declared,
                                        "max_bytes": limits.max_uncompressed})
        unsafe = [(i.filename[:120], r) for i in infos if (r := _is_unsafe(i))]
        if unsafe:
            raise ZipUnsafeError(details={"entries": [{"name": n, "reason": r} for n, r in unsafe[:20]]})
        for i in infos:
            if i.flag_bits & 0x1:
                raise ZipInvalidError("不接受加密的压缩包。 Encrypted zips are not accepted.",
                                      details={"reason": "encrypted"})
            if i.file_size > limits.max_image_bytes:
                raise ZipBombError(details={"reason": "member_too_large", "max_bytes": limits.max_image_bytes})
            if i.file_size > 1024 and i.file_size / max(1, i.compress_size) > limits.max_ratio:
                raise ZipBombError(details={"reason": "compression_ratio", "max_ratio": limits.max_ratio})

        files = [i for i in infos if not i.is_dir()]
        entries = []
        skipped = []
        for i in files:
            parts = tuple(p for p in PurePosixPath(i.filename).parts if p not in ("", "."))
            if not parts or _ignored(parts):
                continue
            entries.append((parts, i))
        # A zip of one top folder (``dataset/<class>/<image>``) is the common way to zip a folder.
        if entries and all(len(p) >= 3 for p, _ in entries) and len({p[0] for p, _ in entries}) == 1:
            entries = [(p[1:], i) for p, i in entries]
        loose = [i.filename[:120] for p, i in entries if len(p) < 2]
        if loose:
            raise DatasetLayoutError(details={"reason": "files_outside_class_folders", "examples": loose[:10]})
        classes: dict[str, list[zipfile.ZipInfo]] = {}
        for parts, i in entries:
            if not parts[-1].lower().endswith(IMAGE_SUFFIXES):
                skipped.append(i.filename[:120])
                continue
            classes.setdefault(_class_name(parts[0]), []).append(i)
        if skipped:
            raise DatasetLayoutError("只接受 PNG 或 JPEG 图像。 Only PNG and JPEG images are accepted.",
                                     details={"reason": "unsupported_files", "examples": skipped[:10]})
        if len(classes) < 2:
            raise DatasetLayoutError("至少需要两个类别文件夹。 At least two class folders are needed.",
                                     details={"reason": "fewer_than_two_classes", "classes": sorted(classes)})
        if len(classes) > limits.max_classes:
            raise DatasetLayoutError(details={"reason": "too_many_classes", "classes": len(classes),
                                              "max_classes": limits.max_classes})

        total = 0
        unreadable: list[str] = []
        reasons: dict[str, int] = {}  # error code (as the analysis API would answer) -> how many images
        seen: dict[str, tuple[str, str]] = {}
        cross: list[dict[str, str]] = []
        kept: dict[str, list[str]] = {}
        dropped = 0
        for cls in sorted(classes):
            for info in sorted(classes[cls], key=lambda x: x.filename):
                data = read_member(zf, info.filename, limits.max_image_bytes)
                total += len(data)
                if total > limits.max_uncompressed:
                    raise ZipBombError(details={"reason": "total_uncompressed_size",
                                                "max_bytes": limits.max_uncompressed})
                try:
                    gray = decode_member(data, info.filename, limits.max_image_bytes)
                except ServiceError as e:
                    unreadable.append(info.filename[:120])
                    reasons.setdefault(e.code, 0)
                    reasons[e.code] += 1
                    continue
                # Hash the decoded pixels: the same picture re-encoded is still the same picture.
                h = hashlib.sha256(str(gray.shape).encode() + gray.tobytes()).hexdigest()
                if h in seen:
                    other_cls, other_name = seen[h]
                    if other_cls != cls:
                        cross.append({"image": info.filename[:120], "class": cls,
                                      "same_as": other_name[:120], "other_class": other_cls})
                    else:
                        dropped += 1
                    continue
                seen[h] = (cls, info.filename)
                kept.setdefault(cls, []).append(info.filename)
        if unreadable:
            raise ImagesUnreadableError(details={"count": len(unreadable), "examples": unreadable[:20],
                                                "reasons": reasons})
        if cross:
            raise DuplicateImagesError(details={"count": len(cross), "pairs": cross[:20]})
        counts = {c: len(kept.get(c, [])) for c in sorted(classes)}
        short = {c: n for c, n in counts.items() if n < limits.min_per_class}
        if short:
            raise TooFewImagesError(details={"min_per_class": limits.min_per_class, "counts": counts,
                                             "too_few": short})
        return Dataset({c: kept[c] for c in sorted(kept)}, dropped)


# ------------------------------------------------------------------------------------------------------ jobs (DB)
@dataclass
class JobParams:
    epochs: int = 5
    image_size: int = 224
    learning_rate: float = 1e-3
    val_fraction: float = 0.2
    seed: int = 0

    def check(self) -> "JobParams":
        problems = []
        if not 1 <= self.epochs <= 50:
            problems.append("epochs must be 1..50")
        if not 64 <= self.image_size <= 512 or self.image_size % 32:
            problems.append("image_size must be 64..512 and a multiple of 32")
        if not 1e-6 <= self.learning_rate <= 0.1:
            problems.append("learning_rate must be in 1e-6..0.1")
        if not 0.1 <= self.val_fraction <= 0.5:
            problems.append("val_fraction must be 0.1..0.5")
        if problems:
            raise TrainingParamsError(details={"problems": problems})
        return self

    def as_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "image_size": self.image_size, "learning_rate": self.learning_rate,
                "val_fraction": self.val_fraction, "seed": self.seed}


async def check_target(session: AsyncSession, name: str, version: str | None) -> None:
    """Refuse early what registration would refuse at the end of a long training run."""
    from .registry import ModelSignatureMismatchError, ModelVersionExistsError

    check_name(name, version)
    task = await session.scalar(select(ModelVersion.task).where(ModelVersion.name == name).limit(1))
    if task is not None and task != "classification":
        raise ModelSignatureMismatchError(
            f"模型 {name} 不是分类模型。 Model {name} is a {task!r} model, not a classifier.",
            details={"expected_task": task, "task": "classification"})
    if version and await session.scalar(select(ModelVersion.id).where(ModelVersion.name == name,
                                                                      ModelVersion.version == version)):
        raise ModelVersionExistsError(details={"name": name, "version": version})


def upload_path(store: ModelStore, job_id: uuid.UUID) -> Path:
    return store.uploads / f"{job_id}.zip"


async def create_job(session: AsyncSession, store: ModelStore, *, zip_path: Path, zip_sha256: str,
                     dataset: Dataset, params: JobParams, model_name: str, version: str | None,
                     actor: str) -> TrainingJob:
    """Keep the (already checked) zip for the worker, store the job, and stage ``TrainingJobRequestedV1``; the
    dispatcher puts it on the work queue once this transaction has committed."""
    job = TrainingJob(id=uuid.uuid4(), created_by=actor, status="queued", model_name=model_name, version=version,
                      params=params.as_dict(), dataset=dataset.summary(), upload_sha256=zip_sha256, attempts=0,
                      progress={})
    target = upload_path(store, job.id)
    os.replace(zip_path, target)
    state = {"done": False}

    def _committed(_s) -> None:
        state["done"] = True

    def _rolled_back(_s) -> None:
        if not state["done"]:
            target.unlink(missing_ok=True)

    event.listen(session.sync_session, "after_commit", _committed, once=True)
    event.listen(session.sync_session, "after_rollback", _rolled_back, once=True)
    session.add(job)
    await session.flush()
    session.add(TrainingJobEvent(job_id=job.id, kind="status", data={"status": "queued"}))
    await add_event(session, TrainingJobRequestedV1(job_id=str(job.id)))
    await session.flush()
    return job


async def get_job(session: AsyncSession, job_id: str, owner: str | None) -> TrainingJob:
    """``owner`` None: any job (admins); otherwise only the caller's own, others look like they do not exist."""
    try:
        jid = uuid.UUID(job_id)
    except ValueError:
        raise TrainingJobNotFoundError(details={"job_id": job_id[:64]}) from None
    job = await session.get(TrainingJob, jid)
    if job is None or (owner is not None and job.created_by != owner):
        raise TrainingJobNotFoundError(details={"job_id": job_id[:64]})
    return job


async def list_jobs(session: AsyncSession, owner: str | None, limit: int = 50) -> list[TrainingJob]:
    q = select(TrainingJob).order_by(TrainingJob.created_at.desc()).limit(limit)
    if owner is not None:
        q = q.where(TrainingJob.created_by == owner)
    return list((await session.scalars(q)).all())


async def record_event(session: AsyncSession, job_id: uuid.UUID, kind: str, data: dict[str, Any]) -> None:
    session.add(TrainingJobEvent(job_id=job_id, kind=kind, data=data))
    values: dict[str, Any] = {"heartbeat_at": datetime.now(UTC)}
    if kind == "progress":
        values["progress"] = data
    await session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(**values))
    await session.flush()


async def claim_job(session: AsyncSession, job_id: uuid.UUID, stale_after_s: float) -> TrainingJob | None:
    """Mark a queued job (or one whose worker went silent) as running; None if it is not ours to run."""
    now = datetime.now(UTC)
    stale = now - timedelta(seconds=stale_after_s)
    row = (await session.execute(
        update(TrainingJob)
        .where(TrainingJob.id == job_id,
               or_(TrainingJob.status == "queued",
                   (TrainingJob.status == "running") & (TrainingJob.heartbeat_at < stale)))
        .values(status="running", started_at=now, heartbeat_at=now, attempts=TrainingJob.attempts + 1)
        .returning(TrainingJob.id))).first()
    if row is None:
        return None
    job = await session.get(TrainingJob, job_id, populate_existing=True)
    session.add(TrainingJobEvent(job_id=job_id, kind="status", data={"status": "running", "attempt": job.attempts}))
    await session.flush()
    return job


async def finish_job(session: AsyncSession, job_id: uuid.UUID, *, result: dict | None = None,
                     error: dict | None = None) -> None:
    status = "succeeded" if error is None else "failed"
    await session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(
        status=status, result=result, error=error, finished_at=datetime.now(UTC), heartbeat_at=datetime.now(UTC)))
    data: dict[str, Any] = {"status": status}
    if result is not None:
        data["result"] = result
    if error is not None:
        data["error"] = error
    session.add(TrainingJobEvent(job_id=job_id, kind="result" if error is None else "error", data=data))
    await session.flush()


# ------------------------------------------------------------------------------------------------------ work queue
async def ensure_work_queue(js, settings: Settings) -> None:
    """The JetStream stream that holds queued jobs: work-queue retention, so a job message is gone once a worker
    acknowledged it, and each one goes to exactly one worker."""
    from nats.js.api import RetentionPolicy, StreamConfig
    from nats.js.errors import NotFoundError as JsNotFoundError

    try:
        await js.stream_info(settings.work_queue_stream)
    except JsNotFoundError:
        await js.add_stream(StreamConfig(name=settings.work_queue_stream, subjects=[settings.work_queue_subject],
                                         retention=RetentionPolicy.WORK_QUEUE, duplicate_window=3600.0,
                                         max_age=7 * 24 * 3600.0))


async def enqueue(js, settings: Settings, job_id: str) -> None:
    # Nats-Msg-Id = job id: a redelivered TrainingJobRequestedV1 cannot queue the same job twice.
    await js.publish(settings.work_queue_subject, json.dumps({"job_id": job_id}).encode(),
                     stream=settings.work_queue_stream, headers={"Nats-Msg-Id": f"job-{job_id}"})


def progress_channel(settings: Settings, job_id: str) -> str:
    return f"{settings.redis_key_prefix}xray:training:{job_id}"


# ------------------------------------------------------------------------------------------------------ SSE
def sse_frame(event_id: int | None, event: str, data: dict[str, Any]) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


async def stream_events(sessionmaker: async_sessionmaker[AsyncSession], redis, settings: Settings, job_id: uuid.UUID,
                        after_id: int, disconnected: Callable[[], Any]) -> AsyncIterator[bytes]:
    """Job events from Postgres, in order, from any replica. A Redis message from the worker wakes the loop
    early; without one it polls every ``sse_poll_s``. Ends after the job's final event."""
    pubsub = redis.pubsub()
    channel = progress_channel(settings, str(job_id))
    with contextlib.suppress(Exception):
        await pubsub.subscribe(channel)
    loop = asyncio.get_running_loop()
    last_beat = loop.time()
    try:
        yield b"retry: 2000\n\n"
        while True:
            async with sessionmaker() as session:
                status = await session.scalar(select(TrainingJob.status).where(TrainingJob.id == job_id))
                rows = (await session.scalars(select(TrainingJobEvent).where(
                    TrainingJobEvent.job_id == job_id, TrainingJobEvent.id > after_id)
                    .order_by(TrainingJobEvent.id).limit(500))).all()
            for row in rows:
                yield sse_frame(row.id, row.kind, {**row.data, "at": row.created_at.isoformat()})
                after_id = row.id
            if status is None or (status in TERMINAL and len(rows) < 500):
                yield sse_frame(None, "end", {"status": status})
                return
            if await disconnected():
                return
            if loop.time() - last_beat >= settings.sse_heartbeat_s:
                yield b": keep-alive\n\n"
                last_beat = loop.time()
            try:
                await pubsub.get_message(ignore_subscribe_messages=True, timeout=settings.sse_poll_s)
            except Exception:  # Redis down: polling Postgres alone still delivers every event
                await asyncio.sleep(settings.sse_poll_s)
    finally:
        with contextlib.suppress(Exception):
            await pubsub.unsubscribe(channel)
            await pubsub.aclose()
