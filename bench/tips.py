"""Tips recommendations, offline and through the service. Run: ./zhenxi bench tips   (BENCH_USERS, BENCH_HTTP_N)

Part 1 (offline, the exact ranking code the service runs): 2,000 simulated users, each with a check-up report
(abnormal indicators drawn from rough adult check-up prevalences), X-ray findings for some, medication plans that
follow from their conditions, and 6-20 interactions with the zh-CN seed tips. Interactions come from a hidden
taste model (one of four reader types per user, per-tip appeal, a pull towards tips on the user's own results);
25% of each user's interactions are held out. Prints precision@5 and recall@20 against held-out interactions
for the hybrid and its parts, against a popularity baseline in the same run; coverage and diversity of the top
five; the share of users whose top five hold a tip linked to one of their abnormal indicators; ranking latency.
ALL USERS AND INTERACTIONS ARE SYNTHETIC: the pull towards linked tips uses the same links the recommender
reads, so the content numbers are optimistic; the baseline gap is the meaningful part.

Part 2 (service): a real tips service on real Postgres/Redis/NATS, profiles delivered as real events, favourites
through the API; prints p50/p95 of GET /v1/recommendations. Skipped with BENCH_HTTP_N=0."""
from __future__ import annotations

import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "tips"))
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "libs" / "common"))

from app.collaborative import ItemKnn, interaction_weight  # noqa: E402
from app.content import load_catalogue  # noqa: E402
from app.knowledge import load_vocabulary  # noqa: E402
from app.recommend import Profile, TipFeatures, rank  # noqa: E402

USERS = int(os.environ.get("BENCH_USERS", "2000"))
HTTP_N = int(os.environ.get("BENCH_HTTP_N", "300"))
SEED = 15

# Share of adults at a check-up with the result out of range: synthetic, roughly the size of published Chinese
# check-up surveys. The last group has no tip written for it (real reports have such flags too).
PREVALENCE = {
    ("LDL-C", "H"): .25, ("TC", "H"): .22, ("TG", "H"): .25, ("HDL-C", "L"): .18, ("GLU", "H"): .14,
    ("HbA1c", "H"): .08, ("UA", "H"): .17, ("ALT", "H"): .12, ("GGT", "H"): .10, ("HGB", "L"): .09,
    ("FER", "L"): .05, ("CREA", "H"): .04, ("eGFR", "L"): .04, ("TSH", "H"): .05, ("PLT", "L"): .03,
    ("WBC", "H"): .05, ("CRP", "H"): .06, ("K", "L"): .02, ("U-PRO", "POS"): .05, ("25OHD", "L"): .20,
    ("HCY", "H"): .08, ("TBIL", "H"): .05, ("SBP", "H"): .25,
    ("MCH", "L"): .06, ("RDW-CV", "H"): .05, ("EO%", "H"): .05, ("MONO%", "H"): .04, ("LYMPH%", "L"): .05,
}
CONDITION_OF = {"LDL-C": "dyslipidemia", "TC": "dyslipidemia", "TG": "dyslipidemia", "HDL-C": "dyslipidemia",
                "GLU": "type2_diabetes", "HbA1c": "type2_diabetes", "UA": "hyperuricemia", "ALT": "fatty_liver",
                "HGB": "iron_deficiency_anemia", "eGFR": "chronic_kidney_disease", "SBP": "hypertension",
                "TSH": "hypothyroidism"}
FINDINGS = {"Nodule": 5, "Pleural_Thickening": 2, "Cardiomegaly": 2, "Infiltration": 2, "Emphysema": 1.5,
            "Effusion": 1, "Atelectasis": 1, "Fibrosis": 1, "Pneumonia": 1, "Consolidation": .6, "Mass": .5,
            "Edema": .5, "Pneumothorax": .3, "Hernia": .3}
PLANS = {"dyslipidemia": [("statin", .5)], "hypertension": [("arb", .35), ("ccb", .35), ("acei", .1)],
         "type2_diabetes": [("biguanide", .8), ("insulin_basal", .2)], "hyperuricemia": [],
         "chronic_kidney_disease": [("arb", .4)]}
