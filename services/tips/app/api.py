"""Routes only: parse, call the service layer, shape the response."""
from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import Response as RawResponse

from zhenxi_common.db import DbSession
from zhenxi_common.errors import ForbiddenError, error_responses
from zhenxi_common.identity import CurrentUser, Identity, require_role

from .errors import (ImageFileTooLargeError, ImageNotFoundError, ImageTooManyPixelsError, ImageTooSmallError,
                     ImageUnreadableError, InvalidCursorError, SlugTakenError, TipNotFoundError,
                     UnknownCategoryError, UnknownLinkError, UnknownReferenceError, UnsupportedImageTypeError)
from .schemas import (AdminTipOut, AdminTipPage, Caller, CategoryOut, FavoriteOut, FavoritePage, ImageOut,
                      ImageVariantOut, Lang, LinksOut, PreviewIn, PreviewOut, ReasonOut, RecommendationOut,
                      RecommendationsOut, ReferenceOut, ServiceInfo, TipCreate, TipOut, TipPage, TipSummary,
                      TipUpdate)
from .service import TipCard, TipsContext, TipsService

router = APIRouter(prefix="/v1", tags=["tips"])
admin_router = APIRouter(prefix="/v1/admin", tags=["tips admin"])

Admin = Annotated[Identity, Depends(require_role("admin"))]
Limit = Annotated[int, Query(ge=1, le=50, description="Items per page.")]
Cursor = Annotated[str | None, Query(max_length=500, description="`next_cursor` of the previous page.")]


def _ctx(request: Request) -> TipsContext:
    return request.app.state.tips


def _service(session: DbSession, request: Request) -> TipsService:
    return TipsService(session, _ctx(request))


Service = Annotated[TipsService, Depends(_service)]


# ---- shaping ---------------------------------------------------------------------------------------------
def _summary(card: TipCard, ctx: TipsContext) -> dict:
    t = card.tip
    cat = ctx.catalogue.categories.get(t.category)
    return dict(id=t.id, slug=t.slug, lang=t.lang, category=t.category,
                category_name=(cat.name_en if t.lang == "en" else cat.name) if cat else t.category,
                title=t.title, summary=t.summary, tags=list(t.tags),
                links=LinksOut(indicators=t.indicators, findings=t.findings, conditions=t.conditions,
                               drug_classes=t.drug_classes),
                view_count=t.view_count, favorite_count=t.favorite_count, favorited=card.favorited,
                published_at=t.published_at)


def _images(card: TipCard) -> list[ImageOut]:
    return [ImageOut(id=img.id, width=img.width, height=img.height, alt=img.alt, variants=[
        ImageVariantOut(width=w, height=h, format=f, url=f"/v1/tips/{card.tip.id}/images/{img.id}?width={w}&format={f}")
        for w, h, f in sizes]) for img, sizes in card.images]


def _full(card: TipCard, ctx: TipsContext) -> dict:
    return dict(_summary(card, ctx), body_html=card.tip.body_html,
                references=[ReferenceOut(**r) for r in card.tip.references], images=_images(card))


def _admin(card: TipCard, ctx: TipsContext) -> AdminTipOut:
    t = card.tip
    return AdminTipOut(**_full(card, ctx), status=t.status, source=t.source, tags_source=t.tags_source,
                       body_markdown=t.body_md, updated_at=t.updated_at)


# ---- public routes ---------------------------------------------------------------------------------------
@router.get("/info", response_model=ServiceInfo)
async def info(request: Request, user: CurrentUser) -> ServiceInfo:
    """Service name, version and the caller as the gateway identified them."""
    return ServiceInfo(service=request.app.state.settings.service_name, version=request.app.version,
                       caller=Caller(user_id=user.user_id, role=user.role))


@router.get("/categories", response_model=list[CategoryOut])
async def categories(request: Request, user: CurrentUser) -> list[CategoryOut]:
    """The tip categories: disease prevention, medication guidance, diet, exercise."""
    return [CategoryOut(**c.model_dump()) for c in _ctx(request).catalogue.categories.values()]


@router.get("/references", response_model=list[ReferenceOut])
async def references(request: Request, user: CurrentUser) -> list[ReferenceOut]:
    """The sources tips cite (ids usable in admin edits)."""
    return [ReferenceOut(**r.model_dump()) for r in _ctx(request).catalogue.references.values()]


@router.get("/tips", response_model=TipPage,
            responses=error_responses(UnknownCategoryError, InvalidCursorError))
async def list_tips(request: Request, user: CurrentUser, service: Service,
                    category: Annotated[str | None, Query(max_length=40, description=(
                        "prevention | medication | diet | exercise"))] = None,
                    q: Annotated[str | None, Query(max_length=200, description="Search words, Chinese or English.")
                                 ] = None,
                    lang: Lang | None = None, cursor: Cursor = None, limit: Limit = 20) -> TipPage:
    """Browse published tips by category (newest first) or search them (best match first)."""
    cards, next_cursor = await service.browse(user_id=user.user_id, category=category, q=q, lang=lang,
                                              cursor=cursor, limit=limit)
    ctx = _ctx(request)
    return TipPage(items=[TipSummary(**_summary(c, ctx)) for c in cards], next_cursor=next_cursor)


