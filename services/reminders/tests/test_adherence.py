"""Adherence statistics, streaks, per-drug history, family consent; refill forecast; calendar; visit reminders."""
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

from icalendar import Calendar

from app.bookings import handle_booking
from app.schemas import RecordIn
from zhenxi_common.events import BookingCreatedV1
from zhenxi_common.testing import signed

from factories import drain, make_plan, parse, plan_occurrences, user


def test_adherence_counts_streaks_and_consent(client, state, in_tx, call):
    uid = user()
    plan = make_plan(client, uid, drug="阿托伐他汀", schedule={"kind": "times", "times_of_day": ["06:07"]})
    occs = plan_occurrences(client, uid, plan["id"])[:4]
    dues = [parse(o["due_at"]) for o in occs]
    rec = lambda o, now, **kw: in_tx(lambda s: state.reminders.record(s, uid, o["id"], RecordIn(**kw), None, now=now))  # noqa: E731
    rec(occs[0], dues[0] + timedelta(minutes=5), state="taken", at=dues[0])
    rec(occs[1], dues[1] + timedelta(minutes=5), state="skipped")
    rec(occs[2], dues[2] + timedelta(hours=2), state="taken", at=dues[2] + timedelta(hours=1, minutes=30))
    drain(call, state.scheduler, dues[3] + timedelta(minutes=state.settings.grace_min + 1))
    now = dues[3] + timedelta(hours=3)
    stats = in_tx(lambda s: state.reminders.adherence(s, uid, uid, 7, now=now))
    assert (stats.taken, stats.taken_late, stats.skipped, stats.missed, stats.due) == (1, 1, 1, 1, 4)
    assert stats.proportion_taken == 0.5
    assert stats.streak_days.longest == 1 and stats.streak_days.current == 0
    drug = stats.per_drug[0]
    assert drug.drug == "阿托伐他汀" and drug.class_id == "statin" and len(drug.days) == 4
    # a family member sees it only with a live consent
    fam = user()
    assert client.get("/v1/adherence", params={"user_id": uid}, auth=signed(fam)).status_code == 404
    grant = client.post("/v1/consents", json={"grantee_id": fam}, auth=signed(uid))
    assert grant.status_code == 201
    seen = client.get("/v1/adherence", params={"user_id": uid, "days": "7"}, auth=signed(fam))
    assert seen.status_code == 200 and seen.json()["user_id"] == uid
    client.delete(f"/v1/consents/{grant.json()['id']}", auth=signed(uid))
    assert client.get("/v1/adherence", params={"user_id": uid}, auth=signed(fam)).status_code == 404
    assert client.get("/v1/adherence", params={"days": "12"}, auth=signed(uid)).status_code == 422


def test_refill_forecast_follows_the_stock(client):
    uid = user()
    plan = make_plan(client, uid, stock=9, dose=1, refill_days_ahead=2,
                     schedule={"kind": "times", "times_of_day": ["08:00", "14:00", "20:00"]})
    assert plan["refill"]["days_left"] == 3 and plan["refill"]["doses_per_day"] == 3
    occ = plan_occurrences(client, uid, plan["id"])[0]
    client.post(f"/v1/occurrences/{occ['id']}:record", json={"state": "taken"}, auth=signed(uid))
    after = client.get(f"/v1/plans/{plan['id']}", auth=signed(uid)).json()
    assert after["stock"] == 8 and after["refill"]["days_left"] == round(8 / 3, 2)
    refills = plan_occurrences(client, uid, plan["id"], kind="refill")
    assert len(refills) == 1 and refills[0]["local_date"] == after["refill"]["remind_on"]


def test_calendar_feed_with_revocable_token(client):
    uid = user()
    make_plan(client, uid, drug="二甲双胍", dose=500, unit="mg")
    tok = client.post("/v1/calendar/token", auth=signed(uid)).json()["token"]
    r = client.get("/v1/calendar.ics", params={"token": tok}, auth=signed("calendar-app"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    events = [c for c in cal.walk("VEVENT")]
    assert len(events) >= 20 and "二甲双胍 500mg" in str(events[0]["summary"])
    client.delete("/v1/calendar/token", auth=signed(uid))
    r = client.get("/v1/calendar.ics", params={"token": tok}, auth=signed("calendar-app"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "calendar_token_invalid"


def test_booking_created_gives_two_visit_reminders_once(client, state, in_tx, call):
    uid = user()
    visit_day = (datetime.now(UTC) + timedelta(days=3)).date()
    payload = {"event_id": str(uuid.uuid4()), "occurred_at": datetime.now(UTC).isoformat(), "user_id": uid,
               "booking_id": f"b-{uuid.uuid4().hex[:6]}", "session_id": "s1", "doctor_id": "d1",
               "hospital_id": "h1", "department_id": "cardiology", "visit_date": visit_day.isoformat(),
               "period": "morning", "window_start": "09:30", "window_end": "10:00", "seq_no": 3, "remaining": 5}
    bus = state.bus
    for _ in range(2):   # a duplicate publish (same msg id) and a replayed delivery change nothing
        call(bus.publish_raw, "booking.created.v1", payload, payload["event_id"])
    deadline = time.monotonic() + 30
    visits = []
    while time.monotonic() < deadline and len(visits) < 2:
        time.sleep(0.3)
        r = client.get("/v1/occurrences", params={"from": datetime.now(UTC).isoformat(),
                                                   "to": (datetime.now(UTC) + timedelta(days=5)).isoformat()},
                       auth=signed(uid))
        visits = [o for o in r.json()["occurrences"] if o["kind"] == "visit"]
    assert len(visits) == 2
    times = sorted(parse(v["due_at"]).astimezone().astimezone(UTC) for v in visits)
    from zoneinfo import ZoneInfo
    sh = [t.astimezone(ZoneInfo("Asia/Shanghai")) for t in times]
    assert sh[0].strftime("%H:%M") == "20:00" and sh[0].date() == visit_day - timedelta(days=1)
    assert sh[1].strftime("%H:%M") == "07:30" and sh[1].date() == visit_day
    # handled again directly (a redelivery past the inbox): still two
    ev = BookingCreatedV1.model_validate_json(json.dumps(payload))
    assert in_tx(lambda s: handle_booking(s, ev)) == 0
    # the booking is cancelled: the reminders not sent yet go away
    cancel = {"event_id": str(uuid.uuid4()), "occurred_at": datetime.now(UTC).isoformat(), "user_id": uid,
              "booking_id": payload["booking_id"], "slot_id": "s1"}
    call(bus.publish_raw, "booking.cancelled.v1", cancel, cancel["event_id"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and visits:
        time.sleep(0.3)
        r = client.get("/v1/occurrences", params={"from": datetime.now(UTC).isoformat(),
                                                   "to": (datetime.now(UTC) + timedelta(days=5)).isoformat()},
                       auth=signed(uid))
        visits = [o for o in r.json()["occurrences"] if o["kind"] == "visit"]
    assert visits == []
