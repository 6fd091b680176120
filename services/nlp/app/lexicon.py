"""Symptom lexicon: jieba with our user dictionary, synonyms, negation/history scope, severity, duration,
population (child, pregnancy...) and age. Everything here is driven by ``knowledge/symptoms``."""
from __future__ import annotations

import html
import logging
import re
import unicodedata
from dataclasses import dataclass, field

import jieba

from .knowledge import KnowledgeBase

jieba.setLogLevel(logging.WARNING)

# A single space between Chinese phrases is how many people type a comma on a phone (浑身痒 喘不上气 头晕).
_CLAUSE_SPLIT = re.compile(r"[，,。;；!！?？\n\r]|\.(?!\d)|\s{2,}|(?<=[\u4e00-\u9fff\d])\s+(?=[\u4e00-\u9fff])"
                           r"|(?<=[\u4e00-\u9fff])\s+(?=\d)")
_SENTENCE_SPLIT = re.compile(r"[。!！?？\n\r;；]|\.(?!\d)")
_HTML_TAG = re.compile(r"<[^>]{0,200}>")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_ZH_NUM = {"零": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
           "九": 9, "十": 10, "几": 3, "半": 0.5, "数": 3, "好几": 4}
_NUM = r"(\d+(?:\.\d+)?|[零一二两俩三四五六七八九十几半数]{1,3}|好几)"
_UNIT_DAYS = {"分钟": 1 / 1440, "小时": 1 / 24, "个钟头": 1 / 24, "钟头": 1 / 24, "天": 1, "日": 1, "周": 7,
              "星期": 7, "礼拜": 7, "个月": 30, "月": 30, "年": 365}
_DURATION = re.compile(_NUM + r"\s*(?:多|来)?\s*(分钟|个钟头|钟头|小时|天|日|个星期|星期|个礼拜|礼拜|周|个多月|个月|年)(?:多|左右|了)?")
_DURATION_EN = re.compile(r"(\d+(?:\.\d+)?)\s*(minute|hour|day|week|month|year)s?\b", re.I)
_AGE_YEARS = re.compile(_NUM + r"\s*(?:多|来)?\s*(?:周)?岁(半)?")
_AGE_MONTHS = re.compile(r"(?:宝宝|孩子|婴儿|小孩|儿子|女儿|娃|宝贝)\s*(?:才|刚)?\s*" + _NUM + r"\s*个?(?:多|半)?月")
_AGE_MONTHS2 = re.compile(_NUM + r"\s*个?(?:多|半)?月(?:大|的宝宝|的孩子|的婴儿)")
_AGO_EN = re.compile(r"\b(?:(?:years?|months?|weeks?) ago|last (?:year|month|week)|years back|as a (?:child|kid)"
                     r"|when i was (?:young|a kid))\b")
_AGE_WEEKS_EN = re.compile(r"(\d{1,2})[- ]?(?:weeks?|wks?)[- ]old", re.I)
_AGE_EN = re.compile(r"(\d{1,3})[- ]?(?:(?:years?|yrs?)[- ]old|yo\b|y/o\b|y\.o\.)", re.I)
_PREGNANCY_WEEK = re.compile(r"(?:孕|怀孕)\s*" + _NUM + r"\s*(?:个)?(?:周|月)")
_BP = re.compile(r"(?:血压|bp|高压)?\s*(\d{2,3})\s*/\s*(\d{2,3})(?:\s*mmhg)?")
# Only the upper number quoted: 血压170, 高压量出来230.
_SBP = re.compile(r"(?:血压|高压|收缩压)(?:量出来|量了|测了|测出来|是|有|到|达到|高到|飙到|都)?\s*(\d{3})(?!\s*[/\d])")
_TEMP = re.compile(r"(?:(?:体温|发烧|发热|烧到|高烧|低烧|烧了|temp(?:erature)?(?: of| is| was| at)?|fever of)\s*(3[5-9](?:\.\d)?|4[0-3](?:\.\d)?)(?:\s*(?:度|℃|°c|°))?"
                   r"|(3[5-9](?:\.\d)?|4[0-3](?:\.\d)?)\s*(?:度|℃|°c|°))")
