"""Accuracy of the lab-report OCR: real photos (scored apart) and the synthetic evaluation set.

    .venv/bin/python bench/ocr_accuracy.py --real                # real photos, dev sheets (develop on these)
    .venv/bin/python bench/ocr_accuracy.py --real --split test   # real photos, held-out sheets (score at the end)
    .venv/bin/python bench/ocr_accuracy.py                 # fixed eval set (200 reports, seed in synth/generate.py)
    .venv/bin/python bench/ocr_accuracy.py --set dev -n 48 # development seed: tune on this, never on eval
    .venv/bin/python bench/ocr_accuracy.py --limit 40      # first 40 eval reports (quick look)

Images are regenerated on demand into services/ocr/synth/out/<set>/ (git-ignored); the eval ground truth is the
committed services/ocr/synth/eval_ground_truth.json. Prints precision / recall / F1 for value, unit, range and
flag, overall, per layout and per distortion, plus refused photos and invented indicators.

Real photos (``--real``): the hand transcriptions in bench/data/lab_reports_real/ against the photos in
../shared/datasets/lab_reports_real/ (never in the repository). For every photo: items right / predicted /
expected and F1, where an item is right when its printed value and its flag match the sheet (the printed mark,
else value vs printed range, NEG/POS for qualitative results); then the mean F1 per report type and per split.
``--cache DIR`` keeps the OCR lines of each normalised page so that layout/parsing work re-runs in seconds
(keep DIR outside the repository: it holds text read from real sheets)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OCR_DIR = ROOT / "services" / "ocr"
sys.path.insert(0, str(OCR_DIR))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("OMP_NUM_THREADS", "2")

FIELDS = ("value", "unit", "range", "flag")


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= 1e-6 + 1e-4 * max(abs(float(a)), abs(float(b)))


def field_ok(field: str, gt: dict, pred: dict) -> bool:
    from app.parsing import qualitative_grade

    if field == "value":
        if gt["value"] is None:
            return pred["value"] is None and pred.get("qualitative") == qualitative_grade(gt["value_text"])
        return _close(gt["value"], pred["value"])
    if field == "unit":
        return gt["unit"] == pred["unit"]
    if field == "range":
        g, p = gt["reference"], pred["reference"]
        return _close(g["low"], p["low"]) and _close(g["high"], p["high"])
    from synth.realistic import sheet_flag

    # the sheet decides the flag: HH/LL only as H/L (critical is its own field), NEG/POS for qualitative results
    return sheet_flag(gt) == pred["flag"]


class Counter:
    def __init__(self) -> None:
        self.tp = defaultdict(int)
        self.pred = defaultdict(int)
        self.gt = defaultdict(int)

    def add(self, gts: list[dict], preds: list[dict]) -> None:
        by_code = {p["code"]: p for p in preds}
        for f in FIELDS:
            self.gt[f] += len(gts)
            self.pred[f] += len(preds)
            for g in gts:
                p = by_code.get(g["code"])
                if p is not None and field_ok(f, g, p):
                    self.tp[f] += 1

    def prf(self, f: str) -> tuple[float, float, float]:
        p = self.tp[f] / self.pred[f] if self.pred[f] else 0.0
        r = self.tp[f] / self.gt[f] if self.gt[f] else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def ensure_images(set_name: str, n: int, seed: int | None = None) -> tuple[Path, list[dict]]:
    from synth.generate import SEEDS, build_set

    out = OCR_DIR / "synth" / "out" / set_name
    if set_name in ("realistic", "layouts"):
        from synth import layouts, realistic

        gen = realistic if set_name == "realistic" else layouts
        if seed is not None and seed != gen.SEED:
            out = out.with_name(f"{set_name}-s{seed}")  # another draw of the same generator, kept apart
        truth_file = out / "ground_truth.json"
        have = json.loads(truth_file.read_text(encoding="utf-8")) if truth_file.exists() else []
        if len(have) < n or not all((out / g["file"]).exists() for g in have[:n]):
            print(f"generating {n} {set_name} sheets into {out} ...", file=sys.stderr)
            have = gen.build_set(n, out, gen.SEED if seed is None else seed)
            truth_file.write_text(json.dumps(have, ensure_ascii=False), encoding="utf-8")
        return out, have[:n]
    truth_file = out / "ground_truth.json"
    have = json.loads(truth_file.read_text(encoding="utf-8")) if truth_file.exists() else []
    if len(have) < n or not all((out / g["file"]).exists() for g in have[:n]):
        print(f"generating {n} {set_name} images into {out} ...", file=sys.stderr)
        have = build_set(set_name, n, out)
        truth_file.write_text(json.dumps(have, ensure_ascii=False), encoding="utf-8")
    truths = have[:n]
    if set_name == "eval":
        committed = json.loads((OCR_DIR / "synth" / "eval_ground_truth.json").read_text(encoding="utf-8"))
        assert committed["seed"] == SEEDS["eval"]
        ref = {r["id"]: r for r in committed["reports"]}
        drift = sum(1 for g in truths if ref.get(g["id"], {}).get("indicators") != g["indicators"])
        if drift:
            print(f"warning: {drift} regenerated reports differ from the committed ground truth; "
                  "scoring against the committed file", file=sys.stderr)
        truths = [ref[g["id"]] | {"file": g["file"]} for g in truths if g["id"] in ref]
    return out, truths


class CachedEngine:
    """Wraps OcrEngine.run: the OCR lines of a page image are kept on disk by the image's hash."""

    def __init__(self, engine, cache_dir: Path) -> None:
        self.engine, self.dir = engine, cache_dir
        self.dir.mkdir(parents=True, exist_ok=True)

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def run(self, pages, turn_vote: bool = True, det_side: int | None = None):
        import hashlib
        import pickle

        out = []
        for p in pages:
            key = hashlib.sha1(p.tobytes() + str(p.shape).encode() + (b"" if turn_vote else b"as-turned")
                               + (f"det{det_side}".encode() if det_side else b"")).hexdigest()
            f = self.dir / f"{key}.pkl"
            if f.exists():
                out.append(pickle.loads(f.read_bytes()))
                continue
            res = self.engine.run([p], turn_vote=turn_vote, det_side=det_side)[0]
            f.write_bytes(pickle.dumps(res))
            out.append(res)
        return out


