from pathlib import Path

from pydantic_settings import SettingsConfigDict

from zhenxi_common.settings import BaseServiceSettings

_REPO = Path(__file__).resolve().parents[3]


class Settings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NLP_", extra="ignore")

    service_name: str = "nlp"
    port: int = 8103
    # The knowledge root (zhenxi_knowledge); None = the package default (the repo's knowledge/, /app/knowledge).
    knowledge_dir: Path | None = None
    # Embeddings of the knowledge entries are cached here, keyed by knowledge version (gitignored).
    cache_dir: Path = _REPO / ".zhenxi" / "cache" / "nlp"
    dense_retrieval: bool = True
    dense_threads: int = 1
    # Optional LLM answer writer (OpenAI-compatible endpoint). Off by default.
    llm_url: str | None = None
    llm_model: str = "local"
    llm_api_key: str | None = None
    llm_timeout_s: float = 20.0
    max_history_turns: int = 10
