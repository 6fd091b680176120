"""Everything a candidate model must pass before it is staged: name and task, the ONNX file itself, its
signature against the task and the active version, a run on the golden image, and its metadata and assets.
Pure functions over files and dicts (sync: run them in a worker thread)."""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..inference import open_session
from ..models import ModelVersion
from .errors import (GoldenImageMissingError, InvalidModelNameError, ModelGoldenCheckError, ModelInvalidError,
                     ModelMetadataInvalidError, ModelSignatureMismatchError, UnknownTaskError)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


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


def validate_sidecar(task: str, meta: dict) -> dict:
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


def validate_asset(rel: str, data: bytes, candidate: Candidate) -> None:
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
