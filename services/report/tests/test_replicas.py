"""Two replicas on one database: every report is processed exactly once."""
from __future__ import annotations

import asyncio
import json
import time
import uuid

import asyncpg
import httpx

from zhenxi_common.testing import signed

from conftest import ServiceProcess
from test_faults import _dsn, _rows, own_db, rows  # noqa: F401 (own_db: a fixture)


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


def test_new_report_held_by_another_claim_is_skipped_at_accept_and_processed_once(report_env, upstreams, own_db,
                                                                                tmp_path):
    """The accepting replica claims its new report at once, with the same FOR NO KEY UPDATE SKIP LOCKED as the
    queue: a row another transaction holds is skipped (no second processing), and the report is still processed
    exactly once afterwards by the queue. A database of its own: no other worker of this run polls it."""
    from zhenxi_common.db import make_engine, make_sessionmaker

    from app import knowledge, repository
    from app.config import Settings
    from app.downstream import HttpDownstream
    from app.fanout import ReportInputs
    from app.models import Report, outbox
    from app.store import Sealer, UploadStore, parse_keys
    from app.worker import ReportEngine, inputs_aad

    settings = Settings(**{"database_url": own_db, "upload_dir": tmp_path})
    keys = parse_keys(settings.upload_keys, settings.upload_key_id)
    text = "喉咙痛，有点咳嗽"

    async def scenario() -> tuple[list, list, list]:
        db = make_engine(own_db)
        sm = make_sessionmaker(db, outbox)
        ds = HttpDownstream(ocr_url=upstreams["ocr"].url, xray_url=upstreams["xray"].url, nlp_url=upstreams["nlp"].url,
                            signing_key=settings.internal_signing_key, timeouts={"ocr": 25, "xray": 25, "nlp": 20})
        engine = ReportEngine(sm, UploadStore(tmp_path, keys, settings.upload_key_id),
                              Sealer(keys, settings.upload_key_id), ds, knowledge.load(settings.knowledge_dir))
        sealer = Sealer(keys, settings.upload_key_id)
        rid = uuid.uuid4()
        session = sm()
        async with session.begin():
            report = await repository.add_report(
                session, report_id=rid, user_id="accept-user", lang="zh", kinds=["symptoms"], uploads=[],
                inputs_enc=sealer.seal(json.dumps({"symptoms": text, "sex": None, "age": None,
                                                   "medications": []}).encode(), inputs_aad(rid)))
        holder = await asyncpg.connect(_dsn(own_db))   # another replica's claim on the row
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM report.reports WHERE id = $1 FOR NO KEY UPDATE", rid)
        task = await engine.accept(session, report, ReportInputs(symptoms=text, lang="zh"), ["symptoms"])
        assert task is not None
        await task                                    # the claim skipped the held row and gave the slot back
        skipped = await _rows(own_db, "SELECT status, attempts, completions FROM report.reports WHERE id = $1", rid)
        await tx.rollback()
        await holder.close()
        assert await engine._claim_and_spawn()        # the queue's claim takes it (once)
        await asyncio.gather(*engine._running)
        assert not await engine._claim_and_spawn()    # nothing left: completed reports are never claimed again
        late = sm()                                   # a late accept of the finished report claims nothing
        async with late.begin():
            finished = await late.get(Report, rid)
        again = await engine.accept(late, finished, ReportInputs(symptoms=text, lang="zh"), ["symptoms"])
        await again
        await ds.aclose()
        await db.dispose()
        done = await _rows(own_db, "SELECT r.status, r.attempts, r.completions, s.runs, s.status AS section "
                           "FROM report.reports r JOIN report.sections s ON s.report_id = r.id WHERE r.id = $1", rid)
        events = await _rows(own_db, "SELECT 1 FROM report.outbox WHERE subject = 'report.completed.v1' "
                             "AND payload->>'report_id' = $1", str(rid))
        return skipped, done, events

    skipped, done, events = asyncio.run(scenario())
    assert [dict(r) for r in skipped] == [{"status": "pending", "attempts": 0, "completions": 0}]
    assert [dict(r) for r in done] == [{"status": "completed", "attempts": 1, "completions": 1, "runs": 1,
                                        "section": "done"}]
    assert len(events) == 1
