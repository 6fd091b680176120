"""Learned department router: a calibrated linear classifier trained on real patient questions and the written sets.

Features are two views of the text, as in the emergency head: the USE-multilingual sentence embedding the service
already ships (meaning) and TF-IDF-weighted hashed character 1-3-grams (names of diseases, drugs, lab tests, typos).
The weights were fitted by ``training/train_router.py`` (scikit-learn, at training time only) and ship as NumPy in
``models/router.npz``; its SHA-256 is recorded in ``models/router.json`` and checked when the model is loaded, once,
by the service. Probabilities are calibrated by a temperature fitted on the real dev split.

How it is combined with the rules (``triage.py``): red flags and emergency routing are decided first and never by
this model; the model's probabilities are added to the lexicon's department scores (``blend`` x probability, before
the surgery / oncology / pregnancy / child moves, which therefore still apply), and the response's ``routing`` block
says whether the rules, the model or both decided the first department.

The hard cases of real questions that are not learned but read (``RoutingHints``):
- a question about a relative routes by the relative's age and sex (我儿子3岁 -> child, 我老公 -> not gynaecology);
- a general enquiry about a drug routes to the department owning the diseases the drug treats (from the knowledge
  base: medication names x disease treatments);
- pasted lab values (ALT 120, 谷丙转氨酶141) are read as indicator codes with values; an abnormal one counts more.
"""
from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .lexicon import normalize
from .retrieval import Encoder

MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "router.npz"
NGRAMS = (1, 2, 3)


class RouterModelError(RuntimeError):
    """The router weights are missing, damaged or do not match their record."""


# ---- features (shared with training/train_router.py, so training and serving compute the same thing) ----
def gram_counts(text: str, dim: int, ngrams: tuple[int, ...] = NGRAMS) -> dict[int, int]:
    """Hashed character n-gram counts of the normalised text (crc32: stable across processes)."""
    t = normalize(text)
    out: dict[int, int] = {}
    for n in ngrams:
        for j in range(len(t) - n + 1):
            g = t[j:j + n]
            if g.isspace():
                continue
            k = zlib.crc32(g.encode("utf-8")) % dim
            out[k] = out.get(k, 0) + 1
    return out


def gram_vector(text: str, idf: np.ndarray, ngrams: tuple[int, ...] = NGRAMS) -> np.ndarray:
    """Sublinear TF x IDF, L2-normalised."""
    v = np.zeros(len(idf), np.float32)
    for k, c in gram_counts(text, len(idf), ngrams).items():
        v[k] = (1.0 + np.log(c)) * idf[k]
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class LearnedRouter:
    def __init__(self, encoder: Encoder, path: Path = MODEL_PATH) -> None:
        path = Path(path)
        meta_path = path.with_suffix(".json")
        if not path.exists() or not meta_path.exists():
            raise RouterModelError(f"router model missing: {path}")
        self.meta = json.loads(meta_path.read_text())
        digest = file_sha256(path)
        if digest != self.meta.get("sha256"):
            raise RouterModelError(f"router model checksum mismatch: {path.name} is {digest[:12]}, "
                                   f"its record says {str(self.meta.get('sha256'))[:12]}")
        data = np.load(path)
        self.encoder = encoder
        self.classes: list[str] = [str(c) for c in data["classes"]]
        self.weights = data["weights"].astype(np.float32)       # (features, classes)
        self.bias = data["bias"].astype(np.float32)
        self.idf = data["idf"].astype(np.float32)
        self.use_scale = float(data["use_scale"])
        self.temperature = float(data["temperature"])
        self.blend = float(data["blend"])
        # character n-gram range (files before it was recorded used 1-3)
        self.ngrams = tuple(range(1, int(data["ngram_max"]) + 1)) if "ngram_max" in data.files else NGRAMS
        if self.weights.shape != (512 + len(self.idf), len(self.classes)):
            raise RouterModelError(f"router weights have shape {self.weights.shape}")

    def features(self, text: str) -> np.ndarray:
        emb = np.asarray(self.encoder.encode([text]), np.float32)[0] * self.use_scale
        return np.concatenate([emb, gram_vector(text, self.idf, self.ngrams)])

    def logits(self, text: str) -> np.ndarray:
        return self.features(text) @ self.weights + self.bias

    def probabilities(self, text: str) -> dict[str, float]:
        z = self.logits(text) / self.temperature
        z = np.exp(z - z.max())
        p = z / z.sum()
        return {c: float(v) for c, v in zip(self.classes, p)}


