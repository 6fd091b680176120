"""Fine-tuning job API over the real stack: zip checks (bombs, traversal, layout, decoding, duplicates, counts),
storage, the work queue, visibility per caller, and Server-Sent Events replay/resume from any replica.
The worker itself runs for real in test_training_jobs_e2e.py."""
from __future__ import annotations

import io
import json
import stat
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from conftest import encode, toy_classifier, upload_model, wait_for

from zhenxi_common.testing import signed

INTEGRATOR = signed("int-jobs", role="integrator")
ADMIN = signed("admin-jobs", role="admin")


def image(seed: int, side: int = 48) -> bytes:
    rng = np.random.default_rng(seed)
    return encode(rng.integers(0, 256, (side, side), dtype=np.uint8))


def make_zip(entries: dict[str, bytes], *, symlinks: tuple[str, ...] = (), stored: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def dataset(per_class: int = 6, classes: tuple[str, ...] = ("effusion", "normal"), prefix: str = "",
            seed: int = 0) -> dict[str, bytes]:
    return {f"{prefix}{c}/img_{i}.png": image(seed * 1000 + k * 100 + i)
            for k, c in enumerate(classes) for i in range(per_class)}


def post_job(c, data: bytes, auth=INTEGRATOR, **form):
    form.setdefault("epochs", "1")
    form.setdefault("image_size", "64")
    return c.post("/v1/training-jobs", files={"file": ("data.zip", data, "application/zip")},
                  data={k: str(v) for k, v in form.items()}, auth=auth)


def _leftovers(c) -> list[Path]:
    store = c.app.state.store
    return [p for p in Path(store.tmp).iterdir() if not p.name.startswith("view-")]


def test_a_good_zip_becomes_a_queued_job(client) -> None:
    before = set(Path(client.app.state.store.uploads).iterdir())
    r = post_job(client, make_zip(dataset()), model_name="jobs-good")
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued" and job["model_name"] == "jobs-good"
    assert job["dataset"] == {"classes": {"effusion": 6, "normal": 6}, "images": 12, "duplicates_dropped": 0}
    assert job["params"]["epochs"] == 1 and job["params"]["image_size"] == 64
    assert job["events_url"] == f"/v1/training-jobs/{job['id']}/events"
    new = set(Path(client.app.state.store.uploads).iterdir()) - before
    assert [p.name for p in new] == [f"{job['id']}.zip"]
    assert _leftovers(client) == []


def test_the_job_reaches_the_work_queue(client) -> None:
    """The job's own message lands on the work queue once. Other tests' jobs are dispatched asynchronously and may
    land at any moment, so the queue is searched for this job's id rather than its length compared."""
    import asyncio

    import nats
    from nats.js.errors import NotFoundError

    s = client.app.state.settings

    async def queued_for(job_id: str) -> int:
        nc = await nats.connect(s.nats_url)
        try:
            js = nc.jetstream()
            state = (await js.stream_info(s.work_queue_stream)).state
            found = 0
            for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
                try:
                    msg = await js.get_msg(s.work_queue_stream, seq)
                except NotFoundError:
                    continue  # acknowledged by a worker or never stored at this sequence
                if json.loads(msg.data).get("job_id") == job_id:
                    found += 1
            return found
        except NotFoundError:
            return 0  # the stream itself is created on the first dispatch
        finally:
            await nc.close()

    r = post_job(client, make_zip(dataset(seed=1)), model_name="jobs-queue")
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert wait_for(lambda: asyncio.run(queued_for(job_id)) == 1, timeout_s=60), "the dispatcher did not queue the job"

    async def retention() -> str:
        nc = await nats.connect(s.nats_url)
        try:
            return str((await nc.jetstream().stream_info(s.work_queue_stream)).config.retention)
        finally:
            await nc.close()

    assert "workqueue" in asyncio.run(retention()).lower()


def test_layout_variants_that_are_accepted(client) -> None:
    entries = dataset(prefix="my-dataset/", seed=2)
    entries["__MACOSX/my-dataset/effusion/._img_0.png"] = b"resource fork"
    entries["my-dataset/normal/.DS_Store"] = b"finder"
    dup = entries["my-dataset/normal/img_0.png"]
    entries["my-dataset/normal/img_copy.png"] = dup  # within a class: dropped, not an error
    r = post_job(client, make_zip(entries), model_name="jobs-layout")
    assert r.status_code == 202, r.text
    assert r.json()["dataset"] == {"classes": {"effusion": 6, "normal": 6}, "images": 12, "duplicates_dropped": 1}


def _reencoded(png: bytes) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.open(io.BytesIO(png)).save(buf, format="PNG", compress_level=0)
    assert buf.getvalue() != png
    return buf.getvalue()


BAD_ZIPS = {
    "not-a-zip": (lambda: b"PK\x03\x04 certainly not a zip", 422, "zip_invalid"),
    "path-traversal": (lambda: make_zip({**dataset(), "../../evil/x.png": image(1)}), 422, "zip_unsafe_path"),
    "absolute-path": (lambda: make_zip({**dataset(), "/etc/cron.d/x.png": image(1)}), 422, "zip_unsafe_path"),
    "backslash": (lambda: make_zip({**dataset(), "a\\..\\..\\x.png": image(1)}), 422, "zip_unsafe_path"),
    "symlink": (lambda: make_zip(dataset(), symlinks=("normal/link.png",)), 422, "zip_unsafe_path"),
    "bomb-ratio": (lambda: make_zip({**dataset(), "normal/bomb.png": b"\0" * (3 * 1024 * 1024)}), 413, "zip_bomb"),
    "loose-files": (lambda: make_zip({**dataset(), "readme.png": image(2)}), 422, "dataset_layout_invalid"),
    "one-class": (lambda: make_zip(dataset(classes=("normal",))), 422, "dataset_layout_invalid"),
    "not-images": (lambda: make_zip({**dataset(), "normal/notes.txt": b"hello"}), 422, "dataset_layout_invalid"),
    "too-few": (lambda: make_zip({**dataset(classes=("effusion",)), **dataset(3, ("normal",), seed=5)}), 422,
                "dataset_too_few_images"),
    "unreadable": (lambda: make_zip({**dataset(), "normal/broken.png": b"\x89PNG\r\n\x1a\n broken"}), 422,
                   "dataset_images_unreadable"),
    "dup-across-classes": (lambda: make_zip({**dataset(), "normal/same.png": dataset()["effusion/img_0.png"]}),
                           422, "dataset_duplicate_images"),
    "dup-reencoded": (lambda: make_zip({**dataset(), "normal/same.png": _reencoded(dataset()["effusion/img_1.png"])}),
                      422, "dataset_duplicate_images"),
}


@pytest.mark.parametrize("case", list(BAD_ZIPS), ids=list(BAD_ZIPS))
def test_bad_zips_are_refused_with_details_and_nothing_is_kept(client, case) -> None:
    build, status, code = BAD_ZIPS[case]
    uploads_before = set(Path(client.app.state.store.uploads).iterdir())
    r = post_job(client, build(), model_name="jobs-bad")
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"]
    if code == "dataset_too_few_images":
        assert err["details"]["counts"] == {"effusion": 6, "normal": 3} and err["details"]["min_per_class"] == 5
    if code == "dataset_duplicate_images":
        pair = err["details"]["pairs"][0]
        assert {pair["class"], pair["other_class"]} == {"effusion", "normal"}
    if code == "dataset_images_unreadable":
        assert err["details"]["examples"] == ["normal/broken.png"]
    assert set(Path(client.app.state.store.uploads).iterdir()) == uploads_before
    assert _leftovers(client) == []


def test_training_images_are_refused_for_the_same_reasons_as_analysed_ones(client) -> None:
    """One decode path: a pixel bomb, a text file named .png and a DICOM named .png are refused in a training zip
    with the codes the analysis API gives them (the DICOM: training takes PNG/JPEG only)."""
    from app.errors import ImageTooLargeError, UnsupportedMediaTypeError
    from app.imaging import load_image

    buf = io.BytesIO()
    Image.new("1", (9000, 9000)).save(buf, format="PNG")
    bomb = buf.getvalue()
    dicom = b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00" + b"\0" * 64
    with pytest.raises(ImageTooLargeError):
        load_image(bomb, "bomb.png", "image/png")
    with pytest.raises(UnsupportedMediaTypeError):
        load_image(b"just text", "notes.png", None)
    r = post_job(client, make_zip({**dataset(), "normal/bomb.png": bomb, "normal/notes.png": b"just text",
                                   "effusion/film.png": dicom}, stored=True), model_name="jobs-decode")
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "dataset_images_unreadable"
    assert sorted(err["details"]["examples"]) == ["effusion/film.png", "normal/bomb.png", "normal/notes.png"]
    assert err["details"]["reasons"] == {"image_too_large": 1, "unsupported_media_type": 2}


@pytest.mark.parametrize("build, code", [
    (lambda: make_zip({f"c{i % 2}/f{i}.png": image(i, 8) for i in range(41)}), "zip_too_many_files"),
    (lambda: make_zip({f"c{i % 2}/f{i}.png": b"\0" * 400_000 for i in range(6)}), "zip_bomb"),
    (lambda: make_zip({f"c{i % 2}/f{i}.bin.png": np.random.default_rng(i).bytes(120_000) for i in range(6)},
                      stored=True), "training_zip_too_large"),
], ids=["too-many-files", "total-uncompressed", "zip-too-large"])
def test_size_limits(replica_b, build, code) -> None:
    r = post_job(replica_b, build(), model_name="jobs-limits")
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == code
    assert _leftovers(replica_b) == []


@pytest.mark.parametrize("form, code", [
    ({"epochs": "0"}, "training_params_invalid"),
    ({"image_size": "70"}, "training_params_invalid"),
    ({"val_fraction": "0.9"}, "training_params_invalid"),
    ({"epochs": "many"}, "validation_error"),
    ({"model_name": "../x"}, "invalid_model_name"),
    ({"model_name": "ok", "version": "a b"}, "invalid_model_name"),
])
def test_bad_parameters(client, form, code) -> None:
    r = post_job(client, make_zip(dataset()), **form)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code


def test_the_target_model_version_is_checked_before_training(client) -> None:
    name = f"jobs-taken-{uuid.uuid4().hex[:6]}"
    assert upload_model(client, toy_classifier(seed=90), name, "1", labels=["a", "b"]).status_code == 201
    r = post_job(client, make_zip(dataset()), model_name=name, version="1")
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_version_exists"
    assert post_job(client, make_zip(dataset()), model_name=name, version="2").status_code == 202


def test_roles_and_visibility(client) -> None:
    assert post_job(client, make_zip(dataset()), auth=signed("p-1", role="patient")).status_code == 403
    mine = post_job(client, make_zip(dataset(seed=3)), auth=signed("int-a", role="integrator")).json()
    url = f"/v1/training-jobs/{mine['id']}"
    assert client.get(url, auth=signed("int-a", role="integrator")).status_code == 200
    other = client.get(url, auth=signed("int-b", role="integrator"))
    assert other.status_code == 404 and other.json()["error"]["code"] == "training_job_not_found"
    assert client.get(url + "/events", auth=signed("int-b", role="integrator")).status_code == 404
    assert client.get(url, auth=ADMIN).status_code == 200
    assert client.get(url, auth=signed("p-1", role="patient")).status_code == 403
    listed = client.get("/v1/training-jobs", auth=signed("int-b", role="integrator")).json()["items"]
    assert mine["id"] not in [j["id"] for j in listed]
    assert mine["id"] in [j["id"] for j in client.get("/v1/training-jobs", auth=ADMIN).json()["items"]]
    assert client.get("/v1/training-jobs/not-a-uuid", auth=ADMIN).status_code == 404


def parse_sse(text: str) -> list[dict]:
    events = []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line.startswith(":") or ":" not in line:
                continue
            k, v = line.split(":", 1)
            fields[k] = v.strip()
        if "event" in fields:
            events.append({"id": int(fields["id"]) if "id" in fields else None, "event": fields["event"],
                           "data": json.loads(fields["data"])})
    return events


def test_events_replay_in_order_and_resume_from_any_replica(client, replica_b) -> None:
    """The job's lifecycle is written with the same job-store functions the worker uses (the worker process
    itself is exercised in test_training_jobs_e2e.py); SSE then replays it from either replica."""
    from app import jobs as jobs_mod

    job = post_job(client, make_zip(dataset(seed=4)), model_name="jobs-sse", auth=ADMIN).json()
    jid = uuid.UUID(job["id"])
    sm = client.app.state.sessionmaker

    async def run_lifecycle() -> None:
        async with sm() as s, s.begin():
            assert await jobs_mod.claim_job(s, jid, stale_after_s=600) is not None
        async with sm() as s, s.begin():
            assert await jobs_mod.claim_job(s, jid, stale_after_s=600) is None  # already running
        for epoch in (1, 2):
            async with sm() as s, s.begin():
                await jobs_mod.record_event(s, jid, "progress", {"epoch": epoch, "loss": 1.0 / epoch,
                                                                 "val_auroc": 0.5 + epoch / 10})
        async with sm() as s, s.begin():
            await jobs_mod.finish_job(s, jid, error={"code": "training_failed", "message": "m", "details": {}})

    client.portal.call(run_lifecycle)
    r = replica_b.get(f"/v1/training-jobs/{jid}/events", auth=ADMIN)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.text)
    kinds = [(e["event"], e["data"].get("status") or e["data"].get("epoch")) for e in events]
    assert kinds == [("status", "queued"), ("status", "running"), ("progress", 1), ("progress", 2),
                     ("error", "failed"), ("end", "failed")]
    ids = [e["id"] for e in events if e["id"] is not None]
    assert ids == sorted(ids)
    resumed = parse_sse(client.get(f"/v1/training-jobs/{jid}/events", headers={"Last-Event-ID": str(ids[2])},
                                   auth=ADMIN).text)
    assert [e["event"] for e in resumed] == ["progress", "error", "end"]
    after = parse_sse(client.get(f"/v1/training-jobs/{jid}/events?after={ids[-1]}", auth=ADMIN).text)
    assert [e["event"] for e in after] == ["end"]
    got = client.get(f"/v1/training-jobs/{jid}", auth=ADMIN).json()
    assert got["status"] == "failed" and got["progress"]["epoch"] == 2 and got["error"]["code"] == "training_failed"
