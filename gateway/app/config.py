from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from zhenxi_common.settings import PLACEHOLDER_SECRET, BaseServiceSettings

SERVICES = ("ocr", "xray", "nlp", "report", "reminders", "booking", "tips")


class Settings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    port: int = 8000

    jwt_secret: str = Field(PLACEHOLDER_SECRET, validation_alias="JWT_SECRET")
    pii_key: str = PLACEHOLDER_SECRET  # HMAC key for looking up WeChat openids without storing them
    access_ttl_s: int = 15 * 60
    refresh_ttl_s: int = 30 * 24 * 3600

    ocr_url: str = "http://127.0.0.1:8101"
    xray_url: str = "http://127.0.0.1:8102"
    nlp_url: str = "http://127.0.0.1:8103"
    report_url: str = "http://127.0.0.1:8104"
    reminders_url: str = "http://127.0.0.1:8105"
    booking_url: str = "http://127.0.0.1:8106"
    tips_url: str = "http://127.0.0.1:8107"
    upstream_timeout_s: float = 60.0

    rate_limit_window_s: int = 60
    rate_limit_per_user: int = 240
    rate_limit_per_ip: int = 600
    rate_limit_auth_per_ip: int = 30  # register/login/refresh/wechat attempts per IP per window
    max_body_bytes: int = 25 * 1024 * 1024
    cors_origins: list[str] = ["http://localhost:8000", "http://127.0.0.1:8000"]

    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_appid: str = ""
    wechat_secret: str = ""

    cookie_secure: bool | None = None  # None: Secure cookies when the request came over https
    web_dir: Path = Path(__file__).resolve().parent.parent / "web"

    def service_urls(self) -> dict[str, str]:
        return {name: getattr(self, f"{name}_url") for name in SERVICES}

    def secret_fields(self) -> dict[str, str]:
        return {**super().secret_fields(), "JWT_SECRET": self.jwt_secret, "GATEWAY_PII_KEY": self.pii_key}