@router.get("/tips/{tip_id}", response_model=TipOut, responses=error_responses(TipNotFoundError))
async def get_tip(request: Request, tip_id: uuid.UUID, user: CurrentUser, service: Service) -> TipOut:
    """One published tip with its sanitised HTML body, references and images; counts a view."""
    return TipOut(**_full(await service.read(user.user_id, tip_id), _ctx(request)))


@router.get("/tips/{tip_id}/images/{image_id}", response_class=RawResponse,
            responses={200: {"content": {"image/webp": {}, "image/jpeg": {}}, "description": "The image bytes."},
                       **error_responses(TipNotFoundError, ImageNotFoundError)})
async def get_image(tip_id: uuid.UUID, image_id: uuid.UUID, user: CurrentUser, service: Service,
                    width: Annotated[int | None, Query(ge=1, le=10_000)] = None,
                    format: Literal["webp", "jpeg"] = "webp") -> Response:
    """An image of a tip at the stored width closest above ``width``, as WebP or the JPEG fallback."""
    v = await service.image_bytes(tip_id, image_id, width, format, admin=user.role == "admin")
    return Response(v.data, media_type=v.media_type,
                    headers={"Cache-Control": "public, max-age=86400", "X-Image-Width": str(v.width)})


@router.put("/favorites/{tip_id}", response_model=FavoriteOut, responses=error_responses(TipNotFoundError))
async def put_favorite(request: Request, tip_id: uuid.UUID, user: CurrentUser, service: Service) -> FavoriteOut:
    """Save a tip to the caller's favourites (idempotent: saving twice keeps one)."""
    created_at, card = await service.favorite(user.user_id, tip_id)
    return FavoriteOut(tip_id=card.tip.id, created_at=created_at, tip=TipSummary(**_summary(card, _ctx(request))))


@router.delete("/favorites/{tip_id}", status_code=204, responses=error_responses(TipNotFoundError))
async def delete_favorite(tip_id: uuid.UUID, user: CurrentUser, service: Service) -> Response:
    """Remove a tip from the caller's favourites (idempotent)."""
    await service.unfavorite(user.user_id, tip_id)
    return Response(status_code=204)


@router.get("/favorites", response_model=FavoritePage, responses=error_responses(InvalidCursorError))
async def list_favorites(request: Request, user: CurrentUser, service: Service, cursor: Cursor = None,
                         limit: Limit = 20) -> FavoritePage:
    """The caller's favourites, newest first: the same list on every device."""
    rows, next_cursor = await service.favorites(user.user_id, cursor, limit)
    ctx = _ctx(request)
    return FavoritePage(items=[FavoriteOut(tip_id=c.tip.id, created_at=at, tip=TipSummary(**_summary(c, ctx)))
                               for at, c in rows], next_cursor=next_cursor)


@router.get("/recommendations", response_model=RecommendationsOut)
async def recommendations(request: Request, user: CurrentUser, service: Service,
                          limit: Annotated[int, Query(ge=1, le=50)] = 10, lang: Lang = "zh-CN"
                          ) -> RecommendationsOut:
    """Tips chosen for the caller from their latest report, medication plans and what similar users read."""
    ranked, cold = await service.recommendations(user.user_id, limit, lang)
    ctx = _ctx(request)
    return RecommendationsOut(cold_start=cold, items=[
        RecommendationOut(tip=TipSummary(**_summary(card, ctx)), score=rec.score, source=rec.source,
                          reason=ReasonOut(kind=rec.reason.kind, code=rec.reason.code, text=rec.reason.text,
                                           text_en=rec.reason.text_en))
        for rec, card in ranked])


# ---- admin routes ----------------------------------------------------------------------------------------
ADMIN_ERRORS = (ForbiddenError,)


@admin_router.get("/tips", response_model=AdminTipPage,
                  responses=error_responses(UnknownCategoryError, InvalidCursorError, *ADMIN_ERRORS))
async def admin_list(request: Request, admin: Admin, service: Service,
                     status: Literal["draft", "published"] | None = None,
                     category: Annotated[str | None, Query(max_length=40)] = None,
                     q: Annotated[str | None, Query(max_length=200)] = None, lang: Lang | None = None,
                     cursor: Cursor = None, limit: Limit = 20) -> AdminTipPage:
    """Every tip, drafts included."""
    cards, next_cursor = await service.browse(user_id=admin.user_id, category=category, q=q, lang=lang,
                                              cursor=cursor, limit=limit, status=status)
    ctx = _ctx(request)
    return AdminTipPage(items=[_admin(c, ctx) for c in cards], next_cursor=next_cursor)


