"""Versions, If-Match conflicts, offline merges, the change feed with tombstones, export and import."""
from zhenxi_common.testing import signed

from factories import make_plan, plan_occurrences, user


def test_stale_if_match_conflicts_with_the_current_state(client):
    uid = user()
    plan = make_plan(client, uid)
    ok = client.patch(f"/v1/plans/{plan['id']}", json={"dose": 2}, headers={"If-Match": "1"}, auth=signed(uid))
    assert ok.status_code == 200 and ok.json()["version"] == 2 and ok.headers["etag"] == '"2"'
    stale = client.patch(f"/v1/plans/{plan['id']}", json={"dose": 3}, headers={"If-Match": "1"}, auth=signed(uid))
    assert stale.status_code == 409
    err = stale.json()["error"]
    assert err["code"] == "version_conflict" and err["details"]["conflicting_fields"] == ["dose"]
    assert err["details"]["current"]["dose"] == 2 and err["details"]["current"]["version"] == 2
    bad = client.patch(f"/v1/plans/{plan['id']}", json={"dose": 3}, headers={"If-Match": "abc"}, auth=signed(uid))
    assert bad.status_code == 422 and any("If-Match" in e["loc"] for e in bad.json()["error"]["details"]["errors"])
    gone = client.delete(f"/v1/plans/{plan['id']}", headers={"If-Match": "1"}, auth=signed(uid))
    assert gone.status_code == 409


def test_two_offline_devices_lose_nothing(client):
    uid = user()
    plan = make_plan(client, uid)
    # both devices saw version 1; phone changes the notes, tablet the stock
    phone = client.patch(f"/v1/plans/{plan['id']}", json={"notes": "饭后半小时"}, headers={"If-Match": "1"},
                         auth=signed(uid))
    tablet = client.patch(f"/v1/plans/{plan['id']}", json={"stock": 60}, headers={"If-Match": "1"},
                          auth=signed(uid))
    assert phone.status_code == 200 and tablet.status_code == 200
    now = client.get(f"/v1/plans/{plan['id']}", auth=signed(uid)).json()
    assert now["notes"] == "饭后半小时" and now["stock"] == 60 and now["version"] == 3


def test_schedule_and_zone_changes_reexpand(client):
    uid = user()
    plan = make_plan(client, uid, schedule={"kind": "times", "times_of_day": ["08:00"]}, timezone="Asia/Shanghai")
    r = client.patch(f"/v1/plans/{plan['id']}", json={"timezone": "Europe/London"}, auth=signed(uid))
    assert r.status_code == 200
    from datetime import datetime
    from zoneinfo import ZoneInfo
    occs = plan_occurrences(client, uid, plan["id"])
    future = [o for o in occs if o["fire_count"] == 0]
    assert future and all(datetime.fromisoformat(o["due_at"]).astimezone(ZoneInfo("Europe/London")).hour == 8
                          for o in future)
    r = client.patch(f"/v1/plans/{plan['id']}", json={"schedule": {"kind": "times", "times_of_day": ["25:00"]}},
                     auth=signed(uid))
    assert r.status_code == 422


def test_sync_returns_changes_and_tombstones_since_a_cursor(client):
    uid = user()
    start = client.get("/v1/sync", auth=signed(uid)).json()
    assert start == {"cursor": 0, "changes": [], "has_more": False}
    a = make_plan(client, uid)
    b = make_plan(client, uid, drug="二甲双胍")
    first = client.get("/v1/sync", params={"since": 0}, auth=signed(uid)).json()
    assert {c["id"] for c in first["changes"]} == {a["id"], b["id"]}
    client.delete(f"/v1/plans/{a['id']}", auth=signed(uid))
    client.patch(f"/v1/plans/{b['id']}", json={"dose": 2}, auth=signed(uid))
    later = client.get("/v1/sync", params={"since": first["cursor"]}, auth=signed(uid)).json()
    by_id = {c["id"]: c for c in later["changes"]}
    assert by_id[a["id"]]["deleted"] is True and by_id[a["id"]]["data"] is None
    assert by_id[b["id"]]["data"]["dose"] == 2 and by_id[b["id"]]["version"] == 2
    assert later["cursor"] > first["cursor"]
    assert client.get("/v1/sync", params={"since": later["cursor"]}, auth=signed(uid)).json()["changes"] == []
    assert client.get("/v1/sync", params={"since": 0}, auth=signed(user())).json()["changes"] == []


def test_export_and_import_to_a_new_phone(client):
    uid = user()
    plan = make_plan(client, uid, drug="华法林", notes="晚饭后")
    occ = plan_occurrences(client, uid, plan["id"])[0]
    client.post(f"/v1/occurrences/{occ['id']}:record", json={"state": "taken"}, auth=signed(uid))
    client.post("/v1/consents", json={"grantee_id": "family-1"}, auth=signed(uid))
    doc = client.get("/v1/export", auth=signed(uid)).json()
    assert doc["format"] == "zhenxi.reminders.export.v1" and len(doc["plans"]) == 1 and len(doc["records"]) == 1
    # the same account again: nothing changes
    again = client.post("/v1/import", json=doc, auth=signed(uid)).json()
    assert again == {"plans": 0, "records": 0, "devices": 0, "consents": 0}
    # a new account (new phone, new login): everything arrives
    other = user()
    got = client.post("/v1/import", json=doc, auth=signed(other))
    assert got.status_code == 200 and got.json() == {"plans": 1, "records": 1, "devices": 0, "consents": 1}
    plans = client.get("/v1/plans", auth=signed(other)).json()["plans"]
    assert plans[0]["drug"]["text"] == "华法林" and plans[0]["notes"] == "晚饭后" and plans[0]["id"] != plan["id"]
    assert client.get(f"/v1/plans/{plan['id']}", auth=signed(uid)).status_code == 200
    broken = {**doc, "plans": [{"id": plan["id"], "plan": {**doc["plans"][0]["plan"], "dose": -1}}]}
    r = client.post("/v1/import", json=broken, auth=signed(user()))
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "plans[0]"
