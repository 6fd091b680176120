"""The one client for an operator's optional LLM: an OpenAI-compatible ``/chat/completions`` endpoint.

Services use it only to reword text they already composed; any transport or format problem returns None, so the
caller keeps its own wording and never depends on the model being there."""
from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger("zhenxi.llm")


class ChatCompletions:
    def __init__(self, url: str, model: str, api_key: str | None = None, timeout_s: float = 20.0) -> None:
        self.url = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout_s = timeout_s

    def complete(self, messages: list[dict[str, Any]]) -> str | None:
        """The first choice's text (stripped), or None when the call or its answer fails (logged by type only:
        the messages may hold a patient's words)."""
        try:
            r = httpx.post(self.url, json={"model": self.model, "messages": messages, "temperature": 0},
                           headers=self.headers, timeout=self.timeout_s)
            r.raise_for_status()
            text = str(r.json()["choices"][0]["message"]["content"])
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            log.warning("llm call failed, the caller keeps its own wording: %s", type(exc).__name__)
            return None
        return text.strip() or None
