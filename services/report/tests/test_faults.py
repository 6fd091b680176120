"""Faults against real processes: a downstream service killed or paused (SIGSTOP) during a fan-out, and the report
service itself killed mid-fan-out. Real Postgres, Redis and NATS throughout."""
from __future__ import annotations

import asyncio
import os
import secrets
import time
import uuid

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from zhenxi_common.testing import _create_db, _drop_db, migrate, signed

from conftest import SERVICE_DIR, ServiceProcess, sample

LAB = "lab_cbc_synthetic.jpg"
CXR = "cxr_nih_00000075_000.png"


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _rows(url: str, sql: str, *args):
    conn = await asyncpg.connect(_dsn(url))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def rows(sql: str, *args, url: str | None = None):
    return asyncio.run(_rows(url or os.environ["DATABASE_URL"], sql, *args))


def sections(report: dict) -> dict[str, dict]:
    return {s["kind"]: s for s in report["sections"]}


def stored_uploads(report_id: str, url: str | None = None) -> list:
    return rows("SELECT kind, sha256, user_id FROM report.uploads WHERE report_id = $1 AND kind IN ('lab','xray')",
                uuid.UUID(report_id), url=url)


def test_killed_ocr_and_xray_leave_their_sections_unavailable_and_retry_fills_them(client, upstreams):
    ocr, xray = upstreams["ocr"], upstreams["xray"]
    ocr.kill()
    xray.kill()
    try:
        r = client.post("/v1/reports?wait=true", files=[("lab", (LAB, sample(LAB), "image/jpeg")),
                                                        ("xray", (CXR, sample(CXR), "image/png"))],
                        data={"symptoms": "头痛两天"}, auth=signed("fault-user"))
        assert r.status_code == 200, r.text
        rep = r.json()
        assert rep["status"] == "completed"                 # never a 500, the report completes
        secs = sections(rep)
        assert secs["lab"]["status"] == "unavailable" and secs["xray"]["status"] == "unavailable"
        assert secs["lab"]["reason"]["service"] == "ocr" and secs["lab"]["reason"]["code"] == "unreachable"
        assert secs["xray"]["reason"]["service"] == "xray"
        assert secs["symptoms"]["status"] == "done"
        assert sum(s["template"] == "section_unavailable" for s in rep["report"]["summary"]) == 2
        # no upload lost: both files are stored, encrypted, and read back intact
        ups = {u["kind"]: u for u in stored_uploads(rep["id"])}
        assert set(ups) == {"lab", "xray"}
        store = client.app.state.reports.store
        assert store.get("fault-user", ups["lab"]["sha256"]) == sample(LAB)
        assert store.get("fault-user", ups["xray"]["sha256"]) == sample(CXR)
        assert sample(LAB)[:64] not in store.path_for("fault-user", ups["lab"]["sha256"]).read_bytes()
    finally:
        ocr.spawn()      # both load their models at once
        xray.spawn()
        ocr.wait_ready()
        xray.wait_ready()
    r = client.post(f"/v1/reports/{rep['id']}:retry?wait=true", auth=signed("fault-user"))
    assert r.status_code == 200, r.text
    secs = sections(r.json())
    assert secs["lab"]["status"] == "done" and secs["lab"]["runs"] == 2
    assert secs["xray"]["status"] == "done" and secs["xray"]["runs"] == 2
    assert secs["symptoms"]["runs"] == 1                   # a done section is not run again
    body = r.json()["report"]
    assert {i["code"] for i in body["sections"]["lab"]["indicators"]} >= {"WBC", "HGB"}
    assert body["sections"]["xray"]["images"][0]["findings"]
    assert not any(s["template"] == "section_unavailable" for s in body["summary"])
    again = client.post(f"/v1/reports/{rep['id']}:retry", auth=signed("fault-user"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "nothing_to_retry"


def test_paused_nlp_times_out_then_retry_fills_it(client, upstreams):
    nlp = upstreams["nlp"]
    nlp.pause()
    try:
        t0 = time.monotonic()
        r = client.post("/v1/reports?wait=true", data={"symptoms": "胸口闷，喘不上气"}, auth=signed("fault-nlp"))
        assert r.status_code == 200, r.text
        secs = sections(r.json())
        assert secs["symptoms"]["status"] == "unavailable"
        assert secs["symptoms"]["reason"] == {"service": "nlp", "code": "timeout", "detail": secs["symptoms"]["reason"]["detail"]}
        assert time.monotonic() - t0 < 60
    finally:
        nlp.resume()
    r = client.post(f"/v1/reports/{r.json()['id']}:retry?wait=true", auth=signed("fault-nlp"))
    assert r.status_code == 200, r.text
    assert sections(r.json())["symptoms"]["status"] == "done"


@pytest.fixture()
def own_db(zx_env):
    """A database of its own for the restart test, so no other worker of this run can claim its report."""
    base = os.environ["DATABASE_URL"]
    name = f"zxt_report_restart_{secrets.token_hex(3)}"
    asyncio.run(_create_db(base, name))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    env = dict(os.environ, DATABASE_URL=url)
    migrate(SERVICE_DIR, env)
    yield url
    asyncio.run(_drop_db(base, name))


def test_restart_mid_fan_out_resumes_exactly_once(report_env, upstreams, own_db, tmp_path):
    env = dict(report_env, DATABASE_URL=own_db, REPORT_UPLOAD_DIR=str(tmp_path), REPORT_XRAY_TIMEOUT_S="60")
    xray = upstreams["xray"]
    first = ServiceProcess("report", env).start()
    try:
        xray.pause()   # the fan-out will hang on the X-ray section
        r = httpx.post(f"{first.url}/v1/reports", files=[("lab", (LAB, sample(LAB), "image/jpeg")),
                                                        ("xray", (CXR, sample(CXR), "image/png"))],
                       auth=signed("restart-user"), timeout=30)
        assert r.status_code == 202, r.text
        rid = r.json()["id"]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:   # until the lab section is done and the X-ray one is in flight
            st = {s["kind"]: s["status"] for s in httpx.get(f"{first.url}/v1/reports/{rid}",
                                                             auth=signed("restart-user")).json()["sections"]}
            if st == {"lab": "done", "xray": "running"}:
                break
            time.sleep(0.3)
        assert st == {"lab": "done", "xray": "running"}, st
        first.kill()                                  # crash mid-fan-out
    finally:
        xray.resume()
    second = ServiceProcess("report", env, port=first.port).start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            body = httpx.get(f"{second.url}/v1/reports/{rid}", auth=signed("restart-user")).json()
            if body["status"] == "completed":
                break
            time.sleep(0.5)
        assert body["status"] == "completed", body
        secs = sections(body)
        assert secs["lab"]["runs"] == 1 and secs["xray"]["runs"] == 2     # only the unfinished section re-ran
        assert secs["xray"]["status"] == "done"
        (rep,) = rows("SELECT attempts, completions FROM report.reports WHERE id = $1", uuid.UUID(rid), url=own_db)
        assert rep["completions"] == 1 and rep["attempts"] == 1   # the crashed claim rolled back with the process
        events = rows("SELECT payload FROM report.outbox WHERE subject = 'report.completed.v1'", url=own_db)
        assert len(events) == 1
        assert len(stored_uploads(rid, url=own_db)) == 2
    finally:
        second.stop()
