from pydantic_settings import SettingsConfigDict

from zhenxi_common.settings import BaseServiceSettings


class Settings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="XRAY_", extra="ignore")

    service_name: str = "xray"
    port: int = 8102