OTHER_PLANS = [("ppi", .07), ("vka", .02), ("cephalosporin", .04), ("penicillin", .03)]
TASTES = {   # reader types: how much each likes each category
    "cook": {"diet": 1.6, "exercise": .4, "prevention": .2, "medication": 0.0},
    "mover": {"diet": .4, "exercise": 1.8, "prevention": .2, "medication": 0.0},
    "careful": {"diet": 0.0, "exercise": 0.0, "prevention": .6, "medication": 1.6},
    "reader": {"diet": .3, "exercise": .3, "prevention": 1.4, "medication": .3},
}


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def simulate(rng: np.random.Generator, tips: list[TipFeatures], categories: dict[str, str]):
    appeal = rng.lognormal(0.0, 0.7, len(tips))
    users = []
    for u in range(USERS):
        abnormal = tuple((c, f) for (c, f), p in PREVALENCE.items() if rng.random() < p)
        conditions = tuple(dict.fromkeys(CONDITION_OF[c] for c, _ in abnormal
                                         if c in CONDITION_OF and rng.random() < .7))
        findings: tuple[str, ...] = ()
        if rng.random() < .15:
            names, w = list(FINDINGS), np.array(list(FINDINGS.values()))
            findings = tuple(rng.choice(names, size=int(rng.integers(1, 3)), replace=False, p=w / w.sum()))
        classes = [cls for cond in conditions for cls, p in PLANS.get(cond, []) if rng.random() < p]
        classes += [cls for cls, p in OTHER_PLANS if rng.random() < p]
        profile = Profile(abnormal=abnormal, findings=findings, conditions=conditions,
                          drug_classes=tuple(dict.fromkeys(classes)))
        taste = TASTES[list(TASTES)[int(rng.integers(0, len(TASTES)))]]
        facts = {("i", c) for c, _ in abnormal} | {("f", f) for f in findings} | {("c", c) for c in conditions} \
            | {("d", d) for d in classes}
        score = np.array([np.log(appeal[j]) + taste[categories[t.id]] + .6 * t.general
                          + 2.2 * bool(facts & ({("i", c) for c in t.indicators} | {("f", f) for f in t.findings}
                                                | {("c", c) for c in t.conditions}
                                                | {("d", d) for d in t.drug_classes}))
                          for j, t in enumerate(tips)])
        n = min(len(tips), 6 + int(rng.poisson(6)))
        picked = np.argsort(-(score + rng.gumbel(size=len(tips))))[:n]   # Gumbel top-k = sampling ∝ exp(score)
        rng.shuffle(picked)
        held = max(1, round(.25 * n))
        train = {tips[j].id: interaction_weight(int(rng.integers(1, 4)), rng.random() < .3) for j in picked[held:]}
        users.append((profile, train, {tips[j].id for j in picked[:held]}))
    return users


