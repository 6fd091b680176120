"""Queries of the tips schema. Only ``flush()``; the request's session commits."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Numeric, and_, cast, delete, func, literal, literal_column, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Favorite, Tip, TipImage, TipImageVariant, TipView, UserPlan, UserReport


def search_vector(title_words: list[str], rest_words: list[str]) -> Any:
    """Title words weigh more (A) than the rest (B); 'simple' because the words are already segmented."""
    return func.setweight(func.to_tsvector("simple", " ".join(title_words)), literal_column("'A'")).op("||")(
        func.setweight(func.to_tsvector("simple", " ".join(rest_words)), literal_column("'B'")))


def _or_query(words: list[str]) -> Any:
    query = func.plainto_tsquery("simple", words[0])
    for w in words[1:]:
        query = query.op("||")(func.plainto_tsquery("simple", w))
    return query


class TipRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tip_id: uuid.UUID) -> Tip | None:
        return await self.session.get(Tip, tip_id)

    async def by_slug(self, slug: str) -> Tip | None:
        return (await self.session.execute(select(Tip).where(Tip.slug == slug))).scalar_one_or_none()

    async def seed_state(self) -> dict[str, tuple[uuid.UUID, str | None, bool]]:
        rows = await self.session.execute(select(Tip.slug, Tip.id, Tip.seed_digest, Tip.edited))
        return {r.slug: (r.id, r.seed_digest, r.edited) for r in rows}

    async def add(self, tip: Tip) -> Tip:
        self.session.add(tip)
        await self.session.flush()
        return tip

    async def delete(self, tip: Tip) -> None:
        await self.session.delete(tip)
        await self.session.flush()

    async def page(self, *, category: str | None, lang: str | None, words: list[str], status: str | None,
                   after: tuple | None, limit: int) -> list[tuple[Tip, float | None]]:
        """Browse (newest first) or search (best match first), keyset-paginated on (sort key, id)."""
        stmt = select(Tip)
        if status is not None:
            stmt = stmt.where(Tip.status == status)
        if category:
            stmt = stmt.where(Tip.category == category)
        if lang:
            stmt = stmt.where(Tip.lang == lang)
        if words:
            query = _or_query(words)
            rank = func.round(cast(func.ts_rank(Tip.search, query), Numeric), 6)
            stmt = stmt.add_columns(rank).where(Tip.search.op("@@")(query))
            if after is not None:
                r, last_id = after
                stmt = stmt.where(or_(rank < r, and_(rank == r, Tip.id > last_id)))
            stmt = stmt.order_by(rank.desc(), Tip.id.asc())
        else:
            key = func.coalesce(Tip.published_at, Tip.created_at)
            stmt = stmt.add_columns(literal(None))
            if after is not None:
                stmt = stmt.where(tuple_(key, Tip.id) < tuple_(after[0], after[1]))
            stmt = stmt.order_by(key.desc(), Tip.id.desc())
        rows = (await self.session.execute(stmt.limit(limit))).all()
        return [(r[0], float(r[1]) if r[1] is not None else None) for r in rows]

    async def published_features(self) -> list[Any]:
        """Only what ranking reads (no bodies, no search vectors): one light row per published tip."""
        rows = await self.session.execute(
            select(Tip.id, Tip.lang, Tip.indicators, Tip.findings, Tip.conditions, Tip.drug_classes, Tip.general,
                   Tip.favorite_count, Tip.view_count).where(Tip.status == "published"))
        return list(rows.all())

    async def by_ids(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, Tip]:
        if not ids:
            return {}
        rows = await self.session.execute(select(Tip).where(Tip.id.in_(ids)))
        return {t.id: t for t in rows.scalars()}

    # ---- views and favourites ----------------------------------------------------------------------------
    async def count_view(self, user_id: str, tip_id: uuid.UUID) -> None:
        await self.session.execute(update(Tip).where(Tip.id == tip_id).values(view_count=Tip.view_count + 1))
        stmt = pg_insert(TipView).values(user_id=user_id, tip_id=tip_id, count=1)
        await self.session.execute(stmt.on_conflict_do_update(
            index_elements=[TipView.user_id, TipView.tip_id],
            set_={"count": TipView.count + 1, "last_viewed_at": func.now()}))

    async def add_favorite(self, user_id: str, tip_id: uuid.UUID) -> bool:
        stmt = (pg_insert(Favorite).values(user_id=user_id, tip_id=tip_id).on_conflict_do_nothing()
                .returning(Favorite.tip_id))
        inserted = (await self.session.execute(stmt)).first() is not None
        if inserted:
            await self.session.execute(update(Tip).where(Tip.id == tip_id)
                                       .values(favorite_count=Tip.favorite_count + 1))
        return inserted

    async def remove_favorite(self, user_id: str, tip_id: uuid.UUID) -> bool:
        stmt = (delete(Favorite).where(Favorite.user_id == user_id, Favorite.tip_id == tip_id)
                .returning(Favorite.tip_id))
        removed = (await self.session.execute(stmt)).first() is not None
        if removed:
            await self.session.execute(update(Tip).where(Tip.id == tip_id)
                                       .values(favorite_count=func.greatest(Tip.favorite_count - 1, 0)))
        return removed

    async def favorite(self, user_id: str, tip_id: uuid.UUID) -> Favorite | None:
        return await self.session.get(Favorite, (user_id, tip_id))

    async def favorites_page(self, user_id: str, after: tuple[datetime, uuid.UUID] | None, limit: int
                             ) -> list[tuple[Favorite, Tip]]:
        stmt = (select(Favorite, Tip).join(Tip, Tip.id == Favorite.tip_id)
                .where(Favorite.user_id == user_id, Tip.status == "published"))
        if after is not None:
            stmt = stmt.where(tuple_(Favorite.created_at, Favorite.tip_id) < tuple_(after[0], after[1]))
        stmt = stmt.order_by(Favorite.created_at.desc(), Favorite.tip_id.desc()).limit(limit)
        return [(r[0], r[1]) for r in (await self.session.execute(stmt)).all()]

    async def favorited_ids(self, user_id: str, tip_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        if not tip_ids:
            return set()
        rows = await self.session.execute(select(Favorite.tip_id).where(Favorite.user_id == user_id,
                                                                        Favorite.tip_id.in_(tip_ids)))
        return set(rows.scalars())

    async def interactions(self) -> list[tuple[str, str, int, bool]]:
        """(user_id, tip_id, views, favourited) for every user and tip either touched."""
        views = {(r.user_id, str(r.tip_id)): r.count
                 for r in await self.session.execute(select(TipView.user_id, TipView.tip_id, TipView.count))}
        favs = {(r.user_id, str(r.tip_id)) for r in await self.session.execute(select(Favorite.user_id,
                                                                                       Favorite.tip_id))}
        return [(u, t, views.get((u, t), 0), (u, t) in favs) for (u, t) in set(views) | favs]

    async def user_interactions(self, user_id: str) -> tuple[dict[str, int], set[str]]:
        views = {str(r.tip_id): r.count for r in await self.session.execute(
            select(TipView.tip_id, TipView.count).where(TipView.user_id == user_id))}
        favs = {str(t) for t in (await self.session.execute(
            select(Favorite.tip_id).where(Favorite.user_id == user_id))).scalars()}
        return views, favs

    # ---- images ------------------------------------------------------------------------------------------
    async def add_image(self, image: TipImage, variants: list[TipImageVariant]) -> TipImage:
        self.session.add(image)
        await self.session.flush()
        self.session.add_all(variants)
        await self.session.flush()
        return image

    async def images_for(self, tip_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[tuple[TipImage, list[tuple]]]]:
        if not tip_ids:
            return {}
        images = list((await self.session.execute(select(TipImage).where(TipImage.tip_id.in_(tip_ids))
                                                  .order_by(TipImage.created_at, TipImage.id))).scalars())
        sizes: dict[uuid.UUID, list[tuple]] = {}
        if images:
            rows = await self.session.execute(
                select(TipImageVariant.image_id, TipImageVariant.width, TipImageVariant.height,
                       TipImageVariant.format).where(TipImageVariant.image_id.in_([i.id for i in images]))
                .order_by(TipImageVariant.width, TipImageVariant.format))
            for r in rows:
                sizes.setdefault(r.image_id, []).append((r.width, r.height, r.format))
        out: dict[uuid.UUID, list[tuple[TipImage, list[tuple]]]] = {}
        for img in images:
            out.setdefault(img.tip_id, []).append((img, sizes.get(img.id, [])))
        return out

    async def image(self, tip_id: uuid.UUID, image_id: uuid.UUID) -> TipImage | None:
        img = await self.session.get(TipImage, image_id)
        return img if img is not None and img.tip_id == tip_id else None

    async def variant(self, image_id: uuid.UUID, width: int | None, fmt: str) -> TipImageVariant | None:
        stmt = select(TipImageVariant).where(TipImageVariant.image_id == image_id, TipImageVariant.format == fmt)
        if width is not None:   # the smallest stored width that is at least the one asked for, else the largest
            bigger = await self.session.execute(stmt.where(TipImageVariant.width >= width)
                                                .order_by(TipImageVariant.width.asc()).limit(1))
            found = bigger.scalar_one_or_none()
            if found is not None:
                return found
        rows = await self.session.execute(stmt.order_by(TipImageVariant.width.desc()).limit(1))
        return rows.scalar_one_or_none()

    async def delete_image(self, image: TipImage) -> None:
        await self.session.delete(image)
        await self.session.flush()

    # ---- profiles from events ----------------------------------------------------------------------------
    async def upsert_report(self, values: dict[str, Any]) -> None:
        stmt = pg_insert(UserReport).values(**values)
        excluded = stmt.excluded
        await self.session.execute(stmt.on_conflict_do_update(
            index_elements=[UserReport.user_id],
            set_={k: getattr(excluded, k) for k in values if k != "user_id"} | {"updated_at": func.now()},
            where=UserReport.occurred_at <= excluded.occurred_at))

    async def upsert_plan(self, values: dict[str, Any]) -> None:
        stmt = pg_insert(UserPlan).values(**values)
        excluded = stmt.excluded
        await self.session.execute(stmt.on_conflict_do_update(
            index_elements=[UserPlan.user_id, UserPlan.plan_id],
            set_={k: getattr(excluded, k) for k in values if k not in ("user_id", "plan_id")}
            | {"updated_at": func.now()},
            where=UserPlan.version <= excluded.version))

    async def report(self, user_id: str) -> UserReport | None:
        return await self.session.get(UserReport, user_id)

    async def active_plans(self, user_id: str) -> list[UserPlan]:
        rows = await self.session.execute(select(UserPlan).where(UserPlan.user_id == user_id, UserPlan.active))
        return list(rows.scalars())
