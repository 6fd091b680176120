"""Hold -> confirm -> voucher -> cancel through the HTTP API, with the rules and every bad input of the issue."""
from datetime import datetime, timedelta

from zhenxi_common.testing import signed

from .conftest import ADMIN, book, hold, make_doctor, make_hospital, make_id_number, make_patient, make_session


def _err(r, status: int, code: str, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code, body
    assert body["message"]
    if field is not None:
        assert body["details"]["field"] == field, body
    return body


def test_admin_routes_need_admin(client):
    r = client.post("/v1/admin/hospitals", json={"name": "x", "city": "y"}, auth=signed("p", role="patient"))
    _err(r, 403, "forbidden")


def test_doctor_department_must_come_from_the_taxonomy(client):
    h = make_hospital(client)
    r = client.post("/v1/admin/doctors", json={"hospital_id": h["id"], "department_id": "astrology",
                                               "name": "某", "title": "主治医师"}, auth=ADMIN)
    _err(r, 422, "unknown_department", "department_id")
    r = client.post("/v1/admin/doctors", json={"hospital_id": h["id"], "department_id": "cardiology",
                                               "name": "某", "title": "主治医师", "extra": 1}, auth=ADMIN)
    _err(r, 422, "validation_error")


def test_hold_confirm_voucher_and_history(client):
    s = make_session(client, capacity=3)
    patient = make_patient(name="王小明")
    r = book(client, s["id"], "alice", patient)
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["seq_no"] == 1 and b["status"] == "confirmed"
    assert b["window_start"] == "08:00" and b["window_end"] == "09:20"   # 4 hours split over 3 numbers
    assert b["patient"] == {"name": "王**", "id_number": patient["id_number"][:4] + "*" * 10 + patient["id_number"][-4:],
                            "phone": patient["phone"][:3] + "****" + patient["phone"][-4:]}
    assert client.get(f"/v1/sessions/{s['id']}", auth=signed("alice")).json()["remaining"] == 2

    v = client.get(f"/v1/bookings/{b['id']}/voucher", auth=signed("alice"))
    assert v.status_code == 200
    voucher = v.json()
    assert voucher["seq_no"] == 1 and len(voucher["verify_code"]) == 8
    assert voucher["hospital"] and voucher["department"] == "心血管科" and voucher["doctor"] == "测试医生"
    assert voucher["date"] == s["date"] and voucher["period"] == "morning"
    png = client.get(f"/v1/bookings/{b['id']}/voucher?format=png", auth=signed("alice"))
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n") and len(png.content) > 200

    second = book(client, s["id"], "alice", make_patient())
    assert second.json()["seq_no"] == 2
    page1 = client.get("/v1/bookings?limit=1", auth=signed("alice")).json()
    page2 = client.get(f"/v1/bookings?limit=1&cursor={page1['next_cursor']}", auth=signed("alice")).json()
    assert {page1["items"][0]["id"], page2["items"][0]["id"]} == {b["id"], second.json()["id"]}
    assert page2["next_cursor"] is None


def test_another_users_booking_and_hold_are_404(client):
    s = make_session(client)
    b = book(client, s["id"], "owner").json()
    for path in (f"/v1/bookings/{b['id']}", f"/v1/bookings/{b['id']}/voucher"):
        _err(client.get(path, auth=signed("intruder")), 404, "booking_not_found")
    _err(client.post(f"/v1/bookings/{b['id']}:cancel", auth=signed("intruder")), 404, "booking_not_found")
    h = hold(client, s["id"], "owner").json()
    r = client.post("/v1/bookings", json={"hold_id": h["id"], "patient": make_patient()}, auth=signed("intruder"))
    _err(r, 404, "hold_not_found", "hold_id")


def test_bad_patient_details_name_the_field(client):
    s = make_session(client)
    h = hold(client, s["id"], "bob").json()
    good = make_id_number()
    bad_check = good[:17] + ("0" if good[17] != "0" else "1")
    cases = [
        ({"id_number": bad_check}, "invalid_id_number", "patient.id_number"),
        ({"id_number": "110101" + "19900230" + "0011"}, "invalid_id_number", "patient.id_number"),
        ({"phone": "12345678901"}, "invalid_phone", "patient.phone"),
    ]
    for override, code, field in cases:
        r = client.post("/v1/bookings", json={"hold_id": h["id"], "patient": make_patient(**override)},
                        auth=signed("bob"))
        _err(r, 422, code, field)
    # nothing was half-written: the hold is still usable
    r = client.post("/v1/bookings", json={"hold_id": h["id"], "patient": make_patient()}, auth=signed("bob"))
    assert r.status_code == 201, r.text
    # a malformed date is a validation error naming the parameter
    r = client.get("/v1/doctors?date_from=2026-02-30", auth=signed("bob"))
    assert r.status_code == 422 and r.json()["error"]["details"]["errors"][0]["loc"] == ["query", "date_from"]
    r = client.post("/v1/admin/sessions", json={"doctor_id": s["doctor_id"], "date": "2020-01-01",
                                                "period": "morning", "capacity": 3, "fee": 1}, auth=ADMIN)
    _err(r, 422, "invalid_date", "date")


def test_full_closed_past_and_cut_off_sessions(client, svc, clock):
    s = make_session(client, capacity=1)
    assert book(client, s["id"], "c1").status_code == 201
    _err(hold(client, s["id"], "c2"), 409, "session_full", "session_id")

    s2 = make_session(client)
    r = client.post(f"/v1/admin/sessions/{s2['id']}:close", json={"reason": "医生外出会诊"}, auth=ADMIN)
    assert r.status_code == 200
    _err(hold(client, s2["id"], "c2"), 409, "session_closed", "session_id")

    s3 = make_session(client, days_ahead=2)
    visit = datetime.fromisoformat(s3["date"])
    # 15:00 the afternoon before (Beijing time) booking closes ...
    clock.set(datetime.combine(visit.date() - timedelta(days=1), datetime.min.time(), tzinfo=svc.tz)
              + timedelta(hours=15, minutes=1))
    _err(hold(client, s3["id"], "c3"), 409, "booking_window_closed", "session_id")
    # ... and after the day it is in the past.
    clock.set(datetime.combine(visit.date() + timedelta(days=1), datetime.min.time(), tzinfo=svc.tz))
    _err(hold(client, s3["id"], "c3"), 409, "session_in_past", "session_id")


def test_expired_hold_is_refused_and_its_slot_comes_back(client, svc, clock):
    s = make_session(client, capacity=1)
    h = hold(client, s["id"], "dora").json()
    _err(hold(client, s["id"], "eve"), 409, "session_full")
    clock.set(svc.now() + timedelta(minutes=svc.settings.hold_minutes + 1))
    r = client.post("/v1/bookings", json={"hold_id": h["id"], "patient": make_patient()}, auth=signed("dora"))
    _err(r, 409, "hold_expired", "hold_id")
    # the sweeper (it also runs in the background) gives the slot back and updates the live count; eve gets it
    client.portal.call(svc.sweep_expired_holds)
    assert client.get(f"/v1/sessions/{s['id']}/remaining", auth=signed("eve")).json()["remaining"] == 1
    assert hold(client, s["id"], "eve").status_code == 201


def test_idempotency_key(client):
    s = make_session(client, capacity=5)
    h = hold(client, s["id"], "fay").json()
    body = {"hold_id": h["id"], "patient": make_patient()}
    headers = {"Idempotency-Key": "tap-1"}
    r1 = client.post("/v1/bookings", json=body, headers=headers, auth=signed("fay"))
    r2 = client.post("/v1/bookings", json=body, headers=headers, auth=signed("fay"))
    assert r1.status_code == r2.status_code == 201
    assert r1.json() == r2.json()
    assert len(client.get("/v1/bookings", auth=signed("fay")).json()["items"]) == 1
    changed = {**body, "patient": {**body["patient"], "phone": "13900000000"}}
    r3 = client.post("/v1/bookings", json=changed, headers=headers, auth=signed("fay"))
    _err(r3, 409, "idempotency_key_reused", "Idempotency-Key")


def test_cancel_releases_the_slot_and_respects_the_deadline(client, svc, clock):
    s = make_session(client, capacity=1, days_ahead=4)
    b = book(client, s["id"], "gus").json()
    assert client.get(f"/v1/sessions/{s['id']}", auth=signed("gus")).json()["remaining"] == 0
    r = client.post(f"/v1/bookings/{b['id']}:cancel", auth=signed("gus"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert client.get(f"/v1/sessions/{s['id']}", auth=signed("gus")).json()["remaining"] == 1
    _err(client.post(f"/v1/bookings/{b['id']}:cancel", auth=signed("gus")), 409, "booking_not_active")
    # the freed sequence number is given again
    again = book(client, s["id"], "hal").json()
    assert again["seq_no"] == 1
    clock.set(datetime.fromisoformat(again["cancel_deadline"]) + timedelta(minutes=1))
    body = _err(client.post(f"/v1/bookings/{again['id']}:cancel", auth=signed("hal")), 409,
                "cancel_deadline_passed", "booking_id")
    assert body["details"]["deadline"] == again["cancel_deadline"]


def test_daily_cap_and_one_per_doctor_per_session(client, svc):
    patient = make_patient()
    doc = make_doctor(client)
    s = make_session(client, doc["id"], days_ahead=5)
    assert book(client, s["id"], "ivy", patient).status_code == 201
    _err(book(client, s["id"], "ivy", patient), 409, "already_booked_session", "patient.id_number")
    for period in ("afternoon", "evening"):
        other = make_session(client, make_doctor(client)["id"], days_ahead=5, period=period)
        assert book(client, other["id"], "ivy", patient).status_code == 201
    assert svc.settings.daily_cap == 3
    fourth = make_session(client, make_doctor(client)["id"], days_ahead=5)
    _err(book(client, fourth["id"], "ivy", patient), 409, "daily_cap_reached", "patient.id_number")


def test_no_shows_lead_to_a_ban(client, svc, clock):
    patient = make_patient()
    ids = []
    for i in range(svc.settings.no_show_ban_threshold):
        s = make_session(client, days_ahead=3 + i)
        ids.append(book(client, s["id"], "jay", patient).json())
    for b in ids:
        _err(client.post(f"/v1/admin/bookings/{b['id']}:no-show", auth=ADMIN), 422, "invalid_date")
    last = datetime.fromisoformat(ids[-1]["date"])
    clock.set(datetime.combine(last.date(), datetime.min.time(), tzinfo=svc.tz) + timedelta(hours=20))
    for b in ids:
        assert client.post(f"/v1/admin/bookings/{b['id']}:no-show", auth=ADMIN).json()["status"] == "no_show"
    s = make_session(client, days_ahead=3 + len(ids) + 2)
    body = _err(book(client, s["id"], "jay", patient), 403, "no_show_banned", "patient.id_number")
    assert body["details"]["no_shows"] == 3
    stats = client.get(f"/v1/admin/stats?date_from={ids[0]['date']}&date_to={ids[-1]['date']}", auth=ADMIN).json()
    assert stats["no_show"] >= 3 and 0 < stats["no_show_rate"] <= 1
    assert {"department_id": "cardiology"}.items() <= stats["per_department_day"][0].items()


def test_closing_a_session_cancels_and_notifies(client):
    s = make_session(client, capacity=4)
    b1 = book(client, s["id"], "kim").json()
    b2 = book(client, s["id"], "lee").json()
    r = client.post(f"/v1/admin/sessions/{s['id']}:close", json={"reason": "设备检修"}, auth=ADMIN)
    assert r.status_code == 200 and r.json()["cancelled_bookings"] == 2
    for user, b in (("kim", b1), ("lee", b2)):
        got = client.get(f"/v1/bookings/{b['id']}", auth=signed(user)).json()
        assert got["status"] == "cancelled" and got["cancel_reason"] == "session_closed"
        notes = client.get("/v1/notifications", auth=signed(user)).json()
        assert any(n["booking_id"] == b["id"] and "设备检修" in n["message"] for n in notes)


def test_admin_lookup_by_blind_index_is_audited_and_masked(client):
    patient = make_patient()
    s = make_session(client)
    b = book(client, s["id"], "max", patient).json()
    r = client.post("/v1/admin/bookings:lookup", json={"id_number": patient["id_number"]},
                    auth=signed("auditor-7", role="admin"))
    assert r.status_code == 200
    assert [x["id"] for x in r.json()] == [b["id"]]
    assert patient["id_number"] not in r.text and patient["phone"] not in r.text
    r = client.post("/v1/admin/bookings:lookup", json={"phone": patient["phone"]}, auth=signed("auditor-7", role="admin"))
    assert [x["id"] for x in r.json()] == [b["id"]]
    _err(client.post("/v1/admin/bookings:lookup", json={}, auth=ADMIN), 422, "lookup_key_required", "id_number")
    audit = client.get("/v1/admin/audit", auth=ADMIN).json()
    mine = [a for a in audit if a["actor_id"] == "auditor-7"]
    assert {a["action"] for a in mine} == {"lookup_by_id_number", "lookup_by_phone"}
    assert all(a["target"]["booking_ids"] == [b["id"]] and a["target"]["patient_user_ids"] == ["max"] for a in mine)
    assert patient["id_number"] not in str(audit)


def test_events_are_written_to_the_outbox(client, svc):
    from sqlalchemy import select

    from app.models import outbox

    s = make_session(client)
    b = book(client, s["id"], "ned").json()
    client.post(f"/v1/bookings/{b['id']}:cancel", auth=signed("ned"))

    async def rows():
        async with svc.tx() as db:
            return (await db.execute(select(outbox.c.subject, outbox.c.payload))).all()

    got = [(r.subject, r.payload) for r in client.portal.call(rows) if r.payload.get("booking_id") == b["id"]]
    assert [g[0] for g in got] == ["booking.created.v1", "booking.cancelled.v1"] or \
           sorted(g[0] for g in got) == ["booking.cancelled.v1", "booking.created.v1"]
    created = next(p for subj, p in got if subj == "booking.created.v1")
    assert created["seq_no"] == 1 and created["department_id"] == "cardiology" and created["visit_date"] == s["date"]
    assert "patient" not in created and "id_number" not in str(created)


def test_unstorable_text_is_a_422_not_a_500(client):
    r = client.post("/v1/admin/hospitals", json={"name": "坏\u0000名", "city": "滨江"}, auth=ADMIN)
    _err(r, 422, "validation_error")
    s = make_session(client)
    h = hold(client, s["id"], "nul").json()
    r = client.post("/v1/bookings", json={"hold_id": h["id"], "patient": make_patient()},
                    headers={"Idempotency-Key": "has space"}, auth=signed("nul"))
    _err(r, 422, "validation_error")
    r = client.get("/v1/doctors?date_from=9999-12-30", auth=signed("nul"))
    _err(r, 422, "invalid_date", "date_from")


def test_dev_seed_is_refused_outside_dev(client, svc):
    import pytest

    from app.seed import SeedRefused, seed_catalogue

    assert svc.settings.env == "test"
    with pytest.raises(SeedRefused):
        client.portal.call(seed_catalogue, svc)


def test_fhir_views(client):
    s = make_session(client, capacity=2)
    b = book(client, s["id"], "fhir-user").json()
    bundle = client.get(f"/v1/sessions/{s['id']}/fhir", auth=signed("fhir-user")).json()
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["Schedule", "Slot", "Slot"]
    slots = [e["resource"] for e in bundle["entry"][1:]]
    assert [x["status"] for x in slots] == ["busy", "free"]
    assert slots[0]["start"] == f"{s['date']}T08:00:00+08:00" and slots[1]["end"] == f"{s['date']}T12:00:00+08:00"
    appt = client.get(f"/v1/bookings/{b['id']}/fhir", auth=signed("fhir-user")).json()
    assert appt["resourceType"] == "Appointment" and appt["status"] == "booked"
    assert appt["slot"] == [{"reference": f"Slot/{s['id']}-1"}]
    assert client.get(f"/v1/bookings/{b['id']}/fhir", auth=signed("other")).status_code == 404


def test_bulk_week_and_releasing_a_hold(client, svc):
    from datetime import timedelta

    doc = make_doctor(client)
    today = svc.today()
    # The next Monday at least two days away: booking a visit closes at 15:00 the day before, so on a Sunday
    # afternoon tomorrow's sessions can no longer be held (this test failed on every Sunday after 15:00).
    ahead = 7 - today.weekday()
    monday = today + timedelta(days=ahead if ahead >= 2 else ahead + 7)
    body = {"doctor_id": doc["id"], "week_start": monday.isoformat(), "capacity": 2, "fee": 30,
            "slots": [{"weekday": 0, "period": "morning"}, {"weekday": 2, "period": "afternoon"},
                      {"weekday": 4, "period": "evening"}]}
    r = client.post("/v1/admin/sessions:bulk-week", json=body, auth=ADMIN)
    assert r.status_code == 201, r.text
    created = r.json()["created"]
    assert [(x["date"], x["period"]) for x in created] == [
        (monday.isoformat(), "morning"), ((monday + timedelta(days=2)).isoformat(), "afternoon"),
        ((monday + timedelta(days=4)).isoformat(), "evening")]
    assert {x["fee_cents"] for x in created} == {3000}
    again = client.post("/v1/admin/sessions:bulk-week", json=body, auth=ADMIN).json()
    assert again == {"created": [], "skipped": 3}
    r = client.post("/v1/admin/sessions:bulk-week", json={**body, "week_start": (monday + timedelta(days=1)).isoformat()},
                    auth=ADMIN)
    _err(r, 422, "invalid_date", "week_start")

    sid = created[0]["id"]
    h = hold(client, sid, "rel").json()
    assert client.get(f"/v1/sessions/{sid}", auth=signed("rel")).json()["remaining"] == 1
    _err(client.delete(f"/v1/holds/{h['id']}", auth=signed("someone-else")), 404, "hold_not_found", "hold_id")
    assert client.delete(f"/v1/holds/{h['id']}", auth=signed("rel")).status_code == 204
    assert client.get(f"/v1/sessions/{sid}", auth=signed("rel")).json()["remaining"] == 2
    _err(client.delete(f"/v1/holds/{h['id']}", auth=signed("rel")), 409, "hold_not_active", "hold_id")


def test_double_tap_on_the_last_slot_returns_the_same_hold(client):
    s = make_session(client, capacity=1)
    first = hold(client, s["id"], "tapper")
    second = hold(client, s["id"], "tapper")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    # everyone else is turned away from the cached count of 0
    body = _err(hold(client, s["id"], "late"), 409, "session_full")
    assert body["details"]["source"] == "live_count"