def offline() -> None:
    vocab = load_vocabulary()
    catalogue = load_catalogue()
    seeds = [t for t in catalogue.tips if t.lang == "zh-CN"]
    tips = [TipFeatures(t.slug, t.lang, tuple(t.indicators), tuple(t.findings), tuple(t.conditions),
                        tuple(t.drug_classes), t.general) for t in seeds]
    categories = {t.slug: t.category for t in seeds}
    rng = np.random.default_rng(SEED)
    t0 = time.perf_counter()
    users = simulate(rng, tips, categories)
    popularity = Counter()
    for _, train, _ in users:
        for t, w in train.items():
            popularity[t] += w
    tips = [TipFeatures(t.id, t.lang, t.indicators, t.findings, t.conditions, t.drug_classes, t.general,
                        popularity[t.id]) for t in tips]
    by_id = {t.id: t for t in tips}
    knn = ItemKnn.fit(((f"u{i}", t, w) for i, (_, train, _) in enumerate(users) for t, w in train.items()),
                      items=[t.id for t in tips])
    print(f"simulated {len(users)} users over {len(tips)} zh-CN tips in {time.perf_counter() - t0:.1f}s "
          f"(SYNTHETIC users and interactions; seed {SEED})")

    def evaluate(name: str, recommend) -> dict[str, float]:
        p5, r20, lat, cpu, top5s = [], [], [], [], []
        for profile, train, held in users:
            t, c = time.perf_counter(), time.thread_time()
            recs = recommend(profile, train)
            lat.append((time.perf_counter() - t) * 1000)
            cpu.append((time.thread_time() - c) * 1000)
            top5s.append(recs[:5])
            p5.append(len(set(recs[:5]) & held) / 5)
            r20.append(len(set(recs[:20]) & held) / len(held))
        return {"name": name, "p5": float(np.mean(p5)), "r20": float(np.mean(r20)), "lat": lat, "cpu": cpu,
                "top5": top5s}

    def hybrid(profile, train):
        seen = Profile(**{**profile.__dict__, "seen": frozenset(train)})
        return [r.tip_id for r in rank(tips, seen, knn.scores(train), vocab, limit=20)]

    def content_only(profile, train):
        return [r.tip_id for r in rank(tips, Profile(**{**profile.__dict__, "seen": frozenset(train)}), {}, vocab,
                                       limit=20)]

    def cf_only(profile, train):
        return [r.tip_id for r in rank(tips, Profile(seen=frozenset(train)), knn.scores(train), vocab, limit=20)]

    ranked_pop = [t for t, _ in popularity.most_common()] + [t.id for t in tips if t.id not in popularity]

    def pop(profile, train):
        return [t for t in ranked_pop if t not in train][:20]

    results = [evaluate("hybrid (content + item-kNN + popularity)", hybrid), evaluate("content only", content_only),
               evaluate("item-kNN only (+ cold-start rules)", cf_only), evaluate("popularity baseline", pop)]
    print("\n== accuracy on held-out interactions (25% per user) ==")
    print(f"{'model':44s} {'precision@5':>12s} {'recall@20':>10s}")
    for r in results:
        print(f"{r['name']:44s} {r['p5']:12.3f} {r['r20']:10.3f}")
    base = results[-1]
    print(f"hybrid vs popularity: precision@5 x{results[0]['p5'] / base['p5']:.2f}, "
          f"recall@20 x{results[0]['r20'] / base['r20']:.2f}")

    print("\n== top five: coverage and diversity ==")
    for r in (results[0], base):
        shown = {t for top in r["top5"] for t in top}
        capped, ild = 0, []
        for top in r["top5"]:
            counts = Counter(x for t in top for x in by_id[t].topics)
            capped += max(counts.values(), default=0) <= 2
            pairs = [(a, b) for i, a in enumerate(top) for b in top[i + 1:]]
            sets = [(by_id[a].topics | {"cat:" + categories[a]}, by_id[b].topics | {"cat:" + categories[b]})
                    for a, b in pairs]
            ild.append(np.mean([1 - len(x & y) / len(x | y) for x, y in sets]) if sets else 0.0)
        print(f"{r['name']:44s} coverage {len(shown) / len(tips):.3f} ({len(shown)}/{len(tips)} tips), "
              f"lists with <=2 per indicator/condition {capped / len(users):.3f}, "
              f"intra-list diversity {np.mean(ild):.3f}")

    print("\n== top five holds a tip linked to one of the user's abnormal indicators ==")
    has_tip = {c for t in tips for c in t.indicators}
    for r in (results[0], base):
        hit_all, n_all, hit_cov, n_cov = 0, 0, 0, 0
        for (profile, _, _), top in zip(users, r["top5"]):
            codes = {c for c, _ in profile.abnormal}
            if not codes:
                continue
            hit = any(codes & set(by_id[t].indicators) for t in top)
            n_all += 1
            hit_all += hit
            if codes & has_tip:
                n_cov += 1
                hit_cov += hit
        print(f"{r['name']:44s} {hit_all / n_all:.3f} of {n_all} users with any abnormal indicator; "
              f"{hit_cov / n_cov:.3f} of {n_cov} whose abnormal indicators have tips (goal >= 0.95)")

    lat, cpu = results[0]["lat"], results[0]["cpu"]
    print(f"\n== ranking latency, in-process (item-kNN scoring + content + diversity), {len(lat)} users ==")
    print(f"wall p50 {pct(lat, 50):.2f} ms   p95 {pct(lat, 95):.2f} ms   |   CPU p50 {pct(cpu, 50):.2f} ms   "
          f"p95 {pct(cpu, 95):.2f} ms   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


def service() -> None:
    """GET /v1/recommendations on a real service: profiles arrive as real events, favourites through the API."""
    import asyncio
    import uuid

    import httpx

    from zhenxi_cli import infra
    from zhenxi_cli.up import platform_env
    from zhenxi_common.bus import EventBus
    from zhenxi_common.events import PlanChangedV1, ReportCompletedV1
    from zhenxi_common.testing import _create_db, _drop_db, free_port, running_service, signed
    from sqlalchemy.engine import make_url

    rng = np.random.default_rng(SEED + 1)
    with infra.resolve(log=lambda *_: None) as inf:
        env = platform_env(inf)
        run = uuid.uuid4().hex[:6]
        base_url = env["DATABASE_URL"]
        db = f"zxbench_tips_{run}"
        asyncio.run(_create_db(base_url, db))
        env.update({"ZHENXI_ENV": "dev", "DATABASE_URL": make_url(base_url).set(database=db).render_as_string(
            hide_password=False), "REDIS_KEY_PREFIX": f"bench{run}:", "NATS_SUBJECT_PREFIX": f"bench{run}.",
            "TIPS_CF_REFRESH_S": "60", "LOG_LEVEL": "WARNING", "TIPS_LOG_LEVEL": "WARNING"})
        os.environ["INTERNAL_SIGNING_KEY"] = env["INTERNAL_SIGNING_KEY"]   # signed() signs as the gateway would
        try:
            with running_service(ROOT / "services" / "tips", free_port(), env, timeout_s=120) as base:
                users = [f"bench-{i}" for i in range(60)]

                async def publish() -> None:
                    bus = EventBus(env["NATS_URL"], env["NATS_SUBJECT_PREFIX"])
                    await bus.connect()
                    codes = [c for c in PREVALENCE]
                    for u in users:
                        picks = [codes[i] for i in rng.choice(len(codes), size=3, replace=False)]
                        for ev in (ReportCompletedV1(user_id=u, report_id=f"r-{u}",
                                                     abnormal=[{"code": c, "flag": f} for c, f in picks]),
                                   PlanChangedV1(user_id=u, plan_id="p", version=1, change="created",
                                                 drug_class="statin")):
                            await bus.publish_raw(ev.subject, ev.model_dump(mode="json"), str(ev.event_id))
                    await bus.close()

                asyncio.run(publish())
                with httpx.Client(base_url=base, timeout=30) as c:
                    tips = c.get("/v1/tips", params={"limit": 50}, auth=signed("bench")).json()["items"]
                    for u in users:
                        for j in rng.choice(len(tips), size=5, replace=False):
                            c.put(f"/v1/favorites/{tips[j]['id']}", auth=signed(u))
                    time.sleep(2)   # let the consumers drain
                    lat = []
                    for i in range(HTTP_N):
                        u = users[i % len(users)]
                        t = time.perf_counter()
                        r = c.get("/v1/recommendations", params={"limit": 10}, auth=signed(u))
                        lat.append((time.perf_counter() - t) * 1000)
                        assert r.status_code == 200, r.text
                    ref = []
                    for i in range(HTTP_N):   # the same machine's floor: a route that does no work
                        t = time.perf_counter()
                        c.get("/v1/info", auth=signed(users[i % len(users)]))
                        ref.append((time.perf_counter() - t) * 1000)
                    personal = sum(not c.get("/v1/recommendations", auth=signed(u)).json()["cold_start"]
                                   for u in users)
            print(f"\n== service: GET /v1/recommendations, {HTTP_N} requests, 1 client, {len(users)} users with "
                  f"events + favourites, {len(tips)}+ tips ==")
            print(f"p50 {pct(lat, 50):.1f} ms   p95 {pct(lat, 95):.1f} ms   ({personal}/{len(users)} users had "
                  f"their events applied)")
            print(f"reference GET /v1/info on the same service: p50 {pct(ref, 50):.1f} ms   p95 {pct(ref, 95):.1f} ms"
                  f"   (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        finally:
            asyncio.run(_drop_db(base_url, db))


if __name__ == "__main__":
    offline()
    if HTTP_N > 0:
        service()
