"""Latency of the lab-report OCR pipeline next to raw ``rapidocr`` on the same photos, in the same run.

    .venv/bin/python bench/ocr_speed.py                        # real dev photos at long side 1280, 2 ORT threads
    .venv/bin/python bench/ocr_speed.py --real all -n 30       # the first 30 real photos of both splits
    .venv/bin/python bench/ocr_speed.py --levers --real dev    # the two speed levers on real photos: latency + F1
    .venv/bin/python bench/ocr_speed.py --synthetic -n 24      # the synthetic eval sheets instead (printed apart)
    .venv/bin/python bench/ocr_speed.py --synthetic --levers -n 16

Real photos (../shared/datasets/lab_reports_real, never in the repository) are resized so that their long side is
``--long-side`` (1280: the goal is stated per 1280x960 photo) and encoded once as JPEG; both pipelines get the same
bytes. Per photo, our parser and raw RapidOCR() (its defaults: detection at rapidocr's sizing, angle classifier on
every line, recognition batches of 6; same thread count) run back to back, the order alternating from photo to
photo, so machine load hits both alike. Prints p50/p95 of the total and of each stage (gate, geometry, det, cls,
rec, parse) and the ratio ours/raw. Run it niced on a shared machine and note the load average it prints."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "ocr"))
sys.path.insert(0, str(ROOT / "bench"))


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def resized_jpeg(path: Path, long_side: int) -> bytes:
    """The photo with its long side scaled to long_side (never enlarged), as JPEG quality 92."""
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    scale = long_side / max(h, w)
    if scale < 1:
        img = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()


def run_main(photos: list[tuple[str, bytes]], threads: int) -> None:
    from rapidocr import RapidOCR

    from app.errors import ImageRejectedError
    from app.inference import EngineOptions
    from app.service import LabReportParser, ParserOptions

    parser = LabReportParser(ParserOptions(engine=EngineOptions(threads=threads)))
    parser.warm_up()
    from app.inference import make_session

    def raw_engine(spinning: bool) -> RapidOCR:
        eng = RapidOCR(params={"Global.log_level": "error",
                               "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                               "EngineConfig.onnxruntime.inter_op_num_threads": 1})
        if not spinning:  # same models, same pipeline; only ORT's thread busy-waiting off, as in the service
            for loader in (eng._load_det_model, eng._load_cls_model, eng._load_rec_model):
                w = loader()
                path = w.session.session._model_path
                w.session.session = make_session(Path(path), threads, False, spinning=False)
        eng(photos[0][1])
        return eng

    raw = raw_engine(True)
    raw_ns = raw_engine(False)
    ours: dict[str, list[float]] = {}
    raws: dict[str, list[float]] = {"total": [], "det": [], "cls": [], "rec": []}
    raw_ns_total: list[float] = []
    def run_ours(name: str, data: bytes) -> None:
        t0 = time.perf_counter()
        try:
            res = parser.parse(data, name, "image/jpeg")
            for k, v in res["timings_ms"].items():
                ours.setdefault(k, []).append(v)
        except ImageRejectedError:
            ours.setdefault("refused", []).append((time.perf_counter() - t0) * 1000)

    def run_raw(data: bytes) -> None:
        t0 = time.perf_counter()
        out = raw(data)
        raws["total"].append((time.perf_counter() - t0) * 1000)
        el = getattr(out, "elapse_list", None) or [0, 0, 0]
        for k, v in zip(("det", "cls", "rec"), el):
            raws[k].append((v or 0) * 1000)
        t0 = time.perf_counter()
        raw_ns(data)
        raw_ns_total.append((time.perf_counter() - t0) * 1000)

    load0 = os.getloadavg()[0]
    for k, (name, data) in enumerate(photos):
        if k % 2 == 0:  # alternate which one runs first, so neither always gets the warmer caches
            run_ours(name, data)
            run_raw(data)
        else:
            run_raw(data)
            run_ours(name, data)
    print(f"photos={len(photos)} threads={threads} cpu_count={os.cpu_count()} providers={parser.engine.providers} "
          f"load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end")
    print(f"{'stage':<10}{'ours p50':>10}{'ours p95':>10}{'raw p50':>10}{'raw p95':>10}   (ms)")
    for k in ("gate", "geometry", "det", "cls", "rec", "parse", "total"):
        o = ours.get(k, [])
        r = raws.get(k, [])
        print(f"{k:<10}{pct(o, .5):10.0f}{pct(o, .95):10.0f}{pct(r, .5):10.0f}{pct(r, .95):10.0f}")
    ratio = [a / b for a, b in zip(ours.get("total", []), raws["total"]) if b]
    if ratio:
        print(f"ours/raw total latency: median ratio {statistics.median(ratio):.2f} "
              f"(p50 {pct(ours['total'], .5) / pct(raws['total'], .5):.2f})")
    ratio_ns = [a / b for a, b in zip(ours.get("total", []), raw_ns_total) if b]
    if ratio_ns:
        print(f"raw rapidocr with ORT spinning off too: p50 {pct(raw_ns_total, .5):.0f} ms, "
              f"p95 {pct(raw_ns_total, .95):.0f} ms; ours/that: median ratio {statistics.median(ratio_ns):.2f}")


_R = dict(ort_spinning=True)  # rapidocr's session setting; the last lever turns it off
LEVERS = [
    ("rapidocr defaults (det full size, cls every line, rec batch 6)",
     dict(_R, det_max_side=0, page_cls_samples=0, rec_batch_size=6, rec_bucketed=False)),
    ("+ det input long side 1280",
     dict(_R, det_max_side=1280, page_cls_samples=0, rec_batch_size=6, rec_bucketed=False)),
    ("+ page-level 0/180 vote (12 lines), no cls per line",
     dict(_R, det_max_side=1280, page_cls_samples=12, rec_batch_size=6, rec_bucketed=False)),
    ("+ rec batched by width, no 320 px padding (pad<=1.3)",
     dict(_R, det_max_side=1280, page_cls_samples=12, rec_batch_size=24, rec_bucketed=True, rec_max_pad=1.3)),
    ("+ det long side 960, rec pad<=1.15",
     dict(_R, det_max_side=960, page_cls_samples=12, rec_batch_size=24, rec_bucketed=True, rec_max_pad=1.15)),
    ("+ ORT threads do not spin (= service defaults)",
     dict(det_max_side=960, page_cls_samples=12, rec_batch_size=24, rec_bucketed=True, rec_max_pad=1.15,
          ort_spinning=False)),
]


def run_levers(paths: list[Path], truths: dict[str, dict], threads: int) -> None:
    """All configurations are loaded first and run round-robin on each photo, so machine load (shared CPUs)
    spreads evenly over them."""
    from ocr_accuracy import Counter

    from app.errors import ImageRejectedError
    from app.inference import EngineOptions
    from app.service import LabReportParser, ParserOptions

    parsers = []
    for _, kw in LEVERS:
        parser = LabReportParser(ParserOptions(engine=EngineOptions(threads=threads, **kw)))
        parser.warm_up()
        parsers.append(parser)
    stats = [{"total": [], "det": [], "cls": [], "rec": [], "counter": Counter()} for _ in LEVERS]
    for p in paths:
        data = p.read_bytes()
        for parser, st in zip(parsers, stats):
            try:
                res = parser.parse(data, p.name, "image/jpeg")
            except ImageRejectedError:
                st["counter"].add(truths[p.stem]["indicators"], [])
                continue
            for k in ("total", "det", "cls", "rec"):
                st[k].append(res["timings_ms"][k])
            st["counter"].add(truths[p.stem]["indicators"], res["indicators"])
    print(f"photos={len(paths)} threads={threads} (configs interleaved per photo)")
    print(f"{'config':<52}{'p50 ms':>8}{'p95 ms':>8}{'det':>7}{'cls':>6}{'rec':>7}{'valueF1':>9}{'flagF1':>8}")
    base = pct(stats[0]["total"], .5)
    for (label, _), st in zip(LEVERS, stats):
        c = st["counter"]
        print(f"{label:<52}{pct(st['total'], .5):8.0f}{pct(st['total'], .95):8.0f}{pct(st['det'], .5):7.0f}"
              f"{pct(st['cls'], .5):6.0f}{pct(st['rec'], .5):7.0f}{c.prf('value')[2]:9.3f}{c.prf('flag')[2]:8.3f}"
              f"   x{pct(st['total'], .5) / base:.2f}")


REAL_LEVERS = [
    ("service defaults (det long side 960, page-level 0/180 vote)", dict()),
    ("det at rapidocr's sizing (no 960 cap)", dict(det_max_side=0)),
    ("angle classifier on every line (no page vote)", dict(page_cls_samples=0)),
    ("both off", dict(det_max_side=0, page_cls_samples=0)),
]


def real_photos(split: str) -> list[tuple[Path, dict]]:
    import ocr_real

    ds = ocr_real.dataset_dir()
    if ds is None:
        return []
    sides = ocr_real.load_split()
    out = []
    for sheet, tr in sorted(ocr_real.load_transcripts().items()):
        if split != "all" and sides.get(ocr_real.SAME_SHEET.get(sheet, sheet)) != split:
            continue
        for f in tr["files"]:
            if (ds / "images" / f).exists():
                out.append((ds / "images" / f, tr))
    return out


def run_levers_real(split: str, threads: int, limit: int | None, long_side: int) -> None:
    """The two speed levers chosen on synthetic sheets, re-measured on the transcribed real photos: latency and
    per-photo F1 (value + flag, as bench/ocr_accuracy.py --real), configurations interleaved per photo."""
    from statistics import mean

    import ocr_real

    from app.errors import ImageRejectedError
    from app.inference import EngineOptions
    from app.service import LabReportParser, ParserOptions

    photos = real_photos(split)[:limit]
    if not photos:
        print("real photos not present or no transcriptions: skipped")
        return
    parsers = []
    for _, kw in REAL_LEVERS:
        parser = LabReportParser(ParserOptions(engine=EngineOptions(threads=threads, **kw)))
        parser.warm_up()
        parsers.append(parser)
    stats = [{"total": [], "f1": []} for _ in REAL_LEVERS]
    load0 = os.getloadavg()[0]
    for k, (path, tr) in enumerate(photos):
        data = resized_jpeg(path, long_side) if long_side else path.read_bytes()
        order = list(zip(parsers, stats))
        for parser, st in order[k % len(order):] + order[:k % len(order)]:  # rotate who goes first
            try:
                res = parser.parse(data, path.name, None)
                preds = res["indicators"]
                st["total"].append(res["timings_ms"]["total"])
            except ImageRejectedError:
                preds = []
            st["f1"].append(ocr_real.score_photo(tr["items"], preds, parser.kb)["f1"])
    print(f"real photos ({split})={len(photos)} long side {long_side or 'as shot'} threads={threads} (configs "
          f"interleaved per photo, order rotating); load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end")
    print(f"{'config':<62}{'p50 ms':>8}{'p95 ms':>8}{'mean F1':>9}{'min F1':>8}{'photos worse':>14}")
    base = stats[0]
    for (label, _), st in zip(REAL_LEVERS, stats):
        worse = sum(1 for a, b in zip(st["f1"], base["f1"]) if a < b - 1e-9)
        better = sum(1 for a, b in zip(st["f1"], base["f1"]) if a > b + 1e-9)
        print(f"{label:<62}{pct(st['total'], .5):8.0f}{pct(st['total'], .95):8.0f}{mean(st['f1']):9.3f}"
              f"{min(st['f1']):8.3f}{worse:8d} / {better} better"
              f"   x{pct(st['total'], .5) / max(pct(base['total'], .5), 1e-9):.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=24)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", default="eval", choices=["eval", "dev"], help="with --synthetic: which set")
    ap.add_argument("--levers", action="store_true")
    ap.add_argument("--real", default="dev", choices=["dev", "test", "all"],
                    help="real photos of this split (the default source; test: only once, at the end)")
    ap.add_argument("--synthetic", action="store_true", help="the synthetic sheets instead of the real photos")
    ap.add_argument("--long-side", type=int, default=1280, help="real photos: resize to this long side (0: as shot)")
    args = ap.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    limit = args.n if "-n" in (argv if argv is not None else sys.argv[1:]) else None
    if not args.synthetic:
        if not real_photos(args.real):
            print("real photos not present (../shared/datasets/lab_reports_real): use --synthetic")
            return 0
        if args.levers:
            run_levers_real(args.real, args.threads, limit, args.long_side)
        else:
            photos = [(p.name, resized_jpeg(p, args.long_side) if args.long_side else p.read_bytes())
                      for p, _ in real_photos(args.real)[:limit]]
            run_main(photos, args.threads)
        return 0
    from ocr_accuracy import ensure_images

    img_dir, truths = ensure_images(args.set, 200 if args.set == "eval" else 48)
    # spread over layouts and distortions: every k-th report
    step = max(1, len(truths) // args.n)
    chosen = truths[::step][: args.n]
    paths = [img_dir / g["file"] for g in chosen]
    if args.levers:
        run_levers(paths, {g["id"]: g for g in chosen}, args.threads)
    else:
        run_main([(p.name, p.read_bytes()) for p in paths], args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
