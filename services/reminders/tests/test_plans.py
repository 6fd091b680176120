from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from zhenxi_common.testing import signed

from factories import make_plan, occurrences, plan_body, user


def test_create_plan_matches_drug_and_expands(client):
    uid = user()
    plan = make_plan(client, uid)
    assert plan["drug"]["id"] == "amoxicillin" and plan["drug"]["class_id"] == "penicillin"
    assert plan["version"] == 1
    occ = occurrences(client, uid)
    doses = [o for o in occ if o["kind"] == "dose"]
    assert 26 <= len(doses) <= 30   # 2 a day over the 14-day horizon (today's past times are not stored)
    assert all(o["state"] == "scheduled" for o in doses)
    # the refill reminder: 10 days of stock, reminded 7 days ahead
    refill = [o for o in occ if o["kind"] == "refill"]
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert plan["refill"]["remind_on"] == (today + timedelta(days=3)).isoformat()
    assert len(refill) == 1 and refill[0]["local_date"] == plan["refill"]["remind_on"]
    assert client.get(f"/v1/plans/{plan['id']}", auth=signed(uid)).headers["etag"] == '"1"'
    # stock 20 capsules, 1 capsule twice a day: 10 days left
    assert plan["refill"]["doses_per_day"] == 2 and plan["refill"]["days_left"] == 10


def test_unknown_drug_is_kept_as_text(client):
    uid = user()
    plan = make_plan(client, uid, drug="祖传秘方丸")
    assert plan["drug"] == {"text": "祖传秘方丸", "id": None, "name": None, "class_id": None, "class_name": None}


TODAY = date.today()
BAD = [
    ({"schedule": {"kind": "times", "times_of_day": ["25:00"]}}, "times_of_day"),
    ({"start_date": "2026-02-30"}, "start_date"),
    ({"start_date": TODAY.isoformat(), "end_date": (TODAY - timedelta(days=3)).isoformat()}, "end_date"),
    ({"dose": 0}, "dose"),
    ({"dose": -5}, "dose"),
    ({"schedule": {"kind": "times", "times_of_day": [f"{i // 60 % 24:02d}:{i % 60:02d}" for i in range(10000)]}},
     "times_of_day"),
    ({"schedule": {"kind": "interval", "every_hours": 24 / 10000}}, "every_hours"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
]


@pytest.mark.parametrize("override,field", BAD, ids=[f for _, f in BAD])
def test_bad_input_is_a_422_naming_the_field(client, override, field):
    r = client.post("/v1/plans", json=plan_body(**override), auth=signed(user()))
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert any(field in e["loc"] for e in err["details"]["errors"]), err


def test_plan_entirely_in_the_past_is_refused(client):
    uid = user()
    past = TODAY - timedelta(days=30)
    r = client.post("/v1/plans", json=plan_body(start_date=past.isoformat(),
                                                end_date=(past + timedelta(days=5)).isoformat()), auth=signed(uid))
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "plan_in_past" and r.json()["error"]["details"]["field"] == "end_date"
    once = {"kind": "once", "at": (datetime.now() - timedelta(hours=3)).replace(microsecond=0).isoformat()}
    r = client.post("/v1/plans", json=plan_body(schedule=once, timezone="UTC"), auth=signed(uid))
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "schedule.at"
    assert client.get("/v1/plans", auth=signed(uid)).json()["plans"] == []   # nothing half-written


def test_webhook_outside_allowlist_is_refused(client):
    uid = user()
    r = client.post("/v1/devices", json={"kind": "webhook", "url": "http://169.254.169.254/latest/meta-data"},
                    auth=signed(uid))
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "webhook_host_not_allowed"
    assert r.json()["error"]["details"]["field"] == "url"
    r = client.post("/v1/plans", json=plan_body(caregiver={"name": "女儿", "webhook_url": "https://evil.example/x"}),
                    auth=signed(uid))
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "caregiver.webhook_url"


def test_unknown_fields_are_refused(client):
    r = client.post("/v1/plans", json=plan_body(colour="red"), auth=signed(user()))
    assert r.status_code == 422


def test_other_users_plan_and_occurrence_are_404(client):
    owner, other = user(), user()
    plan = make_plan(client, owner)
    occ = occurrences(client, owner)[0]
    for method, path, body in [("GET", f"/v1/plans/{plan['id']}", None),
                               ("PATCH", f"/v1/plans/{plan['id']}", {"dose": 250}),
                               ("DELETE", f"/v1/plans/{plan['id']}", None),
                               ("GET", f"/v1/occurrences/{occ['id']}", None),
                               ("POST", f"/v1/occurrences/{occ['id']}:record", {"state": "taken"}),
                               ("GET", f"/v1/occurrences/{occ['id']}/advice", None)]:
        r = client.request(method, path, json=body, auth=signed(other))
        assert r.status_code == 404, (method, path, r.text)
    assert occurrences(client, other) == []
    assert client.get(f"/v1/plans/{plan['id']}", auth=signed(owner)).json()["dose"] == 1


def test_personal_fields_are_encrypted_at_rest(client, state):
    uid = user()
    plan = make_plan(client, uid, drug="华法林钠片", notes="饭后半小时")

    async def raw():
        from sqlalchemy import text
        async with state.sessionmaker() as s:
            return (await s.execute(text("SELECT drug_enc, notes_enc FROM reminders.plans WHERE id = :i"),
                                    {"i": plan["id"]})).one()
    row = client.portal.call(raw)
    assert "华法林".encode() not in bytes(row[0]) and "饭后".encode() not in bytes(row[1])
    assert plan["drug"]["text"] == "华法林钠片" and plan["notes"] == "饭后半小时"


def test_delete_stops_future_occurrences(client):
    uid = user()
    plan = make_plan(client, uid)
    assert client.delete(f"/v1/plans/{plan['id']}", auth=signed(uid)).status_code == 204
    assert [o for o in occurrences(client, uid) if o["state"] == "scheduled"
            and o["due_at"] > datetime.now(UTC).isoformat()] == []
    assert client.get(f"/v1/plans/{plan['id']}", auth=signed(uid)).status_code == 404


def test_webhook_allowlist_outside_dev_has_only_configured_hosts():
    from app.config import Settings
    from app.crypto import FieldCipher
    from app.knowledge import get_drug_book
    from app.service import Reminders
    prod = Settings(env="prod", internal_signing_key="k" * 40, data_key="d" * 40,
                    webhook_allowed_hosts=["hooks.example.cn"])
    assert Reminders(prod, FieldCipher(prod.data_key), get_drug_book()).allowed_hosts() == ["hooks.example.cn"]
    with pytest.raises(Exception, match="placeholder"):
        Settings(env="prod", internal_signing_key="k" * 40)   # the dev data key is refused in production


def test_patch_and_listing_refuse_bad_fields(client):
    uid = user()
    plan = make_plan(client, uid)
    r = client.patch(f"/v1/plans/{plan['id']}", json={"end_date": "2000-01-01"}, auth=signed(uid))
    assert r.status_code == 422 and r.json()["error"]["code"] == "end_before_start"
    assert r.json()["error"]["details"]["field"] == "end_date"
    r = client.patch(f"/v1/plans/{plan['id']}", json={"dose": None}, auth=signed(uid))
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "dose"
    r = client.get("/v1/occurrences", params={"from": "2026-01-01T00:00:00"}, auth=signed(uid))
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "from"
    r = client.get("/v1/occurrences", params={"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
                   auth=signed(uid))
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "to"
    assert client.get("/v1/plans/not-a-uuid", auth=signed(uid)).status_code == 422
