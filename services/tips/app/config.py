from pathlib import Path

from pydantic_settings import SettingsConfigDict

from zhenxi_common.settings import BaseServiceSettings


class Settings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TIPS_", extra="ignore")

    service_name: str = "tips"
    port: int = 8107

    # knowledge/ (indicators, findings, conditions, drug classes), read through zhenxi_knowledge.
    # None: $ZHENXI_KNOWLEDGE_DIR, else the knowledge/ of this checkout, else /app/knowledge (the image).
    knowledge_dir: Path | None = None
    # The seed tips (YAML); None: services/tips/seed.
    seed_dir: Path | None = None
    seed_on_start: bool = True

    # Recommendations: the item-kNN model over favourites and views is rebuilt when older than this.
    cf_refresh_s: float = 300.0
    cf_neighbours: int = 20
    recommendation_limit_max: int = 50

    # Images: bytes and pixels checked before decoding (decompression bombs), widths served.
    image_max_bytes: int = 8 * 1024 * 1024
    image_max_pixels: int = 24_000_000
    image_widths: tuple[int, ...] = (320, 640, 1280)
    image_min_side: int = 32

    page_size_max: int = 50
