from pydantic_settings import SettingsConfigDict

from zhenxi_common.settings import BaseServiceSettings


class Settings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TIPS_", extra="ignore")

    service_name: str = "tips"
    port: int = 8107
