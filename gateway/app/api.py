"""Public account routes under /api/auth. ``register`` and ``login`` are a stable contract for scripts."""
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from zhenxi_common.db import DbSession
from zhenxi_common.errors import ForbiddenError, RateLimitedError, error_responses
from zhenxi_common.identity import Identity
from zhenxi_common.tokens import TokenExpiredError, TokenInvalidError

from .errors import (ApiKeyInvalidError, AuthRequiredError, InvalidCredentialsError, LoginBackoffError,
                     NotIntegratorError,
                     RefreshTokenReusedError, TokenRevokedError, UnknownScopeError, UserNotFoundError,
                     UsernameTakenError, WechatCodeInvalidError, WechatUnavailableError)
from .proxy import authenticate, client_ip
from .schemas import (ApiKeyCreate, ApiKeyCreated, Credentials, LoginRequest, LogoutRequest, Me, RefreshRequest,
                      RegisteredUser, RoleChange, TokenPair, UserList, UserRow, WechatLoginRequest)

router = APIRouter(prefix="/api/auth", tags=["auth"])


async def auth_attempt_limit(request: Request) -> None:
    """Brute-force guard: few credential attempts per IP per window."""
    limiter = request.app.state.limiter
    await limiter.check([limiter.bucket("auth-ip", client_ip(request),
                                        request.app.state.settings.rate_limit_auth_per_ip)])


AttemptLimited = Depends(auth_attempt_limit)


async def current(request: Request) -> Identity:
    return await authenticate(request)


Caller = Annotated[Identity, Depends(current)]


def admin_only(caller: Caller) -> Identity:
    if caller.role != "admin":
        raise ForbiddenError("只有管理员可以执行此操作。 Only administrators can do this.", details={"required_roles": ["admin"]})
    return caller


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=RegisteredUser,
             dependencies=[AttemptLimited], responses=error_responses(UsernameTakenError, RateLimitedError))
async def register(body: Credentials, request: Request, session: DbSession) -> RegisteredUser:
    """Create a patient account (username + password, stored as an argon2id hash)."""
    user = await request.app.state.auth.register(session, body.username, body.password)
    return RegisteredUser(id=str(user.id), username=user.username, role=user.role)


@router.post("/login", response_model=TokenPair, dependencies=[AttemptLimited],
             responses=error_responses(InvalidCredentialsError, RateLimitedError, LoginBackoffError))
async def login(body: LoginRequest, request: Request, session: DbSession) -> TokenPair:
    """Exchange username and password for an access token and a single-use refresh token."""
    return await request.app.state.auth.login(session, body.username, body.password, client_ip(request))


@router.post("/refresh", response_model=TokenPair, dependencies=[AttemptLimited],
             responses=error_responses(TokenInvalidError, TokenExpiredError, TokenRevokedError,
                                       RefreshTokenReusedError))
async def refresh(body: RefreshRequest, request: Request, session: DbSession) -> TokenPair:
    """Rotate tokens. Each refresh token works once; reusing one revokes the whole session."""
    return await request.app.state.auth.refresh(session, body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT,
             responses=error_responses(TokenInvalidError, TokenRevokedError))
async def logout(body: LogoutRequest, request: Request, session: DbSession) -> None:
    """Revoke the refresh token's session and, if sent, the current access token."""
    auth = request.headers.get("authorization", "")
    access = None
    if auth.lower().startswith("bearer "):
        try:
            access = request.app.state.auth.access_claims(auth[7:].strip())
        except (TokenInvalidError, TokenExpiredError):
            access = None
    await request.app.state.auth.logout(session, body.refresh_token, access)


@router.post("/wechat", response_model=TokenPair, dependencies=[AttemptLimited],
             responses=error_responses(WechatCodeInvalidError, WechatUnavailableError))
async def wechat_login(body: WechatLoginRequest, request: Request, session: DbSession) -> TokenPair:
    """WeChat mini-program login: exchange a wx.login() code for tokens (an account is created on first use)."""
    return await request.app.state.auth.wechat_login(session, request.app.state.wechat, body.code)


@router.get("/me", response_model=Me, responses=error_responses(AuthRequiredError, TokenRevokedError))
async def me(caller: Caller) -> Me:
    """Who the gateway thinks you are."""
    return Me(user_id=caller.user_id, role=caller.role, scopes=list(caller.scopes), via=caller.via)


@router.get("/users", response_model=UserList, responses=error_responses(ForbiddenError))
async def list_users(session: DbSession, _: Annotated[Identity, Depends(admin_only)],
                     q: Annotated[str | None, Query(max_length=64, description="part of the username")] = None,
                     role: Annotated[str | None, Query(pattern="^(patient|admin|integrator)$")] = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> UserList:
    """Admin: accounts, newest first (username, role, whether WeChat-linked; nothing else is kept here)."""
    from . import repository as repo

    rows = await repo.list_users(session, q, role, limit)
    return UserList(items=[UserRow(id=str(u.id), username=u.username, role=u.role,
                                   wechat=u.wechat_openid_hmac is not None, created_at=u.created_at) for u in rows])


@router.put("/users/{username}/role", response_model=RegisteredUser,
            responses=error_responses(ForbiddenError, UserNotFoundError))
async def set_role(username: str, body: RoleChange, request: Request, session: DbSession,
                   _: Annotated[Identity, Depends(admin_only)]) -> RegisteredUser:
    """Admin: change an account's role."""
    user = await request.app.state.auth.set_role(session, username, body.role)
    return RegisteredUser(id=str(user.id), username=user.username, role=user.role)


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated,
             responses=error_responses(ForbiddenError, UserNotFoundError, NotIntegratorError, UnknownScopeError))
async def create_api_key(body: ApiKeyCreate, request: Request, session: DbSession,
                         _: Annotated[Identity, Depends(admin_only)]) -> ApiKeyCreated:
    """Admin: issue an API key with service scopes to an integrator account."""
    unknown = sorted(set(body.scopes) - set(request.app.state.upstreams) - {"*"})
    if unknown:
        names = ", ".join(unknown)
        raise UnknownScopeError(f"未知的权限范围：{names}。 Unknown scopes: {names}.", details={"unknown": unknown})
    key, raw = await request.app.state.auth.create_api_key(session, body.username, body.name, body.scopes)
    return ApiKeyCreated(id=str(key.id), name=key.name, scopes=key.scopes, key=raw)


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=error_responses(ForbiddenError, ApiKeyInvalidError))
async def revoke_api_key(key_id: uuid.UUID, session: DbSession, request: Request,
                         _: Annotated[Identity, Depends(admin_only)]) -> None:
    """Admin: revoke an API key."""
    await request.app.state.auth.revoke_api_key(session, key_id)
