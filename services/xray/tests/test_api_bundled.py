"""The committed models (services/xray/models) served through the API: registered at start-up as the active
versions, self-test against the golden outputs recorded with them, and a real analysis of the golden film."""
from __future__ import annotations

import base64
import io

from conftest import GOLDEN
from PIL import Image

from zhenxi_common.testing import signed

SVC_MODELS = GOLDEN.parent.parent
ADMIN = signed("admin-bundled", role="admin")



def test_bundled_models_are_present() -> None:
    """The models are committed: a missing one is a broken checkout and fails here (it used to skip the module)."""
    for name in ("chestnet.onnx", "detector.onnx", "golden/expected.json"):
        assert (SVC_MODELS / name).exists(), f"services/xray/models/{name} is missing"


def test_committed_models_are_registered_active_and_served(client) -> None:
    items = client.get("/v1/models", params={"status": "active"}, auth=ADMIN).json()["items"]
    active = {m["name"]: m for m in items}
    assert {"chestnet", "detector"} <= set(active)
    assert active["chestnet"]["source"] == "bundled" and active["chestnet"]["task"] == "chest"
    served = client.get("/v1/models/served", auth=ADMIN).json()
    assert served["analyzer_ready"] is True
    assert served["models"]["chestnet"]["sha256"] == active["chestnet"]["sha256"]


def test_selftest_matches_the_outputs_recorded_with_the_model(client) -> None:
    r = client.get("/v1/selftest", auth=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True, r.json()["problems"]


def test_golden_film_analysis_equals_the_committed_models_run_directly(client) -> None:
    """What the API serves from the registry is exactly the committed models (model quality itself is tested in
    test_models.py)."""
    from app.analyzer import AnalyzerConfig, XrayAnalyzer

    r = client.post("/v1/xray/analyses", files={"file": (GOLDEN.name, GOLDEN.read_bytes(), "image/png")},
                    auth=signed("patient-g", role="patient"))
    assert r.status_code == 201, r.text
    out = r.json()
    direct = XrayAnalyzer(AnalyzerConfig(models_dir=SVC_MODELS, threads=1)).analyze(GOLDEN.read_bytes(), GOLDEN.name,
                                                                                   "image/png")
    assert [(f["label"], f["probability"], f["positive"]) for f in out["findings"]] == \
        [(f["label"], f["probability"], f["positive"]) for f in direct["findings"]]
    assert out["measurements"] == direct["measurements"]
    assert out["detections"] == direct["detections"]
    w, h = Image.open(GOLDEN).size
    for m in out["masks"].values():
        assert Image.open(io.BytesIO(base64.b64decode(m))).size == (w, h)
    for hm in out["heatmaps"]:
        assert Image.open(io.BytesIO(base64.b64decode(hm["png_base64"]))).size == (w, h)
    assert [hm["label"] for hm in out["heatmaps"]] == [f["label"] for f in out["findings"] if f["positive"]]
