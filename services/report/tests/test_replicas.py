"""Two replicas on one database: every report is processed exactly once."""
from __future__ import annotations

import time
import uuid

import httpx

from zhenxi_common.testing import signed

from conftest import ServiceProcess
from test_faults import rows


def test_two_replicas_never_process_one_report_twice(client, report_env, tmp_path):
    other = ServiceProcess("report", dict(report_env)).start()   # same database, Redis, NATS, upload volume
    try:
        ids = []
        for i in range(5):
            for post in (lambda d: client.post("/v1/reports", data=d, auth=signed("replica-user")),
                         lambda d: httpx.post(f"{other.url}/v1/reports", data=d, auth=signed("replica-user"))):
                r = post({"symptoms": f"嗓子疼第{i}天"})
                assert r.status_code == 202, r.text
                ids.append(uuid.UUID(r.json()["id"]))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = rows("SELECT count(*) AS n FROM report.reports WHERE id = ANY($1) AND status = 'completed'", ids)
            if done[0]["n"] == len(ids):
                break
            time.sleep(0.5)
        stats = rows("SELECT r.attempts, r.completions, s.runs FROM report.reports r JOIN report.sections s "
                     "ON s.report_id = r.id WHERE r.id = ANY($1)", ids)
        assert len(stats) == len(ids)
        assert all(s["attempts"] == 1 and s["completions"] == 1 and s["runs"] == 1 for s in stats), stats
        events = rows("SELECT payload->>'report_id' AS rid FROM report.outbox WHERE subject = 'report.completed.v1' "
                      "AND payload->>'report_id' = ANY($1)", [str(i) for i in ids])
        assert sorted(e["rid"] for e in events) == sorted(str(i) for i in ids)   # one event per report
    finally:
        other.stop()
