"""Train the nodule/mass detector: YOLOv8n from yolov8n.yaml (no downloaded weights), CPU, then export ONNX
and evaluate it through the serving code path (app.inference) on the JSRT test split.

Data: JSRT nodule boxes (centre + diameter square on the 512 grid) + the NIH Mass/Nodule boxes of bboxes.csv,
JSRT normals and some NIH images without Mass/Nodule as background images. Splits: models/splits/.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SVC = HERE.parent
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(HERE / "cache" / "ultralytics_cfg"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(SVC))
import tv_nms_shim  # noqa: E402,F401  (must precede any torchvision import)
import numpy as np  # noqa: E402
import cv2  # noqa: E402

from metrics import sensitivity_at_fp  # noqa: E402
from prepare import CACHE, DATA, read_split  # noqa: E402

MODELS = SVC / "models"
YDIR = CACHE / "yolo"
CLASS = "nodule_or_mass"


def build_dataset(n_nih_bg: int = 30, seed: int = 3) -> dict[str, list[tuple[str, list[list[float]]]]]:
    """Returns split -> [(work image path, [[x1,y1,x2,y2], ...])] and writes the YOLO folder layout."""
    if YDIR.exists():
        shutil.rmtree(YDIR)
    items: dict[str, list[tuple[str, list[list[float]]]]] = {"train": [], "val": [], "test": []}
    sp = read_split("jsrt")
    for r in csv.DictReader(open(DATA / "cxr_jsrt_scr" / "labels.csv")):
        boxes = []
        if r["label"] == "nodule" and r["bbox_x1"]:
            boxes.append([float(r[k]) for k in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")])
        items[sp[r["image"]]].append((str(CACHE / "work" / "cxr_jsrt_scr" / Path(r["image"]).name), boxes))
    sp = read_split("nih")
    nih_boxes: dict[str, list[list[float]]] = {}
    for r in csv.DictReader(open(DATA / "cxr_nih14" / "bboxes.csv")):
        if r["finding"] in ("Mass", "Nodule"):
            x, y, w, h = (float(r[k]) for k in "xywh")
            nih_boxes.setdefault(r["image"], []).append([x, y, x + w, y + h])
    rng = np.random.default_rng(seed)
    bg = []
    for r in csv.DictReader(open(DATA / "cxr_nih14" / "labels.csv")):
        path = str(CACHE / "work" / "cxr_nih14" / Path(r["image"]).name)
        if r["image"] in nih_boxes:
            items[sp[r["image"]]].append((path, nih_boxes[r["image"]]))
        elif r["Mass"] == "0" and r["Nodule"] == "0" and sp[r["image"]] == "train":
            bg.append((path, []))
    for i in rng.choice(len(bg), size=min(n_nih_bg, len(bg)), replace=False):
        items["train"].append(bg[i])
    for part, rows in items.items():
        (YDIR / "images" / part).mkdir(parents=True, exist_ok=True)
        (YDIR / "labels" / part).mkdir(parents=True, exist_ok=True)
        for path, boxes in rows:
            img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
            h, w = img.shape
            name = Path(path).stem
            os.symlink(path, YDIR / "images" / part / f"{name}.png")
            with open(YDIR / "labels" / part / f"{name}.txt", "w") as f:
                for x1, y1, x2, y2 in boxes:
                    f.write(f"0 {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}\n")
    (YDIR / "data.yaml").write_text(f"path: {YDIR}\ntrain: images/train\nval: images/val\ntest: images/test\n"
                                    f"names:\n  0: {CLASS}\n")
    return items


CROP = 160  # training crops at native working resolution: the detector then runs on the full 512 image


def _yolo_line(boxes, x0, y0, size):
    out = []
    for x1, y1, x2, y2 in boxes:
        a, b = max(x1 - x0, 0), max(y1 - y0, 0)
        c, d = min(x2 - x0, size), min(y2 - y0, size)
        if c - a < 0.6 * (x2 - x1) or d - b < 0.6 * (y2 - y1):
            continue  # lesion mostly cut off: leave the crop unlabeled-free by skipping it
        out.append(f"0 {(a + c) / 2 / size:.6f} {(b + d) / 2 / size:.6f} {(c - a) / size:.6f} {(d - b) / size:.6f}")
    return out


def jsrt_inner_lung(name: str) -> np.ndarray | None:
    """The SCR lung masks of a JSRT film, eroded 12 px so that a synthetic nodule lies well inside (None off JSRT)."""
    lm = DATA / "cxr_jsrt_scr" / "masks"
    if not (lm / "left_lung" / name).exists():
        return None
    lung = (cv2.imread(str(lm / "left_lung" / name), 0) > 127) | (cv2.imread(str(lm / "right_lung" / name), 0) > 127)
    return cv2.erode(lung.astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool)


def synthetic_nodule(img: np.ndarray, rng: np.random.Generator, lung: np.ndarray) -> list[float] | None:
    """Paste a soft round opacity inside the lung (simulated nodule: spherical thickness profile, blurred)."""
    ys, xs = np.where(lung)
    if len(xs) == 0:
        return None
    i = rng.integers(len(xs))
    cx, cy = int(xs[i]), int(ys[i])
    r = float(rng.uniform(5, 18))
    amp = float(rng.uniform(12, 40))
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    prof = np.sqrt(np.clip(1 - ((xx - cx) ** 2 + (yy - cy) ** 2) / r ** 2, 0, 1))
    prof = cv2.GaussianBlur(prof.astype(np.float32), (0, 0), max(1.0, r / 4))
    img[:] = np.clip(img.astype(np.float32) + amp * prof, 0, 255).astype(np.uint8)
    return [cx - r, cy - r, cx + r, cy + r]


def synthetic_nodule_copies(img: np.ndarray, rng: np.random.Generator, lung: np.ndarray, n: int):
    """Up to n copies of a normal film, each with one synthetic nodule pasted inside the lung mask: (copy, box).
    A paste that finds no room is skipped (the same random draws as pasting in a loop)."""
    for _ in range(n):
        im2 = img.copy()
        box = synthetic_nodule(im2, rng, lung)
        if box is not None:
            yield im2, box


def _fresh_train_dirs() -> tuple[Path, Path]:
    """Empty YOLO train image and label folders (build_dataset wrote the full training images there)."""
    img_dir, lab_dir = YDIR / "images" / "train", YDIR / "labels" / "train"
    for d in (img_dir, lab_dir):
        shutil.rmtree(d)
        d.mkdir(parents=True)
    return img_dir, lab_dir


def build_crop_dataset(items, seed: int = 5, pos_crops: int = 6, neg_crops: int = 2, syn_crops: int = 4) -> None:
    """Replace the train images by CROP x CROP crops: real lesions (several offsets), background lung crops and
    crops with a simulated nodule (JSRT normals, inside the SCR lung masks). val/test stay full images."""
    rng = np.random.default_rng(seed)
    img_dir, lab_dir = _fresh_train_dirs()
    n = 0

    def save(crop, lines):
        nonlocal n
        cv2.imwrite(str(img_dir / f"c{n:05d}.png"), crop)
        (lab_dir / f"c{n:05d}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
        n += 1

    for path, boxes in items["train"]:
        img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        h, w = img.shape
        if boxes:
            for _ in range(pos_crops):
                x1, y1, x2, y2 = boxes[rng.integers(len(boxes))]
                bw, bh = x2 - x1, y2 - y1
                x0 = int(np.clip(rng.uniform(x2 - CROP + 4, x1 - 4) if CROP > bw + 8 else x1, 0, w - CROP))
                y0 = int(np.clip(rng.uniform(y2 - CROP + 4, y1 - 4) if CROP > bh + 8 else y1, 0, h - CROP))
                save(img[y0:y0 + CROP, x0:x0 + CROP], _yolo_line(boxes, x0, y0, CROP))
        else:
            for _ in range(neg_crops):
                x0 = int(rng.integers(int(w * 0.1), int(w * 0.9) - CROP))
                y0 = int(rng.integers(int(h * 0.1), int(h * 0.8) - CROP))
                save(img[y0:y0 + CROP, x0:x0 + CROP], [])
            lung = jsrt_inner_lung(Path(path).name)
            if lung is not None:
                for im2, box in synthetic_nodule_copies(img, rng, lung, syn_crops):
                    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                    x0 = int(np.clip(cx - rng.uniform(20, CROP - 20), 0, w - CROP))
                    y0 = int(np.clip(cy - rng.uniform(20, CROP - 20), 0, h - CROP))
                    save(im2[y0:y0 + CROP, x0:x0 + CROP], _yolo_line([box], x0, y0, CROP))
    print("train crops", n)


# Issue 17, part 2: crops of the view the detector is served on. The served detector runs on the box around both
# lungs (from the SegNet masks), cropped with margin 0 and with margin 10 % mirrored, each letterboxed to 448 px
# (detector.json ``inference``). Training crops are cut from exactly those letterboxed canvases, with each side of the
# lung box jittered by up to 1.5 % (as training/nodule_crop_explore.py scores it), so that the pixel scale, the grey
# padding and the mirror match serving.
VIEW_SIZE = 448
VIEW_JITTER = 0.015
SERVED_VIEWS = ((0.0, False), (0.10, True))  # (margin, mirrored)
HARD_NEG_CSV = SVC / "models" / "splits" / "detector_hard_negatives.csv"


def served_lungs(paths: list[str]) -> dict[str, np.ndarray]:
    """Both lungs at working size from the served SegNet (the masks the service crops its views with)."""
    from app.analyzer import work_lungs
    from app.inference import ChestModel
    chest = ChestModel(MODELS / "chestnet.onnx", threads=2)
    out = {}
    for path in paths:
        work = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        out[path] = work_lungs(chest.run([work])[0], work.shape)
    return out


def _visible(to_canvas, box) -> list[float] | None:
    """The lesion's canvas box when at least 60 % of its width and height lie inside the view, else None."""
    c, u = to_canvas(box), to_canvas(box, clip=False)
    if c[2] - c[0] < 0.6 * (u[2] - u[0]) or c[3] - c[1] < 0.6 * (u[3] - u[1]):
        return None
    return c


