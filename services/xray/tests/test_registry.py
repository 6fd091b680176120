"""Model registry over the real stack: upload validation, listing, download caching, promote/rollback, and the
hot swap on every replica through NATS. Models are tiny real ONNX classifiers built in conftest.toy_classifier."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from conftest import toy_classifier, upload_model, wait_for

from zhenxi_common.testing import signed

ADMIN = signed("admin-1", role="admin")
LABELS = ["normal", "abnormal"]


def _name() -> str:
    return f"toy-{uuid.uuid4().hex[:10]}"


def _blobs(client) -> set[str]:
    return {p.name for p in Path(client.app.state.store.blobs).iterdir()}


def _tmp(client) -> list[Path]:
    return [p for p in Path(client.app.state.store.tmp).iterdir() if not p.name.startswith("view-")]


def _versions(client, name: str) -> dict[str, dict]:
    r = client.get("/v1/models", params={"name": name}, auth=signed("viewer", role="patient"))
    assert r.status_code == 200, r.text
    return {m["version"]: m for m in r.json()["items"]}


def test_upload_is_validated_and_staged_with_checksum_size_and_metrics(client) -> None:
    name = _name()
    data = toy_classifier(seed=1)
    r = upload_model(client, data, name, "1.0.0", labels=LABELS, metrics='{"val_auroc": 0.81}')
    assert r.status_code == 201, r.text
    body = r.json()
    import hashlib

    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["size_bytes"] == len(data)
    assert body["status"] == "staged" and body["task"] == "classification" and body["source"] == "upload"
    assert body["metrics"] == {"val_auroc": 0.81}
    assert body["labels"] == LABELS
    assert body["signature"]["inputs"][0] == {"name": "image", "type": "tensor(float)", "shape": [None, 1, 32, 32]}
    assert body["sha256"] in _blobs(client)
    listed = _versions(client, name)
    assert listed["1.0.0"]["status"] == "staged" and listed["1.0.0"]["sha256"] == body["sha256"]


def test_integrators_may_upload_patients_may_not(client) -> None:
    name = _name()
    r = upload_model(client, toy_classifier(seed=2), name, "1", labels=LABELS, role="patient", user="p-1")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = upload_model(client, toy_classifier(seed=2), name, "1", labels=LABELS, role="integrator", user="int-1")
    assert r.status_code == 201, r.text
    assert r.json()["created_by"] == "int-1"


def test_duplicates_are_conflicts(client) -> None:
    name = _name()
    data = toy_classifier(seed=3)
    assert upload_model(client, data, name, "1", labels=LABELS).status_code == 201
    same_file = upload_model(client, data, _name(), "1", labels=LABELS)
    assert same_file.status_code == 409 and same_file.json()["error"]["code"] == "model_duplicate"
    assert same_file.json()["error"]["details"]["name"] == name
    same_version = upload_model(client, toy_classifier(seed=4), name, "1", labels=LABELS)
    assert same_version.status_code == 409 and same_version.json()["error"]["code"] == "model_version_exists"


@pytest.mark.parametrize("data, code", [
    (b"this is not an onnx file at all" * 10, "model_invalid"),
    (b"", "model_invalid"),
    ("truncated", "model_invalid"),
    (toy_classifier(output_name="scores", seed=5), "model_signature_mismatch"),
    (toy_classifier(extra_output_dim=True, seed=6), "model_signature_mismatch"),
    (toy_classifier(nan=True, seed=7), "model_golden_check_failed"),
    (toy_classifier(softmax=False, seed=8), "model_golden_check_failed"),
], ids=["garbage", "empty", "truncated", "wrong-output-name", "wrong-output-rank", "nan-output", "not-softmax"])
def test_bad_models_are_refused_and_nothing_is_left_behind(client, data, code) -> None:
    if data == "truncated":
        full = toy_classifier(seed=9)
        data = full[: len(full) // 2]
    before = _blobs(client)
    r = upload_model(client, data, _name(), "1", labels=LABELS)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
    assert _blobs(client) == before
    assert _tmp(client) == []


def test_labels_must_match_the_number_of_outputs(client) -> None:
    r = upload_model(client, toy_classifier(n_classes=3, seed=10), _name(), "1", labels=LABELS)
    assert r.status_code == 422 and r.json()["error"]["code"] == "model_golden_check_failed"
    r = upload_model(client, toy_classifier(seed=10), _name(), "1")
    assert r.status_code == 422 and r.json()["error"]["code"] == "model_metadata_invalid"


def test_signature_must_match_the_active_version_of_the_name(client) -> None:
    name = _name()
    assert upload_model(client, toy_classifier(size=32, seed=11), name, "1", labels=LABELS).status_code == 201
    assert client.post(f"/v1/models/{name}/versions/1:promote", auth=ADMIN).status_code == 200
    r = upload_model(client, toy_classifier(size=64, seed=12), name, "2", labels=LABELS)
    assert r.status_code == 422 and r.json()["error"]["code"] == "model_signature_mismatch"
    r = upload_model(client, toy_classifier(size=32, seed=12), name, "2", labels=["x", "y"])
    assert r.status_code == 201, r.text
    # labels are inherited from the active version when not given
    r = upload_model(client, toy_classifier(size=32, seed=13), name, "3")
    assert r.status_code == 201 and r.json()["labels"] == LABELS
    r = upload_model(client, toy_classifier(size=32, seed=14), name, "4", task="chest")
    assert r.status_code == 422 and r.json()["error"]["code"] == "model_signature_mismatch"


@pytest.mark.parametrize("form, code", [
    ({"name": "../etc", "version": "1", "task": "classification"}, "invalid_model_name"),
    ({"name": "ok-name", "version": "1:promote", "task": "classification"}, "invalid_model_name"),
    ({"name": "ok-name", "version": "1", "task": "segmentation"}, "unknown_task"),
    ({"name": "ok-name", "version": "1", "task": "classification", "metadata": "{not json"}, "model_metadata_invalid"),
    ({"name": "ok-name", "version": "1", "task": "classification", "metadata": '{"labels": "ab"}'},
     "model_metadata_invalid"),
    ({"name": "ok-name", "version": "1", "task": "classification", "metadata": '{"evil": 1}'},
     "model_metadata_invalid"),
])
def test_bad_form_fields(client, form, code) -> None:
    r = client.post("/v1/models", files={"file": ("m.onnx", toy_classifier(seed=15), "application/octet-stream")},
                    data=form, auth=ADMIN)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code


def test_missing_file_is_a_validation_error(client) -> None:
    r = client.post("/v1/models", data={"name": "x", "version": "1", "task": "classification"}, auth=ADMIN)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_huge_upload_is_refused_without_being_kept(replica_b) -> None:
    before = _blobs(replica_b)
    big = toy_classifier(seed=16) + b"\0" * (70 * 1024)
    r = upload_model(replica_b, big, _name(), "1", labels=LABELS)
    assert r.status_code == 413 and r.json()["error"]["code"] == "model_too_large"
    assert _blobs(replica_b) == before and _tmp(replica_b) == []


def test_download_etag_conditional_and_ranges(client) -> None:
    name = _name()
    data = toy_classifier(seed=17)
    sha = upload_model(client, data, name, "1", labels=LABELS).json()["sha256"]
    url = f"/v1/models/{name}/versions/1/download"
    integrator = signed("int-2", role="integrator")
    r = client.get(url, auth=integrator)
    assert r.status_code == 200 and r.content == data
    assert r.headers["etag"] == f'"{sha}"' and r.headers["accept-ranges"] == "bytes"
    etag = r.headers["etag"]
    assert client.get(url, headers={"If-None-Match": etag}, auth=integrator).status_code == 304
    assert client.get(url, headers={"If-None-Match": f'"other", W/{etag}'}, auth=integrator).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}, auth=integrator).status_code == 200
    part = client.get(url, headers={"Range": "bytes=10-29"}, auth=integrator)
    assert part.status_code == 206 and part.content == data[10:30]
    assert part.headers["content-range"] == f"bytes 10-29/{len(data)}"
    tail = client.get(url, headers={"Range": "bytes=-16"}, auth=integrator)
    assert tail.status_code == 206 and tail.content == data[-16:]
    multi = client.get(url, headers={"Range": "bytes=0-3,20-23"}, auth=integrator)
    assert multi.status_code == 206 and multi.headers["content-type"].startswith("multipart/byteranges")
    assert data[0:4] in multi.content and data[20:24] in multi.content
    # a resumed download whose cached copy is stale (different ETag) gets the whole file
    stale = client.get(url, headers={"Range": "bytes=10-29", "If-Range": '"stale"'}, auth=integrator)
    assert stale.status_code == 200 and stale.content == data
    fresh = client.get(url, headers={"Range": "bytes=10-29", "If-Range": etag}, auth=integrator)
    assert fresh.status_code == 206
    bad = client.get(url, headers={"Range": f"bytes={len(data) + 10}-"}, auth=integrator)
    assert bad.status_code == 416 and bad.json()["error"]["code"] == "range_not_satisfiable"
    assert bad.headers["content-range"] == f"bytes */{len(data)}"
    bad = client.get(url, headers={"Range": "pages=1-2"}, auth=integrator)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "range_invalid"
    head = client.head(url, auth=integrator)
    assert head.status_code == 200 and head.headers["etag"] == etag and head.content == b""
    assert client.get(url, auth=signed("p-9", role="patient")).status_code == 403
    missing = client.get(f"/v1/models/{name}/versions/9/download", auth=integrator)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_promote_replay_and_rollback(client) -> None:
    name = _name()
    for v, seed in (("1", 20), ("2", 21), ("3", 22)):
        assert upload_model(client, toy_classifier(seed=seed), name, v, labels=LABELS).status_code == 201
    r = client.post(f"/v1/models/{name}/versions/1:promote", auth=ADMIN)
    assert r.status_code == 200 and r.json() == {**r.json(), "active_version": "1", "changed": True,
                                                  "previous_version": None}
    r = client.post(f"/v1/models/{name}/versions/2:promote", auth=ADMIN)
    assert r.json()["previous_version"] == "1" and r.json()["changed"] is True
    replay = client.post(f"/v1/models/{name}/versions/2:promote", auth=ADMIN)
    assert replay.status_code == 200 and replay.json()["changed"] is False
    assert client.post(f"/v1/models/{name}/versions/3:promote", auth=ADMIN).status_code == 200
    statuses = {v: m["status"] for v, m in _versions(client, name).items()}
    assert statuses == {"1": "retired", "2": "retired", "3": "active"}
    r = client.post(f"/v1/models/{name}:rollback", auth=ADMIN)
    assert r.status_code == 200 and r.json()["active_version"] == "2" and r.json()["previous_version"] == "3"
    r = client.post(f"/v1/models/{name}:rollback", auth=ADMIN)
    assert r.json()["active_version"] == "1"
    r = client.post(f"/v1/models/{name}:rollback", auth=ADMIN)
    assert r.status_code == 409 and r.json()["error"]["code"] == "nothing_to_roll_back"
    statuses = {v: m["status"] for v, m in _versions(client, name).items()}
    assert statuses == {"1": "active", "2": "retired", "3": "retired"}
    # a retired version can be promoted again
    assert client.post(f"/v1/models/{name}/versions/3:promote", auth=ADMIN).json()["active_version"] == "3"


def test_promote_and_rollback_need_an_admin(client) -> None:
    name = _name()
    assert upload_model(client, toy_classifier(seed=23), name, "1", labels=LABELS).status_code == 201
    for role in ("patient", "integrator"):
        r = client.post(f"/v1/models/{name}/versions/1:promote", auth=signed("x", role=role))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        assert client.post(f"/v1/models/{name}:rollback", auth=signed("x", role=role)).status_code == 403
    assert client.post(f"/v1/models/{name}/versions/7:promote", auth=ADMIN).status_code == 404
    assert client.post(f"/v1/models/{name}/versions/1:promote").status_code == 401


def test_a_corrupted_blob_cannot_be_promoted(client) -> None:
    name = _name()
    sha = upload_model(client, toy_classifier(seed=24), name, "1", labels=LABELS).json()["sha256"]
    blob = client.app.state.store.blob_path(sha)
    original = blob.read_bytes()
    blob.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    try:
        r = client.post(f"/v1/models/{name}/versions/1:promote", auth=ADMIN)
        assert r.status_code == 409 and r.json()["error"]["code"] == "model_blob_missing"
        assert _versions(client, name)["1"]["status"] == "staged"
    finally:
        blob.write_bytes(original)


def _served(c, name: str) -> str | None:
    r = c.get("/v1/models/served", auth=signed("ops", role="admin"))
    assert r.status_code == 200
    return r.json()["models"].get(name, {}).get("version")


def test_every_replica_hot_swaps_on_promotion_and_rollback(client, replica_b) -> None:
    a_id = client.get("/v1/models/served", auth=ADMIN).json()["replica_id"]
    b_id = replica_b.get("/v1/models/served", auth=ADMIN).json()["replica_id"]
    assert a_id != b_id
    name = _name()
    for v, seed in (("1", 30), ("2", 31)):
        assert upload_model(client, toy_classifier(seed=seed), name, v, labels=LABELS).status_code == 201
    assert _served(client, name) is None and _served(replica_b, name) is None
    # promoted through replica A; B hears it only through NATS (its periodic reconcile is 10 minutes in tests)
    assert client.post(f"/v1/models/{name}/versions/1:promote", auth=ADMIN).status_code == 200
    assert wait_for(lambda: _served(client, name) == "1" and _served(replica_b, name) == "1"), \
        (_served(client, name), _served(replica_b, name))
    assert replica_b.post(f"/v1/models/{name}/versions/2:promote", auth=ADMIN).status_code == 200
    assert wait_for(lambda: _served(client, name) == "2" and _served(replica_b, name) == "2")
    assert client.post(f"/v1/models/{name}:rollback", auth=ADMIN).status_code == 200
    assert wait_for(lambda: _served(client, name) == "1" and _served(replica_b, name) == "1")
    watcher_b = replica_b.app.state.watcher
    assert watcher_b.events_seen >= 3


def test_listing_filters_and_needs_the_gateway(client) -> None:
    name = _name()
    assert upload_model(client, toy_classifier(seed=40), name, "1", labels=LABELS).status_code == 201
    r = client.get("/v1/models", params={"status": "staged", "name": name}, auth=signed("p", role="patient"))
    assert [m["version"] for m in r.json()["items"]] == ["1"]
    assert r.json()["items"][0]["download_url"] == f"/v1/models/{name}/versions/1/download"
    assert client.get("/v1/models", params={"status": "bogus"}, auth=ADMIN).status_code == 422
    assert client.get("/v1/models").status_code == 401
    one = client.get(f"/v1/models/{name}/versions/1", auth=ADMIN)
    assert one.status_code == 200 and one.json()["name"] == name


def test_a_replayed_or_stale_promotion_event_changes_nothing(client, replica_b) -> None:
    """The event only triggers a re-read of the registry, so redeliveries and out-of-date events are harmless."""
    from app.events import ModelPromotedV1

    name = _name()
    for v, seed in (("1", 50), ("2", 51)):
        assert upload_model(client, toy_classifier(seed=seed), name, v, labels=LABELS).status_code == 201
    client.post(f"/v1/models/{name}/versions/1:promote", auth=ADMIN)
    client.post(f"/v1/models/{name}/versions/2:promote", auth=ADMIN)
    assert wait_for(lambda: _served(client, name) == "2" and _served(replica_b, name) == "2")
    runtime_b, watcher_b = replica_b.app.state.runtime, replica_b.app.state.watcher

    def idle() -> bool:
        return watcher_b.idle

    assert wait_for(idle)
    swaps_before, seen_before = runtime_b.swaps, watcher_b.events_seen
    stale = ModelPromotedV1(model_name=name, version="1", sha256="0" * 64)  # says v1; the registry says v2
    bus = client.app.state.bus
    for _ in range(2):  # and once more, as a redelivery would
        client.portal.call(bus.publish_raw, stale.subject, stale.model_dump(mode="json"), str(uuid.uuid4()))
    assert wait_for(lambda: watcher_b.events_seen >= seen_before + 2 and idle())
    assert runtime_b.swaps == swaps_before and _served(replica_b, name) == "2"
    assert client.portal.call(client.app.state.runtime.reconcile) is False
