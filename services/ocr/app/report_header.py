"""Report header fields (hospital, report type, sample, dates, sex, age) from the text outside the tables.

Only whitelisted fields are extracted; everything else — personal names, ID/phone/record numbers — is dropped
here and never reaches the output or the logs."""
from __future__ import annotations

import re
import unicodedata

from .knowledge import KnowledgeBase, load_knowledge
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
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return None
    out = f"{y:04d}-{mo:02d}-{d:02d}"
    if m.group(4):
        out += f"T{int(m.group(4)):02d}:{m.group(5)}"
    return out


def _reading_order(tokens: list[Token]) -> list[Token]:
    hs = sorted(t.box[3] - t.box[1] for t in tokens) or [20]
    lh = hs[len(hs) // 2]
    return sorted(tokens, key=lambda t: (round(((t.box[1] + t.box[3]) / 2) / (0.7 * lh)), t.box[0]))


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


def extract_header(tokens: list[Token], kb: KnowledgeBase | None = None) -> dict[str, object]:
    out: dict[str, object] = {"hospital": None, "report_title": None, "sample_type": None, "sex": None, "age": None,
                              "collected_at": None, "received_at": None, "reported_at": None, "tested_at": None}
    toks = _reading_order(tokens)
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
        if re.search(r"性\s*别", t):
            v = _value_after(toks, i, r"性\s*别")
            if v[:1] in ("男", "M") or v.lower().startswith("male"):
                out["sex"] = "male"
            elif v[:1] in ("女", "F") or v.lower().startswith("female"):
                out["sex"] = "female"
        if re.search(r"年\s*龄", t):
            v = _value_after(toks, i, r"年\s*龄")
            m = re.match(r"(\d{1,3})\s*(岁|y|Y|years?)?", v)
            if m and 0 < int(m.group(1)) < 130:
                out["age"] = int(m.group(1))
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


def report_type(header_text: list[str], panels: list[str], kb: KnowledgeBase | None = None) -> str:
    """From the printed title when it names a panel, else from the panels of the indicators found."""
    kb = kb or load_knowledge()
    joined = " ".join(_nfkc(t) for t in header_text)
    for pat, code in _report_patterns(kb):
        if re.search(pat, joined):
            return code
    if not panels:
        return "unknown"
    counts: dict[str, int] = {}
    for p in panels:
        counts[p] = counts.get(p, 0) + 1
    top = max(counts, key=counts.get)
    if len(counts) > 1:
        for rt in kb.report_types.values():  # several panels all inside one composite report (生化)
            if rt.panels and set(counts) <= set(rt.panels):
                return rt.id
    return top