# ---- hints that are read, not learned ----
@dataclass
class Subject:
    relation: str          # the relative named (妈妈), or "" for the writer
    sex: str | None        # "F" / "M" / None
    age: float | None
    adult: bool | None     # True: an adult by relation or age; False: a child; None: unknown


@dataclass
class LabValue:
    code: str
    text: str
    value: float
    flag: str | None  # the shared vocabulary (L N H LL HH ...); None when it cannot be judged


@dataclass
class Hints:
    subject: Subject | None = None
    drug_departments: dict[str, float] = field(default_factory=dict)
    drugs: list[str] = field(default_factory=list)
    lab_values: list[LabValue] = field(default_factory=list)


_NUM = r"(\d+(?:\.\d+)?)"
_AGE_AFTER = re.compile(r"^[^，,。！？!?；;]{0,6}?(\d{1,3})\s*(?:周岁|岁|歲)")
_AGE_MONTHS_AFTER = re.compile(r"^[^，,。！？!?；;]{0,6}?(\d{1,2})\s*个?(?:多|半)?月")


class RoutingHints:
    """Reads the subject, drugs and pasted lab values. Knowledge comes from the knowledge base (medications,
    diseases, indicators, relatives); nothing medical is written here."""

    def __init__(self, kb: Any, interpreter: Any | None = None) -> None:
        self.kb = kb
        self.interpreter = interpreter
        rel = kb.relatives  # knowledge/routing/relatives.yaml, through zhenxi_knowledge
        self.relatives: list[tuple[str, str, str | None, bool | None]] = []
        for group in (rel.relatives if rel is not None else ()):
            for w in group.words:
                self.relatives.append((normalize(w), group.relation, group.sex, group.adult))
        self.relatives.sort(key=lambda t: -len(t[0]))
        self.not_about_a_child = sorted((normalize(w) for w in (rel.not_about_a_child if rel is not None else ())),
                                        key=len, reverse=True)
        self.relative_rx = re.compile("|".join(re.escape(w) for w, *_ in self.relatives) or r"(?!x)x")
        # drug name -> departments of the diseases whose treatment names it (or a name of its class)
        self.drug_departments: dict[str, dict[str, float]] = {}
        meds = kb.medications
        for med in meds.values():
            names = [normalize(n) for n in (med.name, *med.names) if len(normalize(n)) >= 2]
            votes: dict[str, float] = {}
            for d in kb.diseases.values():
                treatment = normalize(getattr(d, "treatment", "") or "")
                if any(n in treatment for n in names):
                    votes[d.department] = votes.get(d.department, 0.0) + 1.0
            if votes:
                total = sum(votes.values())
                for n in names:
                    self.drug_departments[n] = {k: v / total for k, v in votes.items()}
        self.drug_rx = re.compile("|".join(re.escape(n) for n in sorted(self.drug_departments, key=len, reverse=True))
                                  or r"(?!x)x")
        # indicator names / codes followed by a value: "谷丙转氨酶141", "ALT: 120", "甘油三脂4.47"
        names: dict[str, str] = {}
        for code, ind in kb.indicators.items():
            interp = kb.interpretations.get(code)
            for n in (code, ind.name, *ind.aliases, *(interp.aliases if interp else ())):
                key = normalize(n)
                if len(key) >= 2:
                    names.setdefault(key, code)
        self.indicator_names = names
        alts = sorted(names, key=len, reverse=True)
        self.lab_rx = re.compile(r"(?<![a-z])(" + "|".join(map(re.escape, alts)) + r")(?![a-z])"
                                 r"[^0-9a-z\u4e00-\u9fff]{0,3}(?:(?:偏高|偏低|升高|增高|高|低|是|为|到了|到|有|达)\s*){0,2}"
                                 + _NUM) if alts else None

    def subject(self, text: str) -> Subject | None:
        """Who the question is about, when a relative is named. Every relative named is read with an age written
        right after them (我儿子今年3岁); a child among them makes the subject a child (我今年30岁，我儿子3岁),
        otherwise, when every one is an adult by the word or the age, an adult (我儿子25岁, 我爸). The sex is taken
        only from a relative named at the start (我老公最近…): 老公不在家，我月经推迟 is about the writer."""
        t = self.without_child_phrases(normalize(text))
        mentions: list[Subject] = []
        first_at = None
        for m in self.relative_rx.finditer(t):
            word = m.group(0)
            _, relation, sex, adult = next(r for r in self.relatives if r[0] == word)
            rest = t[m.end():]
            age = None
            a = _AGE_AFTER.match(rest)
            if a:
                age = float(a.group(1))
            elif adult is not True:
                mo = _AGE_MONTHS_AFTER.match(rest)
                if mo:
                    age = float(mo.group(1)) / 12
            if age is not None:
                adult = age >= 14
            if first_at is None:
                first_at = m.start()
            mentions.append(Subject(relation=relation, sex=sex, age=age, adult=adult))
        if not mentions:
            return None
        child = next((s for s in mentions if s.adult is False), None)
        if child is not None:
            return child
        subj = mentions[0]
        adult = True if all(s.adult for s in mentions) else None
        sex = subj.sex if first_at is not None and first_at <= 2 else None
        return Subject(relation=subj.relation, sex=sex, age=subj.age, adult=adult)

    def without_child_phrases(self, t: str) -> str:
        """The normalised text with 要孩子 / 孩子他爸 … blanked (relatives.yaml ``not_about_a_child``)."""
        for w in self.not_about_a_child:
            t = t.replace(w, " " * len(w))
        return t

    def drugs(self, text: str) -> tuple[list[str], dict[str, float]]:
        t = normalize(text)
        found: list[str] = []
        votes: dict[str, float] = {}
        for m in self.drug_rx.finditer(t):
            if m.group(0) in found:
                continue
            found.append(m.group(0))
            for d, w in self.drug_departments[m.group(0)].items():
                votes[d] = votes.get(d, 0.0) + w
        return found, votes

    def lab_values(self, text: str, sex: str | None = None) -> list[LabValue]:
        if self.lab_rx is None:
            return []
        t = normalize(text).replace("。", ".") if re.search(r"\d。\d", normalize(text)) else normalize(text)
        out: list[LabValue] = []
        seen: set[str] = set()
        for m in self.lab_rx.finditer(t):
            code = self.indicator_names[m.group(1)]
            if code in seen:
                continue
            try:
                value = float(m.group(2))
            except ValueError:
                continue
            flag = None
            if self.interpreter is not None:
                flag = self.interpreter.assess({"code": code, "value": value}, code, sex)["flag"]
            seen.add(code)
            out.append(LabValue(code=code, text=m.group(0), value=value, flag=flag))
        return out

    def read(self, text: str) -> Hints:
        subj = self.subject(text)
        drugs, votes = self.drugs(text)
        labs = self.lab_values(text, subj.sex if subj else None)
        return Hints(subject=subj, drug_departments=votes, drugs=drugs, lab_values=labs)


