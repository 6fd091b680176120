from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from zhenxi_common.settings import BaseServiceSettings

DEV_DATA_KEY = "dev-insecure-change-me-reminders-data-key"


class Settings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REMINDERS_", extra="ignore")

    service_name: str = "reminders"
    port: int = 8105

    # Key for personal fields at rest (drug text, notes, caregiver, device addresses): any string, stretched.
    data_key: str = DEV_DATA_KEY
    # knowledge/ root for zhenxi_knowledge (None: its own default, $ZHENXI_KNOWLEDGE_DIR or the repo's knowledge/).
    knowledge_dir: Path | None = None

    # Expansion: occurrences are stored this far ahead and topped up by the scheduler.
    horizon_days: int = Field(14, ge=1, le=90)
    max_doses_per_day: int = 48
    max_pending_days: int = 3660   # a plan may not run further than this from today

    # Scheduler.
    scheduler_enabled: bool = True
    scheduler_poll_s: float = 0.5
    scheduler_batch: int = 500
    housekeeping_every_s: float = 5.0   # auto-missed marking, horizon top-up, outbox retention
    # Outbox rows sent (acked by JetStream, mark committed) are deleted this many hours after they were written, by
    # the housekeeping passes on the real clock, a window of the table's pages per pass (scheduler.prune_outbox);
    # unsent rows are never deleted. 0 keeps every row.
    outbox_retention_h: float = Field(24.0, ge=0)
    # Rows one relay lane claims and sends per batch. Quiet 100k-plan bench (kill run): 1,000 gave p99 1.26 / 1.08 /
    # 0.68 s at the 43k / 39k / 25k peaks, 2,000 gave 1.05-1.15 / 0.99-1.02 / 0.61 s, 4,000 1.17 / 0.98 / 0.57 s.
    relay_batch: int = 2000
    # Relay lanes at a peak (each its own connection, batch after batch): one lane claims and sends while the others
    # wait for their acks and commit. The relay's own pool holds this many connections.
    relay_depth: int = Field(4, ge=1, le=16)
    # Claim reminders due within this many seconds (real clock) and stage them to go out at their due time: the
    # claim work of a peak (everyone's 08:00:00 dose) is done before it, so the peak publishes on time.
    fire_lookahead_s: float = Field(30.0, ge=0, le=120)
    # The relay claims ahead too: a lane with nothing due claims up to `relay_prefetch_batch` rows due within
    # `relay_prefetch_s` (claimed and marked, uncommitted, locked) and sends each at its time, so at a peak's due
    # second only the publish is left (relay.py). 0 = claim at the due time.
    relay_prefetch_s: float = Field(2.0, ge=0, le=30)
    relay_prefetch_batch: int = Field(16000, ge=1)
    relay_poll_s: float = 0.25
    # Escalation: repeat until acknowledged, every `repeat_every_min`, at most `max_repeats` extra times.
    repeat_every_min: float = 10.0
    max_repeats: int = 3
    # Caregiver (Medfriend) alert after this many minutes unacknowledged (default; a plan may override).
    caregiver_after_min: float = 30.0
    # A dose not recorded this long after its due time becomes `missed`; taken after `late_after_min`: taken_late.
    grace_min: float = 120.0
    late_after_min: float = 60.0

    # Channels.
    deliveries_enabled: bool = True
    # Hosts webhooks may point at (SSRF guard). dev/test also allow 127.0.0.1 and localhost.
    webhook_allowed_hosts: list[str] = []
    webhook_timeout_s: float = 5.0
    wechat_base_url: str = "https://api.weixin.qq.com"
    wechat_appid: str = ""
    wechat_secret: str = ""
    wechat_template_id: str = ""

    # Refill: remind this many days before the stock runs out (a plan may override).
    refill_days_ahead: int = 7

    def secret_fields(self) -> dict[str, str]:
        return {**super().secret_fields(), "REMINDERS_DATA_KEY": self.data_key}
