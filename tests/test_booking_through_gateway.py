"""Booking end to end through the gateway: a patient registers, finds a doctor by department, holds and confirms
with an Idempotency-Key, watches the live count over SSE and cancels (``:cancel`` paths, custom headers and
event streams all pass the gateway's proxy). The catalogue is set up by an admin caller signed as the gateway."""
import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from zhenxi_common.testing import free_port, running_service, signed

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stack(zx_env):
    env = dict(os.environ)
    env["BOOKING_LOG_LEVEL"] = env["GATEWAY_LOG_LEVEL"] = "WARNING"   # running_service does not drain stderr
    booking_port = free_port()
    env["GATEWAY_BOOKING_URL"] = f"http://127.0.0.1:{booking_port}"
    with running_service(ROOT / "services" / "booking", booking_port, env, timeout_s=120) as booking, \
            running_service(ROOT / "gateway", free_port(), env) as gateway:
        yield booking, gateway


def test_patient_books_and_cancels_through_the_gateway(stack):
    booking, gw = stack
    admin = signed("e2e-admin", role="admin")
    with httpx.Client(base_url=booking, timeout=30) as c:
        h = c.post("/v1/admin/hospitals", json={"name": "网关测试医院", "city": "滨江"}, auth=admin).json()
        d = c.post("/v1/admin/doctors", json={"hospital_id": h["id"], "department_id": "dermatology",
                                              "name": "皮肤科医生", "title": "副主任医师",
                                              "specialties": ["湿疹"]}, auth=admin).json()
        day = (datetime.now(UTC) + timedelta(days=4)).date().isoformat()
        s = c.post("/v1/admin/sessions", json={"doctor_id": d["id"], "date": day, "period": "afternoon",
                                               "capacity": 2, "fee": 60}, auth=admin).json()

    creds = {"username": "booking_e2e", "password": "booking-e2e-pass-1"}
    assert httpx.post(f"{gw}/api/auth/register", json=creds).status_code == 201
    token = httpx.post(f"{gw}/api/auth/login", json=creds).json()["access_token"]
    with httpx.Client(base_url=f"{gw}/api/booking", timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as c:
        found = c.get("/v1/doctors?department=dermatology&available=true").json()["items"]
        assert [x["id"] for x in found] == [d["id"]]

        events: list[dict] = []

        def watch() -> None:
            with c.stream("GET", f"/v1/sessions/{s['id']}/events?max_events=2") as r:
                assert r.headers["content-type"].startswith("text/event-stream")
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))

        t = threading.Thread(target=watch)
        t.start()
        for _ in range(100):  # the first event arrives once the stream is subscribed (bounded wait)
            if events:
                break
            time.sleep(0.05)
        hold = c.post("/v1/holds", json={"session_id": s["id"]})
        assert hold.status_code == 201, hold.text
        t.join(timeout=20)
        assert [e["remaining"] for e in events] == [2, 1]

        body = {"hold_id": hold.json()["id"],
                "patient": {"name": "李雷", "id_number": "11010519491231002X", "phone": "13912345678"}}
        first = c.post("/v1/bookings", json=body, headers={"Idempotency-Key": "gw-tap"})
        again = c.post("/v1/bookings", json=body, headers={"Idempotency-Key": "gw-tap"})
        assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
        assert first.json()["patient"]["id_number"] == "1101**********002X"
        voucher = c.get(f"/v1/bookings/{first.json()['id']}/voucher?format=png")
        assert voucher.content.startswith(b"\x89PNG")
        cancelled = c.post(f"/v1/bookings/{first.json()['id']}:cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert c.get(f"/v1/sessions/{s['id']}/remaining").json()["remaining"] == 2
