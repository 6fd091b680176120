"""Report header fields (hospital, report type, sample, dates, sex, age) from the text outside the tables.

Only whitelisted fields are extracted; everything else — personal names, ID/phone/record numbers — is dropped
here and never reaches the output or the logs."""
from __future__ import annotations

import datetime
import itertools
import re
import unicodedata

from .knowledge import KnowledgeBase, load_knowledge, simplified
from .parsing import Token

_DATE = r"(20\d{2}|19\d{2})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
_DATE_KEYS = {
    "collected_at": r"(采样|采集|采血|留样|取样)(时间|日期)",
    "received_at": r"(接收|收样|签收|送检)(时间|日期)",
    "reported_at": r"(报告|审核|发布|打印)(时间|日期)",
    "tested_at": r"(检验|检测|测定)(时间|日期)",
}
_SAMPLE_TYPES = {"全血": "whole_blood", "静脉血": "whole_blood", "末梢血": "capillary_blood", "血清": "serum",
                 "血浆": "plasma", "尿液": "urine", "尿": "urine", "随机尿": "urine", "晨尿": "urine",
                 "动脉血": "arterial_blood", "指尖血": "capillary_blood"}
def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


def _date(s: str) -> str | None:
    m = re.search(_DATE, s)
    if not m:
        return None
    try:  # a day that exists (no 2024-02-31), a time of day that exists (no 25:99); else not a date
        day = datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m.group(4) is None:
            return day.isoformat()
        at = datetime.time(int(m.group(4)), int(m.group(5)), int(m.group(6) or 0))
    except ValueError:
        return None
    return f"{day.isoformat()}T{at.isoformat()}"


