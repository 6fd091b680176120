"""Pluggable answer writer. By default answers are composed from knowledge entries by templates
(``consult.py``); an operator may plug an LLM that rewrites the answer from the same retrieved passages.
Off unless ``NLP_LLM_URL`` is set. Safety decisions (red flags, out-of-scope) are always made before any LLM."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import httpx

log = logging.getLogger("zhenxi.nlp.llm")


@dataclass(frozen=True)
class Passage:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Turn:
    role: str  # user | assistant
    content: str


class AnswerWriter(Protocol):
    """Turns a question plus retrieved passages into answer text. Returns None to keep the template answer."""

    def write(self, question: str, language: str, passages: list[Passage], history: list[Turn],
              draft: str) -> str | None: ...


class OpenAICompatibleWriter:
    """Calls an OpenAI-compatible ``/chat/completions`` endpoint (for example a self-hosted model server).
    Any transport or format problem falls back to the template draft, so the service never depends on it."""

    def __init__(self, url: str, model: str, api_key: str | None = None, timeout_s: float = 20.0) -> None:
        self.url = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout_s = timeout_s

    def write(self, question: str, language: str, passages: list[Passage], history: list[Turn],
              draft: str) -> str | None:
        system = ("You are a cautious medical information assistant. Answer only from the passages, in "
                  f"{'Chinese' if language == 'zh' else 'English'}, cite passage ids in [brackets], never give "
                  "doses or diagnoses, and tell the user to see a doctor when unsure.")
        context = "\n\n".join(f"[{p.id}] {p.title}\n{p.text}" for p in passages)
        messages = [{"role": "system", "content": system}]
        messages += [{"role": t.role, "content": t.content} for t in history[-6:]]
        messages.append({"role": "user", "content": f"Passages:\n{context}\n\nQuestion: {question}"})
        try:
            r = httpx.post(self.url, json={"model": self.model, "messages": messages, "temperature": 0},
                           headers=self.headers, timeout=self.timeout_s)
            r.raise_for_status()
            text = r.json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            log.warning("llm writer failed, using the template answer: %s", type(exc).__name__)
            return None
        return text.strip() or None
