"""Every read of drug knowledge goes through here (``zhenxi_knowledge``): matching the drug a patient typed, the
class's missed-dose rules, and for a drug the list does not know, the ``unmatched`` rule set of
knowledge/drugs/unmatched.yaml, evaluated with the package's own rule language."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from zhenxi_knowledge import Knowledge, get_knowledge
from zhenxi_knowledge.rules import DOSE_NAMES, Variables, parse

UNMATCHED = "unmatched"   # class id reported for advice on a drug the list does not know


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


class DrugBook:
    def __init__(self, kb: Knowledge) -> None:
        self.kb = kb
        self.version = kb.version
        if UNMATCHED not in kb.rule_sets:
            raise RuntimeError("knowledge/drugs has no `unmatched` rule set (needed for drugs not in the list)")
        self._unmatched = [(r, parse(r.when, names=DOSE_NAMES, functions=False)) for r in kb.rule_sets[UNMATCHED]]

    def find_drug(self, text: str) -> DrugMatch | None:
        drug = self.kb.find_drug(text)
        if drug is None:
            return None
        cls = self.kb.drug_classes[drug.class_id]
        return DrugMatch(id=drug.id, name=drug.name, name_en=drug.name_en, class_id=drug.class_id,
                         class_name=cls.name_en, interval_hours=drug.interval_hours, as_needed=drug.as_needed)

    def missed_dose_advice(self, class_id: str | None, hours_since_due: float,
                           interval_hours: float | None) -> RuleAdvice:
        if class_id and class_id in self.kb.drug_classes:
            a = self.kb.missed_dose_advice(class_id, hours_since_due, interval_hours)
            return RuleAdvice(a.class_id, a.rule_id, a.action, a.never_double, a.advice, a.advice_en)
        values = {"hours_since_due": float(hours_since_due)}
        if interval_hours:
            values.update(interval_hours=float(interval_hours), fraction=hours_since_due / interval_hours,
                          hours_until_next=interval_hours - hours_since_due)
        facts = Variables(values)
        for rule, expr in self._unmatched:
            if expr.eval(facts):  # type: ignore[arg-type]
                return RuleAdvice(UNMATCHED, f"{UNMATCHED}.{rule.id}", rule.action, True, rule.advice,
                                  rule.advice_en)
        raise AssertionError("unreachable: the last rule is `always`")


@functools.lru_cache(maxsize=2)
def get_drug_book(root: str | None = None) -> DrugBook:
    return DrugBook(get_knowledge(root))
