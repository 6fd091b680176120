"""The one place the tips service reads the shared knowledge base: indicator codes, X-ray finding labels,
condition ids and drug class ids, with the names patients read. Everything else in the service asks a
``Vocabulary``.

It reads through ``zhenxi_knowledge`` (the shared loader package) when that is installed, and otherwise reads
the same YAML files directly, so the switch to the package is this module only."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

Kind = Literal["indicator", "finding", "condition", "drug_class"]
KINDS: tuple[Kind, ...] = ("indicator", "finding", "condition", "drug_class")
CONTAINER_ROOT = Path("/app/knowledge")


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


def knowledge_root(configured: Path | None = None) -> Path:
    """The configured folder, else $ZHENXI_KNOWLEDGE_DIR, else a knowledge/ above this file (a checkout),
    else /app/knowledge (the image keeps the repository layout)."""
    if configured is not None:
        return configured
    env = os.environ.get("ZHENXI_KNOWLEDGE_DIR")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        cand = parent / "knowledge"
        if (cand / "indicators").is_dir():
            return cand
    return CONTAINER_ROOT


def load_vocabulary(root: Path | None = None) -> Vocabulary:
    root = knowledge_root(root)
    try:
        from zhenxi_knowledge import get_knowledge
    except ImportError:
        return _from_files(root)
    return _from_package(get_knowledge(root), root)


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


def _read(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top")
    return data


def _from_files(root: Path) -> Vocabulary:
    indicators: dict[str, Term] = {}
    index = root / "indicators" / "index.yaml"
    if index.is_file():
        for name in _read(index).get("panel_files") or []:
            for code, e in (_read(root / "indicators" / name).get("indicators") or {}).items():
                indicators[str(code)] = Term("indicator", str(code), e.get("name", code), e.get("name_en", ""),
                                             _aliases(e.get("aliases")))
    findings = {str(f["label"]): Term("finding", str(f["label"]), f.get("name", f["label"]), f.get("name_en", ""))
                for p in sorted((root / "findings").glob("*.yaml")) for f in _read(p).get("findings") or []}
    conditions = {str(d["id"]): Term("condition", str(d["id"]), d.get("name", d["id"]), d.get("name_en", ""),
                                     _aliases(d.get("aliases")))
                  for p in sorted((root / "diseases").glob("*.yaml")) for d in _read(p).get("diseases") or []}
    classes: dict[str, dict[str, Any]] = {}
    drug_aliases: dict[str, list[str]] = {}
    drugs: dict[str, DrugName] = {}
    for p in sorted((root / "drugs").glob("*.yaml")):
        data = _read(p)
        for c in data.get("classes") or []:
            classes[str(c["id"])] = c
        for d in data.get("drugs") or []:
            drugs[str(d["id"])] = DrugName(str(d["id"]), str(d.get("class_id")), d.get("name", d["id"]),
                                           d.get("name_en", ""))
            drug_aliases.setdefault(str(d.get("class_id")), []).extend(
                [d.get("name"), d.get("name_en"), *(d.get("brands") or []), *(d.get("aliases") or [])])
    drug_classes = {c: Term("drug_class", c, e.get("name", c), e.get("name_en", ""), _aliases(drug_aliases.get(c)))
                    for c, e in classes.items()}
    return Vocabulary(indicators, findings, conditions, drug_classes, drugs, source="files", root=root)
