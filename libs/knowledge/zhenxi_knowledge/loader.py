"""Load ``knowledge/`` once, validate every file and every cross-reference, and serve typed, read-only views.

A broken file or reference raises ``KnowledgeError`` at load, so a wrong knowledge base never serves. The version
is "<semver of knowledge/index.yaml>+<12 hex of a SHA-256 over every file read>": identical files give the same
version on every machine and in every service."""
from __future__ import annotations

import functools
import hashlib
import os
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from . import flags as F
from .models import (Condition, Context, Department, DepartmentCues, Drug, DrugClass, Finding, Indicator,
                     IndicatorIndex, Interpretation, MedicationClass, MissedDoseAdvice, MissedDoseRule, Model, Panel, PanelFile,
                     Pattern, RedFlag, Relatives, ReportTemplates, ReportTrends, ReportType, Routing, Symptom, Template,
                     UnitsFile)
from .ranges import ParsedRange, parse_range
from .rules import DOSE_NAMES, Node, RuleError, Variables, parse
from .text import nfkc, norm_name, norm_text
from .units import UnitTable

ENV_ROOT = "ZHENXI_KNOWLEDGE_DIR"
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster start-up
CONTAINER_ROOT = Path("/app/knowledge")
_VALUE = re.compile(r"^\s*(<=|>=|[<>≤≥])?\s*([-+]?\d+(?:\.\d+)?)\s*(↑↑|↓↓|↑|↓|HH|LL|H|L|h|l)?\s*$")


class KnowledgeError(ValueError):
    """The knowledge files are unreadable or inconsistent."""


def default_root() -> Path:
    """$ZHENXI_KNOWLEDGE_DIR, else a knowledge/ with index.yaml above this package or the working directory (a
    checkout), else /app/knowledge (the images keep the repository layout)."""
    env = os.environ.get(ENV_ROOT)
    if env:
        return Path(env)
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for parent in (start, *start.parents):
            cand = parent / "knowledge"
            if (cand / "index.yaml").is_file() and (cand / "indicators").is_dir():
                return cand
    return CONTAINER_ROOT


@dataclass(frozen=True)
class Assessment:
    """One result judged against its indicator: the flag, the value in the canonical unit, the range used."""
    code: str
    flag: str | None
    canonical_value: float | None
    reference: dict[str, Any] | None  # {low, high, source: printed|default, unit}
    critical: bool
    reason: str | None = None  # why there is no flag: value_not_numeric | unit_not_convertible | no_reference_range
    # the result's own verdict, whatever flag was printed: the value against the range (printed, else the default)
    # or beyond a critical limit (LL/HH); the word of a qualitative result
    from_range: str | None = None


