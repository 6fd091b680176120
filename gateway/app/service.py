"""Accounts and tokens: register, log in, rotate refresh tokens (with reuse detection), log out, WeChat login,
API keys, and turning a request's credentials into an Identity. No FastAPI imports."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zhenxi_common.events import UserRegisteredV1
from zhenxi_common.identity import Identity
from zhenxi_common.outbox import add_event
from zhenxi_common.tokens import issue_token, verify_token

from . import repository as repo
from .config import Settings
from .errors import (ApiKeyInvalidError, InvalidCredentialsError, NotIntegratorError, RefreshTokenReusedError,
                     TokenRevokedError, UserNotFoundError, UsernameTakenError)
from .login_guard import LoginGuard
from .models import ApiKey, RefreshToken, User
from .passwords import hash_password, verify_password
from .schemas import TokenPair
from .wechat import exchange_code


class AuthService:
    def __init__(self, settings: Settings, redis: Redis, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.redis = redis
        # For the one write that must survive the request failing: revoking a session on token reuse.
        self.sessionmaker = sessionmaker
        self.login_guard = LoginGuard(redis, settings)

    # -- tokens -------------------------------------------------------------------------------------------
    def revoked_access_key(self, jti: str) -> str:
        """Redis key marking an access token revoked at logout (checked by the proxy on every request)."""
        return f"{self.settings.redis_key_prefix}revoked-access:{jti}"

    async def _issue_pair(self, session: AsyncSession, user: User, family_id: str | None = None) -> TokenPair:
        s = self.settings
        access, _ = issue_token(s.jwt_secret, subject=str(user.id), token_type="access", ttl_s=s.access_ttl_s,
                                claims={"role": user.role})
        family_id = family_id or uuid.uuid4().hex
        refresh, claims = issue_token(s.jwt_secret, subject=str(user.id), token_type="refresh",
                                      ttl_s=s.refresh_ttl_s, claims={"fam": family_id})
        await repo.add(session, RefreshToken(jti=claims["jti"], user_id=user.id, family_id=family_id,
                                             expires_at=datetime.fromtimestamp(claims["exp"], UTC)))
        return TokenPair(access_token=access, refresh_token=refresh, expires_in=s.access_ttl_s)

    async def register(self, session: AsyncSession, username: str, password: str) -> User:
        if await repo.user_by_username(session, username) is not None:
            raise UsernameTakenError()
        user = User(id=uuid.uuid4(), username=username, password_hash=await hash_password(password), role="patient")
        await repo.add(session, user)
        await add_event(session, UserRegisteredV1(user_id=str(user.id), role=user.role))
        return user

    async def login(self, session: AsyncSession, username: str, password: str, client: str = "unknown") -> TokenPair:
        username = username.lower()
        scope = await self.login_guard.admit(username, client)
        user = await repo.user_by_username(session, username)
        if not await verify_password(user.password_hash if user else None, password) or user is None:
            await self.login_guard.failed(scope)
            raise InvalidCredentialsError()
        await self.login_guard.succeeded(scope, username, client)
        return await self._issue_pair(session, user)

    async def refresh(self, session: AsyncSession, refresh_token: str) -> TokenPair:
        claims = verify_token(self.settings.jwt_secret, refresh_token, token_type="refresh")
        row = await repo.claim_refresh_token(session, claims["jti"])
        if row is None:
            known = await repo.refresh_token(session, claims["jti"])
            if known is None or known.revoked_at is not None:
                raise TokenRevokedError()
            # A refresh token is single-use: a second use means it was copied. End the whole session family,
            # in its own transaction because this request is about to fail (and roll back).
            async with self.sessionmaker() as s, s.begin():
                await repo.revoke_family(s, known.family_id)
            raise RefreshTokenReusedError()
        user = await repo.user_by_id(session, row.user_id)
        if user is None:
            raise TokenRevokedError()
        return await self._issue_pair(session, user, family_id=row.family_id)

    async def logout(self, session: AsyncSession, refresh_token: str, access_claims: dict | None) -> None:
        claims = verify_token(self.settings.jwt_secret, refresh_token, token_type="refresh")
        row = await repo.refresh_token(session, claims["jti"])
        if row is not None:
            await repo.revoke_family(session, row.family_id)
        if access_claims:
            ttl = max(1, int(access_claims["exp"] - datetime.now(UTC).timestamp()))
            await self.redis.set(self.revoked_access_key(access_claims["jti"]), b"1", ex=ttl)

    # -- WeChat -----------------------------------------------------------------------------------------------
    def _openid_hmac(self, openid: str) -> str:
        return hmac.new(self.settings.pii_key.encode(), openid.encode(), hashlib.sha256).hexdigest()

    async def wechat_login(self, session: AsyncSession, client: httpx.AsyncClient, code: str) -> TokenPair:
        openid = await exchange_code(client, self.settings.wechat_appid, self.settings.wechat_secret, code)
        digest = self._openid_hmac(openid)
        user = await repo.user_by_openid_hmac(session, digest)
        if user is None:
            user = User(id=uuid.uuid4(), username=f"wx_{digest[:16]}", password_hash=None, role="patient",
                        wechat_openid_hmac=digest)
            await repo.add(session, user)
            await add_event(session, UserRegisteredV1(user_id=str(user.id), role=user.role))
        return await self._issue_pair(session, user)

    # -- roles and API keys -----------------------------------------------------------------------------------
    async def set_role(self, session: AsyncSession, username: str, role: str) -> User:
        user = await repo.user_by_username(session, username.lower())
        if user is None:
            raise UserNotFoundError()
        user.role = role
        await session.flush()
        return user

    async def create_api_key(self, session: AsyncSession, username: str, name: str,
                             scopes: list[str]) -> tuple[ApiKey, str]:
        user = await repo.user_by_username(session, username.lower())
        if user is None:
            raise UserNotFoundError()
        if user.role != "integrator":
            raise NotIntegratorError()
        raw = "zxk_" + secrets.token_hex(24)
        key = ApiKey(id=uuid.uuid4(), user_id=user.id, name=name, scopes=sorted(set(scopes)),
                     key_sha256=hashlib.sha256(raw.encode()).hexdigest())
        await repo.add(session, key)
        return key, raw

    async def revoke_api_key(self, session: AsyncSession, key_id: uuid.UUID) -> None:
        key = await session.get(ApiKey, key_id)
        if key is None:
            raise ApiKeyInvalidError("没有这个 API 密钥。 No such API key.")
        key.revoked_at = datetime.now(UTC)
        await session.flush()

    # -- request authentication -------------------------------------------------------------------------------
    def access_claims(self, token: str) -> dict:
        return verify_token(self.settings.jwt_secret, token, token_type="access")

    async def identity_from_api_key(self, session: AsyncSession, raw: str) -> Identity:
        found = await repo.api_key_by_hash(session, hashlib.sha256(raw.encode()).hexdigest())
        if found is None:
            raise ApiKeyInvalidError()
        key, user = found
        return Identity(user_id=str(user.id), role=user.role, scopes=tuple(key.scopes), via="api_key")