# ---- the combination with the rules (called from triage.Triage.analyze) ----
# A question with no lexicon hit is still routed when the model is this sure and the text is long enough to say
# something: a bare follow-up (那要怎么治疗？) gets confident but empty probabilities and must stay "not understood"
# so that the conversation borrows the previous topic.
UNDERSTOOD_P = 0.85
UNDERSTOOD_MIN_CHARS = 10
DRUG_WEIGHT = 4.0       # a named drug counts like a strong department cue, shared by the departments owning it
LAB_WEIGHTS = (4.0, 2.0, 1.0)        # a pasted indicator not already named: as triage counts a named indicator
ABNORMAL_WEIGHTS = (2.0, 1.0, 0.5)   # and more when its value is out of range
_FEMALE_ONLY = ("gynecology", "obstetrics")
_POPULATION_DEPARTMENTS = {"obstetrics": {"pregnant", "postpartum"}, "pediatrics": {"child", "infant"}}


@dataclass
class Evidence:
    """What triage adds to its department scores: ``hints`` as read (like cues), ``model`` = probability x blend,
    scaled by the total of the rules' scores so that the blend is a share, whatever the rules found."""
    hints: dict[str, float]
    model: dict[str, float]
    # After the rules' surgery / oncology / pregnancy / child moves, so that the model weighs in on them (a hepatitis
    # B mother asking about her baby is a hepatology question); before them when a child's age is written
    # (我儿子3岁), so that a child stays with paediatrics.
    after_moves: bool = True

    def add_to(self, scores: dict[str, float]) -> None:
        base = max(sum(scores.values()), 1.0)
        for dept, w in self.model.items():
            scores[dept] = scores.get(dept, 0.0) + w * base


