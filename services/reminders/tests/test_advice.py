"""Missed-dose advice: class rules override the default, every answer names its rule, never a double dose."""
from datetime import timedelta
from zoneinfo import ZoneInfo

from zhenxi_common.testing import signed

from factories import make_plan, parse, plan_occurrences, user


def _advice(in_tx, app_state, uid, occ_id, now):
    return in_tx(lambda s: app_state.reminders.advice(s, uid, occ_id, now=now))


def test_default_rule_moves_from_take_now_to_shift_to_skip(client, state, in_tx):
    uid = user()
    plan = make_plan(client, uid, drug="维生素B族", schedule={"kind": "times", "times_of_day": ["08:00", "20:00"]})
    assert plan["drug"]["class_id"] is None
    occ = plan_occurrences(client, uid, plan["id"])[0]
    due = parse(occ["due_at"])
    a = _advice(in_tx, state, uid, occ["id"], due + timedelta(hours=3))
    assert (a.action, a.rule_id, a.interval_hours) == ("take_now", "unmatched.take_now", 12)
    a = _advice(in_tx, state, uid, occ["id"], due + timedelta(hours=8))
    assert (a.action, a.rule_id) == ("take_now_shift_schedule", "unmatched.take_now_shift")
    assert a.shifted_next_due_at is not None and a.never_double
    a = _advice(in_tx, state, uid, occ["id"], due + timedelta(hours=10))
    assert (a.action, a.rule_id) == ("skip", "unmatched.skip")


def test_class_rule_overrides_the_default(client, state, in_tx):
    uid = user()
    plan = make_plan(client, uid, drug="华法林钠片", schedule={"kind": "times", "times_of_day": ["18:00"]})
    assert plan["drug"]["class_id"] == "vka"
    occ = plan_occurrences(client, uid, plan["id"])[0]
    due = parse(occ["due_at"])
    # 13 h late on a daily drug: the unmatched-drug rules would say take now and shift (fraction 0.54);
    # the anticoagulant's class says: not the same day any more, skip
    a = _advice(in_tx, state, uid, occ["id"], due + timedelta(hours=13))
    assert (a.action, a.rule_id, a.class_id) == ("skip", "same_day.skip", "vka")
    a = _advice(in_tx, state, uid, occ["id"], due + timedelta(hours=2))
    assert (a.action, a.rule_id) == ("take_now", "same_day.take_now")
    assert a.advice and a.advice_en


def test_never_a_double_dose_when_the_next_is_due(client, state, in_tx):
    uid = user()
    # the class rule (same day: take it now) does not look at the schedule; this plan splits the drug into two
    # doses 6 h apart, so 6.5 h late the next one is already due: skip, whatever the class said
    plan = make_plan(client, uid, drug="华法林", schedule={"kind": "times", "times_of_day": ["08:00", "14:00"]})
    occs = plan_occurrences(client, uid, plan["id"])
    first = [o for o in occs if parse(o["due_at"]).astimezone(ZoneInfo("Asia/Shanghai")).hour == 8][0]
    due = parse(first["due_at"])
    a = _advice(in_tx, state, uid, first["id"], due + timedelta(hours=6, minutes=30))
    assert (a.action, a.rule_id, a.class_id) == ("skip", "never_double.next_dose_due", "vka")
    a = _advice(in_tx, state, uid, first["id"], due + timedelta(hours=2))
    assert (a.action, a.rule_id) == ("take_now", "same_day.take_now")
    # mealtime insulin: only around the meal, otherwise ask the diabetes team
    plan = make_plan(client, uid, drug="门冬胰岛素", route="injection", unit="IU", dose=6,
                     schedule={"kind": "meals", "when": ["CM", "CD", "CV"]})
    occ = plan_occurrences(client, uid, plan["id"])[0]
    a = _advice(in_tx, state, uid, occ["id"], parse(occ["due_at"]) + timedelta(minutes=20))
    assert (a.action, a.rule_id) == ("take_now", "mealtime_insulin.take_now")
    a = _advice(in_tx, state, uid, occ["id"], parse(occ["due_at"]) + timedelta(hours=2))
    assert (a.action, a.rule_id) == ("ask_doctor", "mealtime_insulin.ask_doctor")


def test_advice_over_http_and_after_recording(client):
    uid = user()
    plan = make_plan(client, uid, drug="立普妥")
    occ = plan_occurrences(client, uid, plan["id"])[0]
    r = client.get(f"/v1/occurrences/{occ['id']}/advice", auth=signed(uid))
    assert r.status_code == 200 and r.json()["class_id"] == "statin"
    assert r.json()["rule_id"].startswith("half_interval.")
    client.post(f"/v1/occurrences/{occ['id']}:record", json={"state": "taken"}, auth=signed(uid))
    r = client.get(f"/v1/occurrences/{occ['id']}/advice", auth=signed(uid))
    assert r.json()["action"] == "already_recorded" and r.json()["rule_id"] == "ledger.already_recorded"