def auroc(scores_bad: list[float], scores_good: list[float]) -> float | None:
    """P(a bad item scores above a good one), ties counted half (Mann-Whitney U / n1 n2)."""
    if not scores_bad or not scores_good:
        return None
    import bisect

    good = sorted(scores_good)
    u = 0.0
    for s in scores_bad:
        lo, hi = bisect.bisect_left(good, s), bisect.bisect_right(good, s)
        u += lo + 0.5 * (hi - lo)
    return u / (len(scores_bad) * len(scores_good))


def print_calibration(rows: list[dict]) -> None:
    """Does the confidence mean something? Per returned row: is a low confidence / needs_review predictive of a
    wrong row (wrong value or flag, or a row the sheet does not have)? Per photo: does the re-shoot request fire on
    photos with missed or wrong rows, and stay quiet on perfect ones?"""
    items = [r for ph in rows for r in ph["rows"] if r["status"] != "unscored"]  # (a row the transcriber could
    # not read: neither right nor wrong)
    if not items:
        return
    bad = [1 - r["confidence"] for r in items if r["status"] != "right"]
    good = [1 - r["confidence"] for r in items if r["status"] == "right"]
    a = auroc(bad, good)
    tp = sum(1 for r in items if r["needs_review"] and r["status"] != "right")
    fp = sum(1 for r in items if r["needs_review"] and r["status"] == "right")
    fn = sum(1 for r in items if not r["needs_review"] and r["status"] != "right")
    print(f"-- confidence per returned row: {len(items)} rows, {len(bad)} wrong or extra; AUROC of low confidence "
          f"for a wrong row {'n/a' if a is None else f'{a:.3f}'}; needs_review on {tp + fp} rows: precision "
          f"{tp / max(tp + fp, 1):.3f}, recall {tp / max(tp + fn, 1):.3f} (TP {tp}, FP {fp}, FN {fn})")
    reasons: dict[str, list[int]] = {}
    for r in items:
        for k in r["reasons"]:
            reasons.setdefault(k, [0, 0])[r["status"] != "right"] += 1
    if reasons:
        print("   review reasons (right rows / wrong rows): " +
              ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(reasons.items(), key=lambda kv: -sum(kv[1]))))
    conf = {(f, imp): 0 for f in (True, False) for imp in (True, False)}
    for ph in rows:
        ph["imperfect"] = ph["right"] < ph["expected"] or ph["predicted"] > ph["right"]
        conf[(ph["note"] == "reshoot", ph["imperfect"])] += 1
    print("-- re-shoot request per photo (imperfect = a missed, wrong or extra row):")
    print(f"   {'':<16} imperfect  perfect")
    print(f"   {'reshoot':<16} {conf[(True, True)]:9d} {conf[(True, False)]:8d}")
    print(f"   {'no reshoot':<16} {conf[(False, True)]:9d} {conf[(False, False)]:8d}")
    print_reason_table(rows)


