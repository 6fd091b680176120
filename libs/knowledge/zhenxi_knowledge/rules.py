"""A small condition language, kept as data: cross-indicator patterns (``knowledge/patterns``) and missed-dose
rules (``knowledge/drugs``).

    low(HGB) and low(MCV)
    high(GLU) and (high(HbA1c) or value(HbA1c) >= 6.5)
    ratio(AST, ALT) > 2 and high(AST)
    taking(statin) and high(ALT)
    sex == "female" and age >= 50 and low(HGB)

Indicator codes are bare (``HDL-C``, ``NEUT%``, ``AST/ALT``) or quoted when they hold brackets (``"Lp(a)"``).
Functions: high low abnormal normal critical positive present (true/false), value ratio (numbers),
taking (a medication class). ``age`` and ``sex`` are names. A missing indicator makes every test on it false,
so a rule never fires on data it has not seen.

Missed-dose rules use the same grammar with other names and no functions (``parse(text, names=DOSE_NAMES,
functions=False)``): ``hours_since_due``, ``interval_hours``, ``fraction`` (hours_since_due / interval_hours),
``hours_until_next``; ``always`` is the rule that always holds."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(r'\s*(?:(?P<str>"[^"]*")|(?P<op><=|>=|==|!=|<|>)|(?P<punct>[(),])|(?P<word>[^\s(),"<>=!]+))')
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?$")
BOOL_FUNCS = {"high", "low", "abnormal", "normal", "critical", "positive", "present"}
NUM_FUNCS = {"value": 1, "ratio": 2}
NAMES = frozenset({"age", "sex"})
DOSE_NAMES = frozenset({"hours_since_due", "interval_hours", "fraction", "hours_until_next"})


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class Facts:
    """What a rule can see: per-code flag (L N H LL HH POS NEG ABN) and value in the canonical unit."""
    flags: dict[str, str] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)
    sex: str | None = None
    age: float | None = None
    medications: frozenset[str] = frozenset()

    def name(self, name: str) -> Any:
        return getattr(self, name)


@dataclass(frozen=True)
class Variables:
    """Facts that are only named numbers (missed-dose rules)."""
    values: dict[str, float] = field(default_factory=dict)

    def name(self, name: str) -> Any:
        return self.values.get(name)


class Node:
    def eval(self, f: Facts) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def codes(self) -> set[str]:
        return set()

    def medications(self) -> set[str]:
        return set()


@dataclass(frozen=True)
class Lit(Node):
    value: Any

    def eval(self, f: Facts) -> Any:
        return self.value


@dataclass(frozen=True)
class Name(Node):
    name: str

    def eval(self, f: Facts) -> Any:
        return f.name(self.name)


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[str, ...]

    def eval(self, f: Facts) -> Any:
        fn, a = self.func, self.args
        if fn == "taking":
            return a[0] in f.medications
        if fn == "value":
            return f.values.get(a[0])
        if fn == "ratio":
            num, den = f.values.get(a[0]), f.values.get(a[1])
            return None if num is None or not den else num / den
        fl = f.flags.get(a[0])
        if fn == "present":
            return fl is not None
        if fl is None:
            return False
        return {
            "high": fl in ("H", "HH"),
            "low": fl in ("L", "LL"),
            "critical": fl in ("HH", "LL"),
            "positive": fl == "POS",
            "normal": fl in ("N", "NEG"),
            "abnormal": fl in ("L", "H", "LL", "HH", "POS", "ABN"),
        }[fn]

    def codes(self) -> set[str]:
        return set() if self.func == "taking" else set(self.args)

    def medications(self) -> set[str]:
        return set(self.args) if self.func == "taking" else set()


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Node
    right: Node

    def eval(self, f: Facts) -> bool:
        lv, rv = self.left.eval(f), self.right.eval(f)
        if lv is None or rv is None:
            return False
        try:
            return {"<": lv < rv, "<=": lv <= rv, ">": lv > rv, ">=": lv >= rv,
                    "==": lv == rv, "!=": lv != rv}[self.op]
        except TypeError:
            return False

    def codes(self) -> set[str]:
        return self.left.codes() | self.right.codes()

    def medications(self) -> set[str]:
        return self.left.medications() | self.right.medications()


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # and | or | not
    items: tuple[Node, ...]

    def eval(self, f: Facts) -> bool:
        if self.op == "not":
            return not self.items[0].eval(f)
        vals = (bool(i.eval(f)) for i in self.items)
        return all(vals) if self.op == "and" else any(vals)

    def codes(self) -> set[str]:
        return set().union(*(i.codes() for i in self.items))

    def medications(self) -> set[str]:
        return set().union(*(i.medications() for i in self.items))


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise RuleError(f"cannot read rule at {text[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup
        val = m.group(kind)
        if kind == "word" and _NUMBER.match(val):
            kind = "num"
        tokens.append((kind, val))
    return tokens


class _Parser:
    def __init__(self, text: str, names: frozenset[str] = NAMES, functions: bool = True) -> None:
        self.text = text
        self.names = names
        self.functions = functions
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise RuleError(f"expected {value or 'more'} in rule {self.text!r}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.or_()
        if self.peek() is not None:
            raise RuleError(f"unexpected {self.peek()[1]!r} in rule {self.text!r}")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.peek() == ("word", "or"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_(self) -> Node:
        items = [self.not_()]
        while self.peek() == ("word", "and"):
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def not_(self) -> Node:
        if self.peek() == ("word", "not"):
            self.take()
            return BoolOp("not", (self.not_(),))
        left = self.term()
        tok = self.peek()
        if tok and tok[0] == "op":
            self.take()
            return Compare(tok[1], left, self.term())
        return left

    def term(self) -> Node:
        tok = self.take()
        kind, val = tok
        if kind == "num":
            return Lit(float(val))
        if kind == "str":
            return Lit(val[1:-1])
        if (kind, val) == ("punct", "("):
            node = self.or_()
            self.take(")")
            return node
        if kind == "word" and val in self.names:
            return Name(val)
        if kind == "word" and val == "always":
            return Lit(True)
        if self.functions and kind == "word" and (val in BOOL_FUNCS or val in NUM_FUNCS or val == "taking"):
            self.take("(")
            args = [self.arg()]
            while self.peek() == ("punct", ","):
                self.take()
                args.append(self.arg())
            self.take(")")
            want = NUM_FUNCS.get(val, 1)
            if len(args) != want:
                raise RuleError(f"{val}() takes {want} argument(s) in rule {self.text!r}")
            return Call(val, tuple(args))
        raise RuleError(f"unexpected {val!r} in rule {self.text!r}")

    def arg(self) -> str:
        kind, val = self.take()
        if kind == "str":
            return val[1:-1]
        if kind in ("word", "num"):
            return val
        raise RuleError(f"bad argument {val!r} in rule {self.text!r}")


def parse(text: str, *, names: frozenset[str] = NAMES, functions: bool = True) -> Node:
    return _Parser(text, names, functions).parse()
