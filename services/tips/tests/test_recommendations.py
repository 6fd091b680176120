"""Recommendations: cold start, content from report and plan events (through NATS and the inbox), collaborative
filtering, diversity and reasons."""
import time
from datetime import UTC, date, datetime, timedelta

from app.events import handler_for
from app.models import inbox
from app.recommend import Profile, TipFeatures, rank
from zhenxi_common.outbox import claim_inbox

from conftest import as_user
from factories import plan_event, report_event


def _recs(client, user, **params):
    r = client.get("/v1/recommendations", params={"limit": 10, **params}, auth=as_user(user))
    assert r.status_code == 200, r.text
    return r.json()


def _publish(client, event):
    bus = client.app.state.bus
    client.portal.call(bus.publish_raw, event.subject, event.model_dump(mode="json"), str(event.event_id))


def _wait_for(client, user, predicate, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = _recs(client, user)
        if predicate(body):
            return body
        time.sleep(0.3)
    raise AssertionError(f"recommendations never matched: {body}")


def _topics_ok(items):
    counts = {}
    for it in items[:5]:
        links = it["tip"]["links"]
        for t in [f"i:{c}" for c in links["indicators"]] + [f"c:{c}" for c in links["conditions"]]:
            counts[t] = counts.get(t, 0) + 1
    return max(counts.values(), default=0) <= 2


def test_cold_start_gives_general_tips_with_reasons(client, user):
    body = _recs(client, user)
    assert body["cold_start"] is True
    assert len(body["items"]) == 10
    assert all(it["reason"]["text"] and it["reason"]["text_en"] for it in body["items"])
    top = [it for it in body["items"][:5]]
    assert all(it["source"] == "popular" for it in top)
    general_ids = {t.slug for t in client.app.state.tips.catalogue.tips if t.general and t.lang == "zh-CN"}
    assert sum(it["tip"]["slug"] in general_ids for it in top) >= 4
    assert _topics_ok(body["items"])


def test_report_event_drives_content_recommendations(client, user):
    _publish(client, report_event(user, abnormal=[("LDL-C", "H"), ("UA", "H"), ("GLU", "N")],
                                  findings=["Nodule"], conditions=["dyslipidemia"], collected_on=date(2026, 11, 20)))
    body = _wait_for(client, user, lambda b: not b["cold_start"])
    top5 = body["items"][:5]
    ldl = [it for it in top5 if "LDL-C" in it["tip"]["links"]["indicators"]]
    assert ldl, top5
    reason = ldl[0]["reason"]
    assert reason["kind"] == "indicator" and reason["code"] == "LDL-C"
    assert "11月20日" in reason["text"] and "偏高" in reason["text"]
    assert reason["text_en"] == "because your LDL cholesterol was high on 11-20"
    kinds = {it["reason"]["kind"] for it in body["items"]}
    assert {"indicator", "finding"} <= kinds
    assert not any(it["reason"]["code"] == "GLU" for it in body["items"])   # a normal result is no reason
    assert _topics_ok(body["items"])


def test_plan_event_gives_medication_tips(client, user):
    _publish(client, plan_event(user, drug_id="warfarin"))   # the class comes from knowledge/drugs
    body = _wait_for(client, user, lambda b: any(it["reason"]["kind"] == "drug_class" for it in b["items"]))
    med = [it for it in body["items"][:5] if it["reason"]["kind"] == "drug_class"]
    assert med and all("vka" in it["tip"]["links"]["drug_classes"] for it in med)
    assert med[0]["reason"]["code"] == "vka"
    assert med[0]["reason"]["text"] == "因为您在服用华法林"          # the drug the plan names, not the class
    assert med[0]["reason"]["text_en"] == "because you take warfarin"
    # Stopping the plan takes the reason away.
    _publish(client, plan_event(user, drug_id="warfarin", version=2, change="deleted"))
    _wait_for(client, user, lambda b: b["cold_start"])
    # A late copy of version 1 does not bring it back.
    _publish(client, plan_event(user, drug_id="warfarin", version=1, change="updated"))
    time.sleep(1.0)
    assert _recs(client, user)["cold_start"] is True


def test_events_are_handled_once_and_old_reports_never_overwrite(client, user):
    app = client.app
    newer = report_event(user, abnormal=[("TG", "H")], occurred_at=datetime.now(UTC))
    older = report_event(user, abnormal=[("HGB", "L")], occurred_at=datetime.now(UTC) - timedelta(days=30))

    async def deliver(event):
        async with app.state.sessionmaker() as s, s.begin():
            if await claim_inbox(s, inbox, event, "tips-report-completed"):
                await handler_for(app.state.tips)(s, event)
                return True
            return False

    assert client.portal.call(deliver, newer) is True
    assert client.portal.call(deliver, newer) is False      # redelivery: a no-op
    assert client.portal.call(deliver, older) is True       # handled, but older than what we hold
    body = _recs(client, user)
    codes = {it["reason"]["code"] for it in body["items"] if it["reason"]["kind"] == "indicator"}
    assert codes == {"TG"}


def test_collaborative_filtering_from_other_users(client, user):
    tips = client.get("/v1/tips", params={"category": "exercise", "limit": 50}, auth=as_user(user)).json()["items"]
    general = {t.slug for t in client.app.state.tips.catalogue.tips if t.general}
    # Two tips no other test has touched (the oldest, unfavourited ones: other tests favourite the newest), so the
    # item-item similarities below come from this test's users alone.
    x, y = [t["id"] for t in tips if t["slug"] not in general and t["favorite_count"] == 0][-2:]
    for i in range(6):
        other = f"{user}-peer{i}"
        client.put(f"/v1/favorites/{x}", auth=as_user(other))
        client.put(f"/v1/favorites/{y}", auth=as_user(other))
    client.put(f"/v1/favorites/{x}", auth=as_user(user))
    body = _recs(client, user)
    assert body["cold_start"] is False
    # Other tests in the run leave favourites of their own, so y need not be first overall; it must be the
    # strongest collaborative suggestion and near the top.
    collab = [it for it in body["items"] if it["source"] == "collaborative"]
    assert collab and collab[0]["tip"]["id"] == y and collab[0]["reason"]["kind"] == "collaborative"
    assert y in [it["tip"]["id"] for it in body["items"][:3]]
    assert x not in [it["tip"]["id"] for it in body["items"]]   # already saved: not recommended again


def test_diversity_caps_one_topic_at_two_of_the_top_five(ctx):
    tips = [TipFeatures(f"t{i}", "zh-CN", indicators=("LDL-C",), conditions=("dyslipidemia",)) for i in range(6)]
    tips += [TipFeatures("u1", "zh-CN", indicators=("UA",)), TipFeatures("u2", "zh-CN", indicators=("UA",)),
             TipFeatures("g1", "zh-CN", conditions=("gout",)), TipFeatures("x1", "zh-CN", general=True)]
    profile = Profile(abnormal=(("LDL-C", "H"), ("UA", "H")), conditions=("gout",))
    ranked = rank(tips, profile, {}, ctx.vocab, limit=10)
    top5 = [r.tip_id for r in ranked[:5]]
    assert sum(t.startswith("t") for t in top5) == 2
    assert {"u1", "u2", "g1"} <= set(top5)
    assert len(ranked) == 10 and ranked[5].tip_id.startswith("t")   # the rest still follow
    assert all(r.reason.kind in ("indicator", "condition") for r in ranked[:5])


def test_report_tags_are_read_too_and_english_reasons(client, user):
    app = client.app
    event = report_event(user, collected_on=date(2026, 12, 1))
    event = event.model_copy(update={"tags": ["indicator:UA:H", "indicator:GLU:N", "finding:Emphysema",
                                              "condition:gout", "unrelated"]})

    async def deliver():
        async with app.state.sessionmaker() as s, s.begin():
            await claim_inbox(s, inbox, event, "tips-report-completed")
            await handler_for(app.state.tips)(s, event)

    client.portal.call(deliver)
    body = _recs(client, user, lang="en")
    assert all(it["tip"]["lang"] == "en" for it in body["items"])
    reasons = {(it["reason"]["kind"], it["reason"]["code"]): it["reason"]["text_en"] for it in body["items"]}
    assert reasons[("indicator", "UA")] == "because your uric acid was high on 12-01"
    assert ("indicator", "GLU") not in reasons
    zh = _recs(client, user)
    kinds = {(it["reason"]["kind"], it["reason"]["code"]) for it in zh["items"]}
    assert {("indicator", "UA"), ("finding", "Emphysema")} <= kinds


def test_item_knn_scores_co_read_tips_even_in_a_young_catalogue():
    from app.collaborative import ItemKnn

    peers = [(f"p{i}", t, 3.0) for i in range(5) for t in ("x", "y")] + [("q", "z", 1.0), ("q", "w", 1.0)]
    knn = ItemKnn.fit(peers, items=[f"t{i}" for i in range(20)] + ["x", "y", "z", "w"])
    scores = knn.scores({"x": 3.0})
    assert max(scores, key=scores.get) == "y" and scores["y"] == 1.0
    assert "x" not in scores and "z" not in scores
    assert ItemKnn.fit([("a", "x", 1.0)]).scores({"x": 1.0}) == {}   # one user: nothing to learn from
