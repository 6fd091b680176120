"""Small factories for reminders tests."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from zhenxi_common.testing import signed


def user() -> str:
    return f"u-{uuid.uuid4().hex[:10]}"


def plan_body(**overrides) -> dict:
    body = {"drug": "阿莫西林胶囊", "dose": 1, "unit": "粒", "timezone": "Asia/Shanghai",
            "start_date": date.today().isoformat(), "schedule": {"kind": "times", "times_of_day": ["08:00", "20:00"]},
            "stock": 20}
    body.update(overrides)
    return body


def make_plan(client, uid: str, **overrides) -> dict:
    r = client.post("/v1/plans", json=plan_body(**overrides), auth=signed(uid))
    assert r.status_code == 201, r.text
    return r.json()


def occurrences(client, uid: str, days: int = 15) -> list[dict]:
    now = datetime.now(UTC)
    r = client.get("/v1/occurrences", params={"from": (now - timedelta(days=2)).isoformat(),
                                              "to": (now + timedelta(days=days)).isoformat()}, auth=signed(uid))
    assert r.status_code == 200, r.text
    return r.json()["occurrences"]


def plan_occurrences(client, uid: str, plan_id: str, kind: str = "dose") -> list[dict]:
    return [o for o in occurrences(client, uid) if o["plan_id"] == plan_id and o["kind"] == kind]


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


def drain(call, scheduler, now: datetime) -> int:
    """Run scheduler passes at ``now`` until nothing is left to do (bounded)."""
    total = 0
    for _ in range(200):
        n = call(scheduler.fire_due, now) + call(scheduler.mark_missed, now)
        total += n
        if n == 0:
            return total
    raise AssertionError("scheduler did not settle")


async def outbox_events(session, subject: str, user_id: str) -> list[dict]:
    from sqlalchemy import text
    rows = (await session.execute(text(
        "SELECT payload FROM reminders.outbox WHERE subject = :s AND payload->>'user_id' = :u ORDER BY created_at"),
        {"s": subject, "u": user_id})).all()
    return [r[0] for r in rows]
