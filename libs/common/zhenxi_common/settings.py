"""Settings base: every process reads the same shared infrastructure variables, unprefixed,
plus its own prefixed ones (``OCR_THREADS``...). Placeholder secrets are refused outside dev/test."""
from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "dev-insecure-change-me"
_RELAXED_ENVS = {"dev", "test"}


class PlaceholderSecretError(RuntimeError):
    """Raised at start-up when a production-like environment still carries a development secret."""


class BaseServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_file=None, populate_by_name=True)

    service_name: str = "service"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    env: str = Field("dev", validation_alias="ZHENXI_ENV")
    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/zhenxi", validation_alias="DATABASE_URL"
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    nats_url: str = Field("nats://127.0.0.1:4222", validation_alias="NATS_URL")
    internal_signing_key: str = Field(PLACEHOLDER_SECRET, validation_alias="INTERNAL_SIGNING_KEY")
    # Prefixes isolate concurrent test runs sharing one Redis/NATS; production keeps the defaults.
    nats_subject_prefix: str = Field("zhenxi.", validation_alias="NATS_SUBJECT_PREFIX")
    redis_key_prefix: str = Field("zhenxi:", validation_alias="REDIS_KEY_PREFIX")

    db_pool_size: int = 5
    identity_max_age_s: int = 120
    max_body_bytes: int = 20 * 1024 * 1024

    def secret_fields(self) -> dict[str, str]:
        """Names and values of secrets that must not be placeholders in production."""
        return {"INTERNAL_SIGNING_KEY": self.internal_signing_key}

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> "BaseServiceSettings":
        if self.env in _RELAXED_ENVS:
            return self
        bad = [
            name
            for name, value in self.secret_fields().items()
            if not value or value == PLACEHOLDER_SECRET or "change-me" in value or len(value) < 32
        ]
        if bad:
            raise PlaceholderSecretError(
                f"refusing to start in ZHENXI_ENV={self.env!r}: placeholder or weak secrets {bad}"
            )
        return self
