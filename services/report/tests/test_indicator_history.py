"""Views across reports: a user's indicator history (owner-scoped) and the admins' reports-per-day statistics."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from zhenxi_common.testing import signed

from conftest import sample


def lab_report(client, user: str, photo: str) -> dict:
    r = client.post("/v1/reports?wait=true", files=[("lab", (photo, sample(photo), "image/jpeg"))], auth=signed(user))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "completed"
    return r.json()


def stats(client, role: str = "admin", **params):
    today = datetime.now(UTC).date()
    query = {"date_from": (today - timedelta(days=6)).isoformat(), "date_to": today.isoformat(), **params}
    return client.get("/v1/admin/stats", params=query, auth=signed("stats-admin", role=role))


def test_indicator_history_lists_a_users_values_over_reports_and_no_one_elses(client):
    first = lab_report(client, "insight-user", "lab_cbc_synthetic_earlier.jpg")
    second = lab_report(client, "insight-user", "lab_cbc_synthetic.jpg")

    index = client.get("/v1/indicators", auth=signed("insight-user"))
    assert index.status_code == 200
    seen = {i["code"]: i for i in index.json()["items"]}
    assert seen["HGB"]["count"] == 2 and seen["HGB"]["last_value"] == 120.0
    assert seen["HGB"]["name"] == "血红蛋白" and seen["HGB"]["name_en"]

    hist = client.get("/v1/indicators/HGB/history", auth=signed("insight-user"))
    assert hist.status_code == 200
    body = hist.json()
    assert [p["value"] for p in body["points"]] == [146.0, 120.0]   # oldest first
    assert [p["report_id"] for p in body["points"]] == [first["id"], second["id"]]
    assert body["points"][0]["unit"] == "g/L"
    one = client.get("/v1/indicators/HGB/history?limit=1", auth=signed("insight-user")).json()
    assert [p["value"] for p in one["points"]] == [120.0]           # the latest ones when limited

    # Another user sees nothing of it.
    assert client.get("/v1/indicators", auth=signed("insight-other")).json()["items"] == []
    assert client.get("/v1/indicators/HGB/history", auth=signed("insight-other")).json()["points"] == []
    # Deleting a report takes its values out of the history.
    assert client.delete(f"/v1/reports/{first['id']}", auth=signed("insight-user")).status_code == 204
    after = client.get("/v1/indicators/HGB/history", auth=signed("insight-user")).json()
    assert [p["value"] for p in after["points"]] == [120.0]
    bad = client.get("/v1/indicators/HGB%20x/history", auth=signed("insight-user"))
    assert bad.status_code == 422 and bad.json()["error"]["code"]


def test_indicator_history_takes_codes_with_percent_hash_and_slash(client):
    """Blood-count codes are NEUT%, BASO#, ...: the web client asks for them percent-encoded (was a 422)."""
    lab_report(client, "insight-codes", "lab_cbc_synthetic.jpg")
    seen = {i["code"] for i in client.get("/v1/indicators", auth=signed("insight-codes")).json()["items"]}
    assert {"NEUT%", "BASO#"} <= seen
    for code in ("NEUT%", "BASO#"):
        r = client.get(f"/v1/indicators/{quote(code, safe='')}/history", auth=signed("insight-codes"))
        assert r.status_code == 200, r.text
        assert r.json()["code"] == code and len(r.json()["points"]) == 1
    ratio = client.get(f"/v1/indicators/{quote('A/G', safe='')}/history", auth=signed("insight-codes"))
    assert ratio.status_code == 200, ratio.text
    assert ratio.json()["code"] == "A/G" and ratio.json()["points"] == []


def test_admin_stats_count_reports_per_day_and_the_critical_share(client):
    before = stats(client)
    assert before.status_code == 200, before.text
    b = before.json()
    assert len(b["per_day"]) == 7 and b["per_day"][-1]["date"] == datetime.now(UTC).date().isoformat()

    lab_report(client, "stats-user", "lab_cbc_synthetic_critical.jpg")
    lab_report(client, "stats-user", "lab_cbc_synthetic.jpg")
    a = stats(client).json()
    assert a["total"] == b["total"] + 2 and a["completed"] == b["completed"] + 2
    assert a["critical"] == b["critical"] + 1
    assert a["per_day"][-1]["reports"] == b["per_day"][-1]["reports"] + 2
    assert a["critical_share"] == round(a["critical"] / a["completed"], 4)

    refused = stats(client, role="patient")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    backwards = stats(client, date_from="2026-02-01", date_to="2026-01-01")
    assert backwards.status_code == 422 and backwards.json()["error"]["code"] == "invalid_date_range"
    too_long = stats(client, date_from="2024-01-01", date_to="2026-01-01")
    assert too_long.status_code == 422
