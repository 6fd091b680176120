"""POST /v1/xray/analyses through AnalysisService and the real XrayAnalyzer (dynamic batcher switched on here; the
CPU default, a worker thread per request, is what test_api_bundled.py serves), gate, masks, heatmaps, loaded from the
registry's ACTIVE versions. A dedicated replica serves small real ONNX graphs with the chest network's and the
detector's exact signatures (conftest.toy_chest_model / toy_detector_model), registered through the upload API, so
the whole serving path is tested independently of the trained weights; test_api_bundled.py runs the committed
models."""
from __future__ import annotations

import base64
import io
import json
import threading
import uuid

import numpy as np
import pytest
from conftest import (CHEST_LABELS, GOLDEN, encode, toy_chest_model, toy_classifier, toy_detector_model,
                      toy_gate_stats, upload_model, wait_for)
from PIL import Image
from sqlalchemy import select, text

from zhenxi_common.testing import signed

ADMIN = signed("admin-an", role="admin")
ALICE = signed("alice", role="patient")
BOB = signed("bob", role="patient")
CHEST_META = {"labels": CHEST_LABELS, "thresholds": {lab: 0.5 for lab in CHEST_LABELS}}
DET_META = {"classes": ["nodule_or_mass"], "score_threshold": 0.25, "iou_threshold": 0.45}


def _upload_chest(c, version: str, positive: tuple[str, ...], seed: int):
    r = c.post("/v1/models", data={"name": "toychest", "version": version, "task": "chest",
                                   "metadata": json.dumps(CHEST_META)},
               files={"file": ("c.onnx", toy_chest_model(positive, seed), "application/octet-stream"),
                      "gate_stats": ("g.npz", toy_gate_stats(), "application/octet-stream"),
                      "gate_config": ("gate.json", json.dumps({"maha_threshold": 10.0, "resid_threshold": 10.0}),
                                      "application/json")}, auth=ADMIN)
    assert r.status_code == 201, r.text
    return r.json()


def _served(c) -> dict:
    return c.get("/v1/models/served", auth=ADMIN).json()


@pytest.fixture(scope="module")
def toy(client):
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    settings = Settings(chest_model_name="toychest", detector_model_name="toydet", seed_bundled_models=False,
                        max_image_bytes=600 * 1024, batching=True)
    with TestClient(create_app(settings)) as c:
        _upload_chest(c, "1", ("Effusion", "abnormal"), 0)
        r = c.post("/v1/models", data={"name": "toydet", "version": "1", "task": "detection",
                                       "metadata": json.dumps(DET_META)},
                   files={"file": ("d.onnx", toy_detector_model(), "application/octet-stream")}, auth=ADMIN)
        assert r.status_code == 201, r.text
        for name in ("toychest", "toydet"):
            assert c.post(f"/v1/models/{name}/versions/1:promote", auth=ADMIN).status_code == 200
        assert wait_for(lambda: _served(c)["analyzer_ready"]), _served(c)
        yield c


def golden_png(width: int = 400, height: int = 480) -> bytes:
    """The committed NIH golden film, resized to a non-square size so 'input resolution' is tested."""
    return encode(np.asarray(Image.open(GOLDEN).convert("L").resize((width, height))))


def analyze(c, data: bytes, auth=ALICE, name: str = "张三_身份证.png", ctype: str = "image/png"):
    return c.post("/v1/xray/analyses", files={"file": (name, data, ctype)}, auth=auth)


def _png_size(b64: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(b64))).size


def test_analysis_has_findings_boxes_measurements_and_images_at_input_resolution(toy) -> None:
    r = analyze(toy, golden_png())
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["disclaimer"]["zh"] and "not a diagnosis" in out["disclaimer"]["en"]
    assert [f["label"] for f in out["findings"]] == CHEST_LABELS[:-1]
    assert [f["label"] for f in out["findings"] if f["positive"]] == ["Effusion"]
    assert out["abnormal"]["positive"] is True
    assert out["image"] == {"width": 400, "height": 480, "format": "png"}
    assert [h["label"] for h in out["heatmaps"]] == ["Effusion"]
    assert _png_size(out["heatmaps"][0]["png_base64"]) == (400, 480)
    assert set(out["masks"]) == {"left_lung", "right_lung", "heart"}
    assert all(_png_size(m) == (400, 480) for m in out["masks"].values())
    left = np.asarray(Image.open(io.BytesIO(base64.b64decode(out["masks"]["left_lung"])))) > 0
    right = np.asarray(Image.open(io.BytesIO(base64.b64decode(out["masks"]["right_lung"])))) > 0
    assert np.where(left)[1].mean() > np.where(right)[1].mean()  # patient's left lung on the image right
    assert len(out["detections"]) == 1
    x1, y1, x2, y2 = out["detections"][0]["box"]
    assert 0 <= x1 < x2 <= 400 and 0 <= y1 < y2 <= 480
    assert 0.3 < out["measurements"]["cardiothoracic_ratio"] < 0.8
    assert out["gate"]["accepted"] is True
    assert out["model_version"]["chestnet"] == "1"