def print_reason_table(rows: list[dict]) -> None:
    """Per re-shoot reason: the photos where it fired, imperfect / perfect, and those where it was the only reason
    (the request rests on it alone). A reason that fires on perfect photos alone teaches patients to ignore the
    request; one that alone catches imperfect photos is what the request is for."""
    per_reason: dict[str, list[int]] = {}
    for ph in rows:
        imperfect = ph["imperfect"]
        reasons = ph.get("reshoot_reasons") or []
        alone = len([k for k in reasons if "/" not in k]) == 1  # the service gave one reason (sub-kinds aside)
        for k in reasons:
            c = per_reason.setdefault(k, [0, 0, 0, 0])
            c[0 if imperfect else 1] += 1
            if alone:  # the request rests on this reason alone
                c[2 if imperfect else 3] += 1
    if not per_reason:
        return
    print("-- re-shoot reasons, photos where each fired (imperfect / perfect) and where it was the only reason:")
    print(f"   {'reason':<28} {'fired':>9} {'perfect':>8} {'alone':>9} {'perfect':>8}")
    print(f"   {'':<28} {'imperfect':>9} {'':>8} {'imperfect':>9} {'':>8}")
    for k, v in sorted(per_reason.items(), key=lambda kv: -sum(kv[1][:2])):
        print(f"   {k:<28} {v[0]:9d} {v[1]:8d} {v[2]:9d} {v[3]:8d}")
    print("   re-shoot reasons, photos imperfect/perfect (when the only reason): " +
          ", ".join(f"{k} {v[0]}/{v[1]} ({v[2]}/{v[3]})"
                    for k, v in sorted(per_reason.items(), key=lambda kv: -sum(kv[1][:2]))))