@dataclass
class RoutingContext:
    hints: Hints
    probs: dict[str, float]
    rules_only: Evidence
    model_version: str | None
    understood: bool = False
    rules_scores: dict[str, float] = field(default_factory=dict)
    male_subject: bool = False
    adult_subject: bool = False

    def _allowed(self, dept: str) -> bool:
        # 我老公最近… : not gynaecology or obstetrics; 我儿子25岁 : not paediatrics, whatever a word suggested
        return not ((self.male_subject and dept in _FEMALE_ONLY) or (self.adult_subject and dept == "pediatrics"))

    def finish(self, triage: Any, scores: dict[str, float], red_flags: list[Any], rules_fn: Any) -> dict[str, float]:
        scores = {d: v for d, v in scores.items() if self._allowed(d)}
        self.rules_scores = {d: v for d, v in rules_fn().items() if d != "emergency" and self._allowed(d)}
        return scores

    def report(self, departments: list[dict[str, Any]], red_flags: list[Any]) -> dict[str, Any]:
        top = departments[0]["id"] if departments else None
        rules_top = max(self.rules_scores.items(), key=lambda kv: (kv[1], kv[0]))[0] if self.rules_scores else None
        model_top = max(self.probs.items(), key=lambda kv: kv[1])[0] if self.probs else None
        if red_flags:
            decided = "red_flags"
        elif rules_top is None and model_top is None:
            decided = "default"
        elif top == rules_top and top == model_top:
            decided = "rules+model"
        elif top == rules_top:
            decided = "rules"
        elif top == model_top:
            decided = "model"
        else:
            decided = "rules+model"
        total = sum(self.rules_scores.values()) or 1.0
        subj = self.hints.subject
        return {
            "decided_by": decided,
            "rules": [{"id": d, "score": round(v / total, 3)}
                      for d, v in sorted(self.rules_scores.items(), key=lambda kv: (-kv[1], kv[0]))[:3]],
            "model": [{"id": d, "probability": round(p, 3)}
                      for d, p in sorted(self.probs.items(), key=lambda kv: -kv[1])[:3]],
            "model_version": self.model_version,
            "subject": None if subj is None else {"relation": subj.relation, "sex": subj.sex, "age": subj.age,
                                                  "adult": subj.adult},
            "drugs": self.hints.drugs,
            "lab_values": [{"code": v.code, "value": v.value, "flag": v.flag} for v in self.hints.lab_values],
        }