def test_results_are_kept_without_images_or_file_names_and_only_for_the_owner(toy, client) -> None:
    out = analyze(toy, golden_png()).json()
    aid = out["analysis_id"]
    mine = client.get(f"/v1/xray/analyses/{aid}", auth=ALICE)  # any replica
    assert mine.status_code == 200
    assert [f["label"] for f in mine.json()["findings"] if f["positive"]] == ["Effusion"]
    assert "masks" not in mine.json() and "heatmaps" not in mine.json()
    other = toy.get(f"/v1/xray/analyses/{aid}", auth=BOB)
    assert other.status_code == 404 and other.json()["error"]["code"] == "analysis_not_found"
    assert aid in [a["analysis_id"] for a in toy.get("/v1/xray/analyses", auth=ALICE).json()["items"]]
    assert aid not in [a["analysis_id"] for a in toy.get("/v1/xray/analyses", auth=BOB).json()["items"]]
    assert toy.get("/v1/xray/analyses/not-a-uuid", auth=ALICE).status_code == 404

    async def stored_row() -> str:
        async with toy.app.state.sessionmaker() as s:
            return (await s.execute(text("SELECT row_to_json(a)::text FROM xray.analyses a WHERE id = :id"),
                                    {"id": uuid.UUID(aid)})).scalar_one()

    row = toy.portal.call(stored_row)
    assert "张三" not in row and "身份证" not in row and "base64" not in row and "iVBOR" not in row
    assert '"user_id": "alice"' in row or '"user_id":"alice"' in row


def test_analysed_event_goes_out_through_the_outbox_with_ids_only(toy) -> None:
    from app.models import outbox

    aid = analyze(toy, golden_png()).json()["analysis_id"]

    async def event() -> tuple[dict, object] | None:
        async with toy.app.state.sessionmaker() as s:
            rows = (await s.execute(select(outbox.c.payload, outbox.c.published_at)
                                    .where(outbox.c.subject == "xray.analyzed.v1"))).all()
        return next(((p, at) for p, at in rows if p["analysis_id"] == aid), None)

    assert wait_for(lambda: (e := toy.portal.call(event)) is not None and e[1] is not None)
    payload, _ = toy.portal.call(event)
    assert payload["user_id"] == "alice" and payload["positive_findings"] == ["Effusion"]
    assert set(payload) == {"event_id", "occurred_at", "user_id", "analysis_id", "positive_findings"}


