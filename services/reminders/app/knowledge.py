"""Every read of drug knowledge goes through here, so moving to the shared ``zhenxi_knowledge`` package is a
change to this module only.

When ``zhenxi_knowledge`` is installed and ships drugs, it is used (``find_drug``, ``drug_classes``,
``missed_dose_advice``). Until then the interim file ``data/drugs.yaml`` (same schema) is read and its
missed-dose conditions evaluated by the small evaluator below (comparisons joined by and/or/not)."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CLASS = "default"
_DATA = Path(__file__).parent / "data" / "drugs.yaml"
DOSE_NAMES = frozenset({"hours_since_due", "interval_hours", "fraction", "hours_until_next"})


@dataclass(frozen=True)
class DrugMatch:
    id: str
    name: str
    name_en: str
    class_id: str
    class_name: str
    interval_hours: float | None
    as_needed: bool


@dataclass(frozen=True)
class RuleAdvice:
    class_id: str
    rule_id: str
    action: str
    never_double: bool
    advice: str
    advice_en: str


# ---- the interim evaluator -------------------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|==|!=|<|>)|(?P<paren>[()])|(?P<word>[A-Za-z_]+))")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read rule at {text[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
    return out


def compile_condition(text: str):
    """``when`` text -> function(values) -> bool. Unknown names or a missing value make a comparison false."""
    toks = _tokens(text)
    i = 0

    def peek() -> tuple[str, str] | None:
        return toks[i] if i < len(toks) else None

    def take() -> tuple[str, str]:
        nonlocal i
        if i >= len(toks):
            raise ValueError(f"unexpected end of rule {text!r}")
        i += 1
        return toks[i - 1]

    def operand():
        kind, val = take()
        if kind == "num":
            return lambda v: float(val)
        if kind == "word" and val in DOSE_NAMES:
            return lambda v: v.get(val)
        raise ValueError(f"unknown name {val!r} in {text!r}")

    def term():
        tok = peek()
        if tok == ("word", "not"):
            take()
            inner = term()
            return lambda v: not inner(v)
        if tok == ("word", "always"):
            take()
            return lambda v: True
        if tok == ("paren", "("):
            take()
            inner = or_()
            if take() != ("paren", ")"):
                raise ValueError(f"missing ) in {text!r}")
            return inner
        left = operand()
        kind, op = take()
        if kind != "op":
            raise ValueError(f"expected a comparison in {text!r}")
        right = operand()
        ops = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__,
               "==": float.__eq__, "!=": float.__ne__}
        fn = ops[op]

        def compare(v):
            a, b = left(v), right(v)
            return a is not None and b is not None and fn(float(a), float(b))
        return compare

    def and_():
        node = term()
        while peek() == ("word", "and"):
            take()
            a, b = node, term()
            node = lambda v, a=a, b=b: a(v) and b(v)  # noqa: E731
        return node

    def or_():
        node = and_()
        while peek() == ("word", "or"):
            take()
            a, b = node, and_()
            node = lambda v, a=a, b=b: a(v) or b(v)  # noqa: E731
        return node

    node = or_()
    if i != len(toks):
        raise ValueError(f"trailing text in rule {text!r}")
    return node


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", (text or "").strip().lower())


class DrugBook:
    """Drugs, drug classes and missed-dose rules, from whichever source is available."""

    def __init__(self, path: Path = _DATA) -> None:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.source = f"interim:{path.name}"
        self.classes: dict[str, dict[str, Any]] = {c["id"]: c for c in data["classes"]}
        self.drugs: dict[str, dict[str, Any]] = {d["id"]: d for d in data["drugs"]}
        self._rules = {cid: [(r, compile_condition(r["when"])) for r in c["missed_dose"]]
                       for cid, c in self.classes.items()}
        for cid, rules in self._rules.items():
            if not rules or rules[-1][0]["when"].strip() != "always":
                raise ValueError(f"drug class {cid}: the last missed-dose rule must be `always`")
        for d in self.drugs.values():
            if d["class_id"] not in self.classes:
                raise ValueError(f"drug {d['id']}: unknown class {d['class_id']}")
        names = []
        for d in self.drugs.values():
            for n in (d["name"], d["name_en"], *d.get("brands", ()), *d.get("aliases", ())):
                if _norm(str(n)):
                    names.append((_norm(str(n)), d["id"]))
        self._names = sorted(set(names), key=lambda kv: (-len(kv[0]), kv[0]))
        self._shared = _shared_knowledge()
        if self._shared is not None:
            self.source = "zhenxi_knowledge"

    def _match(self, drug: Any, cls: Any) -> DrugMatch:
        g = (lambda o, k, d=None: o.get(k, d)) if isinstance(drug, dict) else (lambda o, k, d=None: getattr(o, k, d))
        return DrugMatch(id=g(drug, "id"), name=g(drug, "name"), name_en=g(drug, "name_en"),
                         class_id=g(drug, "class_id"), class_name=g(cls, "name_en"),
                         interval_hours=g(drug, "interval_hours"), as_needed=bool(g(drug, "as_needed", False)))

    def find_drug(self, text: str) -> DrugMatch | None:
        if self._shared is not None:
            drug = self._shared.find_drug(text)
            return self._match(drug, self._shared.drug_classes[drug.class_id]) if drug else None
        key = _norm(text)
        if not key:
            return None
        for name, drug_id in self._names:
            hit = (name == key or (re.search(r"(?<![a-z])" + re.escape(name) + r"(?![a-z])", key) if name.isascii()
                                   else name in key))
            if hit:
                d = self.drugs[drug_id]
                return self._match(d, self.classes[d["class_id"]])
        return None

    def missed_dose_advice(self, class_id: str | None, hours_since_due: float,
                           interval_hours: float | None) -> RuleAdvice:
        if self._shared is not None and class_id and class_id in self._shared.drug_classes:
            a = self._shared.missed_dose_advice(class_id, hours_since_due, interval_hours)
            return RuleAdvice(a.class_id, a.rule_id, a.action, a.never_double, a.advice, a.advice_en)
        cid = class_id if class_id in self.classes else DEFAULT_CLASS
        values: dict[str, float] = {"hours_since_due": hours_since_due}
        if interval_hours:
            values.update(interval_hours=interval_hours, fraction=hours_since_due / interval_hours,
                          hours_until_next=interval_hours - hours_since_due)
        for rule, cond in self._rules[cid]:
            if cond(values):
                return RuleAdvice(cid, rule["id"], rule["action"], bool(self.classes[cid].get("never_double", True)),
                                  rule["advice"], rule["advice_en"])
        raise AssertionError("unreachable: the last rule is `always`")


def _shared_knowledge() -> Any | None:
    try:
        from zhenxi_knowledge import get_knowledge  # type: ignore[import-not-found]
    except ImportError:
        return None
    kb = get_knowledge()
    return kb if getattr(kb, "drugs", None) else None


@functools.lru_cache(maxsize=2)
def get_drug_book(path: str | None = None) -> DrugBook:
    return DrugBook(Path(path) if path else _DATA)
