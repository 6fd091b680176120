"""The model registry: a content-addressed blob store on disk, the versions in Postgres, validation of every
candidate before it is staged, promotion/rollback, and the hot-swappable set of models a replica serves.

Life of a version: upload or fine-tuning job -> validated -> ``staged`` -> promoted -> ``active`` (one per name)
-> ``retired`` when another version is promoted or it is rolled back. Promotion writes ``ModelPromotedV1`` to the
outbox; every replica reacts by re-reading the active set and swapping models without a restart.

No FastAPI here: routes live in ``api.py``, the trainer worker calls ``register_candidate`` directly.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import anyio.to_thread
import numpy as np
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zhenxi_common.errors import ConflictError, NotFoundError, ServiceError, UpstreamUnavailableError
from zhenxi_common.events import ModelPromotedV1
from zhenxi_common.outbox import add_event

from .config import Settings
from .inference import open_session, sha256_file
from .models import ModelActivation, ModelVersion

log = logging.getLogger("xray.registry")

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CHUNK = 1 << 20


# ------------------------------------------------------------------------------------------------------ errors
class ModelNotFoundError(NotFoundError):
    code = "model_not_found"
    default_message = "没有这个模型版本。 No such model version."


class ModelTooLargeError(ServiceError):
    code = "model_too_large"
    status = 413
    default_message = "模型文件过大。 The model file is too large."


class ModelInvalidError(ServiceError):
    code = "model_invalid"
    status = 422
    default_message = "这不是可加载的 ONNX 模型。 The file is not a loadable ONNX model."


class ModelSignatureMismatchError(ServiceError):
    code = "model_signature_mismatch"
    status = 422
    default_message = ("模型的输入/输出与该任务要求不符。 "
                       "The model's inputs and outputs do not match what this task needs.")


class ModelGoldenCheckError(ServiceError):
    code = "model_golden_check_failed"
    status = 422
    default_message = ("模型在标准测试图像上的输出无效。 "
                       "The model did not produce valid outputs on the golden test image.")


class ModelMetadataInvalidError(ServiceError):
    code = "model_metadata_invalid"
    status = 422
    default_message = "模型元数据无效。 The model metadata is not valid."


class UnknownTaskError(ServiceError):
    code = "unknown_task"
    status = 422
    default_message = "未知的模型任务。 Unknown model task."


class InvalidModelNameError(ServiceError):
    code = "invalid_model_name"
    status = 422
    default_message = "模型名或版本号格式不正确。 The model name or version is not valid."


class ModelDuplicateError(ConflictError):
    code = "model_duplicate"
    default_message = "同一个模型文件已经登记过。 This exact model file is already registered."


class ModelVersionExistsError(ConflictError):
    code = "model_version_exists"
    default_message = "该模型名下已有这个版本号。 This model already has a version with this number."


class NothingToRollBackError(ConflictError):
    code = "nothing_to_roll_back"
    default_message = "没有可回滚到的上一个版本。 There is no previous version to roll back to."


class ModelBlobMissingError(ConflictError):
    code = "model_blob_missing"
    default_message = ("模型文件缺失或已损坏，不能启用。 "
                       "The model file is missing or corrupt in the model store; it cannot be promoted.")


class GoldenImageMissingError(UpstreamUnavailableError):
    code = "golden_image_missing"
    default_message = "缺少标准测试图像，无法校验模型。 The golden image is missing, so models cannot be validated."


class RangeNotSatisfiableError(ServiceError):
    code = "range_not_satisfiable"
    status = 416
    default_message = "请求的字节范围无效。 The requested byte range cannot be served."


class MalformedRangeError(ServiceError):
    code = "range_invalid"
    status = 400
    default_message = "Range 请求头格式不正确。 The Range header is malformed."


# ------------------------------------------------------------------------------------------------------ tasks
@dataclass(frozen=True)
class TensorSpec:
    name: str | None     # None: any name
    rank: int
    channels: int | None = None  # expected size of dim 1 for image inputs


@dataclass(frozen=True)
class TaskSpec:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    role: str                   # the file name the analyzer expects in its models directory
    default_size: int
    probability_outputs: tuple[str, ...] = ()


TASKS: dict[str, TaskSpec] = {
    # XrayAnalyzer's chest network: findings + CAMs + lung/heart masks + gate embedding (see app/inference.py).
    "chest": TaskSpec(inputs=(TensorSpec("image", 4, 1),),
                      outputs=(TensorSpec("probs", 2), TensorSpec("cams", 4), TensorSpec("masks", 4),
                               TensorSpec("embedding", 2)),
                      role="chestnet", default_size=256, probability_outputs=("probs", "masks")),
    # YOLOv8 head: (n, 4 + classes, anchors).
    "detection": TaskSpec(inputs=(TensorSpec(None, 4, 3),), outputs=(TensorSpec(None, 3),),
                          role="detector", default_size=384),
    # Fine-tuned folder-per-class classifiers: softmax over the classes.
    "classification": TaskSpec(inputs=(TensorSpec("image", 4, 1),), outputs=(TensorSpec("probs", 2),),
                               role="classifier", default_size=224, probability_outputs=("probs",)),
}

# What belongs to a bundled model of each task besides the ONNX file and its sidecar (copied into the store).
BUNDLED_ASSETS = {"chest": ("chestnet_gate.npz", "gate.json", "golden/expected.json")}
ASSET_LIMIT = 20 * 1024 * 1024


def check_name(name: str, version: str | None = None) -> None:
    if not NAME_RE.match(name or ""):
        raise InvalidModelNameError(details={"field": "name", "pattern": NAME_RE.pattern})
    if version is not None and not VERSION_RE.match(version or ""):
        raise InvalidModelNameError(details={"field": "version", "pattern": VERSION_RE.pattern})


def task_spec(task: str) -> TaskSpec:
    try:
        return TASKS[task]
    except KeyError:
        raise UnknownTaskError(details={"task": task[:32], "known": sorted(TASKS)}) from None


# ------------------------------------------------------------------------------------------------------ store
@dataclass
class TempBlob:
    path: Path
    sha256: str
    size: int


class ModelStore:
    """Content-addressed files under ``root``: ``blobs/<sha256>`` (immutable), ``tmp/`` (writes in progress),
    ``views/<key>/`` (symlink farms in the layout XrayAnalyzer reads), ``uploads/`` (training zips)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.tmp = self.root / "tmp"
        self.views = self.root / "views"
        self.uploads = self.root / "uploads"
        for d in (self.blobs, self.tmp, self.views, self.uploads):
            d.mkdir(parents=True, exist_ok=True)

    def blob_path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError("not a sha256")
        return self.blobs / sha256

    def has(self, sha256: str) -> bool:
        return self.blob_path(sha256).is_file()

    def new_temp(self, suffix: str = ".part") -> Path:
        return self.tmp / f"{uuid.uuid4().hex}{suffix}"

    def write_stream(self, src: IO[bytes], max_bytes: int, too_large: Callable[[int], ServiceError]) -> TempBlob:
        """Copy ``src`` to a temp file (hashing as it goes), fsync it; refuses past ``max_bytes``."""
        path = self.new_temp()
        h = hashlib.sha256()
        size = 0
        try:
            with open(path, "wb") as out:
                while chunk := src.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise too_large(size)
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return TempBlob(path, h.hexdigest(), size)

    def write_bytes(self, data: bytes) -> TempBlob:
        import io

        return self.write_stream(io.BytesIO(data), len(data), lambda n: ModelTooLargeError())

    def commit(self, blob: TempBlob) -> bool:
        """Atomically move a verified temp file to ``blobs/<sha256>``. False if the blob was already there."""
        target = self.blob_path(blob.sha256)
        if target.exists():
            blob.path.unlink(missing_ok=True)
            return False
        os.replace(blob.path, target)
        _fsync_dir(self.blobs)
        return True

    def put_file(self, path: Path) -> str:
        with open(path, "rb") as f:
            blob = self.write_stream(f, 1 << 40, lambda n: ModelTooLargeError())
        self.commit(blob)
        return blob.sha256

    def verify(self, sha256: str, size: int | None = None) -> bool:
        p = self.blob_path(sha256)
        if not p.is_file() or (size is not None and p.stat().st_size != size):
            return False
        return sha256_file(p) == sha256

    def remove(self, sha256: str) -> None:
        self.blob_path(sha256).unlink(missing_ok=True)

    def sweep_temp(self, older_than_s: float = 3600.0) -> None:
        cutoff = time.time() - older_than_s
        for p in self.tmp.iterdir():
            with contextlib.suppress(OSError):
                if p.stat().st_mtime < cutoff:
                    if p.is_dir():
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        p.unlink()

    def view(self, files: dict[str, str | bytes | Path]) -> Path:
        """A directory holding ``files`` (relative path -> blob sha256, literal bytes, or a file to link to).
        Its name is derived from the contents, so equal views are shared; built in tmp/ and renamed into place."""
        key_src = json.dumps({k: (v.hex() if isinstance(v, bytes) else str(v)) for k, v in sorted(files.items())},
                             sort_keys=True).encode()
        key = hashlib.sha256(key_src).hexdigest()[:24]
        final = self.views / key
        if final.is_dir():
            return final
        work = self.tmp / f"view-{uuid.uuid4().hex}"
        for rel, src in files.items():
            dest = work / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(src, bytes):
                dest.write_bytes(src)
            elif isinstance(src, Path):
                os.symlink(src.resolve(), dest)
            else:
                os.symlink(self.blob_path(src).resolve(), dest)
        try:
            os.rename(work, final)
        except OSError:  # another replica or task built the same view first
            shutil.rmtree(work, ignore_errors=True)
        return final


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)




