from pydantic_settings import SettingsConfigDict

from zhenxi_common.settings import BaseServiceSettings


class Settings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NLP_", extra="ignore")

    service_name: str = "nlp"
    port: int = 8103
