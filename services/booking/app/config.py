from datetime import time
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from zhenxi_common.settings import BaseServiceSettings

_REPO = Path(__file__).resolve().parents[3]

# Development-only key material. Refused outside dev/test by BaseServiceSettings (it contains "change-me").
DEV_DATA_KEY = "ZGV2LWNoYW5nZS1tZS1hZXMtZ2NtLWtleS0zMmJ5dGU="  # 32 bytes, base64
DEV_INDEX_KEY = "dev-change-me-blind-index-key-0123456789"


class Settings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKING_", extra="ignore")

    service_name: str = "booking"
    port: int = 8106
    db_pool_size: int = 10
    knowledge_dir: Path = _REPO / "knowledge"
    timezone: str = "Asia/Shanghai"

    # Personal data: AES-GCM keys by key id (base64, 32 bytes), the id used for new writes, and the HMAC key of
    # the blind index. Rotating = add a key id, point active_key_id at it; old rows still decrypt.
    data_keys: dict[str, str] = Field(default_factory=lambda: {"dev1": DEV_DATA_KEY})
    active_key_id: str = "dev1"
    blind_index_key: str = DEV_INDEX_KEY

    # Holds and live counts.
    hold_minutes: int = 10
    slot_cache_ttl_s: int = 600
    hold_sweep_interval_s: float = 5.0
    sse_max_s: float = 15.0   # then the client reconnects (SSE retry), so no stream is held for ever
    sse_heartbeat_s: float = 10.0

    # Rules (Beijing 114 style), all configuration.
    daily_cap: int = 3                        # active bookings per patient (ID number) per visit day
    one_per_doctor_per_session: bool = True
    booking_cutoff_days_before: int = 1       # booking closes at cutoff_time this many days before the visit
    booking_cutoff_time: time = time(15, 0)
    cancel_deadline_days_before: int = 1      # cancelling is refused after this point
    cancel_deadline_time: time = time(15, 0)
    no_show_ban_threshold: int = 3            # this many no-shows within the window ...
    no_show_window_days: int = 90
    no_show_ban_days: int = 90                # ... ban new bookings for this long after the last one
    booking_horizon_days: int = 14

    # Period opening hours, used to give every sequence number its time window.
    period_hours: dict[str, tuple[time, time]] = Field(default_factory=lambda: {
        "morning": (time(8, 0), time(12, 0)),
        "afternoon": (time(13, 30), time(17, 0)),
        "evening": (time(18, 0), time(21, 0)),
    })

    # External HIS calls.
    his_timeout_s: float = 5.0

    # Dev catalogue: loaded at start-up only when ZHENXI_ENV=dev and the catalogue is empty.
    seed_dev: bool = True

    def secret_fields(self) -> dict[str, str]:
        out = super().secret_fields()
        out["BOOKING_BLIND_INDEX_KEY"] = self.blind_index_key
        for kid, key in self.data_keys.items():
            out[f"BOOKING_DATA_KEYS[{kid}]"] = "change-me" if key == DEV_DATA_KEY else key
        return out
