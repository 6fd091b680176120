"""The tips domain: seeding, browsing and search, views, favourites, admin editing, images, recommendations and
the profile built from events. No FastAPI here."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from zhenxi_common.events import PlanChangedV1, ReportCompletedV1

from . import cursor as cursors
from .collaborative import ItemKnn, interaction_weight
from .config import Settings
from .content import Catalogue, Links, SeedTip, unresolved_links
from .errors import (ImageNotFoundError, SlugTakenError, TipNotFoundError, UnknownCategoryError, UnknownLinkError,
                     UnknownReferenceError)
from .images import process_image
from .knowledge import Vocabulary
from .models import Tip, TipImage, TipImageVariant
from .recommend import Profile, Recommendation, TipFeatures, rank
from .rendering import render_markdown
from .repository import TipRepository, search_vector
from .tagging import AutoTags, Tagger

log = logging.getLogger("zhenxi.tips")
ABNORMAL_FLAGS = {"L", "H", "LL", "HH", "POS", "ABN"}
LINK_FIELDS = ("indicators", "findings", "conditions", "drug_classes")
KIND_OF = {"indicators": "indicator", "findings": "finding", "conditions": "condition", "drug_classes": "drug_class"}


@dataclass
class CfCache:
    model: ItemKnn | None = None
    built_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class TipsContext:
    """Long-lived, read-only things built once at start-up (plus the CF model cache)."""
    settings: Settings
    vocab: Vocabulary
    catalogue: Catalogue
    tagger: Tagger
    cf: CfCache = field(default_factory=CfCache)


@dataclass
class TipCard:
    """A tip with what the response needs beside its row."""
    tip: Tip
    images: list[tuple[TipImage, list[tuple]]]
    favorited: bool = False


class TipsService:
    def __init__(self, session: AsyncSession, ctx: TipsContext) -> None:
        self.session = session
        self.ctx = ctx
        self.repo = TipRepository(session)

    # ---- shared helpers ----------------------------------------------------------------------------------
    def check_category(self, category: str | None) -> None:
        if category is not None and category not in self.ctx.catalogue.categories:
            raise UnknownCategoryError(
                f"未知的分类 {category!r}。 Unknown category {category!r}.",
                details={"category": category, "allowed": sorted(self.ctx.catalogue.categories)})

    def _search_vector(self, tip: Tip) -> Any:
        vocab = self.ctx.vocab
        names = [vocab.name(KIND_OF[f], code, lang) for f in LINK_FIELDS for code in getattr(tip, f)
                 for lang in ("zh-CN", "en")]
        codes = [code for f in LINK_FIELDS for code in getattr(tip, f)]
        rest = " ".join([tip.summary, tip.body_md, *tip.tags, *names, *codes])
        return search_vector(self.ctx.tagger.words(tip.title), self.ctx.tagger.words(rest))

    def _refresh_derived(self, tip: Tip) -> None:
        tip.body_html = render_markdown(tip.body_md)
        tip.search = self._search_vector(tip)

    def _references(self, ids: list[str]) -> list[dict]:
        if missing := [r for r in ids if r not in self.ctx.catalogue.references]:
            raise UnknownReferenceError(details={"unknown": missing})
        return [self.ctx.catalogue.references[r].model_dump() for r in ids]

    def _check_links(self, links: dict[str, list[str]]) -> None:
        if bad := unresolved_links(Links(**links), self.ctx.vocab):
            raise UnknownLinkError(details={"unknown": bad})

    def auto_tags(self, title: str, body: str, lang: str) -> AutoTags:
        return self.ctx.tagger.auto_tags(f"{title}\n{body}", lang)

    # ---- seed --------------------------------------------------------------------------------------------
    async def seed(self) -> dict[str, int]:
        """Insert seed tips that are missing; update those whose seed text changed unless an admin edited them.
        Replicas starting together take turns (advisory lock)."""
        await self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('zhenxi-tips-seed'))"))
        state = await self.repo.seed_state()
        counts = {"inserted": 0, "updated": 0, "kept": 0}
        now = datetime.now(UTC)
        for seed in self.ctx.catalogue.tips:
            digest = seed.digest()
            existing = state.get(seed.slug)
            if existing is None:
                tip = Tip(id=uuid.uuid4(), slug=seed.slug, status="published", source="seed", published_at=now,
                          view_count=0, favorite_count=0, edited=False)
                self._apply_seed(tip, seed, digest)
                await self.repo.add(tip)
                counts["inserted"] += 1
            elif existing[1] != digest and not existing[2]:
                tip = await self.repo.get(existing[0])
                assert tip is not None
                self._apply_seed(tip, seed, digest)
                tip.updated_at = now
                counts["updated"] += 1
            else:
                counts["kept"] += 1
        await self.session.flush()
        return counts

    def _apply_seed(self, tip: Tip, seed: SeedTip, digest: str) -> None:
        tip.lang, tip.category, tip.title, tip.summary, tip.body_md = (seed.lang, seed.category, seed.title,
                                                                      seed.summary, seed.body)
        auto = self.auto_tags(seed.title, seed.body, seed.lang)
        tip.tags = list(dict.fromkeys([*seed.tags, *auto.tags]))[:20]
        tip.tags_source = "seed"
        for f in LINK_FIELDS:
            setattr(tip, f, list(getattr(seed, f)))
        tip.references = self._references(seed.references)
        tip.general = seed.general
        tip.seed_digest = digest
        self._refresh_derived(tip)

    # ---- reading -----------------------------------------------------------------------------------------
    async def _views(self, tips: list[Tip], user_id: str | None) -> list[TipCard]:
        ids = [t.id for t in tips]
        images = await self.repo.images_for(ids)
        favs = await self.repo.favorited_ids(user_id, ids) if user_id else set()
        return [TipCard(t, images.get(t.id, []), t.id in favs) for t in tips]

    async def browse(self, *, user_id: str, category: str | None, q: str | None, lang: str | None,
                     cursor: str | None, limit: int, status: str | None = "published"
                     ) -> tuple[list[TipCard], str | None]:
        self.check_category(category)
        words = self.ctx.tagger.query_words(q) if q and q.strip() else []
        kind = "search" if words else "browse"
        after = cursors.decode(cursor, kind)
        rows = await self.repo.page(category=category, lang=lang, words=words, status=status, after=after,
                                    limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = None
        if more and rows:
            last, rank_value = rows[-1]
            key = rank_value if words else (last.published_at or last.created_at)
            next_cursor = cursors.encode(kind, key, last.id)
        return await self._views([t for t, _ in rows], user_id), next_cursor

    async def _published(self, tip_id: uuid.UUID) -> Tip:
        tip = await self.repo.get(tip_id)
        if tip is None or tip.status != "published":
            raise TipNotFoundError(details={"tip_id": str(tip_id)})
        return tip

    async def read(self, user_id: str, tip_id: uuid.UUID) -> TipCard:
        """One published tip; counts a view for the caller."""
        tip = await self._published(tip_id)
        await self.repo.count_view(user_id, tip.id)
        await self.session.refresh(tip)
        return (await self._views([tip], user_id))[0]

    # ---- favourites --------------------------------------------------------------------------------------
    async def favorite(self, user_id: str, tip_id: uuid.UUID) -> tuple[datetime, TipCard]:
        tip = await self._published(tip_id)
        await self.repo.add_favorite(user_id, tip.id)
        fav = await self.repo.favorite(user_id, tip.id)
        assert fav is not None
        await self.session.refresh(tip)
        return fav.created_at, (await self._views([tip], user_id))[0]

    async def unfavorite(self, user_id: str, tip_id: uuid.UUID) -> None:
        tip = await self.repo.get(tip_id)
        if tip is None:
            raise TipNotFoundError(details={"tip_id": str(tip_id)})
        await self.repo.remove_favorite(user_id, tip.id)

    async def favorites(self, user_id: str, cursor: str | None, limit: int
                        ) -> tuple[list[tuple[datetime, TipCard]], str | None]:
        after = cursors.decode(cursor, "favorites")
        rows = await self.repo.favorites_page(user_id, after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        views = await self._views([t for _, t in rows], user_id)
        next_cursor = cursors.encode("favorites", rows[-1][0].created_at, rows[-1][1].id) if more and rows else None
        return [(f.created_at, v) for (f, _), v in zip(rows, views)], next_cursor

    # ---- admin -------------------------------------------------------------------------------------------
    async def create(self, data: dict[str, Any]) -> TipCard:
        self.check_category(data["category"])
        auto = self.auto_tags(data["title"], data["body"], data["lang"])
        links = {f: data.get(f) for f in LINK_FIELDS}
        if all(v is None for v in links.values()):
            links = {f: auto.links.get(KIND_OF[f], []) for f in LINK_FIELDS}
        links = {f: list(dict.fromkeys(v or [])) for f, v in links.items()}
        self._check_links(links)
        slug = data.get("slug") or f"tip-{uuid.uuid4().hex[:12]}"
        if await self.repo.by_slug(slug) is not None:
            raise SlugTakenError(details={"slug": slug})
        tags = data.get("tags")
        tip = Tip(id=uuid.uuid4(), slug=slug, lang=data["lang"], category=data["category"], title=data["title"],
                  summary=data["summary"], body_md=data["body"], tags=list(dict.fromkeys(tags if tags is not None
                                                                                        else auto.tags)),
                  tags_source="admin" if tags is not None else "auto", references=self._references(
                      data.get("references") or []), general=bool(data.get("general")), status="draft",
                  source="admin", edited=False, view_count=0, favorite_count=0, **links)
        self._refresh_derived(tip)
        await self.repo.add(tip)
        await self.session.refresh(tip)
        return (await self._views([tip], None))[0]

    async def admin_get(self, tip_id: uuid.UUID) -> TipCard:
        tip = await self.repo.get(tip_id)
        if tip is None:
            raise TipNotFoundError(details={"tip_id": str(tip_id)})
        return (await self._views([tip], None))[0]

    async def update(self, tip_id: uuid.UUID, changes: dict[str, Any]) -> TipCard:
        tip = (await self.admin_get(tip_id)).tip
        if "category" in changes:
            self.check_category(changes["category"])
        if any(f in changes for f in LINK_FIELDS):
            links = {f: list(dict.fromkeys(changes.get(f) if changes.get(f) is not None else getattr(tip, f)))
                     for f in LINK_FIELDS}
            self._check_links(links)
            for f, v in links.items():
                setattr(tip, f, v)
        for f in ("lang", "category", "title", "summary", "general"):
            if changes.get(f) is not None:
                setattr(tip, f, changes[f])
        if changes.get("body") is not None:
            tip.body_md = changes["body"]
        if changes.get("references") is not None:
            tip.references = self._references(changes["references"])
        if changes.get("tags") is not None:
            tip.tags, tip.tags_source = list(dict.fromkeys(changes["tags"])), "admin"
        elif tip.tags_source == "auto" and ("body" in changes or "title" in changes):
            tip.tags = self.auto_tags(tip.title, tip.body_md, tip.lang).tags
        if tip.source == "seed":
            tip.edited = True
        tip.updated_at = datetime.now(UTC)
        self._refresh_derived(tip)
        await self.session.flush()
        await self.session.refresh(tip)
        return (await self._views([tip], None))[0]

    async def set_status(self, tip_id: uuid.UUID, status: str) -> TipCard:
        tip = (await self.admin_get(tip_id)).tip
        if tip.status != status:
            tip.status = status
            tip.published_at = datetime.now(UTC) if status == "published" else tip.published_at
            tip.updated_at = datetime.now(UTC)
            await self.session.flush()
            await self.session.refresh(tip)
        return (await self._views([tip], None))[0]

    async def delete(self, tip_id: uuid.UUID) -> None:
        tip = (await self.admin_get(tip_id)).tip
        await self.repo.delete(tip)

    def preview(self, title: str, body: str, lang: str) -> tuple[str, AutoTags]:
        return render_markdown(body), self.auto_tags(title, body, lang)

    # ---- images ------------------------------------------------------------------------------------------
    async def add_image(self, tip_id: uuid.UUID, data: bytes, alt: str) -> TipCard:
        tip = (await self.admin_get(tip_id)).tip
        s = self.ctx.settings
        processed = process_image(data, max_bytes=s.image_max_bytes, max_pixels=s.image_max_pixels,
                                  widths=s.image_widths, min_side=s.image_min_side)
        image = TipImage(id=uuid.uuid4(), tip_id=tip.id, width=processed.width, height=processed.height,
                         alt=alt.replace("\x00", ""))
        await self.repo.add_image(image, [TipImageVariant(image_id=image.id, width=v.width, height=v.height,
                                                          format=v.format, media_type=v.media_type, data=v.data)
                                          for v in processed.variants])
        return (await self._views([tip], None))[0]

    async def image_bytes(self, tip_id: uuid.UUID, image_id: uuid.UUID, width: int | None, fmt: str,
                          admin: bool) -> TipImageVariant:
        tip = await self.repo.get(tip_id)
        if tip is None or (tip.status != "published" and not admin):
            raise TipNotFoundError(details={"tip_id": str(tip_id)})
        image = await self.repo.image(tip.id, image_id)
        variant = await self.repo.variant(image.id, width, fmt) if image is not None else None
        if variant is None:
            raise ImageNotFoundError(details={"image_id": str(image_id)})
        return variant

    async def delete_image(self, tip_id: uuid.UUID, image_id: uuid.UUID) -> None:
        image = await self.repo.image(tip_id, image_id)
        if image is None:
            raise ImageNotFoundError(details={"image_id": str(image_id)})
        await self.repo.delete_image(image)

    # ---- recommendations ---------------------------------------------------------------------------------
    async def _cf_model(self) -> ItemKnn:
        cache = self.ctx.cf
        fresh = cache.model is not None and time.monotonic() - cache.built_at < self.ctx.settings.cf_refresh_s
        if fresh:
            assert cache.model is not None
            return cache.model
        async with cache.lock:
            if cache.model is None or time.monotonic() - cache.built_at >= self.ctx.settings.cf_refresh_s:
                rows = await self.repo.interactions()
                catalogue = [str(r.id) for r in await self.repo.published_features()]
                cache.model = ItemKnn.fit(((u, t, interaction_weight(v, f)) for u, t, v, f in rows),
                                          items=catalogue, neighbours=self.ctx.settings.cf_neighbours)
                cache.built_at = time.monotonic()
        return cache.model

    async def profile(self, user_id: str) -> tuple[Profile, dict[str, float]]:
        report = await self.repo.report(user_id)
        plans = await self.repo.active_plans(user_id)
        views, favs = await self.repo.user_interactions(user_id)
        vocab = self.ctx.vocab
        classes = list(dict.fromkeys(c for p in plans for c in p.drug_classes))
        drug_names = tuple((vocab.drugs[d].class_id, vocab.drugs[d].name, vocab.drugs[d].name_en)
                           for p in plans for d in p.drugs if d in vocab.drugs)
        profile = Profile(
            abnormal=tuple((a["code"], a["flag"]) for a in (report.abnormal if report else [])),
            collected_on=report.collected_on if report else None,
            findings=tuple(report.findings) if report else (),
            conditions=tuple(report.conditions) if report else (),
            drug_classes=tuple(classes), drug_names=drug_names,
            seen=frozenset(views) | frozenset(favs))
        user_items = {t: interaction_weight(views.get(t, 0), t in favs) for t in set(views) | favs}
        return profile, user_items

    async def recommendations(self, user_id: str, limit: int, lang: str | None
                              ) -> tuple[list[tuple[Recommendation, TipCard]], bool]:
        profile, user_items = await self.profile(user_id)
        cf_scores = (await self._cf_model()).scores(user_items) if user_items else {}
        rows = await self.repo.published_features()
        features = [TipFeatures(str(t.id), t.lang, tuple(t.indicators), tuple(t.findings), tuple(t.conditions),
                                tuple(t.drug_classes), t.general, 3.0 * t.favorite_count + t.view_count)
                    for t in rows]
        ranked = rank(features, profile, cf_scores, self.ctx.vocab, limit=limit, lang=lang)
        full = await self.repo.by_ids([uuid.UUID(r.tip_id) for r in ranked])
        views = await self._views([full[uuid.UUID(r.tip_id)] for r in ranked], user_id)
        return list(zip(ranked, views)), not profile.has_content and not cf_scores

    # ---- events ------------------------------------------------------------------------------------------
    async def on_report_completed(self, event: ReportCompletedV1) -> None:
        """Keep the user's latest report as codes. Older events arriving late never overwrite a newer one."""
        abnormal = {a.code: a.flag for a in event.abnormal if a.flag in ABNORMAL_FLAGS}
        findings, conditions = list(event.positive_findings), list(event.conditions)
        for tag in event.tags:   # "indicator:LDL-C:H", "finding:Nodule", "condition:gout"
            kind, _, rest = tag.partition(":")
            if kind == "indicator" and ":" in rest:
                code, _, flag = rest.rpartition(":")
                if flag in ABNORMAL_FLAGS:
                    abnormal.setdefault(code, flag)
            elif kind == "finding" and rest:
                findings.append(rest)
            elif kind == "condition" and rest:
                conditions.append(rest)
        await self.repo.upsert_report({
            "user_id": event.user_id, "report_id": event.report_id, "occurred_at": event.occurred_at,
            "collected_on": (event.report_date or event.occurred_at).date(),
            "abnormal": [{"code": c, "flag": f} for c, f in abnormal.items()],
            "findings": list(dict.fromkeys(findings)), "conditions": list(dict.fromkeys(conditions))})

    async def on_plan_changed(self, event: PlanChangedV1) -> None:
        """One plan = one drug (``drug_id``, ``drug_class``); ``change: deleted`` ends it. A lower ``version``
        than the stored one (a late redelivery) changes nothing."""
        vocab = self.ctx.vocab
        cls = event.drug_class or (vocab.drugs[event.drug_id].class_id if event.drug_id in vocab.drugs else None)
        await self.repo.upsert_plan({
            "user_id": event.user_id, "plan_id": event.plan_id, "version": event.version,
            "occurred_at": event.occurred_at, "drug_classes": [cls] if cls else [],
            "drugs": [event.drug_id] if event.drug_id else [], "active": event.change != "deleted"})
