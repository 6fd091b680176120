from pydantic_settings import SettingsConfigDict

from zhenxi_common.settings import BaseServiceSettings


class Settings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORT_", extra="ignore")

    service_name: str = "report"
    port: int = 8104
