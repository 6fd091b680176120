"""Queries for accounts and tokens. Only flush(), never commit()."""
import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import ApiKey, RefreshToken, User


async def user_by_username(session: AsyncSession, username: str) -> User | None:
    return (await session.execute(select(User).where(User.username == username))).scalar_one_or_none()


async def user_by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def user_by_openid_hmac(session: AsyncSession, digest: str) -> User | None:
    return (await session.execute(select(User).where(User.wechat_openid_hmac == digest))).scalar_one_or_none()


async def list_users(session: AsyncSession, q: str | None, role: str | None, limit: int) -> list[User]:
    query = select(User).order_by(User.created_at.desc(), User.username).limit(limit)
    if q:
        query = query.where(User.username.contains(q.lower(), autoescape=True))
    if role:
        query = query.where(User.role == role)
    return list((await session.execute(query)).scalars())


async def add(session: AsyncSession, obj: object) -> None:
    session.add(obj)
    await session.flush()


async def refresh_token(session: AsyncSession, jti: str) -> RefreshToken | None:
    return await session.get(RefreshToken, jti)


async def claim_refresh_token(session: AsyncSession, jti: str) -> RefreshToken | None:
    """Atomically mark a live refresh token used; None if it is unknown, used, revoked or expired."""
    now = datetime.now(UTC)
    stmt = (update(RefreshToken)
            .where(RefreshToken.jti == jti, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None),
                   RefreshToken.expires_at > now)
            .values(used_at=now).returning(RefreshToken))
    return (await session.execute(stmt)).scalar_one_or_none()


async def revoke_family(session: AsyncSession, family_id: str) -> None:
    await session.execute(update(RefreshToken).where(RefreshToken.family_id == family_id,
                                                     RefreshToken.revoked_at.is_(None))
                          .values(revoked_at=datetime.now(UTC)))


async def api_key_by_hash(session: AsyncSession, digest: str) -> tuple[ApiKey, User] | None:
    stmt = (select(ApiKey, User).join(User, User.id == ApiKey.user_id)
            .where(ApiKey.key_sha256 == digest, ApiKey.revoked_at.is_(None)))
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None
