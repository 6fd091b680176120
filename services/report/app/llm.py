"""Optional wording rewrite of the summary by an LLM, off by default (``REPORT_LLM_URL`` unset).

The writer follows the nlp service's answer-writer interface — ``write(question, language, passages, history,
draft) -> str | None`` — and speaks the OpenAI chat-completions contract. It may only reword: a sentence comes
back one per line, and a line is used only if it carries exactly the numbers of the template sentence;
otherwise the template sentence stays. Critical values, red flags, the urgent banner and the disclaimer are
safety text and are never sent."""
from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass
from typing import Any

from zhenxi_common.llm import ChatCompletions

log = logging.getLogger("zhenxi.report.llm")
SAFETY_TEMPLATES = frozenset({"critical_value", "red_flag", "urgent_banner", "disclaimer"})
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Passage:
    id: str
    title: str
    text: str


class OpenAICompatibleWriter:
    def __init__(self, url: str, model: str, api_key: str | None = None, timeout_s: float = 20.0) -> None:
        self.client = ChatCompletions(url, model, api_key, timeout_s)

    def write(self, question: str, language: str, passages: list[Passage], history: list[Any],
              draft: str) -> str | None:
        system = ("You reword medical report sentences into plain, friendly "
                  f"{'Chinese' if language == 'zh' else 'English'}. Keep every number, unit and meaning exactly. "
                  "Return exactly one line per input line, in the same order, nothing else.")
        return self.client.complete([{"role": "system", "content": system},
                                     {"role": "user", "content": f"{question}\n\n{draft}"}])


def _numbers(s: str) -> list[str]:
    return sorted(_NUMBER.findall(s))


class SummaryRewriter:
    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(body)
        items = [s for s in body.get("summary", []) if s["template"] not in SAFETY_TEMPLATES]
        if not items:
            return body
        draft = "\n".join(s["text"] for s in items)
        passages = [Passage(s["sources"][0], s["template"], s["text"]) for s in items]
        text = self.writer.write("Reword each line for a patient.", body.get("lang", "zh"), passages, [], draft)
        if not text:
            return body
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if len(lines) != len(items):
            log.warning("llm rewrite returned %d lines for %d sentences; ignored", len(lines), len(items))
            return body
        for item, line in zip(items, lines):
            if _numbers(line) == _numbers(item["text"]):
                item["template_text"] = item["text"]
                item["text"] = line
                item["reworded_by"] = "llm"
        return body


def make_rewriter(settings: Any) -> SummaryRewriter | None:
    if not settings.llm_url:
        return None
    return SummaryRewriter(OpenAICompatibleWriter(settings.llm_url, settings.llm_model, settings.llm_api_key,
                                                  settings.llm_timeout_s))
