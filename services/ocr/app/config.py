from pydantic_settings import SettingsConfigDict

from zhenxi_common.settings import BaseServiceSettings


class Settings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OCR_", extra="ignore")

    service_name: str = "ocr"
    port: int = 8101
