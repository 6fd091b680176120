"""Admin adherence statistics: doses per patient-local day by outcome, across patients, admins only."""
from datetime import timedelta

from app.schemas import RecordIn
from zhenxi_common.testing import signed

from factories import drain, make_plan, parse, plan_occurrences, user


def day_stats(client, day: str, role: str = "admin", **params):
    query = {"date_from": day, "date_to": day, **params}
    return client.get("/v1/admin/adherence", params=query, auth=signed("adh-admin", role=role))


def test_admin_adherence_counts_outcomes_per_day(client, state, in_tx, call):
    uid = user()
    plan = make_plan(client, uid, drug="二甲双胍", schedule={"kind": "times", "times_of_day": ["07:11"]})
    occs = plan_occurrences(client, uid, plan["id"])[:3]
    dues = [parse(o["due_at"]) for o in occs]
    first_day = (dues[0] + timedelta(hours=8)).date().isoformat()   # Asia/Shanghai local date of 07:11
    before = day_stats(client, first_day).json()["per_day"][0]

    rec = lambda o, now, **kw: in_tx(lambda s: state.reminders.record(s, uid, o["id"], RecordIn(**kw), None, now=now))  # noqa: E731
    rec(occs[0], dues[0] + timedelta(minutes=5), state="taken", at=dues[0])
    rec(occs[1], dues[1] + timedelta(minutes=5), state="skipped")
    drain(call, state.scheduler, dues[2] + timedelta(minutes=state.settings.grace_min + 1))   # the third is missed

    first = day_stats(client, first_day).json()["per_day"][0]
    assert first["taken"] == before["taken"] + 1
    span = client.get("/v1/admin/adherence", auth=signed("adh-admin", role="admin"), params={
        "date_from": first_day, "date_to": (dues[2] + timedelta(hours=8)).date().isoformat()}).json()
    assert len(span["per_day"]) == 3 and span["patients"] >= 1
    assert sum(d["skipped"] for d in span["per_day"]) >= 1 and span["per_day"][2]["missed"] >= 1
    for d in span["per_day"]:
        decided = d["taken"] + d["taken_late"] + d["skipped"] + d["missed"]
        assert d["proportion_taken"] == (round((d["taken"] + d["taken_late"]) / decided, 4) if decided else None)

    refused = day_stats(client, first_day, role="patient")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    bad = client.get("/v1/admin/adherence", params={"date_from": "2026-02-01", "date_to": "2026-01-01"},
                     auth=signed("adh-admin", role="admin"))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_date_range"
