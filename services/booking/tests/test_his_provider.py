"""The HTTP HIS provider against a real local HIS server: schedule sync, forwarded bookings and cancellations,
a HIS that times out, and one that sells our held slot."""
from datetime import timedelta

import pytest

from zhenxi_common.testing import signed

from .conftest import ADMIN, hold, make_patient
from .his_server import running_his


@pytest.fixture()
def his(client, svc):
    with running_his(svc.today() + timedelta(days=4)) as (url, state):
        r = client.post("/v1/admin/hospitals", json={"name": f"外院{id(state)}", "city": "青川", "provider": "his",
                                                     "his_base_url": url}, auth=ADMIN)
        assert r.status_code == 201, r.text
        hosp = r.json()
        sync = client.post(f"/v1/admin/hospitals/{hosp['id']}:sync", auth=ADMIN)
        assert sync.status_code == 200, sync.text
        assert sync.json() == {"doctors": 1, "sessions": 1, "skipped": 1}
        doctors = client.get(f"/v1/doctors?hospital={hosp['id']}", auth=ADMIN).json()["items"]
        assert [d["department"]["id"] for d in doctors] == ["neurology"]
        sessions = client.get(f"/v1/doctors/{doctors[0]['id']}/sessions", auth=ADMIN).json()
        assert [s["remaining"] for s in sessions] == [4]
        yield state, sessions[0]["id"]


def _confirm(client, hold_id, user, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/v1/bookings", json={"hold_id": hold_id, "patient": make_patient()}, headers=headers,
                       auth=signed(user))


def test_booking_is_forwarded_and_cancel_too(client, his):
    state, sid = his
    h = hold(client, sid, "his-1").json()
    r = _confirm(client, h["id"], "his-1")
    assert r.status_code == 201, r.text
    assert list(state.appointments) == [h["id"]]   # our hold id is the HIS's request id
    assert client.post(f"/v1/bookings/{r.json()['id']}:cancel", auth=signed("his-1")).status_code == 200
    assert state.cancelled == ["A-1"]


def test_his_timeout_keeps_the_hold_and_a_retry_books_once(client, svc, his):
    state, sid = his
    state.mode = "slow"
    saved = svc.settings.his_timeout_s
    svc.settings.his_timeout_s = 0.3
    try:
        h = hold(client, sid, "his-2").json()
        r = _confirm(client, h["id"], "his-2", key="his-retry")
        assert r.status_code == 504 and r.json()["error"]["code"] == "his_timeout"
        assert client.get("/v1/bookings", auth=signed("his-2")).json()["items"] == []
        state.mode = "ok"
        patient_retry = _confirm(client, h["id"], "his-2", key="his-retry")
        assert patient_retry.status_code == 201, patient_retry.text
        # the HIS saw the same request id twice and kept one appointment
        assert len([k for k in state.appointments if k == h["id"]]) == 1
    finally:
        svc.settings.his_timeout_s = saved


def test_his_sold_out_after_our_hold(client, his):
    state, sid = his
    h = hold(client, sid, "his-3").json()
    state.mode = "sold_out"
    r = _confirm(client, h["id"], "his-3")
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "session_full" and err["details"]["source"] == "his"
    assert err["details"]["field"] == "session_id"
    # the hold is released and the HIS's word is taken: nothing left
    assert client.get(f"/v1/sessions/{sid}", auth=signed("his-3")).json()["remaining"] == 0
    r = client.post("/v1/bookings", json={"hold_id": h["id"], "patient": make_patient()}, auth=signed("his-3"))
    assert r.json()["error"]["code"] == "hold_not_active"
    assert hold(client, sid, "his-4").json()["error"]["code"] == "session_full"