def phone_warp(img, seed: int, turn: bool = False):
    """Re-photograph a page image the way a phone would: the page seen at an angle (one edge shorter by 5-20 %,
    keystone), tilted by 4-12° either way, scaled by 0.85-1.05, optionally turned by 90° either way, on a desk-like
    background (a smooth colour gradient with a little noise) that shows around the page. Deterministic in
    ``seed``; returns (image, params) with the params the warp used."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    edge = int(rng.integers(4))  # which edge is seen further away: 0 top, 1 right, 2 bottom, 3 left
    shrink = float(rng.uniform(0.05, 0.20))
    tilt = float(rng.uniform(4, 12) * rng.choice([-1, 1]))
    scale = float(rng.uniform(0.85, 1.05))
    q = src.copy()
    if edge in (0, 2):  # top or bottom edge shorter: its two corners move towards each other
        a, b = (0, 1) if edge == 0 else (3, 2)
        q[a, 0] += shrink * w / 2
        q[b, 0] -= shrink * w / 2
    else:
        a, b = (1, 2) if edge == 1 else (0, 3)
        q[a, 1] += shrink * h / 2
        q[b, 1] -= shrink * h / 2
    c = q.mean(axis=0)
    rad = np.deg2rad(tilt)
    rot = np.array([[np.cos(rad), -np.sin(rad)], [np.sin(rad), np.cos(rad)]], np.float32)
    q = (q - c) @ rot.T
    # the page at about its own resolution (times scale), centred in a frame with 4-10 % of background each side
    q = q * scale
    lo, hi = q.min(axis=0), q.max(axis=0)
    margin = rng.uniform(0.04, 0.10, size=2) * (hi - lo)
    ow, oh = int(round(hi[0] - lo[0] + 2 * margin[0])), int(round(hi[1] - lo[1] + 2 * margin[1]))
    q = q - lo + margin + rng.uniform(-0.5, 0.5, size=2) * margin  # the page not quite centred
    w, h = ow, oh
    m = cv2.getPerspectiveTransform(src, q.astype(np.float32))
    page = cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    mask = cv2.warpPerspective(np.full(img.shape[:2], 255, np.uint8), m, (w, h), flags=cv2.INTER_LINEAR)
    # desk: a dark-to-mid colour with a linear light gradient and sensor noise
    base = rng.uniform(40, 150, size=3)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    grad = (np.cos(ang) * gx / w + np.sin(ang) * gy / h) * rng.uniform(20, 60)
    desk = np.clip(base[None, None, :] + grad[..., None] + rng.normal(0, 4, size=(h, w, 1)), 0, 255)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    out = (page.astype(np.float32) * alpha + desk * (1 - alpha)).astype(np.uint8)
    corners = q.round(1).tolist()  # the page's corners in the photo before any 90° turn
    quarter = 0
    if turn:
        quarter = int(rng.choice([90, 270]))
        out = cv2.rotate(out, cv2.ROTATE_90_CLOCKWISE if quarter == 90 else cv2.ROTATE_90_COUNTERCLOCKWISE)
    return out, {"edge": "trbl"[edge], "shrink": round(shrink, 3), "tilt": round(tilt, 1), "scale": round(scale, 3),
                 "turn": quarter, "corners": corners}


def web_copy(img, long_side: int):
    """The photo as it comes back from a chat app or a web page: shrunk (area averaging) so that its long side is at
    most ``long_side``; the caller re-encodes it as a low-quality JPEG."""
    import cv2

    h, w = img.shape[:2]
    f = long_side / max(h, w)
    if f >= 1.0:
        return img
    return cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def _warp_seed(base: int, fname: str, k: int) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{base}:{fname}:{k}".encode()).digest()[:8], "big")


def run_real(args) -> int:
    import ocr_real
    from statistics import mean

    ds = args.root or ocr_real.dataset_dir()
    if ds is None:
        print("real photos not present (../shared/datasets/lab_reports_real): skipped")
        return 0
    from app.config import Settings
    from app.errors import ImageRejectedError
    from app.service import LabReportParser, ParserOptions
    from synth.realistic import LIGHTS, booklet_curl, keystone_fill, uneven_light

    parser = LabReportParser(ParserOptions.from_settings(Settings()))
    if args.cache:
        parser.engine = CachedEngine(parser.engine, args.cache)
    if args.root:  # a rendered set (bench/blind_sheets_*.py): its own transcripts, every sheet on one side
        transcripts = ocr_real.load_transcripts(args.root / "transcripts")
        split = {s: "dev" if args.split == "all" else args.split for s in transcripts}
        groups = {s: ocr_real.type_group(t.get("report_type") or "", s) for s, t in transcripts.items()}
    else:
        split = ocr_real.load_split()
        groups = json.loads(ocr_real.SPLIT_FILE.read_text(encoding="utf-8"))["groups"]
        transcripts = ocr_real.load_transcripts()
    sides = ("dev", "test") if args.split == "all" else (args.split,)
    # --curl: the gutter alternates left/right between files, by the file's place among all transcribed files (so a
    # file's curl does not depend on --sheets or --split)
    file_order = {f: i for i, f in enumerate(sorted(f for t in transcripts.values() for f in t["files"]))}
    rows = []
    parse_ms: list[float] = []
    t0 = time.time()
    cpu0 = time.process_time()
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
    print(f"{'photo':<10} {'sheet':<5} {'type':<8} {'split':<5} right  pred   exp     F1  note")
    for sheet, tr in sorted(transcripts.items()):
        side = split.get(ocr_real.SAME_SHEET.get(sheet, sheet))
        if side not in sides or (args.sheets and sheet not in args.sheets):
            continue
        variants = (0,) + tuple(args.rotate or ()) + tuple(f"w{k}" for k in range(1, (args.warp or 0) + 1)) + \
            (("kt", "kl") if args.keystone else ()) + (("s",) if args.small else ()) + (("c",) if args.curl else ()) + \
            (("h",) if args.shade else ())
        for fname, turn in [(f, t) for f in tr["files"] for t in variants]:
            path = ds / "images" / fname
            if not path.exists():
                continue
            note = ""
            reshoot_reasons: list[str] = []
            data = path.read_bytes()
            warp_params = None
            if turn:
                import cv2
                import numpy as np

                img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                quality = 92
                if isinstance(turn, str) and turn.startswith("k"):  # keystone, page filling the frame
                    img = keystone_fill(img, turn[1], args.keystone)[0]
                elif turn == "c":  # a booklet page bending into its gutter (left or right, alternating)
                    img, warp_params = booklet_curl(img, "lr"[file_order[fname] % 2], args.curl,
                                                    _warp_seed(args.warp_seed, fname, "curl"))
                elif turn == "h":  # uneven light: the kind alternates between files (shadow, side, glare, crease)
                    img, warp_params = uneven_light(img, LIGHTS[file_order[fname] % len(LIGHTS)],
                                                    _warp_seed(args.warp_seed, fname, "shade"))
                elif turn == "s":  # saved from a chat or a web page: long side at most --small, JPEG quality 70
                    img, quality = web_copy(img, args.small), 70
                elif isinstance(turn, str):  # a seeded phone re-photograph; every second one also turned by 90°
                    k = int(turn[1:])
                    img, warp_params = phone_warp(img, _warp_seed(args.warp_seed, fname, k), turn=k % 2 == 0)
                else:
                    img = cv2.rotate(img, {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180,
                                           270: cv2.ROTATE_90_COUNTERCLOCKWISE}[turn])
                data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
            geo = ""
            res: dict = {}
            try:
                res = parser.parse(data, fname, None)
                parse_ms.append(res["timings_ms"].get("parse", 0.0))
                g = res["quality"]["geometry"][0]
                # how the page was normalised: cropped to its outline, unwarped by the text's perspective, or neither
                geo = (f"  geo {'page' if g['page_found'] else 'text' if g['text_perspective'] else 'none'}"
                       f" rot {g['rotation']} skew {g['skew_deg']}")
                preds = res["indicators"]
                ask = next((w for w in res.get("warnings", []) if w.get("code") == "reshoot_suggested"), None)
                if ask is not None:
                    note = "reshoot"
                    reshoot_reasons = list((ask.get("details") or {}).get("reasons") or [])
                    reshoot_reasons += sorted({f"row_pitch_gap/{g.get('holds')}"
                                               for g in (ask.get("details") or {}).get("row_gaps") or []})
            except ImageRejectedError as exc:
                preds, note = [], f"refused:{exc.code}"
            sc = ocr_real.score_photo(tr["items"], preds, parser.kb)
            if any(w.get("code") == "sheets_read_apart" for w in res.get("warnings", [])):
                # several sheets in one photo, each read as a page (a stress set's 'two'): the transcript is one
                # sheet's, so the page that matches it best is scored; the F1 over every page is kept in the note
                by_page = {k: ocr_real.score_photo(tr["items"], [p for p in preds if p.get("page", 0) == k],
                                                   parser.kb) for k in sorted({p.get("page", 0) for p in preds})}
                note = f"sheets {len(by_page)}, all pages F1 {sc['f1']:.3f}" + (f", {note}" if note else "")
                page, best = max(by_page.items(), key=lambda kv: kv[1]["f1"], default=(0, sc))
                if best["f1"] > sc["f1"]:
                    preds, sc = [p for p in preds if p.get("page", 0) == page], best
            label = fname.split("__")[0] + (f"@{turn}" if turn else "")
            if args.dump:
                (args.dump / f"{label}.json").write_text(json.dumps(
                    {"indicators": preds, "warnings": res.get("warnings", []),
                     "pred_status": sc["pred_status"], "details": sc["details"]},
                    ensure_ascii=False, indent=1, default=str), encoding="utf-8")
            rows.append({"photo": label, "sheet": sheet, "type": groups.get(sheet, "?"), "split": side, **sc,
                         "note": note, "turn": turn, "reshoot_reasons": reshoot_reasons,
                         "kind": res.get("report_type"), "kind_transcribed": _transcribed_kind(tr),
                         "rows": [{"confidence": p.get("confidence"), "needs_review": bool(p.get("needs_review")),
                                   "reasons": p.get("review_reasons") or [], "coded": p.get("code") is not None,
                                   "status": st} for p, st in zip(preds, sc["pred_status"])]})
            print(f"{label:<10} {sheet:<5} {groups.get(sheet, '?'):<8} {side:<5} {sc['right']:5d} {sc['predicted']:5d} "
                  f"{sc['expected']:5d}  {sc['f1']:5.3f}  {note}"
                  + (f"  {'curl' if turn == 'c' else 'light' if turn == 'h' else 'warp'} { {k: v for k, v in warp_params.items() if k != 'corners'} }"
                     if warp_params and args.verbose else "") + (geo if args.verbose else ""), flush=True)
            if args.verbose:
                for d in sc["details"]:
                    print("      ", d)
    if not rows:
        print("no transcribed photos on this side of the split")
        return 0
    import os
    from statistics import median

    print(f"-- real photos: {len(rows)} photos, {len({r['sheet'] for r in rows})} sheets, "
          f"{time.time() - t0:.0f} s wall, CPU {1000 * (time.process_time() - cpu0) / max(len(rows), 1):.0f} ms per "
          f"photo (OCR{' from the cache' if args.cache else ''}), layout+parsing p50 "
          f"{median(parse_ms) if parse_ms else 0:.0f} ms; load average {os.getloadavg()[0]:.1f}")
    for r in rows:
        t = r["turn"]
        r["variant"] = "upright" if not t else f"turn{t}" if isinstance(t, int) else \
            f"keystone-{t[1]}" if t.startswith("k") else "small" if t == "s" else "curl" if t == "c" else "shade" if t == "h" else \
            "warp" + ("+turn" if int(t[1:]) % 2 == 0 else "")
    varied = args.rotate or args.warp or args.keystone or args.small or args.curl or args.shade
    for key in ("type", "split", "variant") if varied else ("type", "split"):
        vals = sorted({r[key] for r in rows})
        for v in vals:
            fs = [r["f1"] for r in rows if r[key] == v]
            print(f"mean F1 {key}={v:<8} {mean(fs):.3f}  (photos {len(fs)}, min {min(fs):.3f})")
    tot_right = sum(r["right"] for r in rows)
    tot_pred = sum(r["predicted"] for r in rows)
    tot_exp = sum(r["expected"] for r in rows)
    print(f"ALL {'rendered (synthetic)' if args.root else 'real'}: mean F1 per photo {mean(r['f1'] for r in rows):.3f}; items right {tot_right} / predicted "
          f"{tot_pred} / expected {tot_exp}")
    kinds = [r for r in rows if r["kind_transcribed"] and r["kind"] is not None]
    if kinds:
        print(f"report kind as transcribed (blood count, urine, stool, PSA, chemistry sheets): "
              f"{sum(r['kind'] == r['kind_transcribed'] for r in kinds)}/{len(kinds)} pages; another kind "
              f"{sum(r['kind'] not in (r['kind_transcribed'], 'unknown') for r in kinds)}, unknown "
              f"{sum(r['kind'] == 'unknown' for r in kinds)}")
    print_calibration(rows)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


# the transcriber's words for a sheet's kind (its first words), as the service names the kind
_KIND_WORDS = (("血常规", "blood_routine"), ("尿常规", "urinalysis"), ("粪常规", "stool"), ("肿瘤标志物", "tumor_markers"),
               ("生化", "biochemistry"))


def _transcribed_kind(tr: dict) -> str | None:
    """The report kind of a transcribed sheet, where its transcriber named one of ours first; None otherwise."""
    text = str(tr.get("report_type") or "")
    return next((kind for word, kind in _KIND_WORDS if text.startswith(word)), None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", action="store_true", help="score the transcribed real photos (not the synthetic set)")
    ap.add_argument("--split", default="dev", choices=["dev", "test", "all"], help="real photos: which sheets")
    ap.add_argument("--sheets", nargs="*", default=None, help="real photos: only these sheet ids")
    ap.add_argument("--cache", type=Path, default=None, help="OCR cache directory (outside the repo)")
    ap.add_argument("--root", type=Path, default=None,
                    help="with --real: score a rendered set instead (DIR/images, DIR/transcripts/*.json, as written "
                         "by bench/blind_sheets_*.py); synthetic, so reported apart from the real photos")
    ap.add_argument("-v", "--verbose", action="store_true", help="real photos: print missed/wrong rows")
    ap.add_argument("--rotate", type=int, nargs="*", choices=[90, 180, 270], default=None,
                    help="real photos: also score each photo turned by these angles (scored apart, as @angle)")
    ap.add_argument("--warp", type=int, default=None, metavar="K",
                    help="real photos: also score K seeded phone re-photographs of each photo (tilt 4-12°, keystone "
                         "5-20 %%, scale, desk background; every second one also turned by 90°), scored apart as @wK")
    ap.add_argument("--warp-seed", type=int, default=2026, help="seed of --warp (default 2026)")
    ap.add_argument("--small", type=int, default=None, metavar="L",
                    help="real photos: also score each photo as saved from a chat app or web page: long side at most "
                         "L px (e.g. 720), JPEG quality 70; scored apart as @s")
    ap.add_argument("--keystone", type=float, default=None, metavar="F",
                    help="real photos: also score each photo seen at an angle with no desk edge in view: top edge "
                         "(@kt) and left edge (@kl) shorter by F (e.g. 0.18), corners filled with the page's own edge")
    ap.add_argument("--curl", type=float, default=None, metavar="F",
                    help="real photos: also score each photo bent like a booklet page near its gutter (rows bowing "
                         "by up to F of the height, e.g. 0.04, foreshortened and shaded toward the gutter, which "
                         "alternates left/right between files; synth.realistic.booklet_curl); scored apart as @c")
    ap.add_argument("--shade", action="store_true",
                    help="real photos: also score each photo under uneven light (synth.realistic.uneven_light: a "
                         "hand/phone shadow, one side darker, a glare patch or a shaded crease, alternating between "
                         "files, seeded per file); scored apart as @h")
    ap.add_argument("--set", default="eval", choices=["eval", "dev", "realistic", "layouts"],
                    help="synthetic set: eval (committed truth), dev, realistic (synth/realistic.py: blocks, "
                         "row numbers, dot-matrix/thermal print, curl, fold, moiré) or layouts (synth/layouts.py: "
                         "other hospitals' column orders, header words, rules, report types)")
    ap.add_argument("-n", type=int, default=None, help="set size to (re)generate (eval: 200)")
    ap.add_argument("--seed", type=int, default=None,
                    help="realistic/layouts set: another seed of the generator (images in synth/out/<set>-s<seed>)")
    ap.add_argument("--limit", type=int, default=None, help="score only the first N reports")
    ap.add_argument("--json", type=Path, default=None, help="also write the per-report results here")
    ap.add_argument("--dump", type=Path, default=None,
                    help="real photos: write each photo's response (indicators, warnings) and its scored rows to "
                         "DIR/<photo>.json, to see why a re-shoot was or was not asked (keep DIR outside the "
                         "repository: it holds text read from real sheets)")
    args = ap.parse_args(argv)
    if args.real:
        return run_real(args)
    n = args.n or {"eval": 200, "dev": 48, "realistic": 30, "layouts": 56}[args.set]
    img_dir, truths = ensure_images(args.set, n, args.seed)
    if args.limit:
        truths = truths[: args.limit]

    from app.config import Settings
    from app.errors import ImageRejectedError
    from app.service import LabReportParser, ParserOptions

    parser = LabReportParser(ParserOptions.from_settings(Settings()))
    parser.warm_up()
    if args.cache:
        parser.engine = CachedEngine(parser.engine, args.cache)
    total, by_layout, by_dist = Counter(), defaultdict(Counter), defaultdict(Counter)
    refused: list[str] = []
    invented = invented_coded = 0
    structure = [0, 0]  # rows named from their unit, range and value alone: [returned, right value and flag]
    rows = []
    t0 = time.time()
    for g in truths:
        data = (img_dir / g["file"]).read_bytes()
        try:
            res = parser.parse(data, g["file"], "image/jpeg")
            preds = res["indicators"]
        except ImageRejectedError as exc:
            refused.append(f"{g['id']}:{exc.code}")
            preds = []
        gt_codes = {x["code"] for x in g["indicators"]}
        invented += sum(1 for p in preds if p["code"] not in gt_codes)
        invented_coded += sum(1 for p in preds if p["code"] is not None and p["code"] not in gt_codes)
        by_code = {x["code"]: x for x in g["indicators"]}
        for p in preds:
            if "name_from_structure" in (p.get("review_reasons") or []):
                x = by_code.get(p["code"])
                structure[0] += 1
                structure[1] += bool(x and field_ok("value", x, p) and field_ok("flag", x, p))
        for c in (total, by_layout[g["layout"]], by_dist[g["distortion"]]):
            c.add(g["indicators"], preds)
        rows.append({"id": g["id"], "layout": g["layout"], "distortion": g["distortion"],
                     "invented": [[p["code"], p.get("name_printed"), p.get("value_text")] for p in preds
                                  if p["code"] not in gt_codes],
                     "missed": sorted(gt_codes - {p["code"] for p in preds}),
                     "wrong": {f: [x["code"] for x in g["indicators"]
                                   if (p := {q["code"]: q for q in preds}.get(x["code"])) and not field_ok(f, x, p)]
                               for f in FIELDS}})
    elapsed = time.time() - t0

    def line(label: str, c: Counter) -> str:
        cells = []
        for f in FIELDS:
            p, r, f1 = c.prf(f)
            cells.append(f"{p:6.3f} {r:6.3f} {f1:6.3f}")
        return f"{label:<14}" + " | ".join(cells) + f" | {c.gt['value']:5d}"

    head = f"{'':<14}" + " | ".join(f"{f + ' P/R/F1':^20}" for f in FIELDS) + " |  n_gt"
    print(f"set={args.set} reports={len(truths)} refused={len(refused)} invented_indicators={invented} "
          f"(coded, a code the sheet lacks: {invented_coded}) named_from_structure={structure[0]} "
          f"(right value+flag {structure[1]}) seconds={elapsed:.0f}")
    print(head)
    print(line("ALL", total))
    print("-- per layout")
    for k in sorted(by_layout):
        print(line(k, by_layout[k]))
    print("-- per distortion")
    for k in sorted(by_dist):
        print(line(k, by_dist[k]))
    if refused:
        print("refused:", ", ".join(refused))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
