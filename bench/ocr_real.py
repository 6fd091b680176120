"""Real lab-report photos: the dev/test split of sheets, the hand transcriptions, and how a prediction is scored
against a transcription. Used by ``bench/ocr_accuracy.py --real``.

The photos themselves live outside the repository (``../shared/datasets/lab_reports_real``: they show real
people's names), only the transcriptions of the table rows are committed (``bench/data/lab_reports_real``).

    .venv/bin/python bench/ocr_real.py --write-split     # (re)write bench/data/lab_reports_real/split.json

Split: sheets are grouped by report type; within a group they are ordered by SHA-256 of ``SPLIT_SEED + sheet``
and the first 60 % (rounded, at least one) go to ``dev``, the rest to ``test`` (a group of one goes to dev).
Other captures of one sheet share its id (B02 is the same paper as A22), so a sheet is never on both sides."""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import unicodedata

import zhconv
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data" / "lab_reports_real"
SPLIT_FILE = DATA / "split.json"
SPLIT_SEED = "zhenxi-ocr-real-2026"
DEV_SHARE = 0.6
SAME_SHEET = {"B02": "A22"}  # another capture of the same paper


def dataset_dir() -> Path | None:
    for cand in (ROOT.parent / "shared" / "datasets" / "lab_reports_real",
                 ROOT.parents[1] / "shared" / "datasets" / "lab_reports_real",
                 Path("/work/shared/datasets/lab_reports_real")):
        if (cand / "images.csv").exists():
            return cand
    return None


def type_group(report_type: str, sheet: str) -> str:
    t = report_type
    if "尿常规" in t:
        return "urine"
    if "粪常规" in t:
        return "stool"
    if "生化" in t:
        return "biochem"
    if "PSA" in t:
        return "psa"
    if "抗体" in t or "流感" in t:
        return "other"
    return "blood"


def sheet_of(file_name: str) -> str:
    s = file_name[:3]
    return SAME_SHEET.get(s, s)