def _dicom(pixels: np.ndarray, patient: str = "ZHANG^SAN") -> bytes:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("x.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.PatientName, ds.PatientID, ds.Modality = patient, "110101199001011234", "DX"
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (pixels.astype(np.uint16) * 16).tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def test_dicom_is_analysed_and_identifying_tags_are_neither_returned_nor_kept(toy) -> None:
    pixels = np.asarray(Image.open(GOLDEN).convert("L").resize((300, 360)))
    r = analyze(toy, _dicom(pixels), name="scan.dcm", ctype="application/dicom")
    assert r.status_code == 201, r.text
    body = r.text
    assert "ZHANG" not in body and "110101199001011234" not in body
    assert r.json()["image"]["format"] == "dicom"
    assert _png_size(r.json()["masks"]["heart"]) == (300, 360)


@pytest.mark.parametrize("data, name, ctype, status, code", [
    (b"hello, this is text", "a.txt", "text/plain", 415, "unsupported_media_type"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 200, "a.png", "image/png", 422, "image_unreadable"),
    (b"", "a.png", "image/png", 422, "image_unreadable"),
    ("tiny", "a.png", "image/png", 422, "image_too_small"),
    ("colour", "photo.jpg", "image/jpeg", 422, "not_chest_xray"),
    ("mismatch", "a.png", "application/pdf", 415, "unsupported_media_type"),
    (b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00garbage" * 20, "a.dcm", "application/dicom", 422, "dicom_invalid"),
    ("huge", "a.png", "image/png", 413, "image_too_large"),
    ("bomb", "a.png", "image/png", 422, "image_too_large"),
], ids=["text", "corrupt-png", "empty", "too-small", "colour-photo", "declared-type-mismatch", "bad-dicom", "huge",
        "pixel-bomb"])
def test_bad_images_get_clear_errors(toy, data, name, ctype, status, code) -> None:
    if data == "tiny":
        data = encode(np.full((40, 40), 128, np.uint8))
    elif data == "colour":
        rng = np.random.default_rng(0)
        img = np.zeros((300, 300, 3), np.uint8)
        img[:, :150] = [230, 30, 30]
        img[:, 150:] = [20, 200, 40]
        img = np.clip(img.astype(int) + rng.integers(-10, 10, img.shape), 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG")
        data = buf.getvalue()
    elif data == "mismatch":
        data = golden_png()
    elif data == "bomb":  # 81 MP in a few kB: too many pixels, refused from the header (422, as in ocr)
        buf = io.BytesIO()
        Image.new("1", (9000, 9000)).save(buf, format="PNG")
        data = buf.getvalue()
    elif data == "huge":
        data = encode(np.random.default_rng(1).integers(0, 256, (900, 900), dtype=np.uint8))
        assert len(data) > 600 * 1024
    r = analyze(toy, data, name=name, ctype=ctype)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code and r.json()["error"]["message"]


def test_a_refused_image_leaves_no_analysis_and_no_event(toy) -> None:
    """AnalysisService writes the analysis and its event only for an accepted film: a refused upload (here: a
    corrupt PNG, and a colour photo the gate's pre-check refuses) leaves neither behind."""
    from app.models import outbox

    async def counts() -> tuple[int, int]:
        async with toy.app.state.sessionmaker() as s:
            n_rows = (await s.execute(text("SELECT count(*) FROM xray.analyses WHERE user_id = 'carol'"))).scalar_one()
            events = (await s.execute(select(outbox.c.payload).where(outbox.c.subject == "xray.analyzed.v1"))).all()
            return n_rows, sum(1 for (p,) in events if p["user_id"] == "carol")

    carol = signed("carol", role="patient")
    colour = np.zeros((300, 300, 3), np.uint8)
    colour[:, :150] = [230, 30, 30]
    colour[:, 150:] = [20, 200, 40]
    for data, code in ((b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "image_unreadable"),
                       (encode(colour), "not_chest_xray")):
        r = analyze(toy, data, auth=carol)
        assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
    assert toy.portal.call(counts) == (0, 0)
    assert analyze(toy, golden_png(), auth=carol).status_code == 201
    assert toy.portal.call(counts) == (1, 1)


def test_requests_need_a_file_and_the_gateway(toy) -> None:
    assert toy.post("/v1/xray/analyses", auth=ALICE).json()["error"]["code"] == "validation_error"
    r = toy.post("/v1/xray/analyses", files={"file": ("a.png", golden_png(), "image/png")})
    assert r.status_code == 401


def test_concurrent_requests_all_go_through_the_batcher(toy) -> None:
    batcher = toy.app.state.runtime.current.analyzer.batcher
    before = batcher.items_run
    data = golden_png(320, 384)
    codes: list[int] = []

    def one() -> None:
        codes.append(analyze(toy, data).status_code)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert codes == [201] * 4
    assert batcher.items_run - before == 4


def test_selftest_reports_missing_golden_outputs_for_an_uploaded_chest_model(toy) -> None:
    r = toy.get("/v1/selftest", auth=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is False and "no golden outputs" in r.json()["problems"][0]


def test_promoted_classifiers_are_applied_to_analyses(toy, client) -> None:
    name = f"clf-{uuid.uuid4().hex[:6]}"
    assert upload_model(client, toy_classifier(seed=77), name, "1", labels=["normal", "abnormal"]).status_code == 201
    assert client.post(f"/v1/models/{name}/versions/1:promote", auth=ADMIN).status_code == 200
    assert wait_for(lambda: name in _served(toy)["models"])
    out = analyze(toy, golden_png()).json()
    mine = [c for c in out["classifications"] if c["model"] == name]
    assert len(mine) == 1 and set(mine[0]["probabilities"]) == {"normal", "abnormal"}
    assert abs(sum(mine[0]["probabilities"].values()) - 1.0) < 1e-3
    assert mine[0]["top_label"] == max(mine[0]["probabilities"], key=mine[0]["probabilities"].get)


def test_a_new_chest_version_is_hot_swapped_into_the_analyzer(toy, client) -> None:
    """Uploaded and promoted through ANOTHER replica; this one swaps its analyzer on the NATS event, and
    requests keep being served throughout."""
    assert analyze(toy, golden_png()).json()["model_version"]["chestnet"] == "1"
    _upload_chest(client, "2", ("Cardiomegaly", "abnormal"), 1)
    assert client.post("/v1/models/toychest/versions/2:promote", auth=ADMIN).status_code == 200
    assert wait_for(lambda: _served(toy)["models"]["toychest"]["version"] == "2")
    out = analyze(toy, golden_png()).json()
    assert out["model_version"]["chestnet"] == "2"
    assert [f["label"] for f in out["findings"] if f["positive"]] == ["Cardiomegaly"]
    assert client.post("/v1/models/toychest:rollback", auth=ADMIN).status_code == 200
    assert wait_for(lambda: _served(toy)["models"]["toychest"]["version"] == "1")
    out = analyze(toy, golden_png()).json()
    assert [f["label"] for f in out["findings"] if f["positive"]] == ["Effusion"]


def test_a_chest_upload_with_the_wrong_gate_statistics_is_refused(client) -> None:
    bad = io.BytesIO()
    np.savez(bad, mean=np.zeros(64, np.float32), components=np.eye(8, 64, dtype=np.float32),
             variances=np.ones(8, np.float32))
    r = client.post("/v1/models", data={"name": "toychest", "version": "9", "task": "chest"},
                    files={"file": ("c.onnx", toy_chest_model(seed=9), "application/octet-stream"),
                           "gate_stats": ("g.npz", bad.getvalue(), "application/octet-stream")}, auth=ADMIN)
    assert r.status_code == 422 and r.json()["error"]["code"] == "model_metadata_invalid"
