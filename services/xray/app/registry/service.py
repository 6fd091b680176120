"""The registry's use cases: register (validate + stage) a candidate, promote, roll back, and seed the bundled
models. Promotion writes ``ModelPromotedV1`` to the outbox in the same transaction; every replica reacts by
re-reading the active set (``app/runtime.py``).

No FastAPI here: routes live in ``api.py``; the trainer worker calls ``register_candidate`` directly.
"""
from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
import numpy as np
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zhenxi_common.errors import ServiceError
from zhenxi_common.outbox import add_event

from ..config import Settings
from ..events import ModelPromotedV1
from ..inference import sha256_file
from ..models import ModelActivation, ModelVersion
from .errors import (ModelBlobMissingError, ModelDuplicateError, ModelInvalidError, ModelMetadataInvalidError,
                     ModelSignatureMismatchError, ModelTooLargeError, ModelVersionExistsError,
                     NothingToRollBackError)
from .repository import get_active, get_version, lock_name
from .storage import ModelStore, TempBlob
from .validation import (BUNDLED_ASSETS, TASKS, check_name, size_hint, task_spec, validate_asset,
                         validate_candidate, validate_sidecar)

log = logging.getLogger("xray.registry")


def _cleanup_on_rollback(session: AsyncSession, store: ModelStore, shas: list[str]) -> None:
    """If the request's transaction does not commit, the blobs written for it are removed again."""
    state = {"done": False}

    def _committed(_s) -> None:
        state["done"] = True

    def _rolled_back(_s) -> None:
        if not state["done"]:
            state["done"] = True
            for sha in shas:
                with contextlib.suppress(OSError, ValueError):
                    store.remove(sha)

    event.listen(session.sync_session, "after_commit", _committed, once=True)
    event.listen(session.sync_session, "after_rollback", _rolled_back, once=True)


async def register_candidate(session: AsyncSession, store: ModelStore, settings: Settings, *, name: str, task: str,
                             version: str, blob: TempBlob, source: str, actor: str | None,
                             metadata: dict | None = None, metrics: dict | None = None,
                             assets: dict[str, bytes] | None = None,
                             size_hints: dict | None = None) -> ModelVersion:
    """Validate ``blob`` (a fsynced temp file) and stage it as ``name``/``version``. On any failure the temp file
    is removed and nothing is registered; the blob moves into the store only after validation passed."""
    try:
        check_name(name, version)
        task_spec(task)
        if blob.size == 0:
            raise ModelInvalidError(details={"reason": "empty_file"})
        await lock_name(session, name)
        # Also per checksum: the same file under two names at once must not race for (and delete) one blob.
        await lock_name(session, f"sha256:{blob.sha256}")
        dup = await session.scalar(select(ModelVersion).where(ModelVersion.sha256 == blob.sha256))
        if dup is not None:
            raise ModelDuplicateError(details={"name": dup.name, "version": dup.version, "sha256": blob.sha256})
        if await session.scalar(select(ModelVersion.id).where(ModelVersion.name == name,
                                                              ModelVersion.version == version)) is not None:
            raise ModelVersionExistsError(details={"name": name, "version": version})
        reference = await get_active(session, name)
        if reference is None:  # a name with versions but none active: compare with its newest
            reference = await session.scalar(select(ModelVersion).where(ModelVersion.name == name)
                                             .order_by(ModelVersion.created_at.desc()).limit(1))
        if reference is not None and reference.task != task:
            raise ModelSignatureMismatchError(
                f"模型 {name} 的任务是 {reference.task}。 Model {name} has task {reference.task!r}, not {task!r}.",
                details={"expected_task": reference.task, "task": task})
        inherited = dict((reference.meta or {}).get("sidecar", {})) if reference is not None else {}
        user_meta = validate_sidecar(task, metadata or {})
        sidecar = {k: v for k, v in inherited.items() if k not in ("sha256", "version", "model", "onnx")}
        sidecar.update(user_meta)
        labels = sidecar.get("labels") if task in ("chest", "classification") else None
        if task == "classification" and not labels:
            raise ModelMetadataInvalidError(details={"field": "labels", "reason": "a classifier needs its labels"})
        golden = settings.resolved_golden_image()
        hint = size_hint(task, {**sidecar, **(size_hints or {})})
        cand = await anyio.to_thread.run_sync(validate_candidate, blob.path, task, golden, labels, reference, hint)

        spec = TASKS[task]
        sidecar.update({"model": name, "version": version, "sha256": blob.sha256, "onnx": f"{spec.role}.onnx"})
        if task == "chest":
            sidecar["input"] = {**sidecar.get("input", {}), "size": cand.input_size}
            sidecar.setdefault("outputs", [o["name"] for o in cand.signature["outputs"]])
        elif task == "detection":
            sidecar["imgsz"] = cand.input_size
        else:
            sidecar["input"] = {"size": cand.input_size}
        asset_shas = dict((reference.meta or {}).get("assets", {})) if reference is not None else {}
        written: list[str] = []
        for rel, data in (assets or {}).items():
            validate_asset(rel, data, cand)
            # Assets are content-addressed and may be shared between versions: never removed on rollback.
            tmp = await anyio.to_thread.run_sync(store.write_bytes, data)
            await anyio.to_thread.run_sync(store.commit, tmp)
            asset_shas[rel] = tmp.sha256
        if "golden/expected.json" in asset_shas and "golden/expected.json" not in (assets or {}):
            # The recorded self-test outputs belong to the version they were recorded with.
            asset_shas.pop("golden/expected.json")
        if await anyio.to_thread.run_sync(store.commit, blob):
            written.append(blob.sha256)
    except BaseException:
        blob.path.unlink(missing_ok=True)
        raise
    _cleanup_on_rollback(session, store, written)
    row = ModelVersion(name=name, task=task, version=version, sha256=blob.sha256, size_bytes=blob.size,
                       status="staged", source=source, created_by=actor, metrics=_jsonable(metrics or {}),
                       meta={"sidecar": sidecar, "assets": asset_shas, "signature": cand.signature,
                             "golden_output_shapes": cand.golden_output_shapes})
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        # A concurrent request won the race for the same sha or name+version.
        raise ModelDuplicateError(details={"name": name, "version": version, "sha256": blob.sha256}) from None
    return row


