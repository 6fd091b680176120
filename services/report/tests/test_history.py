"""History across reports: trends against knowledge thresholds, critical values with their event, the list,
deletion of everything a report stored, and progress over SSE."""
from __future__ import annotations

import asyncio
import json
import os

import nats
import pytest

from zhenxi_common.bus import stream_name_for
from zhenxi_common.testing import signed

from conftest import sample


def lab_report(client, user: str, photo: str, wait: bool = True, **data):
    r = client.post(f"/v1/reports?wait={'true' if wait else 'false'}", files=[("lab", (photo, sample(photo), "image/jpeg"))],
                    data=data, auth=signed(user))
    assert r.status_code in (200, 202), r.text
    return r.json()


def test_trend_flags_a_meaningful_fall_within_range(client):
    first = lab_report(client, "trend-user", "lab_cbc_synthetic_earlier.jpg")
    second = lab_report(client, "trend-user", "lab_cbc_synthetic.jpg")
    assert first["status"] == second["status"] == "completed"
    hgb_rows = [i for i in second["report"]["sections"]["lab"]["indicators"] if i["code"] == "HGB"]
    assert hgb_rows and hgb_rows[0]["flag"] == "N"                  # 120 g/L: inside its printed range
    trends = {t["code"]: t for t in second["report"]["trends"]}
    hgb = trends["HGB"]
    assert [p["value"] for p in hgb["points"]] == [146.0, 120.0]
    assert hgb["direction"] == "fall" and hgb["meaningful"] is True
    assert hgb["threshold"]["id"] == "trend_threshold:HGB" and hgb["threshold"]["absolute"] == 20
    sentence = [s for s in second["report"]["summary"] if s["template"] == "trend_change"]
    assert any("trend_threshold:HGB" in s["sources"] for s in sentence)
    # WBC 5.07 -> 7.75 (+53 %) crosses only the default threshold (50 %); MCV barely moves and is not flagged
    assert trends["MCV"]["meaningful"] is False
    html = client.get(f"/v1/reports/{second['id']}?format=html", auth=signed("trend-user")).text
    assert "<svg" in html and "polyline" in html


async def _events(subjects: tuple[str, ...], report_id: str, timeout_s: float = 20.0) -> dict[str, dict]:
    prefix = os.environ["NATS_SUBJECT_PREFIX"]
    nc = await nats.connect(os.environ["NATS_URL"])
    js = nc.jetstream()
    found: dict[str, dict] = {}
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline and set(subjects) - set(found):
            for subject in subjects:
                sub = await js.subscribe(f"{prefix}{subject}", stream=stream_name_for(prefix), ordered_consumer=True)
                try:
                    while True:
                        msg = await sub.next_msg(timeout=0.5)
                        data = json.loads(msg.data)
                        if data.get("report_id") == report_id:
                            found[subject] = data
                except (TimeoutError, nats.errors.TimeoutError):
                    pass
                await sub.unsubscribe()
    finally:
        await nc.close()
    return found


def test_critical_value_gives_banner_and_events(client):
    rep = lab_report(client, "critical-user", "lab_cbc_synthetic_critical.jpg", symptoms="最近很乏力")
    body = rep["report"]
    assert rep["urgent"] is True and body["urgent"] is True and body["urgent_banner"]["text"]
    crit = {c["code"]: c for c in body["critical"]}
    assert crit["HGB"]["flag"] == "LL"
    assert body["summary"][0]["template"] == "critical_value"          # the most urgent sentence first
    assert body["urgency"] == "emergency" and body["departments"][0]["id"] == "emergency"
    html = client.get(f"/v1/reports/{rep['id']}?format=html", auth=signed("critical-user")).text
    assert 'class="banner"' in html
    events = asyncio.run(_events(("report.critical.v1", "report.completed.v1"), rep["id"]))
    assert events["report.critical.v1"]["critical"] == [c for c in events["report.critical.v1"]["critical"]]
    assert {"code": "HGB", "flag": "LL"} in events["report.critical.v1"]["critical"]
    done = events["report.completed.v1"]
    assert done["user_id"] == "critical-user" and done["urgency"] == "emergency"
    assert {"code": "HGB", "flag": "LL"} in done["abnormal"]
    assert done["report_date"] and "emergency" in done["departments"]
    # the conditions nlp suggested travel with the event (tips reads them)
    assert done["conditions"] == [c["id"] for c in body["sections"]["symptoms"].get("conditions") or []]
    assert "最近很乏力" not in json.dumps(done, ensure_ascii=False)      # no personal text in events