# ------------------------------------------------------------------------------------------------------ validation
_VALIDATION_LOCK = threading.Lock()  # one candidate at a time: the machine's cores belong to serving first


def _validation_session(path: Path):
    """Candidates are validated on the CPU with one thread: the machine's accelerators and cores serve first."""
    return open_session(path, 1, None, provider_list=["CPUExecutionProvider"])


def _dims(shape: Any) -> list[int | None]:
    return [d if isinstance(d, int) and d > 0 else None for d in (shape or [])]


def signature_of(session) -> dict[str, list[dict]]:
    def one(arg) -> dict:
        return {"name": arg.name, "type": arg.type, "shape": _dims(arg.shape)}

    return {"inputs": [one(a) for a in session.get_inputs()], "outputs": [one(a) for a in session.get_outputs()]}


def load_onnx_checked(path: Path):
    """Parse the file with ``onnx`` first: clear errors for corrupt files, and no external-data tensors (they
    would make the runtime read other files from disk)."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, OSError, RuntimeError) as e:
        raise ModelInvalidError(details={"reason": "not_an_onnx_protobuf", "error": type(e).__name__}) from None
    if not model.graph.node or not model.graph.input or not model.graph.output:
        raise ModelInvalidError("ONNX 图为空。 The ONNX graph is empty.", details={"reason": "empty_graph"})
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        tensors += [a.t for a in node.attribute if a.HasField("t")]
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in tensors):
        raise ModelInvalidError("不接受引用外部数据文件的模型。 Models with external data files are not accepted.",
                                details={"reason": "external_data"})
    return model


def check_signature(task: str, sig: dict, reference: dict | None) -> None:
    """The candidate must fit the task, and match the active version of its name exactly (names, types, ranks,
    fixed sizes, and which dimensions are dynamic)."""
    spec = task_spec(task)
    problems: list[str] = []
    for kind, want in (("inputs", spec.inputs), ("outputs", spec.outputs)):
        got = sig[kind]
        if len(got) != len(want):
            problems.append(f"{kind}: expected {len(want)}, got {len(got)}")
            continue
        for g, w in zip(got, want):
            if w.name is not None and g["name"] != w.name:
                problems.append(f"{kind}: expected '{w.name}', got '{g['name']}'")
            if g["type"] != "tensor(float)":
                problems.append(f"{kind} '{g['name']}': type {g['type']}, expected tensor(float)")
            if len(g["shape"]) != w.rank:
                problems.append(f"{kind} '{g['name']}': rank {len(g['shape'])}, expected {w.rank}")
            elif w.channels is not None and g["shape"][1] not in (w.channels,):
                problems.append(f"{kind} '{g['name']}': {g['shape'][1]} channels, expected {w.channels}")
    if not problems and reference is not None:
        for kind in ("inputs", "outputs"):
            for g, r in zip(sig[kind], reference[kind]):
                if (g["name"], g["type"], g["shape"]) != (r["name"], r["type"], r["shape"]):
                    problems.append(f"{kind}: {g['name']} {g['shape']} differs from the active version's "
                                    f"{r['name']} {r['shape']}")
    if problems:
        raise ModelSignatureMismatchError(details={"problems": problems[:20], "task": task})


def _input_size(task: str, sig: dict, hint: int | None = None) -> int:
    """The fixed input side; for a model with dynamic spatial dims, the size its metadata names (else the
    task's default)."""
    shape = sig["inputs"][0]["shape"]
    h, w = shape[2], shape[3]
    if h is not None and w is not None and h != w:
        raise ModelSignatureMismatchError(details={"problems": [f"non-square input {h}x{w}"]})
    return int(h or w or hint or task_spec(task).default_size)


def size_hint(task: str, sidecar: dict) -> int | None:
    v = sidecar.get("imgsz") if task == "detection" else (sidecar.get("input") or {}).get("size")
    return int(v) if isinstance(v, int) and 32 <= v <= 2048 else None


def golden_batch(task: str, sig: dict, golden: Path, hint: int | None = None) -> np.ndarray:
    """The golden image through the serving preprocessing of ``task``; batch of 2 (image + mirror) when the
    batch dimension is dynamic, so the batcher's multi-image batches are known to work."""
    from app.imaging import letterbox, load_image, prepare_gray, to_network_input

    img = load_image(golden.read_bytes(), golden.name, None)
    work = prepare_gray(img.gray)
    size = _input_size(task, sig, hint)
    batch_dim = sig["inputs"][0]["shape"][0]
    works = [work, np.ascontiguousarray(work[:, ::-1])][: (batch_dim or 2)]
    if batch_dim and batch_dim > 2:
        works = works * batch_dim
        works = works[:batch_dim]
    if task == "detection":
        x = [np.repeat(letterbox(w, size)[0][None].astype(np.float32) / 255.0, 3, axis=0) for w in works]
    else:
        x = [to_network_input(w, size) for w in works]
    return np.stack(x).astype(np.float32)


def golden_check(task: str, session, sig: dict, golden: Path, labels: list[str] | None,
                 reference_shapes: list | None, hint: int | None = None) -> list[list[int | None]]:
    """Run the golden image; every output must be finite and of the right shape. Returns the output shapes with
    the batch dimension as None (stored, so the next candidate of this name must produce the same)."""
    x = golden_batch(task, sig, golden, hint)
    try:
        outs = session.run(None, {sig["inputs"][0]["name"]: x})
    except Exception as e:  # onnxruntime raises its own exception types for any graph failure on real input
        raise ModelGoldenCheckError(details={"reason": "inference_failed", "error": str(e)[:300]}) from None
    problems: list[str] = []
    shapes: list[list[int | None]] = []
    spec = task_spec(task)
    for out, meta in zip(outs, sig["outputs"]):
        a = np.asarray(out)
        name = meta["name"]
        if a.ndim != len(meta["shape"]):
            problems.append(f"{name}: rank {a.ndim}, declared {len(meta['shape'])}")
            continue
        if a.shape[0] != x.shape[0]:
            problems.append(f"{name}: batch {a.shape[0]} for {x.shape[0]} images")
        for i, (d, declared) in enumerate(zip(a.shape, meta["shape"])):
            if declared is not None and d != declared:
                problems.append(f"{name}: dim {i} is {d}, declared {declared}")
        if not np.issubdtype(a.dtype, np.floating) or not np.isfinite(a).all():
            problems.append(f"{name}: non-finite values")
        elif name in spec.probability_outputs and (a.min() < -1e-4 or a.max() > 1 + 1e-4):
            problems.append(f"{name}: values outside 0..1")
        shapes.append([None, *[int(d) for d in a.shape[1:]]])
    if not problems and labels is not None and task in ("chest", "classification"):
        n = shapes[0][1]
        if n != len(labels):
            problems.append(f"probs has {n} classes but metadata names {len(labels)} labels")
    if not problems and task == "classification":
        sums = np.asarray(outs[0]).sum(1)
        if not np.allclose(sums, 1.0, atol=1e-3):
            problems.append("probs do not sum to 1 (expected a softmax output)")
    if not problems and reference_shapes is not None and shapes != reference_shapes:
        problems.append(f"output shapes {shapes} differ from the active version's {reference_shapes}")
    if problems:
        raise ModelGoldenCheckError(details={"problems": problems[:20]})
    return shapes


@dataclass
class Candidate:
    """What validation learnt about a candidate file."""
    signature: dict
    golden_output_shapes: list
    input_size: int


def validate_candidate(path: Path, task: str, golden: Path | None, labels: list[str] | None,
                       reference: ModelVersion | None, hint: int | None = None) -> Candidate:
    """Everything a file must pass before it is staged (sync; run it in a worker thread)."""
    if golden is None or not golden.is_file():
        raise GoldenImageMissingError()
    task_spec(task)
    with _VALIDATION_LOCK:
        load_onnx_checked(path)
        try:
            session = _validation_session(path)
        except Exception as e:  # any onnxruntime load failure means the model is not servable
            raise ModelInvalidError(details={"reason": "onnxruntime_rejected", "error": str(e)[:300]}) from None
        sig = signature_of(session)
        ref_meta = reference.meta if reference is not None else {}
        check_signature(task, sig, ref_meta.get("signature"))
        shapes = golden_check(task, session, sig, golden, labels, ref_meta.get("golden_output_shapes"), hint)
        return Candidate(sig, shapes, _input_size(task, sig, hint))


def _validate_sidecar(task: str, meta: dict) -> dict:
    """User-supplied metadata: only the keys the serving code reads, with sane types."""
    if not isinstance(meta, dict):
        raise ModelMetadataInvalidError(details={"reason": "metadata must be a JSON object"})
    allowed = {"chest": {"labels", "thresholds", "organs", "threshold_rule"},
               "detection": {"classes", "score_threshold", "iou_threshold"},
               "classification": {"labels", "thresholds", "description"}}[task]
    unknown = sorted(set(meta) - allowed)
    if unknown:
        raise ModelMetadataInvalidError(details={"unknown_keys": unknown[:20], "allowed": sorted(allowed)})
    for key in ("labels", "classes", "organs"):
        if key in meta:
            v = meta[key]
            if (not isinstance(v, list) or not v or len(v) > 1000
                    or not all(isinstance(s, str) and 0 < len(s) <= 64 for s in v) or len(set(v)) != len(v)):
                raise ModelMetadataInvalidError(details={"field": key, "reason": "a list of distinct short strings"})
    if "thresholds" in meta:
        t = meta["thresholds"]
        if not isinstance(t, dict) or not all(isinstance(k, str) and isinstance(x, (int, float))
                                              and 0.0 <= float(x) <= 1.0 for k, x in t.items()):
            raise ModelMetadataInvalidError(details={"field": "thresholds", "reason": "label -> number in [0, 1]"})
    for key in ("score_threshold", "iou_threshold"):
        if key in meta and not (isinstance(meta[key], (int, float)) and 0.0 < float(meta[key]) < 1.0):
            raise ModelMetadataInvalidError(details={"field": key, "reason": "a number in (0, 1)"})
    return meta


def _validate_asset(rel: str, data: bytes, candidate: Candidate) -> None:
    if rel.endswith(".json"):
        try:
            if not isinstance(json.loads(data), dict):
                raise ValueError
        except ValueError:
            raise ModelMetadataInvalidError(details={"asset": rel, "reason": "not a JSON object"}) from None
    elif rel.endswith(".npz"):
        import io

        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                mean, comps, var = z["mean"], z["components"], z["variances"]
        except (ValueError, KeyError, OSError, EOFError):
            raise ModelMetadataInvalidError(details={"asset": rel, "reason": "needs mean/components/variances"}) \
                from None
        emb = candidate.golden_output_shapes[3][1] if len(candidate.golden_output_shapes) > 3 else None
        if mean.shape != (emb,) or comps.ndim != 2 or comps.shape[1] != emb or var.shape != (comps.shape[0],):
            raise ModelMetadataInvalidError(details={"asset": rel, "reason": f"shapes do not fit embedding {emb}"})


# ------------------------------------------------------------------------------------------------------ registry (DB)
async def list_versions(session: AsyncSession, name: str | None = None, status: str | None = None
                        ) -> list[ModelVersion]:
    q = select(ModelVersion).order_by(ModelVersion.name, ModelVersion.created_at, ModelVersion.version)
    if name:
        q = q.where(ModelVersion.name == name)
    if status:
        q = q.where(ModelVersion.status == status)
    return list((await session.scalars(q)).all())


async def get_version(session: AsyncSession, name: str, version: str) -> ModelVersion:
    row = await session.scalar(select(ModelVersion).where(ModelVersion.name == name,
                                                          ModelVersion.version == version))
    if row is None:
        raise ModelNotFoundError(details={"name": name[:64], "version": version[:64]})
    return row


async def get_active(session: AsyncSession, name: str) -> ModelVersion | None:
    return await session.scalar(select(ModelVersion).where(ModelVersion.name == name,
                                                           ModelVersion.status == "active"))


async def active_set(session: AsyncSession) -> list[ModelVersion]:
    return list((await session.scalars(select(ModelVersion).where(ModelVersion.status == "active")
                                       .order_by(ModelVersion.name))).all())


async def _lock_name(session: AsyncSession, name: str) -> None:
    """Serialise registry writes per model name across replicas (released at commit/rollback)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"xray.model:{name}"})


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
        await _lock_name(session, name)
        # Also per checksum: the same file under two names at once must not race for (and delete) one blob.
        await _lock_name(session, f"sha256:{blob.sha256}")
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
        user_meta = _validate_sidecar(task, metadata or {})
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
            _validate_asset(rel, data, cand)
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
    await _lock_name(session, name)
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
    await _lock_name(session, name)
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
        await _lock_name(session, b.name)
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


# ------------------------------------------------------------------------------------------------------ serving
class Classifier:
    """An active fine-tuned classifier, run on the same working image the analyzer prepared."""

    def __init__(self, path: Path, meta: dict, threads: int):
        self.session = open_session(path, threads, None)
        self.labels: list[str] = list(meta["sidecar"]["labels"])
        self.size = int(meta["sidecar"].get("input", {}).get("size", 224))
        self.input_name = self.session.get_inputs()[0].name

    def run(self, work: np.ndarray) -> dict[str, float]:
        from app.imaging import to_network_input

        (probs,) = self.session.run(None, {self.input_name: to_network_input(work, self.size)[None]})
        return {label: round(float(p), 4) for label, p in zip(self.labels, probs[0])}


@dataclass
class Generation:
    """One consistent set of served models. Requests hold a lease on the generation they started with, so a
    swap never pulls a model out from under a running request."""
    analyzer: Any = None
    classifiers: dict[str, tuple[ModelVersion, Classifier]] = field(default_factory=dict)
    loaded: dict[str, dict] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    users: int = 0
    retired: bool = False


class ModelRuntime:
    def __init__(self, settings: Settings, store: ModelStore, sessionmaker: async_sessionmaker[AsyncSession]):
        self.settings = settings
        self.store = store
        self.sessionmaker = sessionmaker
        self.current = Generation()
        self._live: list[Generation] = [self.current]
        self._lock = asyncio.Lock()
        self.swaps = 0
        self.reconciles = 0

    def describe(self) -> dict:
        g = self.current
        return {"replica_id": self.settings.replica_id, "swaps": self.swaps, "reconciles": self.reconciles,
                "analyzer_ready": g.analyzer is not None, "models": g.loaded, "errors": g.errors}

    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[Generation]:
        gen = self.current
        gen.users += 1
        try:
            yield gen
        finally:
            gen.users -= 1
            if gen.retired and gen.users == 0:
                await self._release(gen)

    async def _release(self, gen: Generation) -> None:
        if gen in self._live:
            self._live.remove(gen)
        if gen.analyzer is not None and all(g.analyzer is not gen.analyzer for g in self._live):
            await gen.analyzer.aclose()

    async def reconcile(self) -> bool:
        """Load what the registry says is active; returns True if anything was swapped."""
        async with self._lock:
            self.reconciles += 1
            async with self.sessionmaker() as session:
                rows = await active_set(session)
            s = self.settings
            # Only what this replica serves: the analyzer's two models and the fine-tuned classifiers.
            rows = [r for r in rows if r.name in (s.chest_model_name, s.detector_model_name)
                    or r.task == "classification"]
            wanted = {r.name: r for r in rows}
            old = self.current
            if {n: r.sha256 for n, r in wanted.items()} == {n: m["sha256"] for n, m in old.loaded.items()}:
                return False
            new = Generation()
            chest, det = wanted.get(s.chest_model_name), wanted.get(s.detector_model_name)
            role_names = (s.chest_model_name, s.detector_model_name)
            if ({n: wanted[n].sha256 for n in role_names if n in wanted}
                    == {n: old.loaded[n]["sha256"] for n in role_names if n in old.loaded}):
                new.analyzer = old.analyzer
                for n in role_names:
                    if n in old.loaded:
                        new.loaded[n] = old.loaded[n]
                for n in (s.chest_model_name, s.detector_model_name):
                    if n in old.errors:
                        new.errors[n] = old.errors[n]
            elif chest is not None and det is not None:
                try:
                    new.analyzer = await anyio.to_thread.run_sync(self._build_analyzer, chest, det)
                    for r in (chest, det):
                        new.loaded[r.name] = _loaded(r)
                except (ServiceError, OSError, RuntimeError, ValueError, KeyError) as e:
                    log.error("could not load the active chest/detector models; keeping the previous ones",
                              extra={"error": type(e).__name__, "detail": str(e)[:200]})
                    new.analyzer = old.analyzer
                    for n in (s.chest_model_name, s.detector_model_name):
                        if n in old.loaded:
                            new.loaded[n] = old.loaded[n]
                    new.errors[s.chest_model_name] = f"load_failed: {type(e).__name__}"
            else:
                new.errors[s.chest_model_name] = "chest and detector models are not both active"
            for r in rows:
                if r.task != "classification":
                    continue
                prev = old.classifiers.get(r.name)
                if prev is not None and prev[0].sha256 == r.sha256:
                    new.classifiers[r.name] = prev
                    new.loaded[r.name] = old.loaded[r.name]
                    continue
                try:
                    clf = await anyio.to_thread.run_sync(self._build_classifier, r)
                except (ServiceError, OSError, RuntimeError, ValueError, KeyError) as e:
                    log.error("could not load a classifier", extra={"model": r.name, "error": type(e).__name__})
                    new.errors[r.name] = f"load_failed: {type(e).__name__}"
                    if prev is not None:
                        new.classifiers[r.name] = prev
                        new.loaded[r.name] = old.loaded[r.name]
                    continue
                new.classifiers[r.name] = (r, clf)
                new.loaded[r.name] = _loaded(r)
            self.current = new
            self._live.append(new)
            old.retired = True
            if old.users == 0:
                await self._release(old)
            self.swaps += 1
            log.info("served models updated", extra={"models": {n: m["version"] for n, m in new.loaded.items()}})
            return True

    def _build_analyzer(self, chest: ModelVersion, det: ModelVersion):
        from app.service import AnalyzerConfig, XrayAnalyzer
        from app.imaging import Limits

        for r in (chest, det):
            if not self.store.verify(r.sha256, r.size_bytes):
                raise ModelBlobMissingError(details={"name": r.name, "version": r.version})
        files: dict[str, str | bytes | Path] = {}
        for r, role in ((chest, "chestnet"), (det, "detector")):
            files[f"{role}.onnx"] = r.sha256
            files[f"{role}.json"] = json.dumps(r.meta["sidecar"], indent=1).encode()
            for rel, sha in (r.meta.get("assets") or {}).items():
                files[rel] = sha
        golden = self.settings.resolved_golden_image()
        if golden is not None and golden.is_file():
            files[f"golden/{golden.name}"] = golden
        view = self.store.view(files)
        s = self.settings
        return XrayAnalyzer(AnalyzerConfig(models_dir=view, threads=s.threads, instances=s.instances,
                                           max_batch=s.max_batch,
                                           max_wait_ms=s.max_wait_ms, limits=Limits(max_bytes=s.max_image_bytes)))

    def _build_classifier(self, row: ModelVersion) -> Classifier:
        if not self.store.verify(row.sha256, row.size_bytes):
            raise ModelBlobMissingError(details={"name": row.name, "version": row.version})
        return Classifier(self.store.blob_path(row.sha256), row.meta, max(1, self.settings.threads))

    async def aclose(self) -> None:
        for gen in list(self._live):
            gen.retired = True
            if gen.analyzer is not None:
                with contextlib.suppress(Exception):
                    await gen.analyzer.aclose()
        self._live.clear()


def _loaded(r: ModelVersion) -> dict:
    return {"version": r.version, "sha256": r.sha256, "task": r.task}