def images_by_sheet(ds: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    files: dict[str, list[str]] = defaultdict(list)
    groups: dict[str, str] = {}
    for r in csv.DictReader((ds / "images.csv").open(encoding="utf-8")):
        s = sheet_of(r["file"])
        files[s].append(r["file"])
        if s not in groups and r["report_type"].strip() and not r["sheet"].startswith("B02"):
            groups[s] = type_group(r["report_type"], s)
    for s in files:
        groups.setdefault(s, "blood")
    return dict(files), groups


def make_split(groups: dict[str, str]) -> dict[str, str]:
    by_group: dict[str, list[str]] = defaultdict(list)
    for s, g in groups.items():
        by_group[g].append(s)
    split: dict[str, str] = {}
    for g, sheets in by_group.items():
        sheets.sort(key=lambda s: hashlib.sha256((SPLIT_SEED + s).encode()).hexdigest())
        n_dev = max(1, round(DEV_SHARE * len(sheets)))
        for i, s in enumerate(sheets):
            split[s] = "dev" if i < n_dev else "test"
    return dict(sorted(split.items()))


def load_split() -> dict[str, str]:
    return json.loads(SPLIT_FILE.read_text(encoding="utf-8"))["sheets"]


def load_transcripts(folder: Path = DATA) -> dict[str, dict]:
    out = {}
    for f in sorted(folder.glob("*.json")):
        if f.name == "split.json":
            continue
        d = json.loads(f.read_text(encoding="utf-8"))
        out[d["sheet"]] = d
    return out


# ---- what the sheet says ---------------------------------------------------------------------------------------

_NUM = re.compile(r"^[<>≤≥＜＞]?=?\s*[-+]?\d+(?:\.\d+)?$")


def _nfkc(s: str) -> str:
    """NFKC, and Chinese in its simplified spelling (a Hong Kong or Taiwan sheet prints 陰性, 未發現): the score asks
    whether the result was read, not which script it came back in."""
    t = unicodedata.normalize("NFKC", s or "").strip()
    return zhconv.convert(t, "zh-cn") if re.search(r"[\u4e00-\u9fff]", t) else t


def number(s: str) -> float | None:
    t = _nfkc(s).replace(" ", "")
    t = re.sub(r"^[<>≤≥=]+", "", t)
    try:
        return float(t) if re.fullmatch(r"[-+]?\d+(?:\.\d+)?", t) else None
    except ValueError:
        return None


NEG_WORDS = ("阴性", "-", "neg", "negative", "未见", "未检出", "无", "(-)", "阴性(-)", "正常", "normal")
POS_WORDS_RE = re.compile(r"^(阳性|弱阳性|\+{1,4}|[1-4]\+|\+-|±|-\+|\(\+\)|pos|positive|可见|检出|查见|少许|少量)")


def qual_kind(v: str) -> str | None:
    """'neg' | 'pos' | None (descriptive or numeric)."""
    t = _nfkc(v).lower().replace(" ", "")
    if not t:
        return None
    if t in NEG_WORDS or t.startswith("阴性") or t.startswith("未见") or t.startswith("未检出"):
        return "neg"
    if POS_WORDS_RE.match(t) or t.startswith("阳性"):
        return "pos"
    if re.fullmatch(r"\d+(?:\.\d+)?(?:\+{1,4}|[1-4]\+|\+-|±)", t):
        return "pos"  # '500 +++': a pad's number with its grade, as '+++ 500' is
    return None


def printed_flag_code(f: str) -> str | None:
    """The transcribed flag mark in the shared vocabulary (the package's parser); any other mark is ABN."""
    from zhenxi_knowledge import parse_flag

    t = _nfkc(f).replace(" ", "")
    if not t:
        return None
    return parse_flag(t) or parse_flag(t.strip("()（）")) or "ABN"


def sheet_flag(item: dict) -> str | None:
    """The flag the sheet gives: the printed mark, else value vs printed range, else NEG/POS for qualitative
    results; None when the sheet says nothing we can check (descriptive result, no range, no mark)."""
    value = item.get("value", "")
    pf = printed_flag_code(item.get("flag_printed", ""))
    qk = qual_kind(value)
    if pf is not None:
        if qk is not None and pf in ("H", "ABN", "POS"):
            return "POS" if qk == "pos" else pf
        return pf
    v = number(value)
    if v is not None and _NUM.match(_nfkc(value).replace(" ", "")):
        from zhenxi_knowledge import flag_number, parse_range

        r = parse_range(item.get("range_printed", "") or "")
        if r is None or r.by_sex:  # no range, or one per sex (the transcription does not say whose)
            return None
        # a result printed with a comparator ('<3.40' against '<3.4') is a detection limit: bounds count as inclusive
        cmp = bool(re.match(r"^[<>≤≥＜＞]", _nfkc(value)))
        return flag_number(v, r.low, r.high, low_inclusive=r.low_inclusive or cmp, high_inclusive=r.high_inclusive or cmp)
    if qk == "neg":
        return "NEG"
    if qk == "pos":
        # a word the sheet's own range lists as normal ('少量' against '极少量或少量', '±' against '阴性或±'): N
        listed = re.split(r"或者|或|、|/|,|，", _nfkc(item.get("range_printed", "") or "").replace(" ", ""))
        return "N" if _nfkc(value).replace(" ", "") in listed else "POS"
    return None


def norm_value(v: str) -> str:
    """A printed result compared as text: NFKC, no spaces, no trailing unit for '0-2/HP' style counts, qualitative
    words reduced to their grade."""
    t = _nfkc(v).lower().replace(" ", "").replace("～", "~")
    t = re.sub(r"/(hp|lp|hpf|lpf|ul|μl)$", "", t)
    n = number(t)
    if n is not None:
        cmp = re.match(r"^([<>≤≥]=?)", t)
        return (cmp.group(1) if cmp else "") + repr(n)
    qk = qual_kind(t)
    if qk == "neg":
        return "neg"
    m = re.fullmatch(r"(\d)\+|(\+{1,4})", t)
    if m:
        return f"{m.group(1) or len(m.group(2))}+"
    if t in ("+-", "±", "-+"):
        return "±"
    if t in ("阳性", "(+)", "pos", "positive"):
        return "pos"
    return t.replace("~", "-")


# ---- matching predictions to the transcription --------------------------------------------------------------

def _name_key(s: str) -> str:
    return re.sub(r"[\s()（）\[\]【】:：.*#%、,，]", "", _nfkc(s).lower())


def _exact_key(s: str) -> str:
    return re.sub(r"[\s:：]", "", _nfkc(s).lower()).replace("（", "(").replace("）", ")")


def score_photo(expected: list[dict], preds: list[dict], kb) -> dict:
    """One photo: items right / predicted / expected, and F1 on value+flag. An expected item is matched to at most
    one prediction: same canonical code (the transcription's printed name resolved by the knowledge base), else
    the same printed name. Right = printed value and flag both match the sheet."""
    from rapidfuzz import fuzz

    # rows whose result is not legible, or printed blank (血型 not tested), hold nothing to read; a prediction for a
    # row whose result the transcriber could not read is neither right nor wrong: it is matched and left unscored
    # (a row printed blank is not: a result read there is extra)
    exp = [e for e in expected if (e.get("value") or "").strip()]
    unscored_rows = {i for i, e in enumerate(exp) if "value" in (e.get("uncertain") or [])}
    exp_codes: list[set[str]] = []  # every code the printed code (else name) resolves to equally well
    for e in exp:
        codes: set[str] = set()
        for txt in (e.get("code_printed", ""), e.get("name_printed", "")):
            if not txt:
                continue
            ms = kb.match_name(txt, allow_fuzzy=True)
            if ms and ms[0].score >= 0.9:
                codes = {m.indicator.code for m in ms if m.score >= ms[0].score - 1e-9}
                break
        exp_codes.append(codes)
    # one-to-one assignment, best pairs first: same code (the transcription's printed name resolved by the
    # knowledge base) and/or the same printed name; a sheet may print one code twice (urine 白细胞 per μL and
    # per HP), then the printed name decides
    pairs = []
    for ei, (e, code) in enumerate(zip(exp, exp_codes)):
        name, code_p = _name_key(e.get("name_printed", "")), _name_key(e.get("code_printed", ""))
        for j, p in enumerate(preds):
            b = _name_key(p.get("name_printed") or "")
            sim = max((fuzz.ratio(a, b) for a in (name, code_p + name, name + code_p) if a and b), default=0) / 100
            sc = 0.95 * sim
            same_code = p.get("code") in code
            if same_code:
                sc = max(sc, 0.8 + 0.2 * sim)
            printed = {_exact_key(e.get("name_printed", "") + x) for x in
                       ("", e.get("code_printed", ""), f"({e.get('code_printed', '')})")}
            if sim >= 0.999 and _exact_key(p.get("name_printed") or "") in printed:
                # the very name printed beats a shared code (透明管型 and 镜检:透明管型 on one sheet); between two
                # rows printed with one name (白细胞 count and 白细胞 LEU pad), the printed code decides
                sc = 1.0 + 0.01 * same_code
            if sc >= 0.8:
                pairs.append((sc, ei, j))
    # between pairs that the names tie (a urine sheet's two 白细胞 rows, the strip's pad and the sediment count),
    # the one whose printed value agrees comes first: the scorer does not swap two rows the service read right
    # (and a legible row before one whose result the transcriber could not read: it does not take a reading that
    # belongs to its legible namesake)
    pairs.sort(key=lambda x: (-x[0], norm_value(exp[x[1]]["value"]) != norm_value(
        preds[x[2]].get("value_text") or preds[x[2]].get("value_printed") or ""), x[1] in unscored_rows))
    match: dict[int, int] = {}
    taken: set[int] = set()
    for sc, ei, j in pairs:
        if ei in match or j in taken:
            continue
        match[ei] = j
        taken.add(j)
    right = 0
    details = []
    pred_status = ["extra"] * len(preds)  # per prediction: right | wrong (value or flag) | extra (no such row)
    pred_truth: list[str | None] = [None] * len(preds)  # per prediction: the flag the sheet gives its row
    for ei, e in enumerate(exp):
        if ei in unscored_rows:
            if ei in match:
                pred_status[match[ei]] = "unscored"
            continue
        if ei not in match:
            details.append({"row": f"{e.get('block')}.{e.get('row')}", "status": "missed"})
            continue
        p = preds[match[ei]]
        want_v = norm_value(e["value"])
        got_v = norm_value(p.get("value_text") or p.get("value_printed") or "")
        want_f = sheet_flag(e)
        got_f = p.get("flag")
        ok_v = want_v == got_v
        # a '*' says abnormal and no more: a flag that also gives the direction (H, L, POS) agrees with it. A
        # serology index inside its cut-off is normal and negative alike (HBsAg 0.04 against '<0.05', the sheet's
        # 判定 column: 阴性); above it, high and positive alike
        ok_f = want_f is None or got_f == want_f or want_f == "ABN" and got_f in ("H", "L", "HH", "LL", "POS") \
            or {want_f, got_f} == {"N", "NEG"} or want_f == "H" and got_f == "POS"
        right += ok_v and ok_f
        pred_status[match[ei]] = "right" if ok_v and ok_f else "wrong"
        pred_truth[match[ei]] = want_f
        if not (ok_v and ok_f):
            details.append({"row": f"{e.get('block')}.{e.get('row')}", "status": "wrong",
                            "value": [want_v, got_v], "flag": [want_f, got_f]})
    n_pred, n_exp = len(preds) - pred_status.count("unscored"), len(exp) - len(unscored_rows)
    p_ = right / n_pred if n_pred else 0.0
    r_ = right / n_exp if n_exp else 0.0
    f1 = 2 * p_ * r_ / (p_ + r_) if p_ + r_ else 0.0
    return {"right": right, "predicted": n_pred, "expected": n_exp, "f1": f1, "details": details,
            "pred_status": pred_status, "pred_flag_truth": pred_truth}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write-split", action="store_true")
    args = ap.parse_args(argv)
    ds = dataset_dir()
    if ds is None:
        print("real photos not present (../shared/datasets/lab_reports_real); nothing to do")
        return 0
    files, groups = images_by_sheet(ds)
    split = make_split(groups)
    if args.write_split:
        DATA.mkdir(parents=True, exist_ok=True)
        SPLIT_FILE.write_text(json.dumps({"seed": SPLIT_SEED, "dev_share": DEV_SHARE, "same_sheet": SAME_SHEET,
                                          "groups": dict(sorted(groups.items())), "sheets": split},
                                         ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for s, side in split.items():
        counts[(groups[s], side)] += 1
    for g in sorted({g for g, _ in counts}):
        print(f"{g:<8} dev {counts[(g, 'dev')]:3d}  test {counts[(g, 'test')]:3d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