def test_list_is_cursor_paginated_and_per_user(client):
    ids = [client.post("/v1/reports?wait=true", data={"symptoms": f"头痛第{i}天"}, auth=signed("pager")).json()["id"]
           for i in range(3)]
    page1 = client.get("/v1/reports?limit=2", auth=signed("pager")).json()
    assert len(page1["items"]) == 2 and page1["next_cursor"]
    page2 = client.get(f"/v1/reports?limit=2&cursor={page1['next_cursor']}", auth=signed("pager")).json()
    assert len(page2["items"]) == 1 and page2["next_cursor"] is None
    seen = [i["id"] for i in page1["items"] + page2["items"]]
    assert seen == list(reversed(ids))                                  # newest first, no overlap, no gap
    assert client.get("/v1/reports", auth=signed("nobody")).json()["items"] == []
    bad = client.get("/v1/reports?cursor=not-a-cursor", auth=signed("pager"))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_cursor"


def test_delete_removes_uploads_and_derived_images(client):
    r = client.post("/v1/reports?wait=true", files=[("xray", ("c.png", sample("cxr_nih_00000075_000.png"), "image/png"))],
                    auth=signed("forget-me"))
    rep = r.json()
    assert rep["status"] == "completed"
    store = client.app.state.reports.store
    img = rep["report"]["sections"]["xray"]["images"][0]
    assert img["overlays"]
    png = client.get(f"/v1/reports/{rep['id']}/images/{img['overlays'][0]['image_id']}", auth=signed("forget-me"))
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert client.get(f"/v1/reports/{rep['id']}/images/{img['overlays'][0]['image_id']}",
                      auth=signed("someone-else")).status_code == 404
    import hashlib

    paths = [store.path_for("forget-me", hashlib.sha256(sample("cxr_nih_00000075_000.png")).hexdigest()),
             store.path_for("forget-me", hashlib.sha256(png.content).hexdigest())]
    assert all(p.exists() for p in paths)
    assert client.delete(f"/v1/reports/{rep['id']}", auth=signed("forget-me")).status_code == 204
    assert not any(p.exists() for p in paths)
    assert client.get(f"/v1/reports/{rep['id']}", auth=signed("forget-me")).status_code == 404
    assert client.delete(f"/v1/reports/{rep['id']}", auth=signed("forget-me")).status_code == 404


def test_progress_streams_over_sse(client):
    rep = client.post("/v1/reports", data={"symptoms": "肚子疼，拉肚子"}, auth=signed("sse-user"))
    assert rep.status_code == 202
    events = []
    with client.stream("GET", f"/v1/reports/{rep.json()['id']}/events", auth=signed("sse-user")) as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        current = None
        for line in s.iter_lines():
            if line.startswith("event: "):
                current = line[7:]
            elif line.startswith("data: "):
                events.append((current, json.loads(line[6:])))
                if current == "report":
                    break
    statuses = [d["status"] for e, d in events if e == "section"]
    assert statuses[-1] == "done"
    assert events[-1] == ("report", {"status": "completed", "urgency": events[-1][1]["urgency"], "urgent": False})


@pytest.mark.parametrize("lang", ["en"])
def test_english_summary_on_request(client, lang):
    r = client.post("/v1/reports?wait=true", data={"symptoms": "I have had a cough for three days", "lang": lang},
                    auth=signed("english-user"))
    body = r.json()["report"]
    assert body["lang"] == "en" and "not a diagnosis" in body["disclaimer"]["text"]
    assert all(not any("\u4e00" <= ch <= "\u9fff" for ch in s["text"]) for s in body["summary"]
               if s["template"] != "symptoms_advice")
