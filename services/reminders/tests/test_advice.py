"""Missed-dose advice: class rules override the default, every answer names its rule, never a double dose."""
from datetime import timedelta

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
    assert (a.action, a.rule_id, a.interval_hours) == ("take_now", "default.take_now_early", 12)
    a = _advice(in_tx, state, uid, occ["id"], due + timedelta(hours=8))
    assert (a.action, a.rule_id) == ("take_now_shift_schedule", "default.take_now_shift")
    assert a.shifted_next_due_at is not None and a.never_double
    a = _advice(in_tx, state, uid, occ["id"], due + timedelta(hours=10))
    assert (a.action, a.rule_id) == ("skip", "default.skip_near_next")


def test_class_rule_overrides_the_default(client, state, in_tx):
    uid = user()
    plan = make_plan(client, uid, drug="华法林钠片", schedule={"kind": "times", "times_of_day": ["18:00"]})
    assert plan["drug"]["class_id"] == "anticoagulant_vka"
    occ = plan_occurrences(client, uid, plan["id"])[0]
    due = parse(occ["due_at"])
    # 10 h late on a daily drug: the default would say take now (fraction 0.42); warfarin says skip
    a = _advice(in_tx, state, uid, occ["id"], due + timedelta(hours=10))
    assert (a.action, a.rule_id, a.class_id) == ("skip", "anticoagulant_vka.next_day_skip", "anticoagulant_vka")
    a = _advice(in_tx, state, uid, occ["id"], due + timedelta(hours=2))
    assert (a.action, a.rule_id) == ("take_now", "anticoagulant_vka.same_day")
    assert "华法林" in a.advice and "Warfarin" in a.advice_en


def test_never_a_double_dose_when_the_next_is_due(client, state, in_tx):
    uid = user()
    # insulin's class rule says "under 2 h late: inject now", but here the next dose is already due at 1 h 45
    plan = make_plan(client, uid, drug="甘精胰岛素", route="injection", unit="IU", dose=10,
                     schedule={"kind": "times", "times_of_day": ["08:00", "09:30"]})
    occs = plan_occurrences(client, uid, plan["id"])
    due = parse(occs[0]["due_at"])
    a = _advice(in_tx, state, uid, occs[0]["id"], due + timedelta(minutes=105))
    assert (a.action, a.rule_id, a.class_id) == ("skip", "never_double.next_dose_due", "insulin")
    a = _advice(in_tx, state, uid, occs[0]["id"], due + timedelta(minutes=60))
    assert (a.action, a.rule_id) == ("take_now", "insulin.within_2h")
    # the combined pill: over 24 h late, the class sends the patient to a pharmacist
    plan = make_plan(client, uid, drug="优思明", schedule={"kind": "times", "times_of_day": ["21:00"]})
    occs = plan_occurrences(client, uid, plan["id"])
    a = _advice(in_tx, state, uid, occs[0]["id"], parse(occs[0]["due_at"]) + timedelta(hours=25))
    assert (a.action, a.rule_id) == ("ask_doctor", "coc.missed_ask")


def test_advice_over_http_and_after_recording(client):
    uid = user()
    plan = make_plan(client, uid, drug="立普妥")
    occ = plan_occurrences(client, uid, plan["id"])[0]
    r = client.get(f"/v1/occurrences/{occ['id']}/advice", auth=signed(uid))
    assert r.status_code == 200 and r.json()["rule_id"].startswith("statin.")
    client.post(f"/v1/occurrences/{occ['id']}:record", json={"state": "taken"}, auth=signed(uid))
    r = client.get(f"/v1/occurrences/{occ['id']}/advice", auth=signed(uid))
    assert r.json()["action"] == "already_recorded" and r.json()["rule_id"] == "ledger.already_recorded"