def _line_key(tokens: list[Token]):
    """The line a token stands on: its centre in steps of 0.7 median line heights."""
    hs = sorted(t.box[3] - t.box[1] for t in tokens) or [20]
    lh = hs[len(hs) // 2]
    return lambda t: round(((t.box[1] + t.box[3]) / 2) / (0.7 * lh))


def _reading_order(tokens: list[Token]) -> list[Token]:
    line = _line_key(tokens)
    return sorted(tokens, key=lambda t: (line(t), t.box[0]))


def _value_after(tokens: list[Token], i: int, key_re: str) -> str:
    """Text after the key in the same token ('性别:男'), else the next token on the same line."""
    t = _nfkc(tokens[i].text)
    m = re.search(key_re + r"\s*[:：]?\s*(.*)$", t)
    rest = m.group(m.lastindex).strip() if m and m.lastindex else ""
    if rest:
        return rest
    if i + 1 < len(tokens):
        a, b = tokens[i], tokens[i + 1]
        same_line = abs((a.box[1] + a.box[3]) / 2 - (b.box[1] + b.box[3]) / 2) < 0.6 * (a.box[3] - a.box[1])
        if same_line and b.box[0] > a.box[0]:
            return _nfkc(b.text).strip(" :：")
    return ""


# Sex and age keys as hospitals print them (性别 / 性 别 / 性別 / Sex / Gender; 年龄 / 年齡 / Age), with the
# recogniser's usual slips of their second character (别 → 刖, 龄 → 令); a key may repeat in English ('性别 Sex：男').
_SEX_KEY = r"(?:性\s*[别別刖]|\bsex\b|\bgender\b)"
_AGE_KEY = r"(?:年\s*[龄齡令]|\bage\b)"
_KEY_SEP = r"[\s:：;；.．|]*"
# '性别/年龄：女/3岁', 'Age/Sex: 45Y/M': two keys and their two values, each split at a slash
_PAIR = re.compile(rf"({_SEX_KEY}|{_AGE_KEY}){_KEY_SEP}/{_KEY_SEP}({_SEX_KEY}|{_AGE_KEY}){_KEY_SEP}"
                   r"([^/\s]+)\s*/\s*([^\s/|]+)", re.I)
_AGE_UNITS = [  # (unit spellings, years per unit); a number without a unit is years
    (r"周岁|岁|歲|yrs?|years?|y", 1.0), (r"个月|個月|月|months?|mo|m", 1 / 12), (r"周|weeks?|wk|w", 7 / 365),
    (r"天|日|days?|d", 1 / 365), (r"小时|hours?|hrs?|h", 1 / 8760)]
_WORD_UNITS = "|".join(u for spellings, _ in _AGE_UNITS for u in spellings.split("|") if len(u) > 1 or
                       not u.isascii())
_LETTER_UNITS = "|".join(u for spellings, _ in _AGE_UNITS for u in spellings.split("|") if len(u) == 1 and u.isascii())
# a one-letter unit only right after its number or one space on ('45Y', '26 d'): '62  M' (two boxes, joined with
# two spaces) is a number and the next field's letter
_AGE_PART = re.compile(r"(\d{1,3}(?:\.\d+)?)(?:\s*(" + _WORD_UNITS + r")| ?(" + _LETTER_UNITS + r"))?(半)?(?![a-z])",
                       re.I)
# '患者：张三(男,45岁)': a sex and an age bracketed together after the patient's name
_BRACKETED_PAIR = re.compile(r"(?:患者|病人|姓名|受检者)\s*[:：]?\s*[^\s(（:：]{1,8}[(（]\s*([男女])\s*[,，、/]\s*"
                            r"(\d{1,3}\s*(?:岁|歲)[^)）]{0,6})[)）]")
_DIGIT_SLIPS = str.maketrans("SsOoIl", "550011")  # '4S岁': a digit the recogniser read as a letter, next to digits
_TICK = re.compile(r"[☑√✓✔■▣]\s*([男女])")


def parse_age(text: str) -> float | None:
    """An age as printed after its key, in years: '45岁' 45, '2岁5月' 2.417, '8月' 0.667, '15天' 0.041, '2岁半' 2.5,
    '半岁' 0.5, '45Y', '6 months', '72' (no unit: years); a digit read as a letter beside digits or units ('l岁',
    '1岁1O个月'). None when the text starts with no age."""
    t = _nfkc(text).strip().lower()
    t = re.sub(r"(?<=\d)[sol](?=[\d岁歲y个月周天])|(?<=[\s:：])[sol](?=\d)|^[sol](?=\d)|^l(?=\s*[岁歲])",
               lambda m: m.group(0).translate(_DIGIT_SLIPS), t)
    if t.startswith("半岁"):
        return 0.5
    years, pos, seen = 0.0, 0, False
    while True:
        m = _AGE_PART.match(t, pos)
        if not m:
            break
        unit = m.group(2) or m.group(3)
        per = next((f for u, f in _AGE_UNITS if unit and re.fullmatch(u, unit, re.I)), 1.0)
        if unit is None and seen:
            break  # '45岁 12' : a number after a whole age is another field
        years += float(m.group(1)) * per + (0.5 if m.group(4) and per == 1.0 else 0.0)
        seen, pos = True, m.end()
        if unit is None:
            if re.match(r"[-~.·/]\d", t[pos:]):
                return None  # '10-12', '12.3.2024': a range or a date, not an age
            break
        pos += len(t[pos:]) - len(t[pos:].lstrip())
    if not seen or not 0 <= years < 130:
        return None
    return round(years, 3)


def parse_sex(text: str) -> str | None:
    """A sex as printed after its key: 男 / 女 / 男性 / M / F / Male / Female, or a ticked box ('□男 ☑女')."""
    t = _nfkc(text).strip()
    if m := _TICK.search(t[:8]):
        return "male" if m.group(1) == "男" else "female"
    if t[:1] == "男":
        return "male"
    if t[:1] == "女":
        return "female"
    m = re.match(r"(female|male|f|m)(?![a-z0-9\-])", t, re.I)
    if m:
        return "female" if m.group(1).lower().startswith("f") else "male"
    return None


def _key_value(lines: list[str], n: int, key: str) -> str | None:
    """The text after a key on line n (after an English repeat of it, '性别 Sex：'); the next line's start when the
    value wrapped there. None when the line has no such key."""
    m = re.search(rf"{key}(?:{_KEY_SEP}{key})*(?:\s*\(?[a-z]+\)?(?=\s*[:：]))?{_KEY_SEP}(.*)$", lines[n], re.I)
    if not m:
        return None
    rest = m.group(1)
    if not rest.strip() and n + 1 < len(lines):
        # the value wrapped to the next line: only a value that reads as one ('男', '45岁'; not '12床', 'M2-PK')
        nxt = lines[n + 1].strip()
        if key == _AGE_KEY and not re.match(r"\d{1,3}(?:\.\d+)?\s*(?:" + _WORD_UNITS + r"|[ymdwh](?![a-z]))", nxt, re.I):
            return ""
        return nxt
    return rest


def sex_and_age(lines: list[str], bare_fields: bool = True) -> tuple[str | None, float | None]:
    """The patient's sex and age (years) from the header's text lines (each line left to right). A key decides:
    '性别：男 年龄：2岁5月', 'Sex: F  Age: 45Y', '性别/年龄：女/3岁'; else, on a line of short fields without keys
    ('张三  男  45岁'), a field that is only 男 / 女 and one that is only an age in 岁, both on one line, and only when
    ``bare_fields`` (the lines are the report's header, not a page whose table was not found). Numbers of other fields (床号,
    dates, 孕周), 男 / 女 inside other words (男科, 女性型乳房发育) and a value after a key that is not one of these
    (a garbled key) are never read."""
    sex: str | None = None
    age: float | None = None
    lines = [_nfkc(x) for x in lines]
    for n, line in enumerate(lines):
        for m in _PAIR.finditer(line):
            for key, val in ((m.group(1), m.group(3)), (m.group(2), m.group(4))):
                if re.fullmatch(_SEX_KEY, key, re.I):
                    sex = sex or parse_sex(val)
                else:
                    age = age if age is not None else parse_age(val)
        if sex is None and (v := _key_value(lines, n, _SEX_KEY)) is not None:
            sex = parse_sex(v)
        if age is None and (v := _key_value(lines, n, _AGE_KEY)) is not None:
            age = parse_age(v)
    if bare_fields and sex is None and age is None:
        # no keyed field: the sex and age bracketed after the patient's name ('患者：张三(男,45岁)')
        if m := next(filter(None, (_BRACKETED_PAIR.search(x) for x in lines)), None):
            sex, age = parse_sex(m.group(1)), parse_age(m.group(2))
    if bare_fields and (sex is None or age is None):
        for line in lines:
            if re.search(rf"{_SEX_KEY}|{_AGE_KEY}", line, re.I):
                continue
            # only fields no key claims: '午线：5岁' is a garbled key's value (年龄：69岁 misread), not a bare age
            fields = [f for seg in line.split() if not re.search(r"[:：]", seg)
                      for f in re.split(r"[,，、()（）|]+", seg)]
            every = re.split(r"[\s,，、:：()（）|]+", line)
            bare_age = [f for f in fields if re.fullmatch(r"\d{1,3}(?:岁|歲)(?:\d{1,2}(?:个月|月))?", f)]
            one_sex = ("男" in fields) != ("女" in fields) and not ("男" in every and "女" in every)
            if one_sex and bare_age:  # a patient's line: both a sex and an age ('张三  男  45岁')
                sex = sex or ("male" if "男" in fields else "female")  # (both sexes: a range per sex)
                age = age if age is not None else parse_age(bare_age[0])
    return sex, age


def _lines(ordered: list[Token], line) -> list[str]:
    """The header's text lines: tokens (in reading order, ``line`` their _line_key) on one line joined with two
    spaces."""
    return ["  ".join(t.text for t in group) for _, group in itertools.groupby(ordered, key=line)]


def extract_header(tokens: list[Token], kb: KnowledgeBase | None = None, *, header_area: bool = True,
                   ) -> dict[str, object]:
    """The whitelisted header fields. ``header_area``: the tokens are the text above the table (not the whole page
    of a sheet whose table header was not found: its rows' 男 / 女 cells are no patient's)."""
    out: dict[str, object] = {"hospital": None, "report_title": None, "sample_type": None, "sex": None, "age": None,
                              "collected_at": None, "received_at": None, "reported_at": None, "tested_at": None}
    toks = _reading_order(tokens)
    out["sex"], age = sex_and_age(_lines(toks, _line_key(tokens)), bare_fields=header_area)
    out["age"] = None if age is None else int(age)  # completed years (an infant of 8 months is 0)
    out["age_years"] = age  # with months and days as fractions: ranges for infants and newborns need them
    for i, tok in enumerate(toks):
        t = _nfkc(tok.text).strip()
        if out["hospital"] is None:
            m = re.search(r"([\u4e00-\u9fff（）()]{2,30}(医院|卫生院|卫生服务中心|医疗中心|医学检验实验室|检验实验室|检验中心|体检中心|妇幼保健院|保健院|诊所|中心))", t)
            if m and not re.search(r"(地址|电话|声明)", t):
                out["hospital"] = m.group(1)
        if out["report_title"] is None:
            # only the title words themselves: a merged line may also carry "姓名: ..."
            m = re.search(r"([\u4e00-\u9fffA-Za-z0-9]{0,14}(检验报告单|报告单|检验单|检验报告))$", t)
            if m:
                title = re.sub(r"^.*?(医院|卫生院|中心|实验室|保健院)", "", m.group(1)) or m.group(1)
                if "姓名" in t or re.search(r"(姓名|患者|病人)", title):
                    # a name may sit right before the title: keep only from a known panel word on, or nothing
                    k = re.search("|".join(p for p, _ in _report_patterns(kb)), title)
                    title = title[k.start():] if k else None
                out["report_title"] = title
        if re.search(r"(标本|样本|样品)(类型|种类)?", t):
            v = _value_after(toks, i, r"(标本|样本|样品)(类型|种类)?")
            for zh, code in _SAMPLE_TYPES.items():
                if zh in v:
                    out["sample_type"] = code
                    break
        for field_name, key in _DATE_KEYS.items():
            if out[field_name] is None and re.search(key, t):
                d = _date(t) or _date(_value_after(toks, i, key))
                if d:
                    out[field_name] = d
    return out


def _report_patterns(kb: KnowledgeBase | None) -> list[tuple[str, str]]:
    """(title regex, report type) in knowledge order (knowledge/reports)."""
    kb = kb or load_knowledge()
    return [("|".join(rt.patterns), rt.id) for rt in kb.report_types.values()]


# A header box that is a field of the form, not the title: a key with its colon names the patient's diagnosis
# ('临床诊断：2型糖尿病' is no glucose report), the ward ('科别：感染科'), the specimen or the people; so does a line of
# the patient's fields printed without colons ('姓名 余玉霞 性别 女 年龄 28岁'). A key and its colon alone in a box
# ('临床诊断：') makes the next box its value. A box that names the test ordered ('检验项目：血常规+CRP', '送检目的：') is
# read up to the next field, whatever other field shares it.
_FIELD_KEY = re.compile(r"(?:诊断|科别|科室|病区|床号|医生|医师|姓名|性别|年龄|病历号?|门诊号|住院号|条码号?|标本(?:类型|种类)?|"
                        r"样本(?:类型|种类|编号|号)?|检体(?:编号)?|(?:采样|采集|接收|报告|审核|打印|申请|送检|检验)(?:时间|日期)|"
                        r"备注|注|电话|地址|委托单位|(?<![A-Za-z])(?:Name|Sex|Age|Specimen|Department|Ward|Diagnosis))"
                        r"\s*[:：]", re.I)
_PERSON_KEYS = re.compile(r"姓名|性别|年龄|病历号|门诊号|住院号|床号")
_TITLE_KEY = re.compile(r"检验项目|检查项目|项目名称|送检项目|送检目的|检验目的|申请项目")
# words of the form's fields that mark a box as one even without its colon
_FIELD_WORD = re.compile(r"诊断|科别|科室|病区|床号|医生|医师|姓名|性别|年龄|病历|门诊|住院|条码|标本|样本|检体|备注|电话|地址|委托|"
                         r"(?:采样|采集|接收|收样|签收|报告|审核|打印|申请|送检|检验)(?:时间|日期)")
# a footer or note of the form: says nothing of the report's kind
_FOOTER = re.compile(r"负责|仅供参考|仅对|扫码|二维码|查询|温馨提示|请妥善|如有疑问")
# a box that reads as the sheet's title
_TITLE_WORD = re.compile(r"报告|化验单|检验单|检查单|Report", re.I)
# the institution that prints the sheet ('XX传染病医院', 'XX肿瘤医院', '心血管病医院'): its name says nothing of the
# report; it is cut from the box ('XX血液病医院血常规报告单' → '血常规报告单', '血常规检验报告单（XX医院）' → the title)
_INSTITUTION = re.compile(r"[^\s（(]*?(?:医院|病院|卫生院|保健院|研究所|医学院|医科大学|检验所|检验中心|卫生服务中心|医疗中心|"
                          r"门诊部|Hospital)", re.I)
# a report on another specimen than blood, urine or stool (脑脊液常规+生化, 胸腹水常规, 精液常规): none of ours
_OTHER_SPECIMEN = re.compile(r"脑脊液|胸水|腹水|胸腹水|积液|胃液|羊水|精液|白带|阴道分泌物|前列腺液|痰|关节液|穿刺液")
_NEXT_FIELD = re.compile(r"\s{2,}|\s[\u4e00-\u9fff/]{2,8}[:：]")
_SPACED_HAN = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_PLAIN_HAN = re.compile(r"[\u4e00-\u9fff]{3,}")


def _field_box(t: str) -> bool:
    """A box of the form's fields, not the title: a key with its colon, a line of person keys, or a field word in a
    box that does not read as the title ('临床诊断 高血压', '感染科门诊', '备注 复查血糖'; '迪安诊断 血常规检验报告' and
    'XX医院门诊血常规检验报告单' are titles)."""
    return bool(_FIELD_KEY.search(t)) or len(_PERSON_KEYS.findall(t)) >= 2 or (
        bool(_FIELD_WORD.search(t)) and not _TITLE_WORD.search(t))


def _title_tiers(header_text: list[str]) -> list[list[str]]:
    """The header boxes that may name the report, in three tiers, each NFKC, in simplified characters, letter-spacing
    closed up ('血 常 规'), without the institution's name: the ordered test's field, the boxes that read as the
    title ('…报告单'), any other box that is no field of the form (a subtitle). Footers ('本报告仅对所检标本负责')
    are none. A key and its colon alone in a box ('临床诊断：') makes the next box its value, unless that box reads
    as the title; after a bare '检验项目：' the next box is the ordered test, unless it is another field. A box
    ending in a separator ('肝功能、血脂、') runs on into the next."""
    tiers: list[list[str]] = [[], [], []]
    value_of_key = value_of_title = False
    carry = ""
    for raw in header_text:
        t = carry + simplified(_nfkc(raw)).strip()
        carry = ""
        if _FOOTER.search(t):
            value_of_key = value_of_title = False
            continue
        bare_key = bool(re.fullmatch(r"[^:：]{1,8}[:：]", t)) and not _TITLE_WORD.search(t)
        after_key, after_title = value_of_key, value_of_title
        value_of_key, value_of_title = bare_key, bare_key and bool(_TITLE_KEY.search(t))
        if after_title and not bare_key and not _field_box(t):  # '检验项目：' | '血常规': the ordered test
            tiers[0].append(_NEXT_FIELD.split(t, maxsplit=1)[0])
            continue
        key = _TITLE_KEY.search(t)
        if key:  # ('检验项目：粪便隐血(FOB)   委托单位：…': the value up to the next field; a title before the key stays)
            value = _NEXT_FIELD.split(t[key.end():].lstrip(" :："), maxsplit=1)[0]
            before = t[:key.start()]
            tiers[0].append(value)
            if before.strip() and not _field_box(before):
                tiers[1].append(_INSTITUTION.sub("", _SPACED_HAN.sub("", before)))
            continue
        if after_key and not _TITLE_WORD.search(t) or _field_box(t) or bare_key:
            continue
        if re.search(r"[、,，+/和及]$", t):
            carry = t
            continue
        t = _INSTITUTION.sub("", _SPACED_HAN.sub("", t))
        tiers[1 if _TITLE_WORD.search(t) else 2].append(t)
    if carry:
        tiers[2].append(_INSTITUTION.sub("", _SPACED_HAN.sub("", carry)))
    return tiers


def _one_substitution(text: str, word: str, own: str, kb: KnowledgeBase) -> int | None:
    """Where ``word`` stands in ``text`` with one character misread ('血常视' for 血常规), else None. Not its first
    character, which tells the kinds apart (血/尿/粪常规, 肝/肾功能, 尿隐血 is no 便隐血), and not where the window is
    one character from another kind's word as well (``own``: the word's kind)."""
    n = len(word)
    for i in range(len(text) - n + 1):
        window = text[i:i + n]
        if window[0] != word[0] or sum(a != b for a, b in zip(window, word)) != 1 or not _PLAIN_HAN.fullmatch(window):
            continue
        others = {rt.id for rt in kb.report_types.values() for w in rt.patterns
                  if w != word and len(w) == n and sum(a != b for a, b in zip(window, w)) <= 1}
        if not others - {own}:
            return i
    return None


def _title_kinds(tiers: list[list[str]], kb: KnowledgeBase) -> list[str]:
    """The report kinds the title names, in the order printed ('肝功能、肾功能、电解质' → liver, kidney, electrolytes),
    from the first tier that names any (a note's 空腹血糖 does not widen a 肾功能 title). A title word with one
    character misread ('粪便常视', '电解贡') counts, in a box that reads as a title, where no kind is named as printed.
    A title on another specimen (脑脊液常规+生化, in the ordered test or the title) names none of ours."""
    if _OTHER_SPECIMEN.search("  ".join(tiers[0] + tiers[1])):
        return []
    for tier, boxes in enumerate(tiers):
        joined = "  ".join(boxes)
        if not joined:
            continue
        hits: list[tuple[int, int, str]] = []
        for order, (pat, code) in enumerate(_report_patterns(kb)):
            hits += [(m.start(), order, code) for m in re.finditer(pat, joined)]
        if not hits:  # (in a subtitle or note only a long word: '全血细胞分忻', '糖化血红蛋自')
            for order, rt in enumerate(kb.report_types.values()):
                for word in rt.patterns:
                    if _PLAIN_HAN.fullmatch(word) and (tier < 2 or len(word) >= 4) \
                            and (i := _one_substitution(joined, word, rt.id, kb)) is not None:
                        hits.append((i, order, rt.id))
        if hits:
            if tier == 2 and _OTHER_SPECIMEN.search(joined):
                return []
            kinds: list[str] = []
            for _, _, code in sorted(hits):
                if code not in kinds:
                    kinds.append(code)
            return kinds
    return []


def _composite(kb: KnowledgeBase, kinds: set[str]) -> str | None:
    """The composite report (生化) whose panels hold every one of ``kinds`` (itself allowed), if any."""
    return next((rt.id for rt in kb.report_types.values() if rt.panels and kinds <= set(rt.panels) | {rt.id}), None)


def title_kind(header_text: list[str], kb: KnowledgeBase | None = None) -> str | None:
    """The report kind the printed title names, or None. A title that names several kinds is the composite report
    that holds them all ('肝肾功能+血脂' → 生化), else the kind it names first ('血常规+尿常规'); the form's fields
    (诊断, 科室 ...) and the institution's name are not the title."""
    kb = kb or load_knowledge()
    kinds = _title_kinds(_title_tiers(header_text), kb)
    if len(kinds) > 1 and (composite := _composite(kb, set(kinds))):
        return composite
    return kinds[0] if kinds else None


def panels_kind(panels: list[str], kb: KnowledgeBase | None = None) -> str:
    """The report kind of the indicators found: their most frequent panel, or the composite report holding all
    their panels (生化); 'unknown' when none was found."""
    if not panels:
        return "unknown"
    counts: dict[str, int] = {}
    for p in panels:
        counts[p] = counts.get(p, 0) + 1
    if len(counts) > 1 and (composite := _composite(kb or load_knowledge(), set(counts))):
        return composite
    return max(counts, key=counts.get)


def report_type(header_text: list[str], panels: list[str], kb: KnowledgeBase | None = None) -> str:
    """From the printed title when it names a report kind (title_kind), else from the panels of the indicators
    found (panels_kind)."""
    return title_kind(header_text, kb) or panels_kind(panels, kb)
