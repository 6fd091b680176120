from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SVC = Path(__file__).resolve().parent.parent
GOLDEN = SVC / "models" / "golden" / "00017611_000.png"
DATASETS = Path("/work/shared/datasets")
if not DATASETS.exists():
    DATASETS = SVC.parent.parent.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def analyzer():
    from app.analyzer import AnalyzerConfig, XrayAnalyzer
    return XrayAnalyzer(AnalyzerConfig(threads=2))


@pytest.fixture(scope="session")
def golden_bytes() -> bytes:
    return GOLDEN.read_bytes()


@pytest.fixture(scope="session")
def golden_gray() -> np.ndarray:
    return np.asarray(Image.open(GOLDEN).convert("L"))


def encode(arr: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def datasets() -> Path:
    if not (DATASETS / "cxr_jsrt_scr" / "labels.csv").exists():
        pytest.skip(f"shared datasets not found at {DATASETS}")
    return DATASETS


# ---------------------------------------------------------------------------------------------------------------
# API, registry and training-job fixtures (real Postgres, Redis and NATS through zhenxi_common.testing's zx_env).

@pytest.fixture(scope="session")
def xray_env(zx_env, tmp_path_factory):
    """zx_env plus this service's own settings: a private model store, small dataset minimums, and a reconcile
    interval long enough that model hot-swaps in tests can only come from the NATS event."""
    import os

    env = {"XRAY_MODEL_STORE": str(tmp_path_factory.mktemp("model-store")),
           "XRAY_MIN_IMAGES_PER_CLASS": "5", "XRAY_RECONCILE_INTERVAL_S": "600", "XRAY_THREADS": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield {**zx_env, **env}
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    _delete_work_queue(zx_env)


def _delete_work_queue(env) -> None:
    import asyncio
    import contextlib

    async def go() -> None:
        import nats

        from app.config import Settings

        with contextlib.suppress(Exception):
            nc = await nats.connect(env["NATS_URL"], connect_timeout=2)
            with contextlib.suppress(Exception):
                await nc.jetstream().delete_stream(Settings().work_queue_stream)
            await nc.close()

    asyncio.run(go())


@pytest.fixture(scope="session")
def client(xray_env):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app()) as c:
        yield c


@pytest.fixture(scope="session")
def replica_b(client, xray_env):
    """A second replica of the service (own NATS connection, own consumer, own replica id) on the same database
    and model store, with small upload limits so size refusals are cheap to test."""
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    settings = Settings(max_model_bytes=64 * 1024, max_training_zip_bytes=512 * 1024, max_training_files=40,
                        max_training_uncompressed_bytes=2 * 1024 * 1024, max_image_bytes=256 * 1024)
    with TestClient(create_app(settings)) as c:
        yield c


def toy_classifier(n_classes: int = 2, size: int | None = 32, seed: int = 0, *, output_name: str = "probs",
                   softmax: bool = True, nan: bool = False, extra_output_dim: bool = False) -> bytes:
    """A tiny real ONNX classifier (pool -> linear -> softmax) with the registry's classification signature;
    the keyword switches break it in one specific way each."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = rng.normal(size=(1, n_classes)).astype(np.float32)
    b = rng.normal(size=(n_classes,)).astype(np.float32)
    dim = size if size is not None else "s"
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
             numpy_helper.from_array(np.array(5.0, np.float32), "five")]
    nodes = [helper.make_node("GlobalAveragePool", ["image"], ["pooled"])]
    src = "pooled"
    if nan:
        nodes += [helper.make_node("Sub", ["pooled", "five"], ["neg"]), helper.make_node("Sqrt", ["neg"], ["nan"])]
        src = "nan"
    nodes += [helper.make_node("Flatten", [src], ["flat"], axis=1), helper.make_node("MatMul", ["flat", "w"], ["mm"]),
              helper.make_node("Add", ["mm", "b"], ["logits"])]
    last = "logits"
    if softmax:
        nodes.append(helper.make_node("Softmax", [last], ["soft"], axis=1))
        last = "soft"
    out_shape = ["n", n_classes]
    if extra_output_dim:
        inits.append(numpy_helper.from_array(np.array([2], np.int64), "ax"))
        nodes.append(helper.make_node("Unsqueeze", [last, "ax"], ["unsq"]))
        last = "unsq"
        out_shape = ["n", n_classes, 1]
    nodes.append(helper.make_node("Identity", [last], [output_name]))
    graph = helper.make_graph(
        nodes, "toy", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 1, dim, dim])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, out_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="zhenxi-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def upload_model(c, data: bytes, name: str, version: str, *, task: str = "classification",
                 labels: list[str] | None = None, role: str = "admin", user: str = "admin-1", **extra):
    from zhenxi_common.testing import signed

    form = {"name": name, "version": version, "task": task, **extra}
    if labels is not None:
        import json

        form["metadata"] = json.dumps({"labels": labels})
    return c.post("/v1/models", files={"file": ("model.onnx", data, "application/octet-stream")}, data=form,
                  auth=signed(user, role=role))


def wait_for(predicate, timeout_s: float = 15.0, interval_s: float = 0.1):
    """Poll until ``predicate()`` is truthy (behaviour under asynchrony, not a clock assertion)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval_s)


