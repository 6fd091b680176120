"""The adherence ledger: records, replays, late and missed doses, intervals from the dose taken, PRN."""
from datetime import timedelta

from app.schemas import RecordIn
from zhenxi_common.testing import signed

from factories import drain, make_plan, outbox_events, parse, plan_occurrences, user


def _record(in_tx, app_state, uid, occ_id, now, **kw):
    return in_tx(lambda s: app_state.reminders.record(s, uid, occ_id, RecordIn(**kw), None, now=now))


def test_record_is_idempotent_and_publishes_once(client, in_tx):
    uid = user()
    plan = make_plan(client, uid)
    occ = plan_occurrences(client, uid, plan["id"])[0]
    first = client.post(f"/v1/occurrences/{occ['id']}:record", json={"state": "taken"}, auth=signed(uid))
    assert first.status_code == 200 and first.json()["state"] == "taken"
    replay = client.post(f"/v1/occurrences/{occ['id']}:record", json={"state": "taken"}, auth=signed(uid))
    assert replay.status_code == 200 and replay.json()["version"] == first.json()["version"]
    events = in_tx(lambda s: outbox_events(s, "dose.recorded.v1", uid))
    assert [e["state"] for e in events] == ["taken"]
    assert events[0]["drug_class"] == "penicillin"
    # the stock went down by one dose, once
    assert client.get(f"/v1/plans/{plan['id']}", auth=signed(uid)).json()["stock"] == 19
    # a different record on a recorded dose needs If-Match
    r = client.post(f"/v1/occurrences/{occ['id']}:record", json={"state": "skipped"}, auth=signed(uid))
    assert r.status_code == 409 and r.json()["error"]["details"]["current"]["state"] == "taken"
    r = client.post(f"/v1/occurrences/{occ['id']}:record", json={"state": "skipped"},
                    headers={"If-Match": str(first.json()["version"])}, auth=signed(uid))
    assert r.status_code == 200 and r.json()["state"] == "skipped"
    assert client.get(f"/v1/plans/{plan['id']}", auth=signed(uid)).json()["stock"] == 20


def test_record_in_the_future_is_a_422(client):
    uid = user()
    plan = make_plan(client, uid)
    occ = plan_occurrences(client, uid, plan["id"])[0]
    r = client.post(f"/v1/occurrences/{occ['id']}:record", json={"state": "taken", "at": "2099-01-01T08:00:00+08:00"},
                    auth=signed(uid))
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "at"
    r = client.post(f"/v1/occurrences/{occ['id']}:record", json={"state": "eaten"}, auth=signed(uid))
    assert r.status_code == 422


def test_late_missed_and_after_midnight(client, state, in_tx, call):
    uid = user()
    plan = make_plan(client, uid, schedule={"kind": "times", "times_of_day": ["23:30"]}, timezone="Asia/Shanghai")
    occs = plan_occurrences(client, uid, plan["id"])
    a, b, c = occs[0], occs[1], occs[2]
    due_a, due_b, due_c = parse(a["due_at"]), parse(b["due_at"]), parse(c["due_at"])
    # taken 40 minutes after a 23:30 dose (past local midnight, within late_after): taken, on its scheduled day
    out, _ = _record(in_tx, state, uid, a["id"], due_a + timedelta(minutes=45), state="taken",
                     at=due_a + timedelta(minutes=40))
    assert out.state == "taken" and out.local_date.isoformat() == a["local_date"]
    out, _ = _record(in_tx, state, uid, b["id"], due_b + timedelta(minutes=95), state="taken",
                     at=due_b + timedelta(minutes=90))
    assert out.state == "taken_late"
    # nothing recorded past the grace period: missed, automatically, once
    drain(call, state.scheduler, due_c + timedelta(minutes=state.settings.grace_min + 1))
    got = client.get(f"/v1/occurrences/{c['id']}", auth=signed(uid)).json()
    assert got["state"] == "missed"
    drain(call, state.scheduler, due_c + timedelta(minutes=state.settings.grace_min + 2))
    missed = [e for e in in_tx(lambda s: outbox_events(s, "dose.recorded.v1", uid)) if e["state"] == "missed"]
    assert [e["occurrence_id"] for e in missed] == [c["id"]]
    assert len(in_tx(lambda s: outbox_events(s, "reminders.dose_missed.v1", uid))) == 1
    # the patient can still say they took it (late)
    out, changed = _record(in_tx, state, uid, c["id"], due_c + timedelta(hours=3), state="taken",
                           at=due_c + timedelta(hours=2, minutes=30))
    assert changed and out.state == "taken_late"


def test_interval_counts_from_the_dose_taken(client, state, in_tx):
    uid = user()
    plan = make_plan(client, uid, drug="头孢呋辛", schedule={"kind": "interval", "every_hours": 12, "anchor": "07:00"})
    first = plan_occurrences(client, uid, plan["id"])[0]
    due = parse(first["due_at"])
    taken = due + timedelta(hours=3)
    _record(in_tx, state, uid, first["id"], taken + timedelta(minutes=1), state="taken", at=taken)
    later = [parse(o["due_at"]) for o in plan_occurrences(client, uid, plan["id"]) if parse(o["due_at"]) > due]
    assert later[0] == taken + timedelta(hours=12)
    assert {b - a for a, b in zip(later, later[1:])} == {timedelta(hours=12)}


def test_prn_minimum_interval(client):
    uid = user()
    plan = make_plan(client, uid, drug="布洛芬", schedule={"kind": "prn", "min_interval_hours": 6})
    assert plan_occurrences(client, uid, plan["id"]) == []
    r = client.post(f"/v1/plans/{plan['id']}/doses", json={}, auth=signed(uid))
    assert r.status_code == 201 and r.json()["state"] == "taken"
    again = client.post(f"/v1/plans/{plan['id']}/doses", json={}, auth=signed(uid))
    assert again.status_code == 409 and again.json()["error"]["code"] == "prn_too_soon"
    assert "next_allowed_at" in again.json()["error"]["details"]


def test_a_record_retried_later_is_still_a_replay(client, state, in_tx):
    uid = user()
    plan = make_plan(client, uid, schedule={"kind": "times", "times_of_day": ["10:10"]})
    occ = plan_occurrences(client, uid, plan["id"])[0]
    due = parse(occ["due_at"])
    first, changed = _record(in_tx, state, uid, occ["id"], due + timedelta(minutes=5), state="taken")
    assert changed and first.state == "taken"
    # the phone retries the same request two hours later (no `at`): not a late dose, not a conflict
    again, changed = _record(in_tx, state, uid, occ["id"], due + timedelta(hours=2), state="taken")
    assert not changed and again.state == "taken" and again.version == first.version
