"""Queries for model versions. Only ``flush()``, never ``commit()``."""
from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import ModelVersion
from .errors import ModelNotFoundError


async def list_versions(session: AsyncSession, name: str | None = None, status: str | None = None
                        ) -> list[ModelVersion]:
    q = select(ModelVersion).order_by(ModelVersion.name, ModelVersion.created_at, ModelVersion.version)
    if name:
        q = q.where(ModelVersion.name == name)
    if status:
        q = q.where(ModelVersion.status == status)
    return list((await session.scalars(q)).all())


async def get_version(session: AsyncSession, name: str, version: str) -> ModelVersion:
    row = await session.scalar(select(ModelVersion).where(ModelVersion.name == name,
                                                          ModelVersion.version == version))
    if row is None:
        raise ModelNotFoundError(details={"name": name[:64], "version": version[:64]})
    return row


async def get_active(session: AsyncSession, name: str) -> ModelVersion | None:
    return await session.scalar(select(ModelVersion).where(ModelVersion.name == name,
                                                           ModelVersion.status == "active"))


async def active_set(session: AsyncSession) -> list[ModelVersion]:
    return list((await session.scalars(select(ModelVersion).where(ModelVersion.status == "active")
                                       .order_by(ModelVersion.name))).all())


async def lock_name(session: AsyncSession, name: str) -> None:
    """Serialise registry writes per model name across replicas (released at commit/rollback)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"xray.model:{name}"})
