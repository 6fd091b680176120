"""JWT issue and verification (HS256). Access and refresh tokens carry ``typ`` so one can't stand in for the other."""
from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from .errors import UnauthorizedError

ISSUER = "zhenxi"


class TokenInvalidError(UnauthorizedError):
    code = "token_invalid"
    default_message = "令牌无效。 The token is not valid."


class TokenExpiredError(UnauthorizedError):
    code = "token_expired"
    default_message = "令牌已过期，请刷新或重新登录。 The token has expired; refresh it or log in again."


def issue_token(secret: str, *, subject: str, token_type: str, ttl_s: int, claims: dict[str, Any] | None = None,
                jti: str | None = None) -> tuple[str, dict[str, Any]]:
    now = int(time.time())
    payload = {"iss": ISSUER, "sub": subject, "typ": token_type, "iat": now, "exp": now + ttl_s,
               "jti": jti or uuid.uuid4().hex, **(claims or {})}
    return jwt.encode(payload, secret, algorithm="HS256"), payload


def verify_token(secret: str, token: str, *, token_type: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "jti", "typ"]})
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpiredError() from exc
    except jwt.PyJWTError as exc:
        raise TokenInvalidError() from exc
    if claims.get("typ") != token_type:
        raise TokenInvalidError(f"令牌类型不对，应为 {token_type} 令牌。 Expected a {token_type} token.")
    return claims