_SEV_RANK = {"mild": 0, "moderate": 1, "severe": 2}
_GAP_NEGATION = re.compile(r"[不没无未]")
_FREQUENCY = re.compile(r"\s*(?:拉|吐|解|大便|小便|发作|上)?\s*[\d一二三四五六七八九十两几]+\s*(?:多)?\s*(?:次|回|遍)")
# 晕倒过 / 中风过 / 吐过血: the aspect marker 过 after a verb means "has happened before". Not in 过敏, 过去 ...
_EXPERIENTIAL = re.compile(r"过(?!敏|去|来|度|量|多|快|慢|高|低|劳|后|于|分|头|了|不)")
# Measurements quoted in the text: heart rate and blood glucose (mmol/L).
_HEART_RATE = re.compile(r"(?:心率|心跳|脉搏|脉率|心律)\s*(?:每分钟|一分钟)?\s*(?:才|只有|只|有|到|达到|快到|是|在|测了?)?\s*"
                         r"(\d{2,3})\s*(?:多|来)?\s*(?:下|次|bpm)?")
# 心跳突然变得很快，200多下: a number with a beat unit a little after the word.
_HEART_RATE_LOOSE = re.compile(r"(?:心率|心跳|脉搏|脉率)[^。！？!?\n]{0,12}?(\d{2,3})\s*(?:多|来)?\s*(?:下|次|bpm)")
_GLUCOSE = re.compile(r"(?:血糖|指尖血糖|随机血糖|空腹血糖)\s*(?:才|只有|只|有|到|是|测了?|值|掉到|降到|高到|升到)?\s*"
                      r"(\d{1,2}(?:\.\d)?)(?!\d|\s*/)")
# Terms this short are only trusted when jieba cuts them as whole words; longer ones also match inside words.
_SHORT = 2


def zh_number(token: str) -> float | None:
    if re.fullmatch(r"\d+(?:\.\d+)?", token):
        return float(token)
    if token in _ZH_NUM:
        return float(_ZH_NUM[token])
    if "十" in token:
        head, _, tail = token.partition("十")
        tens = _ZH_NUM.get(head, 1) if head else 1
        ones = _ZH_NUM.get(tail, 0) if tail else 0
        return float(tens * 10 + ones)
    if len(token) > 1 and all(c in _ZH_NUM for c in token):
        return float(_ZH_NUM[token[0]])
    return None


def normalize(text: str) -> str:
    """NFKC (full-width -> half-width), HTML tags and entities out, lower-case Latin, collapse spaces."""
    text = html.unescape(_HTML_TAG.sub(" ", text))
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if unicodedata.category(c)[0] == "C" and c not in "\n" else c for c in text)
    return re.sub(r"[ \t]+", " ", text).strip().lower()


def has_words(text: str) -> bool:
    return bool(_CJK.search(text) or _LATIN.search(text))


def language(text: str) -> str:
    """'zh' when Chinese characters make up at least a fifth of the letters, else 'en'."""
    zh, latin = len(_CJK.findall(text)), len(_LATIN.findall(text))
    return "zh" if zh and zh * 5 >= latin else ("en" if latin else "zh")


@dataclass
class Mention:
    symptom: str
    text: str
    start: int
    end: int
    negated: bool = False
    historical: bool = False
    severity: str = "moderate"
    chronic: bool = False  # stated as long-standing (嘴角有点歪，好几年了): not an acute red flag
    strong: bool = False  # a strong severity word (打滚, 湿透, 喷射 ...) in the symptom's own clause


@dataclass
class Duration:
    text: str
    days: float


@dataclass
class TextFacts:
    text: str
    mentions: list[Mention] = field(default_factory=list)
    durations: list[Duration] = field(default_factory=list)
    populations: set[str] = field(default_factory=set)
    age: float | None = None
    resolved: bool = False  # the message says the episode is over (现在没事了, fine now)

    @property
    def present(self) -> list[Mention]:
        return [m for m in self.mentions if not m.negated]

    @property
    def current(self) -> list[Mention]:
        return [m for m in self.mentions if not m.negated and not m.historical]