def _jsonable(obj: Any) -> Any:
    """Metrics as plain JSON (NaN/inf become null: Postgres JSONB and JSON clients refuse them)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, (np.floating, np.integer)):
        return _jsonable(obj.item())
    return obj


async def _ensure_blob(store: ModelStore, row: ModelVersion) -> None:
    ok = await anyio.to_thread.run_sync(store.verify, row.sha256, row.size_bytes)
    if not ok:
        raise ModelBlobMissingError(details={"name": row.name, "version": row.version, "sha256": row.sha256})


async def promote(session: AsyncSession, store: ModelStore, name: str, version: str, actor: str | None
                  ) -> tuple[ModelVersion, ModelVersion | None, bool]:
    """Make ``version`` the active one. Returns (active, previous, changed); promoting the active version again is
    a no-op (no event), so a replayed request is harmless."""
    check_name(name, version)
    await lock_name(session, name)
    target = await get_version(session, name, version)
    if target.status == "active":
        return target, None, False
    await _ensure_blob(store, target)
    previous = await get_active(session, name)
    now = datetime.now(UTC)
    if previous is not None:
        previous.status = "retired"
        await session.flush()  # the partial unique index allows one active row per name at any moment
    target.status = "active"
    target.promoted_at = now
    session.add(ModelActivation(name=name, version=version, sha256=target.sha256, reason="promote", actor=actor))
    await session.flush()
    await add_event(session, ModelPromotedV1(model_name=name, version=version, sha256=target.sha256))
    return target, previous, True


async def rollback(session: AsyncSession, store: ModelStore, name: str, actor: str | None
                   ) -> tuple[ModelVersion, ModelVersion]:
    """Undo the latest promotion of ``name``: the version active before it becomes active again."""
    check_name(name)
    await lock_name(session, name)
    current = await get_active(session, name)
    if current is None:
        raise NothingToRollBackError(details={"name": name, "reason": "no_active_version"})
    stack = list((await session.scalars(
        select(ModelActivation).where(ModelActivation.name == name, ModelActivation.rolled_back_at.is_(None))
        .order_by(ModelActivation.id.desc()))).all())
    popped, target = [], None
    for entry in stack:
        if entry.version == current.version and target is None:
            popped.append(entry)
            continue
        target = await session.scalar(select(ModelVersion).where(ModelVersion.name == name,
                                                                 ModelVersion.version == entry.version))
        if target is not None:
            break
        popped.append(entry)  # its version no longer exists; skip it
    if target is None:
        raise NothingToRollBackError(details={"name": name, "active_version": current.version})
    await _ensure_blob(store, target)
    now = datetime.now(UTC)
    for entry in popped:
        entry.rolled_back_at = now
    current.status = "retired"
    await session.flush()
    target.status = "active"
    target.promoted_at = now
    await session.flush()
    await add_event(session, ModelPromotedV1(model_name=name, version=target.version, sha256=target.sha256))
    return target, current


# ------------------------------------------------------------------------------------------------------ seeding
@dataclass
class BundledModel:
    name: str
    task: str
    onnx: Path
    sidecar: dict
    metrics: dict
    assets: dict[str, Path]


def find_bundled(models_dir: Path, tasks: dict[str, str]) -> list[BundledModel]:
    out = []
    for onnx_path in sorted(Path(models_dir).glob("*.onnx")):
        name = onnx_path.stem
        task = tasks.get(name)
        if task is None:
            continue
        side = onnx_path.with_suffix(".json")
        sidecar = json.loads(side.read_text()) if side.exists() else {}
        mpath = onnx_path.with_name(f"{name}_metrics.json")
        metrics = json.loads(mpath.read_text()) if mpath.exists() else {}
        metrics.pop("history", None)
        assets = {rel: models_dir / rel for rel in BUNDLED_ASSETS.get(task, ()) if (models_dir / rel).is_file()}
        out.append(BundledModel(name, task, onnx_path, sidecar, metrics, assets))
    return out


async def seed_bundled(sessionmaker: async_sessionmaker[AsyncSession], store: ModelStore, settings: Settings) -> None:
    """Register the committed models: a name with no versions gets its bundled file as the active version; a
    bundled file with a new checksum (a retrained commit) is staged for an admin to promote. Idempotent, and
    safe when several replicas start at once (advisory lock per name)."""
    for b in find_bundled(settings.bundled_models_dir, settings.bundled_tasks):
        try:
            await _seed_one(sessionmaker, store, settings, b)
        except ServiceError as e:
            log.error("bundled model not registered", extra={"model": b.name, "code": e.code, "details": e.details})
        except (OSError, ValueError) as e:
            log.error("bundled model not registered", extra={"model": b.name, "error": type(e).__name__})


async def _seed_one(sessionmaker, store: ModelStore, settings: Settings, b: BundledModel) -> None:
    sha = await anyio.to_thread.run_sync(sha256_file, b.onnx)
    declared = b.sidecar.get("sha256")
    if declared and declared != sha:
        log.error("bundled model checksum does not match its sidecar; not registered", extra={"model": b.name})
        return
    async with sessionmaker() as session, session.begin():
        if await session.scalar(select(ModelVersion.id).where(ModelVersion.sha256 == sha)) is not None:
            return
    version = str(b.sidecar.get("version") or "1")
    async with sessionmaker() as session, session.begin():
        await lock_name(session, b.name)
        if await session.scalar(select(ModelVersion.id).where(ModelVersion.sha256 == sha)) is not None:
            return
        existing = await session.scalar(select(func.count()).select_from(ModelVersion)
                                        .where(ModelVersion.name == b.name))
        if existing and await session.scalar(select(ModelVersion.id).where(
                ModelVersion.name == b.name, ModelVersion.version == version)) is not None:
            version = f"{version}-{sha[:8]}"
        with open(b.onnx, "rb") as f:
            blob = await anyio.to_thread.run_sync(
                lambda: store.write_stream(f, settings.max_model_bytes, lambda n: ModelTooLargeError()))
        assets = {rel: p.read_bytes() for rel, p in b.assets.items()}
        meta = {k: v for k, v in b.sidecar.items() if k in {"chest": {"labels", "thresholds", "organs",
                                                                      "threshold_rule"},
                                                            "detection": {"classes", "score_threshold",
                                                                          "iou_threshold"}}[b.task]}
        # The bundled sidecar is the reference for everything later uploaded under this name.
        row = await register_candidate(session, store, settings, name=b.name, task=b.task, version=version,
                                       blob=blob, source="bundled", actor=None, metadata=meta, metrics=b.metrics,
                                       assets=assets, size_hints={k: b.sidecar[k] for k in ("imgsz", "input")
                                                                  if k in b.sidecar})
        row.meta = {**row.meta, "sidecar": {**b.sidecar, **row.meta["sidecar"]}}
        if not existing:
            row.status = "active"
            row.promoted_at = datetime.now(UTC)
            session.add(ModelActivation(name=b.name, version=version, sha256=sha, reason="seed", actor=None))
        await session.flush()
        log.info("bundled model registered", extra={"model": b.name, "version": version, "status": row.status})