@admin_router.post("/tips", response_model=AdminTipOut, status_code=201,
                   responses=error_responses(UnknownCategoryError, UnknownLinkError, UnknownReferenceError,
                                             SlugTakenError, *ADMIN_ERRORS))
async def admin_create(request: Request, body: TipCreate, admin: Admin, service: Service) -> AdminTipOut:
    """Create a draft tip; tags and links left out are filled by auto-tagging."""
    return _admin(await service.create(body.model_dump()), _ctx(request))


@admin_router.get("/tips/{tip_id}", response_model=AdminTipOut,
                  responses=error_responses(TipNotFoundError, *ADMIN_ERRORS))
async def admin_get(request: Request, tip_id: uuid.UUID, admin: Admin, service: Service) -> AdminTipOut:
    """Preview one tip, draft or published, exactly as readers will see it (no view is counted)."""
    return _admin(await service.admin_get(tip_id), _ctx(request))


@admin_router.patch("/tips/{tip_id}", response_model=AdminTipOut,
                    responses=error_responses(TipNotFoundError, UnknownCategoryError, UnknownLinkError,
                                              UnknownReferenceError, *ADMIN_ERRORS))
async def admin_update(request: Request, tip_id: uuid.UUID, body: TipUpdate, admin: Admin, service: Service
                       ) -> AdminTipOut:
    """Edit a tip (text, tags, links, references)."""
    return _admin(await service.update(tip_id, body.model_dump(exclude_unset=True)), _ctx(request))


@admin_router.delete("/tips/{tip_id}", status_code=204, responses=error_responses(TipNotFoundError, *ADMIN_ERRORS))
async def admin_delete(tip_id: uuid.UUID, admin: Admin, service: Service) -> Response:
    """Delete a tip with its images, views and favourites."""
    await service.delete(tip_id)
    return Response(status_code=204)


@admin_router.post("/tips/{tip_id}/publish", response_model=AdminTipOut,
                   responses=error_responses(TipNotFoundError, *ADMIN_ERRORS))
async def admin_publish(request: Request, tip_id: uuid.UUID, admin: Admin, service: Service) -> AdminTipOut:
    """Publish a draft (idempotent)."""
    return _admin(await service.set_status(tip_id, "published"), _ctx(request))


@admin_router.post("/tips/{tip_id}/unpublish", response_model=AdminTipOut,
                   responses=error_responses(TipNotFoundError, *ADMIN_ERRORS))
async def admin_unpublish(request: Request, tip_id: uuid.UUID, admin: Admin, service: Service) -> AdminTipOut:
    """Take a tip back to draft (idempotent)."""
    return _admin(await service.set_status(tip_id, "draft"), _ctx(request))


IMAGE_BODY = {"requestBody": {"required": True, "content": {
    m: {"schema": {"type": "string", "format": "binary"}} for m in ("image/jpeg", "image/png", "image/webp")}}}


@admin_router.post("/tips/{tip_id}/images", response_model=AdminTipOut, status_code=201, openapi_extra=IMAGE_BODY,
                   responses=error_responses(TipNotFoundError, ImageUnreadableError, UnsupportedImageTypeError,
                                             ImageTooManyPixelsError, ImageFileTooLargeError, ImageTooSmallError,
                                             *ADMIN_ERRORS))
async def admin_add_image(request: Request, tip_id: uuid.UUID, admin: Admin, service: Service,
                          alt: Annotated[str, Query(max_length=200)] = "") -> AdminTipOut:
    """Attach an image (the raw JPEG, PNG or WebP bytes as the body); stored as WebP + JPEG at several widths."""
    data = await request.body()
    return _admin(await service.add_image(tip_id, data, alt), _ctx(request))


@admin_router.delete("/tips/{tip_id}/images/{image_id}", status_code=204,
                     responses=error_responses(ImageNotFoundError, *ADMIN_ERRORS))
async def admin_delete_image(tip_id: uuid.UUID, image_id: uuid.UUID, admin: Admin, service: Service) -> Response:
    """Remove an image from a tip."""
    await service.delete_image(tip_id, image_id)
    return Response(status_code=204)


@admin_router.post("/preview", response_model=PreviewOut, responses=error_responses(*ADMIN_ERRORS))
async def admin_preview(body: PreviewIn, admin: Admin, service: Service) -> PreviewOut:
    """Render unsaved Markdown as readers would see it, with the tags and links auto-tagging suggests."""
    html, auto = service.preview(body.title, body.body, body.lang)
    links = {f: auto.links.get(k, []) for f, k in (("indicators", "indicator"), ("findings", "finding"),
                                                    ("conditions", "condition"), ("drug_classes", "drug_class"))}
    return PreviewOut(body_html=html, auto_tags=auto.tags, suggested_links=LinksOut(**links))
