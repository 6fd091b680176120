"""Chinese text for doctor search: jieba tokens, indexed by Postgres full text (the ``simple`` configuration over
pre-tokenised text, since Postgres has no Chinese parser)."""
from __future__ import annotations

import re

import jieba

_WORD = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for tok in jieba.cut_for_search(text):
        tok = tok.strip().lower()
        if tok and _WORD.fullmatch(tok) and tok not in seen:
            seen.add(tok)
            out.append(tok)
    return out


def document_tokens(name: str, specialties: list[str], bio: str) -> str:
    return " ".join(tokens(" ".join([name, *specialties, bio])))


def query_tsquery(q: str) -> str | None:
    """An OR ``to_tsquery`` string of the query's tokens (only word characters, so nothing needs escaping)."""
    toks = tokens(q)[:20]
    return " | ".join(toks) if toks else None