CHEST_LABELS = ["Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
                "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
                "abnormal"]


def toy_chest_model(positive: tuple[str, ...] = ("Effusion", "abnormal"), seed: int = 0) -> bytes:
    """A small real ONNX graph with the chest network's exact signature (probs, cams, masks, embedding): finding
    probabilities from the image's mean intensity, CAMs from 32x32 average pooling, fixed lung/heart masks on the
    anatomically correct sides, and an all-zero embedding (at the centre of the toy gate statistics)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = (rng.normal(size=(1, 15)) * 0.1).astype(np.float32)
    b = np.array([3.0 if lab in positive else -3.0 for lab in CHEST_LABELS], np.float32)
    masks = np.zeros((1, 3, 256, 256), np.float32)
    masks[0, 0, 40:200, 140:220] = 1.0   # left lung = patient's left = image right
    masks[0, 1, 40:200, 36:116] = 1.0    # right lung
    masks[0, 2, 120:190, 100:160] = 1.0  # heart
    cam_w = np.linspace(-1, 1, 15, dtype=np.float32).reshape(1, 15, 1, 1)
    inits = [numpy_helper.from_array(a, n) for a, n in (
        (w, "w"), (b, "b"), (masks, "mask_const"), (cam_w, "cam_w"), (np.zeros((1, 1280), np.float32), "emb0"),
        (np.array(0.0, np.float32), "zero"))]
    nodes = [
        helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "w"], ["mm"]),
        helper.make_node("Add", ["mm", "b"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["probs"]),
        helper.make_node("AveragePool", ["image"], ["small"], kernel_shape=[32, 32], strides=[32, 32]),
        helper.make_node("Mul", ["small", "cam_w"], ["cams"]),
        helper.make_node("Mul", ["image", "zero"], ["zeros_like"]),
        helper.make_node("Add", ["zeros_like", "mask_const"], ["masks"]),
        helper.make_node("MatMul", ["flat", "emb0"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes, "toy_chest", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 1, 256, 256])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 15]),
         helper.make_tensor_value_info("cams", TensorProto.FLOAT, ["n", 15, 8, 8]),
         helper.make_tensor_value_info("masks", TensorProto.FLOAT, ["n", 3, 256, 256]),
         helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", 1280])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="zhenxi-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def toy_detector_model(boxes: int = 1, seed: int = 0) -> bytes:
    """YOLOv8-shaped head output (n, 5, 10): ``boxes`` fixed boxes with score 0.9, the rest empty."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    bias = np.zeros((5, 10), np.float32)
    for i in range(boxes):
        bias[:, i] = [120 + 60 * i, 160, 40, 40, 0.9]
    inits = [numpy_helper.from_array(np.full((3, 50), seed * 1e-6, np.float32), "w"),
             numpy_helper.from_array(bias.reshape(50), "b"),
             numpy_helper.from_array(np.array([-1, 5, 10], np.int64), "shape")]
    nodes = [helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
             helper.make_node("MatMul", ["flat", "w"], ["mm"]),
             helper.make_node("Add", ["mm", "b"], ["flat_out"]),
             helper.make_node("Reshape", ["flat_out", "shape"], ["output0"])]
    graph = helper.make_graph(
        nodes, "toy_det", [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["n", 3, 384, 384])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["n", 5, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="zhenxi-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def toy_gate_stats() -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    np.savez(buf, mean=np.zeros(1280, np.float32), components=np.eye(32, 1280, dtype=np.float32),
             variances=np.ones(32, np.float32), val_maha=rng.random(50).astype(np.float32),
             val_resid=rng.random(50).astype(np.float32))
    return buf.getvalue()