def mine_hard_negatives(rows, lungs, min_score: float = 0.05, per_image: int = 3) -> None:
    """A round of the committed detector's false positives on training films, as served (its views, fusion, lung hull
    and off-lung weighting): boxes scoring >= min_score whose centre is in no lesion box and that overlap none (IoU <
    0.1), the top ``per_image`` per film added to the rounds already listed in models/splits/detector_hard_negatives.csv
    (``hard_negatives.add_round``: the network keeps seeing what earlier detectors got wrong; a box found again is kept
    once). The file is committed, so a rebuild reuses it."""
    import hard_negatives
    from app.inference import Detector, _iou
    det = Detector(MODELS / "detector.onnx", threads=2)
    mined = {}
    for path, boxes in rows:
        work = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        mined[str(Path(path).relative_to(CACHE / "work"))] = [
            (d["score"], d["box"]) for d in det.run([work], conf=min_score, lungs=[lungs[path]])[0]
            if not any((g[0] <= (d["box"][0] + d["box"][2]) / 2 <= g[2] and g[1] <= (d["box"][1] + d["box"][3]) / 2 <= g[3])
                       or _iou(d["box"], g) >= 0.1 for g in boxes)]
    out, added = hard_negatives.add_round(hard_negatives.read(HARD_NEG_CSV), mined, per_image)
    hard_negatives.write(HARD_NEG_CSV, out)
    print(f"hard negatives: {added} new, {len(out)} in all on "
          f"{len({r['image'] for r in out})} films", flush=True)