def route_evidence(triage: Any, text: str, facts: Any, indicators: list[str],
                   result: dict[str, Any]) -> tuple[Evidence, Any, RoutingContext]:
    """Department evidence beyond the lexicon: the learned router's probabilities (x its blend weight) plus what
    the hints read. Returns (evidence to add to the scores, the facts with the subject's population, context)."""
    import dataclasses

    kb = triage.kb
    hints = triage.hints.read(text) if triage.hints is not None else Hints()
    rules: dict[str, float] = {}

    def add(d: str, w: float) -> None:
        if d in kb.departments:
            rules[d] = rules.get(d, 0.0) + w

    for d, v in hints.drug_departments.items():
        add(d, DRUG_WEIGHT * v)
    mentioned = {i["code"]: i for i in result["mentioned"]["indicators"]}
    for lv in hints.lab_values:
        interp = kb.interpretations.get(lv.code)
        depts = interp.departments[:3] if interp else ()
        for rank, d in enumerate(depts):
            if lv.code not in indicators:
                add(d, LAB_WEIGHTS[rank])
            if lv.flag not in (None, "N", "NEG"):
                add(d, ABNORMAL_WEIGHTS[rank])
        entry = mentioned.get(lv.code)
        if entry is None:
            entry = {"code": lv.code, "name": kb.indicators[lv.code].name}
            result["mentioned"]["indicators"].append(entry)
        entry.update(value=lv.value, flag=lv.flag)
    probs: dict[str, float] = {}
    version = None
    model: dict[str, float] = {}
    if triage.router is not None:
        probs = {d: p for d, p in triage.router.probabilities(text).items() if d != "emergency"}
        version = triage.router.meta.get("sha256", "")[:12]
        model = {d: triage.router.blend * p for d, p in probs.items() if d in kb.departments}
    learned = Evidence(hints=rules, model=model)
    subj = hints.subject
    pops = set(facts.populations)
    if "child" in pops and triage.hints is not None and not (facts.age is not None and facts.age < 14) \
            and not (subj is not None and subj.adult is False):
        # 能不能要孩子 / 孩子的爷爷: the child words were all about wanting a baby or pointing at an adult
        rest = triage.hints.without_child_phrases(normalize(text))
        if not any(w in rest for w in triage.lex.population_words.get("child", ())):
            pops -= {"child", "infant"}
    if subj is not None and subj.adult is not None:
        if subj.adult:
            pops -= {"child", "infant"}
        else:
            pops.add("child")
            if subj.age is not None and subj.age < 0.25:
                pops.add("infant")
    age = subj.age if subj is not None and subj.age is not None else facts.age
    if pops != facts.populations or age != facts.age:
        facts = dataclasses.replace(facts, populations=pops, age=age)
        result["populations"] = sorted(pops)
        result["age"] = age
    learned.after_moves = not (subj is not None and subj.adult is False and subj.age is not None)
    # the model does not send anyone to obstetrics without a pregnancy or a birth in the text (例假晚了，验孕一道杠),
    # nor to paediatrics without a child: those two follow the population read by the rules
    for dept, pops_needed in _POPULATION_DEPARTMENTS.items():
        if not pops & pops_needed:
            learned.model.pop(dept, None)
    ctx = RoutingContext(hints=hints, probs=probs, rules_only=Evidence(hints=rules, model={}), model_version=version,
                         male_subject=bool(subj and subj.sex == "M"), adult_subject=bool(subj and subj.adult))
    long_enough = len(re.sub(r"[\W_]+", "", normalize(text))) >= UNDERSTOOD_MIN_CHARS
    ctx.understood = bool(hints.drugs or hints.lab_values
                          or (probs and long_enough and max(probs.values()) >= UNDERSTOOD_P))
    return learned, facts, ctx
