"""Pluggable answer writer. By default answers are composed from knowledge entries by templates
(``consult.py``); an operator may plug an LLM that rewrites the answer from the same retrieved passages.
Off unless ``NLP_LLM_URL`` is set. Safety decisions (red flags, out-of-scope) are always made before any LLM."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from zhenxi_common.llm import ChatCompletions


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
        self.client = ChatCompletions(url, model, api_key, timeout_s)

    def write(self, question: str, language: str, passages: list[Passage], history: list[Turn],
              draft: str) -> str | None:
        system = ("You are a cautious medical information assistant. Answer only from the passages, in "
                  f"{'Chinese' if language == 'zh' else 'English'}, cite passage ids in [brackets], never give "
                  "doses or diagnoses, and tell the user to see a doctor when unsure.")
        context = "\n\n".join(f"[{p.id}] {p.title}\n{p.text}" for p in passages)
        messages = [{"role": "system", "content": system}]
        messages += [{"role": t.role, "content": t.content} for t in history[-6:]]
        messages.append({"role": "user", "content": f"Passages:\n{context}\n\nQuestion: {question}"})
        return self.client.complete(messages)
