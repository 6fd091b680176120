import re
from datetime import datetime

from pydantic import BaseModel, Field, field_validator

ROLES = ("patient", "admin", "integrator")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-@]{3,64}$")


class Credentials(BaseModel):
    # The pattern is in the schema (not only in a validator) so the OpenAPI document says what is refused.
    username: str = Field(min_length=3, max_length=64, pattern=USERNAME_RE.pattern,
                          description="Letters, digits and _ . - @ only, 3 to 64 characters.")
    password: str = Field(min_length=8, max_length=256)

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        return v.lower()


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RegisteredUser(BaseModel):
    id: str
    username: str
    role: str


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=10, max_length=4096)


class LogoutRequest(BaseModel):
    refresh_token: str = Field(min_length=10, max_length=4096)


class WechatLoginRequest(BaseModel):
    code: str = Field(min_length=1, max_length=128)


class ApiKeyCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, description="An existing account with role integrator.")
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, description="Service names this key may call, e.g. ['ocr', 'xray'].")


class ApiKeyCreated(BaseModel):
    id: str
    name: str
    scopes: list[str]
    key: str = Field(description="Shown once; only its SHA-256 is stored.")


class RoleChange(BaseModel):
    role: str

    @field_validator("role")
    @classmethod
    def _role(cls, v: str) -> str:
        if v not in ROLES:
            raise ValueError(f"one of {ROLES}")
        return v


class Me(BaseModel):
    user_id: str
    role: str
    scopes: list[str]
    via: str


class UserRow(BaseModel):
    id: str
    username: str
    role: str
    wechat: bool
    created_at: datetime


class UserList(BaseModel):
    items: list[UserRow]
