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
    # How long the gateway waits for a service's answer to start, per route: the longest matching key wins
    # ("METHOD /api/<service>/path-prefix", then "METHOD", then "*"). Reads are short; model inference is not.
    # Spent budget -> 504 upstream_timeout at once. Env: GATEWAY_UPSTREAM_BUDGETS_S as a JSON object.
    upstream_budgets_s: dict[str, float] = {
        "*": 15.0, "GET": 5.0, "HEAD": 5.0, "OPTIONS": 5.0,
        "POST /api/ocr/": 60.0, "POST /api/xray/": 60.0, "POST /api/nlp/": 20.0, "POST /api/report/": 90.0,
        # A report's PDF (and HTML) is rendered when asked for: seconds of CPU, more on a busy machine.
        "GET /api/report/v1/reports/": 60.0,
    }
    # Once an answer has started, a streamed body (SSE) may be quiet this long between chunks; the per-route budget
    # bounds only the wait for the answer to start.
    stream_idle_timeout_s: float = 60.0
    health_probe_timeout_s: float = 1.5  # each service's /readyz, all probed at once
    docs_fetch_timeout_s: float = 3.0  # each service's /openapi.json, all fetched at once

    # Proxies (addresses or CIDR blocks, comma-separated) whose X-Forwarded-For is believed. Empty: the peer
    # address is the client, whatever the header says.
    trusted_proxies: str = ""

    rate_limit_window_s: int = 60
    rate_limit_per_user: int = 240
    rate_limit_per_ip: int = 600
    rate_limit_auth_per_ip: int = 30  # register/login/refresh/wechat attempts per IP per window
    # Heavy upstreams (model inference) have few workers: one caller (a user, or an API key's account) may have at
    # most ``in_flight_per_identity`` of these requests open at once, across all gateway replicas (a lease in
    # Redis), so that one user's burst of uploads cannot hold every worker while others wait. Reads and event
    # streams (GET) are cheap and long-lived, so only the methods named here count.
    in_flight_services: set[str] = {"ocr", "xray"}
    in_flight_methods: set[str] = {"POST", "PUT", "PATCH"}
    in_flight_per_identity: int = 3
    # A lease outlives the longest a request can legitimately stay open (its route budget plus one quiet spell of
    # its answer) by this much; after that it lapses, so a gateway that died mid-request frees its slots.
    in_flight_lease_grace_s: float = 30.0
    in_flight_retry_after_s: int = 5  # the hint sent with a refusal (a slot frees when any open request ends)
    # Per-account slow-down of failed logins (see login_guard.py): never a lock-out.
    login_free_failures: int = 5
    login_backoff_base_s: float = 1.0
    login_backoff_max_s: float = 30.0
    login_failure_memory_s: int = 15 * 60
    login_known_client_ttl_s: int = 30 * 24 * 3600
    max_body_bytes: int = 25 * 1024 * 1024
    cors_origins: list[str] = ["http://localhost:8000", "http://127.0.0.1:8000"]

    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_appid: str = ""
    wechat_secret: str = ""

    cookie_secure: bool | None = None  # None: Secure cookies when the request came over https
    web_dir: Path = Path(__file__).resolve().parent.parent / "web"

    def upstream_budget_s(self, method: str, path: str) -> float:
        method = method.upper()
        best, best_len = self.upstream_budgets_s.get(method, self.upstream_budgets_s.get("*", 15.0)), -1
        for key, seconds in self.upstream_budgets_s.items():
            m, _, prefix = key.partition(" ")
            if prefix and m.upper() == method and path.startswith(prefix) and len(prefix) > best_len:
                best, best_len = seconds, len(prefix)
        return best

    def in_flight_lease_s(self, method: str, path: str) -> float:
        """How long a heavy request's slot is held at most: the wait for the answer to start, one quiet spell of
        the answer, and a grace period."""
        return self.upstream_budget_s(method, path) + self.stream_idle_timeout_s + self.in_flight_lease_grace_s

    def service_urls(self) -> dict[str, str]:
        return {name: getattr(self, f"{name}_url") for name in SERVICES}

    def secret_fields(self) -> dict[str, str]:
        return {**super().secret_fields(), "JWT_SECRET": self.jwt_secret, "GATEWAY_PII_KEY": self.pii_key}