class Knowledge:
    """Everything in knowledge/, validated. Build it through ``get_knowledge()`` (cached per root)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        if not (root / "index.yaml").is_file():
            raise KnowledgeError(f"{root}: no index.yaml (set {ENV_ROOT} to the knowledge folder)")
        self._hash = hashlib.sha256()
        self.indicators: dict[str, Indicator] = {}
        self.panels: dict[str, Panel] = {}
        self.interpretations: dict[str, Interpretation] = {}
        self.findings: dict[str, Finding] = {}
        self.departments: dict[str, Department] = {}
        self.cues: dict[str, DepartmentCues] = {}
        self.symptoms: dict[str, Symptom] = {}
        self.red_flags: list[RedFlag] = []
        self.conditions: dict[str, Condition] = {}
        self.patterns: list[Pattern] = []
        self.pattern_rules: dict[str, Node] = {}
        self.medications: dict[str, MedicationClass] = {}
        self.drugs: dict[str, Drug] = {}
        self.drug_classes: dict[str, DrugClass] = {}
        self.report_types: dict[str, ReportType] = {}
        self.context: Context | None = None
        self.routing: Routing | None = None
        self.relatives: Relatives | None = None
        self.templates: dict[str, Template] = {}
        self.report_templates: ReportTemplates | None = None
        self.report_trends: ReportTrends | None = None
        self._dose_rules: dict[str, list[tuple[Any, Node]]] = {}
        self.rule_sets: dict[str, tuple[MissedDoseRule, ...]] = {}
        try:
            self._load()
        except ValidationError as exc:
            raise KnowledgeError(f"invalid knowledge entry: {exc}") from exc
        self.semver: str = self._semver
        self.content_hash: str = self._hash.hexdigest()[:12]
        self.version: str = f"{self.semver}+{self.content_hash}"
        self._validate()
        self._build_indexes()

    # ---- reading ----------------------------------------------------------------------------------------------
    def _read(self, path: Path, allowed: set[str] | None = None) -> dict[str, Any]:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise KnowledgeError(f"{path}: {exc}") from exc
        self._hash.update(path.relative_to(self.root).as_posix().encode() + b"\0" + raw + b"\0")
        try:
            data = yaml.load(raw, Loader=_YamlLoader)
        except yaml.YAMLError as exc:
            raise KnowledgeError(f"{path}: {exc}") from exc
        if not isinstance(data, dict):
            raise KnowledgeError(f"{path}: expected a mapping at the top")
        if allowed is not None and (unknown := set(data) - allowed - {"version"}):
            raise KnowledgeError(f"{path}: unknown top-level keys {sorted(unknown)}")
        return data

    def _files(self, sub: str) -> list[Path]:
        return sorted((self.root / sub).glob("*.yaml"))

    @staticmethod
    def _put(table: dict, key: str, item: Any, where: Path) -> None:
        if key in table:
            raise KnowledgeError(f"{where}: duplicate id {key!r}")
        table[key] = item

    def _load(self) -> None:
        top = self._read(self.root / "index.yaml", {"updated"})
        self._semver = str(top.get("version") or "")
        if not re.fullmatch(r"\d+\.\d+\.\d+", self._semver):
            raise KnowledgeError(f"index.yaml: version {self._semver!r} is not semver")
        self._load_indicators()
        for path in self._files("interpretations"):
            for code, entry in (self._read(path, {"interpretations"}).get("interpretations") or {}).items():
                self._put(self.interpretations, str(code), Interpretation(code=str(code), **entry), path)
        for path in self._files("findings"):
            for f in self._read(path, {"findings"}).get("findings") or []:
                finding = Finding(**f)
                self._put(self.findings, finding.label, finding, path)
        for path in self._files("departments"):
            data = self._read(path, {"departments", "cues", "routing"})
            if data.get("routing") is not None:
                if self.routing is not None:
                    raise KnowledgeError(f"{path}: a second routing section")
                self.routing = Routing(**data["routing"])
            for d in data.get("departments") or []:
                dept = Department(**d)
                self._put(self.departments, dept.id, dept, path)
            for dept_id, c in (data.get("cues") or {}).items():
                self._put(self.cues, dept_id, DepartmentCues(**(c or {})), path)
        for path in self._files("routing"):
            data = self._read(path, {"relatives", "not_about_a_child"})
            if self.relatives is not None:
                raise KnowledgeError(f"{path}: a second relatives file")
            self.relatives = Relatives(**{k: v for k, v in data.items() if k != "version"})
        for path in self._files("symptoms"):
            data = self._read(path)
            if "negation_cues" in data:
                if self.context is not None:
                    raise KnowledgeError(f"{path}: a second context file")
                self.context = Context(**data)
                continue
            if unknown := set(data) - {"version", "symptoms", "red_flags"}:
                raise KnowledgeError(f"{path}: unknown top-level keys {sorted(unknown)}")
            for s in data.get("symptoms") or []:
                sym = Symptom(**s)
                self._put(self.symptoms, sym.id, sym, path)
            self.red_flags += [RedFlag(**r) for r in data.get("red_flags") or []]
        if self.context is None:
            raise KnowledgeError("symptoms/: no context file (negation_cues …)")
        for path in self._files("diseases"):
            for d in self._read(path, {"diseases"}).get("diseases") or []:
                cond = Condition(**d)
                self._put(self.conditions, cond.id, cond, path)
        for path in self._files("patterns"):
            data = self._read(path, {"patterns", "medications"})
            self.patterns += [Pattern(**p) for p in data.get("patterns") or []]
            for m in data.get("medications") or []:
                med = MedicationClass(**m)
                self._put(self.medications, med.id, med, path)
        for path in self._files("drugs"):
            data = self._read(path, {"classes", "drugs", "rule_sets"})
            for name, rules in (data.get("rule_sets") or {}).items():
                self._put(self.rule_sets, name, tuple(MissedDoseRule(**r) for r in rules), path)
            for c in data.get("classes") or []:
                cls = DrugClass(**c)
                self._put(self.drug_classes, cls.id, cls, path)
            for d in data.get("drugs") or []:
                drug = Drug(**d)
                self._put(self.drugs, drug.id, drug, path)
        for path in self._files("templates"):
            for key, t in (self._read(path, {"templates"}).get("templates") or {}).items():
                self._put(self.templates, key, Template(**t), path)
        for path in self._files("reports"):
            for r in self._read(path, {"report_types"}).get("report_types") or []:
                rt = ReportType(**r)
                self._put(self.report_types, rt.id, rt, path)
        report = self.root / "report"   # the report service's summary templates and trend thresholds
        if (report / "templates.yaml").is_file():
            self.report_templates = ReportTemplates(**self._read(report / "templates.yaml"))
        if (report / "trends.yaml").is_file():
            self.report_trends = ReportTrends(**self._read(report / "trends.yaml"))

    def _load_indicators(self) -> None:
        folder = self.root / "indicators"
        index = IndicatorIndex(**self._read(folder / "index.yaml"))
        units = UnitsFile(**self._read(folder / index.units_file))
        try:
            self.units = UnitTable({k: list(v) for k, v in units.units.items()}, units.ucum,
                                   [(m.find, m.replace) for m in units.misreadings])
        except re.error as exc:
            raise KnowledgeError(f"{folder / index.units_file}: misreadings: bad pattern: {exc}") from exc
        for name in index.panel_files:
            path = folder / name
            panel = PanelFile(**self._read(path))
            self._put(self.panels, panel.panel, Panel(id=panel.panel, name=panel.panel_name,
                                                      name_en=panel.panel_name_en), path)
            for code, entry in panel.indicators.items():
                try:
                    ind = Indicator(code=str(code), panel=panel.panel, **entry)
                except ValidationError as exc:
                    raise KnowledgeError(f"{path}: indicator {code}: {exc}") from exc
                self._put(self.indicators, ind.code, ind, path)

    # ---- cross-checks -----------------------------------------------------------------------------------------
    def _validate(self) -> None:
        problems: list[str] = []
        depts = set(self.departments)
        for ind in self.indicators.values():
            if ind.unit is not None and ind.unit not in ind.units:
                problems.append(f"indicator {ind.code}: canonical unit {ind.unit} not in its units")
            problems += [f"indicator {ind.code}: unit {u} not in units.yaml" for u in ind.units
                         if u not in self.units.canonical]
            problems += [f"indicator {ind.code}: factor for {u} must be > 0" for u, f in ind.units.items() if f <= 0]
            for label, r in (("ref", ind.ref), ("ref_male", ind.ref_male), ("ref_female", ind.ref_female),
                             ("critical", ind.critical), *(("ref_ages", b) for b in ind.ref_ages)):
                if r is not None and r.low is not None and r.high is not None and r.low > r.high:
                    problems.append(f"indicator {ind.code}: {label} low > high")
        problems += [f"units.yaml: ucum for unknown unit {u}" for u in self.units.ucum if u not in self.units.canonical]
        for s in self.symptoms.values():
            problems += [f"symptom {s.id}: unknown department {d}" for d in s.dept if d not in depts]
        problems += [f"cues: unknown department {d}" for d in self.cues if d not in depts]
        if self.report_templates is not None:
            problems += [f"report templates: finding {k}: unknown department {f.department}"
                         for k, f in self.report_templates.xray.findings.items() if f.department not in depts]
            problems += [f"report templates: unknown X-ray finding {k}"
                         for k in self.report_templates.xray.findings if k not in self.findings]
        if self.report_trends is not None:
            problems += [f"report trends: unknown indicator {c}" for c in self.report_trends.indicators
                         if c not in self.indicators]
        if self.routing is not None:
            problems += [f"routing: unknown department {d} ({role})"
                         for role, d in self.routing.departments.model_dump().items() if d not in depts]
            problems += [f"routing: unknown department {d} (own_cancer_treatment)"
                         for d in self.routing.own_cancer_treatment if d not in depts]
        problems += [f"department {d.id}: unknown surgical counterpart {d.surgical_counterpart}"
                     for d in self.departments.values()
                     if d.surgical_counterpart is not None and d.surgical_counterpart not in depts]
        for rf in self.red_flags:
            for rule in rf.when:
                problems += [f"red flag {rf.id}: unknown symptom {x}" for x in rule.all if x not in self.symptoms]
        assert self.context is not None
        problems += [f"composition: unknown symptom {c.symptom}" for c in self.context.compositions
                     if c.symptom not in self.symptoms]
        for d in self.conditions.values():
            if d.department not in depts:
                problems.append(f"condition {d.id}: unknown department {d.department}")
            problems += [f"condition {d.id}: unknown symptom {x}" for x in d.symptoms if x not in self.symptoms]
            problems += [f"condition {d.id}: unknown indicator {r.code}" for r in d.indicators
                         if r.code not in self.indicators]
            problems += [f"condition {d.id}: unknown X-ray finding {f}" for f in d.findings if f not in self.findings]
        for it in self.interpretations.values():
            if it.code not in self.indicators:
                problems.append(f"interpretation {it.code}: not an indicator code")
            problems += [f"interpretation {it.code}: unknown department {d}" for d in it.departments
                         if d not in depts]
            if not (it.high or it.low or it.positive):
                problems.append(f"interpretation {it.code}: needs at least one of high/low/positive")
        classes = set(self.medications) | set(self.drug_classes)
        for p in self.patterns:
            problems += [f"pattern {p.id}: unknown department {d}" for d in p.departments if d not in depts]
            try:
                expr = parse(p.when)
            except RuleError as exc:
                problems.append(f"pattern {p.id}: {exc}")
                continue
            self.pattern_rules[p.id] = expr
            problems += [f"pattern {p.id}: unknown indicator {c}" for c in expr.codes() if c not in self.indicators]
            problems += [f"pattern {p.id}: unknown medication class {m}" for m in expr.medications()
                         if m not in classes]
        for cls in self.drug_classes.values():
            if cls.pattern_class is not None and cls.pattern_class not in self.medications:
                problems.append(f"drug class {cls.id}: unknown pattern class {cls.pattern_class}")
            if not cls.sources:
                problems.append(f"drug class {cls.id}: no sources")
            if isinstance(cls.missed_dose, str):
                if cls.missed_dose not in self.rule_sets:
                    problems.append(f"drug class {cls.id}: unknown rule set {cls.missed_dose}")
                    continue
                prefix, own = f"{cls.missed_dose}.", self.rule_sets[cls.missed_dose]
            else:
                prefix, own = f"{cls.id}.", cls.missed_dose
            rules = []
            for i, rule in enumerate(own):
                try:
                    rules.append((rule.model_copy(update={"id": prefix + rule.id}),
                                  parse(rule.when, names=DOSE_NAMES, functions=False)))
                except RuleError as exc:
                    problems.append(f"drug class {cls.id}: rule {rule.id}: {exc}")
                if rule.when.strip() == "always" and i != len(own) - 1:
                    problems.append(f"drug class {cls.id}: rule {rule.id} (always) must be last")
            if not own or own[-1].when.strip() != "always":
                problems.append(f"drug class {cls.id}: the last missed-dose rule must be `always`")
            if len({r.id for r in own}) != len(own):
                problems.append(f"drug class {cls.id}: duplicate rule ids")
            self._dose_rules[cls.id] = rules
        for drug in self.drugs.values():
            if drug.class_id not in self.drug_classes:
                problems.append(f"drug {drug.id}: unknown class {drug.class_id}")
            if drug.interval_hours is None and not drug.as_needed:
                problems.append(f"drug {drug.id}: interval_hours or as_needed is required")
        for key, t in self.templates.items():
            for lang, text in (("zh", t.zh), ("en", t.en)):
                try:
                    used = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
                except ValueError as exc:
                    problems.append(f"template {key} ({lang}): {exc}")
                    continue
                if used != set(t.fields):
                    problems.append(f"template {key} ({lang}): uses {sorted(used)}, declares {sorted(t.fields)}")
        for rt in self.report_types.values():
            if not rt.panels and rt.id not in self.panels:
                problems.append(f"report type {rt.id}: not a panel and lists no panels")
            problems += [f"report type {rt.id}: unknown panel {p}" for p in rt.panels if p not in self.panels]
            for pat in rt.patterns:
                try:
                    re.compile(pat)
                except re.error as exc:
                    problems.append(f"report type {rt.id}: bad pattern {pat!r}: {exc}")
        if problems:
            raise KnowledgeError("knowledge base is inconsistent:\n  " + "\n  ".join(problems))

    def _build_indexes(self) -> None:
        # printed name (norm_name) → [(code, weight)], misreadings weigh 0.9; earlier panels first (index.yaml order
        # settles clashes). The English name is a printed name too: bilingual and English sheets print it
        # ('Hemoglobin', 'Prothrombin time'); no two indicators share one, nor one another's Chinese name or alias.
        self.name_index: dict[str, list[tuple[str, float]]] = {}
        for code, ind in self.indicators.items():
            entries = [(ind.name, 1.0), (code, 1.0), (ind.name_en, 1.0), *((a, 1.0) for a in ind.aliases),
                       *((m, 0.9) for m in ind.misreadings)]
            for text, weight in entries:
                key = norm_name(text)
                if not key:
                    continue
                bucket = self.name_index.setdefault(key, [])
                if all(c != code for c, _ in bucket):
                    bucket.append((code, weight))
        self._code_ci = {c.lower(): c for c in self.indicators}
        self._simple_names: dict[str, str] = {}
        for code, ind in self.indicators.items():
            for name in (ind.name, ind.name_en, *ind.aliases):
                self._simple_names.setdefault(norm_text(name), code)
        # drug names: longest first, so "阿托伐他汀钙片" matches atorvastatin before a shorter generic word
        names: list[tuple[str, str]] = []
        for drug in self.drugs.values():
            for n in (drug.name, drug.name_en, *drug.brands, *drug.aliases):
                key = norm_text(n)
                if key:
                    names.append((key, drug.id))
        self._drug_names = sorted(set(names), key=lambda kv: (-len(kv[0]), kv[0]))
        self._drug_exact = {}
        for key, drug_id in self._drug_names:
            self._drug_exact.setdefault(key, drug_id)

    # ---- indicators -------------------------------------------------------------------------------------------
    def resolve_indicator(self, code: str | None = None, name: str | None = None) -> str | None:
        """The canonical code for a code or a printed name (exact after normalisation); None if unknown."""
        for cand in (code, name):
            if not cand:
                continue
            if cand in self.indicators:
                return cand
            hit = self._code_ci.get(cand.strip().lower()) or self._simple_names.get(norm_text(cand))
            if hit:
                return hit
            entries = self.name_index.get(norm_name(cand))
            if entries:
                return entries[0][0]
        return None

    def convert(self, code: str, value: float, unit: str | None) -> float | None:
        """``value`` printed in ``unit`` expressed in the indicator's canonical unit (None: not convertible)."""
        return self.units.convert(value, unit, self.indicators[code])

    def assess(self, code: str, value: Any, unit: str | None = None, sex: str | None = None,
               age_years: float | None = None, printed_range: Any = None, printed_flag: str | None = None,
               ) -> Assessment:
        """Flag one result. A printed flag gives the direction, a printed range beats the knowledge default, and a
        value beyond the critical limits (canonical unit) makes it LL/HH whatever was printed."""
        ind = self.indicators[code]
        given = F.parse_flag(printed_flag)
        number: float | None = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif value is not None:
            m = _VALUE.match(nfkc(str(value)))
            if m:
                number = float(m.group(2))
                if m.group(3) and given is None:
                    given = F.parse_flag(m.group(3))
        if number is None:
            if ind.kind in ("qualitative", "text") and value is not None:
                own = flag = F.flag_text(ind.kind, str(value), ind.normal, ind.scale)
                if given in ("POS", "ABN", "H", "HH") and flag in ("NEG", "N"):
                    flag = "POS" if ind.kind == "qualitative" else "ABN"
                return Assessment(code, flag, None, None, False, None if flag else "value_not_readable", own)
            return Assessment(code, given, None, None, False, None if given else "value_not_numeric")
        canonical = self.units.convert(number, unit, ind)
        reference: dict[str, Any] | None = None
        computed: str | None = None
        printed = self._printed_range(printed_range, sex)
        if printed is not None:
            reference = {"low": printed[0], "high": printed[1], "source": "printed", "unit": unit}
            computed = F.flag_number(number, printed[0], printed[1])
        elif canonical is not None:
            rng = ind.default_range(sex, age_years)
            if rng is not None:
                reference = {"low": rng.low, "high": rng.high, "source": "default", "unit": ind.unit}
                computed = F.flag_number(canonical, rng.low, rng.high)
        flag = given if given in ("L", "N", "H", "LL", "HH") else computed or given
        critical, crit = False, None
        if canonical is not None and ind.critical is not None:
            crit = F.flag_number(canonical, None, None, ind.critical.plain())
            if crit is not None:
                flag, critical = crit, True
        reason = None
        if flag is None:
            reason = "unit_not_convertible" if canonical is None else "no_reference_range"
        return Assessment(code, flag, canonical, reference, critical, reason, crit or computed)

    @staticmethod
    def _printed_range(printed: Any, sex: str | None) -> tuple[float | None, float | None] | None:
        if printed is None:
            return None
        if isinstance(printed, ParsedRange):
            parsed: ParsedRange | None = printed
        elif isinstance(printed, dict):
            low, high = printed.get("low"), printed.get("high")
            return None if low is None and high is None else (low, high)
        elif isinstance(printed, BaseModel):
            return Knowledge._printed_range(printed.model_dump(), sex)
        else:
            parsed = parse_range(str(printed))
        if parsed is None:
            return None
        low, high = parsed.for_sex(sex)
        return None if low is None and high is None else (low, high)

    def flag(self, code: str, value: Any, unit: str | None = None, sex: str | None = None,
             age_years: float | None = None, printed_range: Any = None) -> str | None:
        """L/N/H/LL/HH/POS/NEG/ABN for one result; None when it cannot be judged (see ``assess`` for why)."""
        return self.assess(code, value, unit, sex, age_years, printed_range).flag

    # ---- drugs ------------------------------------------------------------------------------------------------
    def find_drug(self, text: str) -> Drug | None:
        """The drug a free text names (generic, brand or alias, zh or en): exact first, else the longest name
        found inside the text (English names as whole words)."""
        key = norm_text(text or "")
        if not key:
            return None
        if key in self._drug_exact:
            return self.drugs[self._drug_exact[key]]
        found = self.find_drugs(text)
        return found[0] if found else None

    def find_drugs(self, text: str) -> list[Drug]:
        """Every drug named in a free text, longest names first; a name inside a longer one already found (阿托伐他汀
        in 阿托伐他汀钙片) does not count twice."""
        key = norm_text(text or "")
        taken = [False] * len(key)
        out: list[Drug] = []
        for name, drug_id in self._drug_names:
            if len(name) < 2:
                continue
            pattern = (r"(?<![a-z])" + re.escape(name) + r"(?![a-z])") if name.isascii() else re.escape(name)
            for m in re.finditer(pattern, key):
                if any(taken[m.start():m.end()]):
                    continue
                taken[m.start():m.end()] = [True] * (m.end() - m.start())
                if self.drugs[drug_id] not in out:
                    out.append(self.drugs[drug_id])
        return out

    def medication_classes(self, medications: list[str]) -> list[str]:
        """The pattern medication classes (``taking(...)``) a list of medicines belongs to: through the drugs'
        classes, and through the class names listed in knowledge/patterns (他汀, 普利 …)."""
        found: set[str] = set()
        for med in medications:
            low = norm_text(med)
            for drug in self.find_drugs(med):
                pc = self.drug_classes[drug.class_id].pattern_class
                if pc:
                    found.add(pc)
            for m in self.medications.values():
                if any(n and norm_text(n) in low for n in (m.name, m.name_en, *m.names)):
                    found.add(m.id)
        return sorted(found)

    def missed_dose_advice(self, class_id: str, hours_since_due: float,
                           interval_hours: float | None = None) -> MissedDoseAdvice:
        """What to do about a missed dose: the first rule of the class whose condition holds."""
        if class_id not in self.drug_classes:
            raise KeyError(class_id)
        if hours_since_due < 0:
            raise ValueError("hours_since_due must be >= 0")
        if interval_hours is not None and interval_hours <= 0:
            raise ValueError("interval_hours must be > 0")
        cls = self.drug_classes[class_id]
        values: dict[str, float] = {"hours_since_due": float(hours_since_due)}
        if interval_hours is not None:
            values.update(interval_hours=float(interval_hours), fraction=hours_since_due / interval_hours,
                          hours_until_next=interval_hours - hours_since_due)
        facts = Variables(values)
        for rule, expr in self._dose_rules[class_id]:
            if expr.eval(facts):  # type: ignore[arg-type]
                return MissedDoseAdvice(class_id=class_id, rule_id=rule.id, action=rule.action,
                                        never_double=cls.never_double, advice=rule.advice, advice_en=rule.advice_en)
        raise KnowledgeError(f"drug class {class_id}: no rule matched")  # unreachable: the last rule is `always`

    # ---- misc -------------------------------------------------------------------------------------------------
    def text(self, key: str, lang: str = "zh", **values: Any) -> str:
        """A template of knowledge/templates filled in (KeyError for an unknown key)."""
        return self.templates[key].render(lang, **values)

    def require_templates(self, *keys: str) -> None:
        """Fail at start-up, not mid-request, when a service needs templates the knowledge does not have."""
        missing = [k for k in keys if k not in self.templates]
        if missing:
            raise KnowledgeError(f"knowledge/templates: missing {missing}")

    @property
    def diseases(self) -> dict[str, Condition]:
        """The conditions, under the name knowledge/diseases and the nlp API (``disease:<id>``) use."""
        return self.conditions

    def missing_interpretations(self) -> list[str]:
        return sorted(set(self.indicators) - set(self.interpretations))


@functools.lru_cache(maxsize=4)
def _load(root: str) -> Knowledge:
    return Knowledge(Path(root))


def get_knowledge(root: str | Path | None = None) -> Knowledge:
    """The knowledge base, loaded once per process (per root). ``root`` overrides the folder (tests)."""
    return _load(str(Path(root).resolve() if root else default_root().resolve()))


__all__ = ["Assessment", "Knowledge", "KnowledgeError", "default_root", "get_knowledge", "Model"]
