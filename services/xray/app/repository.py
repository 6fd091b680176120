"""Queries for analyses. Only ``flush()``, never ``commit()``."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhenxi_common.errors import NotFoundError

from .models import Analysis


class AnalysisNotFoundError(NotFoundError):
    code = "analysis_not_found"
    default_message = "没有这条分析记录。 No such analysis."


def _strip_images(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for f in findings:
        f = dict(f)
        if isinstance(f.get("heatmap"), dict):
            f["heatmap"] = {k: v for k, v in f["heatmap"].items() if not k.endswith("_base64")}
        out.append(f)
    return out


async def add_analysis(session: AsyncSession, user_id: str, result: dict[str, Any],
                       classifications: list[dict[str, Any]]) -> Analysis:
    """Keep the model outputs only: no pixels, masks, heatmaps, file name or DICOM attributes."""
    image = result.get("image", {})
    row = Analysis(
        id=uuid.uuid4(), user_id=user_id, model_version=result.get("model_version", {}),
        image={"width": image.get("width"), "height": image.get("height"), "format": image.get("format")},
        gate=result.get("gate", {}), abnormal=result.get("abnormal", {}),
        findings=_strip_images(result.get("findings", [])), detections=result.get("detections", []),
        measurements=result.get("measurements", {}), classifications=classifications)
    session.add(row)
    await session.flush()
    return row


async def get_analysis(session: AsyncSession, analysis_id: str, user_id: str) -> Analysis:
    """Another user's analysis is reported as not found, so ids reveal nothing."""
    try:
        aid = uuid.UUID(analysis_id)
    except ValueError:
        raise AnalysisNotFoundError() from None
    row = await session.scalar(select(Analysis).where(Analysis.id == aid, Analysis.user_id == user_id))
    if row is None:
        raise AnalysisNotFoundError()
    return row


async def list_analyses(session: AsyncSession, user_id: str, limit: int = 50) -> list[Analysis]:
    return list((await session.scalars(select(Analysis).where(Analysis.user_id == user_id)
                                       .order_by(Analysis.created_at.desc()).limit(limit))).all())
