"""Current medications: when the request names none, the report reads the user's active plans from the real
reminders service (signed as that user); a reminders that cannot answer does not fail the report."""
from __future__ import annotations

import uuid
from datetime import date

import httpx

from zhenxi_common.testing import signed

from conftest import sample

LAB = "lab_cbc_synthetic.jpg"


def _plan(reminders_url: str, uid: str, drug: str) -> None:
    body = {"drug": drug, "dose": 500, "unit": "mg", "timezone": "Asia/Shanghai",
            "start_date": date.today().isoformat(),
            "schedule": {"kind": "times", "times_of_day": ["08:00", "20:00"]}}
    r = httpx.post(f"{reminders_url}/v1/plans", json=body, auth=signed(uid), timeout=30)
    assert r.status_code == 201, r.text


def _lab_report(client, uid: str, **data) -> dict:
    r = client.post("/v1/reports?wait=true", files=[("lab", (LAB, sample(LAB), "image/jpeg"))], data=data,
                    auth=signed(uid))
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["status"] == "completed", rep
    return rep["report"]["sections"]["lab"]


def test_medications_come_from_the_users_reminder_plans(client, upstreams):
    uid, other = f"med-{uuid.uuid4().hex[:8]}", f"med-{uuid.uuid4().hex[:8]}"
    _plan(upstreams["reminders"].url, uid, "二甲双胍")
    _plan(upstreams["reminders"].url, other, "阿莫西林胶囊")     # someone else's plan is not read
    lab = _lab_report(client, uid)
    assert lab["status"] == "done"
    assert lab["medications"] == {"source": "reminders", "count": 1}
    assert lab["medication_classes"] == ["metformin"]          # nlp interpreted with the plan's drug


def test_medications_given_in_the_request_are_used_as_given(client, upstreams):
    uid = f"med-{uuid.uuid4().hex[:8]}"
    _plan(upstreams["reminders"].url, uid, "阿莫西林胶囊")
    lab = _lab_report(client, uid, medications=["二甲双胍"])
    assert lab["medications"] == {"source": "request", "count": 1}
    assert lab["medication_classes"] == ["metformin"]                 # not the plan's amoxicillin


def test_reminders_down_does_not_fail_the_report(client, upstreams):
    reminders = upstreams["reminders"]
    reminders.kill()
    try:
        lab = _lab_report(client, f"med-{uuid.uuid4().hex[:8]}")
        assert lab["status"] == "done"                       # the report completes, the lab section too
        assert lab["medications"] == {"source": "unavailable", "count": 0}
        assert lab["indicators"]
    finally:
        reminders.start()
