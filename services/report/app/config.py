from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from zhenxi_common.settings import PLACEHOLDER_SECRET, BaseServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[3]

# CJK fonts the PDF renderer looks for, in order (the image installs fonts-wqy-microhei).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/local/share/zhenxi/fonts/wqy-microhei.ttc",
)


class Settings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORT_", extra="ignore")

    service_name: str = "report"
    port: int = 8104

    # Downstream services (the fan-out). In compose/k8s these are the service DNS names.
    ocr_url: str = "http://127.0.0.1:8101"
    xray_url: str = "http://127.0.0.1:8102"
    nlp_url: str = "http://127.0.0.1:8103"
    ocr_timeout_s: float = 60.0
    xray_timeout_s: float = 60.0
    nlp_timeout_s: float = 20.0
    breaker_threshold: int = 5
    breaker_ttl_s: float = 30.0

    # Uploads: content-addressed, AES-GCM encrypted files under this directory (a volume in compose and k8s).
    upload_dir: Path = REPO_ROOT / ".zhenxi" / "report-uploads"
    # "kid:base64(32 bytes)" entries, comma separated; upload_key_id names the one used for new files.
    upload_keys: str = Field(PLACEHOLDER_SECRET)
    upload_key_id: str = "dev"
    max_files: int = 12
    max_file_bytes: int = 20 * 1024 * 1024
    max_body_bytes: int = 60 * 1024 * 1024
    max_symptom_chars: int = 2000

    # Background work: how many reports one replica processes at once, and how often it looks for
    # pending reports left by another replica or by a crash.
    worker_concurrency: int = 4
    worker_poll_s: float = 1.0
    wait_timeout_s: float = 60.0   # ?wait=true gives up waiting after this and answers 202
    db_pool_size: int = 12

    knowledge_dir: Path = REPO_ROOT / "knowledge"
    booking_search_url: str = "/api/booking/v1/slots?department={department}"
    pdf_font: Path | None = None

    # Optional wording rewrite by an OpenAI-compatible chat-completions server. Off unless llm_url is set.
    llm_url: str | None = None
    llm_model: str = "local"
    llm_api_key: str | None = None
    llm_timeout_s: float = 20.0

    def secret_fields(self) -> dict[str, str]:
        out = super().secret_fields()
        out["REPORT_UPLOAD_KEYS"] = self.upload_keys
        return out

    def font_path(self) -> Path | None:
        if self.pdf_font is not None:
            return self.pdf_font if self.pdf_font.exists() else None
        for c in FONT_CANDIDATES:
            if Path(c).exists():
                return Path(c)
        return None
