"""Ranking for ``GET /v1/recommendations``: pure functions over plain data, so the bench and the tests run the
exact code the service runs.

Score = content match (the user's latest report and medication plans → linked tips) + collaborative filtering
(item-kNN) + a little popularity; a user with neither gets the popular "good for everyone" tips (cold start).
The top five are then made diverse (at most two on one indicator or condition) and each tip carries the reason
it was chosen."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from .knowledge import Vocabulary

# How strongly each kind of personal fact pulls a linked tip. An abnormal indicator is the most specific.
WEIGHTS = {"indicator": 3.0, "critical": 3.5, "finding": 2.6, "drug_class": 2.6, "condition": 2.0}
EXTRA_MATCH = 0.25      # each further match of the same tip adds a quarter of its weight
CF_WEIGHT = 1.4
POPULARITY_WEIGHT = 0.3
GENERAL_COLD = 1.0      # cold start: the curated general tips first
TOP_DIVERSE = 5
MAX_PER_TOPIC = 2

FLAG_WORDS = {"H": ("偏高", "high"), "HH": ("明显偏高", "very high"), "L": ("偏低", "low"),
              "LL": ("明显偏低", "very low"), "POS": ("阳性", "positive"), "ABN": ("异常", "abnormal")}


@dataclass(frozen=True)
class TipFeatures:
    id: str
    lang: str
    indicators: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    drug_classes: tuple[str, ...] = ()
    general: bool = False
    popularity: float = 0.0     # favourites * 3 + views, across users

    @property
    def topics(self) -> set[str]:
        return {f"indicator:{c}" for c in self.indicators} | {f"condition:{c}" for c in self.conditions}


@dataclass(frozen=True)
class Profile:
    abnormal: tuple[tuple[str, str], ...] = ()    # (code, flag)
    collected_on: date | None = None
    findings: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    drug_classes: tuple[str, ...] = ()
    drug_names: tuple[tuple[str, str, str], ...] = ()   # (class_id, name, name_en) of drugs the plans name
    seen: frozenset[str] = frozenset()

    @property
    def has_content(self) -> bool:
        return bool(self.abnormal or self.findings or self.conditions or self.drug_classes)


@dataclass(frozen=True)
class Reason:
    kind: str        # indicator | finding | condition | drug_class | collaborative | popular | general
    code: str | None
    text: str
    text_en: str


@dataclass
class Recommendation:
    tip_id: str
    score: float
    reason: Reason
    source: str      # content | collaborative | popular
    topics: set[str] = field(default_factory=set)


def _in_sentence(name: str) -> str:
    """'Uric acid' → 'uric acid' inside a sentence; acronyms and mixed case ('LDL cholesterol', 'COPD') stay."""
    return name[0].lower() + name[1:] if len(name) > 1 and name[0].isupper() and name[1].islower() else name


def _day(d: date | None) -> tuple[str, str]:
    if d is None:
        return "最近一次", "in your latest report"
    return f"{d.month}月{d.day}日", f"on {d:%m-%d}"


def _reasons(profile: Profile, vocab: Vocabulary) -> dict[tuple[str, str], tuple[float, Reason]]:
    """(kind, code) → (weight, reason) for every personal fact."""
    out: dict[tuple[str, str], tuple[float, Reason]] = {}
    day_zh, day_en = _day(profile.collected_on)
    for code, flag in profile.abnormal:
        zh, en = FLAG_WORDS.get(flag, FLAG_WORDS["ABN"])
        name, name_en = vocab.name("indicator", code), vocab.name("indicator", code, "en")
        label_zh = name if name == code else f"{name}（{code}）"
        weight = WEIGHTS["critical"] if flag in ("HH", "LL") else WEIGHTS["indicator"]
        prior = out.get(("indicator", code))
        if prior is None or prior[0] < weight:
            out[("indicator", code)] = (weight, Reason(
                "indicator", code, f"因为您{day_zh}的{label_zh}{zh}",
                f"because your {code if name_en == code else _in_sentence(name_en)} was {en} {day_en}"))
    for label in profile.findings:
        out[("finding", label)] = (WEIGHTS["finding"], Reason(
            "finding", label, f"因为您的胸片提示{vocab.name('finding', label)}",
            f"because your chest X-ray showed {_in_sentence(vocab.name('finding', label, 'en'))}"))
    for cid in profile.conditions:
        out[("condition", cid)] = (WEIGHTS["condition"], Reason(
            "condition", cid, f"因为您的报告提示可能与{vocab.name('condition', cid)}有关",
            f"because your report points to {_in_sentence(vocab.name('condition', cid, 'en'))}"))
    drug_for_class = {c: (n, n_en) for c, n, n_en in profile.drug_names}
    for cls in profile.drug_classes:
        name, name_en = drug_for_class.get(cls, (vocab.name("drug_class", cls), vocab.name("drug_class", cls, "en")))
        out[("drug_class", cls)] = (WEIGHTS["drug_class"], Reason(
            "drug_class", cls, f"因为您在服用{name}", f"because you take {_in_sentence(name_en or name)}"))
    return out


def content_scores(tips: list[TipFeatures], profile: Profile, vocab: Vocabulary
                   ) -> dict[str, tuple[float, Reason]]:
    facts = _reasons(profile, vocab)
    if not facts:
        return {}
    out: dict[str, tuple[float, Reason]] = {}
    for tip in tips:
        hits = [facts[(kind, code)]
                for kind, codes in (("indicator", tip.indicators), ("finding", tip.findings),
                                    ("condition", tip.conditions), ("drug_class", tip.drug_classes))
                for code in codes if (kind, code) in facts]
        if hits:
            hits.sort(key=lambda h: -h[0])
            out[tip.id] = (hits[0][0] + EXTRA_MATCH * sum(h[0] for h in hits[1:]), hits[0][1])
    return out


COLLAB_REASON = Reason("collaborative", None, "和您关注相似内容的用户也在看这条",
                       "people who read what you read also read this")
POPULAR_REASON = Reason("popular", None, "很多用户收藏和阅读了这条", "popular with other users")
GENERAL_REASON = Reason("general", None, "人人适用的健康常识", "good to know for everyone")


def rank(tips: list[TipFeatures], profile: Profile, cf: dict[str, float], vocab: Vocabulary, *,
         limit: int = 10, lang: str | None = "zh-CN") -> list[Recommendation]:
    pool = [t for t in tips if t.id not in profile.seen and (lang is None or t.lang == lang)]
    content = content_scores(pool, profile, vocab)
    top_pop = max((t.popularity for t in pool), default=0.0)
    cold = not profile.has_content and not cf
    scored: list[Recommendation] = []
    for tip in pool:
        pop = math.log1p(tip.popularity) / math.log1p(top_pop) if top_pop > 0 else 0.0
        c_score, c_reason = content.get(tip.id, (0.0, None))
        f_score = CF_WEIGHT * cf.get(tip.id, 0.0)
        score = c_score + f_score + POPULARITY_WEIGHT * pop
        if tip.general and (cold or not profile.has_content):
            score += GENERAL_COLD
        if c_reason is not None and c_score >= f_score:
            reason, source = c_reason, "content"
        elif f_score > 0:
            reason, source = COLLAB_REASON, "collaborative"
        elif tip.general and tip.popularity <= 0:
            reason, source = GENERAL_REASON, "popular"
        else:
            reason, source = (POPULAR_REASON if tip.popularity > 0 else GENERAL_REASON), "popular"
        scored.append(Recommendation(tip.id, round(score, 4), reason, source, tip.topics))
    scored.sort(key=lambda r: (-r.score, r.tip_id))
    return diversify(scored, limit)


def diversify(ranked: list[Recommendation], limit: int, top: int = TOP_DIVERSE,
              max_per_topic: int = MAX_PER_TOPIC) -> list[Recommendation]:
    """Greedy re-rank: the first ``top`` slots take at most ``max_per_topic`` tips per indicator or condition;
    a tip that would break that waits for the slots after."""
    head: list[Recommendation] = []
    deferred: list[Recommendation] = []
    counts: dict[str, int] = {}
    rest = iter(ranked)
    for rec in rest:
        if len(head) >= top:
            deferred.append(rec)
            break
        if any(counts.get(t, 0) >= max_per_topic for t in rec.topics):
            deferred.append(rec)
            continue
        head.append(rec)
        for t in rec.topics:
            counts[t] = counts.get(t, 0) + 1
    if len(head) < top:   # not enough diverse tips exist: fill rather than show fewer
        while deferred and len(head) < top:
            head.append(deferred.pop(0))
    out = head + deferred + list(rest)
    return out[:limit]
