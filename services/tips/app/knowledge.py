"""The one place the tips service reads the shared knowledge base (through ``zhenxi_knowledge``): indicator
codes, X-ray finding labels, condition ids, drug class ids and drugs, with the names patients read. Everything
else in the service asks a ``Vocabulary``."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from zhenxi_knowledge import get_knowledge

Kind = Literal["indicator", "finding", "condition", "drug_class"]
KINDS: tuple[Kind, ...] = ("indicator", "finding", "condition", "drug_class")


@dataclass(frozen=True)
class Term:
    kind: Kind
    id: str
    name: str
    name_en: str
    aliases: tuple[str, ...] = ()

    def display(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name


@dataclass(frozen=True)
class DrugName:
    """A drug a plan may name: its knowledge id, its class, and the names patients read."""
    id: str
    class_id: str
    name: str
    name_en: str


@dataclass(frozen=True)
class Vocabulary:
    indicators: dict[str, Term] = field(default_factory=dict)
    findings: dict[str, Term] = field(default_factory=dict)
    conditions: dict[str, Term] = field(default_factory=dict)
    drug_classes: dict[str, Term] = field(default_factory=dict)
    drugs: dict[str, DrugName] = field(default_factory=dict)
    source: str = "files"
    root: Path | None = None

    def table(self, kind: Kind) -> dict[str, Term]:
        return {"indicator": self.indicators, "finding": self.findings, "condition": self.conditions,
                "drug_class": self.drug_classes}[kind]

    def has(self, kind: Kind, ident: str) -> bool:
        return ident in self.table(kind)

    def name(self, kind: Kind, ident: str, lang: str = "zh-CN") -> str:
        term = self.table(kind).get(ident)
        return term.display(lang) if term else ident

    def terms(self) -> list[Term]:
        return [t for kind in KINDS for t in self.table(kind).values()]


def load_vocabulary(root: Path | None = None) -> Vocabulary:
    """The vocabulary of the shared knowledge base (``zhenxi_knowledge``: loaded and validated once per root).
    ``root`` None: the package's own resolution ($ZHENXI_KNOWLEDGE_DIR, the checkout, /app/knowledge)."""
    kb = get_knowledge(root) if root is not None else get_knowledge()
    return _from_package(kb, Path(kb.root))


def _aliases(*groups: Any) -> tuple[str, ...]:
    out: list[str] = []
    for g in groups:
        for a in g or ():
            if a and str(a) not in out:
                out.append(str(a))
    return tuple(out)


def _from_package(kb: Any, root: Path) -> Vocabulary:
    drug_aliases: dict[str, list[str]] = {}
    for drug in getattr(kb, "drugs", {}).values():
        drug_aliases.setdefault(drug.class_id, []).extend([drug.name, drug.name_en, *drug.brands, *drug.aliases])
    return Vocabulary(
        indicators={c: Term("indicator", c, i.name, i.name_en, _aliases(getattr(i, "aliases", ())))
                    for c, i in kb.indicators.items()},
        findings={c: Term("finding", c, f.name, f.name_en) for c, f in kb.findings.items()},
        conditions={c: Term("condition", c, d.name, d.name_en, _aliases(getattr(d, "aliases", ())))
                    for c, d in kb.conditions.items()},
        drug_classes={c: Term("drug_class", c, d.name, d.name_en, _aliases(drug_aliases.get(c)))
                      for c, d in kb.drug_classes.items()},
        drugs={d.id: DrugName(d.id, d.class_id, d.name, d.name_en) for d in getattr(kb, "drugs", {}).values()},
        source=f"zhenxi_knowledge {kb.version}", root=root)