def _strip_ages(text: str) -> str:
    for rx in (_AGE_MONTHS, _AGE_MONTHS2, _AGE_YEARS, _PREGNANCY_WEEK, _AGE_EN, _AGE_WEEKS_EN):
        text = rx.sub(" ", text)
    return text


class Lexicon:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        ctx = kb.context
        # word lists of knowledge/symptoms/context.yaml
        self.post_negations = ctx.post_negations
        self.chronic_cues = ctx.chronic_cues
        self.acute_cues = ctx.acute_cues
        self.duration_words = ctx.duration_words
        self.term_to_symptom: dict[str, str] = {}
        for s in kb.symptoms.values():
            for term in (s.name, *s.terms):
                self.term_to_symptom.setdefault(normalize(term), s.id)
        self.en_terms = sorted({normalize(t): s.id for s in kb.symptoms.values() for t in s.en}.items(),
                               key=lambda kv: -len(kv[0]))
        self._en_re = re.compile(r"\b(" + "|".join(re.escape(t) for t, _ in self.en_terms) + r")\b")
        long_terms = sorted((t for t in self.term_to_symptom if len(t) > _SHORT), key=len, reverse=True)
        self._long_re = re.compile("|".join(re.escape(t) for t in long_terms))
        self._compositions = [
            (re.compile("(?:" + "|".join(map(re.escape, sorted(c.parts, key=len, reverse=True))) + r")"
                        r"(?P<gap>[^，,。;；!！?？\n]{0,6}?)(?:" + "|".join(map(re.escape, c.cues)) + ")"), c.symptom)
            for c in ctx.compositions]
        self.tokenizer = jieba.Tokenizer()
        for word in self._dictionary_words():
            self.tokenizer.add_word(word, freq=200000)
        self.negation_cues = sorted(ctx.negation_cues, key=len, reverse=True)
        self._neg_en = re.compile(r"\b(" + "|".join(re.escape(c) for c in ctx.negation_cues_en) + r")\b")
        self._pseudo = re.compile("|".join(re.escape(p) for p in sorted(ctx.pseudo_negations, key=len, reverse=True)))
        self._terminators = re.compile("|".join(re.escape(t) for t in ctx.scope_terminators)
                                       + r"|\b(?:" + "|".join(ctx.scope_terminators_en) + r")\b")
        self._history = re.compile("|".join(re.escape(h) for h in ctx.history_cues))
        figures = sorted({normalize(f) for f in ctx.figurative if f.strip()}, key=len, reverse=True)
        self._figurative = re.compile("|".join(map(re.escape, figures))) if figures else None
        resolved = sorted({normalize(r) for r in ctx.resolved_cues if r.strip()}, key=len, reverse=True)
        self._resolved = re.compile("|".join(map(re.escape, resolved))) if resolved else None
        self.severe_words = [normalize(w) for w in ctx.severity["severe"]]
        self.mild_words = [normalize(w) for w in ctx.severity["mild"]]
        self.strong_words = [normalize(w) for w in ctx.severity.get("strong", ())]
        self.population_words = {k: [normalize(w) for w in v] for k, v in ctx.populations.items()}
        self.pregnancy_ruled_out = sorted((normalize(w) for w in ctx.routing.get("pregnancy_ruled_out", ())),
                                          key=len, reverse=True)

    def _dictionary_words(self) -> list[str]:
        kb = self.kb
        words = set(self.term_to_symptom)
        for d in kb.diseases.values():
            words.update(normalize(w) for w in (d.name, *d.aliases))
        for dep in kb.departments.values():
            words.update(normalize(w) for w in (dep.name, *dep.synonyms))
        for ind in kb.indicators.values():
            words.update(normalize(w) for w in (ind.name, *ind.aliases))
        for c in kb.context.compositions:
            words.update(c.parts)
        return sorted(w for w in words if _CJK.search(w) and len(w) >= 2)

    def tokens(self, text: str) -> list[tuple[str, int, int]]:
        return [(w, s, e) for w, s, e in self.tokenizer.tokenize(text, HMM=False) if w.strip()]

    # ---- symptom spotting ----
    def analyze(self, raw: str) -> TextFacts:
        text = normalize(raw)
        if self._figurative is not None:  # 笑死 / 加班加到吐血 are not symptoms: blank them, keeping positions
            text = self._figurative.sub(lambda m: " " * len(m.group(0)), text)
        facts = TextFacts(text=text)
        spans: list[tuple[int, int, str]] = []

        def free(s: int, e: int) -> bool:
            return all(e <= a or s >= b for a, b, _ in spans)

        for m in self._long_re.finditer(text):
            spans.append(self._retarget(text, m.start(), m.end(), self.term_to_symptom[m.group(0)]))
        toks = self.tokens(text)
        i = 0
        while i < len(toks):
            hit = None
            for j in range(min(len(toks), i + 4), i, -1):
                s, e = toks[i][1], toks[j - 1][2]
                cand = text[s:e]
                if cand in self.term_to_symptom and free(s, e):
                    hit = (s, e, self.term_to_symptom[cand], j)
                    break
            if hit:
                spans.append(hit[:3])
                i = hit[3]
            else:
                i += 1
        # jieba keeps idioms such as 昏迷不醒 or 高热惊厥 whole; look inside unmatched long tokens for short terms.
        for w, s0, e0 in toks:
            if len(w) >= 3 and w not in self.term_to_symptom and free(s0, e0):
                for k in range(len(w) - 1):
                    cand = w[k:k + 2]
                    if cand in self.term_to_symptom and free(s0 + k, s0 + k + 2):
                        spans.append((s0 + k, s0 + k + 2, self.term_to_symptom[cand]))
        for m in self._en_re.finditer(text):
            if free(m.start(), m.end()):
                spans.append((m.start(), m.end(), dict(self.en_terms)[m.group(0)]))
        dictionary_spans = list(spans)
        for rx, sid in self._compositions:
            for m in rx.finditer(text):
                if _GAP_NEGATION.search(m.group("gap")):
                    continue  # 肛门不疼: the negation sits between the body part and the sensation
                if any(a <= m.start() and m.end() <= b and x != sid for a, b, x in dictionary_spans):
                    continue  # inside a longer dictionary term that says something else (不想活在别人的期待里)
                overlapping_same = any(not (m.end() <= a or m.start() >= b) and x == sid for a, b, x in spans)
                if not overlapping_same:
                    spans.append((m.start(), m.end(), sid))
        spans.sort()
        clauses = self._clauses(text)
        for s, e, sid in spans:
            cs, ce = next(((a, b) for a, b in clauses if a <= s < b), (0, len(text)))
            mention = Mention(symptom=sid, text=text[s:e], start=s, end=e)
            mention.negated = self._negated(text, cs, ce, s, e, spans)
            mention.historical = self._historical(text, cs, ce, s, e)
            # Severity is judged in the symptom's own clause, without the words of the term itself (月经量很多 is
            # heavy menses, not a severe one); strong words (打滚, 湿透) count wherever they are in the clause.
            mention.severity = self._severity(text[cs:s] + " " + text[e:ce])
            mention.strong = any(w in text[cs:ce] for w in self.strong_words)
            if mention.strong:
                mention.severity = "severe"
            facts.mentions.append(mention)
        self._carry_severity(text, facts, clauses)
        self._mark_resolved(text, facts)
        self._measurements(text, facts)
        facts.durations = self._durations(_strip_ages(text))  # 孩子三个月 / 6 week old is an age, not a duration
        self._mark_chronic(text, facts, clauses)
        facts.populations, facts.age = self._populations(text)
        return facts

    def _carry_severity(self, text: str, facts: TextFacts, clauses: list[tuple[int, int]]) -> None:
        """A clause with no symptom of its own that grades something (咳血，一口一口的鲜血 / 一直出血，床单都湿透了)
        grades the symptoms of the clause just before it in the same sentence."""
        sentences = self._clauses(text, _SENTENCE_SPLIT)
        for i, (cs, ce) in enumerate(clauses):
            if i == 0:
                continue
            own = [m.start for m in facts.mentions if cs <= m.start < ce]
            if own:  # a strong word before the clause's first symptom still looks back (咳血，一口一口的鲜血往外咳)
                piece = text[cs:min(own)]
                strong = any(w in piece for w in self.strong_words)
                if not strong:
                    continue
            else:
                piece = text[cs:ce]
                strong = any(w in piece for w in self.strong_words)
                if not strong and self._severity(piece) != "severe":
                    continue
            ps, pe = clauses[i - 1]
            if next((a for a, b in sentences if a <= ps < b), -1) != next((a for a, b in sentences if a <= cs < b), -2):
                continue
            for m in facts.mentions:
                if ps <= m.start < pe and not m.negated:
                    m.severity = "severe"
                    m.strong = m.strong or strong

    def _mark_resolved(self, text: str, facts: TextFacts) -> None:
        """现在没事了 / 缓过来了 / fine now: what came before is an episode that is over. A symptom graded with a
        strong word (吐了一大口血) stays current: that needs care even if it has stopped."""
        if self._resolved is None:
            return
        last = None
        for m in self._resolved.finditer(text):
            last = m
        if last is None:
            return
        for mention in facts.mentions:
            if mention.end <= last.start() and not mention.strong:
                mention.historical = True
        facts.resolved = True

    def _mark_chronic(self, text: str, facts: TextFacts, clauses: list[tuple[int, int]]) -> None:
        """A long duration in a clause makes that clause's symptoms chronic; a bare duration clause (好几年了,
        一直这样) refers back to the clauses before it in the same sentence."""
        if any(w in text for w in self.acute_cues):
            return
        sentences = self._clauses(text, _SENTENCE_SPLIT)
        for cs, ce in clauses:
            piece = text[cs:ce]
            piece = _strip_ages(piece)  # 孩子才三个月 is an age, not how long the symptom has lasted
            long_ = any(w in piece for w in self.chronic_cues) or any(
                d.days >= 30 and d.text not in self.duration_words for d in self._durations(piece))
            if not long_:
                continue
            own = [m for m in facts.mentions if cs <= m.start < ce]
            if own:
                targets = own
            else:
                ss = next((a for a, b in sentences if a <= cs < b), 0)
                targets = [m for m in facts.mentions if ss <= m.start < cs]
            for m in targets:
                m.chronic = True

    def _retarget(self, text: str, s: int, e: int, sid: str) -> tuple[int, int, str]:
        """A term that starts with a negation cue (没有呼吸) must not swallow a longer term behind the cue
        (没有呼吸困难 is "no breathing difficulty", not "not breathing"): keep the longer term, let the cue negate it."""
        term = text[s:e]
        for cue in self.negation_cues:
            if term.startswith(cue) and len(term) > len(cue):
                m = self._long_re.match(text, s + len(cue))
                if m and m.end() > e:
                    return (m.start(), m.end(), self.term_to_symptom[m.group(0)])
                break
        return (s, e, sid)

    def _historical(self, text: str, cs: int, ce: int, s: int, e: int) -> bool:
        """A history cue earlier in the clause (以前, 去年) not cut off by a terminator (但是, 现在, 突然), or the
        experiential 过 right after the symptom (晕倒过一次, 吐过血) with no present-time word before it."""
        last = None
        for m in self._history.finditer(text, cs, s):
            last = m
        if last is not None and not self._terminators.search(text, last.end(), s):
            return True
        if _AGO_EN.search(text, cs, ce):  # "had a heart attack 5 years ago"
            return True
        term = text[s:e]
        inner = len(term) > 2 and "过" in term[1:-1] and term not in self.term_to_symptom
        after = _EXPERIENTIAL.match(text, e) is not None and e < ce
        return (inner or after) and not self._terminators.search(text, cs, s)

    def _measurements(self, text: str, facts: TextFacts) -> None:
        """Numbers the patient quotes: a blood pressure of 150/95 or a temperature of 39.2 are symptoms too."""
        for sid, found, severe in (("high_blood_pressure", *self._bp(text)), ("fever", *self._temperature(text))):
            if not found:
                continue
            mine = [m for m in facts.mentions if m.symptom == sid and not m.negated]
            if not mine:
                m = found
                mention = Mention(symptom=sid, text=text[m.start():m.end()], start=m.start(), end=m.end())
                facts.mentions.append(mention)
                mine = [mention]
            if severe:
                for mention in mine:
                    mention.severity = "severe"
        if self._low_grade(text):  # 37.6 / 低烧: below 38 °C, not the fever that sends a chemo patient to the ED
            for mention in facts.mentions:
                if mention.symptom == "fever" and mention.severity != "severe":
                    mention.severity = "mild"
        for sid, m, severe in self._vitals(text):
            if sid not in self.kb.symptoms or any(x.symptom == sid and not x.negated for x in facts.mentions):
                continue
            facts.mentions.append(Mention(symptom=sid, text=m.group(0), start=m.start(), end=m.end(),
                                          severity="severe" if severe else "moderate"))

    @staticmethod
    def _vitals(text: str) -> list[tuple[str, re.Match[str], bool]]:
        """Quoted readings outside the normal range: a BP of 80/50 (low), 180/120 (crisis), a heart rate of 30 or
        180, a blood sugar of 2.1. The symptom ids are knowledge entries; a missing one is simply skipped."""
        out: list[tuple[str, re.Match[str], bool]] = []
        for m in _BP.finditer(text):
            sys_, dia = int(m.group(1)), int(m.group(2))
            if not (50 <= sys_ <= 260 and sys_ > dia):
                continue
            if (sys_ >= 180 and dia >= 110) or sys_ >= 200 or dia >= 120:
                out.append(("hypertensive_crisis", m, True))
            elif sys_ < 90 and re.search(r"血压|bp|高压", text[max(0, m.start() - 6):m.end()]):
                out.append(("hypotension", m, sys_ < 80))
        for m in _SBP.finditer(text):
            if 200 <= int(m.group(1)) <= 300:
                out.append(("hypertensive_crisis", m, True))
        for m in [*_HEART_RATE.finditer(text), *_HEART_RATE_LOOSE.finditer(text)]:
            rate = int(m.group(1))
            if rate < 40 or 150 <= rate <= 300:
                out.append(("abnormal_heart_rate", m, True))
        for m in _GLUCOSE.finditer(text):
            value = float(m.group(1))
            if value < 3.9:
                out.append(("hypoglycemia_signs", m, value < 3.0))
            elif value >= 16.7:
                out.append(("high_blood_sugar", m, value >= 25))
        return out

    @staticmethod
    def _bp(text: str) -> tuple[re.Match[str] | None, bool]:
        hits = [m for m in _BP.finditer(text) if 60 <= int(m.group(1)) <= 260 and int(m.group(1)) > int(m.group(2))]
        high = [m for m in hits if int(m.group(1)) >= 140 or int(m.group(2)) >= 90]
        severe = any(int(m.group(1)) >= 180 or int(m.group(2)) >= 110 for m in high)
        upper = [m for m in _SBP.finditer(text) if 140 <= int(m.group(1)) <= 300]
        if not high and upper:
            return upper[0], any(int(m.group(1)) >= 180 for m in upper)
        return (high[0] if high else None), severe

    @staticmethod
    def _low_grade(text: str) -> bool:
        temps = [float(m.group(1) or m.group(2)) for m in _TEMP.finditer(text)]
        if temps:
            return max(temps) < 38.0
        return any(w in text for w in ("低烧", "低热")) and not any(w in text for w in ("高烧", "高热", "发高烧"))

    @staticmethod
    def _temperature(text: str) -> tuple[re.Match[str] | None, bool]:
        temps = [(m, float(m.group(1) or m.group(2))) for m in _TEMP.finditer(text)]
        fever = [(m, t) for m, t in temps if 37.3 <= t <= 43]
        return (fever[0][0] if fever else None), any(t >= 39.0 for _, t in fever)

    @staticmethod
    def _clauses(text: str, splitter: re.Pattern[str] = _CLAUSE_SPLIT) -> list[tuple[int, int]]:
        out, start = [], 0
        for m in splitter.finditer(text):
            out.append((start, m.start()))
            start = m.end()
        out.append((start, len(text)))
        return out

    def _negated(self, text: str, cs: int, ce: int, s: int, e: int, spans: list[tuple[int, int, str]]) -> bool:
        if any(text.startswith(cue, s) for cue in self.negation_cues) and e - s > 2 and (s, e) in {
                (a, b) for a, b, _ in spans}:
            # The term itself is an absence (不放屁, 没有呼吸): a cue before it lists it, it does not deny it.
            return False
        prefix = list(text[cs:s])
        # Blank out other symptom terms and pseudo-negations so the 不 in 睡不着 or 不知道 is not a cue.
        for a, b, _ in spans:
            for k in range(max(a, cs), min(b, s)):
                prefix[k - cs] = " "
        masked = "".join(prefix)
        masked = self._pseudo.sub(lambda m: " " * len(m.group(0)), masked)
        cue_end = -1
        for cue in self.negation_cues:
            pos = masked.rfind(cue)
            if pos >= 0:
                cue_end = max(cue_end, pos + len(cue))
        for m in self._neg_en.finditer(masked):
            cue_end = max(cue_end, m.end())
        if cue_end >= 0:
            between = masked[cue_end:]
            if len(between) <= 12 and not self._terminators.search(between):
                return True
        tail = text[e:min(ce, e + 4)]
        return any(tail.startswith(p) or tail[1:].startswith(p) for p in self.post_negations)

    def _severity(self, window: str) -> str:
        if any(w in window for w in self.severe_words):
            return "severe"
        if any(w in window for w in self.mild_words):
            return "mild"
        return "moderate"

    def _durations(self, text: str) -> list[Duration]:
        out: list[Duration] = []
        pregnancy = [(m.start(), m.end()) for m in _PREGNANCY_WEEK.finditer(text)]
        for m in _DURATION.finditer(text):
            if any(a <= m.start() < b for a, b in pregnancy):
                continue
            if _FREQUENCY.match(text, m.end()) or text[max(0, m.start() - 1):m.start()] == "每":
                continue  # 一天七八次 is a frequency, not a duration
            n = zh_number(m.group(1))
            unit = m.group(2).replace("个星期", "星期").replace("个礼拜", "礼拜").replace("个多月", "个月")
            if n is not None:
                out.append(Duration(text=m.group(0), days=round(n * _UNIT_DAYS[unit], 3)))
        for m in _DURATION_EN.finditer(text):
            unit = {"minute": "分钟", "hour": "小时", "day": "天", "week": "周", "month": "月", "year": "年"}[
                m.group(2).lower()]
            out.append(Duration(text=m.group(0), days=round(float(m.group(1)) * _UNIT_DAYS[unit], 3)))
        if not out:
            for word, days in self.duration_words.items():
                if word in text:
                    out.append(Duration(text=word, days=days))
                    break
        return out

    def _populations(self, text: str) -> tuple[set[str], float | None]:
        # 生完孩子 / 产后 speak of the mother: the 孩子 inside them does not make the writer a child.
        plain = text
        for w in self.population_words.get("postpartum", ()):
            plain = plain.replace(w, " " * len(w))
        unpregnant = text
        for w in self.pregnancy_ruled_out:
            unpregnant = unpregnant.replace(w, " " * len(w))
        found = {k for k, words in self.population_words.items()
                 if any(w in {"child": plain, "infant": plain, "pregnant": unpregnant}.get(k, text) for w in words)}
        child_named = "child" in found
        age: float | None = None
        for rx, scale in ((_AGE_MONTHS, 1 / 12), (_AGE_MONTHS2, 1 / 12)):
            m = rx.search(text)
            if m and zh_number(m.group(1)) is not None:
                age = zh_number(m.group(1)) * scale
                break
        if age is None:
            m = _AGE_YEARS.search(text) or None
            if m and zh_number(m.group(1)) is not None:
                age = zh_number(m.group(1)) + (0.5 if m.group(2) else 0)
            else:
                m = _AGE_EN.search(text)
                age = float(m.group(1)) if m else None
                w = _AGE_WEEKS_EN.search(text)
                if age is None and w:
                    age = float(w.group(1)) / 52
        if age is not None and age < 1 and "postpartum" in found and not child_named:
            age = None  # 生完孩子两个月: months since the birth, not the writer's age
        if age is not None:
            if age < 14:
                found.add("child")
            if age < 0.25:
                found.add("infant")
            if age >= 14:
                found.discard("child")
            if age >= 65:
                found.add("elderly")
        return found, age