def build_view_crop_dataset(items, seed: int = 5, n_jitter: int = 2, pos_crops: int = 2, neg_crops: int = 1,
                            syn_crops: int = 4, mine: bool = False, hard_negatives: bool = True,
                            rounds: int | None = 1) -> None:
    """Train crops (CROP x CROP) cut from the served views of every training film: the lung box (served SegNet
    masks) and ``n_jitter`` jittered copies, each in both served views (margin 0; margin 10 % mirrored), letterboxed
    to VIEW_SIZE. Per view: ``pos_crops`` crops per lesion (random offsets), ``neg_crops`` random crops on films
    without a lesion; per JSRT normal ``syn_crops`` synthetic nodules (SCR masks), each in one random view; every
    hard negative (the false positives of the detectors served so far, models/splits/detector_hard_negatives.csv) of
    mining rounds 1..``rounds`` (None: all) in one random view."""
    rng = np.random.default_rng(seed)
    img_dir, lab_dir = _fresh_train_dirs()
    counts = {"pos": 0, "neg": 0, "syn": 0, "hard": 0}

    def save(crop, lines, kind):
        n = sum(counts.values())
        cv2.imwrite(str(img_dir / f"v{n:05d}.png"), crop)
        (lab_dir / f"v{n:05d}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
        counts[kind] += 1

    def cut(canvas, lesions_c, centre=None, margin=20):
        """A crop containing ``centre`` (canvas px) at a random offset, or anywhere; lines for the visible lesions."""
        S = canvas.shape[0]
        if centre is None:
            x0, y0 = (int(v) for v in rng.integers(0, S - CROP + 1, 2))
        else:
            cx, cy = centre
            x0 = int(np.clip(cx - rng.uniform(margin, CROP - margin), 0, S - CROP))
            y0 = int(np.clip(cy - rng.uniform(margin, CROP - margin), 0, S - CROP))
        return canvas[y0:y0 + CROP, x0:x0 + CROP], _yolo_line(lesions_c, x0, y0, CROP)

    rows = items["train"]
    lungs = served_lungs([p for p, _ in rows])
    hard: dict[str, list] = {}
    if hard_negatives and (mine or not HARD_NEG_CSV.exists()):
        mine_hard_negatives(rows, lungs)
    for r in (csv.DictReader(open(HARD_NEG_CSV)) if hard_negatives else []):
        if rounds is not None and int(r.get("round") or 1) > rounds:
            continue
        hard.setdefault(str(CACHE / "work" / r["image"]), []).append([float(r[k]) for k in ("x1", "y1", "x2", "y2")])
    from app.inference import lung_box, view_canvas
    from nodule_crop_explore import grow, jitter_box
    for path, boxes in rows:
        work = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        base = lung_box(lungs[path], 0.0)
        bases = [base] + [jitter_box(base, rng, VIEW_JITTER, work.shape) for _ in range(n_jitter)]
        views = [(grow(b, m, work.shape), f) for b in bases for m, f in SERVED_VIEWS]

        def canvases(img, lesions):
            for box, flip in views:
                canvas, tc = view_canvas(img, box, flip, VIEW_SIZE)
                yield canvas, tc, [c for c in (_visible(tc, g) for g in lesions) if c is not None]

        for canvas, tc, ls in canvases(work, boxes):
            for g in ls:
                for _ in range(pos_crops):
                    crop, lines = cut(canvas, ls, ((g[0] + g[2]) / 2, (g[1] + g[3]) / 2), margin=max(8, (g[2] - g[0]) / 2 + 4))
                    save(crop, lines, "pos")
            if not boxes:
                for _ in range(neg_crops):
                    save(*cut(canvas, []), "neg")
        all_views = list(canvases(work, boxes))
        for hb in hard.get(path, []):
            canvas, tc, ls = all_views[rng.integers(len(all_views))]
            c = tc(hb)
            if c[2] > c[0] and c[3] > c[1]:
                save(*cut(canvas, ls, ((c[0] + c[2]) / 2, (c[1] + c[3]) / 2)), "hard")
        lung = None if boxes else jsrt_inner_lung(Path(path).name)
        if lung is not None:
            for im2, sb in synthetic_nodule_copies(work, rng, lung, syn_crops):
                box, flip = views[rng.integers(len(views))]
                canvas, tc = view_canvas(im2, box, flip, VIEW_SIZE)
                c = _visible(tc, sb)
                if c is None:
                    continue
                save(*cut(canvas, [c], ((c[0] + c[2]) / 2, (c[1] + c[3]) / 2)), "syn")
    print("served-view train crops", counts, flush=True)


def evaluate_onnx(onnx_path: Path, rows, conf: float = 0.01):
    from app.inference import Detector
    det = Detector(onnx_path, threads=2, verify_sha256=None)
    # The network alone, on the full image: the sidecar's serving views (lung box, mirror, lung-region filter; see
    # adopt_inference.py) were chosen for the committed weights and are re-chosen after a retrain.
    det.views, det.region = [{"crop": "full", "size": det.imgsz, "flip": False}], None
    dets, gts = [], []
    for path, boxes in rows:
        work = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        out = det.run([work], conf=conf)[0]
        dets.append([(d["score"], d["box"]) for d in out])
        gts.append(boxes)
    return dets, gts


def export(pt: Path, out: Path, imgsz: int) -> None:
    """ONNX (opset 17, dynamic batch and size, no NMS: decoded by app.inference.decode_yolo)."""
    from ultralytics import YOLO
    onnx = YOLO(str(pt)).export(format="onnx", imgsz=imgsz, opset=17, dynamic=True, simplify=False, nms=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(onnx, out)
    if out.resolve() != (MODELS / "detector.onnx").resolve():
        meta = json.loads((MODELS / "detector.json").read_text())
        meta.update(sha256=hashlib.sha256(out.read_bytes()).hexdigest(), version=time.strftime("%Y%m%d"),
                    source=str(pt))
        out.with_suffix(".json").write_text(json.dumps(meta, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--imgsz", type=int, default=512, help="inference size (training uses CROP-sized crops)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--export-only", action="store_true", help="export runs/<name>/weights/last.pt, then evaluate")
    ap.add_argument("--view", choices=["work", "served"], default="served",
                    help="served: crops of the served lung-box views at 448 px (issue 17, part 2); work: 160 px "
                         "crops of the 512 px working image (the detector served until then)")
    ap.add_argument("--mine", action="store_true", help="mine another round of hard negatives with models/detector.onnx, added to the listed ones")
    ap.add_argument("--n-jitter", type=int, default=2)
    ap.add_argument("--no-hard-negatives", action="store_true", help="ablation: leave the hard-negative crops out")
    ap.add_argument("--rounds", type=int, default=1,
                    help="hard-negative rounds to train on (1: the served detector's; round 2 is listed but its "
                         "network was not adopted, see models/detector_retrain_metrics.json round_2; 0: all)")
    ap.add_argument("--name", default="yolo", help="run folder under training/runs")
    ap.add_argument("--out", type=Path, default=MODELS / "detector.onnx",
                    help="where the ONNX export goes; a sidecar .json (served inference of models/detector.json, "
                         "new sha256) is written beside it when it is not models/detector.onnx")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    items = build_dataset()
    if not (args.eval_only or args.export_only):
        if args.view == "served":
            build_view_crop_dataset(items, n_jitter=args.n_jitter, mine=args.mine,
                                    hard_negatives=not args.no_hard_negatives, rounds=args.rounds or None)
        else:
            build_crop_dataset(items)
    print({k: (len(v), sum(len(b) for _, b in v)) for k, v in items.items()})
    run_dir = HERE / "runs" / args.name
    if not args.eval_only:
        from ultralytics import YOLO
        if not args.export_only:
            model = YOLO("yolov8n.yaml")
            t0 = time.time()
            model.train(data=str(YDIR / "data.yaml"), epochs=args.epochs, imgsz=CROP, batch=32, device="cpu",
                        val=False, workers=0, amp=False, plots=False, project=str(HERE / "runs"), name=args.name,
                        exist_ok=True, pretrained=False, seed=0, deterministic=False, verbose=False, patience=100,
                        mosaic=0.5, close_mosaic=3, fliplr=0.5, degrees=5.0, scale=0.25, translate=0.1,
                        hsv_h=0.0, hsv_s=0.0, hsv_v=0.3, cos_lr=True, warmup_epochs=2, single_cls=True,
                        save_period=5)
            print("train seconds", time.time() - t0)
        export(run_dir / "weights" / "last.pt", args.out, args.imgsz)
    if args.view == "served":
        return  # views, threshold and metrics are chosen by nodule_crop_explore.py / adopt_inference.py
    onnx_path = args.out
    # Operating threshold: score at 1 false positive per image on validation; sensitivity reported on test.
    dv, gv = evaluate_onnx(onnx_path, items["val"])
    val_sens, thr = sensitivity_at_fp(dv, gv, 1.0)
    dt, gt = evaluate_onnx(onnx_path, items["test"])
    res = {}
    for fp in (0.25, 0.5, 1.0, 2.0):
        s, t = sensitivity_at_fp(dt, gt, fp)
        res[f"sens_at_{fp}_fp"] = {"sensitivity": s, "score": t}
    # Image-level bootstrap CI of sensitivity at 1 FP/image.
    rng = np.random.default_rng(0)
    boots = []
    for _ in range(500):
        idx = rng.integers(0, len(dt), len(dt))
        if sum(len(gt[i]) for i in idx) == 0:
            continue
        boots.append(sensitivity_at_fp([dt[i] for i in idx], [gt[i] for i in idx], 1.0)[0])
    # Sensitivity at the fixed validation threshold.
    n_gt = sum(len(g) for g in gt)
    hits, fps = 0, 0
    for ds, gs in zip(dt, gt):
        kept = [b for s, b in ds if s >= thr]
        found = set()
        for b in kept:
            m = [k for k, g in enumerate(gs) if g[0] <= (b[0] + b[2]) / 2 <= g[2] and g[1] <= (b[1] + b[3]) / 2 <= g[3]]
            found.update(m)
            fps += 0 if m else 1
        hits += len(found)
    metrics = {"test_images": len(dt), "test_lesions": n_gt, **res,
               "sens_at_1fp_ci95": [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))],
               "val_sens_at_1fp": val_sens, "operating_threshold": thr,
               "at_operating_threshold": {"sensitivity": hits / max(1, n_gt), "fp_per_image": fps / len(dt)},
               "train": {k: (len(v), sum(len(b) for _, b in v)) for k, v in items.items()},
               "epochs": args.epochs, "imgsz": args.imgsz}
    (MODELS / "detector_metrics.json").write_text(json.dumps(metrics, indent=2))
    meta = {"model": "detector", "onnx": "detector.onnx", "version": time.strftime("%Y%m%d"),
            "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(), "imgsz": args.imgsz,
            "classes": [CLASS], "score_threshold": thr, "iou_threshold": 0.45,
            "threshold_rule": "score at 1 false positive per image on the validation split"}
    (MODELS / "detector.json").write_text(json.dumps(meta, indent=2))
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
