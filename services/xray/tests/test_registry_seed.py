"""Registering the committed models at start-up: idempotent, sha256-verified, safe with several replicas starting
at once, and a retrained commit is staged rather than silently activated. Uses a temporary 'bundled' directory in
the committed layout (ONNX + JSON sidecar + metrics + gate assets + golden expectations)."""
from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from pathlib import Path

import pytest
from conftest import CHEST_LABELS, GOLDEN, toy_chest_model, toy_detector_model, toy_gate_stats
from sqlalchemy import select


def _write_bundle(d: Path, chest_name: str, det_name: str, chest: bytes, version: str = "20250101",
                  sha_override: str | None = None) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{chest_name}.onnx").write_bytes(chest)
    (d / f"{chest_name}.json").write_text(json.dumps({
        "model": "chestnet", "version": version, "sha256": sha_override or hashlib.sha256(chest).hexdigest(),
        "labels": CHEST_LABELS, "thresholds": {lab: 0.5 for lab in CHEST_LABELS}, "input": {"size": 256},
        "threshold_rule": "Youden J"}))
    (d / f"{chest_name}_metrics.json").write_text(json.dumps({"mean_auroc_14": {"value": 0.71}, "history": [1, 2]}))
    (d / "chestnet_gate.npz").write_bytes(toy_gate_stats())
    (d / "gate.json").write_text(json.dumps({"maha_threshold": 10.0, "resid_threshold": 10.0}))
    (d / "golden").mkdir(exist_ok=True)
    (d / "golden" / "expected.json").write_text(json.dumps({"image": "x.png", "probabilities": {}}))
    det = toy_detector_model(seed=int(uuid.uuid4().int % 100000) + 1)
    (d / f"{det_name}.onnx").write_bytes(det)
    (d / f"{det_name}.json").write_text(json.dumps({"version": "1", "sha256": hashlib.sha256(det).hexdigest(),
                                                    "classes": ["nodule_or_mass"], "score_threshold": 0.25}))


@pytest.fixture
def seeding(client, tmp_path):
    from app.config import Settings
    from app.models import ModelActivation, ModelVersion
    from app.registry import seed_bundled

    chest_name, det_name = f"seedchest{uuid.uuid4().hex[:6]}", f"seeddet{uuid.uuid4().hex[:6]}"
    settings = Settings(bundled_models_dir=tmp_path / "bundled", golden_image=GOLDEN,
                        bundled_tasks={chest_name: "chest", det_name: "detection"})
    state = client.app.state

    def seed(times: int = 1) -> None:
        async def go() -> None:
            await asyncio.gather(*(seed_bundled(state.sessionmaker, state.store, settings) for _ in range(times)))
        client.portal.call(go)

    def rows(name: str) -> list:
        async def go():
            async with state.sessionmaker() as s:
                versions = (await s.scalars(select(ModelVersion).where(ModelVersion.name == name)
                                            .order_by(ModelVersion.created_at))).all()
                acts = (await s.scalars(select(ModelActivation).where(ModelActivation.name == name))).all()
                return list(versions), list(acts)
        return client.portal.call(go)

    return settings, chest_name, det_name, seed, rows


def test_seeding_registers_active_versions_once_even_with_concurrent_starts(client, seeding) -> None:
    settings, chest_name, det_name, seed, rows = seeding
    chest = toy_chest_model(seed=11)
    _write_bundle(settings.bundled_models_dir, chest_name, det_name, chest)
    seed(times=3)  # three replicas starting together
    versions, acts = rows(chest_name)
    assert [(v.version, v.status, v.source) for v in versions] == [("20250101", "active", "bundled")]
    assert [a.reason for a in acts] == ["seed"]
    v = versions[0]
    assert v.sha256 == hashlib.sha256(chest).hexdigest() and v.size_bytes == len(chest)
    assert client.app.state.store.blob_path(v.sha256).read_bytes() == chest
    assert set(v.meta["assets"]) == {"chestnet_gate.npz", "gate.json", "golden/expected.json"}
    assert v.meta["sidecar"]["threshold_rule"] == "Youden J" and v.meta["sidecar"]["sha256"] == v.sha256
    assert v.metrics == {"mean_auroc_14": {"value": 0.71}}  # training history is left out
    det_versions, _ = rows(det_name)
    assert [(d.task, d.status) for d in det_versions] == [("detection", "active")]
    seed()
    assert len(rows(chest_name)[0]) == 1 and len(rows(det_name)[0]) == 1


def test_a_retrained_commit_is_staged_not_activated(client, seeding) -> None:
    settings, chest_name, det_name, seed, rows = seeding
    _write_bundle(settings.bundled_models_dir, chest_name, det_name, toy_chest_model(seed=12))
    seed()
    retrained = toy_chest_model(("Cardiomegaly",), seed=13)
    _write_bundle(settings.bundled_models_dir, chest_name, det_name, retrained)  # same version string
    seed()
    versions, _ = rows(chest_name)
    assert [v.status for v in versions] == ["active", "staged"]
    assert versions[1].sha256 == hashlib.sha256(retrained).hexdigest()
    assert versions[1].version == f"20250101-{versions[1].sha256[:8]}"


def test_a_bundled_file_that_does_not_match_its_sidecar_is_not_registered(client, seeding) -> None:
    settings, chest_name, det_name, seed, rows = seeding
    _write_bundle(settings.bundled_models_dir, chest_name, det_name, toy_chest_model(seed=14), sha_override="0" * 64)
    seed()
    assert rows(chest_name)[0] == []
    assert len(rows(det_name)[0]) == 1
